//! CloudWatch: alarms — their states, the ones that page, their history — read through one
//! DescribeAlarms pager ([`Aws::described_alarms`]) that the audit uses too.

use aws_sdk_cloudwatch::types::AlarmType;

use super::{Aws, AwsError, sdk_err};

impl Aws {
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`; `None` if no alarm has this name.
    pub async fn alarm_state(&self, name: &str) -> Result<Option<String>, AwsError> {
        Ok(self.described_alarms(Some(vec![name.to_string()])).await?.into_iter().find_map(|a| a.state))
    }
}

/// One alarm's state as read now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlarmNow {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
}

/// A transition to ALARM from an alarm's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlarmTransition {
    pub name: String,
    pub at: std::time::SystemTime,
    pub summary: String,
}

/// A metric or composite alarm as DescribeAlarms gives it.
pub(super) struct DescribedAlarm {
    pub name: Option<String>,
    pub arn: Option<String>,
    pub actions_enabled: Option<bool>,
    pub alarm_actions: Vec<String>,
    /// A metric alarm's dimension values (instance ids, group names, …); none for a
    /// composite alarm.
    pub dimensions: Vec<String>,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: Option<String>,
    pub reason: Option<String>,
}

/// The most alarm names one DescribeAlarms call takes.
pub const ALARM_NAMES_PER_CALL: usize = 100;

impl Aws {
    /// Every metric and composite alarm in the region (only those named, with `names`),
    /// read page by page: the one DescribeAlarms reader behind [`Aws::paging_alarms`],
    /// [`Aws::alarm_states`] and the audit's alarms. Takes at most
    /// [`ALARM_NAMES_PER_CALL`] names.
    pub(super) async fn described_alarms(&self, names: Option<Vec<String>>) -> Result<Vec<DescribedAlarm>, AwsError> {
        let op = "cloudwatch:DescribeAlarms";
        let mut pages = self
            .cw
            .describe_alarms()
            .set_alarm_names(names)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .max_records(100)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        let text = |s: Option<&str>| s.map(str::to_string);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err(op, e))?;
            let metric = page.metric_alarms().iter().map(|a| {
                let dimensions = a.dimensions().iter().filter_map(|d| d.value()).map(str::to_string).collect();
                let state = a.state_value().map(|s| s.as_str().to_string());
                (
                    a.alarm_name(),
                    a.alarm_arn(),
                    a.actions_enabled(),
                    a.alarm_actions(),
                    dimensions,
                    state,
                    a.state_reason(),
                )
            });
            let composite = page.composite_alarms().iter().map(|a| {
                let state = a.state_value().map(|s| s.as_str().to_string());
                (
                    a.alarm_name(),
                    a.alarm_arn(),
                    a.actions_enabled(),
                    a.alarm_actions(),
                    Vec::new(),
                    state,
                    a.state_reason(),
                )
            });
            for (name, arn, actions_enabled, actions, dimensions, state, reason) in metric.chain(composite) {
                out.push(DescribedAlarm {
                    name: text(name),
                    arn: text(arn),
                    actions_enabled,
                    alarm_actions: actions.to_vec(),
                    dimensions,
                    state,
                    reason: text(reason),
                });
            }
        }
        Ok(out)
    }

    /// The alarms that page someone: every metric and composite alarm in the region with
    /// at least one alarm action and its actions enabled, by name, sorted.
    pub async fn paging_alarms(&self) -> Result<Vec<String>, AwsError> {
        let mut names: Vec<String> = self
            .described_alarms(None)
            .await?
            .into_iter()
            .filter(|a| a.actions_enabled == Some(true) && !a.alarm_actions.is_empty())
            .filter_map(|a| a.name)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The state and state reason of each alarm in `names` that exists, read
    /// [`ALARM_NAMES_PER_CALL`] names per DescribeAlarms call.
    pub async fn alarm_states(&self, names: &[String]) -> Result<Vec<AlarmNow>, AwsError> {
        let mut out = Vec::new();
        for chunk in names.chunks(ALARM_NAMES_PER_CALL) {
            for a in self.described_alarms(Some(chunk.to_vec())).await? {
                if let (Some(name), Some(state)) = (a.name, a.state) {
                    out.push(AlarmNow { name, state, reason: a.reason.unwrap_or_default() });
                }
            }
        }
        Ok(out)
    }

    /// The transitions to ALARM between `from` and `to` in the history of each alarm in
    /// `names` (`None`: of every alarm in the region, one paginated call), oldest first.
    pub async fn alarm_transitions(
        &self,
        names: Option<&[String]>,
        from: std::time::SystemTime,
        to: std::time::SystemTime,
    ) -> Result<Vec<AlarmTransition>, AwsError> {
        let op = "cloudwatch:DescribeAlarmHistory";
        let mut out = Vec::new();
        let one: Vec<Option<&String>> = match names {
            Some(names) => names.iter().map(Some).collect(),
            None => vec![None],
        };
        for name in one {
            let mut pages = self
                .cw
                .describe_alarm_history()
                .set_alarm_name(name.cloned())
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .history_item_type(aws_sdk_cloudwatch::types::HistoryItemType::StateUpdate)
                .start_date(aws_smithy_types::DateTime::from(from))
                .end_date(aws_smithy_types::DateTime::from(to))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| sdk_err(op, e))?;
                for item in page.alarm_history_items() {
                    let (Some(alarm), Some(at)) = (item.alarm_name(), item.timestamp()) else { continue };
                    if !to_alarm(item.history_data(), item.history_summary()) {
                        continue;
                    }
                    let Ok(at) = std::time::SystemTime::try_from(*at) else { continue };
                    out.push(AlarmTransition {
                        name: alarm.to_string(),
                        at,
                        summary: item.history_summary().unwrap_or_default().to_string(),
                    });
                }
            }
        }
        out.sort_by_key(|t| t.at);
        Ok(out)
    }
}

/// Whether a StateUpdate history item is a transition to ALARM: its data's
/// `newState.stateValue`, or else its summary (`Alarm updated from OK to ALARM`).
fn to_alarm(data: Option<&str>, summary: Option<&str>) -> bool {
    let parsed = data.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok());
    match parsed.as_ref().and_then(|v| v["newState"]["stateValue"].as_str()) {
        Some(state) => state == "ALARM",
        None => summary.is_some_and(|s| s.trim_end().ends_with("to ALARM")),
    }
}

#[cfg(test)]
mod tests {
    /// A history item is a page when its new state is ALARM, read from its data, or from
    /// its summary when the data is missing or not JSON.
    #[test]
    fn a_history_item_is_a_transition_to_alarm_by_its_new_state() {
        let data = |from: &str, to: &str| {
            format!(
                r#"{{"version":"1.0","oldState":{{"stateValue":"{from}"}},"newState":{{"stateValue":"{to}","stateReason":"x"}}}}"#
            )
        };
        assert!(super::to_alarm(Some(&data("OK", "ALARM")), Some("whatever")));
        assert!(!super::to_alarm(Some(&data("ALARM", "OK")), Some("Alarm updated from OK to ALARM")));
        assert!(!super::to_alarm(Some(&data("OK", "INSUFFICIENT_DATA")), None));
        assert!(super::to_alarm(None, Some("Alarm updated from OK to ALARM")));
        assert!(super::to_alarm(Some("not json"), Some("Alarm updated from INSUFFICIENT_DATA to ALARM")));
        assert!(!super::to_alarm(None, Some("Alarm updated from ALARM to OK")));
        assert!(!super::to_alarm(None, None));
    }
}
