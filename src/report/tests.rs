//! Report tests: hand-built run records, exact Markdown and JUnit snapshots, outlines of
//! the HTML timeline, HTML escaping, JSON round trips and the files `write_all` leaves in
//! a run directory.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::engine::record::StillBroken;
use crate::engine::{FaultRecord, ObjectiveKind, Outcome, RunRecord, Sample};
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
    Sample { probe, at: ms(at), ok, latency: ms(4), detail: detail.into(), fault: None }
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
        detected_at: None,
        recovered_at: None,
        changes: Vec::new(),
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
        objective_kind: ObjectiveKind::Recover,
        objective: ms(3000),
        impact: true,
        stable_for: ms(1000),
        precision: ms(500),
        still_broken: Vec::new(),
        pages: None,
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

fn blocked() -> RunRecord {
    RunRecord {
        abort_reason: Some("steady state did not hold before injection: web (connection refused)".into()),
        baseline: vec![sample(0, 8, false, "connection refused"), sample(1, 5, false, "connection refused")],
        faults: vec![FaultRecord { name: "break-web".into(), kind: "command".into(), ..Default::default() }],
        t_inject: None,
        last_revert_started_at: None,
        ended_at: ms(20),
        ..record(Outcome::Blocked)
    }
}

fn report(r: &RunRecord) -> Report {
    Report::new(meta(), &scenario(), &attributed(r))
}

/// `r` with each failure's fault and each fault's own times, as the executor leaves them.
fn attributed(r: &RunRecord) -> RunRecord {
    let mut r = r.clone();
    let a = crate::engine::attribution::attribute(&r.samples, &[true, true], &r.faults, r.stable_for);
    for (s, o) in r.samples.iter_mut().zip(a.owners) {
        s.fault = o;
    }
    for (f, t) in r.faults.iter_mut().zip(a.faults) {
        (f.detected_at, f.recovered_at) = (t.detected_at, t.recovered_at);
    }
    r
}

/// Two faults one after the other (`after:`): each breaks `web` for a while; the run's own
/// recovery waits for the second, each fault's comes 400ms after its injection.
fn sequential() -> RunRecord {
    let second = FaultRecord {
        name: "break-db".into(),
        kind: "command".into(),
        inject_started_at: Some(ms(3000)),
        injected_at: Some(ms(3100)),
        revert_started_at: Some(ms(5000)),
        reverted_at: Some(ms(5050)),
        ..fault(0, None)
    };
    RunRecord {
        samples: vec![
            sample(0, 1200, false, "503 Service Unavailable"),
            sample(0, 1400, true, "200 OK"),
            sample(1, 1500, true, "connected"),
            sample(0, 3200, false, "502 Bad Gateway"),
            sample(0, 3400, false, "502 Bad Gateway"),
            sample(0, 3500, true, "200 OK"),
            sample(1, 4000, true, "connected"),
            sample(0, 4600, true, "200 OK"),
            sample(0, 6200, true, "200 OK"),
        ],
        faults: vec![fault(3000, Some(3000)), second],
        detected_at: Some(ms(1200)),
        recovered_at: Some(ms(3500)),
        settled: true,
        last_revert_started_at: Some(ms(5000)),
        ended_at: ms(6200),
        objective: ms(3000),
        ..record(Outcome::Passed)
    }
}

#[test]
fn sequential_faults_report_each_faults_own_times_and_impacts() {
    let rep = report(&sequential());
    let times: Vec<_> = rep.faults.iter().map(|f| (f.time_to_detect_ms, f.time_to_recover_ms)).collect();
    assert_eq!(times, [(Some(200), Some(400)), (Some(100), Some(400))]);
    assert_eq!((rep.time_to_detect_ms, rep.time_to_recover_ms), (Some(200), Some(2500)), "the run's own figures");
    let owners: Vec<_> = rep.samples.iter().filter(|s| !s.ok).map(|s| s.fault.as_deref()).collect();
    assert_eq!(owners, [Some("break-web"), Some("break-db"), Some("break-db")]);
    let json = render(&rep, Format::Json);
    assert_eq!(serde_json::from_str::<Report>(&json).unwrap(), rep, "round trip");
    golden("sequential.md", &markdown::render(&rep));
    golden("sequential.xml", &junit::render(&rep));
    let page = html::render(&rep);
    assert!(page.contains("<td>after 200ms</td><td>after 400ms</td>"), "break-web's own times");
    assert!(page.contains("<td>after 100ms</td><td>after 400ms</td>"), "break-db's own times");
    assert!(page.contains("502 Bad Gateway (fault break-db)"), "a failing mark names its fault");
    assert!(page.contains("<td>502 Bad Gateway</td><td>break-db</td>"), "the checks table names it");
}

fn runs() -> [(&'static str, RunRecord); 4] {
    [("passed", passed()), ("aborted", aborted()), ("revert_failed", revert_failed()), ("blocked", blocked())]
}

#[test]
fn markdown_snapshots() {
    for (name, r) in runs() {
        golden(&format!("{name}.md"), &markdown::render(&report(&r)));
    }
}

#[test]
fn junit_snapshots() {
    for (name, r) in runs() {
        golden(&format!("{name}.xml"), &junit::render(&report(&r)));
    }
}

#[test]
fn junit_counts_match_the_testcases() {
    // (tests, failures, skipped) for each run.
    let expected = [(6, 0, 0), (6, 2, 0), (6, 4, 0), (6, 3, 3)];
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
    let v = serde_json::to_value(report(&blocked())).unwrap();
    assert_eq!(v["report_version"], 1);
    assert_eq!(v["outcome"], "blocked");
    // Reports written before the outcome was called `blocked` still read.
    assert_eq!(serde_json::from_value::<Outcome>(json!("not_started")).unwrap(), Outcome::Blocked);
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
    assert_eq!(r.still_broken[0].fix, "cd /srv/game-day && curl -X POST :18080/fix");

    let mut rec = revert_failed();
    rec.still_broken[0].data = json!({"revert": "curl -X POST :18080/fix", "cwd": "/srv/game day"});
    assert_eq!(report(&rec).still_broken[0].fix, "cd '/srv/game day' && curl -X POST :18080/fix");
    rec.still_broken[0].data = json!({"revert": "curl -X POST :18080/fix"});
    assert_eq!(report(&rec).still_broken[0].fix, "curl -X POST :18080/fix");
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
    assert_eq!(names, ["junit.xml", "report.html", "report.json", "report.md"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("report.html")).unwrap(), html::render(&r));
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
    golden("notes.md", &markdown::render(&r));
    golden("notes.xml", &junit::render(&r));
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

// ---------------------------------------------------------------------------------------
// report.html

/// A start tag: its name and attributes, values unescaped only of `&quot;`.
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn get(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn class(&self) -> &str {
        self.get("class").unwrap_or_default()
    }
}

/// Every start tag in `html`, in order. Fails the test on markup it cannot read: an
/// unquoted attribute, or a `<` that starts no tag (all text must be escaped).
fn tags(html: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if rest.starts_with('/') || rest.starts_with('!') {
            continue;
        }
        let end = rest.find('>').expect("an unclosed tag");
        let inner = rest[..end].trim_end_matches('/');
        rest = &rest[end + 1..];
        let (name, mut attrs) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
        assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()), "not a tag: <{inner}>");
        let mut tag = Tag { name: name.to_string(), attrs: Vec::new() };
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() {
                break;
            }
            let (key, after) = attrs.split_once("=\"").unwrap_or_else(|| panic!("unquoted attribute in <{inner}>"));
            let (value, after) = after.split_once('"').unwrap_or_else(|| panic!("unclosed attribute in <{inner}>"));
            tag.attrs.push((key.to_string(), value.to_string()));
            attrs = after;
        }
        out.push(tag);
    }
    out
}

/// The `<svg id="timeline">` element of a page.
fn timeline_of(page: &str) -> &str {
    let start = page.find("<svg id=\"timeline\"").expect("no timeline");
    let end = start + page[start..].find("</svg>").expect("timeline not closed") + "</svg>".len();
    &page[start..end]
}

/// The timeline reduced to what it shows: counts, then each lane, sample, fault span and
/// marker with its time and x position, in document order. Stable across styling changes.
fn outline(svg: &str) -> String {
    let tags = tags(svg);
    let count = |class: &str| tags.iter().filter(|t| t.class().split(' ').any(|c| c == class)).count();
    let mut o = vec![
        format!(
            "span {}ms, viewBox {}",
            tags[0].get("data-span-ms").unwrap_or("?"),
            tags[0].get("viewBox").unwrap_or("?")
        ),
        format!(
            "{} lanes, {} samples ({} pass, {} fail), {} faults, {} fault spans ({} broken), {} markers, {} ticks",
            count("lane"),
            count("sample"),
            count("pass"),
            count("fail"),
            count("fault"),
            count("fault-span"),
            count("broken"),
            count("marker"),
            count("tick")
        ),
    ];
    let mut marker = None;
    for t in &tags {
        let class = t.class();
        let attr = |k: &str| t.get(k).unwrap_or("?").to_string();
        if class == "lane" {
            o.push(format!("lane {}", attr("data-probe")));
        } else if class.starts_with("sample") {
            let kind = class.trim_start_matches("sample ");
            o.push(format!("  {kind} {}ms x={}", attr("data-ms"), attr("x")));
        } else if class == "fault" {
            o.push(format!("fault {}", attr("data-fault")));
        } else if class.starts_with("fault-span") {
            o.push(format!(
                "  {class} {}..{}ms x={} width={}",
                attr("data-start-ms"),
                attr("data-end-ms"),
                attr("x"),
                attr("width")
            ));
        } else if class.starts_with("fault-note") {
            o.push(format!("  {class}"));
        } else if let Some(kind) = class.strip_prefix("marker ") {
            marker = Some(format!("{kind} {}ms", attr("data-ms")));
        } else if t.name == "line"
            && let Some(m) = marker.take()
        {
            o.push(format!("marker {m} x={}", attr("x1")));
        }
    }
    o.push(String::new());
    o.join("\n")
}

/// Compares `got` with `src/report/snapshots/<file>`; `FIREDRILL_UPDATE_SNAPSHOTS=1`
/// rewrites the file instead (review the diff before committing it).
fn golden(file: &str, got: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report/snapshots").join(file);
    if std::env::var_os("FIREDRILL_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e} (FIREDRILL_UPDATE_SNAPSHOTS=1 writes it)", path.display()));
    assert_eq!(got, want, "snapshots/{file} (FIREDRILL_UPDATE_SNAPSHOTS=1 rewrites it)");
}

#[test]
fn html_timeline_outlines() {
    for (name, r) in runs() {
        let page = html::render(&report(&r));
        let svg = timeline_of(&page);
        assert_eq!(svg, html::timeline_svg(&report(&r)).trim_end(), "{name}");
        golden(&format!("{name}.timeline.txt"), &outline(svg));
    }
}

#[test]
fn html_timeline_puts_each_mark_where_the_report_says() {
    let r = report(&passed());
    let svg = html::timeline_svg(&r);
    let tags = tags(&svg);
    let span: f64 = tags[0].get("data-span-ms").unwrap().parse().unwrap();
    assert_eq!(span, 7500.0, "the run's duration; every mark is within it");
    let x = |ms: f64| 170.0 + ms * 1000.0 / span;
    let num = |t: &Tag, k: &str| t.get(k).unwrap().parse::<f64>().unwrap();

    let samples: Vec<&Tag> = tags.iter().filter(|t| t.class().starts_with("sample")).collect();
    assert_eq!(samples.len(), r.baseline.len() + r.samples.len());
    for t in &samples {
        assert!((num(t, "x") - x(num(t, "data-ms"))).abs() < 0.06, "{t:?}");
    }
    let fails: Vec<f64> = samples.iter().filter(|t| t.class().contains("fail")).map(|t| num(t, "data-ms")).collect();
    assert_eq!(fails, [1200.0, 1400.0]);
    // Pass and fail marks differ in shape, not only in colour.
    assert!(
        samples
            .iter()
            .all(|t| t.get("href") == Some(if t.class().contains("fail") { "#mark-fail" } else { "#mark-pass" }))
    );
    assert!(svg.contains("<circle id=\"mark-pass\"") && svg.contains("<path id=\"mark-fail\""));

    let span_tag = tags.iter().find(|t| t.class() == "fault-span").unwrap();
    assert_eq!((span_tag.get("data-start-ms"), span_tag.get("data-end-ms")), (Some("900"), Some("6100")));
    assert!((num(span_tag, "x") - x(900.0)).abs() < 0.06);
    assert!((num(span_tag, "width") - (x(6100.0) - x(900.0))).abs() < 0.1);

    // detect = t_inject + time_to_detect, recover = t_inject + time_to_recover, objective
    // = t_inject + objective.
    let markers: Vec<(&str, &str)> =
        tags.iter().filter_map(|t| Some((t.class().strip_prefix("marker ")?, t.get("data-ms")?))).collect();
    assert_eq!(markers, [("detect", "1200"), ("recover", "1600"), ("objective", "4000")]);
    assert!(svg.contains("role=\"img\" aria-label=\"Timeline of the run, 7.5s long: 2 probe lane(s)"), "{svg}");
}

#[test]
fn html_markers_for_abort_and_no_visible_impact() {
    let svg = html::timeline_svg(&report(&aborted()));
    assert!(svg.contains("<g class=\"marker abort\" data-ms=\"11400\">"), "at the end of the run: {svg}");
    assert!(svg.contains("aborted: probe `web` failing for 10s"));

    let svg = html::timeline_svg(&report(&RunRecord { settled: true, ..record(Outcome::Passed) }));
    assert!(svg.contains("<g class=\"marker recover\" data-ms=\"1000\">"), "{svg}");
    assert!(svg.contains(">no visible impact</text>"), "{svg}");
    assert!(!svg.contains("marker detect"));
}

#[test]
fn html_esc_escapes_hostile_text() {
    assert_eq!(html::esc("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
    assert_eq!(html::esc(r#"" onmouseover="x"#), "&quot; onmouseover=&quot;x");
    assert_eq!(html::esc("it's"), "it&#39;s");
    assert_eq!(html::esc("a & b &amp; c"), "a &amp; b &amp;amp; c");
    assert_eq!(
        html::esc("nul \u{0} esc \u{1b} del \u{7f} tab\tnl\n"),
        "nul \u{fffd} esc \u{fffd} del \u{fffd} tab\tnl\n"
    );
    assert_eq!(html::esc("plain — ünïcödé 🚨"), "plain — ünïcödé 🚨");
}

/// A run whose every string is hostile.
fn hostile() -> Report {
    let evil = r#"<script>alert("x")</script> & ' " </title></svg><img src=x onerror=alert(1)>"#;
    let mut r = report(&revert_failed());
    r.scenario.name = format!("name {evil}");
    r.scenario.description = Some(format!("description {evil}"));
    r.scenario.owner = Some(format!("owner {evil}"));
    r.scenario.file = format!("file {evil}");
    r.scenario.playbook = Some(format!("playbook {evil}"));
    r.run_id = format!("run {evil}");
    r.abort_reason = Some(format!("reason {evil}"));
    r.faults[0].name = format!("fault {evil}");
    r.faults[0].revert_error = Some(format!("error {evil}"));
    r.probes[0].name = format!("probe {evil}");
    r.probes[0].target = format!("target {evil}");
    for s in r.baseline.iter_mut().chain(&mut r.samples) {
        s.probe = format!("probe {evil}");
        s.detail = format!("detail {evil}");
    }
    r.still_broken[0].description = format!("what {evil}");
    r.still_broken[0].error = format!("error {evil}");
    r.still_broken[0].fix = format!("run: curl \"$(echo {evil})\"");
    r.steps = vec![crate::playbook::runner::StepRecord {
        name: format!("step {evil}"),
        what: format!("what {evil}"),
        who: format!("who {evil}"),
        kind: "manual".into(),
        on: "inject".into(),
        after_ms: 0,
        communicate: true,
        due_ms: Some(1000),
        done_ms: Some(2000),
        status: "done".into(),
        detail: Some(format!("detail {evil}")),
    }];
    r.notes = vec![model::NoteReport {
        t_ms: 1500,
        at: "2026-10-18T08:13:21Z".into(),
        author: format!("author {evil}"),
        text: format!("note {evil}"),
        after_end: false,
    }];
    r.notifications = vec![crate::notify::Delivery {
        event: "start".into(),
        target: "https://hooks.example/…".into(),
        ok: false,
        attempts: 3,
        error: Some(format!("error {evil}")),
        t_ms: 10,
    }];
    r.aws = Some(model::AwsReport {
        account: format!("acct {evil}"),
        region: format!("region {evil}"),
        seed: 7,
        api_calls: 3,
        api_retries: 0,
        targets: [(
            format!("target {evil}"),
            model::TargetReport { kind: format!("kind {evil}"), matched: 1, selected: vec![format!("i-{evil}")] },
        )]
        .into(),
    });
    r
}

#[test]
fn html_escapes_every_string_from_the_run() {
    let page = html::render(&hostile());
    // Only the renderer's own markup: known elements and attributes, one script (ours).
    const ELEMENTS: &[&str] = &[
        "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2", "p", "span", "strong", "code",
        "pre", "small", "dl", "dt", "dd", "div", "section", "table", "thead", "tbody", "tr", "th", "td", "ul", "li",
        "details", "summary", "footer", "script", "svg", "defs", "circle", "path", "pattern", "rect", "line", "g",
        "text", "use", "br",
    ];
    const ATTRIBUTES: &[&str] = &[
        "lang",
        "charset",
        "name",
        "content",
        "http-equiv",
        "class",
        "id",
        "role",
        "aria-label",
        "aria-live",
        "aria-hidden",
        "xmlns",
        "viewBox",
        "d",
        "r",
        "x",
        "y",
        "x1",
        "x2",
        "y1",
        "y2",
        "width",
        "height",
        "rx",
        "fill",
        "stroke",
        "stroke-width",
        "patternUnits",
        "patternTransform",
        "text-anchor",
        "href",
        "data-ms",
        "data-span-ms",
        "data-probe",
        "data-fault",
        "data-start-ms",
        "data-end-ms",
    ];
    for t in tags(&page) {
        assert!(ELEMENTS.contains(&t.name.as_str()), "unexpected <{}> in the page", t.name);
        for (k, v) in &t.attrs {
            assert!(ATTRIBUTES.contains(&k.as_str()), "unexpected attribute {k}=\"{v}\" on <{}>", t.name);
            if k == "href" {
                assert!(v.starts_with("#mark-"), "href to {v}");
            }
        }
    }
    assert_eq!(page.matches("<script").count(), 1);
    assert!(!page.contains("<img") && !page.contains("<script>alert"));
    // Every hostile string made it onto the page, escaped.
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39; &quot; &lt;/title&gt;&lt;/svg&gt;\
                   &lt;img src=x onerror=alert(1)&gt;";
    for what in [
        "name",
        "description",
        "owner",
        "file",
        "playbook",
        "run",
        "reason",
        "fault",
        "error",
        "probe",
        "target",
        "detail",
        "what",
        "acct",
        "region",
        "kind",
        "i-",
    ] {
        assert!(page.contains(&format!("{what} {escaped}")) || page.contains(&format!("{what}{escaped}")), "{what}");
    }
    assert!(page.contains("run: curl &quot;$(echo &lt;script&gt;"));
    assert_eq!(page.matches("<title>").count(), page.matches("</title>").count());
    assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
}

#[test]
fn html_is_self_contained() {
    let page = html::render(&report(&passed()));
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(page.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"));
    for t in tags(&page) {
        for (k, v) in &t.attrs {
            assert!(k != "src" && (k != "href" || v.starts_with('#')), "loads {k}={v} from outside the page");
        }
        assert!(t.name != "link" && t.name != "img" && t.name != "iframe", "<{}>", t.name);
    }
    assert!(!page.contains("@import") && !page.contains("url(http"));
    // The only URLs are the SVG namespace (a name, never fetched) and the probe's own URL.
    let urls: Vec<&str> =
        page.match_indices("://").map(|(i, _)| &page[page[..i].rfind(['"', '>']).unwrap() + 1..i]).collect();
    assert!(urls.iter().all(|scheme| *scheme == "http"), "{urls:?}");
    assert!(
        page.matches("://").count()
            == page.matches("http://www.w3.org/2000/svg").count()
                + page.matches("http://127.0.0.1:18080/health").count()
    );
}

#[test]
fn html_renders_odd_runs_without_panicking() {
    let mut odd = Vec::new();
    for (name, r) in runs() {
        odd.push((name.to_string(), report(&r)));
    }
    // No checks at all, a zero-length run, a sample of a probe the report does not list,
    // no probes and no faults, a fault that never started next to one never reverted.
    let mut r = report(&blocked());
    r.baseline.clear();
    r.samples.clear();
    r.duration_ms = 0;
    odd.push(("no samples, zero length".into(), r));
    let mut r = report(&passed());
    r.samples[0].probe = "#7".into();
    odd.push(("unknown probe".into(), r));
    let mut r = report(&passed());
    r.probes.clear();
    r.faults.clear();
    r.baseline.clear();
    r.samples.clear();
    odd.push(("nothing".into(), r));
    let mut r = report(&revert_failed());
    r.faults.push(FaultReport { name: "later".into(), ..report(&blocked()).faults[0].clone() });
    r.faults[0].revert_started_at_ms = None;
    odd.push(("never reverted".into(), r));
    let mut r = report(&passed());
    r.duration_ms = 3 * 3600 * 1000;
    r.scenario.name = "x".repeat(300);
    r.probes[0].name = "a-probe-with-a-very-long-name-indeed".into();
    odd.push(("long".into(), r));

    for (name, r) in odd {
        let page = html::render(&r);
        let svg = timeline_of(&page);
        assert_eq!(svg.matches("class=\"lane\"").count(), lanes_expected(&r), "{name}");
        assert!(page.ends_with("</html>\n"), "{name}");
        let _ = outline(svg);
    }

    // blocked: the faults are listed as not injected, with no span and no markers.
    let page = html::render(&report(&blocked()));
    let svg = timeline_of(&page);
    assert!(svg.contains("not injected") && !svg.contains("fault-span") && !svg.contains("class=\"marker"));
    assert!(page.contains("BLOCKED") && page.contains("nothing to revert"));

    // revert_failed: a broken span to the end of the run, and the still-broken table first.
    let page = html::render(&report(&revert_failed()));
    let svg = timeline_of(&page);
    assert!(svg.contains("class=\"fault-span broken\" data-start-ms=\"900\" data-end-ms=\"9000\""), "{svg}");
    let broken = page.find("id=\"still-broken\"").unwrap();
    assert!(broken < page.find("id=\"timeline\"").unwrap());
    assert!(page.contains("<pre class=\"fix\">cd /srv/game-day &amp;&amp; curl -X POST :18080/fix</pre>"));
    assert!(page.contains("firedrill recover 20261018T081320Z-local-web-outage"));
}

fn lanes_expected(r: &Report) -> usize {
    let mut names: Vec<&str> = r.probes.iter().map(|p| p.name.as_str()).collect();
    for s in r.baseline.iter().chain(&r.samples) {
        if !names.contains(&s.probe.as_str()) {
            names.push(&s.probe);
        }
    }
    names.len()
}

#[test]
fn html_placeholder_lists_render_only_when_present() {
    let page = html::render(&report(&passed()));
    assert!(!page.contains("playbook-steps") && !page.contains("observer-notes"));
    assert!(!page.contains("id=\"targets\""), "no AWS, no targets");

    let mut o = String::new();
    html::entries(&mut o, "observer-notes", "Observer notes", &[]);
    assert_eq!(o, "");
    let notes = [
        html::Entry { at_ms: Some(1500), who: Some("ana <sre>"), text: "pager went off & status page updated" },
        html::Entry { at_ms: None, who: None, text: "no customer emails" },
    ];
    html::entries(&mut o, "observer-notes", "Observer notes", &notes);
    assert!(o.starts_with("<section id=\"observer-notes\">\n<h2>Observer notes</h2>"), "{o}");
    assert!(
        o.contains("<tr><td>+1.5s</td><td>ana &lt;sre&gt;</td><td>pager went off &amp; status page updated</td></tr>")
    );
    assert!(o.contains("<tr><td>—</td><td>—</td><td>no customer emails</td></tr>"));
}

#[test]
fn html_shows_the_verdict_and_the_aws_targets() {
    let page = html::render(&report(&passed()));
    assert!(page.contains("<body class=\"outcome-passed\">"));
    assert!(page.contains("<span class=\"badge\">PASSED</span>"));
    assert!(page.contains("<dt>Time to recover</dt><dd>600ms<small>within the 3s objective</small></dd>"), "{page}");
    assert!(page.contains("<dt>Time to detect</dt><dd>200ms"));
    assert!(page.contains("<dt>Precision</dt><dd>± 500ms"));

    let page = html::render(&report(&aborted()));
    assert!(page.contains("<strong>Abort reason:</strong> probe `web` failing for 10s"));
    assert!(page.contains("<dt>Time to recover</dt><dd>never"));

    let mut r = report(&passed());
    r.aws = Some(model::AwsReport {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        seed: 42,
        api_calls: 17,
        api_retries: 2,
        targets: [(
            "web-fleet".to_string(),
            model::TargetReport {
                kind: "ec2_instances".into(),
                matched: 6,
                selected: vec!["i-1".into(), "i-2".into()],
            },
        )]
        .into(),
    });
    let page = html::render(&r);
    assert!(
        page.contains("Account <code>123456789012</code> in <code>us-east-1</code> · selection seed <code>42</code>")
    );
    assert!(page.contains("<tr><td>web-fleet</td><td>ec2_instances</td><td class=\"num\">6</td><td><code>i-1</code>, <code>i-2</code></td></tr>"));
}

#[test]
fn html_shows_playbook_steps_and_notes_on_the_timeline() {
    let step = |name: &str, status: &str, done: Option<u64>| crate::playbook::runner::StepRecord {
        name: name.into(),
        what: format!("<b>{name}</b>"),
        who: "comms".into(),
        kind: "manual".into(),
        on: "detect".into(),
        after_ms: 0,
        communicate: true,
        due_ms: Some(1000),
        done_ms: done,
        status: status.into(),
        detail: None,
    };
    let r = with_notes()
        .with_playbook(vec![step("status-page", "done", Some(1500)), step("email", "not_exercised", None)], vec![]);
    let page = html::render(&r);
    assert!(page.contains("<section id=\"playbook-steps\">"), "{page}");
    assert!(page.contains("&lt;b&gt;status-page&lt;/b&gt;"), "step text is escaped");
    assert_eq!(page.matches("class=\"marker step\"").count(), 1, "only done steps are marked");
    assert!(page.contains("<section id=\"observer-notes\">"));
    assert!(page.matches("class=\"marker note\"").count() >= 2, "notes during the run are marked");
    assert!(page.contains("Communication: 1 of 2 steps done"));
}

/// Strings that would become Markdown, HTML or terminal commands if rendered raw: a table
/// border and a line break, raw HTML, a `javascript:` link and autolink, a tracking image,
/// a code span and a fence closer, and escape sequences (an OSC 52 clipboard write, a
/// screen clear, a C1 CSI, a carriage return).
const MD_EVIL: &str = "x | y\n# head <img src=x onerror=alert(1)> [click](javascript:alert(1)) \
                       ![t](http://track.example/p.gif) <javascript:alert(1)> `code` ``` \
                       \x1b]52;c;ZWNobyBwd25lZA==\x07 \x1b[2J \u{9b}31m \r\u{202e}";

/// `md` with every code span replaced by `CODE` and every backslash escape by `ESC`, as a
/// CommonMark reader delimits them; what remains is what a reader interprets as Markdown.
fn outside_code(md: &str) -> String {
    let c: Vec<char> = md.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        if c[i] == '\\' && i + 1 < c.len() && c[i + 1].is_ascii_punctuation() {
            out.push_str("ESC");
            i += 2;
        } else if c[i] == '`' {
            let n = c[i..].iter().take_while(|&&x| x == '`').count();
            let mut j = i + n;
            let close = loop {
                if j >= c.len() {
                    break None;
                }
                if c[j] == '`' {
                    let m = c[j..].iter().take_while(|&&x| x == '`').count();
                    if m == n {
                        break Some(j + m);
                    }
                    j += m;
                } else {
                    j += 1;
                }
            };
            match close {
                Some(end) => {
                    out.push_str("CODE");
                    i = end;
                }
                None => {
                    out.extend(&c[i..i + n]);
                    i += n;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn markdown_escapes_every_string_from_the_run() {
    let mut r = hostile();
    r.scenario.name = format!("name {MD_EVIL}");
    r.scenario.description = Some(format!("# description {MD_EVIL}"));
    r.abort_reason = Some(format!("reason {MD_EVIL}"));
    r.faults[0].name = format!("fault {MD_EVIL}");
    r.probes[0].name = format!("probe {MD_EVIL}");
    r.probes[0].target = format!("target {MD_EVIL}");
    r.steps[0].name = format!("step {MD_EVIL}");
    r.steps[0].who = format!("who {MD_EVIL}");
    r.steps[0].what = format!("what {MD_EVIL}");
    r.notes[0].author = format!("author {MD_EVIL}");
    r.notes[0].text = format!("note {MD_EVIL}");
    r.notes.push(model::NoteReport { after_end: true, t_ms: 99_000, ..r.notes[0].clone() });
    r.still_broken[0].error = format!("error {MD_EVIL}");
    // A multi-line fix that tries to close its fence.
    r.still_broken[0].fix = "echo one\n````\n<script>alert(1)</script>\n```\necho \x1b]52;c;eA==\x07".into();
    let mut second = r.still_broken[0].clone();
    second.fix = format!("aws x {MD_EVIL}").replace('\n', " ");
    r.still_broken.push(second);
    let md = markdown::render(&r);

    for ch in md.chars() {
        assert!(ch == '\n' || !ch.is_control(), "{ch:?} in report.md:\n{md}");
    }
    assert!(!md.contains('\u{202e}'), "a direction override in report.md");
    // The fence is longer than any backtick run in the fix, so the fix stays inside it.
    let fence_open = md.lines().find(|l| l.trim_start().starts_with("`````sh")).expect("a 5-backtick fence");
    let indent = fence_open.len() - fence_open.trim_start().len();
    let body: Vec<&str> = md.lines().skip_while(|l| *l != fence_open).skip(1).take(6).collect();
    assert_eq!(body.last().map(|l| l.trim()), Some("`````"), "{md}");
    assert!(body.iter().all(|l| l.len() - l.trim_start().len() >= indent), "{md}");

    let text = outside_code(&md.replace(fence_open, "").replace(body.join("\n").as_str(), ""));
    assert!(!text.contains('<') && !text.contains('>'), "raw HTML or an autolink:\n{text}");
    assert!(!text.contains('[') && !text.contains(']'), "a link or image:\n{text}");
    assert!(!md.lines().any(|l| l.trim_start().starts_with("# description")), "a heading from a string:\n{md}");
    assert!(md.contains("\\# description x"), "{md}");
    // Every table row has as many cells as its header (GFM splits cells on every pipe
    // not escaped with a backslash, in code spans too).
    let mut cells = 0;
    for line in md.lines() {
        if !line.starts_with('|') {
            cells = 0;
            continue;
        }
        let n = line.char_indices().filter(|&(i, c)| c == '|' && !line[..i].ends_with('\\')).count();
        if cells == 0 {
            cells = n;
        }
        assert_eq!(n, cells, "a table row with extra cells: {line}");
    }
    // The strings are all there, escaped.
    for what in ["name", "# description", "reason", "fault", "probe", "target", "step", "who", "what", "author", "note"]
    {
        assert!(md.contains(&format!("{what} x \\| y # head &lt;img")), "{what}:\n{md}");
    }
    assert!(md.contains("javascript:alert(1)") && md.contains("http://track.example/p.gif"));
}

#[test]
fn code_spans_and_fences_outlast_the_backticks_inside() {
    assert_eq!(markdown::code("i-0abc"), "`i-0abc`");
    assert_eq!(markdown::code("a`b"), "``a`b``");
    assert_eq!(markdown::code("`x``"), "``` `x`` ```");
    assert_eq!(markdown::code("a|b\nc"), "`a|b c`");
    assert_eq!(markdown::cell_code("a|b"), "`a\\|b`");
    assert_eq!(markdown::fence("plain"), "```");
    assert_eq!(markdown::fence("a ```` b"), "`````");
    assert_eq!(markdown::esc("[x](javascript:y) <b> a|b `c` \\"), "\\[x\\](javascript:y) &lt;b&gt; a\\|b \\`c\\` \\\\");
    assert_eq!(markdown::esc("# not a heading"), "\\# not a heading");
}

#[test]
fn junit_and_html_escape_steps_notes_and_controls() {
    let mut r = hostile();
    r.notes[0].text = format!("note {MD_EVIL}");
    r.steps[0].who = format!("who {MD_EVIL}");
    for out in [junit::render(&r), html::render(&r)] {
        assert!(!out.contains("<img") && !out.contains("<script>alert"), "{out}");
        assert!(out.contains("&lt;img src=x onerror=alert(1)&gt;"), "{out}");
        for ch in out.chars() {
            assert!(ch == '\n' || ch == '\t' || ch == '\r' || !ch.is_control(), "{ch:?}");
        }
    }
}

/// A report.json with times no run could take (written by a firedrill that did not bound
/// durations) still reads and renders in every format.
#[test]
fn huge_times_on_disk_still_render() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = serde_json::to_value(report(&passed())).unwrap();
    for key in ["duration_ms", "objective_ms", "stable_for_ms", "precision_ms", "time_to_recover_ms", "t_inject_ms"] {
        v[key] = json!(u64::MAX);
    }
    v["time_to_detect_ms"] = json!(u64::MAX - 1);
    v["probes"][0]["every_ms"] = json!(u64::MAX);
    v["samples"][0]["t_ms"] = json!(u64::MAX);
    v["faults"][0]["reverted_at_ms"] = json!(u64::MAX);
    std::fs::write(dir.path().join(JSON_FILE), v.to_string()).unwrap();
    let r = read(dir.path()).unwrap();
    assert_eq!(r.objective_ms, u64::MAX);
    assert!(markdown::render(&r).contains("| Objective |"), "{}", markdown::render(&r));
    assert!(html::render(&r).contains("</svg>"));
    assert!(junit::render(&r).contains("<testsuite"));
    assert_eq!(markdown::duration(u64::MAX), "5124095576030h 25m 51s");
}

/// Only regular files are read back, and never beyond the cap.
#[test]
fn a_report_path_that_is_not_a_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(JSON_FILE)).unwrap();
    let e = read(dir.path()).unwrap_err().to_string();
    assert!(e.ends_with("report.json: is a directory, not a regular file"), "{e}");
    assert!(read(Path::new("/dev/zero")).unwrap_err().to_string().ends_with("is a device, not a regular file"));
}

/// A recover run in which no probe failed: every fault reverted, the steady state held,
/// nothing recovered from.
fn no_impact() -> RunRecord {
    RunRecord {
        samples: vec![
            sample(0, 1200, true, "200 OK"),
            sample(1, 1300, true, "connected"),
            sample(0, 7000, true, "200 OK"),
        ],
        settled: true,
        impact: false,
        ..record(Outcome::NoImpact)
    }
}

/// `no_impact` is not a pass in any rendering: the objective reads "not tested", JUnit
/// fails the objective's case, the page says NO IMPACT, the JSON says so for CI.
#[test]
fn a_no_impact_run_is_not_a_pass_in_any_rendering() {
    let r = report(&no_impact());
    assert!(!r.objective_met);
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!((v["outcome"].as_str(), v["objective"].as_str()), (Some("no_impact"), Some("recover")));
    let md = markdown::render(&r);
    assert!(md.starts_with("## ➖ no impact — local-web-outage"), "{md}");
    assert!(
        md.contains("| Objective | recover within 3s, then hold for 1s — ➖ not tested: no probe failed |"),
        "{md}"
    );
    let xml = junit::render(&r);
    assert!(xml.contains(r#"<property name="outcome" value="no_impact"/>"#), "{xml}");
    assert!(
        xml.contains(r#"<failure message="no probe failed: the faults had no visible impact, so recovery (objective 3s) was not tested" type="no_impact">"#),
        "{xml}"
    );
    let page = html::render(&r);
    assert!(page.contains("NO IMPACT") && page.contains("not tested: no probe failed"), "{page}");
    assert!(!page.contains(">PASSED<"), "{page}");
}

/// A sustain run says so wherever the objective is shown, has no objective time on the
/// timeline (nothing may fail at any time), and a failing probe misses it.
#[test]
fn a_sustain_run_shows_its_objective() {
    let passed_sustain = RunRecord { objective_kind: ObjectiveKind::Sustain, objective: Duration::ZERO, ..no_impact() };
    let r = report(&RunRecord { outcome: Outcome::Passed, ..passed_sustain.clone() });
    assert!(r.objective_met);
    assert_eq!(serde_json::to_value(&r).unwrap()["objective"], "sustain");
    let md = markdown::render(&r);
    assert!(md.contains("| Objective | sustain (no probe may fail), then hold for 1s — ✅ met |"), "{md}");
    let page = html::render(&r);
    assert!(page.contains("<dd>sustain<small>no probe may fail, then hold for 1s — met</small></dd>"), "{page}");
    assert!(!html::timeline_svg(&r).contains("objective"), "no objective marker for sustain");
    assert!(!junit::render(&r).contains("<failure"));

    let missed = RunRecord {
        outcome: Outcome::ObjectiveMissed,
        impact: true,
        detected_at: Some(ms(1200)),
        recovered_at: Some(ms(1600)),
        ..passed_sustain
    };
    let r = report(&missed);
    assert!(!r.objective_met, "healed fast, but sustain allows no impact");
    let xml = junit::render(&r);
    assert!(xml.contains("a probe failed during the run: the sustain objective allows no impact"), "{xml}");
    let md = markdown::render(&r);
    assert!(md.contains("600ms (a probe failed: `sustain` allows no impact)"), "{md}");
}

/// A report written before `objective` existed reads as a recover objective.
#[test]
fn an_older_report_without_objective_reads_as_recover() {
    let mut v = serde_json::to_value(report(&passed())).unwrap();
    v.as_object_mut().unwrap().remove("objective");
    let back: Report = serde_json::from_value(v).unwrap();
    assert_eq!(back.objective, ObjectiveKind::Recover);
    assert_eq!(back, report(&passed()));
}

/// The names of a report's JUnit test cases, in order.
fn junit_names(r: &Report) -> Vec<String> {
    junit::render(r)
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(r#"<testcase name=""#))
        .map(|l| l.split('"').next().unwrap().to_string())
        .collect()
}

/// JUnit test names are the scenario's, faults' and probes' names, never the objective
/// or a duration: tuning `within` (or switching to `sustain`) keeps every test's history
/// in CI, whatever the outcome. The numbers are in the messages.
#[test]
fn junit_test_names_do_not_change_with_the_objective() {
    let expected = ["baseline", "objective", "fault: break-web", "probe: web", "probe: web-port", "revert"];
    for (name, r) in runs().into_iter().chain([("no_impact", no_impact())]) {
        let mut names = Vec::new();
        for objective in [ms(3000), ms(45_000), ms(90 * 60_000)] {
            names.push(junit_names(&report(&RunRecord { objective, ..r.clone() })));
        }
        names.push(junit_names(&report(&RunRecord {
            objective_kind: ObjectiveKind::Sustain,
            objective: Duration::ZERO,
            ..r.clone()
        })));
        for n in &names {
            assert_eq!(n, &expected, "{name}");
        }
    }
    let suite = junit::render(&report(&passed()));
    assert!(suite.contains(r#"<testsuite name="firedrill.local-web-outage" "#), "{suite}");
    // The objective is still there to read, in the failure's message.
    let missed = junit::render(&report(&RunRecord { objective: ms(300), ..passed() }));
    assert!(missed.contains(r#"<failure message="recovered in 600ms, over the 300ms objective""#), "{missed}");
}

/// A fault's case fails with what went wrong with it, and is skipped when it never ran.
#[test]
fn junit_fault_cases_say_how_each_fault_went() {
    let xml = junit::render(&report(&revert_failed()));
    assert!(
        xml.contains(r#"<failure message="revert failed: revert command failed: exit status 7: curl: (7) Failed to connect: a human must act" type="revert_failed">step 1: run `curl -X POST :18080/fix`"#),
        "{xml}"
    );
    let xml = junit::render(&report(&blocked()));
    assert!(
        xml.contains("<testcase name=\"fault: break-web\" classname=\"firedrill.local-web-outage\" time=\"0.000\">\n    <skipped message=\"not injected: the run was blocked before injection\"/>"),
        "{xml}"
    );
    let failed = RunRecord {
        faults: vec![FaultRecord { inject_error: Some("the API said no".into()), ..fault(1100, Some(1150)) }],
        ..aborted()
    };
    let xml = junit::render(&report(&failed));
    assert!(xml.contains(r#"<failure message="failed to inject: the API said no" type="aborted">1 step(s) journaled, every one reverted</failure>"#), "{xml}");
}

/// A run that healed in time but paged: `db-page` seen by a read, `web-page` only in the
/// alarm history, `legacy` already alarming, `gone` unreadable; `max_pages: 0`.
fn paged() -> RunRecord {
    use crate::engine::pager::{HistoryCheck, Page, PagesRecord, SeenBy, Unread};
    RunRecord {
        outcome: Outcome::ObjectiveMissed,
        pages: Some(PagesRecord {
            watched: vec!["db-page".into(), "gone".into(), "legacy".into(), "web-page".into()],
            every: ms(5000),
            max_pages: Some(0),
            pages: vec![
                Page {
                    alarm: "web-page".into(),
                    at: ms(1250),
                    reason: "Alarm updated from OK to ALARM".into(),
                    seen_by: SeenBy::History,
                },
                Page {
                    alarm: "db-page".into(),
                    at: ms(5000),
                    reason: "Threshold Crossed: 1 datapoint [9.0] was > 5 | <b>".into(),
                    seen_by: SeenBy::Poll,
                },
            ],
            already_alarming: vec!["legacy".into()],
            unreadable: vec![Unread {
                alarm: Some("gone".into()),
                error: "no alarm of this name".into(),
                first_at: ms(0),
                times: 3,
            }],
            history: HistoryCheck::Checked { added: 1 },
        }),
        ..passed()
    }
}

/// `pages: N` with names, times and reasons in every rendering; more than `max_pages` is a
/// missed objective with its reason; JSON round-trips; a report without pages has no
/// `pages` key (and older reports read back without one).
#[test]
fn pages_are_reported_in_every_rendering() {
    let r = report(&paged());
    assert!(!r.objective_met, "the pages miss the objective though recovery was in time");
    let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
    assert_eq!(json["outcome"], "objective_missed");
    assert_eq!(json["pages"]["count"], 2);
    assert_eq!(json["pages"]["exceeded"], true);
    assert_eq!(json["pages"]["reason"], "2 page(s), at most 0 allowed: web-page at 1s 250ms, db-page at 5s");
    assert_eq!(json["pages"]["pages"][1]["alarm"], "db-page");
    assert_eq!(json["pages"]["pages"][1]["t_ms"], 5000);
    assert_eq!(json["pages"]["pages"][0]["seen_by"], "history");
    assert_eq!(json["pages"]["already_alarming"], serde_json::json!(["legacy"]));
    assert_eq!(json["pages"]["unreadable"][0]["alarm"], "gone");
    assert_eq!(json["pages"]["history"], serde_json::json!({ "available": true, "added": 1, "error": null }));
    let back: Report = serde_json::from_str(&render(&r, Format::Json)).unwrap();
    assert_eq!(back, r);
    let plain: serde_json::Value = serde_json::from_str(&render(&report(&passed()), Format::Json)).unwrap();
    assert!(plain.get("pages").is_none());

    golden("paged.md", &markdown::render(&r));
    golden("paged.xml", &junit::render(&r));
    let html = html::render(&r);
    assert!(html.contains("<section id=\"pages\">"));
    assert!(html.contains("<div id=\"m-pages\" class=\"missed\"><dt>Pages</dt><dd>2"));
    assert!(html.contains("&lt;b&gt;") && !html.contains("<b>"), "the state reason is escaped");
    assert!(html.contains("history not available") || html.contains("alarm history checked: 1 page(s)"));

    // Not over `max_pages`: reported, and the objective stands.
    let mut within = paged();
    within.outcome = Outcome::Passed;
    within.pages.as_mut().unwrap().max_pages = None;
    let r = report(&within);
    assert!(r.objective_met);
    let xml = junit::render(&r);
    assert!(xml.contains(r#"<property name="pages" value="2"/>"#));
    assert!(xml.contains(r#"<testcase name="pages" classname="firedrill.local-web-outage" time="5.000"/>"#), "{xml}");
    assert!(
        markdown::render(&r).contains("| Pages | pages: 2 (`web-page` at +1.3s, `db-page` at +5s) (reported only"),
        "by time"
    );
}

#[test]
fn each_renderer_says_what_a_fault_hit_before_and_after() {
    use crate::engine::Change;
    let change = |resource: &str, what: &str, before: &str, after: &str, undone: bool| Change {
        resource: resource.into(),
        zone: Some("eu-west-1a".into()),
        what: what.into(),
        before: before.into(),
        after: after.into(),
        undone_by_revert: undone,
    };
    let hit = vec![
        change("subnet subnet-1", "network ACL", "acl-a", "acl-clone", true),
        change("instance i-1", "state", "running", "stopped", true),
        change("RDS cluster shop-db", "writer", "shop-db-1", "shop-db-2", false),
    ];
    let ok = RunRecord { faults: vec![FaultRecord { changes: hit.clone(), ..fault(6000, Some(6100)) }], ..passed() };
    let lines = [
        "subnet subnet-1 (eu-west-1a): network ACL acl-a → acl-clone → acl-a",
        "instance i-1 (eu-west-1a): state running → stopped → running",
        "RDS cluster shop-db (eu-west-1a): writer shop-db-1 → shop-db-2 (not undone by the revert)",
    ];
    let rep = report(&ok);
    let md = markdown::render(&rep);
    let page = html::render(&rep);
    for l in lines {
        assert!(md.contains(&format!("- {l}\n")), "{l} in\n{md}");
        assert!(page.contains(&format!("<li>{}</li>", html::esc(l))), "{l} in the HTML");
    }
    assert!(md.contains("Hit by `break-web`:"));
    assert_eq!(serde_json::from_str::<Report>(&render(&rep, Format::Json)).unwrap(), rep, "round trip");

    // A revert that failed leaves the change named as not restored.
    let failed = RunRecord {
        faults: vec![FaultRecord { changes: hit, ..revert_failed().faults[0].clone() }],
        ..revert_failed()
    };
    let md = markdown::render(&report(&failed));
    assert!(md.contains("network ACL acl-a → acl-clone (NOT restored: the revert did not complete)"), "{md}");
    assert!(html::render(&report(&failed)).contains("<li class=\"bad\">subnet subnet-1"));
}

#[test]
fn the_html_report_shows_a_faults_effect_and_plan() {
    let mut rep = report(&passed());
    rep.faults[0].effect = Some(model::Effect::None);
    rep.faults[0].plan = vec!["  network — no targeted subnet is in zone eu-west-1b".into()];
    let page = html::render(&rep);
    assert!(page.contains("(no effect: nothing to do)"), "the effect is shown");
    assert!(page.contains("<li>network — no targeted subnet is in zone eu-west-1b</li>"), "the plan is shown");
}

#[test]
fn a_revert_says_steps_and_counts_retries_only_when_there_were_some() {
    let three =
        RunRecord { faults: vec![FaultRecord { steps: 3, revert_attempts: 3, ..fault(6000, Some(6100)) }], ..passed() };
    let md = markdown::render(&report(&three));
    assert!(md.contains("revert `break-web` done after 3 steps\n"), "{md}");
    assert!(!md.lines().any(|l| l.contains("revert `break-web`") && l.contains("attempt")), "no retry: {md}");
    let retried =
        RunRecord { faults: vec![FaultRecord { steps: 1, revert_attempts: 3, ..fault(6000, Some(6100)) }], ..passed() };
    let md = markdown::render(&report(&retried));
    assert!(md.contains("revert `break-web` done after 3 attempts for 1 step (2 retries)\n"), "{md}");
}

#[test]
fn a_stop_condition_alarm_is_a_lane_named_by_its_alarm_never_by_its_index() {
    let mut s = scenario();
    s.abort = serde_json::from_value(json!([{"alarm": "shop-latency"}])).unwrap();
    let r = RunRecord { samples: vec![sample(2, 1300, false, "ALARM"), sample(0, 1400, true, "200 OK")], ..passed() };
    let rep = Report::new(meta(), &s, &r);
    assert_eq!(rep.samples[0].probe, "alarm:shop-latency");
    let svg = html::timeline_svg(&rep);
    assert!(svg.contains("<g class=\"lane\" data-probe=\"alarm:shop-latency\">"), "{svg}");
    assert!(!svg.contains("data-probe=\"#"), "{svg}");
    // The probes table counts the steady-state probes' own checks only.
    assert_eq!(rep.probes.iter().map(|p| p.samples).collect::<Vec<_>>(), [2, 1]);
}
