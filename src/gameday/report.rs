//! The report stage: the report goes to disk as soon as every fault is reverted or
//! listed, and the outcome is told ([`super::Options::on_end`]); then the `end` event
//! (its webhooks name the report) goes to the notifications, and the report is written
//! again with the playbook's steps and the notifications' deliveries once they are done,
//! or cut off (a prompt nobody answers included: its step is `unanswered`).

use super::{Cleared, Executed, Session};
use crate::engine::RunRecord;
use crate::report::{self, Report, RunMeta};
use crate::util::console::Console;

/// Writes the report, sends `end`, writes the report again with the playbook's steps and
/// the deliveries, and returns the run's record.
pub async fn finish(shell: &Console, cleared: &Cleared, session: &Session, executed: Executed) -> RunRecord {
    let Executed { record, mut side, cutoff, signals, revert, events, end, mut on_end } = executed;
    let (s, run) = (&cleared.drill.loaded.scenario, &session.run);
    let meta = RunMeta {
        run_id: run.id.clone(),
        scenario_file: session.scenario_file.clone(),
        started_at: session.started_at,
        run_dir: run.path.display().to_string(),
    };
    let write_report = |steps, deliveries, warn: bool| {
        let mut report = Report::new(meta.clone(), s, &record)
            .with_playbook(steps, deliveries)
            .with_fault_plans(s, cleared.resolution());
        if let Some((aws, res)) = &cleared.aws {
            report = report.with_aws(res, aws.calls(), aws.retries());
        }
        // Notes written from other machines (S3 state) are fetched first.
        if let Err(e) = run.refresh_notes() {
            shell.warn(format!("cannot fetch the notes: {e}"));
        }
        let (report, warning) = report::attach_notes(report, &run.path);
        if let Some(w) = warning.filter(|_| warn) {
            shell.warn(w);
        }
        if let Err(e) = report::write_all(&run.path, &report) {
            shell.error(format!("cannot write the report in {}: {e}", run.path.display()));
        } else if let Err(e) = run.push() {
            shell.error(format!("cannot copy the report to {}: {e}", run.location()));
        }
    };
    // Every fault is reverted or listed as still broken: the report goes to disk (and to
    // S3) before waiting on any notification, so nothing a webhook does (or a kill
    // meanwhile) can lose it, and before `end` is sent, so the report its webhooks name is
    // there when they arrive. It is written again below with the deliveries and playbook
    // steps.
    write_report(Vec::new(), Vec::new(), false);
    // The outcome is told now: what is still under way cannot change it.
    if let Some(tell) = on_end.take() {
        tell(&record, run);
    }
    let _ = events.send(end);
    drop(events);
    let waited = tokio::select! {
        r = &mut side => Some(r.unwrap_or_default()),
        _ = tokio::time::sleep(crate::notify::FINISH_DEADLINE) => {
            shell.warn(format!(
                "notifications or prompts still under way {} after the run ended: cut off",
                humantime::format_duration(crate::notify::FINISH_DEADLINE)
            ));
            None
        }
        _ = revert.hurry.cancelled() => None,
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
    if let Some(tell) = on_end {
        tell(&record, run);
    }
    record
}
