//! `ec2_stop_instances` (revert: start, then wait for running), `ec2_reboot_instances`
//! and `ec2_terminate_instances` (nothing to revert). Only instances that are running at
//! injection are stopped, so a revert never starts an instance that was already stopped.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::step::{ScheduledCall, Step, client, region_flag};
use super::{AwsFaultCtx, FaultContext};
use crate::aws::{Aws, Instance};
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Stmt, of_type, stmt};
use crate::scenario::validate::{Problem, Scope, problem};
use crate::scenario::{Target, TargetType};
use crate::state::journal::UndoRecord;
use crate::targets::Resolution;
use crate::util::console::quote;

/// Undo kind: start these instances and wait until they run.
pub const START: &str = "ec2_start_instances";
/// How long a revert waits for instances to stop (if still stopping) and then to run.
pub const WAIT: Duration = Duration::from_secs(600);

/// `ec2_stop_instances` and `ec2_reboot_instances`: the instances of one target.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstancesFault {
    /// An `ec2:instance` target.
    pub target: String,
}

/// `ec2_terminate_instances`: cannot be reverted, so it must say `irreversible: true`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminateFault {
    /// An `ec2:instance` target.
    pub target: String,
    /// Must be `true`: terminated instances are gone for good.
    #[serde(default)]
    pub irreversible: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Stop,
    Reboot,
    Terminate,
}

/// `ec2_stop_instances`.
pub struct Stop;
/// `ec2_reboot_instances`.
pub struct Reboot;
/// `ec2_terminate_instances`.
pub struct Terminate;

fn build(action: Action, target: &str, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
    let (ctx, res) = ctx.aws()?;
    Some(Arc::new(Injector { ctx, action, ids: res.ids(target) }))
}

impl super::Kind for Stop {
    const KEY: &'static str = "ec2_stop_instances";
    type Config = InstancesFault;
    const TARGET_TYPES: &'static [TargetType] = &[TargetType::Ec2Instance];

    fn targets(x: &InstancesFault) -> Vec<(String, &str)> {
        vec![("target".into(), &x.target)]
    }

    fn iam(_: &InstancesFault, targets: &[&Target]) -> Vec<Stmt> {
        let instances = of_type(targets, TargetType::Ec2Instance);
        vec![stmt("StopStartInstances", &["ec2:StopInstances", "ec2:StartInstances"], instances, true)]
    }

    fn describe(x: &InstancesFault, ids: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        vec![
            format!("inject: stop running instances {}", ids(&x.target)),
            "revert: start them, wait until running".into(),
        ]
    }

    fn no_effect(_: &str, x: &InstancesFault, res: &Resolution) -> Option<String> {
        none_running(res, &x.target, "stop")
    }

    fn build(_: &str, x: &InstancesFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        build(Action::Stop, &x.target, ctx)
    }
}

impl super::Kind for Reboot {
    const KEY: &'static str = "ec2_reboot_instances";
    type Config = InstancesFault;
    const TARGET_TYPES: &'static [TargetType] = &[TargetType::Ec2Instance];

    fn targets(x: &InstancesFault) -> Vec<(String, &str)> {
        vec![("target".into(), &x.target)]
    }

    fn iam(_: &InstancesFault, targets: &[&Target]) -> Vec<Stmt> {
        vec![stmt("RebootInstances", &["ec2:RebootInstances"], of_type(targets, TargetType::Ec2Instance), true)]
    }

    fn describe(x: &InstancesFault, ids: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        vec![
            format!("inject: reboot running instances {}", ids(&x.target)),
            "revert: nothing (a reboot recovers by itself)".into(),
        ]
    }

    fn no_effect(_: &str, x: &InstancesFault, res: &Resolution) -> Option<String> {
        none_running(res, &x.target, "reboot")
    }

    fn build(_: &str, x: &InstancesFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        build(Action::Reboot, &x.target, ctx)
    }
}

impl super::Kind for Terminate {
    const KEY: &'static str = "ec2_terminate_instances";
    type Config = TerminateFault;
    const TARGET_TYPES: &'static [TargetType] = &[TargetType::Ec2Instance];

    fn targets(x: &TerminateFault) -> Vec<(String, &str)> {
        vec![("target".into(), &x.target)]
    }

    fn validate(x: &TerminateFault, at: &str, _: &Scope<'_>) -> Vec<Problem> {
        if x.irreversible {
            return vec![];
        }
        vec![problem(
            format!("{at}.irreversible"),
            "terminated instances cannot be brought back: set `irreversible: true` to say you mean it",
        )]
    }

    fn iam(_: &TerminateFault, targets: &[&Target]) -> Vec<Stmt> {
        let instances = of_type(targets, TargetType::Ec2Instance);
        vec![stmt("TerminateInstances", &["ec2:TerminateInstances"], instances, true)]
    }

    fn describe(x: &TerminateFault, ids: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        vec![
            format!("inject: TERMINATE instances {}", ids(&x.target)),
            "revert: impossible (irreversible: true)".into(),
        ]
    }

    fn build(_: &str, x: &TerminateFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        build(Action::Terminate, &x.target, ctx)
    }
}

pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub action: Action,
    pub ids: Vec<String>,
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        let aws = &self.ctx.aws;
        // A terminated instance has vanished as surely as one that is no longer listed.
        let alive = aws
            .instances_by_id(&self.ids)
            .await
            .map(|v| v.into_iter().filter(|i| !matches!(i.state.as_str(), "terminated" | "shutting-down")).collect());
        let current = self.ctx.still_there(alive, &self.ids, |i: &Instance| &i.id)?;
        let ids: Vec<String> = current
            .iter()
            .filter(|i| match self.action {
                Action::Stop | Action::Reboot => i.state == "running",
                Action::Terminate => !matches!(i.state.as_str(), "terminated" | "shutting-down"),
            })
            .map(|i| i.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let (after, undone) = match self.action {
            Action::Stop => {
                intents.intent(start_record(aws, &ids)).await?;
                tag_stopped(aws, &self.ctx.run_id, &ids).await?;
                aws.stop_instances(&ids).await.map_err(failed)?;
                ("stopped", true)
            }
            Action::Reboot => {
                intents.intent(super::nothing(format!("reboot {} (nothing to revert)", list(&ids)))).await?;
                aws.reboot_instances(&ids).await.map_err(failed)?;
                ("rebooted", false)
            }
            Action::Terminate => {
                intents.intent(super::nothing(format!("terminate {} (irreversible)", list(&ids)))).await?;
                aws.terminate_instances(&ids).await.map_err(failed)?;
                ("terminated", false)
            }
        };
        for i in current.iter().filter(|i| ids.contains(&i.id)) {
            intents.changed(state_change(i, after, undone));
        }
        Ok(())
    }
}

/// Why stopping or rebooting the running instances of `target` would change nothing: none
/// of its selected instances is `running`.
pub fn none_running(res: &Resolution, target: &str, verb: &str) -> Option<String> {
    let rs = res.resources(target);
    if rs.iter().any(|r| r.state.as_deref() == Some("running")) {
        return None;
    }
    if rs.is_empty() {
        return Some(format!("target `{target}` selected no instance: nothing to {verb}"));
    }
    let states: Vec<String> =
        rs.iter().map(|r| format!("{} is {}", r.id, r.state.as_deref().unwrap_or("in an unknown state"))).collect();
    Some(format!("no instance of target `{target}` is running ({}): nothing to {verb}", list(&states)))
}

/// For the report: instance `i` went from its state to `after` (`undone`: the revert
/// starts it again).
pub fn state_change(i: &Instance, after: &str, undone: bool) -> crate::engine::Change {
    crate::engine::Change {
        resource: format!("instance {}", i.id),
        zone: Some(i.zone.clone()).filter(|z| !z.is_empty()),
        what: "state".into(),
        before: i.state.clone(),
        after: after.into(),
        undone_by_revert: undone,
    }
}

pub fn failed(e: crate::aws::AwsError) -> FaultError {
    FaultError::Aws(e)
}

/// `i-1, i-2, i-3` or `i-1, i-2 and 8 more`.
pub fn list(ids: &[String]) -> String {
    if ids.len() <= 3 { ids.join(", ") } else { format!("{}, {} and {} more", ids[0], ids[1], ids.len() - 2) }
}

pub fn start_record(aws: &Aws, ids: &[String]) -> UndoRecord {
    StartData { instance_ids: ids.to_vec() }
        .record(Some(aws.region()), format!("start {} and wait until running", list(ids)))
}

/// Before stopping: each instance says, on itself, that it was running and which run
/// stops it ([`crate::tags::UNDO_START`]); the revert removes it once the instance runs.
pub async fn tag_stopped(aws: &Aws, run: &str, ids: &[String]) -> Result<(), FaultError> {
    let tag = (crate::tags::UNDO_START.to_string(), crate::tags::fields(run, &[]));
    aws.tag_all("", TargetType::Ec2Instance, ids, &[tag]).await.map_err(failed)
}

/// Undo step: start these instances and wait until they run.
#[derive(Serialize, Deserialize)]
pub struct StartData {
    pub instance_ids: Vec<String>,
}

#[async_trait]
impl Step for StartData {
    const KEY: &'static str = START;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        undo_start(client(aws)?, self).await
    }

    fn manual_fix(&self, region: &str) -> Option<String> {
        let ids: Vec<String> = self.instance_ids.iter().map(|i| quote(i).into_owned()).collect();
        Some(format!("aws ec2 start-instances {} --instance-ids {}", region_flag(region), ids.join(" ")))
    }

    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        BTreeMap::from([(TargetType::Ec2Instance, self.instance_ids.clone())])
    }

    fn scheduled(&self) -> Vec<ScheduledCall> {
        vec![ScheduledCall::new("ec2", "startInstances", serde_json::json!({"InstanceIds": self.instance_ids}))]
    }
}

/// Starts what is stopped (waiting for `stopping` ones first), then waits until every
/// instance runs. Instances already running need nothing; terminated ones are a conflict.
async fn undo_start(aws: &Aws, d: &StartData) -> Result<(), FaultError> {
    let now = aws.instances_by_id(&d.instance_ids).await.map_err(failed)?;
    let gone: Vec<String> = d
        .instance_ids
        .iter()
        .filter(|id| !now.iter().any(|i| &i.id == *id && !matches!(i.state.as_str(), "terminated" | "shutting-down")))
        .cloned()
        .collect();
    let alive: Vec<String> = d.instance_ids.iter().filter(|id| !gone.contains(id)).cloned().collect();
    // Stopping instances cannot be started yet: wait for them, then read their state again.
    // Otherwise the first answer already says which ones are stopped.
    let stopping: Vec<String> = now.iter().filter(|i| i.state == "stopping").map(|i| i.id.clone()).collect();
    let current = if stopping.is_empty() {
        now
    } else {
        aws.wait_for("instances to finish stopping", WAIT, || async {
            let v = aws.instances_by_id(&stopping).await?;
            Ok(v.iter().all(|i| i.state != "stopping").then_some(()))
        })
        .await
        .map_err(failed)?;
        aws.instances_by_id(&alive).await.map_err(failed)?
    };
    let stopped: Vec<String> = current.into_iter().filter(|i| i.state == "stopped").map(|i| i.id).collect();
    if !stopped.is_empty() {
        aws.start_instances(&stopped).await.map_err(failed)?;
    }
    wait_running(aws, &alive).await?;
    aws.forget(TargetType::Ec2Instance, &alive, &[crate::tags::UNDO_START.into()]).await;
    if gone.is_empty() {
        Ok(())
    } else {
        Err(FaultError::Conflict(format!(
            "{} no longer exist (terminated by someone else); the rest were started",
            list(&gone)
        )))
    }
}

async fn wait_running(aws: &Aws, ids: &[String]) -> Result<(), FaultError> {
    if ids.is_empty() {
        return Ok(());
    }
    aws.wait_for("instances to be running", WAIT, || async {
        let v = aws.instances_by_id(ids).await?;
        Ok(v.iter().all(|i| i.state == "running").then_some(()))
    })
    .await
    .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Kind;
    use crate::faults::fixtures::{one_target, resource};

    /// Stopping or rebooting changes nothing when no selected instance is running: the
    /// reason names each instance's state; one running instance is enough to act.
    #[test]
    fn stop_and_reboot_have_no_effect_when_no_selected_instance_is_running() {
        let x = InstancesFault { target: "t".into() };
        let idle = one_target(
            TargetType::Ec2Instance,
            vec![resource("i-1", Some("stopped"), &[]), resource("i-2", Some("pending"), &[])],
        );
        assert_eq!(
            Stop::no_effect("f", &x, &idle).as_deref(),
            Some("no instance of target `t` is running (i-1 is stopped, i-2 is pending): nothing to stop")
        );
        assert_eq!(
            Reboot::no_effect("f", &x, &idle).as_deref(),
            Some("no instance of target `t` is running (i-1 is stopped, i-2 is pending): nothing to reboot")
        );
        let one = one_target(
            TargetType::Ec2Instance,
            vec![resource("i-1", Some("stopped"), &[]), resource("i-2", Some("running"), &[])],
        );
        assert_eq!(Stop::no_effect("f", &x, &one), None);
        assert_eq!(Reboot::no_effect("f", &x, &one), None);
        let none = one_target(TargetType::Ec2Instance, vec![]);
        assert_eq!(
            Stop::no_effect("f", &x, &none).as_deref(),
            Some("target `t` selected no instance: nothing to stop")
        );
        // Terminating has no such check: it is irreversible and explicit.
        let t = TerminateFault { target: "t".into(), irreversible: true };
        assert_eq!(Terminate::no_effect("f", &t, &idle), None);
    }
}
