//! The executor and the small traits it runs on. The engine knows nothing of AWS, HTTP or
//! shells: faults, probes and undo actions come in as trait objects, so its logic
//! (scheduling, abort, recovery clock, revert ordering) is tested under
//! `tokio::time::pause()` with fakes.
//!
//! The executor's states and invariants: ARCHITECTURE.md, "The executor".

pub mod abort;
pub mod attribution;
pub mod clock;
pub mod executor;
pub mod pager;
pub mod record;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::state::journal::{JournalError, UndoRecord};

pub use executor::execute;
pub use pager::{AlarmChange, AlarmReading, AlarmSource, PagerSpec, PagesRecord};
pub use record::{FaultRecord, ObjectiveKind, Outcome, RunRecord, Sample};

/// The result of one probe check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    /// What was seen (`HTTP 503`, `connection refused`, `exit 1: ...`), short.
    pub detail: String,
}

impl Check {
    pub fn pass(detail: impl Into<String>) -> Self {
        Check { ok: true, detail: detail.into() }
    }
    pub fn fail(detail: impl Into<String>) -> Self {
        Check { ok: false, detail: detail.into() }
    }
}

/// A steady-state probe. Implementations bound their own I/O; the executor also wraps
/// every check in the probe's timeout.
#[async_trait]
pub trait Probe: Send + Sync {
    async fn check(&self) -> Check;
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Failed(String),
    /// An AWS call failed; its kind decides whether a retry can help.
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
    #[error("refused: {0}")]
    Refused(String),
    /// The resource was changed by someone else; firedrill did not overwrite it.
    #[error("conflict: {0}")]
    Conflict(String),
}

/// Records intents. A fault must call [`Intents::intent`] before every side effect;
/// the intent is durable (fsynced) when the call returns.
#[async_trait]
pub trait Intents: Send + Sync {
    async fn intent(&self, undo: UndoRecord) -> Result<(), FaultError>;

    /// Records that the side effect of the latest intent runs as process group `pgid`, so
    /// that `recover` can kill what is left of it. Sinks that cannot record it ignore it.
    async fn process_group(&self, _pgid: u32) -> Result<(), FaultError> {
        Ok(())
    }

    /// Records what a side effect changed, for the report (not journaled: the intent
    /// before it holds the undo). Sinks that do not report ignore it.
    fn changed(&self, _change: Change) {}
}

/// What a fault changed on one resource it actually hit: the state before and after the
/// side effect (`subnet-1` network ACL `acl-a` → `acl-clone`; Aurora writer `db-1` → `db-2`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    /// The resource, as the report names it (`subnet subnet-1`, `instance i-1`,
    /// `Auto Scaling group web`, `Aurora cluster shop`).
    pub resource: String,
    /// Its Availability Zone, when it has one and firedrill knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// What changed (`network ACL`, `state`, `subnets`, `writer`).
    pub what: String,
    pub before: String,
    pub after: String,
    /// The fault's revert puts `before` back (false: a failover without failback is its
    /// own recovery).
    pub undone_by_revert: bool,
}

/// A fault to inject.
#[async_trait]
pub trait Fault: Send + Sync {
    /// Performs the side effects, journaling each one's undo first.
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError>;
}

/// Undoes journaled side effects. Must be idempotent and must tolerate a side effect that
/// never happened (the process may have died between intent and call).
#[async_trait]
pub trait Undoer: Send + Sync {
    async fn undo(&self, record: &UndoRecord) -> Result<(), FaultError>;
}

/// A probe with its schedule.
#[derive(Clone)]
pub struct ProbeSpec {
    pub name: String,
    pub every: Duration,
    /// Upper bound of one check; a check that takes longer is a failing sample.
    pub timeout: Duration,
    pub probe: Arc<dyn Probe>,
    /// Part of the steady state (counts for detection and recovery). `false` for a probe
    /// that only feeds an abort rule, such as a CloudWatch alarm stop condition; it still
    /// has to pass at baseline.
    pub steady: bool,
}

/// A fault with its schedule.
#[derive(Clone)]
pub struct FaultSpec {
    pub name: String,
    pub kind: String,
    pub duration: Duration,
    /// Indexes of the faults this one starts after.
    pub after: Vec<usize>,
    pub fault: Arc<dyn Fault>,
}

/// An abort rule, with probes named by index.
#[derive(Clone, Debug, PartialEq)]
pub enum AbortRule {
    FailingFor {
        probe: usize,
        duration: Duration,
    },
    ConsecutiveFailures {
        probe: usize,
        count: u32,
    },
    /// Measured from the start of the first injection.
    MaxDuration(Duration),
    /// Trips on the first failing sample of `probe`, which watches the named alarm.
    Alarm {
        probe: usize,
        alarm: String,
    },
    /// Trips on the first failing sample of `probe`, which watches the emergency halt
    /// (`crate::halt`): the halt is set, or cannot be read.
    Halt {
        probe: usize,
        /// Where the halt is kept (`/firedrill/halt`), for the reason when it cannot be read.
        parameter: String,
    },
}

/// How reverts are retried, and for how long. A revert step never runs past its
/// deadline: a call that hangs (a blackholed endpoint, a webhook-like dependency that never
/// answers) ends as a failed revert, listed in `still_broken` with its manual fix, instead
/// of holding the run — and the operator's report — forever.
#[derive(Clone, Debug)]
pub struct RevertPolicy {
    pub attempts: u32,
    /// Upper bound of one attempt.
    pub timeout: Duration,
    /// Wait before the second attempt; doubles after each failure.
    pub backoff: Duration,
    /// Upper bound of one step's attempts and backoff together.
    pub deadline: Duration,
    /// Cancelled when the operator insists (a second SIGINT/SIGTERM): the attempt under
    /// way still runs to its end or its timeout, but no step is retried after that.
    pub hurry: CancellationToken,
}

/// The shortest and longest revert deadline an operator may set (`run --revert-deadline`).
pub const REVERT_DEADLINE_BOUNDS: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(30 * 60));

/// The longest a single revert attempt may take: long enough for an instance to start and
/// be seen running, short of the SDK's own operation timeout.
pub const REVERT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);

impl RevertPolicy {
    /// The default policy with `deadline` per step (each attempt bounded by the shorter of
    /// [`REVERT_ATTEMPT_TIMEOUT`] and the deadline); `Err` outside
    /// [`REVERT_DEADLINE_BOUNDS`].
    pub fn with_deadline(deadline: Duration) -> Result<Self, String> {
        let (lo, hi) = REVERT_DEADLINE_BOUNDS;
        if deadline < lo || deadline > hi {
            return Err(format!(
                "the revert deadline must be between {} and {}, not {}",
                humantime::format_duration(lo),
                humantime::format_duration(hi),
                humantime::format_duration(deadline)
            ));
        }
        Ok(RevertPolicy { deadline, timeout: REVERT_ATTEMPT_TIMEOUT.min(deadline), ..RevertPolicy::default() })
    }
}

impl Default for RevertPolicy {
    fn default() -> Self {
        RevertPolicy {
            attempts: 4,
            timeout: REVERT_ATTEMPT_TIMEOUT,
            backoff: Duration::from_secs(1),
            deadline: Duration::from_secs(5 * 60),
            hurry: CancellationToken::new(),
        }
    }
}

/// Everything the executor needs to run one game day.
#[derive(Clone)]
pub struct RunSpec {
    pub probes: Vec<ProbeSpec>,
    pub faults: Vec<FaultSpec>,
    pub abort: Vec<AbortRule>,
    /// `recover` within `within`, or `sustain` (then `within` is not used).
    pub objective: ObjectiveKind,
    pub within: Duration,
    pub stable_for: Duration,
    pub settle_timeout: Duration,
    pub revert: RevertPolicy,
    /// Side effects the caller made before the run (a lease on the targets), released by
    /// the executor once the last fault is reverted — or at once when the run ends before
    /// any injection — with the same retries, journal entries and `still_broken` listing as
    /// a fault's revert. Kept while a fault's revert has failed: they protect a resource
    /// that is still broken (`recover` releases them). Empty for none.
    pub holds: Vec<Hold>,
    /// The alarms that page, watched from before the first injection to the verdict
    /// (`pager`); `None`: pages are not watched.
    pub pages: Option<PagerSpec>,
    /// When the run started, if before the engine did (the facilitator answering `hold`
    /// steps first): the record's times count from it, so they share the playbook's
    /// clock. `None`: now.
    pub started: Option<tokio::time::Instant>,
}

/// A side effect the caller made, and journaled as an intent, before the run: the executor
/// releases it after the last revert (see [`RunSpec::holds`]). Fault steps are numbered
/// after the highest hold step.
#[derive(Clone, Debug)]
pub struct Hold {
    /// The name its journal entries carry in place of a fault's (`(lease)`).
    pub name: String,
    /// The step number of the caller's intent entry.
    pub step: u64,
    pub undo: UndoRecord,
}

/// What the executor reports while it runs (for status lines).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Baseline { ok: bool },
    Injecting { fault: String },
    Injected { fault: String },
    InjectFailed { fault: String, error: String },
    Probe { probe: String, ok: bool, detail: String, at: Duration },
    Detected { at: Duration },
    Recovered { at: Duration },
    Abort { reason: String },
    Reverting { fault: String, description: String },
    Reverted { fault: String },
    RevertRetry { fault: String, attempt: u32, error: String },
    RevertFailed { fault: String, error: String },
    Settling { timeout: Duration },
}

pub trait Observer: Send + Sync {
    fn event(&self, e: &Event);
}

impl Observer for () {
    fn event(&self, _: &Event) {}
}

/// Undoes one journaled step with the policy's timeout, retries, backoff and deadline.
/// Returns the number of attempts used, or the last error. Never runs past the deadline:
/// the attempt under way then is cut off (every undo tolerates that: it is idempotent and
/// journaled before its call) and the step fails with the deadline named.
pub async fn revert_with_retries(
    undoer: &dyn Undoer,
    record: &UndoRecord,
    policy: &RevertPolicy,
    mut on_retry: impl FnMut(u32, &str),
) -> Result<u32, (String, u32)> {
    let mut wait = policy.backoff;
    let attempts = policy.attempts.max(1);
    let deadline = tokio::time::Instant::now() + policy.deadline;
    let mut last = String::new();
    for attempt in 1..=attempts {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let limit = policy.timeout.min(left);
        match tokio::time::timeout(limit, undoer.undo(record)).await {
            Ok(Ok(())) => return Ok(attempt),
            // Someone else changed the resource: retrying would clobber their change. A
            // refusal (a guard) would refuse again.
            Ok(Err(e @ (FaultError::Conflict(_) | FaultError::Refused(_)))) => return Err((e.to_string(), attempt)),
            // IAM said no, or the credentials were refused: the same call fails the same way.
            Ok(Err(FaultError::Aws(e))) if !e.may_succeed_later() => {
                return Err((e.to_string(), attempt));
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) if limit < policy.timeout => {
                last = format!(
                    "still not done when the revert deadline ({}) passed",
                    humantime::format_duration(policy.deadline)
                );
                return Err((last, attempt));
            }
            Err(_) => last = format!("timed out after {}", humantime::format_duration(policy.timeout)),
        }
        if policy.hurry.is_cancelled() {
            return Err((format!("{last} (not retried: interrupted again)"), attempt));
        }
        if attempt < attempts {
            if tokio::time::Instant::now() + wait >= deadline {
                return Err((
                    format!(
                        "{last} (not retried: the revert deadline of {} would pass)",
                        humantime::format_duration(policy.deadline)
                    ),
                    attempt,
                ));
            }
            on_retry(attempt, &last);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = policy.hurry.cancelled() => {
                    return Err((format!("{last} (not retried: interrupted again)"), attempt));
                }
            }
            wait = wait.saturating_mul(2);
        }
    }
    Err((last, attempts))
}

#[cfg(test)]
mod tests;
