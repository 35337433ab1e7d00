//! Loading a scenario file: read, parse with positions, deserialize part by part so that
//! every broken part is reported, then validate. Reading the file (and checking that the
//! playbook it names exists) is the only I/O; the playbook's steps are loaded by
//! `playbook::for_scenario`, from the game day's load stage.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::aws::{Environment, Target};
use super::file::ReadError;
use super::model::{AbortRule, FaultConfig, ProbeConfig, Recovery, SCENARIO_FIELDS, Scenario};
use super::validate::validate;
use super::yaml::{self, Loc, Node, Positions, Value, did_you_mean, from_node};

/// Scenario and playbook files larger than this are refused before parsing (at most this
/// many bytes and one more are ever read).
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
    /// The exact text that was loaded (a run keeps it as `scenario.yaml`).
    pub text: String,
    /// The playbook path resolved against the scenario's directory (its steps are loaded
    /// with it by the game day's load stage).
    pub playbook: Option<PathBuf>,
}

/// Reads, parses and validates one scenario file.
pub fn load(file: &Path) -> Result<Loaded, Invalid> {
    let diag = |loc: Option<Loc>, path: &str, message: String| Diagnostic {
        file: file.to_path_buf(),
        loc,
        path: path.to_string(),
        message,
    };
    let text = super::file::read_text(file, MAX_FILE_BYTES).map_err(|e| {
        let message = match e {
            ReadError::NotFound => "file not found".to_string(),
            ReadError::NotRegular(kind) => format!("{kind}, not a scenario file"),
            ReadError::TooLarge { cap } => format!("the file is larger than {cap} bytes, the most a scenario may be"),
            e => e.to_string(),
        };
        Invalid(vec![diag(None, "", message)])
    })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let (scenario, playbook) = load_str(&text, base).map_err(|problems| {
        Invalid(problems.into_iter().map(|(loc, path, message)| diag(loc, &path, message)).collect())
    })?;
    Ok(Loaded { scenario, file: file.to_path_buf(), text, playbook })
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
            "pages" => check::<super::model::Pages>(node, name),
            "safety" => check::<super::safety::Safety>(node, name),
            "environment" => check::<Environment>(node, name),
            "targets" => entries_of::<Target>(node, name),
            "steady_state" => items::<ProbeConfig>(node, name),
            "faults" => items::<FaultConfig>(node, name),
            "abort" => items::<AbortRule>(node, name),
            "notify" => items::<super::notify::Notify>(node, name),
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
        let problem = match std::fs::metadata(p) {
            Ok(m) if m.is_file() => None,
            Ok(m) => {
                Some(format!("playbook {} {}", p.display(), ReadError::NotRegular(super::file::kind_of(m.file_type()))))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some(format!("playbook file {} not found", p.display()))
            }
            Err(e) => Some(format!("cannot read the playbook file {}: {e}", p.display())),
        };
        if let Some(message) = problem {
            errors.push((Some(positions.find("playbook")), "playbook".into(), message));
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
