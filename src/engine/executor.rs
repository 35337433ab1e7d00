//! The run, phase by phase: baseline → inject (honouring `after`) → observe → revert →
//! settle. Probes sample on their own intervals in their own tasks; this loop owns every
//! decision. Reverts run in tasks that the run's cancellation never cancels, and an
//! abort waits for in-flight injections to finish before reverting everything, newest
//! first, so nothing injected is ever left behind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use super::abort::AbortTracker;
use super::clock::{Change, RecoveryClock};
use super::record::{FaultRecord, Outcome, RunRecord, Sample, StillBroken};
use super::{Check, Event, FaultError, Intents, Observer, RunSpec, Undoer, revert_with_retries};
use crate::journal::{Entry, Sink, UndoRecord};

/// The world the executor acts on.
#[derive(Clone)]
pub struct Env {
    pub journal: Arc<dyn Sink>,
    pub undoer: Arc<dyn Undoer>,
    pub observer: Arc<dyn Observer>,
    /// Cancelled on SIGINT/SIGTERM: the run aborts and reverts.
    pub cancel: CancellationToken,
}

#[derive(Clone, Debug)]
struct Step {
    step: u64,
    undo: UndoRecord,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Pending,
    Injecting,
    Active {
        revert_at: Instant,
    },
    /// Injection failed; steps it journaled still need reverting.
    Failed,
    Reverting,
    Done,
    /// Never started (aborted first, or a fault it starts after never ran).
    Skipped,
}

struct StepLog {
    fault: String,
    journal: Arc<dyn Sink>,
    steps: Arc<Mutex<Vec<Step>>>,
    counter: Arc<AtomicU64>,
}

#[async_trait]
impl Intents for StepLog {
    async fn intent(&self, undo: UndoRecord) -> Result<(), FaultError> {
        let step = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        crate::failpoint::hit("before_intent");
        self.journal.append(Entry::Intent { step, fault: self.fault.clone(), undo: undo.clone() })?;
        lock(&self.steps).push(Step { step, undo });
        crate::failpoint::hit("after_intent");
        Ok(())
    }

    async fn process_group(&self, pgid: u32) -> Result<(), FaultError> {
        // This fault's latest step (the counter is shared by every fault of the run).
        let Some(step) = lock(&self.steps).last().map(|s| s.step) else { return Ok(()) };
        self.journal.append(Entry::ProcessGroup { step, fault: self.fault.clone(), pgid })?;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

enum Op {
    Injected { idx: usize, result: Result<(), FaultError> },
    Reverted { idx: usize, attempts: u32, failures: Vec<StillBroken> },
}

struct FaultRt {
    state: State,
    steps: Arc<Mutex<Vec<Step>>>,
    rec: FaultRecord,
}

/// How long an injection still in flight when the run starts to abort may go on before it
/// is cut off (its task dropped) so the revert can start. Its steps were journaled before
/// their calls and every undo tolerates a change that never happened, so cutting it off is
/// safe; waiting longer would let one hung call hold every fault in place.
pub const INJECT_GRACE: Duration = Duration::from_secs(10);

/// `at + d`, or a moment so far away that it never comes when the sum does not fit an
/// `Instant` (scenario durations are bounded at validation; this keeps the executor from
/// panicking with a fault in place whatever it is given).
pub fn later(at: Instant, d: Duration) -> Instant {
    const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    at.checked_add(d).or_else(|| at.checked_add(NEVER)).unwrap_or(at)
}

/// Runs one game day. Never returns before every injected fault was reverted or its
/// revert failed permanently (then `outcome` is `revert_failed`).
pub async fn execute(spec: RunSpec, env: Env) -> RunRecord {
    let t0 = Instant::now();
    let rel = move |i: Instant| i.saturating_duration_since(t0);
    let precision = spec.probes.iter().filter(|p| p.steady).map(|p| p.every).max().unwrap_or_default();
    let mut record = RunRecord {
        outcome: Outcome::NotStarted,
        abort_reason: None,
        baseline: Vec::new(),
        samples: Vec::new(),
        faults: spec
            .faults
            .iter()
            .map(|f| FaultRecord { name: f.name.clone(), kind: f.kind.clone(), ..Default::default() })
            .collect(),
        t_inject: None,
        detected_at: None,
        recovered_at: None,
        settled: false,
        last_revert_started_at: None,
        ended_at: Duration::ZERO,
        objective: spec.within,
        stable_for: spec.stable_for,
        precision,
        still_broken: Vec::new(),
    };

    // Baseline: every probe once, concurrently; all must pass.
    let baseline = tokio::select! {
        b = baseline(&spec, t0) => b,
        _ = env.cancel.cancelled() => {
            record.outcome = Outcome::Aborted;
            record.abort_reason = Some("interrupted before anything was injected".into());
            record.ended_at = rel(Instant::now());
            return record;
        }
    };
    let baseline_ok = baseline.iter().all(|s| s.ok);
    env.observer.event(&Event::Baseline { ok: baseline_ok });
    record.baseline = baseline;
    if !baseline_ok {
        let failing: Vec<String> = record
            .baseline
            .iter()
            .filter(|s| !s.ok)
            .map(|s| format!("{} ({})", spec.probes[s.probe].name, s.detail))
            .collect();
        record.abort_reason = Some(format!("steady state did not hold before injection: {}", failing.join(", ")));
        record.ended_at = rel(Instant::now());
        return record;
    }

    // Probes sample until `stop`, which the run's cancellation does not trigger: they keep
    // watching through revert and settle.
    let stop = CancellationToken::new();
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let mut probe_tasks = JoinSet::new();
    for (i, p) in spec.probes.iter().cloned().enumerate() {
        let tx = tx.clone();
        let stop = stop.clone();
        probe_tasks.spawn(async move {
            let mut next = later(Instant::now(), p.every);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = sleep_until(next) => {}
                }
                let started = Instant::now();
                let check = tokio::select! {
                    _ = stop.cancelled() => return,
                    c = timed_check(&p) => c,
                };
                let done = Instant::now();
                let s = Sample { probe: i, at: rel(done), ok: check.ok, latency: done - started, detail: check.detail };
                if tx.send(s).is_err() {
                    return;
                }
                next = later(started, p.every).max(done);
            }
        });
    }
    drop(tx);

    let names: Vec<String> = spec.probes.iter().map(|p| p.name.clone()).collect();
    let mut aborts = AbortTracker::new(spec.abort.clone(), names.clone());
    let mut clock = RecoveryClock::new(spec.probes.len(), spec.stable_for);
    let mut last_ok: Vec<bool> = vec![true; spec.probes.len()];
    let counter = Arc::new(AtomicU64::new(0));
    let mut faults: Vec<FaultRt> = record
        .faults
        .iter()
        .map(|r| FaultRt { state: State::Pending, steps: Arc::default(), rec: r.clone() })
        .collect();
    let mut ops: JoinSet<Op> = JoinSet::new();
    let mut inject_tasks: Vec<Option<tokio::task::AbortHandle>> = vec![None; faults.len()];
    let mut cut_off: Option<Instant> = None;
    let mut aborting: Option<String> = None;
    let mut revert_failed = false;
    let mut max_deadline: Option<Instant> = None;
    let max_duration = aborts.max_duration();

    let steady: Vec<bool> = spec.probes.iter().map(|p| p.steady).collect();
    let handle_sample = |s: Sample, clock: &mut RecoveryClock, last_ok: &mut Vec<bool>, samples: &mut Vec<Sample>| {
        if last_ok[s.probe] != s.ok {
            last_ok[s.probe] = s.ok;
            env.observer.event(&Event::Probe {
                probe: names[s.probe].clone(),
                ok: s.ok,
                detail: s.detail.clone(),
                at: s.at,
            });
        }
        let change = if steady[s.probe] { clock.observe(s.probe, s.at, s.ok) } else { None };
        match change {
            Some(Change::Detected(at)) => env.observer.event(&Event::Detected { at }),
            Some(Change::Recovered(at)) => env.observer.event(&Event::Recovered { at }),
            None => {}
        }
        samples.push(s);
    };

    // Inject, observe, revert.
    loop {
        if aborting.is_none() {
            // Start every fault whose `after` faults are all done.
            for i in 0..faults.len() {
                if faults[i].state != State::Pending {
                    continue;
                }
                let deps = &spec.faults[i].after;
                if deps.iter().any(|&d| matches!(faults[d].state, State::Skipped | State::Failed)) {
                    faults[i].state = State::Skipped;
                    continue;
                }
                if !deps.iter().all(|&d| faults[d].state == State::Done) {
                    continue;
                }
                let now = Instant::now();
                if max_deadline.is_none() {
                    max_deadline = max_duration.map(|d| later(now, d));
                }
                faults[i].state = State::Injecting;
                faults[i].rec.inject_started_at = Some(rel(now));
                env.observer.event(&Event::Injecting { fault: spec.faults[i].name.clone() });
                let fault = spec.faults[i].fault.clone();
                let log = StepLog {
                    fault: spec.faults[i].name.clone(),
                    journal: env.journal.clone(),
                    steps: faults[i].steps.clone(),
                    counter: counter.clone(),
                };
                inject_tasks[i] = Some(ops.spawn(async move {
                    let result = fault.inject(&log).await;
                    Op::Injected { idx: i, result }
                }));
            }
        }

        if ops.is_empty() {
            if aborting.is_some() || revert_failed {
                // Revert what is left, newest first, one fault at a time.
                let next = faults
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| matches!(f.state, State::Active { .. } | State::Failed))
                    .filter_map(|(i, f)| lock(&f.steps).last().map(|s| (s.step, i)))
                    .max();
                match next {
                    Some((_, i)) => start_revert(i, &mut faults, &spec, &env, &mut ops, rel),
                    None => break,
                }
                // Faults that failed without a side effect need nothing.
                for f in faults.iter_mut() {
                    if f.state == State::Failed && lock(&f.steps).is_empty() {
                        f.state = State::Done;
                    }
                }
                if ops.is_empty() {
                    break;
                }
            } else if faults.iter().all(|f| matches!(f.state, State::Done | State::Skipped)) {
                break;
            }
        }

        let next_revert = if aborting.is_none() {
            faults
                .iter()
                .filter_map(|f| match f.state {
                    State::Active { revert_at } => Some(revert_at),
                    _ => None,
                })
                .min()
        } else {
            None
        };
        let deadline = if aborting.is_none() { max_deadline } else { None };
        let injecting = faults.iter().any(|f| f.state == State::Injecting);
        if aborting.is_some() && injecting && cut_off.is_none() {
            cut_off = Some(Instant::now() + INJECT_GRACE);
        }
        let cut_off_at = cut_off.filter(|_| injecting);

        tokio::select! {
            biased;
            Some(done) = ops.join_next(), if !ops.is_empty() => {
                let op = match done {
                    Ok(op) => op,
                    // An injection cut off below: already accounted for.
                    Err(e) if e.is_cancelled() => continue,
                    Err(e) => {
                        // A fault implementation panicked: treat its fault as failed.
                        aborting.get_or_insert(format!("a fault task failed: {e}"));
                        for f in faults.iter_mut() {
                            if matches!(f.state, State::Injecting | State::Reverting) {
                                f.state = State::Failed;
                            }
                        }
                        continue;
                    }
                };
                match op {
                    // It finished as it was being cut off: the cut-off already stands.
                    Op::Injected { idx, .. } if faults[idx].state != State::Injecting => {}
                    Op::Injected { idx, result } => {
                        inject_tasks[idx] = None;
                        let now = Instant::now();
                        let name = spec.faults[idx].name.clone();
                        let f = &mut faults[idx];
                        f.rec.steps = lock(&f.steps).len() as u32;
                        match result {
                            Ok(()) => {
                                crate::failpoint::hit("before_done");
                                let _ = env.journal.append(Entry::Done { step: lock(&f.steps).last().map_or(0, |s| s.step), fault: name.clone() });
                                f.rec.injected_at = Some(rel(now));
                                clock.injected(rel(now));
                                record.t_inject.get_or_insert(rel(now));
                                f.state = State::Active { revert_at: later(now, spec.faults[idx].duration) };
                                env.observer.event(&Event::Injected { fault: name });
                            }
                            Err(e) => {
                                let error = e.to_string();
                                let _ = env.journal.append(Entry::InjectFailed { fault: name.clone(), error: error.clone() });
                                f.rec.inject_error = Some(error.clone());
                                f.state = State::Failed;
                                env.observer.event(&Event::InjectFailed { fault: name.clone(), error: error.clone() });
                                if aborting.is_none() {
                                    let reason = format!("fault `{name}` failed to inject: {error}");
                                    env.observer.event(&Event::Abort { reason: reason.clone() });
                                    aborting = Some(reason);
                                }
                            }
                        }
                    }
                    Op::Reverted { idx, attempts, failures } => {
                        let f = &mut faults[idx];
                        f.rec.revert_attempts = attempts;
                        f.state = State::Done;
                        if failures.is_empty() {
                            f.rec.reverted_at = Some(rel(Instant::now()));
                            env.observer.event(&Event::Reverted { fault: f.rec.name.clone() });
                        } else {
                            let error = failures.iter().map(|b| b.error.clone()).collect::<Vec<_>>().join("; ");
                            f.rec.revert_error = Some(error.clone());
                            env.observer.event(&Event::RevertFailed { fault: f.rec.name.clone(), error });
                            record.still_broken.extend(failures);
                            revert_failed = true;
                        }
                    }
                }
            }
            Some(s) = rx.recv() => {
                let (probe, at, ok, detail) = (s.probe, s.at, s.ok, s.detail.clone());
                handle_sample(s, &mut clock, &mut last_ok, &mut record.samples);
                let active = faults.iter().any(|f| !matches!(f.state, State::Done | State::Skipped | State::Pending))
                    || faults.iter().any(|f| f.state == State::Pending);
                if aborting.is_none() && active {
                    if let Some(reason) = aborts.observe(probe, at, ok, &detail) {
                        env.observer.event(&Event::Abort { reason: reason.clone() });
                        aborting = Some(reason);
                    }
                } else {
                    aborts.observe(probe, at, ok, &detail);
                }
            }
            _ = sleep_until(next_revert.unwrap_or_else(Instant::now)), if next_revert.is_some() => {
                let now = Instant::now();
                if let Some(i) = faults.iter().position(|f| matches!(f.state, State::Active { revert_at } if revert_at <= now)) {
                    start_revert(i, &mut faults, &spec, &env, &mut ops, rel);
                }
            }
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                let d = max_duration.unwrap_or_default();
                let reason = format!("max_duration {} reached", humantime::format_duration(d));
                env.observer.event(&Event::Abort { reason: reason.clone() });
                aborting = Some(reason);
            }
            _ = sleep_until(cut_off_at.unwrap_or_else(Instant::now)), if cut_off_at.is_some() => {
                for (i, f) in faults.iter_mut().enumerate() {
                    if f.state != State::Injecting {
                        continue;
                    }
                    if let Some(task) = inject_tasks[i].take() {
                        task.abort();
                    }
                    let error = format!(
                        "cut off {} after the run began to abort, so the revert could start",
                        humantime::format_duration(INJECT_GRACE)
                    );
                    let name = f.rec.name.clone();
                    let _ = env.journal.append(Entry::InjectFailed { fault: name.clone(), error: error.clone() });
                    f.rec.steps = lock(&f.steps).len() as u32;
                    f.rec.inject_error = Some(error.clone());
                    f.state = State::Failed;
                    env.observer.event(&Event::InjectFailed { fault: name, error });
                }
            }
            _ = env.cancel.cancelled(), if aborting.is_none() => {
                let reason = "interrupted by signal".to_string();
                env.observer.event(&Event::Abort { reason: reason.clone() });
                aborting = Some(reason);
            }
        }
    }
    for f in &faults {
        if let Some(t) = f.rec.revert_started_at {
            record.last_revert_started_at = Some(record.last_revert_started_at.map_or(t, |l: Duration| l.max(t)));
        }
    }

    // Settle: wait for the steady state to hold for `stable_for` after the last revert.
    if aborting.is_none() && !revert_failed {
        let since = rel(Instant::now());
        let settle_deadline = later(Instant::now(), spec.settle_timeout);
        env.observer.event(&Event::Settling { timeout: spec.settle_timeout });
        loop {
            if clock.stable_since(since) {
                record.settled = true;
                break;
            }
            tokio::select! {
                biased;
                Some(s) = rx.recv() => handle_sample(s, &mut clock, &mut last_ok, &mut record.samples),
                _ = sleep_until(settle_deadline) => break,
                _ = env.cancel.cancelled() => {
                    aborting = Some("interrupted while waiting for recovery (every fault was already reverted)".into());
                    break;
                }
                else => break,
            }
        }
    }
    stop.cancel();
    while probe_tasks.join_next().await.is_some() {}

    record.faults = faults.into_iter().map(|f| f.rec).collect();
    record.detected_at = clock.detected();
    record.recovered_at = clock.recovered();
    record.ended_at = rel(Instant::now());
    record.outcome = if revert_failed {
        Outcome::RevertFailed
    } else if aborting.is_some() {
        Outcome::Aborted
    } else if record.objective_met() {
        Outcome::Passed
    } else {
        Outcome::ObjectiveMissed
    };
    record.abort_reason = aborting;
    let _ = env.journal.append(Entry::RunFinished { outcome: record.outcome.as_str().to_string() });
    record
}

fn start_revert(
    i: usize,
    faults: &mut [FaultRt],
    spec: &RunSpec,
    env: &Env,
    ops: &mut JoinSet<Op>,
    rel: impl Fn(Instant) -> Duration,
) {
    let f = &mut faults[i];
    f.state = State::Reverting;
    f.rec.revert_started_at = Some(rel(Instant::now()));
    let mut steps = lock(&f.steps).clone();
    steps.reverse();
    let name = spec.faults[i].name.clone();
    let env = env.clone();
    let policy = spec.revert.clone();
    ops.spawn(async move {
        let mut failures = Vec::new();
        let mut attempts = 0;
        for s in steps {
            env.observer.event(&Event::Reverting { fault: name.clone(), description: s.undo.description.clone() });
            let r = revert_with_retries(env.undoer.as_ref(), &s.undo, &policy, |attempt, error| {
                env.observer.event(&Event::RevertRetry { fault: name.clone(), attempt, error: error.to_string() });
            })
            .await;
            match r {
                Ok(n) => {
                    attempts += n;
                    crate::failpoint::hit("before_reverted");
                    let _ = env.journal.append(Entry::Reverted { step: s.step, fault: name.clone(), by: "run".into() });
                }
                Err((error, n)) => {
                    attempts += n;
                    let _ = env.journal.append(Entry::RevertFailed {
                        step: s.step,
                        fault: name.clone(),
                        error: error.clone(),
                        attempts: n,
                    });
                    failures.push(StillBroken {
                        fault: name.clone(),
                        step: s.step,
                        description: s.undo.description.clone(),
                        kind: s.undo.kind.clone(),
                        data: s.undo.data.clone(),
                        error,
                    });
                }
            }
        }
        Op::Reverted { idx: i, attempts, failures }
    });
}

async fn timed_check(p: &super::ProbeSpec) -> Check {
    match timeout(p.timeout, p.probe.check()).await {
        Ok(c) => c,
        Err(_) => Check::fail(format!("timed out after {}", humantime::format_duration(p.timeout))),
    }
}

async fn baseline(spec: &RunSpec, t0: Instant) -> Vec<Sample> {
    let handles: Vec<_> = spec
        .probes
        .iter()
        .cloned()
        .map(|p| {
            tokio::spawn(async move {
                let started = Instant::now();
                let c = timed_check(&p).await;
                (c, started)
            })
        })
        .collect();
    let mut out = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        let (c, started) = match h.await {
            Ok(r) => r,
            Err(e) => (Check::fail(format!("probe failed: {e}")), Instant::now()),
        };
        let done = Instant::now();
        out.push(Sample { probe: i, at: done - t0, ok: c.ok, latency: done - started, detail: c.detail });
    }
    out
}
