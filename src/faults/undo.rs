//! Undoing journaled side effects. Each kind of undo step is a typed data struct in the
//! file of the fault kind that journals it, implementing [`Step`]: its key in the journal,
//! how it is undone (idempotent, and fine when the side effect never happened), the
//! commands a human would paste instead, and what it changes (for `recover`'s opt-in tag
//! check). [`undo_steps!`] registers them in one list and generates [`UndoStep`], whose
//! dispatch is an exhaustive `match`: a step without an undo or a manual fix does not
//! compile. [`Undo`] undoes any record this version knows, which is all `firedrill
//! recover` needs.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use tokio::sync::Mutex;

pub use super::step::{Lookup, NOTHING, Nothing, ScheduledCall, Step, nothing};
use super::step::{client, parse, unknown};
use super::{az_outage, command, ebs, ec2, fis, guard, iam, outage, rds, switch};
use crate::aws::{Aws, AwsOpts};
use crate::engine::{FaultError, Undoer};
use crate::lease::Leased;
use crate::scenario::TargetType;
use crate::state::journal::UndoRecord;

/// Releasing a run's lease: the lease is written by `lease`, which knows nothing of
/// faults; its undo is registered here.
#[async_trait]
impl Step for Leased {
    const KEY: &'static str = crate::lease::RELEASE;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        crate::lease::release(client(aws)?, self).await
    }

    fn manual_fix(&self, _: &str) -> Option<String> {
        Some(crate::lease::manual_fix(self))
    }

    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        self.resources.clone()
    }
}

/// Registers the undo steps: `Variant(DataType)`, one line each.
macro_rules! undo_steps {
    ($($(#[$doc:meta])* $V:ident($T:ty),)*) => {
        /// A journaled undo step of a kind this firedrill version knows, with its data.
        pub enum UndoStep {
            $($(#[$doc])* $V($T),)*
        }

        impl UndoStep {
            /// Every key this version knows.
            pub const KEYS: &'static [&'static str] = &[$(<$T as Step>::KEY,)*];

            /// The typed step of a record; `None` for a kind this version does not know.
            pub fn parse(record: &UndoRecord) -> Result<Option<UndoStep>, FaultError> {
                $(if record.kind == <$T as Step>::KEY {
                    return parse::<$T>(&record.kind, &record.data).map(|d| Some(UndoStep::$V(d)));
                })*
                Ok(None)
            }

            /// Whether a record of `kind` calls AWS (a kind this version does not know
            /// is taken to).
            pub fn calls_aws(kind: &str) -> bool {
                $(if kind == <$T as Step>::KEY {
                    return <$T as Step>::AWS;
                })*
                true
            }

            /// The step's key in the journal.
            pub fn key(&self) -> &'static str {
                match self {
                    $(UndoStep::$V(_) => <$T as Step>::KEY,)*
                }
            }

            fn needs_aws(&self) -> bool {
                match self {
                    $(UndoStep::$V(_) => <$T as Step>::AWS,)*
                }
            }

            async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
                match self {
                    $(UndoStep::$V(s) => s.undo(aws).await,)*
                }
            }

            fn manual_fix(&self, region: &str) -> Option<String> {
                match self {
                    $(UndoStep::$V(s) => s.manual_fix(region),)*
                }
            }

            /// The AWS calls that undo it on their own (the dead man's switch).
            pub fn scheduled(&self) -> Vec<super::step::ScheduledCall> {
                match self {
                    $(UndoStep::$V(s) => s.scheduled(),)*
                }
            }

            /// The resources it changes, by type.
            pub fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
                match self {
                    $(UndoStep::$V(s) => s.touched(),)*
                }
            }
        }
    };
}

undo_steps! {
    /// The operator's own revert command.
    Command(command::RevertData),
    /// Nothing to undo (a reboot, a failover, a termination).
    Nothing(Nothing),
    Ec2Start(ec2::StartData),
    EbsAttach(ebs::AttachData),
    IamDeletePolicy(iam::PolicyData),
    IamDeleteDenyPolicy(outage::DenyData),
    IamReactivateKeys(iam::KeysData),
    DeleteNetworkAcl(az_outage::NaclData),
    RestoreNetworkAcl(az_outage::RestoreData),
    RestoreGroupSubnets(az_outage::SubnetsData),
    RdsFailback(rds::FailbackData),
    FisStopExperiment(fis::StopData),
    FisDeleteTemplate(fis::DeleteTemplateData),
    LeaseRelease(Leased),
    /// Deleting the schedules of an armed dead man's switch.
    Disarm(switch::DisarmData),
}

/// How a human undoes a journaled step by hand: the AWS CLI commands (or the shell
/// command) that would do what the revert could not. Every value taken from the journal
/// (ids, names, the region, the directory) is shell-quoted, so the commands can be pasted
/// as they are: a name holding `$(...)` or a space stays one literal argument. A
/// `command` fault's revert is the operator's own shell command and is given as written.
pub fn manual_fix(record: &UndoRecord) -> String {
    let region = record.data.get("region").and_then(|v| v.as_str()).unwrap_or("?");
    match UndoStep::parse(record) {
        Ok(Some(step)) => step.manual_fix(region),
        _ => None,
    }
    .unwrap_or_else(|| format!("undo manually: {}", record.description))
}

/// Undoes any journaled side effect this firedrill version knows, by [`UndoRecord::kind`].
/// AWS clients are made on first use, for the region the record names.
#[derive(Default)]
pub struct Undo {
    opts: AwsOpts,
    clients: Mutex<HashMap<String, Aws>>,
    /// For `recover`: check every AWS record with [`guard::check`] first.
    guarded: bool,
    /// The caller's own client and account, by the journaled region it falls back to
    /// when the caller configured none (as a run falls back to the scenario's).
    callers: Mutex<HashMap<String, (Aws, String)>>,
}

impl Undo {
    pub fn new(opts: AwsOpts) -> Self {
        Undo { opts, ..Default::default() }
    }

    /// An undoer for `firedrill recover`: before any AWS call, the record must pass the
    /// run's guards (account, region, opt-in tag) against the caller's credentials.
    pub fn guarded(opts: AwsOpts) -> Self {
        Undo { opts, guarded: true, ..Default::default() }
    }

    async fn check(&self, record: &UndoRecord) -> Result<(), FaultError> {
        let region = record.data.get("region").and_then(|r| r.as_str()).unwrap_or_default().to_string();
        let mut callers = self.callers.lock().await;
        if !callers.contains_key(&region) {
            let fallback = Some(region.as_str()).filter(|r| !r.is_empty());
            let aws = Aws::connect(&self.opts, fallback).await.map_err(super::ec2::failed)?;
            let account = aws.account().await.map_err(super::ec2::failed)?;
            callers.insert(region.clone(), (aws, account));
        }
        let (aws, account) = &callers[&region];
        guard::check(aws, account, record).await
    }

    /// Uses `aws` for its region instead of connecting again.
    pub async fn with_client(self, aws: &Aws) -> Self {
        self.clients.lock().await.insert(aws.region().to_string(), aws.clone());
        self
    }

    async fn aws(&self, data: &serde_json::Value) -> Result<Aws, FaultError> {
        let region = data.get("region").and_then(|r| r.as_str()).unwrap_or_default().to_string();
        let mut clients = self.clients.lock().await;
        if let Some(a) = clients.get(&region) {
            return Ok(a.clone());
        }
        let opts = AwsOpts { region: Some(region.clone()).filter(|r| !r.is_empty()), ..self.opts.clone() };
        let aws = Aws::connect(&opts, None).await.map_err(super::ec2::failed)?;
        clients.insert(region, aws.clone());
        Ok(aws)
    }
}

#[async_trait]
impl Undoer for Undo {
    async fn undo(&self, record: &UndoRecord) -> Result<(), FaultError> {
        if self.guarded && UndoStep::calls_aws(&record.kind) {
            self.check(record).await?;
        }
        let Some(step) = UndoStep::parse(record)? else {
            return Err(unknown(record));
        };
        let aws = match step.needs_aws() {
            true => Some(self.aws(&record.data).await?),
            false => None,
        };
        step.undo(aws.as_ref()).await
    }
}
