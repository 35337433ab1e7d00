//! `firedrill iam-policy` through an outside IAM linter: parliament, pinned in `requirements-test.txt`
//! and installed into the test venv, over the policy of every shipped AWS scenario and of
//! a scenario with every fault and probe kind (in three partitions, two accounts). No
//! finding at MEDIUM or above; every lower one, and every `Resource: *`, listed with its
//! reason in docs/iam-policy.md.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::Sandbox;
use crate::support::moto::venv;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every fault kind (each IAM one on a named and a tag-selected principal, RDS failover
/// on a cluster and an instance) and every probe kind, plus an alarm abort rule and a
/// `pages` watch, and the dead man's switch.
const EVERY_KIND: &str = r#"version: 1
name: every-kind
environment:
  region: REGION
  accounts: ["123456789012", "210987654321"]
  opt_in_tag: { key: firedrill, value: allowed }
safety:
  dead_mans_switch: { role_arn: "arn:PARTITION:iam::123456789012:role/firedrill-dms", grace: 10m, group: gamedays }
targets:
  web: { type: ec2:instance, tags: { app: shop } }
  named-web: { type: ec2:instance, ids: [i-0123456789abcdef0] }
  doomed: { type: ec2:instance, tags: { app: doomed } }
  data: { type: ec2:volume, tags: { role: data } }
  subnets: { type: ec2:subnet, tags: { app: shop } }
  web-asg: { type: autoscaling:group, ids: [shop-web] }
  any-asg: { type: autoscaling:group, tags: { app: shop } }
  db: { type: rds:cluster, ids: [shop-db] }
  any-db: { type: rds:cluster, tags: { app: shop } }
  single-db: { type: rds:instance, tags: { app: shop } }
  app-role: { type: iam:role, ids: [shop-app] }
  any-role: { type: iam:role, tags: { app: shop } }
  deployer: { type: iam:user, ids: [shop-deployer] }
  any-user: { type: iam:user, tags: { app: shop } }
steady_state:
  - name: web
    http: { url: "http://127.0.0.1:1/health" }
    every: 1s
  - name: port
    tcp: { address: "127.0.0.1:1" }
    every: 1s
  - name: cmd
    command: { run: "true" }
    every: 1s
  - name: alarm
    cloudwatch_alarm: { alarm: shop-5xx }
    every: 1s
  - name: capacity
    asg_capacity: { group: shop-web, min_healthy: 1 }
    every: 1s
  - name: running
    ec2_running: { tags: { app: shop }, min: 1 }
    every: 1s
  - name: db
    rds_status: { cluster: shop-db }
    every: 1s
faults:
  - name: cmd
    command: { inject: "true", revert: "true" }
    duration: 1s
  - name: stop
    ec2_stop_instances: { target: named-web }
    duration: 1s
  - name: reboot
    ec2_reboot_instances: { target: web }
    duration: 1s
  - name: terminate
    ec2_terminate_instances: { target: doomed, irreversible: true }
    duration: 1s
  - name: detach
    ebs_detach_volumes: { target: data }
    duration: 1s
  - name: failover
    rds_failover: { target: db }
    duration: 1s
  - name: failover-instance
    rds_failover: { target: single-db }
    duration: 1s
  - name: revoke-role
    iam_revoke_credentials: { target: app-role }
    duration: 1s
  - name: revoke-any-role
    iam_revoke_credentials: { target: any-role }
    duration: 1s
  - name: revoke-user
    iam_revoke_credentials: { target: deployer }
    duration: 1s
  - name: revoke-any-user
    iam_revoke_credentials: { target: any-user }
    duration: 1s
  - name: ses-down
    service_outage: { target: app-role, actions: ["ses:SendEmail", "ses:SendRawEmail"], regions: [REGION] }
    duration: 1s
  - name: region-down
    region_outage: { target: any-role, region: REGION, except: ["sns:Publish"] }
    duration: 1s
  - name: fis
    fis_experiment: { template_id: EXT1a2b3c4d5e6f7 }
    duration: 1s
  - name: fis-inline
    fis_experiment:
      role_arn: "arn:PARTITION:iam::123456789012:role/firedrill-fis"
      actions:
        pause: { actionId: "aws:ebs:pause-volume-io", parameters: { duration: PT1M }, targets: { Volumes: vols } }
        capacity: { actionId: "aws:ec2:asg-insufficient-instance-capacity-error", targets: { AutoScalingGroups: groups },
                    parameters: { duration: PT1M, availabilityZoneIdentifiers: REGIONa, percentage: "100" } }
      targets:
        vols: { resourceType: "aws:ec2:ebs-volume", resourceTags: { role: data } }
        groups: { resourceType: "aws:ec2:autoscaling-group", resourceTags: { app: shop } }
    duration: 1s
  - name: blackhole
    network_blackhole: { target: subnets, cidrs: ["203.0.113.0/24"], prefix_list_id: pl-63a5400a }
    duration: 1s
  - name: zone
    az_outage: { zone: REGIONa, targets: [subnets, web, web-asg, any-asg, any-db], network: true, stop_instances: true, asg: remove_zone, rds: failover }
    duration: 1s
abort:
  - alarm: shop-latency
  - max_duration: 5m
recovery: { within: 1m }
pages: { alarms: [shop-pager], max_pages: 0 }
"#;

/// `(name, policy)` for every shipped scenario with an `environment`, and for
/// [`EVERY_KIND`] in one region of each of the `aws`, `aws-cn` and `aws-us-gov`
/// partitions.
fn policies() -> Vec<(String, Value)> {
    let sb = Sandbox::new();
    let print = |file: &Path| -> Value {
        let done = sb.run(&["iam-policy".as_ref(), file.as_os_str()]);
        assert_eq!(done.code(), Some(0), "{}: {done}", file.display());
        serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("iam-policy printed no JSON ({e}): {done}"))
    };
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in files {
        if std::fs::read_to_string(&file).unwrap().lines().any(|l| l.starts_with("environment:")) {
            out.push((file.file_name().unwrap().to_string_lossy().into_owned(), print(&file)));
        }
    }
    assert!(out.len() >= 4, "the shipped AWS scenarios: {:?}", out.iter().map(|(n, _)| n).collect::<Vec<_>>());
    // The merged policy of them all (one CI role that runs every shipped scenario).
    let aws: Vec<PathBuf> = out.iter().map(|(n, _)| root().join("scenarios").join(n)).collect();
    let mut args: Vec<&std::ffi::OsStr> = vec!["iam-policy".as_ref()];
    args.extend(aws.iter().map(|f| f.as_os_str()));
    let merged = sb.run(&args);
    assert_eq!(merged.code(), Some(0), "{merged}");
    let merged: Value = serde_json::from_str(&merged.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {merged}"));
    out.push(("every shipped scenario, merged".into(), merged));
    for (region, partition) in [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")] {
        let yaml = EVERY_KIND.replace("REGION", region).replace("PARTITION", partition);
        let file = sb.write_scenario(&format!("every-kind-{region}"), &yaml);
        out.push((format!("every-kind ({region})"), print(&file)));
        // The dead man's switch's own role.
        let done = sb.run(&["iam-policy".as_ref(), "--dead-mans-switch-role".as_ref(), file.as_os_str()]);
        assert_eq!(done.code(), Some(0), "{done}");
        let both: Value = serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {done}"));
        out.push((format!("every-kind dead man's switch role ({region})"), both["role_policy"].clone()));
    }
    // `pages` without `alarms`: every alarm with actions, read by name pattern `*`.
    let every_alarm =
        EVERY_KIND.replace("REGION", "us-east-1").replace("PARTITION", "aws").replace("alarms: [shop-pager], ", "");
    let file = sb.write_scenario("every-kind-every-alarm", &every_alarm);
    out.push(("every-kind (pages on every alarm)".into(), print(&file)));
    out
}

/// parliament's findings on `policy`, every severity (one JSON object a line).
fn parliament(policy: &Value) -> Vec<Value> {
    let python = venv().join("bin/python");
    let ok = Command::new(&python).args(["-c", "import parliament"]).output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "parliament is missing from {}: run `scripts/test` (or `scripts/setup-venv`), which installs requirements-test.txt",
        venv().display()
    );
    let mut child = Command::new(&python)
        .args(["-m", "parliament.cli", "--json", "--minimum_severity", "INFO"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run parliament");
    child.stdin.take().unwrap().write_all(policy.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // parliament exits 1 when it has findings, 0 without.
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && out.stderr.is_empty(),
        "parliament failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("parliament printed {l:?}: {e}")))
        .collect();
    assert_eq!(findings.is_empty(), out.status.code() == Some(0), "{stdout}");
    findings
}

/// The actions a finding is about: its `detail` as a list of actions (or of
/// `{action, …}`), or the `service:Action` words of a sentence.
fn actions_of(finding: &Value) -> Vec<String> {
    match &finding["detail"] {
        Value::Array(items) => {
            items.iter().filter_map(|i| i.as_str().or_else(|| i["action"].as_str())).map(str::to_string).collect()
        }
        Value::String(s) => s
            .split_whitespace()
            .filter(|w| w.contains(':') && !w.contains('/'))
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != ':').to_string())
            .collect(),
        _ => vec![],
    }
}

/// The rows of the table under the `## {heading}` section of docs/iam-policy.md, as
/// cells without backquotes.
fn doc_table(heading: &str) -> Vec<Vec<String>> {
    let doc = std::fs::read_to_string(root().join("docs/iam-policy.md")).unwrap();
    let start = doc.find(&format!("## {heading}\n")).unwrap_or_else(|| panic!("docs/iam-policy.md: no ## {heading}"));
    let section = &doc[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .skip(1) // the header
        .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().trim_matches('`').to_string()).collect())
        .collect()
}

#[test]
fn no_finding_at_medium_or_above_and_every_lower_one_documented() {
    let documented = doc_table("Checked by an IAM linter");
    for row in &documented {
        assert!(
            row.len() == 3 && row.iter().all(|c| !c.is_empty()),
            "docs/iam-policy.md: a finding without its reason: {row:?}"
        );
    }
    for (name, policy) in policies() {
        assert!(!policy["Statement"].as_array().unwrap().is_empty(), "{name}: an empty policy lints clean");
        for f in parliament(&policy) {
            let severity = f["severity"].as_str().unwrap_or_default();
            assert!(
                matches!(severity, "LOW" | "INFO"),
                "{name}: parliament finds {severity} {}: {f}\n{policy:#}",
                f["issue"]
            );
            let issue = f["issue"].as_str().unwrap_or_default();
            let actions = actions_of(&f);
            assert!(!actions.is_empty(), "{name}: a finding about no action: {f}");
            for a in actions {
                assert!(
                    documented.iter().any(|r| r[0] == issue && r[1] == a),
                    "{name}: {severity} {issue} on {a} is not listed in docs/iam-policy.md: {f}"
                );
            }
        }
    }
}

#[test]
fn every_resource_star_is_listed_here() {
    let documented = doc_table("Where `Resource` is `*`");
    let mut used = std::collections::BTreeSet::new();
    for (name, policy) in policies() {
        for st in policy["Statement"].as_array().unwrap() {
            if st["Resource"] != "*" && !st["Resource"].as_array().is_some_and(|r| r.contains(&json!("*"))) {
                continue;
            }
            for a in st["Action"].as_array().unwrap() {
                let a = a.as_str().unwrap();
                let row = documented.iter().find(|r| r[0] == a);
                assert!(
                    row.is_some_and(|r| r.len() == 2 && !r[1].is_empty()),
                    "{name}: {a} on Resource * without its reason in docs/iam-policy.md"
                );
                used.insert(a.to_string());
            }
        }
    }
    let listed: std::collections::BTreeSet<String> = documented.iter().map(|r| r[0].clone()).collect();
    assert_eq!(listed, used, "docs/iam-policy.md lists `*` for actions no policy grants on `*`");
}

/// The linter the tests rely on is the pinned one, and it does flag the two kinds of
/// problem these policies had: a condition key not documented for the action, and `*`
/// for an action with resource-level permissions.
#[test]
fn the_pinned_linter_flags_what_it_must() {
    let requirements = std::fs::read_to_string(root().join("requirements-test.txt")).unwrap();
    let pin = requirements
        .split("parliament==")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !(c.is_ascii_digit() || c == '.')).next())
        .expect("requirements-test.txt pins parliament==VERSION");
    let out = Command::new(venv().join("bin/python"))
        .args(["-c", "import importlib.metadata as m; print(m.version('parliament'))"])
        .output()
        .expect("python");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        pin,
        "the venv's parliament is not the one requirements-test.txt pins"
    );

    let bad = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Bad", "Effect": "Allow", "Action": ["iam:TagRole", "ec2:StopInstances"], "Resource": "*",
        "Condition": {"StringEquals": {"iam:ResourceTag/firedrill": "allowed"}}
    }]});
    let findings = parliament(&bad);
    let has = |issue: &str, severity: &str, action: &str| {
        findings
            .iter()
            .any(|f| f["issue"] == issue && f["severity"] == severity && actions_of(f).iter().any(|a| a == action))
    };
    assert!(has("UNKNOWN_CONDITION_FOR_ACTION", "MEDIUM", "iam:TagRole"), "{findings:#?}");
    assert!(has("RESOURCE_STAR", "LOW", "ec2:StopInstances"), "{findings:#?}");
}
