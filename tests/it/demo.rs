//! The shipped outage scenarios as `demo/aws.sh SCENARIO` runs them: moto seeded by
//! `demo/seed.py`, then `plan`, then `run --yes` of the scenario with its playbook. Only
//! the fault's duration is shortened (the playbook's timed steps then fall due after the
//! run, as in any short drill, and are reported `not_due`). Each ends as the README says a
//! moto run ends (`sustain`: passed, exit 0; `within`: no_impact, exit 8), with moto
//! exactly as before the run.

use std::path::Path;

use crate::support::moto::Moto;
use crate::support::read_report;

fn runs_like_the_demo(name: &str, code: i32, outcome: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let sb = moto.sandbox();
    std::fs::create_dir_all(sb.path().join("scenarios")).unwrap();
    std::fs::create_dir_all(sb.path().join("playbooks")).unwrap();
    let text = std::fs::read_to_string(root.join("scenarios").join(format!("{name}.yaml"))).unwrap();
    let quick: Vec<String> = text
        .lines()
        .map(|l| if l.trim_start().starts_with("duration:") { "    duration: 2s".to_string() } else { l.to_string() })
        .collect();
    assert!(text.contains(&format!("playbook: ../playbooks/{name}.md")), "{name} has its playbook");
    let file = sb.write(&format!("scenarios/{name}.yaml"), &quick.join("\n"));
    std::fs::copy(root.join("playbooks").join(format!("{name}.md")), sb.path().join(format!("playbooks/{name}.md")))
        .unwrap();

    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    plan.assert_exit(0);
    assert!(plan.stdout.contains("shop-app"), "{name}: the plan names the role\n{plan}");
    assert!(plan.stdout.contains("communicate") || plan.stdout.contains("comms"), "{name}: the playbook\n{plan}");

    let run = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(run.code(), Some(code), "{name}: {run}");
    let report = read_report(&sb.only_run_dir());
    assert_eq!(report["outcome"], outcome, "{name}: {report}");
    let steps = report.to_string();
    assert!(steps.contains("status-page") && steps.contains("customer-email"), "{name}: playbook steps: {report}");
    assert_eq!(moto.snapshot(), before, "{name}: moto exactly as before the run");
}

#[test]
fn ses_outage_runs_as_the_demo_runs_it_and_passes() {
    runs_like_the_demo("ses-outage", 0, "passed");
}

#[test]
fn region_outage_runs_as_the_demo_runs_it_and_ends_no_impact() {
    runs_like_the_demo("region-outage", 8, "no_impact");
}
