//! Run state in S3 (`--state s3://BUCKET/PREFIX`) against a real moto server. Each
//! "machine" is a sandbox with its own working directory and local cache; machines share
//! only the bucket and, as CI runners share a secret, the installation key. A run killed on
//! one is recovered from another; history, reports and notes are shared; journal entries
//! and locks are conditional writes that never overwrite; a stale lock is taken, a fresh
//! one is not.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::moto::{Moto, shop_scenario};
use crate::support::{Finished, Sandbox};

const WAIT: Duration = Duration::from_secs(60);
const URL: &str = "s3://drills/ci/web";
const PREFIX: &str = "ci/web/runs/";

/// Runs `code` with `s3` (a boto3 client of this moto) and returns the JSON it prints.
fn s3(moto: &Moto, code: &str) -> Value {
    moto.python_json(&format!(
        "import boto3, json\ns3=boto3.client('s3', endpoint_url=ENDPOINT, region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing')\n{code}"
    ))
}

fn make_bucket(moto: &Moto) {
    s3(moto, "s3.create_bucket(Bucket='drills')\nprint('{}')");
}

/// The keys under `prefix`, in order.
fn keys(moto: &Moto, prefix: &str) -> Vec<String> {
    let v = s3(
        moto,
        &format!(
            "r=s3.list_objects_v2(Bucket='drills', Prefix='{prefix}')\nprint(json.dumps([o['Key'] for o in r.get('Contents', [])]))"
        ),
    );
    serde_json::from_value(v).unwrap_or_default()
}

fn put(moto: &Moto, key: &str, body: &str) {
    s3(moto, &format!("s3.put_object(Bucket='drills', Key={key:?}, Body={body:?}.encode())\nprint('{{}}')"));
}

fn get(moto: &Moto, key: &str) -> String {
    let v =
        s3(moto, &format!("print(json.dumps(s3.get_object(Bucket='drills', Key={key:?})['Body'].read().decode()))"));
    v.as_str().unwrap_or_default().to_string()
}

/// A machine with S3 state. With `key_of`, it has that machine's installation key (a CI
/// secret every runner gets).
fn machine(moto: &Moto, key_of: Option<&Sandbox>) -> Sandbox {
    let mut sb = moto.sandbox();
    sb.env("FIREDRILL_LOCK_STALE", "3s");
    match key_of {
        Some(first) => {
            std::fs::copy(first.key_file(), sb.key_file()).expect("share the installation key");
        }
        // The secret itself: 32 random bytes only the owner may read.
        None => {
            use std::os::unix::fs::PermissionsExt;
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let bytes: Vec<u8> =
                (0..32u32).map(|i| (nanos >> (i % 16 * 8)) as u8 ^ (i as u8).wrapping_mul(151)).collect();
            std::fs::write(sb.key_file(), bytes).unwrap();
            std::fs::set_permissions(sb.key_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    sb
}

/// `firedrill --state URL ARGS` on `sb`.
fn on(sb: &Sandbox, args: &[&str]) -> Finished {
    let mut all = vec!["--state", URL];
    all.extend_from_slice(args);
    sb.run(&all)
}

/// The run id in the `run_started` JSON event, checking it names the S3 state.
fn started(out: &str) -> String {
    let ev = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "run_started")
        .unwrap_or_else(|| panic!("no run_started event in\n{out}"));
    let id = ev["run_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(ev["state"], json!(format!("{URL}/runs/{id}/")), "{ev}");
    id
}

fn az_scenario() -> String {
    shop_scenario("az-drill")
        + r#"steady_state:
  - name: errors
    cloudwatch_alarm: { alarm: shop-5xx }
    every: 100ms
faults:
  - name: f
    duration: 5m
    az_outage: { zone: us-east-1a, targets: [subnets, web, asg], network: true, stop_instances: true, asg: remove_zone }
recovery:
  objective: sustain
  stable_for: 200ms
  settle_timeout: 30s
"#
}

fn local_scenario(name: &str, duration: &str) -> String {
    format!(
        r#"version: 1
name: {name}
steady_state:
  - name: ok
    command: {{ run: "true" }}
    every: 100ms
faults:
  - name: f
    command: {{ inject: "true", revert: "true", timeout: 10s }}
    duration: {duration}
recovery:
  objective: sustain
  stable_for: 100ms
  settle_timeout: 10s
"#
    )
}

/// The job that ran the drill is cancelled and its runner is gone (SIGKILL while the AZ
/// outage is in place); the next job, on another machine and in another directory,
/// recovers it from the S3 URL alone: every subnet's ACL association, the group's subnets,
/// the instances' states and the lease tags are back exactly.
#[test]
fn a_run_killed_on_one_machine_is_recovered_from_s3_on_another() {
    let moto = Moto::start();
    moto.seed(&[]);
    make_bucket(&moto);
    let before = moto.snapshot();

    let a = machine(&moto, None);
    let file = a.write_scenario("az", &az_scenario());
    let args = ["--state", URL, "--log-format", "json", "run", "--yes", file.to_str().unwrap()];
    let mut running = a.spawn(&args);
    a.wait_for_journal("done", WAIT);
    running.kill();
    let killed_at = Instant::now();
    let died = running.wait();
    assert_eq!(died.code(), None, "killed by SIGKILL\n{died}");
    let id = started(&died.stderr);
    let during = moto.snapshot();
    for part in ["nacl_of_subnet", "asg_subnets", "instances"] {
        assert_ne!(during[part], before[part], "{part}: the fault is in place after SIGKILL");
    }
    // The journal is in S3, one object per entry, the lock too (nobody could delete it).
    let journal = keys(&moto, &format!("{PREFIX}{id}/journal/"));
    assert!(journal.len() >= 3, "{journal:?}");
    assert!(keys(&moto, &format!("{PREFIX}{id}/lock")).len() == 1);
    // The next runner: another directory, another cache, the same key (a CI secret).
    let b = machine(&moto, Some(&a));
    drop(a);
    let recover_started = Instant::now();
    let rec = on(&b, &["recover"]);
    let (took, recover_took) = (killed_at.elapsed(), recover_started.elapsed());
    assert_eq!(rec.code(), Some(0), "{rec}");
    // Logged, never asserted: the recover waits out the lock's staleness (3s here).
    eprintln!(
        "s3 state: SIGKILL to fully restored by `recover --state {URL}` on another machine: {took:?} \
         (the recover itself: {recover_took:?}; the rest is this test's own checks)"
    );
    let after = moto.snapshot();
    for part in ["nacl_of_subnet", "asg_subnets", "instances", "tags", "firedrill_nacls"] {
        assert_eq!(after[part], before[part], "{part} is back exactly as before the run");
    }
    assert_eq!(after, before, "recover put every attribute back and released the lease");
    // The recover's entries are in S3 and its lock is gone; a third machine sees the run
    // as recovered, and a second recover changes nothing.
    assert!(keys(&moto, &format!("{PREFIX}{id}/journal/")).len() > journal.len());
    assert!(keys(&moto, &format!("{PREFIX}{id}/lock")).is_empty(), "the recover released the lock");
    let c = machine(&moto, Some(&b));
    let runs = on(&c, &["runs"]);
    assert!(runs.stdout.contains(&id) && runs.stdout.contains("crashed, recovered"), "{runs}");
    let again = on(&c, &["recover"]);
    assert_eq!(again.code(), Some(0), "{again}");
    assert_eq!(moto.snapshot(), before);
}

/// Two runners, one bucket: each sees both runs in `history`, can print the other's
/// report, and a post-mortem note written on one shows in the report read on the other.
#[test]
fn history_reports_and_notes_are_shared_through_s3() {
    let moto = Moto::start();
    make_bucket(&moto);
    let a = machine(&moto, None);
    let b = machine(&moto, Some(&a));
    let mut ids = Vec::new();
    for (sb, name) in [(&a, "first"), (&b, "second")] {
        let file = sb.write_scenario(name, &local_scenario(name, "200ms"));
        let out = on(sb, &["--log-format", "json", "run", "--yes", file.to_str().unwrap()]);
        assert_eq!(out.code(), Some(0), "{out}");
        ids.push(started(&out.stderr));
    }
    for sb in [&a, &b] {
        let h = on(sb, &["history", "--format", "json"]);
        assert_eq!(h.code(), Some(0), "{h}");
        let rows: Value = serde_json::from_str(&h.stdout).expect("history --format json is JSON");
        let seen: Vec<&str> = rows.as_array().unwrap().iter().filter_map(|r| r["run_id"].as_str()).collect();
        assert_eq!(seen, ids.iter().map(String::as_str).collect::<Vec<_>>(), "{h}");
    }
    let note = on(&b, &["note", &ids[0], "seen from the other runner"]);
    assert_eq!(note.code(), Some(0), "{note}");
    let report = on(&a, &["report", &ids[0], "--format", "json"]);
    assert_eq!(report.code(), Some(0), "{report}");
    let r: Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(r["run_id"], json!(ids[0]));
    assert!(r["notes"].to_string().contains("seen from the other runner"), "{}", r["notes"]);
    // `iam-policy` with S3 state adds what the state needs, scoped to the prefix.
    let file = a.write_scenario("az", &az_scenario());
    let policy = on(&a, &["iam-policy", file.to_str().unwrap()]);
    assert_eq!(policy.code(), Some(0), "{policy}");
    assert!(policy.stdout.contains("\"arn:aws:s3:::drills/ci/web/runs/*\""), "{policy}");
    assert!(policy.stdout.contains("\"s3:PutObject\"") && policy.stdout.contains("\"s3:ListBucket\""), "{policy}");
    // A bucket that does not exist is named, and nothing runs.
    let missing = b.run(&["--state", "s3://no-such-drills/x", "run", "--yes", "second.yaml"]);
    assert_ne!(missing.code(), Some(0), "{missing}");
    assert!(
        missing.stderr.contains("s3://no-such-drills/x/runs/") && missing.stderr.contains("NoSuchBucket"),
        "{missing}"
    );
    assert!(!missing.stderr.contains("Injecting"), "{missing}");
    // What a bad URL says, naming the flag and the variable.
    let bad = b.run(&["--state", "s3://Bad_Bucket/x", "runs"]);
    assert_eq!(bad.code(), Some(2), "{bad}");
    assert!(
        bad.stderr.contains("--state (or FIREDRILL_STATE)") && bad.stderr.contains("not an S3 bucket name"),
        "{bad}"
    );
    let both = b.run_with_env(&["runs"], &[("FIREDRILL_STATE", "/elsewhere")]);
    assert_eq!(both.code(), Some(2), "a local --state and another --state-dir: {both}");
}

/// A second writer of a journal entry: the run finds the entry it is about to write
/// already there (another process wrote it) and gets a clear error; the other writer's
/// entry is not overwritten.
#[test]
fn a_journal_entry_is_never_overwritten() {
    let moto = Moto::start();
    make_bucket(&moto);
    let a = machine(&moto, None);
    let file = a.write_scenario("w", &local_scenario("w", "15s"));
    let running = a.spawn(&["--state", URL, "run", "--yes", file.to_str().unwrap()]);
    a.wait_for_journal("done", WAIT);
    let id = a.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    let journal = keys(&moto, &format!("{PREFIX}{id}/journal/"));
    let next = format!("{PREFIX}{id}/journal/{:08}.json", journal.len());
    let theirs = r#"{"at":"2026-12-01T00:00:00Z","event":"run_finished","outcome":"someone else"}"#;
    put(&moto, &next, theirs);
    let out = running.wait();
    assert!(
        out.stderr.contains("already exists with other contents") && out.stderr.contains("nothing was overwritten"),
        "{out}"
    );
    assert_eq!(get(&moto, &next), theirs, "the other writer's entry stands");
}

/// A live run's lock (its heartbeat moves) is refused to `recover`; a recover's lock with
/// a fresh heartbeat says who holds it; a lock whose heartbeat is stale is taken.
#[test]
fn recover_takes_a_stale_lock_and_refuses_a_fresh_one() {
    let moto = Moto::start();
    make_bucket(&moto);
    let a = machine(&moto, None);
    let b = machine(&moto, Some(&a));
    // A live run on machine a.
    let file = a.write_scenario("live", &local_scenario("live", "20s"));
    let running = a.spawn(&["--state", URL, "run", "--yes", file.to_str().unwrap()]);
    a.wait_for_journal("done", WAIT);
    let id = a.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    let rec = on(&b, &["recover", &id]);
    assert_eq!(rec.code(), Some(0), "{rec}");
    assert!(rec.stderr.contains("is still running"), "{rec}");
    let journal = keys(&moto, &format!("{PREFIX}{id}/journal/"));
    assert!(
        !journal.iter().any(|k| get(&moto, k).contains("\"by\":\"recover\"")),
        "recover reverted nothing of a live run"
    );
    drop(running);

    // A crashed run whose lock a recover holds: fresh, then stale.
    let crashed = "20261201T100000Z-crashed-0001";
    let intent = format!("{PREFIX}{crashed}/journal/00000000.json");
    put(
        &moto,
        &intent,
        &format!(
            r#"{{"at":"2026-12-01T10:00:00Z","event":"run_started","run_id":"{crashed}","scenario":"crashed","scenario_file":"c.yaml","pid":1}}"#
        ),
    );
    put(
        &moto,
        &format!("{PREFIX}{crashed}/journal/00000001.json"),
        r#"{"at":"2026-12-01T10:00:01Z","event":"intent","step":1,"fault":"f","undo":{"kind":"none","description":"nothing to undo","data":null}}"#,
    );
    let lock = format!("{PREFIX}{crashed}/lock");
    let now = s3(
        &moto,
        "import datetime\nprint(json.dumps(datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.000Z')))",
    );
    let body =
        |at: &str| format!(r#"{{"holder":"recover","pid":4242,"host":"runner-9","token":"t","heartbeat":"{at}"}}"#);
    put(&moto, &lock, &body(now.as_str().unwrap()));
    // (A staleness the test's own slow steps cannot reach on a loaded machine.)
    let busy =
        b.run_with_env(&["--state", URL, "recover", crashed, "--trust-journal"], &[("FIREDRILL_LOCK_STALE", "10m")]);
    assert_ne!(busy.code(), Some(0), "{busy}");
    assert!(busy.stderr.contains("another `firedrill recover` (pid 4242 on runner-9)"), "{busy}");
    assert_eq!(get(&moto, &lock), body(now.as_str().unwrap()), "the fresh lock stands");
    put(&moto, &lock, &body("2026-01-01T00:00:00.000Z"));
    let took = on(&b, &["recover", crashed, "--trust-journal"]);
    assert_eq!(took.code(), Some(0), "a stale lock is taken\n{took}");
    assert!(keys(&moto, &lock).is_empty(), "and released");
}

/// `recover --sweep` from machine B, with `--state` the URL machine A runs with: a run
/// alive on A is left alone by its S3 lock even with `--min-age 0s`, and refused when
/// named; a sweep that cannot read the locks refuses unless told to rely on --min-age
/// alone. Once A is SIGKILLed and its lock is stale, the sweep restores everything.
#[test]
fn a_sweep_leaves_a_run_alive_on_another_machine_alone_by_its_s3_lock() {
    let moto = Moto::start();
    moto.seed(&[]);
    make_bucket(&moto);
    let before = moto.snapshot();
    let a = machine(&moto, None);
    let file = a.write_scenario("az", &az_scenario());
    let mut running = a.spawn(&["--state", URL, "run", "--yes", file.to_str().unwrap()]);
    a.wait_for_journal("done", WAIT);
    let id = a.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    let during = moto.snapshot();
    assert_ne!(during["nacl_of_subnet"], before["nacl_of_subnet"], "the fault is in place");

    let b = machine(&moto, Some(&a));
    let sweep = |state: &str, extra: &[&str]| {
        let mut args = vec![
            "--state",
            state,
            "recover",
            "--sweep",
            "--account",
            "123456789012",
            "--opt-in-tag",
            "firedrill=allowed",
        ];
        args.extend_from_slice(extra);
        b.run(&args)
    };
    let left = sweep(URL, &["--min-age", "0s", "--yes"]);
    assert_eq!(left.code(), Some(5), "{left}");
    let alive = "it is still running on ";
    let lock = format!("(its lock in {URL}/runs/{id}/lock is fresh)");
    assert!(left.stderr.contains(&format!("run {id}: ")) && left.stderr.contains(alive), "{left}");
    assert!(left.stderr.contains(&format!("/{} {lock}", running.pid())), "names the holder's pid: {left}");
    assert!(!left.stderr.contains("Reverted"), "{left}");
    // What was left alone was not tried: it is not called a failed revert.
    assert!(left.stderr.contains("left in place, as listed above: nothing was tried on them"), "{left}");
    assert!(!left.stderr.contains("could not be reverted"), "{left}");
    assert_eq!(moto.snapshot(), during, "a run alive on another machine is not swept");

    let named = sweep(URL, &[&id, "--yes"]);
    assert_eq!(named.code(), Some(7), "{named}");
    assert!(named.stderr.contains(&lock) && named.stderr.contains("instead of sweeping it"), "{named}");
    assert_eq!(moto.snapshot(), during);

    // The locks cannot be read: refused, not swept on --min-age alone...
    let blind = sweep("s3://no-such-drills/ci", &["--min-age", "0s", "--yes"]);
    assert_eq!(blind.code(), Some(7), "{blind}");
    assert!(
        blind.stderr.contains("cannot read the run locks in s3://no-such-drills/ci/runs")
            && blind.stderr.contains("--ignore-remote-locks"),
        "{blind}"
    );
    // ...unless the operator says so: then the run is chosen by its age (shown; no --yes).
    let told = sweep("s3://no-such-drills/ci", &["--min-age", "0s", "--ignore-remote-locks"]);
    assert_eq!(told.code(), Some(2), "{told}");
    assert!(told.stdout.contains(&format!("run {id}:")) && told.stderr.contains("pass --yes"), "{told}");
    assert_eq!(moto.snapshot(), during, "nothing touched");

    // `iam-policy --sweep` with S3 state includes reading the locks.
    let policy = on(&b, &["iam-policy", "--sweep", file.to_str().unwrap()]);
    assert_eq!(policy.code(), Some(0), "{policy}");
    assert!(
        policy.stdout.contains("\"s3:GetObject\"") && policy.stdout.contains("\"arn:aws:s3:::drills/ci/web/runs/*\""),
        "{policy}"
    );

    running.kill();
    assert_eq!(running.wait().code(), None, "killed by SIGKILL");
    // The machine is gone: its lock's heartbeat goes stale (FIREDRILL_LOCK_STALE=3s here).
    std::thread::sleep(Duration::from_secs(4));
    let swept = sweep(URL, &["--min-age", "0s", "--yes"]);
    assert_eq!(swept.code(), Some(0), "{swept}");
    assert!(swept.stderr.contains("nothing left injected") && !swept.stderr.contains(alive), "{swept}");
    assert_eq!(moto.snapshot(), before, "the sweep restored everything");
}

/// An HTTP gate that answers 404 (no open incident) only once two requests wait on it:
/// the two schedulers asking it are then both past their read of the claims, and race
/// for the claim itself.
fn barrier_gate() -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut waiting = Vec::new();
        for s in l.incoming().take(2) {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.read(&mut [0u8; 4096]);
            waiting.push(s);
        }
        for mut s in waiting {
            let _ = write!(s, "HTTP/1.1 404 X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    format!("http://127.0.0.1:{port}/incidents/open")
}

/// Two schedulers on two machines share the S3 state and wake at once for the same due
/// game day; both find it unclaimed and pass its gate together, then race to claim it:
/// exactly one runs it, the other says it was already claimed; a third machine's
/// `run-due` runs nothing and its `history` shows the one run.
#[test]
fn two_schedulers_sharing_s3_state_run_a_due_game_day_once() {
    let moto = Moto::start();
    make_bucket(&moto);
    let a = machine(&moto, None);
    let b = machine(&moto, Some(&a));
    let c = machine(&moto, Some(&a));
    let calendar = format!(
        "version: 1\ntimezone: UTC\ngates:\n  http_ok: [{{ url: \"{}\", expect_status: 404, timeout: 60s }}]\n\
         gamedays:\n  - scenario: gd.yaml\n    id: monthly\n    cron: \"0 10 1 * *\"\n",
        barrier_gate()
    );
    let cal: Vec<String> = [&a, &b, &c]
        .iter()
        .map(|sb| {
            sb.write("gd.yaml", &local_scenario("sched", "1s"));
            sb.write("calendar.yaml", &calendar).display().to_string()
        })
        .collect();
    let args = |cal: &str| -> Vec<String> {
        ["--state", URL, "schedule", "run-due", cal, "--now", "2026-12-01T10:05:00Z"].map(String::from).to_vec()
    };
    let (ra, rb) = (a.spawn(&args(&cal[0])), b.spawn(&args(&cal[1])));
    let (oa, ob) = (ra.wait(), rb.wait());
    assert_eq!((oa.code(), ob.code()), (Some(0), Some(0)), "{oa}\n{ob}");
    let claimed = |o: &Finished| {
        o.stderr.contains("monthly@2026-12-01T10:00 was already claimed in s3://drills/ci/web/schedule/")
    };
    assert!(claimed(&oa) != claimed(&ob), "exactly one reports the claim:\n{oa}\n{ob}");
    // It lost the conditional create, after both had found the occurrence unclaimed.
    let lost = if claimed(&oa) { &oa } else { &ob };
    assert!(lost.stderr.contains("another firedrill is handling it"), "{lost}");
    let ran = [&oa, &ob].iter().filter(|o| o.stderr.contains("Report")).count();
    assert_eq!(ran, 1, "exactly one runs it:\n{oa}\n{ob}");
    assert_eq!(keys(&moto, "ci/web/schedule/claims/").len(), 1);
    let runs: std::collections::BTreeSet<String> = keys(&moto, PREFIX)
        .iter()
        .filter_map(|k| k.strip_prefix(PREFIX)?.split('/').next().map(String::from))
        .collect();
    assert_eq!(runs.len(), 1, "one run in the bucket: {runs:?}");

    let third = c.run(&args(&cal[2]));
    assert_eq!(third.code(), Some(0), "{third}");
    assert!(claimed(&third) && !third.stderr.contains("Report"), "{third}");
    let due = on(&c, &["schedule", "due", &cal[2], "--now", "2026-12-01T10:05:00Z"]);
    assert_eq!(due.code(), Some(0), "{due}");
    assert!(due.stdout.trim().is_empty(), "nothing due: {due}");
    let history = on(&c, &["history"]);
    assert_eq!(history.code(), Some(0), "{history}");
    let run = runs.iter().next().unwrap();
    assert_eq!(history.stdout.matches("monthly  passed  run ").count(), 1, "{history}");
    assert!(history.stdout.contains(run.as_str()), "{history}");
}

/// With S3 state the `end` webhook names the report by its S3 URL — the runner and its
/// local copy may be gone by the time anyone reads it — in the JSON fields and in the
/// chat text; the report is there.
#[test]
fn the_end_webhook_names_the_report_in_s3() {
    use crate::support::web::{Heal, WebService};
    let moto = Moto::start();
    make_bucket(&moto);
    let web = WebService::start(Heal::Never);
    let a = machine(&moto, None);
    let yaml = format!(
        "{}notify:\n  - webhook: {{ url: \"{hooks}/json\" }}\n    on: [end]\n  - webhook: {{ url: \"{hooks}/chat\", format: slack }}\n    on: [end]\n",
        local_scenario("hooked", "200ms"),
        hooks = web.url("/hook"),
    );
    let file = a.write_scenario("hooked", &yaml);
    let out = on(&a, &["--log-format", "json", "run", "--yes", file.to_str().unwrap()]);
    assert_eq!(out.code(), Some(0), "{out}");
    let id = started(&out.stderr);
    let url = format!("{URL}/runs/{id}/report.html");
    let end = web.hook_bodies("/hook/json");
    assert_eq!(end.len(), 1, "{end:?}");
    assert_eq!(end[0]["report"], json!(url), "{}", end[0]);
    let chat = web.hook_bodies("/hook/chat");
    let text = chat[0]["text"].as_str().unwrap();
    assert!(text.ends_with(&format!("report: {url}")), "{text}");
    assert!(get(&moto, &format!("{PREFIX}{id}/report.html")).contains("<html"), "the report is in S3");
}
