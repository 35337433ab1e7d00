//! `iam_revoke_credentials`: for a role, an inline policy that denies everything to
//! sessions issued before the injection (`aws:TokenIssueTime`, what the console's "revoke
//! active sessions" does); for a user, its active access keys are deactivated. Revert
//! deletes the policy, or reactivates exactly the keys that were deactivated.

use std::collections::BTreeMap;
use std::time::SystemTime;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use std::sync::Arc;

use super::ec2::failed;
use super::outage::{DenyData, put_role_policy};
use super::step::{ScheduledCall, Step, client};
use super::{AwsFaultCtx, FaultContext};
use crate::aws::Aws;
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Stmt, stmt, target_res};
use crate::scenario::{Target, TargetType};
use crate::tags::{UNDO_KEYS, UNDO_REVOKE, fields};
use crate::targets::{Resolution, Resource};
use crate::util::console::quote;

pub const DELETE_POLICY: &str = "iam_delete_role_policy";
pub const REACTIVATE: &str = "iam_reactivate_access_keys";

/// `iam_revoke_credentials`.
pub struct Revoke;

/// `iam_revoke_credentials`: a role's sessions issued before the injection are denied
/// everything (an inline policy); a user's active access keys are deactivated.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamRevokeFault {
    /// An `iam:role` or `iam:user` target.
    pub target: String,
}

impl super::Kind for Revoke {
    const KEY: &'static str = "iam_revoke_credentials";
    type Config = IamRevokeFault;
    const TARGET_TYPES: &'static [TargetType] = &[TargetType::IamRole, TargetType::IamUser];

    fn targets(x: &IamRevokeFault) -> Vec<(String, &str)> {
        vec![("target".into(), &x.target)]
    }

    fn iam(_: &IamRevokeFault, targets: &[&Target]) -> Vec<Stmt> {
        targets
            .iter()
            .filter_map(|t| match t.kind {
                TargetType::IamUser => Some(stmt(
                    "DeactivateAccessKeys",
                    &["iam:ListAccessKeys", "iam:UpdateAccessKey"],
                    target_res(t),
                    true,
                )),
                TargetType::IamRole => Some(stmt(
                    "RevokeRoleSessions",
                    &["iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
                    target_res(t),
                    true,
                )),
                _ => None,
            })
            .collect()
    }

    fn describe(x: &IamRevokeFault, ids: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        vec![
            format!(
                "inject: revoke credentials of {} (role: deny sessions issued before now; user: deactivate active keys)",
                ids(&x.target)
            ),
            "revert: delete the deny policy / reactivate exactly those keys".into(),
        ]
    }

    fn no_effect(_: &str, x: &IamRevokeFault, res: &Resolution) -> Option<String> {
        let t = res.targets.get(&x.target)?;
        no_active_keys(t.kind, &t.resources, &x.target)
    }

    fn build(_: &str, x: &IamRevokeFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (ctx, res) = ctx.aws()?;
        let kind = res.targets.get(&x.target).map_or(TargetType::IamRole, |t| t.kind);
        Some(Arc::new(Injector { ctx, kind, ids: res.ids(&x.target) }))
    }
}

/// Why revoking would change nothing: a user target whose selected users have no active
/// access key (`active_keys`, counted when the target was resolved). A role always gets
/// the deny policy.
pub fn no_active_keys(kind: TargetType, rs: &[Resource], target: &str) -> Option<String> {
    if kind != TargetType::IamUser {
        return None;
    }
    let active = |r: &Resource| r.attrs.get("active_keys").is_none_or(|n| n != "0");
    if rs.iter().any(active) {
        return None;
    }
    if rs.is_empty() {
        return Some(format!("target `{target}` selected no user: nothing to revoke"));
    }
    let ids: Vec<String> = rs.iter().map(|r| r.id.clone()).collect();
    Some(format!(
        "user(s) {} of target `{target}` have no active access key: nothing to revoke",
        super::ec2::list(&ids)
    ))
}

pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub kind: TargetType,
    pub ids: Vec<String>,
}

/// IAM's limit on a role's inline policies, all together: 10,240 characters, whitespace
/// not counted.
pub const ROLE_INLINE_LIMIT: usize = 10_240;

/// A policy document's size as IAM counts it against [`ROLE_INLINE_LIMIT`]: its
/// characters but whitespace, once URL-decoded (IAM answers `GetRolePolicy` with the
/// document URL-encoded).
pub fn inline_size(document: &str) -> usize {
    url_decode(document).chars().filter(|c| !c.is_whitespace()).count()
}

/// `%XX` sequences decoded (`+` is not a space in IAM's encoding); a malformed one is
/// kept as it is.
fn url_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why `role` cannot take `adding` more characters of inline policy: its inline
/// policies (read: `ListRolePolicies`, `GetRolePolicy`) and firedrill's would pass
/// [`ROLE_INLINE_LIMIT`]. `None` when they fit.
pub async fn inline_room(
    aws: &Aws,
    role: &str,
    adding: usize,
    what: &str,
) -> Result<Option<String>, crate::aws::AwsError> {
    let mut existing = 0;
    for name in aws.role_policy_names(role).await? {
        if let Some(doc) = aws.role_policy(role, &name).await? {
            existing += inline_size(&doc);
        }
    }
    Ok((existing + adding > ROLE_INLINE_LIMIT).then(|| {
        format!(
            "role {role}'s inline policies ({existing} characters) and {what} ({adding}) make {}, more than IAM's \
             {ROLE_INLINE_LIMIT} per role (whitespace not counted): AWS would refuse the policy",
            existing + adding
        )
    }))
}

/// The inject-time refusal of a deny policy IAM would not take (`LimitExceeded`: the
/// role's inline policies would pass their size limit), in the user's terms.
pub fn put_failed(role: &str, e: crate::aws::AwsError) -> FaultError {
    if e.code.as_deref().is_some_and(|c| c.contains("LimitExceeded")) {
        return FaultError::Failed(format!(
            "IAM refused firedrill's deny policy on role {role}: the role's inline policies would pass IAM's \
             {ROLE_INLINE_LIMIT}-character limit per role ({}); nothing was put, and the role's undo tag is removed by the revert",
            e.message
        ));
    }
    failed(e)
}

/// The plan-time check of the deny policies firedrill puts on roles
/// (`iam_revoke_credentials` on roles, `service_outage`, `region_outage`): each selected
/// role's own inline policies and every deny policy the scenario puts on it must fit
/// [`ROLE_INLINE_LIMIT`]. Refusals (exit 7); a role whose policies cannot be read is one
/// too (the plan says which).
pub async fn plan_refusals(aws: &Aws, s: &crate::scenario::Scenario, res: &Resolution) -> Vec<String> {
    use super::FaultKind;
    // Per role: the characters of every deny policy the scenario puts on it, and by which faults.
    let mut adding: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    for f in &s.faults {
        let (target, size) = match &f.kind {
            FaultKind::IamRevoke(x) => (&x.target, inline_size(&deny_before(SystemTime::now()))),
            FaultKind::ServiceOutage(x) => (&x.target, inline_size(&super::outage::service_document(x))),
            FaultKind::RegionOutage(x) => (&x.target, inline_size(&super::outage::region_document(x))),
            _ => continue,
        };
        let Some(t) = res.targets.get(target).filter(|t| t.kind == TargetType::IamRole) else { continue };
        for r in &t.resources {
            let e = adding.entry(r.id.clone()).or_default();
            e.0 += size;
            e.1.push(format!("`{}`", f.name));
        }
    }
    let mut out = Vec::new();
    for (role, (size, faults)) in adding {
        let what = format!("the deny policies of fault(s) {}", faults.join(", "));
        match inline_room(aws, &role, size, &what).await {
            Ok(Some(why)) => out.push(why),
            Ok(None) => {}
            Err(e) => out.push(format!(
                "cannot read the inline policies of role {role}, which must fit IAM's size limit with {what}: {e}"
            )),
        }
    }
    out
}

/// The inline policy's name for a run: unique, so an existing policy is never replaced.
pub fn policy_name(run_id: &str) -> String {
    let mut name = format!("firedrill-revoke-{run_id}");
    name.truncate(128);
    name
}

pub fn deny_before(issued_before: SystemTime) -> String {
    let t = humantime::format_rfc3339_seconds(issued_before).to_string();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "FiredrillRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": t}}
        }]
    })
    .to_string()
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        let aws = &self.ctx.aws;
        for id in &self.ids {
            if self.kind == TargetType::IamRole {
                let name = policy_name(&self.ctx.run_id);
                let undo = PolicyData { role: id.clone(), policy: name.clone() }
                    .record(Some(aws.region()), format!("delete inline policy {name} from role {id}"));
                let tag = (UNDO_REVOKE.to_string(), fields(&self.ctx.run_id, &[aws.region(), &name]));
                put_role_policy(aws, intents, id, &name, undo, tag, || deny_before(SystemTime::now())).await?;
            } else {
                let keys = aws.access_keys(id).await.map_err(failed)?;
                let active: Vec<String> = keys.into_iter().filter(|k| k.status == "Active").map(|k| k.id).collect();
                if active.is_empty() {
                    continue;
                }
                intents
                    .intent(KeysData { user: id.clone(), keys: active.clone() }.record(
                        Some(aws.region()),
                        format!("reactivate access keys {} of user {id}", active.join(", ")),
                    ))
                    .await?;
                let mut value = vec![aws.region()];
                value.extend(active.iter().map(String::as_str));
                let tag = (UNDO_KEYS.to_string(), fields(&self.ctx.run_id, &value));
                aws.tag_all("", TargetType::IamUser, std::slice::from_ref(id), &[tag]).await.map_err(failed)?;
                for k in &active {
                    aws.set_access_key_status(id, k, false).await.map_err(failed)?;
                }
            }
        }
        Ok(())
    }
}

/// Undo step: delete firedrill's deny policy from the role, then its undo tag. The same
/// undo as an outage fault's deny policy ([`DenyData`]) with the tag this fault uses; only
/// its record (kind and data) is its own.
#[derive(Serialize, Deserialize)]
pub struct PolicyData {
    pub role: String,
    pub policy: String,
}

impl PolicyData {
    fn deny(&self) -> DenyData {
        DenyData { role: self.role.clone(), policy: self.policy.clone(), tag: UNDO_REVOKE.into() }
    }
}

#[async_trait]
impl Step for PolicyData {
    const KEY: &'static str = DELETE_POLICY;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        self.deny().undo(aws).await
    }

    fn manual_fix(&self, region: &str) -> Option<String> {
        self.deny().manual_fix(region)
    }

    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        self.deny().touched()
    }

    fn scheduled(&self) -> Vec<ScheduledCall> {
        self.deny().scheduled()
    }
}

/// Undo step: reactivate exactly the access keys firedrill deactivated.
#[derive(Serialize, Deserialize)]
pub struct KeysData {
    pub user: String,
    pub keys: Vec<String>,
}

#[async_trait]
impl Step for KeysData {
    const KEY: &'static str = REACTIVATE;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        undo_keys(client(aws)?, self).await
    }

    fn manual_fix(&self, _: &str) -> Option<String> {
        let user = quote(&self.user);
        let each = self.keys.iter().map(|k| {
            format!("aws iam update-access-key --user-name {user} --access-key-id {} --status Active", quote(k))
        });
        Some(each.collect::<Vec<_>>().join(" && "))
    }

    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        BTreeMap::from([(TargetType::IamUser, vec![self.user.clone()])])
    }

    fn scheduled(&self) -> Vec<ScheduledCall> {
        let each = |k: &String| serde_json::json!({"UserName": self.user, "AccessKeyId": k, "Status": "Active"});
        self.keys.iter().map(|k| ScheduledCall::new("iam", "updateAccessKey", each(k))).collect()
    }
}

async fn undo_keys(aws: &Aws, d: &KeysData) -> Result<(), FaultError> {
    let now = aws.access_keys(&d.user).await.map_err(failed)?;
    let mut gone = Vec::new();
    for k in &d.keys {
        match now.iter().find(|n| &n.id == k) {
            Some(n) if n.status == "Active" => {}
            Some(_) => aws.set_access_key_status(&d.user, k, true).await.map_err(failed)?,
            None => gone.push(k.clone()),
        }
    }
    if gone.is_empty() {
        aws.forget(TargetType::IamUser, std::slice::from_ref(&d.user), &[UNDO_KEYS.into()]).await;
        Ok(())
    } else {
        Err(FaultError::Conflict(format!("access keys {} of user {} were deleted meanwhile", gone.join(", "), d.user)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IAM counts a policy's characters but whitespace, URL-decoded as `GetRolePolicy`
    /// returns it.
    #[test]
    fn inline_policy_size_is_counted_as_iam_counts_it() {
        assert_eq!(inline_size("{ \"a\": 1 }"), 7);
        assert_eq!(inline_size("%7B%22a%22%3A%201%7D"), 7);
        assert_eq!(inline_size("100%"), 4, "a lone % is kept");
        let doc = deny_before(SystemTime::UNIX_EPOCH);
        assert_eq!(inline_size(&doc), doc.chars().filter(|c| !c.is_whitespace()).count());
        assert!(inline_size(&doc) < 300);
    }
    use crate::faults::Kind;
    use crate::faults::fixtures::{one_target, resource};

    /// A user without an active access key has nothing to revoke; a role always gets the
    /// deny policy, so it always has an effect.
    #[test]
    fn revoking_has_no_effect_for_users_without_active_keys_never_for_a_role() {
        let x = IamRevokeFault { target: "t".into() };
        let keyless = one_target(
            TargetType::IamUser,
            vec![resource("ci", None, &[("active_keys", "0")]), resource("bot", None, &[("active_keys", "0")])],
        );
        assert_eq!(
            Revoke::no_effect("f", &x, &keyless).as_deref(),
            Some("user(s) ci, bot of target `t` have no active access key: nothing to revoke")
        );
        let one = one_target(
            TargetType::IamUser,
            vec![resource("ci", None, &[("active_keys", "0")]), resource("bot", None, &[("active_keys", "1")])],
        );
        assert_eq!(Revoke::no_effect("f", &x, &one), None);
        let role = one_target(TargetType::IamRole, vec![resource("app", None, &[])]);
        assert_eq!(Revoke::no_effect("f", &x, &role), None);
    }
}
