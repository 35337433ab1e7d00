//! What happened to each occurrence, kept in the state directory next to `runs/`:
//!
//! - `schedule/claims/KEY.json`, created exclusively (`O_EXCL`) by the one `run-due` that
//!   runs or skips the occurrence: two pollers never both run it, and an occurrence with a
//!   claim is never due again.
//! - `schedule/claims/KEY~LEAD.json` likewise for each announcement sent.
//! - `schedule/log.jsonl`, one [`Record`] per line, appended: every run started, every
//!   outcome and every skip with its reason (`history` shows them).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One line of `schedule/log.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The occurrence: `GAMEDAY@YYYY-MM-DDTHH:MM` (scheduled, local).
    pub key: String,
    pub gameday: String,
    /// The scenario file as the calendar resolves it.
    pub scenario: String,
    /// When the occurrence starts (RFC 3339 with the calendar's offset).
    pub start: String,
    pub seed: u64,
    /// `skipped`, `started`, or the run's outcome (`passed`, `aborted`, ...).
    pub outcome: String,
    /// Why it was skipped (`freeze: …`, `gate: alarm … is in ALARM`, ...).
    #[serde(default)]
    pub reason: Option<String>,
    /// The run's id, when it ran.
    #[serde(default)]
    pub run: Option<String>,
    /// When this was recorded (RFC 3339, UTC).
    pub at: String,
}

/// The state directory's `schedule/` folder.
pub struct Records {
    dir: PathBuf,
}

impl Records {
    pub fn new(state_dir: &Path) -> Self {
        Records { dir: state_dir.join("schedule") }
    }

    fn claim_path(&self, key: &str) -> PathBuf {
        let safe: String = key.chars().map(|c| if c == ':' { '-' } else { c }).collect();
        self.dir.join("claims").join(format!("{safe}.json"))
    }

    /// Whether the occurrence ran or was skipped already (its claim exists).
    pub fn done(&self, key: &str) -> bool {
        self.claim_path(key).exists()
    }

    /// Claims `key` for this process: `Ok(false)` when another already did.
    pub fn claim(&self, key: &str, record: &Record) -> std::io::Result<bool> {
        let path = self.claim_path(key);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(serde_json::to_string(record).unwrap_or_default().as_bytes())?;
                f.sync_all()?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Appends `record` to the log (one write of one line).
    pub fn append(&self, record: &Record) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("log.jsonl"))?;
        let mut line = serde_json::to_string(record).unwrap_or_default();
        line.push('\n');
        f.write_all(line.as_bytes())?;
        f.sync_data()
    }

    /// Every record, oldest first; lines that cannot be read are left out.
    pub fn all(&self) -> Vec<Record> {
        let text = std::fs::read_to_string(self.dir.join("log.jsonl")).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// The last record of each occurrence, in order of start.
    pub fn latest(&self) -> Vec<Record> {
        let mut by_key: Vec<Record> = Vec::new();
        for r in self.all() {
            match by_key.iter_mut().find(|x| x.key == r.key) {
                Some(x) => *x = r,
                None => by_key.push(r),
            }
        }
        by_key.sort_by(|a, b| a.start.cmp(&b.start));
        by_key
    }
}
