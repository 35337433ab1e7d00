//! Leases between runs: a run tags what it holds with `firedrill:lease:<run id>`; another
//! run (here: another state directory, as from another machine) refuses those resources
//! and names the holder; the lease goes when the holder reverts, or when `recover` cleans
//! up after a holder that died; two runs started together never both inject.

use std::time::Duration;

use crate::support::moto::{Moto, stop_web_scenario};
use crate::support::proxy::{Act, Proxy};
use crate::support::{Sandbox, read_journal, read_report};

fn scenario(sb: &Sandbox, duration: &str) -> std::path::PathBuf {
    sb.write_scenario("lease", &stop_web_scenario("lease", duration))
}

fn run_id(sb: &Sandbox) -> String {
    sb.only_run_dir().file_name().unwrap().to_string_lossy().into_owned()
}

fn injected(sb: &Sandbox) -> bool {
    sb.run_dirs().iter().any(|d| read_journal(d).iter().any(|e| e["event"] == "done"))
}

#[test]
fn a_held_resource_is_refused_naming_the_holder_until_it_is_released() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let a = moto.sandbox();
    let file_a = scenario(&a, "60s");
    let holder = a.spawn(&["run".as_ref(), "--yes".as_ref(), file_a.as_os_str()]);
    a.wait_for_journal("done", Duration::from_secs(60));
    let id = run_id(&a);
    assert!(moto.snapshot()["tags"].to_string().contains(&format!("firedrill:lease:{id}")), "the lease is visible");

    let b = moto.sandbox();
    let file_b = scenario(&b, "1s");
    let refused = b.run(&["run".as_ref(), "--yes".as_ref(), file_b.as_os_str()]);
    assert_eq!(refused.code(), Some(7), "{refused}");
    assert!(refused.stderr.contains(&format!("is leased by run {id}")), "{refused}");
    assert!(!injected(&b));

    holder.signal("INT");
    let done = holder.wait();
    assert_eq!(done.code(), Some(3), "{done}");
    assert_eq!(moto.snapshot(), before, "reverted and the lease removed");
    let plan = b.run(&["plan".as_ref(), file_b.as_os_str()]);
    assert_eq!(plan.code(), Some(0), "{plan}");
}

#[test]
fn recover_releases_the_lease_of_a_run_that_died() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let a = moto.sandbox();
    let file_a = scenario(&a, "60s");
    let mut holder = a.spawn(&["run".as_ref(), "--yes".as_ref(), file_a.as_os_str()]);
    a.wait_for_journal("done", Duration::from_secs(60));
    holder.kill();
    let _ = holder.wait();

    let b = moto.sandbox();
    let file_b = scenario(&b, "1s");
    assert_eq!(b.run(&["plan".as_ref(), file_b.as_os_str()]).code(), Some(7), "still leased by the dead run");
    let rec = a.run(&["recover"]);
    assert_eq!(rec.code(), Some(0), "{rec}");
    assert_eq!(moto.snapshot(), before, "recover reverted the fault and released the lease");
    assert_eq!(b.run(&["plan".as_ref(), file_b.as_os_str()]).code(), Some(0));
}

#[test]
fn two_runs_started_together_never_both_inject() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let (a, b) = (moto.sandbox(), moto.sandbox());
    let (fa, fb) = (scenario(&a, "2s"), scenario(&b, "2s"));
    let ra = a.spawn(&["run".as_ref(), "--yes".as_ref(), fa.as_os_str()]);
    let rb = b.spawn(&["run".as_ref(), "--yes".as_ref(), fb.as_os_str()]);
    let (da, db) = (ra.wait(), rb.wait());
    let codes = [da.code(), db.code()];
    // Usually one runs and the other is refused; when each reads back after both tagged,
    // both are refused. Never both run.
    assert!(codes.iter().all(|c| matches!(c, Some(0 | 7))), "{codes:?}\n{da}\n{db}");
    assert!(codes.contains(&Some(7)), "one run at least is refused: {codes:?}\n{da}\n{db}");
    let ran = codes.iter().filter(|c| **c == Some(0)).count();
    assert_eq!([injected(&a), injected(&b)].iter().filter(|x| **x).count(), ran, "only a run that went on injected");
    for d in [&da, &db].into_iter().filter(|d| d.code() == Some(7)) {
        assert!(d.stderr.contains("is leased by run"), "the refusal names the other run: {d}");
    }
    assert_eq!(moto.snapshot(), before);
}

/// A lease that cannot be released is a side effect left behind: the run retries it like
/// a revert, then ends `revert_failed` (exit 5) and lists the lease with the command that
/// removes it; `recover` releases it later.
#[test]
fn a_lease_that_cannot_be_released_fails_the_run_and_recover_releases_it() {
    let moto = Moto::start();
    moto.seed(&[]);
    let before = moto.snapshot();
    let proxy = Proxy::start_by_request(moto.port, |_, req| {
        // Only the lease's tag: the fault's own undo tag is removed by its revert.
        let lease = req.contains("firedrill%3Alease%3A") || req.contains("firedrill:lease:");
        if req.contains("Action=DeleteTags") && lease { Act::Unavailable } else { Act::Pass }
    });
    let mut sb = moto.sandbox();
    sb.env("AWS_ENDPOINT_URL", &proxy.endpoint());
    let file = scenario(&sb, "500ms");
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    assert_eq!(done.code(), Some(5), "{done}");
    assert!(done.stderr.contains("could not release the lease"), "{done}");
    let report = read_report(&sb.only_run_dir());
    assert_eq!(report["outcome"], "revert_failed");
    let broken = report["still_broken"].as_array().unwrap();
    assert_eq!(broken.len(), 1, "{report}");
    assert_eq!(broken[0]["fault"], "(lease)");
    assert!(broken[0]["fix"].as_str().unwrap_or_default().contains("aws ec2 delete-tags"), "{report}");
    assert!(report["faults"][0]["reverted_at_ms"].is_u64(), "the fault itself was reverted: {report}");
    assert_ne!(moto.snapshot(), before, "the lease tags are still there");

    // Once AWS answers again (straight to moto, no proxy), `recover` releases it.
    let rec = sb.run_with_env(&["recover"], &[("AWS_ENDPOINT_URL", &moto.endpoint())]);
    assert_eq!(rec.code(), Some(0), "{rec}");
    assert_eq!(moto.snapshot(), before, "recover released the lease");
}
