//! `firedrill history --format html`: one self-contained page (no scripts, stylesheets,
//! fonts or images from anywhere) with the history table and, per scenario, its summary
//! and an inline SVG plot of time to recover over its runs against the objective.

use super::{Row, Scheduled, Summary, cells, month_line, summarize};
use crate::report::markdown::duration;

/// One run on a plot: a run that was injected and has a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub run_id: String,
    pub outcome: String,
    /// `None`: the run never recovered.
    pub ttr_ms: Option<u64>,
}

impl Point {
    /// The plottable runs among `rows` (oldest first): injected, with a report, and not
    /// aborted (cut short, so not a measurement).
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Vec<Point> {
        rows.into_iter()
            .filter(|r| r.reported() && r.injected && !r.aborted())
            .map(|r| Point { run_id: r.run_id.clone(), outcome: r.outcome.clone(), ttr_ms: r.time_to_recover_ms })
            .collect()
    }
}

/// The plot's geometry (SVG user units).
pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
/// The band above the plot where runs that never recovered are drawn.
const TOP: f64 = 32.0;
const BOTTOM: f64 = 32.0;
/// The y of the "never recovered" markers.
pub const NEVER_Y: f64 = 14.0;

const GREEN: &str = "#1a7f37";
const RED: &str = "#cf222e";
const GREY: &str = "#57606a";

/// The value at the top of the y axis: a fifth above the largest time or the objective.
pub fn y_max(points: &[Point], objective_ms: u64) -> f64 {
    let top = points.iter().filter_map(|p| p.ttr_ms).max().unwrap_or(0).max(objective_ms);
    (top as f64 * 1.2).max(1.0)
}

/// The y of a time on the plot.
pub fn y_of(ms: u64, y_max: f64) -> f64 {
    let bottom = HEIGHT - BOTTOM;
    bottom - (ms as f64 / y_max) * (bottom - TOP)
}

/// The x of the `i`th of `n` runs.
pub fn x_of(i: usize, n: usize) -> f64 {
    let (left, right) = (LEFT + 12.0, WIDTH - RIGHT - 12.0);
    if n <= 1 { (left + right) / 2.0 } else { left + (right - left) * i as f64 / (n - 1) as f64 }
}

/// Time to recover over `points` (oldest first), with the objective as a dashed
/// horizontal line. A run that recovered is a `<circle>` (green within the objective, red
/// over it); one that never recovered is a red cross (`class="never"`) in a band above the
/// plot. Each mark has a `<title>` naming the run.
pub fn svg(scenario: &str, points: &[Point], objective_ms: u64) -> String {
    let ymax = y_max(points, objective_ms);
    let (bottom, right) = (HEIGHT - BOTTOM, WIDTH - RIGHT);
    let mut o = vec![format!(
        r#"<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="time to recover of {} over {} runs" font-family="sans-serif" font-size="11">"#,
        esc(scenario),
        points.len()
    )];
    // Axes, with 0 and the top of the scale.
    o.push(format!(r#"<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="{GREY}"/>"#));
    o.push(format!(r#"<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{GREY}"/>"#));
    o.push(format!(r#"<text x="{}" y="{}" text-anchor="end" fill="{GREY}">0</text>"#, LEFT - 6.0, bottom + 4.0));
    o.push(format!(
        r#"<text x="{}" y="{}" text-anchor="end" fill="{GREY}">{}</text>"#,
        LEFT - 6.0,
        TOP + 4.0,
        duration(ymax as u64)
    ));
    o.push(format!(
        r#"<text x="{}" y="{}" text-anchor="middle" fill="{GREY}">runs, oldest first (time to recover)</text>"#,
        (LEFT + right) / 2.0,
        HEIGHT - 4.0
    ));
    // The objective.
    let oy = y_of(objective_ms, ymax);
    o.push(format!(
        r#"<line class="objective" x1="{LEFT}" y1="{oy:.1}" x2="{right}" y2="{oy:.1}" stroke="{GREY}" stroke-dasharray="6 4"/>"#
    ));
    o.push(format!(
        r#"<text class="objective-label" x="{}" y="{:.1}" text-anchor="end" fill="{GREY}">objective {}</text>"#,
        right,
        oy - 4.0,
        duration(objective_ms)
    ));
    if points.iter().any(|p| p.ttr_ms.is_none()) {
        o.push(format!(
            r#"<text x="{}" y="{}" text-anchor="end" fill="{RED}">never</text>"#,
            LEFT - 6.0,
            NEVER_Y + 4.0
        ));
    }
    for (i, p) in points.iter().enumerate() {
        let x = x_of(i, points.len());
        // Number the runs along the axis (every one while they fit, else the first and last).
        if points.len() <= 20 || i == 0 || i + 1 == points.len() {
            o.push(format!(
                r#"<text class="tick" x="{x:.1}" y="{}" text-anchor="middle" fill="{GREY}">{}</text>"#,
                bottom + 14.0,
                i + 1
            ));
        }
        match p.ttr_ms {
            Some(t) => {
                let color = if t <= objective_ms { GREEN } else { RED };
                o.push(format!(
                    r#"<circle class="recovered" cx="{x:.1}" cy="{:.1}" r="4" fill="{color}"><title>{}: recovered in {} ({})</title></circle>"#,
                    y_of(t, ymax),
                    esc(&p.run_id),
                    duration(t),
                    esc(&p.outcome)
                ));
            }
            None => o.push(format!(
                r#"<path class="never" d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="{RED}" stroke-width="2"><title>{}: never recovered ({})</title></path>"#,
                x - 4.0,
                NEVER_Y - 4.0,
                x + 4.0,
                NEVER_Y + 4.0,
                x - 4.0,
                NEVER_Y + 4.0,
                x + 4.0,
                NEVER_Y - 4.0,
                esc(&p.run_id),
                esc(&p.outcome)
            )),
        }
    }
    o.push("</svg>".into());
    o.join("\n")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#1f2328}\
table{border-collapse:collapse;font-size:14px}\
th,td{padding:.25em .75em;border-bottom:1px solid #d0d7de;text-align:left;white-space:nowrap}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
.passed{color:#1a7f37}.objective_missed,.no_impact,.aborted,.revert_failed,.crashed,.unreadable{color:#cf222e}\
code{font-size:13px}";

/// The page: heading, table, then each scenario's summary and plot.
pub fn render(rows: &[Row], title: &str) -> String {
    render_with(rows, &[], title)
}

/// [`render`], with the scheduled game days by month (each occurrence, skipped ones with
/// why, each month's count of runs, objectives met, skips and aborted runs).
pub fn render_with(rows: &[Row], scheduled: &[Scheduled], title: &str) -> String {
    let mut o = vec![
        "<!DOCTYPE html>".to_string(),
        r#"<html lang="en">"#.into(),
        "<head>".into(),
        r#"<meta charset="utf-8">"#.into(),
        format!("<title>firedrill history — {}</title>", esc(title)),
        format!("<style>{STYLE}</style>"),
        "</head>".into(),
        "<body>".into(),
        "<h1>firedrill history</h1>".into(),
        format!("<p>{} — {} run(s), oldest first.</p>", esc(title), rows.len()),
    ];
    if rows.is_empty() {
        o.push("<p>No runs.</p>".into());
    } else {
        o.push("<table>".into());
        o.push(
            "<tr><th>Started</th><th>Run</th><th>Outcome</th><th>Detect</th><th>Recover</th><th>Objective</th><th>Met</th></tr>"
                .into(),
        );
        for r in rows {
            let [started, run, outcome, detect, recover, objective, met] = cells(r);
            o.push(format!(
                r#"<tr><td>{}</td><td><code>{}</code></td><td class="{}">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
                esc(&started),
                esc(&run),
                esc(&r.outcome),
                esc(&outcome),
                esc(&detect),
                esc(&recover),
                esc(&objective),
                esc(&met)
            ));
        }
        o.push("</table>".into());
    }
    for s in summarize(rows) {
        o.extend(scenario(rows, &s));
    }
    if !scheduled.is_empty() {
        o.push(r#"<h2 id="scheduled">Scheduled game days, by month</h2>"#.into());
        o.push("<table>".into());
        o.push("<tr><th>Month</th><th>Start</th><th>Game day</th><th>Outcome</th><th>What happened</th></tr>".into());
        let mut months: Vec<&str> = scheduled.iter().map(|s| s.month.as_str()).collect();
        months.dedup();
        for m in months {
            let items: Vec<&Scheduled> = scheduled.iter().filter(|s| s.month == m).collect();
            o.push(format!(
                r#"<tr class="month"><th>{}</th><td colspan="4">{}</td></tr>"#,
                esc(m),
                esc(&month_line(&items))
            ));
            for s in items {
                o.push(format!(
                    r#"<tr><td></td><td>{}</td><td>{}</td><td class="{}">{}</td><td>{}</td></tr>"#,
                    esc(&s.start),
                    esc(&s.gameday),
                    esc(&s.outcome),
                    esc(&s.outcome),
                    esc(&s.what)
                ));
            }
        }
        o.push("</table>".into());
    }
    o.push("</body>".into());
    o.push("</html>".into());
    o.push(String::new());
    o.join("\n")
}

fn scenario(rows: &[Row], s: &Summary) -> Vec<String> {
    let mut o = vec![format!("<h2>{}</h2>", esc(&s.scenario)), format!("<p>{}</p>", esc(&s.line()))];
    let points = Point::from_rows(rows.iter().filter(|r| r.scenario == s.scenario));
    match s.objective_ms {
        Some(objective) if !points.is_empty() => o.push(svg(&s.scenario, &points, objective)),
        _ => o.push("<p>No run of this scenario injected a fault: nothing to plot.</p>".into()),
    }
    o
}

/// Text for HTML content and attribute values (the report's escaping: control
/// characters become U+FFFD too).
fn esc(s: &str) -> String {
    crate::report::html::esc(s)
}
