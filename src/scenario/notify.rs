//! The configuration of webhooks and of a scenario's `notify` entries: where and how to
//! send, and on which events. Part of the scenario model (and of playbook `webhook`
//! steps); the `notify` module sends them.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dur;

/// The longest `timeout` a webhook may set: a chat or status-page hook that takes longer is
/// down, and waiting on it would only hold the end of the run.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// The events a scenario's `notify` entries can name.
pub const EVENTS: &[&str] = &["announce", "start", "abort", "recovered", "revert_failed", "end"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `{"event", "scenario", "run_id", "text", "at"}`, and at `end` the run's `outcome`
    /// (see the README's Notifications section).
    #[default]
    Json,
    /// `{"text": ...}`, what Slack, Mattermost and most chat webhooks accept.
    Slack,
}

/// Where and how to send.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `http://` or `https://` URL. Shown redacted (scheme and host) everywhere.
    pub url: String,
    #[serde(default)]
    pub format: Format,
    /// Extra request headers (e.g. an authorization token); never logged or reported.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The message; default: firedrill writes one for the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Per attempt; default 5s, at least 10ms, at most 30s. Three attempts in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

/// A scenario-level notification: a webhook and the events it is sent on.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    pub webhook: Webhook,
    /// Any of `announce`, `start`, `abort`, `recovered`, `revert_failed` (a fault could not
    /// be undone: a human must act; sent for each such fault), `end` (with the outcome).
    pub on: Vec<String>,
}

impl Webhook {
    /// Pure check of the URL (the headers and timeout are checked with the scenario or
    /// playbook, by `scenario::validate::webhook_problems`).
    pub fn check_url(&self) -> Result<(), String> {
        match reqwest::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
            Ok(u) => Err(format!("expected an http:// or https:// URL, found scheme `{}`", u.scheme())),
            Err(e) => Err(format!("invalid URL: {e}")),
        }
    }

    /// Pure check of `timeout`: at most [`MAX_TIMEOUT`], more than zero.
    pub fn check_timeout(&self) -> Result<(), String> {
        match self.timeout.as_ref().map(|d| d.0) {
            Some(t) if t.is_zero() => Err("must be more than 0s".into()),
            Some(t) if t > MAX_TIMEOUT => Err(format!(
                "at most {} per attempt (a webhook that takes longer is down; firedrill never waits on one for long)",
                humantime::format_duration(MAX_TIMEOUT)
            )),
            _ => Ok(()),
        }
    }

    /// The URL without path, query or credentials: `https://hooks.slack.com/…`.
    pub fn redacted(&self) -> String {
        crate::util::redact::url(&self.url, crate::util::redact::Keep::Origin)
    }
}
