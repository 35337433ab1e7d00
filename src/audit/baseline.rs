//! The audit baseline: known risks a team accepts, each with a reason and an expiry date,
//! so `audit --fail-on` gates on what is new. A YAML file:
//!
//! ```yaml
//! accept:
//!   - id: single_region:us-east-1      # a finding's `id`
//!     reason: One region by design; backups restore in us-west-2 (DR plan, 2026-10)
//!     expires: 2027-06-30              # YYYY-MM-DD; from the day after, it counts again
//! ```
//!
//! Every field is required; a reason may not be empty. An entry past its date no longer
//! accepts anything (and is reported); an entry that matches no finding is reported as
//! stale, so the file does not silently outlive the risks it names.

use std::path::Path;

use serde::Deserialize;

use super::{AcceptedFinding, Finding};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    accept: Vec<Entry>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub reason: String,
    pub expires: String,
}

/// A baseline that cannot be used, in the file's terms.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{file}: cannot read: {why}")]
    Read { file: String, why: String },
    #[error("{file}: {why}")]
    Syntax { file: String, why: String },
    #[error("{file}: accept[{index}].{field}: {why}")]
    Field { file: String, index: usize, field: &'static str, why: String },
}

/// The entries of a baseline file, checked.
pub fn load(path: &Path) -> Result<Vec<Entry>, BaselineError> {
    let file = path.display().to_string();
    // As a scenario: only a regular file, and a bounded read (a FIFO would block, a
    // device never end).
    let text = crate::scenario::file::read_text(path, crate::scenario::load::MAX_FILE_BYTES)
        .map_err(|e| BaselineError::Read { file: file.clone(), why: e.to_string() })?;
    parse(&file, &text)
}

pub fn parse(file: &str, text: &str) -> Result<Vec<Entry>, BaselineError> {
    let parsed: File =
        serde_saphyr::from_str(text).map_err(|e| BaselineError::Syntax { file: file.into(), why: e.to_string() })?;
    let mut seen = std::collections::BTreeSet::new();
    for (index, e) in parsed.accept.iter().enumerate() {
        let field = |field, why: &str| BaselineError::Field { file: file.into(), index, field, why: why.into() };
        // Two entries for one finding would make the verdict depend on their order.
        if !seen.insert(e.id.as_str()) {
            return Err(field("id", &format!("{:?} is accepted twice: keep one entry per finding", e.id)));
        }
        if e.id.trim().is_empty() || !e.id.contains(':') {
            return Err(field("id", "give the finding's id (KIND:RESOURCE, as `audit` prints it)"));
        }
        if e.reason.trim().is_empty() {
            return Err(field("reason", "say why the risk is accepted"));
        }
        if e.expires.parse::<jiff::civil::Date>().is_err() {
            return Err(field("expires", &format!("{:?} is not a date: give YYYY-MM-DD", e.expires)));
        }
    }
    Ok(parsed.accept)
}

/// What a baseline did to the findings.
#[derive(Debug, Default)]
pub struct Applied {
    pub open: Vec<Finding>,
    pub accepted: Vec<AcceptedFinding>,
    /// Entries past their date whose finding is still there.
    pub expired: Vec<Entry>,
    /// Entries that match no finding.
    pub stale: Vec<Entry>,
}

/// Splits `findings` into open and accepted on `today` (YYYY-MM-DD).
pub fn apply(findings: Vec<Finding>, entries: &[Entry], today: jiff::civil::Date) -> Applied {
    let mut out = Applied::default();
    for e in entries {
        if !findings.iter().any(|f| f.id == e.id) {
            out.stale.push(e.clone());
        }
    }
    for f in findings {
        let entry = entries.iter().find(|e| e.id == f.id);
        match entry {
            Some(e) if e.expires.parse::<jiff::civil::Date>().is_ok_and(|d| today <= d) => {
                out.accepted.push(AcceptedFinding { finding: f, reason: e.reason.clone(), expires: e.expires.clone() })
            }
            Some(e) => {
                out.expired.push(e.clone());
                out.open.push(f);
            }
            None => out.open.push(f),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Kind, Severity};

    fn finding(id: &str) -> Finding {
        Finding {
            id: id.into(),
            kind: Kind::SingleRegion,
            severity: Severity::Low,
            region: None,
            zone: None,
            resources: vec![],
            summary: String::new(),
            why: String::new(),
            fix: String::new(),
        }
    }

    /// One entry per finding (else the verdict would depend on their order), and the
    /// file is read as a scenario is: a FIFO is refused instead of blocking, a device
    /// instead of reading until memory runs out.
    #[test]
    fn a_finding_accepted_twice_or_a_file_that_is_no_file_is_refused() {
        let twice = "accept:\n  - id: a:b\n    reason: r\n    expires: 2027-06-30\n  - id: a:b\n    reason: r\n    expires: 2020-01-01\n";
        let e = parse("b.yaml", twice).unwrap_err().to_string();
        assert_eq!(e, "b.yaml: accept[1].id: \"a:b\" is accepted twice: keep one entry per finding");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = load(&fifo).unwrap_err().to_string();
        assert!(e.contains("a named pipe (FIFO), not a regular file"), "{e}");
        let e = load(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("a device, not a regular file"), "{e}");
    }

    #[test]
    fn an_entry_accepts_its_finding_until_its_date_and_not_after() {
        let entries = parse(
            "b.yaml",
            "accept:\n  - id: single_region:r1\n    reason: by design\n    expires: 2027-01-31\n  - id: x:gone\n    reason: old\n    expires: 2027-01-31\n",
        )
        .unwrap();
        let on = |d: &str| apply(vec![finding("single_region:r1"), finding("other:y")], &entries, d.parse().unwrap());
        let before = on("2027-01-31");
        assert_eq!(before.accepted.len(), 1);
        assert_eq!(before.open.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["other:y"]);
        assert_eq!(before.stale.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["x:gone"]);
        let after = on("2027-02-01");
        assert!(after.accepted.is_empty());
        assert_eq!(after.open.len(), 2);
        assert_eq!(after.expired.len(), 1);
    }

    #[test]
    fn bad_entries_name_the_file_entry_and_field() {
        let cases = [
            ("accept:\n  - id: a:b\n    reason: ''\n    expires: 2027-01-01\n", "b.yaml: accept[0].reason"),
            ("accept:\n  - id: a:b\n    reason: r\n    expires: soon\n", "b.yaml: accept[0].expires"),
            ("accept:\n  - id: ab\n    reason: r\n    expires: 2027-01-01\n", "b.yaml: accept[0].id"),
        ];
        for (text, want) in cases {
            let e = parse("b.yaml", text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
        let missing = parse("b.yaml", "accept:\n  - id: a:b\n    expires: 2027-01-01\n").unwrap_err().to_string();
        assert!(missing.starts_with("b.yaml:") && missing.contains("reason"), "{missing}");
    }
}
