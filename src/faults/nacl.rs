//! The network ACL swap that `az_outage` (its `network` part) and `network_blackhole`
//! share: a new network ACL, tagged as firedrill's and naming, per subnet, the ACL to
//! point it back at (`firedrill:undo:acl:<subnet>`), holds the rules the fault wants (none:
//! deny all; or a copy of the subnet's own rules behind deny entries); each subnet is
//! then associated with it. Everything is journaled before it happens: first how to
//! delete the new ACL ([`NaclData`], found by its tag), then, per subnet, how to point it
//! back ([`RestoreData`]). Revert (newest first) points each subnet back at its original
//! ACL — only if it still uses firedrill's — and then deletes firedrill's ACL.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::AwsFaultCtx;
use super::ec2::failed;
use super::step::{Lookup, ScheduledCall, Step, client, region_flag};
use crate::aws::{Aws, NaclAssociation, NaclEntry, Tags};
use crate::engine::{Change, FaultError, Intents};
use crate::scenario::TargetType;
use crate::util::console::quote;

pub const DELETE_NACL: &str = "ec2_delete_network_acl";
pub const RESTORE_NACL: &str = "ec2_restore_network_acl";

/// AWS allows 50 tags on a network ACL.
const MAX_TAGS: usize = 50;

/// One new network ACL and the subnets it takes.
pub struct Swap<'a> {
    /// The tag key that marks it as firedrill's ([`NaclData`] finds it by it).
    pub tag: &'a str,
    /// That tag's value: unique to the run, fault and ACL.
    pub token: String,
    pub vpc: &'a str,
    /// Its `Name` tag.
    pub name: String,
    /// Its rules, added before any subnet uses it (none: deny all).
    pub entries: Vec<NaclEntry>,
    /// What it is, for the journal: "firedrill's deny-all network ACL in vpc-1".
    pub what: String,
    /// Which subnets, for the refusal when their undo tags do not fit: "of vpc-1 in us-east-1a".
    pub scope: String,
    /// The subnets' zone, when they share one (for the report's "what it hit").
    pub zone: Option<String>,
}

/// Creates the ACL of `swap` and associates each subnet of `current` (their associations
/// now) with it, journaling each step first; returns the new ACL's id.
pub async fn swap(
    ctx: &AwsFaultCtx,
    intents: &dyn Intents,
    swap: &Swap<'_>,
    current: Vec<NaclAssociation>,
) -> Result<String, FaultError> {
    let aws = &ctx.aws;
    intents
        .intent(
            NaclData { tag: swap.tag.into(), value: swap.token.clone() }
                .record(Some(aws.region()), format!("delete {}", swap.what)),
        )
        .await?;
    let mut tags: Tags = [
        (swap.tag.to_string(), swap.token.clone()),
        (crate::tags::RUN.to_string(), ctx.run_id.clone()),
        ("Name".to_string(), swap.name.clone()),
    ]
    .into();
    // The ACL names, per subnet, the ACL to point it back at: written with the ACL,
    // before any subnet uses it.
    if current.len() + tags.len() > MAX_TAGS {
        return Err(FaultError::Refused(format!(
            "{} subnets {}: at most {} fit the undo tags of one network ACL",
            current.len(),
            swap.scope,
            MAX_TAGS - tags.len()
        )));
    }
    for a in &current {
        tags.insert(
            format!("{}{}", crate::tags::UNDO_ACL_PREFIX, a.subnet_id),
            crate::tags::fields(&ctx.run_id, &[&a.nacl_id]),
        );
    }
    let clone = aws.create_deny_all_nacl(swap.vpc, &tags).await.map_err(failed)?;
    for e in &swap.entries {
        aws.create_nacl_entry(&clone, e).await.map_err(failed)?;
    }
    for a in current {
        intents
            .intent(
                RestoreData { subnet: a.subnet_id.clone(), original: a.nacl_id.clone(), clone: clone.clone() }.record(
                    Some(aws.region()),
                    format!("associate subnet {} with its network ACL {} again", a.subnet_id, a.nacl_id),
                ),
            )
            .await?;
        aws.replace_nacl_association(&a.association_id, &clone).await.map_err(failed)?;
        intents.changed(Change {
            resource: format!("subnet {}", a.subnet_id),
            zone: swap.zone.clone(),
            what: "network ACL".into(),
            before: a.nacl_id.clone(),
            after: clone.clone(),
            undone_by_revert: true,
        });
    }
    Ok(clone)
}

/// Undo step: delete firedrill's network ACL (`az_outage`'s deny-all one, or
/// `network_blackhole`'s clone), found by the tag firedrill gave it.
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

    // The association's id changes with every replacement: it is read when the switch is
    // armed, once the subnet uses firedrill's ACL.
    fn scheduled(&self) -> Vec<ScheduledCall> {
        let input = serde_json::json!({"NetworkAclId": self.original});
        let call = ScheduledCall::new("ec2", "replaceNetworkAclAssociation", input);
        vec![ScheduledCall { lookup: Some(Lookup::NaclAssociation { subnet: self.subnet.clone() }), ..call }]
    }
}

/// Points the subnet back at its original ACL if it still uses firedrill's clone.
impl RestoreData {
    /// Whether the subnet must be pointed back, given the ACL it uses now (`None`: the
    /// subnet is gone). Only firedrill's clone is replaced; any other ACL is left alone.
    pub(super) fn must_restore(&self, now: Option<&str>) -> Result<bool, FaultError> {
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
