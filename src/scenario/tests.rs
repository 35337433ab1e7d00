//! Every error kind, with the exact line:column and field path it is reported at.

use std::path::Path;

use super::load_str;

const VALID: &str = r#"version: 1
name: local-web-outage
description: The web tier must come back within 5 s.
owner: sre@example.com
steady_state:
  - name: web
    http: { url: "http://127.0.0.1:8080/health", expect_status: [200], timeout: 1s }
    every: 200ms
faults:
  - name: break-web
    command:
      inject: "curl -fsS -X POST http://127.0.0.1:8080/break"
      revert: "curl -fsS -X POST http://127.0.0.1:8080/fix"
      timeout: 10s
    duration: 3s
abort:
  - probe: web
    failing_for: 10s
  - max_duration: 2m
recovery:
  within: 5s
  stable_for: 1s
  settle_timeout: 30s
"#;

/// Errors as `LINE:COL: path: message`.
fn errors(text: &str) -> Vec<String> {
    match load_str(text, Path::new(".")) {
        Ok(_) => vec![],
        Err(es) => es
            .into_iter()
            .map(|(loc, path, msg)| {
                let l = loc.map(|l| format!("{}:{}", l.line, l.col)).unwrap_or_else(|| "-".into());
                format!("{l}: {path}: {msg}")
            })
            .collect(),
    }
}

fn with(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "test bug: {from:?} not in VALID");
    VALID.replacen(from, to, 1)
}

#[test]
fn the_issue_example_is_valid() {
    let (s, _) = load_str(VALID, Path::new(".")).unwrap();
    assert_eq!(s.steady_state[0].every.as_millis(), 200);
    assert_eq!(s.faults[0].duration.as_millis(), 3000);
    assert_eq!(s.abort.len(), 2);
}

#[test]
fn bad_duration() {
    assert_eq!(
        errors(&with("duration: 3s", "duration: ninety")),
        ["15:15: faults[0].duration: expected a duration like \"90s\", found \"ninety\""]
    );
}

#[test]
fn zero_and_negative_durations() {
    assert_eq!(
        errors(&with("every: 200ms", "every: 0s")),
        ["8:12: steady_state[0].every: durations must be greater than zero, found \"0s\""]
    );
    assert_eq!(
        errors(&with("within: 5s", "within: -5s")),
        ["21:11: recovery.within: durations must be positive, found \"-5s\""]
    );
    assert_eq!(
        errors(&with("duration: 3s", "duration: 3")),
        ["15:15: faults[0].duration: expected a duration with a unit like \"90s\", found the bare number 3"]
    );
}

#[test]
fn unknown_fields_suggest_the_right_one() {
    assert_eq!(
        errors(&with("    every: 200ms", "    evry: 200ms")),
        ["8:5: steady_state[0].evry: unknown field `evry`, did you mean `every`?"]
    );
    assert_eq!(errors(&with("owner:", "ownr:")), ["4:1: ownr: unknown field `ownr`, did you mean `owner`?"]);
}

#[test]
fn unknown_probe_kind() {
    let e = errors(&with("    http: {", "    smtp: {"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("7:5: steady_state[0].smtp: unknown field `smtp`"), "{e:?}");
}

#[test]
fn two_kind_keys_and_no_kind() {
    let two = with("    every: 200ms", "    every: 200ms\n    tcp: { address: \"127.0.0.1:8080\" }");
    assert_eq!(
        errors(&two),
        ["6:5: steady_state[0]: probe `web` has 2 kind keys (`http`, `tcp`); a probe has exactly one"]
    );
    let none =
        VALID.replace("    http: { url: \"http://127.0.0.1:8080/health\", expect_status: [200], timeout: 1s }\n", "");
    assert_eq!(
        errors(&none),
        [
            "6:5: steady_state[0]: probe `web` has no kind: add one of `http`, `tcp`, `command`, `cloudwatch_alarm`, `asg_capacity`, `ec2_running`, `rds_status`"
        ]
    );
}

#[test]
fn after_naming_a_missing_fault_and_a_cycle() {
    let missing = with("    duration: 3s", "    duration: 3s\n    after: brek-web2");
    assert_eq!(errors(&missing), ["16:12: faults[0].after[0]: no fault named `brek-web2`; did you mean `break-web`?"]);
    let cycle = format!(
        "{}  - name: a\n    after: b\n    duration: 1s\n    command: {{ inject: x, revert: y }}\n  - name: b\n    after: [a]\n    duration: 1s\n    command: {{ inject: x, revert: y }}\n",
        VALID.split("abort:").next().unwrap()
    ) + "abort:"
        + VALID.split("abort:").nth(1).unwrap();
    assert_eq!(errors(&cycle), ["17:12: faults[1].after: `after` forms a cycle: a -> b -> a"]);
}

#[test]
fn abort_rule_naming_a_missing_probe() {
    assert_eq!(
        errors(&with("  - probe: web", "  - probe: wbe")),
        ["17:12: abort[0].probe: no probe named `wbe`; did you mean `web`?"]
    );
}

#[test]
fn stable_for_not_shorter_than_settle_timeout() {
    assert_eq!(
        errors(&with("stable_for: 1s", "stable_for: 30s")),
        [
            "22:15: recovery.stable_for: stable_for (30s) must be shorter than settle_timeout (30s), or recovery can never be observed"
        ]
    );
}

#[test]
fn duplicate_names() {
    let dup = with("faults:\n", "  - name: web\n    tcp: { address: \"127.0.0.1:1\" }\n    every: 1s\nfaults:\n");
    assert_eq!(
        errors(&dup),
        ["9:11: steady_state[1].name: duplicate probe name `web` (first used by steady_state[0])"]
    );
}

#[test]
fn empty_steady_state() {
    let text = VALID.replace(
        "  - name: web\n    http: { url: \"http://127.0.0.1:8080/health\", expect_status: [200], timeout: 1s }\n    every: 200ms\n",
        "",
    );
    let e = errors(&text.replace("steady_state:\n", "steady_state: []\n"));
    assert!(
        e.contains(
            &"5:15: steady_state: the steady state is empty: name at least one probe that defines \"healthy\""
                .to_string()
        ),
        "{e:?}"
    );
}

#[test]
fn every_broken_part_is_reported_at_once() {
    let text = with("duration: 3s", "duration: ninety")
        .replace("every: 200ms", "every: soon")
        .replace("within: 5s", "within: later");
    let e = errors(&text);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].starts_with("8:12: steady_state[0].every"));
    assert!(e[1].starts_with("15:15: faults[0].duration"));
    assert!(e[2].starts_with("21:11: recovery.within"));
}

/// A file with a broken field in one part and bad values elsewhere: every problem comes
/// out in one pass, in file order — the unknown field, the bare number, and the checks of
/// the parts that did load (a bad state next to the unknown field, a misnamed target, the
/// scenario's name) — and none that only follows from what could not load (the probe
/// left out leaves an empty steady state, which is not reported).
#[test]
fn every_problem_of_a_file_comes_out_in_one_pass() {
    let text = r#"version: 1
name: ebs detach
environment:
  region: us-east-1
  accounts: [123456789012]
  opt_in_tag: { key: firedrill, value: allowed }
targets:
  data:
    type: ec2:volume
    tags: { role: data }
    filters: { az: us-east-1a, state: attached }
steady_state:
  - name: web
    http: { url: "http://127.0.0.1:8080/health" }
    every: 5
faults:
  - name: detach
    ebs_detach_volumes: { target: dta }
    duration: 2m
abort:
  - probe: web
    failing_for: 1m
recovery:
  within: 5m
"#;
    assert_eq!(
        errors(text),
        [
            "2:7: name: invalid name \"ebs detach\": names use letters, digits, `-`, `_` and `.` (at most 64)",
            "11:16: targets.data.filters.az: unknown field `az`; expected one of `availability_zone`, `state`",
            "11:39: targets.data.filters.state: unknown ec2:volume state \"attached\"; expected one of `available`, `in-use`",
            "15:12: steady_state[0].every: expected a duration with a unit like \"90s\", found the bare number 5",
            "18:35: faults[0].ebs_detach_volumes.target: no target named `dta`; did you mean `data`?",
        ]
    );
    // Two unknown fields in one mapping are both reported, with what else is wrong.
    let two = text.replace("filters: { az: us-east-1a, state: attached }", "filters: { az: us-east-1a, zone: b }");
    let e = errors(&two);
    assert!(e.iter().any(|l| l.contains("filters.az: unknown field `az`")), "{e:?}");
    assert!(e.iter().any(|l| l.contains("filters.zone: unknown field `zone`")), "{e:?}");
    assert!(e.iter().any(|l| l.contains("no target named `dta`")), "{e:?}");
}

#[test]
fn missing_required_field() {
    let text = VALID.replace("name: local-web-outage\n", "");
    assert_eq!(errors(&text), ["1:1: : missing field `name`"]);
}

#[test]
fn syntax_errors_and_wrong_shapes() {
    let e = errors("version: 1\nname: [unclosed\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("3:1: : ") || e[0].starts_with("2:"), "{e:?}");
    assert_eq!(errors(""), ["1:1: : the file is empty; a scenario starts with `version: 1`"]);
    let e = errors("- a\n- b\n");
    assert!(e[0].contains("a scenario is a mapping"), "{e:?}");
    let e = errors(&with("    command:\n      inject", "    command: [1]\n    x:\n      inject"));
    assert!(e.iter().any(|l| l.starts_with("11:14: faults[0].command: expected a mapping")), "{e:?}");
}

#[test]
fn duplicate_keys_are_rejected() {
    let e = errors(&with("owner: sre@example.com", "owner: a\nowner: b"));
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("5:"), "{e:?}");
}

#[test]
fn http_probe_checks() {
    let e = errors(&with("\"http://127.0.0.1:8080/health\"", "\"ftp://x/\", body_regex: \"(\", method: \"GE T\""));
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e.iter().any(|l| l.contains("steady_state[0].http.url: expected an http:// or https:// URL")));
    assert!(e.iter().any(|l| l.contains("steady_state[0].http.body_regex: invalid regular expression")));
    assert!(e.iter().any(|l| l.contains("steady_state[0].http.method: invalid HTTP method")));
}

/// A webhook may not wait long on an endpoint: `timeout` is capped (a hook that takes
/// longer is down, and the end of the run must not wait on it).
#[test]
fn a_webhook_timeout_above_the_cap_is_an_error_with_its_position() {
    let text = format!(
        "{VALID}notify:\n  - webhook: {{ url: \"https://hooks.example.com/x\", timeout: 1h }}\n    on: [end]\n"
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("25:61: "), "{e:?}");
    assert!(e[0].contains("notify[0].webhook.timeout: at most 30s per attempt"), "{e:?}");
    let ok = text.replace("timeout: 1h", "timeout: 30s");
    assert_eq!(errors(&ok), Vec::<String>::new());
}

#[test]
fn abort_rule_shapes() {
    let e = errors(&with("    failing_for: 10s", "    failing_for: 10s\n    consecutive_failures: 3"));
    assert_eq!(e, ["17:5: abort[0]: give `failing_for` or `consecutive_failures`, not both"]);
    let e = errors(&with("    failing_for: 10s", "    consecutive_failures: 0"));
    assert_eq!(e, ["18:27: abort[0].consecutive_failures: must be at least 1"]);
}

#[test]
fn schema_lists_every_top_level_field() {
    let schema = super::json_schema();
    let props: Vec<&str> = schema["properties"].as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut expected = super::model::SCENARIO_FIELDS.to_vec();
    expected.sort();
    let mut props = props;
    props.sort();
    assert_eq!(props, expected);
}

/// Arbitrary bytes never panic the loader.
#[test]
fn garbage_never_panics() {
    let samples = [
        "\u{0}",
        "{",
        "[",
        "- - - -",
        "a: &x [*x]",
        "version: 1\nfaults: {a: b}",
        ": :",
        "!!binary x",
        "version: 99999999999999999999999",
        "steady_state:\n  - ~\n",
        "faults:\n  - name: 1\n",
        "? [a]\n: b",
    ];
    for s in samples {
        let _ = load_str(s, Path::new("."));
    }
    for cut in 0..VALID.len() {
        if VALID.is_char_boundary(cut) {
            let _ = load_str(&VALID[..cut], Path::new("."));
        }
    }
}

/// The scenario half of the fuzz corpus kept in the repo (`fuzz/seeds/`: the shipped
/// files plus inputs the fuzzer found interesting, and any input that once crashed) loads
/// or fails cleanly; `cargo test` replays it without a nightly toolchain. The playbook
/// half is replayed by the playbook module's tests.
#[test]
fn fuzz_corpus_replays_without_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut seen = 0;
    for entry in std::fs::read_dir(root.join("scenario")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            drop(load_str(text, Path::new("/nonexistent")));
            seen += 1;
        }
    }
    assert!(seen >= 10, "the corpus is in fuzz/seeds: {seen} inputs");
}

#[test]
fn committed_schema_is_current() {
    let committed = include_str!("../../schema/scenario.schema.json");
    let committed: serde_json::Value = serde_json::from_str(committed).unwrap();
    assert_eq!(
        committed,
        super::json_schema(),
        "schema/scenario.schema.json is stale: run `cargo run -- schema > schema/scenario.schema.json`"
    );
}

const AWS: &str = r#"version: 1
name: az-failure
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: { key: firedrill, value: allowed }
targets:
  web:
    type: ec2:instance
    tags: { app: shop }
    filters: { availability_zone: us-east-1a, state: running }
    select: { count: 2 }
    max: 20
  subnets:
    type: ec2:subnet
    tags: { app: shop }
steady_state:
  - name: alarm
    cloudwatch_alarm: { alarm: shop-5xx }
    every: 5s
faults:
  - name: lose-a
    az_outage: { zone: us-east-1a, targets: [web, subnets], network: true, stop_instances: true }
    duration: 1m
abort:
  - alarm: shop-5xx
recovery:
  within: 2m
  stable_for: 10s
"#;

#[test]
fn an_aws_scenario_is_valid() {
    assert_eq!(errors(AWS), Vec::<String>::new());
}

/// An unquoted account id is the id it obviously is; one whose leading zeros YAML
/// dropped is refused at its position with the advice to quote it.
#[test]
fn an_unquoted_account_id_is_read_as_written_or_told_to_be_quoted() {
    assert_eq!(errors(&AWS.replace("[\"123456789012\"]", "[123456789012]")), Vec::<String>::new());
    assert_eq!(
        errors(&AWS.replace("[\"123456789012\"]", "[12345678901]")),
        [
            "5:14: environment.accounts[0]: expected a 12-digit AWS account id, found \"12345678901\" (quote it so YAML keeps leading zeros)"
        ]
    );
    // Written with its leading zero, YAML still reads a number (without the zero): the
    // same advice, not a type error.
    assert_eq!(
        errors(&AWS.replace("[\"123456789012\"]", "[012345678901]")),
        [
            "5:14: environment.accounts[0]: expected a 12-digit AWS account id, found \"12345678901\" (quote it so YAML keeps leading zeros)"
        ]
    );
    assert_eq!(
        errors(&AWS.replace("[\"123456789012\"]", "[1.5]")),
        [
            "5:14: environment.accounts[0]: expected a 12-digit AWS account id, found \"1.5\" (quote it so YAML keeps leading zeros)"
        ]
    );
}

#[test]
fn a_target_exclude_is_checked_with_positions() {
    let ok = AWS.replace("    max: 20\n", "    max: 20\n    exclude: { ids: [i-0stray], tags: { role: bastion } }\n");
    assert_eq!(errors(&ok), Vec::<String>::new());
    let empty = AWS.replace("    max: 20\n", "    max: 20\n    exclude: {}\n");
    assert_eq!(errors(&empty), ["14:14: targets.web.exclude: give `ids`, `tags` or both (or remove `exclude`)"]);
    let both = AWS
        .replace("    tags: { app: shop }\n    filters", "    ids: [i-1]\n    filters")
        .replace("    max: 20\n", "    max: 20\n    exclude: { ids: [i-1] }\n");
    let e = errors(&both);
    assert!(e.iter().any(|p| p.ends_with("targets.web.exclude.ids[0]: `i-1` is both in `ids` and excluded: say which you mean")), "{e:?}");
    let typo = AWS.replace("    max: 20\n", "    max: 20\n    exclude: { id: [i-1] }\n");
    assert!(errors(&typo)[0].contains("targets.web.exclude"), "{:?}", errors(&typo));
}

#[test]
fn aws_parts_are_checked_with_positions() {
    let bad = AWS
        .replace("region: us-east-1", "region: nowhere")
        .replace("\"123456789012\"", "\"1234\"")
        .replace("type: ec2:subnet", "type: ec2:volume")
        .replace("select: { count: 2 }", "select: { count: 2, percent: 5 }")
        .replace("max: 20", "max: 0")
        .replace("state: running", "state: sleeping");
    assert_eq!(
        errors(&bad),
        [
            "4:11: environment.region: expected an AWS region like `us-east-1`, found \"nowhere\"",
            "5:14: environment.accounts[0]: expected a 12-digit AWS account id, found \"1234\" (quote it so YAML keeps leading zeros)",
            "12:13: targets.web.select: give exactly one of `count` or `percent`",
            "13:10: targets.web.max: must be at least 1",
            "11:54: targets.web.filters.state: unknown ec2:instance state \"sleeping\"; expected one of `pending`, `running`, `stopping`, `stopped`",
            "23:51: faults[0].az_outage.targets[1]: target `subnets` is ec2:volume; az_outage acts on `ec2:subnet` or `ec2:instance` or `autoscaling:group` or `rds:cluster` or `rds:instance`",
            "23:70: faults[0].az_outage.network: `network` needs a target of type `ec2:subnet` in `targets`",
        ]
    );
}

#[test]
fn aws_faults_need_environment_known_targets_and_consent() {
    let no_env = AWS.replace(
        "environment:\n  region: us-east-1\n  accounts: [\"123456789012\"]\n  opt_in_tag: { key: firedrill, value: allowed }\n",
        "",
    );
    assert!(errors(&no_env)[0].contains("environment: this scenario uses AWS"), "{:?}", errors(&no_env));
    let typo = AWS.replace("targets: [web, subnets]", "targets: [webb, subnets]");
    assert_eq!(
        errors(&typo),
        [
            "23:46: faults[0].az_outage.targets[0]: no target named `webb`; did you mean `web`?",
            "23:93: faults[0].az_outage.stop_instances: `stop_instances` needs a target of type `ec2:instance` in `targets`",
        ]
    );
    let terminate = AWS.replace(
        "az_outage: { zone: us-east-1a, targets: [web, subnets], network: true, stop_instances: true }",
        "ec2_terminate_instances: { target: web }",
    );
    assert_eq!(
        errors(&terminate),
        [
            "23:30: faults[0].ec2_terminate_instances.irreversible: terminated instances cannot be brought back: set `irreversible: true` to say you mean it"
        ]
    );
    let zone = AWS.replace("zone: us-east-1a, targets", "zone: eu-west-1a, targets");
    assert_eq!(
        errors(&zone),
        ["23:24: faults[0].az_outage.zone: zone \"eu-west-1a\" is not in the scenario's region us-east-1"]
    );
    let untyped = AWS.replace("type: ec2:subnet", "type: ec2:bucket");
    assert!(errors(&untyped)[0].starts_with("15:11: targets.subnets.type: "), "{:?}", errors(&untyped));
}

/// `LINE:COL` of the first occurrence of `needle` in `text`.
fn pos(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or_else(|| panic!("test bug: {needle:?} not in the text"));
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}")
}

/// Every duration field is bounded (7 days) where it is written, including values that
/// do not fit a `Duration` at all.
#[test]
fn durations_over_a_week_are_refused_at_their_field() {
    let cases = [
        ("every: 200ms", "every: ", "steady_state[0].every"),
        ("timeout: 1s }", "timeout: ", "steady_state[0].http.timeout"),
        ("timeout: 10s", "timeout: ", "faults[0].command.timeout"),
        ("duration: 3s", "duration: ", "faults[0].duration"),
        ("failing_for: 10s", "failing_for: ", "abort[0].failing_for"),
        ("max_duration: 2m", "max_duration: ", "abort[1].max_duration"),
        ("within: 5s", "within: ", "recovery.within"),
        ("stable_for: 1s", "stable_for: ", "recovery.stable_for"),
        ("settle_timeout: 30s", "settle_timeout: ", "recovery.settle_timeout"),
    ];
    for (from, key, path) in cases {
        for huge in ["18446744073709551615s", "300000000000y", "8d"] {
            let to = from.replacen(from.split_once(": ").unwrap().1.trim_end_matches(" }"), huge, 1);
            let text = with(from, &to);
            let at = pos(&text, &format!("{key}{huge}"));
            let (line, col) = at.split_once(':').unwrap();
            let col: usize = col.parse::<usize>().unwrap() + key.len();
            assert_eq!(
                errors(&text),
                [format!("{line}:{col}: {path}: durations are at most 7 days, found \"{huge}\"")],
                "{from} -> {to}"
            );
        }
    }
    // A week is the limit, inclusive.
    assert_eq!(errors(&with("settle_timeout: 30s", "settle_timeout: 7d")), Vec::<String>::new());
}

/// `every: 1ns` would fork a shell hundreds of times a second; timeouts under 10ms can
/// never be met.
#[test]
fn intervals_and_timeouts_have_lower_bounds() {
    assert_eq!(
        errors(&with("every: 200ms", "every: 1ns")),
        [
            "8:12: steady_state[0].every: `every` is at least 100ms, found 1ns: a probe samples at most ten times a second"
        ]
    );
    assert_eq!(errors(&with("every: 200ms", "every: 100ms")), Vec::<String>::new());
    let e = errors(&with("timeout: 1s }", "timeout: 9ms }").replace("timeout: 10s", "timeout: 1ms"));
    assert_eq!(
        e,
        [
            "7:81: steady_state[0].http.timeout: timeouts are at least 10ms, found 9ms",
            "14:16: faults[0].command.timeout: timeouts are at least 10ms, found 1ms",
        ]
    );
}

/// What would fail later (a NUL in a shell command, a header HTTP cannot send, an exit
/// status no process has) fails at `validate`, where it is written.
#[test]
fn what_would_fail_at_run_time_fails_validation() {
    let text = with("inject: \"curl", "inject: \"true\\0; curl")
        .replace("timeout: 1s }", "timeout: 1s, headers: { X-Token: \"a\\nb\", \"bad name\": x, Ok: \"\\0\" } }")
        + "notify:\n  - webhook: { url: \"https://hooks.example.com/x\", headers: { A: \"b\\0\" }, timeout: 5ms }\n    on: [start]\n";
    assert_eq!(
        errors(&text),
        [
            format!(
                "{}: steady_state[0].http.headers.Ok: invalid value for header `Ok`: header values cannot hold control characters (newlines, NUL)",
                pos(&text, "\"\\0\" }")
            ),
            format!(
                "{}: steady_state[0].http.headers.X-Token: invalid value for header `X-Token`: header values cannot hold control characters (newlines, NUL)",
                pos(&text, "\"a\\nb\"")
            ),
            format!(
                "{}: steady_state[0].http.headers.bad name: invalid header name \"bad name\": a header name is letters, digits and `!#$%&'*+-.^_`|~`",
                pos(&text, "x, Ok")
            ),
            format!(
                "{}: faults[0].command.inject: the command contains a NUL byte (`\\0`), which no shell command can hold",
                pos(&text, "\"true")
            ),
            format!(
                "{}: notify[0].webhook.headers.A: invalid value for header `A`: header values cannot hold control characters (newlines, NUL)",
                pos(&text, "\"b\\0\"")
            ),
            format!("{}: notify[0].webhook.timeout: timeouts are at least 10ms, found 5ms", pos(&text, "5ms")),
        ]
    );
    let probe = "    http: { url: \"http://127.0.0.1:8080/health\", expect_status: [200], timeout: 1s }";
    for (code, found) in [("300", "300"), ("-1", "-1"), ("1.5", "1.5"), ("\"0\"", "\"0\"")] {
        let text = with(probe, &format!("    command: {{ run: \"true\", expect_exit: {code} }}"));
        assert_eq!(
            errors(&text),
            [format!(
                "7:42: steady_state[0].command.expect_exit: expected a whole number from 0 to 255, found {found}"
            )]
        );
    }
    let text = with(probe, "    command: { run: \"pg_isready\\0\" }");
    assert_eq!(
        errors(&text),
        ["7:21: steady_state[0].command.run: the command contains a NUL byte (`\\0`), which no shell command can hold"]
    );
}

/// Parser and type errors speak of the file, never of the library that read it.
#[test]
fn parser_errors_speak_the_users_terms() {
    let e = errors(&with("owner: sre@example.com", "owner: a\nowner: b"));
    assert_eq!(e, ["5:1: : key `owner` appears twice in the same mapping"]);
    let e = errors(&with("    failing_for: 10s", "    consecutive_failures: -1"));
    assert_eq!(e, ["18:27: abort[0].consecutive_failures: expected a whole number from 0 to 4294967295, found -1"]);
    let e = errors(&with("    failing_for: 10s", "    consecutive_failures: [1]"));
    assert_eq!(e, ["18:27: abort[0].consecutive_failures: expected a whole number from 0 to 4294967295, found a list"]);
    let e = errors("version: 99999999999\n");
    assert_eq!(e, ["1:10: version: expected a whole number from 0 to 4294967295, found 99999999999"]);

    let wide = format!("version: 1\nx: [{}]\n", "0,".repeat(250_001));
    let e = errors(&wide);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].ends_with(": : the file is too large or too deeply nested: more than 250000 YAML nodes"), "{e:?}");
    let deep = format!("version: 1\nx: {}{}\n", "[".repeat(100), "]".repeat(100));
    let e = errors(&deep);
    assert_eq!(e, ["2:35: : the file is nested too deeply: more than 32 levels of lists and mappings"]);
    for internal in ["budget", "Budget", "Options", "Policy", "u32", "{ "] {
        assert!(!e[0].contains(internal), "{e:?}");
    }
}

/// The file a user names is read only if it is a regular file, and never beyond the cap,
/// whatever its size claims; a playbook that is not a file says what it is.
#[test]
fn scenario_and_playbook_files_must_be_regular_and_small() {
    let msg = |p: &Path| match super::load(p) {
        Ok(_) => panic!("{} loaded", p.display()),
        Err(super::Invalid(d)) => d.iter().map(ToString::to_string).collect::<Vec<_>>(),
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(msg(Path::new("/dev/zero")), ["/dev/zero: a device, not a scenario file"]);
    assert_eq!(msg(d), [format!("{}: a directory, not a scenario file", d.display())]);
    let fifo = d.join("fifo.yaml");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (tx, rx) = std::sync::mpsc::channel();
    let f = fifo.clone();
    std::thread::spawn(move || tx.send(msg(&f)).unwrap());
    let e = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("loading a FIFO blocked");
    assert_eq!(e, [format!("{}: a named pipe (FIFO), not a scenario file", fifo.display())]);
    let big = d.join("big.yaml");
    std::fs::write(&big, format!("{VALID}#{}\n", " ".repeat(1 << 20))).unwrap();
    assert_eq!(
        msg(&big),
        [format!("{}: the file is larger than 1048576 bytes, the most a scenario may be", big.display())]
    );
    assert_eq!(msg(&d.join("none.yaml")), [format!("{}: file not found", d.join("none.yaml").display())]);

    // Playbooks: a FIFO or a directory is named for what it is, and size is capped too.
    let scenario = d.join("s.yaml");
    let line = VALID.lines().count() + 1;
    for (name, what) in
        [("fifo.yaml", "is a named pipe (FIFO), not a regular file"), (".", "is a directory, not a regular file")]
    {
        std::fs::write(&scenario, format!("{VALID}playbook: {name}\n")).unwrap();
        assert_eq!(
            msg(&scenario),
            [format!("{}:{line}:11: playbook: playbook {} {what}", scenario.display(), d.join(name).display())]
        );
    }
    // (A playbook over the size cap: `gameday::prepare::tests`, where the playbook is read.)
}

/// A capacity probe whose minimum is 0 passes whatever happens.
#[test]
fn capacity_probes_need_a_minimum_of_one() {
    let asg = AWS.replace("cloudwatch_alarm: { alarm: shop-5xx }", "asg_capacity: { group: web, min_healthy: 0 }");
    assert_eq!(
        errors(&asg),
        [
            "19:46: steady_state[0].asg_capacity.min_healthy: must be at least 1: a probe that cannot fail says nothing about health"
        ]
    );
    let ec2 = AWS.replace("cloudwatch_alarm: { alarm: shop-5xx }", "ec2_running: { tags: { app: shop }, min: 0 }");
    assert_eq!(
        errors(&ec2),
        [
            "19:46: steady_state[0].ec2_running.min: must be at least 1: a probe that cannot fail says nothing about health"
        ]
    );
}

/// The two kinds of objective: `recover` (the default, with `within`; every scenario
/// written before `objective` existed means it) and `sustain` (no `within`). Each shape
/// error is reported at its field, in the user's words.
#[test]
fn recovery_objective_is_recover_within_or_sustain() {
    use super::model::Objective;
    let (s, _) = load_str(VALID, Path::new(".")).unwrap();
    assert_eq!(s.recovery.objective, Objective::Recover, "no `objective`: recover, as before");
    assert_eq!(s.recovery.within(), std::time::Duration::from_secs(5));
    assert_eq!(s.recovery.describe(), "recover within 5s");

    let explicit = with("  within: 5s", "  objective: recover\n  within: 5s");
    assert_eq!(load_str(&explicit, Path::new(".")).unwrap().0.recovery.objective, Objective::Recover);

    let sustain = with("  within: 5s", "  objective: sustain");
    let (s, _) = load_str(&sustain, Path::new(".")).unwrap();
    assert_eq!(s.recovery.objective, Objective::Sustain);
    assert_eq!(s.recovery.within(), std::time::Duration::ZERO);
    assert_eq!(s.recovery.describe(), "sustain: no probe may fail during the run");

    assert_eq!(
        errors(&with("  within: 5s\n", "")),
        [
            "21:3: recovery: missing `within`: how soon recovery must come (e.g. `within: 90s`); or `objective: sustain` when no probe may fail at all"
        ]
    );
    assert_eq!(
        errors(&with("  within: 5s", "  objective: sustain\n  within: 5s")),
        [
            "22:11: recovery.within: `objective: sustain` takes no `within` (no probe may fail at all); remove it, or use `objective: recover`"
        ]
    );
    let e = errors(&with("  within: 5s", "  objective: survive"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("21:14: recovery.objective: ") && e[0].contains("`recover`, `sustain`"), "{e:?}");
}

/// Every shipped scenario is valid, and each says which kind of objective it has: the
/// faults that should hurt `recover`, the ones the shop should absorb `sustain`.
#[test]
fn shipped_scenarios_say_their_objective() {
    use super::model::Objective;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let expected = [
        ("az-failure", Objective::Recover),
        ("credential-revocation", Objective::Sustain),
        ("ebs-detach", Objective::Sustain),
        ("local-web-outage", Objective::Recover),
        ("rds-failover", Objective::Recover),
    ];
    for (name, objective) in expected {
        let loaded = super::load(&dir.join(format!("{name}.yaml"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(loaded.scenario.recovery.objective, objective, "{name}");
    }
}

/// `pages` is optional (every existing scenario stays valid); it needs `environment`; its
/// alarm list, when given, is not empty, names each alarm once and names none empty, each
/// problem at its line and column.
#[test]
fn pages_is_checked_at_its_field_path() {
    let aws = "environment:\n  region: us-east-1\n  accounts: [\"123456789012\"]\n  opt_in_tag: { key: firedrill, value: allowed }\n";
    let with = |pages: &str| format!("{VALID}{aws}{pages}");
    assert!(errors(VALID).is_empty());
    assert!(errors(&with("pages: {}\n")).is_empty(), "every alarm with actions, reported only");
    assert!(errors(&with("pages: { max_pages: 0 }\n")).is_empty());
    assert!(errors(&with("pages:\n  alarms: [db-page, web-page]\n  max_pages: 1\n")).is_empty());
    assert_eq!(
        errors(&with("pages:\n  alarms: [db-page, \"\", db-page]\n")),
        [
            "29:21: pages.alarms[1]: the alarm name is empty",
            "29:25: pages.alarms[2]: `db-page` is listed again (first on line 29): each alarm is watched once; was another alarm meant?"
        ]
    );
    assert_eq!(
        errors(&with("pages:\n  alarms: []\n")),
        [
            "29:11: pages.alarms: the list is empty: name the alarms that page, or leave `alarms` out to watch every alarm with actions in the account and region"
        ]
    );
    let e = errors(&with("pages: { max_pages: -1 }\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("28:") && e[0].contains("max_pages"), "{e:?}");
    let e = errors(&with("pages: { alarm: db-page }\n"));
    assert!(e[0].contains("unknown field `alarm`"), "{e:?}");
    // Without an environment, pages cannot be read anywhere.
    let e = errors(&format!("{VALID}pages: {{}}\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("environment") && e[0].contains("this scenario uses AWS"), "{e:?}");
}

/// `safety.dead_mans_switch`: the role ARN (well-formed, in a declared account and the
/// region's partition), the grace and the group, each at its position.
#[test]
fn the_dead_mans_switch_is_checked_with_positions() {
    let switch = |role: &str, grace: &str, group: &str| {
        format!("{AWS}safety:\n  dead_mans_switch:\n    role_arn: {role}\n    grace: {grace}\n{group}")
    };
    let good = switch("arn:aws:iam::123456789012:role/firedrill-dms", "10m", "    group: drills\n");
    assert_eq!(errors(&good), Vec::<String>::new());
    let loaded = load_str(&good, Path::new(".")).unwrap().0;
    let d = loaded.safety.unwrap().dead_mans_switch.unwrap();
    assert_eq!((d.group(), d.grace.0.as_secs()), ("drills", 600));
    assert_eq!(errors(&switch("arn:aws:iam::123456789012:role/x", "2m", "")), Vec::<String>::new());

    assert_eq!(
        errors(&switch("arn:aws:iam::999999999999:role/x", "30s", "    group: \"a/b\"\n")),
        [
            "32:15: safety.dead_mans_switch.role_arn: \"arn:aws:iam::999999999999:role/x\" is in account 999999999999, which is not one of the scenario's accounts (123456789012)",
            "33:12: safety.dead_mans_switch.grace: `grace` is at least 1m, found 30s: EventBridge Scheduler fires no finer than the minute",
            "34:12: safety.dead_mans_switch.group: invalid schedule group \"a/b\": letters, digits, `-`, `_` and `.` (at most 64)",
        ]
    );
    assert_eq!(
        errors(&switch("arn:aws:iam::123456789012:user/x", "10m", "")),
        [
            "32:15: safety.dead_mans_switch.role_arn: expected an IAM role ARN like `arn:aws:iam::123456789012:role/firedrill-dead-mans-switch`, found \"arn:aws:iam::123456789012:user/x\""
        ]
    );
    assert_eq!(
        errors(&switch("arn:aws-cn:iam::123456789012:role/x", "10m", "")),
        [
            "32:15: safety.dead_mans_switch.role_arn: \"arn:aws-cn:iam::123456789012:role/x\" is in partition `aws-cn`, but the scenario's region us-east-1 is in `aws`"
        ]
    );
    // Unknown keys are refused like anywhere else.
    let e = errors(&format!("{AWS}safety:\n  dead_man_switch: {{}}\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("31:3: safety"), "{e:?}");
}

/// An AWS scenario whose lists and regions are filled in by `fill`.
fn aws_scenario(region: &str, accounts: &str, ids: &str, exclude: &str, faults: &str) -> String {
    format!(
        "version: 1\nname: repeats\nenvironment:\n  region: {region}\n  accounts: {accounts}\n  opt_in_tag: {{ key: firedrill, value: allowed }}\n\
         targets:\n  app:\n    type: iam:role\n    ids: {ids}\n    exclude: {{ ids: {exclude} }}\n  net:\n    type: ec2:subnet\n    tags: {{ tier: web }}\n\
         steady_state:\n  - name: ok\n    command: {{ run: \"true\" }}\n    every: 1s\n\
         faults:\n{faults}recovery:\n  within: 5s\n"
    )
}

/// Warnings as `LINE:COL: path: message` (and no errors).
fn warnings(text: &str) -> Vec<String> {
    match super::load::check_str(text, Path::new(".")) {
        Ok((_, _, w)) => w
            .into_iter()
            .map(|(loc, path, msg)| {
                let l = loc.map(|l| format!("{}:{}", l.line, l.col)).unwrap_or_else(|| "-".into());
                format!("{l}: {path}: {msg}")
            })
            .collect(),
        Err(e) => panic!("not valid: {e:?}"),
    }
}

/// A value listed twice is reported at the repeat, in every list: a warning where the
/// repeat changes nothing (accounts, ids, exclusions, actions and exceptions compared as
/// IAM does, without case, regions), an error where it hides a mistake (a CIDR).
#[test]
fn repeated_list_entries_are_reported_where_they_repeat() {
    let faults = "  - name: ses\n    service_outage:\n      target: app\n      actions: [ses:SendEmail, ses:sendEMAIL]\n      regions: [us-east-1, eu-west-1, us-east-1]\n    duration: 1s\n\
                  \x20 - name: region\n    region_outage: { target: app, region: us-east-1, except: [sts:GetCallerIdentity, sts:getcalleridentity] }\n    duration: 1s\n";
    let text = aws_scenario(
        "us-east-1",
        "[\"123456789012\", 123456789012]",
        "[role-a, role-b, role-a]",
        "[role-c, role-c]",
        faults,
    );
    let again = "the repeat changes nothing: remove it";
    assert_eq!(
        warnings(&text),
        [
            format!("5:30: environment.accounts[1]: `123456789012` is listed again (first on line 5): {again}"),
            format!("10:27: targets.app.ids[2]: `role-a` is listed again (first on line 10): {again}"),
            format!("11:30: targets.app.exclude.ids[1]: `role-c` is listed again (first on line 11): {again}"),
            format!(
                "23:32: faults[0].service_outage.actions[1]: `ses:sendEMAIL` is listed again (first on line 23): {again}"
            ),
            format!(
                "24:39: faults[0].service_outage.regions[2]: `us-east-1` is listed again (first on line 24): {again}"
            ),
            format!(
                "27:86: faults[1].region_outage.except[1]: `sts:getcalleridentity` is listed again (first on line 27): {again}"
            ),
        ]
    );
    let blackhole = "  - name: bh\n    network_blackhole: { target: net, cidrs: [203.0.113.0/24, 198.51.100.0/24, 203.0.113.0/24] }\n    duration: 1s\n";
    let text = aws_scenario("us-east-1", "[\"123456789012\"]", "[role-a]", "[role-c]", blackhole);
    assert_eq!(
        errors(&text),
        [
            "21:80: faults[0].network_blackhole.cidrs[2]: `203.0.113.0/24` is listed again (first on line 21): each CIDR takes rules of a network ACL, which holds few; was another CIDR meant?"
        ]
    );
}

/// A region of the right shape that firedrill does not know is a warning naming the
/// nearest it knows (new regions open); regions of two partitions are refused; the
/// regions moto serves stay valid without a word.
#[test]
fn regions_are_checked_against_the_known_ones_and_one_partition() {
    let outage = |regions: &str| {
        format!(
            "  - name: ses\n    service_outage: {{ target: app, actions: [ses:SendEmail], regions: {regions} }}\n    duration: 1s\n"
        )
    };
    for r in ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"] {
        let text = aws_scenario(r, "[\"123456789012\"]", "[a]", "[b]", &outage(&format!("[{r}]")));
        assert_eq!(warnings(&text), Vec::<String>::new(), "{r}");
    }
    let text = aws_scenario("us-east-7", "[\"123456789012\"]", "[a]", "[b]", &outage("[us-west-2, eu-wset-1]"));
    let w = warnings(&text);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].starts_with(
            "4:11: environment.region: `us-east-7` is not an AWS region firedrill knows: did you mean `us-east-1`?"
        ),
        "{w:?}"
    );
    assert!(w[1].starts_with("21:83: faults[0].service_outage.regions[1]: `eu-wset-1` is not an AWS region firedrill knows: did you mean `eu-west-1`?"), "{w:?}");

    // cn-north-1 where the rest is in the aws partition; GovCloud beside China.
    let text = aws_scenario("us-east-1", "[\"123456789012\"]", "[a]", "[b]", &outage("[us-west-2, cn-north-1]"));
    assert_eq!(
        errors(&text),
        [
            "21:83: faults[0].service_outage.regions[1]: `cn-north-1` is in the aws-cn partition, but environment.region (`us-east-1`) is in aws: a scenario's regions are all in one partition (an account, a role and its policies never reach another)"
        ]
    );
    let region = "  - name: r\n    region_outage: { target: app, region: cn-northwest-1 }\n    duration: 1s\n";
    let text = aws_scenario("us-gov-west-1", "[\"123456789012\"]", "[a]", "[b]", region);
    let e = errors(&text);
    assert!(
        e.len() == 1
            && e[0].starts_with("21:43: faults[0].region_outage.region: `cn-northwest-1` is in the aws-cn partition"),
        "{e:?}"
    );
    let text = aws_scenario("cn-north-1", "[\"123456789012\"]", "[a]", "[b]", &outage("[cn-northwest-1]"));
    assert_eq!(errors(&text), Vec::<String>::new());
    assert_eq!(warnings(&text), Vec::<String>::new());
}

/// A name written as an ARN (an alarm, a target id) is checked like every ARN: outside
/// the scenario's accounts, partition or region it is refused as such; inside, firedrill
/// asks for the name it reads.
#[test]
fn arns_where_names_go_are_checked_against_the_scope() {
    let at = |from: &str, to: &str| {
        assert!(AWS.contains(from), "test bug: {from:?}");
        errors(&AWS.replacen(from, to, 1))
    };
    assert_eq!(
        at("  - alarm: shop-5xx\n", "  - alarm: arn:aws:cloudwatch:us-east-1:999999999999:alarm:shop-5xx\n"),
        [
            "26:12: abort[0].alarm: \"arn:aws:cloudwatch:us-east-1:999999999999:alarm:shop-5xx\" is in account 999999999999, which is not one of the scenario's accounts (123456789012)"
        ]
    );
    assert_eq!(
        at("{ alarm: shop-5xx }", "{ alarm: \"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shop-5xx\" }"),
        [
            "19:32: steady_state[0].cloudwatch_alarm.alarm: \"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shop-5xx\" is in region eu-west-1, not the scenario's region us-east-1"
        ]
    );
    let e = at("  - alarm: shop-5xx\n", "  - alarm: arn:aws:cloudwatch:us-east-1:123456789012:alarm:shop-5xx\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("26:12: abort[0].alarm: ") && e[0].contains("write `shop-5xx`"), "{e:?}");
    let e = at(
        "    tags: { app: shop }\n    filters",
        "    ids: [\"arn:aws:ec2:us-east-1:222222222222:instance/i-1\"]\n    filters",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("10:11: targets.web.ids[0]: ") && e[0].contains("account 222222222222"), "{e:?}");
    let e = at(
        "    cloudwatch_alarm: { alarm: shop-5xx }",
        "    asg_capacity: { group: \"arn:aws:autoscaling:us-east-1:999999999999:autoScalingGroup:x:autoScalingGroupName/web\", min_healthy: 1 }",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("19:28: steady_state[0].asg_capacity.group: ") && e[0].contains("account 999999999999"),
        "{e:?}"
    );
    let e = errors(&format!("{AWS}pages:\n  alarms: [\"arn:aws-cn:cloudwatch:us-east-1:123456789012:alarm:p\"]\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("31:12: pages.alarms[0]: ") && e[0].contains("partition `aws-cn`"), "{e:?}");
}
