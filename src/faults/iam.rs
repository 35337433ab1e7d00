//! `iam_revoke_credentials`: for a role, an inline policy that denies everything to
//! sessions issued before the injection (`aws:TokenIssueTime`, what the console's "revoke
//! active sessions" does); for a user, its active access keys are deactivated. Revert
//! deletes the policy, or reactivates exactly the keys that were deactivated.

use std::time::SystemTime;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use std::sync::Arc;

use super::ec2::failed;
use super::{AwsFaultCtx, FaultContext};
use crate::aws::Aws;
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Stmt, stmt, target_res};
use crate::journal::UndoRecord;
use crate::scenario::{Target, TargetType};
use crate::targets::Resolution;

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
                    &["iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
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

    fn build(_: &str, x: &IamRevokeFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (ctx, res) = ctx.aws()?;
        let kind = res.targets.get(&x.target).map_or(TargetType::IamRole, |t| t.kind);
        Some(Arc::new(Injector { ctx, kind, ids: res.ids(&x.target) }))
    }
}

pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub kind: TargetType,
    pub ids: Vec<String>,
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
                if aws.role_policy(id, &name).await.map_err(failed)?.is_some() {
                    return Err(FaultError::Refused(format!(
                        "role {id} already has an inline policy named {name}; firedrill will not replace it"
                    )));
                }
                intents
                    .intent(UndoRecord {
                        kind: DELETE_POLICY.into(),
                        description: format!("delete inline policy {name} from role {id}"),
                        data: json!({"region": aws.region(), "role": id, "policy": name}),
                    })
                    .await?;
                aws.put_role_policy(id, &name, &deny_before(SystemTime::now())).await.map_err(failed)?;
            } else {
                let keys = aws.access_keys(id).await.map_err(failed)?;
                let active: Vec<String> = keys.into_iter().filter(|k| k.status == "Active").map(|k| k.id).collect();
                if active.is_empty() {
                    continue;
                }
                intents
                    .intent(UndoRecord {
                        kind: REACTIVATE.into(),
                        description: format!("reactivate access keys {} of user {id}", active.join(", ")),
                        data: json!({"region": aws.region(), "user": id, "keys": active}),
                    })
                    .await?;
                for k in &active {
                    aws.set_access_key_status(id, k, false).await.map_err(failed)?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct PolicyData {
    role: String,
    policy: String,
}

pub async fn undo_policy(aws: &Aws, data: &serde_json::Value) -> Result<(), FaultError> {
    let d: PolicyData = super::parse(DELETE_POLICY, data)?;
    aws.delete_role_policy(&d.role, &d.policy).await.map_err(failed)
}

#[derive(Deserialize)]
struct KeysData {
    user: String,
    keys: Vec<String>,
}

pub async fn undo_keys(aws: &Aws, data: &serde_json::Value) -> Result<(), FaultError> {
    let d: KeysData = super::parse(REACTIVATE, data)?;
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
        Ok(())
    } else {
        Err(FaultError::Conflict(format!("access keys {} of user {} were deleted meanwhile", gone.join(", "), d.user)))
    }
}
