//! `firedrill recover`: reverts every side effect a run journaled but never reverted —
//! after a crash, SIGKILL or power loss — from the journal alone. Safe to run twice: a
//! step is marked `reverted` in the journal once undone, and undo itself is idempotent.

use crate::engine::{RevertPolicy, Undoer, revert_with_retries};
use crate::journal::{self, Entry, Journal, Sink};
use crate::state::{RunDir, StateError};

/// What recovering one run did.
#[derive(Debug, Default)]
pub struct Recovered {
    pub run: String,
    /// The run is still going (it holds its lock): left alone.
    pub live: bool,
    /// Descriptions of the steps undone, newest first.
    pub reverted: Vec<String>,
    /// Steps that could not be undone, with the error.
    pub failed: Vec<(String, String)>,
}

/// Steps of `run` that are not known to be reverted.
pub fn pending(run: &RunDir) -> Result<Vec<journal::Pending>, StateError> {
    Ok(journal::pending(&run.entries()?))
}

pub async fn recover(
    run: &RunDir,
    undoer: &dyn Undoer,
    policy: &RevertPolicy,
    mut on_step: impl FnMut(&journal::Pending),
) -> Result<Recovered, StateError> {
    let mut out = Recovered { run: run.id.clone(), ..Default::default() };
    let Some(_lock) = run.lock()? else {
        out.live = true;
        return Ok(out);
    };
    let mut steps = pending(run)?;
    if steps.is_empty() {
        return Ok(out);
    }
    steps.reverse();
    let journal = Journal::open(&run.path)?;
    for step in steps {
        on_step(&step);
        match revert_with_retries(undoer, &step.undo, policy, |_, _| {}).await {
            Ok(_) => {
                journal.append(Entry::Reverted { step: step.step, fault: step.fault.clone(), by: "recover".into() })?;
                out.reverted.push(format!("{}: {}", step.fault, step.undo.description));
            }
            Err((error, attempts)) => {
                journal.append(Entry::RevertFailed {
                    step: step.step,
                    fault: step.fault.clone(),
                    error: error.clone(),
                    attempts,
                })?;
                out.failed.push((format!("{}: {}", step.fault, step.undo.description), error));
            }
        }
    }
    Ok(out)
}
