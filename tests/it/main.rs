//! The one integration test binary (`cargo test --test it`): end-to-end tests through the
//! real `firedrill` executable (`CARGO_BIN_EXE_firedrill`), one module per area.
//!
//! - [`support`]: shared helpers (temp sandboxes with a state directory, scenario files,
//!   running the binary with bounded waits, reading `report.json` and `journal.jsonl`) and
//!   a small local web service to break.
//! - [`docs`]: every scenario and playbook example in README.md and docs/ validates as
//!   written.
//! - [`local`]: game days against that local web service: measured times, exit codes,
//!   abort, signals, crash recovery, and the read-only commands.
//! - [`notes`]: the game day's human side: observers' notes during and after a run, and
//!   `firedrill history` over several runs.
//! - [`output`]: what firedrill prints and writes: a closed pipe (EPIPE) on stdout or
//!   stderr, an unwritable stdout, credentials in probe URLs.
//! - [`html`]: `report.html` of a real game day, rendered by headless Chromium (which
//!   must be installed: `scripts/test` does it; `FIREDRILL_SKIP_BROWSER=1` skips explicitly).
//! - [`recover`]: `firedrill recover` after torn or damaged journals, surviving injects,
//!   a deleted working directory, forged journals (shell and AWS), concurrent recovers.
//! - [`least_privilege`]: `firedrill iam-policy` under IAM enforcement (moto): each
//!   shipped AWS scenario passes under exactly its policy and fails without any statement.
//! - [`crash`]: the process dies at every fail point of every AWS fault; `recover` puts
//!   moto back. Needs `cargo test --features failpoints`; without it one test fails and
//!   says so.
//! - [`halt`]: the emergency halt (`firedrill halt`/`unhalt`) against moto: concurrent
//!   runs abort and revert, new runs are refused, an unreadable halt blocks and aborts.
//! - [`ci`]: the CI examples of docs/ci.md (GitHub Actions, GitLab CI), their commands run
//!   against a local game day: exit codes, timeout, recover, published reports, a cancel.
//! - [`setup`]: the README's test command (`scripts/test`) is what CI runs, the Python pins
//!   live in `requirements-test.txt` alone, and a missing browser fails loudly.
//! - [`dead_mans_switch`]: `safety.dead_mans_switch` against moto: the schedules armed
//!   during the faults, deleted by a revert, and after a crash their calls restore the
//!   state and `recover` deletes them.
//! - [`s3_state`]: run state in S3 (`--state s3://…`) against moto: a run killed on one
//!   machine recovered from another, shared history and notes, conditional writes, locks.
//! - [`iam_lint`]: the policies `firedrill iam-policy` prints, through an IAM linter
//!   (parliament, pinned, from the test venv).
//! - [`schedule`]: calendars (`firedrill schedule`): `run-due` skips for a freeze, a gate
//!   alarm (moto), an HTTP gate, the halt and a held lease, and runs otherwise; each
//!   `export` format read back by a real parser.
//! - [`twin`]: the AWS demo's game day (`demo/az-failure.yaml`) against moto with the
//!   staging twin (`demo/twin.py`) beside it: a detection, a recovery within the objective
//!   and no page; a replacement slower than the objective misses it and pages.
//!
//! - [`audit`]: `firedrill audit` against a fragile estate and its healthy twin (moto):
//!   each finding, the JSON schema, the gate and baseline, the suggested drills.
//!
//! Add new areas (e.g. `aws_*.rs`) as sibling modules declared here; keep anything two
//! modules need in `support`.

mod audit;
mod aws;
mod blackhole;
mod chaos;
mod ci;
// The crash tests need a binary with fail points: `cargo test --features failpoints`.
#[cfg(feature = "failpoints")]
mod crash;
#[cfg(not(feature = "failpoints"))]
mod crash {
    /// Without the feature the crash matrix cannot run; say so rather than pass.
    #[test]
    fn crash_tests_need_the_failpoints_feature() {
        panic!(
            "the crash-safety tests (tests/it/crash.rs) need fail points in the binary: \
             run `cargo test --features failpoints` (see README, \"The two commands\")"
        );
    }
}
mod dead_mans_switch;
mod demo;
mod docs;
mod gameday;
mod halt;
mod html;
mod iam_lint;
mod lease;
mod least_privilege;
mod local;
mod notes;
mod output;
mod pages;
mod recover;
mod s3_state;
mod schedule;
mod setup;
mod support;
mod sweep;
mod twin;
