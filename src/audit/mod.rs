//! `firedrill audit`: a read-only map of the tagged estate by region and Availability
//! Zone, its single points of failure and concentrations as [`Finding`]s, each with a
//! stable `kind` and `id`, and the drill that would test it ([`suggest`]).
//!
//! [`collect`] reads one region through [`crate::aws::Aws`]'s audit calls and keeps
//! what carries the asked tags, with what it depends on (its subnets, the NAT gateways
//! their route tables use, the roles of its instance profiles, the alarms that watch
//! it); [`findings::find`] turns the [`AuditDoc`] into findings; [`baseline`] accepts
//! known risks until a date; [`render`] prints it for people (terminal, Markdown) and
//! [`html`] draws the map. The JSON form is [`AuditDoc`] itself, its schema
//! `schema/audit.schema.json` (`firedrill schema audit`).

pub mod baseline;
pub mod findings;
pub mod html;
pub mod render;
pub mod suggest;

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::audit::{
    AuditAlarm, AuditCache, AuditDbCluster, AuditDbInstance, AuditGroup, AuditInstance, AuditLoadBalancer,
    AuditNatGateway, AuditPrincipal, AuditSubnet, AuditVolume,
};
use crate::aws::{Aws, AwsError, PrincipalKind, Tags};

/// The `audit_version` this firedrill writes; bumped on an incompatible change.
pub const AUDIT_VERSION: u32 = 1;

/// What `firedrill audit` found: the estate and its findings. Nothing was changed to
/// make it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "firedrill audit")]
pub struct AuditDoc {
    /// Format version of this document: 1.
    pub audit_version: u32,
    /// The AWS account audited.
    pub account: String,
    /// The `--tag` filters: a resource is in the estate when it carries all of them (or
    /// something in it depends on the resource).
    pub tags: Tags,
    /// One entry per audited region, in the order given.
    pub regions: Vec<RegionEstate>,
    /// IAM roles: those of the estate's instance profiles, and roles carrying the tags.
    pub roles: Vec<AuditPrincipal>,
    /// IAM users carrying the tags.
    pub users: Vec<AuditPrincipal>,
    /// What can fail together or page no one, worst first; findings the baseline
    /// accepts are in `accepted` instead.
    pub findings: Vec<Finding>,
    /// Findings the baseline file accepts, each with its reason and expiry.
    pub accepted: Vec<AcceptedFinding>,
}

/// One region's part of the estate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RegionEstate {
    pub region: String,
    /// The Availability Zones anything in the estate is in, sorted.
    pub zones: Vec<String>,
    pub instances: Vec<AuditInstance>,
    pub groups: Vec<AuditGroup>,
    pub load_balancers: Vec<AuditLoadBalancer>,
    pub db_instances: Vec<AuditDbInstance>,
    pub db_clusters: Vec<AuditDbCluster>,
    pub volumes: Vec<AuditVolume>,
    pub subnets: Vec<AuditSubnet>,
    pub nat_gateways: Vec<AuditNatGateway>,
    pub caches: Vec<AuditCache>,
    pub alarms: Vec<AuditAlarm>,
}

impl RegionEstate {
    /// Whether nothing of the estate is in this region.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
            && self.groups.is_empty()
            && self.load_balancers.is_empty()
            && self.db_instances.is_empty()
            && self.db_clusters.is_empty()
            && self.volumes.is_empty()
            && self.caches.is_empty()
    }
}

/// How bad a finding is; `--fail-on` takes one and fails on it or worse.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// The kinds of finding, by their stable ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An Auto Scaling group whose subnets are all in one zone.
    AsgSingleAz,
    /// Losing the busiest zone would leave a group (or the tagged instances outside any
    /// group) below its minimum.
    ZoneLossBelowCapacity,
    /// An RDS instance without Multi-AZ, or a cluster with no reader in another zone.
    RdsSingleAz,
    /// Every tagged data volume is in one zone.
    VolumeDataSingleAz,
    /// Subnets in several zones route through one NAT gateway.
    NatSingleAz,
    /// The whole estate is in one region.
    SingleRegion,
    /// An alarm that would page no one (no alarm action, or actions disabled).
    AlarmWithoutAction,
    /// An active access key older than the limit (90 days).
    IamAccessKeyOld,
    /// A role or user allowed `"Action": "*"` on `"Resource": "*"`.
    IamWildcardPolicy,
    /// An ElastiCache replication group whose nodes are all in one zone.
    CacheSingleAz,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AsgSingleAz => "asg_single_az",
            Kind::ZoneLossBelowCapacity => "zone_loss_below_capacity",
            Kind::RdsSingleAz => "rds_single_az",
            Kind::VolumeDataSingleAz => "volume_data_single_az",
            Kind::NatSingleAz => "nat_single_az",
            Kind::SingleRegion => "single_region",
            Kind::AlarmWithoutAction => "alarm_without_action",
            Kind::IamAccessKeyOld => "iam_access_key_old",
            Kind::IamWildcardPolicy => "iam_wildcard_policy",
            Kind::CacheSingleAz => "cache_single_az",
        }
    }
}

/// One single point of failure, concentration or silent alarm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Stable across audits of the same estate: `KIND:RESOURCE`, or for a finding about
    /// a set, `KIND:tagged-instances@REGION` / `KIND:data-volumes@REGION` (what a
    /// baseline names).
    pub id: String,
    pub kind: Kind,
    pub severity: Severity,
    /// Null for global (IAM) findings and `single_region`.
    pub region: Option<String>,
    /// The zone everything hangs on, when there is one.
    pub zone: Option<String>,
    /// The resources involved, the main one first.
    pub resources: Vec<String>,
    /// One line: what was found.
    pub summary: String,
    /// Why it matters.
    pub why: String,
    /// How to fix it.
    pub fix: String,
}

/// A finding the baseline accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AcceptedFinding {
    pub finding: Finding,
    pub reason: String,
    /// YYYY-MM-DD: from the day after, the finding counts again.
    pub expires: String,
}

/// What to audit and how.
#[derive(Clone, Debug)]
pub struct Options {
    pub tags: Tags,
    /// Access keys older than this many days are findings.
    pub key_max_age_days: u64,
    /// The fewest tagged instances outside any group that must survive losing a zone.
    pub fleet_min: u32,
    /// Seconds since the Unix epoch, for access key ages.
    pub now: i64,
}

/// Reads one region's estate: what carries `tags`, and what it depends on. Also returns
/// the instance profiles the estate's instances use.
pub async fn collect(aws: &Aws, tags: &Tags) -> Result<(RegionEstate, BTreeSet<String>), AwsError> {
    let tagged = |t: &Tags| tags.iter().all(|(k, v)| t.get(k) == Some(v));
    let (subnets, nats) = aws.audit_network().await?;
    let subnet_zone: BTreeMap<String, String> = subnets.iter().map(|s| (s.id.clone(), s.zone.clone())).collect();

    let instances: Vec<AuditInstance> = aws.audit_instances().await?.into_iter().filter(|i| tagged(&i.tags)).collect();
    let groups: Vec<AuditGroup> =
        aws.audit_groups(&subnet_zone).await?.into_iter().filter(|g| tagged(&g.tags)).collect();
    let load_balancers: Vec<AuditLoadBalancer> =
        aws.audit_load_balancers().await?.into_iter().filter(|l| tagged(&l.tags)).collect();
    let (all_db, all_clusters) = aws.audit_databases().await?;
    let db_clusters: Vec<AuditDbCluster> = all_clusters.into_iter().filter(|c| tagged(&c.tags)).collect();
    let db_instances: Vec<AuditDbInstance> = all_db
        .into_iter()
        .filter(|i| tagged(&i.tags) || i.cluster.as_ref().is_some_and(|c| db_clusters.iter().any(|k| &k.id == c)))
        .collect();
    let instance_ids: BTreeSet<&str> = instances.iter().map(|i| i.id.as_str()).collect();
    let volumes: Vec<AuditVolume> = aws
        .audit_volumes()
        .await?
        .into_iter()
        .filter(|v| tagged(&v.tags) || v.attached_to.keys().any(|i| instance_ids.contains(i.as_str())))
        .collect();
    let caches: Vec<AuditCache> = aws.audit_caches().await?.into_iter().filter(|c| tagged(&c.tags)).collect();

    // Subnets: tagged, or used by an instance, group or load balancer of the estate.
    let mut used: BTreeSet<String> = instances.iter().filter_map(|i| i.subnet.clone()).collect();
    used.extend(groups.iter().flat_map(|g| g.subnets.iter().cloned()));
    used.extend(load_balancers.iter().flat_map(|l| l.subnets.keys().cloned()));
    let subnets: Vec<AuditSubnet> = subnets.into_iter().filter(|s| tagged(&s.tags) || used.contains(&s.id)).collect();
    let routed: BTreeSet<&str> = subnets.iter().flat_map(|s| s.nat_gateways.iter().map(String::as_str)).collect();
    let nat_gateways: Vec<AuditNatGateway> =
        nats.into_iter().filter(|n| tagged(&n.tags) || routed.contains(n.id.as_str())).collect();

    // Alarms: tagged, or watching something of the estate.
    let mut watched: BTreeSet<String> = instance_ids.iter().map(|s| s.to_string()).collect();
    watched.extend(groups.iter().map(|g| g.name.clone()));
    watched.extend(db_instances.iter().map(|d| d.id.clone()));
    watched.extend(db_clusters.iter().map(|d| d.id.clone()));
    watched.extend(caches.iter().map(|c| c.id.clone()));
    // A load balancer's dimension is `app/NAME/ID` (the ARN's tail).
    watched
        .extend(load_balancers.iter().filter_map(|l| l.arn.split_once(":loadbalancer/").map(|(_, t)| t.to_string())));
    let alarms: Vec<AuditAlarm> = aws
        .audit_alarms()
        .await?
        .into_iter()
        .filter(|a| tagged(&a.tags) || a.watches.iter().any(|w| watched.contains(w)))
        .collect();

    let profiles: BTreeSet<String> = instances.iter().filter_map(|i| i.instance_profile.clone()).collect();
    let mut zones: BTreeSet<String> = BTreeSet::new();
    zones.extend(instances.iter().map(|i| i.zone.clone()));
    zones.extend(groups.iter().flat_map(|g| g.zones.iter().cloned()));
    zones.extend(load_balancers.iter().flat_map(|l| l.subnets.values().cloned()));
    zones.extend(db_instances.iter().filter_map(|d| d.zone.clone()));
    zones.extend(volumes.iter().map(|v| v.zone.clone()));
    zones.extend(subnets.iter().map(|s| s.zone.clone()));
    zones.extend(nat_gateways.iter().map(|n| n.zone.clone()));
    zones.extend(caches.iter().flat_map(|c| c.nodes.iter().filter_map(|n| n.zone.clone())));
    zones.retain(|z| !z.is_empty());
    let estate = RegionEstate {
        region: aws.region().to_string(),
        zones: zones.into_iter().collect(),
        instances,
        groups,
        load_balancers,
        db_instances,
        db_clusters,
        volumes,
        subnets,
        nat_gateways,
        caches,
        alarms,
    };
    Ok((estate, profiles))
}

/// The IAM part: the roles of `profiles` and roles and users carrying `tags` (IAM is
/// global: read once, through any region's client).
pub async fn collect_iam(
    aws: &Aws,
    profiles: &BTreeSet<String>,
    tags: &Tags,
) -> Result<(Vec<AuditPrincipal>, Vec<AuditPrincipal>), AwsError> {
    let mut names = BTreeSet::new();
    for p in profiles {
        names.extend(aws.instance_profile_roles(p).await?);
    }
    // Without tags only the profiles' roles: every role and user of the account is not
    // "the estate".
    let by_tag = (!tags.is_empty()).then_some(tags);
    let roles = aws.audit_principals(PrincipalKind::Role, &names, by_tag).await?;
    let users = match by_tag {
        Some(t) => aws.audit_principals(PrincipalKind::User, &BTreeSet::new(), Some(t)).await?,
        None => Vec::new(),
    };
    Ok((roles, users))
}

/// The JSON Schema of `audit --format json` (schema/audit.schema.json).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(AuditDoc)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    /// schema/audit.schema.json is what this firedrill generates.
    #[test]
    fn committed_schema_is_current() {
        let committed: serde_json::Value = serde_json::from_str(include_str!("../../schema/audit.schema.json"))
            .expect("schema/audit.schema.json is JSON");
        assert_eq!(
            committed,
            super::json_schema(),
            "schema/audit.schema.json is stale: run `firedrill schema audit > schema/audit.schema.json`"
        );
    }
}
