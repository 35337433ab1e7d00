//! The `cloudwatch_alarm` probe: passes while a CloudWatch alarm is in state `OK`. The
//! same check watches the alarm of an `alarm` abort rule (an FIS stop condition), where
//! only `ALARM` fails.

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

/// Passes while the CloudWatch alarm is in state `OK`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AlarmProbe")]
pub struct Config {
    pub alarm: String,
}

/// The `cloudwatch_alarm` probe kind.
pub struct CloudWatchAlarm;

impl Kind for CloudWatchAlarm {
    const KEY: &'static str = "cloudwatch_alarm";
    const AWS: bool = true;
    type Config = Config;

    fn validate(c: &Config, at: &str) -> Vec<Problem> {
        if c.alarm.trim().is_empty() { vec![problem(format!("{at}.alarm"), "the alarm name is empty")] } else { vec![] }
    }

    fn describe(c: &Config) -> String {
        format!("cloudwatch_alarm `{}` is OK", c.alarm)
    }

    fn target(c: &Config) -> String {
        c.alarm.clone()
    }

    fn iam(c: &Config) -> Vec<Stmt> {
        vec![read_alarm(&c.alarm)]
    }

    fn build(c: &Config, aws: Option<&Aws>) -> (Duration, Arc<dyn engine::Probe>) {
        with_aws(aws, |aws| Arc::new(AlarmCheck { aws, alarm: c.alarm.clone(), stop_condition: false }))
    }
}

/// Reading one alarm's state: what this probe, and an `alarm` abort rule, needs.
pub fn read_alarm(name: &str) -> Stmt {
    stmt("ReadAlarms", &["cloudwatch:DescribeAlarms"], vec![Res::Alarm(name.into())], false)
}

pub struct AlarmCheck {
    pub aws: Aws,
    pub alarm: String,
    /// As an abort rule (FIS stop condition): only `ALARM` fails; `INSUFFICIENT_DATA` passes.
    pub stop_condition: bool,
}

#[async_trait]
impl Probe for AlarmCheck {
    async fn check(&self) -> Check {
        match self.aws.alarm_state(&self.alarm).await {
            Ok(Some(s)) if s == "OK" => Check::pass("OK"),
            Ok(Some(s)) if self.stop_condition && s != "ALARM" => Check::pass(s),
            Ok(Some(s)) => Check::fail(s),
            Ok(None) => Check::fail(format!("no CloudWatch alarm named `{}`", self.alarm)),
            Err(e) => Check::fail(format!("could not read the alarm: {e}")),
        }
    }
}
