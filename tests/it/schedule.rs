//! Game days on a calendar (`firedrill schedule`): `run-due` skips a due occurrence for a
//! freeze, a gate alarm in ALARM (moto), an HTTP gate (a server on 127.0.0.1), the
//! emergency halt and a lease held by another run — each recorded, exit 9, nothing
//! touched — and runs it when every check says go; each `export` format is read back by a
//! real parser.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::support::moto::{Moto, stop_web_scenario};
use crate::support::{Sandbox, read_journal};

/// A local scenario that needs nothing: passes with `objective: sustain`.
const LOCAL: &str = r#"version: 1
name: sched-local
steady_state:
  - name: ok
    command: { run: "true" }
    every: 100ms
faults:
  - name: f
    duration: 200ms
    command: { inject: "true", revert: "true" }
recovery:
  objective: sustain
  stable_for: 100ms
  settle_timeout: 10s
"#;

/// 1 December 2026, 10:00 UTC: every calendar here schedules `0 10 1 * *` in UTC.
const AT: &str = "2026-12-01T10:05:00Z";

fn calendar(sb: &Sandbox, scenario: &str, extra: &str) -> PathBuf {
    sb.write("gd.yaml", scenario);
    sb.write(
        "calendar.yaml",
        &format!("version: 1\ntimezone: UTC\ngamedays:\n  - scenario: gd.yaml\n    id: monthly\n    cron: \"0 10 1 * *\"\n{extra}"),
    )
}

fn run_due(sb: &Sandbox, cal: &Path) -> crate::support::Finished {
    sb.run(&["schedule".as_ref(), "run-due".as_ref(), cal.as_os_str(), "--now".as_ref(), AT.as_ref()])
}

fn log(sb: &Sandbox) -> Vec<serde_json::Value> {
    std::fs::read_to_string(sb.state_dir().join("schedule/log.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The skip is recorded once, with its reason, no run directory was made, `due` no longer
/// lists it, the next poll does nothing (exit 0), and `history` shows it.
fn assert_skipped_once(sb: &Sandbox, cal: &Path, reason: &str) {
    let records = log(sb);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["outcome"], "skipped");
    assert_eq!(records[0]["key"], "monthly@2026-12-01T10:00");
    assert!(records[0]["reason"].as_str().unwrap().contains(reason), "{records:?}");
    assert!(sb.run_dirs().is_empty(), "a skip makes no run");
    let due = sb.run(&["schedule".as_ref(), "due".as_ref(), cal.as_os_str(), "--now".as_ref(), AT.as_ref()]);
    due.assert_exit(0);
    assert!(due.stdout.trim().is_empty(), "{due}");
    run_due(sb, cal).assert_exit(0);
    assert_eq!(log(sb).len(), 1, "not retried");
    let history = sb.run(&["history"]);
    history.assert_exit(0);
    assert!(history.stdout.contains("monthly  skipped") && history.stdout.contains(reason), "{history}");
}

#[test]
fn a_frozen_occurrence_is_skipped_recorded_and_not_retried() {
    let sb = Sandbox::new();
    let cal = calendar(&sb, LOCAL, "freeze:\n  - { from: 2026-11-30, to: 2026-12-02, reason: release week }\n");
    let next = sb.run(&[
        "schedule".as_ref(),
        "next".as_ref(),
        cal.as_os_str(),
        "--now".as_ref(),
        "2026-11-01T00:00:00Z".as_ref(),
        "--count".as_ref(),
        "2".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    next.assert_exit(0);
    let list: serde_json::Value = serde_json::from_str(&next.stdout).unwrap();
    assert_eq!(list[0]["start_utc"], "2026-11-01T10:00:00Z");
    assert_eq!(list[0]["skipped"], serde_json::Value::Null);
    assert_eq!(list[1]["skipped"]["detail"], "release week");
    let out = run_due(&sb, &cal);
    out.assert_exit(9);
    assert!(
        out.stderr.contains("skipped monthly@2026-12-01T10:00: freeze: release week; nothing was touched"),
        "{out}"
    );
    assert_skipped_once(&sb, &cal, "freeze: release week");
}

/// A minimal HTTP server on 127.0.0.1 answering every request with `status`, for at most
/// `n` requests (then it stops).
fn http_status(status: u16, n: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().take(n) {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(s, "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    format!("http://127.0.0.1:{port}/api/incidents/open")
}

#[test]
fn an_http_gate_skips_during_an_open_incident_and_lets_the_game_day_run_otherwise() {
    let sb = Sandbox::new();
    let open = http_status(200, 4);
    let cal = calendar(&sb, LOCAL, &format!("gates:\n  http_ok: [{{ url: \"{open}\", expect_status: 404 }}]\n"));
    let out = run_due(&sb, &cal);
    out.assert_exit(9);
    assert!(out.stderr.contains("answered 200, expected 404"), "{out}");
    assert_skipped_once(&sb, &cal, "answered 200, expected 404");

    // No incident open: the occurrence runs as `run --yes` would, with its seed.
    let sb = Sandbox::new();
    let closed = http_status(404, 4);
    let cal = calendar(&sb, LOCAL, &format!("gates:\n  http_ok: [{{ url: \"{closed}\", expect_status: 404 }}]\n"));
    let out = run_due(&sb, &cal);
    out.assert_exit(0);
    let records = log(&sb);
    assert_eq!(records.iter().map(|r| r["outcome"].as_str().unwrap()).collect::<Vec<_>>(), ["started", "passed"]);
    let run = sb.only_run_dir();
    assert_eq!(records[1]["run"], run.file_name().unwrap().to_string_lossy().as_ref());
    run_due(&sb, &cal).assert_exit(0);
    assert_eq!(sb.run_dirs().len(), 1, "an occurrence runs once");
    let history = sb.run(&["history"]);
    assert!(history.stdout.contains("monthly  passed  run "), "{history}");
}

#[test]
fn a_gate_alarm_in_alarm_on_moto_skips_and_touches_nothing() {
    let moto = Moto::start();
    moto.seed(&[]);
    moto.boto("cw.set_alarm_state(AlarmName='shop-5xx', StateValue='ALARM', StateReason='firedrill test')");
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let cal = calendar(&sb, &stop_web_scenario("sched-aws", "1s"), "gates:\n  alarms_ok: [shop-5xx]\n");
    let out = run_due(&sb, &cal);
    out.assert_exit(9);
    assert!(out.stderr.contains("gate: alarm `shop-5xx` is in ALARM"), "{out}");
    assert_eq!(moto.snapshot(), before, "nothing touched");
    assert_skipped_once(&sb, &cal, "gate: alarm `shop-5xx` is in ALARM");
}

#[test]
fn the_emergency_halt_skips_a_due_game_day() {
    let moto = Moto::start();
    moto.seed(&[]);
    let sb = moto.sandbox();
    sb.run(&["halt", "--reason", "db migration"]).assert_exit(0);
    let before = moto.snapshot();
    let cal = calendar(&sb, &stop_web_scenario("sched-aws", "1s"), "");
    let out = run_due(&sb, &cal);
    out.assert_exit(9);
    assert!(out.stderr.contains("halt set: ") && out.stderr.contains("db migration"), "{out}");
    assert_eq!(moto.snapshot(), before, "nothing touched");
    assert_skipped_once(&sb, &cal, "halt set: ");
}

#[test]
fn a_lease_held_by_another_run_skips_the_game_day() {
    let moto = Moto::start();
    moto.seed(&[]);
    let a = moto.sandbox();
    let file_a = a.write_scenario("holder", &stop_web_scenario("holder", "30s"));
    let holder = a.spawn(&["run".as_ref(), "--yes".as_ref(), file_a.as_os_str()]);
    a.wait_for_journal("done", Duration::from_secs(60));
    let held = moto.snapshot();

    let b = moto.sandbox();
    let cal = calendar(&b, &stop_web_scenario("sched-aws", "1s"), "");
    let out = run_due(&b, &cal);
    out.assert_exit(9);
    assert!(out.stderr.contains("lease held: ") && out.stderr.contains("is leased by run"), "{out}");
    assert_eq!(moto.snapshot(), held, "the skipped game day touched nothing");
    assert!(b.run_dirs().is_empty());
    assert_skipped_once(&b, &cal, "lease held: ");
    holder.wait().assert_exit(0);
    assert!(a.run_dirs().iter().all(|d| !read_journal(d).is_empty()));
}

// ---- exports, read back by real parsers ----

fn shipped_calendar() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/calendar.yaml")
}

fn export(to: &str, out: &Path) -> Vec<(String, String)> {
    export_with(to, out, &[])
}

/// The state the S3 exports are made for.
const S3_STATE: &str = "s3://acme-gamedays/staging";

/// `schedule export` with `FIREDRILL_STATE=s3://…`: no AWS call is needed to write them.
fn export_s3(to: &str, out: &Path) -> Vec<(String, String)> {
    export_with(to, out, &[("FIREDRILL_STATE", S3_STATE)])
}

fn export_with(to: &str, out: &Path, env: &[(&str, &str)]) -> Vec<(String, String)> {
    let sb = Sandbox::new();
    let cal = shipped_calendar();
    sb.run_with_env(
        &[
            "schedule".as_ref(),
            "export".as_ref(),
            cal.as_os_str(),
            "--to".as_ref(),
            to.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
        env,
    )
    .assert_exit(0);
    let mut files: Vec<(String, String)> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn the_crontab_export_is_one_valid_cron_line_per_game_day() {
    let dir = tempfile::tempdir().unwrap();
    let files = export("crontab", dir.path());
    assert_eq!(files.len(), 1);
    let lines: Vec<&str> = files[0].1.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 2, "{}", files[0].1);
    for (line, id) in lines.iter().zip(["az-failure", "ebs-detach"]) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let expr = fields[..5].join(" ");
        // The `cron` crate wants seconds first.
        let schedule: cron::Schedule = format!("0 {expr}").parse().unwrap_or_else(|e| panic!("{line}: {e}"));
        let start = "2026-01-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let fires: Vec<_> = schedule.after(&start).take(2).collect();
        assert_eq!((fires[1] - fires[0]).num_minutes(), 15, "{line}");
        let command = shlex::split(&fields[5..].join(" ")).unwrap();
        assert_eq!(command[0], "firedrill");
        let at = command.iter().position(|a| a == "run-due").unwrap();
        assert_eq!(command[at + 1], shipped_calendar().display().to_string());
        assert_eq!(command[command.len() - 2..], ["--gameday".to_string(), id.to_string()]);
    }
}

#[test]
fn the_systemd_export_parses_as_units() {
    let dir = tempfile::tempdir().unwrap();
    let files = export("systemd", dir.path());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "firedrill-az-failure.service",
            "firedrill-az-failure.timer",
            "firedrill-ebs-detach.service",
            "firedrill-ebs-detach.timer"
        ]
    );
    // Python's configparser (strict: duplicate sections or keys fail) reads each unit.
    let script = r#"
import configparser, json, sys
out = {}
for path in sys.argv[1:]:
    c = configparser.ConfigParser(strict=True, interpolation=None)
    c.optionxform = str
    with open(path) as f:
        c.read_file(f)
    out[path.rsplit('/', 1)[1]] = {s: dict(c[s]) for s in c.sections()}
print(json.dumps(out))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(files.iter().map(|(n, _)| dir.path().join(n)))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let units: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let service = &units["firedrill-az-failure.service"];
    assert_eq!(service["Service"]["Type"], "oneshot");
    assert_eq!(service["Service"]["SuccessExitStatus"], "9");
    let exec = shlex::split(service["Service"]["ExecStart"].as_str().unwrap()).unwrap();
    assert_eq!(
        exec[exec.len() - 4..],
        ["run-due".to_string(), shipped_calendar().display().to_string(), "--gameday".into(), "az-failure".into()]
    );
    let timer = &units["firedrill-ebs-detach.timer"];
    assert_eq!(timer["Timer"]["OnCalendar"], "*:0/15");
    assert_eq!(timer["Timer"]["Persistent"], "true");
    assert_eq!(timer["Install"]["WantedBy"], "timers.target");
    // systemd itself, where it is installed.
    if std::process::Command::new("systemd-analyze").arg("--version").output().is_ok_and(|o| o.status.success()) {
        let v = std::process::Command::new("systemd-analyze").arg("calendar").arg("*:0/15").output().unwrap();
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CronJob {
    api_version: String,
    kind: String,
    metadata: Meta,
    spec: CronJobSpec,
}

#[derive(Deserialize)]
struct Meta {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CronJobSpec {
    schedule: String,
    time_zone: String,
    concurrency_policy: String,
    job_template: JobTemplate,
}

#[derive(Deserialize)]
struct JobTemplate {
    spec: JobSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobSpec {
    backoff_limit: u32,
    template: PodTemplate,
}

#[derive(Deserialize)]
struct PodTemplate {
    spec: PodSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    restart_policy: String,
    containers: Vec<Container>,
    volumes: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    image: String,
    args: Vec<String>,
    volume_mounts: Vec<Mount>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mount {
    name: String,
    mount_path: String,
}

#[test]
fn the_kubernetes_export_is_a_cronjob_per_game_day_in_the_calendars_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    let files = export("k8s-cronjob", dir.path());
    assert_eq!(files.len(), 2);
    for ((name, text), id) in files.iter().zip(["az-failure", "ebs-detach"]) {
        let job: CronJob = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((job.api_version.as_str(), job.kind.as_str()), ("batch/v1", "CronJob"));
        assert_eq!(job.metadata.name, format!("firedrill-{id}"));
        assert_eq!(job.spec.schedule, "*/15 * * * *");
        assert_eq!(job.spec.time_zone, "Europe/Paris");
        assert_eq!(job.spec.concurrency_policy, "Forbid");
        assert_eq!(job.spec.job_template.spec.backoff_limit, 0);
        let pod = &job.spec.job_template.spec.template.spec;
        assert_eq!(pod.restart_policy, "Never");
        let c = &pod.containers[0];
        assert_eq!(c.image, "ghcr.io/firedrill/firedrill:latest");
        assert_eq!(
            c.args,
            ["--state-dir", "/state", "schedule", "run-due", "/calendar/calendar.yaml", "--gameday", id]
        );
        let mounts: Vec<(&str, &str)> =
            c.volume_mounts.iter().map(|m| (m.name.as_str(), m.mount_path.as_str())).collect();
        assert_eq!(mounts, [("calendar", "/calendar"), ("state", "/state")]);
        assert_eq!(pod.volumes.len(), 2);
    }
    // The example in docs/ is this export, as it is.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/k8s/firedrill-az-failure.cronjob.yaml");
    assert_eq!(std::fs::read_to_string(example).unwrap(), files[0].1, "docs/k8s example is stale: re-export it");
}

#[derive(Deserialize)]
struct Workflow {
    name: String,
    on: On,
    jobs: std::collections::BTreeMap<String, Job>,
}

#[derive(Deserialize)]
struct On {
    schedule: Vec<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Job {
    runs_on: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    #[serde(default)]
    uses: Option<String>,
    #[serde(default)]
    run: Option<String>,
}

#[test]
fn the_ci_exports_are_workflows_with_a_job_per_game_day() {
    let dir = tempfile::tempdir().unwrap();
    let files = export("github-actions", dir.path());
    let wf: Workflow = serde_saphyr::from_str(&files[0].1).unwrap_or_else(|e| panic!("{e}\n{}", files[0].1));
    assert_eq!(wf.name, "firedrill game days");
    assert_eq!(wf.on.schedule[0]["cron"], "*/15 * * * *");
    assert_eq!(wf.jobs.keys().collect::<Vec<_>>(), ["az-failure", "ebs-detach"]);
    for (id, job) in &wf.jobs {
        assert_eq!(job.runs_on, "ubuntu-latest");
        let runs: Vec<&str> = job.steps.iter().filter_map(|s| s.run.as_deref()).collect();
        assert_eq!(runs.len(), 1);
        let args = shlex::split(runs[0]).unwrap();
        assert_eq!(args[args.len() - 2..], ["--gameday".to_string(), id.clone()]);
        assert!(job.steps.iter().any(|s| s.uses.as_deref() == Some("actions/cache/restore@v4")));
    }

    let dir = tempfile::tempdir().unwrap();
    let files = export("gitlab", dir.path());
    let ci: std::collections::BTreeMap<String, serde_json::Value> = serde_saphyr::from_str(&files[0].1).unwrap();
    assert_eq!(ci.keys().collect::<Vec<_>>(), ["firedrill-az-failure", "firedrill-ebs-detach"]);
    let script = ci["firedrill-az-failure"]["script"][0].as_str().unwrap();
    assert!(script.ends_with("run-due") || script.ends_with("--gameday az-failure"), "{script}");
    assert_eq!(ci["firedrill-az-failure"]["rules"][0]["if"], "$CI_PIPELINE_SOURCE == \"schedule\"");
}

// ---- exports with the state in S3 ----

/// YAML as Kubernetes and GitHub read it (YAML 1.1: `0400` is octal), through PyYAML from
/// the test venv, as JSON.
fn yaml_1_1(text: &str) -> serde_json::Value {
    let out = std::process::Command::new(crate::support::moto::venv().join("bin/python"))
        .args(["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(text.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}\n{text}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// With `FIREDRILL_STATE=s3://…`, crontab and systemd entries pass the bucket (`--state`),
/// never a local `--state-dir`: the state outlives the machine that polls.
#[test]
fn the_crontab_and_systemd_exports_use_the_s3_state() {
    let dir = tempfile::tempdir().unwrap();
    let files = export_s3("crontab", dir.path());
    let lines: Vec<&str> = files[0].1.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 2, "{}", files[0].1);
    for line in lines {
        let command = shlex::split(&line.split_whitespace().skip(5).collect::<Vec<_>>().join(" ")).unwrap();
        assert_eq!(command[..3], ["firedrill", "--state", S3_STATE], "{line}");
        assert!(!command.iter().any(|a| a == "--state-dir"), "{line}");
    }
    assert!(files[0].1.contains("same installation key"), "{}", files[0].1);
    let dir = tempfile::tempdir().unwrap();
    let files = export_s3("systemd", dir.path());
    let service = &files.iter().find(|(n, _)| n == "firedrill-az-failure.service").unwrap().1;
    let exec = service.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let exec = shlex::split(exec).unwrap();
    assert_eq!(exec[..3], ["firedrill", "--state", S3_STATE], "{service}");
    assert!(!exec.iter().any(|a| a == "--state-dir"), "{service}");
}

/// With S3 state the CronJob sets `FIREDRILL_STATE`, keeps only a cache in an `emptyDir`
/// (no PVC), and gives firedrill the installation key from a Secret (`defaultMode: 0400`)
/// through `FIREDRILL_KEY_FILE`. A Secret's file is root's, or with `fsGroup` (which the
/// non-root pod needs to read it) group-readable, which firedrill refuses; so an init
/// container copies it owner-only into memory. That copy, made here by the init container's
/// own command, is a key firedrill accepts, where the group-readable file is refused
/// (the run's journal would go unsigned).
#[test]
fn the_kubernetes_export_with_s3_state_mounts_the_key_and_keeps_no_volume() {
    let dir = tempfile::tempdir().unwrap();
    let files = export_s3("k8s-cronjob", dir.path());
    assert_eq!(files.len(), 2);
    let mut init_command = Vec::new();
    for ((name, text), id) in files.iter().zip(["az-failure", "ebs-detach"]) {
        assert!(text.contains("defaultMode: 0400"), "{name}");
        let job = yaml_1_1(text);
        let pod = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(pod["securityContext"]["fsGroup"], 10001, "{name}");
        let c = &pod["containers"][0];
        assert_eq!(
            c["args"],
            serde_json::json!([
                "--state-dir",
                "/state",
                "schedule",
                "run-due",
                "/calendar/calendar.yaml",
                "--gameday",
                id
            ])
        );
        let env: std::collections::BTreeMap<&str, &str> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
            .collect();
        assert_eq!(env, [("FIREDRILL_KEY_FILE", "/key/journal.key"), ("FIREDRILL_STATE", S3_STATE)].into());
        let volumes: std::collections::BTreeMap<&str, &serde_json::Value> =
            pod["volumes"].as_array().unwrap().iter().map(|v| (v["name"].as_str().unwrap(), v)).collect();
        assert_eq!(volumes["state"]["emptyDir"], serde_json::json!({}), "{name}");
        assert!(!text.contains("persistentVolumeClaim"), "{name}");
        assert_eq!(
            volumes["key-secret"]["secret"],
            serde_json::json!({"secretName": "firedrill-key", "defaultMode": 0o400}),
            "{name}"
        );
        assert_eq!(volumes["key"]["emptyDir"], serde_json::json!({"medium": "Memory"}), "{name}");
        let mounts = |c: &serde_json::Value| -> Vec<(String, String, bool)> {
            c["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["name"].as_str().unwrap().into(),
                        m["mountPath"].as_str().unwrap().into(),
                        m["readOnly"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        };
        assert_eq!(
            mounts(c),
            [
                ("calendar".into(), "/calendar".into(), true),
                ("key".into(), "/key".into(), true),
                ("state".into(), "/state".into(), false)
            ]
        );
        let init = &pod["initContainers"][0];
        assert_eq!(init["image"], c["image"]);
        assert_eq!(mounts(init), [("key-secret".into(), "/secret".into(), true), ("key".into(), "/key".into(), false)]);
        init_command = init["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    }
    // Without S3 state the export is unchanged: the PVC, no key, no init container.
    let dir = tempfile::tempdir().unwrap();
    let plain = export("k8s-cronjob", dir.path());
    assert!(plain[0].1.contains("persistentVolumeClaim") && !plain[0].1.contains("FIREDRILL_KEY_FILE"));

    // The init container's command, on this machine: the Secret's file as Kubernetes
    // makes it with fsGroup (group-readable) is refused as the key; the copy is accepted.
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let (secret, key) = (sb.path().join("secret"), sb.path().join("key"));
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::create_dir_all(&key).unwrap();
    let source = secret.join("journal.key");
    std::fs::write(&source, [7u8; 32]).unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o440)).unwrap();
    let script = init_command[2]
        .replace("/secret/", &format!("{}/", secret.display()))
        .replace("/key/", &format!("{}/", key.display()));
    assert_eq!(init_command[..2], ["sh", "-c"]);
    let copied = std::process::Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(copied.success(), "{script}");
    let copy = key.join("journal.key");
    assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
    let scenario = sb.write_scenario("local", LOCAL);
    let refused = sb.run_with_env(
        &["run".as_ref(), "--yes".as_ref(), scenario.as_os_str()],
        &[("FIREDRILL_KEY_FILE", source.to_str().unwrap())],
    );
    // (The run goes on, its journal unsigned: `recover` would then ask before reverting.)
    assert!(refused.stderr.contains("may be read or written by other users"), "{refused}");
    let accepted = sb.run_with_env(
        &["run".as_ref(), "--yes".as_ref(), scenario.as_os_str()],
        &[("FIREDRILL_KEY_FILE", copy.to_str().unwrap())],
    );
    assert_eq!(accepted.code(), Some(0), "{accepted}");
    assert!(!accepted.stderr.contains("installation key"), "{accepted}");
}

/// With S3 state the CI exports set `FIREDRILL_STATE` and write the installation key from
/// a secret, and keep no state in the CI cache.
#[test]
fn the_ci_exports_with_s3_state_use_the_bucket_and_a_key_from_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let files = export_s3("github-actions", dir.path());
    let wf = yaml_1_1(&files[0].1);
    assert!(!files[0].1.contains("actions/cache"), "{}", files[0].1);
    let jobs = wf["jobs"].as_object().unwrap();
    assert_eq!(jobs.keys().collect::<Vec<_>>(), ["az-failure", "ebs-detach"]);
    for (id, job) in jobs {
        assert_eq!(job["env"]["FIREDRILL_STATE"], S3_STATE, "{job}");
        let steps = job["steps"].as_array().unwrap();
        let key = steps.iter().position(|s| s["env"]["KEY"] == "${{ secrets.FIREDRILL_KEY_B64 }}").expect("a key step");
        let script = steps[key]["run"].as_str().unwrap();
        assert!(
            script.contains("umask 077") && script.contains("FIREDRILL_KEY_FILE=") && script.contains("$GITHUB_ENV"),
            "{script}"
        );
        let run = steps.iter().position(|s| s["run"].as_str().is_some_and(|r| r.contains("run-due"))).unwrap();
        assert!(key < run, "the key is written before run-due");
        let args = shlex::split(steps[run]["run"].as_str().unwrap()).unwrap();
        assert_eq!(args[args.len() - 2..], ["--gameday".to_string(), id.clone()]);
        assert!(!args.iter().any(|a| a.starts_with("--state")), "{args:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    let files = export_s3("gitlab", dir.path());
    let ci = yaml_1_1(&files[0].1);
    let job = &ci["firedrill-az-failure"];
    assert_eq!(job["variables"]["FIREDRILL_STATE"], S3_STATE);
    assert!(job.get("cache").is_none(), "{job}");
    let script: Vec<&str> = job["script"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(script[0].starts_with("export FIREDRILL_KEY_FILE="), "{script:?}");
    assert!(script[1].contains("umask 077") && script[1].contains("$FIREDRILL_KEY_B64"), "{script:?}");
    assert!(script[2].ends_with("--gameday az-failure"), "{script:?}");
}
