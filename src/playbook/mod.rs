//! Playbooks: the human side of a game day. A playbook is Markdown (the narrative people
//! read) with optional YAML front-matter between `---` lines that lists timed steps:
//! what, who, when (an offset after a run event: `start`, `inject`, `detect`, `recover`,
//! `abort`, `revert`, `end`), and whether a person does it (manual) or firedrill does
//! (`run`: a shell command, or `webhook`). This module owns the model and its pure
//! validation; [`runner`] schedules the steps during a run.

pub mod runner;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::notify::Webhook;
use crate::scenario::duration::Offset;
use crate::scenario::file::{ReadError, read_text};
use crate::scenario::load::MAX_FILE_BYTES;
use crate::scenario::validate::{command_problem, webhook_problems};
use crate::scenario::yaml::{self, Loc, Positions, Value, did_you_mean, from_node};
use crate::scenario::{Diagnostic, Invalid, Loaded};

/// The run events a step can be timed from.
pub const EVENTS: &[&str] = &["start", "inject", "detect", "recover", "abort", "revert", "end"];

/// The front-matter of a playbook.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    #[serde(default)]
    pub steps: Vec<Step>,
    /// What is valid but probably not what was meant (a text cut by a YAML comment).
    #[serde(skip)]
    #[schemars(skip)]
    pub warnings: Vec<Problem>,
}

/// One step of the drill.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    /// What to do, in words.
    pub what: String,
    /// Who does it (a role: `incident-commander`, `comms`, ...).
    pub who: String,
    /// The run event the step is timed from; default `start`.
    #[serde(default = "default_on")]
    pub on: String,
    /// How long after the event the step is due; default `0s` (at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Offset>,
    /// A communication step (staff, status page, customers): the report measures how long
    /// communication took relative to detection.
    #[serde(default)]
    pub communicate: bool,
    /// Automated: run this shell command when due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Automated: send this webhook when due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// A manual step on `start` (e.g. "read the abort criteria aloud"): with
    /// `run --interactive`, nothing is injected until the facilitator answers it. Without
    /// `--interactive` it holds nothing (and is reported as not exercised).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hold: bool,
}

fn default_on() -> String {
    "start".to_string()
}

impl Step {
    pub fn after(&self) -> Duration {
        self.after.map_or(Duration::ZERO, |d| d.0)
    }

    pub fn kind(&self) -> &'static str {
        match (&self.run, &self.webhook) {
            (Some(_), _) => "command",
            (_, Some(_)) => "webhook",
            _ => "manual",
        }
    }
}

/// The steps in the order a run makes them due: by event (in [`EVENTS`] order), then by
/// delay; steps due at the same moment keep the playbook's order.
pub fn in_order(steps: &[Step]) -> Vec<&Step> {
    let mut order: Vec<&Step> = steps.iter().collect();
    order.sort_by_key(|s| (EVENTS.iter().position(|e| *e == s.on).unwrap_or(EVENTS.len()), s.after()));
    order
}

/// The playbook's schedule, for `plan`: each step in the order a run makes them due (by
/// event, then by delay), with when, who, what and how it is done, so that the room can
/// rehearse it before the game day.
pub fn schedule(steps: &[Step]) -> Vec<String> {
    let order = in_order(steps);
    let when: Vec<String> =
        order.iter().map(|s| format!("{} +{}", s.on, humantime::format_duration(s.after()))).collect();
    let width = when.iter().map(|w| w.chars().count()).max().unwrap_or(0);
    let who = order.iter().map(|s| s.who.chars().count()).max().unwrap_or(0);
    order
        .iter()
        .zip(&when)
        .map(|(s, w)| {
            let mut how = s.kind().to_string();
            if s.communicate {
                how.push_str(", communication");
            }
            if s.hold {
                how.push_str(", holds the injection");
            }
            format!("{w:width$}  {:who$}  {}: {} ({how})", s.who, s.name, s.what)
        })
        .collect()
}

/// A playbook problem: position in the playbook file, field path, message.
pub type Problem = (Option<Loc>, String, String);

/// Splits Markdown front-matter: the YAML text and the line it starts on (1-based).
fn front_matter(text: &str) -> Option<(&str, u64)> {
    let rest = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Some((&rest[..offset], 2));
        }
        offset += line.len();
    }
    None
}

/// Parses and validates a playbook's text. A playbook without front-matter has no steps.
pub fn parse(text: &str) -> Result<Playbook, Vec<Problem>> {
    if text.starts_with("---") && front_matter(text).is_none() {
        return Err(vec![(
            Some(Loc { line: 1, col: 1 }),
            String::new(),
            "front-matter starts with `---` but has no closing `---` line".into(),
        )]);
    }
    let Some((yaml_text, first_line)) = front_matter(text) else { return Ok(Playbook::default()) };
    let shift = |l: Loc| Loc { line: l.line + first_line - 1, col: l.col };
    let root = yaml::parse(yaml_text).map_err(|(loc, m)| vec![(loc.map(shift), String::new(), m)])?;
    if matches!(root.value, Value::Null) {
        return Ok(Playbook::default());
    }
    if let Value::Map(entries) = &root.value {
        for (k, _) in entries {
            if k.name != "steps" {
                let hint =
                    did_you_mean(&k.name, &["steps"]).map(|s| format!(", did you mean `{s}`?")).unwrap_or_default();
                return Err(vec![(Some(shift(k.loc)), k.name.clone(), format!("unknown field `{}`{hint}", k.name))]);
            }
        }
    }
    let mut pb: Playbook =
        from_node(&root, "").map_err(|e| vec![(e.loc.map(shift), e.path.unwrap_or_default(), e.message)])?;
    let positions = Positions::index(&root);
    let (refused, repeated) = crate::scenario::load::repeats(&root, crate::scenario::repeats::PLAYBOOK);
    let shifted = |raw: Vec<Problem>| raw.into_iter().map(|(l, p, m)| (l.map(shift), p, m)).collect::<Vec<_>>();
    let mut problems: Vec<Problem> =
        validate(&pb).into_iter().map(|(path, m)| (Some(shift(positions.find(&path))), path, m)).collect();
    problems.extend(shifted(refused));
    if !problems.is_empty() {
        return Err(problems);
    }
    pb.warnings =
        cut_by_comments(&pb, yaml_text, &positions).into_iter().map(|(l, p, m)| (Some(shift(l)), p, m)).collect();
    pb.warnings.extend(shifted(repeated));
    pb.warnings.sort_by_key(|(loc, _, _)| loc.map(|l| (l.line, l.col)));
    Ok(pb)
}

/// Text fields that YAML cut where a ` #` comment begins on the same line
/// (`what: Post in #incidents` is the text `Post in`): valid, but not what was written.
fn cut_by_comments(pb: &Playbook, yaml_text: &str, positions: &Positions) -> Vec<(Loc, String, String)> {
    let lines: Vec<&str> = yaml_text.lines().collect();
    let mut out = Vec::new();
    for (i, s) in pb.steps.iter().enumerate() {
        for (field, value) in [("name", &s.name), ("what", &s.what), ("who", &s.who)] {
            let path = format!("steps[{i}].{field}");
            let loc = positions.find(&path);
            let Some(line) = usize::try_from(loc.line).ok().and_then(|l| lines.get(l.wrapping_sub(1))) else {
                continue;
            };
            // Where the scalar starts on its line; a quoted one keeps its `#`.
            let Some(start) =
                line.char_indices().nth(usize::try_from(loc.col).unwrap_or(0).saturating_sub(1)).map(|(b, _)| b)
            else {
                continue;
            };
            let Some(rest) = line[start..].strip_prefix(value.as_str()) else { continue };
            if rest.starts_with([' ', '\t']) && rest.trim_start().starts_with('#') {
                out.push((
                    loc,
                    path,
                    format!(
                        "YAML read this as {value:?}: the rest of the line, `{}`, is a comment. Quote the whole text to keep it",
                        rest.trim()
                    ),
                ));
            }
        }
    }
    out
}

/// Reads a playbook file: a regular file of at most [`MAX_FILE_BYTES`], like a scenario.
pub fn load(path: &Path) -> Result<Playbook, Vec<Problem>> {
    let text = read_text(path, MAX_FILE_BYTES).map_err(|e| {
        let message = match e {
            ReadError::NotFound => "playbook file not found".to_string(),
            ReadError::NotRegular(kind) => format!("{kind}, not a playbook file"),
            ReadError::TooLarge { cap } => format!("the file is larger than {cap} bytes, the most a playbook may be"),
            e => e.to_string(),
        };
        vec![(None, String::new(), message)]
    })?;
    parse(&text)
}

/// The timed steps of a scenario's playbook (none without a playbook or its
/// front-matter), with each problem named by the playbook file's own positions.
pub fn for_scenario(loaded: &Loaded) -> Result<(Vec<Step>, Vec<Diagnostic>), Invalid> {
    let Some(p) = &loaded.playbook else { return Ok((Vec::new(), Vec::new())) };
    let diagnostics = |problems: Vec<Problem>| -> Vec<Diagnostic> {
        problems.into_iter().map(|(loc, path, message)| Diagnostic { file: p.clone(), loc, path, message }).collect()
    };
    let pb = load(p).map_err(|problems| Invalid(diagnostics(problems)))?;
    Ok((pb.steps, diagnostics(pb.warnings)))
}

/// Every problem of the playbook file at `p` (none for a valid one), named by its own
/// positions: for a scenario that is itself invalid, so that its playbook's problems come
/// out in the same pass.
pub fn problems(p: &Path) -> Vec<Diagnostic> {
    match load(p) {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .into_iter()
            .map(|(loc, path, message)| Diagnostic { file: p.to_path_buf(), loc, path, message })
            .collect(),
    }
}

/// Pure checks: known events, one kind per step, names unique, no person due twice at
/// the same moment.
pub fn validate(pb: &Playbook) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut slots: HashMap<(&str, &str, Duration), usize> = HashMap::new();
    for (i, s) in pb.steps.iter().enumerate() {
        let at = format!("steps[{i}]");
        if let Some(first) = names.insert(&s.name, i) {
            out.push((
                format!("{at}.name"),
                format!("duplicate step name `{}` (first used by steps[{first}])", s.name),
            ));
        }
        if s.name.trim().is_empty() {
            out.push((format!("{at}.name"), "the step name is empty".into()));
        }
        if !EVENTS.contains(&s.on.as_str()) {
            let hint = match did_you_mean(&s.on, EVENTS) {
                Some(e) => format!("; did you mean `{e}`?"),
                None => {
                    format!("; events are {}", EVENTS.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", "))
                }
            };
            out.push((format!("{at}.on"), format!("unknown event `{}`{hint}", s.on)));
        }
        if s.run.is_some() && s.webhook.is_some() {
            out.push((at.clone(), "a step is manual, `run` or `webhook`, not both".into()));
        }
        if s.hold && (s.kind() != "manual" || s.on != "start") {
            out.push((
                format!("{at}.hold"),
                format!(
                    "only a manual step on `start` can hold the injection (this one is {} on `{}`)",
                    s.kind(),
                    s.on
                ),
            ));
        }
        if s.run.as_ref().is_some_and(|r| r.trim().is_empty()) {
            out.push((format!("{at}.run"), "the command is empty".into()));
        }
        if let Some(m) = s.run.as_deref().and_then(command_problem) {
            out.push((format!("{at}.run"), m));
        }
        if let Some(w) = &s.webhook {
            out.extend(webhook_problems(&format!("{at}.webhook"), w).into_iter().map(|p| (p.path, p.message)));
        }
        if s.kind() == "manual"
            && let Some(first) = slots.insert((&s.who, &s.on, s.after()), i)
        {
            let field = if s.after.is_some() { "after" } else { "on" };
            out.push((
                    format!("{at}.{field}"),
                    format!(
                        "overlaps steps[{first}] (`{}`): both are due for `{}` at {} + {}; stagger them so one person is not asked two things at once",
                        pb.steps[first].name,
                        s.who,
                        s.on,
                        humantime::format_duration(s.after())
                    ),
                ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_manual_step_on_start_can_hold() {
        let ok = "---\nsteps:\n  - name: criteria\n    what: Read the criteria\n    who: ic\n    on: start\n    hold: true\n---\n";
        assert_eq!(errors(ok), Vec::<String>::new());
        let late = ok.replace("on: start", "on: inject");
        assert_eq!(
            errors(&late),
            [
                "7:11: steps[0].hold: only a manual step on `start` can hold the injection (this one is manual on `inject`)"
            ]
        );
        let auto = ok.replace("    hold: true", "    run: \"true\"\n    hold: true");
        assert!(errors(&auto)[0].contains("(this one is command on `start`)"), "{:?}", errors(&auto));
    }

    const PB: &str = "---\nsteps:\n  - name: tell-staff\n    what: Post in #incidents\n    who: ic\n    on: inject\n    communicate: true\n  - name: status\n    what: Update the status page\n    who: comms\n    on: detect\n    after: 1m\n    communicate: true\n---\n# Playbook\n\nText.\n";

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => vec![],
            Err(p) => p
                .into_iter()
                .map(|(l, path, m)| format!("{}: {path}: {m}", l.map(|l| l.to_string()).unwrap_or_default()))
                .collect(),
        }
    }

    /// `what: Post in #incidents` is the text `Post in`: valid YAML, so a warning at the
    /// field, not an error; quoted, the `#` is kept and nothing is said.
    #[test]
    fn a_text_cut_by_a_yaml_comment_is_a_warning_at_its_field() {
        let pb = parse(PB).unwrap();
        assert_eq!(pb.steps[0].what, "Post in");
        let w: Vec<String> = pb.warnings.iter().map(|(l, p, m)| format!("{}: {p}: {m}", l.unwrap())).collect();
        assert_eq!(
            w,
            [
                "4:11: steps[0].what: YAML read this as \"Post in\": the rest of the line, `#incidents`, is a comment. Quote the whole text to keep it"
            ]
        );
        let quoted = parse(&PB.replace("what: Post in #incidents", "what: \"Post in #incidents\"")).unwrap();
        assert_eq!(quoted.steps[0].what, "Post in #incidents");
        assert!(quoted.warnings.is_empty());
        // YAML cannot tell a comment meant as one from a text it cut: a comment after a
        // text field is warned about too (a comment on its own line never is).
        let trailing = parse(&PB.replace("who: comms", "who: comms   # the comms lead")).unwrap();
        assert_eq!(trailing.warnings.len(), 2, "{:?}", trailing.warnings);
    }

    #[test]
    fn an_offset_after_its_event_may_be_zero() {
        let pb = parse(&PB.replace("after: 1m", "after: 0s")).unwrap();
        assert_eq!(pb.steps[1].after(), Duration::ZERO);
    }

    #[test]
    fn front_matter_steps_parse() {
        let pb = parse(PB).unwrap();
        assert_eq!(pb.steps.len(), 2);
        assert_eq!(pb.steps[1].after(), Duration::from_secs(60));
        assert_eq!(pb.steps[0].kind(), "manual");
        assert!(parse("# Just prose\n").unwrap().steps.is_empty());
    }

    #[test]
    fn unknown_events_and_overlaps_are_reported_at_their_line() {
        let bad = PB.replace("on: detect", "on: detected");
        assert_eq!(errors(&bad), ["11:9: steps[1].on: unknown event `detected`; did you mean `detect`?"]);
        let overlap = PB.replace("who: comms\n    on: detect\n    after: 1m", "who: ic\n    on: inject");
        assert_eq!(
            errors(&overlap),
            [
                "11:9: steps[1].on: overlaps steps[0] (`tell-staff`): both are due for `ic` at inject + 0s; stagger them so one person is not asked two things at once"
            ]
        );
        assert_eq!(errors("---\nsteps: []\n"), ["1:1: : front-matter starts with `---` but has no closing `---` line"]);
        assert_eq!(errors("---\nstep: []\n---\n"), ["2:1: step: unknown field `step`, did you mean `steps`?"]);
        let hook = PB.replace("communicate: true\n---", "communicate: true\n    webhook: { url: \"ftp://x\" }\n---");
        assert!(errors(&hook)[0].starts_with("14:"), "{:?}", errors(&hook));
    }

    /// A step's offset is bounded like every duration, and what it runs or sends must be
    /// something a shell or HTTP can carry.
    #[test]
    fn offsets_commands_and_webhooks_are_checked_like_the_scenarios() {
        let long = PB.replace("after: 1m", "after: 18446744073709551615s");
        assert_eq!(
            errors(&long),
            ["12:12: steps[1].after: durations are at most 7 days, found \"18446744073709551615s\""]
        );
        let nul = PB.replace("communicate: true\n---", "communicate: true\n    run: \"echo\\0\"\n---");
        assert_eq!(
            errors(&nul),
            ["14:10: steps[1].run: the command contains a NUL byte (`\\0`), which no shell command can hold"]
        );
        let hook = PB.replace(
            "communicate: true\n---",
            "communicate: true\n    webhook: { url: \"https://x.example/\", headers: { A: \"1\\r\\n2\" }, timeout: 1ns }\n---",
        );
        assert_eq!(
            errors(&hook),
            [
                "14:57: steps[1].webhook.headers.A: invalid value for header `A`: header values cannot hold control characters (newlines, NUL)",
                "14:78: steps[1].webhook.timeout: timeouts are at least 10ms, found 1ns",
            ]
        );
    }

    /// The playbook half of the fuzz corpus kept in the repo (`fuzz/seeds/playbook`)
    /// parses or fails cleanly; `cargo test` replays it without a nightly toolchain.
    #[test]
    fn fuzz_corpus_replays_without_panics() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/playbook");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            if let Ok(text) = std::str::from_utf8(&bytes) {
                drop(parse(text));
                seen += 1;
            }
        }
        assert!(seen >= 10, "the playbook corpus is in fuzz/seeds/playbook: {seen} inputs");
    }
}
