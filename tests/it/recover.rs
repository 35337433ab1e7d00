//! `firedrill recover` when things are worse than a clean SIGKILL: a journal line torn
//! mid-write or damaged, an inject still running after firedrill died, a working directory
//! deleted since, a journal this installation never wrote (a forged shell command, forged
//! AWS undo records against moto), two recovers at once; and process groups killed on a
//! system without a `kill` program.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::moto::Moto;
use crate::support::{Sandbox, journal_events, read_journal, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// A one-fault command scenario; the steady state always holds.
fn scenario(inject: &str, revert: &str, duration: &str) -> String {
    format!(
        r#"version: 1
name: rec
steady_state:
  - name: ok
    command: {{ run: "true" }}
    every: 100ms
faults:
  - name: f
    command:
      inject: {inject:?}
      revert: {revert:?}
      timeout: 60s
    duration: {duration}
abort:
  - {{ max_duration: 2m }}
recovery:
  objective: sustain
  stable_for: 100ms
  settle_timeout: 10s
"#
    )
}

/// Starts a run of `yaml` and SIGKILLs it once its journal has an `event` entry.
fn crash_after(sb: &Sandbox, yaml: &str, event: &str) -> PathBuf {
    let file = sb.write_scenario("rec", yaml);
    let mut running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    sb.wait_for_journal(event, WAIT);
    running.kill();
    let out = running.wait();
    assert_eq!(out.code(), None, "killed by SIGKILL\n{out}");
    sb.only_run_dir()
}

fn append(path: &Path, bytes: &[u8]) {
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

/// Whether `pid` is gone (or a zombie nobody has reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// The run died while writing a journal line: recover reverts, ends the torn line before
/// appending, and every later reader (recover, runs, history) still reads the journal.
#[test]
fn a_torn_last_line_neither_fuses_with_recovers_entry_nor_blocks_later_ones() {
    let sb = Sandbox::new();
    let yaml = scenario("touch injected", "rm injected && echo once >> reverts", "60s");
    let run_dir = crash_after(&sb, &yaml, "done");
    let journal = run_dir.join("journal.jsonl");
    append(&journal, br#"{"at":"2026-12-01T10:00:00.000Z","event":"rev"#);

    let first = sb.run(&["recover"]);
    first.assert_exit(0);
    assert!(first.stderr.contains("1 step(s) reverted"), "{first}");
    assert!(!sb.path().join("injected").exists());
    // The fragment stays on a line of its own; recover's entry is a whole line after it.
    let text = std::fs::read_to_string(&journal).unwrap();
    let broken: Vec<&str> = text.lines().filter(|l| serde_json::from_str::<Value>(l).is_err()).collect();
    assert_eq!(broken, [r#"{"at":"2026-12-01T10:00:00.000Z","event":"rev"#], "{text}");
    assert_eq!(journal_events(&read_journal(&run_dir), "reverted").len(), 1, "{text}");

    let second = sb.run(&["recover"]);
    second.assert_exit(0);
    assert!(second.stderr.contains("0 step(s) reverted"), "{second}");
    assert_eq!(std::fs::read_to_string(sb.path().join("reverts")).unwrap(), "once\n");
    let runs = sb.run(&["runs"]);
    runs.assert_exit(0);
    assert!(runs.stdout.contains("crashed, recovered"), "{runs}");
    let history = sb.run(&["history", "--format", "json"]);
    assert!(!history.stdout.contains("unreadable"), "{history}");
}

/// A damaged line in the middle: every readable step is still reverted, the damage is
/// named (file and line), and nothing calls the run recovered.
#[test]
fn a_damaged_line_does_not_block_recovery_and_the_run_is_not_called_recovered() {
    let sb = Sandbox::new();
    let yaml = scenario("touch injected", "rm injected", "60s");
    let run_dir = crash_after(&sb, &yaml, "done");
    let journal = run_dir.join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(1, "this is not an entry");
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();

    let first = sb.run(&["recover"]);
    first.assert_exit(5);
    assert!(!sb.path().join("injected").exists(), "the readable step was reverted\n{first}");
    assert!(first.stderr.contains("journal.jsonl: line 2 cannot be read"), "{first}");
    // Reported once: later recovers warn but no longer fail for it.
    let second = sb.run(&["recover"]);
    second.assert_exit(0);
    assert!(second.stderr.contains("line 2 cannot be read"), "{second}");
    let runs = sb.run(&["runs"]);
    assert!(runs.stdout.contains("journal unreadable"), "{runs}");
    assert!(!runs.stdout.contains("recovered"), "{runs}");
    let history = sb.run(&["history", "--format", "json"]);
    assert!(history.stdout.contains("unreadable"), "{history}");
}

/// An inject still running when firedrill is SIGKILLed dies with it (its shell at once,
/// what the shell left in its group at `recover`), so it cannot finish after the revert.
#[test]
fn an_inject_does_not_outlive_firedrill_or_recover() {
    let sb = Sandbox::new();
    // `bg-started` is written once the background job has been forked, so the kill never
    // lands before the shell has put anything in its group. The sleeps leave recover,
    // on a loaded machine, ample time to act before either `touch` would run.
    let yaml = scenario("(sleep 10; touch late-bg) & touch bg-started; sleep 10; touch late-fg", "true", "60s");
    let file = sb.write_scenario("rec", &yaml);
    let mut running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    sb.wait_for_journal("process_group", WAIT);
    wait_until("the inject to start its background job", WAIT, || sb.path().join("bg-started").exists());
    running.kill();
    assert_eq!(running.wait().code(), None, "killed by SIGKILL");
    let run_dir = sb.only_run_dir();
    let group = journal_events(&read_journal(&run_dir), "process_group")[0]["pgid"].as_u64().unwrap() as u32;
    wait_until("the inject's shell to die with firedrill", Duration::from_secs(5), || gone(group));

    let out = sb.run(&["recover"]);
    out.assert_exit(0);
    assert!(out.stderr.contains("still running after the run died"), "{out}");
    std::thread::sleep(Duration::from_secs(11));
    assert!(!sb.path().join("late-fg").exists(), "the inject's shell outlived firedrill");
    assert!(!sb.path().join("late-bg").exists(), "the inject's background job outlived recover");
}

/// Process groups are signalled directly: without `kill` on PATH a timed-out inject's
/// background job is still killed.
#[test]
fn an_inject_timeout_kills_its_group_without_a_kill_program() {
    let sb = Sandbox::new();
    let bin = sb.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["sh", "sleep"] {
        let found = ["/bin", "/usr/bin"].iter().map(|d| Path::new(d).join(tool)).find(|p| p.exists()).unwrap();
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    let yaml = scenario("sleep 30 & echo $! > bg.pid; wait", "true", "1s").replace("timeout: 60s", "timeout: 500ms");
    let file = sb.write_scenario("rec", &yaml);
    let out =
        sb.run_with_env(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()], &[("PATH", bin.to_str().unwrap())]);
    assert!(out.stderr.contains("timed out after 500ms"), "{out}");
    let pid: u32 = std::fs::read_to_string(sb.path().join("bg.pid")).unwrap().trim().parse().unwrap();
    wait_until("the background job to die", Duration::from_secs(5), || gone(pid));
}

/// The run's directory was deleted (a CI workspace cleaned up): the revert runs in `/`,
/// with a warning that says so.
#[test]
fn recover_reverts_after_the_working_directory_is_gone() {
    let sb = Sandbox::new();
    let work = sb.path().join("workspace");
    std::fs::create_dir(&work).unwrap();
    let marker = sb.path().join("reverted");
    let yaml = scenario("true", &format!("pwd > {}", marker.display()), "60s");
    let file = sb.write_scenario("rec", &yaml);
    let mut cmd = sb.command(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    cmd.current_dir(&work).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    sb.wait_for_journal("done", WAIT);
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&work).unwrap();

    let out = sb.run(&["recover"]);
    out.assert_exit(0);
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "/\n");
    assert!(out.stderr.contains(&format!("directory {} no longer exists", work.display())), "{out}");
    assert!(out.stderr.contains("running the revert command in / instead"), "{out}");
}

/// A second recover while the first is still reverting says so and fails, instead of
/// "nothing left injected".
#[test]
fn a_second_recover_says_another_holds_the_run() {
    let sb = Sandbox::new();
    let yaml = scenario("true", "sleep 3", "60s");
    let run_dir = crash_after(&sb, &yaml, "done");
    let first = sb.spawn(&["recover"]);
    wait_until("the first recover to take the run", WAIT, || {
        std::fs::read_to_string(run_dir.join("run.lock")).is_ok_and(|t| t.starts_with("recover"))
    });
    let second = sb.run(&["recover"]);
    second.assert_exit(5);
    assert!(second.stderr.contains("another `firedrill recover`"), "{second}");
    assert!(second.stderr.contains("holds run"), "{second}");
    assert!(!second.stderr.contains("nothing left injected"), "{second}");
    first.wait().assert_exit(0);
}

/// A run folder this installation did not write, as a repository could commit it.
fn forge(sb: &Sandbox, id: &str, intents: &[(&str, &str, Value)]) -> PathBuf {
    let dir = sb.state_dir().join("runs").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let mut lines = vec![json!({"at": "2026-12-01T10:00:00.000Z", "event": "run_started", "run_id": id,
        "scenario": "harmless", "scenario_file": "harmless.yaml", "pid": 1})];
    for (i, (kind, description, data)) in intents.iter().enumerate() {
        lines.push(json!({"at": "2026-12-01T10:00:01.000Z", "event": "intent", "step": i + 1, "fault": "f",
            "undo": {"kind": kind, "description": description, "data": data}}));
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("journal.jsonl"), text).unwrap();
    dir
}

/// The README says "after a crash, run `firedrill recover`": a committed journal must
/// not make that run anything unseen. The exact command is shown; it runs only after
/// `--trust-journal` for that run.
#[test]
fn a_forged_shell_step_is_shown_and_not_run_without_consent() {
    let sb = Sandbox::new();
    let pwned = sb.path().join("pwned");
    let cmd = format!("touch {}", pwned.display());
    forge(&sb, "20261201T100000Z-harmless-0001", &[("command", "run `true`", json!({"revert": cmd}))]);

    let out = sb.run(&["recover"]);
    out.assert_exit(5);
    assert!(!pwned.exists(), "recover ran a command this installation never journaled");
    assert!(out.stderr.contains(&format!("sh -c 'touch {}'", pwned.display())), "the exact command\n{out}");
    assert!(out.stderr.contains("firedrill recover 20261201T100000Z-harmless-0001 --trust-journal"), "{out}");
    assert!(!out.stderr.contains("nothing left injected"), "{out}");

    let blanket = sb.run(&["recover", "--trust-journal"]);
    blanket.assert_exit(2);
    assert!(!pwned.exists());

    let trusted = sb.run(&["recover", "harmless-0001", "--trust-journal"]);
    trusted.assert_exit(0);
    assert!(pwned.exists(), "consent given for that run\n{trusted}");
}

/// A journal this installation wrote is trusted; the same journal under another
/// installation's key is not.
#[test]
fn a_real_journal_is_trusted_only_by_the_installation_that_wrote_it() {
    let sb = Sandbox::new();
    let yaml = scenario("touch injected", "rm injected", "60s");
    crash_after(&sb, &yaml, "done");
    let other = sb.path().join("other.key");
    let out = sb.run_with_env(&["recover"], &[("FIREDRILL_KEY_FILE", other.to_str().unwrap())]);
    out.assert_exit(5);
    assert!(sb.path().join("injected").exists(), "{out}");
    assert!(out.stderr.contains("which this installation did not journal"), "{out}");
    let own = sb.run(&["recover"]);
    own.assert_exit(0);
    assert!(!sb.path().join("injected").exists(), "{own}");
}

/// Forged AWS undo records, even with `--trust-journal`, pass the run's guards first: an
/// untagged user's deactivated key stays inactive, an untagged role keeps its policy, and
/// records naming another account or no opt-in tag are refused.
#[test]
fn forged_aws_undo_records_must_pass_the_runs_guards() {
    let moto = Moto::start();
    moto.seed(&[]);
    let setup = moto.python_json(
        "import boto3, json\n\
         kw=dict(region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         iam=boto3.client('iam',**kw)\n\
         iam.create_user(UserName='outsider')\n\
         k=iam.create_access_key(UserName='outsider')['AccessKey']['AccessKeyId']\n\
         iam.update_access_key(UserName='outsider', AccessKeyId=k, Status='Inactive')\n\
         iam.create_role(RoleName='quarantined', AssumeRolePolicyDocument=json.dumps({'Version':'2012-10-17','Statement':[]}))\n\
         iam.put_role_policy(RoleName='quarantined', PolicyName='quarantine', PolicyDocument=json.dumps({'Version':'2012-10-17','Statement':[{'Effect':'Deny','Action':'*','Resource':'*'}]}))\n\
         print(json.dumps({'key': k}))\n",
    );
    let key = setup["key"].as_str().unwrap().to_string();
    let tag = json!({"key": "firedrill", "value": "allowed"});
    let sb = moto.sandbox();
    let id = "20261201T100000Z-harmless-0002";
    forge(
        &sb,
        id,
        &[
            (
                "iam_reactivate_access_keys",
                "nothing",
                json!({"region": "us-east-1", "account": "123456789012", "opt_in_tag": tag, "user": "outsider", "keys": [key]}),
            ),
            (
                "iam_delete_role_policy",
                "nothing",
                json!({"region": "us-east-1", "account": "123456789012", "opt_in_tag": tag, "role": "quarantined", "policy": "quarantine"}),
            ),
            // Right tag, but another account; and an old-style record with neither.
            (
                "iam_delete_role_policy",
                "nothing",
                json!({"region": "us-east-1", "account": "999999999999", "opt_in_tag": tag, "role": "shop-app", "policy": "x"}),
            ),
            (
                "iam_reactivate_access_keys",
                "nothing",
                json!({"region": "us-east-1", "user": "outsider", "keys": [key]}),
            ),
        ],
    );

    let out = sb.run(&["recover", id, "--trust-journal"]);
    out.assert_exit(5);
    assert!(out.stderr.contains("iam:user outsider lacks the opt-in tag firedrill=allowed"), "{out}");
    assert!(out.stderr.contains("iam:role quarantined lacks the opt-in tag firedrill=allowed"), "{out}");
    assert!(out.stderr.contains("the journal names account 999999999999"), "{out}");
    assert!(out.stderr.contains("names no account"), "{out}");
    let now = moto.python_json(
        "import boto3, json\n\
         kw=dict(region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         iam=boto3.client('iam',**kw)\n\
         keys=iam.list_access_keys(UserName='outsider')['AccessKeyMetadata']\n\
         print(json.dumps({'status': keys[0]['Status'], 'policies': iam.list_role_policies(RoleName='quarantined')['PolicyNames']}))\n",
    );
    assert_eq!(now, json!({"status": "Inactive", "policies": ["quarantine"]}), "{out}");
}

/// On a terminal, recover shows the exact command and asks; only `y` runs it.
#[test]
fn on_a_terminal_recover_asks_before_running_an_untrusted_step() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};

    let sb = Sandbox::new();
    let pwned = sb.path().join("pwned");
    let cmd = format!("touch {}", pwned.display());
    forge(&sb, "20261201T100000Z-harmless-0003", &[("command", "run `true`", json!({"revert": cmd}))]);
    for (answer, ran) in [("n\n", false), ("y\n", true)] {
        let line = format!("{} --state-dir {} recover", crate::support::BIN, sb.state_dir().display());
        let mut child = Command::new("script")
            .args(["-qefc", &line, "/dev/null"])
            .current_dir(sb.path())
            .env("NO_COLOR", "1")
            .env("FIREDRILL_KEY_FILE", sb.key_file())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script(1) from util-linux");
        let seen = Arc::new(Mutex::new(String::new()));
        let mut out = child.stdout.take().unwrap();
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = out.read(&mut buf) {
                    seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        wait_until("the consent prompt", WAIT, || seen.lock().unwrap().contains("Run these 1 step(s) of"));
        let text = seen.lock().unwrap().clone();
        assert!(text.contains(&format!("sh -c 'touch {}'", pwned.display())), "the exact command first\n{text}");
        assert!(!pwned.exists(), "ran before the answer");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(answer.as_bytes()).unwrap();
        let status = child.wait().unwrap();
        reader.join().unwrap();
        let text = seen.lock().unwrap().clone();
        assert_eq!(pwned.exists(), ran, "answer {answer:?}\n{text}");
        assert_eq!(status.code(), Some(if ran { 0 } else { 5 }), "{text}");
    }
}
