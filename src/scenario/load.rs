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
use super::yaml::{self, Key, Loc, Node, Positions, Value, did_you_mean, from_node};

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
    /// What is valid but probably not meant (a value listed twice, a region firedrill does
    /// not know), each at its position.
    pub warnings: Vec<Diagnostic>,
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
    let (scenario, playbook, warnings) = check_str(&text, base).map_err(|problems| {
        Invalid(problems.into_iter().map(|(loc, path, message)| diag(loc, &path, message)).collect())
    })?;
    let warnings = warnings.into_iter().map(|(loc, path, message)| diag(loc, &path, message)).collect();
    Ok(Loaded { scenario, file: file.to_path_buf(), text, playbook, warnings })
}

type Raw = (Option<Loc>, String, String);

/// Parses and validates scenario text; `base` resolves the playbook path.
pub fn load_str(text: &str, base: &Path) -> Result<(Scenario, Option<PathBuf>), Vec<Raw>> {
    check_str(text, base).map(|(scenario, playbook, _)| (scenario, playbook))
}

/// [`load_str`], with the warnings of a valid scenario.
pub fn check_str(text: &str, base: &Path) -> Result<(Scenario, Option<PathBuf>, Vec<Raw>), Vec<Raw>> {
    let root = yaml::parse(text).map_err(|(loc, msg)| vec![(loc, String::new(), msg)])?;
    let (refused, mut warnings) = repeats(&root, super::repeats::SCENARIO);
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

    // Part by part, so that one broken probe does not hide a broken fault; and within a
    // part, field by field (see [`Repair`]), so that an unknown field does not hide a bad
    // value next to it.
    let mut repair = Repair::default();
    let mut fixed: Vec<(Key, Node)> = Vec::new();
    for (key, node) in entries {
        let name = key.name.as_str();
        let kept = match name {
            "version" => repair.part::<u32>(node, name),
            "name" | "description" | "owner" | "playbook" => repair.part::<String>(node, name),
            "recovery" => repair.part::<Recovery>(node, name),
            "pages" => repair.part::<super::model::Pages>(node, name),
            "safety" => repair.part::<super::safety::Safety>(node, name),
            "environment" => repair.part::<Environment>(node, name),
            "targets" => repair.entries::<Target>(node, name),
            "steady_state" => repair.items::<ProbeConfig>(node, name),
            "faults" => repair.items::<FaultConfig>(node, name),
            "abort" => repair.items::<AbortRule>(node, name),
            "notify" => repair.items::<super::notify::Notify>(node, name),
            _ => {
                let message = match did_you_mean(name, SCENARIO_FIELDS) {
                    Some(s) => format!("unknown field `{name}`, did you mean `{s}`?"),
                    None => format!(
                        "unknown field `{name}`; expected one of {}",
                        SCENARIO_FIELDS.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                repair.errors.push((Some(key.loc), name.to_string(), message));
                None
            }
        };
        if let Some(node) = kept {
            fixed.push((key.clone(), node));
        }
    }
    let positions = Positions::index(&root);
    if !repair.errors.is_empty() {
        // What did not load is reported; what did is still checked, so that every problem
        // of the file comes out in one pass. Required parts that did not load stand in
        // with neutral values, and problems that only follow from what was left out are
        // not reported.
        let mut errors = repair.errors.clone();
        errors.extend(refused);
        for (field, value) in PLACEHOLDERS {
            if !fixed.iter().any(|(k, _)| k.name == *field) {
                // Absent, or did not load: either way its problems are not this pass's.
                repair.dropped.push(field.to_string());
                let node = yaml::parse(value).map_err(|(loc, msg)| vec![(loc, String::new(), msg)])?;
                fixed.push((Key { name: field.to_string(), loc: root.loc }, node));
            }
        }
        let partial = Node { loc: root.loc, value: Value::Map(fixed) };
        if let Ok(scenario) = from_node::<Scenario>(&partial, "") {
            for p in validate(&scenario) {
                if let Some(path) = repair.original_path(&p.path)
                    && !repair.follows_from_what_was_left_out(&path, &p.message)
                {
                    errors.push((Some(positions.find(&path)), path, p.message));
                }
            }
            if let Some(message) = scenario.playbook.as_ref().and_then(|p| playbook_problem(&base.join(p))) {
                errors.push((Some(positions.find("playbook")), "playbook".into(), message));
            }
        }
        // In file order: the parts' own problems and the checks' read as one list.
        errors.sort_by_key(|(loc, _, _)| loc.map(|l| (l.line, l.col)));
        return Err(errors);
    }
    // Whole document: catches missing required fields.
    let scenario: Scenario = from_node(&root, "").map_err(|e| vec![de_raw(e)])?;

    let mut errors: Vec<Raw> =
        validate(&scenario).into_iter().map(|p| (Some(positions.find(&p.path)), p.path, p.message)).collect();
    errors.extend(refused);
    warnings.extend(
        super::validate::warnings(&scenario).into_iter().map(|p| (Some(positions.find(&p.path)), p.path, p.message)),
    );
    warnings.sort_by_key(|(loc, _, _)| loc.map(|l| (l.line, l.col)));
    let playbook = scenario.playbook.as_ref().map(|p| base.join(p));
    if let Some(message) = playbook.as_deref().and_then(playbook_problem) {
        errors.push((Some(positions.find("playbook")), "playbook".into(), message));
    }
    if errors.is_empty() { Ok((scenario, playbook, warnings)) } else { Err(errors) }
}

/// The repeated values in the lists of a file ([`super::repeats`]): those refused, and
/// those that are only warnings.
pub(crate) fn repeats(root: &Node, rules: &[super::repeats::Rule]) -> (Vec<Raw>, Vec<Raw>) {
    let (refused, warned): (Vec<_>, Vec<_>) =
        super::repeats::find(root, rules).into_iter().partition(|f| f.repeat == super::repeats::Repeat::Refuse);
    let raw = |f: super::repeats::Found| (Some(f.loc), f.path, f.message);
    (refused.into_iter().map(raw).collect(), warned.into_iter().map(raw).collect())
}

/// Why the playbook file at `p` cannot be read, if it cannot.
fn playbook_problem(p: &Path) -> Option<String> {
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() => None,
        Ok(m) => {
            Some(format!("playbook {} {}", p.display(), ReadError::NotRegular(super::file::kind_of(m.file_type()))))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(format!("playbook file {} not found", p.display())),
        Err(e) => Some(format!("cannot read the playbook file {}: {e}", p.display())),
    }
}

/// The playbook a scenario file names (`playbook:`, resolved against its directory), if
/// that file exists, read even when the rest of the scenario is invalid: `validate`
/// checks it too, so that every problem of both files comes out in one pass.
pub fn named_playbook(file: &Path) -> Option<PathBuf> {
    let text = super::file::read_text(file, MAX_FILE_BYTES).ok()?;
    let root = yaml::parse(&text).ok()?;
    let Value::Map(entries) = &root.value else { return None };
    let (_, node) = entries.iter().find(|(k, _)| k.name == "playbook")?;
    let Value::Str(p) = &node.value else { return None };
    let path = file.parent().unwrap_or(Path::new(".")).join(p);
    playbook_problem(&path).is_none().then_some(path)
}

/// Neutral stand-ins for the required parts, used only to check the rest of a file whose
/// own copy of them did not load (their problems are not reported: see `dropped`).
const PLACEHOLDERS: &[(&str, &str)] =
    &[("version", "1"), ("name", "x"), ("steady_state", "[]"), ("faults", "[]"), ("recovery", "{ within: 5m }")];

/// The most fields taken out of one part before it is given up on.
const MAX_REPAIRS: usize = 32;

/// Deserializes a file part by part, taking out each field that does not load (after
/// reporting it) and trying again, so that every broken field of a part is reported. A
/// part that still does not load (a required field was taken out, or a value cannot be
/// taken out) is left out of the semantic checks, and so is everything that only follows
/// from its absence.
#[derive(Default)]
pub(crate) struct Repair {
    pub(crate) errors: Vec<Raw>,
    /// Paths left out (whole parts, items, entries, or fields taken out of a part).
    pub(crate) dropped: Vec<String>,
    /// Names of the items and targets left out: a problem naming them (`unknown target
    /// `data``) follows from their absence.
    names: Vec<String>,
    /// For each list, the original index of each item kept.
    kept: Vec<(String, Vec<usize>)>,
}

impl Repair {
    /// `node` (at `path`) as far as it loads: with the fields that do not taken out, or
    /// `None` when it cannot be made to load.
    pub(crate) fn part<T: DeserializeOwned>(&mut self, node: &Node, path: &str) -> Option<Node> {
        let mut node = node.clone();
        let mut taken: Vec<String> = Vec::new();
        for _ in 0..MAX_REPAIRS {
            let e = match from_node::<T>(&node, path) {
                Ok(_) => {
                    self.take(taken);
                    return Some(node);
                }
                Err(e) => e,
            };
            let at = e.path.clone().unwrap_or_default();
            // Once a field was taken out, a problem of the part as a whole (a required
            // field missing, a probe without a kind) may only follow from that: the part
            // cannot load, and what was said stands.
            if !taken.is_empty() && at == path {
                break;
            }
            self.errors.push(de_raw(e));
            // Only a named field strictly inside the part can be taken out.
            let inner = at.strip_prefix(path).filter(|rest| rest.starts_with('.') && !rest.ends_with(']'));
            match inner {
                Some(rest) if take_out(&mut node, rest) => taken.push(at),
                _ => break,
            }
        }
        self.dropped.push(path.to_string());
        self.take(taken);
        None
    }

    /// Fields taken out: problems in them, and those of the part that held them (a rule
    /// that now lacks the field, say), only follow from their absence.
    fn take(&mut self, taken: Vec<String>) {
        for t in taken {
            if let Some(i) = t.rfind(['.', '[']) {
                self.dropped.push(format!("{}=", &t[..i]));
            }
            self.dropped.push(t);
        }
    }

    pub(crate) fn items<T: DeserializeOwned>(&mut self, node: &Node, path: &str) -> Option<Node> {
        let Value::Seq(items) = &node.value else {
            return self.part::<Vec<T>>(node, path);
        };
        let mut kept = Vec::new();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match self.part::<T>(item, &format!("{path}[{i}]")) {
                Some(n) => {
                    kept.push(i);
                    out.push(n);
                }
                None => self.names.extend(name_of(item)),
            }
        }
        if kept.len() < items.len() {
            // The list's own problems (empty, say) may only follow from what was left out.
            self.dropped.push(format!("{path}="));
        }
        self.kept.push((path.to_string(), kept));
        Some(Node { loc: node.loc, value: Value::Seq(out) })
    }

    fn entries<T: DeserializeOwned>(&mut self, node: &Node, path: &str) -> Option<Node> {
        let Value::Map(entries) = &node.value else {
            return self.part::<std::collections::BTreeMap<String, T>>(node, path);
        };
        let mut out = Vec::new();
        for (k, item) in entries {
            match self.part::<T>(item, &format!("{path}.{}", k.name)) {
                Some(n) => out.push((k.clone(), n)),
                None => self.names.push(k.name.clone()),
            }
        }
        Some(Node { loc: node.loc, value: Value::Map(out) })
    }

    /// The path in the file of a problem found in the repaired scenario (list items left
    /// out shift the indices after them); `None` if it cannot be mapped back.
    pub(crate) fn original_path(&self, path: &str) -> Option<String> {
        for (list, kept) in &self.kept {
            if let Some(rest) = path.strip_prefix(&format!("{list}[")) {
                let (i, tail) = rest.split_once(']')?;
                let original = kept.get(i.parse::<usize>().ok()?)?;
                return Some(format!("{list}[{original}]{tail}"));
            }
        }
        Some(path.to_string())
    }

    /// Whether a problem at `path` only follows from a part that was left out: it is in
    /// that part, it is about the list an item was taken from, or it names an item or a
    /// target that was left out.
    pub(crate) fn follows_from_what_was_left_out(&self, path: &str, message: &str) -> bool {
        self.dropped.iter().any(|d| match d.strip_suffix('=') {
            Some(list) => path == list,
            None => path == d || path.starts_with(&format!("{d}.")) || path.starts_with(&format!("{d}[")),
        }) || self.names.iter().any(|n| message.contains(&format!("`{n}`")))
    }
}

/// The `name` of a list item, if it has one.
fn name_of(item: &Node) -> Option<String> {
    match &item.value {
        Value::Map(entries) => entries.iter().find(|(k, _)| k.name == "name").and_then(|(_, v)| match &v.value {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        }),
        _ => None,
    }
}

/// Takes the field at `rest` (`.a.b`, relative to `node`; map keys only) out of `node`.
/// Whether there was one.
fn take_out(node: &mut Node, rest: &str) -> bool {
    let Some(rest) = rest.strip_prefix('.') else { return false };
    let Value::Map(entries) = &mut node.value else { return false };
    // The longest key that the path starts with (keys may hold dots).
    let Some(i) = entries
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| rest == k.name || rest.starts_with(&format!("{}.", k.name)))
        .max_by_key(|(_, (k, _))| k.name.len())
        .map(|(i, _)| i)
    else {
        return false;
    };
    let key_len = entries[i].0.name.len();
    if rest.len() == key_len {
        entries.remove(i);
        true
    } else {
        take_out(&mut entries[i].1, &rest[key_len..])
    }
}

fn de_raw(e: yaml::DeError) -> Raw {
    (e.loc, e.path.unwrap_or_default(), e.message)
}
