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
  within: 1m
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
  within: 1m
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
