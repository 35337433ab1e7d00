//! The dead man's switch (`safety.dead_mans_switch`) against moto, which stores schedules
//! but never fires them: during the faults the right one-time schedules exist (names,
//! universal targets, Input, times in undo order, role); a normal revert deletes them;
//! after a crash they are still there, and making their calls (as EventBridge Scheduler
//! would, in time order: `support/fire_schedules.py`) puts the zone outage, the detached
//! volume and the revoked role back exactly as they were; `firedrill recover` then
//! deletes them, and a second recover finds nothing left to do.

use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::support::moto::{Moto, venv};

const ROLE: &str = "arn:aws:iam::123456789012:role/firedrill-dead-mans-switch";

/// Three AWS faults at once: a zone outage (network, instances, ASG), a detached volume
/// and a revoked role, with the switch armed 10 minutes after their planned end.
fn scenario(duration: &str) -> String {
    format!(
        r#"version: 1
name: dms
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
safety:
  dead_mans_switch:
    role_arn: {ROLE}
    grace: 10m
targets:
  subnets:
    type: ec2:subnet
    tags: {{ app: shop }}
  web:
    type: ec2:instance
    tags: {{ app: shop }}
  asg:
    type: autoscaling:group
    tags: {{ app: shop }}
  data:
    type: ec2:volume
    tags: {{ role: data }}
    filters: {{ availability_zone: us-east-1b }}
  role:
    type: iam:role
    ids: [shop-app]
steady_state:
  - name: ok
    command: {{ run: "true" }}
    every: 100ms
faults:
  - name: zone
    duration: {duration}
    az_outage: {{ zone: us-east-1a, targets: [subnets, web, asg], network: true, stop_instances: true, asg: remove_zone }}
  - name: disk
    duration: {duration}
    ebs_detach_volumes: {{ target: data }}
  - name: creds
    duration: {duration}
    iam_revoke_credentials: {{ target: role }}
recovery:
  objective: sustain
  stable_for: 100ms
  settle_timeout: 10s
"#
    )
}

/// The schedules in moto (with `fire`: after making their calls in time order).
fn schedules(moto: &Moto, fire: bool) -> Vec<Value> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/fire_schedules.py");
    let mut c = Command::new(venv().join("bin/python"));
    c.arg(script).args(["--endpoint", &moto.endpoint()]);
    if !fire {
        c.arg("--list");
    }
    let out = c.output().expect("run fire_schedules.py");
    assert!(out.status.success(), "fire_schedules.py: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("fire_schedules.py printed JSON")
}

fn at(s: &Value) -> SystemTime {
    let e = s["expression"].as_str().unwrap();
    let t = e.strip_prefix("at(").and_then(|t| t.strip_suffix(')')).unwrap_or_else(|| panic!("not at(): {e}"));
    humantime::parse_rfc3339(&format!("{t}Z")).unwrap_or_else(|err| panic!("{e}: {err}"))
}

/// Checks the schedules against what the seed made and the run injected: names, targets,
/// Input, role, one-time settings and times (each fault's calls a minute apart, last
/// injected step first, from its planned end + the grace).
fn assert_armed(found: &[Value], seed: &Value, before: &Value, run_id: &str, injected: (SystemTime, SystemTime)) {
    let subnet_a = seed["subnets"]["us-east-1a"].as_str().unwrap().to_string();
    let instances_a: Vec<Value> = seed["instances"]["us-east-1a"].as_array().unwrap().clone();
    let volume_b = seed["volumes"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, v)| seed["instances"]["us-east-1b"][0] == v["instance"])
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    let prefix = format!("firedrill-{run_id}-");
    let by_name = |n: &str| {
        found
            .iter()
            .find(|s| s["name"] == format!("{prefix}{n}"))
            .unwrap_or_else(|| panic!("no {prefix}{n} in {found:#?}"))
    };
    assert_eq!(found.len(), 5, "{found:#?}");
    for s in found {
        assert_eq!(s["role"], ROLE, "{s}");
        assert_eq!(s["window"], "OFF", "{s}");
        assert_eq!(s["after_completion"], "DELETE", "{s}");
        assert!(s["name"].as_str().unwrap().len() <= 64, "{s}");
    }
    // Fault 0 (zone): ASG subnets, then the instances, then the subnet's ACL.
    let asg = by_name("0-0");
    assert_eq!(asg["arn"], "arn:aws:scheduler:::aws-sdk:autoscaling:updateAutoScalingGroup");
    assert_eq!(
        asg["input"],
        json!({"AutoScalingGroupName": "shop-web", "VPCZoneIdentifier": seed["asg"]["vpc_zone_identifier"]})
    );
    let start = by_name("0-1");
    assert_eq!(start["arn"], "arn:aws:scheduler:::aws-sdk:ec2:startInstances");
    let mut ids: Vec<Value> = start["input"]["InstanceIds"].as_array().cloned().unwrap_or_default();
    let mut expected = instances_a.clone();
    ids.sort_by_key(|v| v.to_string());
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(ids, expected, "{start}");
    assert_eq!(start["input"].as_object().unwrap().len(), 1, "{start}");
    let acl = by_name("0-2");
    assert_eq!(acl["arn"], "arn:aws:scheduler:::aws-sdk:ec2:replaceNetworkAclAssociation");
    assert_eq!(acl["input"]["NetworkAclId"], before["nacl_of_subnet"][&subnet_a]);
    assert!(acl["input"]["AssociationId"].as_str().is_some_and(|a| a.starts_with("aclassoc-")), "{acl}");
    assert_eq!(at(asg) + Duration::from_secs(60), at(start));
    assert_eq!(at(start) + Duration::from_secs(60), at(acl));
    // Fault 1 (disk): the volume goes back to its instance and device.
    let attach = by_name("1-0");
    assert_eq!(attach["arn"], "arn:aws:scheduler:::aws-sdk:ec2:attachVolume");
    assert_eq!(
        attach["input"],
        json!({"VolumeId": volume_b.0, "InstanceId": volume_b.1["instance"], "Device": volume_b.1["device"]})
    );
    // Fault 2 (creds): the deny policy is deleted.
    let policy = by_name("2-0");
    assert_eq!(policy["arn"], "arn:aws:scheduler:::aws-sdk:iam:deleteRolePolicy");
    assert_eq!(policy["input"], json!({"RoleName": "shop-app", "PolicyName": format!("firedrill-revoke-{run_id}")}));
    // Each fault's first call is due its duration (5s) + the grace (10m) after it was
    // injected; `at` rounds up to the second.
    let due = Duration::from_secs(5 + 600);
    for first in [asg, attach, policy] {
        let t = at(first);
        assert!(t >= injected.0 + due && t <= injected.1 + due + Duration::from_secs(1), "{first}");
    }
}

/// What the faults change, and the schedules' calls must put back.
fn restored_part(state: &Value) -> Value {
    json!({
        "nacl_of_subnet": state["nacl_of_subnet"],
        "asg_subnets": state["asg_subnets"],
        "instances": state["instances"],
        "volumes": state["volumes"],
        "role_policies": state["role_policies"],
    })
}

#[test]
fn the_switch_is_armed_during_the_faults_and_a_normal_revert_deletes_it() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let file = sb.write_scenario("dms", &scenario("5s"));
    let started = SystemTime::now();
    let run = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    // Every fault is injected (and so armed) once its `done` is journaled.
    crate::support::wait_until("all three faults injected", Duration::from_secs(30), || {
        sb.run_dirs()
            .first()
            .is_some_and(|d| crate::support::journal_events(&crate::support::read_journal(d), "done").len() == 3)
    });
    let armed = SystemTime::now();
    let found = schedules(&moto, false);
    let run_id = sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    assert_armed(&found, &seed, &before, &run_id, (started, armed));
    let done = run.wait();
    done.assert_exit(0);
    assert_eq!(schedules(&moto, false), Vec::<Value>::new(), "the revert deletes every schedule\n{done}");
    assert_eq!(moto.snapshot(), before, "{done}");
    // The plan shows them, one line per call.
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert!(plan.stdout.contains("Dead man's switch:"), "{plan}");
    assert!(plan.stdout.contains("end+10m: autoscaling:updateAutoScalingGroup"), "{plan}");
    assert!(plan.stdout.contains("end+11m: ec2:startInstances"), "{plan}");
    assert!(plan.stdout.contains("end+12m: ec2:replaceNetworkAclAssociation"), "{plan}");
    assert!(plan.stdout.contains("not covered: deleting firedrill's deny-all network ACL"), "{plan}");
    let json = sb.run(&["plan".as_ref(), "--format".as_ref(), "json".as_ref(), file.as_os_str()]);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {json}"));
    let sw = &doc["dead_mans_switch"];
    assert_eq!(
        (sw["role_arn"].as_str(), sw["grace_ms"].as_u64(), sw["stagger_ms"].as_u64()),
        (Some(ROLE), Some(600_000), Some(60_000))
    );
    let zone: Vec<(&str, u64)> = sw["faults"][0]["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["call"].as_str().unwrap(), s["after_end_ms"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        zone,
        [
            ("autoscaling:updateAutoScalingGroup", 600_000),
            ("ec2:startInstances", 660_000),
            ("ec2:replaceNetworkAclAssociation", 720_000)
        ]
    );
    assert_eq!(sw["faults"][1]["schedules"][0]["target_arn"], "arn:aws:scheduler:::aws-sdk:ec2:attachVolume");
    assert_eq!(sw["faults"][2]["schedules"][0]["input"]["RoleName"], "shop-app");
}

#[cfg(feature = "failpoints")]
#[test]
fn after_a_crash_the_schedules_calls_restore_the_state_and_recover_deletes_them() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let file = sb.write_scenario("dms", &scenario("5s"));
    let started = SystemTime::now();
    // Dies (as if SIGKILLed) once the third fault is injected and armed.
    let died = sb.run_with_env(
        &["run".as_ref(), "--yes".as_ref(), file.as_os_str()],
        &[("FIREDRILL_FAILPOINT", "before_done:3")],
    );
    assert_eq!(died.code(), None, "the process must die at the fail point\n{died}");
    let run_id = sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    let found = schedules(&moto, false);
    assert_armed(&found, &seed, &before, &run_id, (started, SystemTime::now()));
    assert_ne!(restored_part(&moto.snapshot()), restored_part(&before), "the faults are in place");

    // EventBridge Scheduler's part: each call, in time order.
    let fired = schedules(&moto, true);
    assert_eq!(fired.len(), 5);
    assert_eq!(restored_part(&moto.snapshot()), restored_part(&before), "the schedules' calls restore the state");

    // moto keeps the schedules (AWS deletes them after they ran): recover deletes them,
    // and cleans up what the switch does not cover (the empty deny-all ACL, the lease).
    let rec = sb.run(&["recover"]);
    rec.assert_exit(0);
    assert_eq!(schedules(&moto, false), Vec::<Value>::new(), "{rec}");
    assert_eq!(moto.snapshot(), before, "{rec}");
    let again = sb.run(&["recover"]);
    again.assert_exit(0);
    assert_eq!(moto.snapshot(), before, "{again}");
}

/// `LINE:COL` of the first `needle` in `text`.
fn position(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or_else(|| panic!("test bug: {needle:?} not in the text"));
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}")
}

/// A schedule group that does not exist is refused by `plan` and `run` as a name the
/// scenario gives (exit 2, at its position) before anything is touched — not found by a
/// run that injects every fault and then fails to arm the switch. A group that exists
/// (created here, as an operator would) plans.
#[test]
fn a_schedule_group_that_does_not_exist_is_refused_before_anything_is_touched() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let yaml = scenario("5s").replace("grace: 10m", "grace: 10m\n    group: gamedays-typo");
    let file = sb.write_scenario("dms", &yaml);
    let why = format!(
        "{}:{}: safety.dead_mans_switch.group: EventBridge Scheduler schedule group `gamedays-typo` does not exist in us-east-1: check the name",
        file.display(),
        position(&yaml, "gamedays-typo")
    );
    for cmd in [&["plan"][..], &["run", "--yes"]] {
        let mut args: Vec<&std::ffi::OsStr> = cmd.iter().map(|a| a.as_ref()).collect();
        args.push(file.as_os_str());
        let done = sb.run(&args);
        assert_eq!(done.code(), Some(2), "{done}");
        assert!(done.stderr.contains(&why), "expected {why:?} in:\n{done}");
        assert!(!done.stderr.contains("Injecting"), "{done}");
    }
    assert!(sb.run_dirs().is_empty(), "no run was even started");
    assert_eq!(moto.snapshot(), before, "nothing touched");
    assert_eq!(schedules(&moto, false), Vec::<Value>::new());

    // The group exists: the plan goes on and names it.
    moto.python_json(
        "import boto3\nboto3.client('scheduler', endpoint_url=ENDPOINT, region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing').create_schedule_group(Name='gamedays')\nprint('{}')",
    );
    let file = sb.write_scenario("dms-ok", &scenario("5s").replace("grace: 10m", "grace: 10m\n    group: gamedays"));
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(0), "{plan}");
    assert!(plan.stdout.contains("group gamedays) makes these calls, from the fault's planned end + 10m"), "{plan}");
    // The detached volume's call names its instance and device, as resolved.
    let attach = plan.stdout.lines().find(|l| l.contains("ec2:attachVolume")).unwrap_or_else(|| panic!("{plan}"));
    assert!(
        !attach.contains('<') && attach.contains("\"InstanceId\":\"i-") && attach.contains("\"Device\":\"/dev/"),
        "{attach}"
    );
}
