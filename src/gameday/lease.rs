//! The lease stage: before any fault, the AWS resources the faults act on are leased
//! (journaled, tagged, read back), and released once every fault is reverted.
//!
//! [`release`] repeats the revert bookkeeping the engine does for faults (retries, the
//! journal's `Reverted`/`RevertFailed`, `still_broken`); it is the one function to replace
//! once the engine can hold a resource for the run itself.

use std::time::SystemTime;

use super::{Connected, Error};
use crate::engine::{Outcome, RevertPolicy, RunRecord, Undoer};
use crate::journal::{Entry, Journal, Sink};
use crate::lease::Leased;
use crate::shell::Shell;

/// The journal's name for the lease step (step 0, before every fault's steps).
pub const LEASE: &str = "(lease)";

/// Leases the resources the faults act on: journaled, tagged, then read back; if another
/// run leased any of them too, this one releases its lease and stops ([`Error::Refused`]).
/// `None`: nothing to lease.
pub async fn take(
    shell: &Shell,
    (aws, res): &Connected,
    s: &crate::scenario::Scenario,
    run_id: &str,
    journal: &Journal,
) -> Result<Option<Leased>, Error> {
    let lease = Leased::new(s, res, run_id);
    if lease.is_empty() {
        return Ok(None);
    }
    let undo = lease.undo_record();
    if let Err(e) = journal.append(Entry::Intent { step: 0, fault: LEASE.into(), undo: undo.clone() }) {
        return Err(Error::Failed(format!("cannot write the journal, nothing was touched: {e}")));
    }
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let verdict = match lease.acquire(aws, &now).await {
        Err(e) => Err(format!("cannot lease the targets: {e}")),
        Ok(()) => match lease.read_back(aws).await {
            Err(e) => Err(format!("cannot read the lease back: {e}")),
            Ok(now) => lease.contested(&now, run_id),
        },
    };
    match verdict {
        Ok(()) => {
            shell.status("Leased", format!("{} resource(s) as {}", lease.count(), lease.key));
            Ok(Some(lease))
        }
        Err(why) => {
            shell.error(format!("refused: {why}; nothing was injected"));
            match crate::lease::release(aws, &undo.data).await {
                Ok(()) => {
                    let _ = journal.append(Entry::Reverted { step: 0, fault: LEASE.into(), by: "run".into() });
                }
                Err(e) => shell.warn(format!("could not release this run's lease ({e}); `firedrill recover` will")),
            }
            let _ = journal.append(Entry::RunFinished { outcome: "refused".into() });
            Err(Error::Refused(Vec::new()))
        }
    }
}

/// LEASE RELEASE (to be handed to the engine's hold). Releases the lease once every fault
/// is reverted; after a failed revert keeps it, so no other run touches a resource that is
/// still broken (`recover` releases it). The lease is a side effect like any other:
/// retried like a revert, and if it cannot be undone the run is `revert_failed`, listing
/// the tag and the command that removes it.
pub async fn release(
    shell: &Shell,
    lease: &Leased,
    undoer: &dyn Undoer,
    policy: &RevertPolicy,
    journal: &Journal,
    record: &mut RunRecord,
) {
    if record.outcome == Outcome::RevertFailed {
        return;
    }
    let undo = lease.undo_record();
    let retry =
        |attempt: u32, e: &str| shell.warn(format!("releasing the lease, attempt {attempt} failed: {e}; retrying"));
    match crate::engine::revert_with_retries(undoer, &undo, policy, retry).await {
        Ok(_) => {
            let _ = journal.append(Entry::Reverted { step: 0, fault: LEASE.into(), by: "run".into() });
        }
        Err((error, attempts)) => {
            shell.error(format!("could not release the lease: {error}"));
            let entry = Entry::RevertFailed { step: 0, fault: LEASE.into(), error: error.clone(), attempts };
            let _ = journal.append(entry);
            record.outcome = Outcome::RevertFailed;
            record.still_broken.push(crate::engine::record::StillBroken {
                fault: LEASE.into(),
                step: 0,
                description: undo.description,
                kind: undo.kind,
                data: undo.data,
                error,
            });
        }
    }
}
