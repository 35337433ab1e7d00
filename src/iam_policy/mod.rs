//! `firedrill iam-policy`: the least IAM policy a scenario needs — the actions of each of
//! its faults, probes, abort rules and the lease, each scoped to the ARNs it acts on (the
//! scenario's partition, region and accounts, and the names the scenario gives) wherever
//! the action supports resource-level permissions, with the opt-in tag as a condition
//! wherever AWS evaluates resource tags for that action. Pure: built from the scenario
//! alone. docs/iam-policy.md lists every `*` left and why.

use std::collections::BTreeMap;

use serde_json::{Value, json};

pub mod merge;
pub mod state;
pub mod stmt;
mod switch;

use crate::scenario::{Scenario, Target, TargetType};
pub use stmt::Stmt;
use stmt::{Res, read_databases, stmt, target_res};

/// What resolving (and reading back) a target needs. Describe calls of EC2 and Auto
/// Scaling have no resource-level permissions; RDS's are made without an identifier when
/// a target selects by tags or names several, so they cover the account's clusters and
/// instances; IAM lists only when the target names no role or user.
fn read_statements(t: &Target) -> Vec<Stmt> {
    use TargetType::*;
    let any = || vec![Res::Any];
    match t.kind {
        Ec2Instance => vec![stmt("ReadInstances", &["ec2:DescribeInstances"], any(), false)],
        Ec2Volume => vec![stmt("ReadVolumes", &["ec2:DescribeVolumes"], any(), false)],
        Ec2Subnet => vec![stmt("ReadSubnets", &["ec2:DescribeSubnets"], any(), false)],
        AutoScalingGroup => vec![stmt("ReadGroups", &["autoscaling:DescribeAutoScalingGroups"], any(), false)],
        RdsCluster | RdsInstance => vec![read_databases()],
        IamRole | IamUser => {
            let (sid, actions, list_sid, list): (_, &[&'static str], _, _) = if t.kind == IamRole {
                ("ReadRoles", &["iam:GetRole", "iam:ListRoleTags"], "ListRoles", "iam:ListRoles")
            } else {
                ("ReadUsers", &["iam:GetUser", "iam:ListUserTags", "iam:ListAccessKeys"], "ListUsers", "iam:ListUsers")
            };
            let mut out = vec![stmt(sid, actions, target_res(t), false)];
            if t.ids.is_empty() {
                out.push(stmt(list_sid, &[list], any(), false));
            }
            out
        }
    }
}

fn lease_statement(t: &Target) -> Stmt {
    use TargetType::*;
    let r = target_res(t);
    match t.kind {
        Ec2Instance | Ec2Volume | Ec2Subnet => stmt("LeaseEc2", &["ec2:CreateTags", "ec2:DeleteTags"], r, true),
        AutoScalingGroup => stmt("LeaseGroups", &["autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"], r, true),
        RdsCluster | RdsInstance => {
            stmt("LeaseDatabases", &["rds:AddTagsToResource", "rds:RemoveTagsFromResource"], r, true)
        }
        IamRole => stmt("LeaseRoles", &["iam:TagRole", "iam:UntagRole"], r, true),
        IamUser => stmt("LeaseUsers", &["iam:TagUser", "iam:UntagUser"], r, true),
    }
}

/// What `firedrill recover --sweep` reads to find firedrill's undo tags and leases, on
/// top of the scenario's own revert and untag actions: every instance, volume, subnet,
/// network ACL, Auto Scaling group, RDS cluster and instance, role and user of the
/// account and region (IAM: with their tags), and every FIS experiment, whatever the
/// scenario targets.
fn sweep_statements() -> Vec<Stmt> {
    let any = || vec![Res::Any];
    vec![
        stmt(
            "SweepFindEc2",
            &["ec2:DescribeInstances", "ec2:DescribeNetworkAcls", "ec2:DescribeSubnets", "ec2:DescribeVolumes"],
            any(),
            false,
        ),
        stmt("SweepFindGroups", &["autoscaling:DescribeAutoScalingGroups"], any(), false),
        stmt("SweepListIam", &["iam:ListRoles", "iam:ListUsers"], any(), false),
        stmt(
            "SweepReadIamTags",
            &["iam:ListRoleTags", "iam:ListUserTags"],
            vec![Res::Role("*".into()), Res::User("*".into())],
            false,
        ),
        read_databases(),
        // FIS experiments firedrill started (found by their tags) are stopped.
        stmt("SweepFindFisExperiments", &["fis:ListExperiments"], any(), false),
        stmt("SweepStopFisExperiments", &["fis:StopExperiment"], vec![Res::FisExperiment("*".into())], false),
        // So are the templates it created for inline `fis_experiment` faults.
        stmt("SweepFindFisTemplates", &["fis:ListExperimentTemplates"], any(), false),
        stmt("SweepDeleteFisTemplates", &["fis:DeleteExperimentTemplate"], vec![Res::FisTemplate("*".into())], true),
    ]
}

fn statements(s: &Scenario, sweep: bool) -> Vec<Stmt> {
    // sts:GetCallerIdentity (the account guard) needs no permission: AWS allows it to
    // every principal, even under an explicit deny.
    let mut out = Vec::new();
    for t in s.targets.values() {
        out.extend(read_statements(t));
    }
    // Each fault kind says what it needs; the lease tags every target it names.
    for f in &s.faults {
        // A kind's own targets (an inline FIS template's) are read and leased as well.
        let own = f.kind.own_targets();
        out.extend(own.iter().flat_map(read_statements));
        let targets: Vec<&Target> =
            f.kind.targets().iter().filter_map(|(_, n)| s.targets.get(*n)).chain(own.iter()).collect();
        out.extend(targets.iter().map(|t| lease_statement(t)));
        out.extend(f.kind.iam(&targets));
    }
    // Each probe kind says what it needs; an `alarm` abort rule reads its alarm as the
    // `cloudwatch_alarm` probe does.
    for p in &s.steady_state {
        out.extend(p.kind.iam());
    }
    for name in s.abort.iter().filter_map(|r| r.alarm.as_deref()) {
        out.push(crate::probes::cloudwatch_alarm::read_alarm(name));
    }
    // Every AWS run watches the emergency halt like a stop condition.
    out.push(crate::halt::read_statement());
    // `pages`: the paging alarms' states and history.
    out.extend(crate::pages::statements(s));
    // Last, so that the run's own statements stay as they are and only what the sweep
    // needs besides them is added.
    if sweep {
        out.extend(sweep_statements());
    }
    // One statement per purpose, its actions and resources merged and sorted; a
    // statement without resources (a fault kind without a target of that type) has
    // nothing to act on.
    type Merged = (Vec<&'static str>, Vec<Res>);
    let mut merged: BTreeMap<(&'static str, bool, Option<&'static str>), Merged> = BTreeMap::new();
    for st in out {
        let (a, r) = merged.entry((st.sid, st.tagged, st.on_create)).or_default();
        a.extend(st.actions);
        a.sort_unstable();
        a.dedup();
        r.extend(st.resources);
    }
    let merged: Vec<Stmt> = merged
        .into_iter()
        .filter(|(_, (_, r))| !r.is_empty())
        .map(|((sid, tagged, on_create), (actions, resources))| Stmt {
            sid,
            actions,
            resources: least_resources(resources),
            tagged,
            on_create,
        })
        .collect();
    grant_once(merged)
}

/// Sorted, without duplicates or resources another one already covers.
fn least_resources(mut r: Vec<Res>) -> Vec<Res> {
    r.sort();
    r.dedup();
    let all = r.clone();
    r.retain(|x| !all.iter().any(|y| y != x && y.covers(x)));
    r
}

/// Grants each action once, so that every statement is needed: an action allowed on the
/// same resources with fewer conditions elsewhere (untagged, or the same conditions in an
/// earlier statement) is dropped, and so is a statement left empty. Statements scoped to
/// a create call are never merged with others: their condition is of a different kind.
fn grant_once(statements: Vec<Stmt>) -> Vec<Stmt> {
    let covered = |grants: &[(&str, bool, Vec<Res>)], a: &str, tagged: bool, r: &[Res]| {
        grants
            .iter()
            .any(|(b, t, g)| *b == a && (!*t || *t == tagged) && r.iter().all(|x| g.iter().any(|y| y.covers(x))))
    };
    let untagged: Vec<(&str, bool, Vec<Res>)> = statements
        .iter()
        .filter(|s| !s.tagged && s.on_create.is_none())
        .flat_map(|s| s.actions.iter().map(|a| (*a, false, s.resources.clone())))
        .collect();
    let mut seen: Vec<(&str, bool, Vec<Res>)> = Vec::new();
    let mut out = Vec::new();
    for mut st in statements {
        if st.on_create.is_none() {
            st.actions.retain(|a| {
                // Dropped when granted already: without the tag condition, or with the
                // same conditions in an earlier statement.
                let granted = (st.tagged && covered(&untagged, a, false, &st.resources))
                    || covered(&seen, a, st.tagged, &st.resources);
                let keep = !granted;
                if keep {
                    seen.push((a, st.tagged, st.resources.clone()));
                }
                keep
            });
        }
        if !st.actions.is_empty() {
            out.push(st);
        }
    }
    out
}

/// The condition key that reads a resource's tag for an action's service: Auto Scaling
/// documents its own key per action; for EC2, RDS and IAM roles and users the Service
/// Authorization Reference documents `aws:ResourceTag/…` on the resource types these
/// actions take (IAM's `iam:ResourceTag/…` is an older alias that linters do not know
/// for the actions).
fn tag_condition_key(action: &str, key: &str) -> String {
    match action.split(':').next() {
        Some("autoscaling") => format!("autoscaling:ResourceTag/{key}"),
        _ => format!("aws:ResourceTag/{key}"),
    }
}

/// The policy document for `s`. Without `environment`, only what the scenario needs
/// outside AWS: nothing.
pub fn policy(s: &Scenario) -> Value {
    policy_for(s, false)
}

/// The policy for `s` with what `recover --sweep` reads as well (`iam-policy --sweep`).
pub fn sweep_policy(s: &Scenario) -> Value {
    policy_for(s, true)
}

fn policy_for(s: &Scenario, sweep: bool) -> Value {
    let Some(env) = &s.environment else {
        return json!({ "Version": "2012-10-17", "Statement": [] });
    };
    let mut doc = document(env, statements(s, sweep));
    // The dead man's switch: its schedules, and handing its role to EventBridge Scheduler.
    if let (Some(d), Value::Array(list)) = (dead_mans_switch(s), &mut doc["Statement"]) {
        list.extend(switch::caller_statements(d, env));
    }
    doc
}

fn dead_mans_switch(s: &Scenario) -> Option<&crate::scenario::safety::DeadMansSwitch> {
    s.safety.as_ref().and_then(|x| x.dead_mans_switch.as_ref())
}

/// The policy of the dead man's switch's role (the undo calls on the scenario's
/// resources), and its trust policy; `None` without `safety.dead_mans_switch`.
pub fn switch_role(s: &Scenario) -> Option<(Value, Value)> {
    let (env, d) = (s.environment.as_ref()?, dead_mans_switch(s)?);
    let role = document(env, switch::role_statements(s));
    Some((role, switch::trust_policy(d, env)))
}

/// The policy document of `statements`, scoped to `env`.
fn document(env: &crate::scenario::Environment, statements: Vec<Stmt>) -> Value {
    let region = &env.region;
    let partition = crate::aws::partition(region);
    let statements: Vec<Value> = statements
        .into_iter()
        .map(|st| {
            let resource = if st.resources == [Res::Any] {
                json!("*")
            } else {
                let mut arns: Vec<String> = Vec::new();
                for account in &env.accounts {
                    for r in &st.resources {
                        arns.extend(r.arns(partition, region, account));
                    }
                }
                json!(arns)
            };
            let mut v = json!({
                "Sid": st.sid,
                "Effect": "Allow",
                "Action": st.actions,
                "Resource": resource,
            });
            let mut cond = serde_json::Map::new();
            if st.tagged {
                // One key per service in the statement (they share one).
                let key = tag_condition_key(st.actions[0], &env.opt_in_tag.key);
                cond.insert("StringEquals".into(), json!({ key: env.opt_in_tag.value }));
            }
            match st.on_create {
                Some(service) if st.actions == ["iam:PassRole"] => {
                    cond.insert("StringEquals".into(), json!({ "iam:PassedToService": service }));
                }
                Some(call) => {
                    cond.insert("StringEquals".into(), json!({ "ec2:CreateAction": call }));
                }
                None => {}
            }
            if !st.actions.iter().all(|a| a.starts_with("iam:") || a.starts_with("sts:")) {
                cond.entry("StringEquals").or_insert_with(|| json!({}));
                if let Some(Value::Object(m)) = cond.get_mut("StringEquals") {
                    m.insert("aws:RequestedRegion".into(), json!(region));
                }
            }
            if !cond.is_empty() {
                v["Condition"] = Value::Object(cond);
            }
            v
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            r#"version: 1
name: p
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
targets:
  web: {{ type: ec2:instance, tags: {{ app: shop }} }}
  subnets: {{ type: ec2:subnet, tags: {{ app: shop }} }}
  role: {{ type: iam:role, tags: {{ app: shop }} }}
  group: {{ type: autoscaling:group, tags: {{ app: shop }} }}
steady_state:
  - name: alarm
    cloudwatch_alarm: {{ alarm: a }}
    every: 5s
faults:
{extra}
recovery: {{ within: 1m }}
"#
        );
        crate::scenario::load_str(&text, std::path::Path::new(".")).map(|(s, _)| s).unwrap()
    }

    /// The dead man's switch adds managing its schedules and passing its role, both
    /// scoped; the role's own policy has only the undo calls of the scenario's faults.
    #[test]
    fn the_dead_mans_switch_adds_its_schedules_and_role_and_prints_the_roles_policy() {
        let faults = "  - name: zone\n    az_outage: { zone: us-east-1a, targets: [web, subnets, group], network: true, stop_instances: true, asg: remove_zone }\n    duration: 1m\n\
                      \x20 - name: creds\n    iam_revoke_credentials: { target: role }\n    duration: 1m";
        let without = scenario(faults);
        assert!(!policy(&without).to_string().contains("scheduler:"));
        assert_eq!(switch_role(&without), None);
        let role = "arn:aws:iam::123456789012:role/firedrill-dms";
        let mut with = without.clone();
        with.safety = Some(crate::scenario::safety::Safety {
            dead_mans_switch: Some(crate::scenario::safety::DeadMansSwitch {
                role_arn: role.into(),
                grace: crate::scenario::Dur(std::time::Duration::from_secs(600)),
                group: None,
            }),
        });
        let p = policy(&with);
        let st = |sid: &str| p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).cloned().unwrap();
        let sched = st("DeadMansSwitchSchedules");
        assert_eq!(
            sched["Action"],
            json!(["scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:GetSchedule"])
        );
        assert_eq!(sched["Resource"], json!(["arn:aws:scheduler:us-east-1:123456789012:schedule/default/firedrill-*"]));
        let pass = st("DeadMansSwitchPassRole");
        assert_eq!(pass["Action"], json!(["iam:PassRole"]));
        assert_eq!(pass["Resource"], json!([role]));
        assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"], "scheduler.amazonaws.com");
        // The `default` group is never read; a group the scenario names is (`plan` checks
        // it exists), and its schedules are in it.
        assert!(!p.to_string().contains("scheduler:GetScheduleGroup"), "{p}");
        let mut named = with.clone();
        if let Some(d) = named.safety.as_mut().and_then(|x| x.dead_mans_switch.as_mut()) {
            d.group = Some("drills".into());
        }
        let pn = policy(&named);
        let group = pn["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "DeadMansSwitchGroup").unwrap();
        assert_eq!(group["Action"], json!(["scheduler:GetScheduleGroup"]));
        assert_eq!(group["Resource"], json!(["arn:aws:scheduler:us-east-1:123456789012:schedule-group/drills"]));
        assert_eq!(group["Condition"]["StringEquals"]["aws:RequestedRegion"], "us-east-1");
        let sched = pn["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "DeadMansSwitchSchedules").unwrap();
        assert_eq!(sched["Resource"], json!(["arn:aws:scheduler:us-east-1:123456789012:schedule/drills/firedrill-*"]));

        let (rp, trust) = switch_role(&with).unwrap();
        let mut actions: Vec<&str> = rp["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()))
            .collect();
        actions.sort();
        assert_eq!(
            actions,
            [
                "autoscaling:UpdateAutoScalingGroup",
                "ec2:ReplaceNetworkAclAssociation",
                "ec2:StartInstances",
                "iam:DeleteRolePolicy"
            ]
        );
        let start = rp["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "UndoStartInstances").unwrap();
        assert_eq!(start["Condition"]["StringEquals"]["aws:ResourceTag/firedrill"], "allowed");
        assert_eq!(start["Resource"], json!(["arn:aws:ec2:us-east-1:123456789012:instance/*"]));
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], "scheduler.amazonaws.com");
        assert_eq!(trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], json!(["123456789012"]));
    }

    fn sids(p: &Value) -> Vec<String> {
        p["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap().to_string()).collect()
    }

    /// `--sweep` adds the reads that find firedrill's tags on every kind of resource, and
    /// nothing that changes anything: the undo and untag actions are the run's own.
    #[test]
    fn the_sweep_policy_adds_only_the_reads_that_find_the_tags() {
        let s = scenario("  - name: stop\n    ec2_stop_instances: { target: web }\n    duration: 1m");
        let (run, sweep) = (policy(&s), sweep_policy(&s));
        let actions = |p: &Value| -> Vec<String> {
            let mut a: Vec<String> = p["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|st| st["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()))
                .collect();
            a.sort();
            a.dedup();
            a
        };
        let added: Vec<String> = actions(&sweep).into_iter().filter(|a| !actions(&run).contains(a)).collect();
        assert_eq!(
            added,
            [
                "ec2:DescribeNetworkAcls",
                "ec2:DescribeVolumes",
                "fis:DeleteExperimentTemplate",
                "fis:ListExperimentTemplates",
                "fis:ListExperiments",
                "fis:StopExperiment",
                "iam:ListUserTags",
                "iam:ListUsers",
                "rds:DescribeDBClusters",
                "rds:DescribeDBInstances",
            ]
        );
        let tags = statement(&sweep, "SweepReadIamTags");
        assert!(tags["Resource"].as_array().unwrap().contains(&json!("arn:aws:iam::123456789012:user/*")), "{tags:#}");
        assert!(tags.get("Condition").is_none(), "{tags:#}");
        // The run's own statements are unchanged.
        for st in run["Statement"].as_array().unwrap() {
            let sid = st["Sid"].as_str().unwrap();
            assert_eq!(statement(&sweep, sid), st, "{sid}");
        }
    }

    #[test]
    fn each_fault_adds_exactly_its_actions_with_the_opt_in_condition() {
        let p = policy(&scenario("  - name: stop\n    ec2_stop_instances: { target: web }\n    duration: 1m"));
        assert_eq!(
            sids(&p),
            [
                "LeaseEc2",
                "ListRoles",
                "ReadAlarms",
                "ReadGroups",
                "ReadHalt",
                "ReadInstances",
                "ReadRoles",
                "ReadSubnets",
                "StopStartInstances"
            ]
        );
        let stop = p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "StopStartInstances").unwrap();
        assert_eq!(stop["Action"], json!(["ec2:StartInstances", "ec2:StopInstances"]));
        assert_eq!(stop["Condition"]["StringEquals"]["aws:ResourceTag/firedrill"], "allowed");
        assert_eq!(stop["Condition"]["StringEquals"]["aws:RequestedRegion"], "us-east-1");
        assert_eq!(stop["Resource"], json!(["arn:aws:ec2:us-east-1:123456789012:instance/*"]));
        assert!(!p.to_string().contains("iam:PutRolePolicy"), "nothing for faults the scenario does not have");
    }

    #[test]
    fn revocation_and_zone_failure() {
        let p = policy(&scenario(
            "  - name: creds\n    iam_revoke_credentials: { target: role }\n    duration: 1m\n  - name: zone\n    az_outage: { zone: us-east-1a, targets: [subnets, web], network: true, stop_instances: true }\n    duration: 1m",
        ));
        let all = p.to_string();
        for a in [
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "ec2:CreateNetworkAcl",
            "ec2:ReplaceNetworkAclAssociation",
            "ec2:StopInstances",
            "iam:TagRole",
        ] {
            assert!(all.contains(a), "{a} missing: {all}");
        }
        let revoke = p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "RevokeRoleSessions").unwrap();
        assert_eq!(revoke["Condition"]["StringEquals"]["aws:ResourceTag/firedrill"], "allowed");
        assert_eq!(revoke["Resource"], json!(["arn:aws:iam::123456789012:role/*"]));
        assert!(revoke["Condition"]["StringEquals"].get("aws:RequestedRegion").is_none(), "IAM is global");
        let tag_new = p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "TagNewNetworkAcls").unwrap();
        assert_eq!(tag_new["Action"], json!(["ec2:CreateTags"]));
        assert_eq!(tag_new["Condition"]["StringEquals"]["ec2:CreateAction"], "CreateNetworkAcl");
        assert_eq!(tag_new["Resource"], json!(["arn:aws:ec2:us-east-1:123456789012:network-acl/*"]));
        let acls = statement(&p, "ZoneNetworkAcls");
        assert_eq!(
            acls["Resource"],
            json!([
                "arn:aws:ec2:us-east-1:123456789012:network-acl/*",
                "arn:aws:ec2:us-east-1:123456789012:subnet/*",
                "arn:aws:ec2:us-east-1:123456789012:vpc/*"
            ])
        );
    }

    /// Every statement is needed: no action is granted twice under the same conditions,
    /// nor under the opt-in tag where it is also granted without it.
    #[test]
    fn each_action_is_granted_once() {
        let p = policy(&scenario(
            "  - name: zone\n    az_outage: { zone: us-east-1a, targets: [subnets, web, group], network: true, stop_instances: true, asg: remove_zone }\n    duration: 1m",
        ));
        let mut seen = std::collections::HashMap::new();
        for st in p["Statement"].as_array().unwrap() {
            for a in st["Action"].as_array().unwrap() {
                let key = (a.as_str().unwrap().to_string(), st["Condition"].to_string());
                if let Some(first) = seen.insert(key, st["Sid"].clone()) {
                    panic!("{a} granted by {first} and {}: {p:#}", st["Sid"]);
                }
            }
        }
        let sids = sids(&p);
        // DescribeSubnets: the subnets target reads them already.
        assert!(!sids.contains(&"ZoneGroupSubnetsRead".to_string()), "{sids:?}");
        let net = p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "ZoneNetworkRead").unwrap();
        assert_eq!(net["Action"], json!(["ec2:DescribeNetworkAcls"]));
        // Tagged and untagged grants of one action never coexist.
        let untagged: Vec<&Value> = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Condition"].get("StringEquals").is_none_or(|c| c.get("aws:ResourceTag/firedrill").is_none()))
            .collect();
        for st in p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Condition"]["StringEquals"].get("aws:ResourceTag/firedrill").is_some())
        {
            for a in st["Action"].as_array().unwrap() {
                assert!(
                    !untagged.iter().any(|u| u["Condition"]["StringEquals"].get("ec2:CreateAction").is_none()
                        && u["Action"].as_array().unwrap().contains(a)),
                    "{a}: {p:#}"
                );
            }
        }
    }

    fn statement<'a>(p: &'a Value, sid: &str) -> &'a Value {
        p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no {sid}: {p:#}"))
    }

    fn load(text: &str) -> Scenario {
        crate::scenario::load_str(text, std::path::Path::new(".")).map(|(s, _)| s).unwrap()
    }

    /// The scenario's names, partition, region and every account are in the ARNs.
    const NAMED: &str = r#"version: 1
name: p
environment:
  region: REGION
  accounts: ["123456789012", "210987654321"]
  opt_in_tag: { key: firedrill, value: allowed }
targets:
  db: { type: rds:cluster, ids: [shop-db] }
  single: { type: rds:instance, ids: [db-1] }
  group: { type: autoscaling:group, ids: [shop-web] }
  subnets: { type: ec2:subnet, ids: [subnet-1] }
  role: { type: iam:role, ids: [shop-app] }
  user: { type: iam:user, ids: [shop-deployer] }
  vols: { type: ec2:volume, ids: [vol-1] }
steady_state:
  - name: alarm
    cloudwatch_alarm: { alarm: shop-5xx }
    every: 5s
faults:
  - name: fail
    rds_failover: { target: db }
    duration: 1m
  - name: reboot
    rds_failover: { target: single }
    duration: 1m
  - name: zone
    az_outage: { zone: REGIONa, targets: [group, subnets], network: true, asg: remove_zone }
    duration: 1m
  - name: role
    iam_revoke_credentials: { target: role }
    duration: 1m
  - name: user
    iam_revoke_credentials: { target: user }
    duration: 1m
  - name: vols
    ebs_detach_volumes: { target: vols }
    duration: 1m
abort:
  - alarm: shop-latency
recovery: { within: 1m }
"#;

    /// `pages` reads the paging alarms' states and history: on the listed alarms, or on every
    /// alarm for the default; no statement without `pages`.
    #[test]
    fn pages_read_the_listed_alarms_or_every_alarm() {
        let base = load(&NAMED.replace("REGION", "us-east-1"));
        assert!(!sids(&policy(&base)).contains(&"ReadPagingAlarms".to_string()));
        let arns = |p: &Value| -> Vec<String> {
            statement(p, "ReadPagingAlarms")["Resource"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().into())
                .collect()
        };
        let mut listed = base.clone();
        listed.pages = Some(crate::scenario::Pages { alarms: Some(vec!["db-page".into()]), max_pages: Some(0) });
        let p = policy(&listed);
        assert_eq!(
            statement(&p, "ReadPagingAlarms")["Action"],
            json!(["cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms"])
        );
        // Not tag-conditioned (an alarm is read, not acted on); in the scenario's region only.
        assert_eq!(
            statement(&p, "ReadPagingAlarms")["Condition"],
            json!({ "StringEquals": { "aws:RequestedRegion": "us-east-1" } })
        );
        assert_eq!(
            arns(&p),
            ["123456789012", "210987654321"].map(|a| format!("arn:aws:cloudwatch:us-east-1:{a}:alarm:db-page"))
        );
        let mut all = base;
        all.pages = Some(crate::scenario::Pages::default());
        assert_eq!(
            arns(&policy(&all)),
            ["123456789012", "210987654321"].map(|a| format!("arn:aws:cloudwatch:us-east-1:{a}:alarm:*"))
        );
    }

    #[test]
    fn resources_are_the_scenarios_arns_in_the_regions_partition() {
        for (region, partition) in [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")] {
            let p = policy(&load(&NAMED.replace("REGION", region)));
            let arns = |sid: &str| -> Vec<String> {
                statement(&p, sid)["Resource"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().into()).collect()
            };
            let both = |f: &dyn Fn(&str) -> Vec<String>| -> Vec<String> {
                ["123456789012", "210987654321"].iter().flat_map(|a| f(a)).collect()
            };
            let (pt, r) = (partition, region);
            assert_eq!(arns("FailOverClusters"), both(&|a| vec![format!("arn:{pt}:rds:{r}:{a}:cluster:shop-db")]));
            assert_eq!(arns("FailOverInstances"), both(&|a| vec![format!("arn:{pt}:rds:{r}:{a}:db:db-1")]));
            assert_eq!(
                arns("ZoneGroupSubnets"),
                both(&|a| vec![format!(
                    "arn:{pt}:autoscaling:{r}:{a}:autoScalingGroup:*:autoScalingGroupName/shop-web"
                )])
            );
            assert_eq!(
                arns("ReadAlarms"),
                both(&|a| vec![
                    format!("arn:{pt}:cloudwatch:{r}:{a}:alarm:shop-5xx"),
                    format!("arn:{pt}:cloudwatch:{r}:{a}:alarm:shop-latency")
                ])
            );
            // The emergency halt, read by every AWS run.
            assert_eq!(arns("ReadHalt"), both(&|a| vec![format!("arn:{pt}:ssm:{r}:{a}:parameter/firedrill/halt")]));
            assert_eq!(statement(&p, "ReadHalt")["Action"], json!(["ssm:GetParameter"]));
            // A named role or user, with or without a path; IAM ARNs have no region.
            assert_eq!(
                arns("RevokeRoleSessions"),
                both(&|a| vec![
                    format!("arn:{pt}:iam::{a}:role/shop-app"),
                    format!("arn:{pt}:iam::{a}:role/*/shop-app")
                ])
            );
            assert_eq!(arns("LeaseRoles"), arns("RevokeRoleSessions"));
            assert_eq!(arns("ReadRoles"), arns("RevokeRoleSessions"));
            assert_eq!(
                arns("DeactivateAccessKeys"),
                both(&|a| vec![
                    format!("arn:{pt}:iam::{a}:user/shop-deployer"),
                    format!("arn:{pt}:iam::{a}:user/*/shop-deployer")
                ])
            );
            // The volume as named; the instance it goes back to is any of the account's.
            assert_eq!(
                arns("DetachAttachVolumes"),
                both(&|a| vec![
                    format!("arn:{pt}:ec2:{r}:{a}:instance/*"),
                    format!("arn:{pt}:ec2:{r}:{a}:volume/vol-1")
                ])
            );
            assert!(arns("ZoneNetworkAcls").contains(&format!("arn:{pt}:ec2:{r}:210987654321:subnet/subnet-1")));
            assert_eq!(
                arns("LeaseDatabases"),
                both(&|a| vec![
                    format!("arn:{pt}:rds:{r}:{a}:cluster:shop-db"),
                    format!("arn:{pt}:rds:{r}:{a}:db:db-1")
                ])
            );
            // Named targets are read by name: no listing.
            let sids = sids(&p);
            assert!(!sids.contains(&"ListRoles".to_string()) && !sids.contains(&"ListUsers".to_string()), "{sids:?}");
        }
    }

    /// `*` is left only on actions without resource-level permissions, and only IAM-free
    /// statements are region-conditioned; every tag condition is one AWS documents for
    /// the action (`aws:ResourceTag`, or Auto Scaling's own).
    #[test]
    fn star_only_where_aws_requires_it_and_documented_condition_keys() {
        let no_resource_level = [
            "autoscaling:DescribeAutoScalingGroups",
            "ec2:DescribeInstances",
            "ec2:DescribeNetworkAcls",
            "ec2:DescribeSubnets",
            "ec2:DescribeVolumes",
            "iam:ListRoles",
            "iam:ListUsers",
        ];
        let p = policy(&scenario(
            "  - name: zone\n    az_outage: { zone: us-east-1a, targets: [subnets, web, group], network: true, stop_instances: true, asg: remove_zone }\n    duration: 1m\n  - name: creds\n    iam_revoke_credentials: { target: role }\n    duration: 1m",
        ));
        for st in p["Statement"].as_array().unwrap() {
            if st["Resource"] == "*" {
                for a in st["Action"].as_array().unwrap() {
                    assert!(no_resource_level.contains(&a.as_str().unwrap()), "{a} on *: {st:#}");
                }
            } else {
                for r in st["Resource"].as_array().unwrap() {
                    let r = r.as_str().unwrap();
                    assert!(r.starts_with("arn:aws:") && r.contains(":123456789012:"), "{r}");
                }
            }
            for key in st["Condition"]["StringEquals"].as_object().into_iter().flat_map(|m| m.keys()) {
                let ok = key == "aws:RequestedRegion"
                    || key == "ec2:CreateAction"
                    || key == "aws:ResourceTag/firedrill"
                    || (key == "autoscaling:ResourceTag/firedrill"
                        && st["Action"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .all(|a| a.as_str().unwrap().starts_with("autoscaling:")));
                assert!(ok, "{key} in {st:#}");
            }
        }
        let roles = statement(&p, "LeaseRoles");
        assert_eq!(roles["Condition"]["StringEquals"]["aws:ResourceTag/firedrill"], "allowed");
        assert_eq!(roles["Resource"], json!(["arn:aws:iam::123456789012:role/*"]));
        assert!(!p.to_string().contains("iam:ResourceTag"), "{p:#}");
    }
}
