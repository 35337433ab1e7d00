//! The run journal: `<state dir>/runs/<run id>/journal.jsonl`, append-only, one JSON
//! object a line, fsynced before `append` returns. Every side effect is preceded by an
//! `intent` entry holding what is needed to undo it, so a crashed run can be reverted by
//! `firedrill recover` from the journal alone. Each intent carries a MAC made with the
//! installation key ([`crate::state::trust`]), so that `recover` can tell the undo records this
//! installation wrote from ones it did not.
//!
//! A process killed mid-write leaves a *torn* line: a prefix of an entry, with no newline.
//! Opening the journal for appending ends such a line first, so the next entry starts on a
//! line of its own; readers skip torn lines (what they held never took effect: an intent
//! is fsynced before its side effect) and report any other unreadable line as damage.
//!
//! With S3 state ([`crate::state::remote`]) each entry is first created as an object of its
//! own in S3 (never overwriting one), then appended to the local file, which is a cache.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::state::remote::Remote;
use crate::state::trust::Key;

/// How to undo one side effect: the fault kind that knows how, a human description, and
/// the kind's own data (commands, resource ids, original values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UndoRecord {
    pub kind: String,
    pub description: String,
    pub data: serde_json::Value,
}

/// One journal entry. `step` numbers a side effect within its run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    RunStarted {
        run_id: String,
        scenario: String,
        scenario_file: String,
        pid: u32,
    },
    /// Written and fsynced before the side effect it describes.
    Intent {
        step: u64,
        fault: String,
        undo: UndoRecord,
    },
    /// The side effect was confirmed.
    Done {
        step: u64,
        fault: String,
    },
    InjectFailed {
        fault: String,
        error: String,
    },
    /// The step was undone, by the run itself or by `recover`.
    Reverted {
        step: u64,
        fault: String,
        by: String,
    },
    RevertFailed {
        step: u64,
        fault: String,
        error: String,
        attempts: u32,
    },
    RunFinished {
        outcome: String,
    },
    /// `recover` reported these unreadable lines (1-based) to the operator; later
    /// recovers still warn about them but no longer fail for them.
    DamageReported {
        lines: Vec<usize>,
    },
    /// The side effect of intent `step` runs as process group `pgid` (a command fault's
    /// inject): `recover` kills what is left of it before reverting.
    ProcessGroup {
        step: u64,
        fault: String,
        pgid: u32,
    },
}

#[derive(Serialize, Deserialize)]
struct Line {
    at: String,
    #[serde(flatten)]
    entry: Entry,
    /// HMAC of an intent with the installation key ([`crate::state::trust`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("journal {path} line {line}: {message}")]
    Corrupt { path: PathBuf, line: usize, message: String },
    /// The entry could not be made durable in S3 (with S3 state).
    #[error("journal: {0}")]
    Remote(String),
}

/// Where the engine writes entries. The file journal fsyncs; tests use [`MemJournal`].
pub trait Sink: Send + Sync {
    fn append(&self, entry: Entry) -> Result<(), JournalError>;
}

/// The append-only journal file.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    /// The run id the intents' MACs name: the run folder's name.
    run_id: String,
    key: Option<Key>,
    /// With S3 state: where each entry goes first, and the next entry's number there.
    remote: Option<(Arc<Remote>, AtomicU64)>,
}

impl Journal {
    pub const FILE: &'static str = "journal.jsonl";

    /// Opens (creating if needed) the journal in `run_dir` for appending; intents are
    /// signed with the installation key. Without a key (none can be made or read) the
    /// journal is still written, and `recover` will ask before acting on it.
    pub fn open(run_dir: &Path) -> Result<Self, JournalError> {
        let key = match Key::installation() {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!(
                    "{e}; journal intents go unsigned and `firedrill recover` will ask before reverting them"
                );
                None
            }
        };
        Self::open_with_key(run_dir, key)
    }

    /// [`Journal::open`] with a given key (or none).
    pub fn open_with_key(run_dir: &Path, key: Option<Key>) -> Result<Self, JournalError> {
        let path = run_dir.join(Self::FILE);
        let io = |source| JournalError::Io { path: path.clone(), source };
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(io)?;
        // A process killed mid-write left a torn last line: end it, so that the next entry
        // does not fuse with it.
        let len = file.metadata().map_err(io)?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1)).and_then(|_| file.read_exact(&mut last)).map_err(io)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").and_then(|_| file.sync_data()).map_err(io)?;
            }
        }
        // Make the new directory entry durable too.
        if let Ok(dir) = File::open(run_dir) {
            let _ = dir.sync_all();
        }
        let run_id = run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Journal { path, file: Mutex::new(file), run_id, key, remote: None })
    }

    /// Makes S3 the truth: each entry is created there as entry `next`, `next + 1`, …
    /// before it is appended to the local file.
    pub fn with_remote(mut self, remote: Arc<Remote>, next: u64) -> Self {
        self.remote = Some((remote, AtomicU64::new(next)));
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Sink for Journal {
    fn append(&self, entry: Entry) -> Result<(), JournalError> {
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mac = match (&entry, &self.key) {
            (Entry::Intent { step, fault, undo }, Some(key)) => Some(key.mac(&self.run_id, *step, fault, undo)),
            _ => None,
        };
        let mut line = serde_json::to_string(&Line { at, entry, mac }).map_err(|e| JournalError::Corrupt {
            path: self.path.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        line.push('\n');
        let io = |source| JournalError::Io { path: self.path.clone(), source };
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        // Under the file's lock, so entries are numbered in the order they are written.
        if let Some((remote, next)) = &self.remote {
            let seq = next.load(Ordering::SeqCst);
            let t0 = std::time::Instant::now();
            if let Err(e) = remote.put_entry(&self.run_id, seq, line.as_bytes()) {
                // Said here too: some entries' callers go on without them (a `reverted`
                // that cannot be journaled is reverted again by `recover`, harmlessly).
                tracing::error!("{e}");
                return Err(JournalError::Remote(e.to_string()));
            }
            tracing::debug!(seq, elapsed_us = t0.elapsed().as_micros() as u64, "journal entry durable in S3");
            next.store(seq + 1, Ordering::SeqCst);
        }
        f.write_all(line.as_bytes()).map_err(io)?;
        f.sync_data().map_err(io)
    }
}

/// Reads a journal: its entries, skipping torn lines; any other unreadable line is an
/// error.
pub fn read(path: &Path) -> Result<Vec<Entry>, JournalError> {
    Ok(read_timed(path)?.into_iter().map(|(_, e)| e).collect())
}

/// Like [`read`], with the wall-clock time (RFC 3339) each entry was written.
pub fn read_timed(path: &Path) -> Result<Vec<(String, Entry)>, JournalError> {
    let c = read_contents(path)?;
    if let Some((line, message)) = c.damaged.into_iter().next() {
        return Err(JournalError::Corrupt { path: path.to_path_buf(), line, message });
    }
    Ok(c.records.into_iter().map(|r| (r.at, r.entry)).collect())
}

/// One readable journal entry.
#[derive(Clone, Debug)]
pub struct Record {
    pub at: String,
    pub entry: Entry,
    pub mac: Option<String>,
}

/// Everything readable in a journal, and what was not.
#[derive(Debug, Default)]
pub struct Contents {
    pub records: Vec<Record>,
    /// Lines cut short by a crash mid-write (1-based): skipped, they never took effect.
    pub torn: Vec<usize>,
    /// Lines that are neither an entry nor a torn write (1-based), and why.
    pub damaged: Vec<(usize, String)>,
}

/// Reads every readable entry of a journal; only failing to read the file is an error.
pub fn read_contents(path: &Path) -> Result<Contents, JournalError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| JournalError::Io { path: path.to_path_buf(), source })?;
    let mut out = Contents::default();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let Ok(l) = std::str::from_utf8(raw) else {
            out.damaged.push((n, "not UTF-8 text".into()));
            continue;
        };
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(l) {
            Ok(line) => out.records.push(Record { at: line.at, entry: line.entry, mac: line.mac }),
            // A prefix of an entry: the writer died mid-line.
            Err(e) if e.classify() == serde_json::error::Category::Eof => out.torn.push(n),
            Err(e) => match salvage(l) {
                // A torn line that an older firedrill appended to without ending it.
                Some(line) => {
                    out.torn.push(n);
                    out.records.push(Record { at: line.at, entry: line.entry, mac: line.mac });
                }
                None => out.damaged.push((n, e.to_string())),
            },
        }
    }
    Ok(out)
}

/// The whole entry that follows a torn prefix on the same line, if there is one.
fn salvage(l: &str) -> Option<Line> {
    l.match_indices("{\"at\":").filter(|(i, _)| *i > 0).find_map(|(i, _)| serde_json::from_str::<Line>(&l[i..]).ok())
}

/// A side effect that was (or may have been) made and is not known to be undone.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub step: u64,
    pub fault: String,
    pub undo: UndoRecord,
    /// Whether the side effect was confirmed (`done`); unconfirmed ones are reverted too.
    pub confirmed: bool,
    /// Whether the intent carries this installation's valid MAC ([`pending_checked`]).
    pub trusted: bool,
    /// The process group the side effect runs as, if it journaled one.
    pub pgid: Option<u32>,
}

/// Intents without a `reverted` entry, oldest first; none is [`Pending::trusted`].
pub fn pending(entries: &[Entry]) -> Vec<Pending> {
    pending_of(entries.iter().map(|e| (e, false)))
}

/// Like [`pending`], marking trusted the intents whose MAC `key` verifies for `run_id`.
pub fn pending_checked(records: &[Record], run_id: &str, key: Option<&Key>) -> Vec<Pending> {
    pending_of(records.iter().map(|r| {
        let trusted = match (&r.entry, key, &r.mac) {
            (Entry::Intent { step, fault, undo }, Some(k), Some(mac)) => k.verify(run_id, *step, fault, undo, mac),
            _ => false,
        };
        (&r.entry, trusted)
    }))
}

fn pending_of<'a>(entries: impl Iterator<Item = (&'a Entry, bool)>) -> Vec<Pending> {
    let mut out: Vec<Pending> = Vec::new();
    for (e, trusted) in entries {
        match e {
            Entry::Intent { step, fault, undo } => out.push(Pending {
                step: *step,
                fault: fault.clone(),
                undo: undo.clone(),
                confirmed: false,
                trusted,
                pgid: None,
            }),
            Entry::ProcessGroup { step, pgid, .. } => {
                if let Some(p) = out.iter_mut().rfind(|p| p.step == *step) {
                    p.pgid = Some(*pgid);
                }
            }
            Entry::Done { step, .. } => {
                if let Some(p) = out.iter_mut().find(|p| p.step == *step) {
                    p.confirmed = true;
                }
            }
            Entry::Reverted { step, .. } => out.retain(|p| p.step != *step),
            _ => {}
        }
    }
    out
}

/// An in-memory journal for tests.
#[derive(Default)]
pub struct MemJournal(pub Mutex<Vec<Entry>>);

impl MemJournal {
    pub fn entries(&self) -> Vec<Entry> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Sink for MemJournal {
    fn append(&self, entry: Entry) -> Result<(), JournalError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn undo(n: u32) -> UndoRecord {
        UndoRecord { kind: "command".into(), description: format!("undo {n}"), data: serde_json::json!({ "n": n }) }
    }

    /// A closed journal holding one intent (step 1 of fault `a`), and its file's path.
    fn one_intent() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        j.append(Entry::Intent { step: 1, fault: "a".into(), undo: undo(1) }).unwrap();
        drop(j);
        let path = dir.path().join(Journal::FILE);
        (dir, path)
    }

    #[test]
    fn round_trip_and_pending() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        j.append(Entry::Intent { step: 1, fault: "a".into(), undo: undo(1) }).unwrap();
        j.append(Entry::Done { step: 1, fault: "a".into() }).unwrap();
        j.append(Entry::Intent { step: 2, fault: "b".into(), undo: undo(2) }).unwrap();
        j.append(Entry::Reverted { step: 1, fault: "a".into(), by: "run".into() }).unwrap();
        let entries = read(j.path()).unwrap();
        assert_eq!(entries.len(), 4);
        let p = pending(&entries);
        assert_eq!(
            p,
            vec![Pending { step: 2, fault: "b".into(), undo: undo(2), confirmed: false, trusted: false, pgid: None }]
        );
    }

    #[test]
    fn torn_lines_are_skipped_but_damage_elsewhere_is_reported() {
        let (_dir, path) = one_intent();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"at\":\"2026-").unwrap();
        assert_eq!(pending(&read(&path).unwrap()).len(), 1);
        // A torn line followed by more entries is still a torn write, not damage.
        f.write_all(b"\n{\"at\":\"x\",\"event\":\"done\",\"step\":1,\"fault\":\"a\"}\n").unwrap();
        let c = read_contents(&path).unwrap();
        assert_eq!((c.records.len(), c.torn.as_slice(), c.damaged.len()), (2, &[2][..], 0));
        assert!(read(&path).is_ok());
        // A line that is no prefix of an entry is damage: strict readers refuse the journal,
        // read_contents still gives every readable entry.
        f.write_all(b"{\"at\": 5}\n{\"at\":\"y\",\"event\":\"run_finished\",\"outcome\":\"x\"}\n").unwrap();
        assert!(matches!(read(&path), Err(JournalError::Corrupt { line: 4, .. })));
        let c = read_contents(&path).unwrap();
        assert_eq!(c.records.len(), 3);
        assert_eq!(c.damaged.iter().map(|d| d.0).collect::<Vec<_>>(), [4]);
    }

    /// A SIGKILL mid-write leaves a line without its newline: the next writer (`recover`)
    /// must start on a new line, or its entry fuses with the fragment and every later
    /// read fails.
    #[test]
    fn appending_after_a_torn_line_starts_a_new_line() {
        let (dir, path) = one_intent();
        OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"at\":\"2026-12-01T10:").unwrap();
        let j = Journal::open(dir.path()).unwrap();
        j.append(Entry::Reverted { step: 1, fault: "a".into(), by: "recover".into() }).unwrap();
        j.append(Entry::RunFinished { outcome: "x".into() }).unwrap();
        let c = read_contents(&path).unwrap();
        assert!(c.damaged.is_empty(), "{:?}", c.damaged);
        assert_eq!(c.torn, [2]);
        let entries = read(&path).unwrap();
        assert_eq!(entries.len(), 3);
        assert!(pending(&entries).is_empty());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().nth(2).unwrap().contains("\"event\":\"reverted\""), "{text}");
    }

    /// A journal an older firedrill fused (a torn fragment, then a whole entry on the same
    /// line): the entry is read back.
    #[test]
    fn an_entry_fused_to_a_torn_fragment_is_salvaged() {
        let (_dir, path) = one_intent();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(
            b"{\"at\":\"2026-{\"at\":\"z\",\"event\":\"reverted\",\"step\":1,\"fault\":\"a\",\"by\":\"recover\"}\n",
        )
        .unwrap();
        let entries = read(&path).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(pending(&entries).is_empty());
    }

    #[test]
    fn intents_are_trusted_only_with_this_installations_mac_for_this_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run-1");
        std::fs::create_dir(&run).unwrap();
        let key = || Key::from_bytes([3; 32]);
        let j = Journal::open_with_key(&run, Some(key())).unwrap();
        j.append(Entry::Intent { step: 1, fault: "a".into(), undo: undo(1) }).unwrap();
        j.append(Entry::ProcessGroup { step: 1, fault: "a".into(), pgid: 4242 }).unwrap();
        drop(j);
        // An unsigned intent, and one whose record was changed after signing.
        let unsigned = Journal::open_with_key(&run, None).unwrap();
        unsigned.append(Entry::Intent { step: 2, fault: "b".into(), undo: undo(2) }).unwrap();
        let text = std::fs::read_to_string(run.join(Journal::FILE)).unwrap();
        let first = text.lines().next().unwrap().replace("\"n\":1", "\"n\":9");
        std::fs::write(run.join(Journal::FILE), format!("{text}{first}\n")).unwrap();

        let c = read_contents(&run.join(Journal::FILE)).unwrap();
        let p = pending_checked(&c.records, "run-1", Some(&key()));
        let summary: Vec<(u64, bool, Option<u32>)> = p.iter().map(|p| (p.step, p.trusted, p.pgid)).collect();
        assert_eq!(summary, [(1, true, Some(4242)), (2, false, None), (1, false, None)]);
        assert!(pending_checked(&c.records, "run-2", Some(&key())).iter().all(|p| !p.trusted));
        assert!(pending_checked(&c.records, "run-1", Some(&Key::from_bytes([4; 32]))).iter().all(|p| !p.trusted));
        assert!(pending_checked(&c.records, "run-1", None).iter().all(|p| !p.trusted));
    }
}
