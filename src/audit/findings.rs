//! The audit's findings: pure functions of an [`AuditDoc`]'s estate, so each rule is
//! tested on small hand-made estates (and end to end against moto in tests/it/audit.rs).
//! Every finding names its kind, severity, resources (the main one first), region and
//! zone, why it matters and how to fix it; its `id` is `KIND:MAIN_RESOURCE` (for a set:
//! the tagged instances outside groups, the data volumes, `KIND:SET@REGION`), stable
//! from one audit to the next, which is what a baseline accepts.

use std::collections::{BTreeMap, BTreeSet};

use super::{AuditDoc, Finding, Kind, Options, RegionEstate, Severity};

/// Every finding of the estate, worst first, then by id.
pub fn find(doc: &AuditDoc, opts: &Options) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &doc.regions {
        groups(r, &mut out);
        fleet(r, opts, &mut out);
        databases(r, &mut out);
        volumes(r, &mut out);
        nats(r, &mut out);
        caches(r, &mut out);
        alarms(r, &mut out);
    }
    single_region(doc, &mut out);
    iam(doc, opts, &mut out);
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    out.dedup_by(|a, b| a.id == b.id);
    out
}

#[allow(clippy::too_many_arguments)]
fn push(
    out: &mut Vec<Finding>,
    kind: Kind,
    severity: Severity,
    region: Option<&str>,
    zone: Option<&str>,
    resources: Vec<String>,
    summary: String,
    why: &str,
    fix: &str,
) {
    let main = resources.first().cloned().unwrap_or_default();
    out.push(Finding {
        id: format!("{}:{main}", kind.as_str()),
        kind,
        severity,
        region: region.map(str::to_string),
        zone: zone.map(str::to_string),
        resources,
        summary,
        why: why.to_string(),
        fix: fix.to_string(),
    });
}

/// The zone with the most of `zones` (ties: the first by name) and its count.
pub fn busiest<'a>(zones: impl IntoIterator<Item = &'a str>) -> Option<(String, usize)> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for z in zones.into_iter().filter(|z| !z.is_empty()) {
        *count.entry(z).or_default() += 1;
    }
    let max = count.values().copied().max()?;
    count.into_iter().find(|(_, n)| *n == max).map(|(z, n)| (z.to_string(), n))
}

fn groups(r: &RegionEstate, out: &mut Vec<Finding>) {
    for g in &r.groups {
        if let [zone] = g.zones.as_slice() {
            let mut res = vec![g.name.clone()];
            res.extend(g.subnets.iter().cloned());
            push(
                out,
                Kind::AsgSingleAz,
                Severity::High,
                Some(&r.region),
                Some(zone),
                res,
                format!("Auto Scaling group {} launches only in {zone}", g.name),
                "when that zone fails, the group has nowhere to launch replacements: it stays at zero until the zone returns",
                "add subnets in at least two more zones to the group's VPCZoneIdentifier",
            );
        }
        let total = g.instances.len();
        if total == 0 || g.min == 0 {
            continue;
        }
        let Some((zone, n)) = busiest(g.instances.values().map(String::as_str)) else { continue };
        let left = total - n;
        if left < g.min as usize {
            let mut res = vec![g.name.clone()];
            res.extend(g.instances.iter().filter(|(_, z)| **z == zone).map(|(i, _)| i.clone()));
            push(
                out,
                Kind::ZoneLossBelowCapacity,
                Severity::High,
                Some(&r.region),
                Some(&zone),
                res,
                format!(
                    "losing {zone} leaves group {} {left} of its minimum {} instance(s) ({n} of {total} are there)",
                    g.name, g.min
                ),
                "until replacements launch and pass health checks elsewhere, the group serves below the capacity it was sized for",
                "spread the instances so that any one zone's loss leaves at least the minimum (N+1 per zone), or raise desired capacity across more zones",
            );
        }
    }
}

/// The tagged instances outside any Auto Scaling group, as one fleet per region.
fn fleet(r: &RegionEstate, opts: &Options, out: &mut Vec<Finding>) {
    let in_group: BTreeSet<&str> = r.groups.iter().flat_map(|g| g.instances.keys().map(String::as_str)).collect();
    let fleet: Vec<_> = r
        .instances
        .iter()
        .filter(|i| !in_group.contains(i.id.as_str()) && !i.tags.contains_key("aws:autoscaling:groupName"))
        .filter(|i| i.state == "running" || i.state == "pending")
        .collect();
    if fleet.is_empty() || opts.fleet_min == 0 {
        return;
    }
    let Some((zone, n)) = busiest(fleet.iter().map(|i| i.zone.as_str())) else { return };
    let left = fleet.len() - n;
    if left < opts.fleet_min as usize {
        let res: Vec<String> = fleet.iter().filter(|i| i.zone == zone).map(|i| i.id.clone()).collect();
        push(
            out,
            Kind::ZoneLossBelowCapacity,
            Severity::High,
            Some(&r.region),
            Some(&zone),
            res,
            format!(
                "losing {zone} leaves {left} of the {} tagged instance(s) outside any group running (minimum {})",
                fleet.len(),
                opts.fleet_min
            ),
            "nothing replaces these instances: when their zone fails, what they serve is gone until someone rebuilds it",
            "run them in an Auto Scaling group over several zones, or place them so that any one zone's loss leaves the minimum",
        );
        // The fleet is no one resource: its id names the region, so it stays the same
        // when its instances are replaced.
        if let Some(f) = out.last_mut() {
            f.id = format!("{}:tagged-instances@{}", f.kind.as_str(), r.region);
        }
    }
}

fn databases(r: &RegionEstate, out: &mut Vec<Finding>) {
    for d in r.db_instances.iter().filter(|d| d.cluster.is_none() && !d.multi_az) {
        push(
            out,
            Kind::RdsSingleAz,
            Severity::High,
            Some(&r.region),
            d.zone.as_deref(),
            vec![d.id.clone()],
            format!("RDS instance {} is not Multi-AZ", d.id),
            "when its zone or host fails, the database is down until AWS replaces the host or you restore a snapshot",
            "enable Multi-AZ (modify-db-instance --multi-az), or move to a cluster with a reader in another zone",
        );
    }
    for c in &r.db_clusters {
        let aurora = c.engine.starts_with("aurora");
        if !aurora && c.multi_az {
            continue;
        }
        let writer = c.members.iter().find(|m| m.writer);
        let wz = writer.and_then(|w| w.zone.clone());
        let elsewhere = c.members.iter().any(|m| !m.writer && m.zone.is_some() && m.zone != wz);
        if !elsewhere {
            let mut res = vec![c.id.clone()];
            res.extend(c.members.iter().map(|m| m.id.clone()));
            let readers = c.members.iter().filter(|m| !m.writer).count();
            push(
                out,
                Kind::RdsSingleAz,
                Severity::High,
                Some(&r.region),
                wz.as_deref(),
                res,
                if readers == 0 {
                    format!("cluster {} has no reader: nothing to fail over to", c.id)
                } else {
                    format!("cluster {}'s readers are all in the writer's zone", c.id)
                },
                "a failover needs a reader outside the failed zone; without one, losing that zone loses the database until a new instance is built",
                "add a reader in another zone (create-db-instance --db-cluster-identifier … --availability-zone …)",
            );
        }
    }
}

/// Data volumes: the estate's volumes that are not an instance's root volume.
fn volumes(r: &RegionEstate, out: &mut Vec<Finding>) {
    let root: BTreeMap<&str, &str> =
        r.instances.iter().filter_map(|i| Some((i.id.as_str(), i.root_device.as_deref()?))).collect();
    let data: Vec<_> = r
        .volumes
        .iter()
        .filter(|v| {
            v.attached_to.is_empty() || v.attached_to.iter().any(|(i, d)| root.get(i.as_str()) != Some(&d.as_str()))
        })
        .collect();
    let zones: BTreeSet<&str> = data.iter().map(|v| v.zone.as_str()).collect();
    if let [zone] = zones.into_iter().collect::<Vec<_>>().as_slice() {
        let res: Vec<String> = data.iter().map(|v| v.id.clone()).collect();
        push(
            out,
            Kind::VolumeDataSingleAz,
            Severity::Medium,
            Some(&r.region),
            Some(zone),
            res,
            format!("all {} data volume(s) are in {zone}", data.len()),
            "an EBS volume lives in one zone: when that zone fails, every copy of this data is unreachable",
            "keep a replica in another zone (application replication, or snapshots restored in another zone on a schedule)",
        );
        if let Some(f) = out.last_mut() {
            f.id = format!("{}:data-volumes@{}", f.kind.as_str(), r.region);
        }
    }
}

fn nats(r: &RegionEstate, out: &mut Vec<Finding>) {
    for n in &r.nat_gateways {
        let users: Vec<_> = r.subnets.iter().filter(|s| s.nat_gateways.contains(&n.id)).collect();
        let zones: BTreeSet<&str> = users.iter().map(|s| s.zone.as_str()).collect();
        if zones.len() > 1 {
            let mut res = vec![n.id.clone()];
            res.extend(users.iter().map(|s| s.id.clone()));
            push(
                out,
                Kind::NatSingleAz,
                Severity::Medium,
                Some(&r.region),
                Some(&n.zone),
                res,
                format!(
                    "subnets in {} zones ({}) reach the internet through NAT gateway {} in {}",
                    zones.len(),
                    zones.iter().copied().collect::<Vec<_>>().join(", "),
                    n.id,
                    n.zone
                ),
                "when the NAT gateway's zone fails, the other zones lose their way out too: a zone outage becomes a regional one",
                "create one NAT gateway per zone and point each zone's route table at its own",
            );
        }
    }
}

fn caches(r: &RegionEstate, out: &mut Vec<Finding>) {
    for c in &r.caches {
        let zones: BTreeSet<&str> = c.nodes.iter().filter_map(|n| n.zone.as_deref()).collect();
        if zones.len() == 1 {
            let zone = zones.iter().next().copied();
            let mut res = vec![c.id.clone()];
            res.extend(c.nodes.iter().map(|n| n.id.clone()));
            push(
                out,
                Kind::CacheSingleAz,
                Severity::Medium,
                Some(&r.region),
                zone,
                res,
                format!("every node of replication group {} is in {}", c.id, zone.unwrap_or_default()),
                "when that zone fails, the cache is gone and every read falls through to what it protects",
                "add replicas in other zones and enable Multi-AZ with automatic failover",
            );
        }
    }
}

fn alarms(r: &RegionEstate, out: &mut Vec<Finding>) {
    for a in r.alarms.iter().filter(|a| !a.actions_enabled || a.alarm_actions.is_empty()) {
        push(
            out,
            Kind::AlarmWithoutAction,
            Severity::Medium,
            Some(&r.region),
            None,
            vec![a.name.clone()],
            if a.alarm_actions.is_empty() {
                format!("alarm {} has no alarm action", a.name)
            } else {
                format!("alarm {} has its actions disabled", a.name)
            },
            "it changes state and pages no one: the failure it was made for goes unnoticed",
            "add an alarm action (an SNS topic that pages the owner) and enable actions",
        );
    }
}

fn single_region(doc: &AuditDoc, out: &mut Vec<Finding>) {
    let used: Vec<&RegionEstate> = doc.regions.iter().filter(|r| !r.is_empty()).collect();
    if let [r] = used.as_slice() {
        push(
            out,
            Kind::SingleRegion,
            Severity::Low,
            None,
            None,
            vec![r.region.clone()],
            format!("the whole estate is in {}", r.region),
            "a regional outage (or a regional control-plane failure) takes everything down together",
            "decide on a recovery plan for the region: a warm standby or backups restorable in another region, and drill it",
        );
    }
}

fn iam(doc: &AuditDoc, opts: &Options, out: &mut Vec<Finding>) {
    let max_age = i64::try_from(opts.key_max_age_days).unwrap_or(i64::MAX).saturating_mul(86_400);
    for u in &doc.users {
        for k in u.access_keys.iter().filter(|k| k.status == "Active") {
            let Some(created) = k.created else { continue };
            let age = opts.now - created;
            if age > max_age {
                push(
                    out,
                    Kind::IamAccessKeyOld,
                    Severity::Medium,
                    None,
                    None,
                    vec![k.id.clone(), u.name.clone()],
                    format!("user {}'s access key {} is {} days old", u.name, k.id, age / 86_400),
                    "a long-lived key has had time to leak (laptops, CI logs, old images), and whoever holds it acts as this user",
                    "rotate it (create a new key, deploy it, deactivate and delete the old one), or move the workload to a role",
                );
            }
        }
    }
    for (what, list) in [("role", &doc.roles), ("user", &doc.users)] {
        for p in list.iter().filter(|p| !p.wildcard_policies.is_empty()) {
            let mut res = vec![p.name.clone()];
            res.extend(p.wildcard_policies.iter().cloned());
            push(
                out,
                Kind::IamWildcardPolicy,
                Severity::High,
                None,
                None,
                res,
                format!("{what} {} may do anything (\"Action\": \"*\" on \"Resource\": \"*\")", p.name),
                "whoever can use it (every instance that shares it) can change or delete anything in the account: its blast radius is everything",
                "replace the wildcard with the actions and resources the workload uses (IAM Access Analyzer can generate them from CloudTrail)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::audit::{AuditClusterMember, AuditDbCluster, AuditGroup};

    fn opts() -> Options {
        Options { tags: Default::default(), key_max_age_days: 90, fleet_min: 1, now: 0 }
    }

    fn doc(regions: Vec<RegionEstate>) -> AuditDoc {
        AuditDoc {
            audit_version: 1,
            account: "123456789012".into(),
            tags: Default::default(),
            regions,
            roles: vec![],
            users: vec![],
            findings: vec![],
            accepted: vec![],
        }
    }

    fn group(name: &str, zones: &[&str], min: u32, instances: &[(&str, &str)]) -> AuditGroup {
        AuditGroup {
            name: name.into(),
            subnets: zones.iter().map(|z| format!("subnet-{z}")).collect(),
            zones: zones.iter().map(|z| z.to_string()).collect(),
            min,
            desired: instances.len() as u32,
            max: 10,
            instances: instances.iter().map(|(i, z)| (i.to_string(), z.to_string())).collect(),
            tags: Default::default(),
        }
    }

    /// N+1 per zone passes; one instance short of it, or one zone, does not.
    #[test]
    fn zone_loss_counts_what_is_left_after_the_busiest_zone() {
        let ok = group("ok", &["a", "b", "c"], 2, &[("i-1", "a"), ("i-2", "b"), ("i-3", "c")]);
        let short = group("short", &["a", "b"], 2, &[("i-4", "a"), ("i-5", "a"), ("i-6", "b")]);
        let one = group("one", &["a"], 1, &[("i-7", "a")]);
        let r = RegionEstate { region: "r".into(), groups: vec![ok, short, one], ..Default::default() };
        let found = find(&doc(vec![r]), &opts());
        let ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
        assert!(ids.contains(&"zone_loss_below_capacity:short"), "{ids:?}");
        assert!(ids.contains(&"zone_loss_below_capacity:one") && ids.contains(&"asg_single_az:one"), "{ids:?}");
        assert!(!ids.iter().any(|i| i.ends_with(":ok")), "{ids:?}");
        let short = found.iter().find(|f| f.id == "zone_loss_below_capacity:short").unwrap();
        assert_eq!(short.zone.as_deref(), Some("a"));
        assert_eq!(short.resources, ["short", "i-4", "i-5"]);
    }

    #[test]
    fn a_cluster_needs_a_reader_outside_the_writers_zone() {
        let member =
            |id: &str, writer: bool, zone: &str| AuditClusterMember { id: id.into(), writer, zone: Some(zone.into()) };
        let cluster = |id: &str, members| AuditDbCluster {
            id: id.into(),
            engine: "aurora-postgresql".into(),
            multi_az: false,
            members,
            tags: Default::default(),
        };
        let r = RegionEstate {
            region: "r".into(),
            db_clusters: vec![
                cluster("spread", vec![member("w", true, "a"), member("r", false, "b")]),
                cluster("same", vec![member("w2", true, "a"), member("r2", false, "a")]),
                cluster("alone", vec![member("w3", true, "a")]),
            ],
            ..Default::default()
        };
        let found = find(&doc(vec![r]), &opts());
        let ids: BTreeSet<&str> = found.iter().filter(|f| f.kind == Kind::RdsSingleAz).map(|f| f.id.as_str()).collect();
        assert_eq!(ids, BTreeSet::from(["rds_single_az:same", "rds_single_az:alone"]));
    }

    #[test]
    fn single_region_only_when_one_region_holds_the_estate() {
        let used = |r: &str| RegionEstate {
            region: r.into(),
            groups: vec![group("g", &["a", "b", "c"], 0, &[])],
            ..Default::default()
        };
        let empty = RegionEstate { region: "empty".into(), ..Default::default() };
        let one = find(&doc(vec![used("r1"), empty.clone()]), &opts());
        assert!(one.iter().any(|f| f.id == "single_region:r1"), "{one:?}");
        let two = find(&doc(vec![used("r1"), used("r2")]), &opts());
        assert!(!two.iter().any(|f| f.kind == Kind::SingleRegion), "{two:?}");
        assert!(!find(&doc(vec![empty]), &opts()).iter().any(|f| f.kind == Kind::SingleRegion));
    }
}
