//! `az_outage`: one Availability Zone fails for the targeted resources, in this order
//! (revert runs it backwards):
//! 1. network — per VPC a deny-all network ACL (tagged as firedrill's) is created, and
//!    each targeted subnet in the zone is associated with it; revert points each subnet
//!    back at its original ACL (only if it still uses the clone) and deletes the clone;
//! 2. instances — the targeted running instances in the zone are stopped, then started;
//! 3. ASGs — the zone's subnets leave each targeted group's `VPCZoneIdentifier`; revert
//!    restores the exact original string (only if nobody changed it meanwhile);
//! 4. RDS — clusters whose writer is in the zone fail over; Multi-AZ instances whose
//!    primary is there reboot with failover (a failover is its own recovery, unless
//!    `rds_failback: true`: then the revert fails back, see `rds::FailbackData`).
//!
//! The plan lists every part asked for and what it acts on, or why it has nothing to do
//! (`rds: failover — cluster db: no writer in us-east-1a (writer db-1 is in us-east-1b):
//! nothing to do`); when no part has anything to do, the fault would change nothing
//! (`Kind::no_effect`). Each part checks the zone again at injection.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::ec2::{failed, list, start_record};
use super::step::{ScheduledCall, Step, client, region_flag};
use super::{AwsFaultCtx, FaultContext};
use crate::aws::{Aws, Selector};
use crate::engine::{Change, Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Res, Stmt, of_type, stmt};
use crate::scenario::validate::{Problem, Scope, problem, zone_in_region};
use crate::scenario::{Target, TargetType};
use crate::targets::Resolution;
use crate::util::console::quote;

pub use super::nacl::{DELETE_NACL, NaclData, RESTORE_NACL, RestoreData};
pub const RESTORE_SUBNETS: &str = "autoscaling_restore_subnets";
/// Tag key that marks firedrill's deny-all ACLs; its value names the run, fault and VPC.
pub const NACL_TAG: &str = "firedrill:deny-all";

/// The `az_outage` fault kind.
pub struct AzOutage;

/// `az_outage`: one Availability Zone fails for the targeted resources.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AzOutageFault {
    /// The zone that fails, e.g. `us-east-1a`.
    pub zone: String,
    /// Targets whose resources in the zone are affected (`ec2:subnet` for `network`,
    /// `ec2:instance` for `stop_instances`, `autoscaling:group` for `asg`,
    /// `rds:cluster`/`rds:instance` for `rds`).
    pub targets: Vec<String>,
    /// Associate a deny-all network ACL with each targeted subnet in the zone.
    #[serde(default)]
    pub network: bool,
    /// Stop the targeted instances in the zone (started again on revert).
    #[serde(default)]
    pub stop_instances: bool,
    /// `remove_zone`: take the zone's subnets out of the targeted Auto Scaling groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asg: Option<AsgAction>,
    /// `failover`: fail over targeted RDS clusters whose writer (and Multi-AZ instances
    /// whose primary) is in the zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds: Option<RdsAction>,
    /// With `rds: failover`: on revert, fail back to the original writer (or primary
    /// zone), as `rds_failover`'s `failback: true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rds_failback: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AsgAction {
    RemoveZone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RdsAction {
    Failover,
}

impl super::Kind for AzOutage {
    const KEY: &'static str = "az_outage";
    type Config = AzOutageFault;
    const TARGET_TYPES: &'static [TargetType] = &[
        TargetType::Ec2Subnet,
        TargetType::Ec2Instance,
        TargetType::AutoScalingGroup,
        TargetType::RdsCluster,
        TargetType::RdsInstance,
    ];

    fn targets(a: &AzOutageFault) -> Vec<(String, &str)> {
        a.targets.iter().enumerate().map(|(j, t)| (format!("targets[{j}]"), t.as_str())).collect()
    }

    fn validate(a: &AzOutageFault, at: &str, scope: &Scope<'_>) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(r) = scope.region
            && !zone_in_region(&a.zone, r)
        {
            out.push(problem(format!("{at}.zone"), format!("zone {:?} is not in the scenario's region {r}", a.zone)));
        }
        if a.targets.is_empty() {
            out.push(problem(format!("{at}.targets"), "name the targets the zone failure affects"));
        }
        if !a.network && !a.stop_instances && a.asg.is_none() && a.rds.is_none() {
            out.push(problem(at, "az_outage does nothing: enable at least one of `network`, `stop_instances`, `asg: remove_zone`, `rds: failover`"));
        }
        if a.rds_failback && a.rds.is_none() {
            out.push(problem(format!("{at}.rds_failback"), "`rds_failback` needs `rds: failover`"));
        }
        let needs: [(bool, &str, &[TargetType]); 4] = [
            (a.network, "network", &[TargetType::Ec2Subnet]),
            (a.stop_instances, "stop_instances", &[TargetType::Ec2Instance]),
            (a.asg.is_some(), "asg", &[TargetType::AutoScalingGroup]),
            (a.rds.is_some(), "rds", &[TargetType::RdsCluster, TargetType::RdsInstance]),
        ];
        for (on, field, types) in needs {
            if on && !scope.has_target_of(&a.targets, types) {
                out.push(problem(
                    format!("{at}.{field}"),
                    format!(
                        "`{field}` needs a target of type {} in `targets`",
                        types.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(" or ")
                    ),
                ));
            }
        }
        out
    }

    fn iam(a: &AzOutageFault, targets: &[&Target]) -> Vec<Stmt> {
        let mut out = Vec::new();
        if a.network {
            out.push(stmt(
                "ZoneNetworkRead",
                &["ec2:DescribeNetworkAcls", "ec2:DescribeSubnets"],
                vec![Res::Any],
                false,
            ));
            // A new ACL has no tags to condition on; firedrill tags it at creation and
            // only ever deletes the ACLs carrying its tag. The ACL a subnet goes back to,
            // and the VPC of a new one, are any of the account's.
            let mut r = vec![Res::Ec2("network-acl", "*".into()), Res::Ec2("vpc", "*".into())];
            r.extend(of_type(targets, TargetType::Ec2Subnet));
            out.push(stmt(
                "ZoneNetworkAcls",
                &["ec2:CreateNetworkAcl", "ec2:ReplaceNetworkAclAssociation", "ec2:DeleteNetworkAcl"],
                r,
                false,
            ));
            // AWS authorizes CreateNetworkAcl's TagSpecifications as ec2:CreateTags; only
            // that use is allowed here, not tagging existing resources.
            out.push(
                stmt("TagNewNetworkAcls", &["ec2:CreateTags"], vec![Res::Ec2("network-acl", "*".into())], false)
                    .on_create("CreateNetworkAcl"),
            );
        }
        if a.stop_instances {
            let instances = of_type(targets, TargetType::Ec2Instance);
            out.push(stmt("StopStartInstances", &["ec2:StopInstances", "ec2:StartInstances"], instances, true));
        }
        if a.asg.is_some() {
            let groups = of_type(targets, TargetType::AutoScalingGroup);
            out.push(stmt("ZoneGroupSubnets", &["autoscaling:UpdateAutoScalingGroup"], groups, true));
            out.push(stmt("ZoneGroupSubnetsRead", &["ec2:DescribeSubnets"], vec![Res::Any], false));
        }
        if a.rds.is_some() {
            out.extend(targets.iter().filter_map(|t| super::rds::failover_statement(t)));
        }
        out
    }

    fn describe(a: &AzOutageFault, _: &dyn Fn(&str) -> String, res: Option<&Resolution>) -> Vec<String> {
        let mut out = vec![format!("inject: fail zone {} for targets {}", a.zone, a.targets.join(", "))];
        if let Some(r) = res {
            out.extend(Plan::new(a, r).describe().into_iter().map(|l| format!("  {l}")));
        }
        out.push(format!(
            "revert: in reverse: {}restore ASG subnets, start instances, restore ACL associations, delete the ACL",
            if a.rds_failback { "fail RDS back, " } else { "" }
        ));
        out
    }

    fn no_effect(_: &str, a: &AzOutageFault, res: &Resolution) -> Option<String> {
        let p = Plan::new(a, res);
        p.resources()
            .is_empty()
            .then(|| format!("no part has anything to do in zone {}: {}", a.zone, p.parts.join("; ")))
    }

    fn preflight(fault: &str, a: &AzOutageFault, res: &Resolution) -> Vec<String> {
        preflight(fault, a, res)
    }

    /// A zone failure acts only on what is in the zone.
    fn resources(a: &AzOutageFault, res: &Resolution) -> Vec<(TargetType, String)> {
        Plan::new(a, res).resources()
    }

    fn build(fault: &str, a: &AzOutageFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (ctx, res) = ctx.aws()?;
        Some(Arc::new(Injector { ctx, fault: fault.to_string(), plan: Plan::new(a, res) }))
    }
}

/// What the fault acts on, from the resolved targets.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub zone: String,
    /// Subnet ids in the zone, by VPC.
    pub subnets: BTreeMap<String, Vec<String>>,
    pub instances: Vec<String>,
    pub groups: Vec<String>,
    /// (kind, id) of RDS clusters or instances to fail over.
    pub rds: Vec<(TargetType, String)>,
    /// Fail RDS back on revert.
    pub rds_failback: bool,
    /// Every part asked for, with what it acts on or why it has nothing to do.
    pub parts: Vec<String>,
}

impl Plan {
    /// What the plan acts on (and so leases), by type.
    pub fn resources(&self) -> Vec<(TargetType, String)> {
        let mut out: Vec<(TargetType, String)> =
            self.subnets.values().flatten().map(|id| (TargetType::Ec2Subnet, id.clone())).collect();
        out.extend(self.instances.iter().map(|id| (TargetType::Ec2Instance, id.clone())));
        out.extend(self.groups.iter().map(|id| (TargetType::AutoScalingGroup, id.clone())));
        out.extend(self.rds.iter().cloned());
        out
    }

    pub fn new(a: &AzOutageFault, r: &Resolution) -> Self {
        let mut p = Plan { zone: a.zone.clone(), rds_failback: a.rds_failback, ..Default::default() };
        let zone = &a.zone;
        // Why resources of an enabled part are left alone.
        let (mut idle, mut no_writer) = (Vec::new(), Vec::new());
        for name in &a.targets {
            let Some(t) = r.targets.get(name) else { continue };
            for res in &t.resources {
                let in_zone = res.zones.iter().any(|z| z == zone);
                let zones = if res.zones.is_empty() { "an unknown zone".to_string() } else { res.zones.join(", ") };
                match t.kind {
                    TargetType::Ec2Subnet if a.network && in_zone => {
                        let vpc = res.attrs.get("vpc").cloned().unwrap_or_default();
                        p.subnets.entry(vpc).or_default().push(res.id.clone());
                    }
                    TargetType::Ec2Instance if a.stop_instances && in_zone => match res.state.as_deref() {
                        None | Some("running") => p.instances.push(res.id.clone()),
                        Some(state) => idle.push(format!("{} is {state}", res.id)),
                    },
                    TargetType::AutoScalingGroup if a.asg.is_some() && in_zone => p.groups.push(res.id.clone()),
                    TargetType::RdsCluster if a.rds.is_some() => match res.attrs.get("writer") {
                        Some(_) if in_zone => p.rds.push((t.kind, res.id.clone())),
                        Some(w) => no_writer
                            .push(format!("cluster {}: no writer in {zone} (writer {w} is in {zones})", res.id)),
                        None => no_writer.push(format!("cluster {}: it has no writer", res.id)),
                    },
                    TargetType::RdsInstance if a.rds.is_some() => {
                        if res.attrs.get("multi_az").is_none_or(|m| m != "true") {
                            no_writer.push(format!("{} is single-AZ: it cannot fail over", res.id));
                        } else if in_zone {
                            p.rds.push((t.kind, res.id.clone()));
                        } else {
                            no_writer.push(format!("{}: primary not in {zone} (it is in {zones})", res.id));
                        }
                    }
                    _ => {}
                }
            }
        }
        let nothing = "nothing to do";
        if a.network {
            if p.subnets.is_empty() {
                p.parts.push(format!("network: no targeted subnet in {zone}: {nothing}"));
            }
            for (vpc, subnets) in &p.subnets {
                p.parts.push(format!("network: deny-all ACL in {vpc} for subnets {}", subnets.join(", ")));
            }
        }
        if a.stop_instances {
            p.parts.push(if !p.instances.is_empty() {
                format!("stop_instances: stop {} instance(s): {}", p.instances.len(), list(&p.instances))
            } else if idle.is_empty() {
                format!("stop_instances: no targeted instance in {zone}: {nothing}")
            } else {
                format!("stop_instances: no targeted instance in {zone} is running ({}): {nothing}", list(&idle))
            });
        }
        if a.asg.is_some() {
            if p.groups.is_empty() {
                p.parts.push(format!("asg: remove_zone — no targeted Auto Scaling group uses {zone}: {nothing}"));
            }
            for g in &p.groups {
                p.parts.push(format!("asg: remove_zone — take {zone} out of Auto Scaling group {g}"));
            }
        }
        if a.rds.is_some() {
            let back = if a.rds_failback { ", failing back on revert" } else { "" };
            for (kind, id) in &p.rds {
                p.parts.push(format!("rds: failover — fail over {kind} {id} (writer in {zone}){back}"));
            }
            for why in &no_writer {
                p.parts.push(format!("rds: failover — {why}: {nothing}"));
            }
            if p.rds.is_empty() && no_writer.is_empty() {
                p.parts.push(format!("rds: failover — no targeted database: {nothing}"));
            }
        }
        p
    }

    /// Lines for `firedrill plan`: every part asked for, applying or not.
    pub fn describe(&self) -> Vec<String> {
        self.parts.clone()
    }
}

/// Refusals known at plan time: asking for the network failure with no subnet in the zone.
pub fn preflight(fault: &str, a: &AzOutageFault, r: &Resolution) -> Vec<String> {
    let p = Plan::new(a, r);
    let mut out = Vec::new();
    if a.network && p.subnets.is_empty() {
        out.push(format!(
            "fault `{fault}`: no targeted subnet is in zone {}: the network failure has nothing to act on",
            a.zone
        ));
    }
    out
}

pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub fault: String,
    pub plan: Plan,
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        let aws = &self.ctx.aws;
        let p = &self.plan;

        // 1. Network.
        for (vpc, subnets) in &p.subnets {
            let token = format!("{}/{}/{vpc}", self.ctx.run_id, self.fault);
            let current = aws.nacl_associations(subnets).await.map_err(failed)?;
            for s in subnets {
                if !current.iter().any(|a| &a.subnet_id == s) {
                    return Err(FaultError::Failed(format!("subnet {s} no longer exists or has no network ACL")));
                }
            }
            let swap = super::nacl::Swap {
                tag: NACL_TAG,
                token,
                vpc,
                name: format!("firedrill-deny-all-{}", p.zone),
                entries: vec![],
                what: format!("firedrill's deny-all network ACL in {vpc}"),
                scope: format!("of {vpc} in {}", p.zone),
                zone: Some(p.zone.clone()),
            };
            super::nacl::swap(&self.ctx, intents, &swap, current).await?;
        }

        // 2. Instances.
        if !p.instances.is_empty() {
            let now = aws.instances_by_id(&p.instances).await.map_err(failed)?;
            let (running, _): (Vec<_>, Vec<_>) = now.into_iter().partition(|i| i.state == "running");
            let ids: Vec<String> = running.iter().map(|i| i.id.clone()).collect();
            if !ids.is_empty() {
                intents.intent(start_record(aws, &ids)).await?;
                super::ec2::tag_stopped(aws, &self.ctx.run_id, &ids).await?;
                aws.stop_instances(&ids).await.map_err(failed)?;
                for i in &running {
                    intents.changed(super::ec2::state_change(i, "stopped", true));
                }
            }
        }

        // 3. Auto Scaling groups.
        if !p.groups.is_empty() {
            let mut zone_subnets = BTreeSet::new();
            let mut groups = Vec::new();
            for name in &p.groups {
                match aws.group(name).await.map_err(failed)? {
                    Some(g) => groups.push(g),
                    None => return Err(FaultError::Failed(format!("Auto Scaling group {name} no longer exists"))),
                }
            }
            let all: Vec<String> = groups.iter().flat_map(|g| g.subnets()).collect();
            let sel = Selector { ids: all, zone: Some(p.zone.clone()), ..Default::default() };
            zone_subnets.extend(aws.subnets(&sel).await.map_err(failed)?.into_iter().map(|s| s.id));
            for g in groups {
                let (gone, keep): (Vec<String>, Vec<String>) =
                    g.subnets().into_iter().partition(|s| zone_subnets.contains(s));
                if gone.is_empty() {
                    continue;
                }
                if keep.is_empty() {
                    return Err(FaultError::Refused(format!(
                        "Auto Scaling group {} has subnets only in {}; removing the zone would leave it none",
                        g.name, p.zone
                    )));
                }
                let applied = keep.join(",");
                intents
                    .intent(
                        SubnetsData {
                            group: g.name.clone(),
                            original: g.vpc_zone_identifier.clone(),
                            applied: applied.clone(),
                        }
                        .record(
                            Some(aws.region()),
                            format!("put subnets {} back into Auto Scaling group {}", gone.join(", "), g.name),
                        ),
                    )
                    .await?;
                // The group carries its original subnets before it loses any (split over
                // numbered tags: a long list passes the 256-character value limit).
                let payload = format!("{}|{applied}", g.vpc_zone_identifier);
                let tags = crate::tags::split(crate::tags::UNDO_SUBNETS, &self.ctx.run_id, &payload);
                let group = std::slice::from_ref(&g.name);
                aws.tag_all("", TargetType::AutoScalingGroup, group, &tags).await.map_err(failed)?;
                aws.set_group_subnets(&g.name, &applied).await.map_err(failed)?;
                intents.changed(Change {
                    resource: format!("Auto Scaling group {}", g.name),
                    zone: Some(p.zone.clone()),
                    what: "subnets".into(),
                    before: g.vpc_zone_identifier.clone(),
                    after: applied.clone(),
                    undone_by_revert: true,
                });
            }
        }

        // 4. RDS.
        for (kind, id) in &p.rds {
            let how = super::rds::How { to: None, from_zone: Some(&p.zone), failback: p.rds_failback };
            super::rds::failover(&self.ctx, *kind, id, how, intents).await?;
        }
        Ok(())
    }
}

/// Undo step: give the Auto Scaling group its original subnets again.
#[derive(Serialize, Deserialize)]
pub struct SubnetsData {
    pub group: String,
    pub original: String,
    pub applied: String,
}

#[async_trait]
impl Step for SubnetsData {
    const KEY: &'static str = RESTORE_SUBNETS;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        undo_restore_subnets(client(aws)?, self).await
    }

    fn manual_fix(&self, region: &str) -> Option<String> {
        Some(format!(
            "aws autoscaling update-auto-scaling-group {} --auto-scaling-group-name {} --vpc-zone-identifier {}",
            region_flag(region),
            quote(&self.group),
            quote(&self.original)
        ))
    }

    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        BTreeMap::from([(TargetType::AutoScalingGroup, vec![self.group.clone()])])
    }

    fn scheduled(&self) -> Vec<ScheduledCall> {
        let input = serde_json::json!({"AutoScalingGroupName": self.group, "VPCZoneIdentifier": self.original});
        vec![ScheduledCall::new("autoscaling", "updateAutoScalingGroup", input)]
    }
}

fn set_of(s: &str) -> BTreeSet<&str> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// Restores the group's exact original subnets if they are still what firedrill set.
impl SubnetsData {
    /// Whether the group's subnets must be set back, given its subnets now (`None`: the
    /// group is gone). Only what firedrill set is replaced, whatever the order.
    fn must_restore(&self, now: Option<&str>) -> Result<bool, FaultError> {
        let Some(now) = now else {
            return Err(FaultError::Conflict(format!("Auto Scaling group {} no longer exists", self.group)));
        };
        if set_of(now) == set_of(&self.original) {
            Ok(false)
        } else if set_of(now) == set_of(&self.applied) {
            Ok(true)
        } else {
            Err(FaultError::Conflict(format!(
                "Auto Scaling group {} now has subnets {now}, not what firedrill set ({}): left alone; its original was {}",
                self.group, self.applied, self.original
            )))
        }
    }
}

async fn undo_restore_subnets(aws: &Aws, d: &SubnetsData) -> Result<(), FaultError> {
    let g = aws.group(&d.group).await.map_err(failed)?;
    if d.must_restore(g.as_ref().map(|g| g.vpc_zone_identifier.as_str()))? {
        aws.set_group_subnets(&d.group, &d.original).await.map_err(failed)?;
    }
    let keys = g.map(|g| crate::tags::split_keys(crate::tags::UNDO_SUBNETS, &g.tags)).unwrap_or_default();
    aws.forget(TargetType::AutoScalingGroup, std::slice::from_ref(&d.group), &keys).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Reverts replace only what firedrill put in place, and are done once it is back.
    #[test]
    fn undo_choices_touch_only_what_firedrill_set() {
        use super::{RestoreData, SubnetsData};
        let nacl = RestoreData { subnet: "subnet-1".into(), original: "acl-orig".into(), clone: "acl-fd".into() };
        assert!(nacl.must_restore(Some("acl-fd")).unwrap());
        assert!(!nacl.must_restore(Some("acl-orig")).unwrap(), "already back: nothing to do");
        assert!(nacl.must_restore(Some("acl-other")).unwrap_err().to_string().contains("left alone"));
        assert!(nacl.must_restore(None).unwrap_err().to_string().contains("no longer exists"));

        let group = SubnetsData { group: "web".into(), original: "s-a,s-b".into(), applied: "s-b".into() };
        assert!(group.must_restore(Some("s-b")).unwrap());
        assert!(!group.must_restore(Some("s-b, s-a")).unwrap(), "the same set in another order is the original");
        assert!(group.must_restore(Some("s-b,s-c")).unwrap_err().to_string().contains("left alone"));
        assert!(group.must_restore(None).unwrap_err().to_string().contains("no longer exists"));
    }

    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::targets::{ResolvedTarget, Resource};

    fn resource(id: &str, zone: &str, attrs: &[(&str, &str)]) -> Resource {
        Resource {
            id: id.into(),
            zones: vec![zone.into()],
            state: None,
            tags: Default::default(),
            attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn resolution(targets: Vec<(&str, TargetType, Vec<Resource>)>) -> Resolution {
        Resolution {
            account: "1".into(),
            region: "us-east-1".into(),
            seed: 0,
            targets: targets
                .into_iter()
                .map(|(n, kind, resources)| {
                    (n.to_string(), ResolvedTarget { kind, matched: resources.len(), excluded: Vec::new(), resources })
                })
                .collect::<BTreeMap<_, _>>(),
            refusals: vec![],
            opt_in_tag: None,
        }
    }

    fn world() -> Resolution {
        resolution(vec![
            (
                "subnets",
                TargetType::Ec2Subnet,
                vec![
                    resource("subnet-a1", "us-east-1a", &[("vpc", "vpc-1")]),
                    resource("subnet-a2", "us-east-1a", &[("vpc", "vpc-2")]),
                    resource("subnet-b", "us-east-1b", &[("vpc", "vpc-1")]),
                ],
            ),
            (
                "web",
                TargetType::Ec2Instance,
                vec![resource("i-a", "us-east-1a", &[]), resource("i-b", "us-east-1b", &[])],
            ),
            ("asg", TargetType::AutoScalingGroup, vec![resource("web-asg", "us-east-1a", &[])]),
            (
                "dbs",
                TargetType::RdsInstance,
                vec![
                    resource("db-multi", "us-east-1a", &[("multi_az", "true")]),
                    resource("db-single", "us-east-1a", &[("multi_az", "false")]),
                ],
            ),
        ])
    }

    fn fault(v: serde_json::Value) -> AzOutageFault {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_plan_takes_only_what_is_in_the_zone_and_enabled() {
        let all = fault(json!({
            "zone": "us-east-1a", "targets": ["subnets", "web", "asg", "dbs"],
            "network": true, "stop_instances": true, "asg": "remove_zone", "rds": "failover",
        }));
        let p = Plan::new(&all, &world());
        assert_eq!(
            p.subnets,
            BTreeMap::from([
                ("vpc-1".to_string(), vec!["subnet-a1".to_string()]),
                ("vpc-2".into(), vec!["subnet-a2".into()])
            ])
        );
        assert_eq!(p.instances, ["i-a"]);
        assert_eq!(p.groups, ["web-asg"]);
        // A single-AZ instance cannot fail over.
        assert_eq!(p.rds, [(TargetType::RdsInstance, "db-multi".to_string())]);
        // What is leased is exactly what the plan acts on.
        assert_eq!(
            p.resources(),
            [
                (TargetType::Ec2Subnet, "subnet-a1".to_string()),
                (TargetType::Ec2Subnet, "subnet-a2".into()),
                (TargetType::Ec2Instance, "i-a".into()),
                (TargetType::AutoScalingGroup, "web-asg".into()),
                (TargetType::RdsInstance, "db-multi".into()),
            ]
        );

        // Only the enabled parts act.
        let network = fault(json!({"zone": "us-east-1a", "targets": ["subnets", "web", "asg"], "network": true}));
        let p = Plan::new(&network, &world());
        assert!(p.instances.is_empty() && p.groups.is_empty() && p.rds.is_empty(), "{p:?}");
        assert_eq!(p.subnets.values().flatten().count(), 2);
    }

    #[test]
    fn preflight_refuses_a_zone_with_nothing_to_act_on() {
        let none = fault(
            json!({"zone": "us-east-1c", "targets": ["subnets", "web"], "network": true, "stop_instances": true}),
        );
        assert_eq!(
            preflight("zone", &none, &world()),
            ["fault `zone`: no targeted subnet is in zone us-east-1c: the network failure has nothing to act on"]
        );
        // Nothing at all in the zone: the fault would change nothing.
        assert_eq!(
            <AzOutage as crate::faults::Kind>::no_effect("zone", &none, &world()).as_deref(),
            Some(
                "no part has anything to do in zone us-east-1c: network: no targeted subnet in us-east-1c: nothing to do; \
                 stop_instances: no targeted instance in us-east-1c: nothing to do"
            )
        );
        // Instances in the zone, but the network part finds no subnet there.
        let no_subnet =
            fault(json!({"zone": "us-east-1b", "targets": ["web"], "network": true, "stop_instances": true}));
        assert_eq!(
            preflight("zone", &no_subnet, &world()),
            ["fault `zone`: no targeted subnet is in zone us-east-1b: the network failure has nothing to act on"]
        );
        let fine = fault(json!({"zone": "us-east-1a", "targets": ["subnets"], "network": true}));
        assert!(preflight("zone", &fine, &world()).is_empty());
    }

    /// Every part asked for is in the plan, applying or not: month 2 of a monthly drill,
    /// whose writer month 1 moved out of the zone, shows the RDS part with nothing to do
    /// rather than dropping it; when no part has anything to do, the fault has no effect.
    #[test]
    fn every_part_asked_for_is_listed_applying_or_not() {
        use crate::faults::Kind;
        let mut w = world();
        w.targets.insert(
            "db".into(),
            ResolvedTarget {
                kind: TargetType::RdsCluster,
                matched: 1,
                excluded: Vec::new(),
                resources: vec![resource("shop-db", "us-east-1b", &[("writer", "db-1"), ("members", "2")])],
            },
        );
        w.targets.get_mut("web").unwrap().resources[0].state = Some("running".into());
        let monthly = fault(json!({
            "zone": "us-east-1a", "targets": ["web", "db"], "stop_instances": true, "rds": "failover",
        }));
        let p = Plan::new(&monthly, &w);
        assert_eq!(
            p.describe(),
            [
                "stop_instances: stop 1 instance(s): i-a",
                "rds: failover — cluster shop-db: no writer in us-east-1a (writer db-1 is in us-east-1b): nothing to do",
            ]
        );
        assert_eq!(AzOutage::no_effect("z", &monthly, &w), None, "the instance part still acts");

        // The instance was stopped meanwhile too: nothing of the fault applies.
        w.targets.get_mut("web").unwrap().resources[0].state = Some("stopped".into());
        let p = Plan::new(&monthly, &w);
        assert!(p.resources().is_empty(), "{p:?}");
        assert_eq!(
            AzOutage::no_effect("z", &monthly, &w).as_deref(),
            Some(
                "no part has anything to do in zone us-east-1a: \
                 stop_instances: no targeted instance in us-east-1a is running (i-a is stopped): nothing to do; \
                 rds: failover — cluster shop-db: no writer in us-east-1a (writer db-1 is in us-east-1b): nothing to do"
            )
        );

        // Every part of a full outage is named, with what it acts on.
        let all = fault(json!({
            "zone": "us-east-1a", "targets": ["subnets", "asg", "dbs"],
            "network": true, "asg": "remove_zone", "rds": "failover", "rds_failback": true,
        }));
        assert_eq!(
            Plan::new(&all, &world()).describe(),
            [
                "network: deny-all ACL in vpc-1 for subnets subnet-a1",
                "network: deny-all ACL in vpc-2 for subnets subnet-a2",
                "asg: remove_zone — take us-east-1a out of Auto Scaling group web-asg",
                "rds: failover — fail over rds:instance db-multi (writer in us-east-1a), failing back on revert",
                "rds: failover — db-single is single-AZ: it cannot fail over: nothing to do",
            ]
        );
    }

    #[test]
    fn rds_failback_needs_rds_failover() {
        use crate::faults::Kind;
        let targets = BTreeMap::new();
        let scope = crate::scenario::validate::Scope { targets: &targets, region: None, accounts: &[] };
        let x = fault(json!({"zone": "us-east-1a", "targets": ["web"], "stop_instances": true, "rds_failback": true}));
        let problems: Vec<(String, String)> =
            AzOutage::validate(&x, "f", &scope).into_iter().map(|p| (p.path, p.message)).collect();
        assert!(
            problems.contains(&("f.rds_failback".into(), "`rds_failback` needs `rds: failover`".into())),
            "{problems:?}"
        );
    }
}
