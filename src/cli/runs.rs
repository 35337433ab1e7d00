//! `firedrill runs`: every run with its outcome; crashed runs show what is still injected.

use super::Error;
use crate::report::markdown::duration;
use crate::state::StateDir;
use crate::state::journal::Entry;
use crate::util::console::Console;

pub fn runs(shell: &Console, state: &StateDir) -> Result<(), Error> {
    let runs = state.list().map_err(|e| Error::Failed(e.to_string()))?;
    if runs.is_empty() {
        shell.status("Runs", format!("none in {}", state.location()));
        return Ok(());
    }
    let mut out = format!("{:<48} {:<18} {:>10} {:>10}\n", "RUN", "OUTCOME", "RECOVERED", "OBJECTIVE");
    for run in runs {
        let (outcome, ttr, objective) = match crate::report::read(&run.path) {
            Ok(r) => (
                r.outcome.as_str().to_string(),
                r.time_to_recover_ms.map_or("-".to_string(), duration),
                match r.objective {
                    crate::engine::ObjectiveKind::Recover => duration(r.objective_ms),
                    crate::engine::ObjectiveKind::Sustain => "sustain".into(),
                },
            ),
            Err(_) => {
                let live = run.is_live().unwrap_or(false);
                // A journal that cannot be read says nothing about what is still injected.
                let entries = match run.entries() {
                    Ok(e) => e,
                    Err(e) => {
                        let status = if live { "running" } else { "journal unreadable" };
                        println!("{:<48} {:<18} {:>10} {:>10}", run.id, status, "-", "-");
                        shell.warn(format!("{}: {e}", run.id));
                        continue;
                    }
                };
                let pending = crate::state::journal::pending(&entries).len();
                let finished = entries.iter().any(|e| matches!(e, Entry::RunFinished { .. }));
                let status = match (live, finished, pending) {
                    (true, _, _) => "running".to_string(),
                    (_, _, 0) if finished => "finished".to_string(),
                    (_, _, 0) => "crashed, recovered".to_string(),
                    (_, _, n) => format!("crashed, {n} injected"),
                };
                (status, "-".into(), "-".into())
            }
        };
        out.push_str(&format!("{:<48} {:<18} {:>10} {:>10}\n", run.id, outcome, ttr, objective));
    }
    super::output(&out)
}
