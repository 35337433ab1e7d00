//! Faults. Each fault kind is one file that implements [`Kind`]: its key and config, its
//! checks, plan lines, plan-time refusals, the targets and resources it acts on (for the
//! lease), its IAM statements and the injector it builds for the engine, plus the typed
//! undo steps it journals ([`undo::Step`]). The registration list in this file generates
//! [`FaultConfig`] (a fault as the scenario writes it, loaded by `scenario::keyed`) and
//! [`FaultKind`] with one-line dispatch arms; `undo.rs` undoes any journaled step
//! ([`Undo`]), which is all `firedrill recover` needs. AWS faults reach AWS only through
//! [`crate::aws`].
//!
//! Adding a fault kind: the checklist in ARCHITECTURE.md.

pub mod az_outage;
pub mod blackhole;
pub mod command;
pub mod ebs;
pub mod ec2;
pub mod fis;
pub mod fis_actions;
pub mod guard;
pub mod iam;
pub mod nacl;
pub mod outage;
pub mod rds;
mod registry;
mod step;
pub mod switch;
pub mod undo;

pub use undo::{NOTHING, Undo, UndoStep, manual_fix, nothing};

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::aws::Aws;
use crate::engine::{self, FaultError, FaultSpec, Intents};
use crate::iam_policy::stmt::Stmt;
use crate::scenario::validate::{Problem, Scope};
use crate::scenario::{Scenario, Target, TargetType};
use crate::targets::Resolution;

/// What faults of one run share.
#[derive(Clone)]
pub struct FaultContext {
    /// Passed to commands as `FIREDRILL_RUN_ID`; names firedrill's AWS artefacts.
    pub run_id: String,
    /// Where commands run (the directory firedrill was started from).
    pub cwd: PathBuf,
    /// AWS clients and resolved targets, when the scenario uses AWS.
    pub aws: Option<(Aws, Arc<Resolution>)>,
    /// The scenario's stop-condition alarms (`abort: - alarm:`): an inline
    /// `fis_experiment` template's stop conditions.
    pub stop_alarms: Vec<String>,
}

/// What a fault does when it would change nothing (`if_no_effect`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IfNoEffect {
    /// The run is refused (exit 7), nothing touched.
    #[default]
    Refuse,
    /// The fault is skipped (shown as such in the plan and the report, never a pass); the
    /// other faults run.
    Skip,
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
    /// The regions it names, each with its field under the kind (`region`, `regions[1]`):
    /// each is checked against the known regions and the scenario's partition.
    fn regions(_cfg: &Self::Config) -> Vec<(String, &str)> {
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
    /// Why the fault would change nothing, from the resolved targets (no running instance
    /// to stop, no writer in the zone); `None` when it has something to act on. Such a
    /// fault is refused at plan time, or skipped with `if_no_effect: skip`. Its injector
    /// checks the same facts again, and journals nothing when nothing is left to do.
    fn no_effect(_fault: &str, _cfg: &Self::Config, _res: &Resolution) -> Option<String> {
        None
    }
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
    NetworkBlackhole(blackhole::NetworkBlackhole),
    EbsDetach(ebs::Detach),
    RdsFailover(rds::Failover),
    IamRevoke(iam::Revoke),
    ServiceOutage(outage::ServiceOutage),
    RegionOutage(outage::RegionOutage),
    FisExperiment(fis::Experiment),
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
    let mut lines = f.kind.describe(&ids, res);
    if let Some(why) = skipped(f, res) {
        lines.push(format!("skipped (`if_no_effect: skip`): it would change nothing: {why}"));
    }
    lines
}

/// Refusals that only the resolved targets can show (a single-AZ instance to fail over, a
/// zone with no subnets), and a fault that would change nothing unless it says
/// `if_no_effect: skip`. An empty list means the fault may run.
pub fn preflight(f: &FaultConfig, res: &Resolution) -> Vec<String> {
    let mut out = f.kind.preflight(&f.name, res);
    if f.if_no_effect == IfNoEffect::Refuse
        && let Some(why) = f.kind.no_effect(&f.name, res)
    {
        out.push(format!(
            "fault `{}` ({}) would change nothing: {why} (set `if_no_effect: skip` on the fault to run without it)",
            f.name,
            f.kind.key()
        ));
    }
    out
}

/// Whether the fault is planned to be skipped: it would change nothing and says
/// `if_no_effect: skip`.
pub fn skipped(f: &FaultConfig, res: Option<&Resolution>) -> Option<String> {
    if f.if_no_effect != IfNoEffect::Skip {
        return None;
    }
    res.and_then(|r| f.kind.no_effect(&f.name, r))
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

/// Resolved targets for the kinds' unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::scenario::TargetType;
    use crate::targets::{Resolution, Resource};

    /// A resolution with one target `t` of `kind`.
    pub fn one_target(kind: TargetType, resources: Vec<Resource>) -> Resolution {
        Resolution {
            account: "1".into(),
            region: "us-east-1".into(),
            seed: 0,
            targets: [(
                "t".to_string(),
                crate::targets::ResolvedTarget { kind, matched: resources.len(), excluded: Vec::new(), resources },
            )]
            .into(),
            refusals: vec![],
            opt_in_tag: None,
        }
    }

    /// A resource in us-east-1a.
    pub fn resource(id: &str, state: Option<&str>, attrs: &[(&str, &str)]) -> Resource {
        Resource {
            id: id.into(),
            zones: vec!["us-east-1a".into()],
            state: state.map(String::from),
            tags: Default::default(),
            attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::engine::Undoer;
    use crate::state::journal::UndoRecord;

    fn fault(v: serde_json::Value) -> FaultConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn builds_a_command_fault() {
        let f = fault(json!({
            "name": "break-web", "duration": "3s",
            "command": {"inject": "stop web", "revert": "start web", "timeout": "10s"},
        }));
        let ctx = FaultContext { run_id: "run-1".into(), cwd: PathBuf::from("/tmp"), aws: None, stop_alarms: vec![] };
        let spec = build(&f, vec![0, 2], &ctx);
        assert_eq!(spec.name, "break-web");
        assert_eq!(spec.kind, "command");
        assert_eq!(spec.duration, Duration::from_secs(3));
        assert_eq!(spec.after, [0, 2]);
        assert_eq!(describe(&f, None), ["inject: run `stop web` (timeout 10s)", "revert: run `start web`"]);
    }

    /// A fault that would change nothing is refused at plan time, naming the fault and
    /// why; with `if_no_effect: skip` it is not refused, and its plan says it is skipped.
    #[test]
    fn a_fault_that_would_change_nothing_is_refused_unless_it_says_skip() {
        let res = Resolution {
            account: "1".into(),
            region: "us-east-1".into(),
            seed: 0,
            targets: [(
                "web".to_string(),
                crate::targets::ResolvedTarget {
                    kind: TargetType::Ec2Instance,
                    matched: 1,
                    excluded: Vec::new(),
                    resources: vec![crate::targets::Resource {
                        id: "i-1".into(),
                        zones: vec!["us-east-1a".into()],
                        state: Some("stopped".into()),
                        tags: Default::default(),
                        attrs: Default::default(),
                    }],
                },
            )]
            .into(),
            refusals: vec![],
            opt_in_tag: None,
        };
        let refuse = fault(json!({"name": "stop-web", "duration": "1s", "ec2_stop_instances": {"target": "web"}}));
        assert_eq!(refuse.if_no_effect, IfNoEffect::Refuse);
        assert_eq!(
            preflight(&refuse, &res),
            [
                "fault `stop-web` (ec2_stop_instances) would change nothing: no instance of target `web` is running (i-1 is stopped): nothing to stop (set `if_no_effect: skip` on the fault to run without it)"
            ]
        );
        assert_eq!(skipped(&refuse, Some(&res)), None);
        let skip = fault(json!({
            "name": "stop-web", "duration": "1s", "if_no_effect": "skip", "ec2_stop_instances": {"target": "web"},
        }));
        assert!(preflight(&skip, &res).is_empty());
        assert_eq!(
            describe(&skip, Some(&res)).last().unwrap(),
            "skipped (`if_no_effect: skip`): it would change nothing: no instance of target `web` is running (i-1 is stopped): nothing to stop"
        );
        // The key round-trips, and is not written at its default.
        assert_eq!(serde_json::to_value(&skip).unwrap()["if_no_effect"], "skip");
        assert!(serde_json::to_value(&refuse).unwrap().get("if_no_effect").is_none());
        let bad = serde_json::from_value::<FaultConfig>(json!({
            "name": "x", "duration": "1s", "if_no_effect": "ignore", "ec2_stop_instances": {"target": "web"},
        }));
        assert!(bad.is_err());
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
        let spec = build(
            &f,
            vec![],
            &FaultContext { run_id: "r".into(), cwd: PathBuf::from("/tmp"), aws: None, stop_alarms: vec![] },
        );
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
                json!({"region": h, "group": h, "original": h, "applied": h}),
                vec![h.to_string(), h.to_string(), h.to_string()],
            ),
            (
                az_outage::DELETE_NACL,
                json!({"region": h, "tag": "firedrill:deny-all", "value": h}),
                vec![h.to_string(), format!("Name=tag:firedrill:deny-all,Values={h}")],
            ),
            (
                az_outage::RESTORE_NACL,
                json!({"region": h, "subnet": h, "original": h, "clone": h}),
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
    fn every_undo_step_has_its_own_journal_key() {
        let keys: std::collections::BTreeSet<_> = UndoStep::KEYS.iter().collect();
        assert_eq!(keys.len(), UndoStep::KEYS.len());
    }

    /// The records each step writes keep the journal's wire format (old journals still
    /// recover, and new ones read as before), and are read back as that step.
    #[test]
    fn undo_records_keep_their_wire_format_and_read_back_as_their_step() {
        use undo::Step;
        let r = Some("us-east-1");
        let cases = [
            (
                ec2::StartData { instance_ids: vec!["i-1".into()] }.record(r, String::new()),
                json!({"region": "us-east-1", "instance_ids": ["i-1"]}),
            ),
            (
                ebs::AttachData { volume: "vol-1".into(), instance: "i-1".into(), device: "/dev/sdf".into() }
                    .record(r, String::new()),
                json!({"region": "us-east-1", "volume": "vol-1", "instance": "i-1", "device": "/dev/sdf"}),
            ),
            (
                iam::PolicyData { role: "app".into(), policy: "p".into() }.record(r, String::new()),
                json!({"region": "us-east-1", "role": "app", "policy": "p"}),
            ),
            (
                iam::KeysData { user: "ci".into(), keys: vec!["AKIA1".into()] }.record(r, String::new()),
                json!({"region": "us-east-1", "user": "ci", "keys": ["AKIA1"]}),
            ),
            (
                az_outage::NaclData { tag: "t".into(), value: "v".into() }.record(r, String::new()),
                json!({"region": "us-east-1", "tag": "t", "value": "v"}),
            ),
            (
                az_outage::RestoreData { subnet: "s".into(), original: "a".into(), clone: "b".into() }
                    .record(r, String::new()),
                json!({"region": "us-east-1", "subnet": "s", "original": "a", "clone": "b"}),
            ),
            (
                az_outage::SubnetsData { group: "g".into(), original: "a,b".into(), applied: "b".into() }
                    .record(r, String::new()),
                json!({"region": "us-east-1", "group": "g", "original": "a,b", "applied": "b"}),
            ),
            (
                rds::FailbackData { cluster: Some("c".into()), instance: "db-1".into(), zone: "us-east-1a".into() }
                    .record(r, String::new()),
                json!({"region": "us-east-1", "cluster": "c", "instance": "db-1", "zone": "us-east-1a"}),
            ),
            (nothing("reboot".into()), serde_json::Value::Null),
        ];
        for (record, wire) in cases {
            assert_eq!(record.data, wire, "{}", record.kind);
            let step = UndoStep::parse(&record).unwrap().unwrap_or_else(|| panic!("{} not known", record.kind));
            assert_eq!(step.key(), record.kind);
        }
    }

    #[tokio::test]
    async fn unknown_kind() {
        let record = UndoRecord { kind: "aws-ec2-stop".into(), description: String::new(), data: json!({}) };
        let err = Undo::default().undo(&record).await.unwrap_err();
        assert_eq!(err.to_string(), "no undo for fault kind `aws-ec2-stop` in this firedrill version");
    }
}
