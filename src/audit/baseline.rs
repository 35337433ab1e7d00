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
//! Every field is required; a reason may not be empty. Problems are reported all at once,
//! each at its line and column, by the scenario loader's machinery. An entry past its date no longer
//! accepts anything (and is reported); an entry that matches no finding is reported as
//! stale, so the file does not silently outlive the risks it names.

use std::path::Path;

use serde::Deserialize;

use super::{AcceptedFinding, Finding};
use crate::scenario::load::Repair;
use crate::scenario::yaml::{self, Loc, Positions, Value, did_you_mean, from_node};
use crate::scenario::{Diagnostic, Invalid};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub reason: String,
    pub expires: String,
}

/// A baseline's top-level fields, for `did you mean`.
const FIELDS: &[&str] = &["accept"];

/// The entries of a baseline file, checked. Every problem of the file is reported, each
/// as `FILE:LINE:COL: accept[N].field: message`, as a scenario's are.
pub fn load(path: &Path) -> Result<Vec<Entry>, Invalid> {
    // As a scenario: only a regular file, and a bounded read (a FIFO would block, a
    // device never end).
    let text = crate::scenario::file::read_text(path, crate::scenario::load::MAX_FILE_BYTES).map_err(|e| {
        Invalid(vec![Diagnostic { file: path.to_path_buf(), loc: None, path: String::new(), message: e.to_string() }])
    })?;
    parse(path, &text)
}

type Raw = (Option<Loc>, String, String);

pub fn parse(file: &Path, text: &str) -> Result<Vec<Entry>, Invalid> {
    let diag = |(loc, path, message): Raw| Diagnostic { file: file.to_path_buf(), loc, path, message };
    check(text).map_err(|problems| Invalid(problems.into_iter().map(diag).collect()))
}

/// Parses and checks the text: part by part and field by field as the scenario loader
/// does ([`Repair`]), so that an unknown field does not hide a bad value beside it.
fn check(text: &str) -> Result<Vec<Entry>, Vec<Raw>> {
    let root = yaml::parse(text).map_err(|(loc, msg)| vec![(loc, String::new(), msg)])?;
    let entries = match &root.value {
        Value::Map(entries) => entries,
        _ => {
            return Err(vec![(
                Some(root.loc),
                String::new(),
                "a baseline is a mapping with one field, `accept:`, a list of `{ id, reason, expires }`".into(),
            )]);
        }
    };
    let mut repair = Repair::default();
    let mut accept = None;
    for (key, node) in entries {
        if key.name == "accept" {
            accept = repair.items::<Entry>(node, "accept");
        } else {
            let hint = did_you_mean(&key.name, FIELDS).map(|s| format!(", did you mean `{s}`?")).unwrap_or_default();
            let message = format!("unknown field `{}`{hint}; a baseline has one field, `accept`", key.name);
            repair.errors.push((Some(key.loc), key.name.clone(), message));
        }
    }
    let Some(accept) = accept else {
        if repair.errors.is_empty() {
            repair.errors.push((Some(root.loc), String::new(), "missing field `accept`".into()));
        }
        return Err(repair.errors);
    };
    let mut errors = repair.errors.clone();
    let kept: Vec<Entry> =
        from_node(&accept, "accept").map_err(|e| vec![(e.loc, e.path.unwrap_or_default(), e.message)])?;
    let positions = Positions::index(&root);
    for (path, message) in problems(&kept) {
        if let Some(path) = repair.original_path(&path) {
            errors.push((Some(positions.find(&path)), path, message));
        }
    }
    errors.sort_by_key(|(loc, _, _)| loc.map(|l| (l.line, l.col)));
    if errors.is_empty() { Ok(kept) } else { Err(errors) }
}

/// What is wrong with entries that loaded, by field path (`accept[1].id`).
fn problems(entries: &[Entry]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (index, e) in entries.iter().enumerate() {
        let mut field = |field: &str, why: String| out.push((format!("accept[{index}].{field}"), why));
        if e.id.trim().is_empty() || !e.id.contains(':') {
            field("id", "give the finding's id (KIND:RESOURCE, as `audit` prints it)".into());
        } else if !seen.insert(e.id.as_str()) {
            // Two entries for one finding would make the verdict depend on their order.
            field("id", format!("{:?} is accepted twice: keep one entry per finding", e.id));
        }
        if e.reason.trim().is_empty() {
            field("reason", "say why the risk is accepted".into());
        }
        if e.expires.parse::<jiff::civil::Date>().is_err() {
            field("expires", format!("{:?} is not a date: give YYYY-MM-DD", e.expires));
        }
    }
    out
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

    /// Every problem of a file, as `b.yaml:LINE:COL: path: message`.
    fn errors(text: &str) -> Vec<String> {
        match parse(Path::new("b.yaml"), text) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    /// One entry per finding (else the verdict would depend on their order), and the
    /// file is read as a scenario is: a FIFO is refused instead of blocking, a device
    /// instead of reading until memory runs out.
    #[test]
    fn a_finding_accepted_twice_or_a_file_that_is_no_file_is_refused() {
        let twice = "accept:\n  - id: a:b\n    reason: r\n    expires: 2027-06-30\n  - id: a:b\n    reason: r\n    expires: 2020-01-01\n";
        assert_eq!(errors(twice), ["b.yaml:5:9: accept[1].id: \"a:b\" is accepted twice: keep one entry per finding"]);
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = load(&fifo).unwrap_err().0[0].to_string();
        assert!(e.contains("a named pipe (FIFO), not a regular file"), "{e}");
        let e = load(Path::new("/dev/zero")).unwrap_err().0[0].to_string();
        assert!(e.contains("a device, not a regular file"), "{e}");
    }

    #[test]
    fn an_entry_accepts_its_finding_until_its_date_and_not_after() {
        let entries = parse(
            Path::new("b.yaml"),
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
            ("accept:\n  - id: a:b\n    reason: ''\n    expires: 2027-01-01\n", "b.yaml:3:13: accept[0].reason"),
            ("accept:\n  - id: a:b\n    reason: r\n    expires: soon\n", "b.yaml:4:14: accept[0].expires"),
            ("accept:\n  - id: ab\n    reason: r\n    expires: 2027-01-01\n", "b.yaml:2:9: accept[0].id"),
        ];
        for (text, want) in cases {
            let e = errors(text);
            assert!(e.len() == 1 && e[0].starts_with(want), "{e:?}");
        }
        let missing = errors("accept:\n  - id: a:b\n    expires: 2027-01-01\n");
        assert_eq!(missing, ["b.yaml:2:5: accept[0]: missing field `reason`"]);
    }

    /// Parse errors are the scenario loader's: at a line and column, in the file's terms,
    /// and every one of them at once, unknown fields and wrong types alike.
    #[test]
    fn every_problem_of_a_baseline_is_reported_at_its_line_and_column() {
        let text = "accept:\n  - id: a:b\n    reasn: r\n    expires: 2027-01-01\n  - id: [x]\n    reason: r\n    expires: 2027-01-01\n  - id: c:d\n    reason: {a: 1}\n    expires: 20270101\n  - id: e:f\n    reason: ok\n    expires: never\nacept: []\n";
        assert_eq!(
            errors(text),
            [
                "b.yaml:3:5: accept[0].reasn: unknown field `reasn`, did you mean `reason`?",
                "b.yaml:5:9: accept[1].id: expected a string, found a list",
                "b.yaml:9:13: accept[2].reason: expected a string, found a mapping",
                "b.yaml:10:14: accept[2].expires: expected a string, found 20270101",
                "b.yaml:13:14: accept[3].expires: \"never\" is not a date: give YYYY-MM-DD",
                "b.yaml:14:1: acept: unknown field `acept`, did you mean `accept`?; a baseline has one field, `accept`",
            ]
        );
        let syntax = errors("accept:\n  - id: a:b\n   reason: [r\n");
        assert_eq!(syntax.len(), 1, "{syntax:?}");
        assert!(syntax[0].starts_with("b.yaml:3:"), "{syntax:?}");
        assert_eq!(
            errors("accept:\n  - id: a:b\n    id: c:d\n"),
            ["b.yaml:3:5: key `id` appears twice in the same mapping"]
        );
    }
}
