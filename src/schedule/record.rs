//! What happened to each occurrence, kept in the state directory next to `runs/`:
//!
//! - `schedule/claims/KEY.json`, created exclusively (`O_EXCL`) by the one `run-due` that
//!   runs or skips the occurrence: two pollers never both run it, and an occurrence with a
//!   claim is never due again.
//! - `schedule/claims/KEY~LEAD.json` likewise for each announcement sent.
//! - `schedule/log.jsonl`, one [`Record`] per line, appended: every run started, every
//!   outcome and every skip with its reason (`history` shows them).
//!
//! With S3 state (`--state s3://BUCKET/PREFIX`) the same live in the bucket under
//! `PREFIX/schedule/` ([`crate::state::remote`]): a claim is an object created with
//! `If-None-Match: *`, so of two schedulers on two machines sharing the state exactly one
//! runs an occurrence, and each log line is an object of its own; `due`, `run-due` and
//! `history` read them there, from any machine.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::state::remote::Remote;
use crate::state::{StateDir, StateError};

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

/// The schedule's claims and log: the state directory's `schedule/` folder, or with S3
/// state `PREFIX/schedule/` in the bucket.
pub struct Records {
    dir: PathBuf,
    remote: Option<Arc<Remote>>,
}

/// A claim's contents: the record, and who claimed it (tells this writer's claim from
/// another's that happens to have the same record).
#[derive(Serialize)]
struct Claim<'a> {
    #[serde(flatten)]
    record: &'a Record,
    claimed_by: String,
}

fn remote_io(e: StateError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl Records {
    /// Where `state` keeps them: in S3 when the state is there, else next to its `runs/`.
    pub fn of(state: &StateDir) -> Self {
        let runs = state.runs();
        Records { dir: runs.parent().unwrap_or(&runs).join("schedule"), remote: state.remote().cloned() }
    }

    /// Where they are, for messages.
    pub fn location(&self) -> String {
        match &self.remote {
            Some(r) => r.schedule_url(),
            None => self.dir.display().to_string(),
        }
    }

    /// The claim's name: the key, with `:` (not allowed in file names everywhere) as `-`.
    fn claim_name(key: &str) -> String {
        key.chars().map(|c| if c == ':' { '-' } else { c }).collect()
    }

    fn claim_path(&self, key: &str) -> PathBuf {
        self.dir.join("claims").join(format!("{}.json", Self::claim_name(key)))
    }

    /// Whether the occurrence ran or was skipped already (its claim exists).
    pub fn done(&self, key: &str) -> std::io::Result<bool> {
        match &self.remote {
            Some(r) => r.claimed(&Self::claim_name(key)).map_err(remote_io),
            None => Ok(self.claim_path(key).exists()),
        }
    }

    /// Claims `key` for this process: `Ok(false)` when another already did.
    pub fn claim(&self, key: &str, record: &Record) -> std::io::Result<bool> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let claim = Claim { record, claimed_by: format!("{} pid {} ({nanos:x})", host.trim(), std::process::id()) };
        let body = serde_json::to_vec(&claim).unwrap_or_default();
        if let Some(r) = &self.remote {
            return r.claim(&Self::claim_name(key), &body).map_err(remote_io);
        }
        let path = self.claim_path(key);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(&body)?;
                f.sync_all()?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Appends `record` to the log (one write of one line; with S3 state, one object).
    pub fn append(&self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_string(record).unwrap_or_default();
        if let Some(r) = &self.remote {
            return r.put_schedule_record(line.as_bytes()).map_err(remote_io);
        }
        std::fs::create_dir_all(&self.dir)?;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("log.jsonl"))?;
        line.push('\n');
        f.write_all(line.as_bytes())?;
        f.sync_data()
    }

    /// Every record, oldest first; lines that cannot be read are left out. An error only
    /// when S3 cannot be read (a local log that does not exist holds nothing).
    pub fn all(&self) -> std::io::Result<Vec<Record>> {
        if let Some(r) = &self.remote {
            let lines = r.schedule_records().map_err(remote_io)?;
            return Ok(lines.iter().filter_map(|l| serde_json::from_slice(l).ok()).collect());
        }
        let text = std::fs::read_to_string(self.dir.join("log.jsonl")).unwrap_or_default();
        Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }

    /// The last record of each occurrence, in order of start.
    pub fn latest(&self) -> std::io::Result<Vec<Record>> {
        let mut by_key: Vec<Record> = Vec::new();
        for r in self.all()? {
            match by_key.iter_mut().find(|x| x.key == r.key) {
                Some(x) => *x = r,
                None => by_key.push(r),
            }
        }
        by_key.sort_by(|a, b| a.start.cmp(&b.start));
        Ok(by_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, outcome: &str) -> Record {
        Record {
            key: key.into(),
            gameday: "monthly".into(),
            scenario: "gd.yaml".into(),
            start: "2026-12-01T10:00:00+00:00".into(),
            seed: 1,
            outcome: outcome.into(),
            reason: None,
            run: None,
            at: "2026-12-01T10:05:00Z".into(),
        }
    }

    #[test]
    fn a_local_claim_is_taken_once_and_names_its_claimant() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::of(&StateDir::new(dir.path()));
        let key = "monthly@2026-12-01T10:00";
        assert!(!records.done(key).unwrap());
        assert!(records.claim(key, &record(key, "started")).unwrap());
        assert!(records.done(key).unwrap());
        assert!(!records.claim(key, &record(key, "started")).unwrap(), "a second claim fails");
        let text = std::fs::read_to_string(dir.path().join("schedule/claims/monthly@2026-12-01T10-00.json")).unwrap();
        let claim: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(claim["outcome"], "started");
        assert!(claim["claimed_by"].as_str().unwrap().contains(&format!("pid {}", std::process::id())), "{claim}");
        records.append(&record(key, "started")).unwrap();
        records.append(&record(key, "passed")).unwrap();
        let latest = records.latest().unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].outcome, "passed");
        assert_eq!(records.location(), dir.path().join("schedule").display().to_string());
    }
}
