//! AWS faults, guards and crash recovery against a real moto server: for every fault,
//! inject → the change is visible through moto → revert → every touched attribute is
//! exactly as before (a full snapshot comparison). Guards refuse and leave moto untouched.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::moto::Moto;
use crate::support::{Sandbox, read_journal, read_report};

const WAIT: Duration = Duration::from_secs(60);

/// A scenario around one fault: the environment guard, `targets` and the fault's YAML
/// (indented under `faults:`), with a steady state every seeded twin passes. Nothing
/// runs on moto's instances, so no probe can see a fault: the objective is `sustain` (no
/// probe may fail), and `passed` means every fault was injected and reverted while the
/// steady state held (a `within` objective would end `no_impact`).
fn scenario(targets: &str, fault: &str, duration: &str) -> String {
    format!(
        r#"version: 1
name: aws-test
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
targets:
{targets}
steady_state:
  - name: errors
    cloudwatch_alarm: {{ alarm: shop-5xx }}
    every: 100ms
faults:
  - name: f
    duration: {duration}
{fault}
recovery:
  objective: sustain
  stable_for: 200ms
  settle_timeout: 30s
"#
    )
}

const WEB: &str = "  web:\n    type: ec2:instance\n    tags: { app: shop, env: staging }\n    filters: { availability_zone: us-east-1a }";

fn start(moto: &Moto, yaml: &str) -> (Sandbox, crate::support::Running) {
    let sb = moto.sandbox();
    let file = sb.write_scenario("s", yaml);
    let running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    (sb, running)
}

/// Runs the scenario; while its fault is injected (journal `done`) calls `during` with a
/// snapshot; returns the finished run's report and the snapshot after it. The snapshot is
/// a Python process: faults looked at this way last 10 s, so that on a loaded machine it
/// still lands before the revert (the tests assert what is seen, never how fast).
fn run_through(moto: &Moto, yaml: &str, during: impl FnOnce(&Value)) -> (Value, Value, Sandbox) {
    let (sb, running) = start(moto, yaml);
    sb.wait_for_journal("done", WAIT);
    during(&moto.snapshot());
    let done = running.wait();
    assert_eq!(done.code(), Some(0), "{done}");
    let report = read_report(&sb.only_run_dir());
    (report, moto.snapshot(), sb)
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn ec2_stop_instances_stops_the_zone_and_starts_exactly_those_again() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    // One instance in the zone was stopped before the run: it must stay stopped.
    let zone_a = ids(&seed["instances"]["us-east-1a"]);
    moto.boto(&format!("ec2.stop_instances(InstanceIds=['{}'])", zone_a[1]));
    let before = moto.snapshot();
    let yaml = scenario(WEB, "    ec2_stop_instances: { target: web }", "10s");
    let (report, after, sb) = run_through(&moto, &yaml, |during| {
        assert_eq!(during["instances"][&zone_a[0]], "stopped");
        for id in ids(&seed["instances"]["us-east-1b"]) {
            assert_eq!(during["instances"][&id], "running", "outside the zone: untouched");
        }
    });
    assert_eq!(report["outcome"], "passed");
    assert_eq!(after, before, "every instance exactly as before (the pre-stopped one still stopped)");
    let journal = read_journal(&sb.only_run_dir());
    let intent = journal.iter().find(|e| e["event"] == "intent" && e["fault"] != "(lease)").unwrap();
    assert_eq!(intent["undo"]["kind"], "ec2_start_instances");
    assert_eq!(intent["undo"]["data"]["instance_ids"], json!([zone_a[0]]), "only the running one");
}

#[test]
fn ebs_detach_reattaches_to_the_same_instance_and_device() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let before = moto.snapshot();
    let (vol, att) = seed["volumes"].as_object().unwrap().iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
    let targets = format!("  data:\n    type: ec2:volume\n    ids: [{vol}]\n    tags: {{ role: data }}");
    let yaml = scenario(&targets, "    ebs_detach_volumes: { target: data, force: true }", "10s");
    let (report, after, _) = run_through(&moto, &yaml, |during| {
        assert_eq!(during["volumes"][&vol], json!([]), "detached while the fault lasts");
    });
    assert_eq!(report["outcome"], "passed");
    assert_eq!(
        after["volumes"][&vol],
        json!([format!("{} {} attached", att["instance"].as_str().unwrap(), att["device"].as_str().unwrap())])
    );
    assert_eq!(after, before);
}

#[test]
fn az_outage_swaps_nacls_stops_instances_shrinks_the_asg_fails_over_and_puts_it_all_back() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let before = moto.snapshot();
    let subnet_a = seed["subnets"]["us-east-1a"].as_str().unwrap().to_string();
    let subnet_b = seed["subnets"]["us-east-1b"].as_str().unwrap().to_string();
    let original_nacl = before["nacl_of_subnet"][&subnet_a].clone();
    let targets = "  subnets:\n    type: ec2:subnet\n    tags: { app: shop }\n  web:\n    type: ec2:instance\n    tags: { app: shop }\n  \
                   asg:\n    type: autoscaling:group\n    tags: { app: shop }\n  db:\n    type: rds:cluster\n    tags: { app: shop }";
    let fault = "    az_outage: { zone: us-east-1a, targets: [subnets, web, asg, db], network: true, stop_instances: true, asg: remove_zone, rds: failover }";
    let (report, after, sb) = run_through(&moto, &scenario(targets, fault, "10s"), |during| {
        let clone = &during["nacl_of_subnet"][&subnet_a];
        assert_ne!(clone, &original_nacl, "subnet in the zone uses firedrill's ACL");
        assert_eq!(during["firedrill_nacls"], json!([clone]));
        assert_eq!(during["nacl_of_subnet"][&subnet_b], original_nacl, "other zones untouched");
        for id in ids(&seed["instances"]["us-east-1a"]) {
            assert_eq!(during["instances"][&id], "stopped");
        }
        let subnets = during["asg_subnets"]["shop-web"].as_str().unwrap();
        assert!(!subnets.contains(&subnet_a) && subnets.contains(&subnet_b), "{subnets}");
        assert_eq!(during["cluster_writer"]["shop-db"], "shop-db-2", "the writer left the zone");
    });
    assert_eq!(report["outcome"], "passed", "{report}");
    assert_eq!(report["aws"]["account"], "123456789012");
    assert_eq!(report["aws"]["targets"]["subnets"]["selected"].as_array().unwrap().len(), 3);
    assert!(report["aws"]["api_calls"].as_u64().unwrap() > 10, "{}", report["aws"]);
    // A failover is its own recovery: the writer stays where it went. Everything else is back.
    assert_eq!(after["cluster_writer"]["shop-db"], "shop-db-2");
    let mut expected = before.clone();
    expected["cluster_writer"]["shop-db"] = json!("shop-db-2");
    assert_eq!(after, expected, "NACL associations, clone deleted, instances, ASG subnets exactly as before");

    // The report says what was actually hit in the zone, before → during → after the revert.
    let changes = report["faults"][0]["changes"].as_array().unwrap();
    let lines: Vec<String> = changes
        .iter()
        .map(|c| {
            let reverted = c["reverted"].as_str().map(|r| format!(" → {r}")).unwrap_or_default();
            format!(
                "{}: {} {} → {}{reverted}",
                c["resource"].as_str().unwrap(),
                c["what"].as_str().unwrap(),
                c["before"].as_str().unwrap(),
                c["after"].as_str().unwrap()
            )
        })
        .collect();
    assert!(changes.iter().all(|c| c["zone"] == "us-east-1a"), "only the zone was hit: {changes:?}");
    let subnet = changes.iter().find(|c| c["resource"] == format!("subnet {subnet_a}")).unwrap();
    let (orig, clone) = (original_nacl.as_str().unwrap(), subnet["after"].as_str().unwrap());
    assert_ne!(clone, orig);
    assert!(lines.contains(&format!("subnet {subnet_a}: network ACL {orig} → {clone} → {orig}")), "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.starts_with(&format!("subnet {subnet_b}"))),
        "a matched subnet outside the zone was not hit: {lines:?}"
    );
    for id in ids(&seed["instances"]["us-east-1a"]) {
        assert!(lines.contains(&format!("instance {id}: state running → stopped → running")), "{lines:?}");
    }
    for id in ids(&seed["instances"]["us-east-1b"]) {
        assert!(!lines.iter().any(|l| l.contains(&id)), "{id} in another zone was not hit: {lines:?}");
    }
    let group = before["asg_subnets"]["shop-web"].as_str().unwrap();
    let shrunk = changes.iter().find(|c| c["resource"] == "Auto Scaling group shop-web").unwrap();
    assert_eq!((shrunk["before"].as_str(), shrunk["reverted"].as_str()), (Some(group), Some(group)));
    assert!(lines.contains(&"RDS cluster shop-db: writer shop-db-1 → shop-db-2".to_string()), "{lines:?}");
    let md = std::fs::read_to_string(sb.only_run_dir().join("report.md")).unwrap();
    assert!(md.contains(&format!("- subnet {subnet_a} (us-east-1a): network ACL {orig} → {clone} → {orig}\n")), "{md}");
    assert!(
        md.contains("- RDS cluster shop-db (us-east-1a): writer shop-db-1 → shop-db-2 (not undone by the revert)\n"),
        "{md}"
    );
    let html = std::fs::read_to_string(sb.only_run_dir().join("report.html")).unwrap();
    assert!(html.contains(&format!("<li>subnet {subnet_a} (us-east-1a): network ACL {orig} → {clone} → {orig}</li>")));
}

#[test]
fn iam_revocation_puts_then_deletes_the_policy_and_reactivates_exactly_the_keys() {
    let moto = Moto::start();
    moto.seed(&[]);
    // A second key that was already inactive must stay inactive.
    moto.boto("k=iam.create_access_key(UserName='shop-deployer')['AccessKey']['AccessKeyId']\niam.update_access_key(UserName='shop-deployer', AccessKeyId=k, Status='Inactive')");
    let before = moto.snapshot();
    let targets = "  role:\n    type: iam:role\n    tags: { app: shop }\n  user:\n    type: iam:user\n    ids: [shop-deployer]\n    tags: { app: shop }";
    let fault = "    iam_revoke_credentials: { target: role }\n  - name: g\n    duration: 1s\n    iam_revoke_credentials: { target: user }";
    let (report, after, sb) = run_through(&moto, &scenario(targets, fault, "1s"), |_| {});
    assert_eq!(report["outcome"], "passed");
    assert_eq!(after, before);
    // While injected (checked via the journal's undo data): one policy, the active key only.
    let journal = read_journal(&sb.only_run_dir());
    let undos: Vec<&Value> =
        journal.iter().filter(|e| e["event"] == "intent" && e["fault"] != "(lease)").map(|e| &e["undo"]).collect();
    assert_eq!(undos.len(), 2, "{undos:?}");
    let role = undos.iter().find(|u| u["kind"] == "iam_delete_role_policy").unwrap();
    assert!(role["data"]["policy"].as_str().unwrap().starts_with("firedrill-revoke-"));
    let keys = undos.iter().find(|u| u["kind"] == "iam_reactivate_access_keys").unwrap();
    let active: Vec<&String> = before["access_keys"]["shop-deployer"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| *s == "Active")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys["data"]["keys"], json!(active));
}

#[test]
fn iam_state_while_revoked() {
    let moto = Moto::start();
    moto.seed(&[]);
    let targets =
        "  role:\n    type: iam:role\n    tags: { app: shop }\n  user:\n    type: iam:user\n    tags: { app: shop }";
    // Long enough that the snapshot (a Python process) lands inside the fault on a loaded
    // machine; the test asserts what is seen, not how fast.
    let fault = "    iam_revoke_credentials: { target: role }\n  - name: g\n    duration: 10s\n    iam_revoke_credentials: { target: user }";
    let (sb, running) = start(&moto, &scenario(targets, fault, "10s"));
    crate::support::wait_until("both faults injected", WAIT, || {
        sb.run_dirs().first().is_some_and(|d| read_journal(d).iter().filter(|e| e["event"] == "done").count() == 2)
    });
    let during = moto.snapshot();
    assert_eq!(during["role_policies"]["shop-app"].as_array().unwrap().len(), 1, "{during}");
    assert!(during["access_keys"]["shop-deployer"].as_object().unwrap().values().all(|s| s == "Inactive"));
    assert_eq!(running.wait().code(), Some(0));
}

#[test]
fn rds_failover_moves_the_writer_and_a_single_az_instance_is_refused_at_plan_time() {
    let moto = Moto::start();
    moto.seed(&[]);
    let targets = "  db:\n    type: rds:cluster\n    ids: [shop-db]\n    tags: { app: shop }";
    let (report, after, _) =
        run_through(&moto, &scenario(targets, "    rds_failover: { target: db, to: shop-db-2 }", "1s"), |d| {
            assert_eq!(d["cluster_writer"]["shop-db"], "shop-db-2");
        });
    assert_eq!(report["outcome"], "passed");
    assert_eq!(after["cluster_writer"]["shop-db"], "shop-db-2");
    let change = &report["faults"][0]["changes"][0];
    assert_eq!((&change["resource"], &change["what"]), (&json!("RDS cluster shop-db"), &json!("writer")));
    assert_eq!(
        (&change["before"], &change["after"], &change["reverted"]),
        (&json!("shop-db-1"), &json!("shop-db-2"), &Value::Null)
    );
    // Failing over to the instance that is already the writer would test nothing.
    let sb = moto.sandbox();
    let again = sb.write_scenario("again", &scenario(targets, "    rds_failover: { target: db, to: shop-db-2 }", "1s"));
    let plan = sb.run(&["plan".as_ref(), again.as_os_str()]);
    assert_eq!(plan.code(), Some(7), "{plan}");
    assert!(plan.stdout.contains("shop-db-2 is already the writer of cluster shop-db"), "{plan}");

    moto.boto("rds.create_db_instance(DBInstanceIdentifier='solo', Engine='postgres', DBInstanceClass='db.t3.micro', AllocatedStorage=20, MasterUsername='u', MasterUserPassword='password1', MultiAZ=False, Tags=[{'Key':'firedrill','Value':'allowed'},{'Key':'app','Value':'solo'}])");
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let file = sb.write_scenario(
        "s",
        &scenario(
            "  solo:\n    type: rds:instance\n    tags: { app: solo }",
            "    rds_failover: { target: solo }",
            "1s",
        ),
    );
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(7), "{plan}");
    assert!(plan.stdout.contains("RDS instance solo is single-AZ"), "{plan}");
    assert_eq!(moto.snapshot(), before);
}

fn refused(moto: &Moto, sb: &Sandbox, yaml: &str, args: &[&str], expect: &str) {
    let before = moto.snapshot();
    let file = sb.write_scenario("guarded", yaml);
    let mut argv: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    argv.extend(["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    let done = sb.run(&argv);
    assert_eq!(done.code(), Some(7), "{done}");
    assert!(done.stderr.contains(expect), "expected {expect:?} in:\n{done}");
    assert!(sb.run_dirs().is_empty(), "no run was even started");
    assert_eq!(moto.snapshot(), before, "nothing touched");
}

#[test]
fn guards_refuse_wrong_account_region_untagged_and_over_max_touching_nothing() {
    let moto = Moto::start();
    let seed = moto.seed(&["--untagged", "1"]);
    let sb = moto.sandbox();
    let stop = "    ec2_stop_instances: { target: web }";
    let tagged = "  web:\n    type: ec2:instance\n    tags: { app: shop, firedrill: allowed }\n    filters: { availability_zone: us-east-1a }";

    let wrong_account = scenario(tagged, stop, "1s").replace("123456789012", "111111111111");
    refused(&moto, &sb, &wrong_account, &[], "account 123456789012 is not in the scenario's environment.accounts");
    refused(
        &moto,
        &sb,
        &scenario(tagged, stop, "1s"),
        &["--region", "us-west-2"],
        "region us-west-2 is not the scenario's environment.region (us-east-1)",
    );
    let untagged = seed["untagged_instances"][0].as_str().unwrap();
    refused(
        &moto,
        &sb,
        &scenario(WEB, stop, "1s"),
        &[],
        &format!("ec2:instance {untagged} lacks the opt-in tag firedrill=allowed"),
    );
    // Excluding the stray instance by id lets the same target pass the guards; the plan
    // says what was left out, and a run never touches it.
    let excluding = format!("{WEB}\n    exclude: {{ ids: [{untagged}] }}");
    let file = sb.write_scenario("excluding", &scenario(&excluding, stop, "1s"));
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(0), "{plan}");
    assert!(plan.stdout.contains(&format!("    excluded (never touched): {untagged}\n")), "{plan}");
    assert!(!plan.stdout.contains(&format!("    - {untagged} (")), "not selected: {plan}");
    let capped = format!("{tagged}\n    max: 1");
    refused(&moto, &sb, &scenario(&capped, stop, "1s"), &[], "2 resources would be hit, over its max of 1");
    let nothing = "  web:\n    type: ec2:instance\n    tags: { app: nothing-has-this }";
    refused(&moto, &sb, &scenario(nothing, stop, "1s"), &[], "no ec2:instance matches");
    let no_subnet =
        "  subnets:\n    type: ec2:subnet\n    tags: { app: shop }\n    filters: { availability_zone: us-east-1b }";
    refused(
        &moto,
        &sb,
        &scenario(no_subnet, "    az_outage: { zone: us-east-1a, targets: [subnets], network: true }", "1s"),
        &[],
        "no targeted subnet is in zone us-east-1a",
    );
}

#[test]
fn sigkill_mid_az_outage_then_recover_restores_everything() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let targets = "  subnets:\n    type: ec2:subnet\n    tags: { app: shop }\n  web:\n    type: ec2:instance\n    tags: { app: shop }\n  \
                   asg:\n    type: autoscaling:group\n    tags: { app: shop }";
    let fault = "    az_outage: { zone: us-east-1a, targets: [subnets, web, asg], network: true, stop_instances: true, asg: remove_zone }";
    let (sb, mut running) = start(&moto, &scenario(targets, fault, "5m"));
    sb.wait_for_journal("done", WAIT);
    running.kill();
    let _ = running.wait();
    assert_ne!(moto.snapshot(), before, "the fault is still in place after SIGKILL");
    let rec = sb.run(&["recover"]);
    assert_eq!(rec.code(), Some(0), "{rec}");
    assert_eq!(moto.snapshot(), before, "recover put every attribute back");
    let again = sb.run(&["recover"]);
    assert_eq!(again.code(), Some(0), "{again}");
    assert_eq!(moto.snapshot(), before);
}

#[test]
fn a_revert_never_clobbers_a_change_someone_else_made() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let subnet_c = seed["subnets"]["us-east-1c"].as_str().unwrap().to_string();
    let targets = "  asg:\n    type: autoscaling:group\n    tags: { app: shop }";
    let (sb, running) = start(
        &moto,
        &scenario(targets, "    az_outage: { zone: us-east-1a, targets: [asg], asg: remove_zone }", "10s"),
    );
    sb.wait_for_journal("done", WAIT);
    // An operator pins the group to one subnet while the drill runs.
    moto.boto(&format!(
        "asg.update_auto_scaling_group(AutoScalingGroupName='shop-web', VPCZoneIdentifier='{subnet_c}')"
    ));
    let done = running.wait();
    assert_eq!(done.code(), Some(5), "revert_failed: a human must look\n{done}");
    assert_eq!(moto.snapshot()["asg_subnets"]["shop-web"], json!(subnet_c), "their change stands");
    let report = read_report(&sb.only_run_dir());
    assert_eq!(report["outcome"], "revert_failed");
    let broken = report["still_broken"][0]["error"].as_str().unwrap();
    assert!(broken.contains("conflict") && broken.contains("left alone"), "{broken}");
    let fix = report["still_broken"][0]["fix"].as_str().unwrap();
    assert!(
        fix.starts_with(
            "aws autoscaling update-auto-scaling-group --region us-east-1 --auto-scaling-group-name shop-web"
        ),
        "{fix}"
    );
}

#[test]
fn an_unreachable_endpoint_is_a_clear_error_and_nothing_starts() {
    let sb = {
        let mut sb = Sandbox::new();
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
        ] {
            sb.env(k, v);
        }
        sb
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let file = sb.write_scenario("s", &scenario(WEB, "    ec2_stop_instances: { target: web }", "1s"));
    let url = format!("http://127.0.0.1:{port}");
    let done = sb.run(&["--endpoint-url".as_ref(), url.as_ref(), "plan".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(6), "{done}");
    // In the operator's terms: where, and what happened; not the SDK's debug dump.
    assert!(done.stderr.contains(&format!("cannot reach the AWS endpoint {url}: connection refused")), "{done}");
    for internal in ["DispatchFailure", "ConnectorError", "source:", "hyper"] {
        assert!(!done.stderr.contains(internal), "`{internal}` in {done}");
    }
    assert!(sb.run_dirs().is_empty());
}

/// Credentials stay out of the logs at every level: with `RUST_LOG=trace` (where the SDK
/// prints whole requests and sigv4 its canonical request), a real run against moto never
/// prints the session token, the secret key or the request signature.
#[test]
fn credentials_never_reach_the_logs_even_at_trace() {
    const TOKEN: &str = "SESSION-TOKEN-MARKER-7f3a9c";
    const SECRET: &str = "SECRET-KEY-MARKER-19b2e4";
    let moto = Moto::start();
    moto.seed(&[]);
    let sb = moto.sandbox();
    let file = sb.write_scenario("s", &scenario(WEB, "    ec2_stop_instances: { target: web }", "1s"));
    let done = sb.run_with_env(
        &["run".as_ref(), "--yes".as_ref(), file.as_os_str()],
        &[("RUST_LOG", "trace"), ("AWS_SESSION_TOKEN", TOKEN), ("AWS_SECRET_ACCESS_KEY", SECRET)],
    );
    assert_eq!(done.code(), Some(0), "{done}");
    for secret in [TOKEN, SECRET, "x-amz-security-token", "Signature="] {
        assert!(!done.stderr.contains(secret), "`{secret}` is in the logs");
        assert!(!done.stdout.contains(secret), "`{secret}` is on stdout");
    }
    // The trace level was on: firedrill's own status lines and the filter did not just
    // swallow everything.
    assert!(done.stderr.contains("Reverted"), "{done}");
}

/// With IAM enforced (moto's `INITIAL_NO_AUTH_ACTION_COUNT`), a session of the role that
/// was issued before the injection is denied while the fault lasts and works again after
/// the revert: a command probe using that session detects the outage and the recovery.
#[test]
fn revoking_a_role_denies_its_live_sessions_until_the_revert() {
    // The first 3 calls are unauthenticated: enough to make an admin; then IAM is enforced.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let setup = moto.python_json(
        r#"
import boto3, json
kw = dict(region_name='us-east-1', endpoint_url=ENDPOINT)
iam = boto3.client('iam', aws_access_key_id='x', aws_secret_access_key='x', **kw)
iam.create_user(UserName='admin')
iam.put_user_policy(UserName='admin', PolicyName='all', PolicyDocument=json.dumps(
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))
key = iam.create_access_key(UserName='admin')['AccessKey']
admin = dict(aws_access_key_id=key['AccessKeyId'], aws_secret_access_key=key['SecretAccessKey'], **kw)
iam = boto3.client('iam', **admin)
trust = {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow',
         'Principal': {'AWS': 'arn:aws:iam::123456789012:user/admin'}, 'Action': 'sts:AssumeRole'}]}
iam.create_role(RoleName='shop-app', AssumeRolePolicyDocument=json.dumps(trust),
                Tags=[{'Key': 'firedrill', 'Value': 'allowed'}, {'Key': 'app', 'Value': 'shop'}])
iam.put_role_policy(RoleName='shop-app', PolicyName='work', PolicyDocument=json.dumps(
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 'ec2:*', 'Resource': '*'}]}))
creds = boto3.client('sts', **admin).assume_role(
    RoleArn='arn:aws:iam::123456789012:role/shop-app', RoleSessionName='app')['Credentials']
print(json.dumps({'admin_key': key['AccessKeyId'], 'admin_secret': key['SecretAccessKey'],
                  'session': [creds['AccessKeyId'], creds['SecretAccessKey'], creds['SessionToken']]}))
"#,
    );
    let s = &setup["session"];
    let probe = format!(
        "{} -c \"import boto3; boto3.client('ec2', region_name='us-east-1', endpoint_url='{}', aws_access_key_id='{}', aws_secret_access_key='{}', aws_session_token='{}').describe_vpcs()\"",
        Moto::python_path().display(),
        moto.endpoint(),
        s[0].as_str().unwrap(),
        s[1].as_str().unwrap(),
        s[2].as_str().unwrap()
    );
    let yaml = format!(
        r#"version: 1
name: revoke
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
targets:
  role:
    type: iam:role
    tags: {{ app: shop }}
steady_state:
  - name: app-session
    command: {{ run: "{}", timeout: 20s }}
    every: 300ms
faults:
  - name: revoke
    iam_revoke_credentials: {{ target: role }}
    duration: 8s
recovery:
  within: 1m
  stable_for: 600ms
  settle_timeout: 40s
"#,
        probe.replace('"', "\\\"")
    );
    let mut sb = moto.sandbox();
    sb.env("AWS_ACCESS_KEY_ID", setup["admin_key"].as_str().unwrap());
    sb.env("AWS_SECRET_ACCESS_KEY", setup["admin_secret"].as_str().unwrap());
    let file = sb.write_scenario("revoke", &yaml);
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(0), "{done}");
    let report = read_report(&sb.only_run_dir());
    assert!(report["time_to_detect_ms"].as_u64().is_some(), "the live session was denied: {report}");
    assert_eq!(report["recovered_during_fault"], false, "it only works again after the revert: {report}");
    let samples = report["samples"].as_array().unwrap();
    let failing = samples.iter().filter(|s| s["ok"] == false).count();
    // Denied for the whole fault: `recovered_during_fault` is false above; a loaded machine
    // may fit only one probe round in the fault, so the count is not asked for more.
    assert!(failing >= 1, "denied during the fault: {failing} failing samples");
    assert_eq!(samples.last().unwrap()["ok"], true);
}

/// An IAM-enforcing moto with an admin user (whose keys firedrill uses) and the role
/// `shop-app` (opt-in tagged, `app: shop`, allowed `ec2:*`); returns the server and the
/// admin's keys and a live session of the role (`admin_key`, `admin_secret`, `session`).
fn enforcing_moto_with_app_role() -> (Moto, Value) {
    // The first 3 calls are unauthenticated: enough to make an admin; then IAM is enforced.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let setup = moto.python_json(
        r#"
import boto3, json
kw = dict(region_name='us-east-1', endpoint_url=ENDPOINT)
iam = boto3.client('iam', aws_access_key_id='x', aws_secret_access_key='x', **kw)
iam.create_user(UserName='admin')
iam.put_user_policy(UserName='admin', PolicyName='all', PolicyDocument=json.dumps(
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))
key = iam.create_access_key(UserName='admin')['AccessKey']
admin = dict(aws_access_key_id=key['AccessKeyId'], aws_secret_access_key=key['SecretAccessKey'], **kw)
iam = boto3.client('iam', **admin)
trust = {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow',
         'Principal': {'AWS': 'arn:aws:iam::123456789012:user/admin'}, 'Action': 'sts:AssumeRole'}]}
iam.create_role(RoleName='shop-app', AssumeRolePolicyDocument=json.dumps(trust),
                Tags=[{'Key': 'firedrill', 'Value': 'allowed'}, {'Key': 'app', 'Value': 'shop'}])
iam.put_role_policy(RoleName='shop-app', PolicyName='work', PolicyDocument=json.dumps(
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 'ec2:*', 'Resource': '*'}]}))
creds = boto3.client('sts', **admin).assume_role(
    RoleArn='arn:aws:iam::123456789012:role/shop-app', RoleSessionName='app')['Credentials']
print(json.dumps({'admin_key': key['AccessKeyId'], 'admin_secret': key['SecretAccessKey'],
                  'session': [creds['AccessKeyId'], creds['SecretAccessKey'], creds['SessionToken']]}))
"#,
    );
    (moto, setup)
}

/// A steady-state probe entry: `call` (`describe_vpcs()`) on an ec2 client of `region`
/// with the role's live session, every 300ms.
fn role_probe(moto: &Moto, setup: &Value, name: &str, region: &str, call: &str) -> String {
    let s = &setup["session"];
    let cmd = format!(
        "{} -c \"import boto3; boto3.client('ec2', region_name='{region}', endpoint_url='{}', aws_access_key_id='{}', aws_secret_access_key='{}', aws_session_token='{}').{call}\"",
        Moto::python_path().display(),
        moto.endpoint(),
        s[0].as_str().unwrap(),
        s[1].as_str().unwrap(),
        s[2].as_str().unwrap()
    );
    format!(
        "  - name: {name}\n    command: {{ run: \"{}\", timeout: 20s }}\n    every: 300ms\n",
        cmd.replace('"', "\\\"")
    )
}

/// Runs `fault` (indented under `faults:`) against the app role with `probes`; returns
/// the report after checking the run passed and the role has no inline policy but its own.
fn run_role_outage(moto: &Moto, setup: &Value, probes: &str, fault: &str) -> Value {
    let yaml = format!(
        r#"version: 1
name: outage
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
targets:
  app-role:
    type: iam:role
    tags: {{ app: shop }}
steady_state:
{probes}faults:
{fault}
recovery:
  within: 1m
  stable_for: 600ms
  settle_timeout: 40s
"#
    );
    let mut sb = moto.sandbox();
    sb.env("AWS_ACCESS_KEY_ID", setup["admin_key"].as_str().unwrap());
    sb.env("AWS_SECRET_ACCESS_KEY", setup["admin_secret"].as_str().unwrap());
    let file = sb.write_scenario("outage", &yaml);
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(0), "{done}");
    let left = moto.python_json(&format!(
        "import boto3, json\nprint(json.dumps(boto3.client('iam', region_name='us-east-1', endpoint_url=ENDPOINT, \
         aws_access_key_id='{}', aws_secret_access_key='{}').list_role_policies(RoleName='shop-app')['PolicyNames']))",
        setup["admin_key"].as_str().unwrap(),
        setup["admin_secret"].as_str().unwrap()
    ));
    assert_eq!(left, json!(["work"]), "the revert deletes exactly firedrill's deny policy");
    read_report(&sb.only_run_dir())
}

/// The failing and passing samples of probe `name`.
fn probe_samples(report: &Value, name: &str) -> (usize, usize) {
    let samples: Vec<&Value> = report["samples"].as_array().unwrap().iter().filter(|s| s["probe"] == name).collect();
    let failing = samples.iter().filter(|s| s["ok"] == false).count();
    (failing, samples.len() - failing)
}

#[test]
fn a_service_outage_denies_the_listed_actions_to_live_sessions_until_the_revert() {
    let (moto, setup) = enforcing_moto_with_app_role();
    let probes = format!(
        "{}{}",
        role_probe(&moto, &setup, "vpcs", "us-east-1", "describe_vpcs()"),
        role_probe(&moto, &setup, "subnets", "us-east-1", "describe_subnets()")
    );
    let fault = "  - name: ec2-vpcs-down\n    service_outage: { target: app-role, actions: [\"ec2:DescribeVpcs\"], regions: [us-east-1] }\n    duration: 15s";
    let report = run_role_outage(&moto, &setup, &probes, fault);
    assert!(report["time_to_detect_ms"].as_u64().is_some(), "the denied call failed: {report}");
    assert_eq!(report["recovered_during_fault"], false, "it only works again after the revert: {report}");
    let (failing, _) = probe_samples(&report, "vpcs");
    // Denied for the whole fault: `recovered_during_fault` is false above; a loaded machine
    // may fit only one probe round in the fault, so the count is not asked for more.
    assert!(failing >= 1, "denied during the fault: {failing} failing samples");
    let last = report["samples"].as_array().unwrap().iter().rev().find(|s| s["probe"] == "vpcs").unwrap();
    assert_eq!(last["ok"], true, "allowed again after the revert");
    // An action not listed stays allowed throughout.
    let (failing, passing) = probe_samples(&report, "subnets");
    assert_eq!(failing, 0, "ec2:DescribeSubnets was not denied: {report}");
    assert!(passing >= 1, "the probe ran: {report}");
}

/// moto does not evaluate `aws:RequestedRegion` (it treats a statement whose condition
/// it cannot evaluate as a deny), so "a call in another region is allowed" is checked on
/// the policy document (`faults::outage` unit tests); here: the region's calls are
/// denied, an excepted action is not, and the revert restores.
#[test]
fn a_region_outage_denies_everything_but_the_exceptions_until_the_revert() {
    let (moto, setup) = enforcing_moto_with_app_role();
    let probes = format!(
        "{}{}",
        role_probe(&moto, &setup, "vpcs", "us-east-1", "describe_vpcs()"),
        role_probe(&moto, &setup, "pager", "us-east-1", "describe_subnets()")
    );
    let fault = "  - name: east-down\n    region_outage: { target: app-role, region: us-east-1, except: [\"ec2:DescribeSubnets\"] }\n    duration: 15s";
    let report = run_role_outage(&moto, &setup, &probes, fault);
    assert!(report["time_to_detect_ms"].as_u64().is_some(), "the region's calls failed: {report}");
    assert_eq!(report["recovered_during_fault"], false, "{report}");
    let (failing, _) = probe_samples(&report, "vpcs");
    // Denied for the whole fault: `recovered_during_fault` is false above; a loaded machine
    // may fit only one probe round in the fault, so the count is not asked for more.
    assert!(failing >= 1, "denied during the fault: {failing} failing samples");
    let last = report["samples"].as_array().unwrap().iter().rev().find(|s| s["probe"] == "vpcs").unwrap();
    assert_eq!(last["ok"], true, "allowed again after the revert");
    let (failing, passing) = probe_samples(&report, "pager");
    assert_eq!(failing, 0, "the excepted action stayed allowed: {report}");
    assert!(passing >= 1, "the probe ran: {report}");
}

/// Creates an FIS experiment template on moto (tagged `tags`, a Python dict literal);
/// returns its id.
pub(crate) fn fis_template(moto: &Moto, tags: &str) -> String {
    let out = moto.python_json(&format!(
        r#"
import boto3, json
fis = boto3.client('fis', region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='testing', aws_secret_access_key='testing')
t = fis.create_experiment_template(clientToken='t', description='stop web',
    roleArn='arn:aws:iam::123456789012:role/fis', stopConditions=[{{'source': 'none'}}],
    targets={{'web': {{'resourceType': 'aws:ec2:instance', 'resourceTags': {{'app': 'shop'}}, 'selectionMode': 'ALL'}}}},
    actions={{'stop': {{'actionId': 'aws:ec2:stop-instances', 'targets': {{'Instances': 'web'}}}}}},
    tags={tags})['experimentTemplate']
print(json.dumps(t['id']))
"#
    ));
    out.as_str().unwrap().to_string()
}

/// The experiments of `template` on moto: (status, tags).
pub(crate) fn fis_experiments(moto: &Moto, template: &str) -> Vec<(String, Value)> {
    let out = moto.python_json(&format!(
        r#"
import boto3, json
fis = boto3.client('fis', region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='testing', aws_secret_access_key='testing')
xs = fis.list_experiments(experimentTemplateId='{template}')['experiments']
print(json.dumps([[x['state']['status'], x.get('tags', {{}})] for x in xs]))
"#
    ));
    out.as_array().unwrap().iter().map(|x| (x[0].as_str().unwrap().to_string(), x[1].clone())).collect()
}

pub(crate) fn fis_scenario(template: &str, duration: &str) -> String {
    format!(
        r#"version: 1
name: fis
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
steady_state:
  - name: ok
    command: {{ run: "true" }}
    every: 100ms
faults:
  - name: fis
    duration: {duration}
    fis_experiment: {{ template_id: {template} }}
recovery:
  objective: sustain
  stable_for: 200ms
  settle_timeout: 30s
"#
    )
}

pub(crate) const ENDED: [&str; 3] = ["stopping", "stopped", "completed"];

/// A scenario around one inline `fis_experiment` fault `fis` whose one action pauses the
/// I/O of the volumes tagged `volume_tags` (a YAML map) in us-east-1a, run as role
/// `firedrill-fis`; `shop-latency` is the scenario's stop-condition alarm.
pub(crate) fn inline_fis_scenario(volume_tags: &str, duration: &str) -> String {
    format!(
        r#"version: 1
name: fis-inline
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
steady_state:
  - name: ok
    command: {{ run: "true" }}
    every: 100ms
faults:
  - name: fis
    duration: {duration}
    fis_experiment:
      role_arn: arn:aws:iam::123456789012:role/firedrill-fis
      actions:
        pause:
          actionId: aws:ebs:pause-volume-io
          parameters: {{ duration: PT5M }}
          targets: {{ Volumes: vols }}
        no-capacity:
          actionId: aws:ec2:api-insufficient-instance-capacity-error
          parameters: {{ availabilityZoneIdentifiers: us-east-1a, percentage: "100", duration: PT5M }}
          targets: {{ Roles: app }}
          startAfter: [pause]
      targets:
        vols:
          resourceType: aws:ec2:ebs-volume
          resourceTags: {volume_tags}
          filters: [{{ path: AvailabilityZone, values: [us-east-1a] }}]
        app:
          resourceType: aws:iam:role
          resourceArns: ["arn:aws:iam::123456789012:role/shop-app"]
abort:
  - alarm: shop-latency
recovery:
  objective: sustain
  stable_for: 200ms
  settle_timeout: 30s
"#
    )
}

/// Every experiment template on moto, as GetExperimentTemplate returns it.
pub(crate) fn fis_templates(moto: &Moto) -> Vec<Value> {
    moto.python_json(
        r#"
import boto3, json
fis = boto3.client('fis', region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='testing', aws_secret_access_key='testing')
ids = [t['id'] for t in fis.list_experiment_templates()['experimentTemplates']]
print(json.dumps([fis.get_experiment_template(id=i)['experimentTemplate'] for i in ids], default=str))
"#,
    )
    .as_array()
    .unwrap()
    .clone()
}

/// Every experiment on moto: (template id, status, tags).
pub(crate) fn all_fis_experiments(moto: &Moto) -> Vec<(String, String, Value)> {
    let out = moto.python_json(
        r#"
import boto3, json
fis = boto3.client('fis', region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='testing', aws_secret_access_key='testing')
xs = fis.list_experiments()['experiments']
print(json.dumps([[x['experimentTemplateId'], x['state']['status'], x.get('tags', {})] for x in xs]))
"#,
    );
    out.as_array()
        .unwrap()
        .iter()
        .map(|x| (x[0].as_str().unwrap().to_string(), x[1].as_str().unwrap().to_string(), x[2].clone()))
        .collect()
}

/// The seeded data volume of us-east-1a.
fn zone_volume(seeded: &Value) -> String {
    let first = seeded["instances"]["us-east-1a"][0].clone();
    let (id, _) = seeded["volumes"].as_object().unwrap().iter().find(|(_, v)| v["instance"] == first).unwrap();
    id.clone()
}

/// The inline form: the template is created at injection with exactly the ARNs firedrill
/// resolved (the zone's tagged volume, the role by ARN), selecting all of them, tagged
/// with the opt-in tag, the run and the fault, stopping on the scenario's alarm; the
/// experiment runs from it; the revert stops the experiment and deletes the template, and
/// moto is as it was.
#[test]
fn an_inline_fis_template_holds_the_resolved_arns_and_is_deleted_at_the_revert() {
    let moto = Moto::start();
    let seeded = moto.seed(&[]);
    let before = moto.snapshot();
    let (sb, running) = start(&moto, &inline_fis_scenario("{ app: shop, role: data }", "10s"));
    sb.wait_for_journal("done", WAIT);
    let run_id = sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    let templates = fis_templates(&moto);
    assert_eq!(templates.len(), 1, "{templates:#?}");
    let t = &templates[0];
    assert_eq!(t["tags"], json!({"firedrill": "allowed", "firedrill:run": run_id, "firedrill:fault": "fis"}));
    assert_eq!(t["roleArn"], "arn:aws:iam::123456789012:role/firedrill-fis");
    let volume = zone_volume(&seeded);
    assert_eq!(
        t["targets"],
        json!({
            "vols": {"resourceType": "aws:ec2:ebs-volume", "selectionMode": "ALL",
                     "resourceArns": [format!("arn:aws:ec2:us-east-1:123456789012:volume/{volume}")]},
            "app": {"resourceType": "aws:iam:role", "selectionMode": "ALL",
                    "resourceArns": ["arn:aws:iam::123456789012:role/shop-app"]},
        })
    );
    assert_eq!(t["actions"]["pause"]["actionId"], "aws:ebs:pause-volume-io");
    assert_eq!(t["actions"]["pause"]["parameters"], json!({"duration": "PT5M"}));
    assert_eq!(t["actions"]["no-capacity"]["startAfter"], json!(["pause"]));
    assert_eq!(
        t["stopConditions"],
        json!([{"source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:shop-latency"}])
    );
    let during = all_fis_experiments(&moto);
    assert_eq!(during.len(), 1, "{during:?}");
    assert_eq!(during[0].0, t["id"].as_str().unwrap());
    assert!(!ENDED.contains(&during[0].1.as_str()), "running during the fault: {during:?}");
    assert_eq!(during[0].2["firedrill:run"], json!(run_id));

    let done = running.wait();
    assert_eq!(done.code(), Some(0), "{done}");
    assert_eq!(fis_templates(&moto), Vec::<Value>::new(), "the revert deleted the template");
    let after = all_fis_experiments(&moto);
    assert!(after.len() == 1 && ENDED.contains(&after[0].1.as_str()), "stopped by the revert: {after:?}");
    assert_eq!(moto.snapshot(), before);
    let journal = serde_json::to_string(&read_journal(&sb.only_run_dir())).unwrap();
    let delete = journal.find("fis_delete_experiment_template").expect("the template's deletion is journaled");
    let stop = journal.find("fis_stop_experiment").expect("the experiment's stop is journaled");
    assert!(delete < stop, "the deletion is journaled before the create, the stop before the start");
}

/// A target that resolves to a resource without the opt-in tag refuses the run at plan
/// time: no template, no experiment, no lease.
#[test]
fn an_inline_fis_target_without_the_opt_in_tag_is_refused_and_nothing_is_created() {
    let moto = Moto::start();
    moto.seed(&[]);
    moto.boto(
        "ec2.create_volume(AvailabilityZone='us-east-1a', Size=1, TagSpecifications=[{'ResourceType': 'volume', \
         'Tags': [{'Key': 'role', 'Value': 'scratch'}]}])",
    );
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let file = sb.write_scenario("fis", &inline_fis_scenario("{ role: scratch }", "5s"));
    for cmd in [&["plan".as_ref(), file.as_os_str()][..], &["run".as_ref(), "--yes".as_ref(), file.as_os_str()]] {
        let done = sb.run(cmd);
        assert_eq!(done.code(), Some(7), "{done}");
        let out = format!("{}{}", done.stdout, done.stderr);
        assert!(
            out.contains("target `fis:fis/vols`: ec2:volume vol-")
                && out.contains("lacks the opt-in tag firedrill=allowed"),
            "{done}"
        );
    }
    assert_eq!(fis_templates(&moto), Vec::<Value>::new());
    assert!(all_fis_experiments(&moto).is_empty());
    assert_eq!(moto.snapshot(), before);
}

#[test]
fn sigkill_mid_inline_fis_experiment_then_recover_stops_it_and_deletes_the_template() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let (sb, mut running) = start(&moto, &inline_fis_scenario("{ app: shop, role: data }", "5m"));
    sb.wait_for_journal("done", WAIT);
    running.kill();
    let _ = running.wait();
    assert_eq!(fis_templates(&moto).len(), 1);
    let killed = all_fis_experiments(&moto);
    assert!(killed.len() == 1 && !ENDED.contains(&killed[0].1.as_str()), "still running: {killed:?}");
    // A new run is refused while the lost one's experiment and template are there.
    let file = sb.write_scenario("again", &inline_fis_scenario("{ app: shop, role: data }", "1s"));
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(7), "{plan}");
    let run_id = sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    assert!(plan.stdout.contains(&format!("leased by run {run_id}")), "{plan}");

    let rec = sb.run(&["recover"]);
    assert_eq!(rec.code(), Some(0), "{rec}");
    assert_eq!(fis_templates(&moto), Vec::<Value>::new(), "recover deleted the template");
    let after = all_fis_experiments(&moto);
    assert!(after.len() == 1 && ENDED.contains(&after[0].1.as_str()), "recover stopped it: {after:?}");
    assert_eq!(moto.snapshot(), before);
    let again = sb.run(&["recover"]);
    assert_eq!(again.code(), Some(0), "{again}");
}

/// scenarios/az-power-interruption.yaml, as `demo/aws.sh scenarios/az-power-interruption.yaml`
/// runs it: moto seeded by demo/seed.py, the shipped file unchanged. The zone is cut off
/// and the FIS experiment runs from a template naming the zone's volume, the app's role
/// and the web group by ARN; afterwards everything is as it was (but the Aurora writer,
/// whose failover is its own recovery), no template is left and the experiment is
/// stopped. Nothing runs on moto's instances, so no probe sees the outage: `no_impact`
/// (exit 8), as the demo says.
#[test]
fn the_az_power_interruption_scenario_runs_on_the_demo_twin_and_puts_everything_back() {
    let moto = Moto::start();
    let seeded = moto.seed(&[]);
    let mut before = moto.snapshot();
    let sb = moto.sandbox();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/az-power-interruption.yaml");
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(0), "{plan}");
    assert!(plan.stdout.contains("aws:ec2:api-insufficient-instance-capacity-error"), "{plan}");
    let running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    sb.wait_for_journal("done", WAIT);
    let templates = fis_templates(&moto);
    assert_eq!(templates.len(), 1, "{templates:#?}");
    let targets = &templates[0]["targets"];
    let volume = zone_volume(&seeded);
    assert_eq!(
        targets["zone-volumes"]["resourceArns"],
        json!([format!("arn:aws:ec2:us-east-1:123456789012:volume/{volume}")])
    );
    assert_eq!(targets["app-role"]["resourceArns"], json!(["arn:aws:iam::123456789012:role/shop-app"]));
    let group = targets["web-group"]["resourceArns"].as_array().unwrap();
    assert!(group.len() == 1 && group[0].as_str().unwrap().ends_with(":autoScalingGroupName/shop-web"), "{targets}");
    assert_eq!(templates[0]["roleArn"], seeded["fis"]["role_arn"]);
    let done = running.wait();
    assert_eq!(done.code(), Some(8), "{done}");
    assert_eq!(fis_templates(&moto), Vec::<Value>::new());
    assert!(all_fis_experiments(&moto).iter().all(|x| ENDED.contains(&x.1.as_str())));
    let mut after = moto.snapshot();
    for s in [&mut before, &mut after] {
        s.as_object_mut().unwrap().remove("cluster_writer");
    }
    assert_eq!(after, before);
}

#[test]
fn a_fis_experiment_runs_during_the_fault_and_is_stopped_by_the_revert() {
    let moto = Moto::start();
    let template = fis_template(&moto, "{'firedrill': 'allowed'}");
    let (sb, running) = start(&moto, &fis_scenario(&template, "10s"));
    sb.wait_for_journal("done", WAIT);
    let during = fis_experiments(&moto, &template);
    let run_id = sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(during.len(), 1, "{during:?}");
    assert!(!ENDED.contains(&during[0].0.as_str()), "running during the fault: {during:?}");
    assert_eq!(during[0].1["firedrill:run"], json!(run_id));
    assert_eq!(during[0].1["firedrill:fault"], "fis");
    let done = running.wait();
    assert_eq!(done.code(), Some(0), "{done}");
    let after = fis_experiments(&moto, &template);
    assert_eq!(after.len(), 1, "one experiment, started once: {after:?}");
    assert!(ENDED.contains(&after[0].0.as_str()), "stopped by the revert: {after:?}");
}

#[test]
fn a_fis_template_that_is_missing_or_not_opted_in_is_refused_at_plan_time() {
    let moto = Moto::start();
    let foreign = fis_template(&moto, "{'team': 'other'}");
    let sb = moto.sandbox();
    for (template, why) in [
        (foreign.as_str(), format!("experiment template {foreign} lacks the opt-in tag firedrill=allowed")),
        ("EXTnosuchtemplate1", "experiment template EXTnosuchtemplate1 does not exist in us-east-1".to_string()),
    ] {
        let file = sb.write_scenario("fis", &fis_scenario(template, "1s"));
        let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
        assert_eq!(plan.code(), Some(7), "{plan}");
        assert!(plan.stdout.contains(&why) || plan.stderr.contains(&why), "{why}\n{plan}");
        assert!(fis_experiments(&moto, template).is_empty());
    }
}

#[test]
fn sigkill_mid_fis_experiment_then_recover_stops_it() {
    let moto = Moto::start();
    let template = fis_template(&moto, "{'firedrill': 'allowed'}");
    let (sb, mut running) = start(&moto, &fis_scenario(&template, "5m"));
    sb.wait_for_journal("done", WAIT);
    running.kill();
    let _ = running.wait();
    let killed = fis_experiments(&moto, &template);
    assert!(killed.len() == 1 && !ENDED.contains(&killed[0].0.as_str()), "still running: {killed:?}");
    let rec = sb.run(&["recover"]);
    assert_eq!(rec.code(), Some(0), "{rec}");
    let after = fis_experiments(&moto, &template);
    assert!(after.len() == 1 && ENDED.contains(&after[0].0.as_str()), "recover stopped it: {after:?}");
    let again = sb.run(&["recover"]);
    assert_eq!(again.code(), Some(0), "{again}");
}

#[test]
fn reboot_leaves_instances_running_and_terminate_needs_consent_then_is_final() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let before = moto.snapshot();
    let (report, after, sb) =
        run_through(&moto, &scenario(WEB, "    ec2_reboot_instances: { target: web }", "500ms"), |_| {});
    assert_eq!(report["outcome"], "passed");
    assert_eq!(after, before);
    let journal = read_journal(&sb.only_run_dir());
    let intent = journal.iter().find(|e| e["event"] == "intent" && e["fault"] != "(lease)").unwrap();
    assert_eq!(intent["undo"]["kind"], "none");
    assert!(intent["undo"]["description"].as_str().unwrap().starts_with("nothing to undo after: reboot"));

    let sb = moto.sandbox();
    let no_consent = sb.write_scenario("t", &scenario(WEB, "    ec2_terminate_instances: { target: web }", "500ms"));
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), no_consent.as_os_str()]);
    assert_eq!(done.code(), Some(2), "{done}");
    assert!(done.stderr.contains("set `irreversible: true`"), "{done}");
    assert_eq!(moto.snapshot(), before);

    let (report, after, _) = run_through(
        &moto,
        &scenario(WEB, "    ec2_terminate_instances: { target: web, irreversible: true }", "500ms"),
        |_| {},
    );
    assert_eq!(report["outcome"], "passed");
    for id in ids(&seed["instances"]["us-east-1a"]) {
        assert!(matches!(after["instances"][&id].as_str(), Some("terminated" | "shutting-down")), "{after}");
    }
    for id in ids(&seed["instances"]["us-east-1b"]) {
        assert_eq!(after["instances"][&id], "running");
    }
}

#[test]
fn a_resource_that_vanishes_between_plan_and_inject_aborts_cleanly() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let zone_a = ids(&seed["instances"]["us-east-1a"]);
    let before = moto.snapshot();
    // A first fault (a command) terminates one planned instance; the stop fault that
    // starts after it must notice, inject nothing, and the run must abort.
    let python = Moto::python_path();
    let kill_one = format!(
        "{} -c \\\"import boto3; boto3.client('ec2', region_name='us-east-1', endpoint_url='{}', aws_access_key_id='t', aws_secret_access_key='t').terminate_instances(InstanceIds=['{}'])\\\"",
        python.display(),
        moto.endpoint(),
        zone_a[0]
    );
    let fault = format!(
        "    command: {{ inject: \"{kill_one}\", revert: \"true\" }}\n  - name: stop\n    duration: 1s\n    after: f\n    ec2_stop_instances: {{ target: web }}"
    );
    let sb = moto.sandbox();
    let file = sb.write_scenario("s", &scenario(WEB, &fault, "200ms"));
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(3), "aborted\n{done}");
    let report = read_report(&sb.only_run_dir());
    let error = report["faults"][1]["inject_error"].as_str().unwrap();
    assert!(error.contains(&format!("{} vanished between plan and injection", zone_a[0])), "{error}");
    let after = moto.snapshot();
    assert_eq!(after["instances"][&zone_a[1]], before["instances"][&zone_a[1]], "the other one was not stopped");
}

#[test]
fn an_already_detached_volume_is_left_alone() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let vol = seed["volumes"].as_object().unwrap().keys().next().unwrap().clone();
    moto.boto(&format!(
        "ec2.detach_volume(VolumeId='{vol}', InstanceId='{}')",
        seed["volumes"][&vol]["instance"].as_str().unwrap()
    ));
    let before = moto.snapshot();
    let targets = format!("  data:\n    type: ec2:volume\n    ids: [{vol}]\n    tags: {{ role: data }}");
    let sb = moto.sandbox();
    // Detaching it would change nothing: refused, untouched.
    let file = sb.write_scenario("s", &scenario(&targets, "    ebs_detach_volumes: { target: data }", "300ms"));
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(7), "{done}");
    assert!(sb.run_dirs().is_empty(), "no run was started");
    assert_eq!(moto.snapshot(), before);
    // Skipped instead: the run goes on, journals no side effect and is not a pass.
    let skip = "    if_no_effect: skip\n    ebs_detach_volumes: { target: data }";
    let file = sb.write_scenario("s", &scenario(&targets, skip, "300ms"));
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(8), "{done}");
    assert!(
        read_journal(&sb.only_run_dir()).iter().all(|e| e["event"] != "intent" || e["fault"] == "(lease)"),
        "no side effect journaled"
    );
    assert_eq!(read_report(&sb.only_run_dir())["faults"][0]["effect"], "skipped");
    assert_eq!(moto.snapshot(), before);
}

#[test]
fn no_credentials_is_a_clear_error() {
    let moto = Moto::start();
    let mut sb = Sandbox::new();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", moto.endpoint().as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_REGION", "us-east-1"),
    ] {
        sb.env(k, v);
    }
    let file = sb.write_scenario("s", &scenario(WEB, "    ec2_stop_instances: { target: web }", "1s"));
    let out = sb
        .command(&["plan".as_ref(), file.as_os_str()])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("no usable AWS credentials"), "{stderr}");
}

/// Nothing is injected while the system is not ready for a drill, and the run says so
/// with its own exit code (4, `blocked`): a stop-condition alarm already in ALARM, and a
/// steady state that does not hold, each block the run before any fault is journaled, and
/// moto is left as it was. `plan` does not call the guards passed without naming the
/// alarm in ALARM, and refuses a stop-condition alarm that does not exist (exit 7).
#[test]
fn an_alarm_in_alarm_or_an_unhealthy_steady_state_blocks_the_run_and_plan_says_so() {
    let moto = Moto::start();
    moto.seed(&[]);
    let with_gate = |alarm: &str| {
        scenario(WEB, "    ec2_stop_instances: { target: web }", "1s")
            .replace("recovery:", &format!("abort:\n  - alarm: {alarm}\nrecovery:"))
    };
    let faults_journaled = |dir: &std::path::Path| {
        read_journal(dir).iter().filter(|e| e["event"] == "intent" && e["fault"] == "f").count()
    };

    // The gate alarm is in ALARM: plan warns beside "Guards: passed"; the run is blocked.
    moto.boto("cw.set_alarm_state(AlarmName='shop-latency', StateValue='ALARM', StateReason='firedrill test')");
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let file = sb.write_scenario("gated", &with_gate("shop-latency"));
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(0), "a warning, not a refusal\n{plan}");
    assert!(plan.stdout.contains("Guards: passed"), "{plan}");
    assert!(
        plan.stdout.contains(
            "Warnings:\n  - stop-condition alarm `shop-latency` is in ALARM now: a run would be blocked before injection (exit 4)"
        ),
        "{plan}"
    );
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(4), "blocked\n{done}");
    assert!(done.stderr.contains("stop-condition alarm `shop-latency` is in ALARM now"), "{done}");
    let dir = sb.only_run_dir();
    let report = read_report(&dir);
    assert_eq!(report["outcome"], "blocked", "{report}");
    assert_eq!(
        report["abort_reason"],
        "a stop condition was not clear before injection: CloudWatch alarm `shop-latency` is in ALARM (abort rule: alarm)",
        "{report}"
    );
    assert_eq!(faults_journaled(&dir), 0, "no fault was even journaled");
    assert_eq!(report["t_inject_ms"], Value::Null);
    assert_eq!(moto.snapshot(), before, "nothing touched (the lease was released)");

    // The gate is clear again, but the steady state (the shop-5xx alarm) does not hold.
    moto.boto("cw.set_alarm_state(AlarmName='shop-latency', StateValue='OK', StateReason='firedrill test')");
    moto.boto("cw.set_alarm_state(AlarmName='shop-5xx', StateValue='ALARM', StateReason='firedrill test')");
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let file = sb.write_scenario("unhealthy", &with_gate("shop-latency"));
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(0), "{plan}");
    assert!(!plan.stdout.contains("Warnings:"), "the gate is clear\n{plan}");
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(4), "blocked\n{done}");
    let dir = sb.only_run_dir();
    let report = read_report(&dir);
    assert_eq!(report["outcome"], "blocked");
    assert_eq!(report["abort_reason"], "steady state did not hold before injection: errors (ALARM)", "{report}");
    assert_eq!(faults_journaled(&dir), 0);
    assert_eq!(moto.snapshot(), before, "nothing touched");

    // A stop-condition alarm that does not exist: plan and run fail on the scenario, at the
    // name, before any run.
    let sb = moto.sandbox();
    let yaml = with_gate("shop-latencyy");
    let file = sb.write_scenario("typo", &yaml);
    let why = format!(
        "{}:{}: abort[0].alarm: CloudWatch alarm `shop-latencyy` does not exist in us-east-1: check the name",
        file.display(),
        position(&yaml, "shop-latencyy")
    );
    for cmd in [&["plan"][..], &["run", "--yes"]] {
        let mut args: Vec<&std::ffi::OsStr> = cmd.iter().map(|a| a.as_ref()).collect();
        args.push(file.as_os_str());
        let done = sb.run(&args);
        assert_eq!(done.code(), Some(2), "{done}");
        assert!(done.stderr.contains(&why), "expected {why:?} in:\n{done}");
    }
    assert!(sb.run_dirs().is_empty(), "no run was even started");
    assert_eq!(moto.snapshot(), before, "nothing touched");
}

/// `LINE:COL` of the first `needle` in `text`.
fn position(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or_else(|| panic!("test bug: {needle:?} not in the text"));
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}")
}

/// A name the scenario gives that does not exist (a typo) fails `plan` as invalid input
/// (exit 2) at the name's position: an ASG or RDS cluster a target names by id, an alarm a
/// probe reads — each one, in one pass.
#[test]
fn plan_fails_at_the_position_of_a_misspelled_group_cluster_or_alarm() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let cases = [
        (
            "  asg:\n    type: autoscaling:group\n    ids: [shop-webb]\n    tags: { app: shop }",
            "    az_outage: { zone: us-east-1a, targets: [asg], asg: remove_zone }",
            "shop-webb",
            "targets.asg.ids[0]: Auto Scaling group `shop-webb` does not exist in us-east-1",
        ),
        (
            "  db:\n    type: rds:cluster\n    ids: [shop-dbb]\n    tags: { app: shop }",
            "    rds_failover: { target: db }",
            "shop-dbb",
            "targets.db.ids[0]: RDS cluster `shop-dbb` does not exist in us-east-1",
        ),
    ];
    for (i, (targets, fault, name, why)) in cases.into_iter().enumerate() {
        let yaml = scenario(targets, fault, "1s");
        let file = sb.write_scenario(&format!("typo{i}"), &yaml);
        let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
        assert_eq!(plan.code(), Some(2), "{plan}");
        let want = format!("{}:{}: {why}: check the name", file.display(), position(&yaml, name));
        assert!(plan.stderr.contains(&want), "expected {want:?} in:\n{plan}");
    }
    // A probe's alarm and a cluster, both wrong: both reported at once.
    let yaml = scenario(
        "  db:\n    type: rds:cluster\n    ids: [shop-dbb]\n    tags: { app: shop }",
        "    rds_failover: { target: db }",
        "1s",
    )
    .replace("alarm: shop-5xx", "alarm: shop-5xxx");
    let file = sb.write_scenario("both", &yaml);
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(2), "{plan}");
    for (name, why) in [
        ("shop-5xxx", "steady_state[0].cloudwatch_alarm.alarm: CloudWatch alarm `shop-5xxx` does not exist"),
        ("shop-dbb", "targets.db.ids[0]: RDS cluster `shop-dbb` does not exist"),
    ] {
        let want = format!("{}:{}: {why}", file.display(), position(&yaml, name));
        assert!(plan.stderr.contains(&want), "expected {want:?} in:\n{plan}");
    }
    assert!(sb.run_dirs().is_empty());
    assert_eq!(moto.snapshot(), before, "nothing touched");
}

/// `plan --format json` is the plan for scripts and CI, from the same read-only calls as
/// the text plan: the resolved ids, each fault's steps as the text shows them, the IAM
/// actions the run needs, the guards' verdict with its warnings or refusals, and a bound
/// to set a CI job's timeout by. Exit codes are the text plan's (7 when refused).
#[test]
fn plan_json_has_resolved_targets_steps_iam_actions_and_a_ci_timeout() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    moto.boto("cw.set_alarm_state(AlarmName='shop-latency', StateValue='ALARM', StateReason='firedrill test')");
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let yaml = scenario(WEB, "    ec2_stop_instances: { target: web }", "10s")
        .replace("recovery:", "abort:\n  - alarm: shop-latency\nrecovery:");
    let file = sb.write_scenario("s", &yaml);
    let args = |format: &str| -> Vec<std::ffi::OsString> {
        ["plan", "--seed", "7", "--format", format].iter().map(Into::into).chain([file.clone().into()]).collect()
    };
    let json = sb.run(&args("json"));
    assert_eq!(json.code(), Some(0), "{json}");
    let doc: Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    let mut zone_a = ids(&seed["instances"]["us-east-1a"]);
    zone_a.sort();
    let selected: Vec<String> = doc["targets"]["web"]["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().into())
        .collect();
    assert_eq!(selected, zone_a, "the resolved ids: {doc:#}");
    assert_eq!(doc["targets"]["web"]["type"], "ec2:instance");
    assert_eq!(doc["environment"]["account"], "123456789012");
    assert_eq!(doc["environment"]["seed"], 7);
    assert_eq!(doc["guards"], "passed");
    assert_eq!(doc["refusals"], json!([]));
    assert_eq!(
        doc["warnings"][0],
        "stop-condition alarm `shop-latency` is in ALARM now: a run would be blocked before injection (exit 4) until it is OK"
    );
    let actions: Vec<&str> = doc["iam_actions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    for needed in ["ec2:StopInstances", "ec2:StartInstances", "ec2:DescribeInstances", "cloudwatch:DescribeAlarms"] {
        assert!(actions.contains(&needed), "{needed} in {actions:?}");
    }
    // The fault's steps are the text plan's lines under it, with the same resolved ids.
    let text = sb.run(&args("text"));
    assert_eq!(text.code(), Some(0), "{text}");
    let steps = doc["faults"][0]["steps"].as_array().unwrap();
    assert!(!steps.is_empty());
    for step in steps {
        assert!(text.stdout.contains(&format!("       {}\n", step.as_str().unwrap())), "{step} in\n{text}");
    }
    assert!(steps.iter().any(|s| zone_a.iter().all(|id| s.as_str().unwrap().contains(id.as_str()))), "{steps:?}");
    // A target without `max` says plainly that nothing caps it; JSON has `max: null`.
    let uncapped = format!(
        "web (ec2:instance): {n} selected of {n} matched, no max: nothing caps how many are hit",
        n = zone_a.len()
    );
    assert!(text.stdout.contains(&uncapped), "{text}");
    assert_eq!(doc["targets"]["web"]["max"], Value::Null, "{doc:#}");
    assert_eq!(
        doc["warnings"][1],
        "target `web`: no max: nothing caps how many are hit (set `max` to refuse a run that would hit more)",
        "{doc:#}"
    );
    // The alarm's read (21s) + the 10s fault + 6 revert steps at 5m (at most 2 per
    // instance + 1, and the lease) + 10s cut-off + 30s settle + 30s notifications + 60s
    // margin; a shorter revert deadline lowers it.
    assert_eq!(doc["longest_run_secs"], 21 + 10 + 6 * 300 + 10 + 30 + 30 + 60, "{doc:#}");
    let short = sb.run(&[
        "plan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--revert-deadline".as_ref(),
        "1m".as_ref(),
        file.as_os_str(),
    ]);
    let short: Value = serde_json::from_str(&short.stdout).unwrap();
    assert_eq!(short["longest_run_secs"], 21 + 10 + 6 * 60 + 10 + 30 + 30 + 60);

    // Refused: the JSON says so, with the same exit code as the text plan.
    let over = sb.write_scenario(
        "over",
        &yaml.replace(
            "filters: { availability_zone: us-east-1a }",
            "filters: { availability_zone: us-east-1a }\n    max: 1",
        ),
    );
    let refused = sb.run(&["plan".as_ref(), "--format".as_ref(), "json".as_ref(), over.as_os_str()]);
    assert_eq!(refused.code(), Some(7), "{refused}");
    let doc: Value = serde_json::from_str(&refused.stdout).unwrap();
    assert_eq!(doc["guards"], "refused");
    assert!(doc["refusals"][0].as_str().unwrap().contains("max"), "{doc:#}");
    assert_eq!(doc["targets"]["web"]["max"], 1, "{doc:#}");
    let capped = sb.run(&["plan".as_ref(), over.as_os_str()]);
    assert!(capped.stdout.contains("matched, max 1\n") && !capped.stdout.contains("no max"), "{capped}");
    assert_eq!(moto.snapshot(), before, "plan touches nothing");
}

/// `plan` and `run` both refuse, with exit 7, naming the fault and why, and touch nothing.
fn refused_as_no_effect(moto: &Moto, sb: &Sandbox, yaml: &str, expect: &str) {
    let file = sb.write_scenario("idle", yaml);
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(7), "{plan}");
    assert!(plan.stdout.contains(expect), "expected {expect:?} in:\n{plan}");
    refused(moto, sb, yaml, &[], expect);
}

/// A fault that would change nothing is refused at plan and at run: a user without an
/// active access key, instances none of which is running, volumes none of which is
/// attached, a cluster whose writer already is the target of the failover, and a zone
/// outage whose only part (the writer's failover) finds the writer outside the zone.
#[test]
fn faults_that_would_change_nothing_are_refused_at_plan_and_run_touching_nothing() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let sb = moto.sandbox();
    let key = seed["user"]["access_key"].as_str().unwrap();
    moto.boto(&format!("iam.update_access_key(UserName='shop-deployer', AccessKeyId='{key}', Status='Inactive')"));
    let user = "  user:\n    type: iam:user\n    ids: [shop-deployer]\n    tags: { app: shop }";
    refused_as_no_effect(
        &moto,
        &sb,
        &scenario(user, "    iam_revoke_credentials: { target: user }", "1s"),
        "fault `f` (iam_revoke_credentials) would change nothing: user(s) shop-deployer of target `user` have no active access key",
    );

    let zone_a = ids(&seed["instances"]["us-east-1a"]);
    moto.boto(&format!("ec2.stop_instances(InstanceIds={zone_a:?})"));
    for (kind, verb) in [("ec2_stop_instances", "stop"), ("ec2_reboot_instances", "reboot")] {
        refused_as_no_effect(
            &moto,
            &sb,
            &scenario(WEB, &format!("    {kind}: {{ target: web }}"), "1s"),
            &format!("fault `f` ({kind}) would change nothing: no instance of target `web` is running ("),
        );
        refused_as_no_effect(
            &moto,
            &sb,
            &scenario(WEB, &format!("    {kind}: {{ target: web }}"), "1s"),
            &format!("): nothing to {verb}"),
        );
    }

    let (vol, att) = seed["volumes"].as_object().unwrap().iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
    moto.boto(&format!(
        "ec2.detach_volume(VolumeId='{vol}', InstanceId='{}', Device='{}')",
        att["instance"].as_str().unwrap(),
        att["device"].as_str().unwrap()
    ));
    let data = format!("  data:\n    type: ec2:volume\n    ids: [{vol}]\n    tags: {{ role: data }}");
    refused_as_no_effect(
        &moto,
        &sb,
        &scenario(&data, "    ebs_detach_volumes: { target: data }", "1s"),
        &format!(
            "fault `f` (ebs_detach_volumes) would change nothing: no volume of target `data` is attached ({vol} is available)"
        ),
    );

    let db = "  db:\n    type: rds:cluster\n    ids: [shop-db]\n    tags: { app: shop }";
    refused_as_no_effect(
        &moto,
        &sb,
        &scenario(db, "    rds_failover: { target: db, to: shop-db-1 }", "1s"),
        "fault `f` (rds_failover) would change nothing: shop-db-1 is already the writer of cluster shop-db",
    );
    // The writer is in us-east-1a: failing over "out of" us-east-1b has nothing to do.
    refused_as_no_effect(
        &moto,
        &sb,
        &scenario(db, "    az_outage: { zone: us-east-1b, targets: [db], rds: failover }", "1s"),
        "fault `f` (az_outage) would change nothing: no part has anything to do in zone us-east-1b: rds: failover — cluster shop-db: no writer in us-east-1b (writer shop-db-1 is in us-east-1a): nothing to do",
    );
}

/// Month 2 of a monthly drill, in one run: `g` fails the zone's writer over after `f`
/// already moved it out of the zone. At plan time `g` had a writer to move; at injection it
/// finds none, journals nothing, and the report shows it with no effect — beside `f`,
/// which did act, so the run keeps its outcome. Each fault's plan is in the report.
#[test]
fn a_fault_that_finds_nothing_to_do_at_injection_is_reported_with_no_effect() {
    let moto = Moto::start();
    moto.seed(&[]);
    let db = "  db:\n    type: rds:cluster\n    ids: [shop-db]\n    tags: { app: shop }";
    let faults = "    az_outage: { zone: us-east-1a, targets: [db], rds: failover }\n  - name: g\n    duration: 1s\n    after: f\n    az_outage: { zone: us-east-1a, targets: [db], rds: failover }";
    let (report, after, sb) = run_through(&moto, &scenario(db, faults, "1s"), |_| {});
    assert_eq!(after["cluster_writer"]["shop-db"], "shop-db-2");
    let f = &report["faults"];
    assert_eq!(
        (f[0]["name"].as_str(), f[0]["effect"].as_str(), f[0]["steps"].as_u64()),
        (Some("f"), Some("applied"), Some(1))
    );
    assert_eq!(
        (f[1]["name"].as_str(), f[1]["effect"].as_str(), f[1]["steps"].as_u64()),
        (Some("g"), Some("none"), Some(0))
    );
    assert_eq!(report["outcome"], "passed", "f acted and the steady state held");
    assert!(
        f[1]["plan"].as_array().unwrap().iter().any(|l| l
            .as_str()
            .unwrap()
            .contains("rds: failover — fail over rds:cluster shop-db (writer in us-east-1a)")),
        "{}",
        f[1]["plan"]
    );
    let md = std::fs::read_to_string(sb.only_run_dir().join("report.md")).unwrap();
    assert!(md.contains("| 0 (**no effect**: nothing to do) |"), "{md}");
    let xml = std::fs::read_to_string(sb.only_run_dir().join("junit.xml")).unwrap();
    assert!(xml.contains("no effect: the fault found nothing to do at injection"), "{xml}");
}

/// `if_no_effect: skip`: the idle fault is not refused; the plan and the report show it
/// skipped and the other fault runs. A run in which every fault is skipped changed nothing:
/// `no_impact` (exit 8), never `passed`.
#[test]
fn if_no_effect_skip_runs_the_others_and_never_counts_as_a_pass() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let zone_a = ids(&seed["instances"]["us-east-1a"]);
    moto.boto(&format!("ec2.stop_instances(InstanceIds={zone_a:?})"));
    let targets = format!("{WEB}\n  role:\n    type: iam:role\n    tags: {{ app: shop }}");
    let faults = "    if_no_effect: skip\n    ec2_stop_instances: { target: web }\n  - name: g\n    duration: 1s\n    iam_revoke_credentials: { target: role }";
    let sb = moto.sandbox();
    let file = sb.write_scenario("plan", &scenario(&targets, faults, "1s"));
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(0), "{plan}");
    assert!(
        plan.stdout.contains(
            "skipped (`if_no_effect: skip`): it would change nothing: no instance of target `web` is running"
        ),
        "{plan}"
    );

    let before = moto.snapshot();
    let (report, after, _) = run_through(&moto, &scenario(&targets, faults, "1s"), |_| {});
    assert_eq!(after, before);
    assert_eq!(report["outcome"], "passed", "g acted");
    assert_eq!(report["faults"][0]["effect"], "skipped");
    assert_eq!(report["faults"][1]["effect"], "applied");

    let only = "    if_no_effect: skip\n    ec2_stop_instances: { target: web }";
    let (sb, running) = start(&moto, &scenario(WEB, only, "1s"));
    let done = running.wait();
    assert_eq!(done.code(), Some(8), "{done}");
    let report = read_report(&sb.only_run_dir());
    assert_eq!(report["outcome"], "no_impact");
    assert_eq!(report["faults"][0]["effect"], "skipped");
    assert_eq!(moto.snapshot(), before);
}

/// `failback: true`: the failback step is journaled before the failover, and the revert
/// fails over again to the original writer, so that after the run moto is exactly as
/// before. The same through `az_outage`'s `rds_failback`.
#[test]
fn rds_failback_makes_the_original_writer_the_writer_again() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    assert_eq!(before["cluster_writer"]["shop-db"], "shop-db-1");
    let db = "  db:\n    type: rds:cluster\n    ids: [shop-db]\n    tags: { app: shop }";
    let fault = "    rds_failover: { target: db, to: shop-db-2, failback: true }";
    let (report, after, sb) = run_through(&moto, &scenario(db, fault, "10s"), |during| {
        assert_eq!(during["cluster_writer"]["shop-db"], "shop-db-2");
    });
    assert_eq!(report["outcome"], "passed");
    assert_eq!(after["cluster_writer"]["shop-db"], "shop-db-1", "failed back");
    assert_eq!(after, before);
    let journal = read_journal(&sb.only_run_dir());
    let intent = journal.iter().find(|e| e["event"] == "intent" && e["fault"] != "(lease)").unwrap();
    assert_eq!(intent["undo"]["kind"], "rds_failback");
    assert_eq!(intent["undo"]["data"]["cluster"], "shop-db");
    assert_eq!(intent["undo"]["data"]["instance"], "shop-db-1");

    let fault = "    az_outage: { zone: us-east-1a, targets: [db], rds: failover, rds_failback: true }";
    let (report, after, sb) = run_through(&moto, &scenario(db, fault, "10s"), |during| {
        assert_ne!(during["cluster_writer"]["shop-db"], "shop-db-1", "the writer left the zone");
    });
    assert_eq!(report["outcome"], "passed");
    assert_eq!(after, before, "the writer is back in the zone");
    let journal = read_journal(&sb.only_run_dir());
    assert!(journal.iter().any(|e| e["event"] == "intent" && e["undo"]["kind"] == "rds_failback"), "{journal:?}");
}

/// The deny policies firedrill puts on roles must fit IAM's limit on a role's inline
/// policies (10,240 characters all together, whitespace not counted) with the role's own:
/// `plan` reads them and refuses (exit 7) what AWS would refuse half-way; `run` refuses
/// the same before anything is touched. With room to spare, the same scenario plans.
#[test]
fn deny_policies_that_would_not_fit_the_roles_inline_policy_limit_are_refused_at_plan() {
    let moto = Moto::start();
    moto.seed(&[]);
    // shop-app's own inline policy: 10,200 characters.
    moto.boto(
        "import json\n\
         doc = {'Version': '2012-10-17', 'Statement': [{'Sid': 'S', 'Effect': 'Allow', 'Action': 's3:GetObject', 'Resource': '*'}]}\n\
         doc['Statement'][0]['Sid'] = 'S' * (1 + 10200 - len(json.dumps(doc, separators=(',', ':'))))\n\
         assert len(json.dumps(doc, separators=(',', ':'))) == 10200\n\
         iam.put_role_policy(RoleName='shop-app', PolicyName='big', PolicyDocument=json.dumps(doc, separators=(',', ':')))",
    );
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let role = "  role:\n    type: iam:role\n    ids: [shop-app]";
    for (name, fault) in [
        ("service", "    service_outage: { target: role, actions: [\"ses:SendEmail\"] }"),
        ("region", "    region_outage: { target: role, region: us-east-1 }"),
        ("revoke", "    iam_revoke_credentials: { target: role }"),
    ] {
        let file = sb.write_scenario(name, &scenario(role, fault, "1s"));
        let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
        plan.assert_exit(7);
        let text = format!("{}{}", plan.stdout, plan.stderr);
        assert!(
            text.contains("role shop-app's inline policies (10200 characters) and the deny policies of fault(s) `f`")
                && text.contains("more than IAM's 10240 per role"),
            "{name}: {plan}"
        );
        let run = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
        run.assert_exit(7);
        assert_eq!(moto.snapshot(), before, "{name}: nothing touched");
    }
    // Room again: the same fault plans.
    moto.boto("iam.delete_role_policy(RoleName='shop-app', PolicyName='big')");
    let file = sb.write_scenario(
        "fits",
        &scenario(role, "    service_outage: { target: role, actions: [\"ses:SendEmail\"] }", "1s"),
    );
    sb.run(&["plan".as_ref(), file.as_os_str()]).assert_exit(0);
}
