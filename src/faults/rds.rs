//! `rds_failover`: a cluster fails over (FailoverDBCluster, optionally to a named
//! instance); a Multi-AZ instance reboots with failover. A failover is its own recovery,
//! so the journal records it with nothing to undo. A single-AZ instance is refused at
//! plan time ([`preflight`]).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::ec2::failed;
use super::{AwsFaultCtx, FaultContext};
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Stmt, stmt, target_res};
use crate::scenario::{Target, TargetType};
use crate::targets::Resolution;
use crate::targets::Resource;

/// `rds_failover`.
pub struct Failover;

/// `rds_failover`: a cluster fails over (optionally to a named instance); a Multi-AZ
/// instance reboots with failover. A failover is its own recovery: nothing to revert.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsFailoverFault {
    /// An `rds:cluster` or `rds:instance` target.
    pub target: String,
    /// For a cluster: the instance to promote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// A cluster fails over; an instance reboots with failover.
pub fn failover_statement(t: &Target) -> Option<Stmt> {
    match t.kind {
        TargetType::RdsCluster => Some(stmt("FailOverClusters", &["rds:FailoverDBCluster"], target_res(t), true)),
        TargetType::RdsInstance => Some(stmt("FailOverInstances", &["rds:RebootDBInstance"], target_res(t), true)),
        _ => None,
    }
}

impl super::Kind for Failover {
    const KEY: &'static str = "rds_failover";
    type Config = RdsFailoverFault;
    const TARGET_TYPES: &'static [TargetType] = &[TargetType::RdsCluster, TargetType::RdsInstance];

    fn targets(x: &RdsFailoverFault) -> Vec<(String, &str)> {
        vec![("target".into(), &x.target)]
    }

    fn iam(_: &RdsFailoverFault, targets: &[&Target]) -> Vec<Stmt> {
        targets.iter().filter_map(|t| failover_statement(t)).collect()
    }

    fn describe(x: &RdsFailoverFault, ids: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        vec![
            format!(
                "inject: fail over {}{}",
                ids(&x.target),
                x.to.as_ref().map(|t| format!(" to {t}")).unwrap_or_default()
            ),
            "revert: nothing (a failover is its own recovery)".into(),
        ]
    }

    fn preflight(fault: &str, x: &RdsFailoverFault, res: &Resolution) -> Vec<String> {
        preflight(fault, res.resources(&x.target), x.to.as_deref())
    }

    fn build(_: &str, x: &RdsFailoverFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (ctx, res) = ctx.aws()?;
        let kind = res.targets.get(&x.target).map_or(TargetType::RdsCluster, |t| t.kind);
        Some(Arc::new(Injector { ctx, kind, ids: res.ids(&x.target), to: x.to.clone() }))
    }
}

pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub kind: TargetType,
    pub ids: Vec<String>,
    pub to: Option<String>,
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        for id in &self.ids {
            failover(&self.ctx, self.kind, id, self.to.as_deref(), intents).await?;
        }
        Ok(())
    }
}

/// Fails one cluster or Multi-AZ instance over, journaling it first.
pub async fn failover(
    ctx: &AwsFaultCtx,
    kind: TargetType,
    id: &str,
    to: Option<&str>,
    intents: &dyn Intents,
) -> Result<(), FaultError> {
    let aws = &ctx.aws;
    if kind == TargetType::RdsCluster {
        let to_text = to.map(|t| format!(" to {t}")).unwrap_or_default();
        intents
            .intent(super::nothing(format!("fail over cluster {id}{to_text} (a failover is its own recovery)")))
            .await?;
        aws.failover_cluster(id, to).await.map_err(failed)
    } else {
        intents.intent(super::nothing(format!("reboot {id} with failover (a failover is its own recovery)"))).await?;
        aws.reboot_with_failover(id).await.map_err(failed)
    }
}

/// Refusals known from the resolved resources: failing over a single-AZ instance would be
/// an outage, not a failover.
pub fn preflight(fault: &str, resources: &[Resource], to: Option<&str>) -> Vec<String> {
    let already =
        resources.iter().filter(|r| to.is_some() && r.attrs.get("writer").map(String::as_str) == to).map(|r| {
            format!(
                "fault `{fault}`: {} is already the writer of cluster {}; failing over to it would test nothing",
                to.unwrap_or_default(),
                r.id
            )
        });
    resources
        .iter()
        .filter(|r| r.attrs.get("multi_az").is_some_and(|m| m == "false") && !r.attrs.contains_key("cluster"))
        .map(|r| {
            format!(
                "fault `{fault}`: RDS instance {} is single-AZ; rebooting it with failover is impossible (make it Multi-AZ or target its cluster)",
                r.id
            )
        })
        .chain(already)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(id: &str, attrs: &[(&str, &str)]) -> Resource {
        Resource {
            id: id.into(),
            zones: vec!["us-east-1a".into()],
            state: None,
            tags: Default::default(),
            attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn preflight_refuses_a_single_az_instance_and_a_failover_to_the_writer() {
        let rs = [
            resource("db-single", &[("multi_az", "false")]),
            resource("db-multi", &[("multi_az", "true")]),
            // A cluster member is failed over through its cluster, never rebooted.
            resource("db-member", &[("multi_az", "false"), ("cluster", "c")]),
            resource("cluster-1", &[("writer", "db-w")]),
        ];
        assert_eq!(
            preflight("f", &rs, None),
            [
                "fault `f`: RDS instance db-single is single-AZ; rebooting it with failover is impossible (make it Multi-AZ or target its cluster)"
            ]
        );
        assert_eq!(
            preflight("f", &rs[3..], Some("db-w")),
            ["fault `f`: db-w is already the writer of cluster cluster-1; failing over to it would test nothing"]
        );
        assert!(preflight("f", &rs[1..], Some("db-other")).is_empty());
    }
}
