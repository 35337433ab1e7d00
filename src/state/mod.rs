//! The state directory (`--state-dir`, default `.firedrill`): one folder per run under
//! `runs/<run id>/` holding the journal, a copy of the scenario, the reports and a lock
//! file that a live run holds so `recover` never touches a run that is still going.
//! [`journal`] is the write-ahead journal of one run and [`trust`] the key that
//! authenticates what a journal asks `recover` to run.

pub mod journal;
pub mod trust;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use journal::{Entry, Journal};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no run `{0}` in {1}")]
    NoSuchRun(String, PathBuf),
    #[error("`{0}` matches {n} runs: {list}; give more of the run id", n = .1.len(), list = .1.join(", "))]
    Ambiguous(String, Vec<String>),
    #[error(
        "state directory {path} is a symbolic link to {target}, which does not exist: create it, or point --state-dir elsewhere"
    )]
    DanglingLink { path: PathBuf, target: PathBuf },
    #[error("state directory {0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("no runs in {0}")]
    NoRuns(PathBuf),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
}

/// What a `recover` writes into the lock file it holds.
const RECOVER_MARK: &str = "recover";

/// Who holds a run's lock.
#[derive(Debug, PartialEq, Eq)]
pub enum Holder {
    /// The run itself, still going.
    Run,
    /// A `firedrill recover` (its pid) reverting it right now.
    Recover(String),
}

pub struct StateDir {
    root: PathBuf,
}

/// One run's folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into() }
    }

    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// Creates `runs/<id>/` for a new run of `scenario`; the id sorts by start time.
    pub fn create_run(&self, scenario: &str) -> Result<RunDir, StateError> {
        let runs = self.runs();
        if let Err(e) = fs::create_dir_all(&runs) {
            return Err(self.explain().unwrap_or(StateError::Io { path: runs, source: e }));
        }
        let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string().replace(['-', ':'], "");
        let stamp = stamp.trim_end_matches('Z');
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xffff;
        let id = format!("{stamp}Z-{scenario}-{salt:04x}");
        let path = runs.join(&id);
        fs::create_dir(&path).map_err(io(&path))?;
        Ok(RunDir { id, path })
    }

    /// Why the state directory (or `runs/` in it) cannot be a directory, in the user's
    /// terms, when a link or a file is in the way.
    fn explain(&self) -> Option<StateError> {
        for path in [self.root.clone(), self.runs()] {
            let Ok(meta) = fs::symlink_metadata(&path) else { return None };
            if meta.file_type().is_symlink() && fs::metadata(&path).is_err() {
                let target = fs::read_link(&path).unwrap_or_default();
                return Some(StateError::DanglingLink { path, target });
            }
            if !path.is_dir() {
                return Some(StateError::NotADirectory(path));
            }
        }
        None
    }

    /// Every run folder, oldest first.
    pub fn list(&self) -> Result<Vec<RunDir>, StateError> {
        let runs = self.runs();
        let mut out = Vec::new();
        let entries = match fs::read_dir(&runs) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StateError::Io { path: runs, source: e }),
        };
        for e in entries.flatten() {
            if e.path().join(Journal::FILE).is_file() {
                out.push(RunDir { id: e.file_name().to_string_lossy().into_owned(), path: e.path() });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The runs whose lock is held by a live `firedrill run`, oldest first.
    pub fn live(&self) -> Result<Vec<RunDir>, StateError> {
        let mut out = Vec::new();
        for run in self.list()? {
            if run.is_live()? {
                out.push(run);
            }
        }
        Ok(out)
    }

    /// A run by id, unique id prefix, `latest`, or path to its folder.
    pub fn find(&self, run: &str) -> Result<RunDir, StateError> {
        let p = Path::new(run);
        if p.join(Journal::FILE).is_file() {
            let id = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            return Ok(RunDir { id, path: p.to_path_buf() });
        }
        let all = self.list()?;
        if run == "latest" {
            return all.into_iter().last().ok_or_else(|| StateError::NoRuns(self.runs()));
        }
        if let Some(exact) = all.iter().find(|r| r.id == run) {
            return Ok(exact.clone());
        }
        let matches: Vec<RunDir> = all.into_iter().filter(|r| r.id.starts_with(run) || r.id.contains(run)).collect();
        match matches.len() {
            0 => Err(self.explain().unwrap_or_else(|| StateError::NoSuchRun(run.to_string(), self.runs()))),
            1 => Ok(matches.into_iter().next().unwrap_or_else(|| unreachable!())),
            _ => Err(StateError::Ambiguous(run.to_string(), matches.into_iter().map(|r| r.id).collect())),
        }
    }
}

impl RunDir {
    pub const LOCK: &'static str = "run.lock";

    /// Takes the run's exclusive lock (held by the live run; released by the OS if it dies).
    pub fn lock(&self) -> Result<Option<File>, StateError> {
        let path = self.path.join(Self::LOCK);
        let f = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(StateError::Io { path, source: e }),
        }
    }

    /// Takes the run's lock for `recover`, and marks it as held by this recover, so that
    /// another recover can tell it from a live run.
    pub fn lock_for_recover(&self) -> Result<Result<File, Holder>, StateError> {
        let path = self.path.join(Self::LOCK);
        let Some(mut f) = self.lock()? else {
            return Ok(Err(self.holder()));
        };
        use std::io::Write;
        f.set_len(0)
            .and_then(|_| f.write_all(format!("{RECOVER_MARK} {}\n", std::process::id()).as_bytes()))
            .map_err(io(&path))?;
        Ok(Ok(f))
    }

    /// Who holds the lock (only meaningful while it is held).
    pub fn holder(&self) -> Holder {
        let path = self.path.join(Self::LOCK);
        // The holder writes its mark just after taking the lock: look twice.
        for _ in 0..2 {
            let text = fs::read_to_string(&path).unwrap_or_default();
            if let Some(pid) = text.strip_prefix(RECOVER_MARK) {
                return Holder::Recover(pid.trim().to_string());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Holder::Run
    }

    /// Whether a live run holds this run's lock. Unlike [`RunDir::lock`] it never creates
    /// the lock file, and it holds the lock only for the instant of the check when free.
    pub fn is_live(&self) -> Result<bool, StateError> {
        let path = self.path.join(Self::LOCK);
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StateError::Io { path, source: e }),
        };
        match f.try_lock() {
            Ok(()) => Ok(false),
            Err(std::fs::TryLockError::WouldBlock) => Ok(true),
            Err(std::fs::TryLockError::Error(e)) => Err(StateError::Io { path, source: e }),
        }
    }

    pub fn journal_path(&self) -> PathBuf {
        self.path.join(Journal::FILE)
    }

    pub fn entries(&self) -> Result<Vec<Entry>, StateError> {
        Ok(journal::read(&self.journal_path())?)
    }

    /// The journal's entries with the wall-clock time each was written (RFC 3339).
    pub fn timed_entries(&self) -> Result<Vec<(String, Entry)>, StateError> {
        Ok(journal::read_timed(&self.journal_path())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(ids: &[&str]) -> (tempfile::TempDir, StateDir) {
        let dir = tempfile::tempdir().unwrap();
        for id in ids {
            let run = dir.path().join("runs").join(id);
            fs::create_dir_all(&run).unwrap();
            fs::write(run.join(Journal::FILE), "").unwrap();
        }
        let state = StateDir::new(dir.path());
        (dir, state)
    }

    #[test]
    fn an_ambiguous_run_names_its_candidates() {
        let (_d, state) =
            state_with(&["20261201T100000Z-web-0001", "20261201T110000Z-web-0002", "20261201T120000Z-db-0003"]);
        let err = state.find("web").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`web` matches 2 runs: 20261201T100000Z-web-0001, 20261201T110000Z-web-0002; give more of the run id"
        );
        assert_eq!(state.find("0002").unwrap().id, "20261201T110000Z-web-0002");
        assert!(matches!(state.find("nothing"), Err(StateError::NoSuchRun(..))));
    }

    #[test]
    fn an_id_that_is_also_a_prefix_of_another_is_found_exactly() {
        let (_d, state) = state_with(&["20261201T100000Z-web-0001", "20261201T100000Z-web-0001b"]);
        assert_eq!(state.find("20261201T100000Z-web-0001").unwrap().id, "20261201T100000Z-web-0001");
    }

    #[test]
    fn a_dangling_link_as_state_dir_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("state");
        std::os::unix::fs::symlink(dir.path().join("gone"), &link).unwrap();
        let err = StateDir::new(&link).create_run("web").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("is a symbolic link to") && msg.contains("gone, which does not exist"), "{msg}");
        assert!(!msg.contains("os error"), "{msg}");
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let err = StateDir::new(&file).create_run("web").unwrap_err();
        assert!(err.to_string().ends_with("is not a directory"), "{err}");
    }

    #[test]
    fn a_second_recover_sees_the_first() {
        let (_d, state) = state_with(&["r1"]);
        let run = state.find("r1").unwrap();
        let first = run.lock_for_recover().unwrap().expect("free");
        assert_eq!(run.lock_for_recover().unwrap().err(), Some(Holder::Recover(std::process::id().to_string())));
        drop(first);
        assert!(run.lock_for_recover().unwrap().is_ok());
        // A live run's lock is told apart from a recover's.
        let run2 = RunDir { id: "r2".into(), path: _d.path().join("runs/r1") };
        fs::write(run2.path.join(RunDir::LOCK), "").unwrap();
        let held = run2.lock().unwrap().expect("free");
        assert_eq!(run2.lock_for_recover().unwrap().err(), Some(Holder::Run));
        drop(held);
    }
}
