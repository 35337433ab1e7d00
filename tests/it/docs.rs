//! The docs work as written: every YAML block in README.md and docs/ that is a scenario
//! (or part of one), a calendar (next to the repository's scenarios) and every playbook
//! example is checked with `firedrill validate`,
//! exactly as a reader would copy it. A block that is neither must say so with an
//! `<!-- not a scenario -->` line right before it, so a new kind of example cannot slip
//! through unchecked.

use std::path::{Path, PathBuf};

use crate::support::Sandbox;

/// A complete scenario that a fragment's top-level keys replace.
const BASE: &[(&str, &str)] = &[
    ("version", "version: 1\n"),
    ("name", "name: docs-example\n"),
    // So that a fragment that uses AWS (targets, `pages`, an alarm) has where to act.
    (
        "environment",
        "environment:\n  region: us-east-1\n  accounts: [\"123456789012\"]\n  opt_in_tag: { key: firedrill, value: allowed }\n",
    ),
    ("steady_state", "steady_state:\n  - name: web\n    tcp: { address: \"127.0.0.1:9\" }\n    every: 1s\n"),
    ("faults", "faults:\n  - name: f\n    duration: 1s\n    command: { inject: \"true\", revert: \"true\" }\n"),
    ("recovery", "recovery: { within: 10s }\n"),
];

/// A fenced block: the file and line it starts on, its info string and its text.
struct Block {
    at: String,
    lang: String,
    text: String,
    unchecked: bool,
}

fn blocks(file: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(lang) = lines[i].strip_prefix("```").filter(|l| !l.is_empty()) {
            let start = i;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && !lines[i].starts_with("```") {
                body.push_str(lines[i]);
                body.push('\n');
                i += 1;
            }
            let unchecked = start > 0 && lines[start - 1].trim() == "<!-- not a scenario -->";
            out.push(Block {
                at: format!("{}:{}", file.display(), start + 1),
                lang: lang.trim().into(),
                text: body,
                unchecked,
            });
        }
        i += 1;
    }
    out
}

/// The top-level keys of a YAML text (lines that start a mapping key at column 0).
fn top_keys(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

fn docs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    files.extend(more);
    files
}

/// Validates `scenario` (and the playbook it names) with the binary, from `scenarios/` as
/// in the repository (next to `playbooks/`, which holds the repository's playbooks); any
/// problem or warning fails, naming the block.
fn validate(sb: &Sandbox, at: &str, scenario: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["scenarios", "playbooks"] {
        std::fs::create_dir_all(sb.path().join(dir)).unwrap();
    }
    // The repository's scenarios too: a calendar example names them.
    for dir in ["playbooks", "scenarios"] {
        for p in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = p.unwrap().path();
            std::fs::copy(&p, sb.path().join(dir).join(p.file_name().unwrap())).unwrap();
        }
    }
    let file = sb.write("scenarios/example.yaml", scenario);
    let out = sb.run(&[std::ffi::OsStr::new("validate"), file.as_os_str()]);
    assert!(
        out.code() == Some(0) && !out.stderr.contains("warning"),
        "the example at {at} does not validate as written:\n{}\n--- checked as:\n{scenario}",
        out.stderr
    );
}

#[test]
fn every_scenario_and_playbook_example_in_the_docs_validates_as_written() {
    let sb = Sandbox::new();
    let mut checked = 0;
    for file in docs() {
        for b in blocks(&file) {
            if b.unchecked {
                continue;
            }
            match b.lang.as_str() {
                "yaml" => {
                    let keys = top_keys(&b.text);
                    let scenario = if keys.iter().any(|k| k == "version") {
                        b.text.clone()
                    } else {
                        // A fragment: the rest of a complete scenario around it.
                        let rest: String =
                            BASE.iter().filter(|(k, _)| !keys.iter().any(|x| x == k)).map(|(_, t)| *t).collect();
                        format!("{rest}{}", b.text)
                    };
                    validate(&sb, &b.at, &scenario);
                    checked += 1;
                }
                // A playbook: Markdown whose front-matter holds the steps.
                "markdown" if b.text.starts_with("---\n") => {
                    sb.write("scenarios/playbook.md", &b.text);
                    let base: String = BASE.iter().map(|(_, t)| *t).collect();
                    validate(&sb, &b.at, &format!("{base}playbook: playbook.md\n"));
                    checked += 1;
                }
                _ => {}
            }
        }
    }
    // The README's full scenario, its AWS and notification fragments and its playbook.
    assert!(checked >= 4, "only {checked} examples found: has the README changed its fences?");
}

/// The checker itself: a broken example, or a cut playbook text, fails it.
#[test]
fn the_docs_checker_catches_a_broken_example() {
    let sb = Sandbox::new();
    let base: String = BASE.iter().map(|(_, t)| *t).collect();
    let bad = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        validate(&sb, "test", &base.replace("within: 10s", "within: 0s"))
    }));
    assert!(bad.is_err(), "a zero objective must fail the check");
    std::fs::create_dir_all(sb.path().join("scenarios")).unwrap();
    sb.write("scenarios/playbook.md", "---\nsteps:\n  - name: tell\n    what: Post in #incidents\n    who: ic\n---\n");
    let cut = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        validate(&sb, "test", &format!("{base}playbook: playbook.md\n"))
    }));
    assert!(cut.is_err(), "a text cut by a YAML comment must fail the check (a warning)");
}
