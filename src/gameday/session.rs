//! The session stage: the run's directory, its lock (held until the run ends) and its
//! journal, opened with `RunStarted` before any side effect.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use super::{Cleared, Error};
use crate::state::journal::{Entry, Journal, Sink};
use crate::state::{Lock, RunDir, StateDir};
use crate::util::console::Console;

/// A run that exists on disk: nothing is touched yet.
pub struct Session {
    pub run: RunDir,
    pub journal: Arc<Journal>,
    pub started_at: SystemTime,
    /// The scenario file as the operator named it.
    pub scenario_file: String,
    /// Held while the run goes on: `runs`, `note` and `recover` see the run as live.
    _lock: Lock,
}

/// Creates the run directory, locks it and journals `RunStarted`.
pub async fn open(state: &StateDir, cleared: &Cleared, file: &Path) -> Result<Session, Error> {
    let s = &cleared.drill.loaded.scenario;
    let run = state.create_run(&s.name).map_err(|e| Error::Failed(format!("cannot create the run directory: {e}")))?;
    let lock = lock_new_run(&run)
        .await
        .map_err(|e| Error::Failed(format!("cannot lock {}: {e}; nothing was touched", run.location())))?;
    let journal = Arc::new(run.journal().map_err(|e| Error::Failed(e.to_string()))?);
    let started_at = SystemTime::now();
    let scenario_file = file.display().to_string();
    journal
        .append(Entry::RunStarted {
            run_id: run.id.clone(),
            scenario: s.name.clone(),
            scenario_file: scenario_file.clone(),
            pid: std::process::id(),
        })
        .map_err(|e| Error::Failed(format!("cannot write the journal, nothing was injected: {e}")))?;
    Ok(Session { run, journal, started_at, scenario_file, _lock: lock })
}

/// Says which run this is and where its state is, as soon as it exists and before anything
/// is touched: a job killed mid-run (a cancelled CI job, SIGKILL) has already logged what
/// `firedrill recover` and `firedrill report` need. With `--log-format json` it is the
/// `run_started` event, with `run_id`, `run_dir` and `state` (where the run's truth is:
/// its S3 URL with `--state s3://…`, else its folder).
pub fn announce(shell: &Console, session: &Session) {
    let (id, dir, state) = (&session.run.id, session.run.path.display().to_string(), session.run.location());
    let text = if session.run.remote.is_some() {
        format!("run {id} in {state} (local copy in {dir})")
    } else {
        format!("run {id} in {dir}")
    };
    shell.status_event("Started", text, "run_started", &[("run_id", id), ("run_dir", &dir), ("state", &state)]);
}

/// Takes the lock of a run directory this process just created. Nobody else can own it,
/// but `note`, `runs` or `recover` may be holding it for an instant to see whether the run
/// is live, so a busy lock is retried for a moment before giving up.
async fn lock_new_run(run: &RunDir) -> Result<Lock, String> {
    for _ in 0..50 {
        match run.lock() {
            Ok(Some(l)) => return Ok(l),
            Ok(None) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("another process holds it".into())
}
