//! `firedrill report RUN [--format md|json|junit|html]`: re-render a run's report to stdout.

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
            let f = match format {
                ReportFormat::Md => Format::Md,
                ReportFormat::Json => Format::Json,
                ReportFormat::Junit => Format::Junit,
                ReportFormat::Html => Format::Html,
            };
            print!("{}", report::render(&r, f));
            Exit::Ok
        }
        Err(e) => {
            shell.error(format!("{}: no report ({e}); a crashed run has none — see `firedrill runs`", dir.id));
            Exit::Invalid
        }
    }
}
