//! Before `plan` (or a run) goes on: every alarm, Auto Scaling group and RDS cluster or
//! instance the scenario NAMES must exist. A typo in a name is an input error (exit 2),
//! reported like any other scenario problem, at the name's FILE:LINE:COL — not a run that
//! starts and then finds nothing to watch or act on.
//!
//! Named are: `abort[].alarm`, the `cloudwatch_alarm`, `asg_capacity` and `rds_status`
//! probes' alarm, group, cluster and instance, the `ids` of targets of type
//! `autoscaling:group`, `rds:cluster` and `rds:instance`, a `network_blackhole`'s
//! `prefix_list_id`, and the dead man's switch's schedule `group`
//! (`safety.dead_mans_switch.group`: without it, a run would inject and then fail to arm
//! the switch). Targets chosen by tags are not names (an empty selection is the guards'
//! business).

use std::collections::BTreeMap;

use crate::aws::{Aws, AwsError, Selector};
use crate::probes::ProbeKind;
use crate::scenario::load::Diagnostic;
use crate::scenario::yaml::{Positions, parse};
use crate::scenario::{Loaded, TargetType};

/// What kind of thing a name names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Named {
    Alarm,
    Group,
    Cluster,
    Instance,
    PrefixList,
    ScheduleGroup,
}

impl Named {
    fn what(self) -> &'static str {
        match self {
            Named::Alarm => "CloudWatch alarm",
            Named::Group => "Auto Scaling group",
            Named::Cluster => "RDS cluster",
            Named::Instance => "RDS instance",
            Named::PrefixList => "managed prefix list",
            Named::ScheduleGroup => "EventBridge Scheduler schedule group",
        }
    }
}

/// Every name the scenario gives, with the field path that gives it, in file order.
fn names(loaded: &Loaded) -> Vec<(String, Named, String)> {
    let s = &loaded.scenario;
    let mut out = Vec::new();
    for (i, p) in s.steady_state.iter().enumerate() {
        let at = format!("steady_state[{i}]");
        match &p.kind {
            ProbeKind::CloudWatchAlarm(c) => {
                out.push((format!("{at}.cloudwatch_alarm.alarm"), Named::Alarm, c.alarm.clone()))
            }
            ProbeKind::AsgCapacity(c) => out.push((format!("{at}.asg_capacity.group"), Named::Group, c.group.clone())),
            ProbeKind::RdsStatus(c) => {
                if let Some(id) = &c.cluster {
                    out.push((format!("{at}.rds_status.cluster"), Named::Cluster, id.clone()));
                }
                if let Some(id) = &c.instance {
                    out.push((format!("{at}.rds_status.instance"), Named::Instance, id.clone()));
                }
            }
            _ => {}
        }
    }
    for (i, r) in s.abort.iter().enumerate() {
        if let Some(a) = &r.alarm {
            out.push((format!("abort[{i}].alarm"), Named::Alarm, a.clone()));
        }
    }
    for (i, f) in s.faults.iter().enumerate() {
        if let crate::faults::FaultKind::NetworkBlackhole(x) = &f.kind
            && let Some(pl) = &x.prefix_list_id
        {
            out.push((format!("faults[{i}].network_blackhole.prefix_list_id"), Named::PrefixList, pl.clone()));
        }
    }
    if let Some(group) = s.safety.as_ref().and_then(|x| x.dead_mans_switch.as_ref()).and_then(|d| d.group.as_ref()) {
        out.push(("safety.dead_mans_switch.group".into(), Named::ScheduleGroup, group.clone()));
    }
    for (name, t) in &s.targets {
        let kind = match t.kind {
            TargetType::AutoScalingGroup => Named::Group,
            TargetType::RdsCluster => Named::Cluster,
            TargetType::RdsInstance => Named::Instance,
            _ => continue,
        };
        for (j, id) in t.ids.iter().enumerate() {
            out.push((format!("targets.{name}.ids[{j}]"), kind, id.clone()));
        }
    }
    out
}

async fn exists(aws: &Aws, kind: Named, name: &str) -> Result<bool, AwsError> {
    let sel = Selector { ids: vec![name.to_string()], ..Default::default() };
    Ok(match kind {
        Named::Alarm => aws.alarm_state(name).await?.is_some(),
        Named::Group => aws.group(name).await?.is_some(),
        Named::Cluster => aws.db_clusters(&sel).await?.iter().any(|c| c.id == name),
        Named::Instance => aws.db_instances(&sel).await?.iter().any(|i| i.id == name),
        Named::PrefixList => aws.prefix_list_exists(name).await?,
        Named::ScheduleGroup => aws.schedule_group_exists(name).await?,
    })
}

/// One problem per name that does not exist in `aws`'s region, at the name's position
/// (each distinct name is read once). An AWS error is returned as is: nothing can be said.
pub async fn missing(aws: &Aws, loaded: &Loaded) -> Result<Vec<Diagnostic>, AwsError> {
    let named = names(loaded);
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let mut known: BTreeMap<(Named, String), bool> = BTreeMap::new();
    let positions = parse(&loaded.text).map(|root| Positions::index(&root)).unwrap_or_default();
    let mut out = Vec::new();
    for (path, kind, name) in named {
        let found = match known.get(&(kind, name.clone())) {
            Some(f) => *f,
            None => {
                let f = exists(aws, kind, &name).await?;
                known.insert((kind, name.clone()), f);
                f
            }
        };
        if !found {
            out.push(Diagnostic {
                file: loaded.file.clone(),
                loc: Some(positions.find(&path)),
                message: format!("{} `{name}` does not exist in {}: check the name", kind.what(), aws.region()),
                path,
            });
        }
    }
    Ok(out)
}
