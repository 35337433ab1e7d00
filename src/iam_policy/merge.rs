//! One policy for several scenarios (`firedrill iam-policy A.yaml B.yaml …`), for a shared
//! CI role that runs them all. The merge grants exactly the union of what each scenario's
//! own policy grants, and nothing more: two statements of the same purpose (`Sid`) are
//! combined only when that adds no permission — the same effect, resources and condition
//! (their actions are united), or the same effect, actions and condition (their resources
//! are united). Statements of different purposes stay apart, so each `Sid` still says
//! what it is for (and one scenario's policy is printed as it is); a `Sid` that repeats
//! with other content gets a number. A leaf module: it reads policy documents, not
//! scenarios.

use serde_json::{Value, json};

/// The most characters (whitespace aside) a customer managed policy may have; an inline
/// role policy may have 10,240.
pub const MANAGED_POLICY_MAX_CHARS: usize = 6_144;

/// One statement being merged.
struct Merged {
    sid: String,
    effect: Value,
    actions: Vec<String>,
    resources: Resources,
    condition: Option<Value>,
}

#[derive(Clone, PartialEq, Eq)]
enum Resources {
    Any,
    Arns(Vec<String>),
}

impl Resources {
    fn of(v: &Value) -> Resources {
        match v {
            Value::Array(a) => {
                let mut arns: Vec<String> = a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
                arns.sort();
                arns.dedup();
                Resources::Arns(arns)
            }
            Value::String(s) if s == "*" => Resources::Any,
            Value::String(s) => Resources::Arns(vec![s.clone()]),
            _ => Resources::Arns(Vec::new()),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Resources::Any => json!("*"),
            Resources::Arns(a) => json!(a),
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The union of `policies` (each a `{"Version", "Statement": [...]}` document).
pub fn merge(policies: &[Value]) -> Value {
    let mut out: Vec<Merged> = Vec::new();
    for st in policies.iter().flat_map(|p| p["Statement"].as_array().into_iter().flatten()) {
        let next = Merged {
            sid: st["Sid"].as_str().unwrap_or("Statement").to_string(),
            effect: st["Effect"].clone(),
            actions: strings(&st["Action"]),
            resources: Resources::of(&st["Resource"]),
            condition: st.get("Condition").cloned(),
        };
        // Same effect, resources and condition: one statement with both actions.
        if let Some(m) = out.iter_mut().find(|m| {
            m.sid == next.sid
                && m.effect == next.effect
                && m.resources == next.resources
                && m.condition == next.condition
        }) {
            for a in next.actions {
                if !m.actions.contains(&a) {
                    m.actions.push(a);
                }
            }
            continue;
        }
        // Same effect, actions and condition on other resources: one statement on both.
        if let Resources::Arns(new) = &next.resources
            && let Some(m) = out.iter_mut().find(|m| {
                m.sid == next.sid
                    && m.effect == next.effect
                    && m.condition == next.condition
                    && sorted(m.actions.clone()) == sorted(next.actions.clone())
                    && matches!(m.resources, Resources::Arns(_))
            })
            && let Resources::Arns(arns) = &mut m.resources
        {
            arns.extend(new.iter().cloned());
            arns.sort();
            arns.dedup();
            continue;
        }
        out.push(next);
    }
    // Sids must be unique within a policy: a repeated one gets a number.
    let mut seen: Vec<String> = Vec::new();
    let statements: Vec<Value> = out
        .into_iter()
        .map(|m| {
            let mut sid = m.sid.clone();
            let mut n = 2;
            while seen.contains(&sid) {
                sid = format!("{}{n}", m.sid);
                n += 1;
            }
            seen.push(sid.clone());
            let mut v =
                json!({ "Sid": sid, "Effect": m.effect, "Action": m.actions, "Resource": m.resources.to_json() });
            if let Some(c) = m.condition {
                v["Condition"] = c;
            }
            v
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The policy's size as IAM counts it: its JSON without whitespace.
pub fn size(policy: &Value) -> usize {
    policy.to_string().chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `(effect, action, resource, condition)` a policy grants.
    fn grants(p: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for st in p["Statement"].as_array().unwrap() {
            let resources = match &st["Resource"] {
                Value::String(s) => vec![s.clone()],
                v => strings(v),
            };
            for a in strings(&st["Action"]) {
                for r in &resources {
                    out.push(format!("{} {a} {r} {}", st["Effect"], st.get("Condition").unwrap_or(&Value::Null)));
                }
            }
        }
        sorted(out)
    }

    fn st(sid: &str, actions: &[&str], resource: Value, condition: Option<Value>) -> Value {
        let mut v = json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource});
        if let Some(c) = condition {
            v["Condition"] = c;
        }
        v
    }

    fn policy(statements: Vec<Value>) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    #[test]
    fn the_merge_grants_exactly_the_union() {
        let region = json!({"StringEquals": {"aws:RequestedRegion": "us-east-1"}});
        let tagged =
            json!({"StringEquals": {"aws:ResourceTag/firedrill": "allowed", "aws:RequestedRegion": "us-east-1"}});
        let a = policy(vec![
            st("Read", &["ec2:DescribeInstances"], json!("*"), Some(region.clone())),
            st(
                "Stop",
                &["ec2:StopInstances", "ec2:StartInstances"],
                json!(["arn:aws:ec2:us-east-1:1:instance/*"]),
                Some(tagged.clone()),
            ),
            st("Revoke", &["iam:PutRolePolicy"], json!(["arn:aws:iam::1:role/app"]), None),
        ]);
        let b = policy(vec![
            st("Read", &["ec2:DescribeVolumes", "ec2:DescribeInstances"], json!("*"), Some(region.clone())),
            st("Revoke", &["iam:PutRolePolicy"], json!(["arn:aws:iam::1:role/worker"]), None),
            // Same resources, another condition: never combined (that would widen it).
            st("Stop", &["ec2:StopInstances"], json!(["arn:aws:ec2:us-east-1:1:instance/*"]), Some(region.clone())),
            // Another purpose on the same resources: kept apart, so its Sid still says it.
            st("Lease", &["ec2:CreateTags"], json!(["arn:aws:ec2:us-east-1:1:instance/*"]), Some(tagged.clone())),
        ]);
        let m = merge(&[a.clone(), b.clone()]);
        let mut union = grants(&a);
        union.extend(grants(&b));
        assert_eq!(grants(&m), sorted(union), "{m:#}");
        let sts = m["Statement"].as_array().unwrap();
        assert_eq!(sts.len(), 5, "{m:#}");
        assert_eq!(sts[0]["Action"], json!(["ec2:DescribeInstances", "ec2:DescribeVolumes"]));
        assert_eq!(sts[2]["Resource"], json!(["arn:aws:iam::1:role/app", "arn:aws:iam::1:role/worker"]));
        let sids: Vec<&str> = sts.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert_eq!(sids, ["Read", "Stop", "Revoke", "Stop2", "Lease"]);
    }

    #[test]
    fn one_policy_merges_into_itself_and_sizes_count_no_whitespace() {
        let p = policy(vec![st("Read", &["ec2:DescribeInstances"], json!("*"), None)]);
        assert_eq!(merge(std::slice::from_ref(&p)), p);
        assert_eq!(merge(&[p.clone(), p.clone()]), p);
        assert_eq!(size(&p), p.to_string().len());
        assert_eq!(merge(&[]), policy(vec![]));
    }
}
