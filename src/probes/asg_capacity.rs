//! The `asg_capacity` probe: passes while an Auto Scaling group has at least N instances
//! InService and Healthy.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Kind, with_aws};
use crate::aws::Aws;
use crate::engine::{self, Check, Probe};
use crate::iam_policy::stmt::{Res, Stmt, stmt};
use crate::scenario::validate::{Problem, problem};

/// Passes while the Auto Scaling group has at least `min_healthy` instances InService and
/// Healthy.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AsgCapacityProbe")]
pub struct Config {
    pub group: String,
    pub min_healthy: u32,
}

/// The `asg_capacity` probe kind.
pub struct AsgCapacity;

impl Kind for AsgCapacity {
    const KEY: &'static str = "asg_capacity";
    const AWS: bool = true;
    type Config = Config;

    fn validate(c: &Config, at: &str) -> Vec<Problem> {
        if c.group.trim().is_empty() {
            vec![problem(format!("{at}.group"), "the group name is empty")]
        } else if c.min_healthy == 0 {
            vec![problem(
                format!("{at}.min_healthy"),
                "must be at least 1: a probe that cannot fail says nothing about health",
            )]
        } else {
            vec![]
        }
    }

    fn describe(c: &Config) -> String {
        format!("asg_capacity `{}` has at least {} InService and Healthy", c.group, c.min_healthy)
    }

    fn target(c: &Config) -> String {
        c.group.clone()
    }

    fn iam(_: &Config) -> Vec<Stmt> {
        vec![stmt("ReadGroups", &["autoscaling:DescribeAutoScalingGroups"], vec![Res::Any], false)]
    }

    fn build(c: &Config, aws: Option<&Aws>) -> (Duration, Arc<dyn engine::Probe>) {
        with_aws(aws, |aws| Arc::new(AsgCheck { aws, group: c.group.clone(), min: c.min_healthy }))
    }
}

pub struct AsgCheck {
    pub aws: Aws,
    pub group: String,
    pub min: u32,
}

#[async_trait]
impl Probe for AsgCheck {
    async fn check(&self) -> Check {
        match self.aws.group(&self.group).await {
            Ok(Some(g)) => {
                let n = g.healthy_in_service();
                let detail = format!("{n} InService and Healthy (need {})", self.min);
                if n >= self.min as usize { Check::pass(detail) } else { Check::fail(detail) }
            }
            Ok(None) => Check::fail(format!("no Auto Scaling group named `{}`", self.group)),
            Err(e) => Check::fail(e.to_string()),
        }
    }
}
