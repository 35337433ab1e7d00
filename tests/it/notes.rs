//! The game day's human side, end to end through the real binary: observers' notes
//! (`firedrill note`) during and after a run against a local [`WebService`], and
//! `firedrill history` over several runs.
//!
//! Note offsets (`t_ms`) are on the wall clock from `started_at`, the run's other offsets
//! on its monotonic clock from (just after) the same instant; a note added once the journal
//! says the fault is in place therefore lies at or after `t_inject_ms`, and one added
//! before the run exits at or before `duration_ms`.

use std::fs::File;
use std::time::Duration;

use serde_json::Value;

use crate::support::web::{Heal, WebService};
use crate::support::{Sandbox, ms, read_report, wait_until};

/// A bounded wait for something a running `firedrill` is about to do.
const WAIT: Duration = Duration::from_secs(30);

/// One probe on `/health` every 100 ms, one `break-web` fault (`POST /break`, reverted
/// with `POST /fix`) lasting `duration`, recovery `within`.
fn scenario(sandbox: &Sandbox, web: &WebService, file: &str, name: &str, duration: &str, within: &str) -> String {
    let yaml = format!(
        r#"version: 1
name: {name}
steady_state:
  - name: web
    http: {{ url: "{health}", expect_status: [200], timeout: 2s }}
    every: 100ms
faults:
  - name: break-web
    command:
      inject: "curl -fsS --max-time 5 -X POST {brk}"
      revert: "curl -fsS --max-time 5 -X POST {fix}"
      timeout: 10s
    duration: {duration}
abort:
  - {{ max_duration: 30s }}
recovery:
  within: {within}
  stable_for: 300ms
  settle_timeout: 10s
"#,
        health = web.url("/health"),
        brk = web.url("/break"),
        fix = web.url("/fix"),
    );
    sandbox.write_scenario(file, &yaml);
    format!("{file}.yaml")
}

/// The lines of the `### Timeline` section of a report.md.
fn timeline(md: &str) -> Vec<&str> {
    md.lines().skip_while(|l| *l != "### Timeline").skip(2).take_while(|l| !l.is_empty()).collect()
}

#[test]
fn notes_added_during_a_run_land_in_its_report_and_later_ones_on_rerender() {
    let web = WebService::start(Heal::After(Duration::from_millis(500)));
    let sandbox = Sandbox::new();
    let file = scenario(&sandbox, &web, "it-notes", "it-notes", "4s", "5s");
    let running = sandbox.spawn(&["run", "--yes", &file]);
    sandbox.wait_for_journal("done", WAIT);

    // Two observers, from their own terminals: one names herself, one is $USER.
    let first = sandbox.run(&["note", "--author", "alice", "5xx spike on the | dashboard"]);
    first.assert_exit(0);
    assert!(first.stderr.contains("Noted ") && first.stderr.contains(" by alice"), "{first}");
    let second = sandbox.run_with_env(&["note", "paged the on-call\nno answer yet"], &[("USER", "bob")]);
    second.assert_exit(0);

    let out = running.wait();
    out.assert_exit(0);
    let run_dir = out.run_dir();
    let report = read_report(&run_dir);
    let notes = report["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 2, "{report:#}");
    assert_eq!((&notes[0]["author"], &notes[0]["text"]), (&"alice".into(), &"5xx spike on the | dashboard".into()));
    assert_eq!((&notes[1]["author"], &notes[1]["text"]), (&"bob".into(), &"paged the on-call\nno answer yet".into()));
    let (t_inject, end) = (ms(&report, "/t_inject_ms"), ms(&report, "/duration_ms"));
    for (i, n) in notes.iter().enumerate() {
        let t = ms(n, "/t_ms");
        assert!((t_inject..=end).contains(&t), "note {i} at {t}ms, not between injection {t_inject}ms and end {end}ms");
        assert_eq!(n["after_end"], false);
        assert!(n["at"].as_str().is_some_and(|at| at.ends_with('Z') && at.len() == 24), "RFC 3339 with ms: {n}");
    }
    assert!(ms(&notes[0], "/t_ms") <= ms(&notes[1], "/t_ms"));
    let lines = std::fs::read_to_string(run_dir.join("notes.jsonl")).expect("notes.jsonl");
    assert_eq!(lines.lines().count(), 2, "one line per note: {lines}");

    // report.md: in the timeline, in order, between the injection and the end.
    let md = std::fs::read_to_string(run_dir.join("report.md")).expect("report.md");
    let tl = timeline(&md);
    let at =
        |needle: &str| tl.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in {tl:#?}"));
    let (alice, bob) =
        (at("📝 note by alice: 5xx spike on the \\| dashboard"), at("📝 note by bob: paged the on-call no answer yet"));
    assert!(at("inject `break-web` confirmed") < alice && alice < bob && bob < at("end: passed"), "{tl:#?}");
    assert!(md.contains("### Notes"), "{md}");
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("<system-out>note +") && junit.contains("alice: 5xx spike on the | dashboard"), "{junit}");

    // A post-mortem note: kept, flagged, and shown when the report is re-rendered.
    let late = sandbox.run(&["note", "latest", "--author", "carol", "root cause: health check too slow"]);
    late.assert_exit(0);
    assert!(late.stderr.contains("after the end"), "{late}");
    let json = sandbox.run(&["report", "latest", "--format", "json"]);
    json.assert_exit(0);
    let rerendered: Value = serde_json::from_str(&json.stdout).expect("report --format json is JSON");
    let notes = rerendered["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 3, "{rerendered:#}");
    assert_eq!((&notes[2]["author"], &notes[2]["after_end"]), (&"carol".into(), &true.into()));
    assert!(ms(&notes[2], "/t_ms") >= end);
    let md = sandbox.run(&["report", "latest"]);
    assert!(md.stdout.contains("📝 note by carol (after the end): root cause: health check too slow"), "{md}");
    // The run's own files are what the run wrote; only the re-render has the late note.
    assert_eq!(read_report(&run_dir)["notes"].as_array().map(Vec::len), Some(2));
}

#[test]
fn note_without_exactly_one_live_run_exits_2_and_says_why() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["note", "anything"]);
    out.assert_exit(2);
    assert!(out.stderr.contains("no run is going on"), "{out}");
    assert!(out.stderr.contains("firedrill note latest"), "says how to note a finished run: {out}");

    // Two runs that look alive: this test holds their locks, as a live `firedrill run` does.
    let runs = sandbox.state_dir().join("runs");
    let mut locks = Vec::new();
    for id in ["20261118T110640Z-a-0001", "20261118T110641Z-b-0002"] {
        let dir = runs.join(id);
        std::fs::create_dir_all(&dir).expect("run dir");
        std::fs::write(dir.join("journal.jsonl"), "").expect("journal");
        let lock = File::create(dir.join("run.lock")).expect("run.lock");
        lock.try_lock().expect("lock");
        locks.push(lock);
    }
    let out = sandbox.run(&["note", "anything"]);
    out.assert_exit(2);
    assert!(out.stderr.contains("2 runs are going on"), "{out}");
    assert!(out.stderr.contains("20261118T110640Z-a-0001") && out.stderr.contains("20261118T110641Z-b-0002"), "{out}");
    assert!(!runs.join("20261118T110640Z-a-0001/notes.jsonl").exists(), "nothing written");

    // Naming one works; with one live run left, it is the default.
    sandbox.run(&["note", "a-0001", "--author", "ann", "named"]).assert_exit(0);
    drop(locks.remove(0));
    sandbox.run(&["note", "--author", "ann", "the live one"]).assert_exit(0);
    let b = std::fs::read_to_string(runs.join("20261118T110641Z-b-0002/notes.jsonl")).expect("notes of b");
    assert!(b.contains(r#""text":"the live one""#) && b.contains(r#""after_end":false"#), "{b}");

    // Text checks come first, with what is wrong.
    let empty = sandbox.run(&["note", "  "]);
    empty.assert_exit(2);
    assert!(empty.stderr.contains("the note is empty"), "{empty}");
    let long = sandbox.run(&["note", &"x".repeat(2001)]);
    long.assert_exit(2);
    assert!(long.stderr.contains("2001 characters long; at most 2000"), "{long}");
    let unknown = sandbox.run(&["note", "nosuchrun", "text"]);
    unknown.assert_exit(2);
    assert!(unknown.stderr.contains("no run `nosuchrun`"), "{unknown}");
}

#[test]
fn concurrent_notes_from_several_terminals_stay_whole_lines() {
    let sandbox = Sandbox::new();
    let dir = sandbox.state_dir().join("runs/20261118T110640Z-x-0001");
    std::fs::create_dir_all(&dir).expect("run dir");
    std::fs::write(dir.join("journal.jsonl"), "").expect("journal");
    let text = |i: usize| format!("{i}:{}", "y".repeat(1990));
    let running: Vec<_> = (0..8)
        .map(|i| sandbox.spawn(&["note", "20261118T110640Z-x-0001", "--author", &format!("t{i}"), &text(i)]))
        .collect();
    for r in running {
        r.wait().assert_exit(0);
    }
    let lines = std::fs::read_to_string(dir.join("notes.jsonl")).expect("notes.jsonl");
    let mut seen: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("torn line {l:?}: {e}"))["text"].to_string()
        })
        .collect();
    seen.sort();
    let mut want: Vec<String> = (0..8).map(|i| Value::from(text(i)).to_string()).collect();
    want.sort();
    assert_eq!(seen, want);
}

#[test]
fn history_lists_passed_missed_and_blocked_runs_with_a_summary() {
    let sandbox = Sandbox::new();
    // Same scenario (name and objective), three outcomes.
    let fast = WebService::start(Heal::After(Duration::from_millis(200)));
    let slow = WebService::start(Heal::After(Duration::from_millis(1500)));
    let down = WebService::start(Heal::Never);
    down.break_now();
    let mut ids = Vec::new();
    for (web, file, duration, code) in [(&fast, "fast", "1s", 0), (&slow, "slow", "2s", 1), (&down, "down", "1s", 4)] {
        let file = scenario(&sandbox, web, file, "it-hist", duration, "1s");
        let out = sandbox.run(&["run", "--yes", &file]);
        out.assert_exit(code);
        ids.push(read_report(&out.run_dir())["run_id"].as_str().expect("run_id").to_string());
    }
    let reports: Vec<Value> = sandbox.run_dirs().iter().map(|d| read_report(d)).collect();
    let ttr: Vec<i64> = reports[..2].iter().map(|r| ms(r, "/time_to_recover_ms")).collect();

    let out = sandbox.run(&["history"]);
    out.assert_exit(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("STARTED") && lines[0].contains("OUTCOME") && lines[0].contains("RECOVER"), "{out}");
    // Newest last, each with its outcome and verdict.
    for (i, (outcome, met)) in [("passed", "yes"), ("objective_missed", "no"), ("blocked", "-")].iter().enumerate() {
        let line = lines[1 + i];
        assert!(line.contains(&ids[i]), "row {i} is not {}: {out}", ids[i]);
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[3], *outcome, "{out}");
        assert_eq!(words.last(), Some(met), "{out}");
    }
    let dur = firedrill::report::markdown::duration;
    let median = (ttr[0] as u64 + ttr[1] as u64) / 2;
    let summary = format!(
        "it-hist: 3 runs, 1 passed; time to recover median {}, worst {}; objective 1s",
        dur(median),
        dur(ttr[0].max(ttr[1]) as u64)
    );
    assert!(lines.contains(&summary.as_str()), "no {summary:?} in\n{out}");

    let json = sandbox.run(&["history", "--format", "json"]);
    json.assert_exit(0);
    let rows: Value = serde_json::from_str(&json.stdout).expect("history --format json is JSON");
    let outcomes: Vec<&str> = rows.as_array().expect("an array").iter().filter_map(|r| r["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["passed", "objective_missed", "blocked"]);
    assert_eq!(rows[0]["time_to_recover_ms"], ttr[0]);
    assert_eq!((&rows[1]["objective_met"], &rows[1]["objective_ms"]), (&false.into(), &1000.into()));
    assert_eq!((&rows[2]["injected"], &rows[2]["time_to_recover_ms"]), (&false.into(), &Value::Null));

    let html = sandbox.run(&["history", "--format", "html"]);
    html.assert_exit(0);
    let page = &html.stdout;
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert_eq!(page.matches("<svg ").count(), 1, "one scenario, one plot");
    assert_eq!(page.matches("<circle ").count(), 2, "one point per run that recovered");
    assert_eq!(page.matches(r#"class="objective""#).count(), 1);
    for id in &ids {
        assert!(page.contains(id.as_str()), "{id} missing from the table");
    }
    for external in ["http:", "https:", "<script", "<link", "src="] {
        assert!(!page.contains(external), "{external}: the page must be self-contained");
    }

    // Another scenario's history is empty, and says so.
    let none = sandbox.run(&["history", "--scenario", "other", "--format", "json"]);
    none.assert_exit(0);
    assert_eq!(none.stdout.trim(), "[]");
    assert!(none.stderr.contains("no runs of other"), "{none}");
    assert_eq!(sandbox.run(&["history", "--scenario", "it-hist"]).stdout, out.stdout);

    // While the run that notes wait on is alive, history shows it as running.
    let web = WebService::start(Heal::Never);
    let file = scenario(&sandbox, &web, "live", "it-live", "20s", "1s");
    let running = sandbox.spawn(&["run", "--yes", &file]);
    wait_until("a fourth run", WAIT, || sandbox.run_dirs().len() == 4);
    wait_until("the run to hold its lock", WAIT, || {
        sandbox.run(&["history", "--scenario", "it-live"]).stdout.contains(" running")
    });
    running.signal("INT");
    running.wait().assert_exit(3);
}
