//! The AWS path under faults: a loopback proxy between firedrill and moto throttles,
//! answers 503, delays and drops connections on a schedule. Whatever the mix, every run
//! must end with moto exactly as before it (reverted 100%), and the report must count the
//! retries it took. A run may pass (the SDK's retries absorbed every fault) or abort (one
//! call failed all its attempts, which happens by chance when faults hit 3 requests in 7
//! and calls run concurrently); it may never leave anything behind.

use crate::support::moto::Moto;
use crate::support::proxy::{Act, Proxy};
use std::time::Duration;

use crate::support::{read_journal, read_report, wait_until};

const SCENARIO: &str = r#"version: 1
name: chaos
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: { key: firedrill, value: allowed }
targets:
  subnets: { type: ec2:subnet, tags: { app: shop } }
  web: { type: ec2:instance, tags: { app: shop } }
  asg: { type: autoscaling:group, tags: { app: shop } }
  vols: { type: ec2:volume, tags: { role: data }, filters: { availability_zone: us-east-1b } }
  role: { type: iam:role, tags: { app: shop } }
steady_state:
  - name: ok
    command: { run: "true" }
    every: 200ms
faults:
  - name: zone
    az_outage: { zone: us-east-1a, targets: [subnets, web, asg], network: true, stop_instances: true, asg: remove_zone }
    duration: 1s
  - name: disks
    ebs_detach_volumes: { target: vols }
    duration: 1s
  - name: creds
    iam_revoke_credentials: { target: role }
    duration: 1s
recovery:
  objective: sustain
  stable_for: 200ms
  settle_timeout: 20s
"#;

/// Runs the scenario through a proxy with `schedule`; returns (exit code, report, retries).
fn run_mix(name: &str, schedule: impl Fn(usize) -> Act + Send + Sync + 'static, exits: &[i32]) -> u64 {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let proxy = Proxy::start(moto.port, schedule);
    let mut sb = moto.sandbox();
    sb.env("AWS_ENDPOINT_URL", &proxy.endpoint());
    let file = sb.write_scenario("chaos", SCENARIO);
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    let code = done.code().unwrap_or(-1);
    assert!(exits.contains(&code), "{name}: exit {code}\n{done}");
    assert_eq!(moto.snapshot(), before, "{name}: moto must be exactly as before the run\n{done}");
    let report = read_report(&sb.only_run_dir());
    let retries = report["aws"]["api_retries"].as_u64().unwrap();
    eprintln!(
        "proxy mix {name}: {} requests, {} faults injected, exit {code}, outcome {}, {} API calls, {retries} retries",
        proxy.requests(),
        proxy.faults(),
        report["outcome"],
        report["aws"]["api_calls"]
    );
    assert!(proxy.faults() == 0 || retries > 0, "{name}: retries are counted");
    retries
}

#[test]
fn throttling_every_third_call() {
    run_mix("throttle/3", |i| if i % 3 == 2 { Act::Throttle } else { Act::Pass }, &[0, 3]);
}

#[test]
fn server_errors_every_fourth_call() {
    run_mix("503/4", |i| if i % 4 == 3 { Act::Unavailable } else { Act::Pass }, &[0, 3]);
}

#[test]
fn dropped_connections_before_the_request_reached_aws() {
    run_mix("drop-before/5", |i| if i % 5 == 4 { Act::DropBefore } else { Act::Pass }, &[0, 3]);
}

#[test]
fn latency_and_a_mix_of_everything() {
    let mix =
        [Act::Pass, Act::Throttle, Act::Delay(300), Act::Unavailable, Act::Pass, Act::DropBefore, Act::Delay(100)];
    run_mix("mixed", move |i| mix[i % mix.len()], &[0, 3]);
}

/// The answer is lost after AWS acted: the retry may find the change already made (or a
/// second clone ACL made); the run may abort, but everything must still be put back.
#[test]
fn answers_lost_after_the_change_was_made() {
    run_mix("drop-after/6", |i| if i % 6 == 5 { Act::DropAfter } else { Act::Pass }, &[0, 3]);
}

/// A call that never answers does not hold the revert back: the StopInstances request
/// hangs in the proxy, Ctrl-C arrives, and 10 s later (the engine's INJECT_GRACE) the
/// injection is cut off and everything it journaled is reverted. Without the cut-off the
/// SDK's own timeouts would keep the fault in place for two minutes, past this test's
/// limit on the command.
#[test]
fn a_hung_call_is_cut_off_and_the_revert_goes_on() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let proxy =
        Proxy::start_by_request(
            moto.port,
            |_, req| if req.contains("Action=StopInstances") { Act::Hang } else { Act::Pass },
        );
    let mut sb = moto.sandbox();
    sb.env("AWS_ENDPOINT_URL", &proxy.endpoint());
    let file = sb.write_scenario(
        "hung",
        r#"version: 1
name: hung
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: { key: firedrill, value: allowed }
targets:
  web: { type: ec2:instance, tags: { app: shop }, filters: { availability_zone: us-east-1a } }
steady_state:
  - name: ok
    command: { run: "true" }
    every: 200ms
faults:
  - name: stop
    ec2_stop_instances: { target: web }
    duration: 5m
recovery:
  objective: sustain
  stable_for: 200ms
  settle_timeout: 20s
"#,
    );
    let running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    wait_until("the stop's intent in the journal", Duration::from_secs(30), || {
        sb.run_dirs()
            .first()
            .is_some_and(|d| read_journal(d).iter().any(|e| e["event"] == "intent" && e["fault"] == "stop"))
    });
    running.signal("INT");
    let done = running.wait();
    assert_eq!(done.code(), Some(3), "aborted: {done}");
    let report = read_report(&sb.only_run_dir());
    let fault = &report["faults"][0];
    assert!(
        fault["inject_error"].as_str().is_some_and(|e| e.starts_with("cut off 10s after the run began to abort")),
        "{report}"
    );
    assert!(fault["reverted_at_ms"].is_u64(), "the journaled stop was reverted: {report}");
    assert_eq!(moto.snapshot(), before, "{done}");
    assert!(proxy.requests() > 0);
}

const STOP_1A: &str = r#"version: 1
name: NAME
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: { key: firedrill, value: allowed }
targets:
  web: { type: ec2:instance, tags: { app: shop }, filters: { availability_zone: us-east-1a } }
steady_state:
  - name: ok
    command: { run: "true" }
    every: 200ms
faults:
  - name: stop
    ec2_stop_instances: { target: web }
    duration: DURATION
EXTRA
recovery:
  objective: sustain
  stable_for: 200ms
  settle_timeout: 20s
"#;

fn stop_1a(name: &str, duration: &str, extra: &str) -> String {
    STOP_1A.replace("NAME", name).replace("DURATION", duration).replace("EXTRA", extra)
}

/// An AWS answer that never ends (a broken endpoint or proxy streaming garbage) fails its
/// call at the 64 MiB cap instead of growing firedrill until the OOM killer ends it with
/// the fault still injected. Here the `alarm` stop condition's DescribeAlarms gets the
/// endless answer mid-run: the run aborts saying the alarm could not be read (not that it
/// is in ALARM), in words, and the fault is reverted.
#[test]
fn an_endless_aws_answer_fails_the_call_and_the_fault_is_reverted() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let endless = Arc::new(AtomicBool::new(false));
    let on = endless.clone();
    let proxy = Proxy::start_by_request(moto.port, move |_, req| {
        if on.load(Ordering::SeqCst) && req.contains("Action=DescribeAlarms") { Act::EndlessBody } else { Act::Pass }
    });
    let mut sb = moto.sandbox();
    sb.env("AWS_ENDPOINT_URL", &proxy.endpoint());
    let file = sb.write_scenario("endless", &stop_1a("endless", "5m", "abort:\n  - alarm: shop-5xx"));
    let running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    wait_until("the stop injected", Duration::from_secs(30), || {
        sb.run_dirs().first().is_some_and(|d| read_journal(d).iter().any(|e| e["event"] == "done"))
    });
    // Peak resident memory (VmHWM) of firedrill, sampled until it is reaped.
    let pid = running.pid();
    let peak = std::thread::spawn(move || {
        let mut peak_kb = 0u64;
        let end = std::time::Instant::now() + Duration::from_secs(120);
        while std::time::Instant::now() < end {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { break };
            let hwm = status.lines().find_map(|l| l.strip_prefix("VmHWM:"));
            if let Some(kb) = hwm.and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()) {
                peak_kb = peak_kb.max(kb);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        peak_kb
    });
    endless.store(true, Ordering::SeqCst);
    let done = running.wait();
    let peak_mib = peak.join().unwrap() / 1024;
    assert_eq!(done.code(), Some(3), "aborted: {done}");
    eprintln!("endless answer: peak RSS {peak_mib} MiB, {} endless answers served", proxy.count(Act::EndlessBody));
    assert!(peak_mib > 0 && peak_mib < 512, "peak RSS {peak_mib} MiB: the answer was not capped");
    let report = read_report(&sb.only_run_dir());
    let reason = report["abort_reason"].as_str().unwrap_or_default();
    let expected = format!(
        "could not read CloudWatch alarm `shop-5xx`: cloudwatch:DescribeAlarms: unreadable answer from the AWS endpoint {}: the answer was larger than 64 MiB; refused",
        proxy.endpoint()
    );
    assert!(reason.starts_with(&expected), "{reason}\n{done}");
    assert!(!reason.contains("is in ALARM") && !done.stderr.contains("ResponseError"), "{done}");
    assert!(report["faults"][0]["reverted_at_ms"].is_u64(), "{report}");
    assert!(proxy.count(Act::EndlessBody) > 0);
    assert_eq!(moto.snapshot(), before, "{done}");
}

/// A revert whose AWS call never answers (a blackholed endpoint) ends at the revert
/// deadline as `revert_failed` — listed with its manual fix — instead of hanging; a
/// signal during it does not skip it; the report is on disk before any notification is
/// waited on, and a further signal cuts a webhook that never answers short. `recover`
/// then finishes the job.
#[test]
fn a_blackholed_revert_ends_at_its_deadline_and_signals_still_get_the_report() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let proxy =
        Proxy::start_by_request(
            moto.port,
            |_, req| if req.contains("Action=StartInstances") { Act::Hang } else { Act::Pass },
        );
    // A webhook that accepts and never answers (held for at most 2 minutes).
    let hook = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_port = hook.local_addr().unwrap().port();
    hook.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let end = std::time::Instant::now() + Duration::from_secs(120);
        while std::time::Instant::now() < end {
            if let Ok((c, _)) = hook.accept() {
                held.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let mut sb = moto.sandbox();
    sb.env("AWS_ENDPOINT_URL", &proxy.endpoint());
    let notify =
        format!("notify:\n  - webhook: {{ url: \"http://127.0.0.1:{hook_port}/hook\", timeout: 30s }}\n    on: [end]");
    let file = sb.write_scenario("blackhole", &stop_1a("blackhole", "1s", &notify));
    let running =
        sb.spawn(&["run".as_ref(), "--yes".as_ref(), "--revert-deadline".as_ref(), "10s".as_ref(), file.as_os_str()]);
    wait_until("the stop injected", Duration::from_secs(30), || {
        sb.run_dirs().first().is_some_and(|d| read_journal(d).iter().any(|e| e["event"] == "done"))
    });
    // The revert (at 1 s) is now stuck on StartInstances: Ctrl-C must not skip it.
    std::thread::sleep(Duration::from_millis(1500));
    running.signal("INT");
    wait_until("the report, before the notifications", Duration::from_secs(30), || {
        sb.run_dirs().first().is_some_and(|d| d.join("report.json").exists())
    });
    running.signal("INT");
    let done = running.wait();
    assert_eq!(done.code(), Some(5), "revert failed: {done}");
    let report = read_report(&sb.only_run_dir());
    assert_eq!(report["outcome"], "revert_failed", "{report}");
    let broken = report["still_broken"].as_array().unwrap();
    assert!(!broken.is_empty(), "{report}");
    assert!(
        broken[0]["error"].as_str().unwrap().contains("revert deadline (10s) passed"),
        "the stuck revert ended at its deadline: {report}"
    );
    assert!(broken[0]["fix"].as_str().unwrap().contains("aws ec2 start-instances"), "{report}");
    let sent = &report["notifications"][0];
    assert_eq!(sent["ok"], false, "{report}");
    assert!(sent["error"].as_str().unwrap().starts_with("cut off"), "{report}");
    assert!(done.stderr.contains("REVERT FAILED"), "{done}");
    // The operator can finish the job once AWS answers again.
    let recovered = sb.run_with_env(&["recover"], &[("AWS_ENDPOINT_URL", &moto.endpoint())]);
    assert_eq!(recovered.code(), Some(0), "{recovered}");
    assert_eq!(moto.snapshot(), before, "{recovered}");
}
