//! IAM: roles and users with their tags, inline role policies and access keys.

use super::tags::tags_of;
use super::{AccessKey, Aws, AwsError, Principal, Selector, sdk_err};

/// IAM principals a target can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    Role,
    User,
}

impl Aws {
    /// Roles or users matching `sel`. The list calls do not return tags, so each
    /// candidate's tags are read with ListRoleTags/ListUserTags (named ones are read
    /// directly with GetRole/GetUser).
    pub async fn principals(&self, kind: PrincipalKind, sel: &Selector) -> Result<Vec<Principal>, AwsError> {
        let mut found: Vec<(String, String)> = Vec::new();
        if sel.ids.is_empty() {
            match kind {
                PrincipalKind::Role => {
                    let mut pages = self.iam.list_roles().into_paginator().send();
                    while let Some(page) = pages.next().await {
                        let page = page.map_err(|e| sdk_err("iam:ListRoles", e))?;
                        found.extend(page.roles().iter().map(|r| (r.role_name().to_string(), r.arn().to_string())));
                    }
                }
                PrincipalKind::User => {
                    let mut pages = self.iam.list_users().into_paginator().send();
                    while let Some(page) = pages.next().await {
                        let page = page.map_err(|e| sdk_err("iam:ListUsers", e))?;
                        found.extend(page.users().iter().map(|u| (u.user_name().to_string(), u.arn().to_string())));
                    }
                }
            }
        } else {
            for id in &sel.ids {
                let one = match kind {
                    PrincipalKind::Role => self
                        .iam
                        .get_role()
                        .role_name(id)
                        .send()
                        .await
                        .map(|o| o.role().map(|r| (r.role_name().to_string(), r.arn().to_string())))
                        .map_err(|e| sdk_err("iam:GetRole", e)),
                    PrincipalKind::User => self
                        .iam
                        .get_user()
                        .user_name(id)
                        .send()
                        .await
                        .map(|o| o.user().map(|u| (u.user_name().to_string(), u.arn().to_string())))
                        .map_err(|e| sdk_err("iam:GetUser", e)),
                };
                match one {
                    Ok(p) => found.extend(p),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let mut out = Vec::new();
        for (name, arn) in found {
            let tags = match kind {
                PrincipalKind::Role => self
                    .iam
                    .list_role_tags()
                    .role_name(&name)
                    .send()
                    .await
                    .map(|o| tags_of(o.tags()))
                    .map_err(|e| sdk_err("iam:ListRoleTags", e))?,
                PrincipalKind::User => self
                    .iam
                    .list_user_tags()
                    .user_name(&name)
                    .send()
                    .await
                    .map(|o| tags_of(o.tags()))
                    .map_err(|e| sdk_err("iam:ListUserTags", e))?,
            };
            if sel.tags_match(&tags) {
                out.push(Principal { name, arn, tags });
            }
        }
        Ok(out)
    }

    /// The inline policy document, or `None` if the role has no policy of that name.
    pub async fn role_policy(&self, role: &str, name: &str) -> Result<Option<String>, AwsError> {
        match self.iam.get_role_policy().role_name(role).policy_name(name).send().await {
            Ok(out) => Ok(Some(out.policy_document().to_string())),
            Err(e) => {
                let e = sdk_err("iam:GetRolePolicy", e);
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
        }
    }

    /// The names of the role's inline policies (every page).
    pub async fn role_policy_names(&self, role: &str) -> Result<Vec<String>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self.iam.list_role_policies().role_name(role).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("iam:ListRolePolicies", e))?;
            out.extend(page.policy_names().iter().cloned());
        }
        Ok(out)
    }

    pub async fn put_role_policy(&self, role: &str, name: &str, document: &str) -> Result<(), AwsError> {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(document)
            .send()
            .await
            .map_err(|e| sdk_err("iam:PutRolePolicy", e))?;
        Ok(())
    }

    /// Deletes the inline policy; a policy that is already gone is not an error.
    pub async fn delete_role_policy(&self, role: &str, name: &str) -> Result<(), AwsError> {
        match self.iam.delete_role_policy().role_name(role).policy_name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = sdk_err("iam:DeleteRolePolicy", e);
                if e.is_not_found() { Ok(()) } else { Err(e) }
            }
        }
    }

    pub async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self.iam.list_access_keys().user_name(user).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("iam:ListAccessKeys", e))?;
            out.extend(page.access_key_metadata().iter().map(|k| AccessKey {
                id: k.access_key_id().unwrap_or_default().to_string(),
                status: k.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            }));
        }
        Ok(out)
    }

    /// Sets an access key `Active` or `Inactive`.
    pub async fn set_access_key_status(&self, user: &str, key: &str, active: bool) -> Result<(), AwsError> {
        let status =
            if active { aws_sdk_iam::types::StatusType::Active } else { aws_sdk_iam::types::StatusType::Inactive };
        self.iam
            .update_access_key()
            .user_name(user)
            .access_key_id(key)
            .status(status)
            .send()
            .await
            .map_err(|e| sdk_err("iam:UpdateAccessKey", e))?;
        Ok(())
    }
}
