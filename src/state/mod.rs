//! The state directory (`--state-dir`, default `.firedrill`): one folder per run under
//! `runs/<run id>/` holding the journal, a copy of the scenario, the reports and a lock
//! file that a live run holds so `recover` never touches a run that is still going.
//! [`journal`] is the write-ahead journal of one run and [`trust`] the key that
//! authenticates what a journal asks `recover` to run.
//!
//! With `--state s3://BUCKET/PREFIX` ([`remote`]) the same layout lives in S3, which is
//! then the truth, and the state directory is its local cache: [`StateDir::list`] (and so
//! `find`) fetches what the bucket holds first, the journal writes each entry to S3 before
//! it returns, and a run's lock is an S3 object with a heartbeat. Both backends have the
//! one interface below ([`StateDir`], [`RunDir`], [`Lock`]).

pub mod journal;
pub mod remote;
pub mod trust;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use journal::{Entry, Journal};
use remote::{Remote, RemoteLock};

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
    #[error("{what}: {source}")]
    Remote { what: String, source: crate::aws::AwsError },
    /// A conditional write to S3 found the object already there (or changed).
    #[error("{0}")]
    Conflict(String),
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
    /// S3 state: the truth, with `root` as its cache.
    remote: Option<Arc<Remote>>,
}

/// One run's folder (with S3 state: its local copy).
#[derive(Clone, Debug)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
    /// S3 state, where the run's truth lives.
    pub remote: Option<Arc<Remote>>,
}

/// A run's lock, held until dropped: a locked file, or an S3 lock with its heartbeat.
#[derive(Debug)]
pub struct Lock {
    _held: LockKind,
}

/// Held only for what dropping it does (unlock, or stop the heartbeat and delete).
#[derive(Debug)]
#[allow(dead_code)]
enum LockKind {
    File(File),
    Remote(RemoteLock),
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into(), remote: None }
    }

    /// State in S3, cached in `cache`.
    pub fn with_remote(cache: impl Into<PathBuf>, remote: Arc<Remote>) -> Self {
        StateDir { root: cache.into(), remote: Some(remote) }
    }

    /// The S3 store, when the state is in S3.
    pub fn remote(&self) -> Option<&Arc<Remote>> {
        self.remote.as_ref()
    }

    /// Where the runs are, for people: the S3 URL, or the local folder.
    pub fn location(&self) -> String {
        match &self.remote {
            Some(r) => r.url(),
            None => self.root.display().to_string(),
        }
    }

    /// The `runs/` of [`StateDir::location`], for messages.
    fn shown_runs(&self) -> PathBuf {
        match &self.remote {
            Some(r) => PathBuf::from(format!("{}/runs", r.url())),
            None => self.runs(),
        }
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
        Ok(RunDir { id, path, remote: self.remote.clone() })
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

    /// Every run folder, oldest first. With S3 state: every run in the bucket, fetched
    /// into the cache first.
    pub fn list(&self) -> Result<Vec<RunDir>, StateError> {
        let runs = self.runs();
        let mut out = Vec::new();
        if let Some(remote) = &self.remote {
            if let Err(e) = fs::create_dir_all(&runs) {
                return Err(self.explain().unwrap_or(StateError::Io { path: runs, source: e }));
            }
            for id in remote.pull_all(&runs)? {
                let path = runs.join(&id);
                if path.join(Journal::FILE).is_file() {
                    out.push(RunDir { id, path, remote: Some(remote.clone()) });
                }
            }
            return Ok(out);
        }
        let entries = match fs::read_dir(&runs) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StateError::Io { path: runs, source: e }),
        };
        for e in entries.flatten() {
            if e.path().join(Journal::FILE).is_file() {
                out.push(RunDir { id: e.file_name().to_string_lossy().into_owned(), path: e.path(), remote: None });
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
        if self.remote.is_none() && p.join(Journal::FILE).is_file() {
            let id = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            return Ok(RunDir { id, path: p.to_path_buf(), remote: None });
        }
        let all = self.list()?;
        if run == "latest" {
            return all.into_iter().last().ok_or_else(|| StateError::NoRuns(self.shown_runs()));
        }
        if let Some(exact) = all.iter().find(|r| r.id == run) {
            return Ok(exact.clone());
        }
        let matches: Vec<RunDir> = all.into_iter().filter(|r| r.id.starts_with(run) || r.id.contains(run)).collect();
        match matches.len() {
            0 => Err(self.explain().unwrap_or_else(|| StateError::NoSuchRun(run.to_string(), self.shown_runs()))),
            1 => Ok(matches.into_iter().next().unwrap_or_else(|| unreachable!())),
            _ => Err(StateError::Ambiguous(run.to_string(), matches.into_iter().map(|r| r.id).collect())),
        }
    }
}

impl RunDir {
    pub const LOCK: &'static str = "run.lock";

    /// Takes the run's exclusive lock (held by the live run; released by the OS if it
    /// dies, or with S3 state, dead once its heartbeat stops: see [`remote`]).
    pub fn lock(&self) -> Result<Option<Lock>, StateError> {
        if let Some(remote) = &self.remote {
            return Ok(remote.lock_run(&self.id)?.map(|l| Lock { _held: LockKind::Remote(l) }));
        }
        Ok(self.lock_file()?.map(|f| Lock { _held: LockKind::File(f) }))
    }

    fn lock_file(&self) -> Result<Option<File>, StateError> {
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
    pub fn lock_for_recover(&self) -> Result<Result<Lock, Holder>, StateError> {
        if let Some(remote) = &self.remote {
            return Ok(remote.lock_for_recover(&self.id)?.map(|l| Lock { _held: LockKind::Remote(l) }));
        }
        let path = self.path.join(Self::LOCK);
        let Some(mut f) = self.lock_file()? else {
            return Ok(Err(self.holder()));
        };
        use std::io::Write;
        f.set_len(0)
            .and_then(|_| f.write_all(format!("{RECOVER_MARK} {}\n", std::process::id()).as_bytes()))
            .map_err(io(&path))?;
        Ok(Ok(Lock { _held: LockKind::File(f) }))
    }

    /// Who holds the lock (only meaningful while it is held).
    pub fn holder(&self) -> Holder {
        if let Some(remote) = &self.remote {
            return remote.holder(&self.id).ok().flatten().unwrap_or(Holder::Run);
        }
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
        if let Some(remote) = &self.remote {
            return Ok(remote.holder(&self.id)? == Some(Holder::Run));
        }
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

    /// Where the run's truth is, for people: its S3 URL, or its folder.
    pub fn location(&self) -> String {
        match &self.remote {
            Some(r) => r.run_url(&self.id),
            None => self.path.display().to_string(),
        }
    }

    /// Where one of the run's files is for whoever reads it elsewhere (a webhook's
    /// receiver): its S3 URL with S3 state, else its absolute path on this machine.
    pub fn file_location(&self, name: &str) -> String {
        match &self.remote {
            Some(r) => format!("{}{name}", r.run_url(&self.id)),
            None => {
                let path = self.path.join(name);
                std::path::absolute(&path).unwrap_or(path).display().to_string()
            }
        }
    }

    /// The journal, open for appending; with S3 state each entry goes to S3 first.
    pub fn journal(&self) -> Result<Journal, StateError> {
        let journal = Journal::open(&self.path)?;
        Ok(match &self.remote {
            Some(remote) => journal.with_remote(remote.clone(), remote.next_seq(&self.id)?),
            None => journal,
        })
    }

    /// Fetches what S3 holds for this run into its folder again (nothing to do locally).
    pub fn refresh(&self) -> Result<(), StateError> {
        match &self.remote {
            Some(remote) => remote.pull_run(&self.path, &self.id),
            None => Ok(()),
        }
    }

    /// Fetches the run's notes from S3 into its folder (nothing to do locally).
    pub fn refresh_notes(&self) -> Result<(), StateError> {
        match &self.remote {
            Some(remote) => remote.pull_notes(&self.path, &self.id),
            None => Ok(()),
        }
    }

    /// Copies the run folder's whole files (reports, the scenario) to S3 (nothing to do
    /// locally).
    pub fn push(&self) -> Result<(), StateError> {
        match &self.remote {
            Some(remote) => remote.push_files(&self.path, &self.id),
            None => Ok(()),
        }
    }

    /// Publishes an observer's note (its `notes.jsonl` line) to S3 (nothing to do locally,
    /// where the note is already in the folder).
    pub fn publish_note(&self, line: &str) -> Result<(), StateError> {
        match &self.remote {
            Some(remote) => remote.put_note(&self.id, line.as_bytes()),
            None => Ok(()),
        }
    }

    pub fn entries(&self) -> Result<Vec<Entry>, StateError> {
        Ok(journal::read(&self.journal_path())?)
    }

    /// The journal's entries with the wall-clock time each was written (RFC 3339).
    pub fn timed_entries(&self) -> Result<Vec<(String, Entry)>, StateError> {
        Ok(journal::read_timed(&self.journal_path())?)
    }
}

/// The start time in a run id (`20261201T103000Z-<scenario>-<salt>`, as
/// [`StateDir::create_run`] makes it); `None` for a run directory named otherwise.
pub fn run_started(id: &str) -> Option<SystemTime> {
    let stamp = id.split('-').next()?;
    let b = stamp.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || digits != 14 {
        return None;
    }
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    );
    humantime::parse_rfc3339(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_id_gives_its_start() {
        let t = run_started("20261201T103000Z-az-failure-00ab").unwrap();
        assert_eq!(humantime::format_rfc3339_seconds(t).to_string(), "2026-12-01T10:30:00Z");
        assert_eq!(run_started("not-a-run"), None);
        assert_eq!(run_started("20261301T103000Z-x"), None);
        // A directory named with other characters where the digits go is no run id (and
        // no panic slicing it).
        assert_eq!(run_started("202é201T103000Z-x"), None);
        assert_eq!(run_started("2026120xT103000Z-x"), None);
    }

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
        let run2 = RunDir { id: "r2".into(), path: _d.path().join("runs/r1"), remote: None };
        fs::write(run2.path.join(RunDir::LOCK), "").unwrap();
        let held = run2.lock().unwrap().expect("free");
        assert_eq!(run2.lock_for_recover().unwrap().err(), Some(Holder::Run));
        drop(held);
    }
}
