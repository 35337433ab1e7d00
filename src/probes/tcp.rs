//! The `tcp` probe: passes when a TCP connection to `host:port` opens in time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

use super::{Kind, short, with_default};
use crate::aws::Aws;
use crate::engine::{self, Check, Probe};
use crate::scenario::Dur;
use crate::scenario::validate::{Problem, problem, timeout_problem};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A TCP connect check.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TcpProbe")]
pub struct Config {
    /// `host:port`.
    pub address: String,
    /// Connect timeout; default 2s, at least 10ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

/// The `tcp` probe kind.
pub struct Tcp;

impl Kind for Tcp {
    const KEY: &'static str = "tcp";
    const AWS: bool = false;
    type Config = Config;

    fn validate(t: &Config, at: &str) -> Vec<Problem> {
        let mut out = Vec::new();
        let ok = t
            .address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            out.push(problem(format!("{at}.address"), format!("expected `host:port`, found {:?}", t.address)));
        }
        if let Some(m) = timeout_problem(t.timeout) {
            out.push(problem(format!("{at}.timeout"), m));
        }
        out
    }

    fn describe(c: &Config) -> String {
        describe(c)
    }

    fn target(c: &Config) -> String {
        c.address.clone()
    }

    fn build(c: &Config, _aws: Option<&Aws>) -> (Duration, Arc<dyn engine::Probe>) {
        let timeout = with_default(c.timeout, DEFAULT_TIMEOUT);
        (timeout, Arc::new(TcpCheck::new(c, timeout)))
    }
}

pub struct TcpCheck {
    address: String,
    timeout: Duration,
}

impl TcpCheck {
    pub fn new(p: &Config, timeout: Duration) -> Self {
        TcpCheck { address: p.address.clone(), timeout }
    }
}

#[async_trait]
impl Probe for TcpCheck {
    async fn check(&self) -> Check {
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, TcpStream::connect(&self.address)).await {
            Ok(Ok(_)) => Check::pass(format!("connected in {}", short(started.elapsed()))),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Check::fail("connection refused"),
            Ok(Err(e)) => Check::fail(format!("cannot connect: {e}")),
            Err(_) => Check::fail(format!("timed out after {}", humantime::format_duration(self.timeout))),
        }
    }
}

/// `tcp connect db:5432`.
pub fn describe(p: &Config) -> String {
    match p.timeout {
        Some(t) => format!("tcp connect {} (timeout {t})", p.address),
        None => format!("tcp connect {}", p.address),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(address: String) -> TcpCheck {
        TcpCheck::new(&Config { address, timeout: None }, DEFAULT_TIMEOUT)
    }

    #[tokio::test]
    async fn connects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = check(listener.local_addr().unwrap().to_string()).check().await;
        assert!(c.ok, "{c:?}");
        assert!(c.detail.starts_with("connected in ") && c.detail.ends_with("ms"), "{}", c.detail);
    }

    #[tokio::test]
    async fn refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert_eq!(check(format!("127.0.0.1:{port}")).check().await, Check::fail("connection refused"));
    }

    #[test]
    fn describes() {
        let p = Config { address: "db:5432".into(), timeout: Some(Dur(Duration::from_secs(1))) };
        assert_eq!(describe(&p), "tcp connect db:5432 (timeout 1s)");
    }
}
