//! CloudWatch: the state of a metric or composite alarm.

use aws_sdk_cloudwatch::types::AlarmType;

use super::{Aws, AwsError, sdk_err};

impl Aws {
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`; `None` if no alarm has this name.
    pub async fn alarm_state(&self, name: &str) -> Result<Option<String>, AwsError> {
        let out = self
            .cw
            .describe_alarms()
            .alarm_names(name)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .send()
            .await
            .map_err(|e| sdk_err("cloudwatch:DescribeAlarms", e))?;
        let state = out
            .metric_alarms()
            .iter()
            .filter_map(|a| a.state_value())
            .chain(out.composite_alarms().iter().filter_map(|a| a.state_value()))
            .map(|s| s.as_str().to_string())
            .next();
        Ok(state)
    }
}
