//! `firedrill audit` against moto: a deliberately fragile estate (tag app=fragile, one
//! single point of failure of every kind) and its healthy twin (tag app=healthy, the same
//! resources spread over zones and two regions), both seeded by
//! `tests/it/support/audit_estate.py` into a moto whose access keys of `aged-*` users are
//! 200 days old (`tests/it/support/moto_aged_keys.py`: moto's API cannot backdate a key).
//! Checked: each finding's kind, resources and zone; nothing for the twin; the JSON
//! against schema/audit.schema.json (by the venv's `jsonschema`, an independent
//! validator that the pinned `moto[server]` brings); the gate's exit codes with and without a baseline; the account guard; and
//! that every `--suggest`ed scenario passes `firedrill validate`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::Finished;
use crate::support::moto::Moto;

pub fn estate() -> (Moto, Value) {
    let moto = Moto::start_script("tests/it/support/moto_aged_keys.py");
    let seeded = moto.seed_with("tests/it/support/audit_estate.py");
    (moto, seeded)
}

fn json(done: &Finished) -> Value {
    serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("audit printed no JSON ({e}):\n{done}"))
}

fn findings(doc: &Value) -> BTreeMap<String, Value> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| (f["id"].as_str().unwrap().to_string(), f.clone()))
        .collect()
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(s).collect()
}

/// Validates `doc` against the committed schema with Python's `jsonschema`.
fn assert_matches_schema(doc: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/audit.schema.json");
    let code = format!(
        "import json, jsonschema\nschema = json.load(open({:?}))\ndoc = json.load(open({:?}))\n\
         cls = jsonschema.validators.validator_for(schema)\ncls.check_schema(schema)\n\
         errors = [f'{{list(e.absolute_path)}}: {{e.message}}' for e in cls(schema).iter_errors(doc)]\n\
         print(json.dumps(errors))",
        schema.display().to_string(),
        file.display().to_string()
    );
    let out = std::process::Command::new(Moto::python_path()).args(["-c", &code]).output().expect("python");
    assert!(out.status.success(), "jsonschema failed: {}", String::from_utf8_lossy(&out.stderr));
    let errors: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(errors.is_empty(), "the audit does not match schema/audit.schema.json: {errors:#?}");
}

/// Every kind on the fragile estate, each with its resources and zone; the JSON matches
/// the schema; the healthy twin, audited in both its regions, has the same kinds of
/// resources in its inventory and no finding at all.
#[test]
fn audit_finds_every_single_point_of_failure_and_none_in_the_healthy_twin() {
    let (moto, seeded) = estate();
    let sb = moto.sandbox();
    let f = &seeded["fragile"];

    let done = sb.run(&["audit", "--tag", "app=fragile", "--format", "json"]);
    done.assert_exit(0);
    let doc = json(&done);
    assert_matches_schema(&doc);
    assert_eq!(doc["account"], "123456789012");
    let found = findings(&doc);
    let get = |id: &str| found.get(id).unwrap_or_else(|| panic!("no finding {id} in {:#?}", found.keys()));
    let check = |id: &str, kind: &str, severity: &str, zone: Option<&str>, resources: &[String]| {
        let x = get(id);
        assert_eq!(x["kind"], kind, "{x}");
        assert_eq!(x["severity"], severity, "{x}");
        assert_eq!(x["zone"].as_str(), zone, "{x}");
        let mut got = strings(&x["resources"]);
        let mut want = resources.to_vec();
        assert_eq!(got[0], want[0], "the main resource first: {x}");
        got.sort();
        want.sort();
        assert_eq!(got, want, "{x}");
        for field in ["summary", "why", "fix"] {
            assert!(!s(&x[field]).is_empty(), "{field} of {x}");
        }
    };
    let a = Some("us-east-1a");
    let subnet_a = s(&f["subnets"]["us-east-1a"]);
    check("asg_single_az:fragile-web", "asg_single_az", "high", a, &["fragile-web".into(), subnet_a.clone()]);
    let group = &doc["regions"][0]["groups"][0];
    let mut members: Vec<String> = vec!["fragile-web".into()];
    members.extend(group["instances"].as_object().unwrap().keys().cloned());
    assert_eq!(members.len(), 3, "{group}");
    check("zone_loss_below_capacity:fragile-web", "zone_loss_below_capacity", "high", a, &members);
    let fleet = strings(&f["instances"]);
    check("zone_loss_below_capacity:tagged-instances@us-east-1", "zone_loss_below_capacity", "high", a, &fleet);
    check("rds_single_az:fragile-db", "rds_single_az", "high", a, &["fragile-db".into(), "fragile-db-1".into()]);
    check("rds_single_az:fragile-pg", "rds_single_az", "high", a, &["fragile-pg".into()]);
    check(
        "volume_data_single_az:data-volumes@us-east-1",
        "volume_data_single_az",
        "medium",
        a,
        &strings(&f["volumes"]),
    );
    let nat = s(&f["nat_gateways"]["us-east-1a"]);
    let mut nat_res = vec![nat.clone()];
    nat_res.extend(f["subnets"].as_object().unwrap().values().map(s));
    check(&format!("nat_single_az:{nat}"), "nat_single_az", "medium", a, &nat_res);
    check("single_region:us-east-1", "single_region", "low", None, &["us-east-1".into()]);
    check("alarm_without_action:fragile-cpu", "alarm_without_action", "medium", None, &["fragile-cpu".into()]);
    let key = s(&f["access_key"]);
    check(&format!("iam_access_key_old:{key}"), "iam_access_key_old", "medium", None, &[key, s(&f["user"])]);
    check(
        "iam_wildcard_policy:fragile-app",
        "iam_wildcard_policy",
        "high",
        None,
        &["fragile-app".into(), "inline:app".into()],
    );
    check(
        "cache_single_az:fragile-cache",
        "cache_single_az",
        "medium",
        a,
        &["fragile-cache".into(), "fragile-cache-001".into(), "fragile-cache-002".into()],
    );
    assert_eq!(found.len(), 12, "exactly these findings: {:#?}", found.keys());
    // The shared role was found through the instances' instance profile.
    assert_eq!(doc["roles"][0]["name"], "fragile-app");

    // The twin: the same kinds of resources, in two regions, and no finding.
    let done = sb.run(&[
        "audit",
        "--tag",
        "app=healthy",
        "--region",
        "us-east-1",
        "--region",
        "us-west-2",
        "--format",
        "json",
    ]);
    done.assert_exit(0);
    let doc = json(&done);
    assert_matches_schema(&doc);
    assert_eq!(doc["findings"], serde_json::json!([]), "{:#}", doc["findings"]);
    let east = &doc["regions"][0];
    assert_eq!(east["region"], "us-east-1");
    assert_eq!(doc["regions"][1]["region"], "us-west-2");
    let mut west: Vec<String> =
        doc["regions"][1]["instances"].as_array().unwrap().iter().map(|i| s(&i["id"])).collect();
    let mut seeded_west = strings(&seeded["healthy"]["west_instances"]);
    west.sort();
    seeded_west.sort();
    assert_eq!(west, seeded_west);
    for (list, n) in
        [("groups", 1), ("load_balancers", 1), ("db_clusters", 1), ("caches", 1), ("alarms", 1), ("nat_gateways", 3)]
    {
        assert_eq!(east[list].as_array().map(Vec::len), Some(n), "{list}: {:#}", east[list]);
    }
    assert_eq!(east["zones"], serde_json::json!(["us-east-1a", "us-east-1b", "us-east-1c"]));
    let lb = &east["load_balancers"][0];
    assert_eq!(lb["name"], "healthy-lb");
    assert_eq!(lb["subnets"].as_object().unwrap().len(), 2, "{lb}");
    let alarm = &east["alarms"][0];
    assert_eq!(strings(&alarm["alarm_actions"]), ["arn:aws:sns:us-east-1:123456789012:healthy-oncall"]);
    assert_eq!(doc["users"][0]["name"], "healthy-deployer");
    assert_eq!(doc["users"][0]["access_keys"][0]["status"], "Active");
}

/// `--fail-on` exits 10 on a finding that bad or worse, 0 otherwise; a baseline accepts
/// named findings until their date (and no longer after it); a bad baseline or a wrong
/// account is refused before anything is read.
#[test]
fn audit_gate_exit_codes_with_a_baseline_and_the_account_guard() {
    let (moto, _) = estate();
    let sb = moto.sandbox();
    let fragile = ["audit", "--tag", "app=fragile"];
    let with = |extra: &[&str]| {
        let mut args = fragile.to_vec();
        args.extend_from_slice(extra);
        sb.run(&args)
    };
    let high = with(&["--fail-on", "high"]);
    high.assert_exit(10);
    assert!(high.stderr.contains("finding(s) at or above the --fail-on severity"), "{high}");
    assert!(high.stderr.contains("asg_single_az:fragile-web (high)"), "{high}");
    assert!(!high.stderr.contains("single_region"), "a low finding does not fail a high gate: {high}");
    assert!(high.stdout.contains("[high] asg_single_az"), "the audit is printed too: {high}");
    with(&["--fail-on", "critical"]).assert_exit(0);
    // Markdown: the findings table, then the estate by zone.
    let md = with(&["--format", "md"]);
    md.assert_exit(0);
    assert!(md.stdout.starts_with("# Audit of account 123456789012\n"), "{md}");
    assert!(md.stdout.contains("| high | `asg_single_az` | us-east-1a | fragile-web, subnet-"), "{md}");
    assert!(md.stdout.contains("| low | `single_region` | global | us-east-1 |"), "{md}");
    assert!(md.stdout.contains("### us-east-1\n\n| zone | holds |"), "{md}");
    assert!(md.stdout.contains("- group fragile-web: min 2, desired 2"), "{md}");
    sb.run(&["audit", "--tag", "app=healthy", "--fail-on", "low", "--region", "us-east-1", "--region", "us-west-2"])
        .assert_exit(0);

    // Accept every high finding: the high gate passes, the medium one still fails.
    let done = with(&["--format", "json"]);
    let high_ids: Vec<String> = json(&done)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "high")
        .map(|f| s(&f["id"]))
        .collect();
    assert_eq!(high_ids.len(), 6, "{high_ids:?}");
    let baseline = |expires: &str| {
        let mut text = String::from("accept:\n");
        for id in &high_ids {
            text.push_str(&format!("  - id: {id}\n    reason: known, fix planned in Q3\n    expires: {expires}\n"));
        }
        text.push_str("  - id: asg_single_az:long-gone\n    reason: removed last year\n    expires: 2999-01-01\n");
        sb.write("baseline.yaml", &text)
    };
    let file = baseline("2999-12-31");
    let accepted = with(&["--fail-on", "high", "--baseline", file.to_str().unwrap(), "--format", "json"]);
    accepted.assert_exit(0);
    let doc = json(&accepted);
    assert_eq!(doc["accepted"].as_array().unwrap().len(), 6);
    assert_eq!(doc["accepted"][0]["reason"], "known, fix planned in Q3");
    assert!(doc["findings"].as_array().unwrap().iter().all(|f| f["severity"] != "high"), "{doc:#}");
    assert!(accepted.stderr.contains("asg_single_az:long-gone matches no finding"), "{accepted}");
    with(&["--fail-on", "medium", "--baseline", file.to_str().unwrap()]).assert_exit(10);

    let expired = baseline("2020-01-01");
    let done = with(&["--fail-on", "high", "--baseline", expired.to_str().unwrap()]);
    done.assert_exit(10);
    assert!(done.stderr.contains("expired on 2020-01-01; it counts again"), "{done}");

    let bad =
        sb.write("bad.yaml", "accept:\n  - id: single_region:us-east-1\n    reason: ''\n    expires: 2999-01-01\n");
    let done = with(&["--baseline", bad.to_str().unwrap()]);
    done.assert_exit(2);
    assert!(done.stderr.contains("bad.yaml:3:13: accept[0].reason: say why the risk is accepted"), "{done}");
    assert!(done.stdout.is_empty(), "{done}");

    let done = with(&["--account", "111111111111"]);
    done.assert_exit(7);
    assert!(done.stderr.contains("not the declared --account 111111111111"), "{done}");
    assert!(done.stdout.is_empty(), "{done}");
    with(&["--account", "123456789012"]).assert_exit(0);
    let done = sb.run(&["plan", "--region", "us-east-1", "--region", "us-west-2", "x.yaml"]);
    done.assert_exit(2);
    assert!(done.stderr.contains("only `audit` reads several regions"), "{done}");
}

/// `--suggest DIR` writes a scenario and playbook per finding a drill can test; each
/// passes `validate`, and the zone-loss one is an az_outage of the busiest zone against
/// exactly the group's resources there.
#[test]
fn audit_suggested_drills_validate() {
    let (moto, seeded) = estate();
    let sb = moto.sandbox();
    let dir = sb.path().join("drills");
    let done = sb.run(&["audit", "--tag", "app=fragile", "--suggest", dir.to_str().unwrap()]);
    done.assert_exit(0);
    let mut scenarios: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    scenarios.sort();
    let names: Vec<String> = scenarios.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let key = s(&seeded["fragile"]["access_key"]).to_lowercase();
    let nat = s(&seeded["fragile"]["nat_gateways"]["us-east-1a"]);
    let mut want = vec![
        "audit-asg-single-az-fragile-web.yaml".to_string(),
        "audit-zone-loss-below-capacity-fragile-web.yaml".into(),
        "audit-zone-loss-below-capacity-tagged-instances-us-east-1.yaml".into(),
        "audit-rds-single-az-fragile-db.yaml".into(),
        "audit-volume-data-single-az-data-volumes-us-east-1.yaml".into(),
        format!("audit-nat-single-az-{nat}.yaml"),
        format!("audit-iam-access-key-old-{key}.yaml"),
    ];
    want.sort();
    assert_eq!(names, want, "{done}");
    for p in &scenarios {
        assert!(p.with_extension("md").exists(), "no playbook beside {}", p.display());
    }
    let mut args = vec!["validate".to_string()];
    args.extend(scenarios.iter().map(|p| p.display().to_string()));
    sb.run(&args).assert_exit(0);
    // No drill for what only a configuration change fixes, and it says so.
    assert!(done.stderr.contains("No drill for alarm_without_action:fragile-cpu"), "{done}");
    assert!(done.stderr.contains("No drill for rds_single_az:fragile-pg"), "{done}");

    let zone = std::fs::read_to_string(dir.join("audit-zone-loss-below-capacity-fragile-web.yaml")).unwrap();
    assert!(zone.contains("az_outage:\n      zone: \"us-east-1a\""), "{zone}");
    assert!(zone.contains("asg_capacity: { group: \"fragile-web\", min_healthy: 2 }"), "{zone}");
    assert!(zone.contains(&format!("ids: [{:?}]", s(&seeded["fragile"]["subnets"]["us-east-1a"]))), "{zone}");
    assert!(zone.contains("accounts: [\"123456789012\"]"), "{zone}");
}

/// The README's `firedrill audit` example is what the command prints for the demo
/// estate (`demo/seed.py`), command line and output alike.
#[test]
fn readme_audit_example_is_what_audit_prints_for_the_demo_estate() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("```console\n$ firedrill audit").expect("the README shows `firedrill audit`");
    let block = &readme[start + "```console\n".len()..];
    let block = &block[..block.find("```").expect("the block is closed")];
    let (command, shown) = block.split_once('\n').unwrap();
    let args: Vec<&str> = command.trim_start_matches("$ firedrill ").split_whitespace().collect();
    let moto = Moto::start();
    moto.seed(&[]);
    let done = moto.sandbox().run(&args);
    done.assert_exit(0);
    assert_eq!(done.stdout, shown, "README.md's audit example is not what `{command}` prints now");
}
