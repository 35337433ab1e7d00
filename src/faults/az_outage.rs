//! `az_outage`: one Availability Zone fails for the targeted resources, in this order
//! (revert runs it backwards):
//! 1. network — per VPC a deny-all network ACL (tagged as firedrill's) is created, and
//!    each targeted subnet in the zone is associated with it; revert points each subnet
//!    back at its original ACL (only if it still uses the clone) and deletes the clone;
//! 2. instances — the targeted running instances in the zone are stopped, then started;
//! 3. ASGs — the zone's subnets leave each targeted group's `VPCZoneIdentifier`; revert
//!    restores the exact original string (only if nobody changed it meanwhile);
//! 4. RDS — clusters whose writer is in the zone fail over; Multi-AZ instances whose
//!    primary is there reboot with failover (a failover is its own recovery).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::ec2::{failed, list, start_record};
use super::step::{Step, client, region_flag};
use super::{AwsFaultCtx, FaultContext};
use crate::aws::{Aws, Selector, Tags};
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Res, Stmt, of_type, stmt};
use crate::scenario::validate::{Problem, Scope, problem, zone_in_region};
use crate::scenario::{Target, TargetType};
use crate::targets::Resolution;
use crate::util::console::quote;

pub const DELETE_NACL: &str = "ec2_delete_network_acl";
pub const RESTORE_NACL: &str = "ec2_restore_network_acl";
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
        out.push(
            "revert: in reverse: restore ASG subnets, start instances, restore ACL associations, delete the ACL".into(),
        );
        out
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
        let mut p = Plan { zone: a.zone.clone(), ..Default::default() };
        for name in &a.targets {
            let Some(t) = r.targets.get(name) else { continue };
            for res in &t.resources {
                let in_zone = res.zones.iter().any(|z| z == &a.zone);
                match t.kind {
                    TargetType::Ec2Subnet if a.network && in_zone => {
                        let vpc = res.attrs.get("vpc").cloned().unwrap_or_default();
                        p.subnets.entry(vpc).or_default().push(res.id.clone());
                    }
                    TargetType::Ec2Instance if a.stop_instances && in_zone => p.instances.push(res.id.clone()),
                    TargetType::AutoScalingGroup if a.asg.is_some() && in_zone => p.groups.push(res.id.clone()),
                    TargetType::RdsCluster if a.rds.is_some() && in_zone => p.rds.push((t.kind, res.id.clone())),
                    TargetType::RdsInstance
                        if a.rds.is_some() && in_zone && res.attrs.get("multi_az").is_some_and(|m| m == "true") =>
                    {
                        p.rds.push((t.kind, res.id.clone()))
                    }
                    _ => {}
                }
            }
        }
        p
    }

    /// Lines for `firedrill plan`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (vpc, subnets) in &self.subnets {
            out.push(format!("network: deny-all ACL in {vpc} for subnets {}", subnets.join(", ")));
        }
        if !self.instances.is_empty() {
            out.push(format!("stop {} instance(s): {}", self.instances.len(), list(&self.instances)));
        }
        for g in &self.groups {
            out.push(format!("take {} out of Auto Scaling group {g}", self.zone));
        }
        for (kind, id) in &self.rds {
            out.push(format!("fail over {kind} {id} (writer in {})", self.zone));
        }
        out
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
    if p.subnets.is_empty() && p.instances.is_empty() && p.groups.is_empty() && p.rds.is_empty() {
        out.push(format!("fault `{fault}`: none of its targets has a resource in zone {}", a.zone));
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
            intents
                .intent(
                    NaclData { tag: NACL_TAG.into(), value: token.clone() }
                        .record(Some(aws.region()), format!("delete firedrill's deny-all network ACL in {vpc}")),
                )
                .await?;
            let tags: Tags = [
                (NACL_TAG.to_string(), token.clone()),
                ("firedrill:run".to_string(), self.ctx.run_id.clone()),
                ("Name".to_string(), format!("firedrill-deny-all-{}", p.zone)),
            ]
            .into();
            let clone = aws.create_deny_all_nacl(vpc, &tags).await.map_err(failed)?;
            for a in current {
                intents
                    .intent(
                        RestoreData { subnet: a.subnet_id.clone(), original: a.nacl_id.clone(), clone: clone.clone() }
                            .record(
                                Some(aws.region()),
                                format!("associate subnet {} with its network ACL {} again", a.subnet_id, a.nacl_id),
                            ),
                    )
                    .await?;
                aws.replace_nacl_association(&a.association_id, &clone).await.map_err(failed)?;
            }
        }

        // 2. Instances.
        if !p.instances.is_empty() {
            let now = aws.instances_by_id(&p.instances).await.map_err(failed)?;
            let running: Vec<String> = now.into_iter().filter(|i| i.state == "running").map(|i| i.id).collect();
            if !running.is_empty() {
                intents.intent(start_record(aws, &running)).await?;
                aws.stop_instances(&running).await.map_err(failed)?;
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
                aws.set_group_subnets(&g.name, &applied).await.map_err(failed)?;
            }
        }

        // 4. RDS.
        for (kind, id) in &p.rds {
            super::rds::failover(&self.ctx, *kind, id, None, intents).await?;
        }
        Ok(())
    }
}

/// Undo step: delete firedrill's deny-all ACL, found by the tag firedrill gave it.
#[derive(Serialize, Deserialize)]
pub struct NaclData {
    pub tag: String,
    pub value: String,
}

#[async_trait]
impl Step for NaclData {
    const KEY: &'static str = DELETE_NACL;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        undo_delete_nacl(client(aws)?, self).await
    }

    // A value inside an AWS CLI shorthand (`Name=...,Values=...`) is quoted with the
    // whole argument once it is built.
    fn manual_fix(&self, region: &str) -> Option<String> {
        let region = region_flag(region);
        Some(format!(
            "aws ec2 describe-network-acls {region} --filters {} --query 'NetworkAcls[].NetworkAclId' \
             then, once no subnet uses it: aws ec2 delete-network-acl {region} --network-acl-id <that id>",
            quote(&format!("Name=tag:{},Values={}", self.tag, self.value)),
        ))
    }

    // Firedrill's own ACL, found by its tag: nothing of the operator's is changed.
}

/// Deletes firedrill's clone ACL(s) for this step; none found means it was never created
/// or is already deleted.
async fn undo_delete_nacl(aws: &Aws, d: &NaclData) -> Result<(), FaultError> {
    for (id, subnets) in aws.nacls_tagged(&d.tag, &d.value).await.map_err(failed)? {
        if !subnets.is_empty() {
            return Err(FaultError::Failed(format!(
                "network ACL {id} is still associated with {}; not deleted",
                subnets.join(", ")
            )));
        }
        if let Err(e) = aws.delete_nacl(&id).await
            && !e.is_not_found()
        {
            return Err(failed(e));
        }
    }
    Ok(())
}

/// Undo step: associate the subnet with its original ACL again.
#[derive(Serialize, Deserialize)]
pub struct RestoreData {
    pub subnet: String,
    pub original: String,
    pub clone: String,
}

#[async_trait]
impl Step for RestoreData {
    const KEY: &'static str = RESTORE_NACL;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        undo_restore_nacl(client(aws)?, self).await
    }

    // The subnet id also goes into a JMESPath literal, escaped for it, before the whole
    // argument is shell-quoted.
    fn manual_fix(&self, region: &str) -> Option<String> {
        let region = region_flag(region);
        Some(format!(
            "aws ec2 describe-network-acls {region} --filters {} --query {} \
             then: aws ec2 replace-network-acl-association {region} --association-id <that id> --network-acl-id {}",
            quote(&format!("Name=association.subnet-id,Values={}", self.subnet)),
            quote(&format!(
                "NetworkAcls[].Associations[?SubnetId=='{}'].NetworkAclAssociationId",
                self.subnet.replace('\\', "\\\\").replace('\'', "\\'")
            )),
            quote(&self.original),
        ))
    }

    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        BTreeMap::from([(TargetType::Ec2Subnet, vec![self.subnet.clone()])])
    }
}

/// Points the subnet back at its original ACL if it still uses firedrill's clone.
impl RestoreData {
    /// Whether the subnet must be pointed back, given the ACL it uses now (`None`: the
    /// subnet is gone). Only firedrill's clone is replaced; any other ACL is left alone.
    fn must_restore(&self, now: Option<&str>) -> Result<bool, FaultError> {
        match now {
            None => Err(FaultError::Conflict(format!("subnet {} no longer exists", self.subnet))),
            Some(n) if n == self.original => Ok(false),
            Some(n) if n == self.clone => Ok(true),
            Some(n) => Err(FaultError::Conflict(format!(
                "subnet {} now uses network ACL {n}, neither firedrill's {} nor its original {}: left alone",
                self.subnet, self.clone, self.original
            ))),
        }
    }
}

async fn undo_restore_nacl(aws: &Aws, d: &RestoreData) -> Result<(), FaultError> {
    let now = aws.nacl_associations(std::slice::from_ref(&d.subnet)).await.map_err(failed)?;
    let a = now.into_iter().next();
    if d.must_restore(a.as_ref().map(|a| a.nacl_id.as_str()))?
        && let Some(a) = a
    {
        aws.replace_nacl_association(&a.association_id, &d.original).await.map_err(failed)?;
    }
    Ok(())
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
                    (n.to_string(), ResolvedTarget { kind, matched: resources.len(), resources })
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
            [
                "fault `zone`: no targeted subnet is in zone us-east-1c: the network failure has nothing to act on",
                "fault `zone`: none of its targets has a resource in zone us-east-1c",
            ]
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
}
