//! The typed scenario model (`version: 1`). These types are the single source of truth for
//! loading (serde) and for `firedrill schema` (schemars); validation lives in `validate.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::aws::*;
use super::duration::Dur;
// A steady-state probe and its kinds: each kind's config, loader and schema live in `probes/`.
pub use crate::probes::{Probe, ProbeKind};

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
    pub steady_state: Vec<Probe>,
    /// Faults to inject. Faults without `after` start together.
    pub faults: Vec<Fault>,
    /// Abort rules: when one trips, every fault is reverted at once.
    #[serde(default)]
    pub abort: Vec<AbortRule>,
    pub recovery: Recovery,
    /// Webhooks sent on `announce`, `start`, `abort`, `recovered` and `end`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<super::notify::Notify>,
    /// Path of the playbook (human steps), relative to the scenario file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
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
    "notify",
    "playbook",
];

/// A fault: `name`, `duration`, optional `after`, and exactly one kind key.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["command"]}, {"required": ["ec2_stop_instances"]}, {"required": ["ec2_reboot_instances"]},
    {"required": ["ec2_terminate_instances"]}, {"required": ["az_outage"]}, {"required": ["ebs_detach_volumes"]},
    {"required": ["rds_failover"]}, {"required": ["iam_revoke_credentials"]}
]))]
pub struct Fault {
    pub name: String,
    /// How long the fault stays in place before it is reverted.
    pub duration: Dur,
    /// Faults this one starts after: it is injected once each of them has run its
    /// duration and been reverted (like FIS `startAfter`).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany")]
    pub after: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandFault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_stop_instances: Option<InstancesFault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_reboot_instances: Option<InstancesFault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_terminate_instances: Option<TerminateFault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub az_outage: Option<AzOutageFault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_detach_volumes: Option<EbsDetachFault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_failover: Option<RdsFailoverFault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_revoke_credentials: Option<IamRevokeFault>,
}

pub const FAULT_KINDS: &[&str] = &[
    "command",
    "ec2_stop_instances",
    "ec2_reboot_instances",
    "ec2_terminate_instances",
    "az_outage",
    "ebs_detach_volumes",
    "rds_failover",
    "iam_revoke_credentials",
];

/// The kind of a fault, once validated.
#[derive(Clone, Copy, Debug)]
pub enum FaultKind<'a> {
    Command(&'a CommandFault),
    Ec2Stop(&'a InstancesFault),
    Ec2Reboot(&'a InstancesFault),
    Ec2Terminate(&'a TerminateFault),
    AzOutage(&'a AzOutageFault),
    EbsDetach(&'a EbsDetachFault),
    RdsFailover(&'a RdsFailoverFault),
    IamRevoke(&'a IamRevokeFault),
}

impl FaultKind<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Command(_) => "command",
            FaultKind::Ec2Stop(_) => "ec2_stop_instances",
            FaultKind::Ec2Reboot(_) => "ec2_reboot_instances",
            FaultKind::Ec2Terminate(_) => "ec2_terminate_instances",
            FaultKind::AzOutage(_) => "az_outage",
            FaultKind::EbsDetach(_) => "ebs_detach_volumes",
            FaultKind::RdsFailover(_) => "rds_failover",
            FaultKind::IamRevoke(_) => "iam_revoke_credentials",
        }
    }

    /// The targets this fault acts on, by name.
    pub fn targets(&self) -> Vec<&str> {
        match self {
            FaultKind::Command(_) => vec![],
            FaultKind::Ec2Stop(f) | FaultKind::Ec2Reboot(f) => vec![f.target.as_str()],
            FaultKind::Ec2Terminate(f) => vec![f.target.as_str()],
            FaultKind::AzOutage(f) => f.targets.iter().map(String::as_str).collect(),
            FaultKind::EbsDetach(f) => vec![f.target.as_str()],
            FaultKind::RdsFailover(f) => vec![f.target.as_str()],
            FaultKind::IamRevoke(f) => vec![f.target.as_str()],
        }
    }
}

impl Fault {
    /// Every kind key that is set (validation requires exactly one).
    pub fn kind_list(&self) -> Vec<FaultKind<'_>> {
        let mut k = Vec::new();
        if let Some(f) = &self.command {
            k.push(FaultKind::Command(f));
        }
        if let Some(f) = &self.ec2_stop_instances {
            k.push(FaultKind::Ec2Stop(f));
        }
        if let Some(f) = &self.ec2_reboot_instances {
            k.push(FaultKind::Ec2Reboot(f));
        }
        if let Some(f) = &self.ec2_terminate_instances {
            k.push(FaultKind::Ec2Terminate(f));
        }
        if let Some(f) = &self.az_outage {
            k.push(FaultKind::AzOutage(f));
        }
        if let Some(f) = &self.ebs_detach_volumes {
            k.push(FaultKind::EbsDetach(f));
        }
        if let Some(f) = &self.rds_failover {
            k.push(FaultKind::RdsFailover(f));
        }
        if let Some(f) = &self.iam_revoke_credentials {
            k.push(FaultKind::IamRevoke(f));
        }
        k
    }

    /// The names of the kind keys that are set.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.kind_list().iter().map(FaultKind::name).collect()
    }

    /// The kind, if exactly one is set.
    pub fn kind(&self) -> Option<FaultKind<'_>> {
        match self.kind_list().as_slice() {
            [k] => Some(*k),
            _ => None,
        }
    }
}

/// Shell commands that inject and revert a fault. The revert command must be safe to run
/// more than once and when the inject command never ran (firedrill reverts whenever it
/// cannot be sure).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandFault {
    pub inject: String,
    pub revert: String,
    /// Timeout of each command; default 30s, at least 10ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

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

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a fault name or a list of fault names")]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Either::deserialize(d)? {
        Either::One(s) => vec![s],
        Either::Many(v) => v,
    })
}
