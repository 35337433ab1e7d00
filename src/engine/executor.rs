//! The run, phase by phase: baseline → inject (honouring `after`) → observe → revert →
//! release the holds → settle. Probes sample on their own intervals in their own tasks.
//!
//! One state machine makes every decision: [`RunState`] has a [`Phase`] and a
//! `handle(Input) -> Vec<Cmd>`. The loop in [`execute`] only turns what happens (an
//! injection, revert or release task ending, a probe sample, a timer, a signal) into an
//! [`Input`], and carries out the [`Cmd`]s that come back (spawn an injection, a revert or
//! the release of the holds; cut an injection off). Reverts run in tasks that the run's
//! cancellation never cancels, and an abort waits for in-flight injections (up to
//! [`INJECT_GRACE`]) before reverting everything, newest first, so nothing injected is
//! ever left behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinError, JoinSet};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use super::abort::AbortTracker;
use super::clock::{Change, RecoveryClock};
use super::record::{FaultRecord, ObjectiveKind, Outcome, RunRecord, Sample, StillBroken};
use super::{Check, Event, FaultError, Intents, Observer, RevertPolicy, RunSpec, Undoer, revert_with_retries};
use crate::state::journal::{Entry, Sink, UndoRecord};

/// The world the executor acts on.
#[derive(Clone)]
pub struct Env {
    pub journal: Arc<dyn Sink>,
    pub undoer: Arc<dyn Undoer>,
    pub observer: Arc<dyn Observer>,
    /// Cancelled on SIGINT/SIGTERM, or by the facilitator's `abort`: the run aborts and
    /// reverts.
    pub cancel: CancellationToken,
    /// Why `cancel` was cancelled, when it was not a signal (set before cancelling).
    pub cancel_reason: Arc<std::sync::OnceLock<String>>,
}

#[derive(Clone, Debug)]
pub(crate) struct Step {
    step: u64,
    undo: UndoRecord,
}

/// Where one fault is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
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
    changes: Arc<Mutex<Vec<super::Change>>>,
}

#[async_trait]
impl Intents for StepLog {
    async fn intent(&self, undo: UndoRecord) -> Result<(), FaultError> {
        let step = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        crate::util::failpoint::hit("before_intent");
        self.journal.append(Entry::Intent { step, fault: self.fault.clone(), undo: undo.clone() })?;
        lock(&self.steps).push(Step { step, undo });
        crate::util::failpoint::hit("after_intent");
        Ok(())
    }

    async fn process_group(&self, pgid: u32) -> Result<(), FaultError> {
        // This fault's latest step (the counter is shared by every fault of the run).
        let Some(step) = lock(&self.steps).last().map(|s| s.step) else { return Ok(()) };
        self.journal.append(Entry::ProcessGroup { step, fault: self.fault.clone(), pgid })?;
        Ok(())
    }

    fn changed(&self, change: super::Change) {
        lock(&self.changes).push(change);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
struct FaultRt {
    state: State,
    steps: Arc<Mutex<Vec<Step>>>,
    changes: Arc<Mutex<Vec<super::Change>>>,
    rec: FaultRecord,
}

/// Where the run is, once the baseline held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Faults start once the faults they come `after` are reverted, and are reverted when
    /// their duration ends; abort rules, `max_duration` and signals are watched.
    Running,
    /// An abort (or a failed revert) ended the faults' part of the run: nothing new starts,
    /// injections still in flight go on until `cut_off`, then what was injected is reverted,
    /// newest first, one fault at a time.
    Unwinding {
        cut_off: Option<Instant>,
    },
    /// Every fault is reverted: the holds are being released.
    Releasing,
    /// Waiting for the steady state to hold for `stable_for` after the last revert.
    Settling {
        since: Duration,
        deadline: Instant,
    },
    Finished,
}

/// What happened: the only input of [`RunState::handle`].
#[derive(Debug)]
pub(crate) enum Input {
    Injected {
        idx: usize,
        result: Result<(), FaultError>,
    },
    Reverted {
        idx: usize,
        attempts: u32,
        failures: Vec<StillBroken>,
    },
    Released {
        failures: Vec<StillBroken>,
    },
    /// A task ended without a result: cut off (`crash: None`) or crashed (a panic).
    Lost {
        task: Task,
        crash: Option<String>,
    },
    Sample(Sample),
    Timer(Timer),
    /// SIGINT/SIGTERM, or the facilitator's `abort` (its reason): the run's cancellation.
    Signal(Option<String>),
}

/// A task the loop runs for the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Task {
    Inject(usize),
    Revert(usize),
    Release,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// An active fault's duration ended.
    RevertDue,
    /// `max_duration` passed since the first injection started.
    MaxDuration,
    /// [`INJECT_GRACE`] passed since the abort with an injection still in flight.
    CutOff,
    /// `settle_timeout` passed since the last revert.
    SettleTimeout,
    /// The steady state may have held for `stable_for` now: every probe is sampled at once
    /// rather than at its next tick, so the verdict does not wait up to an interval more.
    Judge,
}

/// What the loop must do for the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmd {
    /// Start the fault's injection (its `Injecting` state is already set).
    Inject(usize),
    /// Undo the fault's journaled steps, newest first.
    Revert(usize),
    /// Drop the fault's injection task (its `inject_failed` is already journaled).
    CutOff(usize),
    /// Release the holds, newest first.
    ReleaseHolds,
    /// Sample every probe now; each probe's schedule goes on from there.
    SampleNow,
}

/// Every decision of a run, from the end of the baseline to the end of settle.
pub(crate) struct RunState<'a> {
    spec: &'a RunSpec,
    env: &'a Env,
    t0: Instant,
    phase: Phase,
    faults: Vec<FaultRt>,
    record: RunRecord,
    clock: RecoveryClock,
    aborts: AbortTracker,
    names: Vec<String>,
    last_ok: Vec<bool>,
    /// Why the run stopped early (the first reason stands).
    abort: Option<String>,
    revert_failed: bool,
    max_duration: Option<Duration>,
    max_deadline: Option<Instant>,
    /// Tasks started for this state that have not ended yet.
    tasks: usize,
    /// When the last fault revert ended: settle is measured from there.
    reverts_ended: Option<Instant>,
    /// Every probe is to be sampled at once (the last revert just ended).
    sample_now: bool,
    /// The start of the settle window that was last judged (see [`Timer::Judge`]).
    judged: Option<Duration>,
}

impl<'a> RunState<'a> {
    pub(crate) fn new(spec: &'a RunSpec, env: &'a Env, t0: Instant, record: RunRecord) -> Self {
        let names: Vec<String> = spec.probes.iter().map(|p| p.name.clone()).collect();
        let aborts = AbortTracker::new(spec.abort.clone(), names.clone());
        RunState {
            spec,
            env,
            t0,
            phase: Phase::Running,
            faults: record
                .faults
                .iter()
                .map(|r| FaultRt {
                    state: State::Pending,
                    steps: Arc::default(),
                    changes: Arc::default(),
                    rec: r.clone(),
                })
                .collect(),
            record,
            clock: RecoveryClock::new(spec.probes.len(), spec.stable_for),
            max_duration: aborts.max_duration(),
            aborts,
            last_ok: vec![true; names.len()],
            names,
            abort: None,
            revert_failed: false,
            max_deadline: None,
            tasks: 0,
            reverts_ended: None,
            sample_now: false,
            judged: None,
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    #[cfg(test)]
    pub(crate) fn fault(&self, i: usize) -> (State, &FaultRecord) {
        (self.faults[i].state, &self.faults[i].rec)
    }

    /// What fault `i` journals its steps through, as its injection would.
    #[cfg(test)]
    pub(crate) fn intents(&self, i: usize) -> Box<dyn Intents> {
        Box::new(StepLog {
            fault: self.spec.faults[i].name.clone(),
            journal: self.env.journal.clone(),
            steps: self.faults[i].steps.clone(),
            counter: Arc::new(AtomicU64::new(0)),
            changes: self.faults[i].changes.clone(),
        })
    }

    /// The steps fault `i` journaled, oldest first.
    fn steps(&self, i: usize) -> Vec<Step> {
        lock(&self.faults[i].steps).clone()
    }

    /// A signal still changes something (the first reason to stop stands).
    pub(crate) fn listens_for_signal(&self) -> bool {
        self.abort.is_none() && self.phase != Phase::Finished
    }

    /// The next timer and when it fires; ties go to the revert that is due.
    pub(crate) fn timer(&self) -> Option<(Instant, Timer)> {
        match self.phase {
            Phase::Running => {
                let revert = self
                    .faults
                    .iter()
                    .filter_map(|f| match f.state {
                        State::Active { revert_at } => Some(revert_at),
                        _ => None,
                    })
                    .min()
                    .map(|at| (at, Timer::RevertDue));
                let max = self.max_deadline.map(|at| (at, Timer::MaxDuration));
                match (revert, max) {
                    (Some(r), Some(m)) => Some(if m.0 < r.0 { m } else { r }),
                    (r, m) => r.or(m),
                }
            }
            Phase::Unwinding { cut_off } => cut_off.filter(|_| self.injecting()).map(|at| (at, Timer::CutOff)),
            Phase::Settling { deadline, .. } => match self.judge_at() {
                Some((at, _)) if at < deadline => Some((at, Timer::Judge)),
                _ => Some((deadline, Timer::SettleTimeout)),
            },
            Phase::Releasing | Phase::Finished => None,
        }
    }

    /// While settling: when the current window of all-passing probes (from no earlier than
    /// the last revert) will have lasted `stable_for`, and the window's start; `None` when a
    /// probe is failing or that window was already judged.
    fn judge_at(&self) -> Option<(Instant, Duration)> {
        let Phase::Settling { since, .. } = self.phase else { return None };
        let start = self.clock.healthy_since()?.max(since);
        if self.judged == Some(start) {
            return None;
        }
        Some((later(self.t0, start.saturating_add(self.spec.stable_for)), start))
    }

    /// The first commands: the faults that start at once.
    pub(crate) fn start(&mut self) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        self.advance(&mut cmds);
        cmds
    }

    /// Takes in what happened; returns what to do now.
    pub(crate) fn handle(&mut self, input: Input) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        match input {
            Input::Injected { idx, result } => {
                self.task_ended();
                self.injected(idx, result);
            }
            Input::Reverted { idx, attempts, failures } => {
                self.task_ended();
                self.reverted(idx, attempts, failures);
            }
            Input::Released { failures } => {
                self.task_ended();
                self.released(failures);
            }
            Input::Lost { task, crash } => {
                self.task_ended();
                // A task cut off needs nothing more: its cut-off was handled when it was made.
                if let Some(crash) = crash {
                    self.crashed(task, crash);
                }
            }
            Input::Sample(s) => self.sample(s),
            Input::Timer(t) => self.timer_fired(t, &mut cmds),
            Input::Signal(why) => self.signal(why),
        }
        self.advance(&mut cmds);
        cmds
    }

    fn rel(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.t0)
    }

    fn task_ended(&mut self) {
        self.tasks = self.tasks.saturating_sub(1);
    }

    fn injecting(&self) -> bool {
        self.faults.iter().any(|f| f.state == State::Injecting)
    }

    /// Moves the run on as far as it goes without waiting: starts what is ready, reverts
    /// what is left once nothing is in flight, and changes phase.
    fn advance(&mut self, cmds: &mut Vec<Cmd>) {
        loop {
            let before = self.phase;
            match self.phase {
                Phase::Running => {
                    self.start_ready(cmds);
                    if self.tasks == 0 && self.faults.iter().all(|f| matches!(f.state, State::Done | State::Skipped)) {
                        self.reverts_done(cmds);
                    }
                }
                Phase::Unwinding { .. } if self.tasks == 0 => {
                    // Revert what is left, newest first, one fault at a time.
                    let next = self
                        .faults
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| matches!(f.state, State::Active { .. } | State::Failed))
                        .filter_map(|(i, f)| lock(&f.steps).last().map(|s| (s.step, i)))
                        .max();
                    // Faults that failed without a side effect need nothing.
                    for f in self.faults.iter_mut() {
                        if f.state == State::Failed && lock(&f.steps).is_empty() {
                            f.state = State::Done;
                        }
                    }
                    match next {
                        Some((_, i)) => self.start_revert(i, cmds),
                        None => self.reverts_done(cmds),
                    }
                }
                Phase::Settling { since, .. } if self.clock.stable_since(since) => {
                    self.record.settled = true;
                    self.phase = Phase::Finished;
                }
                _ => {}
            }
            if self.phase == before {
                break;
            }
        }
        if std::mem::take(&mut self.sample_now) && self.phase != Phase::Finished {
            cmds.push(Cmd::SampleNow);
        }
    }

    /// Starts every fault whose `after` faults are all reverted; skips those that follow a
    /// fault that never ran or failed.
    fn start_ready(&mut self, cmds: &mut Vec<Cmd>) {
        loop {
            let mut skipped = false;
            for i in 0..self.faults.len() {
                if self.faults[i].state != State::Pending {
                    continue;
                }
                let deps = &self.spec.faults[i].after;
                if deps.iter().any(|&d| matches!(self.faults[d].state, State::Skipped | State::Failed)) {
                    self.faults[i].state = State::Skipped;
                    skipped = true;
                    continue;
                }
                if !deps.iter().all(|&d| self.faults[d].state == State::Done) {
                    continue;
                }
                let now = Instant::now();
                if self.max_deadline.is_none() {
                    self.max_deadline = self.max_duration.map(|d| later(now, d));
                }
                let at = self.rel(now);
                let f = &mut self.faults[i];
                f.state = State::Injecting;
                f.rec.inject_started_at = Some(at);
                self.env.observer.event(&Event::Injecting { fault: self.spec.faults[i].name.clone() });
                self.tasks += 1;
                cmds.push(Cmd::Inject(i));
            }
            if !skipped {
                return;
            }
        }
    }

    fn start_revert(&mut self, i: usize, cmds: &mut Vec<Cmd>) {
        let at = self.rel(Instant::now());
        let f = &mut self.faults[i];
        f.state = State::Reverting;
        f.rec.revert_started_at = Some(at);
        self.tasks += 1;
        cmds.push(Cmd::Revert(i));
    }

    /// Every fault is reverted or failed to be: release the holds (kept while something is
    /// still broken, to protect it), then settle or finish.
    fn reverts_done(&mut self, cmds: &mut Vec<Cmd>) {
        self.reverts_ended = Some(Instant::now());
        // Settle starts now: see at once whether the steady state is back, rather than at
        // each probe's next tick (up to an interval later).
        self.sample_now = self.abort.is_none() && !self.revert_failed;
        if !self.revert_failed && !self.spec.holds.is_empty() {
            self.phase = Phase::Releasing;
            self.tasks += 1;
            cmds.push(Cmd::ReleaseHolds);
        } else {
            self.settle_or_finish();
        }
    }

    fn settle_or_finish(&mut self) {
        if self.abort.is_some() || self.revert_failed {
            self.phase = Phase::Finished;
            return;
        }
        let end = self.reverts_ended.unwrap_or_else(Instant::now);
        self.phase = Phase::Settling { since: self.rel(end), deadline: later(end, self.spec.settle_timeout) };
        self.env.observer.event(&Event::Settling { timeout: self.spec.settle_timeout });
    }

    /// Stops starting faults and reverts what is in place: for `reason` (an abort; the
    /// first reason stands), or with `None` after a failed revert.
    fn unwind(&mut self, reason: Option<String>) {
        if let Some(reason) = reason.filter(|_| self.abort.is_none()) {
            self.env.observer.event(&Event::Abort { reason: reason.clone() });
            self.abort = Some(reason);
        }
        if self.phase == Phase::Running {
            let cut_off = self.injecting().then(|| later(Instant::now(), INJECT_GRACE));
            self.phase = Phase::Unwinding { cut_off };
        }
    }

    fn injected(&mut self, idx: usize, result: Result<(), FaultError>) {
        // It finished as it was being cut off: the cut-off already stands.
        if self.faults[idx].state != State::Injecting {
            return;
        }
        let name = self.spec.faults[idx].name.clone();
        match result {
            Ok(()) => {
                let now = Instant::now();
                let at = self.rel(now);
                let f = &mut self.faults[idx];
                f.rec.steps = lock(&f.steps).len() as u32;
                crate::util::failpoint::hit("before_done");
                let step = lock(&f.steps).last().map_or(0, |s| s.step);
                let _ = self.env.journal.append(Entry::Done { step, fault: name.clone() });
                f.rec.injected_at = Some(at);
                f.state = State::Active { revert_at: later(now, self.spec.faults[idx].duration) };
                self.clock.injected(at);
                self.record.t_inject.get_or_insert(at);
                self.env.observer.event(&Event::Injected { fault: name });
            }
            Err(e) => {
                let error = e.to_string();
                let reason = format!("fault `{name}` failed to inject: {error}");
                self.inject_failed(idx, error);
                self.unwind(Some(reason));
            }
        }
    }

    /// Journals and records an injection that ended without success; the steps it
    /// journaled are reverted with the rest.
    fn inject_failed(&mut self, idx: usize, error: String) {
        let f = &mut self.faults[idx];
        let name = f.rec.name.clone();
        let _ = self.env.journal.append(Entry::InjectFailed { fault: name.clone(), error: error.clone() });
        f.rec.steps = lock(&f.steps).len() as u32;
        f.rec.inject_error = Some(error.clone());
        f.state = State::Failed;
        self.env.observer.event(&Event::InjectFailed { fault: name, error });
    }

    fn reverted(&mut self, idx: usize, attempts: u32, failures: Vec<StillBroken>) {
        let at = self.rel(Instant::now());
        let f = &mut self.faults[idx];
        f.rec.revert_attempts = attempts;
        f.state = State::Done;
        if failures.is_empty() {
            f.rec.reverted_at = Some(at);
            self.env.observer.event(&Event::Reverted { fault: f.rec.name.clone() });
            return;
        }
        let error = failures.iter().map(|b| b.error.clone()).collect::<Vec<_>>().join("; ");
        f.rec.revert_error = Some(error.clone());
        self.env.observer.event(&Event::RevertFailed { fault: f.rec.name.clone(), error });
        self.record.still_broken.extend(failures);
        self.revert_failed = true;
        self.unwind(None);
    }

    fn released(&mut self, failures: Vec<StillBroken>) {
        hold_events(self.spec, self.env, &failures);
        if !failures.is_empty() {
            self.record.still_broken.extend(failures);
            self.revert_failed = true;
        }
        if self.phase == Phase::Releasing {
            self.settle_or_finish();
        }
    }

    /// A task panicked. An injection counts as failed (its journaled steps are reverted); a
    /// revert or release counts as failed for every step it had, which are listed as still
    /// broken rather than tried again (the same crash would come again, for ever).
    fn crashed(&mut self, task: Task, crash: String) {
        match task {
            Task::Inject(idx) => {
                if self.faults[idx].state == State::Injecting {
                    self.inject_failed(idx, format!("the fault's task crashed: {crash}"));
                }
                self.unwind(Some(format!("a fault task failed: {crash}")));
            }
            Task::Revert(idx) => {
                let name = self.faults[idx].rec.name.clone();
                let steps = self.steps(idx).into_iter().rev().map(|s| (name.clone(), s)).collect();
                let failures = crashed_steps(self.env, steps, &format!("the revert's task crashed: {crash}"));
                self.reverted(idx, 0, failures);
            }
            Task::Release => {
                let failures =
                    crashed_steps(self.env, hold_steps(self.spec), &format!("the release's task crashed: {crash}"));
                self.released(failures);
            }
        }
    }

    fn sample(&mut self, s: Sample) {
        let (probe, at, ok, detail) = (s.probe, s.at, s.ok, s.detail.clone());
        self.note_sample(s);
        if !matches!(self.phase, Phase::Running | Phase::Unwinding { .. }) {
            return;
        }
        let trip = self.aborts.observe(probe, at, ok, &detail);
        let active = self.faults.iter().any(|f| !matches!(f.state, State::Done | State::Skipped));
        if let Some(reason) = trip.filter(|_| self.abort.is_none() && active) {
            self.unwind(Some(reason));
        }
    }

    fn note_sample(&mut self, s: Sample) {
        if self.last_ok[s.probe] != s.ok {
            self.last_ok[s.probe] = s.ok;
            self.env.observer.event(&Event::Probe {
                probe: self.names[s.probe].clone(),
                ok: s.ok,
                detail: s.detail.clone(),
                at: s.at,
            });
        }
        let change = if self.spec.probes[s.probe].steady { self.clock.observe(s.probe, s.at, s.ok) } else { None };
        match change {
            Some(Change::Detected(at)) => self.env.observer.event(&Event::Detected { at }),
            Some(Change::Recovered(at)) => self.env.observer.event(&Event::Recovered { at }),
            None => {}
        }
        self.record.samples.push(s);
    }

    fn timer_fired(&mut self, timer: Timer, cmds: &mut Vec<Cmd>) {
        let now = Instant::now();
        match (timer, self.phase) {
            (Timer::RevertDue, Phase::Running) => {
                let due =
                    self.faults.iter().position(|f| matches!(f.state, State::Active { revert_at } if revert_at <= now));
                if let Some(i) = due {
                    self.start_revert(i, cmds);
                }
            }
            (Timer::MaxDuration, Phase::Running) => {
                let d = self.max_duration.unwrap_or_default();
                self.unwind(Some(format!("max_duration {} reached", humantime::format_duration(d))));
            }
            (Timer::CutOff, Phase::Unwinding { .. }) => {
                for i in 0..self.faults.len() {
                    if self.faults[i].state != State::Injecting {
                        continue;
                    }
                    cmds.push(Cmd::CutOff(i));
                    let error = format!(
                        "cut off {} after the run began to abort, so the revert could start",
                        humantime::format_duration(INJECT_GRACE)
                    );
                    self.inject_failed(i, error);
                }
            }
            (Timer::SettleTimeout, Phase::Settling { .. }) => self.phase = Phase::Finished,
            (Timer::Judge, Phase::Settling { .. }) => {
                if let Some((_, start)) = self.judge_at() {
                    self.judged = Some(start);
                    cmds.push(Cmd::SampleNow);
                }
            }
            // A timer for a phase the run has left.
            _ => {}
        }
    }

    fn signal(&mut self, why: Option<String>) {
        match self.phase {
            Phase::Running | Phase::Unwinding { .. } => {
                self.unwind(Some(why.unwrap_or_else(|| "interrupted by signal".into())))
            }
            Phase::Releasing | Phase::Settling { .. } => {
                if self.abort.is_none() {
                    self.abort =
                        Some("interrupted while waiting for recovery (every fault was already reverted)".into());
                }
                if matches!(self.phase, Phase::Settling { .. }) {
                    self.phase = Phase::Finished;
                }
            }
            Phase::Finished => {}
        }
    }

    /// The run's record, once the phase is `Finished` and the probes have stopped.
    pub(crate) fn finish(self) -> RunRecord {
        let mut record = self.record;
        for f in &self.faults {
            if let Some(t) = f.rec.revert_started_at {
                record.last_revert_started_at = Some(record.last_revert_started_at.map_or(t, |l: Duration| l.max(t)));
            }
        }
        record.faults =
            self.faults.into_iter().map(|f| FaultRecord { changes: lock(&f.changes).clone(), ..f.rec }).collect();
        // Which fault each impact belongs to, and each fault's own times.
        let steady: Vec<bool> = self.spec.probes.iter().map(|p| p.steady).collect();
        let a = super::attribution::attribute(&record.samples, &steady, &record.faults, record.stable_for);
        for (s, owner) in record.samples.iter_mut().zip(a.owners) {
            s.fault = owner;
        }
        for (f, t) in record.faults.iter_mut().zip(a.faults) {
            f.detected_at = t.detected_at;
            f.recovered_at = t.recovered_at;
        }
        record.detected_at = self.clock.detected();
        record.recovered_at = self.clock.recovered();
        record.ended_at = Instant::now().saturating_duration_since(self.t0);
        let steady = |s: &Sample| self.spec.probes.get(s.probe).is_some_and(|p| p.steady);
        record.impact = record.detected_at.is_some() || record.samples.iter().any(|s| !s.ok && steady(s));
        record.outcome = if self.revert_failed {
            Outcome::RevertFailed
        } else if self.abort.is_some() {
            Outcome::Aborted
        } else if record.pages_exceeded() {
            // More pages than `max_pages`: whatever the probes say, the objective is missed.
            Outcome::ObjectiveMissed
        } else if record.objective_met() && record.faults.iter().all(|f| f.steps == 0) {
            // No fault changed anything (each found nothing to do at injection): the
            // steady state held because nothing was tested.
            Outcome::NoImpact
        } else if record.objective_met() {
            Outcome::Passed
        } else if record.objective_kind == ObjectiveKind::Recover && !record.impact {
            // Nothing failed, so nothing recovered: the objective was not tested.
            Outcome::NoImpact
        } else {
            Outcome::ObjectiveMissed
        };
        record.abort_reason = self.abort;
        let _ = self.env.journal.append(Entry::RunFinished { outcome: record.outcome.as_str().to_string() });
        record
    }
}

/// The holds as steps to undo, newest first.
fn hold_steps(spec: &RunSpec) -> Vec<(String, Step)> {
    spec.holds.iter().rev().map(|h| (h.name.clone(), Step { step: h.step, undo: h.undo.clone() })).collect()
}

/// Tells the observer how each hold's release ended.
fn hold_events(spec: &RunSpec, env: &Env, failures: &[StillBroken]) {
    for h in spec.holds.iter().rev() {
        match failures.iter().find(|b| b.step == h.step && b.fault == h.name) {
            None => env.observer.event(&Event::Reverted { fault: h.name.clone() }),
            Some(b) => env.observer.event(&Event::RevertFailed { fault: h.name.clone(), error: b.error.clone() }),
        }
    }
}

/// Journals `steps` as not reverted for `error` and lists them as still broken.
fn crashed_steps(env: &Env, steps: Vec<(String, Step)>, error: &str) -> Vec<StillBroken> {
    steps
        .into_iter()
        .map(|(name, s)| {
            let _ = env.journal.append(Entry::RevertFailed {
                step: s.step,
                fault: name.clone(),
                error: error.to_string(),
                attempts: 0,
            });
            still_broken(name, &s, error.to_string())
        })
        .collect()
}

fn still_broken(fault: String, s: &Step, error: String) -> StillBroken {
    StillBroken {
        fault,
        step: s.step,
        description: s.undo.description.clone(),
        kind: s.undo.kind.clone(),
        data: s.undo.data.clone(),
        error,
    }
}

/// What a task that did not return says of itself.
fn crash(e: JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    let payload = e.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("panicked: {message}")
}

/// Undoes `steps` in the order given, each with the policy's retries and deadline, and
/// journals each result. A step that fails — or whose undo panics — is listed, and the next
/// step still gets its turn. Returns the attempts used and the steps still broken.
async fn undo_steps(
    steps: Vec<(String, Step)>,
    env: Env,
    policy: RevertPolicy,
    failpoint: bool,
) -> (u32, Vec<StillBroken>) {
    let mut failures = Vec::new();
    let mut attempts = 0;
    for (name, s) in steps {
        env.observer.event(&Event::Reverting { fault: name.clone(), description: s.undo.description.clone() });
        let (undoer, observer, undo, policy, fault) =
            (env.undoer.clone(), env.observer.clone(), s.undo.clone(), policy.clone(), name.clone());
        // In a task of its own, so that an undo that panics fails its own step alone.
        let r = tokio::spawn(async move {
            revert_with_retries(undoer.as_ref(), &undo, &policy, |attempt, error| {
                observer.event(&Event::RevertRetry { fault: fault.clone(), attempt, error: error.to_string() });
            })
            .await
        })
        .await
        .unwrap_or_else(|e| Err((format!("the undo crashed: {}", crash(e)), 1)));
        match r {
            Ok(n) => {
                attempts += n;
                if failpoint {
                    crate::util::failpoint::hit("before_reverted");
                }
                let _ = env.journal.append(Entry::Reverted { step: s.step, fault: name, by: "run".into() });
            }
            Err((error, n)) => {
                attempts += n;
                let _ = env.journal.append(Entry::RevertFailed {
                    step: s.step,
                    fault: name.clone(),
                    error: error.clone(),
                    attempts: n,
                });
                failures.push(still_broken(name, &s, error));
            }
        }
    }
    (attempts, failures)
}

/// Releases the holds of a run that ends before any injection.
async fn release_now(spec: &RunSpec, env: &Env, record: &mut RunRecord) {
    if spec.holds.is_empty() {
        return;
    }
    let (_, failures) = undo_steps(hold_steps(spec), env.clone(), spec.revert.clone(), false).await;
    hold_events(spec, env, &failures);
    if !failures.is_empty() {
        record.outcome = Outcome::RevertFailed;
        record.still_broken.extend(failures);
    }
}

/// Runs one game day. Never returns before every injected fault was reverted or its
/// revert failed permanently (then `outcome` is `revert_failed`), and the holds released
/// (unless a fault's revert failed; a hold that cannot be released is `revert_failed` too).
pub async fn execute(spec: RunSpec, env: Env) -> RunRecord {
    let t0 = spec.started.filter(|t| *t <= Instant::now()).unwrap_or_else(Instant::now);
    let rel = move |i: Instant| i.saturating_duration_since(t0);
    let precision = spec.probes.iter().filter(|p| p.steady).map(|p| p.every).max().unwrap_or_default();
    let mut record = RunRecord {
        outcome: Outcome::Blocked,
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
        objective_kind: spec.objective,
        objective: if spec.objective == ObjectiveKind::Sustain { Duration::ZERO } else { spec.within },
        impact: false,
        stable_for: spec.stable_for,
        precision,
        still_broken: Vec::new(),
        pages: None,
    };

    // Baseline: every probe once, concurrently; all must pass. A cancellation comes first:
    // a run cancelled before it started (`abort` at a hold prompt) never injects, even when
    // the baseline is ready in the same poll.
    let baseline = tokio::select! {
        biased;
        _ = env.cancel.cancelled() => {
            record.outcome = Outcome::Aborted;
            // Who cancelled says why (`abort` at a prompt); a signal does not.
            record.abort_reason = Some(
                env.cancel_reason.get().cloned().unwrap_or_else(|| "interrupted before anything was injected".into()),
            );
            release_now(&spec, &env, &mut record).await;
            record.ended_at = rel(Instant::now());
            return record;
        }
        b = baseline(&spec, t0) => b,
    };
    let baseline_ok = baseline.iter().all(|s| s.ok);
    env.observer.event(&Event::Baseline { ok: baseline_ok });
    record.baseline = baseline;
    if !baseline_ok {
        // Blocked: by the steady state, by a stop condition (a watcher: an alarm, the
        // emergency halt), or both; a watcher says why in its rule's words.
        let mut rules = AbortTracker::new(spec.abort.clone(), spec.probes.iter().map(|p| p.name.clone()).collect());
        let (mut steady, mut gates) = (Vec::new(), Vec::new());
        for s in record.baseline.iter().filter(|s| !s.ok) {
            let p = &spec.probes[s.probe];
            let named = || format!("{} ({})", p.name, s.detail);
            if p.steady {
                steady.push(named());
            } else {
                gates.push(rules.observe(s.probe, s.at, false, &s.detail).unwrap_or_else(named));
            }
        }
        let mut why = Vec::new();
        if !steady.is_empty() {
            why.push(format!("steady state did not hold before injection: {}", steady.join(", ")));
        }
        if !gates.is_empty() {
            why.push(format!("a stop condition was not clear before injection: {}", gates.join(", ")));
        }
        record.abort_reason = Some(why.join("; "));
        release_now(&spec, &env, &mut record).await;
        record.ended_at = rel(Instant::now());
        return record;
    }

    // The alarms that page: read once now, before anything is injected, then until the verdict.
    let pager = match spec.pages.clone() {
        Some(p) => Some(super::pager::Watch::start(p, t0).await),
        None => None,
    };

    // Probes sample until `stop`, which the run's cancellation does not trigger: they keep
    // watching through revert and settle.
    // `sample_by` asks every probe for a sample no later than the instant it holds (now, in
    // practice): a probe that has not started a check since then starts one at once.
    let stop = CancellationToken::new();
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let (sample_by, _) = tokio::sync::watch::channel(t0);
    let mut probe_tasks = JoinSet::new();
    for (i, p) in spec.probes.iter().cloned().enumerate() {
        let tx = tx.clone();
        let stop = stop.clone();
        let mut asked = sample_by.subscribe();
        probe_tasks.spawn(async move {
            let mut last_started = Instant::now();
            let mut listening = true;
            let mut next = later(last_started, p.every);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = sleep_until(next) => {}
                    changed = asked.changed(), if listening => {
                        listening = changed.is_ok();
                        let by = *asked.borrow_and_update();
                        if by > last_started && by < next {
                            next = by;
                        }
                        continue;
                    }
                }
                let started = Instant::now();
                last_started = started;
                let check = tokio::select! {
                    _ = stop.cancelled() => return,
                    c = timed_check(&p) => c,
                };
                let done = Instant::now();
                let s = Sample {
                    probe: i,
                    at: rel(done),
                    ok: check.ok,
                    latency: done - started,
                    detail: check.detail,
                    fault: None,
                };
                if tx.send(s).is_err() {
                    return;
                }
                next = later(started, p.every).max(done);
            }
        });
    }
    drop(tx);

    // Inject, observe, revert, release, settle: `select!` only turns what happens into an
    // input; the state decides.
    let mut state = RunState::new(&spec, &env, t0, record);
    // Fault steps are numbered after the holds' (the counter is shared by every fault).
    let counter = Arc::new(AtomicU64::new(spec.holds.iter().map(|h| h.step).max().unwrap_or(0)));
    let mut ops: JoinSet<Input> = JoinSet::new();
    let mut tasks: HashMap<tokio::task::Id, Task> = HashMap::new();
    let mut inject_tasks: Vec<Option<AbortHandle>> = vec![None; spec.faults.len()];
    let mut samples_open = true;
    let mut cmds = state.start();
    loop {
        for cmd in cmds.drain(..) {
            match cmd {
                Cmd::Inject(i) => {
                    let fault = spec.faults[i].fault.clone();
                    let log = StepLog {
                        fault: spec.faults[i].name.clone(),
                        journal: env.journal.clone(),
                        steps: state.faults[i].steps.clone(),
                        counter: counter.clone(),
                        changes: state.faults[i].changes.clone(),
                    };
                    let task = ops.spawn(async move {
                        let result = fault.inject(&log).await;
                        Input::Injected { idx: i, result }
                    });
                    tasks.insert(task.id(), Task::Inject(i));
                    inject_tasks[i] = Some(task);
                }
                Cmd::Revert(i) => {
                    let name = &spec.faults[i].name;
                    let steps = state.steps(i).into_iter().rev().map(|s| (name.clone(), s)).collect();
                    let (env, policy) = (env.clone(), spec.revert.clone());
                    let task = ops.spawn(async move {
                        let (attempts, failures) = undo_steps(steps, env, policy, true).await;
                        Input::Reverted { idx: i, attempts, failures }
                    });
                    tasks.insert(task.id(), Task::Revert(i));
                }
                Cmd::CutOff(i) => {
                    if let Some(task) = inject_tasks[i].take() {
                        task.abort();
                    }
                }
                Cmd::SampleNow => {
                    sample_by.send_replace(Instant::now());
                }
                Cmd::ReleaseHolds => {
                    let (steps, env, policy) = (hold_steps(&spec), env.clone(), spec.revert.clone());
                    let task = ops.spawn(async move {
                        let (_, failures) = undo_steps(steps, env, policy, false).await;
                        Input::Released { failures }
                    });
                    tasks.insert(task.id(), Task::Release);
                }
            }
        }
        if state.phase() == Phase::Finished {
            break;
        }
        let timer = state.timer();
        let input = tokio::select! {
            biased;
            Some(done) = ops.join_next_with_id(), if !ops.is_empty() => match done {
                Ok((id, input)) => {
                    if let Some(Task::Inject(i)) = tasks.remove(&id) {
                        inject_tasks[i] = None;
                    }
                    input
                }
                Err(e) => match tasks.remove(&e.id()) {
                    Some(task) => Input::Lost { task, crash: (!e.is_cancelled()).then(|| crash(e)) },
                    None => continue,
                },
            },
            s = rx.recv(), if samples_open => match s {
                Some(s) => Input::Sample(s),
                None => {
                    samples_open = false;
                    continue;
                }
            },
            _ = sleep_until(timer.map_or_else(Instant::now, |t| t.0)), if timer.is_some() => {
                match timer {
                    Some((_, t)) => Input::Timer(t),
                    None => continue,
                }
            }
            _ = env.cancel.cancelled(), if state.listens_for_signal() => Input::Signal(env.cancel_reason.get().cloned()),
        };
        cmds = state.handle(input);
    }
    stop.cancel();
    while probe_tasks.join_next().await.is_some() {}
    if let Some(pager) = pager {
        state.record.pages = Some(pager.finish(t0).await);
    }
    state.finish()
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
        out.push(Sample { probe: i, at: done - t0, ok: c.ok, latency: done - started, detail: c.detail, fault: None });
    }
    out
}
