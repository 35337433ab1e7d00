//! `firedrill recover --sweep`: a run dies mid-fault and its whole state directory is
//! deleted (a CI runner gone with its workspace); the sweep finds every change by the undo
//! tags on the resources, restores moto exactly as it was before the run (tags included:
//! leases and undo tags are gone too), and a second sweep finds nothing. What lacks the
//! opt-in tag, or is in another region, is never touched; a wrong account is refused.

use std::time::{Duration, Instant};

use crate::support::moto::{Moto, shop_scenario};
use crate::support::{Sandbox, read_journal, wait_until};

/// Every AWS fault kind that leaves undo tags, on the seeded shop.
fn scenario() -> String {
    shop_scenario("lost")
        + r#"  data:
    type: ec2:volume
    tags: { role: data }
    filters: { availability_zone: us-east-1a }
  role:
    type: iam:role
    tags: { app: shop }
steady_state:
  - name: ok
    command: { run: "true" }
    every: 100ms
faults:
  - name: zone
    duration: 10m
    az_outage: { zone: us-east-1a, targets: [subnets, web, asg], network: true, stop_instances: true, asg: remove_zone }
  - name: disk
    duration: 10m
    ebs_detach_volumes: { target: data }
  - name: creds
    duration: 10m
    iam_revoke_credentials: { target: role }
  - name: mail
    duration: 10m
    service_outage: { target: role, actions: ["ses:SendEmail"] }
  - name: east
    duration: 10m
    region_outage: { target: role, region: us-east-1, except: ["sns:Publish"] }
recovery:
  objective: sustain
  stable_for: 100ms
  settle_timeout: 10s
"#
}

const ACCOUNT: &str = "123456789012";

fn sweep(sb: &Sandbox, extra: &[&str]) -> crate::support::Finished {
    let mut args = vec!["recover", "--sweep", "--account", ACCOUNT, "--opt-in-tag", "firedrill=allowed"];
    args.extend_from_slice(extra);
    sb.run(&args)
}

/// The user story: every fault injected, the run SIGKILLed, its state directory deleted.
#[test]
fn sweep_restores_a_lost_run_exactly_from_the_undo_tags_alone() {
    let moto = Moto::start();
    moto.seed(&["--instances", "12"]);
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let file = sb.write_scenario("lost", &scenario());
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    plan.assert_exit(0);
    assert!(plan.stdout.contains("with how to undo it (firedrill:undo:*, docs/tags.md)"), "{plan}");
    let mut running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    // Each of the five faults journals `done` once all its side effects are made.
    wait_until("every fault injected", Duration::from_secs(60), || {
        sb.run_dirs().first().is_some_and(|d| read_journal(d).iter().filter(|e| e["event"] == "done").count() >= 5)
    });
    let run_id = sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    running.kill();
    let killed = Instant::now();
    assert_eq!(running.wait().code(), None, "killed by SIGKILL");
    std::fs::remove_dir_all(sb.state_dir()).unwrap();

    let injected = moto.snapshot();
    assert_ne!(injected["nacl_of_subnet"], before["nacl_of_subnet"]);
    assert_ne!(injected["asg_subnets"], before["asg_subnets"]);
    assert_ne!(injected["volumes"], before["volumes"]);
    assert_ne!(injected["role_policies"], before["role_policies"]);
    let stopped = injected["instances"].as_object().unwrap().values().filter(|s| *s == "stopped").count();
    assert!(stopped >= 4, "{injected:#}");
    // Each change names its run on the resource.
    let tags = injected["tags"].to_string();
    for key in [
        "firedrill:undo:start=",
        "firedrill:undo:attach=",
        "firedrill:undo:subnets:1=",
        "firedrill:undo:revoke=",
        "firedrill:undo:deny:mail=",
        "firedrill:undo:deny:east=",
    ] {
        assert!(tags.contains(&format!("{key}{run_id}")) || tags.contains(key), "{key} missing: {tags}");
    }
    assert!(tags.contains(&format!("firedrill:undo:start={run_id}")), "{tags}");

    // Off a terminal without --yes: shown, nothing done, exit 2.
    let asked = sweep(&sb, &[&run_id]);
    asked.assert_exit(2);
    assert!(asked.stdout.contains(&format!("run {run_id}:")), "{asked}");
    assert!(asked.stderr.contains("pass --yes"), "{asked}");
    assert_eq!(moto.snapshot(), injected, "nothing may change without consent");

    let swept = sweep(&sb, &[&run_id, "--yes"]);
    let took = killed.elapsed();
    swept.assert_exit(0);
    assert!(swept.stderr.contains("nothing left injected"), "{swept}");
    eprintln!("sweep: from SIGKILL to fully restored via `recover --sweep`: {took:?}");
    assert_eq!(moto.snapshot(), before, "moto after the sweep differs from before the run");

    // A second sweep, over every run whatever its age, finds nothing and says so.
    let again = sweep(&sb, &["--yes", "--min-age", "0s"]);
    again.assert_exit(0);
    assert!(again.stderr.contains("nothing left injected"), "{again}");
    assert!(!again.stderr.contains("Reverted"), "{again}");
    assert_eq!(moto.snapshot(), before);
}

/// A FIS experiment a lost run left running is found by its run and fault tags and
/// stopped; one of another run, or not started by firedrill, is left alone.
#[test]
fn sweep_stops_a_lost_runs_fis_experiment_and_no_other() {
    use crate::aws::{ENDED, fis_experiments, fis_scenario, fis_template};
    let moto = Moto::start();
    let template = fis_template(&moto, "{'firedrill': 'allowed'}");
    // An experiment someone started by hand.
    moto.python_json(&format!(
        "import boto3, json\nfis = boto3.client('fis', region_name='us-east-1', endpoint_url=ENDPOINT, \
         aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         fis.start_experiment(clientToken='theirs', experimentTemplateId='{template}', tags={{'team': 'ops'}})\nprint(1)"
    ));
    let sb = moto.sandbox();
    let file = sb.write_scenario("fis", &fis_scenario(&template, "10m"));
    let mut running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    sb.wait_for_journal("done", Duration::from_secs(60));
    let run_id = sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    running.kill();
    assert_eq!(running.wait().code(), None, "killed by SIGKILL");
    std::fs::remove_dir_all(sb.state_dir()).unwrap();
    let live = |xs: &[(String, serde_json::Value)]| xs.iter().filter(|x| !ENDED.contains(&x.0.as_str())).count();
    assert_eq!(live(&fis_experiments(&moto, &template)), 2);

    let swept = sweep(&sb, &[&run_id, "--yes"]);
    swept.assert_exit(0);
    let after = fis_experiments(&moto, &template);
    for (status, tags) in &after {
        let ours = tags["firedrill:run"] == serde_json::json!(run_id);
        assert_eq!(ENDED.contains(&status.as_str()), ours, "{after:?}");
    }
    assert_eq!(live(&after), 1, "theirs runs on: {after:?}");
}

/// A lost run's inline FIS experiment is stopped and the template it was created from
/// deleted, found by their run and fault tags with the state directory gone; a second
/// sweep finds nothing.
#[test]
fn sweep_stops_a_lost_runs_inline_fis_experiment_and_deletes_its_template() {
    use crate::aws::{ENDED, all_fis_experiments, fis_templates, inline_fis_scenario};
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let sb = moto.sandbox();
    let file = sb.write_scenario("fis", &inline_fis_scenario("{ app: shop, role: data }", "10m"));
    let mut running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    sb.wait_for_journal("done", Duration::from_secs(60));
    let run_id = sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    running.kill();
    assert_eq!(running.wait().code(), None, "killed by SIGKILL");
    std::fs::remove_dir_all(sb.state_dir()).unwrap();
    assert_eq!(fis_templates(&moto).len(), 1);

    let swept = sweep(&sb, &[&run_id, "--yes"]);
    swept.assert_exit(0);
    assert_eq!(fis_templates(&moto), Vec::<serde_json::Value>::new(), "the sweep deleted the template");
    let after = all_fis_experiments(&moto);
    assert!(after.len() == 1 && ENDED.contains(&after[0].1.as_str()), "the sweep stopped it: {after:?}");
    assert_eq!(moto.snapshot(), before, "leases released too");
    let again = sweep(&sb, &[&run_id, "--yes"]);
    again.assert_exit(0);
    assert_eq!(moto.snapshot(), before);
}

/// An instance carrying an undo tag but not the opt-in tag, one whose undo tag cannot be
/// read, and one in another region, stay as they are; a sweep declared for another account than the credentials' is
/// refused before anything is read.
#[test]
fn sweep_touches_nothing_without_the_opt_in_tag_nor_in_another_region() {
    let moto = Moto::start();
    let run = "20260101T000000Z-gone-0001";
    moto.boto(&format!(
        "def stopped(client, tags):\n\
         \x20   i = client.run_instances(ImageId='ami-12c6146b', MinCount=1, MaxCount=1, TagSpecifications=[{{'ResourceType': 'instance', 'Tags': tags}}])['Instances'][0]['InstanceId']\n\
         \x20   client.stop_instances(InstanceIds=[i])\n\
         \x20   return i\n\
         undo = {{'Key': 'firedrill:undo:start', 'Value': '{run}'}}\n\
         stopped(ec2, [undo])\n\
         stopped(ec2, [{{'Key': 'firedrill:undo:start', 'Value': 'not a run!'}}, {{'Key': 'firedrill', 'Value': 'allowed'}}])\n\
         west = boto3.client('ec2', **dict(kw, region_name='us-west-2'))\n\
         stopped(west, [undo, {{'Key': 'firedrill', 'Value': 'allowed'}}])\n"
    ));
    let before = moto.snapshot();
    let west_before = west_instances(&moto);
    let sb = moto.sandbox();

    let wrong =
        sb.run(&["recover", "--sweep", "--account", "000000000000", "--opt-in-tag", "firedrill=allowed", "--yes"]);
    wrong.assert_exit(7);
    assert!(wrong.stderr.contains("not the declared --account 000000000000"), "{wrong}");

    let swept = sweep(&sb, &["--yes"]);
    // The run is older than --min-age: it is chosen, and its instance refused.
    swept.assert_exit(5);
    assert!(swept.stderr.contains("lacks the opt-in tag firedrill=allowed"), "{swept}");
    assert!(!swept.stderr.contains("nothing left injected"), "{swept}");
    // An undo tag that cannot be read is named with its resource, and left alone.
    assert!(swept.stderr.contains("tag firedrill:undo:start: \"not a run!\" does not start with a run id"), "{swept}");
    assert_eq!(moto.snapshot(), before, "the untagged instance was touched");
    assert_eq!(west_instances(&moto), west_before, "another region was touched");
    assert!(west_before.contains("stopped") && west_before.contains("firedrill:undo:start"), "{west_before}");
}

fn west_instances(moto: &Moto) -> String {
    moto.python_json(
        "import boto3, json\n\
         ec2 = boto3.client('ec2', region_name='us-west-2', endpoint_url=ENDPOINT, aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         out = [(i['InstanceId'], i['State']['Name'], sorted(t['Key'] for t in i.get('Tags', [])))\n\
                for r in ec2.describe_instances()['Reservations'] for i in r['Instances']]\n\
         print(json.dumps(out))\n",
    )
    .to_string()
}
