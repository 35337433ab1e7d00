//! Observer notes: `<run dir>/notes.jsonl`, what people watching a game day wrote down
//! while it ran (`firedrill note`), or afterwards, in the post-mortem.
//!
//! One JSON object a line: `{"at", "author", "text", "after_end"}`. Several terminals may
//! add notes to the same run at once, so each note is written with a single `write(2)` on
//! a file opened with `O_APPEND` (the kernel appends each write whole, at the end of the
//! file) and fsynced before `append` returns. The run never writes this file; it (and
//! `firedrill report`) only reads it, into the report's `notes`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The notes file in a run directory.
pub const FILE: &str = "notes.jsonl";

/// The longest note, in characters.
pub const MAX_CHARS: usize = 2000;

/// One line of `notes.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// Wall clock, RFC 3339 in UTC with milliseconds.
    pub at: String,
    pub author: String,
    pub text: String,
    /// The run had already ended (its `report.json` existed) when the note was added.
    #[serde(default)]
    pub after_end: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("the note is empty: write what you saw, e.g. firedrill note \"5xx on the dashboard\"")]
    Empty,
    #[error("the note is {0} characters long; at most {MAX_CHARS} are allowed (split it into several notes)")]
    TooLong(usize),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// The text of a note as it will be kept: trimmed, not empty, at most [`MAX_CHARS`].
pub fn check_text(text: &str) -> Result<String, NoteError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 {
        Err(NoteError::Empty)
    } else if chars > MAX_CHARS {
        Err(NoteError::TooLong(chars))
    } else {
        Ok(text.to_string())
    }
}

impl Note {
    /// A note written now.
    pub fn now(author: &str, text: String, after_end: bool) -> Note {
        Note {
            at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            author: author.to_string(),
            text,
            after_end,
        }
    }

    /// The note as its line in `notes.jsonl`, newline included.
    pub fn line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("a note always serializes to JSON");
        line.push('\n');
        line
    }
}

/// Appends `note` to `<run_dir>/notes.jsonl` in one write and fsyncs it.
pub fn append(run_dir: &Path, note: &Note) -> Result<(), NoteError> {
    let path = run_dir.join(FILE);
    let io = |source| NoteError::Io { path: path.clone(), source };
    let created = !path.exists();
    let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
    let line = note.line();
    // One write(2) per note: with O_APPEND, concurrent notes never interleave. A note is at
    // most a few KB, which a regular file takes whole; a short write is reported, not
    // continued (continuing would be a second, interleavable write).
    let n = f.write(line.as_bytes()).map_err(io)?;
    if n != line.len() {
        return Err(io(std::io::Error::other(format!("short write: {n} of {} bytes", line.len()))));
    }
    f.sync_data().map_err(io)?;
    if created && let Ok(dir) = File::open(run_dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// The notes of a run, in file order, and how many lines could not be read (a torn line
/// from a crash, or a hand edit). `None` when the run has no `notes.jsonl`.
pub fn read(run_dir: &Path) -> Result<Option<(Vec<Note>, usize)>, NoteError> {
    let path = run_dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(NoteError::Io { path, source }),
    };
    Ok(Some(parse(&text)))
}

/// Parses the lines of `notes.jsonl`: the notes, and how many lines were not notes.
pub fn parse(text: &str) -> (Vec<Note>, usize) {
    let mut notes = Vec::new();
    let mut bad = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Note>(line) {
            Ok(n) => notes.push(n),
            Err(_) => bad += 1,
        }
    }
    (notes, bad)
}

/// Milliseconds from `start` to `at` (both RFC 3339); 0 when `at` is earlier (a clock
/// stepped back), `None` when either does not parse.
pub fn offset_ms(start: &str, at: &str) -> Option<u64> {
    let start = humantime::parse_rfc3339(start).ok()?;
    let at = humantime::parse_rfc3339(at).ok()?;
    let d = at.duration_since(start).unwrap_or_default();
    Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The author of a note: `--author`, else `$USER`, else `unknown`.
pub fn author(flag: Option<&str>, user: Option<&str>) -> String {
    [flag, user]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|a| !a.is_empty())
        .map_or_else(|| "unknown".to_string(), |a| a.replace(['\n', '\r'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(check_text("  saw 503s \n").unwrap(), "saw 503s");
        assert!(matches!(check_text(""), Err(NoteError::Empty)));
        assert!(matches!(check_text(" \n\t "), Err(NoteError::Empty)));
        // Characters, not bytes: 2000 two-byte characters are fine, 2001 are not.
        assert!(check_text(&"é".repeat(MAX_CHARS)).is_ok());
        let e = check_text(&"é".repeat(MAX_CHARS + 1)).unwrap_err();
        assert!(matches!(e, NoteError::TooLong(2001)));
        assert!(e.to_string().contains("at most 2000"), "{e}");
        // A multi-line note stays one JSON line.
        let n = Note::now("ann", check_text("line 1\nline 2").unwrap(), false);
        assert_eq!(n.line().matches('\n').count(), 1);
        assert_eq!(parse(&n.line()).0, vec![n]);
    }

    #[test]
    fn author_comes_from_the_flag_then_user() {
        assert_eq!(author(Some("ann"), Some("bob")), "ann");
        assert_eq!(author(None, Some("bob")), "bob");
        assert_eq!(author(Some("  "), Some("bob")), "bob");
        assert_eq!(author(None, None), "unknown");
        assert_eq!(author(Some("a\nb"), None), "a b");
    }

    #[test]
    fn offsets_count_from_the_start_and_never_go_negative() {
        let start = "2026-11-18T11:06:40.000Z";
        assert_eq!(offset_ms(start, "2026-11-18T11:06:44.250Z"), Some(4250));
        assert_eq!(offset_ms(start, "2026-11-18T12:06:40.001Z"), Some(3_600_001));
        assert_eq!(offset_ms(start, "2026-11-18T11:06:39.000Z"), Some(0));
        assert_eq!(offset_ms(start, "yesterday"), None);
    }

    #[test]
    fn parse_skips_torn_and_foreign_lines() {
        let text = concat!(
            r#"{"at":"2026-11-18T11:06:44.250Z","author":"ann","text":"5xx","after_end":false}"#,
            "\n\n",
            r#"{"at":"2026-11-18T11:06:45.000Z","author":"bob","text":"old line without after_end"}"#,
            "\nnot json\n",
            r#"{"at":"2026-11-18T11:06:4"#
        );
        let (notes, bad) = parse(text);
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[1].author, "bob");
        assert!(!notes[1].after_end);
        assert_eq!(bad, 2);
    }

    #[test]
    fn append_adds_whole_lines_from_many_threads() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_none());
        let long = "x".repeat(MAX_CHARS);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (dir, long) = (dir.path(), &long);
                s.spawn(move || {
                    for i in 0..25 {
                        append(dir, &Note::now(&format!("t{t}"), format!("{i} {long}"), false)).unwrap();
                    }
                });
            }
        });
        let (notes, bad) = read(dir.path()).unwrap().unwrap();
        assert_eq!((notes.len(), bad), (200, 0));
        assert!(notes.iter().all(|n| n.text.ends_with(&long)));
    }
}
