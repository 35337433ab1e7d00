//! `firedrill report RUN [--format md|json|junit|html]`: re-render a run's report to stdout,
//! with the run's notes as `notes.jsonl` holds them now.

use super::{Exit, ReportFormat};
use crate::report::{self, Format};
use crate::shell::Shell;
use crate::state::StateDir;

pub fn report(shell: &Shell, state: &StateDir, run: &str, format: ReportFormat) -> Exit {
    let dir = match state.find(run) {
        Ok(d) => d,
        Err(e) => {
            shell.error(e);
            return Exit::Invalid;
        }
    };
    match report::read(&dir.path) {
        Ok(r) => {
            // Notes added since the report was written (post-mortem ones too) show as well.
            let (r, warning) = report::attach_notes(r, &dir.path);
            if let Some(w) = warning {
                shell.warn(w);
            }
            let f = match format {
                ReportFormat::Md => Format::Md,
                ReportFormat::Json => Format::Json,
                ReportFormat::Junit => Format::Junit,
                ReportFormat::Html => Format::Html,
            };
            super::output(shell, &report::render(&r, f))
        }
        Err(e) => {
            shell.error(format!("{}: no report ({e}); a crashed run has none — see `firedrill runs`", dir.id));
            Exit::Invalid
        }
    }
}
