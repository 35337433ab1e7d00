//! The scenario's `safety:` block: safeguards that act even if firedrill itself dies
//! mid-fault. Today one: `dead_mans_switch`, one-time EventBridge Scheduler schedules
//! that undo each fault at its planned end plus a grace (armed by
//! `crate::faults::switch`).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dur;
use super::model::Scenario;
use super::validate::{Problem, problem};

/// `safety:`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Safety {
    /// Undo each AWS fault from AWS itself if firedrill dies mid-fault: one-time
    /// EventBridge Scheduler schedules, armed at injection, that make the undo calls at the
    /// fault's planned end plus `grace`. A normal revert deletes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_mans_switch: Option<DeadMansSwitch>,
}

/// `safety.dead_mans_switch`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadMansSwitch {
    /// The IAM role EventBridge Scheduler assumes to make the undo calls, in one of the
    /// scenario's accounts (`firedrill iam-policy --dead-mans-switch-role` prints what it
    /// needs).
    pub role_arn: String,
    /// How long after a fault's planned end its first undo call is due (at least 1m).
    pub grace: Dur,
    /// The schedule group; default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The schedule group when none is named.
pub const DEFAULT_GROUP: &str = "default";

/// EventBridge Scheduler fires a schedule within the minute it is due, no finer.
pub const MIN_GRACE: Duration = Duration::from_secs(60);

impl DeadMansSwitch {
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(DEFAULT_GROUP)
    }

    /// The account of the role, from its ARN.
    pub fn role_account(&self) -> Option<&str> {
        role_arn_parts(&self.role_arn).map(|(_, account, _)| account)
    }
}

/// `(partition, account, role path and name)` of a well-formed IAM role ARN.
fn role_arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("iam::")?;
    let (account, rest) = rest.split_once(':')?;
    let name = rest.strip_prefix("role/")?;
    let partition_ok = matches!(partition, "aws" | "aws-cn" | "aws-us-gov");
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let name_ok = !name.is_empty()
        && !name.ends_with('/')
        && name.len() <= 512
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c));
    (partition_ok && account_ok && name_ok).then_some((partition, account, name))
}

fn valid_group(g: &str) -> bool {
    !g.is_empty() && g.len() <= 64 && g.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Problems with `safety`, by field path.
pub fn problems(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(d) = s.safety.as_ref().and_then(|s| s.dead_mans_switch.as_ref()) else { return out };
    let at = "safety.dead_mans_switch";
    match role_arn_parts(&d.role_arn) {
        None => out.push(problem(
            format!("{at}.role_arn"),
            format!(
                "expected an IAM role ARN like `arn:aws:iam::123456789012:role/firedrill-dead-mans-switch`, found {:?}",
                d.role_arn
            ),
        )),
        Some(_) => {
            if let Some(env) = &s.environment {
                let region = Some(env.region.as_str()).filter(|r| super::validate::is_region(r));
                let b = super::arn::Bounds { accounts: &env.accounts, region };
                if let Some(why) = super::arn::scope_problem(&d.role_arn, b) {
                    out.push(problem(format!("{at}.role_arn"), why));
                }
            }
        }
    }
    if d.grace.0 < MIN_GRACE {
        out.push(problem(
            format!("{at}.grace"),
            format!(
                "`grace` is at least {}, found {}: EventBridge Scheduler fires no finer than the minute",
                Dur(MIN_GRACE),
                d.grace
            ),
        ));
    }
    if let Some(g) = &d.group
        && !valid_group(g)
    {
        out.push(problem(
            format!("{at}.group"),
            format!("invalid schedule group {g:?}: letters, digits, `-`, `_` and `.` (at most 64)"),
        ));
    }
    if s.environment.is_none() {
        out.push(problem(
            at,
            "the dead man's switch acts in AWS: add `environment` with `region`, `accounts` and `opt_in_tag`",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_read_strictly() {
        assert_eq!(
            role_arn_parts("arn:aws:iam::123456789012:role/ops/firedrill-dms"),
            Some(("aws", "123456789012", "ops/firedrill-dms"))
        );
        for bad in [
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
            "arn:other:iam::123456789012:role/x",
            "role/x",
        ] {
            assert_eq!(role_arn_parts(bad), None, "{bad}");
        }
        assert!(valid_group("default") && valid_group("fire.drill-1_a"));
        assert!(!valid_group("") && !valid_group("a/b") && !valid_group(&"a".repeat(65)));
    }
}
