//! `firedrill run FILE`: confirm, then run the game day with the journal, signals and
//! live status wired in, write the reports, and exit with the outcome's code.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::aws::AwsOpts;
use crate::engine::executor::Env;
use crate::engine::{Event, Observer, Outcome, RunRecord};
use crate::faults::{FaultContext, Undo};
use crate::journal::{Entry, Journal, Sink};
use crate::playbook::runner::{Prompter, RunEvent, RunInfo, Terminal};
use crate::report::{self, Report, RunMeta};
use crate::shell::{Level, Shell, offset};
use crate::state::StateDir;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    pub file: PathBuf,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Show the plan and stop (same as `firedrill plan`).
    #[arg(long)]
    pub dry_run: bool,
    /// Seed for `count`/`percent` target selection (default: random, recorded).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Prompt the facilitator for each manual playbook step when it is due (needs a
    /// terminal); without it, manual steps are listed as not exercised.
    #[arg(long, short)]
    pub interactive: bool,
    /// How long one revert step may take in all, its retries included (default 5m; 10s to
    /// 30m). A step still not reverted then is reported as still broken, with its fix.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub revert_deadline: Option<std::time::Duration>,
}

pub async fn run(shell: Arc<Shell>, state: &StateDir, aws_opts: &AwsOpts, args: RunArgs) -> Exit {
    let loaded = match super::load(&shell, &args.file) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if args.interactive && !std::io::stdin().is_terminal() {
        shell.error("--interactive prompts the facilitator for manual steps, but stdin is not a terminal; run without --interactive (manual steps are then listed as not exercised)");
        return Exit::Invalid;
    }
    let mut revert_policy = match args.revert_deadline.map(crate::engine::RevertPolicy::with_deadline) {
        None => crate::engine::RevertPolicy::default(),
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            shell.error(format!("--revert-deadline: {e}"));
            return Exit::Invalid;
        }
    };
    let prepared = match super::prepare(&shell, &loaded, aws_opts, args.seed).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let res = prepared.as_ref().map(|(_, r)| r.as_ref());
    if let Some(r) = res.filter(|r| !r.refusals.is_empty()) {
        crate::shell::stderr(&crate::plan::render(&loaded, Some(r)));
        for why in &r.refusals {
            shell.error(format!("refused: {why}"));
        }
        shell.error("nothing was touched");
        return Exit::Refused;
    }
    if args.dry_run {
        return super::output(
            &shell,
            &format!("{}\nNothing was touched (--dry-run).\n", crate::plan::render(&loaded, res)),
        );
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            shell.error("refusing to inject faults without confirmation: stdin is not a terminal; pass --yes");
            return Exit::Invalid;
        }
        crate::shell::stderr(&crate::plan::render(&loaded, res));
        crate::shell::stderr(&format!("\nInject {} fault(s) now? [y/N] ", loaded.scenario.faults.len()));
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            shell.status("Cancelled", "nothing was touched");
            return Exit::Ok;
        }
    }

    let s = &loaded.scenario;
    let run = match state.create_run(&s.name) {
        Ok(r) => r,
        Err(e) => {
            shell.error(format!("cannot create the run directory: {e}"));
            return Exit::Error;
        }
    };
    let _lock = match lock_new_run(&run).await {
        Some(l) => l,
        None => {
            shell.error(format!("cannot lock {}", run.path.display()));
            return Exit::Error;
        }
    };
    let journal = match Journal::open(&run.path) {
        Ok(j) => Arc::new(j),
        Err(e) => {
            shell.error(e);
            return Exit::Error;
        }
    };
    let started_at = SystemTime::now();
    if let Err(e) = journal.append(Entry::RunStarted {
        run_id: run.id.clone(),
        scenario: s.name.clone(),
        scenario_file: args.file.display().to_string(),
        pid: std::process::id(),
    }) {
        shell.error(format!("cannot write the journal, nothing was injected: {e}"));
        return Exit::Error;
    }
    // Lease the AWS resources before anything else touches them.
    let lease = match &prepared {
        Some((aws, res)) => match take_lease(&shell, aws, s, res, &run.id, journal.as_ref()).await {
            Ok(l) => l,
            Err(code) => return code,
        },
        None => None,
    };
    // Keep the exact scenario next to its run: the text that was validated, not whatever
    // the path holds now.
    let _ = std::fs::write(run.path.join("scenario.yaml"), &loaded.text);
    shell.status("Running", format!("{} (run {})", s.name, run.id));

    let cancel = CancellationToken::new();
    let finished = CancellationToken::new();
    let signals = watch_signals(shell.clone(), cancel.clone(), revert_policy.clone(), finished.clone());
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let ctx = FaultContext { run_id: run.id.clone(), cwd, aws: prepared.clone() };
    let mut spec = crate::plan::spec(s, &ctx);
    spec.revert = revert_policy.clone();
    let mut undo = Undo::new(aws_opts.clone());
    if let Some((aws, _)) = &prepared {
        undo = undo.with_client(aws).await;
    }
    // The playbook and notifications follow the run's events in their own task: nothing
    // they do (a prompt, a slow webhook) can hold up the executor or a revert.
    let (events, rx) = tokio::sync::mpsc::unbounded_channel();
    let t0 = tokio::time::Instant::now();
    let info = RunInfo { scenario: s.name.clone(), run_id: run.id.clone(), cwd: ctx.cwd.clone() };
    let prompter: Option<Arc<dyn Prompter>> = if args.interactive { Some(Arc::new(Terminal::new())) } else { None };
    if !loaded.steps.is_empty() {
        let manual = loaded.steps.iter().filter(|st| st.kind() == "manual").count();
        shell.status(
            "Playbook",
            format!(
                "{} step(s), {manual} manual{}",
                loaded.steps.len(),
                if args.interactive { " (you will be prompted)" } else { " (not exercised: not --interactive)" }
            ),
        );
    }
    let cutoff = CancellationToken::new();
    let mut side = tokio::spawn(crate::playbook::runner::run(
        loaded.steps.clone(),
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
    });
    let undoer: Arc<dyn crate::engine::Undoer> = Arc::new(undo);
    revert_policy = spec.revert.clone();
    let env = Env {
        journal: journal.clone(),
        undoer: undoer.clone(),
        observer: Arc::new(Observers(StatusLines(shell.clone()), Tap { events: events.clone(), t0 })),
        cancel,
    };
    let mut record = crate::engine::execute(spec, env).await;
    // Release the lease once every fault is reverted; after a failed revert keep it, so no
    // other run touches a resource that is still broken (`recover` releases it). The lease
    // is a side effect like any other: retried like a revert, and if it cannot be undone
    // the run is `revert_failed`, listing the tag and the command that removes it.
    if let Some(l) = lease.as_ref().filter(|_| record.outcome != Outcome::RevertFailed) {
        let undo = l.undo_record();
        let retry =
            |attempt: u32, e: &str| shell.warn(format!("releasing the lease, attempt {attempt} failed: {e}; retrying"));
        match crate::engine::revert_with_retries(undoer.as_ref(), &undo, &revert_policy, retry).await {
            Ok(_) => {
                let _ = journal.append(Entry::Reverted { step: 0, fault: LEASE.into(), by: "run".into() });
            }
            Err((error, attempts)) => {
                shell.error(format!("could not release the lease: {error}"));
                let entry = Entry::RevertFailed { step: 0, fault: LEASE.into(), error: error.clone(), attempts };
                let _ = journal.append(entry);
                record.outcome = Outcome::RevertFailed;
                record.still_broken.push(crate::engine::record::StillBroken {
                    fault: LEASE.into(),
                    step: 0,
                    description: undo.description,
                    kind: undo.kind,
                    data: undo.data,
                    error,
                });
            }
        }
    }
    let _ = events.send(RunEvent {
        name: "end",
        at: t0.elapsed(),
        text: format!("game day {} ended: {}", s.name, record.outcome.as_str()),
    });
    drop(events);
    finished.cancel();

    let meta = RunMeta {
        run_id: run.id.clone(),
        scenario_file: args.file.display().to_string(),
        started_at,
        run_dir: run.path.display().to_string(),
    };
    let write_report = |steps, deliveries, warn: bool| {
        let mut report = Report::new(meta.clone(), s, &record).with_playbook(steps, deliveries);
        if let Some((aws, res)) = &prepared {
            report = report.with_aws(res, aws.calls(), aws.retries());
        }
        let (report, warning) = report::attach_notes(report, &run.path);
        if let Some(w) = warning.filter(|_| warn) {
            shell.warn(w);
        }
        if let Err(e) = report::write_all(&run.path, &report) {
            shell.error(format!("cannot write the report in {}: {e}", run.path.display()));
        }
    };
    // Every fault is reverted or listed as still broken: the report goes to disk before
    // waiting on any notification, so nothing a webhook does (or a kill meanwhile) can
    // lose it. It is written again below with the deliveries and playbook steps.
    let pending = !side.is_finished();
    if pending {
        write_report(Vec::new(), Vec::new(), false);
    }
    let waited = tokio::select! {
        r = &mut side => Some(r.unwrap_or_default()),
        _ = tokio::time::sleep(crate::notify::FINISH_DEADLINE) => {
            shell.warn(format!(
                "notifications still under way {} after the run ended: cut off",
                humantime::format_duration(crate::notify::FINISH_DEADLINE)
            ));
            None
        }
        _ = revert_policy.hurry.cancelled() => None,
    };
    let (steps, deliveries) = match waited {
        Some(r) => r,
        None => {
            cutoff.cancel();
            side.await.unwrap_or_default()
        }
    };
    signals.abort();
    for d in deliveries.iter().filter(|d| !d.ok) {
        shell.warn(format!("webhook {} ({}) failed: {}", d.target, d.event, d.error.as_deref().unwrap_or("?")));
    }
    write_report(steps, deliveries, true);
    summarize(&shell, &record, &run.id);
    shell.status("Report", run.path.join("report.md").display());
    // The run directory, for scripts. Failing to print it does not change how the run went.
    if let Err(e) = crate::shell::stdout(&format!("{}\n", run.path.display())) {
        shell.warn(format!("cannot write the run directory to stdout: {e}"));
    }
    match record.outcome {
        Outcome::Passed => Exit::Ok,
        Outcome::ObjectiveMissed => Exit::ObjectiveMissed,
        Outcome::Aborted => Exit::Aborted,
        Outcome::NotStarted => Exit::NotStarted,
        Outcome::RevertFailed => Exit::RevertFailed,
    }
}

/// Takes the lock of a run directory this process just created. Nobody else can own it,
/// but `note`, `runs` or `recover` may be holding it for an instant to see whether the run
/// is live, so a busy lock is retried for a moment before giving up.
async fn lock_new_run(run: &crate::state::RunDir) -> Option<std::fs::File> {
    for _ in 0..50 {
        match run.lock() {
            Ok(Some(l)) => return Some(l),
            Ok(None) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            Err(_) => return None,
        }
    }
    None
}

/// First SIGINT/SIGTERM cancels the run (which reverts every fault). The second stops
/// revert retries (`policy.hurry`): the attempt under way runs to its end or its timeout,
/// each fault not yet reverted still gets one attempt, and whatever is left is reported as
/// still broken — a revert is never skipped. Later ones only say what is going on. Once
/// the run has `finished` (reverts done), any signal cuts the remaining notifications
/// short. SIGHUP is ignored so a closed terminal does not skip a revert. The handlers are
/// installed before this returns, so no signal slips past them.
fn watch_signals(
    shell: Arc<Shell>,
    cancel: CancellationToken,
    policy: crate::engine::RevertPolicy,
    finished: CancellationToken,
) -> tokio::task::JoinHandle<()> {
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
                shell.warn(format!("{name}: every fault is reverted or listed; not waiting for notifications"));
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

/// The journal's name for the lease step (step 0, before every fault's steps).
const LEASE: &str = "(lease)";

/// Leases the resources the faults act on: journaled, tagged, then read back; if another
/// run leased any of them too, this one releases its lease and stops.
async fn take_lease(
    shell: &Shell,
    aws: &crate::aws::Aws,
    s: &crate::scenario::Scenario,
    res: &crate::targets::Resolution,
    run_id: &str,
    journal: &Journal,
) -> Result<Option<crate::lease::Leased>, Exit> {
    let opt_in_tag = s.environment.as_ref().map(|e| e.opt_in_tag.clone());
    let lease = crate::lease::Leased::new(crate::faults::lease_resources(s, res), res, opt_in_tag, run_id);
    if lease.is_empty() {
        return Ok(None);
    }
    let undo = lease.undo_record();
    if let Err(e) = journal.append(Entry::Intent { step: 0, fault: LEASE.into(), undo: undo.clone() }) {
        shell.error(format!("cannot write the journal, nothing was touched: {e}"));
        return Err(Exit::Error);
    }
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let verdict = match lease.acquire(aws, &now).await {
        Err(e) => Err(format!("cannot lease the targets: {e}")),
        Ok(()) => match lease.read_back(aws).await {
            Err(e) => Err(format!("cannot read the lease back: {e}")),
            Ok(now) => lease.contested(&now, run_id),
        },
    };
    match verdict {
        Ok(()) => {
            shell.status("Leased", format!("{} resource(s) as {}", lease.count(), lease.key));
            Ok(Some(lease))
        }
        Err(why) => {
            shell.error(format!("refused: {why}; nothing was injected"));
            match crate::lease::release(aws, &undo.data).await {
                Ok(()) => {
                    let _ = journal.append(Entry::Reverted { step: 0, fault: LEASE.into(), by: "run".into() });
                }
                Err(e) => shell.warn(format!("could not release this run's lease ({e}); `firedrill recover` will")),
            }
            let _ = journal.append(Entry::RunFinished { outcome: "refused".into() });
            Err(Exit::Refused)
        }
    }
}

/// Sends the run's events to the playbook runner, timed from the start of the run.
struct Tap {
    events: tokio::sync::mpsc::UnboundedSender<RunEvent>,
    t0: tokio::time::Instant,
}

impl Observer for Tap {
    fn event(&self, e: &Event) {
        let now = self.t0.elapsed();
        let ev = match e {
            Event::Injected { fault } => RunEvent { name: "inject", at: now, text: format!("fault {fault} injected") },
            Event::Detected { at } => RunEvent { name: "detect", at: *at, text: "impact detected".into() },
            Event::Recovered { at } => RunEvent { name: "recover", at: *at, text: "steady state is back".into() },
            Event::Abort { reason } => RunEvent { name: "abort", at: now, text: format!("aborting: {reason}") },
            Event::Reverted { fault } => RunEvent { name: "revert", at: now, text: format!("fault {fault} reverted") },
            _ => return,
        };
        let _ = self.events.send(ev);
    }
}

/// Two observers in one.
struct Observers<A, B>(A, B);

impl<A: Observer, B: Observer> Observer for Observers<A, B> {
    fn event(&self, e: &Event) {
        self.0.event(e);
        self.1.event(e);
    }
}

struct StatusLines(Arc<Shell>);

impl Observer for StatusLines {
    fn event(&self, e: &Event) {
        let sh = &self.0;
        match e {
            Event::Baseline { ok: true } => sh.status("Baseline", "steady state holds"),
            Event::Baseline { ok: false } => sh.warn("steady state does not hold: nothing will be injected"),
            Event::Injecting { fault } => sh.status("Injecting", fault),
            Event::Injected { fault } => sh.status("Injected", fault),
            Event::InjectFailed { fault, error } => sh.error(format!("fault {fault} failed to inject: {error}")),
            Event::Probe { probe, ok, detail, at } => {
                let state = if *ok { "ok" } else { "FAILING" };
                sh.status("Probe", format!("{probe} {state}: {detail} ({})", offset(*at)));
            }
            Event::Detected { at } => sh.status("Detected", format!("first failing sample at {}", offset(*at))),
            Event::Recovered { at } => sh.status("Recovered", format!("steady state back from {}", offset(*at))),
            Event::Abort { reason } => sh.warn(format!("aborting: {reason}")),
            Event::Reverting { fault, description } => sh.status("Reverting", format!("{fault}: {description}")),
            Event::Reverted { fault } => sh.status("Reverted", fault),
            Event::RevertRetry { fault, attempt, error } => {
                sh.warn(format!("revert of {fault} failed (attempt {attempt}), retrying: {error}"))
            }
            Event::RevertFailed { fault, error } => sh.error(format!("revert of {fault} FAILED: {error}")),
            Event::Settling { timeout } => sh.status(
                "Settling",
                format!("waiting up to {} for the steady state to hold", humantime::format_duration(*timeout)),
            ),
        }
    }
}

fn ms(d: std::time::Duration) -> String {
    humantime::format_duration(std::time::Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
        .to_string()
}

fn summarize(shell: &Shell, r: &RunRecord, run_id: &str) {
    let measured = match r.time_to_recover() {
        Some(t) => format!("recovered in {} (objective {}, ±{})", ms(t), ms(r.objective), ms(r.precision)),
        None => format!("no recovery observed (objective {})", ms(r.objective)),
    };
    match r.outcome {
        Outcome::Passed => shell.status("Passed", measured),
        Outcome::ObjectiveMissed => shell.warn(format!("objective missed: {measured}")),
        Outcome::Aborted => {
            shell.warn(format!("aborted and reverted: {}", r.abort_reason.as_deref().unwrap_or("unknown reason")))
        }
        Outcome::NotStarted => {
            shell.warn(format!("not started: {}", r.abort_reason.as_deref().unwrap_or("baseline failed")))
        }
        Outcome::RevertFailed => {
            shell.print(Level::Error, "");
            shell.print(Level::Error, "!!! REVERT FAILED: A HUMAN MUST ACT. These side effects are STILL IN PLACE:");
            for b in &r.still_broken {
                shell.print(Level::Error, format!("!!!   {}: {} — {}", b.fault, b.description, b.error));
            }
            shell.print(
                Level::Error,
                format!(
                    "!!! Retry with `firedrill recover {}`; report.md lists how to fix each by hand.",
                    crate::shell::quote(run_id)
                ),
            );
            shell.print(Level::Error, "");
        }
    }
}
