//! `firedrill recover --sweep`: undoes what firedrill changed in one account and region
//! from AWS alone, when the run's journal is gone (a CI runner deleted with its state).
//! Every change a fault makes carries its undo on the changed resource ([`crate::tags`],
//! docs/tags.md); [`scan`] reads them back, with every lease, and turns each into the
//! same undo step the journal would hold — stamped with the declared account and opt-in
//! tag, so [`crate::faults::Undo::guarded`] checks it exactly as `recover` checks a
//! journal (account, region, and the opt-in tag on every resource it changes) and undoes
//! it with the same idempotent code. An undo tag that cannot be read is reported, never
//! acted on. A FIS experiment firedrill started, and that has not ended, is found by its
//! `firedrill:run` and `firedrill:fault` tags and stopped, and an experiment template it
//! created for an inline `fis_experiment` (the same tags) deleted. RDS failback and `command`
//! faults leave nothing on AWS to find.

use std::collections::BTreeMap;

use crate::aws::{Aws, AwsError, PrincipalKind, Selector, Tags};
use crate::engine::{RevertPolicy, Undoer, revert_with_retries};
use crate::faults::Undo;
use crate::faults::az_outage::{NACL_TAG, NaclData, RestoreData, SubnetsData};
use crate::faults::blackhole::BLACKHOLE_TAG;
use crate::faults::ebs::AttachData;
use crate::faults::ec2::StartData;
use crate::faults::fis::{DeleteTemplateData, StopData};
use crate::faults::guard::{ACCOUNT, OPT_IN_TAG};
use crate::faults::iam::{KeysData, PolicyData, policy_name};
use crate::faults::outage::{DenyData, deny_policy_name};
use crate::faults::undo::Step;
use crate::lease::Leased;
use crate::scenario::{OptInTag, TargetType};
use crate::state::journal::UndoRecord;
use crate::tags::{self, TagError};

/// One change to undo, as found on AWS.
#[derive(Debug, Clone)]
pub struct Item {
    /// Undone in ascending order within a run (the reverse of injection); the lease last.
    pub order: u8,
    pub record: UndoRecord,
}

/// What a sweep found, by run id.
#[derive(Debug, Default)]
pub struct Found {
    pub runs: BTreeMap<String, Vec<Item>>,
    /// Undo tags that cannot be read: reported and left alone.
    pub malformed: Vec<TagError>,
    /// Changes to global (IAM) resources made by a run in another region, which that
    /// region's sweep undoes: (run, what).
    pub elsewhere: Vec<(String, String)>,
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.malformed.is_empty() && self.elsewhere.is_empty()
    }

    fn add(&mut self, run: &str, order: u8, record: UndoRecord) {
        let items = self.runs.entry(run.to_string()).or_default();
        items.push(Item { order, record });
        items.sort_by_key(|i| i.order);
    }
}

const FIS: u8 = 0;
const SUBNETS: u8 = 0;
const START: u8 = 1;
const ATTACH: u8 = 2;
const IAM: u8 = 3;
const RESTORE_ACL: u8 = 4;
const DELETE_ACL: u8 = 5;
const FIS_TEMPLATE: u8 = 8;
const LEASE: u8 = 9;

/// Reads every undo tag and lease in the client's region (and every IAM role and user),
/// as undo records of the run that wrote them, stamped with `account` and `opt_in`.
pub async fn scan(aws: &Aws, account: &str, opt_in: &OptInTag) -> Result<Found, AwsError> {
    let region = aws.region().to_string();
    let mut f = Found::default();
    let mut leases: BTreeMap<String, BTreeMap<TargetType, Vec<String>>> = BTreeMap::new();
    let stamp = |mut r: UndoRecord| {
        if let Some(d) = r.data.as_object_mut() {
            d.insert(ACCOUNT.into(), account.into());
            d.insert(OPT_IN_TAG.into(), serde_json::json!(opt_in));
        }
        r
    };
    let mut lease = |kind: TargetType, id: &str, t: &Tags| {
        for run in tags::lease_holders(t) {
            leases.entry(run).or_default().entry(kind).or_default().push(id.to_string());
        }
    };
    let all = Selector::default();
    let r = Some(region.as_str());

    let mut stopped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in aws.instances(&all).await? {
        lease(TargetType::Ec2Instance, &i.id, &i.tags);
        if let Some(v) = i.tags.get(tags::UNDO_START) {
            match tags::parse_fields(&format!("instance {}", i.id), tags::UNDO_START, v, 0, false) {
                Ok((run, _)) => stopped.entry(run).or_default().push(i.id.clone()),
                Err(e) => f.malformed.push(e),
            }
        }
    }
    for (run, ids) in stopped {
        let what = format!("start {} (stopped by firedrill) and wait until running", crate::faults::ec2::list(&ids));
        f.add(&run, START, stamp(StartData { instance_ids: ids }.record(r, what)));
    }

    for v in aws.volumes(&all).await? {
        lease(TargetType::Ec2Volume, &v.id, &v.tags);
        if let Some(value) = v.tags.get(tags::UNDO_ATTACH) {
            match tags::parse_fields(&format!("volume {}", v.id), tags::UNDO_ATTACH, value, 2, false) {
                Ok((run, x)) => {
                    let d = AttachData { volume: v.id.clone(), instance: x[0].clone(), device: x[1].clone() };
                    let what = format!("attach {} to {} as {}", d.volume, d.instance, d.device);
                    f.add(&run, ATTACH, stamp(d.record(r, what)));
                }
                Err(e) => f.malformed.push(e),
            }
        }
    }

    for s in aws.subnets(&all).await? {
        lease(TargetType::Ec2Subnet, &s.id, &s.tags);
    }

    // `az_outage`'s deny-all ACLs and `network_blackhole`'s clones: the same undo.
    let mut acls: Vec<_> = aws.nacls_with_key(NACL_TAG).await?.into_iter().map(|a| (NACL_TAG, a)).collect();
    acls.extend(aws.nacls_with_key(BLACKHOLE_TAG).await?.into_iter().map(|a| (BLACKHOLE_TAG, a)));
    for (key, (acl, t, _)) in acls {
        let resource = format!("network ACL {acl}");
        let token = t.get(key).cloned().unwrap_or_default();
        let owner =
            t.get(tags::RUN).cloned().unwrap_or_else(|| token.split('/').next().unwrap_or_default().to_string());
        if !tags::valid_run(&owner) {
            f.malformed.push(TagError { resource, key: tags::RUN.into(), why: format!("{owner:?} is not a run id") });
            continue;
        }
        for (k, v) in &t {
            let Some(subnet) = k.strip_prefix(tags::UNDO_ACL_PREFIX) else { continue };
            match tags::parse_fields(&resource, k, v, 1, false) {
                Ok((run, x)) => {
                    let d = RestoreData { subnet: subnet.to_string(), original: x[0].clone(), clone: acl.clone() };
                    let what = format!("associate subnet {} with its network ACL {} again", d.subnet, d.original);
                    f.add(&run, RESTORE_ACL, stamp(d.record(r, what)));
                }
                Err(e) => f.malformed.push(e),
            }
        }
        let kind = if key == NACL_TAG { "deny-all network ACL" } else { "clone of a network ACL" };
        let what = format!("delete firedrill's {kind} {acl}");
        f.add(&owner, DELETE_ACL, stamp(NaclData { tag: key.into(), value: token }.record(r, what)));
    }

    for g in aws.groups(&all).await? {
        lease(TargetType::AutoScalingGroup, &g.name, &g.tags);
        let resource = format!("Auto Scaling group {}", g.name);
        match tags::join(&resource, tags::UNDO_SUBNETS, &g.tags) {
            Ok(Some((run, payload))) => match payload.split_once('|') {
                Some((original, applied)) if !original.is_empty() && !applied.contains('|') => {
                    let d = SubnetsData { group: g.name.clone(), original: original.into(), applied: applied.into() };
                    let what = format!("give Auto Scaling group {} its subnets {} again", d.group, d.original);
                    f.add(&run, SUBNETS, stamp(d.record(r, what)));
                }
                _ => f.malformed.push(TagError {
                    resource,
                    key: tags::UNDO_SUBNETS.into(),
                    why: format!("{payload:?} should be `<original subnets>|<subnets firedrill set>`"),
                }),
            },
            Ok(None) => {}
            Err(e) => f.malformed.push(e),
        }
    }

    for p in aws.principals(PrincipalKind::Role, &all).await? {
        lease(TargetType::IamRole, &p.name, &p.tags);
        for (k, v) in &p.tags {
            let Some(fault) = k.strip_prefix(tags::UNDO_DENY_PREFIX) else { continue };
            let resource = format!("role {}", p.name);
            match tags::parse_fields(&resource, k, v, 1, false) {
                // The policy's name follows from the run and the fault: only it is deleted.
                Ok((run, _)) if !tags::valid_run(fault) => f.malformed.push(TagError {
                    resource,
                    key: k.clone(),
                    why: format!("{fault:?} is not a fault name: no policy deleted (run {run})"),
                }),
                Ok((run, x)) if x[0] != region => {
                    let policy = deny_policy_name(&run, fault);
                    f.elsewhere.push((run, format!("{resource}: deny policy {policy} (region {})", x[0])))
                }
                Ok((run, _)) => {
                    let d = DenyData { role: p.name.clone(), policy: deny_policy_name(&run, fault), tag: k.clone() };
                    let what = format!("delete inline policy {} from role {}", d.policy, d.role);
                    f.add(&run, IAM, stamp(d.record(r, what)));
                }
                Err(e) => f.malformed.push(e),
            }
        }
        let Some(v) = p.tags.get(tags::UNDO_REVOKE) else { continue };
        let resource = format!("role {}", p.name);
        match tags::parse_fields(&resource, tags::UNDO_REVOKE, v, 2, false) {
            Ok((run, x)) if x[0] != region => {
                f.elsewhere.push((run, format!("{resource}: deny policy {} (region {})", x[1], x[0])))
            }
            // Only a policy named as firedrill names them is ever deleted.
            Ok((run, x)) if x[1] == policy_name(&run) => {
                let d = PolicyData { role: p.name.clone(), policy: x[1].clone() };
                let what = format!("delete inline policy {} from role {}", d.policy, d.role);
                f.add(&run, IAM, stamp(d.record(r, what)));
            }
            Ok((run, x)) => f.malformed.push(TagError {
                resource,
                key: tags::UNDO_REVOKE.into(),
                why: format!(
                    "names policy {:?}, not {:?} (the one run {run} writes): not deleted",
                    x[1],
                    policy_name(&run)
                ),
            }),
            Err(e) => f.malformed.push(e),
        }
    }

    for p in aws.principals(PrincipalKind::User, &all).await? {
        lease(TargetType::IamUser, &p.name, &p.tags);
        let Some(v) = p.tags.get(tags::UNDO_KEYS) else { continue };
        let resource = format!("user {}", p.name);
        match tags::parse_fields(&resource, tags::UNDO_KEYS, v, 2, true) {
            Ok((run, x)) if x[0] != region => {
                f.elsewhere.push((run, format!("{resource}: access keys {}", x[1..].join(", "))))
            }
            Ok((run, x)) => {
                let d = KeysData { user: p.name.clone(), keys: x[1..].to_vec() };
                let what = format!("reactivate access keys {} of user {}", d.keys.join(", "), d.user);
                f.add(&run, IAM, stamp(d.record(r, what)));
            }
            Err(e) => f.malformed.push(e),
        }
    }

    // An experiment firedrill started names its run and fault in its tags.
    for x in aws.fis_experiments(None).await? {
        if let Some(d) = StopData::of(&x) {
            let what = format!("stop FIS experiment {} (template {}) started by fault {}", x.id, d.template, d.fault);
            let run = d.run.clone();
            f.add(&run, FIS, stamp(d.record(r, what)));
        }
    }
    // A template firedrill created for an inline `fis_experiment` too, once its
    // experiment is stopped.
    for (id, t) in aws.fis_templates().await? {
        if let Some(d) = DeleteTemplateData::of(&t) {
            let what = format!("delete FIS experiment template {id} created by fault {}", d.fault);
            let run = d.run.clone();
            f.add(&run, FIS_TEMPLATE, stamp(d.record(r, what)));
        }
    }

    for c in aws.db_clusters(&all).await? {
        lease(TargetType::RdsCluster, &c.id, &c.tags);
    }
    for i in aws.db_instances(&all).await? {
        lease(TargetType::RdsInstance, &i.id, &i.tags);
    }

    for (run, resources) in leases {
        let l = Leased {
            region: region.clone(),
            account: account.to_string(),
            key: format!("{}{run}", tags::LEASE_PREFIX),
            resources,
            opt_in_tag: Some(opt_in.clone()),
        };
        let mut rec = l.undo_record();
        if let Some(d) = rec.data.as_object_mut() {
            d.insert(ACCOUNT.into(), account.into());
        }
        f.add(&run, LEASE, rec);
    }
    Ok(f)
}

/// What undoing one run did.
#[derive(Debug, Default)]
pub struct Swept {
    pub reverted: Vec<String>,
    /// (what, why) for each change that could not be undone.
    pub failed: Vec<(String, String)>,
    /// The lease was kept: a change of the run is still in place.
    pub lease_kept: Option<String>,
}

/// Undoes one run's items in order; its lease is released only when everything else of
/// the run was undone (as a run keeps its lease when a revert failed), and not at all when
/// `keep_lease` (part of the run is in another region).
pub async fn undo_run(undo: &Undo, items: &[Item], policy: &RevertPolicy, keep_lease: bool) -> Swept {
    let mut out = Swept::default();
    for item in items {
        let what = item.record.description.clone();
        if item.order == LEASE && (keep_lease || !out.failed.is_empty()) {
            out.lease_kept = Some(what);
            continue;
        }
        match revert_with_retries(undo as &dyn Undoer, &item.record, policy, |_, _| {}).await {
            Ok(_) => out.reverted.push(what),
            Err((error, _)) => out.failed.push((what, error)),
        }
    }
    out
}
