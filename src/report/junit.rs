//! `junit.xml`: a [`Report`] as one JUnit test suite, so CI shows a game day as tests:
//! `baseline`, `objective`, one `fault: <name>` per fault, one `probe: <name>` per probe
//! and `revert`. Test names are made of the scenario's, faults' and probes' names only,
//! never of the objective or a duration, so that CI keeps one history per test however
//! the objective is tuned; the numbers are in the messages.

use super::markdown::duration;
use super::model::{Effect, FaultReport, ProbeReport, Report};
use crate::engine::{ObjectiveKind, Outcome};

struct Case {
    name: String,
    time_ms: u64,
    verdict: Verdict,
    /// The case's `<system-out>`: measured times that are not a verdict.
    out: Option<String>,
}

enum Verdict {
    Pass,
    Fail { message: String, body: String },
    Skip(String),
}

pub fn render(r: &Report) -> String {
    let suite = format!("firedrill.{}", r.scenario.name);
    let mut cases = vec![baseline(r), recovery(r)];
    cases.extend(r.faults.iter().map(|f| fault(r, f)));
    cases.extend(r.probes.iter().map(|p| probe(r, p)));
    cases.extend(pages(r));
    cases.push(revert(r));
    let failures = cases.iter().filter(|c| matches!(c.verdict, Verdict::Fail { .. })).count();
    let skipped = cases.iter().filter(|c| matches!(c.verdict, Verdict::Skip(_))).count();

    let mut o = vec![
        r#"<?xml version="1.0" encoding="UTF-8"?>"#.to_string(),
        format!(
            r#"<testsuite name="{}" tests="{}" failures="{failures}" errors="0" skipped="{skipped}" time="{}">"#,
            xml(&suite),
            cases.len(),
            seconds(r.duration_ms)
        ),
        "  <properties>".into(),
        format!(r#"    <property name="run_id" value="{}"/>"#, xml(&r.run_id)),
        format!(r#"    <property name="outcome" value="{}"/>"#, r.outcome.as_str()),
        format!(r#"    <property name="started_at" value="{}"/>"#, xml(&r.started_at)),
    ];
    if let Some(p) = &r.pages {
        o.push(format!(r#"    <property name="pages" value="{}"/>"#, p.count));
    }
    o.push("  </properties>".into());
    for c in cases {
        let open =
            format!(r#"  <testcase name="{}" classname="{}" time="{}""#, xml(&c.name), xml(&suite), seconds(c.time_ms));
        let out = c.out.map(|t| format!("    <system-out>{}</system-out>", xml(&t)));
        match c.verdict {
            Verdict::Pass if out.is_none() => o.push(format!("{open}/>")),
            Verdict::Pass => {
                o.push(format!("{open}>"));
                o.extend(out);
                o.push("  </testcase>".into());
            }
            Verdict::Fail { message, body } => {
                o.push(format!("{open}>"));
                o.push(format!(
                    r#"    <failure message="{}" type="{}">{}</failure>"#,
                    xml(&message),
                    r.outcome.as_str(),
                    xml(&body)
                ));
                o.extend(out);
                o.push("  </testcase>".into());
            }
            Verdict::Skip(message) => {
                o.push(format!("{open}>"));
                o.push(format!(r#"    <skipped message="{}"/>"#, xml(&message)));
                o.extend(out);
                o.push("  </testcase>".into());
            }
        }
    }
    if !r.notes.is_empty() {
        let lines: Vec<String> = r.notes.iter().map(note).collect();
        o.push(format!("  <system-out>{}</system-out>", xml(&lines.join("\n"))));
    }
    o.push("</testsuite>".into());
    o.push(String::new());
    o.join("\n")
}

/// One observer note as a line of the suite's `<system-out>`.
fn note(n: &super::NoteReport) -> String {
    let after = if n.after_end { " (after the end)" } else { "" };
    // Lines of a multi-line note are indented under it.
    format!("note +{} {} {}{after}: {}", duration(n.t_ms), n.at, n.author, n.text.replace('\n', "\n    "))
}

/// `1234` → `1.234`.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn xml(s: &str) -> String {
    super::escape_markup(s, "&apos;")
}

fn baseline(r: &Report) -> Case {
    let verdict = if r.outcome == Outcome::Blocked {
        let failing = r.baseline.iter().filter(|s| !s.ok).map(|s| format!("{}: {}", s.probe, s.detail));
        Verdict::Fail {
            message: "the steady state did not hold before injection: nothing was injected".into(),
            body: failing.collect::<Vec<_>>().join("\n"),
        }
    } else if r.baseline.is_empty() {
        Verdict::Skip("the run was interrupted before the baseline completed".into())
    } else {
        Verdict::Pass
    };
    Case { name: "baseline".into(), time_ms: r.baseline.iter().map(|s| s.t_ms).max().unwrap_or(0), verdict, out: None }
}

fn recovery(r: &Report) -> Case {
    let objective = duration(r.objective_ms);
    let verdict = if r.outcome == Outcome::Blocked {
        Verdict::Skip("nothing was injected: the steady state did not hold before injection".into())
    } else if r.objective_met && r.outcome != Outcome::NoImpact {
        Verdict::Pass
    } else {
        let message = match (r.outcome, r.time_to_recover_ms) {
            (Outcome::NoImpact, _) if r.nothing_changed() => {
                "no fault changed anything (each found nothing to do): the objective was not tested".into()
            }
            (Outcome::Aborted, _) => format!("run aborted: {}", r.abort_reason.as_deref().unwrap_or("unknown reason")),
            (Outcome::RevertFailed, _) => "a revert failed: recovery could not be confirmed".into(),
            (_, _) if r.pages.as_ref().is_some_and(|p| p.exceeded) => {
                r.pages.as_ref().and_then(|p| p.reason.clone()).unwrap_or_default()
            }
            (Outcome::NoImpact, _) => {
                format!(
                    "no probe failed: the faults had no visible impact, so recovery (objective {objective}) was not tested"
                )
            }
            (Outcome::ObjectiveMissed, _) if r.objective == ObjectiveKind::Sustain && r.settled => {
                "a probe failed during the run: the sustain objective allows no impact".into()
            }
            (_, Some(t)) if t > r.objective_ms => {
                format!("recovered in {}, over the {objective} objective", duration(t))
            }
            (_, Some(_)) => {
                format!("the steady state did not hold for {} after the last revert", duration(r.stable_for_ms))
            }
            (_, None) => format!("never recovered (objective {objective})"),
        };
        Verdict::Fail { message, body: measured(r) }
    };
    Case { name: "objective".into(), time_ms: r.time_to_recover_ms.unwrap_or(0), verdict, out: None }
}

/// The measured numbers, one per line.
fn measured(r: &Report) -> String {
    let opt = |v: Option<u64>, none: &str| v.map_or(none.to_string(), duration);
    [
        format!("outcome: {}", r.outcome.as_str()),
        format!("time to detect: {}", opt(r.time_to_detect_ms, "not detected")),
        format!("time to recover: {}", opt(r.time_to_recover_ms, "never")),
        match r.objective {
            ObjectiveKind::Recover => {
                format!("objective: {} (then hold for {})", duration(r.objective_ms), duration(r.stable_for_ms))
            }
            ObjectiveKind::Sustain => {
                format!("objective: sustain, no probe may fail (then hold for {})", duration(r.stable_for_ms))
            }
        },
        format!("steady state after the last revert: {}", if r.settled { "held" } else { "not confirmed" }),
        format!("precision: ± {}", duration(r.precision_ms)),
    ]
    .join("\n")
}

/// `pages` (when watched): fails with the pages named when there were more than
/// `max_pages`; passes otherwise (the count is in `system-out`).
fn pages(r: &Report) -> Option<Case> {
    let p = r.pages.as_ref()?;
    let lines: Vec<String> =
        p.pages.iter().map(|g| format!("{} at +{}: {} ({})", g.alarm, duration(g.t_ms), g.reason, g.seen_by)).collect();
    let verdict = if r.outcome == Outcome::Blocked {
        Verdict::Skip("nothing was injected".into())
    } else if p.exceeded {
        Verdict::Fail { message: p.reason.clone().unwrap_or_default(), body: lines.join("\n") }
    } else {
        Verdict::Pass
    };
    let time_ms = p.pages.last().map_or(0, |g| g.t_ms);
    Some(Case { name: "pages".into(), time_ms, verdict, out: None })
}

fn probe(r: &Report, p: &ProbeReport) -> Case {
    let checks: Vec<_> = r.baseline.iter().chain(&r.samples).filter(|s| s.probe == p.name).collect();
    let verdict = match (p.final_ok, checks.last()) {
        (None, _) => Verdict::Skip("the probe never completed a check".into()),
        (Some(true), _) => Verdict::Pass,
        (Some(false), last) => {
            let detail = last.map_or("", |s| s.detail.as_str());
            let when = match (p.first_failure_ms, p.last_failure_ms) {
                (Some(a), Some(b)) if a == b => format!(" at +{}", duration(a)),
                (Some(a), Some(b)) => format!(" from +{} to +{}", duration(a), duration(b)),
                _ => String::new(),
            };
            Verdict::Fail {
                message: format!("failing at the end of the run: {detail}"),
                body: format!("{} of {} samples failed{when}", p.failures, p.samples),
            }
        }
    };
    Case { name: format!("probe: {}", p.name), time_ms: checks.iter().map(|s| s.latency_ms).sum(), verdict, out: None }
}

/// One fault: injected and reverted (skipped when it never started).
fn fault(r: &Report, f: &FaultReport) -> Case {
    let broken: Vec<String> = r
        .still_broken
        .iter()
        .filter(|b| b.fault == f.name)
        .map(|b| format!("step {}: {}\n  error: {}\n  fix: {}", b.step, b.description, b.error, b.fix))
        .collect();
    let verdict = match (&f.inject_started_at_ms, &f.inject_error, &f.revert_error) {
        (None, _, _) => Verdict::Skip(match r.outcome {
            Outcome::Blocked => "not injected: the run was blocked before injection".into(),
            _ => "not injected: the run ended before this fault started".into(),
        }),
        (_, _, Some(error)) => {
            Verdict::Fail { message: format!("revert failed: {error}: a human must act"), body: broken.join("\n") }
        }
        (_, Some(error), _) => Verdict::Fail {
            message: format!("failed to inject: {error}"),
            body: format!("{} step(s) journaled, every one reverted", f.steps),
        },
        _ if f.effect == Some(Effect::Skipped) => {
            Verdict::Skip("skipped (`if_no_effect: skip`): it found nothing to do".into())
        }
        _ if f.effect == Some(Effect::None) => Verdict::Fail {
            message: "no effect: the fault found nothing to do at injection".into(),
            body: f.plan.join("\n"),
        },
        _ => Verdict::Pass,
    };
    let end = f.reverted_at_ms.or(f.revert_started_at_ms).unwrap_or(r.duration_ms);
    let time_ms = f.inject_started_at_ms.map_or(0, |t| end.saturating_sub(t));
    Case { name: format!("fault: {}", f.name), time_ms, verdict, out: fault_times(f) }
}

/// A fault's own time to detect and to recover (docs/report.md, "Per-fault times").
fn fault_times(f: &FaultReport) -> Option<String> {
    f.injected_at_ms?;
    Some(match (f.time_to_detect_ms, f.time_to_recover_ms) {
        (None, _) => "no impact of its own: no failing sample belongs to this fault".into(),
        (Some(d), Some(t)) => format!("time to detect {}, time to recover {}", duration(d), duration(t)),
        (Some(d), None) => format!("time to detect {}, not recovered", duration(d)),
    })
}

fn revert(r: &Report) -> Case {
    let verdict = if r.faults.iter().all(|f| f.inject_started_at_ms.is_none()) {
        Verdict::Skip("nothing was injected".into())
    } else if r.still_broken.is_empty() {
        Verdict::Pass
    } else {
        let items = r
            .still_broken
            .iter()
            .map(|b| format!("{} step {}: {}\n  error: {}\n  fix: {}", b.fault, b.step, b.description, b.error, b.fix));
        Verdict::Fail {
            message: format!("{} side effect(s) still in place: a human must act", r.still_broken.len()),
            body: items.collect::<Vec<_>>().join("\n"),
        }
    };
    Case {
        name: "revert".into(),
        time_ms: r.faults.iter().filter_map(|f| Some(f.reverted_at_ms?.saturating_sub(f.revert_started_at_ms?))).sum(),
        verdict,
        out: None,
    }
}
