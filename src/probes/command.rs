//! The `command` probe: runs a shell command and passes when it exits with the expected
//! status.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Kind, with_default};
use crate::aws::Aws;
use crate::engine::{self, Check, Probe};
use crate::scenario::Dur;
use crate::scenario::validate::{Problem, command_problem, problem, timeout_problem};
use crate::util::sh::{ShellOpts, run_shell};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A shell command check (`sh -c`): passes when it exits with `expect_exit`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CommandProbe")]
pub struct Config {
    pub run: String,
    /// Expected exit status, 0 to 255; default 0.
    #[serde(default)]
    pub expect_exit: u8,
    /// Kill the command and count a failure after this long; default 10s, at least 10ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

/// The `command` probe kind.
pub struct Command;

impl Kind for Command {
    const KEY: &'static str = "command";
    const AWS: bool = false;
    type Config = Config;

    fn validate(c: &Config, at: &str) -> Vec<Problem> {
        let mut out = Vec::new();
        if c.run.trim().is_empty() {
            out.push(problem(format!("{at}.run"), "the command is empty"));
        }
        if let Some(m) = command_problem(&c.run) {
            out.push(problem(format!("{at}.run"), m));
        }
        if let Some(m) = timeout_problem(c.timeout) {
            out.push(problem(format!("{at}.timeout"), m));
        }
        out
    }

    fn describe(c: &Config) -> String {
        describe(c)
    }

    fn target(c: &Config) -> String {
        c.run.clone()
    }

    fn build(c: &Config, _aws: Option<&Aws>) -> (Duration, Arc<dyn engine::Probe>) {
        let timeout = with_default(c.timeout, DEFAULT_TIMEOUT);
        (timeout, Arc::new(CommandCheck::new(c, timeout)))
    }
}

pub struct CommandCheck {
    run: String,
    expect_exit: i32,
    opts: ShellOpts,
}

impl CommandCheck {
    pub fn new(p: &Config, timeout: Duration) -> Self {
        CommandCheck {
            run: p.run.clone(),
            expect_exit: i32::from(p.expect_exit),
            opts: ShellOpts { timeout, ..ShellOpts::default() },
        }
    }
}

#[async_trait]
impl Probe for CommandCheck {
    async fn check(&self) -> Check {
        let out = match run_shell(&self.run, &self.opts).await {
            Ok(out) => out,
            Err(e) => return Check::fail(e.to_string()),
        };
        if out.status == Some(self.expect_exit) {
            return Check::pass(format!("exit {}", self.expect_exit));
        }
        let how = match out.status {
            Some(code) => format!("exit {code} (expected {})", self.expect_exit),
            None => format!("killed by signal {}", out.signal.unwrap_or_default()),
        };
        match out.last_line() {
            Some(line) => Check::fail(format!("{how}: {line}")),
            None => Check::fail(how),
        }
    }
}

/// ``command `pg_isready` expect exit 0``.
pub fn describe(p: &Config) -> String {
    let mut s = format!("command `{}` expect exit {}", p.run, p.expect_exit);
    if let Some(t) = p.timeout {
        s += &format!(" (timeout {t})");
    }
    s
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn check(run: &str, expect_exit: u8, timeout: Duration) -> CommandCheck {
        CommandCheck::new(&Config { run: run.into(), expect_exit, timeout: None }, timeout)
    }

    #[tokio::test]
    async fn exit_codes() {
        assert_eq!(check("exit 0", 0, DEFAULT_TIMEOUT).check().await, Check::pass("exit 0"));
        assert_eq!(check("exit 3", 3, DEFAULT_TIMEOUT).check().await, Check::pass("exit 3"));
        assert_eq!(
            check("echo starting; echo 'db down' >&2; exit 3", 0, DEFAULT_TIMEOUT).check().await,
            Check::fail("exit 3 (expected 0): db down")
        );
        assert_eq!(check("exit 0", 1, DEFAULT_TIMEOUT).check().await, Check::fail("exit 0 (expected 1)"));
        assert_eq!(check("kill -KILL $$", 0, DEFAULT_TIMEOUT).check().await, Check::fail("killed by signal 9"));
    }

    #[tokio::test]
    async fn timeout() {
        let started = Instant::now();
        let c = check("sleep 30", 0, Duration::from_millis(200)).check().await;
        assert_eq!(c, Check::fail("timed out after 200ms"));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn output_is_capped() {
        // 100 KB of stderr: only the last line reaches the detail.
        let c = check("head -c 100000 /dev/zero | tr '\\0' x >&2; echo >&2; echo last >&2; exit 1", 0, DEFAULT_TIMEOUT)
            .check()
            .await;
        assert_eq!(c, Check::fail("exit 1 (expected 0): last"));
    }

    #[test]
    fn describes() {
        let p = Config { run: "pg_isready".into(), expect_exit: 0, timeout: None };
        assert_eq!(describe(&p), "command `pg_isready` expect exit 0");
    }
}
