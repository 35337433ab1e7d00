//! The emergency halt: one lever, per AWS account and region, that stops every firedrill
//! run there (like AWS FIS's safety lever). `firedrill halt` writes the SSM parameter
//! [`PARAMETER`] (a JSON [`Halt`]: reason, who, when); `firedrill unhalt` deletes it.
//!
//! While it is set:
//! - `plan` shows `halted: REASON`, and `run` refuses before anything is touched (the
//!   prepare stage reads it; exit 4, like a steady state that does not hold);
//! - every AWS run going on sees it within one probe interval (a [`watch`]er, not part of
//!   the steady state, read at the shortest probe interval, between 1 s and 5 s), aborts
//!   and reverts every fault; the abort reason names the halt and its reason.
//!
//! A halt parameter that cannot be read (access denied, AWS unreachable — anything but
//! "not found") is treated like an unreadable stop-condition alarm: the lever is then not
//! being watched, so a run does not start, and a run going on aborts. A parameter that
//! holds something other than firedrill's JSON still halts: its value is the reason.
//! A scenario without AWS (only `command` faults) has no account or region, and ignores
//! halts.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, AwsError};
use crate::engine::{Check, Probe, ProbeSpec};
use crate::iam_policy::stmt::{Res, Stmt, stmt};

/// The SSM parameter (String) that holds the halt, in each account and region.
pub const PARAMETER: &str = "/firedrill/halt";

/// The longest reason kept; a longer one is cut (a halt is never refused).
pub const MAX_REASON: usize = 1000;

/// The bounds of how often a run reads the halt: at its shortest probe interval, but not
/// more often than every second nor less often than every 5 s.
pub const EVERY: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(5));

/// Upper bound of one read of the halt (the SDK retries throttling within it).
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// What `firedrill halt` writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    pub reason: String,
    /// The caller's ARN, or `unknown` when STS could not say.
    pub by: String,
    /// RFC 3339.
    pub at: String,
}

impl Halt {
    /// A halt made now by `by` for `reason` (cut to [`MAX_REASON`] characters).
    pub fn new(reason: &str, by: &str) -> Self {
        Halt {
            reason: cut(reason.trim()),
            by: by.to_string(),
            at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        }
    }

    /// The parameter's value: firedrill's JSON, or anything else someone wrote there (the
    /// value is then the reason).
    pub fn parse(value: &str) -> Self {
        match serde_json::from_str::<Halt>(value) {
            Ok(h) => Halt { reason: cut(&h.reason), by: cut(&h.by), at: cut(&h.at) },
            Err(_) => Halt { reason: cut(value.trim()), by: "unknown".into(), at: "unknown".into() },
        }
    }

    /// `REASON (by ARN at TIME)`.
    pub fn describe(&self) -> String {
        let reason = if self.reason.is_empty() { "no reason given" } else { &self.reason };
        format!("{reason} (by {} at {})", self.by, self.at)
    }
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_REASON) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Whether runs may go on in an account and region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Clear,
    Halted(Halt),
    /// The parameter could not be read (not "not found"): the lever is not watched.
    Unreadable(String),
}

impl Status {
    /// One line for `plan`, and `None` when runs may go on.
    pub fn blocks(&self) -> Option<String> {
        match self {
            Status::Clear => None,
            Status::Halted(h) => Some(format!("halted: {}", h.describe())),
            Status::Unreadable(e) => Some(format!(
                "could not read the halt ({PARAMETER}): {e} (a halt that cannot be read blocks every run, as an \
                 unreadable stop-condition alarm does)"
            )),
        }
    }
}

/// Reads the halt.
pub async fn status(aws: &Aws) -> Status {
    match tokio::time::timeout(READ_TIMEOUT, aws.get_parameter(PARAMETER)).await {
        Ok(Ok(None)) => Status::Clear,
        Ok(Ok(Some(value))) => Status::Halted(Halt::parse(&value)),
        Ok(Err(e)) => Status::Unreadable(e.to_string()),
        Err(_) => Status::Unreadable(format!(
            "ssm:GetParameter: no answer within {}",
            humantime::format_duration(READ_TIMEOUT)
        )),
    }
}

/// Sets the halt (overwriting one already set) as the caller, for `reason`.
pub async fn set(aws: &Aws, reason: &str) -> Result<Halt, AwsError> {
    // Who halted is for people; a halt is never held back because STS could not say.
    let by = aws.caller_arn().await.unwrap_or_else(|_| "unknown".into());
    let halt = Halt::new(reason, &by);
    let value = serde_json::to_string(&halt).unwrap_or_default();
    aws.put_parameter(PARAMETER, &value, "firedrill emergency halt: while set, no firedrill run acts here").await?;
    Ok(halt)
}

/// Clears the halt; `false` when none was set.
pub async fn clear(aws: &Aws) -> Result<bool, AwsError> {
    aws.delete_parameter(PARAMETER).await
}

/// The failing detail of a watcher's sample while the halt is set starts with this; any
/// other failing detail means the halt could not be read.
pub use crate::engine::abort::HALTED;

/// How often a run with these probe intervals reads the halt: the shortest, within
/// [`EVERY`].
pub fn interval(probe_intervals: impl IntoIterator<Item = Duration>) -> Duration {
    probe_intervals.into_iter().min().unwrap_or(EVERY.1).clamp(EVERY.0, EVERY.1)
}

/// The watcher of a run in `aws`'s account and region: a probe outside the steady state
/// that fails while the halt is set (detail [`HALTED`]…) or cannot be read.
pub fn watch(aws: &Aws, every: Duration) -> ProbeSpec {
    ProbeSpec {
        name: watch_name().into(),
        every,
        timeout: READ_TIMEOUT + Duration::from_secs(1),
        probe: Arc::new(Watch(aws.clone())),
        steady: false,
    }
}

/// The watcher's probe name (as reports show its samples).
pub fn watch_name() -> &'static str {
    "halt"
}

struct Watch(Aws);

#[async_trait]
impl Probe for Watch {
    async fn check(&self) -> Check {
        check(status(&self.0).await)
    }
}

/// A watcher's sample for a status.
pub fn check(status: Status) -> Check {
    match status {
        Status::Clear => Check::pass("not halted"),
        Status::Halted(h) => Check::fail(format!("{HALTED}{}", h.describe())),
        Status::Unreadable(e) => Check::fail(e),
    }
}

/// What reading the halt needs: `ssm:GetParameter` on [`PARAMETER`].
pub(crate) fn read_statement() -> Stmt {
    stmt("ReadHalt", &["ssm:GetParameter"], vec![Res::Parameter(PARAMETER.into())], false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_halt_is_read_from_firedrills_json_or_from_anything_else_written_there() {
        let h = Halt::new("  db migration going on  ", "arn:aws:iam::123456789012:user/maya");
        assert_eq!(h.reason, "db migration going on");
        let back = Halt::parse(&serde_json::to_string(&h).unwrap());
        assert_eq!(back, h);
        assert!(back.describe().starts_with("db migration going on (by arn:aws:iam::123456789012:user/maya at 20"));
        let other = Halt::parse("stop everything");
        assert_eq!(other.describe(), "stop everything (by unknown at unknown)");
        let long = Halt::new(&"x".repeat(5000), "me");
        assert_eq!(long.reason.chars().count(), MAX_REASON + 1, "cut, with an ellipsis");
        assert_eq!(Halt::new("", "me").describe().split(" (by").next(), Some("no reason given"));
    }

    #[test]
    fn the_watch_interval_is_the_shortest_probe_interval_within_1s_and_5s() {
        let s = Duration::from_secs;
        assert_eq!(interval([s(2), s(3)]), s(2));
        assert_eq!(interval([Duration::from_millis(100), s(3)]), s(1));
        assert_eq!(interval([s(60)]), s(5));
        assert_eq!(interval([]), s(5));
    }

    #[test]
    fn a_watchers_sample_says_halted_or_unreadable() {
        assert!(check(Status::Clear).ok);
        let halted = check(Status::Halted(Halt::parse("stop")));
        assert!(!halted.ok && halted.detail.starts_with(HALTED), "{halted:?}");
        let unreadable = check(Status::Unreadable("ssm:GetParameter: AccessDenied".into()));
        assert!(!unreadable.ok && !unreadable.detail.starts_with(HALTED), "{unreadable:?}");
        assert_eq!(Status::Clear.blocks(), None);
        assert!(Status::Halted(Halt::parse("stop")).blocks().unwrap().starts_with("halted: stop"));
        assert!(Status::Unreadable("x".into()).blocks().unwrap().starts_with("could not read the halt"));
    }
}
