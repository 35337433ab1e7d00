//! `firedrill history [--scenario NAME] [--format text|json|html]`: every run, oldest first,
//! read from each run's `report.json` (or journal); see [`crate::history`].

use super::{Exit, HistoryFormat};
use crate::history;
use crate::shell::Shell;
use crate::state::StateDir;

pub fn history(shell: &Shell, state: &StateDir, scenario: Option<&str>, format: HistoryFormat) -> Exit {
    let rows = match history::load(state, scenario) {
        Ok(r) => r,
        Err(e) => {
            shell.error(e);
            return Exit::Error;
        }
    };
    for r in rows.iter().filter(|r| r.outcome == "unreadable") {
        shell.warn(format!("{}: {}", r.run_id, r.detail.as_deref().unwrap_or("unreadable")));
    }
    let what = history::describe(&state.runs(), scenario);
    if rows.is_empty() {
        shell.status("History", format!("no {what}"));
    }
    match format {
        HistoryFormat::Text if rows.is_empty() => Exit::Ok,
        HistoryFormat::Text => super::output(shell, &history::text(&rows)),
        HistoryFormat::Json => super::output(shell, &history::json(&rows)),
        HistoryFormat::Html => super::output(shell, &history::html::render(&rows, &what)),
    }
}
