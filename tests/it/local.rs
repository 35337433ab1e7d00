//! Local game days, end to end: the real `firedrill` binary against a [`WebService`] this
//! test starts on 127.0.0.1, broken and fixed by a `command` fault that runs curl.
//!
//! This module owns the behaviour a user sees for a local run: measured times checked
//! against what the service itself recorded, every exit code of `run` (0-6), abort rules,
//! SIGINT/SIGTERM, SIGKILL followed by `firedrill recover`, a revert that fails until a
//! human helps, a failing baseline, and the commands that must touch nothing (`validate`,
//! `plan`, `run` without `--yes`) or only read (`report`, `runs`).
//!
//! Every test has its own service and sandbox, so they run in parallel. Probes sample
//! every 100 ms and faults last seconds at most; timing assertions compare the report with
//! the service's own record, within one probe interval plus the probe latency the report
//! shows, never with the wall clock.

use std::time::Duration;

use serde_json::Value;

use crate::support::web::{Heal, HealedBy, WebService};
use crate::support::{Running, Sandbox, journal_events, ms, read_journal, read_report, wait_until};

/// Every probe's interval, in milliseconds.
const EVERY_MS: i64 = 100;

/// A bounded wait for something a running `firedrill` is about to do.
const WAIT: Duration = Duration::from_secs(30);

/// A one-probe, one-fault scenario against `web`: the `web` probe GETs `/health`, the
/// `break-web` fault POSTs `/break` and reverts with `POST /fix`.
struct Scenario {
    name: &'static str,
    fault_duration: &'static str,
    /// Abort rules besides a `max_duration: 30s` backstop, as YAML flow mappings.
    abort: &'static [&'static str],
    /// Run before the revert's curl, e.g. `sleep 1 && ` for a slow revert.
    revert_prefix: &'static str,
    within: &'static str,
    stable_for: &'static str,
    settle_timeout: &'static str,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "it-web",
            fault_duration: "3s",
            abort: &[],
            revert_prefix: "",
            within: "5s",
            stable_for: "500ms",
            settle_timeout: "10s",
        }
    }
}

impl Scenario {
    fn yaml(&self, web: &WebService) -> String {
        let mut abort: Vec<String> = self.abort.iter().map(|r| format!("  - {r}\n")).collect();
        abort.push("  - { max_duration: 30s }\n".into());
        format!(
            r#"version: 1
name: {name}
description: Integration test game day.
owner: it@example.com
steady_state:
  - name: web
    http:
      url: "{health}"
      expect_status: [200]
      body_contains: ok
      timeout: 2s
    every: {EVERY_MS}ms
faults:
  - name: break-web
    command:
      inject: "curl -fsS --max-time 5 -X POST {brk}"
      revert: "{revert_prefix}curl -fsS --max-time 5 -X POST {fix}"
      timeout: 10s
    duration: {duration}
abort:
{abort}recovery:
  within: {within}
  stable_for: {stable_for}
  settle_timeout: {settle}
"#,
            name = self.name,
            health = web.url("/health"),
            brk = web.url("/break"),
            fix = web.url("/fix"),
            revert_prefix = self.revert_prefix,
            duration = self.fault_duration,
            abort = abort.concat(),
            within = self.within,
            stable_for = self.stable_for,
            settle = self.settle_timeout,
        )
    }

    /// Writes the scenario into the sandbox; returns its file name (relative to the sandbox,
    /// which is `firedrill`'s working directory).
    fn write(&self, sandbox: &Sandbox, web: &WebService) -> String {
        sandbox.write_scenario(self.name, &self.yaml(web));
        format!("{}.yaml", self.name)
    }
}

/// Checks `time_to_detect_ms` and `time_to_recover_ms` against the service's one outage,
/// which healed by itself.
///
/// The service broke while the inject command ran, i.e. between the fault's
/// `inject_started_at_ms` and `injected_at_ms` (= `t_inject_ms`), and healed the outage's
/// duration later. A probe sees a change within one interval (`precision_ms`) plus the
/// latency of up to two checks (the one in flight at the change may end after it); 100 ms
/// more covers timer wake-ups on a loaded machine.
fn assert_measured_like_the_service(report: &Value, web: &WebService) {
    let outages = web.outages();
    assert_eq!(outages.len(), 1, "the service broke once: {outages:?}");
    assert_eq!(outages[0].healed_by, Some(HealedBy::Itself), "{outages:?}");
    let outage = outages[0].duration().expect("healed").as_millis() as i64;

    let precision = ms(report, "/precision_ms");
    assert_eq!(precision, EVERY_MS);
    let t_inject = ms(report, "/t_inject_ms");
    assert_eq!(ms(report, "/faults/0/injected_at_ms"), t_inject);
    let inject_started = ms(report, "/faults/0/inject_started_at_ms");
    let max_latency = report["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter_map(|s| s["latency_ms"].as_i64())
        .max()
        .unwrap_or(0);
    let late = precision + 2 * max_latency + 100;
    // Whole milliseconds on both sides: allow rounding.
    let rounding = 2;

    let detect = ms(report, "/time_to_detect_ms");
    let recover = ms(report, "/time_to_recover_ms");
    eprintln!(
        "service outage {outage}ms; report: inject {inject_started}..{t_inject}ms, detect {detect}ms, \
         recover {recover}ms, max probe latency {max_latency}ms"
    );
    assert!(
        (0..=late + rounding).contains(&detect),
        "time_to_detect_ms {detect}: the service broke before t_inject, so detection must come within {late}ms"
    );

    let earliest = outage - (t_inject - inject_started) - rounding;
    let latest = outage + late + rounding;
    assert!(
        (earliest..=latest).contains(&recover),
        "time_to_recover_ms {recover} does not match the service's {outage}ms outage: expected {earliest}..={latest} \
         (inject took {}ms, max probe latency {max_latency}ms)",
        t_inject - inject_started
    );
}

/// The journal's entries for the one fault step: intent, done, then exactly one `reverted`
/// by `by`.
fn assert_step_reverted_once(journal: &[Value], by: &str) {
    let intents = journal_events(journal, "intent");
    assert_eq!(intents.len(), 1, "one side effect journaled: {journal:#?}");
    let step = &intents[0]["step"];
    assert_eq!(intents[0]["fault"], "break-web");
    assert_eq!(intents[0]["undo"]["kind"], "command");
    assert_eq!(journal_events(journal, "done").len(), 1, "{journal:#?}");
    let reverted = journal_events(journal, "reverted");
    assert_eq!(reverted.len(), 1, "reverted exactly once: {journal:#?}");
    assert_eq!(&reverted[0]["step"], step);
    assert_eq!(reverted[0]["fault"], "break-web");
    assert_eq!(reverted[0]["by"], by);
}

#[test]
fn self_healing_outage_passes_and_is_measured_like_the_service_saw_it() {
    let web = WebService::start(Heal::After(Duration::from_secs(1)));
    let sandbox = Sandbox::new();
    let file = Scenario { fault_duration: "3s", within: "5s", ..Default::default() }.write(&sandbox, &web);

    let out = sandbox.run(&["run", "--yes", &file]);
    out.assert_exit(0);
    let report = read_report(&out.run_dir());
    assert_eq!(report["outcome"], "passed", "{out}");
    assert_eq!(report["abort_reason"], Value::Null);
    assert_eq!(report["objective_met"], true);
    assert_eq!(report["settled"], true);
    assert_eq!(report["recovered_during_fault"], true, "healed 1s into a 3s fault");
    assert_measured_like_the_service(&report, &web);

    // The fault was reverted on schedule even though the service had healed itself.
    assert_eq!(web.break_calls(), 1);
    assert_eq!(web.fix_calls(), 1);
    assert!(ms(&report, "/faults/0/revert_started_at_ms") >= ms(&report, "/faults/0/injected_at_ms") + 3000);
    assert!(report["faults"][0]["reverted_at_ms"].is_u64());
    assert_eq!(report["still_broken"], serde_json::json!([]));
    assert!(ms(&report, "/probes/0/failures") > 0, "the outage was seen");
    assert_eq!(report["probes"][0]["final_ok"], true);
    assert_step_reverted_once(&read_journal(&out.run_dir()), "run");
}

#[test]
fn recovery_slower_than_the_objective_misses_it() {
    let web = WebService::start(Heal::After(Duration::from_secs(1)));
    let sandbox = Sandbox::new();
    let file = Scenario { fault_duration: "2s", within: "300ms", ..Default::default() }.write(&sandbox, &web);

    let out = sandbox.run(&["run", "--yes", &file]);
    out.assert_exit(1);
    let report = read_report(&out.run_dir());
    assert_eq!(report["outcome"], "objective_missed", "{out}");
    assert_eq!(report["objective_ms"], 300);
    assert_eq!(report["objective_met"], false);
    assert_eq!(report["settled"], true, "the steady state held after the revert");
    assert_eq!(report["recovered_during_fault"], true);
    assert!(ms(&report, "/time_to_recover_ms") > 300);
    assert_measured_like_the_service(&report, &web);
    assert_eq!(web.fix_calls(), 1, "reverted");
    assert!(web.is_healthy());
}

#[test]
fn abort_rule_trips_on_a_service_that_never_heals_and_reverts() {
    let web = WebService::start(Heal::Never);
    let sandbox = Sandbox::new();
    let file = Scenario { fault_duration: "20s", abort: &["{ probe: web, failing_for: 500ms }"], ..Default::default() }
        .write(&sandbox, &web);

    let out = sandbox.run(&["run", "--yes", &file]);
    out.assert_exit(3);
    let report = read_report(&out.run_dir());
    assert_eq!(report["outcome"], "aborted", "{out}");
    let reason = report["abort_reason"].as_str().expect("abort_reason");
    assert!(reason.contains("failing_for 500ms"), "abort_reason: {reason}");
    assert_eq!(report["settled"], false);
    assert_eq!(report["objective_met"], false);
    assert_eq!(report["time_to_recover_ms"], Value::Null, "it only came back because of the revert, after the run");
    assert!(report["faults"][0]["reverted_at_ms"].is_u64(), "{report:#}");
    assert_eq!(report["still_broken"], serde_json::json!([]));

    // The revert is what healed it, no earlier than the rule allows.
    assert_eq!(web.break_calls(), 1);
    assert_eq!(web.fix_calls(), 1);
    assert!(web.is_healthy());
    let outages = web.outages();
    assert_eq!(outages.len(), 1);
    assert_eq!(outages[0].healed_by, Some(HealedBy::Fix));
    assert!(outages[0].duration().expect("fixed") >= Duration::from_millis(500), "{outages:?}");

    let journal = read_journal(&out.run_dir());
    assert_step_reverted_once(&journal, "run");
    assert_eq!(journal_events(&journal, "run_finished")[0]["outcome"], "aborted");
    let junit = std::fs::read_to_string(out.run_dir().join("junit.xml")).expect("junit.xml");
    assert!(junit.contains(r#"<failure message="run aborted: probe `web` has been failing"#), "{junit}");
    assert!(junit.contains(r#"type="aborted""#), "{junit}");
}

/// Starts a run against a service that never heals and waits until the fault is in place:
/// the service saw `/break` and the run journaled the injection as `done`.
fn start_never_healing_run(web: &WebService, sandbox: &Sandbox, revert_prefix: &'static str) -> Running {
    let file = Scenario { fault_duration: "20s", revert_prefix, ..Default::default() }.write(sandbox, web);
    let running = sandbox.spawn(&["run", "--yes", &file]);
    wait_until("the service to see /break", WAIT, || web.break_calls() > 0);
    sandbox.wait_for_journal("done", WAIT);
    assert!(!web.is_healthy());
    running
}

#[test]
fn sigint_mid_fault_aborts_and_reverts() {
    let web = WebService::start(Heal::Never);
    let sandbox = Sandbox::new();
    let running = start_never_healing_run(&web, &sandbox, "");

    running.signal("INT");
    let out = running.wait();
    out.assert_exit(3);
    let report = read_report(&out.run_dir());
    assert_eq!(report["outcome"], "aborted", "{out}");
    assert_eq!(report["abort_reason"], "interrupted by signal");
    assert!(report["faults"][0]["reverted_at_ms"].is_u64(), "{report:#}");
    assert!(out.stderr.contains("SIGINT"), "{out}");

    assert_eq!(web.fix_calls(), 1);
    assert!(web.is_healthy(), "healthy after the run");
    assert_step_reverted_once(&read_journal(&out.run_dir()), "run");
}

/// `recover` beside a run that is still going leaves it alone and says so: exit 0 (the run
/// reverts on its own), but never "nothing left injected" while its fault is in place.
#[test]
fn recover_beside_a_live_run_leaves_it_alone_without_saying_nothing_is_left() {
    let web = WebService::start(Heal::Never);
    let sandbox = Sandbox::new();
    let running = start_never_healing_run(&web, &sandbox, "");

    let recover = sandbox.run(&["recover"]);
    recover.assert_exit(0);
    assert!(recover.stderr.contains("is still running (it holds its lock); left alone"), "{recover}");
    assert!(recover.stderr.contains("1 run(s) still running left alone"), "{recover}");
    assert!(!recover.stderr.contains("nothing left injected"), "{recover}");
    assert_eq!(web.fix_calls(), 0, "recover did not touch the live run's fault");

    running.signal("INT");
    running.wait().assert_exit(3);
    assert!(web.is_healthy());
}

/// SIGHUP (the terminal closed) neither stops the run nor skips anything: the fault stays
/// until the run's own end, here a SIGINT, which reverts it.
#[test]
fn sighup_is_ignored_during_a_run() {
    let web = WebService::start(Heal::Never);
    let sandbox = Sandbox::new();
    let running = start_never_healing_run(&web, &sandbox, "");

    running.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    // An exited child stays a zombie until waited for: read its state, not just its entry.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", running.pid())).unwrap_or_default();
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    assert!(matches!(state, Some('S' | 'R' | 'D')), "still running after SIGHUP: {stat}");
    assert_eq!(web.fix_calls(), 0, "nothing reverted yet");
    running.signal("INT");
    let out = running.wait();
    out.assert_exit(3);
    assert!(out.stderr.contains("SIGHUP ignored during a run"), "{out}");
    let report = read_report(&out.run_dir());
    assert_eq!(report["abort_reason"], "interrupted by signal", "{out}");
    assert_eq!(web.fix_calls(), 1);
    assert!(web.is_healthy());
}

#[test]
fn second_signal_during_the_revert_does_not_skip_it() {
    let web = WebService::start(Heal::Never);
    let sandbox = Sandbox::new();
    // The revert takes a second, so the second signal lands while it runs.
    let running = start_never_healing_run(&web, &sandbox, "sleep 1 && ");

    running.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    running.signal("INT");
    let out = running.wait();
    out.assert_exit(3);
    assert!(out.stderr.contains("SIGTERM: aborting"), "{out}");
    // The second signal only stops retries: the revert under way still runs to its end.
    assert!(out.stderr.contains("SIGINT: reverts are no longer retried"), "{out}");
    let report = read_report(&out.run_dir());
    assert_eq!(report["outcome"], "aborted", "{out}");
    assert!(report["faults"][0]["reverted_at_ms"].is_u64(), "{report:#}");
    assert_eq!(web.fix_calls(), 1);
    assert!(web.is_healthy());
    assert_step_reverted_once(&read_journal(&out.run_dir()), "run");
}

/// A run killed outright (a cancelled CI job, the OOM killer) has already said, on stderr,
/// which run it is and where its state is — as a status line, and as the `run_started`
/// event with `--log-format json` — before anything was injected.
#[test]
fn a_killed_runs_log_already_names_its_run_id_and_directory() {
    for json in [false, true] {
        let web = WebService::start(Heal::Never);
        let sandbox = Sandbox::new();
        let file = Scenario { fault_duration: "20s", ..Default::default() }.write(&sandbox, &web);
        let format = if json { "json" } else { "text" };
        let mut running = sandbox.spawn(&["--log-format", format, "run", "--yes", &file]);
        sandbox.wait_for_journal("done", WAIT);
        running.kill();
        let out = running.wait();
        assert_eq!(out.code(), None, "killed by SIGKILL\n{out}");
        let run_dir = sandbox.only_run_dir();
        let run_id = run_dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let dir = run_dir.display().to_string();
        let injecting = out.stderr.find("Injecting").unwrap_or_else(|| panic!("no Injecting line\n{out}"));
        if json {
            let started: Vec<Value> = out
                .stderr
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["event"] == "run_started")
                .collect();
            assert_eq!(started.len(), 1, "{out}");
            assert_eq!(started[0]["run_id"], run_id.as_str(), "{out}");
            assert_eq!(started[0]["run_dir"], dir.as_str(), "{out}");
            // Where the run's state is: its folder here (its S3 URL with S3 state).
            assert_eq!(started[0]["state"], dir.as_str(), "{out}");
            let at = out.stderr.find("run_started").unwrap_or_default();
            assert!(at < injecting, "run_started before the first injection\n{out}");
        } else {
            let line = out
                .stderr
                .lines()
                .find(|l| l.trim_start().starts_with("Started "))
                .unwrap_or_else(|| panic!("no Started line\n{out}"));
            assert!(line.contains(&run_id) && line.contains(&dir), "{line}\n{out}");
            assert!(out.stderr.find(line).unwrap_or_default() < injecting, "{out}");
        }
        // What the log named is what `recover` needs.
        sandbox.run(&["recover", &run_id]).assert_exit(0);
        assert!(web.is_healthy());
    }
}

#[test]
fn sigkill_mid_fault_leaves_the_fault_for_recover_which_reverts_it_once() {
    let web = WebService::start(Heal::Never);
    let sandbox = Sandbox::new();
    let mut running = start_never_healing_run(&web, &sandbox, "");

    // While the run is alive, `recover` and `runs` leave it alone.
    let live = sandbox.run(&["recover"]);
    live.assert_exit(0);
    assert!(live.stderr.contains("is still running"), "{live}");
    assert_eq!(web.fix_calls(), 0, "recover reverted a live run");
    let runs = sandbox.run(&["runs"]);
    assert!(runs.stdout.contains("running"), "{runs}");

    running.kill();
    let out = running.wait();
    assert_eq!(out.code(), None, "killed by SIGKILL\n{out}");
    let run_dir = sandbox.only_run_dir();
    assert!(!run_dir.join("report.json").exists(), "a crashed run has no report");
    // Nothing reverted it: the service stays broken.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(web.fix_calls(), 0);
    assert!(!web.is_healthy());
    assert!(journal_events(&read_journal(&run_dir), "reverted").is_empty());
    let runs = sandbox.run(&["runs"]);
    runs.assert_exit(0);
    assert!(runs.stdout.contains("crashed, 1 injected"), "{runs}");

    let first = sandbox.run(&["recover"]);
    first.assert_exit(0);
    assert!(first.stderr.contains("1 step(s) reverted"), "{first}");
    assert_eq!(web.fix_calls(), 1);
    assert!(web.is_healthy());
    assert_step_reverted_once(&read_journal(&run_dir), "recover");

    let second = sandbox.run(&["recover"]);
    second.assert_exit(0);
    assert!(second.stderr.contains("0 step(s) reverted"), "{second}");
    assert_eq!(web.fix_calls(), 1, "a second recover does nothing");
    assert_step_reverted_once(&read_journal(&run_dir), "recover");
    let runs = sandbox.run(&["runs"]);
    assert!(runs.stdout.contains("crashed, recovered"), "{runs}");
}

#[test]
fn failed_revert_exits_5_and_recover_retries_it_once_it_can_work() {
    let web = WebService::start(Heal::Never);
    let sandbox = Sandbox::new();
    // The revert fails until the file `fixable` exists (a human fixing what blocked it).
    let file = Scenario { fault_duration: "500ms", revert_prefix: "test -e fixable && ", ..Default::default() }
        .write(&sandbox, &web);

    // Four attempts with 1s, 2s and 4s of backoff between them.
    let out = sandbox.run(&["run", "--yes", &file]);
    out.assert_exit(5);
    assert!(out.stderr.contains("REVERT FAILED: A HUMAN MUST ACT"), "{out}");
    let report = read_report(&out.run_dir());
    assert_eq!(report["outcome"], "revert_failed", "{out}");
    assert_eq!(report["settled"], false);
    assert_eq!(report["faults"][0]["revert_attempts"], 4);
    assert_eq!(report["faults"][0]["reverted_at_ms"], Value::Null);
    assert!(report["faults"][0]["revert_error"].is_string(), "{report:#}");
    let broken = report["still_broken"].as_array().expect("still_broken");
    assert_eq!(broken.len(), 1, "{report:#}");
    assert_eq!(broken[0]["fault"], "break-web");
    assert_eq!(broken[0]["kind"], "command");
    let cwd = sandbox.path().canonicalize().expect("canonical sandbox path");
    let revert = format!("test -e fixable && curl -fsS --max-time 5 -X POST {}", web.url("/fix"));
    let cwd = shlex::try_quote(cwd.to_str().expect("a UTF-8 path")).expect("no NUL").into_owned();
    assert_eq!(broken[0]["fix"], format!("cd {cwd} && {revert}"));
    assert_eq!(web.fix_calls(), 0);
    assert!(!web.is_healthy(), "still broken");
    let journal = read_journal(&out.run_dir());
    assert_eq!(journal_events(&journal, "revert_failed").len(), 1, "{journal:#?}");
    assert!(journal_events(&journal, "reverted").is_empty(), "{journal:#?}");

    sandbox.write("fixable", "");
    let recover = sandbox.run(&["recover"]);
    recover.assert_exit(0);
    assert_eq!(web.fix_calls(), 1);
    assert!(web.is_healthy());
    assert_step_reverted_once(&read_journal(&out.run_dir()), "recover");
}

#[test]
fn unusable_state_dir_exits_6_and_touches_nothing() {
    let web = WebService::start(Heal::Never);
    let sandbox = Sandbox::new();
    let file = Scenario::default().write(&sandbox, &web);
    // A file where the state directory should be.
    sandbox.write("state", "not a directory\n");

    let out = sandbox.run(&["run", "--yes", &file]);
    out.assert_exit(6);
    assert!(out.stderr.contains("cannot create the run directory"), "{out}");
    assert_eq!(web.requests(), 0);
}

#[test]
fn failing_baseline_injects_nothing() {
    let web = WebService::start(Heal::Never);
    web.break_now();
    let sandbox = Sandbox::new();
    let file = Scenario::default().write(&sandbox, &web);

    let out = sandbox.run(&["run", "--yes", &file]);
    out.assert_exit(4);
    let report = read_report(&out.run_dir());
    assert_eq!(report["outcome"], "blocked", "{out}");
    let reason = report["abort_reason"].as_str().expect("abort_reason");
    assert!(reason.contains("web (HTTP 503"), "abort_reason: {reason}");
    assert_eq!(report["baseline"][0]["ok"], false);
    assert_eq!(report["t_inject_ms"], Value::Null);
    assert_eq!(report["time_to_detect_ms"], Value::Null);
    assert_eq!(report["time_to_recover_ms"], Value::Null);
    assert_eq!(report["faults"][0]["inject_started_at_ms"], Value::Null);

    assert!(web.health_checks() > 0, "the baseline was checked");
    assert_eq!(web.break_calls(), 0, "nothing injected");
    assert_eq!(web.fix_calls(), 0, "nothing to revert");
    let journal = read_journal(&out.run_dir());
    assert!(journal_events(&journal, "intent").is_empty(), "{journal:#?}");
}

#[test]
fn validate_prints_every_problem_with_its_position_and_exits_2() {
    let sandbox = Sandbox::new();
    // Problems found by the validator (the file parses).
    sandbox.write_scenario(
        "semantic",
        r#"version: 1
name: bad name
steady_state:
  - name: web
    tcp: { address: "127.0.0.1" }
    every: 100ms
faults:
  - name: break-web
    command: { inject: "true", revert: " " }
    duration: 1s
    after: [brake-web]
abort:
  - { probe: wbe, failing_for: 1s }
recovery:
  within: 1s
"#,
    );
    // A typo in a field name.
    sandbox.write_scenario(
        "typo",
        r#"version: 1
name: typo
steady_stat:
  - name: web
    tcp: { address: "127.0.0.1:1" }
    every: 100ms
"#,
    );
    let good_web = WebService::start(Heal::Never);
    Scenario::default().write(&sandbox, &good_web);

    let out = sandbox.run(&["validate", "semantic.yaml", "typo.yaml", "it-web.yaml"]);
    out.assert_exit(2);
    let line = regex::Regex::new(r"^[^:\s]+\.yaml:\d+:\d+: [\w.\[\]]+: \S.*$").expect("regex");
    let diagnostics: Vec<&str> = out.stderr.lines().filter(|l| l.contains(".yaml:")).collect();
    for d in &diagnostics {
        assert!(line.is_match(d), "not FILE:LINE:COL: field.path: message: {d:?}\n{out}");
    }
    // Positions point at the offending value (or key, for an unknown field).
    let prefixes = [
        "semantic.yaml:2:7: name: ",
        "semantic.yaml:5:21: steady_state[0].tcp.address: ",
        "semantic.yaml:9:40: faults[0].command.revert: ",
        "semantic.yaml:11:13: faults[0].after[0]: ",
        "semantic.yaml:13:14: abort[0].probe: ",
        "typo.yaml:3:1: steady_stat: unknown field `steady_stat`, did you mean `steady_state`?",
    ];
    for p in prefixes {
        assert!(diagnostics.iter().any(|d| d.starts_with(p)), "no line starting with {p:?}\n{out}");
    }
    assert_eq!(diagnostics.len(), prefixes.len(), "{out}");
    assert!(out.stderr.contains("did you mean `break-web`"), "{out}");
    assert!(out.stderr.contains("Valid it-web.yaml (it-web)"), "{out}");
    assert!(out.stderr.contains("2 of 3 file(s) invalid"), "{out}");
    assert_eq!(out.stdout, "");
    assert!(!sandbox.state_dir().exists());
    assert_eq!(good_web.requests(), 0);
}

/// `validate` on what is valid but probably not meant: a value listed twice and a region
/// no partition has are warnings at their positions (exit 0); regions of two partitions,
/// and a CIDR listed twice, are errors (exit 2), all in one pass.
#[test]
fn validate_warns_of_repeats_and_unknown_regions_and_refuses_mixed_partitions() {
    let sandbox = Sandbox::new();
    let scenario = |region: &str, regions: &str, cidrs: &str| {
        format!(
            r#"version: 1
name: lists
environment:
  region: {region}
  accounts: ["123456789012", "123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
targets:
  app: {{ type: "iam:role", ids: [shop-app, shop-app] }}
  net: {{ type: "ec2:subnet", tags: {{ tier: web }} }}
steady_state:
  - name: ok
    command: {{ run: "true" }}
    every: 1s
faults:
  - name: ses
    service_outage: {{ target: app, actions: [ses:SendEmail], regions: {regions} }}
    duration: 1s
  - name: bh
    network_blackhole: {{ target: net, cidrs: {cidrs} }}
    duration: 1s
recovery:
  within: 5s
"#
        )
    };
    sandbox.write_scenario("warned", &scenario("us-east-7", "[us-east-7, us-west-2]", "[203.0.113.0/24]"));
    let out = sandbox.run(&["validate", "warned.yaml"]);
    out.assert_exit(0);
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("warning: ")).collect();
    let expected = [
        "warning: warned.yaml:4:11: environment.region: `us-east-7` is not an AWS region firedrill knows: did you mean `us-east-1`?",
        "warning: warned.yaml:5:30: environment.accounts[1]: `123456789012` is listed again (first on line 5): the repeat changes nothing: remove it",
        "warning: warned.yaml:8:44: targets.app.ids[1]: `shop-app` is listed again (first on line 8): the repeat changes nothing: remove it",
        "warning: warned.yaml:16:72: faults[0].service_outage.regions[0]: `us-east-7` is not an AWS region firedrill knows: did you mean `us-east-1`?",
    ];
    assert_eq!(warnings.len(), expected.len(), "{out}");
    for (w, e) in warnings.iter().zip(expected) {
        assert!(w.starts_with(e), "{w:?} does not start with {e:?}\n{out}");
    }
    assert!(out.stderr.contains("Valid warned.yaml (lists)"), "{out}");

    sandbox.write_scenario(
        "refused",
        &scenario("us-east-1", "[us-west-2, cn-north-1]", "[203.0.113.0/24, 203.0.113.0/24]"),
    );
    let out = sandbox.run(&["validate", "refused.yaml"]);
    out.assert_exit(2);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.contains("refused.yaml:")).collect();
    for e in [
        "refused.yaml:16:83: faults[0].service_outage.regions[1]: `cn-north-1` is in the aws-cn partition, but environment.region (`us-east-1`) is in aws",
        "refused.yaml:19:63: faults[1].network_blackhole.cidrs[1]: `203.0.113.0/24` is listed again (first on line 19)",
    ] {
        assert!(errors.iter().any(|l| l.contains(e)), "no {e:?}\n{out}");
    }
    assert_eq!(errors.len(), 2, "{out}");
}

#[test]
fn run_without_yes_off_a_terminal_refuses_and_injects_nothing() {
    let web = WebService::start(Heal::Never);
    let sandbox = Sandbox::new();
    let file = Scenario::default().write(&sandbox, &web);

    // stdin is /dev/null: not a terminal.
    let out = sandbox.run(&["run", &file]);
    out.assert_exit(2);
    assert!(out.stderr.contains("pass --yes"), "{out}");
    assert_eq!(web.requests(), 0, "not even a probe");
    assert!(sandbox.run_dirs().is_empty(), "no run was created");
}

#[test]
fn plan_touches_nothing() {
    let web = WebService::start(Heal::Never);
    let sandbox = Sandbox::new();
    let file = Scenario::default().write(&sandbox, &web);

    let out = sandbox.run(&["plan", &file]);
    out.assert_exit(0);
    assert!(out.stdout.contains(&format!("curl -fsS --max-time 5 -X POST {}", web.url("/break"))), "{out}");
    assert!(out.stdout.contains(&format!("curl -fsS --max-time 5 -X POST {}", web.url("/fix"))), "{out}");
    assert!(out.stdout.contains("Nothing was touched"), "{out}");
    assert_eq!(web.requests(), 0);
    assert!(!sandbox.state_dir().exists(), "plan created {}", sandbox.state_dir().display());
}

#[test]
fn report_rerenders_junit_with_every_test_case() {
    let web = WebService::start(Heal::After(Duration::from_millis(300)));
    let sandbox = Sandbox::new();
    let file =
        Scenario { name: "it-junit", fault_duration: "1s", within: "2s", ..Default::default() }.write(&sandbox, &web);
    let run = sandbox.run(&["run", "--yes", &file]);
    run.assert_exit(0);
    let run_dir = run.run_dir();
    let run_id = read_report(&run_dir)["run_id"].as_str().expect("run_id").to_string();

    let out = sandbox.run(&["report", &run_id, "--format", "junit"]);
    out.assert_exit(0);
    let xml = &out.stdout;
    assert_eq!(xml, &std::fs::read_to_string(run_dir.join("junit.xml")).expect("junit.xml"), "re-rendered as written");
    assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#), "{xml}");
    assert_well_formed(xml);
    assert!(
        xml.contains(r#"<testsuite name="firedrill.it-junit" tests="5" failures="0" errors="0" skipped="0""#),
        "{xml}"
    );
    // Named after the scenario's parts only, never after the objective (2s here).
    for case in ["baseline", "objective", "fault: break-web", "probe: web", "revert"] {
        assert!(
            xml.contains(&format!(r#"<testcase name="{case}" classname="firedrill.it-junit""#)),
            "no {case}: {xml}"
        );
    }
    assert!(xml.contains(&format!(r#"<property name="run_id" value="{run_id}"/>"#)), "{xml}");

    // `latest` finds the same run, and JSON re-renders the report as written.
    let json = sandbox.run(&["report", "latest", "--format", "json"]);
    json.assert_exit(0);
    let reread: Value = serde_json::from_str(&json.stdout).expect("report --format json is JSON");
    assert_eq!(reread, read_report(&run_dir));
}

/// A small well-formedness check: tags nest and close, attributes are quoted, and `&` only
/// starts an entity.
fn assert_well_formed(xml: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = xml.trim_start();
    rest = rest.strip_prefix("<?xml").and_then(|r| r.split_once("?>")).map_or(rest, |(_, r)| r);
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        assert_escaped(text);
        let Some(end) = rest[start..].find('>') else { panic!("unclosed tag in {xml}") };
        let tag = &rest[start + 1..start + end];
        rest = &rest[start + end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name.trim()), "mismatched </{name}> in {xml}");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
        // XML names: a letter first, then letters, digits and `-` (`system-out`).
        let name_ok = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        assert!(name_ok, "bad tag <{tag}> in {xml}");
        assert_eq!(attrs.matches('"').count() % 2, 0, "unbalanced quotes in <{tag}>");
        assert_escaped(attrs);
        if !self_closing {
            open.push(name);
        }
    }
    assert!(rest.trim().is_empty(), "text after the root element: {rest:?}");
    assert!(open.is_empty(), "unclosed elements {open:?} in {xml}");
}

fn assert_escaped(text: &str) {
    for (i, _) in text.match_indices('&') {
        let entity = text[i..].split_once(';').map(|(e, _)| e);
        assert!(matches!(entity, Some("&amp" | "&lt" | "&gt" | "&quot" | "&apos")), "bare `&` in {text:?}");
    }
}

/// The two kinds of objective, end to end through the CLI. A fault the service does not
/// feel ends `no_impact` (exit 8, not a pass) under `within`, and passes under
/// `sustain`; one it feels and heals from in time passes `within` but misses `sustain`
/// (exit 1). `runs` and `history` show each outcome and objective.
#[test]
fn no_impact_is_exit_8_and_sustain_misses_on_any_failing_probe() {
    let web = WebService::start(Heal::After(Duration::from_millis(300)));
    let sandbox = Sandbox::new();
    let harmless = |name: &'static str| {
        let s = Scenario { name, fault_duration: "1s", ..Default::default() };
        s.yaml(&web).replace(&format!("curl -fsS --max-time 5 -X POST {}", web.url("/break")), "true")
    };
    let sustain = |yaml: String| yaml.replace("  within: 5s\n", "  objective: sustain\n");

    sandbox.write_scenario("it-untouched", &harmless("it-untouched"));
    let out = sandbox.run(&["run", "--yes", "it-untouched.yaml"]);
    out.assert_exit(8);
    let report = read_report(&out.run_dir());
    assert_eq!((report["outcome"].as_str(), report["objective"].as_str()), (Some("no_impact"), Some("recover")));
    assert_eq!(report["objective_met"], false);
    assert!(report["faults"][0]["reverted_at_ms"].is_u64(), "every fault reverted all the same");
    assert!(out.stderr.contains("no impact: every fault was reverted, but no probe ever failed"), "{out}");

    sandbox.write_scenario("it-absorbed", &sustain(harmless("it-absorbed")));
    let out = sandbox.run(&["run", "--yes", "it-absorbed.yaml"]);
    out.assert_exit(0);
    let report = read_report(&out.run_dir());
    assert_eq!((report["outcome"].as_str(), report["objective"].as_str()), (Some("passed"), Some("sustain")));
    assert!(out.stderr.contains("sustained: no probe failed"), "{out}");

    let felt = Scenario { name: "it-felt", fault_duration: "1s", ..Default::default() };
    sandbox.write_scenario("it-felt", &sustain(felt.yaml(&web)));
    let out = sandbox.run(&["run", "--yes", "it-felt.yaml"]);
    out.assert_exit(1);
    let report = read_report(&out.run_dir());
    assert_eq!(report["outcome"], "objective_missed", "{out}");
    assert!(report["time_to_recover_ms"].as_u64().is_some_and(|t| t < 5000), "it healed well within 5s: {report}");
    assert!(out.stderr.contains("the sustain objective allows no impact"), "{out}");

    let runs = sandbox.run(&["runs"]);
    runs.assert_exit(0);
    for outcome in ["no_impact", "passed", "objective_missed"] {
        assert!(runs.stdout.contains(outcome), "{outcome}: {runs}");
    }
    // Times read as the reports write them (`2.5s`, `850ms`), never as raw milliseconds.
    let felt_row = runs.stdout.lines().find(|l| l.contains("it-felt")).unwrap();
    let ttr = report["time_to_recover_ms"].as_u64().unwrap();
    assert!(felt_row.contains(&format!(" {} ", firedrill::report::markdown::duration(ttr))), "{felt_row}");
    assert!(!runs.stdout.lines().skip(1).any(|l| l.split_whitespace().any(|w| w.ends_with("000ms"))), "{runs}");
    let history = sandbox.run(&["history", "--format", "json"]);
    history.assert_exit(0);
    let rows: Value = serde_json::from_str(&history.stdout).unwrap();
    let mut seen: Vec<(String, String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("scenario"), s("outcome"), s("objective"))
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("it-absorbed".to_string(), "passed".to_string(), "sustain".to_string()),
            ("it-felt".into(), "objective_missed".into(), "sustain".into()),
            ("it-untouched".into(), "no_impact".into(), "recover".into()),
        ]
    );
    let text = sandbox.run(&["history", "--scenario", "it-felt"]);
    assert!(text.stdout.contains("objective sustain"), "{text}");
}
