//! The `http` probe: one request per check, judged on status, body and latency.
//!
//! The body read is bounded ([`MAX_BODY`]). A probe's own `headers` (API keys, tokens)
//! go to the host the scenario names and nowhere else: a redirect to another host, or
//! from https down to http, is not followed when the probe has headers; the check fails
//! and says so. (Without headers, redirects are followed; reqwest itself drops
//! `Authorization` and cookies on a cross-host redirect.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use regex::Regex;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, StatusCode, Url, redirect};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Broken, Kind, short, with_default};
use crate::aws::Aws;
use crate::engine::{self, Check, Probe};
use crate::scenario::Dur;
use crate::scenario::validate::{Problem, header_problems, problem, timeout_problem};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// An HTTP check. Passes when the status is expected, the body matches and the response
/// arrived within `max_latency`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "HttpProbe")]
pub struct Config {
    pub url: String,
    /// HTTP method; default GET.
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Accepted status codes; default: any 2xx.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_status: Vec<u16>,
    /// The response body must contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// The response body must match this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_regex: Option<String>,
    /// Slower responses count as failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<Dur>,
    /// Give up after this long; default 5s, at least 10ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

fn default_method() -> String {
    "GET".to_string()
}

/// The `http` probe kind.
pub struct Http;

impl Kind for Http {
    const KEY: &'static str = "http";
    const AWS: bool = false;
    type Config = Config;

    fn validate(h: &Config, p: &str) -> Vec<Problem> {
        let mut out = Vec::new();
        match reqwest::Url::parse(&h.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(u) => out.push(problem(
                format!("{p}.url"),
                format!("expected an http:// or https:// URL with a host, found scheme `{}`", u.scheme()),
            )),
            Err(e) => out.push(problem(format!("{p}.url"), format!("invalid URL {:?}: {e}", h.url))),
        }
        if reqwest::Method::from_bytes(h.method.as_bytes()).is_err() || h.method.is_empty() {
            out.push(problem(format!("{p}.method"), format!("invalid HTTP method {:?}", h.method)));
        }
        for (j, st) in h.expect_status.iter().enumerate() {
            if !(100..=599).contains(st) {
                out.push(problem(
                    format!("{p}.expect_status[{j}]"),
                    format!("{st} is not an HTTP status code (100-599)"),
                ));
            }
        }
        if let Some(re) = &h.body_regex
            && let Err(e) = regex::Regex::new(re)
        {
            let first = e.to_string().lines().last().unwrap_or_default().trim().to_string();
            out.push(problem(format!("{p}.body_regex"), format!("invalid regular expression: {first}")));
        }
        out.extend(header_problems(&format!("{p}.headers"), &h.headers));
        if let Some(m) = timeout_problem(h.timeout) {
            out.push(problem(format!("{p}.timeout"), m));
        }
        out
    }

    fn describe(c: &Config) -> String {
        describe(c)
    }

    fn target(c: &Config) -> String {
        crate::util::redact::url(&c.url, crate::util::redact::Keep::Path)
    }

    fn build(c: &Config, _aws: Option<&Aws>) -> (Duration, Arc<dyn engine::Probe>) {
        let timeout = with_default(c.timeout, DEFAULT_TIMEOUT);
        match HttpCheck::new(c, timeout) {
            Ok(check) => (timeout, Arc::new(check)),
            Err(e) => (timeout, Arc::new(Broken(e))),
        }
    }
}

/// Bytes of the response body read; the rest is ignored.
const MAX_BODY: usize = 1 << 20;
const MAX_REDIRECTS: usize = 5;
const USER_AGENT: &str = concat!("firedrill/", env!("CARGO_PKG_VERSION"));

/// An `http` probe, ready to run: client, request and matchers built once.
pub struct HttpCheck {
    client: Client,
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<String>,
    expect_status: Vec<u16>,
    body_contains: Option<String>,
    body_regex: Option<Regex>,
    max_latency: Option<Duration>,
    timeout: Duration,
}

impl HttpCheck {
    /// Fails only on what validation rejects (bad method, URL, header or regex).
    pub fn new(p: &Config, timeout: Duration) -> Result<Self, String> {
        let method =
            Method::from_bytes(p.method.as_bytes()).map_err(|_| format!("invalid HTTP method {:?}", p.method))?;
        let url = Url::parse(&p.url).map_err(|e| format!("invalid URL {:?}: {e}", p.url))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &p.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
            let value = HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
            headers.insert(name, value);
        }
        let body_regex = match &p.body_regex {
            Some(re) => Some(Regex::new(re).map_err(|e| format!("invalid body_regex: {e}"))?),
            None => None,
        };
        let guard_headers = !headers.is_empty();
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(TooManyRedirects);
            }
            let from = attempt.previous().first().cloned();
            match from {
                Some(from) if guard_headers && leaves_origin(&from, attempt.url()) => {
                    let to = format!("{}://{}", attempt.url().scheme(), attempt.url().host_str().unwrap_or("?"));
                    attempt.error(HeadersWouldLeak(to))
                }
                _ => attempt.follow(),
            }
        });
        let client = Client::builder()
            .timeout(timeout)
            .redirect(policy)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| format!("cannot set up an HTTP client: {e}"))?;
        Ok(HttpCheck {
            client,
            method,
            url,
            headers,
            body: p.body.clone(),
            expect_status: p.expect_status.clone(),
            body_contains: p.body_contains.clone(),
            body_regex,
            max_latency: p.max_latency.map(|d| d.0),
            timeout,
        })
    }

    /// Sends the request; returns the status and up to [`MAX_BODY`] bytes of the body.
    async fn fetch(&self) -> Result<(StatusCode, String), reqwest::Error> {
        let mut request = self.client.request(self.method.clone(), self.url.clone()).headers(self.headers.clone());
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        let mut response = request.send().await?;
        let status = response.status();
        let mut body = Vec::new();
        while body.len() < MAX_BODY {
            match response.chunk().await? {
                Some(chunk) => body.extend_from_slice(&chunk),
                None => break,
            }
        }
        body.truncate(MAX_BODY);
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    fn status_ok(&self, status: StatusCode) -> bool {
        if self.expect_status.is_empty() { status.is_success() } else { self.expect_status.contains(&status.as_u16()) }
    }

    /// `connection refused`, `timed out after 5s`, or the innermost cause.
    fn error_detail(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            return format!("timed out after {}", humantime::format_duration(self.timeout));
        }
        let mut cause: &dyn std::error::Error = e;
        while let Some(inner) = cause.source() {
            if let Some(HeadersWouldLeak(to)) = inner.downcast_ref::<HeadersWouldLeak>() {
                return format!(
                    "redirected to {to}, another host (or from https to http): not followed, so the probe's headers are not sent there"
                );
            }
            if let Some(io) = inner.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::ConnectionRefused
            {
                return "connection refused".to_string();
            }
            cause = inner;
        }
        if e.is_redirect() {
            return format!("more than {MAX_REDIRECTS} redirects");
        }
        if e.is_connect() { format!("cannot connect: {cause}") } else { cause.to_string() }
    }
}

/// Whether a redirect from `from` to `to` would carry the probe's headers elsewhere: to
/// another host, or from https down to plain http.
fn leaves_origin(from: &Url, to: &Url) -> bool {
    from.host_str() != to.host_str() || (from.scheme() == "https" && to.scheme() != "https")
}

#[derive(Debug, thiserror::Error)]
#[error("too many redirects")]
struct TooManyRedirects;

#[derive(Debug, thiserror::Error)]
#[error("a redirect to {0} would send the probe's headers to another host")]
struct HeadersWouldLeak(String);

#[async_trait]
impl Probe for HttpCheck {
    async fn check(&self) -> Check {
        let started = Instant::now();
        let (status, body) = match self.fetch().await {
            Ok(r) => r,
            // reqwest's errors may quote the URL, credentials included.
            Err(e) => {
                let detail = self.error_detail(&e);
                return Check::fail(crate::util::redact::in_text(&detail, crate::util::redact::Keep::Path));
            }
        };
        let took = started.elapsed();
        if !self.status_ok(status) {
            return Check::fail(format!("HTTP {} (expected {})", status.as_u16(), expected(&self.expect_status)));
        }
        if let Some(text) = &self.body_contains
            && !body.contains(text.as_str())
        {
            return Check::fail(format!("body does not contain {text:?}"));
        }
        if let Some(re) = &self.body_regex
            && !re.is_match(&body)
        {
            return Check::fail(format!("body does not match /{re}/"));
        }
        if let Some(max) = self.max_latency
            && took > max
        {
            return Check::fail(format!("took {} > max_latency {}", short(took), humantime::format_duration(max)));
        }
        Check::pass(format!("HTTP {} in {}", status.as_u16(), short(took)))
    }
}

fn expected(statuses: &[u16]) -> String {
    if statuses.is_empty() {
        "2xx".to_string()
    } else {
        statuses.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
    }
}

/// `http GET http://127.0.0.1:8080/health expect 200 within 1s`.
pub fn describe(p: &Config) -> String {
    let url = crate::util::redact::url(&p.url, crate::util::redact::Keep::Path);
    let mut s = format!("http {} {url} expect {}", p.method, expected(&p.expect_status));
    if let Some(text) = &p.body_contains {
        s += &format!(" body containing {text:?}");
    }
    if let Some(re) = &p.body_regex {
        s += &format!(" body matching /{re}/");
    }
    if let Some(max) = p.max_latency {
        s += &format!(" within {max}");
    }
    if let Some(t) = p.timeout {
        s += &format!(" (timeout {t})");
    }
    s
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// Serves every connection on 127.0.0.1 with `handler(raw request)` after `delay`.
    /// Returns the base URL.
    async fn serve(delay: Duration, handler: impl Fn(&str) -> String + Send + Sync + 'static) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handler = Arc::new(handler);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let handler = handler.clone();
                tokio::spawn(async move {
                    let request = read_request(&mut socket).await;
                    tokio::time::sleep(delay).await;
                    let _ = socket.write_all(handler(&request).as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        format!("http://{addr}")
    }

    /// Reads the head and a `Content-Length` body.
    async fn read_request(socket: &mut TcpStream) -> String {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    return text;
                }
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).into_owned(),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn response(status: &str, body: &str) -> String {
        format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
    }

    async fn check(probe: serde_json::Value) -> Check {
        let p: Config = serde_json::from_value(probe).unwrap();
        let timeout = p.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
        HttpCheck::new(&p, timeout).unwrap().check().await
    }

    #[tokio::test]
    async fn passes_on_2xx() {
        let url = serve(Duration::ZERO, |_| response("200 OK", "ok")).await;
        let c = check(json!({"url": url})).await;
        assert!(c.ok, "{c:?}");
        assert!(c.detail.starts_with("HTTP 200 in ") && c.detail.ends_with("ms"), "{}", c.detail);
    }

    #[tokio::test]
    async fn wrong_status() {
        let url = serve(Duration::ZERO, |_| response("503 Service Unavailable", "")).await;
        assert_eq!(check(json!({"url": url})).await, Check::fail("HTTP 503 (expected 2xx)"));
        assert_eq!(
            check(json!({"url": url, "expect_status": [200, 204]})).await,
            Check::fail("HTTP 503 (expected 200, 204)")
        );
        assert!(check(json!({"url": url, "expect_status": [503]})).await.ok);
    }

    #[tokio::test]
    async fn body_contains() {
        let url = serve(Duration::ZERO, |_| response("200 OK", "status: degraded")).await;
        assert!(check(json!({"url": url, "body_contains": "degraded"})).await.ok);
        assert_eq!(
            check(json!({"url": url, "body_contains": "ok"})).await,
            Check::fail("body does not contain \"ok\"")
        );
    }

    #[tokio::test]
    async fn body_regex() {
        let url = serve(Duration::ZERO, |_| response("200 OK", r#"{"status": "green"}"#)).await;
        assert!(check(json!({"url": url, "body_regex": r#""status":\s*"green""#})).await.ok);
        assert_eq!(
            check(json!({"url": url, "body_regex": "red|yellow"})).await,
            Check::fail("body does not match /red|yellow/")
        );
    }

    #[tokio::test]
    async fn reads_at_most_1_mib_of_body() {
        let big = format!("{}needle", "x".repeat(MAX_BODY));
        let url = serve(Duration::ZERO, move |_| response("200 OK", &big)).await;
        assert_eq!(
            check(json!({"url": url, "body_contains": "needle"})).await,
            Check::fail("body does not contain \"needle\"")
        );
    }

    #[tokio::test]
    async fn latency_bound_exceeded() {
        let url = serve(Duration::from_millis(300), |_| response("200 OK", "ok")).await;
        let c = check(json!({"url": url, "max_latency": "100ms"})).await;
        assert!(!c.ok);
        assert!(c.detail.starts_with("took ") && c.detail.ends_with("ms > max_latency 100ms"), "{}", c.detail);
        assert!(check(json!({"url": url, "max_latency": "3s"})).await.ok);
    }

    #[tokio::test]
    async fn timeout() {
        let url = serve(Duration::from_secs(10), |_| response("200 OK", "ok")).await;
        let started = Instant::now();
        assert_eq!(check(json!({"url": url, "timeout": "200ms"})).await, Check::fail("timed out after 200ms"));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn connection_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let c = check(json!({"url": format!("http://127.0.0.1:{port}/")})).await;
        assert_eq!(c, Check::fail("connection refused"));
    }

    #[tokio::test]
    async fn sends_method_headers_body_and_user_agent() {
        // The server answers with the request it received.
        let url = serve(Duration::ZERO, |request| response("200 OK", request)).await;
        let c = check(json!({
            "url": format!("{url}/submit"),
            "method": "POST",
            "headers": {"X-Test": "yes"},
            "body": "hello",
            "body_regex": "(?is)^POST /submit HTTP/1.1\r\n.*x-test: yes\r\n.*user-agent: firedrill/.*\r\n\r\nhello$",
        }))
        .await;
        assert!(c.ok, "{c:?}");
    }

    #[tokio::test]
    async fn gives_up_after_5_redirects() {
        let url = serve(Duration::ZERO, |_| {
            "HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
        })
        .await;
        assert_eq!(check(json!({"url": url})).await, Check::fail("more than 5 redirects"));
    }

    /// A probe's headers (an API key) are never sent to another host: the redirect there
    /// is refused and the check says why; the same redirect without headers is followed.
    #[tokio::test]
    async fn headers_never_follow_a_redirect_to_another_host() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let log = seen.clone();
        let other = serve(Duration::ZERO, move |request| {
            log.lock().unwrap().push(request.to_string());
            response("200 OK", "elsewhere")
        })
        .await;
        let other_port = other.rsplit(':').next().unwrap().to_string();
        let first = serve(Duration::ZERO, move |_| {
            format!(
                "HTTP/1.1 302 Found\r\nLocation: http://localhost:{other_port}/landing\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        })
        .await;
        let c = check(json!({"url": first, "headers": {"X-Api-Key": "s3cret-key"}})).await;
        assert!(!c.ok, "{c:?}");
        assert!(c.detail.starts_with("redirected to http://localhost/, another host"), "{}", c.detail);
        assert!(seen.lock().unwrap().is_empty(), "nothing reached the other host");
        // Without headers of its own, the probe follows the redirect as before.
        let c = check(json!({"url": first})).await;
        assert!(c.ok, "{c:?}");
        assert!(seen.lock().unwrap().iter().all(|r| !r.to_ascii_lowercase().contains("x-api-key")));
    }

    #[test]
    fn describes() {
        let p: Config = serde_json::from_value(json!({
            "url": "http://svc/health", "body_contains": "ok", "timeout": "2s",
        }))
        .unwrap();
        assert_eq!(describe(&p), "http GET http://svc/health expect 2xx body containing \"ok\" (timeout 2s)");
        let p: Config = serde_json::from_value(json!({"url": "https://ops:PASS@svc/health?api_key=KEY&v=2"})).unwrap();
        assert_eq!(describe(&p), "http GET https://ops:***@svc/health?api_key=***&v=*** expect 2xx");
    }
}
