//! `service_outage` and `region_outage`: for the application's roles, an inline policy
//! that explicitly denies the listed actions or services (`service_outage`), or every
//! action in a region but the listed exceptions (`region_outage`, `NotAction`). An
//! identity policy's explicit deny applies to the role's old and new sessions alike, so
//! the application sees AWS fail as it would in an outage. The policy is named per run and
//! fault ([`deny_policy_name`]), so it never replaces one of the role's own policies;
//! the role names it in an undo tag (`firedrill:undo:deny:<fault>`) before it is put.
//! Revert deletes exactly that policy (already gone is fine).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ec2::failed;
use super::step::{ScheduledCall, Step, client};
use super::{AwsFaultCtx, FaultContext};
use crate::aws::Aws;
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Stmt, stmt, target_res};
use crate::scenario::validate::{Problem, Scope, problem};
use crate::scenario::{Target, TargetType};
use crate::state::journal::UndoRecord;
use crate::tags::{UNDO_DENY_PREFIX, fields};
use crate::targets::Resolution;
use crate::util::console::quote;

/// Undo kind: delete the deny policy of a `service_outage` or `region_outage`.
pub const DELETE_DENY: &str = "iam_delete_deny_policy";

/// `service_outage`.
pub struct ServiceOutage;
/// `region_outage`.
pub struct RegionOutage;

/// `service_outage`: the roles of an `iam:role` target are explicitly denied the listed
/// actions (`ses:SendEmail`) or whole services (`ses:*`), optionally only in some regions.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceOutageFault {
    /// An `iam:role` target: the application's roles.
    pub target: String,
    /// The actions denied: `service:Action` or `service:*` (wildcards within the action
    /// name allowed, a bare `*` is not: that is `region_outage`).
    pub actions: Vec<String>,
    /// Deny only requests to these regions (`aws:RequestedRegion`); every region when
    /// absent. An empty list is an error, never "every region".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
}

/// `region_outage`: the roles of an `iam:role` target are denied every action in a
/// region (`aws:RequestedRegion`), except the listed ones (keep the pager reachable).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionOutageFault {
    /// An `iam:role` target: the application's roles.
    pub target: String,
    /// The region that is "down" for the roles, e.g. `us-east-1`.
    pub region: String,
    /// Actions still allowed in the region: `service:Action` or `service:*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
}

/// Whether `a` is an IAM action pattern firedrill accepts: `service:Action`, where the
/// service is lowercase letters, digits and `-`, and the action letters, digits and `*`
/// (so `service:*` is allowed, a bare `*` is not).
pub fn valid_action(a: &str) -> bool {
    let Some((service, action)) = a.split_once(':') else { return false };
    !service.is_empty()
        && service.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !action.is_empty()
        && action.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*')
}

/// Whether `r` looks like a region name (`us-east-1`, `eu-central-2`, `us-gov-west-1`).
pub fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn check_actions(list: &[String], at: &str, field: &str, required: bool) -> Vec<Problem> {
    let mut out = Vec::new();
    if required && list.is_empty() {
        out.push(problem(format!("{at}.{field}"), "list at least one action (`service:Action` or `service:*`)"));
    }
    for (i, a) in list.iter().enumerate() {
        let why = if a == "*" && required {
            "a bare `*` denies everything: use `region_outage` for that".to_string()
        } else if a == "*" {
            "a bare `*` in `except` would leave the region reachable: list the actions to keep".to_string()
        } else if !valid_action(a) {
            format!("{a:?} is not an action: write `service:Action` or `service:*` (e.g. `ses:SendEmail`)")
        } else {
            continue;
        };
        out.push(problem(format!("{at}.{field}[{i}]"), why));
    }
    out
}

/// The deny policy alone passes IAM's limit on a role's inline policies: at `at.field`
/// (the list that makes it long).
fn size_problem(document: &str, at: &str, field: &str) -> Option<Problem> {
    let size = super::iam::inline_size(document);
    let limit = super::iam::ROLE_INLINE_LIMIT;
    (size > limit).then(|| {
        problem(
            format!("{at}.{field}"),
            format!(
                "the deny policy would be {size} characters, more than the {limit} IAM allows a role's inline policies all together: list fewer actions (`service:*` covers a whole service)"
            ),
        )
    })
}

fn check_region(r: &str, path: String) -> Option<Problem> {
    (!valid_region(r)).then(|| problem(path, format!("{r:?} is not a region name (e.g. `us-east-1`)")))
}

/// The inline policy's name for one fault of one run: `firedrill-deny-<run>-<fault>`, or,
/// when that passes IAM's 128 characters, its head and a hash of the whole name (so two
/// faults never share one).
pub fn deny_policy_name(run_id: &str, fault: &str) -> String {
    let full = format!("firedrill-deny-{run_id}-{fault}");
    if full.len() <= 128 {
        return full;
    }
    let hash: String = Sha256::digest(full.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
    let head: String = full.chars().take(128 - 1 - hash.len()).collect();
    format!("{head}-{hash}")
}

/// The undo tag a role carries for fault `fault`: `firedrill:undo:deny:<fault>`.
pub fn deny_tag(fault: &str) -> String {
    format!("{UNDO_DENY_PREFIX}{fault}")
}

/// The `aws:RequestedRegion` condition for `regions`.
fn in_regions(regions: &[String]) -> Value {
    json!({"StringEquals": {"aws:RequestedRegion": regions}})
}

/// The deny policy of a `service_outage`.
pub fn service_document(x: &ServiceOutageFault) -> String {
    let mut s = json!({
        "Sid": "FiredrillServiceOutage",
        "Effect": "Deny",
        "Action": x.actions,
        "Resource": "*",
    });
    if let Some(regions) = &x.regions {
        s["Condition"] = in_regions(regions);
    }
    json!({"Version": "2012-10-17", "Statement": [s]}).to_string()
}

/// The deny policy of a `region_outage`: every action (or every action but the
/// exceptions, as `NotAction`) requested in the region.
pub fn region_document(x: &RegionOutageFault) -> String {
    let mut s = json!({
        "Sid": "FiredrillRegionOutage",
        "Effect": "Deny",
        "Resource": "*",
        "Condition": in_regions(std::slice::from_ref(&x.region)),
    });
    if x.except.is_empty() {
        s["Action"] = json!("*");
    } else {
        s["NotAction"] = json!(x.except);
    }
    json!({"Version": "2012-10-17", "Statement": [s]}).to_string()
}

fn role_statements(targets: &[&Target]) -> Vec<Stmt> {
    targets
        .iter()
        .filter(|t| t.kind == TargetType::IamRole)
        .map(|t| {
            stmt(
                "DenyRoleActions",
                &["iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
                target_res(t),
                true,
            )
        })
        .collect()
}

fn revert_line() -> String {
    "revert: delete exactly that inline policy (already gone is fine)".into()
}

impl super::Kind for ServiceOutage {
    const KEY: &'static str = "service_outage";
    type Config = ServiceOutageFault;
    const TARGET_TYPES: &'static [TargetType] = &[TargetType::IamRole];

    fn targets(x: &ServiceOutageFault) -> Vec<(String, &str)> {
        vec![("target".into(), &x.target)]
    }

    fn regions(x: &ServiceOutageFault) -> Vec<(String, &str)> {
        let regions = x.regions.as_deref().unwrap_or_default();
        regions.iter().enumerate().map(|(i, r)| (format!("regions[{i}]"), r.as_str())).collect()
    }

    fn validate(x: &ServiceOutageFault, at: &str, _: &Scope<'_>) -> Vec<Problem> {
        let mut out = check_actions(&x.actions, at, "actions", true);
        match &x.regions {
            Some(regions) if regions.is_empty() => out.push(problem(
                format!("{at}.regions"),
                "list at least one region, or leave `regions` out to deny the actions in every region",
            )),
            Some(regions) => out
                .extend(regions.iter().enumerate().filter_map(|(i, r)| check_region(r, format!("{at}.regions[{i}]")))),
            None => {}
        }
        out.extend(size_problem(&service_document(x), at, "actions"));
        out
    }

    fn iam(_: &ServiceOutageFault, targets: &[&Target]) -> Vec<Stmt> {
        role_statements(targets)
    }

    fn describe(x: &ServiceOutageFault, ids: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        let r#where =
            x.regions.as_ref().map_or_else(|| "in every region".to_string(), |r| format!("in {}", r.join(", ")));
        vec![
            format!(
                "inject: deny {} {where} to role(s) {} (an inline deny policy, old and new sessions alike)",
                x.actions.join(", "),
                ids(&x.target)
            ),
            revert_line(),
        ]
    }

    fn build(fault: &str, x: &ServiceOutageFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (ctx, res) = ctx.aws()?;
        let what = format!("deny {}", x.actions.join(", "));
        let ids = res.ids(&x.target);
        Some(Arc::new(Injector { ctx, fault: fault.to_string(), ids, document: service_document(x), what }))
    }
}

impl super::Kind for RegionOutage {
    const KEY: &'static str = "region_outage";
    type Config = RegionOutageFault;
    const TARGET_TYPES: &'static [TargetType] = &[TargetType::IamRole];

    fn targets(x: &RegionOutageFault) -> Vec<(String, &str)> {
        vec![("target".into(), &x.target)]
    }

    fn regions(x: &RegionOutageFault) -> Vec<(String, &str)> {
        vec![("region".into(), &x.region)]
    }

    fn validate(x: &RegionOutageFault, at: &str, _: &Scope<'_>) -> Vec<Problem> {
        let mut out: Vec<Problem> = check_region(&x.region, format!("{at}.region")).into_iter().collect();
        out.extend(check_actions(&x.except, at, "except", false));
        out.extend(size_problem(&region_document(x), at, "except"));
        out
    }

    fn iam(_: &RegionOutageFault, targets: &[&Target]) -> Vec<Stmt> {
        role_statements(targets)
    }

    fn describe(x: &RegionOutageFault, ids: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        let except = if x.except.is_empty() { String::new() } else { format!(" except {}", x.except.join(", ")) };
        vec![
            format!(
                "inject: deny every action in {}{except} to role(s) {} (an inline deny policy, old and new sessions alike)",
                x.region,
                ids(&x.target)
            ),
            revert_line(),
        ]
    }

    fn build(fault: &str, x: &RegionOutageFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (ctx, res) = ctx.aws()?;
        let what = format!("deny every action in {}", x.region);
        let ids = res.ids(&x.target);
        Some(Arc::new(Injector { ctx, fault: fault.to_string(), ids, document: region_document(x), what }))
    }
}

/// Puts one deny policy on each role.
pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub fault: String,
    pub ids: Vec<String>,
    pub document: String,
    /// What the policy denies, in words, for the journal.
    pub what: String,
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        let aws = &self.ctx.aws;
        let name = deny_policy_name(&self.ctx.run_id, &self.fault);
        let tag = deny_tag(&self.fault);
        for id in &self.ids {
            let d = DenyData { role: id.clone(), policy: name.clone(), tag: tag.clone() };
            let undo =
                d.record(Some(aws.region()), format!("delete inline policy {name} ({}) from role {id}", self.what));
            let value = (tag.clone(), fields(&self.ctx.run_id, &[aws.region()]));
            put_role_policy(aws, intents, id, &name, undo, value, || self.document.clone()).await?;
        }
        Ok(())
    }
}

/// Puts firedrill's inline policy `name` (its text from `document`) on `role`, as
/// `service_outage`, `region_outage` and `iam_revoke_credentials` do: refused when the
/// role already has a policy of that name (firedrill never replaces one of its own); the
/// `undo` record is journaled, then the role is tagged with `tag` naming the policy
/// (inline policies have no tags), then the policy is put.
pub(super) async fn put_role_policy(
    aws: &Aws,
    intents: &dyn Intents,
    role: &str,
    name: &str,
    undo: UndoRecord,
    tag: (String, String),
    document: impl FnOnce() -> String + Send,
) -> Result<(), FaultError> {
    if aws.role_policy(role, name).await.map_err(failed)?.is_some() {
        return Err(FaultError::Refused(format!(
            "role {role} already has an inline policy named {name}; firedrill will not replace it"
        )));
    }
    intents.intent(undo).await?;
    aws.tag_all("", TargetType::IamRole, &[role.to_string()], &[tag]).await.map_err(failed)?;
    aws.put_role_policy(role, name, &document()).await.map_err(|e| super::iam::put_failed(role, e))?;
    Ok(())
}

/// Undo step: delete the deny policy of a `service_outage` or `region_outage` from the
/// role, then its undo tag. `iam_revoke_credentials`' policy is undone by it too
/// ([`super::iam::PolicyData`], whose tag is always `firedrill:undo:revoke`).
#[derive(Serialize, Deserialize)]
pub struct DenyData {
    pub role: String,
    pub policy: String,
    /// The role's undo tag for it.
    pub tag: String,
}

#[async_trait]
impl Step for DenyData {
    const KEY: &'static str = DELETE_DENY;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        let aws = client(aws)?;
        aws.delete_role_policy(&self.role, &self.policy).await.map_err(failed)?;
        aws.forget(TargetType::IamRole, std::slice::from_ref(&self.role), std::slice::from_ref(&self.tag)).await;
        Ok(())
    }

    fn manual_fix(&self, _: &str) -> Option<String> {
        Some(format!(
            "aws iam delete-role-policy --role-name {} --policy-name {}",
            quote(&self.role),
            quote(&self.policy)
        ))
    }

    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        BTreeMap::from([(TargetType::IamRole, vec![self.role.clone()])])
    }

    fn scheduled(&self) -> Vec<ScheduledCall> {
        let input = json!({"RoleName": self.role, "PolicyName": self.policy});
        vec![ScheduledCall::new("iam", "deleteRolePolicy", input)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Kind;

    fn scope() -> Scope<'static> {
        static EMPTY: std::sync::OnceLock<BTreeMap<String, Target>> = std::sync::OnceLock::new();
        Scope { targets: EMPTY.get_or_init(BTreeMap::new), region: Some("us-east-1"), accounts: &[] }
    }

    fn paths(ps: Vec<Problem>) -> Vec<(String, String)> {
        ps.into_iter().map(|p| (p.path, p.message)).collect()
    }

    /// A deny policy that alone would pass IAM's 10,240 characters for a role's inline
    /// policies is an error at validate, at the list that makes it long.
    #[test]
    fn a_deny_policy_larger_than_iams_limit_is_an_error_at_its_list() {
        let many = |n: usize| -> Vec<String> { (0..n).map(|i| format!("ec2:DescribeSomething{i:04}")).collect() };
        let fits = ServiceOutageFault { target: "t".into(), actions: many(300), regions: None };
        assert!(crate::faults::iam::inline_size(&service_document(&fits)) < crate::faults::iam::ROLE_INLINE_LIMIT);
        assert_eq!(paths(ServiceOutage::validate(&fits, "f", &scope())), vec![]);
        let over = ServiceOutageFault { target: "t".into(), actions: many(400), regions: None };
        let p = paths(ServiceOutage::validate(&over, "f", &scope()));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "f.actions");
        assert!(p[0].1.contains("more than the 10240 IAM allows"), "{p:?}");
        let region = RegionOutageFault { target: "t".into(), region: "us-east-1".into(), except: many(400) };
        let p = paths(RegionOutage::validate(&region, "f", &scope()));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "f.except");
    }

    /// Actions are `service:Action` or `service:*`, never empty nor a bare `*`; regions
    /// look like regions; each problem names its field.
    #[test]
    fn actions_and_regions_are_checked_by_field() {
        let ok = ServiceOutageFault {
            target: "app".into(),
            actions: vec!["ses:SendEmail".into(), "sqs:*".into(), "s3:Get*".into()],
            regions: Some(vec!["us-east-1".into(), "us-gov-west-1".into()]),
        };
        assert!(ServiceOutage::validate(&ok, "faults[0].service_outage", &scope()).is_empty());
        let bad = ServiceOutageFault {
            target: "app".into(),
            actions: vec!["*".into(), "SendEmail".into(), "ses:".into(), "ses:Send Email".into(), "SES:Send".into()],
            regions: Some(vec!["useast1".into()]),
        };
        let got = paths(ServiceOutage::validate(&bad, "f.service_outage", &scope()));
        let at: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            at,
            [
                "f.service_outage.actions[0]",
                "f.service_outage.actions[1]",
                "f.service_outage.actions[2]",
                "f.service_outage.actions[3]",
                "f.service_outage.actions[4]",
                "f.service_outage.regions[0]"
            ]
        );
        assert!(got[0].1.contains("use `region_outage`"), "{got:?}");
        assert!(got[1].1.contains("\"SendEmail\" is not an action"), "{got:?}");
        let empty = ServiceOutageFault { target: "app".into(), actions: vec![], regions: None };
        assert_eq!(
            paths(ServiceOutage::validate(&empty, "f", &scope())),
            [("f.actions".to_string(), "list at least one action (`service:Action` or `service:*`)".to_string())]
        );
        // An empty allow-list never widens the fault to every region.
        let nowhere =
            ServiceOutageFault { target: "app".into(), actions: vec!["ses:SendEmail".into()], regions: Some(vec![]) };
        assert_eq!(
            paths(ServiceOutage::validate(&nowhere, "f", &scope())),
            [(
                "f.regions".to_string(),
                "list at least one region, or leave `regions` out to deny the actions in every region".to_string()
            )]
        );
        let region = RegionOutageFault { target: "app".into(), region: "mars".into(), except: vec!["*".into()] };
        let at: Vec<String> = paths(RegionOutage::validate(&region, "r", &scope())).into_iter().map(|p| p.0).collect();
        assert_eq!(at, ["r.region", "r.except[0]"]);
        let why = paths(RegionOutage::validate(&region, "r", &scope())).remove(1).1;
        assert!(why.contains("would leave the region reachable"), "{why}");
        let fine = RegionOutageFault { target: "app".into(), region: "eu-west-1".into(), except: vec![] };
        assert!(RegionOutage::validate(&fine, "r", &scope()).is_empty());
    }

    #[test]
    fn the_service_policy_denies_the_actions_in_the_regions_listed() {
        let x = ServiceOutageFault { target: "t".into(), actions: vec!["ses:SendEmail".into()], regions: None };
        let doc: Value = serde_json::from_str(&service_document(&x)).unwrap();
        assert_eq!(
            doc["Statement"][0],
            json!({"Sid": "FiredrillServiceOutage", "Effect": "Deny", "Action": ["ses:SendEmail"], "Resource": "*"})
        );
        let x = ServiceOutageFault { regions: Some(vec!["us-east-1".into()]), ..x };
        let doc: Value = serde_json::from_str(&service_document(&x)).unwrap();
        assert_eq!(doc["Statement"][0]["Condition"], json!({"StringEquals": {"aws:RequestedRegion": ["us-east-1"]}}));
    }

    #[test]
    fn the_region_policy_denies_everything_in_the_region_but_the_exceptions() {
        let x = RegionOutageFault { target: "t".into(), region: "us-east-1".into(), except: vec![] };
        let doc: Value = serde_json::from_str(&region_document(&x)).unwrap();
        let s = &doc["Statement"][0];
        assert_eq!((&s["Effect"], &s["Action"], &s["NotAction"]), (&json!("Deny"), &json!("*"), &Value::Null));
        assert_eq!(s["Condition"], json!({"StringEquals": {"aws:RequestedRegion": ["us-east-1"]}}));
        let x = RegionOutageFault { except: vec!["sns:Publish".into(), "cloudwatch:*".into()], ..x };
        let doc: Value = serde_json::from_str(&region_document(&x)).unwrap();
        let s = &doc["Statement"][0];
        assert_eq!((&s["Action"], &s["NotAction"]), (&Value::Null, &json!(["sns:Publish", "cloudwatch:*"])));
    }

    /// Each fault of a run gets its own policy, within IAM's 128 characters, even when a
    /// long run id and fault name would share a truncated head.
    #[test]
    fn policy_names_are_per_run_and_fault_and_fit_iam() {
        assert_eq!(
            deny_policy_name("20261201T100000Z-shop-00ab", "ses-down"),
            "firedrill-deny-20261201T100000Z-shop-00ab-ses-down"
        );
        let run = format!("20261201T100000Z-{}-00ab", "s".repeat(64));
        let a = deny_policy_name(&run, &format!("{}-a", "f".repeat(60)));
        let b = deny_policy_name(&run, &format!("{}-b", "f".repeat(60)));
        assert!(a.len() <= 128 && b.len() <= 128, "{a} {b}");
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')), "{a}");
        assert_eq!(deny_tag("ses-down"), "firedrill:undo:deny:ses-down");
    }

    #[test]
    fn plan_lines_say_what_is_denied_where() {
        let ids = |t: &str| format!("target `{t}`");
        let x = ServiceOutageFault {
            target: "app".into(),
            actions: vec!["ses:SendEmail".into(), "ses:SendRawEmail".into()],
            regions: Some(vec!["us-east-1".into()]),
        };
        assert_eq!(
            ServiceOutage::describe(&x, &ids, None),
            [
                "inject: deny ses:SendEmail, ses:SendRawEmail in us-east-1 to role(s) target `app` (an inline deny policy, old and new sessions alike)",
                "revert: delete exactly that inline policy (already gone is fine)"
            ]
        );
        let r =
            RegionOutageFault { target: "app".into(), region: "us-east-1".into(), except: vec!["sns:Publish".into()] };
        assert_eq!(
            RegionOutage::describe(&r, &ids, None)[0],
            "inject: deny every action in us-east-1 except sns:Publish to role(s) target `app` (an inline deny policy, old and new sessions alike)"
        );
    }
}
