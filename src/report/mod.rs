//! Reports of a run: the `report.json` model ([`Report`]), its Markdown, JUnit and HTML
//! renderings, and writing them to / reading them from a run directory. `report.json` is
//! the source of truth; `report.md`, `junit.xml` and `report.html` can always be
//! re-rendered from it.

pub mod html;
pub mod junit;
pub mod markdown;
pub mod model;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::scenario::file::{ReadError, read_text};

pub use model::{
    BrokenReport, FaultReport, NoteReport, ProbeReport, REPORT_VERSION, Report, RunMeta, SampleReport, ScenarioInfo,
};

/// Text made safe for HTML and XML 1.0 content and quoted attribute values: `& < > "`
/// become entities, `'` becomes `apos` (`&#39;` for HTML, `&apos;` for XML), and
/// characters neither may hold (controls other than tab and newlines, U+007F, U+FFFE,
/// U+FFFF) become U+FFFD, and so do C1 controls (U+0080–U+009F: a terminal showing the
/// file may read them as escape sequences).
pub fn escape_markup(s: &str, apos: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str(apos),
            '\t' | '\n' | '\r' => o.push(c),
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// The report files in a run directory.
pub const JSON_FILE: &str = "report.json";
pub const MARKDOWN_FILE: &str = "report.md";
pub const JUNIT_FILE: &str = "junit.xml";
pub const HTML_FILE: &str = "report.html";

/// A rendering of a [`Report`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `report.json`, pretty-printed.
    Json,
    /// `report.md`, for humans and PR comments.
    Md,
    /// `junit.xml`, for CI test views.
    Junit,
    /// `report.html`, one self-contained page with a timeline, for the game-day room.
    Html,
}

pub fn render(r: &Report, f: Format) -> String {
    match f {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(r).expect("a report always serializes to JSON");
            s.push('\n');
            s
        }
        Format::Md => markdown::render(r),
        Format::Junit => junit::render(r),
        Format::Html => html::render(r),
    }
}

/// Writes `report.json`, `report.md`, `junit.xml` and `report.html` into `dir`. Each file is
/// written to a temporary file in `dir` and renamed into place, so none is ever left half
/// written.
pub fn write_all(dir: &Path, r: &Report) -> io::Result<()> {
    let files = [
        (JSON_FILE, Format::Json),
        (MARKDOWN_FILE, Format::Md),
        (JUNIT_FILE, Format::Junit),
        (HTML_FILE, Format::Html),
    ];
    for (name, f) in files {
        write_atomic(dir, name, render(r, f).as_bytes())?;
    }
    Ok(())
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let result = written.and_then(|()| fs::rename(&tmp, dir.join(name)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: ReadError },
    #[error("{} is not a valid report: {source}", path.display())]
    Invalid { path: PathBuf, source: serde_json::Error },
    #[error("{} has report_version {found}; this firedrill reads version {REPORT_VERSION}", path.display())]
    Version { path: PathBuf, found: u64 },
}

/// The largest `report.json` firedrill reads back (a week of samples fits).
pub const MAX_JSON_BYTES: u64 = 512 * 1024 * 1024;

/// Reads `report.json` from a run directory, or the given file.
pub fn read(dir_or_file: &Path) -> Result<Report, ReportError> {
    let path = if dir_or_file.is_dir() { dir_or_file.join(JSON_FILE) } else { dir_or_file.to_path_buf() };
    let text = match read_text(&path, MAX_JSON_BYTES) {
        Ok(t) => t,
        Err(source) => return Err(ReportError::Read { path, source }),
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(source) => return Err(ReportError::Invalid { path, source }),
    };
    if let Some(found) = value.get("report_version").and_then(serde_json::Value::as_u64)
        && found != u64::from(REPORT_VERSION)
    {
        return Err(ReportError::Version { path, found });
    }
    serde_json::from_value(value).map_err(|source| ReportError::Invalid { path, source })
}

/// Puts the notes of `run_dir/notes.jsonl` into `r` (they replace the ones `r` had: the
/// file is the notes' source of truth, and may have grown since `r` was written). Without
/// the file, `r` keeps its notes. The second value is a warning to show, if any.
pub fn attach_notes(r: Report, run_dir: &Path) -> (Report, Option<String>) {
    match crate::notes::read(run_dir) {
        Ok(None) => (r, None),
        Ok(Some((notes, 0))) => (r.with_notes(notes), None),
        Ok(Some((notes, bad))) => {
            let file = run_dir.join(crate::notes::FILE);
            (r.with_notes(notes), Some(format!("{}: skipped {bad} line(s) that are not notes", file.display())))
        }
        Err(e) => (r, Some(format!("cannot read the notes: {e}"))),
    }
}

#[cfg(test)]
mod tests;
