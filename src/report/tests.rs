//! Report tests: hand-built run records, exact Markdown and JUnit snapshots, JSON round
//! trips and the files `write_all` leaves in a run directory.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::engine::record::StillBroken;
use crate::engine::{FaultRecord, Outcome, RunRecord, Sample};
use crate::scenario::Scenario;

fn scenario() -> Scenario {
    serde_json::from_value(json!({
        "version": 1,
        "name": "local-web-outage",
        "description": "The web tier must come back within 3 s of losing its backend.",
        "owner": "sre@example.com",
        "steady_state": [
            {"name": "web", "every": "200ms", "http": {"url": "http://127.0.0.1:18080/health"}},
            {"name": "web-port", "every": "500ms", "tcp": {"address": "127.0.0.1:18080"}}
        ],
        "faults": [{
            "name": "break-web",
            "duration": "5s",
            "command": {"inject": "curl -X POST :18080/break", "revert": "curl -X POST :18080/fix"}
        }],
        "recovery": {"within": "3s", "stable_for": "1s"},
        "playbook": "../playbooks/local-web-outage.md"
    }))
    .unwrap()
}

fn meta() -> RunMeta {
    RunMeta {
        run_id: "20261018T081320Z-local-web-outage".into(),
        scenario_file: "scenarios/local-web-outage.yaml".into(),
        started_at: UNIX_EPOCH + Duration::from_secs(1_795_000_000),
        run_dir: ".firedrill/runs/20261018T081320Z-local-web-outage".into(),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn sample(probe: usize, at: u64, ok: bool, detail: &str) -> Sample {
    Sample { probe, at: ms(at), ok, latency: ms(4), detail: detail.into() }
}

fn baseline_ok() -> Vec<Sample> {
    vec![sample(0, 15, true, "200 OK"), sample(1, 12, true, "connected")]
}

fn fault(revert_started: u64, reverted: Option<u64>) -> FaultRecord {
    FaultRecord {
        name: "break-web".into(),
        kind: "command".into(),
        inject_started_at: Some(ms(900)),
        injected_at: Some(ms(1000)),
        inject_error: None,
        revert_started_at: Some(ms(revert_started)),
        reverted_at: reverted.map(ms),
        steps: 1,
        revert_attempts: 1,
        revert_error: None,
    }
}

fn record(outcome: Outcome) -> RunRecord {
    RunRecord {
        outcome,
        abort_reason: None,
        baseline: baseline_ok(),
        samples: Vec::new(),
        faults: vec![fault(6000, Some(6100))],
        t_inject: Some(ms(1000)),
        detected_at: None,
        recovered_at: None,
        settled: false,
        last_revert_started_at: Some(ms(6000)),
        ended_at: ms(7500),
        objective: ms(3000),
        stable_for: ms(1000),
        precision: ms(500),
        still_broken: Vec::new(),
    }
}

/// Healed while the fault was in place: detected after 200ms, recovered after 600ms.
fn passed() -> RunRecord {
    RunRecord {
        samples: vec![
            sample(0, 1200, false, "503 Service Unavailable"),
            sample(1, 1300, true, "connected"),
            sample(0, 1400, false, "503 Service Unavailable"),
            sample(0, 1600, true, "200 OK"),
            sample(0, 1800, true, "200 OK"),
            sample(1, 1800, true, "connected"),
            sample(0, 2000, true, "200 OK"),
            sample(0, 2600, true, "200 OK"),
            sample(0, 7000, true, "200 OK"),
            sample(1, 7100, true, "connected"),
        ],
        detected_at: Some(ms(1200)),
        recovered_at: Some(ms(1600)),
        settled: true,
        ..record(Outcome::Passed)
    }
}

/// The web probe kept failing until an abort rule tripped; the detail needs XML escaping.
fn aborted() -> RunRecord {
    RunRecord {
        abort_reason: Some("probe `web` failing for 10s".into()),
        samples: vec![
            sample(0, 1200, false, "body lacks \"ok\": <h1>Tom's & Jerry's</h1>"),
            sample(1, 1300, true, "connected"),
            sample(0, 11200, false, "body lacks \"ok\": <h1>Tom's & Jerry's</h1>"),
        ],
        faults: vec![fault(11200, Some(11300))],
        detected_at: Some(ms(1200)),
        last_revert_started_at: Some(ms(11200)),
        ended_at: ms(11400),
        ..record(Outcome::Aborted)
    }
}

fn revert_failed() -> RunRecord {
    let error = "revert command failed: exit status 7: curl: (7) Failed to connect";
    RunRecord {
        samples: vec![
            sample(0, 1200, false, "503 Service Unavailable"),
            sample(0, 6400, false, "503 Service Unavailable"),
        ],
        faults: vec![FaultRecord { revert_attempts: 3, revert_error: Some(error.into()), ..fault(6000, None) }],
        detected_at: Some(ms(1200)),
        ended_at: ms(9000),
        still_broken: vec![StillBroken {
            fault: "break-web".into(),
            step: 1,
            description: "run `curl -X POST :18080/fix`".into(),
            kind: "command".into(),
            data: json!({"revert": "curl -X POST :18080/fix", "cwd": "/srv/game-day", "timeout_ms": 30000}),
            error: error.into(),
        }],
        ..record(Outcome::RevertFailed)
    }
}

fn not_started() -> RunRecord {
    RunRecord {
        abort_reason: Some("steady state did not hold before injection: web (connection refused)".into()),
        baseline: vec![sample(0, 8, false, "connection refused"), sample(1, 5, false, "connection refused")],
        faults: vec![FaultRecord { name: "break-web".into(), kind: "command".into(), ..Default::default() }],
        t_inject: None,
        last_revert_started_at: None,
        ended_at: ms(20),
        ..record(Outcome::NotStarted)
    }
}

fn report(r: &RunRecord) -> Report {
    Report::new(meta(), &scenario(), r)
}

fn runs() -> [(&'static str, RunRecord); 4] {
    [("passed", passed()), ("aborted", aborted()), ("revert_failed", revert_failed()), ("not_started", not_started())]
}

#[test]
fn markdown_snapshots() {
    let expected = [
        include_str!("snapshots/passed.md"),
        include_str!("snapshots/aborted.md"),
        include_str!("snapshots/revert_failed.md"),
        include_str!("snapshots/not_started.md"),
    ];
    for ((name, r), want) in runs().into_iter().zip(expected) {
        assert_eq!(markdown::render(&report(&r)), want, "snapshots/{name}.md");
    }
}

#[test]
fn junit_snapshots() {
    let expected = [
        include_str!("snapshots/passed.xml"),
        include_str!("snapshots/aborted.xml"),
        include_str!("snapshots/revert_failed.xml"),
        include_str!("snapshots/not_started.xml"),
    ];
    for ((name, r), want) in runs().into_iter().zip(expected) {
        assert_eq!(junit::render(&report(&r)), want, "snapshots/{name}.xml");
    }
}

#[test]
fn junit_counts_match_the_testcases() {
    // (tests, failures, skipped) for each run.
    let expected = [(5, 0, 0), (5, 2, 0), (5, 3, 0), (5, 3, 2)];
    for ((name, r), (tests, failures, skipped)) in runs().into_iter().zip(expected) {
        let xml = junit::render(&report(&r));
        let attrs = format!(r#"tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}""#);
        assert!(xml.contains(&attrs), "{name}: {xml}");
        assert_eq!(xml.matches("<testcase ").count(), tests, "{name}");
        assert_eq!(xml.matches("<failure ").count(), failures, "{name}");
        assert_eq!(xml.matches("<skipped ").count(), skipped, "{name}");
    }
}

#[test]
fn junit_escapes_xml_special_characters() {
    let xml = junit::render(&report(&aborted()));
    assert!(xml.contains("body lacks &quot;ok&quot;: &lt;h1&gt;Tom&apos;s &amp; Jerry&apos;s&lt;/h1&gt;"));
    assert!(!xml.contains("<h1>"));

    let mut r = report(&passed());
    r.scenario.name = "a&b".into();
    let last = r.samples.last_mut().unwrap(); // web-port's last sample
    last.ok = false;
    last.detail = "nul \u{0} esc \u{1b} tab\tend".into();
    r.probes[1].final_ok = Some(false);
    let xml = junit::render(&r);
    assert!(xml.contains(r#"<testsuite name="firedrill.a&amp;b""#));
    assert!(xml.contains("nul \u{fffd} esc \u{fffd} tab\tend"));
}

#[test]
fn json_round_trips() {
    for (name, r) in runs() {
        let report = report(&r);
        let json = render(&report, Format::Json);
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report, "{name}");
    }
}

#[test]
fn json_uses_stable_names_and_nulls() {
    let v = serde_json::to_value(report(&not_started())).unwrap();
    assert_eq!(v["report_version"], 1);
    assert_eq!(v["outcome"], "not_started");
    assert_eq!(v["started_at"], "2026-11-18T11:06:40.000Z");
    assert_eq!(v["ended_at"], "2026-11-18T11:06:40.020Z");
    assert_eq!(v["duration_ms"], 20);
    for key in ["t_inject_ms", "time_to_detect_ms", "time_to_recover_ms", "recovered_during_fault"] {
        assert!(v[key].is_null(), "{key}");
    }
    assert_eq!(v["faults"][0]["injected_at_ms"], serde_json::Value::Null);
    assert_eq!(
        v["baseline"][0],
        json!({"probe": "web", "t_ms": 8, "ok": false, "latency_ms": 4, "detail": "connection refused"})
    );
}

#[test]
fn no_visible_impact_recovers_in_zero() {
    let r = report(&RunRecord { settled: true, ..record(Outcome::Passed) });
    assert_eq!(r.time_to_detect_ms, None);
    assert_eq!(r.time_to_recover_ms, Some(0));
    assert_eq!(r.recovered_during_fault, None);
    assert!(r.objective_met);
    assert!(markdown::render(&r).contains("| Time to recover | 0ms (no visible impact) |"));
}

#[test]
fn fix_says_what_to_run_and_where() {
    let r = report(&revert_failed());
    assert_eq!(r.still_broken[0].fix, "run: curl -X POST :18080/fix (in /srv/game-day)");

    let mut rec = revert_failed();
    rec.still_broken[0].data = json!({"revert": "curl -X POST :18080/fix"});
    assert_eq!(report(&rec).still_broken[0].fix, "run: curl -X POST :18080/fix");
    rec.still_broken[0].kind = "aws-api".into();
    rec.still_broken[0].description = "restore security group sg-1".into();
    assert_eq!(report(&rec).still_broken[0].fix, "undo manually: restore security group sg-1");
}

#[test]
fn durations_read_like_a_human_wrote_them() {
    let cases = [
        (0, "0ms"),
        (850, "850ms"),
        (1000, "1s"),
        (3149, "3.1s"),
        (59_949, "59.9s"),
        (59_960, "1m"),
        (125_000, "2m 5s"),
        (3_725_000, "1h 2m 5s"),
    ];
    for (ms, want) in cases {
        assert_eq!(markdown::duration(ms), want, "{ms}ms");
    }
}

#[test]
fn write_all_then_read() {
    let dir = tempfile::tempdir().unwrap();
    let r = report(&revert_failed());
    write_all(dir.path(), &r).unwrap();
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["junit.xml", "report.json", "report.md"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("report.md")).unwrap(), markdown::render(&r));
    assert_eq!(read(dir.path()).unwrap(), r);
    assert_eq!(read(&dir.path().join("report.json")).unwrap(), r);
}

#[test]
fn read_reports_missing_invalid_and_newer_reports() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(read(dir.path()), Err(ReportError::Read { .. })));

    let file = dir.path().join("report.json");
    std::fs::write(&file, "{\"report_version\": 1}").unwrap();
    assert!(matches!(read(dir.path()), Err(ReportError::Invalid { .. })));

    let mut v = serde_json::to_value(report(&passed())).unwrap();
    v["report_version"] = json!(2);
    std::fs::write(&file, v.to_string()).unwrap();
    let e = read(dir.path()).unwrap_err();
    assert!(matches!(e, ReportError::Version { found: 2, .. }));
    assert!(e.to_string().ends_with("has report_version 2; this firedrill reads version 1"), "{e}");
}

/// Two notes during the fault (out of order in the file), one written while the report was
/// being written (after `ended_at`), and a post-mortem one.
fn notes() -> Vec<crate::notes::Note> {
    let note = |at: &str, author: &str, text: &str, after_end| crate::notes::Note {
        at: at.into(),
        author: author.into(),
        text: text.into(),
        after_end,
    };
    vec![
        note("2026-11-18T11:06:42.500Z", "bob", "dashboard | 5xx <spike>\nsecond line", false),
        note("2026-11-18T11:06:41.250Z", "ann", "paged the on-call", false),
        note("2026-11-18T11:06:47.600Z", "ann", "report being written", false),
        note("2026-11-18T11:07:40.000Z", "ann", "post-mortem: the health check was too slow", true),
    ]
}

fn with_notes() -> Report {
    report(&passed()).with_notes(notes())
}

#[test]
fn notes_are_ordered_by_offset_from_the_start_and_flagged_after_the_end() {
    let r = with_notes();
    let got: Vec<(u64, &str, bool)> = r.notes.iter().map(|n| (n.t_ms, n.author.as_str(), n.after_end)).collect();
    assert_eq!(got, [(1250, "ann", false), (2500, "bob", false), (7600, "ann", true), (60_000, "ann", true)]);
    assert_eq!(r.notes[0].at, "2026-11-18T11:06:41.250Z");
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(
        v["notes"][0],
        json!({"t_ms": 1250, "at": "2026-11-18T11:06:41.250Z", "author": "ann", "text": "paged the on-call", "after_end": false})
    );
    // Without notes the field is still there, empty.
    assert_eq!(serde_json::to_value(report(&passed())).unwrap()["notes"], json!([]));
}

#[test]
fn notes_snapshots() {
    let r = with_notes();
    assert_eq!(markdown::render(&r), include_str!("snapshots/notes.md"), "snapshots/notes.md");
    assert_eq!(junit::render(&r), include_str!("snapshots/notes.xml"), "snapshots/notes.xml");
    // Without the Notes section and the notes in the timeline, it is the report without notes.
    let md = markdown::render(&r);
    let (before, tail) = md.split_once("### Notes\n").unwrap();
    let after = &tail[tail.find("### ").unwrap()..];
    let rest: Vec<&str> = before.lines().chain(after.lines()).filter(|l| !l.contains("📝")).collect();
    assert_eq!(rest.join("\n"), markdown::render(&report(&passed())).trim_end());
}

#[test]
fn reports_written_before_notes_existed_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = serde_json::to_value(report(&passed())).unwrap();
    v.as_object_mut().unwrap().remove("notes");
    std::fs::write(dir.path().join(JSON_FILE), v.to_string()).unwrap();
    let r = read(dir.path()).unwrap();
    assert!(r.notes.is_empty());
    assert_eq!(r, report(&passed()));
}

#[test]
fn attach_notes_reads_the_notes_file_as_it_is_now() {
    let dir = tempfile::tempdir().unwrap();
    // No notes file: the report keeps the notes it has.
    let (r, warning) = attach_notes(with_notes(), dir.path());
    assert_eq!((r.notes.len(), warning), (4, None));

    let mut lines: String = notes().iter().take(2).map(crate::notes::Note::line).collect();
    lines.push_str("{\"torn\n");
    std::fs::write(dir.path().join(crate::notes::FILE), lines).unwrap();
    let (r, warning) = attach_notes(report(&passed()), dir.path());
    assert_eq!(r.notes.iter().map(|n| n.t_ms).collect::<Vec<_>>(), [1250, 2500]);
    assert!(warning.is_some_and(|w| w.contains("skipped 1 line")));
}
