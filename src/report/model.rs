//! The `report.json` model: [`Report`], the versioned source of truth of one run, built
//! from the executor's [`RunRecord`] and re-read by `firedrill report` and `firedrill runs`.
//! Every field is documented in `docs/report.md`; keep names stable and bump
//! [`REPORT_VERSION`] on any incompatible change.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::record::StillBroken;
use crate::engine::{FaultRecord, ObjectiveKind, Outcome, RunRecord, Sample};
use crate::scenario::{ProbeConfig, Scenario};

/// The `report_version` this firedrill writes and reads.
pub const REPORT_VERSION: u32 = 1;

/// Facts about a run that the executor does not know.
#[derive(Clone, Debug)]
pub struct RunMeta {
    pub run_id: String,
    pub scenario_file: String,
    pub started_at: SystemTime,
    pub run_dir: String,
}

/// One run, as written to `report.json`. Times named `*_ms`/`t_ms` are milliseconds from
/// the start of the run unless documented as a span; wall-clock times are RFC 3339.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub report_version: u32,
    pub firedrill_version: String,
    pub run_id: String,
    pub run_dir: String,
    pub scenario: ScenarioInfo,
    pub started_at: String,
    pub ended_at: String,
    pub duration_ms: u64,
    pub outcome: Outcome,
    pub abort_reason: Option<String>,
    /// `recover` or `sustain`; reports from before `sustain` existed read as `recover`.
    #[serde(default)]
    pub objective: ObjectiveKind,
    pub objective_ms: u64,
    pub stable_for_ms: u64,
    pub precision_ms: u64,
    pub t_inject_ms: Option<u64>,
    pub time_to_detect_ms: Option<u64>,
    pub time_to_recover_ms: Option<u64>,
    pub recovered_during_fault: Option<bool>,
    pub objective_met: bool,
    pub settled: bool,
    pub faults: Vec<FaultReport>,
    pub probes: Vec<ProbeReport>,
    pub still_broken: Vec<BrokenReport>,
    /// What observers wrote down (`firedrill note`), from the run's `notes.jsonl`, by time.
    /// Absent from reports written before notes existed, hence the default.
    #[serde(default)]
    pub notes: Vec<NoteReport>,
    pub baseline: Vec<SampleReport>,
    pub samples: Vec<SampleReport>,
    /// For a scenario that uses AWS: where it ran, the selection seed, the resources each
    /// target resolved to, and how many AWS API calls (retries included) the run made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsReport>,
    /// The playbook's steps: planned (due) vs actual (done) time and what became of each.
    #[serde(default)]
    pub steps: Vec<crate::playbook::runner::StepRecord>,
    /// How long communication took: over the steps marked `communicate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communication: Option<Communication>,
    /// Every webhook sent (scenario `notify`), with its result. URLs are redacted.
    #[serde(default)]
    pub notifications: Vec<crate::notify::Delivery>,
    /// Pager noise (the scenario's `pages`): the paging alarms that went to ALARM during
    /// the run. Absent when pages were not watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<PagesReport>,
}

/// The paging alarms watched during the run, and the pages they sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PagesReport {
    /// How many pages: transitions of a watched alarm to ALARM during the run.
    pub count: usize,
    /// The scenario's `max_pages`; `null`: pages are reported only.
    pub max_pages: Option<u32>,
    /// More pages than `max_pages`: the objective is missed (`objective_met` is false).
    pub exceeded: bool,
    /// Why, when `exceeded`: the pages, named, with their times.
    pub reason: Option<String>,
    /// The alarms watched (listed in the scenario, or every alarm with actions enabled).
    pub watched: Vec<String>,
    pub every_ms: u64,
    /// In time order.
    pub pages: Vec<PageReport>,
    /// In ALARM before anything was injected: not pages.
    pub already_alarming: Vec<String>,
    /// Reads that failed: for one alarm, or for all (`alarm: null`).
    pub unreadable: Vec<UnreadReport>,
    pub history: HistoryReport,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageReport {
    pub alarm: String,
    /// When a read saw it (at most one interval after the transition), or when the
    /// alarm's history says it happened.
    pub t_ms: u64,
    /// The alarm's state reason (or the history's summary).
    pub reason: String,
    /// `poll` or `history` (a transition between two reads, found in the alarm history).
    pub seen_by: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnreadReport {
    /// `null`: the read of every watched alarm failed.
    pub alarm: Option<String>,
    pub error: String,
    pub first_ms: u64,
    /// How many reads failed this way.
    pub times: u32,
}

/// The post-run check of the alarms' history (DescribeAlarmHistory).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryReport {
    pub available: bool,
    /// Pages the history added (transitions the reads missed).
    pub added: usize,
    /// Why it was not available.
    pub error: Option<String>,
}

fn pages(p: &crate::engine::PagesRecord) -> PagesReport {
    use crate::engine::pager::{HistoryCheck, SeenBy};
    let (available, added, error) = match &p.history {
        HistoryCheck::Checked { added } => (true, *added, None),
        HistoryCheck::NotAvailable(e) => (false, 0, Some(e.clone())),
    };
    PagesReport {
        count: p.pages.len(),
        max_pages: p.max_pages,
        exceeded: p.exceeded(),
        reason: p.reason(),
        watched: p.watched.clone(),
        every_ms: ms(p.every),
        pages: p
            .pages
            .iter()
            .map(|g| PageReport {
                alarm: g.alarm.clone(),
                t_ms: ms(g.at),
                reason: g.reason.clone(),
                seen_by: match g.seen_by {
                    SeenBy::Poll => "poll",
                    SeenBy::History => "history",
                }
                .into(),
            })
            .collect(),
        already_alarming: p.already_alarming.clone(),
        unreadable: p
            .unreadable
            .iter()
            .map(|u| UnreadReport {
                alarm: u.alarm.clone(),
                error: u.error.clone(),
                first_ms: ms(u.first_at),
                times: u.times,
            })
            .collect(),
        history: HistoryReport { available, added, error },
    }
}

/// Communication steps against detection. Offsets in ms from the start of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Communication {
    /// Communication steps in the playbook, and how many were done.
    pub planned: usize,
    pub done: usize,
    pub first_done_ms: Option<u64>,
    pub last_done_ms: Option<u64>,
    /// From detection to the last communication step done; null without either.
    pub detect_to_last_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AwsReport {
    pub account: String,
    pub region: String,
    pub seed: u64,
    pub api_calls: u64,
    /// Of those, retries (after throttling, 5xx, timeouts, dropped connections).
    #[serde(default)]
    pub api_retries: u64,
    pub targets: std::collections::BTreeMap<String, TargetReport>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    #[serde(rename = "type")]
    pub kind: String,
    pub matched: usize,
    pub selected: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    /// The scenario file as given on the command line.
    pub file: String,
    /// As written in the scenario: relative to the scenario file.
    pub playbook: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultReport {
    pub name: String,
    pub kind: String,
    pub inject_started_at_ms: Option<u64>,
    pub injected_at_ms: Option<u64>,
    pub inject_error: Option<String>,
    pub revert_started_at_ms: Option<u64>,
    pub reverted_at_ms: Option<u64>,
    pub steps: u32,
    pub revert_attempts: u32,
    pub revert_error: Option<String>,
    /// This fault's own time to detect: from its `injected_at_ms` to the first failing
    /// sample that belongs to it (docs/report.md, "Per-fault times"). `null` when no
    /// failure belongs to it. Absent in reports written before per-fault times.
    #[serde(default)]
    pub time_to_detect_ms: Option<u64>,
    /// This fault's own time to recover: from its `injected_at_ms` to the start of its
    /// recovery window. `null` when it had no impact of its own or never recovered.
    #[serde(default)]
    pub time_to_recover_ms: Option<u64>,
    /// What the injection changed: `applied` (it journaled side effects), `none` (injected
    /// without error but found nothing to do), `skipped` (the same, for a fault with
    /// `if_no_effect: skip`). Absent for a fault never injected or whose injection failed,
    /// and in reports written before this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    /// What the fault actually changed, resource by resource, with the state before, after
    /// the injection and after the revert. Only resources it hit (not every one its
    /// targets matched). Absent when empty, and in reports written before this field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeReport>,
    /// The fault's plan for the resolved targets, as `firedrill plan` shows it (for
    /// `az_outage`: every part asked for, and what it acts on or why it has nothing to do).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<String>,
}

/// One resource a fault hit, and what became of it (see [`FaultReport::changes`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeReport {
    /// `subnet subnet-1`, `instance i-1`, `Auto Scaling group web`, `RDS cluster shop`.
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// `network ACL`, `state`, `subnets`, `writer`, `primary zone`.
    pub what: String,
    pub before: String,
    /// After the injection.
    pub after: String,
    /// After the revert: `before` again when the fault's revert undid it; `null` when the
    /// revert does not undo it (a failover without failback) or did not complete.
    pub reverted: Option<String>,
    /// The revert was to undo it but did not complete: it may still be `after`.
    #[serde(default)]
    pub not_restored: bool,
}

impl ChangeReport {
    /// `subnet subnet-1 (eu-west-1a): network ACL acl-a → acl-clone → acl-a`.
    pub fn line(&self) -> String {
        let zone = self.zone.as_ref().map(|z| format!(" ({z})")).unwrap_or_default();
        let mut l = format!("{}{zone}: {} {} → {}", self.resource, self.what, self.before, self.after);
        match &self.reverted {
            Some(r) => l.push_str(&format!(" → {r}")),
            None if self.not_restored => l.push_str(" (NOT restored: the revert did not complete)"),
            None => l.push_str(" (not undone by the revert)"),
        }
        l
    }
}

/// What a fault's injection changed (see [`FaultReport::effect`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Applied,
    None,
    Skipped,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Applied => "applied",
            Effect::None => "none",
            Effect::Skipped => "skipped",
        }
    }
}

/// Summary of one steady-state probe over the whole run, baseline included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub name: String,
    pub kind: String,
    /// The URL, `host:port` or command the probe checks.
    pub target: String,
    pub every_ms: u64,
    pub samples: u64,
    pub failures: u64,
    pub first_failure_ms: Option<u64>,
    pub last_failure_ms: Option<u64>,
    /// The last sample's result; `None` when the probe never completed a check.
    pub final_ok: Option<bool>,
}

/// A side effect that could not be undone, with what a human should do about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrokenReport {
    pub fault: String,
    pub step: u64,
    pub kind: String,
    pub description: String,
    pub error: String,
    pub data: Value,
    pub fix: String,
}

/// An observer's note. `t_ms` is from `started_at` on the wall clock (notes are written by
/// another process, which cannot see the run's monotonic clock).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoteReport {
    pub t_ms: u64,
    /// Wall clock, RFC 3339.
    pub at: String,
    pub author: String,
    pub text: String,
    /// Added after the run ended: a post-mortem note.
    pub after_end: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleReport {
    /// The probe's name.
    pub probe: String,
    pub t_ms: u64,
    pub ok: bool,
    pub latency_ms: u64,
    pub detail: String,
    /// For a failing steady-state sample: the fault it belongs to (docs/report.md,
    /// "Per-fault times"). Absent when it belongs to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

impl Report {
    /// Adds each fault's plan for the resolved targets (what `firedrill plan` showed).
    pub fn with_fault_plans(mut self, s: &Scenario, res: Option<&crate::targets::Resolution>) -> Self {
        for f in &mut self.faults {
            if let Some(c) = s.faults.iter().find(|c| c.name == f.name) {
                f.plan = crate::faults::describe(c, res);
            }
        }
        self
    }

    /// Whether no fault changed anything (every injected one had no effect or was skipped).
    pub fn nothing_changed(&self) -> bool {
        !self.faults.is_empty() && self.faults.iter().all(|f| matches!(f.effect, Some(Effect::None | Effect::Skipped)))
    }

    /// Adds the playbook steps and notifications of the run.
    pub fn with_playbook(
        mut self,
        steps: Vec<crate::playbook::runner::StepRecord>,
        notifications: Vec<crate::notify::Delivery>,
    ) -> Self {
        let comm: Vec<_> = steps.iter().filter(|s| s.communicate).collect();
        if !comm.is_empty() {
            let done: Vec<u64> = comm.iter().filter(|s| s.status == "done").filter_map(|s| s.done_ms).collect();
            let detect = self.t_inject_ms.zip(self.time_to_detect_ms).map(|(t, d)| t.saturating_add(d));
            let last = done.iter().max().copied();
            self.communication = Some(Communication {
                planned: comm.len(),
                done: done.len(),
                first_done_ms: done.iter().min().copied(),
                last_done_ms: last,
                detect_to_last_ms: detect.zip(last).map(|(d, l)| l.saturating_sub(d)),
            });
        }
        self.steps = steps;
        self.notifications = notifications;
        self
    }

    pub fn new(meta: RunMeta, scenario: &Scenario, record: &RunRecord) -> Report {
        let probes = &scenario.steady_state;
        // The watchers (alarm stop conditions, the emergency halt) come after the probes.
        let names = probe_names(scenario);
        let faults: Vec<&str> = record.faults.iter().map(|f| f.name.as_str()).collect();
        let samples = |list: &[Sample]| list.iter().map(|s| sample(s, &names, &faults)).collect();
        Report {
            report_version: REPORT_VERSION,
            firedrill_version: env!("CARGO_PKG_VERSION").to_string(),
            run_id: meta.run_id,
            run_dir: meta.run_dir,
            scenario: ScenarioInfo {
                name: scenario.name.clone(),
                description: scenario.description.clone(),
                owner: scenario.owner.clone(),
                file: meta.scenario_file,
                playbook: scenario.playbook.clone(),
            },
            started_at: rfc3339(meta.started_at),
            ended_at: rfc3339(meta.started_at.checked_add(record.ended_at).unwrap_or(meta.started_at)),
            duration_ms: ms(record.ended_at),
            outcome: record.outcome,
            abort_reason: record.abort_reason.clone(),
            objective: record.objective_kind,
            objective_ms: ms(record.objective),
            stable_for_ms: ms(record.stable_for),
            precision_ms: ms(record.precision),
            t_inject_ms: record.t_inject.map(ms),
            time_to_detect_ms: record.time_to_detect().map(ms),
            time_to_recover_ms: record.time_to_recover().map(ms),
            recovered_during_fault: record.recovered_during_fault(),
            objective_met: record.objective_met(),
            settled: record.settled,
            faults: record.faults.iter().map(|f| fault(f, scenario)).collect(),
            probes: probes.iter().enumerate().map(|(i, p)| probe(i, p, record)).collect(),
            still_broken: record.still_broken.iter().map(broken).collect(),
            notes: Vec::new(),
            aws: None,
            steps: Vec::new(),
            communication: None,
            notifications: Vec::new(),
            pages: record.pages.as_ref().map(pages),
            baseline: samples(&record.baseline),
            samples: samples(&record.samples),
        }
    }
}

/// Whole milliseconds.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn fault(f: &FaultRecord, s: &Scenario) -> FaultReport {
    let skip = s.faults.iter().any(|c| c.name == f.name && c.if_no_effect == crate::faults::IfNoEffect::Skip);
    let effect = match (f.injected_at, &f.inject_error, f.steps) {
        (Some(_), None, 0) if skip => Some(Effect::Skipped),
        (Some(_), None, 0) => Some(Effect::None),
        (Some(_), None, _) => Some(Effect::Applied),
        _ => None,
    };
    let reverted = f.reverted_at.is_some() && f.revert_error.is_none();
    let changes = f
        .changes
        .iter()
        .map(|c| ChangeReport {
            resource: c.resource.clone(),
            zone: c.zone.clone(),
            what: c.what.clone(),
            before: c.before.clone(),
            after: c.after.clone(),
            reverted: (c.undone_by_revert && reverted).then(|| c.before.clone()),
            not_restored: c.undone_by_revert && !reverted,
        })
        .collect();
    FaultReport {
        effect,
        changes,
        plan: Vec::new(),
        name: f.name.clone(),
        kind: f.kind.clone(),
        inject_started_at_ms: f.inject_started_at.map(ms),
        injected_at_ms: f.injected_at.map(ms),
        inject_error: f.inject_error.clone(),
        revert_started_at_ms: f.revert_started_at.map(ms),
        reverted_at_ms: f.reverted_at.map(ms),
        steps: f.steps,
        revert_attempts: f.revert_attempts,
        revert_error: f.revert_error.clone(),
        time_to_detect_ms: f.time_to_detect().map(ms),
        time_to_recover_ms: f.time_to_recover().map(ms),
    }
}

fn probe(i: usize, p: &ProbeConfig, record: &RunRecord) -> ProbeReport {
    let checks: Vec<&Sample> = record.baseline.iter().chain(&record.samples).filter(|s| s.probe == i).collect();
    let failures: Vec<u64> = checks.iter().filter(|s| !s.ok).map(|s| ms(s.at)).collect();
    ProbeReport {
        name: p.name.clone(),
        kind: p.kind.key().to_string(),
        target: p.kind.target(),
        every_ms: p.every.as_millis(),
        samples: checks.len() as u64,
        failures: failures.len() as u64,
        first_failure_ms: failures.first().copied(),
        last_failure_ms: failures.last().copied(),
        final_ok: checks.last().map(|s| s.ok),
    }
}

/// The name of each probe of a run, in the order `plan::spec` makes them (and so by the
/// index its samples carry): the scenario's probes, then `alarm:NAME` per `alarm` abort
/// rule, then, for a scenario with AWS, the emergency halt's watcher `halt`.
pub(crate) fn probe_names(s: &Scenario) -> Vec<String> {
    let alarms = s.abort.iter().filter_map(|r| r.alarm.as_ref()).map(|a| format!("alarm:{a}"));
    let halt = s.environment.as_ref().map(|_| "halt".to_string());
    s.steady_state.iter().map(|p| p.name.clone()).chain(alarms).chain(halt).collect()
}

fn sample(s: &Sample, names: &[String], faults: &[&str]) -> SampleReport {
    SampleReport {
        fault: s.fault.and_then(|i| faults.get(i)).map(|f| f.to_string()),
        probe: names.get(s.probe).cloned().unwrap_or_else(|| format!("#{}", s.probe)),
        t_ms: ms(s.at),
        ok: s.ok,
        latency_ms: ms(s.latency),
        detail: s.detail.clone(),
    }
}

fn broken(b: &StillBroken) -> BrokenReport {
    BrokenReport {
        fault: b.fault.clone(),
        step: b.step,
        kind: b.kind.clone(),
        description: b.description.clone(),
        error: b.error.clone(),
        data: b.data.clone(),
        fix: fix(b),
    }
}

impl Report {
    /// Adds what the AWS side of the run resolved and how many calls it made.
    pub fn with_aws(mut self, res: &crate::targets::Resolution, api_calls: u64, api_retries: u64) -> Self {
        self.aws = Some(AwsReport {
            account: res.account.clone(),
            region: res.region.clone(),
            seed: res.seed,
            api_calls,
            api_retries,
            targets: res
                .targets
                .iter()
                .map(|(name, t)| {
                    let selected = t.resources.iter().map(|r| r.id.clone()).collect();
                    (name.clone(), TargetReport { kind: t.kind.to_string(), matched: t.matched, selected })
                })
                .collect(),
        });
        self
    }
}

impl Report {
    /// Replaces the report's notes with `notes` (the lines of `notes.jsonl`), sorted by
    /// time. A note counts as after the end when it was added once `report.json` existed,
    /// or when its time is past `ended_at` (added while the report was being written).
    pub fn with_notes(mut self, notes: Vec<crate::notes::Note>) -> Self {
        let mut notes: Vec<NoteReport> = notes
            .into_iter()
            .map(|n| {
                let t_ms = crate::notes::offset_ms(&self.started_at, &n.at).unwrap_or(0);
                NoteReport {
                    t_ms,
                    after_end: n.after_end || t_ms > self.duration_ms,
                    at: n.at,
                    author: n.author,
                    text: n.text,
                }
            })
            .collect();
        notes.sort_by_key(|n| n.t_ms);
        self.notes = notes;
        self
    }
}

/// What a human should do to undo `b` by hand.
fn fix(b: &StillBroken) -> String {
    crate::faults::manual_fix(&crate::state::journal::UndoRecord {
        kind: b.kind.clone(),
        description: b.description.clone(),
        data: b.data.clone(),
    })
}
