//! The `command` probe: runs a shell command and passes when it exits with the expected
//! status.

use std::time::Duration;

use async_trait::async_trait;

use crate::engine::{Check, Probe};
use crate::process::{ShellOpts, run_shell};
use crate::scenario::CommandProbe;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct CommandCheck {
    run: String,
    expect_exit: i32,
    opts: ShellOpts,
}

impl CommandCheck {
    pub fn new(p: &CommandProbe, timeout: Duration) -> Self {
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
pub fn describe(p: &CommandProbe) -> String {
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
        CommandCheck::new(&CommandProbe { run: run.into(), expect_exit, timeout: None }, timeout)
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
        let p = CommandProbe { run: "pg_isready".into(), expect_exit: 0, timeout: None };
        assert_eq!(describe(&p), "command `pg_isready` expect exit 0");
    }
}
