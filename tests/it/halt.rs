//! The emergency halt against a real moto server: `firedrill halt` stops every run going
//! on in the account and region (two concurrent processes here), each reverting every
//! fault; no run injects while it is set (`run` exits 4 and `plan` says why); `unhalt`
//! lets the next run go. A halt that cannot be read blocks a run like an unreadable stop
//! condition, and a halt without the permission to write it fails saying so.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::moto::{Moto, shop_head};
use crate::support::{Sandbox, read_report};

const WAIT: Duration = Duration::from_secs(60);

/// Stops the tagged instances in `zone` for `duration`; the alarm probe passes throughout
/// and is read every second (so is the halt).
fn scenario(name: &str, zone: &str, duration: &str) -> String {
    shop_head(name)
        + &format!(
            r#"  web:
    type: ec2:instance
    tags: {{ app: shop, env: staging }}
    filters: {{ availability_zone: {zone} }}
steady_state:
  - name: errors
    cloudwatch_alarm: {{ alarm: shop-5xx }}
    every: 1s
faults:
  - name: stop-{zone}
    ec2_stop_instances: {{ target: web }}
    duration: {duration}
recovery:
  objective: sustain
  stable_for: 200ms
  settle_timeout: 30s
"#
        )
}

fn run(sb: &Sandbox, file: &Path) -> crate::support::Running {
    sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()])
}

#[test]
fn a_halt_aborts_every_run_going_on_and_blocks_new_ones_until_unhalt() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    // Two runs, two processes, on different zones (so the leases do not collide).
    let (a, b) = (moto.sandbox(), moto.sandbox());
    let file_a = a.write_scenario("a", &scenario("halt-a", "us-east-1a", "5m"));
    let file_b = b.write_scenario("b", &scenario("halt-b", "us-east-1b", "5m"));
    let (run_a, run_b) = (run(&a, &file_a), run(&b, &file_b));
    a.wait_for_journal("done", WAIT);
    b.wait_for_journal("done", WAIT);
    assert_ne!(moto.snapshot(), before, "both faults in place");

    let operator = moto.sandbox();
    let halt = operator.run(&["halt", "--reason", "db migration going on"]);
    halt.assert_exit(0);
    assert!(
        halt.stdout.contains("Halted account 123456789012, region us-east-1 (SSM parameter /firedrill/halt)"),
        "{halt}"
    );
    assert!(halt.stdout.contains("db migration going on (by arn:aws:"), "{halt}");

    for (sb, running) in [(&a, run_a), (&b, run_b)] {
        let done = running.wait();
        done.assert_exit(3);
        let report = read_report(&done.run_dir());
        assert_eq!(report["outcome"], "aborted", "{done}");
        let reason = report["abort_reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("emergency halt (`firedrill halt`): db migration going on (by arn:aws:"),
            "{reason}"
        );
        assert!(report["faults"][0]["reverted_at_ms"].is_u64(), "{report:#}");
        // The watcher's checks are in the report under its name; the last one saw the halt.
        // Its baseline check saw no halt (a later one may already see it, however soon the
        // halt came).
        let checks = |key: &str| -> Vec<Value> {
            report[key].as_array().unwrap().iter().filter(|s| s["probe"] == "halt").cloned().collect()
        };
        assert!(checks("baseline").iter().any(|s| s["ok"] == true), "{report:#}");
        let halt_checks = checks("samples");
        assert!(halt_checks.iter().any(|s| s["ok"] == false
            && s["detail"].as_str().unwrap_or_default().starts_with("halted: db migration going on")));
        assert!(done.stderr.contains("aborting: emergency halt"), "{done}");
        assert_eq!(sb.run_dirs().len(), 1);
    }
    assert_eq!(moto.snapshot(), before, "every fault of both runs reverted, leases released");

    // While halted: plan says so, run refuses before anything is touched.
    let short = a.write_scenario("short", &scenario("halt-short", "us-east-1a", "1s"));
    let plan = a.run(&["plan".as_ref(), short.as_os_str()]);
    plan.assert_exit(4);
    assert!(plan.stdout.contains("halted: db migration going on (by arn:aws:"), "{plan}");
    let refused = a.run(&["run".as_ref(), "--yes".as_ref(), short.as_os_str()]);
    refused.assert_exit(4);
    assert!(refused.stderr.contains("halted: db migration going on"), "{refused}");
    assert!(refused.stderr.contains("nothing was touched"), "{refused}");
    assert_eq!(a.run_dirs().len(), 1, "no run was even started");
    assert_eq!(moto.snapshot(), before);
    // A scenario without AWS has no account or region: halts do not apply to it.
    let local = a.write_scenario(
        "local",
        "version: 1\nname: local\nsteady_state:\n  - name: ok\n    command: { run: \"true\" }\n    every: 100ms\n\
         faults:\n  - name: noop\n    command: { inject: \"true\", revert: \"true\" }\n    duration: 200ms\n\
         recovery: { objective: sustain, stable_for: 200ms, settle_timeout: 5s }\n",
    );
    a.run(&["run".as_ref(), "--yes".as_ref(), local.as_os_str()]).assert_exit(0);

    // The region can come from a scenario instead of the environment.
    let unhalt = operator.run(&["unhalt".as_ref(), "--scenario".as_ref(), short.as_os_str()]);
    unhalt.assert_exit(0);
    assert!(unhalt.stdout.contains("Unhalted account 123456789012, region us-east-1"), "{unhalt}");
    assert!(unhalt.stdout.contains("(it was: db migration going on"), "{unhalt}");
    let again = a.run(&["run".as_ref(), "--yes".as_ref(), short.as_os_str()]);
    again.assert_exit(0);
    assert_eq!(moto.snapshot(), before);
    let twice = operator.run(&["unhalt"]);
    twice.assert_exit(0);
    assert!(twice.stdout.contains("No halt was set in account 123456789012, region us-east-1"), "{twice}");
}

/// Whether `text` says IAM denied the call (AWS sends `AccessDeniedException`; moto a 403
/// without a code, which firedrill words as "access denied").
fn denied(text: &str) -> bool {
    text.contains("AccessDenied") || text.contains("access denied (HTTP 403)")
}

/// A user `drill` with an access key and `policy`; returns its key.
fn user_with(moto: &Moto, policy: &Value) -> (String, String) {
    let doc = serde_json::to_string(policy).unwrap();
    let key = moto.python_json(&format!(
        r#"
import boto3, json
iam = boto3.client('iam', region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='x', aws_secret_access_key='x')
iam.create_user(UserName='drill')
iam.put_user_policy(UserName='drill', PolicyName='firedrill', PolicyDocument={doc})
k = iam.create_access_key(UserName='drill')['AccessKey']
print(json.dumps([k['AccessKeyId'], k['SecretAccessKey']]))
"#,
        doc = json!(doc)
    ));
    (key[0].as_str().unwrap().to_string(), key[1].as_str().unwrap().to_string())
}

/// The scenario's policy as moto can evaluate it (no conditions, `Resource: *`; moto names
/// CloudWatch `monitoring`), less the statement `sid` if given.
fn moto_policy_without(sb: &Sandbox, file: &Path, sid: Option<&str>) -> Value {
    let done = sb.run(&["iam-policy".as_ref(), file.as_os_str()]);
    done.assert_exit(0);
    let mut p: Value = serde_json::from_str(&done.stdout).unwrap();
    let statements = p["Statement"].as_array_mut().unwrap();
    if let Some(sid) = sid {
        assert!(statements.iter().any(|s| s["Sid"] == sid), "{sid} in {done}");
        statements.retain(|s| s["Sid"] != sid);
    }
    for st in statements.iter_mut() {
        st.as_object_mut().unwrap().remove("Condition");
        st["Resource"] = json!("*");
        for a in st["Action"].as_array_mut().unwrap() {
            if let Some(rest) = a.as_str().and_then(|a| a.strip_prefix("cloudwatch:")) {
                *a = json!(format!("monitoring:{rest}"));
            }
        }
    }
    p
}

#[test]
fn a_halt_that_cannot_be_read_blocks_the_run_and_one_that_cannot_be_written_says_so() {
    let moto = Moto::start();
    moto.seed(&[]);
    let sb = moto.sandbox();
    let file = sb.write_scenario("s", &scenario("halt-unreadable", "us-east-1a", "1s"));
    // Everything the run needs but reading the halt.
    let (id, secret) = user_with(&moto, &moto_policy_without(&sb, &file, Some("ReadHalt")));
    let before = moto.snapshot();
    let as_drill = [("AWS_ACCESS_KEY_ID", id.as_str()), ("AWS_SECRET_ACCESS_KEY", secret.as_str())];

    moto.enforce_iam(true);
    let plan = sb.run_with_env(&["plan".as_ref(), file.as_os_str()], &as_drill);
    let run = sb.run_with_env(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()], &as_drill);
    let halt = sb.run_with_env(&["halt", "--reason", "stop"], &as_drill);
    moto.enforce_iam(false);

    plan.assert_exit(4);
    assert!(plan.stdout.contains("could not read the halt (/firedrill/halt): ssm:GetParameter: "), "{plan}");
    assert!(denied(&plan.stdout), "{plan}");
    assert!(plan.stdout.contains("Nothing will be injected until the halt can be read"), "{plan}");
    run.assert_exit(4);
    assert!(run.stderr.contains("could not read the halt (/firedrill/halt): ssm:GetParameter: "), "{run}");
    assert!(denied(&run.stderr), "{run}");
    assert!(run.stderr.contains("as an unreadable stop-condition alarm does"), "{run}");
    assert!(sb.run_dirs().is_empty(), "no run was even started");
    assert_eq!(moto.snapshot(), before, "nothing touched");

    halt.assert_exit(6);
    assert!(
        halt.stderr.contains(
            "could not set the halt in account 123456789012, region us-east-1 (SSM parameter /firedrill/halt): \
             ssm:PutParameter: "
        ),
        "{halt}"
    );
    assert!(denied(&halt.stderr), "{halt}");
    // Nothing was halted: the next run goes.
    let ok = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    ok.assert_exit(0);
}

/// A halt that becomes unreadable while a run goes on (its permission taken away) aborts
/// the run, which reverts its fault: the lever is no longer watched.
#[test]
fn a_halt_that_becomes_unreadable_mid_run_aborts_and_reverts() {
    let moto = Moto::start();
    moto.seed(&[]);
    let sb = moto.sandbox();
    let file = sb.write_scenario("s", &scenario("halt-lost", "us-east-1a", "5m"));
    let (id, secret) = user_with(&moto, &moto_policy_without(&sb, &file, None));
    let before = moto.snapshot();
    let mut sb_drill = moto.sandbox();
    sb_drill.env("AWS_ACCESS_KEY_ID", &id).env("AWS_SECRET_ACCESS_KEY", &secret);
    let file = sb_drill.write_scenario("s", &scenario("halt-lost", "us-east-1a", "5m"));
    let running = run(&sb_drill, &file);
    sb_drill.wait_for_journal("done", WAIT);
    // Take the permission away, then enforce IAM: the next read of the halt is denied.
    let without = moto_policy_without(&sb, &file, Some("ReadHalt"));
    moto.python_json(&format!(
        r#"
import boto3
iam = boto3.client('iam', region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='x', aws_secret_access_key='x')
iam.put_user_policy(UserName='drill', PolicyName='firedrill', PolicyDocument={doc})
print('null')
"#,
        doc = json!(serde_json::to_string(&without).unwrap())
    ));
    moto.enforce_iam(true);
    let done = running.wait();
    moto.enforce_iam(false);
    done.assert_exit(3);
    let report = read_report(&done.run_dir());
    let reason = report["abort_reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("could not read the emergency halt (/firedrill/halt): ssm:GetParameter: "), "{reason}");
    assert!(denied(reason), "{reason}");
    assert!(report["faults"][0]["reverted_at_ms"].is_u64(), "{report:#}");
    assert_eq!(moto.snapshot(), before, "the fault was reverted and the lease released");
}
