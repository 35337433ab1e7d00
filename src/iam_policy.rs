//! `firedrill iam-policy`: the least IAM policy a scenario needs — the actions of each of
//! its faults, probes, abort rules and the lease, with the opt-in tag as a condition
//! wherever AWS evaluates resource tags for that action. Pure: built from the scenario
//! alone.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::scenario::{FaultKind, ProbeKind, Scenario, TargetType};

/// One statement: its purpose (the `Sid`), its actions, whether the opt-in tag condition
/// applies, and, for tags set by a create call, which call (`ec2:CreateAction`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stmt {
    sid: &'static str,
    actions: Vec<&'static str>,
    tagged: bool,
    on_create: Option<&'static str>,
}

fn stmt(sid: &'static str, actions: &[&'static str], tagged: bool) -> Stmt {
    Stmt { sid, actions: actions.to_vec(), tagged, on_create: None }
}

fn read_statement(t: TargetType) -> Stmt {
    use TargetType::*;
    match t {
        Ec2Instance => stmt("ReadInstances", &["ec2:DescribeInstances"], false),
        Ec2Volume => stmt("ReadVolumes", &["ec2:DescribeVolumes"], false),
        Ec2Subnet => stmt("ReadSubnets", &["ec2:DescribeSubnets"], false),
        AutoScalingGroup => stmt("ReadGroups", &["autoscaling:DescribeAutoScalingGroups"], false),
        RdsCluster | RdsInstance => {
            stmt("ReadDatabases", &["rds:DescribeDBClusters", "rds:DescribeDBInstances"], false)
        }
        IamRole => stmt("ReadRoles", &["iam:ListRoles", "iam:GetRole", "iam:ListRoleTags"], false),
        IamUser => stmt("ReadUsers", &["iam:ListUsers", "iam:GetUser", "iam:ListUserTags"], false),
    }
}

fn lease_statement(t: TargetType) -> Stmt {
    use TargetType::*;
    match t {
        Ec2Instance | Ec2Volume | Ec2Subnet => stmt("LeaseEc2", &["ec2:CreateTags", "ec2:DeleteTags"], true),
        AutoScalingGroup => stmt("LeaseGroups", &["autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"], true),
        RdsCluster | RdsInstance => {
            stmt("LeaseDatabases", &["rds:AddTagsToResource", "rds:RemoveTagsFromResource"], true)
        }
        IamRole => stmt("LeaseRoles", &["iam:TagRole", "iam:UntagRole"], true),
        IamUser => stmt("LeaseUsers", &["iam:TagUser", "iam:UntagUser"], true),
    }
}

fn statements(s: &Scenario) -> Vec<Stmt> {
    // sts:GetCallerIdentity (the account guard) needs no permission: AWS allows it to
    // every principal, even under an explicit deny.
    let mut out = Vec::new();
    let type_of = |t: &str| s.targets.get(t).map(|t| t.kind);
    for t in s.targets.values() {
        out.push(read_statement(t.kind));
    }
    for f in &s.faults {
        let Some(k) = f.kind() else { continue };
        for t in k.targets().iter().filter_map(|t| type_of(t)) {
            out.push(lease_statement(t));
        }
        match k {
            FaultKind::Command(_) => {}
            FaultKind::Ec2Stop(_) => {
                out.push(stmt("StopStartInstances", &["ec2:StopInstances", "ec2:StartInstances"], true))
            }
            FaultKind::Ec2Reboot(_) => out.push(stmt("RebootInstances", &["ec2:RebootInstances"], true)),
            FaultKind::Ec2Terminate(_) => out.push(stmt("TerminateInstances", &["ec2:TerminateInstances"], true)),
            // The instance a volume goes back to may not carry the opt-in tag: no condition.
            FaultKind::EbsDetach(_) => {
                out.push(stmt("DetachAttachVolumes", &["ec2:DetachVolume", "ec2:AttachVolume"], false))
            }
            FaultKind::RdsFailover(_) => {
                out.push(stmt("FailOverDatabases", &["rds:FailoverDBCluster", "rds:RebootDBInstance"], true))
            }
            FaultKind::IamRevoke(x) => match type_of(&x.target) {
                Some(TargetType::IamUser) => {
                    out.push(stmt("DeactivateAccessKeys", &["iam:ListAccessKeys", "iam:UpdateAccessKey"], true))
                }
                _ => out.push(stmt(
                    "RevokeRoleSessions",
                    &["iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
                    true,
                )),
            },
            FaultKind::AzOutage(a) => {
                if a.network {
                    out.push(stmt("ZoneNetworkRead", &["ec2:DescribeNetworkAcls", "ec2:DescribeSubnets"], false));
                    // A new ACL has no tags to condition on; firedrill tags it at creation
                    // and only ever deletes the ACLs carrying its tag.
                    out.push(stmt(
                        "ZoneNetworkAcls",
                        &["ec2:CreateNetworkAcl", "ec2:ReplaceNetworkAclAssociation", "ec2:DeleteNetworkAcl"],
                        false,
                    ));
                    // AWS authorizes CreateNetworkAcl's TagSpecifications as ec2:CreateTags;
                    // only that use is allowed here, not tagging existing resources.
                    out.push(Stmt {
                        on_create: Some("CreateNetworkAcl"),
                        ..stmt("TagNewNetworkAcls", &["ec2:CreateTags"], false)
                    });
                }
                if a.stop_instances {
                    out.push(stmt("StopStartInstances", &["ec2:StopInstances", "ec2:StartInstances"], true));
                }
                if a.asg.is_some() {
                    out.push(stmt("ZoneGroupSubnets", &["autoscaling:UpdateAutoScalingGroup"], true));
                    out.push(stmt("ZoneGroupSubnetsRead", &["ec2:DescribeSubnets"], false));
                }
                if a.rds.is_some() {
                    out.push(stmt("FailOverDatabases", &["rds:FailoverDBCluster", "rds:RebootDBInstance"], true));
                }
            }
        }
    }
    for p in &s.steady_state {
        for k in p.kinds() {
            match k {
                ProbeKind::CloudWatchAlarm(_) => out.push(stmt("ReadAlarms", &["cloudwatch:DescribeAlarms"], false)),
                ProbeKind::AsgCapacity(_) => {
                    out.push(stmt("ReadGroups", &["autoscaling:DescribeAutoScalingGroups"], false))
                }
                ProbeKind::Ec2Running(_) => out.push(stmt("ReadInstances", &["ec2:DescribeInstances"], false)),
                ProbeKind::RdsStatus(_) => out.push(read_statement(TargetType::RdsCluster)),
                _ => {}
            }
        }
    }
    if s.abort.iter().any(|r| r.alarm.is_some()) {
        out.push(stmt("ReadAlarms", &["cloudwatch:DescribeAlarms"], false));
    }
    // One statement per purpose, its actions merged and sorted.
    let mut merged: BTreeMap<(&'static str, bool, Option<&'static str>), Vec<&'static str>> = BTreeMap::new();
    for st in out {
        let a = merged.entry((st.sid, st.tagged, st.on_create)).or_default();
        a.extend(st.actions);
        a.sort_unstable();
        a.dedup();
    }
    let merged: Vec<Stmt> = merged
        .into_iter()
        .map(|((sid, tagged, on_create), actions)| Stmt { sid, actions, tagged, on_create })
        .collect();
    grant_once(merged)
}

/// Grants each action once, so that every statement is needed: an action allowed with
/// fewer conditions elsewhere (untagged, or the same conditions in an earlier statement)
/// is dropped, and so is a statement left empty. Statements scoped to a create call are
/// never merged with others: their condition is of a different kind.
fn grant_once(statements: Vec<Stmt>) -> Vec<Stmt> {
    use std::collections::HashSet;
    let untagged: HashSet<&str> =
        statements.iter().filter(|s| !s.tagged && s.on_create.is_none()).flat_map(|s| s.actions.clone()).collect();
    let mut seen: HashSet<(&str, bool)> = HashSet::new();
    let mut out = Vec::new();
    for mut st in statements {
        if st.on_create.is_none() {
            st.actions.retain(|a| (!st.tagged || !untagged.contains(a)) && seen.insert((a, st.tagged)));
        }
        if !st.actions.is_empty() {
            out.push(st);
        }
    }
    out
}

/// The condition key that reads a resource's tag for an action's service.
fn tag_condition_key(action: &str, key: &str) -> String {
    let service = action.split(':').next().unwrap_or("aws");
    match service {
        "autoscaling" => format!("autoscaling:ResourceTag/{key}"),
        "iam" => format!("iam:ResourceTag/{key}"),
        _ => format!("aws:ResourceTag/{key}"),
    }
}

/// The policy document for `s`. Without `environment`, only what the scenario needs
/// outside AWS: nothing.
pub fn policy(s: &Scenario) -> Value {
    let Some(env) = &s.environment else {
        return json!({ "Version": "2012-10-17", "Statement": [] });
    };
    let region = &env.region;
    let statements: Vec<Value> = statements(s)
        .into_iter()
        .map(|st| {
            let mut v = json!({
                "Sid": st.sid,
                "Effect": "Allow",
                "Action": st.actions,
                "Resource": "*",
            });
            let mut cond = serde_json::Map::new();
            if st.tagged {
                // One key per service in the statement (they share one).
                let key = tag_condition_key(st.actions[0], &env.opt_in_tag.key);
                cond.insert("StringEquals".into(), json!({ key: env.opt_in_tag.value }));
            }
            if let Some(call) = st.on_create {
                cond.insert("StringEquals".into(), json!({ "ec2:CreateAction": call }));
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

    fn sids(p: &Value) -> Vec<String> {
        p["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn each_fault_adds_exactly_its_actions_with_the_opt_in_condition() {
        let p = policy(&scenario("  - name: stop\n    ec2_stop_instances: { target: web }\n    duration: 1m"));
        assert_eq!(
            sids(&p),
            ["LeaseEc2", "ReadAlarms", "ReadGroups", "ReadInstances", "ReadRoles", "ReadSubnets", "StopStartInstances"]
        );
        let stop = p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "StopStartInstances").unwrap();
        assert_eq!(stop["Action"], json!(["ec2:StartInstances", "ec2:StopInstances"]));
        assert_eq!(stop["Condition"]["StringEquals"]["aws:ResourceTag/firedrill"], "allowed");
        assert_eq!(stop["Condition"]["StringEquals"]["aws:RequestedRegion"], "us-east-1");
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
        assert_eq!(revoke["Condition"]["StringEquals"]["iam:ResourceTag/firedrill"], "allowed");
        assert!(revoke["Condition"]["StringEquals"].get("aws:RequestedRegion").is_none(), "IAM is global");
        let tag_new = p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "TagNewNetworkAcls").unwrap();
        assert_eq!(tag_new["Action"], json!(["ec2:CreateTags"]));
        assert_eq!(tag_new["Condition"]["StringEquals"]["ec2:CreateAction"], "CreateNetworkAcl");
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
}
