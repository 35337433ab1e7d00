//! The CI examples of docs/ci.md, run: `docs/ci/github-actions.yml` and
//! `docs/ci/gitlab-ci.yml` are parsed, and each `run:` step (GitHub) or `script:` and
//! `after_script:` (GitLab) runs with bash in a temporary workspace, in the file's order,
//! under the file's `if:` conditions, environment and `allow_failure`, with `firedrill`
//! on PATH being the binary under test, against a local game day ([`WebService`]).
//! Only what needs the network or a platform is left out: `uses:` actions (checkout,
//! credentials, artifact upload: their `path` is checked to exist) and the step `install`.
//!
//! They assert what docs/ci.md promises: the exit codes that fail or warn, the timeout
//! taken from `longest_run_secs`, `recover` after a failure or cancel, junit.xml and
//! report.md collected for publishing, and a cancel the way GitHub does it (SIGINT to the
//! step's shell, SIGTERM 7.5 s later, the process tree killed 2.5 s after) leaving every
//! fault reverted.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::web::{Heal, WebService};
use crate::support::{BIN, Sandbox, read_report, wait_until};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// How the game day goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Day {
    /// The fault breaks the service; it heals within the objective: exit 0.
    Pass,
    /// The fault breaks nothing: exit 8.
    NoImpact,
    /// The service is broken before the run: nothing injected, exit 4.
    Blocked,
    /// The fault lasts a minute; the job is cancelled while it is in place.
    Cancelled,
}

fn scenario(web: &WebService, day: Day) -> String {
    let (inject, revert) = match day {
        Day::NoImpact => ("true".to_string(), "true".to_string()),
        _ => (
            format!("curl -fsS --max-time 5 -X POST {}", web.url("/break")),
            format!("curl -fsS --max-time 5 -X POST {}", web.url("/fix")),
        ),
    };
    let duration = if day == Day::Cancelled { "60s" } else { "1s" };
    format!(
        r#"version: 1
name: ci-gate
steady_state:
  - name: web
    http: {{ url: "{health}", expect_status: [200], timeout: 2s }}
    every: 100ms
faults:
  - name: break-web
    command: {{ inject: "{inject}", revert: "{revert}", timeout: 10s }}
    duration: {duration}
abort:
  - {{ max_duration: 2m }}
recovery:
  within: 10s
  stable_for: 300ms
  settle_timeout: 15s
"#,
        health = web.url("/health"),
    )
}

/// A workspace (the checkout a CI job sees) with the scenario, and `firedrill` on PATH.
struct Workspace {
    sandbox: Sandbox,
    web: WebService,
    scratch: tempfile::TempDir,
}

impl Workspace {
    fn new(day: Day) -> Workspace {
        let web = WebService::start(match day {
            Day::Pass => Heal::After(Duration::from_millis(500)),
            _ => Heal::Never,
        });
        if day == Day::Blocked {
            web.break_now();
        }
        let sandbox = Sandbox::new();
        sandbox.write_scenario("gate", &scenario(&web, day));
        let scratch = tempfile::tempdir().unwrap();
        std::fs::create_dir(scratch.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(BIN, scratch.path().join("bin/firedrill")).unwrap();
        Workspace { sandbox, web, scratch }
    }

    fn path(&self) -> &Path {
        self.sandbox.path()
    }

    /// The one run directory the job left.
    fn run_dir(&self) -> PathBuf {
        let runs: Vec<PathBuf> = std::fs::read_dir(self.path().join(".firedrill/runs"))
            .expect("the job left .firedrill/runs")
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(runs.len(), 1, "{runs:?}");
        runs[0].clone()
    }

    /// The reports collected for publishing (`gameday/RUN/`), checked to be there.
    fn published(&self, path: &str) -> PathBuf {
        let run = self.run_dir();
        let dir = self.path().join(path).join(run.file_name().unwrap());
        for f in ["junit.xml", "report.md", "report.json", "report.html"] {
            assert!(dir.join(f).is_file(), "{f} was not collected into {}", dir.display());
        }
        dir
    }
}

/// What one shell step did.
#[derive(Debug)]
struct Step {
    code: i32,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
}

/// Runs `script` like a CI runner: `bash -eo pipefail` in its own process group, in the
/// workspace, with `env`. With `cancel`, once the fault is in place the shell (only the
/// shell) gets SIGINT, then SIGTERM 7.5 s later, and its process group SIGKILL 2.5 s
/// after that, as GitHub cancels a step.
fn shell(ws: &Workspace, name: &str, script: &str, env: &BTreeMap<String, String>, cancel: bool) -> Step {
    let file = ws.scratch.path().join(format!("{name}.sh"));
    std::fs::write(&file, script).unwrap();
    let output = ws.scratch.path().join(format!("{name}.output"));
    std::fs::write(&output, "").unwrap();
    let (out_path, err_path) =
        (ws.scratch.path().join(format!("{name}.stdout")), ws.scratch.path().join(format!("{name}.stderr")));
    let path = format!("{}:{}", ws.scratch.path().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut child = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&file)
        .current_dir(ws.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", ws.scratch.path())
        .env("NO_COLOR", "1")
        .env("FIREDRILL_KEY_FILE", ws.sandbox.key_file())
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", ws.scratch.path().join("summary.md"))
        .envs(env)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0)
        .spawn()
        .expect("start bash");
    let signal = |sig: &str, target: String| {
        let _ = Command::new("kill").args([sig, &target]).status();
    };
    if cancel {
        wait_until("the fault to be injected", Duration::from_secs(30), || !ws.web.outages().is_empty());
        signal("-INT", child.id().to_string());
        let deadline = Instant::now() + Duration::from_millis(7500);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if child.try_wait().unwrap().is_none() {
            signal("-TERM", child.id().to_string());
            std::thread::sleep(Duration::from_millis(2500));
            signal("-KILL", format!("-{}", child.id()));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            signal("-KILL", format!("-{}", child.id()));
            panic!("{name} still running after 2 minutes: {}", std::fs::read_to_string(&err_path).unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let outputs = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    use std::os::unix::process::ExitStatusExt;
    Step {
        code: status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        outputs,
    }
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter().map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect()
        })
        .unwrap_or_default()
}

/// One job of docs/ci/github-actions.yml, run.
struct GithubJob {
    steps: BTreeMap<String, Step>,
    /// The run step's `timeout-minutes`, evaluated.
    run_timeout_minutes: Option<u64>,
    failed: bool,
}

fn github(ws: &Workspace, extra_env: &[(&str, &str)], cancel: bool) -> GithubJob {
    let workflow = load("docs/ci/github-actions.yml");
    assert_eq!(workflow["defaults"]["run"]["shell"], "bash", "the steps are run as `shell: bash`");
    let job = &workflow["jobs"]["gameday"];
    let mut env = string_map(&job["env"]);
    assert!(env.contains_key("SCENARIO"), "the job names its scenario in env.SCENARIO");
    env.insert("SCENARIO".into(), "gate.yaml".into());
    for (k, v) in extra_env {
        env.insert(k.to_string(), v.to_string());
    }
    let (mut failed, mut cancelled) = (false, false);
    let mut steps = BTreeMap::new();
    let mut run_timeout_minutes = None;
    let mut uploaded = Vec::new();
    for step in job["steps"].as_array().expect("steps") {
        let cond = step["if"].as_str().unwrap_or("success()");
        let runs = match cond {
            "success()" => !failed && !cancelled,
            "always()" => true,
            "failure() || cancelled()" => failed || cancelled,
            other => panic!("a condition this test does not know: {other}"),
        };
        if let Some(action) = step["uses"].as_str() {
            if runs && action.starts_with("actions/upload-artifact") {
                uploaded.push(step["with"]["path"].as_str().expect("upload path").to_string());
            }
            continue;
        }
        let id = step["id"].as_str().unwrap_or_else(|| panic!("every run step has an id: {step}")).to_string();
        if id == "install" || !runs {
            continue;
        }
        if let Some(t) = step["timeout-minutes"].as_str() {
            let expr = t.trim().strip_prefix("${{").and_then(|t| t.strip_suffix("}}")).expect("an expression").trim();
            let inner = expr
                .strip_prefix("fromJSON(steps.")
                .and_then(|e| e.strip_suffix(')'))
                .expect("fromJSON(steps.X.outputs.Y)");
            let (from, output) = inner.split_once(".outputs.").unwrap();
            let step: &Step = &steps[from];
            run_timeout_minutes = Some(step.outputs[output].parse().unwrap());
        }
        let mut step_env = env.clone();
        step_env.extend(string_map(&step["env"]));
        let script = step["run"].as_str().expect("run");
        let result = shell(ws, &id, script, &step_env, cancel && id == "run");
        if cancel && id == "run" {
            cancelled = true;
        } else if result.code != 0 {
            failed = true;
        }
        steps.insert(id, result);
    }
    assert_eq!(uploaded, ["gameday/"], "the reports are published from gameday/");
    GithubJob { steps, run_timeout_minutes, failed }
}

/// The report's outcome.
fn outcome(run_dir: &Path) -> String {
    read_report(run_dir)["outcome"].as_str().unwrap().to_string()
}

#[test]
fn github_gate_passes_a_good_game_day_with_its_timeout_from_the_plan() {
    let ws = Workspace::new(Day::Pass);
    let job = github(&ws, &[], false);
    let run = &job.steps["run"];
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("Started run "), "the run id is logged first: {run:?}");
    assert!(!job.failed, "{:?}", job.steps);
    for step in ["validate", "plan", "run", "recover", "publish"] {
        assert_eq!(job.steps[step].code, 0, "{step}: {:?}", job.steps[step]);
    }
    let plan: Value = serde_json::from_slice(&std::fs::read(ws.path().join("plan.json")).unwrap()).unwrap();
    let longest = plan["longest_run_secs"].as_u64().unwrap();
    let minutes = job.run_timeout_minutes.expect("the run step's timeout comes from the plan");
    assert!(minutes * 60 >= longest && minutes * 60 <= longest + 120, "{minutes} min for a run of at most {longest} s");
    assert_eq!(outcome(&ws.run_dir()), "passed");
    let published = ws.published("gameday");
    assert!(std::fs::read_to_string(published.join("junit.xml")).unwrap().contains("<testsuite"));
    let summary = std::fs::read_to_string(ws.scratch.path().join("summary.md")).unwrap();
    assert!(summary.contains(&std::fs::read_to_string(published.join("report.md")).unwrap()), "{summary}");
}

#[test]
fn github_gate_fails_on_no_impact_and_still_recovers_and_publishes() {
    let ws = Workspace::new(Day::NoImpact);
    let job = github(&ws, &[], false);
    let run = &job.steps["run"];
    assert_eq!(run.code, 8, "{run:?}");
    assert!(run.stdout.contains("::error title=firedrill exit 8::"), "{run:?}");
    assert!(job.failed);
    assert_eq!(job.steps["recover"].code, 0, "{:?}", job.steps["recover"]);
    assert_eq!(outcome(&ws.run_dir()), "no_impact");
    ws.published("gameday");
}

#[test]
fn github_gate_warns_on_blocked_unless_told_to_fail() {
    for (setting, code) in [("warn", 0), ("fail", 4)] {
        let ws = Workspace::new(Day::Blocked);
        let job = github(&ws, &[("FIREDRILL_BLOCKED", setting)], false);
        let run = &job.steps["run"];
        assert_eq!(run.code, code, "FIREDRILL_BLOCKED={setting}: {run:?}");
        assert_eq!(run.outputs["exit_code"], "4");
        assert!(run.stdout.contains("::warning title=firedrill blocked (exit 4)::"), "{run:?}");
        assert_eq!(job.failed, code != 0);
        assert_eq!(ws.web.break_calls(), 0, "nothing may be injected when blocked");
        assert_eq!(outcome(&ws.run_dir()), "blocked");
        ws.published("gameday");
    }
}

/// A cancel signals only the step's shell: the step passes it on, firedrill reverts
/// before GitHub's SIGTERM (7.5 s) and exits 3; recover finds nothing left; the reports
/// are published.
#[test]
fn github_gate_cancelled_mid_fault_reverts_before_the_runner_kills_it() {
    let ws = Workspace::new(Day::Cancelled);
    let job = github(&ws, &[], true);
    let run = &job.steps["run"];
    assert_eq!(run.code, 3, "the run step did not end aborted within 7.5 s of SIGINT: {run:?}");
    assert!(ws.web.is_healthy(), "the service is still broken after the cancel");
    assert_eq!(ws.web.fix_calls(), 1, "the fault was not reverted exactly once");
    assert_eq!(outcome(&ws.run_dir()), "aborted");
    let recover = &job.steps["recover"];
    assert_eq!(recover.code, 0, "{recover:?}");
    assert!(recover.stderr.contains("nothing left injected"), "{recover:?}");
    ws.published("gameday");
}

/// The jobs of docs/ci/gitlab-ci.yml, run in stage order; each job's `after_script` runs
/// whatever its script did. Returns each job's script and after_script results.
fn gitlab(ws: &Workspace, job_timeout: Option<u64>) -> BTreeMap<String, (Step, Option<Step>, bool)> {
    let config = load("docs/ci/gitlab-ci.yml");
    let mut vars = string_map(&config["variables"]);
    assert!(vars.contains_key("SCENARIO"), "the pipeline names its scenario in variables.SCENARIO");
    vars.insert("SCENARIO".into(), "gate.yaml".into());
    let mut results = BTreeMap::new();
    let lines = |v: &Value| -> String {
        v.as_array()
            .expect("a list of lines")
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    for stage in config["stages"].as_array().unwrap() {
        let jobs = config.as_object().unwrap().iter().filter(|(_, j)| j.get("stage") == Some(stage));
        for (name, job) in jobs {
            let mut env = vars.clone();
            let timeout =
                job["timeout"].as_str().map(|t| humantime::parse_duration(t).unwrap().as_secs()).unwrap_or(3600);
            env.insert("CI_JOB_TIMEOUT".into(), job_timeout.unwrap_or(timeout).to_string());
            let step = shell(ws, name, &lines(&job["script"]), &env, false);
            let allowed: Vec<i64> = job["allow_failure"]["exit_codes"]
                .as_array()
                .map(|c| c.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            let ok = step.code == 0 || allowed.contains(&(step.code as i64));
            env.insert("CI_JOB_STATUS".into(), if step.code == 0 { "success" } else { "failed" }.into());
            let after = job.get("after_script").map(|a| shell(ws, &format!("{name}-after"), &lines(a), &env, false));
            if let Some(dotenv) = job["artifacts"]["reports"]["dotenv"].as_str() {
                let text = std::fs::read_to_string(ws.path().join(dotenv)).unwrap_or_default();
                vars.extend(
                    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())),
                );
            }
            if let Some(paths) = job["artifacts"]["paths"].as_array() {
                for p in paths {
                    assert!(ws.path().join(p.as_str().unwrap()).exists(), "{name}: artifact {p} is missing");
                }
            }
            results.insert(name.clone(), (step, after, ok));
            if !ok {
                return results;
            }
        }
    }
    results
}

#[test]
fn gitlab_gate_passes_fails_on_no_impact_and_warns_on_blocked() {
    for (day, code, ok) in [(Day::Pass, 0, true), (Day::NoImpact, 8, false), (Day::Blocked, 4, true)] {
        let ws = Workspace::new(day);
        let jobs = gitlab(&ws, None);
        let (run, after, passed) = &jobs["gameday"];
        assert_eq!(run.code, code, "{day:?}: {run:?}");
        assert_eq!(*passed, ok, "{day:?}: allow_failure");
        let after = after.as_ref().expect("after_script");
        assert_eq!(after.code, 0, "{day:?}: {after:?}");
        assert!(after.stderr.contains("nothing left injected"), "{day:?}: recover did not run: {after:?}");
        ws.published("gameday");
        let junit = config_junit_glob();
        assert_eq!(junit, "gameday/*/junit.xml");
    }
}

/// A job timeout shorter than the plan's longest run stops the job before anything runs.
#[test]
fn gitlab_gate_refuses_a_run_longer_than_the_job_timeout() {
    let ws = Workspace::new(Day::Pass);
    let jobs = gitlab(&ws, Some(10));
    let (run, _, passed) = &jobs["gameday"];
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!passed);
    assert!(run.stderr.contains("raise timeout"), "{run:?}");
    assert!(!ws.path().join(".firedrill/runs").exists(), "a run started");
    assert_eq!(ws.web.break_calls(), 0);
}

fn config_junit_glob() -> String {
    load("docs/ci/gitlab-ci.yml")["gameday"]["artifacts"]["reports"]["junit"].as_str().unwrap().to_string()
}

/// The `code | name | ...` rows of the first table under `heading` in a Markdown file.
fn table(path: &str, heading: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    text.lines()
        .skip_while(|l| l.trim() != heading)
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect::<Vec<_>>())
        .filter(|cells| cells[0].parse::<u8>().is_ok())
        .collect()
}

/// docs/ci.md's gate table has the README's codes and names, and the example files do
/// what it says: only what it marks "warn" is let through (GitLab's `allow_failure`).
#[test]
fn the_gate_table_is_the_readme_exit_code_table() {
    let readme = table("README.md", "### Exit codes");
    let gate = table("docs/ci.md", "## Exit codes");
    let names = |t: &[Vec<String>]| t.iter().map(|r| (r[0].clone(), r[1].clone())).collect::<Vec<_>>();
    assert_eq!(names(&gate), names(&readme), "docs/ci.md's exit codes are not the README's");
    let verdict =
        |r: &Vec<String>| r[2].trim_matches('*').split(|c: char| !c.is_alphabetic()).next().unwrap().to_string();
    let warn: Vec<i64> = gate.iter().filter(|r| verdict(r) == "warn").map(|r| r[0].parse().unwrap()).collect();
    let pass: Vec<i64> = gate.iter().filter(|r| verdict(r) == "pass").map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(pass, [0]);
    assert_eq!(warn, [4]);
    assert!(gate.iter().all(|r| ["pass", "warn", "fail"].contains(&verdict(r).as_str())), "{gate:?}");
    let allowed: Vec<i64> = load("docs/ci/gitlab-ci.yml")["gameday"]["allow_failure"]["exit_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_i64().unwrap())
        .collect();
    assert_eq!(allowed, warn, "GitLab's allow_failure is not docs/ci.md's \"warn\"");
}
