//! Loading a scenario file: read, parse with positions, deserialize part by part so that
//! every broken part is reported, then validate. Reading the file (and checking that the
//! playbook it names exists) is the only I/O.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::aws::{Environment, Target};
use super::model::{AbortRule, Fault, Probe, Recovery, SCENARIO_FIELDS, Scenario};
use super::validate::validate;
use super::yaml::{self, Loc, Node, Positions, Value, did_you_mean, from_node};

/// Scenario files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One problem in a scenario file, printed as `FILE:LINE:COL: field.path: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub loc: Option<Loc>,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.loc {
            write!(f, ":{}:{}", l.line, l.col)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one file.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in {}", .0.len(), .0.first().map(|d| d.file.display().to_string()).unwrap_or_default())]
pub struct Invalid(pub Vec<Diagnostic>);

/// A valid scenario and where it came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub scenario: Scenario,
    pub file: PathBuf,
    /// The playbook path resolved against the scenario's directory.
    pub playbook: Option<PathBuf>,
    /// The playbook's timed steps (none without a playbook or its front-matter).
    pub steps: Vec<crate::playbook::Step>,
}

/// Reads, parses and validates one scenario file.
pub fn load(file: &Path) -> Result<Loaded, Invalid> {
    let diag = |loc: Option<Loc>, path: &str, message: String| Diagnostic {
        file: file.to_path_buf(),
        loc,
        path: path.to_string(),
        message,
    };
    let text = match std::fs::metadata(file) {
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return Err(Invalid(vec![diag(
                None,
                "",
                format!("file is {} bytes; scenario files are at most {MAX_FILE_BYTES}", m.len()),
            )]));
        }
        Ok(_) => std::fs::read(file).map_err(|e| Invalid(vec![diag(None, "", format!("cannot read: {e}"))])).and_then(
            |b| {
                String::from_utf8(b).map_err(|e| {
                    Invalid(vec![diag(None, "", format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))])
                })
            },
        )?,
        Err(e) => return Err(Invalid(vec![diag(None, "", format!("cannot read: {e}"))])),
    };
    let base = file.parent().unwrap_or(Path::new("."));
    let (scenario, playbook) = load_str(&text, base).map_err(|problems| {
        Invalid(problems.into_iter().map(|(loc, path, message)| diag(loc, &path, message)).collect())
    })?;
    // The playbook's steps, with errors named by the playbook file's own positions.
    let steps = match &playbook {
        Some(p) => match crate::playbook::load(p) {
            Ok(pb) => pb.steps,
            Err(problems) => {
                return Err(Invalid(
                    problems
                        .into_iter()
                        .map(|(loc, path, message)| Diagnostic { file: p.clone(), loc, path, message })
                        .collect(),
                ));
            }
        },
        None => Vec::new(),
    };
    Ok(Loaded { scenario, file: file.to_path_buf(), playbook, steps })
}

type Raw = (Option<Loc>, String, String);

/// Parses and validates scenario text; `base` resolves the playbook path.
pub fn load_str(text: &str, base: &Path) -> Result<(Scenario, Option<PathBuf>), Vec<Raw>> {
    let root = yaml::parse(text).map_err(|(loc, msg)| vec![(loc, String::new(), msg)])?;
    let mut errors: Vec<Raw> = Vec::new();
    let entries = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => {
            return Err(vec![(
                Some(root.loc),
                String::new(),
                "the file is empty; a scenario starts with `version: 1`".into(),
            )]);
        }
        _ => {
            return Err(vec![(
                Some(root.loc),
                String::new(),
                "a scenario is a mapping of fields (`version`, `name`, `steady_state`, ...)".into(),
            )]);
        }
    };

    // Part by part, so that one broken probe does not hide a broken fault.
    for (key, node) in entries {
        let name = key.name.as_str();
        let r = match name {
            "version" => check::<u32>(node, name),
            "name" | "description" | "owner" | "playbook" => check::<String>(node, name),
            "recovery" => check::<Recovery>(node, name),
            "environment" => check::<Environment>(node, name),
            "targets" => entries_of::<Target>(node, name),
            "steady_state" => items::<Probe>(node, name),
            "faults" => items::<Fault>(node, name),
            "abort" => items::<AbortRule>(node, name),
            "notify" => items::<crate::notify::Notify>(node, name),
            _ => {
                let message = match did_you_mean(name, SCENARIO_FIELDS) {
                    Some(s) => format!("unknown field `{name}`, did you mean `{s}`?"),
                    None => format!(
                        "unknown field `{name}`; expected one of {}",
                        SCENARIO_FIELDS.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                vec![(Some(key.loc), name.to_string(), message)]
            }
        };
        errors.extend(r);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Whole document: catches missing required fields.
    let scenario: Scenario = from_node(&root, "").map_err(|e| vec![de_raw(e)])?;

    let positions = Positions::index(&root);
    let mut errors: Vec<Raw> =
        validate(&scenario).into_iter().map(|p| (Some(positions.find(&p.path)), p.path, p.message)).collect();
    let playbook = scenario.playbook.as_ref().map(|p| base.join(p));
    if let Some(p) = &playbook {
        if !p.is_file() {
            errors.push((
                Some(positions.find("playbook")),
                "playbook".into(),
                format!("playbook file {} not found", p.display()),
            ));
        }
    }
    if errors.is_empty() { Ok((scenario, playbook)) } else { Err(errors) }
}

fn de_raw(e: yaml::DeError) -> Raw {
    (e.loc, e.path.unwrap_or_default(), e.message)
}

fn check<T: DeserializeOwned>(node: &Node, path: &str) -> Vec<Raw> {
    match from_node::<T>(node, path) {
        Ok(_) => vec![],
        Err(e) => vec![de_raw(e)],
    }
}

fn items<T: DeserializeOwned>(node: &Node, path: &str) -> Vec<Raw> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| from_node::<T>(item, &format!("{path}[{i}]")).err().map(de_raw))
            .collect(),
        _ => check::<Vec<T>>(node, path),
    }
}

fn entries_of<T: DeserializeOwned>(node: &Node, path: &str) -> Vec<Raw> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(k, item)| from_node::<T>(item, &format!("{path}.{}", k.name)).err().map(de_raw))
            .collect(),
        _ => check::<std::collections::BTreeMap<String, T>>(node, path),
    }
}
