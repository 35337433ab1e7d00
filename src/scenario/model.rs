//! The typed scenario model (`version: 1`). These types are the single source of truth for
//! loading (serde) and for `firedrill schema` (schemars); validation lives in `validate.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::Dur;

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
    /// Probes that together define "healthy". All must pass before anything is injected.
    pub steady_state: Vec<Probe>,
    /// Faults to inject. Faults without `after` start together.
    pub faults: Vec<Fault>,
    /// Abort rules: when one trips, every fault is reverted at once.
    #[serde(default)]
    pub abort: Vec<AbortRule>,
    pub recovery: Recovery,
    /// Path of the playbook (human steps), relative to the scenario file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
}

/// Top-level keys, in the order the loader reads them.
pub const SCENARIO_FIELDS: &[&str] =
    &["version", "name", "description", "owner", "steady_state", "faults", "abort", "recovery", "playbook"];

/// A steady-state probe: `name`, `every`, and exactly one kind key.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["http"]}, {"required": ["tcp"]}, {"required": ["command"]}
]))]
pub struct Probe {
    pub name: String,
    /// Sampling interval.
    pub every: Dur,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandProbe>,
}

pub const PROBE_KINDS: &[&str] = &["http", "tcp", "command"];

/// The kind of a probe, once validated.
#[derive(Clone, Copy, Debug)]
pub enum ProbeKind<'a> {
    Http(&'a HttpProbe),
    Tcp(&'a TcpProbe),
    Command(&'a CommandProbe),
}

impl Probe {
    /// Every kind key that is set (validation requires exactly one).
    pub fn kinds(&self) -> Vec<ProbeKind<'_>> {
        let mut k = Vec::new();
        if let Some(p) = &self.http {
            k.push(ProbeKind::Http(p));
        }
        if let Some(p) = &self.tcp {
            k.push(ProbeKind::Tcp(p));
        }
        if let Some(p) = &self.command {
            k.push(ProbeKind::Command(p));
        }
        k
    }
}

impl ProbeKind<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            ProbeKind::Http(_) => "http",
            ProbeKind::Tcp(_) => "tcp",
            ProbeKind::Command(_) => "command",
        }
    }
}

/// An HTTP check. Passes when the status is expected, the body matches and the response
/// arrived within `max_latency`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    pub url: String,
    /// HTTP method; default GET.
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Accepted status codes; default: any 2xx.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_status: Vec<u16>,
    /// The response body must contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// The response body must match this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_regex: Option<String>,
    /// Slower responses count as failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<Dur>,
    /// Give up after this long; default 5s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

fn default_method() -> String {
    "GET".to_string()
}

/// A TCP connect check.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpProbe {
    /// `host:port`.
    pub address: String,
    /// Connect timeout; default 2s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

/// A shell command check (`sh -c`): passes when it exits with `expect_exit`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandProbe {
    pub run: String,
    /// Expected exit status; default 0.
    #[serde(default)]
    pub expect_exit: i32,
    /// Kill the command and count a failure after this long; default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

/// A fault: `name`, `duration`, optional `after`, and exactly one kind key.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["command"]}]))]
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
}

pub const FAULT_KINDS: &[&str] = &["command"];

impl Fault {
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        if self.command.is_some() {
            k.push("command");
        }
        k
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
    /// Timeout of each command; default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

/// An abort rule: `{probe, failing_for}`, `{probe, consecutive_failures}` or `{max_duration}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["probe", "failing_for"]},
    {"required": ["probe", "consecutive_failures"]},
    {"required": ["max_duration"]}
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
}

/// The recovery objective.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recovery {
    /// The objective: time to recover must not exceed this.
    pub within: Dur,
    /// Every probe passing for this long counts as recovered; default 10s.
    #[serde(default = "default_stable_for")]
    pub stable_for: Dur,
    /// How long to wait for recovery after the last revert; default 5m.
    #[serde(default = "default_settle_timeout")]
    pub settle_timeout: Dur,
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
