//! The execute stage: the engine runs the faults and probes with the journal, the
//! signals and the run's observers wired in, while the playbook and the notifications
//! follow the run's events in a task of their own; the engine releases the lease (a hold)
//! after the last revert.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::error::{Error, verdict};
use super::lease::LEASE;
use super::{Cleared, Session};
use crate::engine::executor::Env;
use crate::engine::{Event, Hold, Observer, RevertPolicy, RunRecord};
use crate::faults::{FaultContext, Undo};
use crate::lease::Leased;
use crate::notify::{Delivery, Summary};
use crate::playbook::runner::{Prompter, REVERT_FAILED, Room, RunEvent, RunInfo, StepRecord, Terminal};
use crate::util::console::Console;

/// How the operator asked the run to go.
pub struct Options {
    /// Prompt the facilitator for each manual playbook step (stdin is a terminal).
    pub interactive: bool,
    pub revert: RevertPolicy,
    /// Shows the run's events as they happen (the CLI's status lines).
    pub status: Arc<dyn Observer>,
    /// Called once the run's outcome is decided and its report is on disk, before waiting
    /// for what may still be under way (notifications, a prompt): the outcome is told when
    /// the run ends, not after them.
    pub on_end: Option<OnEnd>,
}

/// See [`Options::on_end`].
pub type OnEnd = Box<dyn FnOnce(&RunRecord, &crate::state::RunDir) + Send>;

/// A run whose faults are all reverted or listed as still broken. The playbook and the
/// notifications may still be under way in `side`.
pub struct Executed {
    pub record: RunRecord,
    pub(super) side: JoinHandle<(Vec<StepRecord>, Vec<Delivery>)>,
    pub(super) cutoff: CancellationToken,
    pub(super) signals: JoinHandle<()>,
    pub(super) revert: RevertPolicy,
    /// The playbook's and notifications' events: still open for `end`, which the report
    /// stage sends once the report it names is written (and, with S3 state, in S3).
    pub(super) events: tokio::sync::mpsc::UnboundedSender<RunEvent>,
    pub(super) end: RunEvent,
    pub(super) on_end: Option<OnEnd>,
}

/// Runs the game day: keeps the scenario next to its run, starts the playbook and
/// notifications, runs the engine (which releases the lease after the last revert).
pub async fn execute(
    shell: &Arc<Console>,
    cleared: &Cleared,
    session: &Session,
    lease: Option<&Leased>,
    options: Options,
) -> Executed {
    let loaded = &cleared.drill.loaded;
    let steps = &cleared.drill.steps;
    let (s, run) = (&loaded.scenario, &session.run);
    let aws_opts = cleared.aws_opts.clone();
    // Keep the exact scenario next to its run: the text that was validated, not whatever
    // the path holds now.
    if std::fs::write(run.path.join("scenario.yaml"), &loaded.text).is_ok()
        && let Err(e) = run.push()
    {
        shell.warn(format!("cannot copy the scenario to {}: {e}", run.location()));
    }
    shell.status("Running", format!("{} (run {})", s.name, run.id));

    let cancel = CancellationToken::new();
    let finished = CancellationToken::new();
    let signals = watch_signals(shell.clone(), cancel.clone(), options.revert.clone(), finished.clone());
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let stop_alarms = s.abort.iter().filter_map(|r| r.alarm.clone()).collect();
    let ctx = FaultContext { run_id: run.id.clone(), cwd, aws: cleared.aws.clone(), stop_alarms };
    let mut spec = crate::plan::spec(s, &ctx);
    spec.revert = options.revert.clone();
    if let (Some(watched), Some((aws, _))) = (&cleared.pages, &cleared.aws) {
        spec.pages = Some(crate::pages::spec(s, watched, aws));
    }
    // The lease is released by the engine after the last revert, with the same retries,
    // journal entries and still-broken bookkeeping as a fault (and kept while a fault is
    // still broken, so no other run touches it).
    if let Some(l) = lease {
        spec.holds.push(Hold { name: LEASE.into(), step: 0, undo: l.undo_record() });
    }
    let mut undo = Undo::new(aws_opts);
    if let Some((aws, _)) = &cleared.aws {
        undo = undo.with_client(aws).await;
    }
    // The playbook and notifications follow the run's events in their own task: nothing
    // they do (a prompt, a slow webhook) can hold up the executor or a revert.
    let (events, rx) = tokio::sync::mpsc::unbounded_channel();
    let t0 = tokio::time::Instant::now();
    // The engine's clock starts with the playbook's, so that a `hold` answered before the
    // injection is on the same timeline as the faults in the report.
    spec.started = Some(t0);
    let info = RunInfo { scenario: s.name.clone(), run_id: run.id.clone(), cwd: ctx.cwd.clone() };
    let cancel_reason: Arc<std::sync::OnceLock<String>> = Default::default();
    // `hold` steps (manual, on `start`): with a facilitator, nothing is injected until each
    // is answered.
    let holds = if options.interactive { steps.iter().filter(|st| st.hold).count() } else { 0 };
    let (held, mut answered) = tokio::sync::watch::channel(0usize);
    let prompter: Option<Arc<dyn Prompter>> = options.interactive.then(|| {
        let room = Room {
            run_dir: run.path.clone(),
            author: crate::notes::author(None, std::env::var("USER").ok().as_deref()),
            abort: cancel.clone(),
            abort_reason: cancel_reason.clone(),
            held,
        };
        Arc::new(Terminal::new(shell.clone(), steps, Some(room))) as Arc<dyn Prompter>
    });
    if !steps.is_empty() {
        let manual = steps.iter().filter(|st| st.kind() == "manual").count();
        shell.status(
            "Playbook",
            format!(
                "{} step(s), {manual} manual{}",
                steps.len(),
                if options.interactive { " (you will be prompted)" } else { " (not exercised: not --interactive)" }
            ),
        );
    }
    let cutoff = CancellationToken::new();
    let side = tokio::spawn(crate::playbook::runner::run(
        steps.clone(),
        s.notify.clone(),
        info,
        rx,
        prompter,
        t0,
        cutoff.clone(),
    ));
    let _ = events.send(RunEvent {
        name: "start",
        at: std::time::Duration::ZERO,
        text: format!("game day {} started (run {})", s.name, run.id),
        summary: None,
    });
    if holds > 0 {
        shell.status("Holding", format!("the injection until {holds} step(s) on `start` are answered"));
        tokio::select! {
            _ = answered.wait_for(|n| *n >= holds) => {}
            // A signal or `abort` meanwhile: the engine aborts before injecting anything.
            _ = cancel.cancelled() => {}
        }
    }
    let undoer: Arc<dyn crate::engine::Undoer> = Arc::new(undo);
    let revert = spec.revert.clone();
    let env = Env {
        journal: session.journal.clone(),
        undoer: undoer.clone(),
        observer: Arc::new(Observers(
            Arc::new(LeaseLines(shell.clone(), options.status)),
            Tap { events: events.clone(), t0 },
        )),
        cancel,
        cancel_reason,
    };
    let record = crate::engine::execute(spec, env).await;
    let summary = summary(&record, run);
    let end = RunEvent {
        name: "end",
        at: t0.elapsed(),
        text: format!("game day {} ended: {}", s.name, summary.line()),
        summary: Some(summary),
    };
    finished.cancel();
    Executed { record, side, cutoff, signals, revert, events, end, on_end: options.on_end }
}

/// What the run came to, for the `end` webhooks: the outcome and its exit code, the time
/// to recover against the objective, what is left injected, and where the report is —
/// where whoever gets the webhook can read it: its S3 URL with S3 state (the runner may be
/// gone by then), else its absolute path.
fn summary(record: &RunRecord, run: &crate::state::RunDir) -> Summary {
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Summary {
        outcome: record.outcome.as_str().to_string(),
        exit_code: Error::code(&verdict(record.outcome)) as i32,
        objective: record.objective_kind.as_str().to_string(),
        objective_ms: ms(record.objective),
        objective_met: record.objective_met(),
        time_to_recover_ms: record.time_to_recover().map(ms),
        still_broken: record.still_broken.len(),
        report: run.file_location(crate::report::HTML_FILE),
    }
}

/// First SIGINT/SIGTERM cancels the run (which reverts every fault). The second stops
/// revert retries (`policy.hurry`): the attempt under way runs to its end or its timeout,
/// each fault not yet reverted still gets one attempt, and whatever is left is reported as
/// still broken — a revert is never skipped. Later ones only say what is going on. Once
/// the run has `finished` (reverts done), any signal cuts the remaining notifications and
/// prompts short. SIGHUP is ignored so a closed terminal does not skip a revert. The handlers are
/// installed before this returns, so no signal slips past them.
fn watch_signals(
    shell: Arc<Console>,
    cancel: CancellationToken,
    policy: RevertPolicy,
    finished: CancellationToken,
) -> JoinHandle<()> {
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) =
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()))
    else {
        shell.warn("cannot install signal handlers; Ctrl-C will not revert");
        return tokio::spawn(async {});
    };
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => {
                    shell.warn("SIGHUP ignored during a run");
                    continue;
                }
            };
            seen += 1;
            let limit = humantime::format_duration(policy.timeout);
            let deadline = humantime::format_duration(policy.deadline);
            if finished.is_cancelled() {
                shell.warn(format!(
                    "{name}: every fault is reverted or listed; not waiting for notifications or prompts"
                ));
                policy.hurry.cancel();
            } else if seen == 1 {
                shell.warn(format!("{name}: aborting, reverting every fault before exiting (each revert step ends within {deadline}; a second signal stops retries)"));
                cancel.cancel();
            } else if seen == 2 {
                policy.hurry.cancel();
                shell.warn(format!("{name}: reverts are no longer retried: the attempt under way ends within {limit}, each fault not yet reverted gets one attempt, then the report lists what is still broken and how to fix it"));
            } else {
                shell.warn(format!("{name}: still reverting (no retries; each attempt ends within {limit}); SIGKILL would leave faults in place (`firedrill recover` then reverts them)"));
            }
        }
    })
}

/// Sends the run's events to the playbook runner, timed from the start of the run.
struct Tap {
    events: tokio::sync::mpsc::UnboundedSender<RunEvent>,
    t0: tokio::time::Instant,
}

impl Observer for Tap {
    fn event(&self, e: &Event) {
        if is_lease(e) {
            return; // not a fault: nothing for the playbook or the webhooks
        }
        let now = self.t0.elapsed();
        let (name, at, text) = match e {
            Event::Injected { fault } => ("inject", now, format!("fault {fault} injected")),
            Event::Detected { at } => ("detect", *at, "impact detected".into()),
            Event::Recovered { at } => ("recover", *at, "steady state is back".into()),
            Event::Abort { reason } => ("abort", now, format!("aborting: {reason}")),
            Event::Reverted { fault } => ("revert", now, format!("fault {fault} reverted")),
            Event::RevertFailed { fault, error } => (
                REVERT_FAILED,
                now,
                format!(
                    "fault {fault} could NOT be reverted ({error}): a human must act; see the report's still_broken"
                ),
            ),
            _ => return,
        };
        let _ = self.events.send(RunEvent { name, at, text, summary: None });
    }
}

/// Whether the event is about the lease hold rather than a fault.
fn is_lease(e: &Event) -> bool {
    match e {
        Event::Reverting { fault, .. }
        | Event::Reverted { fault }
        | Event::RevertRetry { fault, .. }
        | Event::RevertFailed { fault, .. } => fault == LEASE,
        _ => false,
    }
}

/// Says what happens to the lease in its own words, and passes every other event on.
struct LeaseLines(Arc<Console>, Arc<dyn Observer>);

impl Observer for LeaseLines {
    fn event(&self, e: &Event) {
        match e {
            Event::RevertRetry { attempt, error, .. } if is_lease(e) => {
                self.0.warn(format!("releasing the lease, attempt {attempt} failed: {error}; retrying"))
            }
            Event::RevertFailed { error, .. } if is_lease(e) => {
                self.0.error(format!("could not release the lease: {error}"))
            }
            _ if is_lease(e) => {}
            _ => self.1.event(e),
        }
    }
}

/// Two observers in one.
struct Observers<B>(Arc<dyn Observer>, B);

impl<B: Observer> Observer for Observers<B> {
    fn event(&self, e: &Event) {
        self.0.event(e);
        self.1.event(e);
    }
}
