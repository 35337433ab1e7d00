//! The typed scenario model (`version: 1`). These types are the single source of truth for
//! loading (serde) and for `firedrill schema` (schemars); validation lives in `validate.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::aws::{Environment, Target};
use super::duration::Dur;
// A steady-state probe and its kinds: each kind's config, loader and schema live in `probes/`.
pub use crate::probes::{ProbeConfig, ProbeKind};
// A fault and its kinds: each kind's config, loader and schema live in `faults/`.
pub use crate::faults::{FaultConfig, FaultKind};

/// A game-day scenario: what "healthy" means, which faults to inject, when to abort, and
/// how fast the system is expected to heal.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "firedrill scenario")]
pub struct Scenario {
    /// Format version; must be 1.
    pub version: u32,
    /// Short identifier used in run ids and reports: letters, digits, `-`, `_`, `.`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who to contact about this scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Where AWS faults and probes may act; required when the scenario uses any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// Named sets of AWS resources that faults act on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, Target>,
    /// Probes that together define "healthy". All must pass before anything is injected.
    pub steady_state: Vec<ProbeConfig>,
    /// Faults to inject. Faults without `after` start together.
    pub faults: Vec<FaultConfig>,
    /// Abort rules: when one trips, every fault is reverted at once.
    #[serde(default)]
    pub abort: Vec<AbortRule>,
    pub recovery: Recovery,
    /// Pager noise: the CloudWatch alarms that page someone, watched from the first
    /// injection to the verdict. Each transition to ALARM is a page in the report; with
    /// `max_pages`, more pages than that miss the objective. Needs `environment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<Pages>,
    /// Webhooks sent on `announce`, `start`, `abort`, `recovered`, `revert_failed` and `end`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<super::notify::Notify>,
    /// Path of the playbook (human steps), relative to the scenario file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
    /// Safeguards that act even if firedrill dies mid-fault (`dead_mans_switch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety: Option<super::safety::Safety>,
}

/// Top-level keys, in the order the loader reads them.
pub const SCENARIO_FIELDS: &[&str] = &[
    "version",
    "name",
    "description",
    "owner",
    "environment",
    "targets",
    "steady_state",
    "faults",
    "abort",
    "recovery",
    "pages",
    "notify",
    "playbook",
    "safety",
];

/// An abort rule: `{probe, failing_for}`, `{probe, consecutive_failures}`, `{max_duration}` or `{alarm}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["probe", "failing_for"]},
    {"required": ["probe", "consecutive_failures"]},
    {"required": ["max_duration"]},
    {"required": ["alarm"]}
]))]
pub struct AbortRule {
    /// A steady-state probe's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// Abort when the probe has failed continuously for this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_for: Option<Dur>,
    /// Abort after this many failing samples in a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    /// Abort when the run has lasted this long since the first injection started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<Dur>,
    /// Abort while this CloudWatch alarm is in state ALARM (an FIS stop condition), or when
    /// it cannot be read (the stop condition is then not watched). It is also checked
    /// before injection: nothing starts while it is in ALARM or unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<String>,
}

/// The `pages` watch: which alarms page someone, and how many pages a run may cause.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pages {
    /// The CloudWatch alarms to watch, by name. Without it: every alarm in the scenario's
    /// account and region that has alarm actions and has them enabled, found when the run
    /// is prepared (`firedrill plan` lists them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<Vec<String>>,
    /// The most pages a passing run may cause: one more misses the objective
    /// (`objective_missed`, exit 1). Without it, pages are reported but do not fail the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u32>,
}

/// The most alarms a `pages` watch reads (each read asks for them 100 at a time).
pub const MAX_PAGING_ALARMS: usize = 500;

/// The objective, of one of two kinds (as AWS Resilience Hub tells them apart):
/// `recover` (the default: impact is expected, and recovery must come `within`) or
/// `sustain` (the system absorbs the fault: no probe may fail during the run).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "if" = {"properties": {"objective": {"const": "sustain"}}, "required": ["objective"]},
    "then" = {"not": {"required": ["within"]}},
    "else" = {"required": ["within"]}
))]
pub struct Recovery {
    /// `recover` (default): the faults are expected to hurt, and the steady state must be
    /// back within `within`; a run in which no probe ever failed ends `no_impact`.
    /// `sustain`: no probe may fail from the first injection to the end of the run.
    #[serde(default, skip_serializing_if = "Objective::is_recover")]
    pub objective: Objective,
    /// The `recover` objective: time to recover must not exceed this. Required with
    /// `recover`; not allowed with `sustain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Dur>,
    /// Every probe passing for this long counts as recovered; default 10s.
    #[serde(default = "default_stable_for")]
    pub stable_for: Dur,
    /// How long to wait for recovery after the last revert; default 5m.
    #[serde(default = "default_settle_timeout")]
    pub settle_timeout: Dur,
}

/// The kind of objective (`recovery.objective`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Impact is expected; recovery must come within `within`.
    #[default]
    Recover,
    /// No probe may fail during the run: the system absorbs the fault.
    Sustain,
}

impl Objective {
    pub fn is_recover(&self) -> bool {
        *self == Objective::Recover
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Objective::Recover => "recover",
            Objective::Sustain => "sustain",
        }
    }
}

impl Recovery {
    /// The recover objective's time (zero for `sustain`, which allows no impact at all).
    pub fn within(&self) -> std::time::Duration {
        match self.objective {
            Objective::Recover => self.within.map(|d| d.0).unwrap_or_default(),
            Objective::Sustain => std::time::Duration::ZERO,
        }
    }

    /// The objective in words: `recover within 90s` or `sustain (no probe may fail)`.
    pub fn describe(&self) -> String {
        match (self.objective, self.within) {
            (Objective::Sustain, _) => "sustain: no probe may fail during the run".into(),
            (Objective::Recover, Some(w)) => format!("recover within {w}"),
            (Objective::Recover, None) => "recover (no `within` given)".into(),
        }
    }
}

fn default_stable_for() -> Dur {
    Dur(std::time::Duration::from_secs(10))
}

fn default_settle_timeout() -> Dur {
    Dur(std::time::Duration::from_secs(300))
}
