//! The calendar file's types (`version`, `timezone`, `gamedays`, `freeze`, `gates`), as
//! read from YAML and as described by `schema/calendar.schema.json`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::Dur;

/// The top-level fields of a calendar, for "did you mean" hints.
pub const CALENDAR_FIELDS: &[&str] = &["version", "timezone", "catch_up", "gamedays", "freeze", "gates"];

/// A calendar of game days: which scenario runs when, what never runs (freezes) and what
/// must hold before anything does (gates).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Always 1.
    pub version: u32,
    /// The IANA time zone every `cron`, `when` and `freeze` date is read in
    /// (`Europe/Paris`, `UTC`).
    pub timezone: String,
    /// How long after its start an occurrence that did not run yet is still due (a
    /// poller that was down catches up within this); default 1h, at most 7 days.
    #[serde(default)]
    pub catch_up: Option<Dur>,
    /// The game days, each one scenario on a recurring schedule.
    pub gamedays: Vec<GameDay>,
    /// Periods in which no game day runs (each occurrence in one is recorded as skipped).
    #[serde(default)]
    pub freeze: Vec<Freeze>,
    /// What must hold before any game day of this calendar runs.
    #[serde(default)]
    pub gates: Gates,
}

/// One recurring game day: a scenario file and when it runs (`cron` or `when`, not both).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GameDay {
    /// The scenario file, relative to the calendar's directory.
    pub scenario: String,
    /// A name for this game day in records and exports (default: the scenario file's
    /// name without extension); letters, digits, `-`, `_`.
    #[serde(default)]
    pub id: Option<String>,
    /// A 5-field cron pattern (minute hour day-of-month month day-of-week) in the
    /// calendar's time zone.
    #[serde(default)]
    pub cron: Option<String>,
    /// A readable alternative to `cron`: `first tuesday of the month at 14:00`,
    /// `last friday of the month at 09:30`, `every monday at 10:00`,
    /// `day 15 of the month at 11:00`.
    #[serde(default)]
    pub when: Option<String>,
    /// Start at a random minute inside this window after the scheduled time (the seed is
    /// derived from the game day and the occurrence, so every command agrees).
    #[serde(default)]
    pub window: Option<Dur>,
    /// Send the scenario's `announce` webhooks this long before each start.
    #[serde(default)]
    pub announce: Vec<Dur>,
}

/// A change freeze: from the start of `from` to the end of `to` (dates in the
/// calendar's time zone, both included).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Freeze {
    /// First frozen day, `YYYY-MM-DD`.
    pub from: String,
    /// Last frozen day, `YYYY-MM-DD` (included).
    pub to: String,
    /// Why; recorded with every occurrence it skips.
    pub reason: String,
}

/// Checks made right before a due game day runs; any that fails skips it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// CloudWatch alarms (in the scenario's region) that must not be in ALARM.
    #[serde(default)]
    pub alarms_ok: Vec<String>,
    /// HTTP checks: each URL must answer `expect_status` (e.g. 404 from an "open
    /// incidents" endpoint).
    #[serde(default)]
    pub http_ok: Vec<HttpGate>,
}

/// One HTTP gate.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpGate {
    /// `http://` or `https://` URL, fetched with GET.
    pub url: String,
    /// The status that means "go" (default 200).
    #[serde(default = "ok_status")]
    pub expect_status: u16,
    /// How long the answer may take (default 10s).
    #[serde(default)]
    pub timeout: Option<Dur>,
}

fn ok_status() -> u16 {
    200
}
