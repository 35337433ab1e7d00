//! `firedrill history [--scenario NAME] [--format text|json|html|md]`: every run, oldest first,
//! read from each run's `report.json` (or journal); see [`crate::history`].

use super::{Error, HistoryFormat};
use crate::history;
use crate::state::StateDir;
use crate::util::console::Console;

pub fn history(
    shell: &Console,
    state: &StateDir,
    scenario: Option<&str>,
    format: HistoryFormat,
    stale_after: std::time::Duration,
) -> Result<(), Error> {
    let rows = history::load(state, scenario).map_err(|e| Error::Failed(e.to_string()))?;
    for r in rows.iter().filter(|r| r.outcome == "unreadable") {
        shell.warn(format!("{}: {}", r.run_id, r.detail.as_deref().unwrap_or("unreadable")));
    }
    let what = history::describe(&state.runs(), scenario);
    if rows.is_empty() {
        shell.status("History", format!("no {what}"));
    }
    // Game days `schedule run-due` ran or skipped, after the runs (text and HTML).
    let records = crate::schedule::record::Records::of(state);
    let scheduled = records
        .latest()
        .map_err(|e| Error::Failed(format!("cannot read the schedule's log in {}: {e}", records.location())))?;
    let by_month = history::scheduled(&scheduled, &rows);
    let scheduled = if scheduled.is_empty() { String::new() } else { history::scheduled_text(&scheduled, &rows) };
    // Playbook steps no run has done lately (text only): a game day keeps them alive.
    let stale = history::stale_steps(state, scenario, jiff::Timestamp::now(), stale_after)
        .map_err(|e| Error::Failed(e.to_string()))?;
    let markdown = history::markdown(&rows, &by_month, &stale, &history::horizon(stale_after), &what);
    let stale = history::stale_text(&stale, stale_after);
    let scheduled = [scheduled, stale].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\n");
    match format {
        HistoryFormat::Text if rows.is_empty() => super::output(&scheduled),
        HistoryFormat::Text => super::output(&format!(
            "{}{}",
            history::text(&rows),
            if scheduled.is_empty() { String::new() } else { format!("\n{scheduled}") }
        )),
        HistoryFormat::Json => super::output(&history::json(&rows)),
        HistoryFormat::Html => super::output(&history::html::render_with(&rows, &by_month, &what)),
        HistoryFormat::Md => super::output(&markdown),
    }
}
