//! `firedrill history [--scenario NAME] [--format text|json|html]`: every run, oldest first,
//! read from each run's `report.json` (or journal); see [`crate::history`].

use super::{Error, HistoryFormat};
use crate::history;
use crate::state::StateDir;
use crate::util::console::Console;

pub fn history(shell: &Console, state: &StateDir, scenario: Option<&str>, format: HistoryFormat) -> Result<(), Error> {
    let rows = history::load(state, scenario).map_err(|e| Error::Failed(e.to_string()))?;
    for r in rows.iter().filter(|r| r.outcome == "unreadable") {
        shell.warn(format!("{}: {}", r.run_id, r.detail.as_deref().unwrap_or("unreadable")));
    }
    let what = history::describe(&state.runs(), scenario);
    if rows.is_empty() {
        shell.status("History", format!("no {what}"));
    }
    match format {
        HistoryFormat::Text if rows.is_empty() => Ok(()),
        HistoryFormat::Text => super::output(&history::text(&rows)),
        HistoryFormat::Json => super::output(&history::json(&rows)),
        HistoryFormat::Html => super::output(&history::html::render(&rows, &what)),
    }
}
