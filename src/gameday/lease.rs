//! The lease stage: before any fault, the AWS resources the faults act on are leased
//! (journaled, tagged, read back). The lease is then handed to the engine as a hold
//! ([`crate::engine::Hold`]): released after the last revert with the same retries,
//! journal entries and still-broken bookkeeping as a fault, and kept while a fault is
//! still broken so no other run touches it (`recover` releases it then).

use std::time::SystemTime;

use super::{Connected, Error};
use crate::lease::Leased;
use crate::state::journal::{Entry, Journal, Sink};
use crate::util::console::Console;

/// The journal's name for the lease step (step 0, before every fault's steps).
pub const LEASE: &str = "(lease)";

/// Leases the resources the faults act on: journaled, tagged, then read back; if another
/// run leased any of them too, this one releases its lease and stops ([`Error::Refused`]).
/// `None`: nothing to lease.
pub async fn take(
    shell: &Console,
    (aws, res): &Connected,
    s: &crate::scenario::Scenario,
    run_id: &str,
    journal: &Journal,
) -> Result<Option<Leased>, Error> {
    let opt_in_tag = s.environment.as_ref().map(|e| e.opt_in_tag.clone());
    let lease = Leased::new(crate::faults::lease_resources(s, res), res, opt_in_tag, run_id);
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
            match crate::lease::release(aws, &lease).await {
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
