//! The recover trust rule: `firedrill recover` runs, without asking, only the undo records
//! that this installation journaled itself. Each `intent` entry carries an HMAC-SHA256,
//! made with the installation key, over the canonical JSON of the run id, the step, the
//! fault and the undo record; an intent without a valid MAC (a journal copied from
//! elsewhere, committed to a repository, edited by hand, or written by a firedrill
//! without a key) is *untrusted*, and recover shows the exact command or AWS call it
//! would make and acts only with the operator's consent for that run.
//!
//! The installation key is 32 random bytes in a file only its owner may read:
//! `$FIREDRILL_KEY_FILE`, else `$XDG_STATE_HOME/firedrill/journal.key`, else
//! `~/.local/state/firedrill/journal.key`. It is created on first use.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use serde::Serialize;

/// Overrides where the installation key lives.
pub const KEY_FILE_ENV: &str = "FIREDRILL_KEY_FILE";
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("no place for the installation key: set {KEY_FILE_ENV}, XDG_STATE_HOME or HOME")]
    NoHome,
    #[error("installation key {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("installation key {path} is not {KEY_LEN} bytes long: delete it to make a new one")]
    BadLength { path: PathBuf },
    #[error(
        "installation key {path} may be read or written by other users (mode {mode:o}): anyone who can read it can forge journals; `chmod 600` it"
    )]
    Exposed { path: PathBuf, mode: u32 },
}

/// This installation's journal key.
pub struct Key([u8; KEY_LEN]);

impl Key {
    /// Where the installation key lives (see the module doc).
    pub fn path() -> Result<PathBuf, TrustError> {
        if let Some(p) = std::env::var_os(KEY_FILE_ENV).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        // Unit tests never touch the developer's own key.
        if cfg!(test) {
            return Ok(std::env::temp_dir().join(format!("firedrill-unit-{}.key", std::process::id())));
        }
        let state = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".local/state")))
            .ok_or(TrustError::NoHome)?;
        Ok(state.join("firedrill").join("journal.key"))
    }

    /// The installation key, created (0600) if there is none yet.
    pub fn installation() -> Result<Key, TrustError> {
        Self::load_or_create(&Self::path()?)
    }

    pub fn load_or_create(path: &Path) -> Result<Key, TrustError> {
        let io = |source| TrustError::Io { path: path.to_path_buf(), source };
        match fs::File::open(path) {
            Ok(f) => return Self::read(path, f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
        }
        let mut bytes = [0u8; KEY_LEN];
        fs::File::open("/dev/urandom").and_then(|mut r| r.read_exact(&mut bytes)).map_err(io)?;
        // Written aside and linked into place, so that of two processes creating it at the
        // same moment both end up with the one that won, never a half-written file.
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        let written = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(e));
        }
        let linked = fs::hard_link(&tmp, path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(Key(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::read(path, fs::File::open(path).map_err(io)?)
            }
            Err(e) => Err(io(e)),
        }
    }

    fn read(path: &Path, mut f: fs::File) -> Result<Key, TrustError> {
        let io = |source| TrustError::Io { path: path.to_path_buf(), source };
        let mode = f.metadata().map_err(io)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(TrustError::Exposed { path: path.to_path_buf(), mode: mode & 0o777 });
        }
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(io)?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| TrustError::BadLength { path: path.to_path_buf() })?;
        Ok(Key(bytes))
    }

    /// A key for tests.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        Key(bytes)
    }

    fn hmac(&self, run_id: &str, step: u64, fault: &str, undo: &impl Serialize) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("any key length"));
        m.update(canonical_intent(run_id, step, fault, undo).as_bytes());
        m
    }

    /// The MAC (lowercase hex) of one intent of `run_id`.
    pub fn mac(&self, run_id: &str, step: u64, fault: &str, undo: &impl Serialize) -> String {
        self.hmac(run_id, step, fault, undo).finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `mac` is this key's MAC of the intent (compared in constant time).
    pub fn verify(&self, run_id: &str, step: u64, fault: &str, undo: &impl Serialize, mac: &str) -> bool {
        let Some(bytes) = unhex(mac) else { return false };
        self.hmac(run_id, step, fault, undo).verify_slice(&bytes).is_ok()
    }
}

/// The bytes a MAC covers: the intent as JSON with every object's keys sorted.
fn canonical_intent(run_id: &str, step: u64, fault: &str, undo: &impl Serialize) -> String {
    let v = serde_json::json!({
        "run": run_id,
        "step": step,
        "fault": fault,
        // The undo record (`kind`, `description`, `data`) as it is journaled.
        "undo": serde_json::to_value(undo).unwrap_or_default(),
    });
    let mut out = String::new();
    canonical(&v, &mut out);
    out
}

fn canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::journal::UndoRecord;

    /// What a MAC covers is fixed: journals written by earlier versions still verify.
    #[test]
    fn the_mac_covers_the_intent_as_canonical_json() {
        assert_eq!(
            canonical_intent("r", 1, "f", &undo("x")),
            r#"{"fault":"f","run":"r","step":1,"undo":{"data":{"env":{"A":"1","B":"2"},"revert":"x"},"description":"run `true`","kind":"command"}}"#
        );
    }

    fn undo(cmd: &str) -> UndoRecord {
        UndoRecord {
            kind: "command".into(),
            description: "run `true`".into(),
            data: serde_json::json!({"revert": cmd, "env": {"B": "2", "A": "1"}}),
        }
    }

    #[test]
    fn a_mac_binds_run_step_fault_and_the_whole_record() {
        let k = Key::from_bytes([7; 32]);
        let mac = k.mac("run-1", 1, "f", &undo("true"));
        assert_eq!(mac.len(), 64);
        assert!(k.verify("run-1", 1, "f", &undo("true"), &mac));
        // Key order in the data does not matter; every field does.
        let mut reordered = undo("true");
        reordered.data = serde_json::json!({"env": {"A": "1", "B": "2"}, "revert": "true"});
        assert!(k.verify("run-1", 1, "f", &reordered, &mac));
        assert!(!k.verify("run-2", 1, "f", &undo("true"), &mac));
        assert!(!k.verify("run-1", 2, "f", &undo("true"), &mac));
        assert!(!k.verify("run-1", 1, "g", &undo("true"), &mac));
        assert!(!k.verify("run-1", 1, "f", &undo("rm -rf ~"), &mac));
        let mut described = undo("true");
        described.description = "something else".into();
        assert!(!k.verify("run-1", 1, "f", &described, &mac));
        assert!(!Key::from_bytes([8; 32]).verify("run-1", 1, "f", &undo("true"), &mac));
        assert!(!k.verify("run-1", 1, "f", &undo("true"), "zz"));
    }

    #[test]
    fn the_key_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/firedrill/journal.key");
        let a = Key::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Key::load_or_create(&path).unwrap();
        assert_eq!(a.0, b.0);
        assert_ne!(a.0, [0; 32]);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Key::load_or_create(&path).err().unwrap();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, b"short").unwrap();
        assert!(matches!(Key::load_or_create(&path), Err(TrustError::BadLength { .. })));
    }
}
