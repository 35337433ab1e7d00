//! The AWS probes: `cloudwatch_alarm` (state OK), `asg_capacity` (InService and Healthy
//! ≥ N), `ec2_running` (tagged running count ≥ N) and `rds_status` (available; the writer's
//! zone is recorded in the sample). Each is one read-only call (two for a cluster's writer).

use async_trait::async_trait;

use crate::aws::{Aws, Selector};
use crate::engine::{Check, Probe};
use crate::scenario::{AlarmProbe, AsgCapacityProbe, Ec2RunningProbe, RdsStatusProbe};

pub struct AlarmCheck {
    pub aws: Aws,
    pub alarm: String,
    /// As an abort rule (FIS stop condition): only `ALARM` fails; `INSUFFICIENT_DATA` passes.
    pub stop_condition: bool,
}

#[async_trait]
impl Probe for AlarmCheck {
    async fn check(&self) -> Check {
        match self.aws.alarm_state(&self.alarm).await {
            Ok(Some(s)) if s == "OK" => Check::pass("OK"),
            Ok(Some(s)) if self.stop_condition && s != "ALARM" => Check::pass(s),
            Ok(Some(s)) => Check::fail(s),
            Ok(None) => Check::fail(format!("no CloudWatch alarm named `{}`", self.alarm)),
            Err(e) => Check::fail(format!("could not read the alarm: {e}")),
        }
    }
}

pub fn describe_alarm(p: &AlarmProbe) -> String {
    format!("cloudwatch_alarm `{}` is OK", p.alarm)
}

pub struct AsgCheck {
    pub aws: Aws,
    pub group: String,
    pub min: u32,
}

#[async_trait]
impl Probe for AsgCheck {
    async fn check(&self) -> Check {
        match self.aws.group(&self.group).await {
            Ok(Some(g)) => {
                let n = g.healthy_in_service();
                let detail = format!("{n} InService and Healthy (need {})", self.min);
                if n >= self.min as usize { Check::pass(detail) } else { Check::fail(detail) }
            }
            Ok(None) => Check::fail(format!("no Auto Scaling group named `{}`", self.group)),
            Err(e) => Check::fail(e.to_string()),
        }
    }
}

pub fn describe_asg(p: &AsgCapacityProbe) -> String {
    format!("asg_capacity `{}` has at least {} InService and Healthy", p.group, p.min_healthy)
}

pub struct RunningCheck {
    pub aws: Aws,
    pub selector: Selector,
    pub min: u32,
}

impl RunningCheck {
    pub fn new(aws: Aws, p: &Ec2RunningProbe) -> Self {
        let selector = Selector {
            tags: p.tags.clone(),
            zone: p.availability_zone.clone(),
            state: Some("running".into()),
            ..Default::default()
        };
        RunningCheck { aws, selector, min: p.min }
    }
}

#[async_trait]
impl Probe for RunningCheck {
    async fn check(&self) -> Check {
        match self.aws.instances(&self.selector).await {
            Ok(v) => {
                let detail = format!("{} running (need {})", v.len(), self.min);
                if v.len() >= self.min as usize { Check::pass(detail) } else { Check::fail(detail) }
            }
            Err(e) => Check::fail(e.to_string()),
        }
    }
}

pub fn describe_running(p: &Ec2RunningProbe) -> String {
    let tags: Vec<String> = p.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let zone = p.availability_zone.as_ref().map(|z| format!(" in {z}")).unwrap_or_default();
    format!("ec2_running at least {} instances tagged {}{zone}", p.min, tags.join(","))
}

pub struct RdsCheck {
    pub aws: Aws,
    pub cluster: Option<String>,
    pub instance: Option<String>,
}

#[async_trait]
impl Probe for RdsCheck {
    async fn check(&self) -> Check {
        let sel = |id: &String| Selector { ids: vec![id.clone()], ..Default::default() };
        if let Some(c) = &self.cluster {
            let cluster = match self.aws.db_clusters(&sel(c)).await {
                Ok(mut v) => match v.pop() {
                    Some(c) => c,
                    None => return Check::fail(format!("no RDS cluster `{c}`")),
                },
                Err(e) => return Check::fail(e.to_string()),
            };
            let writer = match cluster.writer() {
                Some(w) => match self.aws.db_instances(&sel(&w.to_string())).await {
                    Ok(v) => v
                        .first()
                        .map(|i| format!("writer {} in {}", i.id, i.zone.as_deref().unwrap_or("?")))
                        .unwrap_or_else(|| format!("writer {w}")),
                    Err(e) => return Check::fail(e.to_string()),
                },
                None => "no writer".to_string(),
            };
            let detail = format!("{} ({writer})", cluster.status);
            return if cluster.status == "available" && cluster.writer().is_some() {
                Check::pass(detail)
            } else {
                Check::fail(detail)
            };
        }
        let Some(id) = &self.instance else { return Check::fail("rds_status names no cluster or instance") };
        match self.aws.db_instances(&sel(id)).await {
            Ok(v) => match v.first() {
                Some(i) => {
                    let detail = format!("{} in {}", i.status, i.zone.as_deref().unwrap_or("?"));
                    if i.status == "available" { Check::pass(detail) } else { Check::fail(detail) }
                }
                None => Check::fail(format!("no RDS instance `{id}`")),
            },
            Err(e) => Check::fail(e.to_string()),
        }
    }
}

pub fn describe_rds(p: &RdsStatusProbe) -> String {
    match (&p.cluster, &p.instance) {
        (Some(c), _) => format!("rds_status cluster `{c}` is available"),
        (_, Some(i)) => format!("rds_status instance `{i}` is available"),
        _ => "rds_status".to_string(),
    }
}
