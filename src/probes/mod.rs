//! Steady-state probes. Each probe kind is one file that implements [`Kind`]: the key that
//! selects it in a scenario (`http:`), its config (loaded, and put in the JSON schema),
//! its validation, its line for `firedrill plan`, its target for the report, the IAM
//! statements it needs and the check it builds for the engine. The registration list in
//! this file generates [`ProbeKind`] (one variant per kind, one-line dispatch arms) and
//! [`ProbeConfig`] (`name`, `every` and exactly one kind key) with its loader, serializer
//! and JSON schema; the machinery is in `registry.rs` and `scenario/keyed.rs`.
//!
//! Adding a kind: a new file with a unit struct that implements [`Kind`], plus its `mod`
//! line and its registration line here. Abort rules on an alarm reuse the
//! `cloudwatch_alarm` check and IAM statement ([`alarm_watch`]).
//!
//! Adding a probe kind: the checklist in ARCHITECTURE.md.

pub mod asg_capacity;
pub mod cloudwatch_alarm;
pub mod command;
pub mod ec2_running;
pub mod http;
pub mod rds_status;
mod registry;
pub mod tcp;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::aws::Aws;
use crate::engine::{self, Check, ProbeSpec};
use crate::iam_policy::stmt::Stmt;
use crate::scenario::Dur;
use crate::scenario::validate::Problem;

/// Added to a probe's own timeout for the executor's backstop timeout, so the probe
/// reports its own, more precise failure first.
const BACKSTOP: Duration = Duration::from_secs(1);

/// Upper bound of one AWS probe check (the SDK retries throttling within it).
pub const AWS_TIMEOUT: Duration = Duration::from_secs(20);

/// One probe kind: everything firedrill knows about it, in one place.
pub trait Kind {
    /// The key that selects the kind in a probe, e.g. `http`.
    const KEY: &'static str;
    /// Whether the kind calls AWS: the scenario then needs an `environment`, and the
    /// kind's config is checked with the scenario's other AWS parts.
    const AWS: bool;
    /// What the scenario file holds under [`Self::KEY`].
    type Config: Clone + Debug + Serialize + DeserializeOwned + JsonSchema;

    /// Problems with the config, by field path under `at` (`steady_state[0].http`).
    fn validate(_c: &Self::Config, _at: &str) -> Vec<Problem> {
        Vec::new()
    }
    /// One line for `firedrill plan`, without the interval.
    fn describe(c: &Self::Config) -> String;
    /// What the probe watches, as the report names it (URL, address, group, ...).
    fn target(c: &Self::Config) -> String;
    /// The IAM statements the probe needs (none for a probe that does not call AWS).
    fn iam(_c: &Self::Config) -> Vec<Stmt> {
        Vec::new()
    }
    /// The check for the engine and its own timeout. `aws` is `None` when firedrill runs
    /// without an AWS connection (a local scenario, or `plan`).
    fn build(c: &Self::Config, aws: Option<&Aws>) -> (Duration, Arc<dyn engine::Probe>);
}

// The registered probe kinds, one line each, in the order the schema and messages list
// them.
registry::define_probe_kinds! {
    Http(http::Http),
    Tcp(tcp::Tcp),
    Command(command::Command),
    CloudWatchAlarm(cloudwatch_alarm::CloudWatchAlarm),
    AsgCapacity(asg_capacity::AsgCapacity),
    Ec2Running(ec2_running::Ec2Running),
    RdsStatus(rds_status::RdsStatus),
}

/// The executor's view of a (validated) probe. AWS probes need `aws`; without it they
/// fail every check with the reason.
pub fn build(p: &ProbeConfig, aws: Option<&Aws>) -> ProbeSpec {
    let (timeout, probe) = p.kind.build(aws);
    ProbeSpec { name: p.name.clone(), every: p.every.0, timeout: timeout.saturating_add(BACKSTOP), probe, steady: true }
}

/// Every CloudWatch alarm named by an `alarm` abort rule is watched by a probe that is not
/// part of the steady state: it fails only while the alarm is in ALARM.
pub fn alarm_watch(alarm: &str, every: Duration, aws: Option<&Aws>) -> ProbeSpec {
    let probe: Arc<dyn engine::Probe> = match aws {
        Some(aws) => {
            Arc::new(cloudwatch_alarm::AlarmCheck { aws: aws.clone(), alarm: alarm.to_string(), stop_condition: true })
        }
        None => Arc::new(Broken("no AWS connection for an alarm abort rule".into())),
    };
    ProbeSpec { name: format!("alarm:{alarm}"), every, timeout: AWS_TIMEOUT + BACKSTOP, probe, steady: false }
}

/// One line for `firedrill plan`, e.g.
/// `http GET http://127.0.0.1:8080/health expect 200 within 1s, every 200ms`.
pub fn describe(p: &ProbeConfig) -> String {
    format!("{}, every {}", p.kind.describe(), p.every)
}

/// An AWS probe's check: built from the connection, or, without one, a check that fails
/// with the reason.
fn with_aws(
    aws: Option<&Aws>,
    check: impl FnOnce(Aws) -> Arc<dyn engine::Probe>,
) -> (Duration, Arc<dyn engine::Probe>) {
    let probe = match aws {
        Some(aws) => check(aws.clone()),
        None => Arc::new(Broken("no AWS connection for an AWS probe".into())),
    };
    (AWS_TIMEOUT, probe)
}

fn with_default(d: Option<Dur>, default: Duration) -> Duration {
    d.map_or(default, |d| d.0)
}

/// A measured duration, short: `12ms`, `1.2s`.
fn short(d: Duration) -> String {
    if d < Duration::from_secs(1) { format!("{}ms", d.as_millis()) } else { format!("{:.1}s", d.as_secs_f64()) }
}

/// A probe that could not be set up; every check fails with the reason.
struct Broken(String);

#[async_trait]
impl engine::Probe for Broken {
    async fn check(&self) -> Check {
        Check::fail(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn build_local(p: &ProbeConfig) -> ProbeSpec {
        build(p, None)
    }

    fn probe(kind: serde_json::Value) -> ProbeConfig {
        let mut p = json!({"name": "p", "every": "200ms"});
        p.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
        serde_json::from_value(p).unwrap()
    }

    #[test]
    fn timeouts_default_per_kind_plus_backstop() {
        let spec = build_local(&probe(json!({"http": {"url": "http://127.0.0.1:1/"}})));
        assert_eq!(spec.name, "p");
        assert_eq!(spec.every, Duration::from_millis(200));
        assert_eq!(spec.timeout, Duration::from_secs(6));
        assert_eq!(build_local(&probe(json!({"tcp": {"address": "127.0.0.1:1"}}))).timeout, Duration::from_secs(3));
        assert_eq!(build_local(&probe(json!({"command": {"run": "true"}}))).timeout, Duration::from_secs(11));
        assert_eq!(
            build_local(&probe(json!({"command": {"run": "true", "timeout": "2s"}}))).timeout,
            Duration::from_secs(3)
        );
    }

    #[tokio::test]
    async fn a_probe_that_cannot_be_built_fails_every_check() {
        let spec = build_local(&probe(json!({"http": {"url": "http://127.0.0.1:1/", "body_regex": "("}})));
        let check = spec.probe.check().await;
        assert!(!check.ok);
        assert!(check.detail.starts_with("invalid body_regex"), "{}", check.detail);

        let spec = build_local(&probe(json!({"cloudwatch_alarm": {"alarm": "a"}})));
        assert_eq!(spec.timeout, AWS_TIMEOUT + BACKSTOP);
        assert_eq!(spec.probe.check().await, Check::fail("no AWS connection for an AWS probe"));
    }

    #[test]
    fn a_probe_without_exactly_one_kind_does_not_load() {
        let e = serde_json::from_value::<ProbeConfig>(json!({"name": "p", "every": "200ms"})).unwrap_err();
        assert!(e.to_string().starts_with("probe `p` has no kind: add one of `http`, `tcp`"), "{e}");
        let e = serde_json::from_value::<ProbeConfig>(
            json!({"name": "p", "every": "200ms", "tcp": {"address": "a:1"}, "http": {"url": "http://a/"}}),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("probe `p` has 2 kind keys (`http`, `tcp`)"), "{e}");
    }

    #[test]
    fn a_kind_key_without_a_value_is_not_set() {
        let p = probe(json!({"http": null, "tcp": {"address": "db:5432"}}));
        assert_eq!(p.kind.key(), "tcp");
    }

    #[test]
    fn a_probe_round_trips_through_serde() {
        let p = probe(json!({"tcp": {"address": "db:5432"}}));
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v, json!({"name": "p", "every": "200ms", "tcp": {"address": "db:5432"}}));
        assert_eq!(describe(&serde_json::from_value(v).unwrap()), describe(&p));
    }

    #[test]
    fn describes_each_kind() {
        let p = probe(
            json!({"http": {"url": "http://127.0.0.1:8080/health", "expect_status": [200], "max_latency": "1s"}}),
        );
        assert_eq!(describe(&p), "http GET http://127.0.0.1:8080/health expect 200 within 1s, every 200ms");
        let p = probe(json!({"tcp": {"address": "db:5432"}}));
        assert_eq!(describe(&p), "tcp connect db:5432, every 200ms");
        let p = probe(json!({"command": {"run": "pg_isready"}}));
        assert_eq!(describe(&p), "command `pg_isready` expect exit 0, every 200ms");
    }

    #[test]
    fn short_durations() {
        assert_eq!(short(Duration::from_micros(12_345)), "12ms");
        assert_eq!(short(Duration::from_millis(1234)), "1.2s");
    }
}
