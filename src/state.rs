//! The state directory (`--state-dir`, default `.firedrill`): one folder per run under
//! `runs/<run id>/` holding the journal, a copy of the scenario, the reports and a lock
//! file that a live run holds so `recover` never touches a run that is still going.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::journal::{self, Entry, Journal};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no run `{0}` in {1}")]
    NoSuchRun(String, PathBuf),
    #[error("no runs in {0}")]
    NoRuns(PathBuf),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
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
        fs::create_dir_all(&runs).map_err(io(&runs))?;
        let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string().replace(['-', ':'], "");
        let stamp = stamp.trim_end_matches('Z');
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xffff;
        let id = format!("{stamp}Z-{scenario}-{salt:04x}");
        let path = runs.join(&id);
        fs::create_dir(&path).map_err(io(&path))?;
        Ok(RunDir { id, path })
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
        let matches: Vec<RunDir> = all.into_iter().filter(|r| r.id.starts_with(run) || r.id.contains(run)).collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().unwrap_or_else(|| unreachable!())),
            _ => Err(StateError::NoSuchRun(run.to_string(), self.runs())),
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
