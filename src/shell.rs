//! The one place that writes status lines to stderr, cargo-style: a right-aligned verb
//! and a message, colored on a terminal, or one JSON object a line with
//! `--log-format json`. Command output proper (plans, reports, schema) goes to stdout.

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::SystemTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

pub struct Shell {
    format: LogFormat,
    color: bool,
    quiet: bool,
    err: Mutex<Box<dyn Write + Send>>,
}

impl Shell {
    pub fn new(format: LogFormat, quiet: bool) -> Self {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Shell { format, color, quiet, err: Mutex::new(Box::new(std::io::stderr())) }
    }

    /// A shell writing plain text into `w` (for tests).
    pub fn to_writer(w: Box<dyn Write + Send>, format: LogFormat) -> Self {
        Shell { format, color: false, quiet: false, err: Mutex::new(w) }
    }

    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// A progress line: `   Injecting break-web`.
    pub fn status(&self, verb: &str, msg: impl Display) {
        if !self.quiet {
            self.line(Level::Info, verb, &msg.to_string(), "1;32");
        }
    }

    pub fn warn(&self, msg: impl Display) {
        self.line(Level::Warn, "warning", &msg.to_string(), "1;33");
    }

    pub fn error(&self, msg: impl Display) {
        self.line(Level::Error, "error", &msg.to_string(), "1;31");
    }

    /// Raw lines (diagnostics, the loud revert-failure block), never suppressed.
    pub fn print(&self, level: Level, msg: impl Display) {
        let msg = msg.to_string();
        match self.format {
            LogFormat::Json => self.json(level, "", &msg),
            LogFormat::Text => {
                let mut w = self.err.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(w, "{msg}");
            }
        }
    }

    fn line(&self, level: Level, verb: &str, msg: &str, color: &str) {
        match self.format {
            LogFormat::Json => self.json(level, verb, msg),
            LogFormat::Text => {
                let mut w = self.err.lock().unwrap_or_else(|p| p.into_inner());
                let _ = if level != Level::Info {
                    if self.color {
                        writeln!(w, "\x1b[{color}m{verb}\x1b[0m: {msg}")
                    } else {
                        writeln!(w, "{verb}: {msg}")
                    }
                } else if self.color {
                    writeln!(w, "\x1b[{color}m{verb:>12}\x1b[0m {msg}")
                } else {
                    writeln!(w, "{verb:>12} {msg}")
                };
            }
        }
    }

    fn json(&self, level: Level, verb: &str, msg: &str) {
        let ts = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut obj = serde_json::json!({ "ts": ts, "level": level.as_str(), "message": msg });
        if !verb.is_empty() && level == Level::Info {
            obj["status"] = serde_json::Value::String(verb.to_string());
        }
        let mut w = self.err.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(w, "{obj}");
    }
}

/// `+1.2s` style offsets for status lines.
pub fn offset(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("+{ms}ms")
    } else if ms < 60_000 {
        format!("+{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("+{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}
