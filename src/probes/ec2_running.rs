//! The `ec2_running` probe: passes while at least N instances with the given tags are
//! running.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Kind, with_aws};
use crate::aws::{Aws, Selector};
use crate::engine::{self, Check, Probe};
use crate::iam_policy::stmt::{Res, Stmt, stmt};
use crate::scenario::validate::{Problem, problem};

/// Passes while at least `min` instances with these tags are running.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Ec2RunningProbe")]
pub struct Config {
    pub tags: BTreeMap<String, String>,
    pub min: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

/// The `ec2_running` probe kind.
pub struct Ec2Running;

impl Kind for Ec2Running {
    const KEY: &'static str = "ec2_running";
    const AWS: bool = true;
    type Config = Config;

    fn validate(c: &Config, at: &str) -> Vec<Problem> {
        if c.tags.is_empty() {
            vec![problem(format!("{at}.tags"), "name at least one tag")]
        } else if c.min == 0 {
            vec![problem(format!("{at}.min"), "must be at least 1: a probe that cannot fail says nothing about health")]
        } else {
            vec![]
        }
    }

    fn describe(c: &Config) -> String {
        let tags: Vec<String> = c.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let zone = c.availability_zone.as_ref().map(|z| format!(" in {z}")).unwrap_or_default();
        format!("ec2_running at least {} instances tagged {}{zone}", c.min, tags.join(","))
    }

    fn target(c: &Config) -> String {
        c.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
    }

    fn iam(_: &Config) -> Vec<Stmt> {
        vec![stmt("ReadInstances", &["ec2:DescribeInstances"], vec![Res::Any], false)]
    }

    fn build(c: &Config, aws: Option<&Aws>) -> (Duration, Arc<dyn engine::Probe>) {
        with_aws(aws, |aws| Arc::new(RunningCheck::new(aws, c)))
    }
}

pub struct RunningCheck {
    pub aws: Aws,
    pub selector: Selector,
    pub min: u32,
}

impl RunningCheck {
    pub fn new(aws: Aws, p: &Config) -> Self {
        let selector = Selector {
            tags: p.tags.clone(),
            zone: p.availability_zone.clone(),
            state: Some("running".into()),
            ..Default::default()
        };
        RunningCheck { aws, selector, min: p.min }
    }
}

#[async_trait]
impl Probe for RunningCheck {
    async fn check(&self) -> Check {
        match self.aws.instances(&self.selector).await {
            Ok(v) => {
                let detail = format!("{} running (need {})", v.len(), self.min);
                if v.len() >= self.min as usize { Check::pass(detail) } else { Check::fail(detail) }
            }
            Err(e) => Check::fail(e.to_string()),
        }
    }
}
