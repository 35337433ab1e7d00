//! `network_blackhole` against a real moto server: during the fault each targeted subnet
//! uses firedrill's clone of its network ACL, holding deny entries for every destination
//! (the CIDRs and the prefix list's entries, in and out) in front of the original's rules;
//! after the revert each subnet is on exactly its original ACL again and the clone is
//! gone. A revert that finds a subnet already back is fine; SIGKILL then `recover`, and
//! `recover --sweep` with the state deleted, restore the same. Bad destinations are
//! validation errors at their FILE:LINE:COL.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::moto::Moto;
use crate::support::{Sandbox, read_journal, read_report, wait_until};

const WAIT: Duration = Duration::from_secs(60);

/// A scenario with one `network_blackhole` fault on the subnets tagged `app: shop`.
fn scenario(fault: &str, duration: &str, extra: &str) -> String {
    format!(
        r#"version: 1
name: blackhole
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
{extra}targets:
  subnets:
    type: ec2:subnet
    tags: {{ app: shop }}
steady_state:
  - name: ok
    command: {{ run: "true" }}
    every: 100ms
faults:
  - name: partner-down
    duration: {duration}
    network_blackhole: {fault}
recovery:
  objective: sustain
  stable_for: 200ms
  settle_timeout: 30s
"#
    )
}

/// A customer-managed prefix list (a partner's ranges); returns its id.
fn prefix_list(moto: &Moto) -> String {
    moto.python_json(
        r#"
import boto3, json
ec2 = boto3.client('ec2', region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='x', aws_secret_access_key='x')
pl = ec2.create_managed_prefix_list(PrefixListName='partner', AddressFamily='IPv4', MaxEntries=5,
    Entries=[{'Cidr': '198.51.100.0/24'}, {'Cidr': '192.0.2.0/25'}])['PrefixList']
print(json.dumps(pl['PrefixListId']))
"#,
    )
    .as_str()
    .unwrap()
    .to_string()
}

/// Each seeded subnet's network ACL: its id, tags and rules (`out|in rule action cidr`, in rule
/// order; the implicit `*` rule left out, as moto lists it only on default ACLs).
fn acls(moto: &Moto, seed: &Value) -> Value {
    let subnets: Vec<&Value> = seed["subnets"].as_object().unwrap().values().collect();
    moto.python_json(&format!(
        r#"
import boto3, json
subnets = {}
ec2 = boto3.client('ec2', region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='x', aws_secret_access_key='x')
out = {{}}
for acl in ec2.describe_network_acls()['NetworkAcls']:
    rules = sorted((e['Egress'], e['RuleNumber'], e['RuleAction'], e.get('CidrBlock') or e.get('Ipv6CidrBlock'))
                   for e in acl['Entries'] if e['RuleNumber'] < 32767)
    rules = [f"{{'out' if eg else 'in'}} {{n}} {{a}} {{c}}" for eg, n, a, c in sorted(rules, key=lambda r: (not r[0], r[1]))]
    for a in acl['Associations']:
        if a['SubnetId'] not in subnets:
            continue
        out[a['SubnetId']] = {{'acl': acl['NetworkAclId'], 'rules': rules,
                              'tags': {{t['Key']: t['Value'] for t in acl.get('Tags', [])}}}}
print(json.dumps(out))
"#,
        json!(subnets)
    ))
}

fn start(moto: &Moto, yaml: &str) -> (Sandbox, crate::support::Running) {
    let sb = moto.sandbox();
    let file = sb.write_scenario("s", yaml);
    let running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    (sb, running)
}

const DENIED: [&str; 4] = ["203.0.113.0/24", "2001:db8::/32", "198.51.100.0/24", "192.0.2.0/25"];

/// During the fault: every subnet uses one clone (they shared one original ACL) whose
/// rules are the deny entries, then the original's; the clone names each subnet's
/// original ACL in its undo tags.
fn assert_blackholed(during: &Value, before: &Value, run: &str) {
    let subnets: Vec<&String> = before.as_object().unwrap().keys().collect();
    assert_eq!(subnets.len(), 3, "{before}");
    let original = before[subnets[0]]["acl"].as_str().unwrap();
    let clone = during[subnets[0]]["acl"].as_str().unwrap();
    assert_ne!(clone, original, "the subnet uses firedrill's clone: {during:#}");
    let mut expected = Vec::new();
    for dir in ["out", "in"] {
        expected.extend(DENIED.iter().enumerate().map(|(i, c)| format!("{dir} {} deny {c}", i + 1)));
        let theirs = before[subnets[0]]["rules"].as_array().unwrap();
        assert!(!theirs.is_empty(), "the seeded ACL has rules of its own: {before:#}");
        expected.extend(theirs.iter().map(|r| r.as_str().unwrap().to_string()).filter(|r| r.starts_with(dir)));
    }
    for s in &subnets {
        assert_eq!(before[*s]["acl"], original, "the seeded subnets share the VPC's default ACL");
        let d = &during[*s];
        assert_eq!(d["acl"], clone, "one clone per original ACL: {during:#}");
        assert_eq!(d["rules"], json!(expected), "deny entries in front of the original rules");
        assert_eq!(d["tags"][format!("firedrill:undo:acl:{s}")], json!(format!("{run}:{original}")), "{d}");
        assert_eq!(d["tags"]["firedrill:blackhole"], json!(format!("{run}/partner-down/{original}")), "{d}");
        assert_eq!(d["tags"]["firedrill:run"], json!(run), "{d}");
    }
}

#[test]
fn the_subnets_use_a_clone_with_deny_entries_and_get_exactly_their_acl_back() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let pl = prefix_list(&moto);
    let before = moto.snapshot();
    let acls_before = acls(&moto, &seed);
    let fault = format!("{{ target: subnets, cidrs: [203.0.113.0/24, \"2001:db8::/32\"], prefix_list_id: {pl} }}");
    let yaml = scenario(&fault, "10s", "");

    // The plan says what is cut, how, and how it is undone.
    let sb = moto.sandbox();
    let file = sb.write_scenario("plan", &yaml);
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    plan.assert_exit(0);
    assert!(
        plan.stdout.contains(&format!(
            "lose 203.0.113.0/24, 2001:db8::/32, the entries of prefix list {pl} (read at injection) in and out"
        )),
        "{plan}"
    );
    assert!(plan.stdout.contains("revert: point each subnet back at its original network ACL"), "{plan}");
    let json = sb.run(&["plan".as_ref(), "--format".as_ref(), "json".as_ref(), file.as_os_str()]);
    json.assert_exit(0);
    let p: Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(p.to_string().contains("ec2:CreateNetworkAclEntry"), "the plan's IAM actions: {p:#}");
    assert!(p.to_string().contains("lose 203.0.113.0/24"), "{p:#}");

    let (sb, running) = start(&moto, &yaml);
    sb.wait_for_journal("done", WAIT);
    let run = sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    let during = acls(&moto, &seed);
    let done = running.wait();
    assert_eq!(done.code(), Some(0), "{done}");
    assert_blackholed(&during, &acls_before, &run);
    assert_eq!(read_report(&sb.only_run_dir())["outcome"], "passed");
    assert_eq!(moto.snapshot(), before, "associations exactly as before, the clone deleted, no tag left");
    assert_eq!(acls(&moto, &seed), acls_before, "the original ACL's rules are untouched");

    // Journaled before it happened: the clone's deletion, then each subnet's way back.
    let journal = read_journal(&sb.only_run_dir());
    let kinds: Vec<&str> = journal
        .iter()
        .filter(|e| e["event"] == "intent" && e["fault"] == "partner-down")
        .map(|e| e["undo"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["ec2_delete_network_acl", "ec2_restore_network_acl", "ec2_restore_network_acl", "ec2_restore_network_acl"]
    );
}

/// The revert tolerates a subnet already back on its original ACL (someone restored it,
/// or an earlier revert attempt did): it is left as it is, and the clone still goes.
#[test]
fn a_revert_that_finds_a_subnet_already_restored_finishes_the_job() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let before = moto.snapshot();
    let subnet = seed["subnets"]["us-east-1a"].as_str().unwrap().to_string();
    let original = seed["nacls"][&subnet].as_str().unwrap().to_string();
    let (sb, running) = start(&moto, &scenario("{ target: subnets, cidrs: [203.0.113.0/24] }", "10s", ""));
    sb.wait_for_journal("done", WAIT);
    moto.boto(&format!(
        "a = [x for acl in ec2.describe_network_acls()['NetworkAcls'] for x in acl['Associations'] if x['SubnetId'] == '{subnet}'][0]\n\
         ec2.replace_network_acl_association(AssociationId=a['NetworkAclAssociationId'], NetworkAclId='{original}')"
    ));
    let done = running.wait();
    assert_eq!(done.code(), Some(0), "{done}");
    assert_eq!(moto.snapshot(), before);
}

#[test]
fn sigkill_mid_blackhole_then_recover_restores_and_a_second_recover_changes_nothing() {
    let moto = Moto::start();
    moto.seed(&[]);
    let pl = prefix_list(&moto);
    let before = moto.snapshot();
    let (sb, mut running) = start(&moto, &scenario(&format!("{{ target: subnets, prefix_list_id: {pl} }}"), "5m", ""));
    sb.wait_for_journal("done", WAIT);
    running.kill();
    let _ = running.wait();
    let injected = moto.snapshot();
    assert_ne!(injected["nacl_of_subnet"], before["nacl_of_subnet"], "the fault is still in place after SIGKILL");
    assert_eq!(injected["firedrill_nacls"].as_array().unwrap().len(), 1, "{injected:#}");
    let rec = sb.run(&["recover"]);
    assert_eq!(rec.code(), Some(0), "{rec}");
    assert_eq!(moto.snapshot(), before, "recover put every association back and deleted the clone");
    let again = sb.run(&["recover"]);
    assert_eq!(again.code(), Some(0), "{again}");
    assert_eq!(moto.snapshot(), before);
}

#[test]
fn sweep_restores_a_lost_blackhole_from_the_clones_tags_alone() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let (sb, mut running) =
        start(&moto, &scenario("{ target: subnets, cidrs: [203.0.113.0/24, 198.51.100.7/32] }", "10m", ""));
    wait_until("the fault injected", WAIT, || {
        sb.run_dirs().first().is_some_and(|d| read_journal(d).iter().any(|e| e["event"] == "done"))
    });
    let run = sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned();
    running.kill();
    let _ = running.wait();
    std::fs::remove_dir_all(sb.state_dir()).unwrap();
    assert_ne!(moto.snapshot()["nacl_of_subnet"], before["nacl_of_subnet"]);
    let args = ["recover", "--sweep", "--account", "123456789012", "--opt-in-tag", "firedrill=allowed", "--yes"];
    let swept = sb.run(&[&args[..], &[run.as_str()]].concat());
    swept.assert_exit(0);
    assert!(swept.stderr.contains("clone of a network ACL"), "{swept}");
    assert_eq!(moto.snapshot(), before, "the sweep restored every association and deleted the clone");
    let again = sb.run(&[&args[..], &["--min-age", "0s"]].concat());
    again.assert_exit(0);
    assert!(again.stderr.contains("nothing left injected"), "{again}");
    assert_eq!(moto.snapshot(), before);
}

/// Nothing selected: the fault would change nothing, so it is refused (or skipped with
/// `if_no_effect: skip`); a prefix list without entries is refused before anything is
/// touched. The dead man's switch covers each subnet's way back.
#[test]
fn nothing_to_blackhole_is_refused_and_the_switch_covers_the_associations() {
    let moto = Moto::start();
    moto.seed(&[]);
    let sb = moto.sandbox();
    let none = scenario("{ target: subnets, cidrs: [203.0.113.0/24] }", "1s", "")
        .replace("tags: { app: shop }", "tags: { app: nothing }\n    on_empty: skip");
    let file = sb.write_scenario("none", &none);
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    plan.assert_exit(7);
    assert!(
        plan.stdout.contains("selected no subnet: nothing to blackhole")
            || plan.stderr.contains("selected no subnet: nothing to blackhole"),
        "{plan}"
    );

    // A prefix list without entries: refused at plan, untouched.
    let empty = moto.python_json(
        r#"
import boto3, json
ec2 = boto3.client('ec2', region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='x', aws_secret_access_key='x')
print(json.dumps(ec2.create_managed_prefix_list(PrefixListName='none', AddressFamily='IPv4', MaxEntries=5)['PrefixList']['PrefixListId']))
"#,
    );
    let before = moto.snapshot();
    let file = sb.write_scenario(
        "empty-pl",
        &scenario(&format!("{{ target: subnets, prefix_list_id: {} }}", empty.as_str().unwrap()), "5s", ""),
    );
    let out = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    out.assert_exit(7);
    assert!(format!("{}{}", out.stdout, out.stderr).contains("has no entries, or does not exist"), "{out}");
    assert_eq!(moto.snapshot(), before, "nothing touched");

    let dms =
        "safety:\n  dead_mans_switch: { role_arn: \"arn:aws:iam::123456789012:role/firedrill-dms\", grace: 10m }\n";
    let file = sb.write_scenario("dms", &scenario("{ target: subnets, cidrs: [203.0.113.0/24] }", "1m", dms));
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    plan.assert_exit(0);
    assert_eq!(plan.stdout.matches("ec2:replaceNetworkAclAssociation").count(), 3, "one call per subnet: {plan}");
    assert!(plan.stdout.contains("not covered: deleting firedrill's clone"), "{plan}");
}

#[test]
fn bad_destinations_are_errors_at_their_line_and_column() {
    let sb = Sandbox::new();
    let yaml = scenario(
        "\n      target: subnets\n      cidrs: [203.0.113.0/24, 10.1.2.3/16, 10.0.0.1]\n      prefix_list_id: pl-XYZ",
        "1s",
        "",
    );
    let file = sb.write_scenario("bad", &yaml);
    let out = sb.run(&["validate".as_ref(), file.as_os_str()]);
    out.assert_exit(2);
    let line = yaml.lines().position(|l| l.contains("cidrs:")).unwrap() + 1;
    for (col, field, says) in [
        (31, "cidrs[1]", "did you mean `10.1.0.0/16`?"),
        (44, "cidrs[2]", "write `10.0.0.1/32`"),
        (0, "prefix_list_id", "is not a managed prefix list id"),
    ] {
        let at = if col == 0 {
            format!("bad.yaml:{}:23: faults[0].network_blackhole.{field}: ", line + 1)
        } else {
            format!("bad.yaml:{line}:{col}: faults[0].network_blackhole.{field}: ")
        };
        let l = out.stderr.lines().find(|l| l.contains(&at)).unwrap_or_else(|| panic!("no {at:?}\n{out}"));
        assert!(l.contains(says), "{l}");
    }
    let empty = scenario("{ target: subnets, cidrs: [] }", "1s", "");
    let file = sb.write_scenario("empty", &empty);
    let out = sb.run(&["validate".as_ref(), file.as_os_str()]);
    out.assert_exit(2);
    assert!(out.stderr.contains("faults[0].network_blackhole.cidrs: an empty list"), "{out}");
    let nothing = scenario("{ target: subnets }", "1s", "");
    let file = sb.write_scenario("nothing", &nothing);
    let out = sb.run(&["validate".as_ref(), file.as_os_str()]);
    out.assert_exit(2);
    assert!(out.stderr.contains("network_blackhole denies nothing"), "{out}");
}

/// A clone that would not fit the network ACL's rule limit — the original's rules and a
/// deny entry per destination (the CIDRs and the prefix list's entries), per direction —
/// or whose rules have no number free in front of the original's, is refused by `plan`
/// (exit 7) and by `run` before anything is touched; a prefix list that does not exist is
/// an input error at its position (exit 2). `acl_rule_limit` says the quota was raised.
#[test]
fn a_clone_that_would_not_fit_is_refused_at_plan_with_nothing_touched() {
    let moto = Moto::start();
    let seed = moto.seed(&[]);
    let pl = prefix_list(&moto);
    let subnet = seed["subnets"]["us-east-1a"].as_str().unwrap().to_string();
    let acl = seed["nacls"][&subnet].as_str().unwrap().to_string();
    // The shared original ACL holds 1 outbound and, with these, 17 inbound rules.
    moto.boto(&format!(
        "for n in range(1, 17):\n    ec2.create_network_acl_entry(NetworkAclId='{acl}', RuleNumber=1000 + n, Protocol='6', \
         RuleAction='allow', Egress=False, CidrBlock='10.{{}}.0.0/16'.format(n), PortRange={{'From': 443, 'To': 443}})"
    ));
    let before = moto.snapshot();
    let acls_before = acls(&moto, &seed);
    let sb = moto.sandbox();
    let plan = |name: &str, fault: &str| {
        let file = sb.write_scenario(name, &scenario(fault, "10s", ""));
        sb.run(&["plan".as_ref(), file.as_os_str()])
    };

    // 17 inbound rules + 3 CIDRs = 20: fits. + 2 prefix list entries = 22: does not.
    plan("fits", "{ target: subnets, cidrs: [203.0.113.0/24, 198.51.100.0/24, 192.0.2.0/24] }").assert_exit(0);
    let out = plan(
        "over",
        &format!(
            "{{ target: subnets, cidrs: [203.0.113.0/24, 198.51.100.0/26, 192.0.2.128/25], prefix_list_id: {pl} }}"
        ),
    );
    out.assert_exit(7);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains(&format!("network ACL {acl} cannot be cloned")), "{out}");
    assert!(text.contains("its 17 inbound rules and 5 deny entries make 22, more than the 20"), "{out}");
    // The quota raised to 40: the same fault fits.
    let raised = format!(
        "{{ target: subnets, cidrs: [203.0.113.0/24, 198.51.100.0/26, 192.0.2.128/25], prefix_list_id: {pl}, acl_rule_limit: 40 }}"
    );
    plan("raised", &raised).assert_exit(0);

    // `run` refuses the same, before anything is touched.
    let file = sb.write_scenario(
        "run-over",
        &scenario(
            &format!(
                "{{ target: subnets, cidrs: [203.0.113.0/24, 198.51.100.0/26, 192.0.2.128/25], prefix_list_id: {pl} }}"
            ),
            "10s",
            "",
        ),
    );
    let run = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    run.assert_exit(7);
    assert_eq!(moto.snapshot(), before, "nothing touched");
    assert_eq!(acls(&moto, &seed), acls_before);

    // No rule number free in front of the original's: an outbound rule at 1 and one at the top.
    moto.boto(&format!(
        "ec2.create_network_acl_entry(NetworkAclId='{acl}', RuleNumber=1, Protocol='-1', RuleAction='allow', Egress=True, CidrBlock='10.0.0.0/8')\n\
         ec2.create_network_acl_entry(NetworkAclId='{acl}', RuleNumber=32766, Protocol='-1', RuleAction='allow', Egress=True, CidrBlock='10.9.0.0/16')"
    ));
    let out = plan("numbers", "{ target: subnets, cidrs: [203.0.113.0/24] }");
    out.assert_exit(7);
    assert!(format!("{}{}", out.stdout, out.stderr).contains("no room for 1 deny entries"), "{out}");

    // A prefix list that does not exist: an error in the scenario, at its position.
    let yaml = scenario("\n      target: subnets\n      prefix_list_id: pl-0123456789abcdef0", "10s", "");
    let file = sb.write_scenario("nopl", &yaml);
    let out = sb.run(&["plan".as_ref(), file.as_os_str()]);
    out.assert_exit(2);
    let line = yaml.lines().position(|l| l.contains("prefix_list_id:")).unwrap() + 1;
    let at = format!(
        "nopl.yaml:{line}:23: faults[0].network_blackhole.prefix_list_id: managed prefix list `pl-0123456789abcdef0` does not exist"
    );
    assert!(out.stderr.contains(&at), "{at}\n{out}");
}
