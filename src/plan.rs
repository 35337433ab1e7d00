//! From a validated scenario to what the executor runs ([`spec`]) and to what a person
//! reads before anything is touched ([`render`]). `firedrill plan`, `run --dry-run` and the
//! confirmation prompt all print [`render`].

use std::collections::HashMap;
use std::fmt::Write;
use std::time::Duration;

use crate::engine::{AbortRule, RevertPolicy, RunSpec};
use crate::faults::{self, FaultContext};
use crate::probes;
use crate::scenario::{Loaded, Scenario};
use crate::targets::Resolution;

/// How often an `alarm` abort rule's alarm is read.
/// What the plan says of a target without `max`: nothing caps its blast radius.
pub const NO_MAX: &str = "no max: nothing caps how many are hit (set `max` to refuse a run that would hit more)";

pub const ALARM_EVERY: Duration = Duration::from_secs(5);

/// The executor's input. The scenario must have passed validation. Probes come first in
/// scenario order, then one watcher per `alarm` abort rule, then (with AWS) the emergency
/// halt's watcher.
pub fn spec(s: &Scenario, ctx: &FaultContext) -> RunSpec {
    let aws = ctx.aws.as_ref().map(|(a, _)| a);
    let fault_idx: HashMap<&str, usize> = s.faults.iter().enumerate().map(|(i, f)| (f.name.as_str(), i)).collect();
    let probe_idx: HashMap<&str, usize> =
        s.steady_state.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let mut probes: Vec<_> = s.steady_state.iter().map(|p| probes::build(p, aws)).collect();
    let mut alarm_rules = Vec::new();
    for alarm in s.abort.iter().filter_map(|r| r.alarm.as_ref()) {
        alarm_rules.push(AbortRule::Alarm { probe: probes.len(), alarm: alarm.clone() });
        probes.push(probes::alarm_watch(alarm, ALARM_EVERY, aws));
    }
    let mut halt_rule = None;
    if let Some(aws) = aws {
        halt_rule = Some(AbortRule::Halt { probe: probes.len(), parameter: crate::halt::PARAMETER.into() });
        probes.push(crate::halt::watch(aws, crate::halt::interval(s.steady_state.iter().map(|p| p.every.0))));
    }
    RunSpec {
        probes,
        faults: s
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let after = f.after.iter().filter_map(|a| fault_idx.get(a.as_str()).copied()).collect();
                let mut spec = faults::build(f, after, ctx);
                if let Some(d) = s.safety.as_ref().and_then(|s| s.dead_mans_switch.as_ref())
                    && f.kind.needs_aws()
                {
                    spec.fault = faults::switch::arm(spec.fault, d, &f.name, i, spec.duration, ctx);
                }
                spec
            })
            .collect(),
        abort: s
            .abort
            .iter()
            .filter_map(|r| {
                let probe = r.probe.as_deref().and_then(|p| probe_idx.get(p).copied());
                match (probe, r.failing_for, r.consecutive_failures, r.max_duration.filter(|_| r.alarm.is_none())) {
                    (Some(probe), Some(d), _, _) => Some(AbortRule::FailingFor { probe, duration: d.0 }),
                    (Some(probe), None, Some(n), _) => Some(AbortRule::ConsecutiveFailures { probe, count: n }),
                    (None, _, _, Some(d)) => Some(AbortRule::MaxDuration(d.0)),
                    _ => None,
                }
            })
            .chain(alarm_rules)
            .chain(halt_rule)
            .collect(),
        objective: match s.recovery.objective {
            crate::scenario::Objective::Recover => crate::engine::ObjectiveKind::Recover,
            crate::scenario::Objective::Sustain => crate::engine::ObjectiveKind::Sustain,
        },
        within: s.recovery.within(),
        stable_for: s.recovery.stable_for.0,
        settle_timeout: s.recovery.settle_timeout.0,
        revert: RevertPolicy::default(),
        holds: Vec::new(),
        // Resolved at prepare time: `crate::pages::spec` sets it for a run.
        pages: None,
        started: None,
    }
}

/// The longest a run can last if nothing aborts it and every revert is quick: the longest
/// chain of `after` faults plus the settle timeout. (`plan --format json` gives a bound
/// that holds whatever happens: [`crate::plan_json::longest_run_bound`].)
pub fn longest_run(s: &Scenario) -> Duration {
    longest_chain(s).saturating_add(s.recovery.settle_timeout.0)
}

/// The longest chain of faults through `after`: the sum of their durations.
pub fn longest_chain(s: &Scenario) -> Duration {
    fn end(i: usize, s: &Scenario, memo: &mut HashMap<usize, Duration>, depth: usize) -> Duration {
        if let Some(d) = memo.get(&i) {
            return *d;
        }
        let f = &s.faults[i];
        let start = if depth > s.faults.len() {
            Duration::ZERO
        } else {
            f.after
                .iter()
                .filter_map(|a| s.faults.iter().position(|g| &g.name == a))
                .map(|j| end(j, s, memo, depth + 1))
                .max()
                .unwrap_or_default()
        };
        let d = start.saturating_add(f.duration.0);
        memo.insert(i, d);
        d
    }
    let mut memo = HashMap::new();
    (0..s.faults.len()).map(|i| end(i, s, &mut memo, 0)).max().unwrap_or_default()
}

/// When a run aborts, one line each: the scenario's rules, its stop-condition alarms, then
/// what always aborts.
pub(crate) fn abort_lines(s: &Scenario) -> Vec<String> {
    let mut lines = Vec::new();
    for r in &s.abort {
        let line = match (&r.probe, r.failing_for, r.consecutive_failures, r.max_duration) {
            (Some(p), Some(d), _, _) => format!("probe {p} has failed for {d}"),
            (Some(p), None, Some(n), _) => format!("probe {p} has failed {n} times in a row"),
            (None, _, _, Some(d)) => format!("the run has lasted {d} since the first injection"),
            _ => continue,
        };
        lines.push(line);
    }
    for r in &s.abort {
        if let Some(a) = &r.alarm {
            lines.push(format!(
                "CloudWatch alarm {a} is in ALARM (read every {})",
                humantime::format_duration(ALARM_EVERY)
            ));
        }
    }
    // Every AWS run watches the emergency halt.
    if s.environment.is_some() {
        let every = crate::halt::interval(s.steady_state.iter().map(|p| p.every.0));
        lines.push(format!(
            "the emergency halt is set in this account and region (`firedrill halt`; read every {})",
            humantime::format_duration(every)
        ));
    }
    lines.push("SIGINT or SIGTERM (Ctrl-C), or any fault fails to inject".into());
    lines
}

/// When fault `f` starts, in words.
pub(crate) fn starts(f: &crate::scenario::FaultConfig) -> String {
    if f.after.is_empty() { "at start".to_string() } else { format!("after {} reverted", f.after.join(", ")) }
}

/// What a run of `l` would do, for people, with its playbook's schedule; with the resolved targets, the paging alarms
/// watched (`pages`), the guards' verdict and the `warnings` (a stop-condition alarm in
/// ALARM, say) when the scenario uses AWS.
pub fn render(
    l: &Loaded,
    steps: &[crate::playbook::Step],
    res: Option<&Resolution>,
    pages: Option<&crate::pages::Watched>,
    warnings: &[String],
) -> String {
    let s = &l.scenario;
    let mut o = String::new();
    let _ = writeln!(o, "Scenario {} ({})", s.name, l.file.display());
    if let Some(d) = &s.description {
        let _ = writeln!(o, "  {d}");
    }
    if let Some(owner) = &s.owner {
        let _ = writeln!(o, "  owner: {owner}");
    }
    if let Some(p) = &l.playbook {
        let _ = writeln!(o, "  playbook: {}", p.display());
    }
    if let (Some(env), Some(r)) = (&s.environment, res) {
        let _ = writeln!(
            o,
            "\nEnvironment: account {} in {} (allowed: {} in {}); opt-in tag {}={}",
            r.account,
            r.region,
            env.accounts.join(", "),
            env.region,
            env.opt_in_tag.key,
            env.opt_in_tag.value
        );
        if !r.targets.is_empty() {
            let _ = writeln!(o, "\nTargets (selection seed {}):", r.seed);
        }
        for (name, t) in &r.targets {
            let cap = match s.targets.get(name).and_then(|t| t.max) {
                Some(m) => format!(", max {m}"),
                None => format!(", {NO_MAX}"),
            };
            let _ = writeln!(o, "  {name} ({}): {} selected of {} matched{cap}", t.kind, t.resources.len(), t.matched);
            if !t.excluded.is_empty() {
                let _ = writeln!(o, "    excluded (never touched): {}", t.excluded.join(", "));
            }
            for res in &t.resources {
                let mut facts: Vec<String> = res.zones.clone();
                facts.extend(res.state.clone());
                facts.extend(res.attrs.iter().map(|(k, v)| format!("{k} {v}")));
                let _ = writeln!(o, "    - {} ({})", res.id, facts.join(", "));
            }
        }
    }
    let _ = writeln!(o, "\nSteady state (every probe must pass before anything is injected):");
    for p in &s.steady_state {
        let _ = writeln!(o, "  - {}: {}", p.name, probes::describe(p));
    }
    let _ = writeln!(o, "\nFaults:");
    for (i, f) in s.faults.iter().enumerate() {
        let when = starts(f);
        let _ = writeln!(o, "  {}. {} ({}), {when}, for {}", i + 1, f.name, f.kind.key(), f.duration);
        for line in faults::describe(f, res) {
            let _ = writeln!(o, "       {line}");
        }
    }
    if s.environment.is_some() {
        let _ = writeln!(
            o,
            "  Each AWS change is tagged on its resource with how to undo it (firedrill:undo:*, docs/tags.md) \
             before it is made; `firedrill recover --sweep` can undo it without the journal."
        );
    }
    if !steps.is_empty() {
        let _ = writeln!(
            o,
            "\nPlaybook (when each step is due, by run event; manual steps are prompted with `run --interactive`):"
        );
        for line in crate::playbook::schedule(steps) {
            let _ = writeln!(o, "  {line}");
        }
    }
    let switch = faults::switch::plan_lines(s, res);
    if let Some((head, lines)) = switch.split_first() {
        let _ = writeln!(o, "\nDead man's switch: {head}");
        for line in lines {
            let _ = writeln!(o, "  {line}");
        }
    }
    let _ = writeln!(o, "\nAbort and revert everything when:");
    for line in abort_lines(s) {
        let _ = writeln!(o, "  - {line}");
    }
    if let Some(w) = pages {
        let _ = writeln!(o, "\nPages (alarms that page someone, watched from the first injection to the verdict):");
        for line in crate::pages::plan_lines(s, w) {
            let _ = writeln!(o, "  {line}");
        }
    }
    let _ = writeln!(
        o,
        "\nObjective: {} (every probe passing for {}; wait up to {} after the last revert)",
        s.recovery.describe(),
        s.recovery.stable_for,
        s.recovery.settle_timeout
    );
    let _ = writeln!(o, "Longest possible run: {}", humantime::format_duration(longest_run(s)));
    if let Some(r) = res {
        if r.refusals.is_empty() {
            let _ = writeln!(o, "\nGuards: passed (account, region, opt-in tag, blast radius)");
        } else {
            let _ = writeln!(o, "\nGuards: REFUSED — nothing will be touched:");
            for why in &r.refusals {
                let _ = writeln!(o, "  - {why}");
            }
        }
    }
    if !warnings.is_empty() {
        let _ = writeln!(o, "\nWarnings:");
        for w in warnings {
            let _ = writeln!(o, "  - {w}");
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report names each sample by the probe `spec` made it from: the scenario's
    /// probes, then one watcher per `alarm` rule, then (with AWS) the emergency halt's.
    #[test]
    fn the_report_names_every_probe_spec_makes_in_its_order() {
        let text = "version: 1\nname: n\nenvironment:\n  region: us-east-1\n  accounts: [\"123456789012\"]\n  \
                    opt_in_tag: { key: firedrill, value: allowed }\nsteady_state:\n  - name: web\n    command: { run: \
                    \"true\" }\n    every: 1s\n  - name: db\n    command: { run: \"true\" }\n    every: 1s\nfaults:\n  \
                    - name: f\n    command: { inject: \"true\", revert: \"true\" }\n    duration: 1s\nabort:\n  \
                    - alarm: shop-5xx\nrecovery: { within: 1m }\n";
        let s = crate::scenario::load_str(text, std::path::Path::new(".")).map(|(s, _)| s).unwrap();
        let ctx = FaultContext { run_id: "r".into(), cwd: ".".into(), aws: None, stop_alarms: vec![] };
        let made: Vec<String> = spec(&s, &ctx).probes.into_iter().map(|p| p.name).collect();
        assert_eq!(made, ["web", "db", "alarm:shop-5xx"]);
        // With an AWS connection, `spec` adds the halt's watcher last.
        assert_eq!(crate::report::model::probe_names(&s), ["web", "db", "alarm:shop-5xx", "halt"]);
        assert_eq!(crate::halt::watch_name(), "halt");
    }
}
