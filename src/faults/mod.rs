//! Faults: turns a scenario's faults into the engine's [`crate::engine::Fault`] trait
//! objects ([`build`]), plan lines ([`describe`]) and plan-time refusals ([`preflight`]),
//! and undoes journaled side effects by kind ([`Undo`]), which is all `firedrill recover`
//! needs. One fault kind a file; AWS faults reach AWS only through [`crate::aws`].
//!
//! Adding a fault kind: the checklist in ARCHITECTURE.md.

pub mod az_outage;
pub mod command;
pub mod ebs;
pub mod ec2;
pub mod guard;
pub mod iam;
pub mod rds;
mod registry;

use std::collections::HashMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::aws::{Aws, AwsOpts};
use crate::engine::{self, FaultError, FaultSpec, Intents, Undoer};
use crate::iam_policy::stmt::Stmt;
use crate::journal::UndoRecord;
use crate::scenario::validate::{Problem, Scope};
use crate::scenario::{Scenario, Target, TargetType};
use crate::targets::Resolution;

/// Undo kind of a journaled side effect that has nothing to undo (a reboot, a failover,
/// a termination): recorded so the journal lists everything that was done.
pub const NOTHING: &str = "none";

/// What faults of one run share.
#[derive(Clone)]
pub struct FaultContext {
    /// Passed to commands as `FIREDRILL_RUN_ID`; names firedrill's AWS artefacts.
    pub run_id: String,
    /// Where commands run (the directory firedrill was started from).
    pub cwd: PathBuf,
    /// AWS clients and resolved targets, when the scenario uses AWS.
    pub aws: Option<(Aws, Arc<Resolution>)>,
}

/// What an AWS fault needs at injection.
#[derive(Clone)]
pub struct AwsFaultCtx {
    pub aws: Aws,
    pub run_id: String,
}

impl AwsFaultCtx {
    /// Checks that every planned resource still exists at injection time (it may have
    /// vanished since the plan) and returns what was found.
    pub fn still_there<T>(
        &self,
        found: Result<Vec<T>, crate::aws::AwsError>,
        ids: &[String],
        id: impl Fn(&T) -> &String,
    ) -> Result<Vec<T>, FaultError> {
        let found = found.map_err(ec2::failed)?;
        let missing: Vec<&String> = ids.iter().filter(|i| !found.iter().any(|f| id(f) == *i)).collect();
        if missing.is_empty() {
            Ok(found)
        } else {
            Err(FaultError::Failed(format!(
                "{} vanished between plan and injection",
                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )))
        }
    }
}

/// One fault kind, implemented in the kind's own file: its key and config, validation,
/// plan lines, plan-time refusals, the targets and resources it acts on (for the lease),
/// its IAM statements and how it is built. Registered by one line below.
pub trait Kind {
    /// The key that selects the kind in a fault, e.g. `az_outage`.
    const KEY: &'static str;
    /// What the scenario file holds under [`Self::KEY`].
    type Config: Clone + Debug + Serialize + DeserializeOwned + JsonSchema;
    /// Whether it acts on AWS: the scenario then needs an `environment`, its config is
    /// checked with the scenario's other AWS parts, and its undo records are stamped with
    /// the run's guards.
    const AWS: bool = true;
    /// The target types its targets may have (none for a kind without targets).
    const TARGET_TYPES: &'static [TargetType] = &[];
    /// The targets it names, each with its field under the kind (`target`, `targets[1]`);
    /// unknown targets and targets of another type are refused for every kind.
    fn targets(_cfg: &Self::Config) -> Vec<(String, &str)> {
        vec![]
    }
    /// Problems with the config, by field path under `at` (`faults[0].az_outage`).
    fn validate(_cfg: &Self::Config, _at: &str, _scope: &Scope<'_>) -> Vec<Problem> {
        vec![]
    }
    /// The IAM statements it needs to act on `targets` (its targets as declared). The
    /// lease's tagging statements are added for every target.
    fn iam(_cfg: &Self::Config, _targets: &[&Target]) -> Vec<Stmt> {
        vec![]
    }
    /// Plan lines; `ids(target)` names a target's selected resources (or the target).
    fn describe(cfg: &Self::Config, ids: &dyn Fn(&str) -> String, res: Option<&Resolution>) -> Vec<String>;
    /// Refusals only the resolved targets can show; empty when it may run.
    fn preflight(_fault: &str, _cfg: &Self::Config, _res: &Resolution) -> Vec<String> {
        vec![]
    }
    /// What it acts on, and so leases: by default every selected resource of its targets.
    fn resources(cfg: &Self::Config, res: &Resolution) -> Vec<(TargetType, String)> {
        Self::targets(cfg)
            .iter()
            .filter_map(|(_, t)| res.targets.get(*t))
            .flat_map(|rt| rt.resources.iter().map(|r| (rt.kind, r.id.clone())))
            .collect()
    }
    /// The engine's fault; `None` when it needs AWS and no connection was made.
    fn build(fault: &str, cfg: &Self::Config, ctx: &FaultContext) -> Option<Arc<dyn engine::Fault>>;
}

// The registered fault kinds, one line each, in the order the schema and messages list
// them.
registry::define_fault_kinds! {
    Command(command::Command),
    Ec2Stop(ec2::Stop),
    Ec2Reboot(ec2::Reboot),
    Ec2Terminate(ec2::Terminate),
    AzOutage(az_outage::AzOutage),
    EbsDetach(ebs::Detach),
    RdsFailover(rds::Failover),
    IamRevoke(iam::Revoke),
}

impl FaultContext {
    /// What an AWS fault needs, when AWS is connected.
    pub fn aws(&self) -> Option<(AwsFaultCtx, &Resolution)> {
        self.aws.as_ref().map(|(aws, res)| (AwsFaultCtx { aws: aws.clone(), run_id: self.run_id.clone() }, &**res))
    }
}

/// The executor's view of a fault; `after` holds the indexes of the faults it starts
/// after.
pub fn build(f: &FaultConfig, after: Vec<usize>, ctx: &FaultContext) -> FaultSpec {
    let aws = f.kind.needs_aws();
    let fault = f.kind.build(&f.name, ctx).unwrap_or_else(|| {
        Arc::new(Refuse(format!("fault `{}` ({}) needs AWS, and no AWS connection was made", f.name, f.kind.key())))
    });
    // What recover checks before undoing: the run's account and opt-in tag.
    let fault = match (&ctx.aws, aws) {
        (Some((_, res)), true) => match &res.opt_in_tag {
            Some(tag) => guard::stamp(fault, &res.account, tag),
            None => fault,
        },
        _ => fault,
    };
    FaultSpec { name: f.name.clone(), kind: f.kind.key().to_string(), duration: f.duration.0, after, fault }
}

/// What the scenario's faults act on, for the lease: each kind's [`Kind::resources`].
pub fn lease_resources<'a>(s: &'a Scenario, res: &'a Resolution) -> impl Iterator<Item = (TargetType, String)> + 'a {
    s.faults.iter().flat_map(move |f| f.kind.resources(res))
}

/// How the fault is injected and reverted, for `firedrill plan`; with the resolved
/// targets when there are any.
pub fn describe(f: &FaultConfig, res: Option<&Resolution>) -> Vec<String> {
    let ids = |t: &str| -> String {
        match res {
            Some(r) => {
                let ids = r.ids(t);
                if ids.is_empty() {
                    format!("target `{t}` (nothing selected)")
                } else {
                    format!("{} ({})", ec2::list(&ids), ids.len())
                }
            }
            None => format!("target `{t}`"),
        }
    };
    f.kind.describe(&ids, res)
}

/// Refusals that only the resolved targets can show (a single-AZ instance to fail over, a
/// zone with no subnets). An empty list means the fault may run.
pub fn preflight(f: &FaultConfig, res: &Resolution) -> Vec<String> {
    f.kind.preflight(&f.name, res)
}

/// How a human undoes a journaled step by hand: the AWS CLI commands (or the shell
/// command) that would do what the revert could not. Every value taken from the journal
/// (ids, names, the region, the directory) is shell-quoted, so the commands can be pasted
/// as they are: a name holding `$(...)` or a space stays one literal argument. A
/// `command` fault's revert is the operator's own shell command and is given as written.
pub fn manual_fix(record: &UndoRecord) -> String {
    use crate::shell::quote;
    let d = &record.data;
    let s = |k: &str| quote(d.get(k).and_then(|v| v.as_str()).unwrap_or("?")).into_owned();
    let region = format!("--region {}", s("region"));
    let list = |k: &str| -> Vec<String> {
        d.get(k)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(|x| quote(x).into_owned())).collect())
            .unwrap_or_default()
    };
    // A value inside an AWS CLI shorthand (`Name=...,Values=...`) or JMESPath literal: the
    // whole argument is quoted once it is built.
    let raw = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
    let Some(kind) = UndoKind::of(record) else {
        return format!("undo manually: {}", record.description);
    };
    match kind {
        UndoKind::Command => {
            let revert = d.get("revert").and_then(|v| v.as_str()).unwrap_or("?");
            match d.get("cwd").and_then(|v| v.as_str()) {
                Some(cwd) => format!("cd {} && {revert}", quote(cwd)),
                None => revert.to_string(),
            }
        }
        UndoKind::Ec2Start => {
            format!("aws ec2 start-instances {region} --instance-ids {}", list("instance_ids").join(" "))
        }
        UndoKind::EbsAttach => format!(
            "aws ec2 attach-volume {region} --volume-id {} --instance-id {} --device {}",
            s("volume"),
            s("instance"),
            s("device")
        ),
        UndoKind::IamDeletePolicy => {
            format!("aws iam delete-role-policy --role-name {} --policy-name {}", s("role"), s("policy"))
        }
        UndoKind::IamReactivateKeys => list("keys")
            .iter()
            .map(|k| format!("aws iam update-access-key --user-name {} --access-key-id {k} --status Active", s("user")))
            .collect::<Vec<_>>()
            .join(" && "),
        UndoKind::DeleteNetworkAcl => format!(
            "aws ec2 describe-network-acls {region} --filters {} --query 'NetworkAcls[].NetworkAclId' \
             then, once no subnet uses it: aws ec2 delete-network-acl {region} --network-acl-id <that id>",
            quote(&format!("Name=tag:{},Values={}", raw("tag"), raw("value"))),
        ),
        UndoKind::RestoreNetworkAcl => format!(
            "aws ec2 describe-network-acls {region} --filters {} --query {} \
             then: aws ec2 replace-network-acl-association {region} --association-id <that id> --network-acl-id {}",
            quote(&format!("Name=association.subnet-id,Values={}", raw("subnet"))),
            quote(&format!(
                "NetworkAcls[].Associations[?SubnetId=='{}'].NetworkAclAssociationId",
                raw("subnet").replace('\\', "\\\\").replace('\'', "\\'")
            )),
            s("original"),
        ),
        UndoKind::RestoreGroupSubnets => format!(
            "aws autoscaling update-auto-scaling-group {region} --auto-scaling-group-name {} --vpc-zone-identifier {}",
            s("group"),
            quote(&raw("original"))
        ),
        UndoKind::LeaseRelease => crate::lease::manual_fix(d),
        UndoKind::Nothing => format!("undo manually: {}", record.description),
    }
}

/// Declares [`UndoKind`]: each variant with the journal key it is stored under.
macro_rules! undo_kinds {
    ($($(#[$doc:meta])* $v:ident => $key:expr,)*) => {
        /// Every kind of journaled undo this firedrill version knows. The journal stores
        /// the kind's [`UndoKind::key`] (unchanged on the wire); dispatch on it is an
        /// exhaustive `match`, so a kind without an undo, a manual fix or a guard does
        /// not compile.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum UndoKind {
            $($(#[$doc])* $v,)*
        }

        impl UndoKind {
            pub const ALL: &'static [UndoKind] = &[$(UndoKind::$v,)*];

            /// The kind's name in the journal.
            pub fn key(self) -> &'static str {
                match self {
                    $(UndoKind::$v => $key,)*
                }
            }
        }
    };
}

undo_kinds! {
    /// The operator's own revert command.
    Command => command::KIND,
    /// Nothing to undo (a reboot, a failover, a termination).
    Nothing => NOTHING,
    Ec2Start => ec2::START,
    EbsAttach => ebs::ATTACH,
    IamDeletePolicy => iam::DELETE_POLICY,
    IamReactivateKeys => iam::REACTIVATE,
    DeleteNetworkAcl => az_outage::DELETE_NACL,
    RestoreNetworkAcl => az_outage::RESTORE_NACL,
    RestoreGroupSubnets => az_outage::RESTORE_SUBNETS,
    LeaseRelease => crate::lease::RELEASE,
}

impl UndoKind {
    /// The kind of a journaled record; `None` for a kind this version does not know.
    pub fn of(record: &UndoRecord) -> Option<UndoKind> {
        Self::ALL.iter().copied().find(|k| k.key() == record.kind)
    }
}

/// A record for a side effect that has nothing to undo.
pub fn nothing(done: String) -> UndoRecord {
    UndoRecord {
        kind: NOTHING.into(),
        description: format!("nothing to undo after: {done}"),
        data: serde_json::Value::Null,
    }
}

/// The error for a record of a kind this version does not know.
pub(crate) fn unknown(record: &UndoRecord) -> FaultError {
    FaultError::Failed(format!("no undo for fault kind `{}` in this firedrill version", record.kind))
}

/// Reads a journaled undo record's data.
pub fn parse<T: DeserializeOwned>(kind: &str, data: &serde_json::Value) -> Result<T, FaultError> {
    T::deserialize(data).map_err(|e| FaultError::Failed(format!("malformed `{kind}` undo record: {e}")))
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
            let aws = Aws::connect(&self.opts, fallback).await.map_err(ec2::failed)?;
            let account = aws.account().await.map_err(ec2::failed)?;
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
        let aws = Aws::connect(&opts, None).await.map_err(ec2::failed)?;
        clients.insert(region, aws.clone());
        Ok(aws)
    }
}

#[async_trait]
impl Undoer for Undo {
    async fn undo(&self, record: &UndoRecord) -> Result<(), FaultError> {
        let d = &record.data;
        if self.guarded && guard::is_aws(&record.kind) {
            self.check(record).await?;
        }
        let Some(kind) = UndoKind::of(record) else {
            return Err(unknown(record));
        };
        match kind {
            UndoKind::Command => command::undo(d).await,
            UndoKind::Nothing => Ok(()),
            UndoKind::Ec2Start => ec2::undo_start(&self.aws(d).await?, d).await,
            UndoKind::EbsAttach => ebs::undo_attach(&self.aws(d).await?, d).await,
            UndoKind::IamDeletePolicy => iam::undo_policy(&self.aws(d).await?, d).await,
            UndoKind::IamReactivateKeys => iam::undo_keys(&self.aws(d).await?, d).await,
            UndoKind::DeleteNetworkAcl => az_outage::undo_delete_nacl(&self.aws(d).await?, d).await,
            UndoKind::RestoreNetworkAcl => az_outage::undo_restore_nacl(&self.aws(d).await?, d).await,
            UndoKind::RestoreGroupSubnets => az_outage::undo_restore_subnets(&self.aws(d).await?, d).await,
            UndoKind::LeaseRelease => crate::lease::release(&self.aws(d).await?, d).await,
        }
    }
}

/// A fault that cannot be injected (only possible for an unvalidated scenario, or an AWS
/// fault without a connection): refuses.
struct Refuse(String);

#[async_trait]
impl engine::Fault for Refuse {
    async fn inject(&self, _: &dyn Intents) -> Result<(), FaultError> {
        Err(FaultError::Refused(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn fault(v: serde_json::Value) -> FaultConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn builds_a_command_fault() {
        let f = fault(json!({
            "name": "break-web", "duration": "3s",
            "command": {"inject": "stop web", "revert": "start web", "timeout": "10s"},
        }));
        let ctx = FaultContext { run_id: "run-1".into(), cwd: PathBuf::from("/tmp"), aws: None };
        let spec = build(&f, vec![0, 2], &ctx);
        assert_eq!(spec.name, "break-web");
        assert_eq!(spec.kind, "command");
        assert_eq!(spec.duration, Duration::from_secs(3));
        assert_eq!(spec.after, [0, 2]);
        assert_eq!(describe(&f, None), ["inject: run `stop web` (timeout 10s)", "revert: run `start web`"]);
    }

    #[test]
    fn a_fault_without_exactly_one_kind_does_not_load() {
        let e = serde_json::from_value::<FaultConfig>(json!({"name": "x", "duration": "1s"})).unwrap_err();
        assert!(e.to_string().starts_with("fault `x` has no kind: add one of `command`, `ec2_stop_instances`"), "{e}");
        let e = serde_json::from_value::<FaultConfig>(json!({
            "name": "x", "duration": "1s",
            "command": {"inject": "a", "revert": "b"}, "rds_failover": {"target": "db"},
        }))
        .unwrap_err();
        assert!(e.to_string().starts_with("fault `x` has 2 kind keys (`command`, `rds_failover`)"), "{e}");
    }

    #[test]
    fn a_fault_round_trips_through_serde_with_after_as_one_name_or_many() {
        let f = fault(json!({"name": "x", "duration": "1s", "after": "y", "rds_failover": {"target": "db"}}));
        assert_eq!(f.after, ["y"]);
        assert_eq!(f.kind.key(), "rds_failover");
        let back = serde_json::to_value(&f).unwrap();
        assert_eq!(back, json!({"name": "x", "duration": "1s", "after": ["y"], "rds_failover": {"target": "db"}}));
        let g = fault(json!({"name": "x", "duration": "1s", "command": {"inject": "a", "revert": "b"}}));
        assert!(g.after.is_empty());
        assert!(serde_json::to_value(&g).unwrap().get("after").is_none(), "an empty `after` is not written");
    }

    #[tokio::test]
    async fn an_aws_fault_without_a_connection_refuses_to_inject() {
        struct NoIntents;
        #[async_trait]
        impl Intents for NoIntents {
            async fn intent(&self, _: UndoRecord) -> Result<(), FaultError> {
                panic!("no intent expected")
            }
        }
        let f = fault(json!({"name": "x", "duration": "1s", "ec2_stop_instances": {"target": "web"}}));
        let spec = build(&f, vec![], &FaultContext { run_id: "r".into(), cwd: PathBuf::from("/tmp"), aws: None });
        let err = spec.fault.inject(&NoIntents).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused: fault `x` (ec2_stop_instances) needs AWS, and no AWS connection was made"
        );
    }

    #[tokio::test]
    async fn undo_dispatches_on_kind() {
        let dir = tempfile::tempdir().unwrap();
        let record = UndoRecord {
            kind: "command".into(),
            description: "run `touch reverted`".into(),
            data: json!({"revert": "touch reverted", "cwd": dir.path()}),
        };
        Undo::default().undo(&record).await.unwrap();
        Undo::default().undo(&record).await.unwrap();
        assert!(dir.path().join("reverted").exists());
    }

    /// A value that a shell would expand (`$(...)`, backticks, `;`) and split (a space).
    const HOSTILE: &str = "a b$(touch pwned)`touch pwned2`;touch pwned3 'q\" *";

    /// Runs `script` with `sh` in `dir`, with `aws` a function that prints each argument
    /// it gets on a line of its own; returns those lines.
    fn sh_args(dir: &std::path::Path, script: &str) -> Vec<String> {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("aws() {{ for a in \"$@\"; do printf '%s\\n' \"$a\"; done; }}\n{script}"))
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
    }

    #[test]
    fn every_manual_fix_pastes_into_a_shell_with_each_value_as_one_literal_argument() {
        let h = HOSTILE;
        let cases = [
            (
                ec2::START,
                json!({"region": h, "instance_ids": [h, "i-2"]}),
                vec![h.to_string(), h.to_string(), "i-2".to_string()],
            ),
            (
                ebs::ATTACH,
                json!({"region": h, "volume": h, "instance": h, "device": h}),
                vec![h.to_string(), h.to_string(), h.to_string(), h.to_string()],
            ),
            (iam::DELETE_POLICY, json!({"role": h, "policy": h}), vec![h.to_string(), h.to_string()]),
            (
                iam::REACTIVATE,
                json!({"user": h, "keys": [h, "AKIA2"]}),
                vec![h.to_string(), h.to_string(), h.to_string(), "AKIA2".to_string()],
            ),
            (
                az_outage::RESTORE_SUBNETS,
                json!({"region": h, "group": h, "original": h}),
                vec![h.to_string(), h.to_string(), h.to_string()],
            ),
            (
                az_outage::DELETE_NACL,
                json!({"region": h, "tag": "firedrill:deny-all", "value": h}),
                vec![h.to_string(), format!("Name=tag:firedrill:deny-all,Values={h}")],
            ),
            (
                az_outage::RESTORE_NACL,
                json!({"region": h, "subnet": h, "original": h}),
                vec![h.to_string(), format!("Name=association.subnet-id,Values={h}")],
            ),
        ];
        for (kind, data, expect) in cases {
            let dir = tempfile::tempdir().unwrap();
            let fix = manual_fix(&UndoRecord { kind: kind.into(), description: String::new(), data });
            // The network ACL fixes are two steps in words; each step is a command.
            let steps: Vec<&str> = fix.split(" then").map(|s| s.split_once(": ").map_or(s, |(_, c)| c)).collect();
            let args = sh_args(dir.path(), steps[0]);
            for e in &expect {
                assert!(args.iter().any(|a| a == e), "{kind}: `{e}` is not one argument of {args:?}\n{fix}");
            }
            let found: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert!(found.is_empty(), "{kind}: pasting ran a command: {found:?}\n{fix}");
        }
        // The lease's commands, one a line.
        let mut resources = std::collections::BTreeMap::new();
        for t in [crate::scenario::TargetType::Ec2Instance, crate::scenario::TargetType::AutoScalingGroup] {
            resources.insert(t, vec![h.to_string()]);
        }
        for t in [crate::scenario::TargetType::RdsCluster, crate::scenario::TargetType::IamRole] {
            resources.insert(t, vec![h.to_string()]);
        }
        let l = crate::lease::Leased {
            region: "us-east-1".into(),
            account: "1".into(),
            key: h.into(),
            resources,
            opt_in_tag: None,
        };
        let fix = manual_fix(&l.undo_record());
        let dir = tempfile::tempdir().unwrap();
        let args = sh_args(dir.path(), &fix);
        for e in [
            h.to_string(),
            format!("Key={h}"),
            format!("ResourceId={h},ResourceType=auto-scaling-group,Key={h}"),
            format!("arn:aws:rds:us-east-1:1:cluster:{h}"),
        ] {
            assert!(args.contains(&e), "`{e}` is not one argument of {args:?}\n{fix}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "pasting ran a command\n{fix}");
    }

    #[test]
    fn a_command_faults_fix_runs_its_revert_in_its_quoted_directory() {
        let root = tempfile::tempdir().unwrap();
        let cwd = root.path().join("game day $(touch pwned)");
        std::fs::create_dir(&cwd).unwrap();
        let record = UndoRecord {
            kind: command::KIND.into(),
            description: String::new(),
            data: json!({"revert": "touch reverted", "cwd": cwd}),
        };
        let fix = manual_fix(&record);
        sh_args(root.path(), &fix);
        assert!(cwd.join("reverted").exists(), "{fix}");
        assert!(!root.path().join("pwned").exists() && !cwd.join("pwned").exists(), "{fix}");
    }

    /// An undoer whose every attempt fails with an AWS error of `kind`.
    struct FailsWith(crate::aws::ErrorKind, std::sync::atomic::AtomicU32);

    #[async_trait]
    impl Undoer for FailsWith {
        async fn undo(&self, _: &UndoRecord) -> Result<(), FaultError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(FaultError::Aws(crate::aws::AwsError {
                op: "ec2:StartInstances".into(),
                kind: self.0,
                code: None,
                message: "no".into(),
            }))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_revert_denied_by_iam_is_not_retried_but_a_throttled_one_is() {
        use crate::aws::ErrorKind;
        let policy = crate::engine::RevertPolicy {
            attempts: 3,
            timeout: Duration::from_secs(10),
            backoff: Duration::from_secs(1),
            deadline: Duration::from_secs(600),
            hurry: Default::default(),
        };
        let record = nothing("x".into());
        for (kind, attempts) in [
            (ErrorKind::AccessDenied, 1),
            (ErrorKind::Credentials, 1),
            (ErrorKind::Throttled, 3),
            (ErrorKind::Other, 3),
        ] {
            let undoer = FailsWith(kind, Default::default());
            let (err, used) =
                crate::engine::revert_with_retries(&undoer, &record, &policy, |_, _| {}).await.unwrap_err();
            assert_eq!((used, undoer.1.into_inner()), (attempts, attempts), "{kind:?}: {err}");
            // The AWS error reads as before.
            assert_eq!(err, "ec2:StartInstances: no");
        }
    }

    #[test]
    fn every_undo_kind_has_its_own_journal_key() {
        let keys: std::collections::BTreeSet<_> = UndoKind::ALL.iter().map(|k| k.key()).collect();
        assert_eq!(keys.len(), UndoKind::ALL.len());
        for k in UndoKind::ALL {
            let r = UndoRecord { kind: k.key().into(), description: String::new(), data: json!({}) };
            assert_eq!(UndoKind::of(&r), Some(*k));
        }
    }

    #[tokio::test]
    async fn unknown_kind() {
        let record = UndoRecord { kind: "aws-ec2-stop".into(), description: String::new(), data: json!({}) };
        let err = Undo::default().undo(&record).await.unwrap_err();
        assert_eq!(err.to_string(), "no undo for fault kind `aws-ec2-stop` in this firedrill version");
    }
}
