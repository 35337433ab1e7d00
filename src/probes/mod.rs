//! Steady-state probes: turns a scenario's `http`, `tcp` and `command` probes into the
//! engine's [`crate::engine::Probe`] trait objects ([`build`]) and into one line for
//! `firedrill plan` ([`describe`]). Each kind lives in its own file.

pub mod aws;
pub mod command;
pub mod http;
pub mod tcp;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::aws::Aws;
use crate::engine::{self, Check, ProbeSpec};
use crate::scenario::{Dur, Probe, ProbeKind};

/// Added to a probe's own timeout for the executor's backstop timeout, so the probe
/// reports its own, more precise failure first.
const BACKSTOP: Duration = Duration::from_secs(1);

/// Upper bound of one AWS probe check (the SDK retries throttling within it).
pub const AWS_TIMEOUT: Duration = Duration::from_secs(20);

/// The executor's view of a (validated) probe. AWS probes need `aws`; without it they
/// fail every check with the reason.
pub fn build(p: &Probe, aws: Option<&Aws>) -> ProbeSpec {
    let no_aws = || -> Arc<dyn engine::Probe> { Arc::new(Broken("no AWS connection for an AWS probe".into())) };
    let (timeout, probe): (Duration, Arc<dyn engine::Probe>) = match p.kinds().first() {
        Some(ProbeKind::Http(h)) => {
            let timeout = with_default(h.timeout, http::DEFAULT_TIMEOUT);
            match http::HttpCheck::new(h, timeout) {
                Ok(c) => (timeout, Arc::new(c)),
                Err(e) => (timeout, Arc::new(Broken(e))),
            }
        }
        Some(ProbeKind::Tcp(t)) => {
            let timeout = with_default(t.timeout, tcp::DEFAULT_TIMEOUT);
            (timeout, Arc::new(tcp::TcpCheck::new(t, timeout)))
        }
        Some(ProbeKind::Command(c)) => {
            let timeout = with_default(c.timeout, command::DEFAULT_TIMEOUT);
            (timeout, Arc::new(command::CommandCheck::new(c, timeout)))
        }
        Some(ProbeKind::CloudWatchAlarm(a)) => (
            AWS_TIMEOUT,
            aws.map_or_else(no_aws, |aws| {
                Arc::new(aws::AlarmCheck { aws: aws.clone(), alarm: a.alarm.clone(), stop_condition: false })
            }),
        ),
        Some(ProbeKind::AsgCapacity(a)) => (
            AWS_TIMEOUT,
            aws.map_or_else(no_aws, |aws| {
                Arc::new(aws::AsgCheck { aws: aws.clone(), group: a.group.clone(), min: a.min_healthy })
            }),
        ),
        Some(ProbeKind::Ec2Running(e)) => {
            (AWS_TIMEOUT, aws.map_or_else(no_aws, |aws| Arc::new(aws::RunningCheck::new(aws.clone(), e))))
        }
        Some(ProbeKind::RdsStatus(r)) => (
            AWS_TIMEOUT,
            aws.map_or_else(no_aws, |aws| {
                Arc::new(aws::RdsCheck { aws: aws.clone(), cluster: r.cluster.clone(), instance: r.instance.clone() })
            }),
        ),
        None => (Duration::ZERO, Arc::new(Broken("no probe kind is set".into()))),
    };
    ProbeSpec { name: p.name.clone(), every: p.every.0, timeout: timeout.saturating_add(BACKSTOP), probe, steady: true }
}

/// Every CloudWatch alarm named by an `alarm` abort rule is watched by a probe that is not
/// part of the steady state: it fails only while the alarm is in ALARM.
pub fn alarm_watch(alarm: &str, every: Duration, aws: Option<&Aws>) -> ProbeSpec {
    let probe: Arc<dyn engine::Probe> = match aws {
        Some(aws) => Arc::new(aws::AlarmCheck { aws: aws.clone(), alarm: alarm.to_string(), stop_condition: true }),
        None => Arc::new(Broken("no AWS connection for an alarm abort rule".into())),
    };
    ProbeSpec { name: format!("alarm:{alarm}"), every, timeout: AWS_TIMEOUT + BACKSTOP, probe, steady: false }
}

/// One line for `firedrill plan`, e.g.
/// `http GET http://127.0.0.1:8080/health expect 200 within 1s, every 200ms`.
pub fn describe(p: &Probe) -> String {
    let what = match p.kinds().first() {
        Some(ProbeKind::Http(h)) => http::describe(h),
        Some(ProbeKind::Tcp(t)) => tcp::describe(t),
        Some(ProbeKind::Command(c)) => command::describe(c),
        Some(ProbeKind::CloudWatchAlarm(a)) => aws::describe_alarm(a),
        Some(ProbeKind::AsgCapacity(a)) => aws::describe_asg(a),
        Some(ProbeKind::Ec2Running(e)) => aws::describe_running(e),
        Some(ProbeKind::RdsStatus(r)) => aws::describe_rds(r),
        None => "no probe kind".to_string(),
    };
    format!("{what}, every {}", p.every)
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

    fn build_local(p: &Probe) -> ProbeSpec {
        build(p, None)
    }

    fn probe(kind: serde_json::Value) -> Probe {
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

        let check = build_local(&probe(json!({}))).probe.check().await;
        assert_eq!(check, Check::fail("no probe kind is set"));
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
