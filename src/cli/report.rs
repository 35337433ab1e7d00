//! `firedrill report RUN [--format md|json|junit|html]`: re-render a run's report to stdout,
//! with the run's notes as `notes.jsonl` holds them now.

use super::{Error, ReportFormat};
use crate::report::{self, Format};
use crate::state::StateDir;
use crate::util::console::Console;

pub fn report(shell: &Console, state: &StateDir, run: &str, format: ReportFormat) -> Result<(), Error> {
    let dir = state.find(run).map_err(|e| Error::Usage(e.to_string()))?;
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
            super::output(&report::render(&r, f))
        }
        Err(e) => {
            Err(Error::Usage(format!("{}: no report ({e}); a crashed run has none — see `firedrill runs`", dir.id)))
        }
    }
}
