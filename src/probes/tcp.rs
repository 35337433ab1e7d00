//! The `tcp` probe: passes when a TCP connection to `host:port` opens in time.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::net::TcpStream;

use super::short;
use crate::engine::{Check, Probe};
use crate::scenario::TcpProbe;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

pub struct TcpCheck {
    address: String,
    timeout: Duration,
}

impl TcpCheck {
    pub fn new(p: &TcpProbe, timeout: Duration) -> Self {
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
pub fn describe(p: &TcpProbe) -> String {
    match p.timeout {
        Some(t) => format!("tcp connect {} (timeout {t})", p.address),
        None => format!("tcp connect {}", p.address),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(address: String) -> TcpCheck {
        TcpCheck::new(&TcpProbe { address, timeout: None }, DEFAULT_TIMEOUT)
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
        let p = TcpProbe { address: "db:5432".into(), timeout: Some(crate::scenario::Dur(Duration::from_secs(1))) };
        assert_eq!(describe(&p), "tcp connect db:5432 (timeout 1s)");
    }
}
