//! Webhooks: Slack-compatible (`{"text": ...}`) or generic JSON, with a timeout and
//! retries. Used by scenario `notify` entries (announce, start, abort, recovered, end) and
//! by playbook `webhook` steps. Sending never blocks the run: callers spawn it and collect
//! the [`Delivery`] for the report. URLs are shown redacted (scheme and host only): Slack
//! webhook URLs are secrets, and so may be the headers, which are never shown.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub use crate::scenario::notify::{EVENTS, Format, MAX_TIMEOUT, Notify, Webhook};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const ATTEMPTS: u32 = 3;
/// After the run has ended (every fault reverted or listed as still broken), how long the
/// notifications and automated playbook steps still under way may take in all before they
/// are cut off and the run exits. A signal cuts them off at once.
pub const FINISH_DEADLINE: Duration = Duration::from_secs(30);

/// What an event says.
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    pub event: String,
    pub scenario: String,
    pub run_id: String,
    pub text: String,
    pub at: String,
    /// At `end`: what the run came to.
    pub summary: Option<Summary>,
}

/// What a run came to, sent with `end`: a JSON webhook gets these fields next to
/// `event` and `text`, so a pipeline or a pager can act on the outcome without reading the
/// report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The report's outcome (`passed`, `objective_missed`, `no_impact`, `revert_failed`…).
    pub outcome: String,
    /// The process's exit code for this outcome (the README's table).
    pub exit_code: i32,
    /// `recover` or `sustain`.
    pub objective: String,
    /// The recovery objective's time; 0 for `sustain`.
    pub objective_ms: u64,
    pub objective_met: bool,
    /// From the first injection to the steady state back; absent when it never came back.
    pub time_to_recover_ms: Option<u64>,
    /// Faults left injected: a human must act (`firedrill recover`).
    pub still_broken: usize,
    /// Where the report is (the HTML one; Markdown, JSON and JUnit beside it), for whoever
    /// reads the webhook elsewhere: its S3 URL with S3 state, else its absolute path.
    pub report: String,
}

impl Summary {
    /// One line for a chat message: `passed — recovered in 41.2s (objective 5m)`.
    pub fn line(&self) -> String {
        let ms = |ms: u64| humantime::format_duration(Duration::from_millis(ms)).to_string();
        let how = match (self.objective.as_str(), self.time_to_recover_ms) {
            ("sustain", _) if self.objective_met => "steady state held throughout".to_string(),
            ("sustain", _) => "steady state did not hold (objective: sustain)".to_string(),
            (_, Some(t)) => format!("recovered in {} (objective {})", ms(t), ms(self.objective_ms)),
            (_, None) => format!("never recovered (objective {})", ms(self.objective_ms)),
        };
        let broken = match self.still_broken {
            0 => String::new(),
            n => format!("; {n} fault(s) NOT reverted: run `firedrill recover`"),
        };
        format!("{} — {how}{broken}; report: {}", self.outcome, self.report)
    }
}

/// The outcome of sending one webhook, for the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub event: String,
    /// Redacted URL.
    pub target: String,
    pub ok: bool,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Offset from the start of the run when it was sent (ms).
    #[serde(default)]
    pub t_ms: u64,
}

/// Sends `msg` to `hook` with retries and backoff; never panics, never longer than
/// `ATTEMPTS × (timeout + backoff)` (the timeout capped at [`MAX_TIMEOUT`]), and no
/// longer than until `cutoff` is cancelled: then the delivery is recorded as cut off.
pub async fn send(hook: &Webhook, msg: &Message, cutoff: &CancellationToken) -> Delivery {
    let target = hook.redacted();
    tokio::select! {
        d = send_inner(hook, msg) => d,
        _ = cutoff.cancelled() => Delivery {
            event: msg.event.clone(),
            target,
            ok: false,
            attempts: 0,
            error: Some(CUT_OFF.into()),
            t_ms: 0,
        },
    }
}

/// Why a delivery or step still under way when the run finished did not complete.
pub const CUT_OFF: &str = "cut off: the run had ended and the notification deadline passed (or a signal came)";

/// The JSON a webhook receives.
fn body(format: Format, msg: &Message, text: String) -> serde_json::Value {
    match format {
        Format::Slack => serde_json::json!({ "text": text }),
        Format::Json => {
            let mut body = serde_json::json!({
                "event": msg.event, "scenario": msg.scenario, "run_id": msg.run_id, "text": text, "at": msg.at,
            });
            if let (Some(summary), Some(obj)) = (&msg.summary, body.as_object_mut())
                && let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(summary)
            {
                obj.extend(fields);
            }
            body
        }
    }
}

async fn send_inner(hook: &Webhook, msg: &Message) -> Delivery {
    let timeout = hook.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0).min(MAX_TIMEOUT);
    let text = hook.text.clone().unwrap_or_else(|| msg.text.clone());
    let body = body(hook.format, msg, text);
    let mut d =
        Delivery { event: msg.event.clone(), target: hook.redacted(), ok: false, attempts: 0, error: None, t_ms: 0 };
    // No redirects: a webhook's URL and headers are secrets, and are sent to the host
    // named in the scenario only. The answer's body is never read (only its status).
    let client = match reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none()).build() {
        Ok(c) => c,
        Err(e) => {
            d.error = Some(format!("cannot build an HTTP client: {e}"));
            return d;
        }
    };
    let mut wait = Duration::from_millis(500);
    for attempt in 1..=ATTEMPTS {
        d.attempts = attempt;
        let mut req =
            client.post(&hook.url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        for (k, v) in &hook.headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                d.ok = true;
                d.error = None;
                return d;
            }
            // Never echo the URL (reqwest's errors include it).
            Ok(r) => d.error = Some(format!("HTTP {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => {
                d.error = Some(format!("timed out after {}", humantime::format_duration(timeout)))
            }
            Err(e) if e.is_connect() => d.error = Some("connection failed".into()),
            Err(_) => d.error = Some("request failed".into()),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::scenario::Dur;

    fn hook(url: &str) -> Webhook {
        Webhook { url: url.into(), format: Format::Slack, headers: BTreeMap::new(), text: None, timeout: None }
    }

    #[test]
    fn urls_are_redacted_and_checked() {
        assert_eq!(hook("https://hooks.slack.com/services/T0/B0/secret").redacted(), "https://hooks.slack.com/…");
        assert_eq!(hook("http://127.0.0.1:9/").redacted(), "http://127.0.0.1:9");
        assert!(hook("ftp://x/").check_url().is_err());
        assert!(hook("not a url").check_url().is_err());
        assert!(hook("https://example.com/x").check_url().is_ok());
    }

    #[test]
    fn a_webhook_timeout_is_capped() {
        let mut h = hook("https://example.com/x");
        h.timeout = Some(Dur(Duration::from_secs(3600)));
        assert!(h.check_timeout().unwrap_err().starts_with("at most 30s per attempt"));
        h.timeout = Some(Dur(Duration::from_secs(30)));
        assert!(h.check_timeout().is_ok());
        h.timeout = Some(Dur(Duration::ZERO));
        assert!(h.check_timeout().is_err());
    }

    fn summary(outcome: &str, ttr: Option<u64>, broken: usize) -> Summary {
        Summary {
            outcome: outcome.into(),
            exit_code: 1,
            objective: "recover".into(),
            objective_ms: 300_000,
            objective_met: false,
            time_to_recover_ms: ttr,
            still_broken: broken,
            report: "/runs/r1/report.html".into(),
        }
    }

    /// `end` carries the outcome as fields of the JSON body; a chat webhook gets it as text.
    #[test]
    fn the_end_message_carries_the_outcome() {
        let mut msg = Message {
            event: "end".into(),
            scenario: "s".into(),
            run_id: "r1".into(),
            text: "t".into(),
            at: "now".into(),
            summary: Some(summary("objective_missed", Some(361_000), 0)),
        };
        let json = body(Format::Json, &msg, "t".into());
        assert_eq!(json["event"], "end");
        assert_eq!(json["outcome"], "objective_missed");
        assert_eq!(json["exit_code"], 1);
        assert_eq!(json["time_to_recover_ms"], 361_000);
        assert_eq!(json["objective_ms"], 300_000);
        assert_eq!(json["report"], "/runs/r1/report.html");
        assert_eq!(body(Format::Slack, &msg, "t".into()), serde_json::json!({"text": "t"}));
        msg.summary = None;
        assert!(body(Format::Json, &msg, "t".into()).get("outcome").is_none());
    }

    #[test]
    fn the_summary_line_says_what_was_seen() {
        assert_eq!(
            summary("objective_missed", Some(361_000), 0).line(),
            "objective_missed — recovered in 6m 1s (objective 5m); report: /runs/r1/report.html"
        );
        assert_eq!(
            summary("revert_failed", None, 2).line(),
            "revert_failed — never recovered (objective 5m); 2 fault(s) NOT reverted: run `firedrill recover`; report: /runs/r1/report.html"
        );
        let mut s = summary("passed", Some(0), 0);
        s.objective = "sustain".into();
        s.objective_met = true;
        assert!(s.line().starts_with("passed — steady state held throughout;"), "{}", s.line());
    }

    /// An endpoint that accepts and never answers holds a delivery only until the cutoff.
    #[tokio::test]
    async fn a_webhook_that_never_answers_is_cut_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        let mut h = hook(&format!("http://127.0.0.1:{port}/x"));
        h.timeout = Some(Dur(MAX_TIMEOUT));
        let msg = Message {
            event: "end".into(),
            scenario: "s".into(),
            run_id: "r".into(),
            text: "t".into(),
            at: "now".into(),
            summary: None,
        };
        let cutoff = CancellationToken::new();
        let c = cutoff.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c.cancel();
        });
        let d = tokio::time::timeout(Duration::from_secs(20), send(&h, &msg, &cutoff))
            .await
            .expect("the cutoff ends the delivery");
        assert!(!d.ok);
        assert_eq!(d.error.as_deref(), Some(CUT_OFF));
    }

    #[tokio::test]
    async fn an_unreachable_webhook_fails_after_three_attempts_without_leaking_the_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let h = hook(&format!("http://127.0.0.1:{port}/secret-token"));
        let msg = Message {
            event: "start".into(),
            scenario: "s".into(),
            run_id: "r".into(),
            text: "t".into(),
            at: "now".into(),
            summary: None,
        };
        let d = send(&h, &msg, &CancellationToken::new()).await;
        assert!(!d.ok);
        assert_eq!(d.attempts, 3);
        assert_eq!(d.error.as_deref(), Some("connection failed"));
        assert!(!serde_json::to_string(&d).unwrap().contains("secret-token"));
    }
}
