//! Engine logic under virtual time (`tokio::time::pause`) with fake faults, probes and
//! undo: exact detection and recovery times, abort timing, revert order and retries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::executor::Env;
use super::*;
use crate::state::journal::{Entry, MemJournal, UndoRecord};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A system that breaks when a fault is injected, heals by itself after `heal_after` (if
/// set), and is fixed by a revert.
#[derive(Default)]
struct System {
    broken_since: Option<Instant>,
    heal_after: Option<Duration>,
    /// Healthy before anything happens? (false: baseline fails)
    down_from_start: bool,
    /// Undo calls, in order.
    undone: Vec<String>,
    injected: Vec<String>,
    /// Undo fails this many times before it works (u32::MAX: always).
    undo_failures: u32,
    /// Undo never answers (a blackholed endpoint).
    undo_hangs: bool,
}

type Sys = Arc<Mutex<System>>;

struct FakeProbe(Sys);

#[async_trait]
impl Probe for FakeProbe {
    async fn check(&self) -> Check {
        let s = self.0.lock().unwrap();
        if s.down_from_start {
            return Check::fail("down");
        }
        match (s.broken_since, s.heal_after) {
            (Some(t), Some(h)) if Instant::now() - t >= h => Check::pass("healed"),
            (Some(_), _) => Check::fail("broken"),
            (None, _) => Check::pass("ok"),
        }
    }
}

struct HangingProbe;

#[async_trait]
impl Probe for HangingProbe {
    async fn check(&self) -> Check {
        std::future::pending::<()>().await;
        unreachable!()
    }
}

struct FakeFault {
    name: String,
    sys: Sys,
    delay: Duration,
    breaks: bool,
    fail_after_intent: bool,
    /// Journals its intent, then never returns (a call that hangs).
    hang_after_intent: bool,
}

#[async_trait]
impl Fault for FakeFault {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        tokio::time::sleep(self.delay).await;
        intents
            .intent(UndoRecord {
                kind: "fake".into(),
                description: format!("undo {}", self.name),
                data: serde_json::json!({ "fault": self.name }),
            })
            .await?;
        if self.fail_after_intent {
            return Err(FaultError::Failed("the API said no".into()));
        }
        if self.hang_after_intent {
            std::future::pending::<()>().await;
        }
        let mut s = self.sys.lock().unwrap();
        s.injected.push(self.name.clone());
        if self.breaks && s.broken_since.is_none() {
            s.broken_since = Some(Instant::now());
        }
        Ok(())
    }
}

struct FakeUndo(Sys);

#[async_trait]
impl Undoer for FakeUndo {
    async fn undo(&self, record: &UndoRecord) -> Result<(), FaultError> {
        if self.0.lock().unwrap().undo_hangs {
            std::future::pending::<()>().await;
        }
        let mut s = self.0.lock().unwrap();
        if s.undo_failures > 0 {
            s.undo_failures = s.undo_failures.saturating_sub(1);
            return Err(FaultError::Failed("throttled".into()));
        }
        s.undone.push(record.data["fault"].as_str().unwrap().to_string());
        s.broken_since = None;
        Ok(())
    }
}

struct Harness {
    sys: Sys,
    spec: RunSpec,
    journal: Arc<MemJournal>,
    cancel: CancellationToken,
    cancel_reason: Arc<std::sync::OnceLock<String>>,
}

impl Harness {
    fn new(heal_after: Option<Duration>) -> Self {
        let sys: Sys = Arc::new(Mutex::new(System { heal_after, ..Default::default() }));
        let spec = RunSpec {
            probes: vec![ProbeSpec {
                name: "web".into(),
                every: ms(100),
                timeout: ms(50),
                probe: Arc::new(FakeProbe(sys.clone())),
                steady: true,
            }],
            faults: vec![],
            abort: vec![],
            objective: ObjectiveKind::Recover,
            within: ms(2500),
            stable_for: ms(1000),
            settle_timeout: ms(10_000),
            revert: RevertPolicy {
                attempts: 4,
                timeout: ms(1000),
                backoff: ms(1000),
                deadline: ms(60_000),
                hurry: CancellationToken::new(),
            },
            holds: Vec::new(),
            pages: None,
            started: None,
        };
        Harness {
            sys,
            spec,
            journal: Arc::new(MemJournal::default()),
            cancel: CancellationToken::new(),
            cancel_reason: Default::default(),
        }
    }

    fn fault(mut self, name: &str, duration: u64, delay: u64, after: &[usize]) -> Self {
        self.spec.faults.push(FaultSpec {
            name: name.into(),
            kind: "fake".into(),
            duration: ms(duration),
            after: after.to_vec(),
            fault: Arc::new(FakeFault {
                name: name.into(),
                sys: self.sys.clone(),
                delay: ms(delay),
                breaks: true,
                fail_after_intent: false,
                hang_after_intent: false,
            }),
        });
        self
    }

    async fn run(&self) -> RunRecord {
        let env = Env {
            journal: self.journal.clone(),
            undoer: Arc::new(FakeUndo(self.sys.clone())),
            observer: Arc::new(()),
            cancel: self.cancel.clone(),
            cancel_reason: self.cancel_reason.clone(),
        };
        execute(self.spec.clone(), env).await
    }

    fn undone(&self) -> Vec<String> {
        self.sys.lock().unwrap().undone.clone()
    }
}

#[tokio::test(start_paused = true)]
async fn self_healing_system_recovers_during_the_fault() {
    let h = Harness::new(Some(ms(2000))).fault("break", 5000, 0, &[]);
    let r = h.run().await;
    assert_eq!(r.t_inject, Some(ms(0)));
    assert_eq!(r.time_to_detect(), Some(ms(100)), "first sample after injection");
    assert_eq!(r.time_to_recover(), Some(ms(2000)), "healed 2s after injection");
    assert_eq!(r.recovered_during_fault(), Some(true));
    assert_eq!(r.faults[0].reverted_at, Some(ms(5000)));
    assert_eq!(r.outcome, Outcome::Passed);
    assert_eq!(r.precision, ms(100));
    assert_eq!(h.undone(), ["break"]);
}

#[tokio::test(start_paused = true)]
async fn recovery_only_after_revert_misses_the_objective() {
    let h = Harness::new(None).fault("break", 3050, 0, &[]);
    let r = h.run().await;
    assert_eq!(r.time_to_detect(), Some(ms(100)));
    assert_eq!(r.faults[0].reverted_at, Some(ms(3050)));
    // Every probe is sampled as soon as the last revert ends, not at its next tick.
    assert_eq!(r.time_to_recover(), Some(ms(3050)), "first passing sample: right after the revert");
    assert_eq!(r.recovered_during_fault(), Some(false));
    assert!(r.settled);
    assert_eq!(r.outcome, Outcome::ObjectiveMissed, "3.05s > 2.5s objective");
    // Settle ends once stable_for has passed after the revert.
    assert_eq!(r.ended_at, ms(4050));
}

#[tokio::test(start_paused = true)]
async fn abort_rule_trips_on_the_exact_sample_and_reverts() {
    let mut h = Harness::new(None).fault("break", 60_000, 0, &[]);
    h.spec.abort = vec![AbortRule::FailingFor { probe: 0, duration: ms(1000) }];
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    // Failing streak starts at the 100ms sample; 1000ms later is the 1100ms sample.
    assert_eq!(r.faults[0].revert_started_at, Some(ms(1100)));
    assert_eq!(r.faults[0].reverted_at, Some(ms(1100)));
    assert!(r.abort_reason.unwrap().contains("failing for 1s"));
    assert_eq!(h.undone(), ["break"]);
    // No settle after an abort.
    assert_eq!(r.ended_at, ms(1100));
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_trip_on_the_nth_sample() {
    let mut h = Harness::new(None).fault("break", 60_000, 0, &[]);
    h.spec.abort = vec![AbortRule::ConsecutiveFailures { probe: 0, count: 5 }];
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    assert_eq!(r.faults[0].revert_started_at, Some(ms(500)));
}

#[tokio::test(start_paused = true)]
async fn abort_reverts_newest_first() {
    // Injection order: b (10ms), c (20ms), a (30ms) → revert order a, c, b.
    let mut h = Harness::new(None).fault("a", 60_000, 30, &[]).fault("b", 60_000, 10, &[]).fault("c", 60_000, 20, &[]);
    h.spec.abort = vec![AbortRule::MaxDuration(ms(500))];
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    assert_eq!(h.undone(), ["a", "c", "b"]);
    assert!(r.faults.iter().all(|f| f.revert_started_at >= Some(ms(500))));
    assert!(r.abort_reason.unwrap().contains("max_duration 500ms"));
}

#[tokio::test(start_paused = true)]
async fn after_starts_a_fault_once_its_dependency_is_reverted() {
    let h = Harness::new(None).fault("first", 1000, 0, &[]).fault("second", 1000, 0, &[0]);
    let r = h.run().await;
    assert_eq!(r.faults[0].injected_at, Some(ms(0)));
    assert_eq!(r.faults[0].reverted_at, Some(ms(1000)));
    assert_eq!(r.faults[1].inject_started_at, Some(ms(1000)));
    assert_eq!(r.faults[1].reverted_at, Some(ms(2000)));
    assert_eq!(h.undone(), ["first", "second"]);
}

#[tokio::test(start_paused = true)]
async fn cancel_mid_fault_reverts() {
    let h = Harness::new(None).fault("break", 60_000, 0, &[]);
    let cancel = h.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ms(750)).await;
        cancel.cancel();
    });
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    assert_eq!(r.faults[0].reverted_at, Some(ms(750)));
    assert_eq!(r.abort_reason.as_deref(), Some("interrupted by signal"));
    assert_eq!(h.undone(), ["break"]);
}

/// The facilitator's `abort` cancels like a signal, and the report gives its reason.
#[tokio::test(start_paused = true)]
async fn a_cancel_with_a_reason_aborts_with_that_reason() {
    let h = Harness::new(None).fault("break", 60_000, 0, &[]);
    let (cancel, why) = (h.cancel.clone(), h.cancel_reason.clone());
    tokio::spawn(async move {
        tokio::time::sleep(ms(500)).await;
        let _ = why.set("the facilitator typed `abort` at step `tell`".into());
        cancel.cancel();
    });
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    assert_eq!(r.faults[0].reverted_at, Some(ms(500)));
    assert_eq!(r.abort_reason.as_deref(), Some("the facilitator typed `abort` at step `tell`"));
    assert_eq!(h.undone(), ["break"]);
}

#[tokio::test(start_paused = true)]
async fn cancel_during_a_slow_injection_waits_for_it_then_reverts() {
    let h = Harness::new(None).fault("slow", 60_000, 2000, &[]);
    let cancel = h.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ms(500)).await;
        cancel.cancel();
    });
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    assert_eq!(r.faults[0].injected_at, Some(ms(2000)));
    assert_eq!(r.faults[0].reverted_at, Some(ms(2000)));
    assert_eq!(h.undone(), ["slow"]);
}

/// A call that never returns does not hold the revert back: INJECT_GRACE after the abort,
/// the injection is cut off and what it journaled is undone.
#[tokio::test(start_paused = true)]
async fn a_hung_injection_is_cut_off_after_the_grace_and_reverted() {
    let mut h = Harness::new(None).fault("ok", 60_000, 0, &[]).fault("hung", 60_000, 100, &[]);
    let hung = FakeFault {
        name: "hung".into(),
        sys: h.sys.clone(),
        delay: ms(100),
        breaks: true,
        fail_after_intent: false,
        hang_after_intent: true,
    };
    h.spec.faults[1].fault = Arc::new(hung);
    let cancel = h.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ms(500)).await;
        cancel.cancel();
    });
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    let cut = ms(500) + super::executor::INJECT_GRACE;
    assert_eq!(r.faults[1].injected_at, None);
    assert!(r.faults[1].inject_error.as_deref().unwrap().starts_with("cut off 10s after the run began to abort"));
    assert_eq!(r.faults[1].reverted_at, Some(cut), "its journaled step is undone at once");
    assert_eq!(r.faults[0].reverted_at, Some(cut), "then the other fault, newest first");
    assert_eq!(h.undone(), ["hung", "ok"]);
    let failed: Vec<_> = h.journal.entries().into_iter().filter(|e| matches!(e, Entry::InjectFailed { .. })).collect();
    assert_eq!(failed.len(), 1, "the cut-off is journaled");
}

#[tokio::test(start_paused = true)]
async fn failed_baseline_injects_nothing() {
    let h = Harness::new(None).fault("break", 1000, 0, &[]);
    h.sys.lock().unwrap().down_from_start = true;
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Blocked);
    assert!(h.sys.lock().unwrap().injected.is_empty());
    assert!(h.journal.entries().is_empty(), "nothing journaled: {:?}", h.journal.entries());
    assert!(r.abort_reason.unwrap().contains("web (down)"));
}

#[tokio::test(start_paused = true)]
async fn revert_retries_with_backoff_then_succeeds() {
    let h = Harness::new(None).fault("break", 1000, 0, &[]);
    h.sys.lock().unwrap().undo_failures = 2;
    let r = h.run().await;
    // Attempts at 1000, 2000 (after 1s), 4000 (after 2s).
    assert_eq!(r.faults[0].reverted_at, Some(ms(4000)));
    assert_eq!(r.faults[0].revert_attempts, 3);
    assert_eq!(r.outcome, Outcome::ObjectiveMissed);
}

#[tokio::test(start_paused = true)]
async fn permanent_revert_failure_is_revert_failed_and_listed() {
    let h = Harness::new(None).fault("break", 1000, 0, &[]);
    h.sys.lock().unwrap().undo_failures = u32::MAX;
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::RevertFailed);
    assert_eq!(r.faults[0].reverted_at, None);
    assert_eq!(r.faults[0].revert_attempts, 4);
    assert_eq!(r.still_broken.len(), 1);
    assert_eq!(r.still_broken[0].description, "undo break");
    assert!(h.journal.entries().iter().any(|e| matches!(e, Entry::RevertFailed { attempts: 4, .. })));
}

/// A revert whose calls never answer ends at its deadline as `revert_failed`, listed in
/// `still_broken`, instead of holding the run (and its report) for ever; a signal during
/// it does not skip it.
#[tokio::test(start_paused = true)]
async fn a_hanging_revert_ends_at_its_deadline_as_revert_failed() {
    let mut h = Harness::new(None).fault("break", 1000, 0, &[]);
    h.spec.revert.timeout = ms(3000);
    h.spec.revert.deadline = ms(6000);
    h.sys.lock().unwrap().undo_hangs = true;
    let cancel = h.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ms(1500)).await;
        cancel.cancel();
    });
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::RevertFailed);
    // Attempts at 1s (timed out at 4s) and 5s (cut off by the deadline at 7s).
    assert_eq!(r.faults[0].revert_attempts, 2);
    assert_eq!(r.still_broken.len(), 1);
    let error = &r.still_broken[0].error;
    assert_eq!(error, "still not done when the revert deadline (6s) passed");
    assert!(r.ended_at <= ms(7100), "ended at {:?}", r.ended_at);
    assert!(h.journal.entries().iter().any(|e| matches!(e, Entry::RevertFailed { attempts: 2, .. })));
}

/// The operator insists (a second signal): the attempt under way ends normally, but no
/// step is retried after it; every step still gets its attempt.
#[tokio::test(start_paused = true)]
async fn a_second_signal_stops_revert_retries_but_never_skips_a_revert() {
    let h = Harness::new(None).fault("a", 60_000, 0, &[]).fault("b", 60_000, 10, &[]);
    h.sys.lock().unwrap().undo_failures = u32::MAX;
    let (cancel, hurry) = (h.cancel.clone(), h.spec.revert.hurry.clone());
    tokio::spawn(async move {
        tokio::time::sleep(ms(500)).await;
        cancel.cancel();
        hurry.cancel();
    });
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::RevertFailed);
    assert!(r.faults.iter().all(|f| f.revert_attempts == 1), "{:?}", r.faults);
    assert_eq!(r.still_broken.len(), 2, "both reverts were attempted");
    assert!(r.still_broken[0].error.ends_with("(not retried: interrupted again)"), "{}", r.still_broken[0].error);
}

#[test]
fn the_revert_deadline_is_bounded() {
    assert!(RevertPolicy::with_deadline(Duration::from_secs(1)).is_err());
    assert!(RevertPolicy::with_deadline(Duration::from_secs(3600)).is_err());
    let p = RevertPolicy::with_deadline(Duration::from_secs(30)).unwrap();
    assert_eq!((p.deadline, p.timeout), (Duration::from_secs(30), Duration::from_secs(30)));
    let p = RevertPolicy::with_deadline(Duration::from_secs(600)).unwrap();
    assert_eq!(p.timeout, REVERT_ATTEMPT_TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn half_done_injection_is_reverted() {
    let mut h = Harness::new(None);
    h.spec.faults.push(FaultSpec {
        name: "half".into(),
        kind: "fake".into(),
        duration: ms(1000),
        after: vec![],
        fault: Arc::new(FakeFault {
            name: "half".into(),
            sys: h.sys.clone(),
            delay: ms(0),
            breaks: true,
            fail_after_intent: true,
            hang_after_intent: false,
        }),
    });
    let h = h.fault("later", 1000, 0, &[0]);
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    assert!(r.abort_reason.unwrap().contains("fault `half` failed to inject: the API said no"));
    assert_eq!(h.undone(), ["half"], "the journaled step is undone; `later` never starts");
    assert_eq!(r.faults[1].inject_started_at, None);
}

#[tokio::test(start_paused = true)]
async fn journal_has_intent_before_done_and_reverted() {
    let h = Harness::new(Some(ms(200))).fault("break", 500, 0, &[]);
    h.run().await;
    let kinds: Vec<&str> = h
        .journal
        .entries()
        .iter()
        .map(|e| match e {
            Entry::Intent { .. } => "intent",
            Entry::Done { .. } => "done",
            Entry::Reverted { .. } => "reverted",
            Entry::RunFinished { .. } => "finished",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["intent", "done", "reverted", "finished"]);
}

/// A fault that finds nothing to do at injection journals no step.
struct DoesNothing;

#[async_trait]
impl Fault for DoesNothing {
    async fn inject(&self, _: &dyn Intents) -> Result<(), FaultError> {
        Ok(())
    }
}

/// A run in which no fault changed anything (each journaled no step) is `no_impact`,
/// never `passed`, even under a `sustain` objective that would otherwise be met; one
/// fault with an effect beside it keeps the run's outcome, and the idle fault still shows
/// zero steps.
#[tokio::test(start_paused = true)]
async fn a_run_in_which_no_fault_changed_anything_is_no_impact_not_passed() {
    let idle = |name: &str| FaultSpec {
        name: name.into(),
        kind: "fake".into(),
        duration: ms(500),
        after: vec![],
        fault: Arc::new(DoesNothing),
    };
    let mut h = Harness::new(None);
    h.spec.objective = ObjectiveKind::Sustain;
    h.spec.faults.push(idle("idle"));
    let r = h.run().await;
    assert!(r.objective_met(), "the steady state held");
    assert_eq!(r.faults[0].steps, 0);
    assert!(r.faults[0].injected_at.is_some() && r.faults[0].inject_error.is_none());
    assert_eq!(r.outcome, Outcome::NoImpact);

    let mut h = harmless(0);
    h.spec.objective = ObjectiveKind::Sustain;
    h.spec.faults.push(idle("idle"));
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Passed, "the harmless fault did act");
    assert_eq!((r.faults[0].steps, r.faults[1].steps), (1, 0));
}

/// A harness whose one fault (`delay` to inject) breaks nothing.
fn harmless(delay: u64) -> Harness {
    let mut h = Harness::new(None);
    h.spec.faults.push(FaultSpec {
        name: "harmless".into(),
        kind: "fake".into(),
        duration: ms(1000),
        after: vec![],
        fault: Arc::new(FakeFault {
            name: "harmless".into(),
            sys: h.sys.clone(),
            delay: ms(delay),
            breaks: false,
            fail_after_intent: false,
            hang_after_intent: false,
        }),
    });
    h
}

/// A recover objective tests recovery: a run in which no probe ever failed did not, so it
/// is `no_impact`, never `passed`, whatever the measured (zero) time to recover.
#[tokio::test(start_paused = true)]
async fn a_recover_run_without_impact_is_no_impact_not_passed() {
    let h = harmless(0);
    let r = h.run().await;
    assert_eq!(r.time_to_detect(), None);
    assert_eq!(r.time_to_recover(), Some(Duration::ZERO));
    assert!(r.settled && !r.impact);
    assert!(!r.objective_met(), "nothing was recovered from");
    assert_eq!(r.outcome, Outcome::NoImpact);
    assert_eq!(h.undone(), ["harmless"], "every fault reverted all the same");
}

/// `sustain`: the system must absorb the fault. No probe failing is a pass...
#[tokio::test(start_paused = true)]
async fn a_sustain_run_in_which_no_probe_fails_passes() {
    let mut h = harmless(0);
    h.spec.objective = ObjectiveKind::Sustain;
    let r = h.run().await;
    assert_eq!(r.objective_kind, ObjectiveKind::Sustain);
    assert_eq!(r.objective, Duration::ZERO, "sustain has no recovery time");
    assert!(r.objective_met());
    assert_eq!(r.outcome, Outcome::Passed);
}

/// ...and one failing sample misses it, even when the system heals well within what a
/// recover objective would allow.
#[tokio::test(start_paused = true)]
async fn a_sustain_run_in_which_a_probe_fails_misses_the_objective_even_if_it_heals_fast() {
    let mut h = Harness::new(Some(ms(200))).fault("break", 2000, 0, &[]);
    h.spec.objective = ObjectiveKind::Sustain;
    let r = h.run().await;
    assert_eq!(r.time_to_detect(), Some(ms(100)));
    assert_eq!(r.time_to_recover(), Some(ms(200)), "healed after 200ms, far inside the 2.5s `within`");
    assert!(r.settled && r.impact);
    assert_eq!(r.outcome, Outcome::ObjectiveMissed);
    // The same run judged by a recover objective passes.
    h.spec.objective = ObjectiveKind::Recover;
    h.sys.lock().unwrap().undone.clear();
    assert_eq!(h.run().await.outcome, Outcome::Passed);
}

/// Fails from `from` to `to` after it was built, passes otherwise.
struct FailsBetween {
    start: Instant,
    from: Duration,
    to: Duration,
}

#[async_trait]
impl Probe for FailsBetween {
    async fn check(&self) -> Check {
        let t = self.start.elapsed();
        if t >= self.from && t < self.to { Check::fail("blip") } else { Check::pass("ok") }
    }
}

/// "No probe may fail during the run" includes the injection itself: a failure while a
/// slow injection is still under way (before it is confirmed, so not counted as
/// detection) still misses a sustain objective, and it is an impact for a recover one.
#[tokio::test(start_paused = true)]
async fn a_failure_while_injecting_is_an_impact() {
    let mut h = harmless(500);
    h.spec.objective = ObjectiveKind::Sustain;
    h.spec.probes[0].probe = Arc::new(FailsBetween { start: Instant::now(), from: ms(150), to: ms(250) });
    let r = h.run().await;
    assert_eq!(r.faults[0].injected_at, Some(ms(500)));
    assert_eq!(r.time_to_detect(), None, "before the injection was confirmed");
    assert!(r.impact);
    assert_eq!(r.outcome, Outcome::ObjectiveMissed);
}

#[tokio::test(start_paused = true)]
async fn never_recovering_after_revert_is_objective_missed_with_no_recovery_time() {
    let mut h = Harness::new(None).fault("break", 1000, 0, &[]);
    h.spec.settle_timeout = ms(3000);
    // The revert "works" but the system stays down.
    h.spec.probes[0].probe = Arc::new(FailAfter(Instant::now() + ms(1)));
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::ObjectiveMissed);
    assert_eq!(r.time_to_recover(), None);
    assert!(!r.settled);
    assert_eq!(r.ended_at, ms(4000), "revert at 1s + settle_timeout 3s");
}

/// A probe whose answer takes `latency` to come back (what it reports is the state when it
/// asked).
struct Latent(FakeProbe, Duration);

#[async_trait]
impl Probe for Latent {
    async fn check(&self) -> Check {
        let c = self.0.check().await;
        tokio::time::sleep(self.1).await;
        c
    }
}

/// Settle samples every probe as soon as the last revert ends, and again the moment the
/// window could be complete: the verdict comes `stable_for` plus one probe round-trip after
/// the last revert (plus one more round-trip when the system is only seen healthy after
/// it), never up to a probe interval later.
#[tokio::test(start_paused = true)]
async fn settle_judges_stable_for_plus_one_round_trip_after_the_last_revert() {
    let latency = ms(30);
    // stable_for a whole number of intervals, and not: the probes' own ticks then miss the
    // window's end by half an interval.
    for stable_for in [ms(1000), ms(1500)] {
        for heal_after in [Some(ms(1500)), None] {
            let mut h = Harness::new(heal_after).fault("break", 2500, 0, &[]);
            h.spec.probes[0].every = ms(1000);
            h.spec.probes[0].timeout = ms(500);
            h.spec.probes[0].probe = Arc::new(Latent(FakeProbe(h.sys.clone()), latency));
            h.spec.stable_for = stable_for;
            h.spec.within = ms(10_000);
            let r = h.run().await;
            let case = format!("stable_for {stable_for:?}, heal_after {heal_after:?}");
            assert_eq!(r.outcome, Outcome::Passed, "{case}");
            assert!(r.settled, "{case}");
            assert!(r.time_to_detect().is_some(), "the fault was seen: {case}");
            // The baseline takes one round-trip; the fault is injected right after it.
            let last_revert = r.faults[0].reverted_at.unwrap();
            assert_eq!(last_revert, latency + ms(2500), "{case}");
            let verdict = match heal_after {
                // Healthy when the revert ended: the window starts there.
                Some(_) => last_revert + stable_for + latency,
                // Seen healthy one round-trip after the revert (sampled at once, not at the
                // next tick): the window starts there.
                None => {
                    assert_eq!(r.time_to_recover(), Some(last_revert + latency - r.t_inject.unwrap()), "{case}");
                    // With stable_for a whole number of intervals, the probe's own tick (from
                    // the sample taken at the revert) lands a round-trip earlier.
                    if stable_for == ms(1000) {
                        last_revert + stable_for + latency
                    } else {
                        last_revert + latency + stable_for + latency
                    }
                }
            };
            assert_eq!(r.ended_at, verdict, "{case}");
        }
    }
}

/// Passes until the instant given, then fails forever.
struct FailAfter(Instant);

#[async_trait]
impl Probe for FailAfter {
    async fn check(&self) -> Check {
        if Instant::now() >= self.0 { Check::fail("down") } else { Check::pass("ok") }
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_probe_is_a_failing_sample_not_a_hang() {
    let mut h = Harness::new(None).fault("break", 1000, 0, &[]);
    h.spec.probes.push(ProbeSpec {
        name: "hangs".into(),
        every: ms(100),
        timeout: ms(50),
        probe: Arc::new(HangingProbe),
        steady: true,
    });
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Blocked);
    assert_eq!(r.baseline[1].detail, "timed out after 50ms");
}

/// A probe that fails from `fail_from` on (virtual time since it was built).
struct AlarmAt {
    start: tokio::time::Instant,
    fail_from: Duration,
}

#[async_trait]
impl Probe for AlarmAt {
    async fn check(&self) -> Check {
        if self.start.elapsed() >= self.fail_from { Check::fail("ALARM") } else { Check::pass("OK") }
    }
}

#[tokio::test(start_paused = true)]
async fn an_alarm_watcher_aborts_but_never_counts_as_the_steady_state() {
    // The system heals at 2s during a 5s fault; an alarm goes off at 3s: the run aborts on
    // the watcher's first ALARM sample, and the recovery it measured still stands.
    let mut h = Harness::new(Some(ms(2000))).fault("break", 5000, 0, &[]);
    h.spec.probes.push(ProbeSpec {
        name: "alarm:latency".into(),
        every: ms(250),
        timeout: ms(50),
        probe: Arc::new(AlarmAt { start: tokio::time::Instant::now(), fail_from: ms(3000) }),
        steady: false,
    });
    h.spec.abort = vec![AbortRule::Alarm { probe: 1, alarm: "latency".into() }];
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    assert_eq!(r.abort_reason.as_deref(), Some("CloudWatch alarm `latency` is in ALARM (abort rule: alarm)"));
    assert_eq!(r.faults[0].revert_started_at, Some(ms(3000)), "the first ALARM sample");
    assert_eq!(r.time_to_detect(), Some(ms(100)));
    assert_eq!(r.time_to_recover(), Some(ms(2000)), "the watcher failing did not reset recovery");
    assert_eq!(r.precision, ms(100), "watchers do not widen the precision bound");
    assert_eq!(h.undone(), ["break"]);
}

/// The emergency halt's watcher: clear until `from` (virtual time since it was built), then
/// what `status` says.
struct HaltAt {
    start: tokio::time::Instant,
    from: Duration,
    status: crate::halt::Status,
}

#[async_trait]
impl Probe for HaltAt {
    async fn check(&self) -> Check {
        let now = if self.start.elapsed() >= self.from { self.status.clone() } else { crate::halt::Status::Clear };
        crate::halt::check(now)
    }
}

fn halt_watch(from: Duration, status: crate::halt::Status) -> ProbeSpec {
    ProbeSpec {
        name: "halt".into(),
        every: crate::halt::interval([ms(100)]),
        timeout: ms(500),
        probe: Arc::new(HaltAt { start: tokio::time::Instant::now(), from, status }),
        steady: false,
    }
}

/// A halt set mid-run aborts it at the watcher's first sample that sees it (the watcher
/// reads every second here: the shortest probe interval, 100ms, raised to the 1 s floor),
/// and every fault in place is reverted, newest first; the reason names the halt. An
/// unreadable halt aborts the same way, saying why.
#[tokio::test(start_paused = true)]
async fn an_emergency_halt_aborts_the_run_and_reverts_every_fault() {
    let halted = crate::halt::Status::Halted(crate::halt::Halt {
        reason: "db migration".into(),
        by: "arn:aws:iam::123456789012:user/maya".into(),
        at: "2026-12-01T18:00:00Z".into(),
    });
    let unreadable = crate::halt::Status::Unreadable("ssm:GetParameter: AccessDeniedException: not allowed".into());
    for (status, reason) in [
        (
            halted,
            "emergency halt (`firedrill halt`): db migration (by arn:aws:iam::123456789012:user/maya at \
             2026-12-01T18:00:00Z)",
        ),
        (
            unreadable,
            "could not read the emergency halt (/firedrill/halt): ssm:GetParameter: AccessDeniedException: not \
             allowed (a halt that cannot be read aborts the run, since the lever is no longer watched)",
        ),
    ] {
        // Two faults in place for 10s; the halt comes at 2.5s.
        let mut h = Harness::new(None).fault("first", 10_000, 0, &[]).fault("second", 10_000, 200, &[]);
        h.spec.probes.push(halt_watch(ms(2500), status));
        h.spec.abort = vec![AbortRule::Halt { probe: 1, parameter: crate::halt::PARAMETER.into() }];
        let r = h.run().await;
        assert_eq!(r.outcome, Outcome::Aborted);
        assert_eq!(r.abort_reason.as_deref(), Some(reason));
        // The watcher samples at 1s, 2s, 3s: the 3s sample is the first to see it.
        assert_eq!(r.faults[1].revert_started_at, Some(ms(3000)), "within one watcher interval");
        assert!(r.faults.iter().all(|f| f.reverted_at.is_some()), "{:?}", r.faults);
        assert_eq!(h.undone(), ["second", "first"], "newest first");
        assert_eq!(r.precision, ms(100), "the watcher does not widen the precision bound");
    }
}

/// A halt already set when a run starts (set between `plan`/prepare and the baseline):
/// nothing is injected.
#[tokio::test(start_paused = true)]
async fn a_halt_set_before_injection_injects_nothing() {
    let mut h = Harness::new(None).fault("break", 5000, 0, &[]);
    h.spec.probes.push(halt_watch(ms(0), crate::halt::Status::Halted(crate::halt::Halt::parse("stop"))));
    h.spec.abort = vec![AbortRule::Halt { probe: 1, parameter: crate::halt::PARAMETER.into() }];
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Blocked);
    assert_eq!(
        r.abort_reason.as_deref(),
        Some(
            "a stop condition was not clear before injection: emergency halt (`firedrill halt`): stop (by unknown at \
             unknown)"
        )
    );
    assert!(h.sys.lock().unwrap().injected.is_empty());
    assert!(h.undone().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_alarm_already_in_alarm_stops_the_run_before_injection() {
    let mut h = Harness::new(None).fault("break", 5000, 0, &[]);
    h.spec.probes.push(ProbeSpec {
        name: "alarm:latency".into(),
        every: ms(250),
        timeout: ms(50),
        probe: Arc::new(AlarmAt { start: tokio::time::Instant::now(), fail_from: ms(0) }),
        steady: false,
    });
    h.spec.abort = vec![AbortRule::Alarm { probe: 1, alarm: "latency".into() }];
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Blocked);
    assert!(h.undone().is_empty());
    assert!(r.faults[0].inject_started_at.is_none());
    assert_eq!(
        r.abort_reason.as_deref(),
        Some(
            "a stop condition was not clear before injection: CloudWatch alarm `latency` is in ALARM (abort rule: alarm)"
        ),
        "named as a stop condition, not as the steady state"
    );
}

/// A small deterministic generator for the property tests below.
struct Gen(u64);

impl Gen {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below.max(1)
    }
}

/// Property: on abort, reverts run in exactly the reverse order of injection, whatever
/// the number of faults and their injection delays.
#[tokio::test(start_paused = true)]
async fn property_abort_reverts_in_reverse_injection_order() {
    for seed in 0..60 {
        let mut g = Gen(seed);
        let n = 1 + g.next(6) as usize;
        let mut h = Harness::new(None);
        for i in 0..n {
            // Distinct delays so the injection order is well defined.
            h = h.fault(&format!("f{i}"), 60_000, 10 * (1 + g.next(40)) + i as u64, &[]);
        }
        h.spec.abort = vec![AbortRule::MaxDuration(ms(1000))];
        let r = h.run().await;
        assert_eq!(r.outcome, Outcome::Aborted, "seed {seed}");
        let mut injected: Vec<(Duration, String)> =
            r.faults.iter().map(|f| (f.injected_at.unwrap(), f.name.clone())).collect();
        injected.sort();
        let expected: Vec<String> = injected.into_iter().rev().map(|(_, n)| n).collect();
        assert_eq!(h.undone(), expected, "seed {seed}");
    }
}

/// Property: a fault with `after` never starts before each fault it follows has been
/// reverted, for random acyclic `after` graphs; and every fault is reverted exactly once.
#[tokio::test(start_paused = true)]
async fn property_after_ordering_holds_for_random_graphs() {
    for seed in 0..60 {
        let mut g = Gen(1000 + seed);
        let n = 1 + g.next(6) as usize;
        let mut h = Harness::new(Some(ms(100)));
        let mut deps: Vec<Vec<usize>> = Vec::new();
        for i in 0..n {
            // Edges only to earlier faults: the graph is acyclic by construction.
            let after: Vec<usize> = (0..i).filter(|_| g.next(3) == 0).collect();
            h = h.fault(&format!("f{i}"), 100 + 50 * g.next(10), g.next(50), &after);
            deps.push(after);
        }
        let r = h.run().await;
        for (i, after) in deps.iter().enumerate() {
            let start = r.faults[i].inject_started_at.unwrap_or_else(|| panic!("seed {seed}: f{i} never started"));
            for &d in after {
                let reverted = r.faults[d].reverted_at.unwrap();
                assert!(
                    start >= reverted,
                    "seed {seed}: f{i} started at {start:?} before f{d} was reverted at {reverted:?}"
                );
            }
        }
        let mut undone = h.undone();
        undone.sort();
        let mut all: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
        all.sort();
        assert_eq!(undone, all, "seed {seed}: each fault reverted exactly once");
    }
}

/// Durations too long for an `Instant` (an older scenario, or a caller that skipped
/// validation) never panic the run with a fault in place: the deadline just never comes,
/// and an abort still reverts everything.
#[tokio::test(start_paused = true)]
async fn durations_that_overflow_an_instant_still_revert() {
    let mut h = Harness::new(None).fault("break", 0, 0, &[]).fault("later", 0, 0, &[0]);
    h.spec.faults[0].duration = Duration::MAX;
    h.spec.faults[1].duration = Duration::MAX;
    h.spec.settle_timeout = Duration::MAX;
    h.spec.stable_for = Duration::MAX;
    h.spec.within = Duration::MAX;
    let mut slow = h.spec.probes[0].clone();
    slow.name = "slow".into();
    slow.every = Duration::MAX;
    slow.timeout = Duration::MAX;
    h.spec.probes.push(slow);
    h.spec.abort = vec![
        AbortRule::FailingFor { probe: 0, duration: Duration::MAX },
        AbortRule::MaxDuration(Duration::MAX),
        AbortRule::ConsecutiveFailures { probe: 0, count: 3 },
    ];
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted, "{:?}", r.abort_reason);
    assert_eq!(r.faults[0].reverted_at, Some(ms(300)));
    assert_eq!(h.undone(), ["break"]);
    assert_eq!(r.faults[1].inject_started_at, None, "`later` never started");
}

/// Journals its intent, then panics (a bug in a fault implementation).
struct PanickingFault(&'static str);

#[async_trait]
impl Fault for PanickingFault {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        tokio::time::sleep(ms(100)).await;
        intents.intent(fake_undo(self.0)).await?;
        panic!("boom in {}", self.0);
    }
}

fn fake_undo(name: &str) -> UndoRecord {
    UndoRecord { kind: "fake".into(), description: format!("undo {name}"), data: serde_json::json!({ "fault": name }) }
}

/// An undoer that, for the steps of `fault`, panics the first `panics` times and fails
/// for good if `fails`; every other step goes to the inner undoer.
struct Flaky {
    fault: &'static str,
    panics: Mutex<u32>,
    fails: bool,
    calls: Mutex<u32>,
    inner: FakeUndo,
}

impl Flaky {
    fn new(h: &Harness, fault: &'static str, panics: u32, fails: bool) -> Arc<Self> {
        Arc::new(Flaky {
            fault,
            panics: Mutex::new(panics),
            fails,
            calls: Mutex::new(0),
            inner: FakeUndo(h.sys.clone()),
        })
    }
    fn calls(&self) -> u32 {
        *self.calls.lock().unwrap()
    }
}

#[async_trait]
impl Undoer for Flaky {
    async fn undo(&self, record: &UndoRecord) -> Result<(), FaultError> {
        if record.data["fault"] == self.fault {
            *self.calls.lock().unwrap() += 1;
            let panic = {
                let mut p = self.panics.lock().unwrap();
                let now = *p > 0;
                *p = p.saturating_sub(1);
                now
            };
            if panic {
                panic!("undo of {} exploded", self.fault);
            }
            if self.fails {
                return Err(FaultError::Failed("access denied".into()));
            }
        }
        self.inner.undo(record).await
    }
}

impl Harness {
    async fn run_with(&self, undoer: Arc<dyn Undoer>) -> RunRecord {
        let env = Env {
            journal: self.journal.clone(),
            undoer,
            observer: Arc::new(()),
            cancel: self.cancel.clone(),
            cancel_reason: Default::default(),
        };
        execute(self.spec.clone(), env).await
    }

    fn cancel_at(&self, at: u64) {
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ms(at)).await;
            cancel.cancel();
        });
    }

    fn hold(mut self, name: &str, step: u64) -> Self {
        self.spec.holds.push(Hold { name: name.into(), step, undo: fake_undo(name) });
        self
    }
}

/// A fault whose task panics mid-injection counts as failed: the run aborts, and what it
/// journaled is undone with the rest, newest first.
#[tokio::test(start_paused = true)]
async fn a_fault_that_panics_while_injecting_is_reverted_and_the_run_aborts() {
    let mut h = Harness::new(None).fault("ok", 60_000, 0, &[]).fault("boom", 60_000, 0, &[]);
    h.spec.faults[1].fault = Arc::new(PanickingFault("boom"));
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    assert_eq!(r.abort_reason.as_deref(), Some("a fault task failed: panicked: boom in boom"));
    assert_eq!(r.faults[1].inject_error.as_deref(), Some("the fault's task crashed: panicked: boom in boom"));
    assert_eq!(r.faults[1].injected_at, None);
    assert_eq!(h.undone(), ["boom", "ok"], "its journaled step first, then the older fault");
    assert_eq!(r.faults[1].reverted_at, Some(ms(100)));
    let failed = h.journal.entries().into_iter().filter(|e| matches!(e, Entry::InjectFailed { .. })).count();
    assert_eq!(failed, 1, "the crash is journaled");
}

/// An undo that panics fails its step once: it is listed as still broken (the run ends
/// `revert_failed`) instead of being tried again and again, and the other fault is still
/// reverted.
#[tokio::test(start_paused = true)]
async fn an_undo_that_panics_ends_revert_failed_and_is_never_run_again() {
    let h = Harness::new(None).fault("a", 60_000, 0, &[]).fault("b", 60_000, 10, &[]);
    h.cancel_at(500);
    // It would work the fourth time: only a retry loop would get there.
    let undoer = Flaky::new(&h, "a", 3, false);
    let r = h.run_with(undoer.clone()).await;
    assert_eq!(r.outcome, Outcome::RevertFailed);
    assert_eq!(undoer.calls(), 1, "the panicking undo ran once");
    assert_eq!(h.undone(), ["b"]);
    assert_eq!(r.still_broken.len(), 1);
    assert_eq!(r.still_broken[0].fault, "a");
    assert_eq!(r.still_broken[0].description, "undo a");
    assert_eq!(r.still_broken[0].error, "the undo crashed: panicked: undo of a exploded");
    assert_eq!(r.faults[1].reverted_at, Some(ms(500)));
    assert!(h.journal.entries().iter().any(|e| matches!(e, Entry::RevertFailed { fault, .. } if fault == "a")));
    assert_eq!(r.ended_at, ms(500));
}

/// Both at once: the injection panics, then so does the undo of the step it journaled.
#[tokio::test(start_paused = true)]
async fn a_fault_that_panics_while_injecting_and_reverting_ends_revert_failed() {
    let mut h = Harness::new(None).fault("boom", 60_000, 0, &[]);
    h.spec.faults[0].fault = Arc::new(PanickingFault("boom"));
    let undoer = Flaky::new(&h, "boom", u32::MAX, false);
    let r = h.run_with(undoer.clone()).await;
    assert_eq!(r.outcome, Outcome::RevertFailed);
    assert_eq!(undoer.calls(), 1);
    assert_eq!(r.still_broken.len(), 1);
    assert_eq!(r.still_broken[0].step, 1);
    assert!(r.abort_reason.unwrap().starts_with("a fault task failed"));
}

/// A failed revert ends the faults' part of the run: a fault that comes `after` it is not
/// injected into a system with a fault still in place.
#[tokio::test(start_paused = true)]
async fn a_failed_revert_starts_no_further_fault() {
    let h = Harness::new(None).fault("first", 1000, 0, &[]).fault("second", 1000, 0, &[0]);
    let r = h.run_with(Flaky::new(&h, "first", 0, true)).await;
    assert_eq!(r.outcome, Outcome::RevertFailed);
    assert_eq!(r.faults[1].inject_started_at, None);
    assert_eq!(h.sys.lock().unwrap().injected, ["first"]);
}

fn hold_entries(h: &Harness) -> Vec<Entry> {
    h.journal
        .entries()
        .into_iter()
        .filter(|e| match e {
            Entry::Reverted { fault, .. } | Entry::RevertFailed { fault, .. } => fault == "(lease)",
            _ => false,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn holds_are_released_after_the_last_revert() {
    let h = Harness::new(None).hold("(lease)", 7).fault("first", 1000, 0, &[]).fault("second", 1000, 0, &[0]);
    let r = h.run().await;
    assert_eq!(h.undone(), ["first", "second", "(lease)"]);
    assert_eq!(r.outcome, Outcome::Passed);
    assert!(r.still_broken.is_empty());
    let entries = h.journal.entries();
    let steps: Vec<u64> =
        entries.iter().filter_map(|e| if let Entry::Intent { step, .. } = e { Some(*step) } else { None }).collect();
    assert_eq!(steps, [8, 9], "fault steps are numbered after the hold's");
    let released =
        entries.iter().position(|e| matches!(e, Entry::Reverted { step: 7, fault, .. } if fault == "(lease)"));
    let last_fault = entries.iter().rposition(|e| matches!(e, Entry::Reverted { fault, .. } if fault == "second"));
    assert!(released > last_fault && last_fault.is_some(), "{entries:?}");
    assert!(matches!(entries.last(), Some(Entry::RunFinished { .. })));
    assert!(r.settled, "settle still follows");
}

#[tokio::test(start_paused = true)]
async fn holds_are_released_on_abort_and_when_nothing_was_injected() {
    let h = Harness::new(None).hold("(lease)", 0).fault("break", 60_000, 0, &[]);
    h.cancel_at(750);
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Aborted);
    assert_eq!(h.undone(), ["break", "(lease)"]);
    assert_eq!(hold_entries(&h).len(), 1);

    let h = Harness::new(None).hold("(lease)", 0).fault("break", 60_000, 0, &[]);
    h.sys.lock().unwrap().down_from_start = true;
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Blocked);
    assert_eq!(h.undone(), ["(lease)"]);

    let h = Harness::new(None).hold("(lease)", 0).fault("break", 60_000, 0, &[]);
    h.cancel.cancel();
    let r = h.run().await;
    assert_eq!(r.abort_reason.as_deref(), Some("interrupted before anything was injected"));
    assert_eq!(h.undone(), ["(lease)"]);

    // Cancelled with a reason (the facilitator's `abort` at a hold prompt): that reason.
    let h = Harness::new(None).hold("(lease)", 0).fault("break", 60_000, 0, &[]);
    h.cancel_reason.set("the facilitator answered `abort` at step `criteria`".into()).unwrap();
    h.cancel.cancel();
    let r = h.run().await;
    assert_eq!(r.abort_reason.as_deref(), Some("the facilitator answered `abort` at step `criteria`"));
    assert_eq!(h.undone(), ["(lease)"]);
}

#[tokio::test(start_paused = true)]
async fn a_hold_that_cannot_be_released_ends_revert_failed_naming_it() {
    let h = Harness::new(None).hold("(lease)", 0).fault("break", 1000, 0, &[]);
    let r = h.run_with(Flaky::new(&h, "(lease)", 0, true)).await;
    assert_eq!(r.outcome, Outcome::RevertFailed);
    assert_eq!(r.faults[0].reverted_at, Some(ms(1000)));
    assert_eq!(r.still_broken.len(), 1);
    let b = &r.still_broken[0];
    assert_eq!((b.fault.as_str(), b.step, b.description.as_str()), ("(lease)", 0, "undo (lease)"));
    assert_eq!(b.error, "access denied");
    assert!(matches!(hold_entries(&h)[..], [Entry::RevertFailed { attempts: 4, .. }]));
    assert!(!r.settled, "a run with something still broken does not settle");
}

/// After a fault's revert failed the holds stay in place, protecting what is still broken
/// (`recover` releases them).
#[tokio::test(start_paused = true)]
async fn holds_are_kept_while_a_fault_is_still_broken() {
    let h = Harness::new(None).hold("(lease)", 0).fault("break", 1000, 0, &[]);
    let undoer = Flaky::new(&h, "break", 0, true);
    let r = h.run_with(undoer).await;
    assert_eq!(r.outcome, Outcome::RevertFailed);
    assert_eq!(r.still_broken.len(), 1);
    assert_eq!(r.still_broken[0].fault, "break");
    assert!(hold_entries(&h).is_empty());
    assert!(h.undone().is_empty());
}

mod state {
    //! The state machine alone, fed inputs in orders that real tasks only produce by
    //! chance.

    use super::super::executor::{Cmd, Input, Phase, RunState, State, Task, Timer};
    use super::*;

    fn env(h: &Harness) -> Env {
        Env {
            journal: h.journal.clone(),
            undoer: Arc::new(FakeUndo(h.sys.clone())),
            observer: Arc::new(()),
            cancel: h.cancel.clone(),
            cancel_reason: h.cancel_reason.clone(),
        }
    }

    fn record(h: &Harness) -> RunRecord {
        RunRecord {
            outcome: Outcome::Blocked,
            abort_reason: None,
            baseline: vec![],
            samples: vec![],
            faults: h.spec.faults.iter().map(|f| FaultRecord { name: f.name.clone(), ..Default::default() }).collect(),
            t_inject: None,
            detected_at: None,
            recovered_at: None,
            settled: false,
            last_revert_started_at: None,
            ended_at: Duration::ZERO,
            objective_kind: h.spec.objective,
            objective: h.spec.within,
            impact: false,
            stable_for: h.spec.stable_for,
            precision: Duration::ZERO,
            still_broken: vec![],
            pages: None,
        }
    }

    fn cut_off_error() -> &'static str {
        "cut off 10s after the run began to abort, so the revert could start"
    }

    /// The cut-off and the injection's own end land together, the cut-off first: its verdict
    /// stands (no `done`), and the revert waits for the task to be gone.
    #[tokio::test(start_paused = true)]
    async fn an_injection_that_finishes_as_it_is_cut_off_stays_cut_off() {
        let h = Harness::new(None).fault("slow", 60_000, 0, &[]);
        let env = env(&h);
        let t0 = Instant::now();
        let mut s = RunState::new(&h.spec, &env, t0, record(&h));
        assert_eq!(s.start(), [Cmd::Inject(0)]);
        s.intents(0).intent(fake_undo("slow")).await.unwrap();
        assert_eq!(s.handle(Input::Signal(None)), []);
        assert_eq!(s.timer(), Some((t0 + super::super::executor::INJECT_GRACE, Timer::CutOff)));
        tokio::time::advance(super::super::executor::INJECT_GRACE).await;
        assert_eq!(s.handle(Input::Timer(Timer::CutOff)), [Cmd::CutOff(0)]);
        assert_eq!(s.fault(0).0, State::Failed);
        assert_eq!(s.timer(), None);
        // The task had finished: its result still comes in, and is ignored.
        assert_eq!(s.handle(Input::Injected { idx: 0, result: Ok(()) }), [Cmd::Revert(0)]);
        let (state, rec) = s.fault(0);
        assert_eq!(state, State::Reverting);
        assert_eq!((rec.injected_at, rec.inject_error.as_deref(), rec.steps), (None, Some(cut_off_error()), 1));
        assert_eq!(s.handle(Input::Reverted { idx: 0, attempts: 1, failures: vec![] }), []);
        assert_eq!(s.phase(), Phase::Finished);
        let r = s.finish();
        assert_eq!(r.outcome, Outcome::Aborted);
        assert_eq!(r.t_inject, None);
        let kinds: Vec<&str> = h
            .journal
            .entries()
            .iter()
            .map(|e| match e {
                Entry::Intent { .. } => "intent",
                Entry::Done { .. } => "done",
                Entry::InjectFailed { .. } => "inject_failed",
                Entry::RunFinished { .. } => "finished",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["intent", "inject_failed", "finished"]);
    }

    /// The other order: the injection ends first, then the cut-off's timer, which finds
    /// nothing to cut off.
    #[tokio::test(start_paused = true)]
    async fn an_injection_that_finishes_just_before_its_cut_off_is_reverted_as_injected() {
        let h = Harness::new(None).fault("slow", 60_000, 0, &[]);
        let env = env(&h);
        let mut s = RunState::new(&h.spec, &env, Instant::now(), record(&h));
        s.start();
        s.intents(0).intent(fake_undo("slow")).await.unwrap();
        s.handle(Input::Signal(None));
        tokio::time::advance(super::super::executor::INJECT_GRACE).await;
        assert_eq!(s.handle(Input::Injected { idx: 0, result: Ok(()) }), [Cmd::Revert(0)]);
        assert_eq!(s.timer(), None, "nothing left to cut off");
        assert_eq!(s.handle(Input::Timer(Timer::CutOff)), [], "a stale timer does nothing");
        let rec = s.fault(0).1;
        assert!(rec.injected_at.is_some() && rec.inject_error.is_none());
        assert!(!h.journal.entries().iter().any(|e| matches!(e, Entry::InjectFailed { .. })));
    }

    /// A cut-off task that was really dropped ends as cancelled: then the revert starts.
    #[tokio::test(start_paused = true)]
    async fn the_revert_of_a_cut_off_injection_waits_for_its_task_to_end() {
        let h = Harness::new(None).fault("hung", 60_000, 0, &[]);
        let env = env(&h);
        let mut s = RunState::new(&h.spec, &env, Instant::now(), record(&h));
        s.start();
        s.intents(0).intent(fake_undo("hung")).await.unwrap();
        s.handle(Input::Signal(None));
        assert_eq!(s.handle(Input::Timer(Timer::CutOff)), [Cmd::CutOff(0)]);
        assert_eq!(s.handle(Input::Lost { task: Task::Inject(0), crash: None }), [Cmd::Revert(0)]);
    }
}

/// Alarms that page, scripted by time from the start of the run: each is in ALARM during
/// its windows (ms); `history` is what the alarm history answers.
struct FakeAlarms {
    t0: Instant,
    windows: Vec<(&'static str, u64, u64)>,
    exists: Vec<&'static str>,
    history: Result<Vec<(&'static str, u64)>, String>,
    unreadable: bool,
    reads: Mutex<u32>,
}

impl FakeAlarms {
    fn new(exists: &[&'static str], windows: &[(&'static str, u64, u64)]) -> Self {
        FakeAlarms {
            t0: Instant::now(),
            windows: windows.to_vec(),
            exists: exists.to_vec(),
            history: Err("DescribeAlarmHistory is not implemented by this endpoint".into()),
            unreadable: false,
            reads: Mutex::new(0),
        }
    }
}

#[async_trait]
impl AlarmSource for FakeAlarms {
    async fn read(&self, names: &[String]) -> Result<Vec<AlarmReading>, String> {
        *self.reads.lock().unwrap() += 1;
        if self.unreadable {
            return Err("AccessDenied: not authorized to perform cloudwatch:DescribeAlarms".into());
        }
        let now = (Instant::now() - self.t0).as_millis() as u64;
        Ok(names
            .iter()
            .filter(|n| self.exists.contains(&n.as_str()))
            .map(|n| {
                let alarm = self.windows.iter().any(|(w, from, to)| w == n && (*from..*to).contains(&now));
                AlarmReading {
                    name: n.clone(),
                    state: if alarm { "ALARM" } else { "OK" }.into(),
                    reason: format!("{n} threshold crossed"),
                }
            })
            .collect())
    }

    async fn history(&self, _names: &[String], span: Duration) -> Result<Vec<AlarmChange>, String> {
        let now = Instant::now() - self.t0;
        let items = self.history.clone()?;
        Ok(items
            .into_iter()
            .map(|(n, at)| AlarmChange { name: n.into(), ago: now - ms(at), reason: format!("{n} blipped") })
            .filter(|c| c.ago <= span)
            .collect())
    }
}

impl Harness {
    fn pages(mut self, alarms: &[&str], max_pages: Option<u32>, source: Arc<FakeAlarms>) -> Self {
        self.spec.pages = Some(PagerSpec {
            alarms: alarms.iter().map(|a| a.to_string()).collect(),
            every: ms(1000),
            max_pages,
            source,
        });
        self
    }
}

/// A paging alarm that goes to ALARM during the fault is one page, however many reads see
/// it in ALARM; one already in ALARM before the first injection is "already alarming", not
/// a page; without `max_pages` the pages are reported and the run still passes.
#[tokio::test(start_paused = true)]
async fn a_transition_to_alarm_is_one_page_and_an_alarm_already_alarming_is_none() {
    let alarms = Arc::new(FakeAlarms::new(&["db-page", "legacy"], &[("db-page", 1500, 4500), ("legacy", 0, 60_000)]));
    let h =
        Harness::new(Some(ms(2000))).fault("break", 5000, 0, &[]).pages(&["db-page", "legacy"], None, alarms.clone());
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Passed, "pages without max_pages do not fail the run");
    assert_eq!(r.t_inject, Some(ms(0)), "the first read comes before the injection, and is quick");
    let p = r.pages.as_ref().unwrap();
    assert_eq!(p.already_alarming, ["legacy"]);
    assert_eq!(p.pages.len(), 1, "{:?}", p.pages);
    assert_eq!(p.pages[0].alarm, "db-page");
    assert_eq!(p.pages[0].at, ms(2000), "seen by the first read after it went to ALARM");
    assert_eq!(p.pages[0].reason, "db-page threshold crossed");
    assert_eq!(p.pages[0].seen_by, pager::SeenBy::Poll);
    assert!(p.unreadable.is_empty(), "{:?}", p.unreadable);
    assert!(matches!(&p.history, pager::HistoryCheck::NotAvailable(e) if e.contains("not implemented")));
    assert!(!r.pages_exceeded() && r.objective_met());
    // Read before injection, every second until the verdict, and once more at the end.
    let reads = *alarms.reads.lock().unwrap();
    let secs = r.ended_at.as_secs() as u32;
    assert!(reads >= secs && reads <= secs + 3, "{reads} reads in {:?}", r.ended_at);
}

/// `max_pages: 0` and one page: the run, which would have passed, misses its objective,
/// and the reason names the page and when it came.
#[tokio::test(start_paused = true)]
async fn more_pages_than_max_pages_miss_the_objective_with_the_pages_named() {
    let alarms = Arc::new(FakeAlarms::new(&["db-page"], &[("db-page", 1500, 4500)]));
    let h = Harness::new(Some(ms(2000))).fault("break", 5000, 0, &[]).pages(&["db-page"], Some(0), alarms);
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::ObjectiveMissed);
    assert!(!r.objective_met());
    assert_eq!(r.time_to_recover(), Some(ms(2000)), "recovery itself is still measured");
    let p = r.pages.as_ref().unwrap();
    assert_eq!(p.reason().as_deref(), Some("1 page(s), at most 0 allowed: db-page at 2s"));
    assert!(
        h.journal
            .entries()
            .iter()
            .any(|e| matches!(e, Entry::RunFinished { outcome } if outcome == "objective_missed"))
    );

    // One page with `max_pages: 1` is within bounds.
    let alarms = Arc::new(FakeAlarms::new(&["db-page"], &[("db-page", 1500, 4500)]));
    let h = Harness::new(Some(ms(2000))).fault("break", 5000, 0, &[]).pages(&["db-page"], Some(1), alarms);
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Passed);
    assert_eq!(r.pages.as_ref().unwrap().reason(), None);
}

/// A blip between two reads is in the alarm's history only: the history adds it as a page;
/// a transition the reads saw is not counted twice; an alarm that does not exist is
/// reported as unreadable.
#[tokio::test(start_paused = true)]
async fn the_history_adds_pages_the_reads_missed_and_no_page_twice() {
    let mut fake = FakeAlarms::new(&["db-page", "web-page"], &[("db-page", 1200, 1400), ("web-page", 2500, 4000)]);
    fake.history = Ok(vec![("db-page", 1200), ("web-page", 2500)]);
    let h = Harness::new(Some(ms(2000))).fault("break", 5000, 0, &[]).pages(
        &["db-page", "web-page", "gone"],
        Some(1),
        Arc::new(fake),
    );
    let r = h.run().await;
    let p = r.pages.as_ref().unwrap();
    let seen: Vec<_> = p.pages.iter().map(|p| (p.alarm.as_str(), p.at, p.seen_by)).collect();
    assert_eq!(seen, [("db-page", ms(1200), pager::SeenBy::History), ("web-page", ms(3000), pager::SeenBy::Poll)]);
    assert_eq!(p.history, pager::HistoryCheck::Checked { added: 1 });
    assert_eq!(p.unreadable.len(), 1);
    assert_eq!(p.unreadable[0].alarm.as_deref(), Some("gone"));
    assert!(p.unreadable[0].times > 1, "every read notes it, once in the report");
    assert_eq!(r.outcome, Outcome::ObjectiveMissed, "two pages, one allowed");
}

/// Alarms that cannot be read are reported with the error, and do not abort the run.
#[tokio::test(start_paused = true)]
async fn unreadable_paging_alarms_are_reported_and_do_not_abort() {
    let mut fake = FakeAlarms::new(&["db-page"], &[]);
    fake.unreadable = true;
    let h = Harness::new(Some(ms(2000))).fault("break", 5000, 0, &[]).pages(&["db-page"], Some(0), Arc::new(fake));
    let r = h.run().await;
    assert_eq!(r.outcome, Outcome::Passed);
    let p = r.pages.as_ref().unwrap();
    assert!(p.pages.is_empty());
    assert_eq!(p.unreadable.len(), 1);
    assert_eq!(p.unreadable[0].alarm, None);
    assert!(p.unreadable[0].error.contains("AccessDenied"));
    assert_eq!(p.unreadable[0].first_at, ms(0));
}

#[tokio::test(start_paused = true)]
async fn sequential_faults_each_get_their_own_detection_and_recovery() {
    // Each fault breaks the system, which heals 300ms later by itself; the second starts
    // when the first is reverted (1s). The run's clock sees one recovery at 1.3s; each
    // fault's own clock sees 100ms to detect and 300ms to recover.
    let h = Harness::new(Some(ms(300))).fault("first", 1000, 0, &[]).fault("second", 2000, 0, &[0]);
    let r = h.run().await;
    assert_eq!(r.faults[1].injected_at, Some(ms(1000)));
    assert_eq!(r.time_to_detect(), Some(ms(100)));
    assert_eq!(r.time_to_recover(), Some(ms(1300)), "the run's first 1s all-passing window starts at 1.3s");
    let (a, b) = (&r.faults[0], &r.faults[1]);
    assert_eq!((a.detected_at, a.recovered_at), (Some(ms(100)), Some(ms(300))));
    assert_eq!((a.time_to_detect(), a.time_to_recover()), (Some(ms(100)), Some(ms(300))));
    assert_eq!((b.detected_at, b.recovered_at), (Some(ms(1100)), Some(ms(1300))));
    assert_eq!((b.time_to_detect(), b.time_to_recover()), (Some(ms(100)), Some(ms(300))));
    // Every failing sample names its fault: the first's before 1s, the second's after.
    let failing: Vec<_> = r.samples.iter().filter(|s| !s.ok).map(|s| (s.at, s.fault)).collect();
    assert_eq!(failing, [(ms(100), Some(0)), (ms(200), Some(0)), (ms(1100), Some(1)), (ms(1200), Some(1))]);
    assert!(r.samples.iter().filter(|s| s.ok).all(|s| s.fault.is_none()));
    assert_eq!(r.outcome, Outcome::Passed);
}

#[tokio::test(start_paused = true)]
async fn a_fault_without_impact_of_its_own_has_no_times_while_the_next_one_does() {
    // The first fault changes nothing visible; the second breaks the system until reverted.
    let mut h = Harness::new(None).fault("quiet", 500, 0, &[]).fault("loud", 1050, 0, &[0]);
    let quiet = FakeFault {
        name: "quiet".into(),
        sys: h.sys.clone(),
        delay: ms(0),
        breaks: false,
        fail_after_intent: false,
        hang_after_intent: false,
    };
    h.spec.faults[0].fault = Arc::new(quiet);
    let r = h.run().await;
    assert_eq!((r.faults[0].time_to_detect(), r.faults[0].time_to_recover()), (None, None));
    assert_eq!(r.faults[1].injected_at, Some(ms(500)));
    assert_eq!(r.faults[1].time_to_detect(), Some(ms(100)), "first failing sample at 600ms");
    // Back only after its revert at 1.55s (sampled at once when the last revert ends).
    assert_eq!(r.faults[1].time_to_recover(), Some(ms(1050)));
    assert_eq!(r.time_to_recover(), Some(ms(1550)), "the run counts from the first injection");
    assert!(r.samples.iter().filter(|s| !s.ok).all(|s| s.fault == Some(1)));
}
