//! Shared helpers for the `it` test binary, generic over what a test exercises:
//!
//! - [`Sandbox`]: a temporary directory that holds a test's own state directory
//!   (`--state-dir`) and scenario files, and is the working directory of every `firedrill`
//!   it starts, so tests never share state and can run in parallel.
//! - [`Sandbox::run`] / [`Sandbox::spawn`]: run the real binary with stdin from
//!   `/dev/null` (never a terminal) and a bounded wait; [`Finished`] holds the exit code and
//!   output.
//! - [`read_report`], [`read_journal`]: a run's `report.json` and `journal.jsonl` as
//!   [`serde_json::Value`]s, so tests check the documented field names, not Rust types.
//! - [`wait_until`]: poll a condition with a deadline (never an unbounded loop).
//! - [`web`]: a small HTTP service on 127.0.0.1 that breaks on request.
//! - [`moto`]: a real moto server (the AWS emulator) on 127.0.0.1, seeded with
//!   `demo/seed.py`, and snapshots of its state to compare before and after a run.
//!
//! Every wait is bounded and generous: the tests must pass on a loaded 2-core machine.
//! Nothing here asserts how fast anything is.

#![allow(dead_code)] // Each test module uses a different subset.

pub mod moto;
pub mod proxy;
pub mod web;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_firedrill");

/// How long any single `firedrill` command may take before the test fails (and the
/// process is killed). Far above what the scenarios need.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A test's private directory: `state/` is its `--state-dir`, scenario files go next to
/// it, and `firedrill` runs with it as the working directory. Deleted on drop.
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// Extra environment for every `firedrill` this sandbox starts (e.g. a moto endpoint).
    env: Vec<(String, String)>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("firedrill-it-").tempdir().expect("create a temp dir");
        Sandbox { dir, env: Vec::new() }
    }

    /// Sets `key=value` in the environment of every `firedrill` started from now on.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The sandbox directory (also the working directory of `firedrill`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `--state-dir` every command gets. Not created until `firedrill` creates it.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The installation key (`FIREDRILL_KEY_FILE`) every `firedrill` of this sandbox uses,
    /// so tests never touch the real one and each sandbox is an installation of its own.
    pub fn key_file(&self) -> PathBuf {
        key_file(self.dir.path())
    }

    /// Writes `text` to `name` in the sandbox and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// A scenario file: `name` gets a `.yaml` extension.
    pub fn write_scenario(&self, name: &str, yaml: &str) -> PathBuf {
        self.write(&format!("{name}.yaml"), yaml)
    }

    /// `firedrill --state-dir <state> ARGS`, in the sandbox, with stdin from /dev/null and
    /// an environment that cannot leak in settings (`FIREDRILL_STATE_DIR`, `RUST_LOG`) or
    /// colors.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        self.command_in(&self.state_dir(), args)
    }

    /// [`Sandbox::command`] with another `--state-dir` (relative to the sandbox, say).
    pub fn command_in<S: AsRef<std::ffi::OsStr>>(&self, state_dir: &Path, args: &[S]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--state-dir")
            .arg(state_dir)
            .args(args)
            .current_dir(self.path())
            .env_remove("FIREDRILL_STATE_DIR")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("FIREDRILL_KEY_FILE", self.key_file())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs `firedrill ARGS` to completion (at most [`COMMAND_TIMEOUT`]).
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Finished {
        self.spawn(args).wait()
    }

    /// Runs `firedrill ARGS` to completion like [`Sandbox::run`], with `env` added to the
    /// environment of this one command.
    pub fn run_with_env<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], env: &[(&str, &str)]) -> Finished {
        let mut c = self.command(args);
        c.envs(env.iter().copied());
        Running::start(
            c,
            format!("firedrill {}", args.iter().map(|a| a.as_ref().to_string_lossy()).collect::<Vec<_>>().join(" ")),
        )
        .wait()
    }

    /// Runs `firedrill --state-dir STATE_DIR ARGS` to completion like [`Sandbox::run`].
    pub fn run_in<S: AsRef<std::ffi::OsStr>>(&self, state_dir: &Path, args: &[S]) -> Finished {
        let command = format!(
            "firedrill --state-dir {} {}",
            state_dir.display(),
            args.iter().map(|a| a.as_ref().to_string_lossy()).collect::<Vec<_>>().join(" ")
        );
        Running::start(self.command_in(state_dir, args), command).wait()
    }

    /// Starts `firedrill ARGS` and returns at once, for tests that act while it runs.
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Running {
        let command =
            format!("firedrill {}", args.iter().map(|a| a.as_ref().to_string_lossy()).collect::<Vec<_>>().join(" "));
        Running::start(self.command(args), command)
    }

    /// Every run directory under the state directory, sorted by run id (= start time).
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let runs = self.state_dir().join("runs");
        let mut out: Vec<PathBuf> = match std::fs::read_dir(&runs) {
            Ok(entries) => entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read {}: {e}", runs.display()),
        };
        out.sort();
        out
    }

    /// The run directory of a sandbox that has exactly one run.
    pub fn only_run_dir(&self) -> PathBuf {
        let dirs = self.run_dirs();
        assert_eq!(dirs.len(), 1, "expected exactly one run in {}: {dirs:?}", self.state_dir().display());
        dirs.into_iter().next().unwrap_or_default()
    }

    /// Waits until the sandbox's only run has journaled an entry with `"event": event`
    /// (`intent`, `done`, `reverted`, ...) and returns that entry.
    pub fn wait_for_journal(&self, event: &str, timeout: Duration) -> Value {
        let mut found = None;
        wait_until(&format!("a `{event}` entry in the journal"), timeout, || {
            let Some(dir) = self.run_dirs().into_iter().next() else { return false };
            found = read_journal(&dir).into_iter().find(|e| e["event"] == event);
            found.is_some()
        });
        found.unwrap_or_default()
    }
}

/// The installation key file of the sandbox at `dir` (see [`Sandbox::key_file`]).
pub fn key_file(dir: &Path) -> PathBuf {
    dir.join("installation.key")
}

/// A `firedrill` process that is still running. Its output is drained by threads so that
/// it never blocks on a full pipe. Killed (SIGKILL) if dropped before it finished, so a
/// failing test leaves no process behind.
pub struct Running {
    child: Child,
    command: String,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    fn start(mut c: Command, command: String) -> Running {
        let mut child = c.spawn().unwrap_or_else(|e| panic!("start {BIN}: {e}"));
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            pipe.map(|mut p| {
                std::thread::spawn(move || {
                    let mut bytes = Vec::new();
                    let _ = p.read_to_end(&mut bytes);
                    String::from_utf8_lossy(&bytes).into_owned()
                })
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        Running { child, command, stdout, stderr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a name such as `INT`, `TERM`) to the process via `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("sh")
            .args(["-c", r#"kill -s "$1" "$2""#, "sh", signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} {} failed: {status}", self.pid());
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL firedrill");
    }

    /// Waits for the process to exit (at most [`COMMAND_TIMEOUT`]; then it is killed and the
    /// test fails with its output).
    pub fn wait(mut self) -> Finished {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            match self.child.try_wait().expect("wait for firedrill") {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let out = self.collect(None);
                    panic!("`{}` still running after {COMMAND_TIMEOUT:?}; killed it\n{out}", out.command);
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        self.collect(Some(status))
    }

    fn collect(&mut self, status: Option<ExitStatus>) -> Finished {
        let join = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        Finished {
            command: self.command.clone(),
            status,
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A finished `firedrill` command.
#[derive(Debug)]
pub struct Finished {
    pub command: String,
    /// `None` only when the test killed it for taking too long.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The exit code; `None` when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(self.code(), Some(code), "unexpected exit of `{}`\n{self}", self.command);
        self
    }

    /// The run directory `firedrill run` printed as the last line of stdout.
    #[track_caller]
    pub fn run_dir(&self) -> PathBuf {
        let line = self.stdout.lines().rev().find(|l| !l.trim().is_empty());
        let dir = PathBuf::from(line.unwrap_or_else(|| panic!("no run directory on stdout\n{self}")).trim());
        assert!(dir.is_dir(), "`{}` printed {}, which is not a directory\n{self}", self.command, dir.display());
        dir
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.status.map_or("killed by the test".to_string(), |s| s.to_string());
        write!(f, "--- {status}\n--- stdout:\n{}\n--- stderr:\n{}", self.stdout, self.stderr)
    }
}

/// A run's `report.json`.
#[track_caller]
pub fn read_report(run_dir: &Path) -> Value {
    let path = run_dir.join("report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}\n{text}", path.display()))
}

/// A run's `journal.jsonl`, one value per entry. A line that does not parse (the run is
/// writing it right now) is skipped.
pub fn read_journal(run_dir: &Path) -> Vec<Value> {
    let path = run_dir.join("journal.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("read {}: {e}", path.display()),
    };
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Journal entries with `"event": event`.
pub fn journal_events<'a>(journal: &'a [Value], event: &str) -> Vec<&'a Value> {
    journal.iter().filter(|e| e["event"] == event).collect()
}

/// A report field as whole milliseconds; fails the test if it is null or missing.
#[track_caller]
pub fn ms(report: &Value, pointer: &str) -> i64 {
    report
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("report {pointer} is not a number: {:?}", report.pointer(pointer)))
}

/// Polls `done` every 10 ms until it returns true; fails the test after `timeout`.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
