//! `report.html` in a real browser: a real game day through the binary against the local
//! [`WebService`], then its `report.html` rendered by headless Chromium (`/usr/bin/chromium`,
//! or `FIREDRILL_CHROMIUM`; `scripts/test` installs Debian's `chromium` when it can) to a PNG
//! and to the DOM after load.
//!
//! The browser proves what a string check cannot: the page parses into the timeline we
//! wrote, its one inline script runs (the Content-Security-Policy allows it only by its
//! hash, and it sets `data-loaded="ok"` on `<body>` last, so any script error or CSP
//! refusal shows), the page logs nothing to the console, and it paints something worth
//! looking at. The screenshot and the page are kept in cargo's test tmp directory
//! (`CARGO_TARGET_TMPDIR`) for a human to look at.
//!
//! A missing Chromium fails the test; only `FIREDRILL_SKIP_BROWSER=1` skips it, on purpose.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::web::{Heal, WebService};
use crate::support::{Sandbox, read_report};

/// Where Chromium is unless `FIREDRILL_CHROMIUM` says otherwise (Debian's `chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one Chromium invocation may take (it needs about a second when idle).
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Chromium (`FIREDRILL_CHROMIUM`, else `/usr/bin/chromium`), or `None` when the test was
/// told to skip the browser.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("FIREDRILL_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(CHROMIUM));
    if path.is_file() {
        return Some(path);
    }
    if std::env::var_os("FIREDRILL_SKIP_BROWSER").is_some_and(|v| v == "1") {
        eprintln!("SKIPPED: {} is missing and FIREDRILL_SKIP_BROWSER=1", path.display());
        return None;
    }
    panic!(
        "{} is missing: this test renders report.html in headless Chromium. Run scripts/test, which installs it \
         (`apt-get install chromium`, as root or with sudo), install it yourself (elsewhere than {CHROMIUM}: set \
         FIREDRILL_CHROMIUM=PATH), or set FIREDRILL_SKIP_BROWSER=1 to skip this test explicitly.",
        path.display()
    );
}

/// What a headless Chromium run left: its stdout and stderr.
struct Browser {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium on `page` with `args`, in its own process group (killed whole
/// if it outlives [`BROWSER_TIMEOUT`]), with a fresh profile in `scratch`. Anything that
/// tries the network is sent to a closed port on 127.0.0.1.
fn browse(chromium: &Path, scratch: &Path, name: &str, page: &Path, args: &[String]) -> Browser {
    use std::os::unix::process::CommandExt;

    let profile = scratch.join(format!("profile-{name}"));
    let (out, err) = (scratch.join(format!("{name}.stdout")), scratch.join(format!("{name}.stderr")));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--proxy-server=127.0.0.1:9",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("create the stdout file"))
        .stderr(File::create(&err).expect("create the stderr file"))
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", chromium.display()));
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.wait();
            panic!(
                "chromium ({name}) still running after {BROWSER_TIMEOUT:?}; killed it\n--- stderr:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let browser = Browser {
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    };
    assert!(status.success(), "chromium ({name}) failed: {status}\n--- stderr:\n{}", browser.stderr);
    browser
}

/// Two probes (two lanes), a fault that breaks the service, which heals itself after a
/// second: the report has failing and passing checks, a fault span and every marker.
fn scenario(web: &WebService) -> String {
    format!(
        r#"version: 1
name: it-html
description: "The page must show <every> check & mark."
steady_state:
  - name: web
    http: {{ url: "{health}", expect_status: [200], body_contains: ok, timeout: 2s }}
    every: 100ms
  - name: web-port
    tcp: {{ address: "127.0.0.1:{port}", timeout: 2s }}
    every: 250ms
faults:
  - name: break-web
    command:
      inject: "curl -fsS --max-time 5 -X POST {brk}"
      revert: "curl -fsS --max-time 5 -X POST {fix}"
      timeout: 10s
    duration: 2s
abort:
  - {{ max_duration: 30s }}
recovery:
  within: 5s
  stable_for: 500ms
  settle_timeout: 10s
"#,
        health = web.url("/health"),
        port = web.port(),
        brk = web.url("/break"),
        fix = web.url("/fix"),
    )
}

/// `needle` occurrences in `haystack`.
fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The `<svg id="timeline">` element of a page (the legend has marks of its own).
#[track_caller]
fn timeline(page: &str) -> &str {
    let start = page.find("<svg id=\"timeline\"").unwrap_or_else(|| panic!("no timeline in {page}"));
    let end = page[start..].find("</svg>").expect("the timeline is closed");
    &page[start..start + end]
}

/// Width and height from a PNG's IHDR chunk; fails the test when it is not a PNG.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn report_html_of_a_real_game_day_renders_in_a_browser() {
    let Some(chromium) = chromium() else { return };
    let chromium = chromium.as_path();
    let web = WebService::start(Heal::After(Duration::from_secs(1)));
    let sandbox = Sandbox::new();
    sandbox.write_scenario("it-html", &scenario(&web));

    let run = sandbox.run(&["run", "--yes", "it-html.yaml"]);
    run.assert_exit(0);
    let run_dir = run.run_dir();
    let report = read_report(&run_dir);
    let page_path = run_dir.join("report.html");
    let page = std::fs::read_to_string(&page_path).expect("the run wrote report.html");

    // `firedrill report --format html` re-renders exactly what the run wrote.
    let rerendered = sandbox.run(&["report", "latest", "--format", "html"]);
    rerendered.assert_exit(0);
    assert_eq!(rerendered.stdout, page, "report --format html re-renders report.html");

    // What the page must show, from report.json.
    let checks =
        report["baseline"].as_array().expect("baseline").len() + report["samples"].as_array().expect("samples").len();
    let failing = report["samples"].as_array().expect("samples").iter().filter(|s| s["ok"] == false).count();
    assert!(failing > 0, "the outage was seen: {report:#}");
    assert_eq!(count(&page, "<svg id=\"timeline\""), 1);
    let svg = timeline(&page);
    assert_eq!(count(svg, "<g class=\"lane\""), 2);
    assert_eq!(count(svg, "<use class=\"sample "), checks);
    assert_eq!(count(svg, "<use class=\"sample fail\""), failing);
    assert_eq!(count(svg, "<rect class=\"fault-span\""), 1);
    for marker in ["detect", "recover", "objective"] {
        assert_eq!(count(svg, &format!("<g class=\"marker {marker}\"")), 1, "{marker}");
    }
    assert!(page.contains("The page must show &lt;every&gt; check &amp; mark."));

    let scratch = tempfile::Builder::new().prefix("firedrill-browser-").tempdir().expect("a temp dir");
    // Kept for a human to look at; the run directory is deleted with the sandbox.
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let png = keep.join("firedrill-report-html.png");
    let _ = std::fs::remove_file(&png);
    std::fs::copy(&page_path, keep.join("firedrill-report.html")).expect("keep report.html");

    // A screenshot: the page paints, at the window's size, with more than a blank page.
    let shot = browse(
        chromium,
        scratch.path(),
        "screenshot",
        &page_path,
        &[format!("--screenshot={}", png.display()), "--window-size=1280,1600".into()],
    );
    let bytes =
        std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot at {}: {e}\n{}", png.display(), shot.stderr));
    assert_eq!(png_size(&bytes), (1280, 1600));
    // A blank 1280x1600 page compresses to a few kilobytes; this one has text and a chart.
    assert!(bytes.len() > 40_000, "screenshot is only {} bytes: {}", bytes.len(), png.display());
    eprintln!("screenshot: {} ({} bytes)", png.display(), bytes.len());

    // The DOM after load: the timeline as written, and the script ran to its last line.
    let dom = browse(chromium, scratch.path(), "dump-dom", &page_path, &["--dump-dom".into()]);
    assert!(
        dom.stdout.contains("data-loaded=\"ok\""),
        "the page's script did not finish: a script error, or the CSP hash in src/report/html.rs no longer matches \
         SCRIPT (see the CONSOLE lines)\n--- stderr:\n{}",
        dom.stderr
    );
    assert_eq!(count(&dom.stdout, "<svg id=\"timeline\""), 1, "{}", dom.stdout);
    let svg = timeline(&dom.stdout);
    assert_eq!(count(svg, "<g class=\"lane\""), 2);
    assert_eq!(count(svg, "<use class=\"sample "), checks);
    assert_eq!(count(svg, "<use class=\"sample fail\""), failing);
    assert!(dom.stdout.contains("Point at a mark in the timeline"), "the script filled the readout");

    // Nothing from the page on the console: no errors, no CSP refusals, no logs.
    for b in [&shot, &dom] {
        let console: Vec<&str> = b
            .stderr
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused"))
            .collect();
        assert!(console.is_empty(), "the page logged to the console:\n{}", console.join("\n"));
    }
}

/// `firedrill audit --format html` of the fragile estate (moto) in headless Chromium:
/// one map, every zone, every resource in a box of its own (`data-id`), the ones a
/// finding names in red, the dependencies drawn, nothing on the console; the healthy
/// twin's page has no red at all.
#[test]
fn audit_html_map_renders_in_a_browser() {
    let Some(chromium) = chromium() else { return };
    let (moto, seeded) = crate::audit::estate();
    let sb = moto.sandbox();
    let done = sb.run(&["audit", "--tag", "app=fragile", "--format", "html"]);
    done.assert_exit(0);
    let page_path = sb.write("audit.html", &done.stdout);
    let doc: serde_json::Value =
        serde_json::from_str(&sb.run(&["audit", "--tag", "app=fragile", "--format", "json"]).stdout).unwrap();
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::copy(&page_path, keep.join("firedrill-audit.html")).expect("keep audit.html");
    let png = keep.join("firedrill-audit-html.png");
    let _ = std::fs::remove_file(&png);
    let scratch = tempfile::Builder::new().prefix("firedrill-browser-").tempdir().expect("a temp dir");
    let shot = browse(
        chromium.as_path(),
        scratch.path(),
        "audit-screenshot",
        &page_path,
        &[format!("--screenshot={}", png.display()), "--window-size=1280,1600".into()],
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot: {e}\n{}", shot.stderr));
    assert_eq!(png_size(&bytes), (1280, 1600));
    assert!(bytes.len() > 40_000, "screenshot is only {} bytes: {}", bytes.len(), png.display());
    let dom = browse(chromium.as_path(), scratch.path(), "audit-dom", &page_path, &["--dump-dom".into()]);
    let dom = dom.stdout;

    let region = &doc["regions"][0];
    assert_eq!(count(&dom, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"map\""), 1, "{dom}");
    for zone in region["zones"].as_array().unwrap() {
        let label = format!(">{}</text>", zone.as_str().unwrap());
        assert_eq!(count(&dom, &label), 1, "the zone {zone} is labelled once");
    }
    let id = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap().to_string();
    let mut drawn: Vec<(String, &str)> = Vec::new();
    for (list, key, kind) in [
        ("instances", "id", "instance"),
        ("volumes", "id", "volume"),
        ("subnets", "id", "subnet"),
        ("nat_gateways", "id", "nat"),
        ("groups", "name", "group"),
        ("load_balancers", "name", "load-balancer"),
        ("db_clusters", "id", "db-cluster"),
        ("db_instances", "id", "db"),
        ("alarms", "name", "alarm"),
    ] {
        for r in region[list].as_array().unwrap() {
            drawn.push((id(r, key), kind));
        }
    }
    assert!(drawn.len() > 15, "{drawn:?}");
    let bad: std::collections::BTreeSet<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["resources"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()))
        .collect();
    for (rid, kind) in &drawn {
        let class = if bad.contains(rid) { "node bad" } else { "node" };
        let node = format!("<g class=\"{class}\" data-kind=\"{kind}\" data-id=\"{rid}\">");
        assert_eq!(count(&dom, &node), 1, "{node} in the map");
    }
    // Dependencies: group → subnet, subnet → NAT gateway, instance → volume, all red here.
    let f = &seeded["fragile"];
    let nat = f["nat_gateways"]["us-east-1a"].as_str().unwrap();
    for (from, to) in [
        ("fragile-web", f["subnets"]["us-east-1a"].as_str().unwrap()),
        (f["subnets"]["us-east-1b"].as_str().unwrap(), nat),
        (f["instances"][0].as_str().unwrap(), f["volumes"][0].as_str().unwrap()),
        ("fragile-db", "fragile-db-1"),
    ] {
        let line = format!("<line class=\"dep bad\" data-from=\"{from}\" data-to=\"{to}\"");
        assert_eq!(count(&dom, &line), 1, "{line}");
    }
    assert_eq!(count(&dom, "<tr class=\"sev-"), doc["findings"].as_array().unwrap().len());
    let console: Vec<&str> = shot.stderr.lines().filter(|l| l.contains("CONSOLE") || l.contains("Refused")).collect();
    assert!(console.is_empty(), "the page logged to the console:\n{}", console.join("\n"));

    let healthy = sb.run(&[
        "audit",
        "--tag",
        "app=healthy",
        "--region",
        "us-east-1",
        "--region",
        "us-west-2",
        "--format",
        "html",
    ]);
    healthy.assert_exit(0);
    assert_eq!(count(&healthy.stdout, "class=\"map\""), 2, "one map per region");
    assert!(healthy.stdout.contains("<g class=\"node\" data-kind=\"group\" data-id=\"healthy-web\">"));
    for red in ["class=\"node bad\"", "class=\"dep bad\""] {
        assert_eq!(count(&healthy.stdout, red), 0, "nothing red in the healthy twin");
    }
    assert!(healthy.stdout.contains("<p id=\"no-findings\">No findings.</p>"));
}
