//! `firedrill history`: every run in the state directory as one [`Row`] (date, outcome,
//! time to detect, time to recover vs the objective), a per-scenario [`Summary`], and their
//! renderings: an aligned text table, JSON, and a self-contained HTML page with one SVG
//! plot per scenario ([`html`]).
//!
//! There is no separate history store: each row is read from the run's own `report.json`
//! (the source of truth, written atomically at the end of the run), or, for a run without
//! one (live, or crashed), from its journal. Only the handful of fields a row needs are
//! deserialized, so the samples of long runs are skipped, not kept.

pub mod html;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::Outcome;
use crate::report::markdown::duration;
use crate::scenario::file::{ReadError, read_text};
use crate::state::journal::Entry;
use crate::state::{RunDir, StateDir, StateError};

/// One run, as `firedrill history` lists it (and as `--format json` prints it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub run_id: String,
    pub scenario: String,
    /// When the run started (RFC 3339, UTC); from the journal or the run id when the run
    /// has no report.
    pub started_at: Option<String>,
    /// The report's outcome (`passed`, `objective_missed`, `aborted`, `blocked`, `no_impact`,
    /// `revert_failed`), or, for a run without a readable report: `running`, `crashed`,
    /// `finished` (the journal says it ended, but it wrote no report) or `unreadable`.
    pub outcome: String,
    /// More about a run without a report: `1 injected` / `recovered` for a crashed run,
    /// the error for an unreadable one. Null otherwise.
    pub detail: Option<String>,
    /// Whether a fault was injected (`t_inject_ms` not null). False without a report.
    pub injected: bool,
    pub duration_ms: Option<u64>,
    /// `recover` or `sustain`, as in the report; null without one.
    pub objective: Option<String>,
    pub objective_ms: Option<u64>,
    pub time_to_detect_ms: Option<u64>,
    pub time_to_recover_ms: Option<u64>,
    /// As in the report; null without one.
    pub objective_met: Option<bool>,
}

impl Row {
    /// The run has a report: it finished and was measured.
    pub fn reported(&self) -> bool {
        self.objective_met.is_some()
    }

    /// A fault was injected and the run ended without recovery being observed — not cut
    /// short by an abort (see [`Row::aborted`]).
    pub fn never_recovered(&self) -> bool {
        self.reported() && self.injected && self.time_to_recover_ms.is_none() && !self.aborted()
    }

    /// The run was aborted (an abort rule, a signal, the halt, the facilitator): cut short,
    /// so its recovery was not measured; counted apart from "never recovered".
    pub fn aborted(&self) -> bool {
        self.outcome == Outcome::Aborted.as_str()
    }
}

/// The fields of `report.json` a row needs; serde skips the rest (samples included).
#[derive(Deserialize)]
struct ReportHead {
    report_version: u32,
    scenario: ScenarioHead,
    started_at: String,
    duration_ms: u64,
    outcome: Outcome,
    #[serde(default)]
    objective: crate::engine::ObjectiveKind,
    objective_ms: u64,
    t_inject_ms: Option<u64>,
    time_to_detect_ms: Option<u64>,
    time_to_recover_ms: Option<u64>,
    objective_met: bool,
}

#[derive(Deserialize)]
struct ScenarioHead {
    name: String,
}

/// Every run in `state` (of `scenario` only, if given), oldest first.
pub fn load(state: &StateDir, scenario: Option<&str>) -> Result<Vec<Row>, StateError> {
    let mut rows: Vec<Row> = state.list()?.iter().map(row).collect();
    if let Some(name) = scenario {
        rows.retain(|r| r.scenario == name);
    }
    rows.sort_by(|a, b| (&a.started_at, &a.run_id).cmp(&(&b.started_at, &b.run_id)));
    Ok(rows)
}

/// One run's row: from its report, else from its journal.
pub fn row(run: &RunDir) -> Row {
    let path = run.path.join(crate::report::JSON_FILE);
    match read_text(&path, crate::report::MAX_JSON_BYTES) {
        Ok(text) => match serde_json::from_str::<ReportHead>(&text) {
            Ok(h) if h.report_version == crate::report::REPORT_VERSION => from_report(run, h),
            Ok(h) => {
                unreadable(run, format!("report_version {} is not {}", h.report_version, crate::report::REPORT_VERSION))
            }
            Err(e) => unreadable(run, format!("{}: {e}", path.display())),
        },
        Err(ReadError::NotFound) => from_journal(run),
        Err(e) => unreadable(run, format!("{}: {e}", path.display())),
    }
}

fn from_report(run: &RunDir, h: ReportHead) -> Row {
    Row {
        run_id: run.id.clone(),
        scenario: h.scenario.name,
        started_at: Some(h.started_at),
        outcome: h.outcome.as_str().to_string(),
        detail: None,
        injected: h.t_inject_ms.is_some(),
        duration_ms: Some(h.duration_ms),
        objective: Some(h.objective.as_str().to_string()),
        objective_ms: Some(h.objective_ms),
        time_to_detect_ms: h.time_to_detect_ms,
        time_to_recover_ms: h.time_to_recover_ms,
        objective_met: Some(h.objective_met),
    }
}

/// A row with nothing measured: the outcome and detail say why.
fn bare(
    run: &RunDir,
    scenario: Option<String>,
    started_at: Option<String>,
    outcome: &str,
    detail: Option<String>,
) -> Row {
    let (id_scenario, id_started) = parse_run_id(&run.id);
    Row {
        run_id: run.id.clone(),
        scenario: scenario.or(id_scenario).unwrap_or_default(),
        started_at: started_at.or(id_started),
        outcome: outcome.to_string(),
        detail,
        injected: false,
        duration_ms: None,
        objective: None,
        objective_ms: None,
        time_to_detect_ms: None,
        time_to_recover_ms: None,
        objective_met: None,
    }
}

fn unreadable(run: &RunDir, why: String) -> Row {
    let started = started_from_journal(run);
    bare(run, started.as_ref().map(|s| s.0.clone()), started.map(|s| s.1), "unreadable", Some(why))
}

/// The scenario and start time the journal's `run_started` entry holds.
fn started_from_journal(run: &RunDir) -> Option<(String, String)> {
    run.timed_entries().ok()?.into_iter().find_map(|(at, e)| match e {
        Entry::RunStarted { scenario, .. } => Some((scenario, at)),
        _ => None,
    })
}

fn from_journal(run: &RunDir) -> Row {
    let entries = match run.timed_entries() {
        Ok(e) => e,
        Err(e) => return bare(run, None, None, "unreadable", Some(e.to_string())),
    };
    let started = entries.iter().find_map(|(at, e)| match e {
        Entry::RunStarted { scenario, .. } => Some((scenario.clone(), at.clone())),
        _ => None,
    });
    let (scenario, at) = started.map_or((None, None), |(s, a)| (Some(s), Some(a)));
    let plain: Vec<Entry> = entries.into_iter().map(|(_, e)| e).collect();
    let pending = crate::state::journal::pending(&plain).len();
    let finished = plain.iter().any(|e| matches!(e, Entry::RunFinished { .. }));
    if run.is_live().unwrap_or(false) {
        return bare(run, scenario, at, "running", None);
    }
    let (outcome, detail) = match (finished, pending) {
        (_, n) if n > 0 => ("crashed", format!("{n} injected")),
        (true, _) => ("finished", "no report.json".to_string()),
        (false, _) => ("crashed", "recovered".to_string()),
    };
    bare(run, scenario, at, outcome, Some(detail))
}

/// The scenario name and start time in a run id (`20261118T110640Z-<scenario>-1a2b`).
fn parse_run_id(id: &str) -> (Option<String>, Option<String>) {
    let Some((_, rest)) = id.split_once("Z-") else { return (None, None) };
    let scenario = rest.rsplit_once('-').map(|(s, _)| s.to_string()).filter(|s| !s.is_empty());
    let started = crate::state::run_started(id).map(|t| humantime::format_rfc3339_millis(t).to_string());
    (scenario, started)
}

/// One scenario over its runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub scenario: String,
    pub runs: usize,
    pub passed: usize,
    /// Median time to recover over the runs that recovered (the mean of the two middle
    /// values, rounded down, for an even count).
    pub median_ms: Option<u64>,
    /// The longest time to recover among the runs that recovered.
    pub worst_ms: Option<u64>,
    /// Runs that were injected and never recovered: worse than any time.
    pub never_recovered: usize,
    /// Runs that were aborted: cut short, not measured (apart from `never_recovered`).
    pub aborted: usize,
    /// The objective of the newest run with a report (a scenario's objective may change).
    pub objective_ms: Option<u64>,
    /// Its kind: `recover` or `sustain`.
    pub objective: Option<String>,
}

/// One summary per scenario, by scenario name; `rows` oldest first.
pub fn summarize(rows: &[Row]) -> Vec<Summary> {
    let mut names: Vec<&str> = rows.iter().map(|r| r.scenario.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let runs: Vec<&Row> = rows.iter().filter(|r| r.scenario == name).collect();
            // Runs in which no probe failed (`no_impact`, a `sustain` pass) recovered from
            // nothing: their zero would pull the median down.
            let mut times: Vec<u64> =
                runs.iter().filter(|r| r.time_to_detect_ms.is_some()).filter_map(|r| r.time_to_recover_ms).collect();
            Summary {
                scenario: name.to_string(),
                runs: runs.len(),
                passed: runs.iter().filter(|r| r.outcome == Outcome::Passed.as_str()).count(),
                median_ms: median(&mut times),
                worst_ms: times.iter().max().copied(),
                never_recovered: runs.iter().filter(|r| r.never_recovered()).count(),
                aborted: runs.iter().filter(|r| r.aborted()).count(),
                objective_ms: runs.iter().rev().find_map(|r| r.objective_ms),
                objective: runs.iter().rev().find_map(|r| r.objective.clone()),
            }
        })
        .collect()
}

/// One scheduled occurrence that `schedule run-due` ran or skipped, with what became of
/// it: the terminal's and the HTML page's rows of "Scheduled game days, by month".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scheduled {
    /// `YYYY-MM` of its start, in the calendar's time zone.
    pub month: String,
    /// When the occurrence starts (RFC 3339 with the calendar's offset).
    pub start: String,
    pub gameday: String,
    /// `skipped`, `started`, or the run's outcome.
    pub outcome: String,
    /// Why it was skipped; null when it ran.
    pub reason: Option<String>,
    /// The run's id, when it ran.
    pub run: Option<String>,
    /// The run's time to recover and objective (from its report), when known.
    pub time_to_recover_ms: Option<u64>,
    pub objective_ms: Option<u64>,
    pub objective_met: Option<bool>,
    /// The run was aborted: counted apart, its recovery not measured.
    pub aborted: bool,
    /// In words: why it was skipped, or the run and how it recovered.
    pub what: String,
}

/// The game days `schedule run-due` ran or skipped (the last record of each occurrence,
/// in order of start), with their runs' measures from `rows`.
pub fn scheduled(records: &[crate::schedule::record::Record], rows: &[Row]) -> Vec<Scheduled> {
    records
        .iter()
        .map(|r| {
            let row = r.run.as_ref().and_then(|id| rows.iter().find(|x| &x.run_id == id));
            let what = match (&r.reason, &r.run, row) {
                (Some(why), _, _) => why.clone(),
                (None, Some(id), Some(row)) => format!("run {id} — {}", recovery(row)),
                (None, Some(id), None) => format!("run {id}"),
                (None, None, _) => String::new(),
            };
            Scheduled {
                month: r.start.get(..7).unwrap_or(&r.start).to_string(),
                start: r.start.clone(),
                gameday: r.gameday.clone(),
                outcome: r.outcome.clone(),
                reason: r.reason.clone(),
                run: r.run.clone(),
                time_to_recover_ms: row.and_then(|x| x.time_to_recover_ms),
                objective_ms: row.and_then(|x| x.objective_ms),
                objective_met: row.and_then(|x| x.objective_met),
                aborted: row.is_some_and(Row::aborted) || r.outcome == Outcome::Aborted.as_str(),
                what,
            }
        })
        .collect()
}

/// A month's scheduled game days in one line: `2 scheduled: 1 ran (1 met the objective),
/// 1 skipped, 1 aborted` (aborted runs are counted apart from those that ran to the end).
pub fn month_line(items: &[&Scheduled]) -> String {
    let skipped = items.iter().filter(|s| s.reason.is_some()).count();
    let aborted = items.iter().filter(|s| s.aborted).count();
    let ran = items.iter().filter(|s| s.run.is_some() && !s.aborted).count();
    let met = items.iter().filter(|s| !s.aborted && s.objective_met == Some(true)).count();
    let mut l = format!("{} scheduled: {ran} ran ({met} met the objective), {skipped} skipped", items.len());
    if aborted > 0 {
        l.push_str(&format!(", {aborted} aborted"));
    }
    l
}

/// The game days `schedule run-due` ran or skipped, one line each, grouped by month:
/// skipped ones with why, the ones that ran with their run and their time to recover
/// against the objective (from the runs' `rows`).
pub fn scheduled_text(records: &[crate::schedule::record::Record], rows: &[Row]) -> String {
    let mut out = String::from("Scheduled game days, by month:\n");
    let mut month = String::new();
    for s in scheduled(records, rows) {
        let label = if s.month == month { "       ".to_string() } else { s.month.clone() };
        month = s.month.clone();
        let line = format!("{label}  {}  {}  {}  {}", s.start, s.gameday, s.outcome, s.what);
        out.push_str(crate::util::console::terminal_safe(line.trim_end(), false).as_ref());
        out.push('\n');
    }
    out
}

/// A run's recovery against its objective, in words.
fn recovery(r: &Row) -> String {
    let objective = match (r.objective.as_deref(), r.objective_ms) {
        (Some("sustain"), _) => " (objective: sustain)".to_string(),
        (_, Some(o)) => format!(" (objective {})", duration(o)),
        _ => String::new(),
    };
    match r.time_to_recover_ms {
        _ if r.aborted() => "aborted: cut short, not measured".to_string(),
        _ if !r.injected => "nothing injected".to_string(),
        Some(t) => format!("recovered in {}{objective}", duration(t)),
        None => format!("never recovered{objective}"),
    }
}

/// The median; for an even count, the mean of the two middle values rounded down.
pub fn median(values: &mut [u64]) -> Option<u64> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some(values[n / 2 - 1] / 2 + values[n / 2] / 2 + (values[n / 2 - 1] % 2 + values[n / 2] % 2) / 2),
    }
}

impl Summary {
    /// `web: 3 runs, 1 passed; time to recover median 600ms, worst never (1 run); objective 1s`.
    pub fn line(&self) -> String {
        let plural = |n: usize, what: &str| if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") };
        let ttr = match (self.median_ms, self.worst_ms, self.never_recovered) {
            (None, _, 0) => "no recovery measured".to_string(),
            (None, _, n) => format!("never recovered ({})", plural(n, "run")),
            (Some(m), _, n) if n > 0 => format!("median {}, worst never ({})", duration(m), plural(n, "run")),
            (Some(m), w, _) => format!("median {}, worst {}", duration(m), duration(w.unwrap_or(m))),
        };
        let objective = match (self.objective.as_deref(), self.objective_ms) {
            (Some("sustain"), _) => "; objective sustain".to_string(),
            (_, Some(o)) => format!("; objective {}", duration(o)),
            (_, None) => String::new(),
        };
        let aborted = if self.aborted > 0 { format!(", {} aborted", self.aborted) } else { String::new() };
        format!(
            "{}: {}, {} passed{aborted}; time to recover {ttr}{objective}",
            self.scenario,
            plural(self.runs, "run"),
            self.passed
        )
    }
}

/// The cells of a row as the table shows them: started, run, outcome, detect, recover,
/// objective, met.
pub fn cells(r: &Row) -> [String; 7] {
    let dash = || "-".to_string();
    let started = r.started_at.as_deref().map_or_else(dash, short_time);
    let outcome = match &r.detail {
        Some(d) if r.outcome != "unreadable" => format!("{}, {d}", r.outcome),
        _ => r.outcome.clone(),
    };
    let measured = r.reported() && r.injected;
    let detect = match r.time_to_detect_ms {
        Some(t) => duration(t),
        None if measured => "none".into(),
        None => dash(),
    };
    let recover = match r.time_to_recover_ms {
        Some(t) => duration(t),
        None if measured && !r.aborted() => "never".into(),
        None => dash(),
    };
    let objective = match r.objective.as_deref() {
        Some("sustain") => "sustain".to_string(),
        _ => r.objective_ms.map_or_else(dash, duration),
    };
    let met = match r.objective_met {
        Some(true) => "yes".to_string(),
        Some(false) if r.injected => "no".into(),
        _ => dash(),
    };
    [started, r.run_id.clone(), outcome, detect, recover, objective, met]
}

/// `2026-11-18T11:06:40.000Z` → `2026-11-18 11:06:40Z`.
fn short_time(t: &str) -> String {
    match (t.get(..10), t.get(11..19)) {
        (Some(d), Some(h)) if t.len() >= 20 => format!("{d} {h}Z"),
        _ => t.to_string(),
    }
}

/// The text table (aligned, oldest first) and one summary line per scenario, for a
/// terminal: control characters in a cell (from a `report.json` or journal) become U+FFFD.
pub fn text(rows: &[Row]) -> String {
    let header = ["STARTED", "RUN", "OUTCOME", "DETECT", "RECOVER", "OBJECTIVE", "MET"];
    let body: Vec<[String; 7]> =
        rows.iter().map(|r| cells(r).map(|c| crate::util::console::terminal_safe(&c, false).into_owned())).collect();
    let mut widths = header.map(str::len);
    for cells in &body {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    // Numbers are right-aligned.
    let right = [false, false, false, true, true, true, false];
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .zip(right)
            .map(|((c, w), r)| if r { format!("{c:>w$}") } else { format!("{c:<w$}") })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(&header.map(String::from))];
    out.extend(body.iter().map(|c| line(c)));
    out.push(String::new());
    out.extend(summarize(rows).iter().map(|s| crate::util::console::terminal_safe(&s.line(), false).into_owned()));
    out.push(String::new());
    out.join("\n")
}

/// The history as Markdown (for a wiki page or a pull request): the runs' table and one
/// summary line per scenario, the scheduled game days by month (each month's count line,
/// then one row per occurrence: skipped with why, or the run and how it recovered), and
/// the playbook steps not exercised within `stale_after`. Every value from a report or a
/// journal is escaped.
pub fn markdown(rows: &[Row], scheduled: &[Scheduled], stale: &[StaleStep], stale_after: &str, title: &str) -> String {
    use crate::report::markdown::esc;
    let mut o = vec![format!("# {}", esc(title)), String::new()];
    if rows.is_empty() {
        o.push("No runs.".into());
    } else {
        o.push("| started | run | outcome | detect | recover | objective | met |".into());
        o.push("| --- | --- | --- | ---: | ---: | ---: | --- |".into());
        for r in rows {
            o.push(format!("| {} |", cells(r).map(|c| esc(&c)).join(" | ")));
        }
        o.push(String::new());
        o.extend(summarize(rows).iter().map(|s| format!("- {}", esc(&s.line()))));
    }
    if !scheduled.is_empty() {
        o.extend([String::new(), "## Scheduled game days, by month".into()]);
        let mut months: Vec<&str> = scheduled.iter().map(|s| s.month.as_str()).collect();
        months.dedup();
        for m in months {
            let items: Vec<&Scheduled> = scheduled.iter().filter(|s| s.month == m).collect();
            o.extend([
                String::new(),
                format!("### {}", esc(m)),
                String::new(),
                esc(&month_line(&items)),
                String::new(),
            ]);
            o.push("| start | game day | outcome | what |".into());
            o.push("| --- | --- | --- | --- |".into());
            for s in items {
                o.push(format!("| {} | {} | {} | {} |", esc(&s.start), esc(&s.gameday), esc(&s.outcome), esc(&s.what)));
            }
        }
    }
    if !stale.is_empty() {
        o.extend([String::new(), format!("## Playbook steps not exercised for more than {}", esc(stale_after))]);
        o.push(String::new());
        for s in stale {
            let when = match &s.last_done {
                Some(t) => format!("last done in the run of {t}"),
                None => "never done in a run".into(),
            };
            o.push(format!("- {}: {} — {}", esc(&s.scenario), esc(&s.step), esc(&when)));
        }
    }
    o.push(String::new());
    o.join("\n")
}

/// The rows as a JSON array.
pub fn json(rows: &[Row]) -> String {
    let mut s = serde_json::to_string_pretty(rows).expect("rows always serialize");
    s.push('\n');
    s
}

/// Where the rows came from, for headings.
pub fn describe(state_runs: &Path, scenario: Option<&str>) -> String {
    match scenario {
        Some(s) => format!("runs of {s} in {}", state_runs.display()),
        None => format!("runs in {}", state_runs.display()),
    }
}

#[cfg(test)]
mod tests;

/// A playbook step no run has done for longer than `history --stale-after` (or ever).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleStep {
    pub scenario: String,
    pub step: String,
    /// When the last run that did it started (RFC 3339); `None`: no run ever did it.
    pub last_done: Option<String>,
}

/// The playbook steps of each scenario (those its runs' reports list) that no run has
/// done (`status: done`) since `now - after`. A step is exercised when a run's report
/// records it done; reports that cannot be read are skipped (`history` warns about them).
pub fn stale_steps(
    state: &StateDir,
    scenario: Option<&str>,
    now: jiff::Timestamp,
    after: std::time::Duration,
) -> Result<Vec<StaleStep>, StateError> {
    #[derive(Deserialize)]
    struct StepHead {
        name: String,
        status: String,
    }
    #[derive(Deserialize)]
    struct Head {
        scenario: ScenarioHead,
        started_at: String,
        #[serde(default)]
        steps: Vec<StepHead>,
    }
    // Per scenario: each step (in the order the runs list them) and when it was last done.
    type LastDone = Vec<(String, Option<jiff::Timestamp>)>;
    let mut seen: Vec<(String, LastDone)> = Vec::new();
    for run in state.list()? {
        let Ok(text) = read_text(&run.path.join(crate::report::JSON_FILE), crate::report::MAX_JSON_BYTES) else {
            continue;
        };
        let Ok(h) = serde_json::from_str::<Head>(&text) else { continue };
        if scenario.is_some_and(|s| s != h.scenario.name) {
            continue;
        }
        let at = h.started_at.parse::<jiff::Timestamp>().ok();
        let i = match seen.iter().position(|(s, _)| *s == h.scenario.name) {
            Some(i) => i,
            None => {
                seen.push((h.scenario.name.clone(), Vec::new()));
                seen.len() - 1
            }
        };
        let steps = &mut seen[i].1;
        for st in h.steps {
            let done = (st.status == "done").then_some(at).flatten();
            match steps.iter_mut().find(|(n, _)| *n == st.name) {
                Some((_, last)) => *last = (*last).max(done),
                None => steps.push((st.name, done)),
            }
        }
    }
    let cutoff = jiff::SignedDuration::try_from(after).ok().and_then(|d| now.checked_sub(d).ok());
    let mut out = Vec::new();
    for (scenario, steps) in seen {
        for (step, last) in steps {
            if last.is_none_or(|t| cutoff.is_some_and(|c| t < c)) {
                out.push(StaleStep { scenario: scenario.clone(), step, last_done: last.map(|t| t.to_string()) });
            }
        }
    }
    Ok(out)
}

/// The stale steps, one line each, under a heading; empty when there are none.
/// `after` in words: `60 days`, `1 day`, or `12h` when not whole days.
pub fn horizon(after: std::time::Duration) -> String {
    let secs = after.as_secs();
    match secs / 86_400 {
        1 if secs.is_multiple_of(86_400) => "1 day".to_string(),
        n if secs.is_multiple_of(86_400) => format!("{n} days"),
        _ => humantime::format_duration(std::time::Duration::from_secs(secs)).to_string(),
    }
}

pub fn stale_text(stale: &[StaleStep], after: std::time::Duration) -> String {
    if stale.is_empty() {
        return String::new();
    }
    let horizon = horizon(after);
    let mut out = format!("Playbook steps not exercised for more than {horizon}:\n");
    for s in stale {
        let when = match &s.last_done {
            Some(t) => format!("last done in the run of {t}"),
            None => "never done in a run".into(),
        };
        let line = format!("{}: {} — {when}", s.scenario, s.step);
        out.push_str(crate::util::console::terminal_safe(&line, false).as_ref());
        out.push('\n');
    }
    out
}
