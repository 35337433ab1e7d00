//! The human side of a game day through the binary: a playbook's timed steps (automated
//! command and webhook steps run when due, manual ones listed as not exercised without
//! `--interactive`), the scenario's notifications, and a failing webhook that must not
//! delay anything.

use std::time::Duration;

use crate::support::web::{Heal, WebService};
use crate::support::{Sandbox, read_report};

fn scenario(web: &WebService, dead_port: u16) -> String {
    format!(
        r#"version: 1
name: gameday
steady_state:
  - name: web
    http: {{ url: "{health}", expect_status: [200], timeout: 2s }}
    every: 100ms
faults:
  - name: break-web
    command:
      inject: "curl -fsS -X POST {brk}"
      revert: "curl -fsS -X POST {fix}"
    duration: 2s
recovery:
  within: 10s
  stable_for: 300ms
  settle_timeout: 20s
notify:
  - webhook: {{ url: "{hooks}/notify", format: slack }}
    on: [start, recovered, end]
  - webhook: {{ url: "http://127.0.0.1:{dead_port}/never", timeout: 200ms }}
    on: [start]
  - webhook: {{ url: "{hooks}/json" }}
    on: [end]
playbook: playbook.md
"#,
        health = web.url("/health"),
        brk = web.url("/break"),
        fix = web.url("/fix"),
        hooks = web.url("/hook"),
    )
}

fn playbook(web: &WebService) -> String {
    format!(
        r#"---
steps:
  - name: tell-staff
    what: Post in the incident channel that the drill is on
    who: incident-commander
    on: inject
    communicate: true
  - name: status-page
    what: Update the status page
    who: comms
    on: detect
    after: 200ms
    communicate: true
    webhook: {{ url: "{hooks}/status-page" }}
  - name: mark-log
    what: Mark the time in the run log
    who: bot
    on: inject
    run: "echo $FIREDRILL_STEP >> steps.log"
  - name: retro
    what: Book the retro
    who: incident-commander
    on: start
    after: 1h
---
# Playbook

Prose for humans.
"#,
        hooks = web.url("/hook"),
    )
}

#[test]
fn playbook_steps_and_notifications_run_beside_the_faults() {
    let web = WebService::start(Heal::After(Duration::from_millis(500)));
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sb = Sandbox::new();
    sb.write("playbook.md", &playbook(&web));
    let file = sb.write_scenario("gameday", &scenario(&web, dead));
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(0), "{done}");
    let r = read_report(&sb.only_run_dir());

    let step = |name: &str| r["steps"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone();
    let inject = r["t_inject_ms"].as_u64().unwrap();
    let detect = inject + r["time_to_detect_ms"].as_u64().unwrap();
    let tell = step("tell-staff");
    assert_eq!(tell["status"], "not_exercised");
    assert!(tell["due_ms"].as_u64().unwrap() >= inject);
    let status = step("status-page");
    assert_eq!(status["status"], "done", "{status}");
    assert!(status["due_ms"].as_u64().unwrap() >= detect + 200, "{status} vs detect {detect}");
    assert!(status["done_ms"].as_u64().unwrap() >= status["due_ms"].as_u64().unwrap());
    assert_eq!(step("mark-log")["status"], "done");
    assert_eq!(std::fs::read_to_string(sb.path().join("steps.log")).unwrap().trim(), "mark-log");
    let retro = step("retro");
    assert_eq!((retro["status"].as_str(), retro["done_ms"].as_u64()), (Some("not_due"), None));

    let comm = &r["communication"];
    assert_eq!((comm["planned"].as_u64(), comm["done"].as_u64()), (Some(2), Some(1)));
    assert_eq!(comm["detect_to_last_ms"].as_u64(), Some(status["done_ms"].as_u64().unwrap() - detect));

    assert_eq!(web.hooks().iter().filter(|h| *h == "/hook/notify").count(), 3, "start, recovered, end");
    assert!(web.hooks().contains(&"/hook/status-page".to_string()));
    let notes = r["notifications"].as_array().unwrap();
    let failed: Vec<_> = notes.iter().filter(|n| n["ok"] == false).collect();
    assert_eq!(failed.len(), 1, "{notes:?}");
    assert_eq!(failed[0]["attempts"], 3);
    assert_eq!(failed[0]["target"], format!("http://127.0.0.1:{dead}/…"), "the URL path is redacted");
    // The failing webhook did not hold up the fault: it was reverted on schedule.
    let f = &r["faults"][0];
    let held = f["revert_started_at_ms"].as_u64().unwrap() - f["injected_at_ms"].as_u64().unwrap();
    assert!((2000..3000).contains(&held), "reverted {held}ms after injection, for a 2s fault");
    assert!(done.stderr.contains("webhook http://127.0.0.1:"), "{done}");
    let md = std::fs::read_to_string(sb.only_run_dir().join("report.md")).unwrap();
    assert!(md.contains("### Playbook steps") && md.contains("### Notifications"), "{md}");

    // A JSON webhook's `end` carries the outcome, the time to recover against the
    // objective and where the report is.
    let end = web.hook_bodies("/hook/json");
    assert_eq!(end.len(), 1, "{end:?}");
    let e = &end[0];
    assert_eq!(
        (e["event"].as_str(), e["outcome"].as_str(), e["exit_code"].as_i64()),
        (Some("end"), Some("passed"), Some(0))
    );
    assert_eq!((e["objective"].as_str(), e["objective_ms"].as_u64()), (Some("recover"), Some(10_000)));
    assert_eq!(e["objective_met"], true);
    assert_eq!(e["time_to_recover_ms"], r["time_to_recover_ms"], "{e}");
    assert_eq!(e["still_broken"], 0);
    let report = std::path::PathBuf::from(e["report"].as_str().unwrap());
    assert_eq!(report, sb.only_run_dir().join("report.html"));
    assert!(report.exists());
    let slack = web.hook_bodies("/hook/notify");
    let text = slack.iter().filter_map(|b| b["text"].as_str()).find(|t| t.contains("(end)")).unwrap().to_string();
    assert!(text.contains("ended: passed — recovered in ") && text.contains("(objective 10s)"), "{text}");
}

/// A fault that cannot be undone sends `revert_failed` at once — its own event, so that
/// it can page — and `end` says what is left injected.
#[test]
fn a_failed_revert_sends_its_own_webhook_and_the_end_says_what_is_left() {
    let web = WebService::start(Heal::Never);
    let sb = Sandbox::new();
    let yaml = format!(
        r#"version: 1
name: stuck
steady_state:
  - name: web
    http: {{ url: "{health}", expect_status: [200], timeout: 2s }}
    every: 100ms
faults:
  - name: break-web
    command:
      inject: "curl -fsS -X POST {brk}"
      revert: "exit 3"
    duration: 300ms
recovery:
  within: 10s
  stable_for: 300ms
  settle_timeout: 5s
notify:
  - webhook: {{ url: "{hooks}/json" }}
    on: [revert_failed, end]
"#,
        health = web.url("/health"),
        brk = web.url("/break"),
        hooks = web.url("/hook"),
    );
    let file = sb.write_scenario("stuck", &yaml);
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(5), "{done}");
    // Sent from their own tasks, they may arrive in either order; their times say which
    // came first.
    let mut bodies = web.hook_bodies("/hook/json");
    bodies.sort_by(|a, b| a["at"].as_str().cmp(&b["at"].as_str()));
    let events: Vec<_> = bodies.iter().map(|b| b["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(events, ["revert_failed", "end"], "{bodies:?}");
    let failed = bodies[0]["text"].as_str().unwrap();
    assert!(
        failed.contains("fault break-web could NOT be reverted") && failed.contains("a human must act"),
        "{failed}"
    );
    assert!(bodies[0].get("outcome").is_none(), "only `end` carries the outcome: {bodies:?}");
    let end = &bodies[1];
    assert_eq!((end["outcome"].as_str(), end["exit_code"].as_i64()), (Some("revert_failed"), Some(5)));
    assert_eq!(end["still_broken"], 1);
    assert!(end["text"].as_str().unwrap().contains("1 fault(s) NOT reverted: run `firedrill recover`"), "{end}");
}

/// The `end` webhook names the report where its reader can open it: with a relative
/// `--state-dir` (the default `.firedrill` is one), the report's absolute path, not one
/// relative to the runner's working directory.
#[test]
fn the_end_webhook_names_the_report_by_its_absolute_path() {
    let web = WebService::start(Heal::After(Duration::from_millis(300)));
    let sb = Sandbox::new();
    let yaml = format!(
        r#"version: 1
name: where
steady_state:
  - name: ok
    command: {{ run: "true" }}
    every: 100ms
faults:
  - name: f
    command: {{ inject: "true", revert: "true" }}
    duration: 200ms
recovery:
  objective: sustain
  stable_for: 100ms
  settle_timeout: 10s
notify:
  - webhook: {{ url: "{hooks}/json" }}
    on: [end]
  - webhook: {{ url: "{hooks}/chat", format: slack }}
    on: [end]
"#,
        hooks = web.url("/hook"),
    );
    let file = sb.write_scenario("where", &yaml);
    let done = sb.run_in(std::path::Path::new("relative-state"), &["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(0), "{done}");
    let runs: Vec<_> =
        std::fs::read_dir(sb.path().join("relative-state/runs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let end = web.hook_bodies("/hook/json");
    assert_eq!(end.len(), 1, "{end:?}");
    let report = std::path::PathBuf::from(end[0]["report"].as_str().unwrap());
    assert!(report.is_absolute(), "{report:?}");
    assert_eq!(report.canonicalize().unwrap(), runs[0].join("report.html").canonicalize().unwrap());
    let chat = web.hook_bodies("/hook/chat");
    let text = chat[0]["text"].as_str().unwrap();
    assert!(text.ends_with(&format!("report: {}", report.display())), "{text}");
}

/// `plan` prints the playbook's schedule next to the faults — each step with when, who,
/// what and how (a `hold` step says it holds the injection), in the order a run makes
/// them due — and `--format json` lists it too.
#[test]
fn plan_prints_the_playbook_schedule_in_the_order_steps_come_due() {
    let web = WebService::start(Heal::Never);
    let sb = Sandbox::new();
    sb.write("playbook.md", &playbook(&web).replace("    after: 1h\n", "    after: 1h\n    hold: true\n"));
    let file = sb.write_scenario("gameday", &scenario(&web, 9));
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(0), "{plan}");
    let out = &plan.stdout;
    let section = out.find("\nPlaybook (when each step is due").unwrap_or_else(|| panic!("{plan}"));
    assert!(section > out.find("\nFaults:").unwrap(), "after the faults: {plan}");
    let lines: Vec<&str> = out[section..].lines().skip(2).take(4).collect();
    assert!(
        lines[0].starts_with("  start +1h ")
            && lines[0].ends_with("retro: Book the retro (manual, holds the injection)"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains(
            "incident-commander  tell-staff: Post in the incident channel that the drill is on (manual, communication)"
        ),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("  inject +0s ") && lines[2].ends_with("mark-log: Mark the time in the run log (command)"),
        "{lines:?}"
    );
    assert!(
        lines[3].starts_with("  detect +200ms ")
            && lines[3].contains(" comms ")
            && lines[3].ends_with("(webhook, communication)"),
        "{lines:?}"
    );
    assert_eq!(web.break_calls(), 0, "plan touches nothing");

    let json = sb.run(&["plan".as_ref(), "--format".as_ref(), "json".as_ref(), file.as_os_str()]);
    assert_eq!(json.code(), Some(0), "{json}");
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let steps = doc["playbook_steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["retro", "tell-staff", "mark-log", "status-page"]);
    assert_eq!(steps[3]["after_ms"], 200);
    assert_eq!(
        (steps[3]["on"].as_str(), steps[3]["kind"].as_str(), steps[3]["who"].as_str()),
        (Some("detect"), Some("webhook"), Some("comms"))
    );
    assert_eq!(steps[3]["communicate"], true);
    let holds: Vec<&serde_json::Value> = steps.iter().map(|s| &s["hold"]).collect();
    assert_eq!(holds, [true, false, false, false], "{steps:?}");
}

#[test]
fn interactive_without_a_terminal_and_bad_playbooks_are_refused_before_anything_runs() {
    let web = WebService::start(Heal::Never);
    let sb = Sandbox::new();
    sb.write("playbook.md", &playbook(&web));
    let file = sb.write_scenario("gameday", &scenario(&web, 9));
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), "--interactive".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(2), "{done}");
    assert!(done.stderr.contains("--interactive prompts the facilitator"), "{done}");
    assert_eq!(web.break_calls(), 0);

    sb.write("playbook.md", &playbook(&web).replace("on: detect", "on: detected"));
    let done = sb.run(&["validate".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(2), "{done}");
    assert!(
        done.stderr.contains("playbook.md:11:9: steps[1].on: unknown event `detected`; did you mean `detect`?"),
        "{done}"
    );
}

#[test]
fn every_shipped_scenario_and_playbook_validates() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("scenarios"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let sb = Sandbox::new();
    let mut args: Vec<&std::ffi::OsStr> = vec!["validate".as_ref()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    let done = sb.run(&args);
    assert_eq!(done.code(), Some(0), "{done}");
    // Every scenario has its playbook (a calendar, `gamedays:`, is not a scenario).
    for f in files.iter().filter(|f| !std::fs::read_to_string(f).unwrap().lines().any(|l| l == "gamedays:")) {
        let pb = root.join("playbooks").join(f.file_stem().unwrap()).with_extension("md");
        let text = std::fs::read_to_string(&pb).unwrap();
        assert!(text.starts_with("---\nsteps:") || text.contains("\nsteps:\n"), "{} has timed steps", pb.display());
    }
}

/// `firedrill run --yes --interactive FILE` on a real terminal (a pty from `script(1)`),
/// with what it has printed so far.
struct Pty {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    seen: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Pty {
    fn run(sb: &Sandbox, file: &std::path::Path) -> Pty {
        Pty::run_with(sb, file, "")
    }

    /// With `global` flags (`--log-format json`) before `run`.
    fn run_with(sb: &Sandbox, file: &std::path::Path, global: &str) -> Pty {
        use std::io::Read;
        use std::process::{Command, Stdio};
        let cmd = format!(
            "{} --state-dir {} {global} run --yes --interactive {}",
            crate::support::BIN,
            sb.state_dir().display(),
            file.display()
        );
        let mut child = Command::new("script")
            .args(["-qefc", &cmd, "/dev/null"])
            .current_dir(sb.path())
            .env("NO_COLOR", "1")
            .env("USER", "facilitator")
            .env("FIREDRILL_KEY_FILE", sb.key_file())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script(1) from util-linux");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut out = child.stdout.take().unwrap();
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = out.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        let stdin = child.stdin.take().unwrap();
        Pty { child, stdin, seen, reader: Some(reader) }
    }

    fn wait_for(&self, needle: &str) {
        crate::support::wait_until(&format!("the prompt {needle:?}"), Duration::from_secs(30), || {
            self.seen.lock().unwrap().contains(needle)
        })
    }

    fn send(&mut self, line: &str) {
        use std::io::Write;
        self.stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn seen(&self) -> String {
        self.seen.lock().unwrap().clone()
    }

    /// Waits at most `limit` for the run to end by itself (nothing is sent meanwhile): its
    /// exit code and everything it printed. Panics (and ends it) if it is still running.
    fn finish_within(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.reader.take().unwrap().join().unwrap();
                return (status.code(), self.seen());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("the run was still going {limit:?} later:\n{}", self.seen());
    }

    /// Waits for the run to end: its exit code and everything it printed.
    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        self.reader.take().unwrap().join().unwrap();
        (status.code(), self.seen.lock().unwrap().clone())
    }
}

/// `run --interactive` on a real terminal: each manual step is prompted when due with
/// what is due next, and only the explicit answers count — an empty line is asked again,
/// `note` keeps an observer note and asks again, `done` and `skip` are recorded with
/// their times.
#[test]
fn interactive_prompts_record_done_and_skipped_steps() {
    let web = WebService::start(Heal::After(Duration::from_millis(300)));
    let sb = Sandbox::new();
    sb.write(
        "playbook.md",
        "---\nsteps:\n  - name: tell\n    what: Tell staff\n    who: ic\n    on: inject\n  - name: page\n    what: Status page\n    who: comms\n    on: detect\n    after: 200ms\n---\n",
    );
    let yaml = scenario(&web, 9).replace("    on: [start]\n", "    on: [announce]\n");
    let file = sb.write_scenario("gameday", &yaml);
    let mut pty = Pty::run(&sb, &file);
    pty.wait_for(">>> STEP `tell` for ic: Tell staff\r\n>>> next: `page` for comms (detect +200ms)");
    std::thread::sleep(Duration::from_millis(150));
    pty.send("");
    pty.wait_for(">>> an empty line is not an answer; type one of: done | skip <reason> | note <text> | abort:");
    pty.send("note the status page login failed first");
    pty.wait_for(">>> noted");
    pty.send("done");
    pty.wait_for(">>> STEP `page` for comms: Status page");
    pty.send("s nobody on comms today");
    let (code, seen) = pty.finish();
    assert_eq!(code, Some(0), "{seen}");
    // No status line ever shares a line with a prompt.
    for line in seen.lines() {
        let after_prompt = line.rsplit_once(">>> ").map(|(_, rest)| rest).unwrap_or_default();
        assert!(!after_prompt.contains("  Reverting") && !after_prompt.contains("  Injecting"), "{line:?} in\n{seen}");
    }

    let r = read_report(&sb.only_run_dir());
    let step = |name: &str| r["steps"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone();
    let tell = step("tell");
    assert_eq!(tell["status"], "done", "{tell}");
    assert!(tell["done_ms"].as_u64().unwrap() >= tell["due_ms"].as_u64().unwrap() + 150, "{tell}");
    let page = step("page");
    assert_eq!(page["status"], "skipped", "{page}");
    assert_eq!(page["detail"], "nobody on comms today");
    let notes = std::fs::read_to_string(sb.only_run_dir().join("notes.jsonl")).unwrap();
    let note: serde_json::Value = serde_json::from_str(notes.lines().next().unwrap()).unwrap();
    assert_eq!(
        (note["author"].as_str(), note["text"].as_str()),
        (Some("facilitator"), Some("the status page login failed first"))
    );
}

/// A `hold` step on `start` holds the injection until the facilitator answers it: no
/// fault goes in while its prompt waits, and the run goes on once it is answered.
#[test]
fn a_hold_step_holds_the_injection_until_it_is_answered() {
    let web = WebService::start(Heal::After(Duration::from_millis(300)));
    let sb = Sandbox::new();
    sb.write(
        "playbook.md",
        "---\nsteps:\n  - name: criteria\n    what: Read the abort criteria aloud\n    who: ic\n    on: start\n    hold: true\n---\n",
    );
    let yaml = scenario(&web, 9).replace("    on: [start]\n", "    on: [announce]\n");
    let file = sb.write_scenario("gameday", &yaml);
    let mut pty = Pty::run(&sb, &file);
    pty.wait_for(
        ">>> STEP `criteria` for ic: Read the abort criteria aloud\r\n>>> nothing is injected until you answer",
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(web.break_calls(), 0, "nothing injected while the prompt waits");
    pty.send("done");
    let (code, seen) = pty.finish();
    assert_eq!(code, Some(0), "{seen}");
    assert!(seen.contains("Holding the injection until 1 step(s) on `start` are answered"), "{seen}");
    assert_eq!(web.break_calls(), 1);
    let r = read_report(&sb.only_run_dir());
    let step = r["steps"].as_array().unwrap().iter().find(|s| s["name"] == "criteria").unwrap().clone();
    assert_eq!(step["status"], "done");
    assert!(r["t_inject_ms"].as_u64().unwrap() >= step["done_ms"].as_u64().unwrap(), "{r}");
}

/// `abort` at a prompt aborts the run and reverts the fault at once (exit 3), with the
/// facilitator's abort as the report's reason — it is never taken for `done`.
#[test]
fn abort_at_a_prompt_aborts_and_reverts_the_run() {
    let web = WebService::start(Heal::Never);
    let sb = Sandbox::new();
    sb.write("playbook.md", "---\nsteps:\n  - name: tell\n    what: Tell staff\n    who: ic\n    on: inject\n---\n");
    let yaml =
        scenario(&web, 9).replace("    on: [start]\n", "    on: [announce]\n").replace("duration: 2s", "duration: 10m");
    let file = sb.write_scenario("gameday", &yaml);
    let mut pty = Pty::run(&sb, &file);
    pty.wait_for(">>> STEP `tell` for ic: Tell staff");
    pty.send("abort");
    let (code, seen) = pty.finish();
    assert_eq!(code, Some(3), "aborted\n{seen}");
    let r = read_report(&sb.only_run_dir());
    assert_eq!(r["outcome"], "aborted", "{r}");
    assert_eq!(r["abort_reason"], "the facilitator answered `abort` at step `tell`", "{r}");
    assert!(r["faults"][0]["reverted_at_ms"].is_u64(), "{r}");
    assert_eq!(web.fix_calls(), 1, "the revert ran");
    let tell = r["steps"].as_array().unwrap().iter().find(|s| s["name"] == "tell").unwrap().clone();
    assert_eq!(tell["status"], "aborted", "not skipped: {tell}");
    assert_eq!(tell["detail"], "the facilitator answered `abort` at step `tell`", "{tell}");
}

/// A game day whose playbook step `criteria` on `start` holds the injection, run on a
/// pseudo-terminal up to that step's prompt.
fn held_at_criteria() -> (WebService, Sandbox, Pty) {
    let web = WebService::start(Heal::Never);
    let sb = Sandbox::new();
    sb.write(
        "playbook.md",
        "---\nsteps:\n  - name: criteria\n    what: Read the abort criteria aloud\n    who: ic\n    on: start\n    hold: true\n---\n",
    );
    let yaml = scenario(&web, 9).replace("    on: [start]\n", "    on: [announce]\n");
    let file = sb.write_scenario("gameday", &yaml);
    let pty = Pty::run(&sb, &file);
    pty.wait_for(">>> nothing is injected until you answer");
    (web, sb, pty)
}

/// `abort` at a `hold` prompt aborts before anything is injected (even when the baseline
/// is ready at the same moment), with the facilitator's abort as the reason (not a
/// signal's), and the step recorded as aborted.
#[test]
fn abort_at_a_hold_prompt_says_the_facilitator_aborted_there() {
    let (web, sb, mut pty) = held_at_criteria();
    pty.send("abort");
    let (code, seen) = pty.finish();
    assert_eq!(code, Some(3), "aborted\n{seen}");
    assert_eq!(web.break_calls(), 0, "nothing injected\n{seen}");
    assert!(seen.contains("aborted and reverted: the facilitator answered `abort` at step `criteria`"), "{seen}");
    let r = read_report(&sb.only_run_dir());
    assert_eq!(r["abort_reason"], "the facilitator answered `abort` at step `criteria`", "{r}");
    let step = r["steps"].as_array().unwrap().iter().find(|s| s["name"] == "criteria").unwrap().clone();
    assert_eq!(step["status"], "aborted", "{step}");
}

/// A playbook for the prompts nobody answers: `tell` on `inject`, `rollback` on `revert`.
const UNANSWERED: &str = "---\nsteps:\n  - name: tell\n    what: Tell staff\n    who: ic\n    on: inject\n  - name: rollback\n    what: Confirm the rollback\n    who: sre\n    on: revert\n---\n";

/// A `hold` prompt that can get no answer (stdin closed: Ctrl-D) is not a go: the run
/// aborts with nothing injected, and the step is `unanswered`.
#[test]
fn a_hold_prompt_whose_stdin_closes_injects_nothing() {
    let (web, sb, mut pty) = held_at_criteria();
    {
        use std::io::Write;
        pty.stdin.write_all(b"\x04").unwrap();
    }
    let (code, seen) = pty.finish_within(Duration::from_secs(60));
    assert_eq!(code, Some(3), "aborted\n{seen}");
    let r = read_report(&sb.only_run_dir());
    assert_eq!(web.break_calls(), 0, "nothing injected\n{seen}");
    assert_eq!(r["abort_reason"], "step `criteria` holds the injection and had no answer (stdin closed)", "{r}");
    assert_eq!(step_of(&r, "criteria")["status"], "unanswered");
}

/// The step `name` of the report `r`.
fn step_of(r: &serde_json::Value, name: &str) -> serde_json::Value {
    r["steps"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone()
}

/// A prompt nobody answers never keeps a run alive: after `abort` at one step, the run
/// reverts, tells its outcome and run directory at once (not after the prompt), gives the
/// prompt still waiting on `revert` the notifications' cut-off (30 s), records it as
/// `unanswered` and exits by itself.
#[test]
fn a_prompt_nobody_answers_is_cut_off_after_the_run_and_recorded_as_unanswered() {
    let web = WebService::start(Heal::Never);
    let sb = Sandbox::new();
    sb.write("playbook.md", UNANSWERED);
    let yaml =
        scenario(&web, 9).replace("    on: [start]\n", "    on: [announce]\n").replace("duration: 2s", "duration: 10m");
    let file = sb.write_scenario("gameday", &yaml);
    let mut pty = Pty::run(&sb, &file);
    pty.wait_for(">>> STEP `tell` for ic: Tell staff");
    pty.send("abort");
    pty.wait_for(">>> STEP `rollback` for sre: Confirm the rollback");
    let (code, seen) = pty.finish_within(Duration::from_secs(90));
    assert_eq!(code, Some(3), "aborted\n{seen}");
    let dir = sb.only_run_dir();
    let outcome = seen.find("aborted and reverted: the facilitator answered `abort` at step `tell`");
    let run_dir = seen.find(&format!("\n{}\r\n", dir.display()));
    let cut = seen.find("notifications or prompts still under way 30s after the run ended: cut off");
    assert!(outcome.is_some() && run_dir.is_some() && cut.is_some(), "{seen}");
    assert!(outcome < cut && run_dir < cut, "the outcome and the run directory come first:\n{seen}");
    let r = read_report(&dir);
    assert_eq!(step_of(&r, "tell")["status"], "aborted", "{r}");
    let rollback = step_of(&r, "rollback");
    assert_eq!((rollback["status"].as_str(), rollback["done_ms"].as_u64()), (Some("unanswered"), None), "{rollback}");
    assert!(rollback["detail"].as_str().unwrap().starts_with("no answer: the run had ended"), "{rollback}");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("unanswered"), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("unanswered"), "the HTML report shows it too");
}

/// Once the run is over, a signal cuts a waiting prompt off at once (not after the 30 s),
/// and the outcome was told before it, while the prompt waited.
#[test]
fn a_signal_after_the_run_cuts_a_waiting_prompt_off_at_once() {
    let web = WebService::start(Heal::After(Duration::from_millis(300)));
    let sb = Sandbox::new();
    sb.write("playbook.md", UNANSWERED);
    let yaml = scenario(&web, 9).replace("    on: [start]\n", "    on: [announce]\n");
    let file = sb.write_scenario("gameday", &yaml);
    let mut pty = Pty::run(&sb, &file);
    pty.wait_for(">>> STEP `tell` for ic: Tell staff");
    pty.send("done");
    pty.wait_for(">>> STEP `rollback` for sre: Confirm the rollback");
    // The outcome is told while the prompt still waits, and the prompt is shown again.
    pty.wait_for("      Passed ");
    let dir = sb.only_run_dir();
    pty.wait_for(&format!("\n{}\r\n", dir.display()));
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    let pid = first.get("pid").or_else(|| first.pointer("/entry/pid")).and_then(|p| p.as_u64()).expect("pid");
    let kill = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(kill.success());
    let (code, seen) = pty.finish_within(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{seen}");
    assert!(
        seen.contains("SIGTERM: every fault is reverted or listed; not waiting for notifications or prompts"),
        "{seen}"
    );
    assert!(
        !seen.contains("still under way 30s after the run ended"),
        "cut off by the signal, not the deadline:\n{seen}"
    );
    let rollback = step_of(&read_report(&dir), "rollback");
    assert_eq!(rollback["status"], "unanswered", "{rollback}");
}

/// With `--log-format json` too, a status line never shares a waiting prompt's line, and
/// the prompt is shown again below it.
#[test]
fn json_status_lines_keep_off_a_waiting_prompt() {
    let web = WebService::start(Heal::After(Duration::from_millis(300)));
    let sb = Sandbox::new();
    sb.write("playbook.md", "---\nsteps:\n  - name: tell\n    what: Tell staff\n    who: ic\n    on: inject\n---\n");
    let yaml = scenario(&web, 9).replace("    on: [start]\n", "    on: [announce]\n");
    let file = sb.write_scenario("gameday", &yaml);
    let mut pty = Pty::run_with(&sb, &file, "--log-format json");
    pty.wait_for(">>> STEP `tell` for ic: Tell staff");
    // The fault is reverted while the prompt waits: status lines come meanwhile.
    pty.wait_for("\"status\":\"Reverted\"");
    std::thread::sleep(Duration::from_millis(200));
    let seen = pty.seen();
    let lines: Vec<&str> = seen.lines().map(|l| l.trim_end_matches('\r')).collect();
    let prompt = ">>> done | skip <reason> | note <text> | abort: ";
    let after_prompt: Vec<&str> = lines.iter().skip_while(|l| !l.starts_with(">>> STEP")).copied().collect();
    let json: Vec<usize> = (0..after_prompt.len()).filter(|i| after_prompt[*i].contains("{\"")).collect();
    assert!(!json.is_empty(), "{seen}");
    for i in json {
        assert!(after_prompt[i].starts_with('{'), "a JSON line shares a line: {:?} in\n{seen}", after_prompt[i]);
        let next = after_prompt.get(i + 1).copied().unwrap_or_else(|| seen.rsplit('\n').next().unwrap());
        assert!(next.starts_with('{') || next == prompt.trim_end() || next == prompt, "{next:?} in\n{seen}");
    }
    assert!(seen.trim_end_matches(' ').ends_with(prompt.trim_end()), "the prompt is shown again last:\n{seen}");
    pty.send("done");
    let (code, seen) = pty.finish();
    assert_eq!(code, Some(0), "{seen}");
    assert_eq!(step_of(&read_report(&sb.only_run_dir()), "tell")["status"], "done");
}

/// `validate` shows every problem of an invalid scenario and of its playbook in one pass:
/// the scenario's own error does not hide the playbook's.
#[test]
fn validate_shows_the_problems_of_the_scenario_and_its_playbook_together() {
    let web = WebService::start(Heal::Never);
    let sb = Sandbox::new();
    sb.write(
        "playbook.md",
        "---\nsteps:\n  - name: a\n    what: A\n    who: ic\n    on: inject\n  - name: b\n    what: B\n    who: ic\n    on: inject\n  - name: c\n    what: C\n    who: comms\n    on: detected\n  - name: d\n    what: D\n    who: bot\n    run: \"true\"\n    hold: true\n---\n",
    );
    let file = sb.write_scenario("gameday", &scenario(&web, 9).replace("every: 100ms", "every: 50ms"));
    let done = sb.run(&["validate".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(2), "{done}");
    for expected in [
        "gameday.yaml:6:12: steady_state[0].every:",
        "playbook.md:10:9: steps[1].on: overlaps steps[0] (`a`)",
        "playbook.md:14:9: steps[2].on: unknown event `detected`; did you mean `detect`?",
        "playbook.md:19:11: steps[3].hold: only a manual step on `start` can hold the injection (this one is command on `start`)",
    ] {
        assert!(done.stderr.contains(expected), "{expected:?} in\n{done}");
    }
    // An invalid scenario whose playbook is missing says so too.
    std::fs::remove_file(sb.path().join("playbook.md")).unwrap();
    let done = sb.run(&["validate".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(2), "{done}");
    assert!(done.stderr.contains("steady_state[0].every:"), "{done}");
    assert!(done.stderr.contains("playbook: playbook file") && done.stderr.contains("not found"), "{done}");
}

/// Secrets in a scenario (an http probe's Authorization header, a webhook's URL path and
/// headers) never reach the status lines, the journal or any report.
#[test]
fn secrets_stay_out_of_logs_journal_and_reports() {
    const SECRET: &str = "s3cr3t-T0KEN-do-not-print";
    let web = WebService::start(Heal::After(Duration::from_millis(300)));
    let sb = Sandbox::new();
    sb.write("playbook.md", "# no steps\n");
    let yaml = scenario(&web, 9)
        .replace("    http: {", &format!("    http: {{ headers: {{ Authorization: \"Bearer {SECRET}\" }}, "))
        .replace(
            &format!("url: \"{}/notify\", format: slack }}", web.url("/hook")),
            &format!(
                "url: \"{}/notify-{SECRET}\", format: slack, headers: {{ X-Token: \"{SECRET}\" }} }}",
                web.url("/hook")
            ),
        )
        .replace("http://127.0.0.1:9/never", &format!("http://127.0.0.1:9/{SECRET}"));
    assert!(yaml.matches(SECRET).count() >= 4, "{yaml}");
    let file = sb.write_scenario("secrets", &yaml);
    for format in ["text", "json"] {
        let done =
            sb.run(&["--log-format".as_ref(), format.as_ref(), "run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
        assert_eq!(done.code(), Some(0), "{done}");
        assert!(!done.stderr.contains(SECRET) && !done.stdout.contains(SECRET), "logs leak the secret:\n{done}");
    }
    for dir in sb.run_dirs() {
        for name in ["journal.jsonl", "report.json", "report.md", "junit.xml", "report.html"] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            assert!(!text.contains(SECRET), "{name} leaks the secret");
        }
    }
    assert!(web.hooks().iter().any(|h| h.contains("notify-")), "the webhook with the secret path was still called");
}

#[test]
fn iam_policy_prints_a_policy_for_every_shipped_aws_scenario() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sb = Sandbox::new();
    for name in [
        "az-failure",
        "ebs-detach",
        "rds-failover",
        "credential-revocation",
        "az-power-interruption",
        "ses-outage",
        "region-outage",
    ] {
        let file = root.join("scenarios").join(format!("{name}.yaml"));
        let done = sb.run(&["iam-policy".as_ref(), file.as_os_str()]);
        assert_eq!(done.code(), Some(0), "{done}");
        let p: serde_json::Value = serde_json::from_str(&done.stdout).expect("a JSON policy");
        assert_eq!(p["Version"], "2012-10-17");
        let sids: Vec<&str> = p["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert!(sids.iter().any(|s| s.starts_with("Read")), "{name}: {sids:?}");
        assert!(sids.iter().any(|s| s.starts_with("Lease")), "{name}: {sids:?}");
    }
}

/// Every `Effect Action Resource Condition` a policy grants.
fn grants(p: &serde_json::Value) -> std::collections::BTreeSet<String> {
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            v => v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        }
    };
    let mut out = std::collections::BTreeSet::new();
    for st in p["Statement"].as_array().unwrap() {
        for a in list(&st["Action"]) {
            for r in list(&st["Resource"]) {
                out.insert(format!(
                    "{} {a} {r} {}",
                    st["Effect"],
                    st.get("Condition").unwrap_or(&serde_json::Value::Null)
                ));
            }
        }
    }
    out
}

/// `iam-policy` with several scenarios prints one policy that grants exactly the union of
/// theirs (no more), with unique Sids; an invalid file among them prints no policy.
#[test]
fn iam_policy_merges_several_scenarios_into_exactly_their_union() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sb = Sandbox::new();
    let files: Vec<_> = ["az-failure", "ebs-detach", "rds-failover", "credential-revocation"]
        .iter()
        .map(|n| root.join("scenarios").join(format!("{n}.yaml")))
        .collect();
    let mut union = std::collections::BTreeSet::new();
    for f in &files {
        let done = sb.run(&["iam-policy".as_ref(), f.as_os_str()]);
        assert_eq!(done.code(), Some(0), "{done}");
        union.extend(grants(&serde_json::from_str(&done.stdout).unwrap()));
    }
    let mut args: Vec<&std::ffi::OsStr> = vec!["iam-policy".as_ref()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    let done = sb.run(&args);
    assert_eq!(done.code(), Some(0), "{done}");
    let merged: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(grants(&merged), union, "{merged:#}");
    let sids: Vec<&str> = merged["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    let mut unique = sids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), sids.len(), "{sids:?}");

    let bad = sb.write_scenario("bad", "version: 1\nname: bad\n");
    args.push(bad.as_os_str());
    let done = sb.run(&args);
    assert_eq!(done.code(), Some(2), "{done}");
    assert!(done.stdout.is_empty(), "no policy when a file is invalid: {done}");
    assert!(done.stderr.contains("bad.yaml"), "{done}");
}
