//! `report.html`: a [`Report`] as one self-contained page for the people in the game-day
//! room: the verdict, an SVG timeline of every probe check, fault and measured moment, and
//! the tables behind them. Everything is inline (CSS, the SVG, one tiny script) and a
//! Content-Security-Policy forbids loading anything else, so the file opens offline, from
//! an artifact store or an email attachment, exactly as it was written.
//!
//! Every string from the run (scenario text, probe details, commands, names) goes through
//! [`esc`]; the only unescaped text is this file's own markup.

use std::fmt::Write as _;

use super::markdown::duration;
use super::model::{Effect, FaultReport, Report, SampleReport};
use crate::engine::{ObjectiveKind, Outcome};

/// `report.html` for `r`.
pub fn render(r: &Report) -> String {
    let mut o = String::with_capacity(32 * 1024 + 400 * (r.baseline.len() + r.samples.len()));
    let title = format!("{} — {} — firedrill", verdict(r.outcome).0, r.scenario.name);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"generator\" content=\"firedrill {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body class=\"outcome-{}\">\n<main>\n",
        esc(&r.firedrill_version),
        esc(&title),
        r.outcome.as_str()
    );
    header(&mut o, r);
    o.push_str("<section id=\"timeline-section\">\n<h2>Timeline</h2>\n");
    o.push_str(&timeline_svg(r));
    legend(&mut o);
    o.push_str("<p id=\"readout\" aria-live=\"polite\"></p>\n</section>\n");
    pages(&mut o, r);
    playbook_steps(&mut o, r);
    observer_notes(&mut o, r);
    faults(&mut o, r);
    targets(&mut o, r);
    probes(&mut o, r);
    checks(&mut o, r);
    let _ = write!(
        o,
        "<footer>Rendered from <code>report.json</code> (report_version {}) by firedrill {}. \
         This page is self-contained and needs no network.</footer>\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        r.report_version,
        esc(&r.firedrill_version)
    );
    o
}

/// Text made safe for HTML element content and quoted attribute values (see
/// [`super::escape_markup`], shared with the JUnit XML).
pub fn esc(s: &str) -> String {
    super::escape_markup(s, "&#39;")
}

/// The page's only script: shows the details of the timeline mark under the pointer (or
/// finger) below the chart, faster than a tooltip, then marks the page as loaded (the
/// browser test checks `data-loaded="ok"`, which any script error would prevent).
///
/// [`CSP`] allows exactly this text by its hash: after changing it, update the hash with
/// `printf %s "<the script>" | openssl dgst -sha256 -binary | base64` (Chromium also prints
/// the expected hash when it refuses the script; the browser test in `tests/it/html.rs`
/// fails until they match).
const SCRIPT: &str = r#"(function () {
  var out = document.getElementById("readout");
  var svg = document.getElementById("timeline");
  if (out && svg) {
    out.textContent = "Point at a mark in the timeline for its details.";
    svg.addEventListener("mouseover", function (e) {
      var m = e.target.closest(".sample, .fault-span, .marker");
      var t = m && m.querySelector("title");
      if (t) out.textContent = t.textContent;
    });
  }
  document.body.dataset.loaded = "ok";
})();"#;

/// Nothing but the inline style and [`SCRIPT`] may load or run: no network, no other script.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
                   script-src 'sha256-fQyzvBDq6M7I4viEqayfnH1CQfHK6RtzPI/y7MDgJSk='; \
                   base-uri 'none'; form-action 'none'";

const STYLE: &str = r#"
:root { color-scheme: light; --ink: #1d2329; --muted: #5b6570; --line: #d5dae0; --bg: #ffffff; --soft: #f4f6f8;
  --pass: #1e8449; --fail: #c0392b; --warn: #b9770e; --fault: #7d3c98; --detect: #d35400; --recover: #1e8449; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 26px; margin: 0 0 6px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
code, pre { font-family: "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 3px 12px; border-radius: 6px; font-size: 17px; letter-spacing: .04em; color: #fff; background: var(--muted); }
.outcome-passed .badge { background: var(--pass); }
.outcome-objective_missed .badge, .outcome-revert_failed .badge { background: var(--fail); }
.outcome-aborted .badge { background: var(--warn); }
.summary { font-size: 17px; margin: 6px 0; }
.facts { color: var(--muted); font-size: 13px; margin: 4px 0 0; }
.facts span + span::before { content: " · "; }
.abort { border-left: 4px solid var(--warn); background: #fdf2e0; padding: 6px 10px; margin: 10px 0 0; }
.measures { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 10px; margin: 16px 0 0; }
.measures div { background: var(--soft); border-radius: 8px; padding: 10px 12px; }
.measures dt { color: var(--muted); font-size: 13px; }
.measures dd { margin: 2px 0 0; font-size: 22px; font-weight: 600; }
.measures dd small { display: block; font-size: 13px; font-weight: 400; color: var(--muted); }
.measures .missed dd { color: var(--fail); }
.measures .met dd { color: var(--pass); }
.measures .words dd { font-size: 17px; }
#still-broken { border: 3px solid var(--fail); background: #fdecea; border-radius: 8px; padding: 4px 16px 14px; margin: 18px 0 0; }
#still-broken h2 { color: var(--fail); border: 0; text-transform: uppercase; }
#still-broken table { background: #fff; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); overflow-wrap: break-word; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: var(--fail); font-weight: 600; }
.good { color: var(--pass); }
.muted { color: var(--muted); }
#timeline { width: 100%; height: auto; display: block; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
#timeline text { font: 12px system-ui, "DejaVu Sans", sans-serif; fill: var(--ink); }
#timeline .lane-label { font-weight: 600; }
#timeline .fault-label { font-weight: 600; fill: var(--fault); }
#timeline .lane-line { stroke: var(--line); }
#timeline .tick { stroke: #eef0f3; }
#timeline .axis-line { stroke: var(--muted); }
#timeline .axis text { fill: var(--muted); font-size: 11px; }
.sample.pass { fill: var(--pass); }
.sample.fail { stroke: var(--fail); stroke-width: 2.6; fill: none; }
.sample.baseline { opacity: .6; }
.fault-span { fill: #e8daef; stroke: var(--fault); stroke-width: 1.2; }
.fault-span.broken { fill: url(#hatch); stroke: var(--fail); stroke-width: 2; }
.fault-band { fill: #7d3c98; opacity: .06; }
#timeline .fault-note { fill: var(--fail); font-weight: 700; stroke: #fff; stroke-width: 4px; paint-order: stroke; }
#timeline .fault-note.muted { fill: var(--muted); font-weight: 400; }
.marker line { stroke-width: 2; }
.marker.detect line { stroke: var(--detect); }
.marker.recover line { stroke: var(--recover); }
.marker.abort line { stroke: var(--fail); stroke-width: 3; }
.marker.objective line { stroke: var(--ink); stroke-dasharray: 6 4; stroke-width: 1.5; }
.marker.step line { stroke: #6a4c93; stroke-dasharray: 2 3; }
.marker.note line { stroke: #888; stroke-dasharray: 1 4; }
#timeline .marker.detect text { fill: var(--detect); }
#timeline .marker.recover text { fill: var(--recover); }
#timeline .marker.abort text { fill: var(--fail); font-weight: 700; }
.legend { list-style: none; padding: 0; margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 13px; color: var(--muted); }
.legend li { display: flex; align-items: center; gap: 6px; }
.legend svg { width: 28px; height: 16px; }
#readout { min-height: 1.5em; font-size: 13px; color: var(--muted); margin: 6px 0 0; }
details summary { cursor: pointer; color: var(--muted); }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"#;

/// The badge text and a sentence for an outcome; the words carry it without colour.
fn verdict(o: Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Passed => ("PASSED", "Recovered within the objective; every fault was reverted."),
        Outcome::ObjectiveMissed => {
            ("OBJECTIVE MISSED", "Every fault was reverted, but recovery missed the objective.")
        }
        Outcome::NoImpact => (
            "NO IMPACT",
            "Every fault was reverted, but no probe ever failed: the faults had no visible impact, so recovery was not tested.",
        ),
        Outcome::Aborted => ("ABORTED", "The run was stopped early; every fault was reverted."),
        Outcome::Blocked => (
            "BLOCKED",
            "Nothing was injected: the steady state did not hold before injection, or a stop-condition alarm was in ALARM or unreadable.",
        ),
        Outcome::RevertFailed => ("REVERT FAILED", "A side effect could not be undone: a human must act now."),
    }
}

/// An offset from the start of the run: `+1.2s`.
fn at(ms: u64) -> String {
    format!("+{}", duration(ms))
}

fn at_or_dash(ms: Option<u64>) -> String {
    ms.map_or_else(|| "—".to_string(), at)
}

fn header(o: &mut String, r: &Report) {
    let (badge, sentence) = verdict(r.outcome);
    let _ = write!(
        o,
        "<header>\n<h1><span class=\"badge\">{badge}</span> <span class=\"scenario\">{}</span></h1>\n\
         <p class=\"summary\">{sentence}</p>\n",
        esc(&r.scenario.name)
    );
    // What a human must fix comes before anything else.
    still_broken(o, r);
    if let Some(d) = &r.scenario.description {
        let _ = writeln!(o, "<p class=\"description\">{}</p>", esc(d));
    }
    let s = &r.scenario;
    let mut facts = vec![
        format!("run <code>{}</code>", esc(&r.run_id)),
        format!("started {}", esc(&r.started_at)),
        format!("took {}", duration(r.duration_ms)),
        format!("scenario <code>{}</code>", esc(&s.file)),
    ];
    if let Some(owner) = &s.owner {
        facts.push(format!("owner {}", esc(owner)));
    }
    if let Some(p) = &s.playbook {
        facts.push(format!("playbook <code>{}</code>", esc(p)));
    }
    o.push_str("<p class=\"facts\">");
    for f in facts {
        let _ = write!(o, "<span>{f}</span>");
    }
    o.push_str("</p>\n");
    if let Some(reason) = &r.abort_reason {
        let _ = writeln!(o, "<p class=\"abort\"><strong>Abort reason:</strong> {}</p>", esc(reason));
    }
    measures(o, r);
    o.push_str("</header>\n");
}

/// The verdict in numbers: objective vs measured time to recover, time to detect,
/// precision, and how the recovery came.
fn measures(o: &mut String, r: &Report) {
    let injected = r.t_inject_ms.is_some();
    let no_impact = r.time_to_detect_ms.is_none() && r.time_to_recover_ms == Some(0);
    let (recover, recover_note, recover_class) = match r.time_to_recover_ms {
        _ if !injected => ("—".to_string(), "nothing was injected".to_string(), ""),
        Some(_) if no_impact && r.outcome == Outcome::NoImpact => {
            ("0ms".into(), "no visible impact: recovery was not tested".into(), "missed")
        }
        Some(_) if no_impact => ("0ms".into(), "no visible impact".into(), "met"),
        Some(t) if r.objective == ObjectiveKind::Sustain => {
            (duration(t), "a probe failed: sustain allows no impact".into(), "missed")
        }
        Some(t) if t <= r.objective_ms => {
            (duration(t), format!("within the {} objective", duration(r.objective_ms)), "met")
        }
        Some(t) => (duration(t), format!("over the objective by {}", duration(t - r.objective_ms)), "missed"),
        None => ("never".into(), "recovery was not observed".into(), "missed"),
    };
    let (detect, detect_note) = match r.time_to_detect_ms {
        _ if !injected => ("—".to_string(), ""),
        Some(t) => (duration(t), "first failing check after the injection"),
        None => ("not detected".into(), "no probe failed"),
    };
    let (met, met_class) = match (injected, r.objective_met, r.outcome) {
        (false, _, _) => ("not measured", ""),
        (true, true, _) => ("met", "met"),
        (true, false, Outcome::NoImpact) => ("not tested: no probe failed", "missed"),
        (true, false, _) => ("not met", "missed"),
    };
    let (goal, goal_note) = match r.objective {
        ObjectiveKind::Recover => (format!("≤ {}", duration(r.objective_ms)), "then hold"),
        ObjectiveKind::Sustain => ("sustain".to_string(), "no probe may fail, then hold"),
    };
    let recovered = match r.recovered_during_fault {
        Some(true) => "during the fault",
        Some(false) => "after the revert",
        None if !injected => "—",
        None if no_impact => "no visible impact",
        None => "never",
    };
    let settled = match r.outcome {
        _ if r.settled => format!("held for {}", duration(r.stable_for_ms)),
        Outcome::Blocked => "—".into(),
        Outcome::Aborted => "not checked (aborted)".into(),
        Outcome::RevertFailed => "not checked (revert failed)".into(),
        Outcome::Passed | Outcome::ObjectiveMissed | Outcome::NoImpact => "did not hold in time".into(),
    };
    let mut cards = vec![
        ("time-to-recover", "Time to recover", recover, recover_note, recover_class),
        ("objective", "Objective", goal, format!("{goal_note} for {} — {met}", duration(r.stable_for_ms)), met_class),
        ("time-to-detect", "Time to detect", detect, detect_note.to_string(), ""),
        ("precision", "Precision", format!("± {}", duration(r.precision_ms)), "longest probe interval".into(), ""),
        ("recovered", "Recovered", recovered.to_string(), String::new(), "words"),
        ("settled", "Steady state after the revert", settled, String::new(), "words"),
    ];
    if let Some(p) = &r.pages {
        let (note, class) = match p.max_pages {
            Some(m) if p.exceeded => (format!("more than max_pages {m}"), "missed"),
            Some(m) => (format!("within max_pages {m}"), "met"),
            None => ("reported only (no max_pages)".to_string(), ""),
        };
        cards.push(("pages", "Pages", p.count.to_string(), note, class));
    }
    o.push_str("<dl class=\"measures\">\n");
    for (id, label, value, note, class) in cards {
        let note = if note.is_empty() { String::new() } else { format!("<small>{}</small>", esc(&note)) };
        let _ =
            writeln!(o, "<div id=\"m-{id}\" class=\"{class}\"><dt>{label}</dt><dd>{}{note}</dd></div>", esc(&value));
    }
    o.push_str("</dl>\n");
}

fn still_broken(o: &mut String, r: &Report) {
    if r.still_broken.is_empty() {
        return;
    }
    let _ = write!(
        o,
        "<section id=\"still-broken\" role=\"alert\">\n<h2>Still broken: a human must act now</h2>\n\
         <p>These side effects could not be undone and are <strong>still in place</strong>. Retry with \
         <code>firedrill recover {}</code>, or fix each by hand:</p>\n<table>\n\
         <thead><tr><th>Fault</th><th>Step</th><th>What</th><th>Error</th><th>Fix</th></tr></thead>\n<tbody>\n",
        esc(&crate::util::console::quote(&r.run_id))
    );
    for b in &r.still_broken {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"num\">{}</td><td>{} <span class=\"muted\">({})</span></td><td>{}</td>\
             <td><pre class=\"fix\">{}</pre></td></tr>",
            esc(&b.fault),
            b.step,
            esc(&b.description),
            esc(&b.kind),
            esc(&b.error),
            esc(&b.fix)
        );
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

// ---------------------------------------------------------------------------------------
// The timeline.

/// The SVG's coordinate system: `viewBox="0 0 WIDTH height"`, scaled to the page width.
const WIDTH: f64 = 1200.0;
/// Left of the plot: lane and fault labels.
const LEFT: f64 = 170.0;
const RIGHT: f64 = 30.0;
const PLOT: f64 = WIDTH - LEFT - RIGHT;
const LABEL_ROW: f64 = 16.0;
const FAULT_ROW: f64 = 24.0;
const LANE: f64 = 32.0;
/// Characters of a lane label before it is cut (the full name is in its `<title>`).
const LABEL_CHARS: usize = 22;

/// A moment drawn as a vertical line across the timeline, labelled at the top.
struct Marker {
    at_ms: u64,
    /// Also the CSS class after `marker`: `detect`, `recover`, `abort`, `objective`.
    class: &'static str,
    label: String,
    /// The full story, for the tooltip and the readout.
    title: String,
}

/// Every marker of `r`: labelled with the measured span (what the verdict cards show),
/// the offset since the start of the run in the title. A new kind of marker is one more
/// `push` here and a CSS rule.
fn markers(r: &Report) -> Vec<Marker> {
    let mut m = Vec::new();
    let mut push = |at_ms: u64, class, label: String, title: String| {
        m.push(Marker { at_ms, class, label, title: format!("{title} (at {})", at(at_ms)) });
    };
    if let Some(t0) = r.t_inject_ms {
        let stable = duration(r.stable_for_ms);
        let impact = r.time_to_detect_ms.is_some();
        if let Some(ms) = r.time_to_detect_ms {
            let d = duration(ms);
            push(
                t0.saturating_add(ms),
                "detect",
                format!("detected after {d}"),
                format!("detected, {d} after the injection"),
            );
        }
        if let Some(t) = r.time_to_recover_ms.filter(|_| impact) {
            let title = format!("recovered, {} after the injection (every probe passing for {stable})", duration(t));
            push(t0.saturating_add(t), "recover", format!("recovered after {}", duration(t)), title);
        }
        if let (Some(t), false) = (r.time_to_recover_ms, impact) {
            push(
                t0.saturating_add(t),
                "recover",
                "no visible impact".into(),
                "no probe failed after the injection".into(),
            );
        }
        // A `sustain` objective has no moment: no probe may fail at any time.
        if r.objective == ObjectiveKind::Recover {
            let objective = duration(r.objective_ms);
            let title = format!("objective: recover within {objective} of the injection");
            push(t0.saturating_add(r.objective_ms), "objective", format!("objective {objective}"), title);
        }
    }
    if r.outcome == Outcome::Aborted {
        let reason = r.abort_reason.as_deref().unwrap_or("no reason recorded");
        push(r.duration_ms, "abort", "aborted".into(), format!("aborted: {reason}"));
    }
    for st in r.steps.iter().filter(|s| s.status == "done") {
        if let Some(t) = st.done_ms {
            push(t, "step", format!("step {}", st.name), format!("{} ({}): {}", st.name, st.who, st.what));
        }
    }
    for n in r.notes.iter().filter(|n| n.t_ms <= r.duration_ms) {
        push(n.t_ms, "note", format!("note by {}", n.author), format!("{}: {}", n.author, n.text));
    }
    m
}

/// Where a fault's span ends, and whether it is still broken (never reverted).
fn fault_span(f: &FaultReport, end_ms: u64) -> Option<(u64, u64, bool)> {
    let start = f.inject_started_at_ms.or(f.injected_at_ms)?;
    let broken = f.reverted_at_ms.is_none() && (f.revert_error.is_some() || f.steps > 0);
    let end = match f.reverted_at_ms {
        Some(t) => t,
        None if broken => end_ms,
        None => f.revert_started_at_ms.or(f.injected_at_ms).unwrap_or(start),
    };
    Some((start, end.max(start), broken))
}

/// The probe lanes in scenario order; a sample of a probe the report does not list (never
/// written by firedrill, but the file may be edited) gets a lane of its own.
fn lanes(r: &Report) -> Vec<(&str, Vec<(&SampleReport, bool)>)> {
    let mut lanes: Vec<(&str, Vec<(&SampleReport, bool)>)> =
        r.probes.iter().map(|p| (p.name.as_str(), Vec::new())).collect();
    let all = r.baseline.iter().map(|s| (s, true)).chain(r.samples.iter().map(|s| (s, false)));
    for (s, baseline) in all {
        match lanes.iter_mut().find(|(name, _)| *name == s.probe) {
            Some((_, list)) => list.push((s, baseline)),
            None => lanes.push((s.probe.as_str(), vec![(s, baseline)])),
        }
    }
    lanes
}

/// A coordinate with one decimal.
fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// Text cut to `n` characters, with an ellipsis when cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

/// The axis step: the smallest of these giving at most 10 ticks.
fn tick_step(span_ms: u64) -> u64 {
    const STEPS: [u64; 20] = [
        10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000,
        900_000, 1_800_000, 3_600_000, 7_200_000,
    ];
    STEPS.into_iter().find(|s| span_ms / s <= 10).unwrap_or(span_ms.div_ceil(10).max(1))
}

/// The inline SVG timeline (`<svg id="timeline" …>…</svg>`): x is the time since the start
/// of the run; one row per fault with its span, one lane per probe with a mark per check
/// (a filled circle when it passed, a cross when it failed), and a vertical line per
/// [`Marker`].
pub fn timeline_svg(r: &Report) -> String {
    let markers = markers(r);
    let lanes = lanes(r);
    let spans: Vec<Option<(u64, u64, bool)>> = r.faults.iter().map(|f| fault_span(f, r.duration_ms)).collect();
    let span_ms = [r.duration_ms]
        .into_iter()
        .chain(markers.iter().map(|m| m.at_ms))
        .chain(spans.iter().flatten().map(|s| s.1))
        .chain(r.baseline.iter().chain(&r.samples).map(|s| s.t_ms))
        .max()
        .unwrap_or(0)
        .max(1);
    let x = |t: u64| LEFT + t as f64 * PLOT / span_ms as f64;

    // Marker labels go in rows at the top, a label per row slot so none overlap.
    let mut row_ends: Vec<f64> = Vec::new();
    let mut placed = Vec::new();
    let mut sorted: Vec<&Marker> = markers.iter().collect();
    sorted.sort_by_key(|m| m.at_ms);
    for m in sorted {
        let width = m.label.chars().count() as f64 * 6.6 + 8.0;
        let mx = x(m.at_ms);
        // Right-aligned to the line when it would run off the plot.
        let (start, anchor) = if mx + width > WIDTH - 4.0 { (mx - width, "end") } else { (mx, "start") };
        let row = match row_ends.iter().position(|end| *end < start) {
            Some(i) => i,
            None => {
                row_ends.push(0.0);
                row_ends.len() - 1
            }
        };
        row_ends[row] = start + width;
        placed.push((m, row, anchor));
    }
    let top = 8.0 + row_ends.len().max(1) as f64 * LABEL_ROW + 6.0;
    let faults_top = top;
    let lanes_top = faults_top + r.faults.len() as f64 * FAULT_ROW + 6.0;
    let bottom = lanes_top + lanes.len() as f64 * LANE;
    let height = bottom + 34.0;

    let samples = r.baseline.len() + r.samples.len();
    let failing = r.baseline.iter().chain(&r.samples).filter(|s| !s.ok).count();
    let mut summary = format!(
        "Timeline of the run, {} long: {} probe lane(s) with {samples} check(s), {failing} failing; {} fault(s)",
        duration(r.duration_ms),
        lanes.len(),
        r.faults.len()
    );
    for m in &markers {
        let _ = write!(summary, "; {}", m.label);
    }
    summary.push('.');

    let mut o = String::new();
    let _ = write!(
        o,
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {}\" \
         role=\"img\" aria-label=\"{}\" data-span-ms=\"{span_ms}\">\n<title>{}</title>\n",
        px(height),
        esc(&summary),
        esc(&summary)
    );
    o.push_str(
        "<defs>\n<circle id=\"mark-pass\" r=\"4.5\"/>\n<path id=\"mark-fail\" d=\"M-5,-5L5,5M-5,5L5,-5\"/>\n\
         <pattern id=\"hatch\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"8\" height=\"8\" fill=\"#fdecea\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#c0392b\" \
         stroke-width=\"3\"/></pattern>\n</defs>\n",
    );

    // The axis, with a light grid line per tick.
    let step = tick_step(span_ms);
    o.push_str("<g class=\"axis\">\n");
    for t in (0..=span_ms).step_by(usize::try_from(step).unwrap_or(usize::MAX)) {
        let tx = px(x(t));
        let label = if t == 0 { "0".to_string() } else { at(t) };
        let _ = writeln!(
            o,
            "<line class=\"tick\" x1=\"{tx}\" x2=\"{tx}\" y1=\"{}\" y2=\"{}\"/><text x=\"{tx}\" y=\"{}\" \
             text-anchor=\"middle\">{label}</text>",
            px(top - 4.0),
            px(bottom),
            px(bottom + 18.0)
        );
    }
    let _ = writeln!(
        o,
        "<line class=\"axis-line\" x1=\"{}\" x2=\"{}\" y1=\"{b}\" y2=\"{b}\"/>\n<text x=\"{}\" y=\"{}\" \
         text-anchor=\"end\">since the start</text>\n</g>",
        px(LEFT),
        px(LEFT + PLOT),
        px(LEFT - 10.0),
        px(bottom + 18.0),
        b = px(bottom)
    );

    // Each fault's span, shaded faintly across the probe lanes too.
    for (i, (f, span)) in r.faults.iter().zip(&spans).enumerate() {
        let y = faults_top + i as f64 * FAULT_ROW;
        let _ = write!(
            o,
            "<g class=\"fault\" data-fault=\"{}\">\n<text class=\"fault-label\" x=\"{}\" y=\"{}\" \
             text-anchor=\"end\"><title>fault {}</title>{}</text>\n",
            esc(&f.name),
            px(LEFT - 10.0),
            px(y + 16.0),
            esc(&f.name),
            esc(&cut(&f.name, LABEL_CHARS))
        );
        match *span {
            Some((start, end, broken)) => {
                let (x0, x1) = (x(start), x(end));
                let w = (x1 - x0).max(2.0);
                let class = if broken { "fault-span broken" } else { "fault-span" };
                let _ = writeln!(
                    o,
                    "<rect class=\"fault-band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
                    px(x0),
                    px(lanes_top),
                    px(w),
                    px(bottom - lanes_top)
                );
                let _ = writeln!(
                    o,
                    "<rect class=\"{class}\" data-start-ms=\"{start}\" data-end-ms=\"{end}\" x=\"{}\" y=\"{}\" \
                     width=\"{}\" height=\"16\" rx=\"3\"><title>{}</title></rect>",
                    px(x0),
                    px(y + 4.0),
                    px(w),
                    esc(&fault_title(f, broken))
                );
                if broken {
                    let _ = writeln!(
                        o,
                        "<text class=\"fault-note\" x=\"{}\" y=\"{}\" text-anchor=\"end\">NOT REVERTED</text>",
                        px(x1 - 6.0),
                        px(y + 16.0)
                    );
                }
            }
            None => {
                let _ = writeln!(
                    o,
                    "<text class=\"fault-note muted\" x=\"{}\" y=\"{}\">not injected</text>",
                    px(LEFT + 6.0),
                    px(y + 16.0)
                );
            }
        }
        o.push_str("</g>\n");
    }

    // Marker lines go under the sample marks; their labels sit in the rows at the top.
    for (m, row, anchor) in &placed {
        let mx = px(x(m.at_ms));
        let tx = if *anchor == "end" { px(x(m.at_ms) - 4.0) } else { px(x(m.at_ms) + 4.0) };
        let _ = writeln!(
            o,
            "<g class=\"marker {}\" data-ms=\"{}\"><title>{}</title><line x1=\"{mx}\" x2=\"{mx}\" y1=\"{}\" \
             y2=\"{}\"/><text x=\"{tx}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text></g>",
            m.class,
            m.at_ms,
            esc(&m.title),
            px(8.0 + *row as f64 * LABEL_ROW + 2.0),
            px(bottom),
            px(8.0 + *row as f64 * LABEL_ROW + 12.0),
            esc(&m.label)
        );
    }

    for (i, (name, checks)) in lanes.iter().enumerate() {
        let cy = px(lanes_top + i as f64 * LANE + LANE / 2.0);
        let _ = write!(
            o,
            "<g class=\"lane\" data-probe=\"{}\">\n<text class=\"lane-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">\
             <title>probe {}</title>{}</text>\n<line class=\"lane-line\" x1=\"{}\" x2=\"{}\" y1=\"{cy}\" y2=\"{cy}\"/>\n",
            esc(name),
            px(LEFT - 10.0),
            px(lanes_top + i as f64 * LANE + LANE / 2.0 + 4.0),
            esc(name),
            esc(&cut(name, LABEL_CHARS)),
            px(LEFT),
            px(LEFT + PLOT)
        );
        for (s, baseline) in checks {
            let (class, mark, result) = if s.ok { ("pass", "pass", "passed") } else { ("fail", "fail", "FAILED") };
            let class = if *baseline { format!("{class} baseline") } else { class.to_string() };
            let mut title = format!(
                "{} {}{}: {result} in {} — {}",
                s.probe,
                at(s.t_ms),
                if *baseline { " (baseline)" } else { "" },
                duration(s.latency_ms),
                s.detail
            );
            if let Some(f) = &s.fault {
                let _ = write!(title, " (fault {f})");
            }
            let _ = writeln!(
                o,
                "<use class=\"sample {class}\" href=\"#mark-{mark}\" data-ms=\"{}\" x=\"{}\" y=\"{cy}\">\
                 <title>{}</title></use>",
                s.t_ms,
                px(x(s.t_ms)),
                esc(&title)
            );
        }
        o.push_str("</g>\n");
    }
    o.push_str("</svg>\n");
    o
}

fn fault_title(f: &FaultReport, broken: bool) -> String {
    let mut t = format!("fault {} ({})", f.name, f.kind);
    if let Some(s) = f.inject_started_at_ms {
        let _ = write!(t, ": inject started {}", at(s));
    }
    if let Some(c) = f.injected_at_ms {
        let _ = write!(t, ", confirmed {}", at(c));
    }
    if let Some(e) = &f.inject_error {
        let _ = write!(t, ", injection failed: {e}");
    }
    if let Some(s) = f.revert_started_at_ms {
        let _ = write!(t, "; revert started {}", at(s));
    }
    if let Some(d) = f.reverted_at_ms {
        let _ = write!(t, ", reverted {}", at(d));
    }
    if let Some(e) = &f.revert_error {
        let _ = write!(t, "; REVERT FAILED: {e}");
    }
    if broken {
        t.push_str("; still broken at the end of the run");
    }
    t
}

/// What each shape and line means, with the very marks the timeline uses.
fn legend(o: &mut String) {
    let items = [
        ("<use class=\"sample pass\" href=\"#mark-pass\" x=\"14\" y=\"8\"/>", "check passed (circle)"),
        ("<use class=\"sample fail\" href=\"#mark-fail\" x=\"14\" y=\"8\"/>", "check failed (cross)"),
        ("<rect class=\"fault-span\" x=\"1\" y=\"2\" width=\"26\" height=\"12\" rx=\"3\"/>", "fault in place"),
        (
            "<rect class=\"fault-span broken\" x=\"1\" y=\"2\" width=\"26\" height=\"12\" rx=\"3\"/>",
            "fault never reverted (hatched)",
        ),
        ("<g class=\"marker detect\"><line x1=\"14\" x2=\"14\" y1=\"0\" y2=\"16\"/></g>", "detected"),
        ("<g class=\"marker recover\"><line x1=\"14\" x2=\"14\" y1=\"0\" y2=\"16\"/></g>", "recovered"),
        ("<g class=\"marker objective\"><line x1=\"14\" x2=\"14\" y1=\"0\" y2=\"16\"/></g>", "objective (dashed)"),
        ("<g class=\"marker abort\"><line x1=\"14\" x2=\"14\" y1=\"0\" y2=\"16\"/></g>", "aborted"),
    ];
    o.push_str("<ul class=\"legend\" id=\"legend\">\n");
    for (swatch, text) in items {
        let _ = writeln!(o, "<li><svg viewBox=\"0 0 28 16\" aria-hidden=\"true\">{swatch}</svg>{text}</li>");
    }
    o.push_str("</ul>\n");
}

// ---------------------------------------------------------------------------------------
// Tables.

/// One line of a list: when, who, what.
pub(crate) struct Entry<'a> {
    pub at_ms: Option<u64>,
    pub who: Option<&'a str>,
    pub text: &'a str,
}

/// A section with a table of entries; nothing at all when there are none.
pub(crate) fn entries(o: &mut String, id: &str, title: &str, entries: &[Entry]) {
    if entries.is_empty() {
        return;
    }
    let _ = write!(
        o,
        "<section id=\"{}\">\n<h2>{}</h2>\n<table>\n<thead><tr><th>At</th><th>Who</th><th>What</th></tr></thead>\n<tbody>\n",
        esc(id),
        esc(title)
    );
    for e in entries {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            at_or_dash(e.at_ms),
            esc(e.who.unwrap_or("—")),
            esc(e.text)
        );
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

/// The playbook's steps as the game day went through them: planned (due) vs actual time.
fn playbook_steps(o: &mut String, r: &Report) {
    if r.steps.is_empty() {
        return;
    }
    o.push_str("<section id=\"playbook-steps\">\n<h2>Playbook steps</h2>\n");
    if let Some(c) = &r.communication {
        let took =
            c.detect_to_last_ms.map(|d| format!("; the last one {} after detection", duration(d))).unwrap_or_default();
        let _ = writeln!(o, "<p>Communication: {} of {} steps done{}.</p>", c.done, c.planned, esc(&took));
    }
    o.push_str("<table>\n<thead><tr><th>Step</th><th>Who</th><th>When</th><th>Due</th><th>Done</th><th>Status</th></tr></thead>\n<tbody>\n");
    for st in &r.steps {
        let status = match &st.detail {
            Some(d) => format!("{} ({d})", st.status),
            None => st.status.clone(),
        };
        let _ = writeln!(
            o,
            "<tr class=\"step {}\"><td>{} <small>({})</small><br>{}</td><td>{}</td><td>{} + {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&st.status),
            esc(&st.name),
            esc(&st.kind),
            esc(&st.what),
            esc(&st.who),
            esc(&st.on),
            duration(st.after_ms),
            at_or_dash(st.due_ms),
            at_or_dash(st.done_ms),
            esc(&status)
        );
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

/// What the people watching the game day noted.
fn observer_notes(o: &mut String, r: &Report) {
    let list: Vec<Entry> = r
        .notes
        .iter()
        .map(|n| Entry { at_ms: Some(n.t_ms), who: Some(n.author.as_str()), text: n.text.as_str() })
        .collect();
    entries(o, "observer-notes", "Observer notes", &list);
}

/// The pager watch: each page, the alarms already alarming, failed reads and the history
/// check (omitted when pages were not watched).
fn pages(o: &mut String, r: &Report) {
    let Some(p) = &r.pages else { return };
    let _ = writeln!(
        o,
        "<section id=\"pages\">\n<h2>Pages</h2>\n<p>pages: {} · {} alarm(s) that page watched every {}, from before \
         the first injection to the verdict</p>",
        p.count,
        p.watched.len(),
        duration(p.every_ms)
    );
    if let Some(reason) = &p.reason {
        let _ = writeln!(o, "<p class=\"bad\"><strong>Objective missed:</strong> {}</p>", esc(reason));
    }
    if !p.pages.is_empty() {
        o.push_str(
            "<table>\n<thead><tr><th>When</th><th>Alarm</th><th>Reason</th><th>Seen by</th></tr></thead>\n<tbody>\n",
        );
        for g in &p.pages {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                at(g.t_ms),
                esc(&g.alarm),
                esc(&g.reason),
                esc(&g.seen_by)
            );
        }
        o.push_str("</tbody>\n</table>\n");
    }
    o.push_str("<ul>\n");
    if !p.already_alarming.is_empty() {
        let names: Vec<String> = p.already_alarming.iter().map(|a| format!("<code>{}</code>", esc(a))).collect();
        let _ = writeln!(o, "<li>already alarming before the first injection (not pages): {}</li>", names.join(", "));
    }
    for u in &p.unreadable {
        let which = u
            .alarm
            .as_deref()
            .map_or_else(|| "every watched alarm".to_string(), |a| format!("<code>{}</code>", esc(a)));
        let _ = writeln!(
            o,
            "<li class=\"bad\">could not read {which} ({} time(s), first at {}): {}</li>",
            u.times,
            at(u.first_ms),
            esc(&u.error)
        );
    }
    let history = match (&p.history.error, p.history.available) {
        (_, true) => format!("alarm history checked: {} page(s) the reads missed", p.history.added),
        (Some(e), false) => format!("history not available: {}", esc(e)),
        (None, false) => "history not available".into(),
    };
    let _ = writeln!(o, "<li>{history}</li>\n</ul>\n</section>");
}

fn faults(o: &mut String, r: &Report) {
    o.push_str("<section id=\"faults\">\n<h2>Faults and reverts</h2>\n");
    if r.faults.is_empty() {
        o.push_str("<p>No faults.</p>\n</section>\n");
        return;
    }
    o.push_str(
        "<table>\n<thead><tr><th>Fault</th><th>Kind</th><th>Inject started</th><th>Confirmed</th>\
         <th>Revert started</th><th>Reverted</th><th>Steps</th><th>Revert attempts</th><th>Detected</th>\
         <th>Recovered</th><th>Errors</th></tr></thead>\n<tbody>\n",
    );
    for f in &r.faults {
        let reverted = match (f.reverted_at_ms, f.revert_started_at_ms) {
            (Some(t), _) => at(t),
            (None, _) if f.revert_error.is_some() => "<span class=\"bad\">FAILED</span>".into(),
            (None, Some(_)) => "<span class=\"bad\">unfinished</span>".into(),
            (None, None) if f.steps == 0 => "<span class=\"muted\">nothing to revert</span>".into(),
            (None, None) => "<span class=\"bad\">not reverted</span>".into(),
        };
        let mut errors = Vec::new();
        if let Some(e) = &f.inject_error {
            errors.push(format!("<div><strong>inject:</strong> {}</div>", esc(e)));
        }
        if let Some(e) = &f.revert_error {
            errors.push(format!("<div class=\"bad\"><strong>revert:</strong> {}</div>", esc(e)));
        }
        let errors = if errors.is_empty() { "—".to_string() } else { errors.concat() };
        // This fault's own times, after its injection (docs/report.md, "Per-fault times").
        let (detected, recovered) = match (f.injected_at_ms, f.time_to_detect_ms, f.time_to_recover_ms) {
            (None, ..) => ("—".to_string(), "—".to_string()),
            (Some(_), None, _) => ("<span class=\"muted\">no impact of its own</span>".into(), "—".into()),
            (Some(_), Some(d), Some(t)) => (format!("after {}", duration(d)), format!("after {}", duration(t))),
            (Some(_), Some(d), None) => {
                (format!("after {}", duration(d)), "<span class=\"bad\">not recovered</span>".into())
            }
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{reverted}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{detected}</td><td>{recovered}</td><td>{errors}</td></tr>",
            esc(&f.name),
            esc(&f.kind),
            at_or_dash(f.inject_started_at_ms),
            at_or_dash(f.injected_at_ms),
            at_or_dash(f.revert_started_at_ms),
            steps(f),
            f.revert_attempts
        );
    }
    o.push_str("</tbody>\n</table>\n");
    // What each fault actually hit, before → after the injection → after the revert; then
    // what it was planned to act on.
    for f in r.faults.iter().filter(|f| !f.changes.is_empty()) {
        let _ = writeln!(
            o,
            "<p class=\"changes\" data-fault=\"{}\">Hit by <code>{}</code>:</p>\n<ul class=\"changes\">",
            esc(&f.name),
            esc(&f.name)
        );
        for c in &f.changes {
            let class = if c.not_restored { " class=\"bad\"" } else { "" };
            let _ = writeln!(o, "<li{class}>{}</li>", esc(&c.line()));
        }
        o.push_str("</ul>\n");
    }
    for f in r.faults.iter().filter(|f| !f.plan.is_empty()) {
        let _ = writeln!(o, "<p class=\"plan\">Plan of <code>{}</code>:</p>\n<ul class=\"plan\">", esc(&f.name));
        for l in &f.plan {
            let _ = writeln!(o, "<li>{}</li>", esc(l.trim_start()));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</section>\n");
}

/// The steps column: the count, and what the injection changed when it changed nothing.
fn steps(f: &FaultReport) -> String {
    match f.effect {
        Some(Effect::None) => format!("{} <strong class=\"bad\">(no effect: nothing to do)</strong>", f.steps),
        Some(Effect::Skipped) => format!("{} <span class=\"muted\">(skipped: nothing to do)</span>", f.steps),
        _ => f.steps.to_string(),
    }
}

fn targets(o: &mut String, r: &Report) {
    let Some(aws) = &r.aws else { return };
    let _ = write!(
        o,
        "<section id=\"targets\">\n<h2>Targets</h2>\n<p>Account <code>{}</code> in <code>{}</code> · selection seed \
         <code>{}</code> · {} AWS API calls (retries included)</p>\n<table>\n<thead><tr><th>Target</th><th>Type</th>\
         <th>Matched</th><th>Selected</th></tr></thead>\n<tbody>\n",
        esc(&aws.account),
        esc(&aws.region),
        aws.seed,
        aws.api_calls
    );
    for (name, t) in &aws.targets {
        let ids: Vec<String> = t.selected.iter().map(|i| format!("<code>{}</code>", esc(i))).collect();
        let ids = if ids.is_empty() { "—".to_string() } else { ids.join(", ") };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{ids}</td></tr>",
            esc(name),
            esc(&t.kind),
            t.matched
        );
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

fn probes(o: &mut String, r: &Report) {
    o.push_str(
        "<section id=\"probes\">\n<h2>Probes</h2>\n<table>\n<thead><tr><th>Probe</th><th>Kind</th><th>Target</th>\
         <th>Every</th><th>Checks</th><th>Failures</th><th>First failure</th><th>Last failure</th><th>Final state</th>\
         </tr></thead>\n<tbody>\n",
    );
    for p in &r.probes {
        let last = match p.final_ok {
            Some(true) => "<span class=\"good\">passing</span>",
            Some(false) => "<span class=\"bad\">FAILING</span>",
            None => "<span class=\"muted\">never checked</span>",
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{last}</td></tr>",
            esc(&p.name),
            esc(&p.kind),
            esc(&p.target),
            duration(p.every_ms),
            p.samples,
            p.failures,
            at_or_dash(p.first_failure_ms),
            at_or_dash(p.last_failure_ms)
        );
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

/// Every check, folded away: the timeline's marks as text.
fn checks(o: &mut String, r: &Report) {
    let n = r.baseline.len() + r.samples.len();
    if n == 0 {
        return;
    }
    let _ = write!(
        o,
        "<section id=\"checks\">\n<details>\n<summary>Every check ({n}, baseline included)</summary>\n<table>\n\
         <thead><tr><th>At</th><th>Probe</th><th>Result</th><th>Latency</th><th>Detail</th><th>Fault</th></tr></thead>\n\
         <tbody>\n"
    );
    let all = r.baseline.iter().map(|s| (s, true)).chain(r.samples.iter().map(|s| (s, false)));
    for (s, baseline) in all {
        let result = if s.ok { "<span class=\"good\">pass</span>" } else { "<span class=\"bad\">FAIL</span>" };
        let _ = writeln!(
            o,
            "<tr><td>{}{}</td><td>{}</td><td>{result}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            at(s.t_ms),
            if baseline { " <span class=\"muted\">baseline</span>" } else { "" },
            esc(&s.probe),
            duration(s.latency_ms),
            esc(&s.detail),
            s.fault.as_deref().map(esc).unwrap_or_default()
        );
    }
    o.push_str("</tbody>\n</table>\n</details>\n</section>\n");
}
