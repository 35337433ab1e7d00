//! History tests: the summary math, the table, the SVG plot's structure, the HTML page, and
//! rows read from hand-made run directories (reports, journals, live and crashed runs).

use serde_json::json;

use super::html::{self, Point};
use super::*;
use crate::state::journal::{Journal, Sink, UndoRecord};

fn mk(id: &str, scenario: &str, outcome: &str, ttr: Option<u64>) -> Row {
    let injected = outcome != "blocked";
    Row {
        run_id: id.into(),
        scenario: scenario.into(),
        started_at: Some(format!("2026-11-18T11:{id}:00.000Z")),
        outcome: outcome.into(),
        detail: None,
        injected,
        duration_ms: Some(9000),
        objective: Some("recover".into()),
        objective_ms: Some(3000),
        time_to_detect_ms: ttr.map(|_| 200),
        time_to_recover_ms: ttr,
        objective_met: Some(outcome == "passed"),
    }
}

fn crashed(id: &str, scenario: &str) -> Row {
    Row {
        detail: Some("1 injected".into()),
        injected: false,
        duration_ms: None,
        objective: None,
        objective_ms: None,
        time_to_detect_ms: None,
        time_to_recover_ms: None,
        objective_met: None,
        ..mk(id, scenario, "crashed", None)
    }
}

/// web: passed 600ms, missed 4.5s, missed (never recovered), blocked, crashed; db: passed 1s.
fn rows() -> Vec<Row> {
    vec![
        mk("01", "web", "passed", Some(600)),
        mk("02", "web", "objective_missed", Some(4500)),
        mk("03", "db", "passed", Some(1000)),
        mk("04", "web", "objective_missed", None),
        mk("05", "web", "blocked", None),
        crashed("06", "web"),
    ]
}

/// A scheduled occurrence of the `monthly` game day that starts at `start`, and what
/// became of it (`run`: the run it started).
fn record(start: &str, outcome: &str, reason: Option<&str>, run: Option<&str>) -> crate::schedule::record::Record {
    crate::schedule::record::Record {
        key: format!("monthly@{start}"),
        gameday: "monthly".into(),
        scenario: "web.yaml".into(),
        start: start.into(),
        seed: 1,
        outcome: outcome.into(),
        reason: reason.map(String::from),
        run: run.map(String::from),
        at: "2026-12-01T09:00:00Z".into(),
    }
}

/// An aborted game day was cut short (an abort rule, a signal, the facilitator): it is
/// counted apart, never as "never recovered", and not plotted as a time.
#[test]
fn aborted_runs_are_counted_apart_from_never_recovered() {
    let rows = [mk("01", "x", "passed", Some(800)), mk("02", "x", "aborted", None), mk("03", "x", "aborted", None)];
    let s = summarize(&rows);
    assert_eq!((s[0].never_recovered, s[0].aborted), (0, 2));
    assert_eq!(s[0].line(), "x: 3 runs, 1 passed, 2 aborted; time to recover median 800ms, worst 800ms; objective 3s");
    assert_eq!(Point::from_rows(&rows).len(), 1, "only the measured run is plotted");
    let t = text(&rows);
    let aborted = t.lines().find(|l| l.contains(" 02 ")).unwrap();
    assert!(aborted.contains("aborted") && !aborted.contains("never"), "{t}");
}

#[test]
fn median_of_odd_even_and_no_values() {
    assert_eq!(median(&mut []), None);
    assert_eq!(median(&mut [7]), Some(7));
    assert_eq!(median(&mut [900, 100, 500]), Some(500));
    assert_eq!(median(&mut [400, 100, 900, 200]), Some(300));
    assert_eq!(median(&mut [1, 2]), Some(1), "rounded down");
    assert_eq!(median(&mut [u64::MAX, u64::MAX - 2]), Some(u64::MAX - 1), "no overflow");
}

#[test]
fn summary_counts_runs_passes_and_never_recovered() {
    let s = summarize(&rows());
    assert_eq!(s.iter().map(|s| s.scenario.as_str()).collect::<Vec<_>>(), ["db", "web"]);
    let web = &s[1];
    assert_eq!((web.runs, web.passed, web.aborted), (5, 1, 0));
    assert_eq!(web.median_ms, Some(2550));
    assert_eq!(web.worst_ms, Some(4500));
    assert_eq!(web.never_recovered, 1, "run 04; not the one that never started or crashed");
    assert_eq!(web.objective_ms, Some(3000));
    assert_eq!(web.line(), "web: 5 runs, 1 passed; time to recover median 2.6s, worst never (1 run); objective 3s");
    assert_eq!(s[0].line(), "db: 1 run, 1 passed; time to recover median 1s, worst 1s; objective 3s");

    let only_never = summarize(&[mk("01", "x", "objective_missed", None), mk("02", "x", "objective_missed", None)]);
    assert_eq!(only_never[0].line(), "x: 2 runs, 0 passed; time to recover never recovered (2 runs); objective 3s");
    // A run in which no probe failed measured no recovery: it counts as a run, not a time.
    let untouched = Row { time_to_detect_ms: None, time_to_recover_ms: Some(0), ..mk("03", "x", "no_impact", None) };
    let with_it = summarize(&[mk("01", "x", "passed", Some(800)), untouched]);
    assert_eq!(with_it[0].line(), "x: 2 runs, 1 passed; time to recover median 800ms, worst 800ms; objective 3s");
    let nothing = summarize(&[crashed("01", "x")]);
    assert_eq!(nothing[0].line(), "x: 1 run, 0 passed; time to recover no recovery measured");
}

#[test]
fn table_is_aligned_oldest_first_with_summaries() {
    let text = text(&rows());
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("STARTED "), "{text}");
    let ids: Vec<&str> = lines[1..7].iter().map(|l| l.split_whitespace().nth(2).unwrap_or("")).collect();
    assert_eq!(ids, ["01", "02", "03", "04", "05", "06"], "{text}");
    // Every column starts at the same place on every line.
    let col = |l: &str, word: &str| l.find(word).unwrap();
    let outcome = col(lines[0], "OUTCOME");
    let recover_end = col(lines[0], "RECOVER") + "RECOVER".len();
    for l in &lines[1..7] {
        assert!(l[outcome..].starts_with(|c: char| c != ' '), "{text}");
        assert_eq!(&l[outcome - 2..outcome], "  ", "{text}");
        assert_eq!(&l[recover_end..recover_end + 2], "  ", "right-aligned: {text}");
    }
    assert!(lines[2].contains("objective_missed") && lines[2].contains("4.5s") && lines[2].ends_with("no"), "{text}");
    assert!(lines[4].contains("objective_missed") && lines[4].contains("never"), "{text}");
    assert!(lines[5].contains("blocked") && lines[5].ends_with('-'), "not injected: no verdict\n{text}");
    assert!(lines[6].contains("crashed, 1 injected"), "{text}");
    assert_eq!(lines[7], "");
    assert!(lines[8].starts_with("db: 1 run"), "{text}");
    assert!(lines[9].starts_with("web: 5 runs, 1 passed"), "{text}");
}

#[test]
fn json_is_an_array_of_rows() {
    let v: serde_json::Value = serde_json::from_str(&json(&rows())).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(6));
    assert_eq!(v[5]["outcome"], "crashed");
    assert_eq!(v[5]["objective_met"], serde_json::Value::Null);
    assert_eq!(v[0]["time_to_recover_ms"], 600);
}

fn points() -> Vec<Point> {
    Point::from_rows(&rows().into_iter().filter(|r| r.scenario == "web").collect::<Vec<_>>())
}

/// The numbers in `attr="..."` of every element named `tag`.
fn attrs(svg: &str, tag: &str, attr: &str) -> Vec<f64> {
    svg.split(&format!("<{tag} "))
        .skip(1)
        .filter_map(|el| el.split(&format!(" {attr}=\"")).nth(1))
        .filter_map(|v| v.split('"').next()?.parse().ok())
        .collect()
}

#[test]
fn plot_has_a_circle_per_recovered_run_a_cross_per_never_and_the_objective_line() {
    let p = points();
    assert_eq!(p.len(), 3, "passed, missed, never recovered; not the run that never started nor the crashed one");
    let svg = html::svg("web", &p, 3000);
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
    assert_eq!(svg.matches("<circle ").count(), 2, "{svg}");
    assert_eq!(svg.matches(r#"<path class="never""#).count(), 1, "{svg}");
    assert_eq!(svg.matches("<title>").count(), 3, "every mark names its run");
    assert_eq!(svg.matches(r#"<text class="tick""#).count(), 3, "runs numbered 1 to 3: {svg}");
    assert!(svg.contains("<title>04: never recovered (objective_missed)</title>"), "{svg}");

    // The objective is a horizontal line at its value; one point lies under it, one above.
    let ymax = html::y_max(&p, 3000);
    assert_eq!(ymax, 4500.0 * 1.2);
    let objective: Vec<&str> = svg.lines().filter(|l| l.contains(r#"class="objective""#)).collect();
    assert_eq!(objective.len(), 1, "{svg}");
    let oy = html::y_of(3000, ymax);
    assert!(objective[0].contains(&format!(r#"y1="{oy:.1}""#)) && objective[0].contains(&format!(r#"y2="{oy:.1}""#)));
    let cy = attrs(&svg, "circle", "cy");
    assert_eq!(cy.len(), 2);
    assert!(cy[0] > oy && cy[1] < oy, "600ms below the line, 4.5s above (SVG y grows down): {cy:?} vs {oy}");
    assert!(svg.contains(r##"fill="#1a7f37""##) && svg.contains(r##"fill="#cf222e""##), "met green, missed red");

    // Runs go left to right in order, inside the view box; the cross sits in the band above.
    let cx = attrs(&svg, "circle", "cx");
    assert!(cx[0] < cx[1]);
    for (x, y) in cx.iter().zip(&cy) {
        assert!((0.0..=html::WIDTH).contains(x) && (0.0..=html::HEIGHT).contains(y));
    }
    assert!(svg.contains(&format!("M{:.1} {:.1}", html::x_of(2, 3) - 4.0, html::NEVER_Y - 4.0)), "{svg}");
    assert!(html::NEVER_Y < html::y_of(4500, ymax));
}

#[test]
fn plot_of_one_run_centres_it_and_scales_to_the_objective() {
    let p = [Point { run_id: "a".into(), outcome: "passed".into(), ttr_ms: Some(0) }];
    let svg = html::svg("x<y", &p, 5000);
    assert_eq!(attrs(&svg, "circle", "cx"), [html::x_of(0, 1)]);
    assert_eq!(html::x_of(0, 1), (html::x_of(0, 2) + html::x_of(1, 2)) / 2.0);
    assert_eq!(html::y_max(&p, 5000), 6000.0);
    assert!(svg.contains("x&lt;y"), "escaped: {svg}");
    assert!(!svg.contains("never"), "{svg}");
}

#[test]
fn html_page_is_self_contained_with_a_plot_per_scenario() {
    let mut rows = rows();
    rows[0].run_id = "<b>&".into();
    let page = html::render(&rows, "runs in .firedrill/runs");
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    for external in ["http:", "https:", "<script", "<link", "src=", "url(", "@import"] {
        assert!(!page.contains(external), "{external} in {page}");
    }
    assert_eq!(page.matches("<svg ").count(), 2, "db and web");
    assert_eq!(page.matches("<circle ").count(), 3);
    assert_eq!(page.matches("<tr>").count(), 7, "header and six runs");
    assert!(page.contains("<code>&lt;b&gt;&amp;</code>") && !page.contains("<b>&"), "escaped");
    assert!(page.contains("<p>web: 5 runs, 1 passed;"), "{page}");

    let empty = html::render(&[], "runs in x");
    assert!(empty.contains("No runs.") && !empty.contains("<svg"));
    let never_injected = html::render(&[mk("01", "web", "blocked", None)], "runs in x");
    assert!(never_injected.contains("nothing to plot") && !never_injected.contains("<svg"));
}

#[test]
fn run_ids_give_the_scenario_and_start() {
    assert_eq!(
        parse_run_id("20261118T110640Z-local-web-outage-1a2b"),
        (Some("local-web-outage".into()), Some("2026-11-18T11:06:40.000Z".into()))
    );
    assert_eq!(parse_run_id("my-copy"), (None, None));
    assert_eq!(parse_run_id("2026Z-x-1"), (Some("x".into()), None));
}

fn undo() -> UndoRecord {
    UndoRecord { kind: "command".into(), description: "run `true`".into(), data: json!({"revert": "true"}) }
}

/// A run directory with a journal: `run_started`, then `entries`.
fn run_dir(state: &StateDir, id: &str, entries: Vec<Entry>) -> RunDir {
    let path = state.runs().join(id);
    std::fs::create_dir_all(&path).unwrap();
    let j = Journal::open(&path).unwrap();
    let started =
        Entry::RunStarted { run_id: id.into(), scenario: "web".into(), scenario_file: "web.yaml".into(), pid: 1 };
    for e in std::iter::once(started).chain(entries) {
        j.append(e).unwrap();
    }
    RunDir { id: id.into(), path, remote: None }
}

#[test]
fn rows_come_from_reports_or_else_journals() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path());
    let intent = || Entry::Intent { step: 1, fault: "f".into(), undo: undo() };

    let reported = run_dir(&state, "20261118T110640Z-web-0001", vec![]);
    let report = json!({
        "report_version": 1, "run_id": "20261118T110640Z-web-0001", "scenario": {"name": "web", "file": "w.yaml"},
        "started_at": "2026-11-18T11:06:40.000Z", "duration_ms": 9000, "outcome": "objective_missed",
        "objective_ms": 300, "t_inject_ms": 1000, "time_to_detect_ms": 100, "time_to_recover_ms": 900,
        "objective_met": false, "samples": [{"probe": "web", "t_ms": 1, "ok": true, "latency_ms": 1, "detail": ""}]
    });
    std::fs::write(reported.path.join("report.json"), report.to_string()).unwrap();
    let r = row(&reported);
    assert_eq!(
        (r.outcome.as_str(), r.injected, r.time_to_recover_ms, r.objective_met),
        ("objective_missed", true, Some(900), Some(false))
    );
    assert_eq!(r.started_at.as_deref(), Some("2026-11-18T11:06:40.000Z"));

    let crashed = run_dir(&state, "20261118T110700Z-web-0002", vec![intent()]);
    let r = row(&crashed);
    assert_eq!((r.outcome.as_str(), r.detail.as_deref()), ("crashed", Some("1 injected")));
    assert_eq!(r.scenario, "web");
    assert!(r.started_at.is_some_and(|s| s.ends_with('Z')), "from the journal");

    let recovered = run_dir(
        &state,
        "20261118T110800Z-web-0003",
        vec![intent(), Entry::Reverted { step: 1, fault: "f".into(), by: "recover".into() }],
    );
    assert_eq!(row(&recovered).detail.as_deref(), Some("recovered"));

    let no_report = run_dir(&state, "20261118T110900Z-web-0004", vec![Entry::RunFinished { outcome: "passed".into() }]);
    assert_eq!(row(&no_report).outcome, "finished");

    let live = run_dir(&state, "20261118T111000Z-web-0005", vec![intent()]);
    let lock = live.lock().unwrap().expect("free");
    assert_eq!(row(&live).outcome, "running");
    drop(lock);
    assert_eq!(row(&live).outcome, "crashed");

    let newer = run_dir(&state, "20261118T111100Z-web-0006", vec![]);
    let mut v = report.clone();
    v["report_version"] = json!(2);
    std::fs::write(newer.path.join("report.json"), v.to_string()).unwrap();
    let r = row(&newer);
    assert_eq!(r.outcome, "unreadable");
    assert!(r.detail.as_deref().is_some_and(|d| d.contains("report_version 2")), "{r:?}");

    // A run whose journal never got its first entry: the id still names it.
    let bare = state.runs().join("20261118T111200Z-db-0007");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::write(bare.join("journal.jsonl"), "").unwrap();
    let all = load(&state, None).unwrap();
    assert_eq!(all.len(), 7);
    let db = all.iter().find(|r| r.scenario == "db").expect("the bare run");
    assert_eq!((db.outcome.as_str(), db.started_at.as_deref()), ("crashed", Some("2026-11-18T11:12:00.000Z")));
    assert_eq!(load(&state, Some("db")).unwrap().len(), 1);
    assert!(load(&state, Some("nope")).unwrap().is_empty());
}

#[test]
fn hostile_rows_stay_text_in_html_and_on_a_terminal() {
    let evil = "<a href=\"javascript:alert(1)\">x</a><img src=x>\x1b]52;c;eA==\x07\x1b[2J\u{9b}31m\r";
    let mut rows = rows();
    rows[0].scenario = format!("web{evil}");
    rows[0].run_id = format!("01{evil}");
    rows[1].outcome = format!("objective_missed{evil}");
    rows[5].detail = Some(format!("1 injected{evil}"));
    let page = html::render(&rows, &format!("runs of {evil}"));
    assert!(!page.contains("<a ") && !page.contains("<img") && !page.contains("href=\""), "{page}");
    assert!(page.contains("&lt;a href=&quot;javascript:alert(1)&quot;&gt;"), "{page}");
    let table = text(&rows);
    // HTML may hold a carriage return (it is whitespace there); a terminal must not get one.
    for c in page.chars() {
        assert!(matches!(c, '\n' | '\r' | '\t') || !c.is_control(), "{c:?} in {page}");
    }
    for c in table.chars() {
        assert!(c == '\n' || !c.is_control(), "{c:?} in {table}");
    }
    assert!(table.contains("01<a href="), "{table}");
}

/// One report.json with times no run could take (an older firedrill wrote them), and one
/// whose numbers do not even fit: the history of the whole state directory still prints,
/// in every format, with every run listed.
#[test]
fn huge_times_in_one_report_do_not_break_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path());
    let head = |id: &str, objective: serde_json::Value| {
        json!({
            "report_version": 1, "run_id": id, "scenario": {"name": "web", "file": "w.yaml"},
            "started_at": "2026-11-18T11:06:40.000Z", "duration_ms": u64::MAX, "outcome": "objective_missed",
            "objective_ms": objective, "t_inject_ms": u64::MAX, "time_to_detect_ms": u64::MAX,
            "time_to_recover_ms": u64::MAX, "objective_met": false, "samples": []
        })
    };
    let huge = run_dir(&state, "20261118T110640Z-web-0001", vec![]);
    std::fs::write(huge.path.join("report.json"), head(&huge.id, json!(u64::MAX)).to_string()).unwrap();
    let overflow = run_dir(&state, "20261118T110700Z-web-0002", vec![]);
    let text = head(&overflow.id, json!(0)).to_string().replace("\"objective_ms\":0", "\"objective_ms\":1e30");
    std::fs::write(overflow.path.join("report.json"), text).unwrap();
    let fine = run_dir(&state, "20261118T110800Z-web-0003", vec![Entry::RunFinished { outcome: "passed".into() }]);

    let rows = load(&state, None).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].objective_ms, Some(u64::MAX));
    assert_eq!(rows[1].outcome, "unreadable");
    assert_eq!(rows[2].run_id, fine.id);
    let table = super::text(&rows);
    assert!(table.contains("5124095576030h"), "{table}");
    assert!(html::render(&rows, "history").contains("</svg>"));
    assert!(super::json(&rows).contains(&u64::MAX.to_string()));
}

/// The scheduled game days by month: a skipped month says why, a month that ran says its
/// run and its time to recover against the objective, and an aborted one is not "never".
#[test]
fn scheduled_game_days_show_each_month_with_why_or_how_it_went() {
    let records = [
        record("2026-10-01T10:00:00+02:00", "passed", None, Some("01")),
        record("2026-11-02T10:00:00+01:00", "skipped", Some("freeze: audit week"), None),
        record("2026-11-30T10:00:00+01:00", "aborted", None, Some("04")),
        record("2026-12-01T10:00:00+01:00", "objective_missed", None, Some("02")),
    ];
    let mut runs = rows();
    runs[3].outcome = "aborted".into();
    let text = scheduled_text(&records, &runs);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Scheduled game days, by month:");
    assert_eq!(
        lines[1],
        "2026-10  2026-10-01T10:00:00+02:00  monthly  passed  run 01 — recovered in 600ms (objective 3s)"
    );
    assert_eq!(lines[2], "2026-11  2026-11-02T10:00:00+01:00  monthly  skipped  freeze: audit week");
    assert_eq!(
        lines[3],
        "         2026-11-30T10:00:00+01:00  monthly  aborted  run 04 — aborted: cut short, not measured"
    );
    assert_eq!(
        lines[4],
        "2026-12  2026-12-01T10:00:00+01:00  monthly  objective_missed  run 02 — recovered in 4.5s (objective 3s)"
    );
}

/// The HTML page shows the scheduled game days by month as the terminal does: each
/// occurrence (a skipped one with why), and each month's runs, objectives met, skips and
/// aborted runs counted apart.
#[test]
fn the_html_page_shows_scheduled_game_days_by_month() {
    let records = [
        record("2026-10-01T10:00:00+02:00", "passed", None, Some("01")),
        record("2026-11-02T10:00:00+01:00", "skipped", Some("freeze: audit <week>"), None),
        record("2026-11-30T10:00:00+01:00", "aborted", None, Some("04")),
    ];
    let mut runs = rows();
    runs[3].outcome = "aborted".into();
    let by_month = scheduled(&records, &runs);
    assert_eq!(by_month.iter().map(|s| s.month.as_str()).collect::<Vec<_>>(), ["2026-10", "2026-11", "2026-11"]);
    assert_eq!((by_month[0].time_to_recover_ms, by_month[0].objective_ms), (Some(600), Some(3000)));
    assert!(by_month[2].aborted && !by_month[1].aborted);
    let page = html::render_with(&runs, &by_month, "runs in x");
    assert!(page.contains("<h2 id=\"scheduled\">Scheduled game days, by month</h2>"));
    assert!(page.contains("<tr class=\"month\"><th>2026-10</th><td colspan=\"4\">1 scheduled: 1 ran (1 met the objective), 0 skipped</td></tr>"), "{page}");
    assert!(page.contains("<tr class=\"month\"><th>2026-11</th><td colspan=\"4\">2 scheduled: 0 ran (0 met the objective), 1 skipped, 1 aborted</td></tr>"), "{page}");
    assert!(page.contains("<td>freeze: audit &lt;week&gt;</td>"), "escaped: {page}");
    assert!(page.contains("run 04 — aborted: cut short, not measured"));
    // Without scheduled game days the page has no such section.
    assert!(!html::render(&runs, "runs in x").contains("id=\"scheduled\""));
}

/// A playbook step is exercised when a run's report records it done; one that no run has
/// done within `--stale-after` (or ever) is flagged, per scenario.
#[test]
fn playbook_steps_not_done_lately_are_flagged_as_stale() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path());
    let report = |id: &str, started: &str, steps: serde_json::Value| {
        let d = run_dir(&state, id, vec![]);
        let r = json!({"report_version": 1, "scenario": {"name": "web"}, "started_at": started, "steps": steps});
        std::fs::write(d.path.join("report.json"), r.to_string()).unwrap();
    };
    report(
        "20260801T100000Z-web-0001",
        "2026-08-01T10:00:00Z",
        json!([{"name": "status-page", "status": "done"}, {"name": "email", "status": "done"}]),
    );
    report(
        "20261115T100000Z-web-0002",
        "2026-11-15T10:00:00Z",
        json!([{"name": "status-page", "status": "done"}, {"name": "email", "status": "skipped"}, {"name": "page-dba", "status": "not_exercised"}]),
    );
    let now: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
    let days = |n: u64| std::time::Duration::from_secs(n * 86_400);
    let stale = stale_steps(&state, None, now, days(60)).unwrap();
    let got: Vec<(&str, Option<&str>)> = stale.iter().map(|s| (s.step.as_str(), s.last_done.as_deref())).collect();
    assert_eq!(got, [("email", Some("2026-08-01T10:00:00Z")), ("page-dba", None)]);
    // With a longer horizon only the step never done is stale; another scenario has none.
    assert_eq!(stale_steps(&state, None, now, days(200)).unwrap().len(), 1);
    assert!(stale_steps(&state, Some("other"), now, days(1)).unwrap().is_empty());
    let text = stale_text(&stale, days(60));
    assert_eq!(
        text,
        "Playbook steps not exercised for more than 60 days:\nweb: email — last done in the run of 2026-08-01T10:00:00Z\nweb: page-dba — never done in a run\n"
    );
}

/// `history --format md`: the runs' table, each month of scheduled game days with its
/// count line and rows (skipped with why, aborted apart), and the stale steps — every
/// value escaped, so a reason or a step name cannot open a link or break a table.
#[test]
fn the_markdown_history_shows_runs_months_and_stale_steps_escaped() {
    let records = [
        record("2026-10-01T10:00:00+02:00", "passed", None, Some("01")),
        record("2026-11-02T10:00:00+01:00", "skipped", Some("freeze: [x](http://evil) | y"), None),
        record("2026-11-30T10:00:00+01:00", "aborted", None, Some("04")),
    ];
    let mut runs = rows();
    runs[3].outcome = "aborted".into();
    let by_month = scheduled(&records, &runs);
    let stale = [StaleStep { scenario: "web".into(), step: "Post <b>now</b>".into(), last_done: None }];
    let md = markdown(&runs, &by_month, &stale, &horizon(std::time::Duration::from_secs(60 * 86_400)), "runs in x");
    assert!(md.starts_with("# runs in x\n\n| started | run | outcome |"), "{md}");
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| ---")).count(),
        1 + runs.len() + 2 + 3,
        "{md}"
    );
    assert!(md.contains("### 2026-10\n\n1 scheduled: 1 ran (1 met the objective), 0 skipped\n"), "{md}");
    assert!(md.contains("### 2026-11\n\n2 scheduled: 0 ran (0 met the objective), 1 skipped, 1 aborted\n"), "{md}");
    assert!(md.contains("| freeze: \\[x\\](http://evil) \\| y |"), "escaped: {md}");
    assert!(md.contains("run 04 — aborted: cut short, not measured"), "{md}");
    assert!(md.contains("## Playbook steps not exercised for more than 60 days\n\n- web: Post &lt;b&gt;now&lt;/b&gt; — never done in a run\n"), "{md}");
    // Without scheduled game days or stale steps, neither section.
    let plain = markdown(&runs, &[], &[], "60 days", "runs in x");
    assert!(!plain.contains("## Scheduled") && !plain.contains("## Playbook"), "{plain}");
}
