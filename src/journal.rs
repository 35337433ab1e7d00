//! The run journal: `<state dir>/runs/<run id>/journal.jsonl`, append-only, one JSON
//! object a line, fsynced before `append` returns. Every side effect is preceded by an
//! `intent` entry holding what is needed to undo it, so a crashed run can be reverted by
//! `firedrill recover` from the journal alone.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

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
}

#[derive(Serialize, Deserialize)]
struct Line {
    at: String,
    #[serde(flatten)]
    entry: Entry,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("journal {path} line {line}: {message}")]
    Corrupt { path: PathBuf, line: usize, message: String },
}

/// Where the engine writes entries. The file journal fsyncs; tests use [`MemJournal`].
pub trait Sink: Send + Sync {
    fn append(&self, entry: Entry) -> Result<(), JournalError>;
}

/// The append-only journal file.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

impl Journal {
    pub const FILE: &'static str = "journal.jsonl";

    /// Opens (creating if needed) the journal in `run_dir` for appending.
    pub fn open(run_dir: &Path) -> Result<Self, JournalError> {
        let path = run_dir.join(Self::FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| JournalError::Io { path: path.clone(), source })?;
        // Make the new directory entry durable too.
        if let Ok(dir) = File::open(run_dir) {
            let _ = dir.sync_all();
        }
        Ok(Journal { path, file: Mutex::new(file) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Sink for Journal {
    fn append(&self, entry: Entry) -> Result<(), JournalError> {
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut line = serde_json::to_string(&Line { at, entry }).map_err(|e| JournalError::Corrupt {
            path: self.path.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        line.push('\n');
        let io = |source| JournalError::Io { path: self.path.clone(), source };
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes()).map_err(io)?;
        f.sync_data().map_err(io)
    }
}

/// Reads a journal. A torn last line (the process died mid-write) is ignored; a broken
/// line elsewhere is an error.
pub fn read(path: &Path) -> Result<Vec<Entry>, JournalError> {
    Ok(read_timed(path)?.into_iter().map(|(_, e)| e).collect())
}

/// Like [`read`], with the wall-clock time (RFC 3339) each entry was written.
pub fn read_timed(path: &Path) -> Result<Vec<(String, Entry)>, JournalError> {
    let f = File::open(path).map_err(|source| JournalError::Io { path: path.to_path_buf(), source })?;
    let lines: Vec<String> = BufReader::new(f)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|source| JournalError::Io { path: path.to_path_buf(), source })?;
    let mut out = Vec::new();
    let last = lines.len().saturating_sub(1);
    for (i, l) in lines.iter().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(l) {
            Ok(line) => out.push((line.at, line.entry)),
            Err(_) if i == last => break,
            Err(e) => {
                return Err(JournalError::Corrupt { path: path.to_path_buf(), line: i + 1, message: e.to_string() });
            }
        }
    }
    Ok(out)
}

/// A side effect that was (or may have been) made and is not known to be undone.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub step: u64,
    pub fault: String,
    pub undo: UndoRecord,
    /// Whether the side effect was confirmed (`done`); unconfirmed ones are reverted too.
    pub confirmed: bool,
}

/// Intents without a `reverted` entry, oldest first.
pub fn pending(entries: &[Entry]) -> Vec<Pending> {
    let mut out: Vec<Pending> = Vec::new();
    for e in entries {
        match e {
            Entry::Intent { step, fault, undo } => {
                out.push(Pending { step: *step, fault: fault.clone(), undo: undo.clone(), confirmed: false })
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
        assert_eq!(p, vec![Pending { step: 2, fault: "b".into(), undo: undo(2), confirmed: false }]);
    }

    #[test]
    fn torn_last_line_is_ignored_but_corruption_elsewhere_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        j.append(Entry::Intent { step: 1, fault: "a".into(), undo: undo(1) }).unwrap();
        drop(j);
        let path = dir.path().join(Journal::FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"at\":\"2026-").unwrap();
        assert_eq!(pending(&read(&path).unwrap()).len(), 1);
        f.write_all(b"\n{\"at\":\"x\",\"event\":\"done\",\"step\":1,\"fault\":\"a\"}\n").unwrap();
        assert!(matches!(read(&path), Err(JournalError::Corrupt { line: 2, .. })));
    }
}
