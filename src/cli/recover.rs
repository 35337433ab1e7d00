//! `firedrill recover [RUN] [--trust-journal]`: revert what crashed runs left injected.
//! Steps this installation did not journal (see [`crate::state::trust`]) are shown exactly and
//! run only with the operator's consent for that run: `--trust-journal` with the RUN, or
//! `y` at the prompt on a terminal; never by default.
//!
//! `firedrill recover --sweep [RUN] --account ID --opt-in-tag KEY=VALUE [--yes]`: the same
//! from the undo tags on AWS ([`crate::sweep`]) when the journal is gone. It acts in the
//! declared account (checked against the credentials) and the client's region, on
//! resources carrying the declared opt-in tag; it shows what it will undo by run and asks
//! (or needs `--yes`); it leaves alone runs alive in the local state directory, with S3
//! state runs whose S3 lock is alive on any machine (a sweep that cannot read those locks
//! refuses, unless `--ignore-remote-locks`), and runs younger than `--min-age` unless RUN
//! names them (a live run named is refused); and it says "nothing left injected" only
//! when a fresh read of AWS shows nothing.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, SystemTime};

use super::Error;
use crate::aws::{Aws, AwsOpts};
use crate::engine::RevertPolicy;
use crate::faults::command::{self, Revert};
use crate::faults::{NOTHING, Undo, manual_fix};
use crate::state::StateDir;
use crate::state::journal::{Pending, UndoRecord};
use crate::state::remote::LockState;
use crate::state::trust::Key;
use crate::util::console::Console;

pub async fn recover(
    shell: &Console,
    state: &StateDir,
    aws: &AwsOpts,
    run: Option<&str>,
    trust_journal: bool,
) -> Result<(), Error> {
    if trust_journal && run.is_none() {
        return Err(Error::Usage(
            "--trust-journal needs the RUN whose journal you reviewed: `firedrill recover RUN --trust-journal`".into(),
        ));
    }
    let key = match Key::installation() {
        Ok(k) => Some(k),
        Err(e) => {
            shell.warn(format!("{e}: every journaled step counts as untrusted"));
            None
        }
    };
    let undo = Undo::guarded(aws.clone());
    let runs = match run {
        Some(r) => state.find(r).map(|r| vec![r]),
        None => state.list(),
    };
    let runs = runs.map_err(|e| Error::Usage(e.to_string()))?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let policy = RevertPolicy::default();
    // `failed`: what a human must now look at.
    let (mut reverted, mut failed, mut live) = (0, 0, 0);
    for run in runs {
        match crate::recover::inspect(&run, key.as_ref()) {
            Ok(i) if i.is_clean() => continue,
            Ok(_) => {}
            Err(e) => {
                shell.error(format!("{}: {e}", run.id));
                failed += 1;
                continue;
            }
        }
        let consent = |untrusted: &[&Pending]| {
            // Without a way to consent, they are listed once, after the run's reverts.
            if !trust_journal && !interactive {
                return false;
            }
            for p in untrusted {
                shell.warn(format!(
                    "{} step {} ({}) was not journaled by this firedrill installation; it would run: {}",
                    run.id,
                    p.step,
                    p.fault,
                    exact(&p.undo)
                ));
            }
            if trust_journal {
                shell.status("Trusting", format!("the journal of {} (--trust-journal)", run.id));
                return true;
            }
            ask(&format!("Run these {} step(s) of {}? [y/N] ", untrusted.len(), run.id))
        };
        let result = crate::recover::recover(&run, &undo, &policy, key.as_ref(), consent, |step| {
            shell.status("Reverting", format!("{} {}: {}", run.id, step.fault, step.undo.description));
            if step.undo.kind == command::KIND
                && let Some(w) = Revert::from_record(&step.undo.data).ok().and_then(|r| r.warning())
            {
                shell.warn(format!("{} {}: {w}", run.id, step.fault));
            }
        })
        .await;
        match result {
            Ok(r) if r.live => {
                shell.warn(format!("{} is still running (it holds its lock); left alone", r.run));
                live += 1;
            }
            Ok(r) if r.busy.is_some() => {
                shell.error(format!(
                    "another `firedrill recover` (pid {}) holds run {} and is reverting it: nothing done here; run `firedrill recover` again once it has finished",
                    r.busy.unwrap_or_default(),
                    r.run
                ));
                failed += 1;
            }
            Ok(r) => {
                for (step, n) in &r.killed {
                    shell.warn(format!(
                        "{}: killed {n} process(es) of step {step}'s command, still running after the run died",
                        r.run
                    ));
                }
                for (n, why) in &r.damaged {
                    shell.error(format!(
                        "{}: line {n} cannot be read ({why}); if it recorded a side effect, recover cannot see it: check by hand",
                        run.journal_path().display()
                    ));
                }
                if !r.damaged.is_empty() && !r.damage_reported {
                    failed += 1;
                }
                reverted += r.reverted.len();
                for (what, error) in &r.failed {
                    shell.error(format!("{}: could not revert {what}: {error}", r.run));
                }
                failed += r.failed.len();
                for p in &r.untrusted {
                    shell.error(format!(
                        "{}: did not run step {} ({}), which this installation did not journal: {}",
                        r.run,
                        p.step,
                        p.fault,
                        exact(&p.undo)
                    ));
                }
                if !r.untrusted.is_empty() {
                    shell.error(format!(
                        "review {} and, only if you trust every step, run `firedrill recover {} --trust-journal`",
                        run.journal_path().display(),
                        r.run
                    ));
                    failed += r.untrusted.len();
                }
            }
            Err(e) => {
                shell.error(format!("{}: {e}", run.id));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(Error::Unreverted(failed));
    }
    if live > 0 {
        // A live run reverts on its own: not a failure, but not "nothing left" either.
        shell.status(
            "Recovered",
            format!("{reverted} step(s) reverted; {live} run(s) still running left alone (they revert on their own)"),
        );
    } else {
        shell.status("Recovered", format!("{reverted} step(s) reverted; nothing left injected"));
    }
    Ok(())
}

/// The runs a sweep must leave alone because they are alive, with why: their lock in the
/// local state directory is held, or (with S3 state) their S3 lock is fresh or moves,
/// whichever machine holds it. Only the runs `found` on AWS (or `run`) are looked at. A
/// lock that cannot be read refuses the sweep, unless `ignore_remote` says to rely on
/// `--min-age` alone for the S3 ones.
fn alive_runs(
    shell: &Console,
    state: &StateDir,
    found: &crate::sweep::Found,
    run: Option<&str>,
    ignore_remote: bool,
) -> Result<BTreeMap<String, String>, Error> {
    let root = state.runs();
    let local = StateDir::new(root.parent().unwrap_or(&root));
    let mut alive: BTreeMap<String, String> = local
        .live()
        .map_err(|e| {
            Error::Failed(format!("cannot read the run locks in {}: {e}; nothing was swept", local.location()))
        })?
        .into_iter()
        .map(|r| (r.id, "it is still running here (it holds its lock)".to_string()))
        .collect();
    let Some(remote) = state.remote() else { return Ok(alive) };
    let ids: Vec<String> = found.runs.keys().filter(|id| run.is_none_or(|r| r == id.as_str())).cloned().collect();
    if ids.is_empty() {
        return Ok(alive);
    }
    match remote.watch_locks(&ids) {
        Ok(locks) => {
            for (id, lock) in locks {
                if let LockState::Alive(why) = lock {
                    alive.entry(id).or_insert(why);
                }
            }
        }
        Err(e) if ignore_remote => shell.warn(format!(
            "cannot read the run locks in {}/runs: {e}; --ignore-remote-locks: only --min-age protects a run alive on another machine",
            remote.url()
        )),
        Err(e) => {
            return Err(Error::Refused(vec![format!(
                "cannot read the run locks in {url}/runs: {e}: a run alive on another machine could be swept, so nothing was; \
                 allow s3:GetObject and s3:ListBucket on them (`firedrill iam-policy --sweep --state {url} SCENARIO`), \
                 or pass --ignore-remote-locks to rely on --min-age alone",
                url = remote.url()
            )]));
        }
    }
    Ok(alive)
}

/// Exactly what reverting `undo` would do: the shell command line, or the AWS calls.
fn exact(undo: &UndoRecord) -> String {
    match undo.kind.as_str() {
        command::KIND => match Revert::from_record(&undo.data) {
            Ok(r) => r.shell_line(),
            Err(e) => e.to_string(),
        },
        NOTHING => "nothing".into(),
        _ => manual_fix(undo),
    }
}

/// Asks a yes/no question on the terminal; anything but `y`/`yes` is no.
fn ask(question: &str) -> bool {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// `recover --sweep` and its options.
#[derive(clap::Args, Debug, Default)]
pub struct SweepArgs {
    /// Undo from the undo tags firedrill left on AWS, not from a journal (the journal is
    /// gone); RUN (its full id), if given, limits it to that run.
    #[arg(long)]
    pub sweep: bool,
    /// With --sweep: the AWS account to act in (12 digits); the credentials must be for it.
    #[arg(long, requires = "sweep")]
    pub account: Option<String>,
    /// With --sweep: the opt-in tag (KEY=VALUE); a resource without it is never touched.
    #[arg(long, requires = "sweep", value_name = "KEY=VALUE")]
    pub opt_in_tag: Option<String>,
    /// With --sweep: leave alone runs that started less than this long ago (they may still
    /// be running elsewhere) unless RUN names them [default: 1h].
    #[arg(long, requires = "sweep", value_parser = humantime::parse_duration)]
    pub min_age: Option<Duration>,
    /// With --sweep: undo without asking (required when stdin is not a terminal).
    #[arg(long, requires = "sweep")]
    pub yes: bool,
    /// With --sweep and S3 state: sweep even when the run locks in S3 cannot be read (then
    /// only --min-age protects a run alive on another machine).
    #[arg(long, requires = "sweep")]
    pub ignore_remote_locks: bool,
}

const MIN_AGE: Duration = Duration::from_secs(3600);

fn opt_in(text: Option<&str>) -> Result<crate::scenario::OptInTag, Error> {
    let text = text.ok_or_else(|| {
        Error::Usage("--sweep needs --opt-in-tag KEY=VALUE: only resources carrying it are touched".into())
    })?;
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok(crate::scenario::OptInTag { key: k.into(), value: v.into() }),
        _ => Err(Error::Usage(format!("--opt-in-tag {text:?}: give it as KEY=VALUE, e.g. firedrill=allowed"))),
    }
}

pub async fn sweep(
    shell: &Console,
    state: &StateDir,
    opts: &AwsOpts,
    run: Option<&str>,
    trust_journal: bool,
    args: SweepArgs,
) -> Result<(), Error> {
    if trust_journal {
        return Err(Error::Usage("--trust-journal is about a journal; --sweep reads no journal".into()));
    }
    let account = match args.account.as_deref() {
        Some(a) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) => a.to_string(),
        Some(a) => return Err(Error::Usage(format!("--account {a:?}: an AWS account id is 12 digits"))),
        None => {
            return Err(Error::Usage(
                "--sweep needs --account ID: the account it may act in, checked against the credentials".into(),
            ));
        }
    };
    let tag = opt_in(args.opt_in_tag.as_deref())?;
    let aws = Aws::connect(opts, None).await.map_err(|e| Error::Failed(format!("cannot set up AWS access: {e}")))?;
    if aws.region().is_empty() {
        return Err(Error::Usage("--sweep acts in one region: give --region (or AWS_REGION)".into()));
    }
    let caller = aws.account().await.map_err(|e| Error::Failed(format!("cannot read the caller's account: {e}")))?;
    if caller != account {
        return Err(Error::Refused(vec![format!(
            "the credentials are for account {caller}, not the declared --account {account}: refusing to act in it"
        )]));
    }
    let at = format!("account {account}, region {}", aws.region());
    let found = crate::sweep::scan(&aws, &account, &tag)
        .await
        .map_err(|e| Error::Failed(format!("cannot read what firedrill changed in {at}: {e}")))?;

    // Runs that may still be going: alive (here, or by their S3 lock on any machine), or
    // too young unless named.
    let alive = alive_runs(shell, state, &found, run, args.ignore_remote_locks)?;
    let min_age = args.min_age.unwrap_or(MIN_AGE);
    let now = SystemTime::now();
    let mut left = 0;
    let mut chosen = Vec::new();
    for (id, items) in &found.runs {
        let why = if let Some(r) = run {
            // The full id: a prefix would let one word bypass the age check for many runs.
            (id != r).then(|| format!("not run {r}"))
        } else if let Some(why) = alive.get(id) {
            Some(why.clone())
        } else {
            match crate::state::run_started(id) {
                Some(t) if now.duration_since(t).unwrap_or_default() >= min_age => None,
                Some(_) => Some(format!(
                    "it started less than {} ago and may still be running; once it is dead, run `firedrill recover --sweep {id}`",
                    humantime::format_duration(min_age)
                )),
                None => Some(format!("its start is unknown; once it is dead, run `firedrill recover --sweep {id}`")),
            }
        };
        match why {
            Some(w) if run.is_some() => tracing::debug!("sweep: skipping {id}: {w}"),
            Some(w) => {
                shell.warn(format!("run {id}: {} change(s) left alone: {w}", items.len()));
                left += items.len();
            }
            None => chosen.push((id.clone(), items.clone())),
        }
    }
    if let Some((id, why)) = alive.iter().find(|(id, _)| run.is_some() && chosen.iter().any(|(c, _)| c == *id)) {
        return Err(Error::Refused(vec![format!(
            "run {id}: {why}: stop it (`firedrill halt`) instead of sweeping it"
        )]));
    }
    for e in &found.malformed {
        shell.error(format!("{e}: left alone; check it by hand"));
        left += 1;
    }
    let elsewhere: Vec<&String> = found.elsewhere.iter().map(|(run, _)| run).collect();
    for (id, what) in found.elsewhere.iter().filter(|(id, _)| run.is_none_or(|r| r == id)) {
        shell.warn(format!("run {id}: {what}: made from another region; sweep that region to undo it"));
        left += 1;
    }

    let of = run.map(|r| format!(" of run {r}")).unwrap_or_default();
    if chosen.is_empty() {
        if left > 0 {
            return Err(Error::LeftInPlace(left));
        }
        shell.status("Swept", format!("{at}: no undo tag or lease{of} found; nothing left injected"));
        return Ok(());
    }
    let mut plan = format!("firedrill changed, in {at}:\n");
    let total: usize = chosen.iter().map(|(_, items)| items.len()).sum();
    for (id, items) in &chosen {
        plan.push_str(&format!("run {id}:\n"));
        for i in items {
            plan.push_str(&format!("  - {}\n", i.record.description));
        }
    }
    super::output(&plan)?;
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::Usage(format!(
                "refusing to undo {total} change(s) without confirmation: stdin is not a terminal; pass --yes"
            )));
        }
        if !ask(&format!("Undo these {total} change(s) of {} run(s)? [y/N] ", chosen.len())) {
            shell.status("Cancelled", "nothing was undone");
            return Err(Error::LeftInPlace(total + left));
        }
    }

    let undo = Undo::guarded(opts.clone()).with_client(&aws).await;
    let policy = RevertPolicy::default();
    let mut reverted = 0;
    for (id, items) in &chosen {
        let keep = elsewhere.contains(&id);
        let r = crate::sweep::undo_run(&undo, items, &policy, keep).await;
        for what in &r.reverted {
            shell.status("Reverted", format!("{id}: {what}"));
        }
        reverted += r.reverted.len();
        for (what, error) in &r.failed {
            shell.error(format!("{id}: could not {what}: {error}"));
        }
        left += r.failed.len();
        if let Some(lease) = r.lease_kept {
            shell.warn(format!("{id}: kept: {lease} (part of the run is still in place)"));
            left += 1;
        }
    }
    if left > 0 {
        return Err(Error::Unreverted(left));
    }
    // "Nothing left" is what AWS says now, not what was attempted.
    let again = crate::sweep::scan(&aws, &account, &tag)
        .await
        .map_err(|e| Error::Failed(format!("cannot read {at} again after the sweep: {e}")))?;
    let mine = |id: &String| chosen.iter().any(|(c, _)| c == id);
    let still: usize = again.runs.iter().filter(|(id, _)| mine(id)).map(|(_, i)| i.len()).sum::<usize>()
        + again.elsewhere.iter().filter(|(id, _)| mine(id)).count();
    if still > 0 {
        shell.error(format!(
            "{still} change(s) of firedrill are still on AWS after the sweep: run it again, or check by hand"
        ));
        return Err(Error::Unreverted(still));
    }
    shell.status(
        "Swept",
        format!("{reverted} change(s) undone in {at}; nothing left injected{}", of.replace(" of ", " by ")),
    );
    Ok(())
}
