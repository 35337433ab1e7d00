//! Pure semantic validation of a parsed scenario: no I/O, collects every problem, each
//! tagged with the field path it concerns (the loader turns paths into line:column).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::Dur;
use super::aws::Target;
use super::aws::{Select, TargetType};
use super::model::Scenario;

/// What a fault kind's validation may look at besides its own config: the scenario's
/// targets and its region (when well-formed).
pub struct Scope<'a> {
    pub targets: &'a std::collections::BTreeMap<String, Target>,
    pub region: Option<&'a str>,
    /// `environment.accounts` (empty without an environment).
    pub accounts: &'a [String],
}

impl Scope<'_> {
    /// What an ARN the config names must lie in (see [`super::arn::scope_problem`]).
    pub fn bounds(&self) -> super::arn::Bounds<'_> {
        super::arn::Bounds { accounts: self.accounts, region: self.region }
    }

    /// Whether any of `names` is a target of one of `types`.
    pub fn has_target_of(&self, names: &[String], types: &[TargetType]) -> bool {
        names.iter().filter_map(|n| self.targets.get(n)).any(|t| types.contains(&t.kind))
    }
}

/// One validation problem: the field path (`faults[1].after`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

pub(crate) fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem { path: path.into(), message: message.into() }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

const NAME_RULE: &str = "names use letters, digits, `-`, `_` and `.` (at most 64)";

/// The shortest probe interval: each sample is a request or a process, and a probe that
/// samples faster than this floods what it watches (and forks hundreds of shells a second).
pub const MIN_PROBE_EVERY: Duration = Duration::from_millis(100);

/// The shortest timeout of a probe, command or webhook: below it nothing can answer, so
/// every attempt would fail.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);

/// Why `cmd` cannot be run by `sh -c`, if it cannot: a NUL byte ends a C string.
pub fn command_problem(cmd: &str) -> Option<String> {
    cmd.contains('\0').then(|| "the command contains a NUL byte (`\\0`), which no shell command can hold".to_string())
}

/// A timeout shorter than [`MIN_TIMEOUT`], as a message.
pub fn timeout_problem(d: Option<Dur>) -> Option<String> {
    d.filter(|d| d.0 < MIN_TIMEOUT).map(|d| format!("timeouts are at least {}, found {d}", Dur(MIN_TIMEOUT)))
}

/// Problems with HTTP headers (a probe's or a webhook's), by field path under `at`.
pub fn header_problems(at: &str, headers: &std::collections::BTreeMap<String, String>) -> Vec<Problem> {
    let mut out = Vec::new();
    for (name, value) in headers {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            out.push(problem(
                format!("{at}.{name}"),
                format!("invalid header name {name:?}: a header name is letters, digits and `!#$%&'*+-.^_`|~`"),
            ));
        } else if reqwest::header::HeaderValue::from_str(value).is_err() {
            out.push(problem(
                format!("{at}.{name}"),
                format!(
                    "invalid value for header `{name}`: header values cannot hold control characters (newlines, NUL)"
                ),
            ));
        }
    }
    out
}

/// Checks everything that can be checked without touching the world.
pub fn validate(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    if s.version != 1 {
        out.push(problem("version", format!("unsupported version {}; this firedrill reads version 1", s.version)));
    }
    if !valid_name(&s.name) {
        out.push(problem("name", format!("invalid name {:?}: {NAME_RULE}", s.name)));
    }

    // Probes.
    if s.steady_state.is_empty() {
        out.push(problem(
            "steady_state",
            "the steady state is empty: name at least one probe that defines \"healthy\"",
        ));
    }
    let mut probe_names: HashMap<&str, usize> = HashMap::new();
    for (i, p) in s.steady_state.iter().enumerate() {
        let at = format!("steady_state[{i}]");
        check_name(&mut out, &format!("{at}.name"), &p.name, &mut probe_names, i, "probe", "steady_state");
        if p.every.0 < MIN_PROBE_EVERY {
            out.push(problem(
                format!("{at}.every"),
                format!(
                    "`every` is at least {}, found {}: a probe samples at most ten times a second",
                    Dur(MIN_PROBE_EVERY),
                    p.every
                ),
            ));
        }
        // A probe has exactly one kind (the loader makes sure). AWS kinds are checked with
        // the scenario's other AWS parts, in `validate_aws`.
        if !p.kind.needs_aws() {
            out.extend(p.kind.validate(&at));
        }
    }

    // Faults.
    if s.faults.is_empty() {
        out.push(problem("faults", "no faults: a scenario injects at least one fault"));
    }
    let mut fault_names: HashMap<&str, usize> = HashMap::new();
    for (i, f) in s.faults.iter().enumerate() {
        let at = format!("faults[{i}]");
        check_name(&mut out, &format!("{at}.name"), &f.name, &mut fault_names, i, "fault", "faults");
        // A fault has exactly one kind (the loader makes sure). AWS kinds are checked with
        // the scenario's other AWS parts.
        if !f.kind.needs_aws() {
            let scope = Scope { targets: &s.targets, region: None, accounts: &[] };
            out.extend(f.kind.validate(&format!("{at}.{}", f.kind.key()), &scope));
        }
        for (j, dep) in f.after.iter().enumerate() {
            let p = format!("{at}.after[{j}]");
            if dep == &f.name {
                out.push(problem(p, format!("fault `{}` cannot start after itself", f.name)));
            } else if !fault_names.contains_key(dep.as_str()) && !s.faults.iter().any(|g| &g.name == dep) {
                let names: Vec<&str> = s.faults.iter().map(|g| g.name.as_str()).collect();
                out.push(problem(p, unknown("fault", dep, &names)));
            }
        }
    }
    if let Some(cycle) = find_cycle(s) {
        let (idx, names) = cycle;
        out.push(problem(format!("faults[{idx}].after"), format!("`after` forms a cycle: {}", names.join(" -> "))));
    }

    // Abort rules.
    let probe_list: Vec<&str> = s.steady_state.iter().map(|p| p.name.as_str()).collect();
    for (i, r) in s.abort.iter().enumerate() {
        let at = format!("abort[{i}]");
        if let Some(alarm) = &r.alarm {
            if r.probe.is_some()
                || r.max_duration.is_some()
                || r.failing_for.is_some()
                || r.consecutive_failures.is_some()
            {
                out.push(problem(&at, "an `alarm` abort rule stands alone: no `probe`, `max_duration`, `failing_for` or `consecutive_failures`"));
            } else if alarm.trim().is_empty() {
                out.push(problem(format!("{at}.alarm"), "the alarm name is empty"));
            }
            continue;
        }
        match (&r.probe, r.max_duration) {
            (Some(_), Some(_)) => out.push(problem(&at, "an abort rule is either `probe` (with `failing_for` or `consecutive_failures`) or `max_duration`, not both")),
            (None, None) => out.push(problem(&at, "an abort rule needs `probe` (with `failing_for` or `consecutive_failures`), `max_duration` or `alarm`")),
            (None, Some(_)) => {
                if r.failing_for.is_some() || r.consecutive_failures.is_some() {
                    out.push(problem(&at, "`failing_for` and `consecutive_failures` need a `probe`"));
                }
            }
            (Some(name), None) => {
                if !probe_list.contains(&name.as_str()) {
                    out.push(problem(format!("{at}.probe"), unknown("probe", name, &probe_list)));
                }
                match (r.failing_for, r.consecutive_failures) {
                    (Some(_), Some(_)) => out.push(problem(&at, "give `failing_for` or `consecutive_failures`, not both")),
                    (None, None) => out.push(problem(&at, format!("abort rule on probe `{name}` needs `failing_for` or `consecutive_failures`"))),
                    (None, Some(0)) => out.push(problem(format!("{at}.consecutive_failures"), "must be at least 1")),
                    _ => {}
                }
            }
        }
    }

    validate_aws(s, &mut out);
    pages_problems(s, &mut out);
    out.extend(super::safety::problems(s));

    // Notifications.
    for (i, n) in s.notify.iter().enumerate() {
        let at = format!("notify[{i}]");
        out.extend(webhook_problems(&format!("{at}.webhook"), &n.webhook));
        if n.on.is_empty() {
            out.push(problem(format!("{at}.on"), format!("name at least one event: {}", list(super::notify::EVENTS))));
        }
        for (j, e) in n.on.iter().enumerate() {
            if !super::notify::EVENTS.contains(&e.as_str()) {
                out.push(problem(format!("{at}.on[{j}]"), unknown("event", e, super::notify::EVENTS)));
            }
        }
    }

    // Recovery.
    use super::model::Objective;
    match (s.recovery.objective, s.recovery.within) {
        (Objective::Recover, None) => out.push(problem(
            "recovery",
            "missing `within`: how soon recovery must come (e.g. `within: 90s`); or `objective: sustain` when no probe may fail at all",
        )),
        (Objective::Sustain, Some(_)) => out.push(problem(
            "recovery.within",
            "`objective: sustain` takes no `within` (no probe may fail at all); remove it, or use `objective: recover`",
        )),
        _ => {}
    }
    if s.recovery.stable_for >= s.recovery.settle_timeout {
        out.push(problem(
            "recovery.stable_for",
            format!(
                "stable_for ({}) must be shorter than settle_timeout ({}), or recovery can never be observed",
                s.recovery.stable_for, s.recovery.settle_timeout
            ),
        ));
    }
    out
}

/// The `pages` watch: named alarms are non-empty and not too many.
fn pages_problems(s: &Scenario, out: &mut Vec<Problem>) {
    let Some(alarms) = s.pages.as_ref().and_then(|p| p.alarms.as_ref()) else { return };
    if alarms.is_empty() {
        out.push(problem(
            "pages.alarms",
            "the list is empty: name the alarms that page, or leave `alarms` out to watch every alarm with actions in the account and region",
        ));
    }
    let max = super::model::MAX_PAGING_ALARMS;
    if alarms.len() > max {
        out.push(problem("pages.alarms", format!("{} alarms listed; at most {max} are watched", alarms.len())));
    }
    for (i, a) in alarms.iter().enumerate() {
        // A repeat is refused with every other list's (`repeats::SCENARIO`).
        if a.trim().is_empty() {
            out.push(problem(format!("pages.alarms[{i}]"), "the alarm name is empty"));
        }
    }
}

fn check_name<'a>(
    out: &mut Vec<Problem>,
    path: &str,
    name: &'a str,
    seen: &mut HashMap<&'a str, usize>,
    idx: usize,
    what: &str,
    list: &str,
) {
    if !valid_name(name) {
        out.push(problem(path, format!("invalid {what} name {name:?}: {NAME_RULE}")));
    }
    if let Some(first) = seen.get(name) {
        out.push(problem(path, format!("duplicate {what} name `{name}` (first used by {list}[{first}])")));
    } else {
        seen.insert(name, idx);
    }
}

/// Problems with a webhook (a scenario's `notify` or a playbook step's), under `at`.
pub fn webhook_problems(at: &str, w: &super::notify::Webhook) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Err(e) = w.check_url() {
        out.push(problem(format!("{at}.url"), e));
    }
    out.extend(header_problems(&format!("{at}.headers"), &w.headers));
    if let Some(m) = timeout_problem(w.timeout) {
        out.push(problem(format!("{at}.timeout"), m));
    } else if let Err(m) = w.check_timeout() {
        out.push(problem(format!("{at}.timeout"), m));
    }
    out
}

fn list(items: &[&str]) -> String {
    items.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    match super::yaml::did_you_mean(name, known) {
        Some(s) => format!("no {what} named `{name}`; did you mean `{s}`?"),
        None if known.is_empty() => format!("no {what} named `{name}`"),
        None => format!("no {what} named `{name}`; known: {}", list(known)),
    }
}

/// The first cycle in the `after` graph: the index of a fault on it and the names around it.
fn find_cycle(s: &Scenario) -> Option<(usize, Vec<String>)> {
    let index: HashMap<&str, usize> = s.faults.iter().enumerate().map(|(i, f)| (f.name.as_str(), i)).collect();
    // 0 = unvisited, 1 = on stack, 2 = done
    let mut state = vec![0u8; s.faults.len()];
    let mut stack: Vec<usize> = Vec::new();
    fn dfs(
        i: usize,
        s: &Scenario,
        index: &HashMap<&str, usize>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        stack.push(i);
        for dep in &s.faults[i].after {
            let Some(&j) = index.get(dep.as_str()) else { continue };
            if j == i {
                continue; // reported as "after itself"
            }
            if state[j] == 1 {
                let start = stack.iter().position(|&k| k == j).unwrap_or(0);
                let mut cyc = stack[start..].to_vec();
                cyc.push(j);
                return Some(cyc);
            }
            if state[j] == 0
                && let Some(c) = dfs(j, s, index, state, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    let mut reported = HashSet::new();
    for i in 0..s.faults.len() {
        if state[i] == 0
            && let Some(c) = dfs(i, s, &index, &mut state, &mut stack)
            && reported.insert(c[0])
        {
            let names = c.iter().map(|&k| s.faults[k].name.clone()).collect();
            return Some((c[0], names));
        }
    }
    None
}

pub(crate) fn is_region(r: &str) -> bool {
    if super::regions::is_known(r) {
        return true; // eusc-de-east-1 has a longer first part
    }
    // e.g. us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// Every well-formed region the scenario names, with its field path: `environment.region`
/// first, then the faults' (`faults[0].service_outage.regions[1]`).
fn named_regions(s: &Scenario) -> Vec<(String, &str)> {
    let mut out: Vec<(String, &str)> =
        s.environment.iter().map(|e| ("environment.region".to_string(), e.region.as_str())).collect();
    for (i, f) in s.faults.iter().enumerate() {
        out.extend(f.kind.regions().into_iter().map(|(field, r)| (format!("faults[{i}].{}.{field}", f.kind.key()), r)));
    }
    out.retain(|(_, r)| is_region(r));
    out
}

/// The regions of one scenario are in one partition (`aws`, `aws-cn`, `aws-us-gov`...):
/// that of the first one named. An account, a role and its policies live in one
/// partition, so a region of another is never reached (and a deny for it denies nothing).
fn partition_problems(s: &Scenario, out: &mut Vec<Problem>) {
    let named = named_regions(s);
    let Some((first_at, first)) = named.first() else { return };
    let home = super::regions::partition(first);
    for (at, r) in &named[1..] {
        let p = super::regions::partition(r);
        if p != home {
            out.push(problem(
                at,
                format!(
                    "`{r}` is in the {p} partition, but {first_at} (`{first}`) is in {home}: \
                     a scenario's regions are all in one partition (an account, a role and its policies never reach another)"
                ),
            ));
        }
    }
}

/// What is valid but probably not meant: a well-formed region firedrill does not know
/// (`us-east-7`), with the nearest it does. Only a warning: regions open every year.
pub fn warnings(s: &Scenario) -> Vec<Problem> {
    named_regions(s).into_iter().filter_map(|(at, r)| super::regions::unknown(r).map(|m| problem(at, m))).collect()
}

/// A zone of `region`: the region name followed by one letter (`us-east-1a`), or a zone id.
pub fn zone_in_region(zone: &str, region: &str) -> bool {
    zone.strip_prefix(region).is_some_and(|rest| rest.len() == 1 && rest.chars().all(|c| c.is_ascii_lowercase()))
}

/// Names written as ARNs where firedrill reads names: alarms (abort rules, `pages`, the
/// `cloudwatch_alarm` probe), the groups, clusters and instances probes watch, and target
/// ids. Each is checked against the scenario's
/// accounts, partition and region, and one inside them is refused with its name.
fn arn_problems(s: &Scenario, scope: &Scope<'_>, out: &mut Vec<Problem>) {
    use super::arn::name_not_arn;
    let b = scope.bounds();
    for (i, r) in s.abort.iter().enumerate() {
        if let Some(why) = r.alarm.as_deref().and_then(|a| name_not_arn(a, "alarm", b)) {
            out.push(problem(format!("abort[{i}].alarm"), why));
        }
    }
    for (i, a) in s.pages.iter().flat_map(|p| p.alarms.iter().flatten()).enumerate() {
        if let Some(why) = name_not_arn(a, "alarm", b) {
            out.push(problem(format!("pages.alarms[{i}]"), why));
        }
    }
    for (i, p) in s.steady_state.iter().enumerate() {
        use crate::probes::ProbeKind;
        let named: Vec<(&str, &str, &String)> = match &p.kind {
            ProbeKind::CloudWatchAlarm(c) => vec![("cloudwatch_alarm.alarm", "alarm", &c.alarm)],
            ProbeKind::AsgCapacity(c) => vec![("asg_capacity.group", "Auto Scaling group", &c.group)],
            ProbeKind::RdsStatus(c) => c
                .cluster
                .iter()
                .map(|v| ("rds_status.cluster", "RDS cluster", v))
                .chain(c.instance.iter().map(|v| ("rds_status.instance", "RDS instance", v)))
                .collect(),
            _ => vec![],
        };
        for (field, what, value) in named {
            if let Some(why) = name_not_arn(value, what, b) {
                out.push(problem(format!("steady_state[{i}].{field}"), why));
            }
        }
    }
    for (name, t) in &s.targets {
        let ids = t.ids.iter().map(|id| ("ids", id));
        let excluded = t.exclude.iter().flat_map(|x| x.ids.iter()).map(|id| ("exclude.ids", id));
        let mut n = std::collections::BTreeMap::<&str, usize>::new();
        for (field, id) in ids.chain(excluded) {
            let j = n.entry(field).or_default();
            if let Some(why) = name_not_arn(id, &format!("{} resource", t.kind), b) {
                out.push(problem(format!("targets.{name}.{field}[{j}]"), why));
            }
            *j += 1;
        }
    }
}

fn validate_aws(s: &Scenario, out: &mut Vec<Problem>) {
    let uses_aws = !s.targets.is_empty()
        || s.faults.iter().any(|f| f.kind.needs_aws())
        || s.steady_state.iter().any(|p| p.kind.needs_aws())
        || s.abort.iter().any(|r| r.alarm.is_some())
        || s.pages.is_some();
    // Zones are checked against the region only when the region itself is well-formed.
    let region = s.environment.as_ref().map(|e| e.region.as_str()).filter(|r| is_region(r));
    match &s.environment {
        None if uses_aws => out.push(problem(
            "environment",
            "this scenario uses AWS: add `environment` with `region`, `accounts` and `opt_in_tag`, so firedrill can refuse to act anywhere else",
        )),
        None => {}
        Some(env) => {
            if !is_region(&env.region) {
                out.push(problem("environment.region", format!("expected an AWS region like `us-east-1`, found {:?}", env.region)));
            }
            if env.accounts.is_empty() {
                out.push(problem("environment.accounts", "list at least one AWS account id: firedrill refuses to run in any account not listed"));
            }
            for (i, a) in env.accounts.iter().enumerate() {
                if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
                    out.push(problem(format!("environment.accounts[{i}]"), format!("expected a 12-digit AWS account id, found {a:?} (quote it so YAML keeps leading zeros)")));
                }
            }
            if env.opt_in_tag.key.trim().is_empty() {
                out.push(problem("environment.opt_in_tag.key", "the opt-in tag key is empty"));
            }
        }
    }

    let target_names: Vec<&str> = s.targets.keys().map(String::as_str).collect();
    for (name, t) in &s.targets {
        let at = format!("targets.{name}");
        if !valid_name(name) {
            out.push(problem(&at, format!("invalid target name {name:?}: {NAME_RULE}")));
        }
        if t.tags.is_empty() && t.ids.is_empty() {
            out.push(problem(&at, "a target needs `tags` or `ids`: firedrill never selects every resource of a type"));
        }
        match &t.select {
            Some(Select::Word(w)) if w != "all" => out.push(problem(
                format!("{at}.select"),
                format!("expected `all`, `{{ count: N }}` or `{{ percent: P }}`, found {w:?}"),
            )),
            Some(Select::Map(m)) => match (m.count, m.percent) {
                (Some(_), Some(_)) | (None, None) => {
                    out.push(problem(format!("{at}.select"), "give exactly one of `count` or `percent`"))
                }
                (Some(0), None) => out.push(problem(format!("{at}.select.count"), "must be at least 1")),
                (None, Some(p)) if p == 0 || p > 100 => {
                    out.push(problem(format!("{at}.select.percent"), format!("must be between 1 and 100, found {p}")))
                }
                _ => {}
            },
            _ => {}
        }
        if t.max == Some(0) {
            out.push(problem(format!("{at}.max"), "must be at least 1"));
        }
        if let Some(x) = &t.exclude {
            if x.ids.is_empty() && x.tags.is_empty() {
                out.push(problem(format!("{at}.exclude"), "give `ids`, `tags` or both (or remove `exclude`)"));
            }
            for (j, id) in x.ids.iter().enumerate() {
                if id.trim().is_empty() {
                    out.push(problem(format!("{at}.exclude.ids[{j}]"), "must not be empty"));
                } else if t.ids.contains(id) {
                    out.push(problem(
                        format!("{at}.exclude.ids[{j}]"),
                        format!("`{id}` is both in `ids` and excluded: say which you mean"),
                    ));
                }
            }
        }
        if let Some(z) = &t.filters.availability_zone {
            if !t.kind.zonal() {
                out.push(problem(
                    format!("{at}.filters.availability_zone"),
                    format!("{} resources have no Availability Zone", t.kind),
                ));
            } else if let Some(r) = region
                && !zone_in_region(z, r)
            {
                out.push(problem(
                    format!("{at}.filters.availability_zone"),
                    format!("zone {z:?} is not in the scenario's region {r}"),
                ));
            }
        }
        if let Some(st) = &t.filters.state {
            let states = t.kind.states();
            if states.is_empty() {
                out.push(problem(
                    format!("{at}.filters.state"),
                    format!("{} resources have no state to filter on", t.kind),
                ));
            } else if !states.contains(&st.as_str()) {
                out.push(problem(
                    format!("{at}.filters.state"),
                    format!("unknown {} state {st:?}; expected one of {}", t.kind, list(states)),
                ));
            }
        }
    }

    partition_problems(s, out);

    let accounts = s.environment.as_ref().map_or(&[][..], |e| e.accounts.as_slice());
    let scope = Scope { targets: &s.targets, region, accounts };
    arn_problems(s, &scope, out);
    for (i, f) in s.faults.iter().enumerate() {
        let kind = &f.kind;
        let at = format!("faults[{i}].{}", kind.key());
        let accepted = kind.target_types();
        for (field, name) in kind.targets() {
            let p = format!("{at}.{field}");
            match s.targets.get(name) {
                None => out.push(problem(p, unknown("target", name, &target_names))),
                Some(t) if !accepted.contains(&t.kind) => out.push(problem(
                    p,
                    format!(
                        "target `{name}` is {}; {} acts on {}",
                        t.kind,
                        kind.key(),
                        accepted.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(" or ")
                    ),
                )),
                Some(_) => {}
            }
        }
        if kind.needs_aws() {
            out.extend(kind.validate(&at, &scope));
        }
    }

    for (i, p) in s.steady_state.iter().enumerate() {
        if p.kind.needs_aws() {
            out.extend(p.kind.validate(&format!("steady_state[{i}]")));
        }
    }
}
