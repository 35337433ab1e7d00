//! Pure semantic validation of a parsed scenario: no I/O, collects every problem, each
//! tagged with the field path it concerns (the loader turns paths into line:column).

use std::collections::{HashMap, HashSet};

use super::model::{FAULT_KINDS, PROBE_KINDS, ProbeKind, Scenario};

/// One validation problem: the field path (`faults[1].after`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem { path: path.into(), message: message.into() }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

const NAME_RULE: &str = "names use letters, digits, `-`, `_` and `.` (at most 64)";

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
        let kinds = p.kinds();
        match kinds.len() {
            0 => out.push(problem(&at, format!("probe `{}` has no kind: add one of {}", p.name, list(PROBE_KINDS)))),
            1 => check_probe_kind(&mut out, &at, kinds[0]),
            _ => out.push(problem(
                &at,
                format!(
                    "probe `{}` has {} kind keys ({}); a probe has exactly one",
                    p.name,
                    kinds.len(),
                    kinds.iter().map(|k| format!("`{}`", k.name())).collect::<Vec<_>>().join(", ")
                ),
            )),
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
        let kinds = f.kinds();
        match kinds.len() {
            0 => out.push(problem(&at, format!("fault `{}` has no kind: add one of {}", f.name, list(FAULT_KINDS)))),
            1 => {}
            _ => out.push(problem(
                &at,
                format!("fault `{}` has {} kind keys; a fault has exactly one", f.name, kinds.len()),
            )),
        }
        if let Some(c) = &f.command {
            if c.inject.trim().is_empty() {
                out.push(problem(format!("{at}.command.inject"), "the inject command is empty"));
            }
            if c.revert.trim().is_empty() {
                out.push(problem(
                    format!("{at}.command.revert"),
                    "the revert command is empty: every command fault must say how to undo it",
                ));
            }
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
        match (&r.probe, r.max_duration) {
            (Some(_), Some(_)) => out.push(problem(&at, "an abort rule is either `probe` (with `failing_for` or `consecutive_failures`) or `max_duration`, not both")),
            (None, None) => out.push(problem(&at, "an abort rule needs `probe` (with `failing_for` or `consecutive_failures`) or `max_duration`")),
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

    // Recovery.
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

fn check_probe_kind(out: &mut Vec<Problem>, at: &str, kind: ProbeKind<'_>) {
    match kind {
        ProbeKind::Http(h) => {
            let p = format!("{at}.http");
            match reqwest::Url::parse(&h.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                Ok(u) => out.push(problem(
                    format!("{p}.url"),
                    format!("expected an http:// or https:// URL with a host, found scheme `{}`", u.scheme()),
                )),
                Err(e) => out.push(problem(format!("{p}.url"), format!("invalid URL {:?}: {e}", h.url))),
            }
            if reqwest::Method::from_bytes(h.method.as_bytes()).is_err() || h.method.is_empty() {
                out.push(problem(format!("{p}.method"), format!("invalid HTTP method {:?}", h.method)));
            }
            for (j, st) in h.expect_status.iter().enumerate() {
                if !(100..=599).contains(st) {
                    out.push(problem(
                        format!("{p}.expect_status[{j}]"),
                        format!("{st} is not an HTTP status code (100-599)"),
                    ));
                }
            }
            if let Some(re) = &h.body_regex {
                if let Err(e) = regex::Regex::new(re) {
                    let first = e.to_string().lines().last().unwrap_or_default().trim().to_string();
                    out.push(problem(format!("{p}.body_regex"), format!("invalid regular expression: {first}")));
                }
            }
            for name in h.headers.keys() {
                if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    out.push(problem(format!("{p}.headers.{name}"), format!("invalid header name {name:?}")));
                }
            }
        }
        ProbeKind::Tcp(t) => {
            let ok = t
                .address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
            if !ok {
                out.push(problem(format!("{at}.tcp.address"), format!("expected `host:port`, found {:?}", t.address)));
            }
        }
        ProbeKind::Command(c) => {
            if c.run.trim().is_empty() {
                out.push(problem(format!("{at}.command.run"), "the command is empty"));
            }
        }
    }
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
            if state[j] == 0 {
                if let Some(c) = dfs(j, s, index, state, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    let mut reported = HashSet::new();
    for i in 0..s.faults.len() {
        if state[i] == 0 {
            if let Some(c) = dfs(i, s, &index, &mut state, &mut stack) {
                if reported.insert(c[0]) {
                    let names = c.iter().map(|&k| s.faults[k].name.clone()).collect();
                    return Some((c[0], names));
                }
            }
        }
    }
    None
}
