//! Pager noise (`pages`) against a real moto server: the paging alarms are found at
//! prepare (every alarm with actions enabled, or the listed ones), `plan` lists them, a
//! transition to ALARM during the run (set by the test through the CloudWatch API, as
//! someone's pager would be) is one page in every report, an alarm already in ALARM is
//! "already alarming", and `max_pages: 0` makes the run `objective_missed` (exit 1) with
//! the page named. moto serves no DescribeAlarmHistory: the report says "history not
//! available".

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::moto::Moto;
use crate::support::read_report;

const WAIT: Duration = Duration::from_secs(60);

/// A drill whose only fault is a harmless command held for 10 s (long enough, on a loaded
/// machine, for the test to page during it), with the given `pages` block.
fn scenario(pages: &str) -> String {
    format!(
        r#"version: 1
name: pages-test
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
steady_state:
  - name: errors
    cloudwatch_alarm: {{ alarm: shop-5xx }}
    every: 200ms
faults:
  - name: f
    command: {{ inject: "true", revert: "true" }}
    duration: 10s
recovery:
  objective: sustain
  stable_for: 200ms
  settle_timeout: 30s
{pages}
"#
    )
}

/// `db-page` and `legacy-page` page an SNS topic (`legacy-page` is in ALARM already);
/// `muted-page` has actions but they are disabled; the seeded `shop-*` alarms have none.
fn paging_alarms(moto: &Moto) {
    moto.seed(&[]);
    moto.boto(
        "for name, enabled in (('db-page', True), ('legacy-page', True), ('muted-page', False)):\n    \
         cw.put_metric_alarm(AlarmName=name, MetricName='Errors', Namespace='Shop', Statistic='Sum', Period=60, \
         EvaluationPeriods=1, Threshold=1, ComparisonOperator='GreaterThanThreshold', ActionsEnabled=enabled, \
         AlarmActions=['arn:aws:sns:us-east-1:123456789012:pager'])\n    \
         cw.set_alarm_state(AlarmName=name, StateValue='OK', StateReason='seeded')\n\
         cw.set_alarm_state(AlarmName='legacy-page', StateValue='ALARM', StateReason='paging since last week')",
    );
}

/// Runs `yaml` and, once the fault is injected, sends a page: `db-page` goes to ALARM
/// (and stays there: however many reads see it, it is one page); then runs the boto3
/// code `also`. Returns the run's exit code, stderr, report.json, report.md and junit.xml.
fn run_and_page(moto: &Moto, yaml: &str, also: &str) -> (Option<i32>, String, Value, String, String) {
    let sb = moto.sandbox();
    let file = sb.write_scenario("s", yaml);
    let running = sb.spawn(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    sb.wait_for_journal("done", WAIT);
    moto.boto(
        &format!(
            "cw.set_alarm_state(AlarmName='db-page', StateValue='ALARM', StateReason='Threshold Crossed: 3 errors > 1')\n{also}"
        ),
    );
    let done = running.wait();
    let dir = sb.only_run_dir();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    (done.code(), done.stderr.clone(), read_report(&dir), read("report.md"), read("junit.xml"))
}

/// Without `alarms`, every alarm with actions enabled is watched (plan lists them, in text
/// and JSON); the
/// page during the run is counted once, with its time and state reason; the alarm already
/// in ALARM is not a page; without `max_pages` the run still passes (exit 0).
#[test]
fn every_paging_alarm_is_watched_and_a_page_during_the_run_is_counted_once() {
    let moto = Moto::start();
    paging_alarms(&moto);
    let yaml = scenario("pages: {}");
    let sb = moto.sandbox();
    let file = sb.write_scenario("s", &yaml);
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(0), "{plan}");
    assert!(
        plan.stdout.contains(
            "Pages (alarms that page someone, watched from the first injection to the verdict):\n  \
             2 alarm(s), every alarm with alarm actions enabled, read every 1s:\n    - db-page\n    \
             - legacy-page (in ALARM now: already alarming, not a page)\n  \
             pages are reported; they do not fail the run (no `max_pages`)\n"
        ),
        "{plan}"
    );
    let json = sb.run(&["plan".as_ref(), "--format".as_ref(), "json".as_ref(), file.as_os_str()]);
    assert_eq!(json.code(), Some(0), "{json}");
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["pages"],
        json!({ "alarms": ["db-page", "legacy-page"], "all": true, "already_alarming": ["legacy-page"], "max_pages": null, "every_ms": 1000 })
    );
    let actions = doc["iam_actions"].as_array().unwrap();
    assert!(actions.contains(&json!("cloudwatch:DescribeAlarmHistory")), "{actions:?}");

    let (code, stderr, report, md, xml) = run_and_page(&moto, &yaml, "");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["outcome"], "passed", "{report:#}");
    let pages = &report["pages"];
    assert_eq!(pages["watched"], json!(["db-page", "legacy-page"]));
    assert_eq!(pages["count"], 1, "{pages:#}");
    assert_eq!(pages["pages"][0]["alarm"], "db-page");
    assert_eq!(pages["pages"][0]["reason"], "Threshold Crossed: 3 errors > 1");
    assert_eq!(pages["pages"][0]["seen_by"], "poll");
    let t = pages["pages"][0]["t_ms"].as_u64().unwrap();
    let injected = report["t_inject_ms"].as_u64().unwrap();
    assert!(t > injected && t <= report["duration_ms"].as_u64().unwrap(), "{t} after {injected}");
    assert_eq!(pages["already_alarming"], json!(["legacy-page"]));
    assert_eq!(pages["unreadable"], json!([]));
    assert_eq!(pages["exceeded"], false);
    // moto has no alarm history: said, not hidden.
    assert_eq!(pages["history"]["available"], false, "{pages:#}");
    assert!(pages["history"]["error"].as_str().unwrap().contains("DescribeAlarmHistory"), "{pages:#}");
    assert!(stderr.contains("Pages 1: db-page at +"), "{stderr}");
    assert!(md.contains("| Pages | pages: 1 (`db-page` at +"), "{md}");
    assert!(md.contains("- already alarming before the first injection (not pages): `legacy-page`"), "{md}");
    assert!(md.contains("- history not available: "), "{md}");
    assert!(xml.contains(r#"<property name="pages" value="1"/>"#), "{xml}");
}

/// `max_pages: 0` and one page: `objective_missed`, exit 1, the reason naming the page, in
/// the CLI, report.json and the failing JUnit `pages` case. A watched alarm deleted during
/// the run is reported as unreadable and does not abort the run. A listed alarm that does
/// not exist is refused before the run (its pages could never be counted).
#[test]
fn max_pages_zero_and_a_page_miss_the_objective_with_exit_1() {
    let moto = Moto::start();
    paging_alarms(&moto);
    // `muted-page` is deleted during the run: reported as unreadable, and the run goes on.
    let yaml = scenario("pages:\n  alarms: [db-page, muted-page]\n  max_pages: 0");
    let (code, stderr, report, md, xml) = run_and_page(&moto, &yaml, "cw.delete_alarms(AlarmNames=['muted-page'])");
    assert_eq!(code, Some(1), "{stderr}");
    let unread = &report["pages"]["unreadable"];
    assert_eq!(unread[0]["alarm"], "muted-page", "{unread:#}");
    assert_eq!(unread[0]["error"], "no alarm of this name");
    assert!(stderr.contains("could not read paging alarm `muted-page` ("), "{stderr}");
    assert!(md.contains("- ⚠️ could not read `muted-page` ("), "{md}");
    assert_eq!(report["outcome"], "objective_missed", "{report:#}");
    assert_eq!(report["objective_met"], false);
    assert_eq!(report["pages"]["count"], 1);
    assert_eq!(report["pages"]["watched"], json!(["db-page", "muted-page"]));
    let reason = report["pages"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("1 page(s), at most 0 allowed: db-page at "), "{reason}");
    assert!(stderr.contains(&format!("objective missed: {reason}")), "{stderr}");
    assert!(md.starts_with("## ❌ objective missed"), "{md}");
    assert!(md.contains(&format!("**Objective missed:** {reason}")), "{md}");
    assert!(xml.contains(r#"<testcase name="pages" classname="firedrill.pages-test""#), "{xml}");
    assert!(xml.contains(&format!(r#"<failure message="{reason}""#)), "{xml}");

    let sb = moto.sandbox();
    let file = sb.write_scenario("typo", &scenario("pages:\n  alarms: [db-pgae]"));
    let plan = sb.run(&["plan".as_ref(), file.as_os_str()]);
    assert_eq!(plan.code(), Some(7), "{plan}");
    assert!(
        plan.stdout.contains(
            "paging alarm `db-pgae` (pages.alarms) does not exist in us-east-1: its pages could never be counted"
        ),
        "{plan}"
    );
}
