//! What a new user runs to test firedrill on a fresh machine (README, "The two commands"):
//! `scripts/test` installs what the tests need (curl and Chromium with apt-get, the venv of
//! `requirements-test.txt` through `scripts/setup-venv`), then runs `cargo test`. These
//! tests keep that command the one CI runs, keep the Python pins in one file, and check
//! that a missing browser fails loudly, with how to install it or skip it on purpose.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::moto::venv;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The README's test command: the line of "The two commands" whose comment says "the tests".
fn readme_test_command() -> String {
    let readme = read("README.md");
    let section = readme.split("## The two commands").nth(1).expect("README has \"The two commands\"");
    let block = section.split("```").nth(1).expect("a code block under \"The two commands\"");
    let line = block
        .lines()
        .find(|l| l.split_once('#').is_some_and(|(_, comment)| comment.trim_start().starts_with("the tests")))
        .unwrap_or_else(|| panic!("no `COMMAND # the tests...` line in:\n{block}"));
    line.split('#').next().unwrap().trim().to_string()
}

/// Lines of a shell script that are not comments, trimmed.
fn commands(script: &str) -> Vec<String> {
    read(script).lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// CI runs exactly what the README tells a new user to run, and that is the script that
/// sets a fresh machine up before `cargo test --features failpoints`.
#[test]
fn ci_runs_the_readme_test_command() {
    let command = readme_test_command();
    assert_eq!(command, "scripts/test", "the README's test command changed: keep .ci/run and this test in step");
    assert!(is_executable(&root().join(&command)), "{command} is not an executable file");
    assert!(
        commands(".ci/run").contains(&command),
        ".ci/run does not run the README's test command `{command}` as it is"
    );
    let script = commands("scripts/test");
    assert!(script.iter().any(|l| l == "scripts/setup-venv"), "scripts/test does not make the venv");
    assert!(
        script.iter().any(|l| l.starts_with("exec cargo test --locked --features failpoints")),
        "scripts/test does not run the tests with fail points: {script:#?}"
    );
    // demo/aws.sh makes the same venv the same way.
    assert!(
        commands("demo/aws.sh").iter().any(|l| l == "scripts/setup-venv"),
        "demo/aws.sh does not use scripts/setup-venv"
    );
}

/// The Python pins live in requirements-test.txt alone: no script or document pins (or
/// pip-installs) moto or parliament on its own, so they cannot drift apart.
#[test]
fn python_pins_live_in_requirements_test_txt_alone() {
    let requirements = read("requirements-test.txt");
    let pins: Vec<(&str, &str)> = requirements
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once("==").unwrap_or_else(|| panic!("requirements-test.txt: not NAME==VERSION: {l}")))
        .collect();
    let names: Vec<&str> = pins.iter().map(|(n, _)| n.split('[').next().unwrap()).collect();
    assert_eq!(names, ["moto", "parliament"], "{requirements}");
    let mut files = vec![".ci/run".to_string(), "demo/aws.sh".into(), "README.md".into()];
    for dir in ["scripts", "docs"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let entry = entry.unwrap();
            if entry.path().is_file() {
                files.push(format!("{dir}/{}", entry.file_name().to_string_lossy()));
            }
        }
    }
    for file in &files {
        let text = read(file);
        for name in &names {
            assert!(!text.contains(&format!("{name}==")), "{file} pins {name} itself: pin it in requirements-test.txt");
            assert!(
                !text.contains(&format!("install -q '{name}")) && !text.contains(&format!("install '{name}")),
                "{file} pip-installs {name} itself: use scripts/setup-venv"
            );
        }
    }

    // The venv the tests run with holds exactly those versions...
    for (name, version) in &pins {
        let name = name.split('[').next().unwrap();
        let out = Command::new(venv().join("bin/python"))
            .args(["-c", &format!("import importlib.metadata as m; print(m.version('{name}'))")])
            .output()
            .expect("run the venv's python");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), *version, "{name} in {}", venv().display());
    }
    // ...so scripts/setup-venv finds nothing to do: it succeeds without pip (no index, no
    // wheels) and says nothing.
    let out = Command::new(root().join("scripts/setup-venv"))
        .env("FIREDRILL_MOTO_VENV", venv())
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", "")
        .output()
        .expect("run scripts/setup-venv");
    assert!(out.status.success(), "scripts/setup-venv: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "scripts/setup-venv wanted to change an up-to-date venv");
}

/// A Chromium that is not there stops `scripts/test` before any test runs, saying how to
/// install it and how to skip the browser test on purpose; one that apt-get cannot
/// install (no apt-get, or neither root nor sudo) names the package to install.
#[test]
fn scripts_test_stops_without_a_browser_and_says_what_to_do() {
    let out = Command::new(root().join("scripts/test"))
        .env("FIREDRILL_CHROMIUM", "/nonexistent/chromium")
        .env_remove("FIREDRILL_SKIP_BROWSER")
        .output()
        .expect("run scripts/test");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for needed in
        ["/nonexistent/chromium is missing", "sudo apt-get install chromium", "FIREDRILL_SKIP_BROWSER=1 scripts/test"]
    {
        assert!(stderr.contains(needed), "no {needed:?} in:\n{stderr}");
    }

    // apt-get out of reach: only bash, id and env on PATH.
    let bin = tempfile::tempdir().unwrap();
    for tool in ["bash", "id", "env"] {
        let found = ["/usr/bin", "/bin"].iter().map(|d| Path::new(d).join(tool)).find(|p| p.exists()).unwrap();
        std::os::unix::fs::symlink(found, bin.path().join(tool)).unwrap();
    }
    let out = Command::new(root().join("scripts/apt-install"))
        .args(["the tests (scripts/test)", "chromium"])
        .env("PATH", bin.path())
        .output()
        .expect("run scripts/apt-install");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the tests (scripts/test) needs chromium installed"), "{stderr}");
    assert!(stderr.contains("sudo apt-get install chromium"), "{stderr}");
}

/// The browser test itself, without a browser: it fails (never passes by skipping
/// silently) and says how to install Chromium or skip it; only FIREDRILL_SKIP_BROWSER=1
/// skips it, and says so.
#[test]
fn the_browser_test_fails_without_a_browser_unless_told_to_skip() {
    let run = |skip: Option<&str>| {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "html::report_html_of_a_real_game_day_renders_in_a_browser", "--nocapture"])
            .env("FIREDRILL_CHROMIUM", "/nonexistent/chromium")
            .env_remove("FIREDRILL_SKIP_BROWSER");
        if let Some(v) = skip {
            cmd.env("FIREDRILL_SKIP_BROWSER", v);
        }
        cmd.output().expect("run the browser test")
    };
    for skip in [None, Some("0"), Some("")] {
        let out = run(skip);
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(
            !out.status.success(),
            "FIREDRILL_SKIP_BROWSER={skip:?}: the browser test passed without a browser:\n{all}"
        );
        assert!(all.contains("1 failed"), "{all}");
        for needed in ["/nonexistent/chromium is missing", "scripts/test", "FIREDRILL_SKIP_BROWSER=1"] {
            assert!(all.contains(needed), "no {needed:?} in:\n{all}");
        }
    }
    let out = run(Some("1"));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{all}");
    assert!(all.contains("SKIPPED: /nonexistent/chromium is missing and FIREDRILL_SKIP_BROWSER=1"), "{all}");
    assert!(all.contains("1 passed"), "{all}");
}
