//! `firedrill recover [RUN] [--trust-journal]`: revert what crashed runs left injected.
//! Steps this installation did not journal (see [`crate::state::trust`]) are shown exactly and
//! run only with the operator's consent for that run: `--trust-journal` with the RUN, or
//! `y` at the prompt on a terminal; never by default.

use std::io::{BufRead, IsTerminal, Write};

use super::Error;
use crate::aws::AwsOpts;
use crate::engine::RevertPolicy;
use crate::faults::command::{self, Revert};
use crate::faults::{NOTHING, Undo, manual_fix};
use crate::state::StateDir;
use crate::state::journal::{Pending, UndoRecord};
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
    let (mut reverted, mut failed) = (0, 0);
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
            Ok(r) if r.live => shell.warn(format!("{} is still running (it holds its lock); left alone", r.run)),
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
    shell.status("Recovered", format!("{reverted} step(s) reverted; nothing left injected"));
    Ok(())
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
