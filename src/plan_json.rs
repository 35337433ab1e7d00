//! `firedrill plan --format json`: the plan as a document for scripts and CI. The same
//! facts as the text plan ([`crate::plan::render`]; each fault's `steps` are its lines
//! there), plus the IAM actions the run needs (from [`crate::iam_policy`]) and
//! `longest_run_secs`, an upper bound on a run's length to set a CI job's timeout by.
//! Its JSON Schema, generated from these types, is `schema/plan.schema.json`
//! (`firedrill schema plan`).

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use crate::scenario::{Loaded, Objective, Scenario};
use crate::targets::Resolution;

/// The `plan_version` this firedrill writes; bumped on an incompatible change.
pub const PLAN_VERSION: u32 = 1;

/// What `longest_run_secs` adds for what is not a fault, a revert or settling: starting
/// up, connecting to AWS and resolving the targets, the injection calls themselves, and
/// writing the reports.
pub const MARGIN: Duration = Duration::from_secs(60);

/// What a run of the scenario would do. Nothing was touched to make it.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(title = "firedrill plan")]
pub struct PlanDoc {
    /// Format version of this document: 1.
    pub plan_version: u32,
    /// The scenario's `name`.
    pub scenario: String,
    /// The scenario file as given on the command line.
    pub file: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    /// The playbook's path, when the scenario has one.
    pub playbook: Option<String>,
    /// Where the run would act (a scenario that uses AWS); null otherwise.
    pub environment: Option<PlanEnvironment>,
    /// Each target and the resources it resolved to (read-only calls); empty without AWS.
    pub targets: BTreeMap<String, PlanTarget>,
    /// The probes that must all pass before anything is injected.
    pub steady_state: Vec<PlanProbe>,
    /// The faults, in scenario order.
    pub faults: Vec<PlanFault>,
    /// When the run aborts and reverts everything, one line each (as in the text plan).
    pub abort: Vec<String>,
    pub objective: PlanObjective,
    /// Every IAM action the run needs, sorted (the actions of `firedrill iam-policy`).
    pub iam_actions: Vec<String>,
    /// `passed` or `refused` (exit 7); null for a scenario without AWS (no guards run).
    pub guards: Option<String>,
    /// Why the guards refuse the run; empty when they do not.
    pub refusals: Vec<String>,
    /// What is not a refusal but matters before a run: a stop-condition alarm already in
    /// ALARM, or one that could not be read (the run would be blocked, exit 4); a target
    /// without `max` (nothing caps how many it hits).
    pub warnings: Vec<String>,
    /// An upper bound on how long a run can take, in whole seconds, to set a CI job's
    /// timeout by: the longest chain of faults (`after`), one revert deadline per revert
    /// step (a `command` fault has one; an AWS fault at most two per resource it acts on,
    /// plus one) and one for the lease (AWS), the cut-off of a hung injection, the
    /// baseline's longest check, `settle_timeout`, the 30 s given to notifications (and a
    /// waiting prompt) after the run, and a margin of 60 s.
    pub longest_run_secs: u64,
    /// The paging alarms a run would watch (the scenario's `pages`); absent without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<PlanPages>,
    /// The playbook's steps in the order a run makes them due (empty without a playbook).
    #[serde(default)]
    pub playbook_steps: Vec<PlanStep>,
    /// The schedules the dead man's switch arms (`safety.dead_mans_switch`); absent
    /// without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_mans_switch: Option<PlanSwitch>,
}

/// One playbook step: when it is due, who does it, what, and how.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanStep {
    pub name: String,
    pub who: String,
    pub what: String,
    /// The run event it is timed from (`start`, `inject`, `detect`, …).
    pub on: String,
    /// How long after that event it is due.
    pub after_ms: u64,
    /// `manual` (prompted with `run --interactive`), `command` or `webhook`.
    pub kind: String,
    /// A communication step (staff, status page, customers).
    pub communicate: bool,
    /// A manual step on `start` that holds the injection until the facilitator answers it
    /// (with `run --interactive`).
    pub hold: bool,
}

impl PlanStep {
    /// The steps in the order a run makes them due (as the text plan lists them).
    pub fn all(steps: &[crate::playbook::Step]) -> Vec<PlanStep> {
        crate::playbook::in_order(steps)
            .into_iter()
            .map(|s| PlanStep {
                name: s.name.clone(),
                who: s.who.clone(),
                what: s.what.clone(),
                on: s.on.clone(),
                after_ms: u64::try_from(s.after().as_millis()).unwrap_or(u64::MAX),
                kind: s.kind().to_string(),
                communicate: s.communicate,
                hold: s.hold,
            })
            .collect()
    }
}

/// The dead man's switch: per AWS fault, the undo calls EventBridge Scheduler makes if
/// firedrill dies mid-fault.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanSwitch {
    /// The role the schedules run as.
    pub role_arn: String,
    /// The schedule group.
    pub group: String,
    /// From a fault's planned end to its first call.
    pub grace_ms: u64,
    /// Between two calls of one fault.
    pub stagger_ms: u64,
    /// The AWS faults, in scenario order.
    pub faults: Vec<PlanSwitchFault>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanSwitchFault {
    pub fault: String,
    /// One per undo call, in the order they fire (last injected step first).
    pub schedules: Vec<PlanSchedule>,
    /// The undo steps it does not cover, in words.
    pub not_covered: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanSchedule {
    /// When it fires, after the fault's planned end.
    pub after_end_ms: u64,
    /// `service:apiAction`, e.g. `ec2:startInstances`.
    pub call: String,
    /// The universal target, e.g. `arn:aws:scheduler:::aws-sdk:ec2:startInstances`.
    pub target_arn: String,
    /// The call's parameters; `<...>` marks a value only known at injection.
    pub input: serde_json::Value,
}

fn switch_doc(s: &Scenario, res: Option<&Resolution>) -> Option<PlanSwitch> {
    use crate::faults::switch;
    let d = s.safety.as_ref()?.dead_mans_switch.as_ref()?;
    let partition = crate::aws::partition(s.environment.as_ref().map_or("", |e| e.region.as_str()));
    let faults = s
        .faults
        .iter()
        .filter(|f| f.kind.needs_aws())
        .map(|f| {
            let p = switch::planned(f, res);
            let schedules = p
                .calls
                .iter()
                .enumerate()
                .map(|(i, c)| PlanSchedule {
                    after_end_ms: ms(switch::due_after_end(d, i)),
                    call: c.api(),
                    target_arn: c.target_arn(partition),
                    input: c.input.clone(),
                })
                .collect();
            PlanSwitchFault { fault: f.name.clone(), schedules, not_covered: p.not_covered }
        })
        .collect();
    Some(PlanSwitch {
        role_arn: d.role_arn.clone(),
        group: d.group().to_string(),
        grace_ms: ms(d.grace.0),
        stagger_ms: ms(switch::STAGGER),
        faults,
    })
}

/// The paging alarms a run would watch, found by the plan's read-only calls.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanPages {
    /// The alarm names, as listed in `pages.alarms` or (`all`) every alarm with alarm
    /// actions enabled in the account and region.
    pub alarms: Vec<String>,
    pub all: bool,
    /// Of those, in ALARM now: a run reports them as already alarming, not as pages.
    pub already_alarming: Vec<String>,
    /// More pages than this miss the objective; null: pages are reported only.
    pub max_pages: Option<u32>,
    /// Time between two reads during the run.
    pub every_ms: u64,
}

impl PlanPages {
    pub fn new(s: &Scenario, w: &crate::pages::Watched) -> Self {
        PlanPages {
            alarms: w.alarms.clone(),
            all: w.all,
            already_alarming: w.alarming.clone(),
            max_pages: s.pages.as_ref().and_then(|p| p.max_pages),
            every_ms: ms(crate::pages::interval(s.steady_state.iter().map(|p| p.every.0))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanEnvironment {
    /// The caller's account (STS).
    pub account: String,
    pub region: String,
    /// The accounts the scenario allows.
    pub allowed_accounts: Vec<String>,
    pub opt_in_tag: PlanTag,
    /// Seed of the random `count`/`percent` selection (`--seed` repeats it).
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanTag {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanTarget {
    /// The target's type, e.g. `ec2:instance`.
    #[serde(rename = "type")]
    pub kind: String,
    /// How many resources matched its tags, ids and filters.
    pub matched: usize,
    /// Its blast-radius cap, if any.
    pub max: Option<u32>,
    /// What matched but the target's `exclude` left out (never touched).
    pub excluded: Vec<String>,
    /// The resources selected, by id.
    pub selected: Vec<PlanResource>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanResource {
    /// The resource id (instance, volume or subnet id; group, cluster, role or user name).
    pub id: String,
    pub zones: Vec<String>,
    pub state: Option<String>,
    /// What else the plan shows of it (e.g. an instance's subnet, a cluster's writer).
    pub attrs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanProbe {
    pub name: String,
    /// The probe's kind key, e.g. `http`.
    pub kind: String,
    pub every_ms: u64,
    /// The check in words (as in the text plan).
    pub check: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanFault {
    pub name: String,
    /// Its kind key, e.g. `az_outage`.
    pub kind: String,
    /// The faults it starts after (reverted first).
    pub after: Vec<String>,
    /// `at start` or `after X reverted`.
    pub starts: String,
    pub duration_ms: u64,
    /// What it does and how it is reverted: the lines under it in the text plan.
    pub steps: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PlanObjective {
    /// `recover` or `sustain`.
    pub kind: String,
    /// `recover`: time to recover must not exceed this; null for `sustain`.
    pub within_ms: Option<u64>,
    pub stable_for_ms: u64,
    pub settle_timeout_ms: u64,
}

/// The plan of `l`, with its resolution (targets, refusals) and warnings when it uses
/// AWS; `revert_deadline` is the one a run would have (`run --revert-deadline`).
pub fn build(l: &Loaded, res: Option<&Resolution>, warnings: &[String], revert_deadline: Duration) -> PlanDoc {
    let s = &l.scenario;
    let environment = match (&s.environment, res) {
        (Some(env), Some(r)) => Some(PlanEnvironment {
            account: r.account.clone(),
            region: r.region.clone(),
            allowed_accounts: env.accounts.clone(),
            opt_in_tag: PlanTag { key: env.opt_in_tag.key.clone(), value: env.opt_in_tag.value.clone() },
            seed: r.seed,
        }),
        _ => None,
    };
    let targets = res
        .map(|r| {
            r.targets
                .iter()
                .map(|(name, t)| {
                    let selected = t
                        .resources
                        .iter()
                        .map(|x| PlanResource {
                            id: x.id.clone(),
                            zones: x.zones.clone(),
                            state: x.state.clone(),
                            attrs: x.attrs.clone(),
                        })
                        .collect();
                    let max = s.targets.get(name).and_then(|t| t.max);
                    (
                        name.clone(),
                        PlanTarget {
                            kind: t.kind.to_string(),
                            matched: t.matched,
                            max,
                            excluded: t.excluded.clone(),
                            selected,
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let iam_actions = {
        let policy = crate::iam_policy::policy(s);
        let mut actions: Vec<String> = policy["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|st| match &st["Action"] {
                serde_json::Value::String(a) => vec![a.clone()],
                serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
                _ => vec![],
            })
            .collect();
        actions.sort();
        actions.dedup();
        actions
    };
    PlanDoc {
        plan_version: PLAN_VERSION,
        scenario: s.name.clone(),
        file: l.file.display().to_string(),
        description: s.description.clone(),
        owner: s.owner.clone(),
        playbook: l.playbook.as_ref().map(|p| p.display().to_string()),
        environment,
        targets,
        steady_state: s
            .steady_state
            .iter()
            .map(|p| PlanProbe {
                name: p.name.clone(),
                kind: p.kind.key().to_string(),
                every_ms: ms(p.every.0),
                check: crate::probes::describe(p),
            })
            .collect(),
        faults: s
            .faults
            .iter()
            .map(|f| PlanFault {
                name: f.name.clone(),
                kind: f.kind.key().to_string(),
                after: f.after.clone(),
                starts: crate::plan::starts(f),
                duration_ms: ms(f.duration.0),
                steps: crate::faults::describe(f, res),
            })
            .collect(),
        abort: crate::plan::abort_lines(s),
        objective: PlanObjective {
            kind: s.recovery.objective.as_str().to_string(),
            within_ms: match s.recovery.objective {
                Objective::Recover => s.recovery.within.map(|d| ms(d.0)),
                Objective::Sustain => None,
            },
            stable_for_ms: ms(s.recovery.stable_for.0),
            settle_timeout_ms: ms(s.recovery.settle_timeout.0),
        },
        iam_actions,
        guards: res.map(|r| if r.refusals.is_empty() { "passed".to_string() } else { "refused".to_string() }),
        refusals: res.map(|r| r.refusals.clone()).unwrap_or_default(),
        warnings: warnings.iter().cloned().chain(uncapped(s)).collect(),
        longest_run_secs: longest_run_bound(s, res, revert_deadline).as_secs_f64().ceil() as u64,
        // Set by the caller from the prepared run (`PlanPages::new`).
        pages: None,
        playbook_steps: Vec::new(),
        dead_mans_switch: switch_doc(s, res),
    }
}

/// The text plan's word on each target without `max` ([`crate::plan::NO_MAX`]), as a
/// warning: nothing caps how many resources it hits.
fn uncapped(s: &Scenario) -> impl Iterator<Item = String> + '_ {
    s.targets
        .iter()
        .filter(|(_, t)| t.max.is_none())
        .map(|(name, _)| format!("target `{name}`: {}", crate::plan::NO_MAX))
}

/// An upper bound on a run of `s` (see [`PlanDoc::longest_run_secs`]). Each fault is
/// reverted once, at the end of its duration or, on abort, one after another, and each
/// of its revert steps may run until the revert deadline (every step of every fault
/// does when the endpoint stops answering); a step still failing then is listed as still
/// broken, and the run goes on to the next one.
pub fn longest_run_bound(s: &Scenario, res: Option<&Resolution>, revert_deadline: Duration) -> Duration {
    let steps: usize = s.faults.iter().map(|f| revert_steps(f, res)).sum::<usize>() + switch_steps(s);
    let steps = u32::try_from(steps).unwrap_or(u32::MAX);
    let lease = u32::from(s.environment.is_some());
    let baseline = s
        .steady_state
        .iter()
        .map(|p| crate::probes::build(p, None).timeout)
        .chain(
            s.abort
                .iter()
                .filter_map(|r| r.alarm.as_deref())
                .map(|a| crate::probes::alarm_watch(a, crate::plan::ALARM_EVERY, None).timeout),
        )
        .max()
        .unwrap_or_default();
    [
        baseline,
        crate::plan::longest_chain(s),
        revert_deadline.saturating_mul(steps.saturating_add(lease)),
        crate::engine::executor::INJECT_GRACE,
        s.recovery.settle_timeout.0,
        crate::notify::FINISH_DEADLINE,
        MARGIN,
    ]
    .into_iter()
    .fold(Duration::ZERO, Duration::saturating_add)
}

/// At most how many revert steps fault `f` journals: one for a `command` fault; for an
/// AWS fault, at most two per resource it acts on (a zone's ACL clone and each subnet's
/// association, say), plus one. Without resolved targets (no AWS) that is one.
fn revert_steps(f: &crate::scenario::FaultConfig, res: Option<&Resolution>) -> usize {
    let resources = res.map_or(0, |r| f.kind.resources(r).len());
    2 * resources + 1
}

/// One more revert step per AWS fault with the dead man's switch: deleting its schedules.
fn switch_steps(s: &Scenario) -> usize {
    match s.safety.as_ref().and_then(|x| x.dead_mans_switch.as_ref()) {
        Some(_) => s.faults.iter().filter(|f| f.kind.needs_aws()).count(),
        None => 0,
    }
}

/// The JSON Schema of [`PlanDoc`], generated from the types.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(PlanDoc)).unwrap_or_default()
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn shipped(name: &str) -> Loaded {
        crate::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)).unwrap()
    }

    #[test]
    fn committed_plan_schema_is_current() {
        let committed: serde_json::Value = serde_json::from_str(include_str!("../schema/plan.schema.json")).unwrap();
        assert_eq!(
            committed,
            json_schema(),
            "schema/plan.schema.json is stale: run `cargo run -- schema plan > schema/plan.schema.json`"
        );
    }

    /// The document says what the text plan says: each fault's `steps` are the lines under
    /// it there, in order, and the abort lines are the text's.
    #[test]
    fn the_json_plan_has_the_text_plans_lines() {
        for name in ["local-web-outage.yaml", "az-failure.yaml", "ebs-detach.yaml"] {
            let l = shipped(name);
            let text = crate::plan::render(&l, &[], None, None, &[]);
            let doc = build(&l, None, &[], Duration::from_secs(300));
            assert!(!doc.faults.is_empty());
            for (i, f) in doc.faults.iter().enumerate() {
                let head = format!("  {}. {} ({}), {}, for ", i + 1, f.name, f.kind, f.starts);
                let under: Vec<&str> = text
                    .lines()
                    .skip_while(|line| !line.starts_with(&head))
                    .skip(1)
                    .take_while(|line| line.starts_with("       "))
                    .map(str::trim_start)
                    .collect();
                assert_eq!(under, f.steps, "{name}: fault {}", f.name);
            }
            for line in &doc.abort {
                assert!(text.contains(&format!("\n  - {line}\n")), "{name}: {line}");
            }
            assert_eq!(doc.scenario, l.scenario.name);
        }
        let doc = build(&shipped("ebs-detach.yaml"), None, &[], Duration::from_secs(300));
        assert_eq!(
            (doc.objective.kind.as_str(), doc.objective.within_ms),
            ("sustain", None),
            "a sustain objective has no time"
        );
        assert!(doc.iam_actions.contains(&"ec2:DetachVolume".to_string()), "{:?}", doc.iam_actions);
        assert!(doc.iam_actions.windows(2).all(|w| w[0] < w[1]), "sorted, each once");
        let local = build(&shipped("local-web-outage.yaml"), None, &[], Duration::from_secs(300));
        assert!(local.iam_actions.is_empty() && local.guards.is_none() && local.environment.is_none());
    }

    /// A target without `max` is a warning in JSON as in the text plan, after the
    /// warnings given; a capped one is not.
    #[test]
    fn a_target_without_max_is_a_json_warning() {
        let mut l = shipped("az-failure.yaml");
        let capped = build(&l, None, &[], Duration::from_secs(300));
        assert!(capped.warnings.is_empty(), "{:?}", capped.warnings);
        let name = l.scenario.targets.keys().next().unwrap().clone();
        l.scenario.targets.get_mut(&name).unwrap().max = None;
        let doc = build(&l, None, &["alarm in ALARM".to_string()], Duration::from_secs(300));
        assert_eq!(doc.warnings, ["alarm in ALARM".to_string(), format!("target `{name}`: {}", crate::plan::NO_MAX)]);
    }

    /// `longest_run_secs` is a bound that holds whatever happens: the longest `after`
    /// chain, one revert deadline per fault (and one for the lease of an AWS scenario),
    /// the cut-off of a hung injection, the baseline's longest check, settle, the
    /// notifications' 30 s and the margin. A longer revert deadline raises it.
    #[test]
    fn longest_run_bound_adds_every_wait_a_run_can_have() {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/local-web-outage.yaml"))
                .unwrap()
                .replace("playbook: ../playbooks/local-web-outage.md\n", "");
        // Three faults: b after a (10s + 20s), c alone (25s): the chain is 30s.
        let faults = "faults:\n  - name: a\n    command: { inject: \"true\", revert: \"true\" }\n    duration: 10s\n  - name: b\n    after: a\n    command: { inject: \"true\", revert: \"true\" }\n    duration: 20s\n  - name: c\n    command: { inject: \"true\", revert: \"true\" }\n    duration: 25s\n";
        let start = text.find("faults:").unwrap();
        let end = text.find("abort:").unwrap();
        let text = format!("{}{faults}{}", &text[..start], &text[end..]);
        let (s, _) = crate::scenario::load_str(&text, Path::new(".")).unwrap();
        assert_eq!(crate::plan::longest_chain(&s), Duration::from_secs(30));
        // The http probe's check: its 1s timeout and the 1s backstop.
        let baseline = 2;
        let expected = baseline + 30 + 3 * 300 + 10 + 30 + 30 + 60;
        assert_eq!(longest_run_bound(&s, None, Duration::from_secs(300)), Duration::from_secs(expected));
        assert_eq!(
            longest_run_bound(&s, None, Duration::from_secs(600)),
            Duration::from_secs(expected + 3 * 300),
            "each fault's revert at its deadline"
        );
        // An AWS scenario also releases its lease, with the same deadline.
        let az = shipped("az-failure.yaml").scenario;
        let alarm_read = 21; // AWS_TIMEOUT + backstop: the stop-condition alarm's read
        assert_eq!(
            longest_run_bound(&az, None, Duration::from_secs(300)),
            Duration::from_secs(alarm_read + 10 + 2 * 300 + 10 + 120 + 30 + 60)
        );
    }
}
