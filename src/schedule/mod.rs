//! Calendars of game days: which scenario runs when (5-field `cron` or a readable `when`
//! in the calendar's time zone), optional random start windows, change freezes and the
//! gates checked before a run. This module is pure: loading and validating a calendar,
//! and computing its occurrences; `firedrill schedule` (src/cli/schedule.rs) checks the
//! gates, runs what is due and records it ([`record`]).
//!
//! Time rules (docs/schedule.md says the same for users):
//! - A schedule names local (civil) times; each one is one occurrence.
//! - A local time that does not exist (spring forward: 02:30 on the last Sunday of March
//!   in Europe/Paris) starts as far after it as the clocks jumped: 03:30 CEST.
//! - A local time that happens twice (fall back: 02:30 on the last Sunday of October)
//!   runs once, at the first of the two (02:30 CEST, +02:00).
//! - A `window` adds a random whole number of minutes in `[0, window)` to the start,
//!   counted in elapsed time; the seed comes from the game day's id and the occurrence's
//!   scheduled local time, so `next`, `due` and `run-due` agree, and the run uses it.
//! - A freeze covers `from` 00:00 to the end of `to` (local); an occurrence whose start
//!   falls inside is skipped, and recorded as skipped when it comes due.
//! - An occurrence is due from its start until `catch_up` (default 1h) later, unless it
//!   ran or was skipped already.

pub mod model;
pub mod record;
pub mod when;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::civil;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, Zoned};
use sha2::Digest;

pub use model::*;

use crate::scenario::load::Repair;
use crate::scenario::yaml::{self, Node, Positions, Value, did_you_mean, from_node};
use crate::scenario::{Diagnostic, Invalid};

/// How long after its start a missed occurrence is still due, unless `catch_up` says.
pub const DEFAULT_CATCH_UP: Duration = Duration::from_secs(3600);

/// The most often a game day may recur: a pattern that fires more often is a mistake (and
/// would make every look-back walk thousands of occurrences).
pub const MIN_GAP: Duration = Duration::from_secs(3600);

/// Whether a YAML text is a calendar (it has a top-level `gamedays:` key) rather than a
/// scenario.
pub fn is_calendar(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("gamedays:") || l.starts_with("\"gamedays\":"))
}

/// The JSON Schema of calendar files, generated from the model types.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Calendar)).unwrap_or_default()
}

/// A valid calendar, its schedules compiled and paths resolved.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub file: PathBuf,
    pub calendar: Calendar,
    pub tz: TimeZone,
    pub days: Vec<Day>,
    pub catch_up: Duration,
    /// Each freeze as `[from, to)` instants, with its reason.
    pub freezes: Vec<(Timestamp, Timestamp, String)>,
    /// What is valid but probably not meant (a value listed twice), each at its position.
    pub warnings: Vec<Diagnostic>,
}

/// One game day of a calendar, ready to compute occurrences.
#[derive(Clone, Debug)]
pub struct Day {
    pub id: String,
    /// The scenario file, resolved against the calendar's directory.
    pub scenario: PathBuf,
    /// The schedule as written (`cron: …` or `when: …`).
    pub rule: String,
    pub cron: Cron,
    pub window: Option<Duration>,
    pub announce: Vec<Duration>,
}

/// One occurrence of a game day.
#[derive(Clone, Debug, PartialEq)]
pub struct Occurrence {
    pub gameday: String,
    pub scenario: PathBuf,
    /// `ID@YYYY-MM-DDTHH:MM`, the scheduled local time: names the occurrence in records.
    pub key: String,
    /// The local time the schedule names.
    pub scheduled: civil::DateTime,
    /// When it starts (after the daylight-saving rule and the window's offset).
    pub start: Zoned,
    /// The window's random offset, in minutes (0 without a window).
    pub offset_minutes: u64,
    /// Derived from the game day and `scheduled`; also the run's target-selection seed.
    pub seed: u64,
    /// What a daylight-saving change did to this occurrence, if anything.
    pub dst: Option<String>,
    /// The freeze that skips it, if any.
    pub freeze: Option<String>,
    /// Due until then (start + catch-up).
    pub due_until: Timestamp,
}

type Raw = (Option<yaml::Loc>, String, String);

/// Reads, parses and validates a calendar file, and every scenario file it names.
pub fn load(file: &Path) -> Result<Loaded, Invalid> {
    let diag = |(loc, path, message): Raw| Diagnostic { file: file.to_path_buf(), loc, path, message };
    let text = crate::scenario::file::read_text(file, crate::scenario::load::MAX_FILE_BYTES)
        .map_err(|e| Invalid(vec![diag((None, String::new(), e.to_string()))]))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let loaded = load_str(&text, base).map_err(|p| Invalid(p.into_iter().map(diag).collect()))?;
    let warnings = loaded.warnings.into_iter().map(|w| Diagnostic { file: file.to_path_buf(), ..w }).collect();
    Ok(Loaded { file: file.to_path_buf(), warnings, ..loaded })
}

/// Parses and validates calendar text; `base` resolves the scenario paths. Every scenario
/// file named must load too (its problems are reported at the `scenario` field).
pub fn load_str(text: &str, base: &Path) -> Result<Loaded, Vec<Raw>> {
    let root = yaml::parse(text).map_err(|(loc, msg)| vec![(loc, String::new(), msg)])?;
    let Value::Map(entries) = &root.value else {
        return Err(vec![(
            Some(root.loc),
            String::new(),
            "a calendar is a mapping of fields (`version`, `timezone`, `gamedays`, ...)".into(),
        )]);
    };
    // Part by part, as the scenario loader does (`Repair`): a part that does not load is
    // reported and left out, and everything that did load is still checked, so that every
    // problem of the file comes out in one pass.
    let (refused, warnings) = crate::scenario::load::repeats(&root, crate::scenario::repeats::CALENDAR);
    let mut repair = Repair::default();
    repair.errors.extend(refused);
    let mut fixed: Vec<(yaml::Key, Node)> = Vec::new();
    for (key, node) in entries {
        let name = key.name.as_str();
        let too_many = |max: usize| matches!(&node.value, Value::Seq(l) if l.len() > max);
        let kept = match name {
            "version" => repair.part::<u32>(node, name),
            "timezone" => repair.part::<String>(node, name),
            "catch_up" => repair.part::<crate::scenario::Dur>(node, name),
            "gamedays" | "freeze" if too_many(if name == "gamedays" { MAX_GAMEDAYS } else { MAX_FREEZES }) => {
                repair.errors.extend(capped_problem(node, name));
                repair.dropped.push(name.to_string());
                None
            }
            "gamedays" => repair.items::<GameDay>(node, name),
            "freeze" => repair.items::<Freeze>(node, name),
            "gates" => repair.part::<Gates>(node, name),
            _ => {
                let message = match did_you_mean(name, CALENDAR_FIELDS) {
                    Some(s) => format!("unknown field `{name}`, did you mean `{s}`?"),
                    None => format!(
                        "unknown field `{name}`; expected one of {}",
                        CALENDAR_FIELDS.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                repair.errors.push((Some(key.loc), name.to_string(), message));
                None
            }
        };
        if let Some(n) = kept {
            fixed.push((key.clone(), n));
        }
    }
    let positions = Positions::index(&root);
    if !repair.errors.is_empty() {
        let mut errors = repair.errors.clone();
        // Required parts that did not load stand in with neutral values; problems that only
        // follow from what was left out are not reported.
        for (field, value) in [("version", "1"), ("timezone", "UTC"), ("gamedays", "[]")] {
            if !fixed.iter().any(|(k, _)| k.name == field) {
                repair.dropped.push(field.to_string());
                let node = yaml::parse(value).map_err(|(loc, msg)| vec![(loc, String::new(), msg)])?;
                fixed.push((yaml::Key { name: field.to_string(), loc: root.loc }, node));
            }
        }
        let partial = Node { loc: root.loc, value: Value::Map(fixed) };
        if let Ok(calendar) = from_node::<Calendar>(&partial, "") {
            let mut problems: Vec<(String, String)> = Vec::new();
            resolve(calendar, base, &mut problems);
            for (path, m) in problems {
                if let Some(path) = repair.original_path(&path)
                    && !repair.follows_from_what_was_left_out(&path, &m)
                {
                    errors.push((Some(positions.find(&path)), path, m));
                }
            }
        }
        errors.sort_by_key(|(loc, _, _)| loc.map(|l| (l.line, l.col)));
        return Err(errors);
    }
    let calendar: Calendar = from_node(&root, "").map_err(|e| vec![(e.loc, e.path.unwrap_or_default(), e.message)])?;
    let mut problems: Vec<(String, String)> = Vec::new();
    let loaded = resolve(calendar, base, &mut problems);
    if let (true, Some(l)) = (problems.is_empty(), loaded) {
        let warnings = warnings
            .into_iter()
            .map(|(loc, path, message)| Diagnostic { file: PathBuf::new(), loc, path, message })
            .collect();
        return Ok(Loaded { warnings, ..l });
    }
    Err(problems.into_iter().map(|(path, m)| (Some(positions.find(&path)), path, m)).collect())
}

/// A list over its cap is refused at once (one problem, none of its entries read).
fn capped_problem(node: &Node, path: &str) -> Vec<Raw> {
    match &node.value {
        Value::Seq(list) => {
            let max = if path == "gamedays" { MAX_GAMEDAYS } else { MAX_FREEZES };
            vec![(Some(node.loc), path.to_string(), format!("{} entries; a calendar lists at most {max}", list.len()))]
        }
        _ => Vec::new(),
    }
}

/// The most game days one calendar may list: each is checked against a year of its
/// occurrences and loads its scenario, and a team's calendar has a handful.
pub const MAX_GAMEDAYS: usize = 100;
/// The most freezes one calendar may list.
pub const MAX_FREEZES: usize = 200;

/// The parser of `cron:` fields: exactly 5 fields, no seconds or years.
pub fn parse_cron(pattern: &str) -> Result<Cron, String> {
    let fields = pattern.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "\"{pattern}\" has {fields} field(s); a cron pattern has 5: minute hour day-of-month month day-of-week"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(pattern)
        .map_err(|e| format!("\"{pattern}\" is not a valid cron pattern: {e}"))
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 48 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// The semantic checks; `None` when a problem makes the rest meaningless.
fn resolve(cal: Calendar, base: &Path, problems: &mut Vec<(String, String)>) -> Option<Loaded> {
    let mut p = |path: String, m: String| problems.push((path, m));
    if cal.version != 1 {
        p("version".into(), format!("unsupported version {}; this firedrill reads version 1", cal.version));
    }
    let tz = match TimeZone::get(&cal.timezone) {
        Ok(tz) => Some(tz),
        Err(_) => {
            p(
                "timezone".into(),
                format!("unknown time zone `{}`; use an IANA name like `Europe/Paris` or `UTC`", cal.timezone),
            );
            None
        }
    };
    if cal.gamedays.is_empty() {
        p("gamedays".into(), "a calendar lists at least one game day".into());
    }
    let catch_up = cal.catch_up.map_or(DEFAULT_CATCH_UP, |d| d.0);
    if catch_up < Duration::from_secs(60) {
        p("catch_up".into(), "catch_up is at least 1m (a poller needs time to see an occurrence)".into());
    }
    let mut days = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for (i, g) in cal.gamedays.iter().enumerate() {
        let at = format!("gamedays[{i}]");
        let scenario = base.join(&g.scenario);
        let id = g.id.clone().unwrap_or_else(|| {
            Path::new(&g.scenario).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
        });
        if !valid_id(&id) {
            let field = if g.id.is_some() { "id" } else { "scenario" };
            p(
                format!("{at}.{field}"),
                format!("game day id `{id}`: ids use letters, digits, `-` and `_` (at most 48); set `id:`"),
            );
        } else if ids.contains(&id) {
            p(format!("{at}.id"), format!("game day id `{id}` is used twice; give each game day its own `id:`"));
        }
        ids.push(id.clone());
        match crate::scenario::load(&scenario) {
            Ok(_) => {}
            Err(Invalid(diags)) => {
                let first = diags.first().map(ToString::to_string).unwrap_or_default();
                let more = if diags.len() > 1 { format!(" (and {} more)", diags.len() - 1) } else { String::new() };
                p(format!("{at}.scenario"), format!("scenario {} is not valid: {first}{more}", scenario.display()));
            }
        }
        let (rule, pattern) = match (&g.cron, &g.when) {
            (Some(c), None) => (format!("cron: {c}"), parse_cron(c).map_err(|e| (format!("{at}.cron"), e))),
            (None, Some(w)) => (
                format!("when: {w}"),
                when::to_cron(w).and_then(|c| parse_cron(&c)).map_err(|e| (format!("{at}.when"), e)),
            ),
            (Some(_), Some(_)) => {
                p(format!("{at}.when"), "give `cron` or `when`, not both".into());
                continue;
            }
            (None, None) => {
                p(at.clone(), format!("a game day needs `cron` (5 fields) or `when` ({})", when::FORMS));
                continue;
            }
        };
        let cron = match pattern {
            Ok(c) => c,
            Err((path, m)) => {
                p(path, m);
                continue;
            }
        };
        let field = if g.cron.is_some() { "cron" } else { "when" };
        if let Err(m) = check_frequency(&cron) {
            p(format!("{at}.{field}"), m);
        }
        for (j, lead) in g.announce.iter().enumerate() {
            if lead.0 < Duration::from_secs(60) {
                p(format!("{at}.announce[{j}]"), "announce at least 1m ahead".into());
            }
        }
        if g.window.is_some_and(|w| w.0 < Duration::from_secs(60)) {
            p(format!("{at}.window"), "a window is at least 1m (starts are whole minutes)".into());
        }
        days.push(Day {
            id,
            scenario,
            rule,
            cron,
            window: g.window.map(|w| w.0),
            announce: g.announce.iter().map(|d| d.0).collect(),
        });
    }
    let mut freezes = Vec::new();
    for (i, f) in cal.freeze.iter().enumerate() {
        let at = format!("freeze[{i}]");
        let from = civil::Date::from_str(&f.from).map_err(|_| (format!("{at}.from"), f.from.clone()));
        let to = civil::Date::from_str(&f.to).map_err(|_| (format!("{at}.to"), f.to.clone()));
        match (from, to) {
            (Ok(a), Ok(b)) if b < a => p(format!("{at}.to"), format!("`to` ({b}) is before `from` ({a})")),
            (Ok(a), Ok(b)) => {
                if let Some(tz) = &tz {
                    let start = a.to_zoned(tz.clone()).map(|z| z.timestamp());
                    let end = b.tomorrow().and_then(|d| d.to_zoned(tz.clone())).map(|z| z.timestamp());
                    if let (Ok(s), Ok(e)) = (start, end) {
                        freezes.push((s, e, f.reason.clone()));
                    }
                }
            }
            (a, b) => {
                for (path, v) in [a.err(), b.err()].into_iter().flatten() {
                    p(path, format!("\"{v}\" is not a date like 2026-12-20 (YYYY-MM-DD)"));
                }
            }
        }
        if f.reason.trim().is_empty() {
            p(format!("{at}.reason"), "say why (it is recorded with each skipped game day)".into());
        }
    }
    for (i, g) in cal.gates.http_ok.iter().enumerate() {
        let at = format!("gates.http_ok[{i}]");
        if !(g.url.starts_with("http://") || g.url.starts_with("https://")) || reqwest::Url::parse(&g.url).is_err() {
            p(format!("{at}.url"), format!("\"{}\" is not an http:// or https:// URL", g.url));
        }
        if !(100..=599).contains(&g.expect_status) {
            p(format!("{at}.expect_status"), format!("{} is not an HTTP status (100 to 599)", g.expect_status));
        }
    }
    for (i, a) in cal.gates.alarms_ok.iter().enumerate() {
        if a.trim().is_empty() {
            p(format!("gates.alarms_ok[{i}]"), "an alarm name is not empty".into());
        }
    }
    let tz = tz?;
    Some(Loaded { file: PathBuf::new(), calendar: cal, tz, days, catch_up, freezes, warnings: Vec::new() })
}

/// A game day recurs at most once an hour, and at all.
fn check_frequency(cron: &Cron) -> Result<(), String> {
    let mut t = civil::date(2026, 1, 1).at(0, 0, 0, 0);
    let mut prev: Option<civil::DateTime> = None;
    for _ in 0..48 {
        t = match cron.find_next_occurrence(&t, false) {
            Ok(n) => n,
            Err(_) if prev.is_none() => return Err("this schedule never happens".into()),
            Err(_) => return Ok(()),
        };
        if let Some(p) = prev.filter(|p| t.duration_since(*p).unsigned_abs() < MIN_GAP) {
            return Err(format!(
                "this schedule fires more than once an hour ({p} then {t}); a game day is at most hourly"
            ));
        }
        prev = Some(t);
    }
    Ok(())
}

/// The seed of an occurrence: the first 53 bits of SHA-256 over the game day's id and the
/// scheduled local time (a JSON number holds it exactly).
pub fn seed(gameday: &str, scheduled: civil::DateTime) -> u64 {
    let digest = sha2::Sha256::digest(format!("{gameday}@{scheduled}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b) >> 11
}

impl Loaded {
    /// The occurrence that `day` schedules at local time `scheduled`.
    pub fn occurrence(&self, day: &Day, scheduled: civil::DateTime) -> Occurrence {
        let ambiguous = self.tz.to_ambiguous_zoned(scheduled);
        let dst = match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { .. } => None,
            AmbiguousOffset::Gap { before, after } => {
                let jump = after.seconds() - before.seconds();
                Some(format!(
                    "{} does not exist on {} in {} (clocks go forward {}m): starts {}m later",
                    scheduled.time().strftime("%H:%M"),
                    scheduled.date(),
                    self.calendar.timezone,
                    jump / 60,
                    jump / 60
                ))
            }
            AmbiguousOffset::Fold { before, .. } => Some(format!(
                "{} happens twice on {} in {} (clocks go back): runs once, at the first ({})",
                scheduled.time().strftime("%H:%M"),
                scheduled.date(),
                self.calendar.timezone,
                before
            )),
        };
        let base = ambiguous.compatible().unwrap_or_else(|_| Timestamp::UNIX_EPOCH.to_zoned(self.tz.clone()));
        let seed = seed(&day.id, scheduled);
        let offset_minutes = day.window.map_or(0, |w| seed % (w.as_secs() / 60).max(1));
        let start = base
            .timestamp()
            .checked_add(jiff::SignedDuration::from_mins(offset_minutes as i64))
            .unwrap_or(base.timestamp())
            .to_zoned(self.tz.clone());
        let ts = start.timestamp();
        let freeze = self.freezes.iter().find(|(a, b, _)| *a <= ts && ts < *b).map(|(_, _, r)| r.clone());
        let catch_up = jiff::SignedDuration::try_from(self.catch_up).unwrap_or(jiff::SignedDuration::from_hours(1));
        Occurrence {
            gameday: day.id.clone(),
            scenario: day.scenario.clone(),
            key: format!("{}@{}", day.id, scheduled.strftime("%Y-%m-%dT%H:%M")),
            scheduled,
            start,
            offset_minutes,
            seed,
            dst,
            freeze,
            due_until: ts.checked_add(catch_up).unwrap_or(ts),
        }
    }

    /// The occurrences of `day` scheduled after local time `from` (excluded), in order,
    /// at most `limit`.
    fn walk(&self, day: &Day, from: civil::DateTime, limit: usize) -> Vec<Occurrence> {
        let mut out = Vec::new();
        let mut t = from;
        while out.len() < limit {
            match day.cron.find_next_occurrence(&t, false) {
                Ok(n) => {
                    out.push(self.occurrence(day, n));
                    t = n;
                }
                Err(_) => break,
            }
        }
        out
    }

    /// How far back an occurrence may have been scheduled and still start or be due now:
    /// the longest window, the catch-up and a day for clock changes.
    fn look_back(&self) -> jiff::SignedDuration {
        let window = self.days.iter().filter_map(|d| d.window).max().unwrap_or_default();
        jiff::SignedDuration::try_from(window + self.catch_up).unwrap_or_default()
            + jiff::SignedDuration::from_hours(26)
    }

    fn civil_at(&self, t: Timestamp) -> civil::DateTime {
        t.to_zoned(self.tz.clone()).datetime()
    }

    /// The next `count` occurrences (of the game days `only` selects) that start at or
    /// after `now`, in order of start.
    pub fn next(&self, now: Timestamp, count: usize, only: Option<&str>) -> Vec<Occurrence> {
        let from = self.civil_at(now.checked_sub(self.look_back()).unwrap_or(now));
        let mut all: Vec<Occurrence> = Vec::new();
        for day in self.days.iter().filter(|d| only.is_none_or(|o| o == d.id)) {
            // Enough to cover the look-back (at most hourly) and then `count` more.
            let walked = self.walk(day, from, count + 24 * 16);
            all.extend(walked.into_iter().filter(|o| o.start.timestamp() >= now).take(count));
        }
        all.sort_by(|a, b| a.start.timestamp().cmp(&b.start.timestamp()).then(a.key.cmp(&b.key)));
        all.truncate(count);
        all
    }

    /// The occurrences that are due at `now`: started, and not past their catch-up.
    /// (Whether one already ran or was skipped is in the state directory: see
    /// [`record`].)
    pub fn due(&self, now: Timestamp, only: Option<&str>) -> Vec<Occurrence> {
        let from = self.civil_at(now.checked_sub(self.look_back()).unwrap_or(now));
        let until = self.civil_at(now);
        let mut all = Vec::new();
        for day in self.days.iter().filter(|d| only.is_none_or(|o| o == d.id)) {
            let mut t = from;
            while let Ok(n) = day.cron.find_next_occurrence(&t, false) {
                if n > until.checked_add(jiff::SignedDuration::from_hours(3)).unwrap_or(until) {
                    break;
                }
                let o = self.occurrence(day, n);
                if o.start.timestamp() <= now && now < o.due_until {
                    all.push(o);
                }
                t = n;
            }
        }
        all.sort_by(|a, b| a.start.timestamp().cmp(&b.start.timestamp()).then(a.key.cmp(&b.key)));
        all
    }

    /// The announcements due at `now`: for each occurrence that starts within an announce
    /// lead from now (and is not frozen), the shortest lead already reached.
    pub fn announcements(&self, now: Timestamp, only: Option<&str>) -> Vec<(Occurrence, Duration)> {
        let mut out = Vec::new();
        for day in self.days.iter().filter(|d| only.is_none_or(|o| o == d.id)) {
            let Some(longest) = day.announce.iter().max() else { continue };
            let horizon = now.checked_add(jiff::SignedDuration::try_from(*longest).unwrap_or_default()).unwrap_or(now);
            for o in self.walk(day, self.civil_at(now.checked_sub(self.look_back()).unwrap_or(now)), 24 * 16 + 400) {
                let start = o.start.timestamp();
                if start > horizon {
                    break;
                }
                if start <= now || o.freeze.is_some() {
                    continue;
                }
                let left = Duration::try_from(start.duration_since(now)).unwrap_or_default();
                if let Some(lead) = day.announce.iter().filter(|l| **l >= left).min() {
                    out.push((o, *lead));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
