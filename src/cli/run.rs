//! `firedrill run FILE`: the flags, the confirmation prompt and what is printed; the game
//! day itself is [`crate::gameday`]'s pipeline.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use crate::aws::AwsOpts;
use crate::engine::{Event, ObjectiveKind, Observer, Outcome, RunRecord};
use crate::gameday::{self, Error};
use crate::state::StateDir;
use crate::util::console::{Console, Level, offset};

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

pub async fn run(shell: Arc<Console>, state: &StateDir, aws_opts: &AwsOpts, args: RunArgs) -> Result<(), Error> {
    let drill = gameday::load(&args.file)?;
    super::warn(&shell, &drill);
    if args.interactive && !std::io::stdin().is_terminal() {
        return Err(Error::Usage("--interactive prompts the facilitator for manual steps, but stdin is not a terminal; run without --interactive (manual steps are then listed as not exercised)".into()));
    }
    let revert = match args.revert_deadline.map(crate::engine::RevertPolicy::with_deadline) {
        None => crate::engine::RevertPolicy::default(),
        Some(Ok(p)) => p,
        Some(Err(e)) => return Err(Error::Usage(format!("--revert-deadline: {e}"))),
    };
    let prepared = gameday::prepare(&shell, drill, aws_opts, args.seed).await?;
    for w in &prepared.warnings {
        shell.warn(w);
    }
    if !prepared.refusals().is_empty() {
        crate::util::console::stderr(&prepared.render());
    }
    let cleared = prepared.clear()?;
    if args.dry_run {
        return super::output(&format!("{}\nNothing was touched (--dry-run).\n", cleared.render()));
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::Usage(
                "refusing to inject faults without confirmation: stdin is not a terminal; pass --yes".into(),
            ));
        }
        crate::util::console::stderr(&cleared.render());
        crate::util::console::stderr(&format!(
            "\nInject {} fault(s) now? [y/N] ",
            cleared.drill.loaded.scenario.faults.len()
        ));
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            shell.status("Cancelled", "nothing was touched");
            return Ok(());
        }
    }

    // The outcome, the report and the run directory are told as soon as the run's outcome
    // is decided, not after the notifications or a prompt still waiting.
    let tell = shell.clone();
    let on_end: gameday::execute::OnEnd = Box::new(move |record, run| {
        summarize(&tell, record, &run.id);
        tell.status("Report", run.path.join("report.md").display());
        // The run directory, for scripts; off the line of a prompt still waiting. Failing
        // to print it does not change how the run went.
        let printed = tell.beside_prompt(|| crate::util::console::stdout(&format!("{}\n", run.path.display())));
        if let Err(e) = printed {
            tell.warn(format!("cannot write the run directory to stdout: {e}"));
        }
    });
    let options = gameday::Options {
        interactive: args.interactive,
        revert,
        status: Arc::new(StatusLines(shell.clone())),
        on_end: Some(on_end),
    };
    let finished = gameday::run(&shell, state, cleared, &args.file, options).await?;
    gameday::verdict(finished.record.outcome)
}

pub(super) struct StatusLines(pub(super) Arc<Console>);

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

pub(super) fn summarize(shell: &Console, r: &RunRecord, run_id: &str) {
    if let Some(p) = r.pages.as_ref().filter(|_| r.t_inject.is_some()) {
        let named: Vec<String> = p.pages.iter().map(|g| format!("{} at {}", g.alarm, offset(g.at))).collect();
        let list = if named.is_empty() { String::new() } else { format!(": {}", named.join(", ")) };
        shell.status("Pages", format!("{}{list}", p.pages.len()));
        for u in &p.unreadable {
            let which =
                u.alarm.as_deref().map_or_else(|| "the paging alarms".to_string(), |a| format!("paging alarm `{a}`"));
            shell.warn(format!("could not read {which} ({} read(s)): {}", u.times, u.error));
        }
    }
    let measured = match (r.objective_kind, r.time_to_recover()) {
        (ObjectiveKind::Sustain, _) if !r.impact => format!("sustained: no probe failed (±{})", ms(r.precision)),
        (ObjectiveKind::Sustain, _) => {
            let first = r.detected_at.map(|d| format!(", first at {}", offset(d))).unwrap_or_default();
            format!("a probe failed during the run{first}: the sustain objective allows no impact")
        }
        (_, Some(t)) => format!("recovered in {} (objective {}, ±{})", ms(t), ms(r.objective), ms(r.precision)),
        (_, None) => format!("no recovery observed (objective {})", ms(r.objective)),
    };
    match r.outcome {
        Outcome::Passed => shell.status("Passed", measured),
        Outcome::ObjectiveMissed => match r.pages.as_ref().and_then(|p| p.reason()) {
            Some(pages) => shell.warn(format!("objective missed: {pages}; {measured}")),
            None => shell.warn(format!("objective missed: {measured}")),
        },
        Outcome::Aborted => {
            shell.warn(format!("aborted and reverted: {}", r.abort_reason.as_deref().unwrap_or("unknown reason")))
        }
        Outcome::NoImpact => shell.warn(format!(
            "no impact: every fault was reverted, but no probe ever failed, so recovery (objective {}) was not tested",
            ms(r.objective)
        )),
        Outcome::Blocked => shell.warn(format!(
            "blocked, nothing was injected: {}",
            r.abort_reason.as_deref().unwrap_or("the baseline failed")
        )),
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
                    crate::util::console::quote(run_id)
                ),
            );
            shell.print(Level::Error, "");
        }
    }
}
