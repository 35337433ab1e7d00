//! A small web service to break, on 127.0.0.1 and a port the OS picks (the Rust twin of
//! `demo/webapp.py`), running on its own thread and tokio runtime so that a test can block
//! on `firedrill` while the service answers:
//!
//! - `GET /health` → `200 ok`, or `503 broken` while broken;
//! - `POST /break` → breaks it; it heals by itself after the [`Heal`] delay the test chose
//!   (or never). Breaking a broken service changes nothing;
//! - `POST /fix` → heals it at once (a fault's revert).
//!
//! It records each [`Outage`] with the [`Instant`]s it began and ended (on this process's
//! monotonic clock, so tests compare differences with the durations in a report) and
//! counts every request, so tests can tell what `firedrill` did to it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// When a broken service heals by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heal {
    /// This long after `POST /break`.
    After(Duration),
    /// Only `POST /fix` heals it.
    Never,
}

/// How an outage ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealedBy {
    /// The [`Heal::After`] delay passed.
    Itself,
    /// `POST /fix`.
    Fix,
}

/// One time the service was broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    /// When it broke: `/health` answers 503 from this instant.
    pub broke_at: Instant,
    /// When it healed (`/health` answers 200 again from this instant); `None` while broken.
    pub healed_at: Option<Instant>,
    pub healed_by: Option<HealedBy>,
}

impl Outage {
    /// How long it was broken; `None` while it still is.
    pub fn duration(&self) -> Option<Duration> {
        self.healed_at.map(|h| h - self.broke_at)
    }
}

#[derive(Debug)]
struct State {
    heal: Heal,
    outages: Vec<Outage>,
    requests: u32,
    health_checks: u32,
    breaks: u32,
    fixes: u32,
    /// Paths of `POST /hook/...` requests (webhooks), in arrival order.
    hooks: Vec<String>,
    /// Their bodies, in the same order.
    hook_bodies: Vec<String>,
}

impl State {
    /// Closes the current outage if its self-heal instant has passed.
    fn heal_due(&mut self, now: Instant) {
        if let (Heal::After(delay), Some(o)) = (self.heal, self.outages.last_mut())
            && o.healed_at.is_none()
            && now >= o.broke_at + delay
        {
            o.healed_at = Some(o.broke_at + delay);
            o.healed_by = Some(HealedBy::Itself);
        }
    }

    fn broken(&mut self, now: Instant) -> bool {
        self.heal_due(now);
        self.outages.last().is_some_and(|o| o.healed_at.is_none())
    }

    fn break_now(&mut self, now: Instant) {
        if !self.broken(now) {
            self.outages.push(Outage { broke_at: now, healed_at: None, healed_by: None });
        }
    }

    fn fix_now(&mut self, now: Instant) {
        if self.broken(now)
            && let Some(o) = self.outages.last_mut()
        {
            o.healed_at = Some(now);
            o.healed_by = Some(HealedBy::Fix);
        }
    }
}

/// The running service; stopped on drop.
pub struct WebService {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WebService {
    /// Starts a healthy service on 127.0.0.1 (port 0: the OS picks one).
    pub fn start(heal: Heal) -> WebService {
        let state = Arc::new(Mutex::new(State {
            heal,
            outages: Vec::new(),
            requests: 0,
            health_checks: 0,
            breaks: 0,
            fixes: 0,
            hooks: Vec::new(),
            hook_bodies: Vec::new(),
        }));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("web-service".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
                rt.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
                    let port = listener.local_addr().expect("local address").port();
                    let _ = port_tx.send(port);
                    tokio::select! {
                        _ = stopped => {}
                        _ = serve(listener, shared) => {}
                    }
                });
            })
            .expect("start the web service thread");
        let port = port_rx.recv_timeout(Duration::from_secs(10)).expect("the web service did not start");
        WebService { port, state, stop: Some(stop), thread: Some(thread) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/PATH` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Breaks the service from the test itself (not counted as a `/break` request).
    pub fn break_now(&self) {
        self.state().break_now(Instant::now());
    }

    /// Whether `/health` would answer 200 now.
    pub fn is_healthy(&self) -> bool {
        !self.state().broken(Instant::now())
    }

    /// Every outage so far, oldest first (self-heals that are due are closed first).
    pub fn outages(&self) -> Vec<Outage> {
        let mut s = self.state();
        s.heal_due(Instant::now());
        s.outages.clone()
    }

    /// Requests of any kind, including malformed ones.
    pub fn requests(&self) -> u32 {
        self.state().requests
    }

    /// `GET /health` requests.
    pub fn health_checks(&self) -> u32 {
        self.state().health_checks
    }

    /// `POST /break` requests.
    pub fn break_calls(&self) -> u32 {
        self.state().breaks
    }

    /// `POST /fix` requests.
    pub fn fix_calls(&self) -> u32 {
        self.state().fixes
    }

    /// Paths of the webhooks received (`POST /hook/...`), in arrival order.
    pub fn hooks(&self) -> Vec<String> {
        self.state().hooks.clone()
    }

    /// The JSON bodies of the webhooks received at `path`, in arrival order.
    pub fn hook_bodies(&self, path: &str) -> Vec<serde_json::Value> {
        let s = self.state();
        s.hooks
            .iter()
            .zip(&s.hook_bodies)
            .filter(|(p, _)| *p == path)
            .map(|(_, b)| serde_json::from_str(b).unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {b}")))
            .collect()
    }
}

impl Drop for WebService {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    loop {
        let Ok((conn, _)) = listener.accept().await else { continue };
        tokio::spawn(handle(conn, state.clone()));
    }
}

/// One request per connection (`Connection: close`): read the head, answer, close.
async fn handle(mut conn: TcpStream, state: Arc<Mutex<State>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    };
    let complete = tokio::time::timeout(Duration::from_secs(5), read_head).await.unwrap_or(false);
    // The body, as long as Content-Length says (webhooks' JSON; capped).
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").map_or(head.len(), |i| i + 4);
    let length = String::from_utf8_lossy(&head[..end])
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok()).flatten()
        })
        .unwrap_or(0)
        .min(1 << 20);
    let mut body_in = head.split_off(end.min(head.len()));
    let read_body = async {
        while body_in.len() < length {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body_in.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read_body).await;
    let (status, body) = {
        let now = Instant::now();
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.requests += 1;
        let line = String::from_utf8_lossy(&head);
        let mut words = line.lines().next().unwrap_or_default().split_whitespace();
        match (complete, words.next(), words.next()) {
            (false, _, _) => (400, "bad request\n"),
            (true, Some("GET"), Some("/health")) => {
                s.health_checks += 1;
                if s.broken(now) { (503, "broken\n") } else { (200, "ok\n") }
            }
            (true, Some("POST"), Some("/break")) => {
                s.breaks += 1;
                s.break_now(now);
                (200, "broken\n")
            }
            (true, Some("POST"), Some(path)) if path.starts_with("/hook/") => {
                s.hooks.push(path.to_string());
                s.hook_bodies.push(String::from_utf8_lossy(&body_in).into_owned());
                (200, "ok\n")
            }
            (true, Some("POST"), Some("/fix")) => {
                s.fixes += 1;
                s.fix_now(now);
                (200, "fixed\n")
            }
            _ => (404, "not found\n"),
        }
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(response.as_bytes()).await;
    let _ = conn.shutdown().await;
}
