//! `firedrill recover [RUN]`: revert what crashed runs left injected.

use super::Exit;
use crate::aws::AwsOpts;
use crate::engine::RevertPolicy;
use crate::faults::Undo;
use crate::shell::Shell;
use crate::state::StateDir;

pub async fn recover(shell: &Shell, state: &StateDir, aws: &AwsOpts, run: Option<&str>) -> Exit {
    let undo = Undo::new(aws.clone());
    let runs = match run {
        Some(r) => state.find(r).map(|r| vec![r]),
        None => state.list(),
    };
    let runs = match runs {
        Ok(r) => r,
        Err(e) => {
            shell.error(e);
            return Exit::Invalid;
        }
    };
    let policy = RevertPolicy::default();
    let (mut reverted, mut failed) = (0, 0);
    for run in runs {
        match crate::recover::pending(&run) {
            Ok(p) if p.is_empty() => continue,
            Ok(_) => {}
            Err(e) => {
                shell.error(format!("{}: {e}", run.id));
                failed += 1;
                continue;
            }
        }
        let result = crate::recover::recover(&run, &undo, &policy, |step| {
            shell.status("Reverting", format!("{} {}: {}", run.id, step.fault, step.undo.description));
        })
        .await;
        match result {
            Ok(r) if r.live => shell.warn(format!("{} is still running (it holds its lock); left alone", r.run)),
            Ok(r) => {
                reverted += r.reverted.len();
                for (what, error) in &r.failed {
                    shell.error(format!("{}: could not revert {what}: {error}", r.run));
                }
                failed += r.failed.len();
            }
            Err(e) => {
                shell.error(format!("{}: {e}", run.id));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        shell.error(format!("{failed} step(s) could not be reverted: a human must act"));
        Exit::RevertFailed
    } else {
        shell.status("Recovered", format!("{reverted} step(s) reverted; nothing left injected"));
        Exit::Ok
    }
}
