//! The `rds_status` probe: passes while an RDS cluster (or instance) is `available`; the
//! writer's zone is recorded in the sample. One read-only call (two for a cluster's
//! writer).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Kind, with_aws};
use crate::aws::{Aws, Selector};
use crate::engine::{self, Check, Probe};
use crate::iam_policy::stmt::{Stmt, read_databases};
use crate::scenario::validate::{Problem, problem};

/// Passes while the RDS cluster (or instance) is `available`; records the writer's zone.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RdsStatusProbe")]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// The `rds_status` probe kind.
pub struct RdsStatus;

impl Kind for RdsStatus {
    const KEY: &'static str = "rds_status";
    const AWS: bool = true;
    type Config = Config;

    fn validate(c: &Config, at: &str) -> Vec<Problem> {
        if c.cluster.is_some() == c.instance.is_some() {
            vec![problem(at, "give exactly one of `cluster` or `instance`")]
        } else {
            vec![]
        }
    }

    fn describe(c: &Config) -> String {
        match (&c.cluster, &c.instance) {
            (Some(c), _) => format!("rds_status cluster `{c}` is available"),
            (_, Some(i)) => format!("rds_status instance `{i}` is available"),
            _ => "rds_status".to_string(),
        }
    }

    fn target(c: &Config) -> String {
        c.cluster.clone().or(c.instance.clone()).unwrap_or_default()
    }

    fn iam(_: &Config) -> Vec<Stmt> {
        vec![read_databases()]
    }

    fn build(c: &Config, aws: Option<&Aws>) -> (Duration, Arc<dyn engine::Probe>) {
        with_aws(aws, |aws| Arc::new(RdsCheck { aws, cluster: c.cluster.clone(), instance: c.instance.clone() }))
    }
}

pub struct RdsCheck {
    pub aws: Aws,
    pub cluster: Option<String>,
    pub instance: Option<String>,
}

#[async_trait]
impl Probe for RdsCheck {
    async fn check(&self) -> Check {
        let sel = |id: &String| Selector { ids: vec![id.clone()], ..Default::default() };
        if let Some(c) = &self.cluster {
            let cluster = match self.aws.db_clusters(&sel(c)).await {
                Ok(mut v) => match v.pop() {
                    Some(c) => c,
                    None => return Check::fail(format!("no RDS cluster `{c}`")),
                },
                Err(e) => return Check::fail(e.to_string()),
            };
            let writer = match cluster.writer() {
                Some(w) => match self.aws.db_instances(&sel(&w.to_string())).await {
                    Ok(v) => v
                        .first()
                        .map(|i| format!("writer {} in {}", i.id, i.zone.as_deref().unwrap_or("?")))
                        .unwrap_or_else(|| format!("writer {w}")),
                    Err(e) => return Check::fail(e.to_string()),
                },
                None => "no writer".to_string(),
            };
            let detail = format!("{} ({writer})", cluster.status);
            return if cluster.status == "available" && cluster.writer().is_some() {
                Check::pass(detail)
            } else {
                Check::fail(detail)
            };
        }
        let Some(id) = &self.instance else { return Check::fail("rds_status names no cluster or instance") };
        match self.aws.db_instances(&sel(id)).await {
            Ok(v) => match v.first() {
                Some(i) => {
                    let detail = format!("{} in {}", i.status, i.zone.as_deref().unwrap_or("?"));
                    if i.status == "available" { Check::pass(detail) } else { Check::fail(detail) }
                }
                None => Check::fail(format!("no RDS instance `{id}`")),
            },
            Err(e) => Check::fail(e.to_string()),
        }
    }
}
