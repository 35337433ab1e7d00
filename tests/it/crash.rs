//! Crash safety at every step: for each AWS fault and each fail point (before an intent,
//! after an intent but before its call, after the calls but before `done`, after an undo
//! but before `reverted`), the process dies as if SIGKILLed (`FIREDRILL_FAILPOINT`, see
//! src/failpoint.rs); then `firedrill recover` must leave moto exactly as it was before the
//! run, and a second `recover` must change nothing.

use crate::support::moto::Moto;

const ENV: &str = r#"version: 1
name: crash
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: { key: firedrill, value: allowed }
"#;

fn scenario(targets: &str, fault: &str) -> String {
    format!(
        "{ENV}targets:\n{targets}\nsteady_state:\n  - name: ok\n    command: {{ run: \"true\" }}\n    every: 100ms\n\
         faults:\n  - name: f\n    duration: 300ms\n{fault}\nrecovery:\n  objective: sustain\n  stable_for: 100ms\n  settle_timeout: 10s\n"
    )
}

/// Runs every fail point for one fault with `steps` journaled side effects; returns the
/// points survived.
fn matrix(targets: &str, fault: &str, steps: u32) -> Vec<String> {
    let moto = Moto::start();
    let yaml = scenario(targets, fault);
    let mut points = vec!["before_intent:1".to_string(), "before_done:1".to_string()];
    for n in 1..=steps {
        points.push(format!("after_intent:{n}"));
        points.push(format!("before_reverted:{n}"));
    }
    // A failover is its own recovery, unless the fault fails back: then the writer too must
    // be back where it was.
    let failback = fault.contains("failback: true");
    let mut survived = Vec::new();
    for point in points {
        moto.reset();
        moto.seed(&[]);
        let before = moto.snapshot();
        let mut sb = moto.sandbox();
        sb.env("FIREDRILL_FAILPOINT", &point);
        let file = sb.write_scenario("crash", &yaml);
        let died = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
        assert_eq!(died.code(), None, "{point}: the process must die at the fail point\n{died}");
        assert!(died.stderr.contains(&format!("fail point {point} reached")), "{point}\n{died}");
        let rec = recover(&moto, &file);
        assert_eq!(rec.0, Some(0), "{point}: recover\n{}", rec.1);
        let mut after = moto.snapshot();
        if !failback {
            after["cluster_writer"] = before["cluster_writer"].clone();
        }
        assert_eq!(after, before, "{point}: moto state after recover differs from before the run");
        let again = recover(&moto, &file);
        assert_eq!(again.0, Some(0), "{point}: second recover\n{}", again.1);
        let mut again_state = moto.snapshot();
        if !failback {
            again_state["cluster_writer"] = before["cluster_writer"].clone();
        }
        assert_eq!(again_state, before, "{point}: a second recover changed something");
        survived.push(point);
    }
    eprintln!("crash matrix: {fault:?}: survived {} fail points: {}", survived.len(), survived.join(" "));
    survived
}

/// `firedrill recover` with the state dir next to `scenario`.
fn recover(moto: &Moto, scenario: &std::path::Path) -> (Option<i32>, String) {
    let dir = scenario.parent().unwrap();
    let mut c = std::process::Command::new(crate::support::BIN);
    c.args(["--state-dir"])
        .arg(dir.join("state"))
        .arg("recover")
        .current_dir(dir)
        .env_remove("FIREDRILL_FAILPOINT")
        .env("FIREDRILL_KEY_FILE", crate::support::key_file(dir));
    for (k, v) in moto.env() {
        c.env(k, v);
    }
    let out = c.output().expect("run recover");
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn crash_matrix_ec2_stop_instances() {
    let t = "  web:\n    type: ec2:instance\n    tags: { app: shop }\n    filters: { availability_zone: us-east-1a }";
    assert_eq!(matrix(t, "    ec2_stop_instances: { target: web }", 1).len(), 4);
}

#[test]
fn crash_matrix_ebs_detach_volumes() {
    let t = "  data:\n    type: ec2:volume\n    tags: { role: data }\n    filters: { availability_zone: us-east-1a }";
    assert_eq!(matrix(t, "    ebs_detach_volumes: { target: data }", 1).len(), 4);
}

#[test]
fn crash_matrix_iam_revoke_role_and_user() {
    let t = "  role:\n    type: iam:role\n    tags: { app: shop }";
    assert_eq!(matrix(t, "    iam_revoke_credentials: { target: role }", 1).len(), 4);
    let t = "  user:\n    type: iam:user\n    tags: { app: shop }";
    assert_eq!(matrix(t, "    iam_revoke_credentials: { target: user }", 1).len(), 4);
}

#[test]
fn crash_matrix_service_and_region_outage() {
    let t = "  role:\n    type: iam:role\n    tags: { app: shop }";
    let f = "    service_outage: { target: role, actions: [\"ses:SendEmail\", \"sqs:*\"], regions: [us-east-1] }";
    assert_eq!(matrix(t, f, 1).len(), 4);
    let f = "    region_outage: { target: role, region: us-east-1, except: [\"sns:Publish\"] }";
    assert_eq!(matrix(t, f, 1).len(), 4);
}

#[test]
fn crash_matrix_az_outage() {
    let t = "  subnets:\n    type: ec2:subnet\n    tags: { app: shop }\n  web:\n    type: ec2:instance\n    tags: { app: shop }\n  \
             asg:\n    type: autoscaling:group\n    tags: { app: shop }\n  db:\n    type: rds:cluster\n    tags: { app: shop }";
    let f = "    az_outage: { zone: us-east-1a, targets: [subnets, web, asg, db], network: true, stop_instances: true, asg: remove_zone, rds: failover }";
    // Steps: create the deny-all ACL, swap the subnet's association, stop instances,
    // shrink the ASG, fail over the cluster.
    let survived = matrix(t, f, 5);
    assert_eq!(survived.len(), 12);
}

#[test]
fn crash_matrix_network_blackhole() {
    let t = "  subnets:\n    type: ec2:subnet\n    tags: { app: shop }\n    filters: { availability_zone: us-east-1a }";
    // Steps: create the clone, swap the subnet's association.
    assert_eq!(matrix(t, "    network_blackhole: { target: subnets, cidrs: [203.0.113.0/24] }", 2).len(), 6);
}

#[test]
fn crash_matrix_rds_failback() {
    let t = "  db:\n    type: rds:cluster\n    ids: [shop-db]\n    tags: { app: shop }";
    assert_eq!(matrix(t, "    rds_failover: { target: db, to: shop-db-2, failback: true }", 1).len(), 4);
}

/// The binary under test has fail points compiled in (otherwise every matrix above would
/// fail at its first point with a less clear message).
#[test]
fn the_binary_under_test_has_fail_points() {
    let out = std::process::Command::new(crate::support::BIN).arg("--version").output().expect("run --version");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_end().ends_with("(failpoints)"), "{text}");
}
