//! EventBridge Scheduler: the one-time schedules of the dead man's switch
//! (`crate::faults::switch`). Each calls one AWS API action through a universal target
//! (`arn:aws:scheduler:::aws-sdk:<service>:<apiAction>`) at a fixed time, as the role the
//! scenario names, and deletes itself after it ran.

use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target};

use super::{Aws, AwsError, sdk_err};

/// A one-time schedule, in firedrill's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneTimeSchedule {
    /// Unique in its group: at most 64 of `[0-9a-zA-Z-_.]`.
    pub name: String,
    pub group: String,
    /// When it fires, UTC: `yyyy-mm-ddThh:mm:ss` (the `at(...)` expression's argument).
    pub at: String,
    /// The target's ARN, e.g. `arn:aws:scheduler:::aws-sdk:ec2:startInstances`.
    pub target_arn: String,
    /// The role EventBridge Scheduler assumes to make the call.
    pub role_arn: String,
    /// The call's parameters, as JSON.
    pub input: String,
    pub description: String,
}

impl Aws {
    /// Creates a schedule that fires once at `s.at` (no flexible window) and is deleted
    /// after it ran.
    pub async fn create_one_time_schedule(&self, s: &OneTimeSchedule) -> Result<(), AwsError> {
        const OP: &str = "scheduler:CreateSchedule";
        let target = Target::builder()
            .arn(&s.target_arn)
            .role_arn(&s.role_arn)
            .input(&s.input)
            .build()
            .map_err(|e| AwsError::other(OP, e.to_string()))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| AwsError::other(OP, e.to_string()))?;
        self.scheduler
            .create_schedule()
            .name(&s.name)
            .group_name(&s.group)
            .schedule_expression(format!("at({})", s.at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .action_after_completion(ActionAfterCompletion::Delete)
            .description(&s.description)
            .target(target)
            .send()
            .await
            .map_err(|e| sdk_err(OP, e))?;
        Ok(())
    }

    /// Deletes the schedule; `false` when there was none (it fired, or was deleted).
    pub async fn delete_schedule(&self, group: &str, name: &str) -> Result<bool, AwsError> {
        match self.scheduler.delete_schedule().group_name(group).name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = sdk_err("scheduler:DeleteSchedule", e);
                if e.is_not_found() { Ok(false) } else { Err(e) }
            }
        }
    }

    /// The schedule as it is stored; `None` when there is none.
    pub async fn get_schedule(&self, group: &str, name: &str) -> Result<Option<OneTimeSchedule>, AwsError> {
        let out = match self.scheduler.get_schedule().group_name(group).name(name).send().await {
            Ok(out) => out,
            Err(e) => {
                let e = sdk_err("scheduler:GetSchedule", e);
                return if e.is_not_found() { Ok(None) } else { Err(e) };
            }
        };
        let expr = out.schedule_expression().unwrap_or_default();
        let at = expr.strip_prefix("at(").and_then(|r| r.strip_suffix(')')).unwrap_or(expr);
        let target = out.target();
        Ok(Some(OneTimeSchedule {
            name: out.name().unwrap_or(name).to_string(),
            group: out.group_name().unwrap_or(group).to_string(),
            at: at.to_string(),
            target_arn: target.map(|t| t.arn().to_string()).unwrap_or_default(),
            role_arn: target.map(|t| t.role_arn().to_string()).unwrap_or_default(),
            input: target.and_then(|t| t.input()).unwrap_or_default().to_string(),
            description: out.description().unwrap_or_default().to_string(),
        }))
    }

    /// Whether the schedule group exists (`default` always does on AWS).
    pub async fn schedule_group_exists(&self, group: &str) -> Result<bool, AwsError> {
        match self.scheduler.get_schedule_group().name(group).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = sdk_err("scheduler:GetScheduleGroup", e);
                if e.is_not_found() { Ok(false) } else { Err(e) }
            }
        }
    }

    /// The names of the group's schedules that start with `prefix`.
    pub async fn schedule_names(&self, group: &str, prefix: &str) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut pages = self.scheduler.list_schedules().group_name(group).name_prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("scheduler:ListSchedules", e))?;
            names.extend(page.schedules().iter().filter_map(|s| s.name()).map(String::from));
        }
        Ok(names)
    }
}
