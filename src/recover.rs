//! `firedrill recover`: reverts every side effect a run journaled but never reverted —
//! after a crash, SIGKILL or power loss — from the journal alone. Safe to run twice: a
//! step is marked `reverted` in the journal once undone, and undo itself is idempotent.
//!
//! What it acts on, and how:
//! - every readable entry counts: a torn line (the run died mid-write) is skipped, and an
//!   unreadable line elsewhere is reported (it might have held a step) but never stops the
//!   other steps from being reverted;
//! - a step whose intent lacks this installation's MAC ([`crate::state::trust`]) is *untrusted*:
//!   it is reverted only with the operator's consent for that run, else listed with the
//!   exact command or call and left for a human;
//! - before reverting a step whose command may still be running (its process group was
//!   journaled), what is left of that group is killed;
//! - a run whose lock is held is left alone: by the live run, or by another recover.

use crate::engine::{RevertPolicy, Undoer, revert_with_retries};
use crate::state::journal::{self, Entry, Pending, Sink};
use crate::state::trust::Key;
use crate::state::{Holder, RunDir, StateError};
use crate::util::sh::Survivors;

/// What is left to do in one run, read from its journal.
#[derive(Debug, Default)]
pub struct Inspection {
    /// Steps not known to be reverted, oldest first.
    pub pending: Vec<Pending>,
    /// Unreadable lines (1-based) and why.
    pub damaged: Vec<(usize, String)>,
    /// Whether a previous recover already reported every one of those lines.
    pub damage_reported: bool,
}

impl Inspection {
    pub fn is_clean(&self) -> bool {
        self.pending.is_empty() && self.damaged.is_empty()
    }

    /// The pending steps without a valid MAC.
    pub fn untrusted(&self) -> Vec<&Pending> {
        self.pending.iter().filter(|p| !p.trusted).collect()
    }
}

/// Reads what is left to do in `run`, checking the intents' MACs with `key`.
pub fn inspect(run: &RunDir, key: Option<&Key>) -> Result<Inspection, StateError> {
    let c = journal::read_contents(&run.journal_path())?;
    let reported: Vec<usize> = c
        .records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::DamageReported { lines } => Some(lines.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let damage_reported = c.damaged.iter().all(|(n, _)| reported.contains(n));
    Ok(Inspection { pending: journal::pending_checked(&c.records, &run.id, key), damaged: c.damaged, damage_reported })
}

/// What recovering one run did.
#[derive(Debug, Default)]
pub struct Recovered {
    pub run: String,
    /// The run is still going (it holds its lock): left alone.
    pub live: bool,
    /// Another `firedrill recover` (this pid) is reverting the run: left alone.
    pub busy: Option<String>,
    /// Descriptions of the steps undone, newest first.
    pub reverted: Vec<String>,
    /// Steps that could not be undone, with the error.
    pub failed: Vec<(String, String)>,
    /// Untrusted steps left alone for lack of consent.
    pub untrusted: Vec<Pending>,
    /// Unreadable journal lines, and whether they were reported before.
    pub damaged: Vec<(usize, String)>,
    pub damage_reported: bool,
    /// Process groups of the run's commands that were still running and were killed:
    /// (step, processes).
    pub killed: Vec<(u64, usize)>,
}

/// Reverts what `run` left injected. `consent` is asked (once, with the untrusted steps)
/// whether to revert the steps this installation did not journal; `on_step` is told of
/// each step before it is reverted.
pub async fn recover(
    run: &RunDir,
    undoer: &dyn Undoer,
    policy: &RevertPolicy,
    key: Option<&Key>,
    consent: impl FnOnce(&[&Pending]) -> bool,
    mut on_step: impl FnMut(&Pending),
) -> Result<Recovered, StateError> {
    let mut out = Recovered { run: run.id.clone(), ..Default::default() };
    let _lock = match run.lock_for_recover()? {
        Ok(lock) => lock,
        Err(Holder::Run) => {
            out.live = true;
            return Ok(out);
        }
        Err(Holder::Recover(pid)) => {
            out.busy = Some(pid);
            return Ok(out);
        }
    };
    // Read under the lock: what another recover did before is in the journal now.
    run.refresh()?;
    let found = inspect(run, key)?;
    out.damaged = found.damaged.clone();
    out.damage_reported = found.damage_reported;
    if found.pending.is_empty() && found.damaged.is_empty() {
        return Ok(out);
    }
    let untrusted = found.untrusted();
    let trusted_all = untrusted.is_empty() || consent(&untrusted);
    let mut steps = found.pending;
    steps.reverse();
    let journal = run.journal()?;
    if !found.damaged.is_empty() && !found.damage_reported {
        journal.append(Entry::DamageReported { lines: found.damaged.iter().map(|d| d.0).collect() })?;
    }
    for step in steps {
        if !step.trusted && !trusted_all {
            out.untrusted.push(step);
            continue;
        }
        // A command that outlived firedrill must not finish its inject after the revert.
        if let Some(pgid) = step.pgid
            && let Survivors::Killed(n) = crate::util::sh::kill_run_group(pgid, &run.id).await
        {
            out.killed.push((step.step, n));
        }
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
