//! The game day as a pipeline. The CLI owns the flags, the confirmation prompt and what
//! is printed; everything a run does is here, one stage per function, each taking the
//! previous stage's output:
//!
//! ```text
//! FILE ──load──▶ Drill              scenario + playbook steps, validated (no I/O but reading)
//!      ──prepare──▶ Prepared        AWS connected, targets resolved read-only, guards and
//!                                   every fault's preflight run (`plan` stops here)
//!      ──clear──▶ Cleared           no guard refused (`run` asks for confirmation here)
//!      ──session::open──▶ Session   run directory, its lock, the journal with RunStarted
//!      ──lease::take──▶ Leased      the faults' AWS resources tagged for this run, read back
//!      ──execute──▶ Executed        the engine's record (every fault reverted or listed);
//!                                   playbook and notifications alongside; lease released
//!      ──report::finish──▶ RunRecord   report.{md,json,...} on disk
//! ```
//!
//! [`run`] chains the stages after `clear`. Every stage that can fail returns an
//! [`Error`]; the exit code of each is decided in one place, [`Error::exit`].
//!
//! The layers around this pipeline: ARCHITECTURE.md.

mod error;
pub mod execute;
pub mod lease;
mod names;
pub mod prepare;
pub mod report;
pub mod session;

use std::path::Path;
use std::sync::Arc;

pub use error::{Error, Exit, verdict};
pub use execute::{Executed, Options};
pub use prepare::{Cleared, Connected, Drill, Prepared, load, prepare};
pub use session::Session;

use crate::engine::RunRecord;
use crate::state::StateDir;
use crate::util::console::Console;

/// A game day that ended: its record, and its session (the run directory stays locked
/// until this is dropped).
pub struct Finished {
    pub record: RunRecord,
    pub session: Session,
}

/// Runs a cleared drill: session, lease, execute, report.
pub async fn run(
    shell: &Arc<Console>,
    state: &StateDir,
    cleared: Cleared,
    file: &Path,
    options: Options,
) -> Result<Finished, Error> {
    let session = session::open(state, &cleared, file).await?;
    session::announce(shell, &session);
    // Lease the AWS resources before anything else touches them.
    let lease = match &cleared.aws {
        Some(connected) => {
            let s = &cleared.drill.loaded.scenario;
            lease::take(shell, connected, s, &session.run.id, &session.journal).await?
        }
        None => None,
    };
    let executed = execute::execute(shell, &cleared, &session, lease.as_ref(), options).await;
    let record = report::finish(shell, &cleared, &session, executed).await;
    Ok(Finished { record, session })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The scenario model stays a leaf of the pipeline: it never imports what sends
    /// notifications or runs playbooks (their configuration is part of the model; the
    /// playbook is loaded by the load stage).
    #[test]
    fn the_scenario_model_imports_neither_notify_nor_playbook() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/scenario");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for upper in ["crate::notify", "crate::playbook", "crate::gameday", "crate::cli"] {
                assert!(!text.contains(upper), "{} imports {upper}", path.display());
            }
            read += 1;
        }
        assert!(read >= 5, "{read} files in {}", dir.display());
    }
}
