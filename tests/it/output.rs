//! What firedrill prints and writes, end to end: a reader that goes away (EPIPE) never
//! turns a command into a panic or changes its exit code; a write error that is not EPIPE
//! is reported; credentials in a probe URL reach no report, plan or status line.

use std::process::Command;

use crate::support::web::{Heal, WebService};
use crate::support::{Finished, Sandbox, read_report};

/// The write end of a pipe whose read end is already closed: every write gets EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

/// Runs `c` to completion (the commands here take seconds at most).
fn finish(mut c: Command, what: &str) -> Finished {
    let child = c.spawn().expect("start firedrill");
    let out = child.wait_with_output().expect("wait for firedrill");
    Finished {
        command: what.to_string(),
        status: Some(out.status),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A local game day in a blink: a `command` probe and a `command` fault that do nothing
/// (so the objective is `sustain`: nothing should break).
fn quick_scenario(probe: &str) -> String {
    format!(
        "version: 1\nname: quick\nsteady_state:\n  - name: ok\n    command: {{ run: \"{probe}\" }}\n    every: 100ms\n\
         faults:\n  - name: f\n    command: {{ inject: \"true\", revert: \"true\" }}\n    duration: 200ms\n\
         recovery:\n  objective: sustain\n  stable_for: 200ms\n  settle_timeout: 5s\n"
    )
}

fn shipped(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_reader_that_went_away_is_not_a_panic_and_keeps_the_exit_code() {
    let sb = Sandbox::new();
    sb.write_scenario("quick", &quick_scenario("true"));
    sb.run(&["run", "--yes", "quick.yaml"]).assert_exit(0);
    let aws = shipped("scenarios/az-failure.yaml");
    for args in [
        vec!["schema"],
        vec!["iam-policy", aws.as_str()],
        vec!["plan", "quick.yaml"],
        vec!["report", "latest", "--format", "html"],
        vec!["history"],
        vec!["runs"],
    ] {
        let mut c = sb.command(&args);
        c.stdout(closed_pipe());
        let done = finish(c, &args.join(" "));
        done.assert_exit(0);
        assert!(!done.stderr.contains("panicked"), "{done}");
    }
}

#[test]
fn a_run_with_stdout_and_stderr_closed_still_exits_with_how_it_went() {
    let sb = Sandbox::new();
    for (name, probe, code, outcome) in [("pass", "true", 0, "passed"), ("nostart", "false", 4, "blocked")] {
        sb.write_scenario(name, &quick_scenario(probe).replace("name: quick", &format!("name: {name}")));
        let mut c = sb.command(&["run", "--yes", &format!("{name}.yaml")]);
        c.stdout(closed_pipe()).stderr(closed_pipe());
        let done = finish(c, name);
        assert_eq!(done.code(), Some(code), "{name}: a panic exits 101\n{done}");
        let dir = sb.run_dirs().into_iter().find(|d| d.to_string_lossy().contains(name)).expect("a run directory");
        assert_eq!(read_report(&dir)["outcome"], outcome);
    }
}

#[test]
fn an_output_that_cannot_be_written_is_an_error_not_a_success() {
    let sb = Sandbox::new();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let mut c = sb.command(&["schema"]);
    c.stdout(full);
    let done = finish(c, "schema > /dev/full");
    done.assert_exit(6);
    assert!(done.stderr.contains("cannot write the output"), "{done}");
}

#[test]
fn probe_url_credentials_reach_no_report_plan_or_status_line() {
    let web = WebService::start(Heal::Never);
    let sb = Sandbox::new();
    // The service answers 404 to a path with a query: that is what the probe expects.
    let url = web.url("/health?api_key=S3CRET-KEY&v=1").replace("http://", "http://ops:S3CRET-PASS@");
    let yaml = format!(
        "version: 1\nname: secret-url\nsteady_state:\n  - name: web\n    http: {{ url: \"{url}\", expect_status: [404], timeout: 2s }}\n    every: 100ms\n\
         faults:\n  - name: f\n    command: {{ inject: \"true\", revert: \"true\" }}\n    duration: 200ms\n\
         recovery:\n  objective: sustain\n  stable_for: 200ms\n  settle_timeout: 5s\n"
    );
    sb.write_scenario("secret-url", &yaml);
    let shown = format!("http://ops:***@127.0.0.1:{}/health?api_key=***&v=***", web.port());
    let plan = sb.run(&["plan", "secret-url.yaml"]);
    plan.assert_exit(0);
    assert!(plan.stdout.contains(&shown), "{plan}");
    let run = sb.run(&["run", "--yes", "secret-url.yaml"]);
    run.assert_exit(0);
    let dir = run.run_dir();
    assert_eq!(read_report(&dir)["probes"][0]["target"], shown.as_str());
    let mut seen = vec![("plan".to_string(), plan.to_string()), ("run".to_string(), run.to_string())];
    for f in std::fs::read_dir(&dir).unwrap() {
        let path = f.unwrap().path();
        // The scenario copy is the operator's own file, as written (SECURITY.md).
        if path.file_name().is_some_and(|n| n != "scenario.yaml") {
            seen.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
        }
    }
    for format in ["md", "json", "junit", "html"] {
        let out = sb.run(&["report", "latest", "--format", format]);
        seen.push((format!("report --format {format}"), out.to_string()));
    }
    assert!(seen.iter().any(|(_, text)| text.contains("ops:***@")));
    for (what, text) in seen {
        assert!(!text.contains("S3CRET"), "a credential in {what}:\n{text}");
    }
}

/// `plan` without AWS credentials: firedrill's one error, in its words, and none of the
/// SDK's own warnings (IMDS not reachable, each credential provider that failed) unless
/// `--verbose` or `RUST_LOG` asks for them. Nothing leaves 127.0.0.1: the instance
/// metadata service is a closed local port.
#[test]
fn plan_without_credentials_prints_one_clean_error_and_no_sdk_warnings() {
    let sb = Sandbox::new();
    let home = sb.path().join("nohome");
    let scenario = shipped("scenarios/az-failure.yaml");
    let plan = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["plan"];
        args.extend_from_slice(extra);
        args.push(&scenario);
        let mut c = sb.command(&args);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("NO_COLOR", "1")
            .env("FIREDRILL_KEY_FILE", sb.key_file())
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1")
            .env("AWS_CONFIG_FILE", home.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
            .envs(env.iter().copied());
        finish(c, &args.join(" "))
    };
    let sdk_warnings = |done: &Finished| -> Vec<String> {
        done.stderr.lines().filter(|l| l.contains("WARN") && l.contains("aws_")).map(str::to_string).collect()
    };

    let done = plan(&[], &[]);
    assert_ne!(done.code(), Some(0), "{}", done.stderr);
    assert_eq!(sdk_warnings(&done), Vec::<String>::new(), "{}", done.stderr);
    assert!(!done.stderr.contains("WARN"), "{}", done.stderr);
    let errors: Vec<&str> = done.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{}", done.stderr);
    assert!(errors[0].contains("no usable AWS credentials"), "{}", done.stderr);

    // Asked for, the SDK's warnings are there.
    for (extra, env) in [(&["--verbose"][..], &[][..]), (&[][..], &[("RUST_LOG", "warn")][..])] {
        let done = plan(extra, env);
        assert!(!sdk_warnings(&done).is_empty(), "{extra:?} {env:?}: {}", done.stderr);
        assert!(done.stderr.contains("no usable AWS credentials"), "{}", done.stderr);
    }
}
