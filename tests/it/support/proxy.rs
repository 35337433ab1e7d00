//! A loopback HTTP proxy between firedrill and moto that injects faults on a schedule the
//! test sets: throttling errors, 503s, latency, and connections dropped before or after
//! the request reached moto (the answer lost), calls that never answer, and answers that
//! never end. One request per connection; everything else is passed through byte for
//! byte. Counts what it did.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Act {
    Pass,
    /// A throttling error in the protocol's shape (EC2's `RequestLimitExceeded`, the JSON
    /// protocols' `ThrottlingException`, or the query protocols' `Throttling`), without
    /// reaching moto.
    Throttle,
    /// `503 Service Unavailable`, without reaching moto.
    Unavailable,
    /// Wait this many ms, then pass.
    Delay(u64),
    /// Close the connection without forwarding.
    DropBefore,
    /// Forward to moto, then close without answering (the change happened; the caller
    /// does not know).
    DropAfter,
    /// Never forward, never answer: hold the connection until the proxy stops (a hung call).
    Hang,
    /// `200 OK` with a chunked body that never ends: 1 MiB chunks until the client hangs
    /// up, the proxy stops, or 4 GiB were sent (the loop is bounded).
    EndlessBody,
}

pub struct Proxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Act>>>,
}

impl Proxy {
    /// Proxies to `127.0.0.1:upstream`; request `i` (from 0) gets `schedule(i)`.
    pub fn start(upstream: u16, schedule: impl Fn(usize) -> Act + Send + Sync + 'static) -> Proxy {
        Proxy::start_by_request(upstream, move |i, _| schedule(i))
    }

    /// Like [`Proxy::start`], choosing after reading the request: `schedule(i, text)`.
    pub fn start_by_request(upstream: u16, schedule: impl Fn(usize, &str) -> Act + Send + Sync + 'static) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let schedule = Arc::new(schedule);
        let (s, l) = (stop.clone(), log.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let (schedule, l, stop, i) = (schedule.clone(), l.clone(), s.clone(), n);
                        n += 1;
                        std::thread::spawn(move || {
                            let Some(request) = read_request(&mut conn) else { return };
                            let act = schedule(i, &String::from_utf8_lossy(&request));
                            l.lock().unwrap().push(act);
                            handle(conn, request, upstream, act, &stop);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Proxy { port, stop, log }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests got something other than `Pass`.
    pub fn faults(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|a| !matches!(a, Act::Pass | Act::Delay(_) | Act::Hang | Act::EndlessBody))
            .count()
    }

    /// How many requests got `act`.
    pub fn count(&self, act: Act) -> usize {
        self.log.lock().unwrap().iter().filter(|a| **a == act).count()
    }

    pub fn requests(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request: the head, then `Content-Length` bytes of body.
fn read_request(conn: &mut TcpStream) -> Option<Vec<u8>> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf)
}

fn respond(conn: &mut TcpStream, status: &str, body: &str) {
    respond_as(conn, status, "text/xml", body);
}

fn respond_as(conn: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn handle(mut conn: TcpStream, request: Vec<u8>, upstream: u16, act: Act, stop: &AtomicBool) {
    let text = String::from_utf8_lossy(&request);
    let ec2 = text.contains("Version=2016-11-15");
    // The JSON protocols (SSM, …) name the operation in `X-Amz-Target` and read the
    // error's type from the body's `__type`.
    let json =
        text.lines().take_while(|l| !l.trim().is_empty()).any(|l| l.to_ascii_lowercase().starts_with("x-amz-target:"));
    match act {
        Act::Throttle if json => respond_as(
            &mut conn,
            "400 Bad Request",
            "application/x-amz-json-1.1",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
        Act::Throttle if ec2 => respond(
            &mut conn,
            "503 Service Unavailable",
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>",
        ),
        Act::Throttle => respond(
            &mut conn,
            "400 Bad Request",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>",
        ),
        Act::Unavailable => respond(&mut conn, "503 Service Unavailable", ""),
        Act::DropBefore => {}
        Act::EndlessBody => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n";
            if conn.write_all(head.as_bytes()).is_ok() {
                let mut chunk = format!("{:x}\r\n", 1 << 20).into_bytes();
                chunk.extend(std::iter::repeat_n(b'<', 1 << 20));
                chunk.extend_from_slice(b"\r\n");
                for _ in 0..4096 {
                    if stop.load(Ordering::Relaxed) || conn.write_all(&chunk).is_err() {
                        break;
                    }
                }
            }
        }
        Act::Hang => {
            for _ in 0..3000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Act::Pass | Act::Delay(_) | Act::DropAfter => {
            if let Act::Delay(ms) = act {
                std::thread::sleep(Duration::from_millis(ms));
            }
            let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
            // One request per connection: ask moto to close after answering.
            let text = String::from_utf8_lossy(&request).into_owned();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let head: Vec<&str> = head.lines().filter(|l| !l.to_ascii_lowercase().starts_with("connection:")).collect();
            let forwarded = format!("{}\r\nConnection: close\r\n\r\n{body}", head.join("\r\n"));
            if up.write_all(forwarded.as_bytes()).is_err() {
                return;
            }
            let mut answer = Vec::new();
            let _ = up.read_to_end(&mut answer);
            if act != Act::DropAfter {
                let _ = conn.write_all(&answer);
            }
        }
    }
    let _ = conn.shutdown(std::net::Shutdown::Both);
}
