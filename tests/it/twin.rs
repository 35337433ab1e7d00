//! The AWS demo's game day (`demo/az-failure.yaml`) against moto with the staging twin's
//! controller (`demo/twin.py`) beside it, as `demo/aws.sh` runs it: the probe sees the zone
//! go (a detection, with its time), the twin's Auto Scaling heals the shop within the
//! objective and its error-rate alarm stays OK (pages: 0); with a replacement slower than
//! the objective the run misses it, and the alarm pages once. The scenario is the shipped
//! demo file, made quick (probe intervals, fault duration, objective), pointed at this
//! test's twin.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::moto::{Moto, venv};
use crate::support::{Sandbox, read_report, wait_until};

const WAIT: Duration = Duration::from_secs(60);
/// The quick scenario's objective and fault duration (the demo's are 15 s and 25 s).
const WITHIN_S: u64 = 8;
const FAULT_S: u64 = 14;
/// The twin's alarm pages after this long of errors (the demo's: 10 s).
const PAGE_AFTER_S: u64 = 6;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `demo/twin.py` against `moto`, on a free port, reading moto every 200 ms. Killed when
/// dropped; its log is kept in the sandbox for failure messages.
struct Twin {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Twin {
    fn start(moto: &Moto, sb: &Sandbox, grace_s: u64) -> Twin {
        let log = sb.path().join("twin.log");
        let mut child = Command::new(venv().join("bin/python"))
            .arg(root().join("demo/twin.py"))
            .args(["--endpoint", &moto.endpoint(), "--port", "0", "--poll", "0.2"])
            .args(["--grace", &grace_s.to_string(), "--page-after", &PAGE_AFTER_S.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("create the twin's log"))
            .spawn()
            .expect("start demo/twin.py");
        // Its first line says where it serves; read it with a bounded wait.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(WAIT).unwrap_or_default();
        let ready: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("demo/twin.py printed no JSON line ({e}): {line:?}\n{}", read_log(&log));
            }
        };
        let twin = Twin { child, url: ready["url"].as_str().unwrap_or_default().to_string(), log };
        assert_eq!((ready["need"].as_u64(), ready["fleet"].as_u64()), (Some(6), Some(6)), "{ready}\n{}", twin.log());
        twin
    }

    fn log(&self) -> String {
        read_log(&self.log)
    }

    fn port(&self) -> &str {
        self.url.trim_start_matches("http://127.0.0.1:").trim_end_matches('/')
    }
}

fn read_log(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Drop for Twin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `demo/az-failure.yaml`, made quick and probing `port`, without its playbook (a path
/// relative to demo/). Each change must find its line, so the test cannot drift from the
/// file without failing.
fn quick_demo(port: &str) -> String {
    let text = std::fs::read_to_string(root().join("demo/az-failure.yaml")).unwrap();
    let mut changed = [0; 6];
    let mut lines = Vec::new();
    for l in text.lines() {
        let t = l.trim_start();
        let indent = &l[..l.len() - t.len()];
        let (i, new) = if t.starts_with('#') {
            lines.push(l.to_string());
            continue;
        } else if l.starts_with("playbook:") {
            changed[0] += 1;
            continue;
        } else if t.contains("127.0.0.1:18081") {
            (1, l.replace("127.0.0.1:18081", &format!("127.0.0.1:{port}")))
        } else if t.starts_with("every:") {
            (2, format!("{indent}every: 300ms"))
        } else if t.starts_with("duration:") {
            (3, format!("{indent}duration: {FAULT_S}s"))
        } else if t.starts_with("within:") {
            (4, format!("{indent}within: {WITHIN_S}s"))
        } else if t.starts_with("stable_for:") {
            (5, format!("{indent}stable_for: 1s"))
        } else {
            lines.push(l.to_string());
            continue;
        };
        changed[i] += 1;
        lines.push(new);
    }
    assert_eq!(changed, [1, 1, 4, 1, 1, 1], "demo/az-failure.yaml changed shape: update this test");
    lines.join("\n")
}

/// Runs the quick demo against a fresh moto, seeded as the demo seeds it, with a twin whose
/// Auto Scaling replaces lost instances after `grace_s`. Returns the exit code, report.json,
/// the twin's log, and the moto server (still up) for a look at what the twin left.
fn game_day(grace_s: u64) -> (Option<i32>, Value, String, Moto, Twin) {
    let moto = Moto::start();
    let seeded = moto.seed(&[]);
    assert_eq!(seeded["asg"]["name"], "shop-web");
    let sb = moto.sandbox();
    let twin = Twin::start(&moto, &sb, grace_s);
    let file = sb.write_scenario("az-failure-demo", &quick_demo(twin.port()));
    let done = sb.run(&["run".as_ref(), "--yes".as_ref(), file.as_os_str()]);
    let report = read_report(&done.run_dir());
    let log = twin.log();
    (done.code(), report, format!("{done}\n--- twin log:\n{log}"), moto, twin)
}

/// The shop probe's row in the report.
fn shop_probe(report: &Value) -> &Value {
    report["probes"].as_array().unwrap().iter().find(|p| p["name"] == "shop").expect("the shop probe")
}

/// Instances the twin launched (tagged twin=replacement), by state.
fn replacements(moto: &Moto) -> Value {
    moto.python_json(
        "import boto3, json\n\
         ec2 = boto3.client('ec2', region_name='us-east-1', endpoint_url=ENDPOINT, aws_access_key_id='t', aws_secret_access_key='t')\n\
         r = ec2.describe_instances(Filters=[{'Name': 'tag:twin', 'Values': ['replacement']}])['Reservations']\n\
         print(json.dumps(sorted(i['State']['Name'] for x in r for i in x['Instances'])))",
    )
}

/// The default demo: the zone's loss is detected (the shop probe failed, time to detect
/// recorded), the twin replaces the two lost instances in the other zones while the fault
/// is still in place, the run passes within the objective, and the paging alarm never
/// left OK: pages 0. After the revert the twin scales its replacements in again.
#[test]
fn the_demo_game_day_detects_the_zone_loss_recovers_within_the_objective_and_pages_nobody() {
    let (code, report, out, moto, twin) = game_day(1);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(report["outcome"], "passed", "{out}");
    let detect = report["time_to_detect_ms"].as_u64().unwrap_or_else(|| panic!("no detection: {out}"));
    assert!(detect > 0, "{out}");
    let shop = shop_probe(&report);
    assert!(shop["failures"].as_u64().unwrap() >= 1, "{shop}");
    assert_eq!(shop["final_ok"], true, "{shop}");
    let recover = report["time_to_recover_ms"].as_u64().unwrap_or_else(|| panic!("no recovery: {out}"));
    assert!(recover >= detect && recover <= WITHIN_S * 1000, "recovered after {recover} ms: {out}");
    assert_eq!(report["objective_met"], true, "{out}");
    // Healed by Auto Scaling before the revert, not by the revert.
    assert_eq!(report["recovered_during_fault"], true, "{out}");
    assert_eq!(report["pages"]["watched"], json!(["shop-web-errors"]), "{out}");
    assert_eq!(report["pages"]["count"], 0, "{out}");
    assert!(out.contains("launched"), "{out}");
    // Once the zone is back, the replacements are given back (scale-in).
    wait_until("the twin to scale its replacements in", WAIT, || {
        replacements(&moto).as_array().is_some_and(|r| r.len() == 2 && r.iter().all(|s| s == "terminated"))
    });
    drop(twin);
}

/// The twin's Auto Scaling takes longer than the objective: the zone's loss is detected,
/// the recovery comes too late (objective missed, exit 1), and the error-rate alarm pages
/// once, by name, which `max_pages: 0` also counts against the run.
#[test]
fn a_replacement_slower_than_the_objective_misses_it_and_pages() {
    let (code, report, out, _moto, _twin) = game_day(WITHIN_S + 2);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(report["outcome"], "objective_missed", "{out}");
    assert!(report["time_to_detect_ms"].as_u64().is_some_and(|t| t > 0), "{out}");
    assert!(shop_probe(&report)["failures"].as_u64().unwrap() >= 1, "{out}");
    assert_eq!(report["objective_met"], false, "{out}");
    let recover = report["time_to_recover_ms"].as_u64();
    assert!(recover.is_none_or(|t| t > WITHIN_S * 1000), "recovered after {recover:?} ms: {out}");
    let pages = &report["pages"];
    assert_eq!(pages["count"], 1, "{out}");
    assert_eq!(pages["exceeded"], true, "{out}");
    assert_eq!(pages["pages"][0]["alarm"], "shop-web-errors", "{out}");
    assert!(pages["pages"][0]["reason"].as_str().unwrap().starts_with("Threshold Crossed"), "{pages}");
}
