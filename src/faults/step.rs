//! One kind of journaled undo step ([`Step`]): the typed data of an undo record, how it
//! is undone, how a human would undo it and what it changes. A leaf of `faults`: each
//! fault kind's file implements it for the records it journals, and `undo.rs` registers
//! them all.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::aws::Aws;
use crate::engine::FaultError;
use crate::scenario::TargetType;
use crate::state::journal::UndoRecord;
use crate::util::console::quote;

/// One kind of journaled undo step: the typed `data` of its [`UndoRecord`].
#[async_trait]
pub trait Step: Serialize + DeserializeOwned + Send + Sync {
    /// The kind's name in the journal ([`UndoRecord::kind`], unchanged on the wire).
    const KEY: &'static str;
    /// Whether undoing it calls AWS, in the region its record names. Such records are
    /// stamped with the run's account and opt-in tag, which `recover` checks first.
    const AWS: bool = true;
    /// Undoes the side effect. `aws` is a client for the record's region when
    /// [`Self::AWS`]. Idempotent, and fine when the side effect never happened.
    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError>;
    /// The commands a human pastes to do the same, every journaled value shell-quoted;
    /// `None` when there is nothing to paste (the description says what to do).
    fn manual_fix(&self, region: &str) -> Option<String>;
    /// The resources it changes, by type: `recover` checks each for the opt-in tag.
    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        BTreeMap::new()
    }
    /// The AWS API calls that undo it on their own, for the dead man's switch
    /// ([`super::switch`]): EventBridge Scheduler makes them, in this order, if firedrill
    /// dies before it reverts. Empty (the default) when the undo is not one unconditional
    /// call (a shell command, a wait, a conditional failback): the switch does not cover it.
    fn scheduled(&self) -> Vec<ScheduledCall> {
        vec![]
    }
    /// The undo record that journals it, in `region` for an AWS step.
    fn record(&self, region: Option<&str>, description: String) -> UndoRecord {
        let mut data = serde_json::to_value(self).unwrap_or_default();
        if let (Some(r), Some(d)) = (region, data.as_object_mut()) {
            d.insert("region".into(), r.into());
        }
        UndoRecord { kind: Self::KEY.to_string(), description, data }
    }
}

/// One AWS API call of a dead man's switch, in the engine's terms: the service and action
/// as EventBridge Scheduler's universal targets name them (`ec2`, `startInstances`), and
/// the call's parameters as the API spells them (`{"InstanceIds": ["i-1"]}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScheduledCall {
    pub service: &'static str,
    pub action: &'static str,
    pub input: serde_json::Value,
    /// A value only known once the fault is in place, filled in when the switch is armed.
    #[serde(skip)]
    pub lookup: Option<Lookup>,
}

/// A parameter of a [`ScheduledCall`] that is read from AWS when the switch is armed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// `AssociationId`: the subnet's current network ACL association (it changes with
    /// every replacement).
    NaclAssociation { subnet: String },
}

impl ScheduledCall {
    pub fn new(service: &'static str, action: &'static str, input: serde_json::Value) -> Self {
        ScheduledCall { service, action, input, lookup: None }
    }

    /// The universal target's ARN: `arn:aws:scheduler:::aws-sdk:ec2:startInstances`.
    pub fn target_arn(&self, partition: &str) -> String {
        format!("arn:{partition}:scheduler:::aws-sdk:{}:{}", self.service, self.action)
    }

    /// `ec2:startInstances`.
    pub fn api(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }
}

/// The client an AWS step is given.
pub(crate) fn client(aws: Option<&Aws>) -> Result<&Aws, FaultError> {
    aws.ok_or_else(|| FaultError::Failed("no AWS client for an AWS undo step".into()))
}

/// `--region R`, quoted, for a manual fix.
pub(crate) fn region_flag(region: &str) -> String {
    format!("--region {}", quote(region))
}

/// Undo kind of a journaled side effect that has nothing to undo (a reboot, a failover,
/// a termination): recorded so the journal lists everything that was done.
pub const NOTHING: &str = "none";

/// A side effect with nothing to undo.
#[derive(Serialize, Deserialize)]
pub struct Nothing;

#[async_trait]
impl Step for Nothing {
    const KEY: &'static str = NOTHING;
    const AWS: bool = false;

    async fn undo(&self, _: Option<&Aws>) -> Result<(), FaultError> {
        Ok(())
    }

    fn manual_fix(&self, _: &str) -> Option<String> {
        None
    }
}

/// A record for a side effect that has nothing to undo.
pub fn nothing(done: String) -> UndoRecord {
    Nothing.record(None, format!("nothing to undo after: {done}"))
}

/// The error for a record of a kind this version does not know.
pub(crate) fn unknown(record: &UndoRecord) -> FaultError {
    FaultError::Failed(format!("no undo for fault kind `{}` in this firedrill version", record.kind))
}

/// Reads a journaled undo record's data.
pub fn parse<T: DeserializeOwned>(kind: &str, data: &serde_json::Value) -> Result<T, FaultError> {
    T::deserialize(data).map_err(|e| FaultError::Failed(format!("malformed `{kind}` undo record: {e}")))
}
