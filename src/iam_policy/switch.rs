//! What the dead man's switch (`safety.dead_mans_switch`, `crate::faults::switch`) adds to
//! `firedrill iam-policy`: for the game day's principal, managing its schedules,
//! passing its role to EventBridge Scheduler and (when the scenario names one) reading its
//! schedule group, which `plan` checks exists; for that role, the undo calls its schedules
//! make on the scenario's resources, and the trust policy that lets the scheduler assume
//! it (only for schedules of the scenario's accounts).

use serde_json::{Value, json};

use super::stmt::{Res, Stmt, of_type, stmt};
use crate::faults::FaultKind;
use crate::scenario::safety::DeadMansSwitch;
use crate::scenario::{Environment, Scenario, Target, TargetType};

/// The schedules firedrill creates (all named `firedrill-…`) in the switch's group.
fn schedules(d: &DeadMansSwitch, env: &Environment) -> Vec<String> {
    let p = crate::aws::partition(&env.region);
    env.accounts
        .iter()
        .map(|a| format!("arn:{p}:scheduler:{}:{a}:schedule/{}/firedrill-*", env.region, d.group()))
        .collect()
}

/// The schedule group the scenario names (`plan` checks it exists); `None` for `default`
/// when the scenario names none (it always exists, and nothing reads it).
fn named_group(d: &DeadMansSwitch, env: &Environment) -> Option<Vec<String>> {
    let group = d.group.as_ref()?;
    let p = crate::aws::partition(&env.region);
    Some(env.accounts.iter().map(|a| format!("arn:{p}:scheduler:{}:{a}:schedule-group/{group}", env.region)).collect())
}

/// The statements the game day's principal needs for the switch.
pub fn caller_statements(d: &DeadMansSwitch, env: &Environment) -> Vec<Value> {
    let mut out = vec![
        json!({
            "Sid": "DeadMansSwitchSchedules",
            "Effect": "Allow",
            "Action": ["scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:GetSchedule"],
            "Resource": schedules(d, env),
            "Condition": {"StringEquals": {"aws:RequestedRegion": env.region}},
        }),
        json!({
            "Sid": "DeadMansSwitchPassRole",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [d.role_arn],
            "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        }),
    ];
    if let Some(groups) = named_group(d, env) {
        out.push(json!({
            "Sid": "DeadMansSwitchGroup",
            "Effect": "Allow",
            "Action": ["scheduler:GetScheduleGroup"],
            "Resource": groups,
            "Condition": {"StringEquals": {"aws:RequestedRegion": env.region}},
        }));
    }
    out
}

/// The undo calls the switch's schedules can make for the scenario's faults, on the
/// resources the faults act on (what `Step::scheduled` names, by kind).
pub fn role_statements(s: &Scenario) -> Vec<Stmt> {
    let mut out = Vec::new();
    for f in &s.faults {
        let targets: Vec<&Target> = f.kind.targets().iter().filter_map(|(_, n)| s.targets.get(*n)).collect();
        let of = |k| of_type(&targets, k);
        match &f.kind {
            FaultKind::Ec2Stop(_) => {
                out.push(stmt("UndoStartInstances", &["ec2:StartInstances"], of(TargetType::Ec2Instance), true))
            }
            FaultKind::EbsDetach(_) => {
                let mut r = of(TargetType::Ec2Volume);
                r.push(Res::Ec2("instance", "*".into()));
                out.push(stmt("UndoAttachVolumes", &["ec2:AttachVolume"], r, false));
            }
            FaultKind::IamRevoke(_) => {
                out.push(stmt("UndoDeleteRolePolicy", &["iam:DeleteRolePolicy"], of(TargetType::IamRole), true));
                out.push(stmt("UndoReactivateKeys", &["iam:UpdateAccessKey"], of(TargetType::IamUser), true));
            }
            FaultKind::AzOutage(a) => {
                if a.network {
                    let mut r = vec![Res::Ec2("network-acl", "*".into())];
                    r.extend(of(TargetType::Ec2Subnet));
                    out.push(stmt("UndoNetworkAclAssociations", &["ec2:ReplaceNetworkAclAssociation"], r, false));
                }
                if a.stop_instances {
                    out.push(stmt("UndoStartInstances", &["ec2:StartInstances"], of(TargetType::Ec2Instance), true));
                }
                if a.asg.is_some() {
                    let groups = of(TargetType::AutoScalingGroup);
                    out.push(stmt("UndoGroupSubnets", &["autoscaling:UpdateAutoScalingGroup"], groups, true));
                }
            }
            _ => {}
        }
    }
    merge(out)
}

/// One statement per `Sid`, resources merged; none without resources.
fn merge(stmts: Vec<Stmt>) -> Vec<Stmt> {
    let mut out: Vec<Stmt> = Vec::new();
    for st in stmts {
        match out.iter_mut().find(|o| o.sid == st.sid) {
            Some(o) => o.resources.extend(st.resources),
            None => out.push(st),
        }
    }
    for o in &mut out {
        o.resources = super::least_resources(std::mem::take(&mut o.resources));
    }
    out.retain(|o| !o.resources.is_empty());
    out
}

/// Lets EventBridge Scheduler assume the role, for schedules of the scenario's accounts.
pub fn trust_policy(_d: &DeadMansSwitch, env: &Environment) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": env.accounts}},
        }],
    })
}
