//! The guards of a run, applied again to what `firedrill recover` reverts: an AWS undo
//! record names the account, the region and the opt-in tag of the run that wrote it
//! ([`stamp`] adds the first and last to every record an AWS fault journals), and before
//! any call recover checks ([`check`]) that the caller's account and region are those,
//! and that each resource the undo would change still carries that opt-in tag. A record
//! that names no account or opt-in tag (written by an older firedrill, or forged) is
//! refused, with the manual fix to apply by hand.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::{UndoStep, ec2};
use crate::aws::Aws;
use crate::engine::{self, FaultError, Intents};
use crate::lease::Leased;
use crate::scenario::{OptInTag, TargetType};
use crate::state::journal::UndoRecord;

/// The fields [`stamp`] adds to an AWS undo record's data.
pub const ACCOUNT: &str = "account";
pub const OPT_IN_TAG: &str = "opt_in_tag";

/// `fault` with every undo record it journals stamped with `account` and `tag`.
pub fn stamp(fault: Arc<dyn engine::Fault>, account: &str, tag: &OptInTag) -> Arc<dyn engine::Fault> {
    Arc::new(Stamped { inner: fault, account: account.to_string(), tag: tag.clone() })
}

struct Stamped {
    inner: Arc<dyn engine::Fault>,
    account: String,
    tag: OptInTag,
}

#[async_trait]
impl engine::Fault for Stamped {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        self.inner.inject(&StampedIntents { inner: intents, outer: self }).await
    }
}

struct StampedIntents<'a> {
    inner: &'a dyn Intents,
    outer: &'a Stamped,
}

#[async_trait]
impl Intents for StampedIntents<'_> {
    async fn intent(&self, mut undo: UndoRecord) -> Result<(), FaultError> {
        if let Some(d) = undo.data.as_object_mut() {
            d.entry(ACCOUNT).or_insert_with(|| self.outer.account.clone().into());
            d.entry(OPT_IN_TAG).or_insert_with(|| serde_json::json!(self.outer.tag));
        }
        self.inner.intent(undo).await
    }

    async fn process_group(&self, pgid: u32) -> Result<(), FaultError> {
        self.inner.process_group(pgid).await
    }

    fn changed(&self, change: crate::engine::Change) {
        self.inner.changed(change)
    }
}

/// The resources an AWS undo would change, by type (none for firedrill's own ACL, which
/// is found by the tag firedrill gave it): each undo step says so itself.
fn touched(record: &UndoRecord) -> Result<BTreeMap<TargetType, Vec<String>>, FaultError> {
    match UndoStep::parse(record)? {
        Some(step) => Ok(step.touched()),
        None => Err(super::step::unknown(record)),
    }
}

/// Checks an AWS undo record against the caller (`aws`, a client for the caller's own
/// region, and `account`, the caller's account) before any call that changes something.
pub async fn check(aws: &Aws, account: &str, record: &UndoRecord) -> Result<(), FaultError> {
    let d = &record.data;
    let refuse = |why: String| Err(FaultError::Refused(why));
    let Some(journaled) = d.get(ACCOUNT).and_then(|v| v.as_str()) else {
        return refuse("the undo record names no account (an older firedrill wrote it, or it was forged); apply the manual fix after checking it".into());
    };
    let Some(tag) = d.get(OPT_IN_TAG).and_then(|v| OptInTag::deserialize(v).ok()) else {
        return refuse("the undo record names no opt-in tag (an older firedrill wrote it, or it was forged); apply the manual fix after checking it".into());
    };
    if journaled != account {
        return refuse(format!("the journal names account {journaled}, but the credentials are for account {account}"));
    }
    let region = d.get("region").and_then(|v| v.as_str()).unwrap_or_default();
    if region != aws.region() {
        return refuse(format!(
            "the journal names region `{region}`, but the caller's region is `{}` (set AWS_REGION or --region to it)",
            aws.region()
        ));
    }
    let resources = touched(record)?;
    if resources.is_empty() {
        return Ok(());
    }
    let probe = Leased { region: region.to_string(), account: account.to_string(), resources, ..Default::default() };
    // Resources that are gone are left to the undo, which tolerates them.
    for (kind, id, tags) in probe.read_back(aws).await.map_err(ec2::failed)? {
        if tags.get(&tag.key) != Some(&tag.value) {
            return refuse(format!(
                "{kind} {id} lacks the opt-in tag {}={}: firedrill will not touch it",
                tag.key, tag.value
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::faults::{az_outage, iam};

    #[test]
    fn every_aws_kind_names_what_it_touches() {
        let rec = |kind: &str, data| UndoRecord { kind: kind.into(), description: String::new(), data };
        let t = touched(&rec(iam::REACTIVATE, json!({"user": "u", "keys": ["k"]}))).unwrap();
        assert_eq!(t, BTreeMap::from([(TargetType::IamUser, vec!["u".to_string()])]));
        let t = touched(&rec(ec2::START, json!({"instance_ids": ["i-1", "i-2"]}))).unwrap();
        assert_eq!(t[&TargetType::Ec2Instance], ["i-1", "i-2"]);
        assert!(touched(&rec(iam::DELETE_POLICY, json!({"policy": "p"}))).is_err());
        // Firedrill's own ACL, found by its tag, is nothing of the operator's.
        assert!(touched(&rec(az_outage::DELETE_NACL, json!({"tag": "t", "value": "v"}))).unwrap().is_empty());
        assert!(touched(&rec("from-a-newer-firedrill", json!({}))).is_err());
    }

    #[tokio::test]
    async fn stamps_account_and_tag_without_overwriting() {
        struct Rec(std::sync::Mutex<Vec<UndoRecord>>);
        #[async_trait]
        impl Intents for Rec {
            async fn intent(&self, undo: UndoRecord) -> Result<(), FaultError> {
                self.0.lock().unwrap().push(undo);
                Ok(())
            }
        }
        struct Two;
        #[async_trait]
        impl engine::Fault for Two {
            async fn inject(&self, i: &dyn Intents) -> Result<(), FaultError> {
                i.intent(UndoRecord { kind: "k".into(), description: String::new(), data: json!({"region": "r"}) })
                    .await?;
                i.intent(UndoRecord { kind: "k".into(), description: String::new(), data: json!({"account": "9"}) })
                    .await
            }
        }
        let tag = OptInTag { key: "firedrill".into(), value: "allowed".into() };
        let rec = Rec(Default::default());
        stamp(Arc::new(Two), "1", &tag).inject(&rec).await.unwrap();
        let seen = rec.0.into_inner().unwrap();
        assert_eq!(
            seen[0].data,
            json!({"region": "r", "account": "1", "opt_in_tag": {"key": "firedrill", "value": "allowed"}})
        );
        assert_eq!(seen[1].data["account"], "9");
    }
}
