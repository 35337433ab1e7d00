//! What a run produced: samples, fault timings, measured times and the outcome. The report
//! module turns a [`RunRecord`] into `report.json` and its renderings.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One probe sample. `at` is when the check completed, from the start of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub probe: usize,
    pub at: Duration,
    pub ok: bool,
    pub latency: Duration,
    pub detail: String,
    /// The fault a failing steady-state sample belongs to (index into the run's faults),
    /// set when the run ends ([`super::attribution`]); `None` for a passing sample, a
    /// watcher's, or a failure that belongs to no fault.
    pub fault: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The objective was met and every fault reverted: recovered within `within` after a
    /// visible impact, or (`sustain`) no probe failed at all.
    Passed,
    /// Every fault reverted, but recovery was slower than the objective or never came, or
    /// (`sustain`) a probe failed.
    ObjectiveMissed,
    /// A recover objective, every fault reverted, but no probe ever failed: the faults had
    /// no visible impact, so recovery was not tested. Also any objective met while no
    /// fault changed anything (each journaled no step: it found nothing to do).
    NoImpact,
    /// An abort rule, a signal or an error stopped the run; every fault reverted.
    Aborted,
    /// Nothing was injected: the steady state did not hold before injection, or a
    /// stop-condition alarm was in ALARM or could not be read. Reports written before this
    /// outcome had its name say `not_started`; they still read as `blocked`.
    #[serde(alias = "not_started")]
    Blocked,
    /// At least one fault could not be reverted: a human must act.
    RevertFailed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::ObjectiveMissed => "objective_missed",
            Outcome::NoImpact => "no_impact",
            Outcome::Aborted => "aborted",
            Outcome::Blocked => "blocked",
            Outcome::RevertFailed => "revert_failed",
        }
    }
}

/// The kind of objective a run is judged by (the scenario's `recovery.objective`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveKind {
    /// Impact is expected: the steady state must be back within the objective's time. A
    /// run in which no probe ever failed is [`Outcome::NoImpact`], not a pass.
    #[default]
    Recover,
    /// No steady-state probe may fail from the first injection to the end of the run.
    Sustain,
}

impl ObjectiveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveKind::Recover => "recover",
            ObjectiveKind::Sustain => "sustain",
        }
    }
}

/// What happened to one fault.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultRecord {
    pub name: String,
    pub kind: String,
    pub inject_started_at: Option<Duration>,
    /// When the injection was confirmed.
    pub injected_at: Option<Duration>,
    pub inject_error: Option<String>,
    pub revert_started_at: Option<Duration>,
    /// When every step of the fault was undone.
    pub reverted_at: Option<Duration>,
    /// Side effects journaled for this fault. Zero for a fault injected without error
    /// means it found nothing to do: it had no effect.
    pub steps: u32,
    pub revert_attempts: u32,
    pub revert_error: Option<String>,
    /// The first failing sample that belongs to this fault ([`super::attribution`]).
    pub detected_at: Option<Duration>,
    /// The start of this fault's recovery window ([`super::attribution`]).
    pub recovered_at: Option<Duration>,
    /// What its side effects changed, resource by resource, as the fault reported it.
    pub changes: Vec<super::Change>,
}

impl FaultRecord {
    /// From this fault's injection to the first failure that belongs to it.
    pub fn time_to_detect(&self) -> Option<Duration> {
        Some(self.detected_at?.saturating_sub(self.injected_at?))
    }

    /// From this fault's injection to the start of its recovery window; `None` when it had
    /// no impact of its own or never recovered.
    pub fn time_to_recover(&self) -> Option<Duration> {
        Some(self.recovered_at?.saturating_sub(self.injected_at?))
    }
}

/// A side effect that could not be undone.
#[derive(Clone, Debug, PartialEq)]
pub struct StillBroken {
    pub fault: String,
    pub step: u64,
    pub description: String,
    pub kind: String,
    pub data: serde_json::Value,
    pub error: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub outcome: Outcome,
    pub abort_reason: Option<String>,
    pub baseline: Vec<Sample>,
    pub samples: Vec<Sample>,
    pub faults: Vec<FaultRecord>,
    /// When the first fault's injection was confirmed.
    pub t_inject: Option<Duration>,
    pub detected_at: Option<Duration>,
    /// Start of the first `stable_for` window in which every probe passed, after detection.
    pub recovered_at: Option<Duration>,
    /// Whether the steady state held again for `stable_for` after the last revert.
    pub settled: bool,
    pub last_revert_started_at: Option<Duration>,
    pub ended_at: Duration,
    /// The kind of objective; `objective` is its time (zero for `sustain`).
    pub objective_kind: ObjectiveKind,
    pub objective: Duration,
    /// A steady-state probe failed at least once after the baseline (the faults had a
    /// visible impact).
    pub impact: bool,
    pub stable_for: Duration,
    /// Bound on the measured times: the longest probe interval.
    pub precision: Duration,
    pub still_broken: Vec<StillBroken>,
    /// The paging alarms that went to ALARM during the run; `None` when not watched.
    pub pages: Option<super::pager::PagesRecord>,
}

impl RunRecord {
    pub fn time_to_detect(&self) -> Option<Duration> {
        Some(self.detected_at?.saturating_sub(self.t_inject?))
    }

    /// `None` when recovery was never observed. Zero when the faults had no visible impact
    /// and the steady state held throughout.
    pub fn time_to_recover(&self) -> Option<Duration> {
        let t = self.t_inject?;
        match (self.detected_at, self.recovered_at) {
            (_, Some(r)) => Some(r.saturating_sub(t)),
            (None, None) if self.settled => Some(Duration::ZERO),
            _ => None,
        }
    }

    /// Whether the system healed while a fault was still in place.
    pub fn recovered_during_fault(&self) -> Option<bool> {
        let r = self.recovered_at?;
        Some(self.last_revert_started_at.is_none_or(|rv| r < rv))
    }

    /// More pages than the scenario's `max_pages` allows: the objective is missed.
    pub fn pages_exceeded(&self) -> bool {
        self.pages.as_ref().is_some_and(|p| p.exceeded())
    }

    /// `recover`: there was an impact, the steady state was back within the objective and
    /// held after the last revert. `sustain`: no probe failed, and the steady state held.
    /// Either way, no more pages than `max_pages` (when set).
    pub fn objective_met(&self) -> bool {
        !self.pages_exceeded()
            && self.settled
            && match self.objective_kind {
                ObjectiveKind::Sustain => !self.impact,
                ObjectiveKind::Recover => self.impact && self.time_to_recover().is_some_and(|t| t <= self.objective),
            }
    }
}
