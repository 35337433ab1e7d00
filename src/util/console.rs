//! The one place that writes status lines to stderr, cargo-style: a right-aligned verb
//! and a message, colored on a terminal, or one JSON object a line with
//! `--log-format json`. Command output proper (plans, reports, schema) goes to stdout
//! through [`stdout`].
//!
//! Everything written here is made safe for a terminal first ([`terminal_safe`]): text
//! from scenarios, playbooks, notes and probe output never reaches it with escape
//! sequences (colors, cursor moves, OSC 52 clipboard writes), a bell or a carriage return.
//! A reader that went away (EPIPE: `firedrill ... | head -1`, a closed log pipe) is not an
//! error and never a panic: the rest of the output is dropped and the exit code still says
//! how the command went. [`quote`] makes a value safe to paste into a shell.

use std::borrow::Cow;
use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
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

pub struct Console {
    format: LogFormat,
    color: bool,
    quiet: bool,
    err: Mutex<Box<dyn Write + Send>>,
    /// The last line of a prompt waiting for an answer (see [`Console::prompt`]).
    pending: Mutex<Option<String>>,
}

impl Console {
    pub fn new(format: LogFormat, quiet: bool) -> Self {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Console { format, color, quiet, err: Mutex::new(Box::new(std::io::stderr())), pending: Mutex::new(None) }
    }

    /// A shell writing plain text into `w` (for tests).
    pub fn to_writer(w: Box<dyn Write + Send>, format: LogFormat) -> Self {
        Console { format, color: false, quiet: false, err: Mutex::new(w), pending: Mutex::new(None) }
    }

    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Shows `text`, a prompt whose last line waits for an answer on that line. Until
    /// [`Console::prompt_answered`], a status line goes on a line of its own, below it,
    /// and the prompt is shown again under it: the two never share a line.
    pub fn prompt(&self, text: &str) {
        let mut w = self.err.lock().unwrap_or_else(|p| p.into_inner());
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(text.rsplit('\n').next().unwrap_or_default().to_string());
        let _ = write!(w, "{}", terminal_safe(text, true));
        let _ = w.flush();
    }

    /// The prompt's answer was read (its newline ended the prompt's line).
    pub fn prompt_answered(&self) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn pending(&self) -> Option<String> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A progress line: `   Injecting break-web`.
    pub fn status(&self, verb: &str, msg: impl Display) {
        if !self.quiet {
            self.line(Level::Info, verb, &msg.to_string(), "1;32");
        }
    }

    /// A progress line that is also a named event: with `--log-format json` its object
    /// carries `"event": event` and each of `fields` (values made terminal-safe), so a log
    /// reader finds it without parsing the message.
    pub fn status_event(&self, verb: &str, msg: impl Display, event: &str, fields: &[(&str, &str)]) {
        if self.quiet {
            return;
        }
        let msg = msg.to_string();
        match self.format {
            LogFormat::Text => self.line(Level::Info, verb, &msg, "1;32"),
            LogFormat::Json => {
                let mut extra = serde_json::Map::new();
                extra.insert("event".into(), event.into());
                for (k, v) in fields {
                    extra.insert((*k).into(), terminal_safe(v, false).into_owned().into());
                }
                self.json_with(Level::Info, verb, &msg, extra);
            }
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
        let msg = terminal_safe(&msg, true);
        match self.format {
            LogFormat::Json => self.json(level, "", &msg),
            LogFormat::Text => {
                let pending = self.pending();
                let mut w = self.err.lock().unwrap_or_else(|p| p.into_inner());
                beside_prompt(pending.as_deref(), &mut **w, |w| {
                    let _ = writeln!(w, "{msg}");
                });
            }
        }
    }

    fn line(&self, level: Level, verb: &str, msg: &str, color: &str) {
        let msg = &terminal_safe(msg, true);
        match self.format {
            LogFormat::Json => self.json(level, verb, msg),
            LogFormat::Text => {
                let pending = self.pending();
                let mut w = self.err.lock().unwrap_or_else(|p| p.into_inner());
                beside_prompt(pending.as_deref(), &mut **w, |w| {
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
                });
            }
        }
    }

    fn json(&self, level: Level, verb: &str, msg: &str) {
        self.json_with(level, verb, msg, serde_json::Map::new());
    }

    fn json_with(&self, level: Level, verb: &str, msg: &str, extra: serde_json::Map<String, serde_json::Value>) {
        let msg = &terminal_safe(msg, true);
        let ts = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut obj = serde_json::json!({ "ts": ts, "level": level.as_str(), "message": msg });
        if !verb.is_empty() && level == Level::Info {
            obj["status"] = serde_json::Value::String(verb.to_string());
        }
        for (k, v) in extra {
            obj[k] = v;
        }
        let pending = self.pending();
        let mut w = self.err.lock().unwrap_or_else(|p| p.into_inner());
        beside_prompt(pending.as_deref(), &mut **w, |w| {
            let _ = writeln!(w, "{obj}");
        });
    }

    /// Runs `write` (output that does not go through this console: the run directory on
    /// stdout) so that it never lands on the line of a waiting prompt: the prompt's line is
    /// ended first and the prompt shown again after it.
    pub fn beside_prompt<R>(&self, write: impl FnOnce() -> R) -> R {
        let pending = self.pending();
        let mut w = self.err.lock().unwrap_or_else(|p| p.into_inner());
        beside_prompt(pending.as_deref(), &mut **w, |_| write())
    }

    /// A prompt that will not be answered (the run is over): its line is ended, and status
    /// lines are plain again.
    pub fn prompt_abandoned(&self) {
        let mut w = self.err.lock().unwrap_or_else(|p| p.into_inner());
        if self.pending.lock().unwrap_or_else(|p| p.into_inner()).take().is_some() {
            let _ = writeln!(w);
            let _ = w.flush();
        }
    }
}

/// Text made safe to show on a terminal: C0 controls (but newline and tab when
/// `keep_lines`), carriage return, DEL, C1 controls (U+0080–U+009F, which some terminals
/// read as escape sequences) and the bidirectional overrides that reorder what is shown
/// (U+202A–U+202E, U+2066–U+2069) each become U+FFFD. An escape sequence is thereby
/// broken at its ESC and shows as plain text.
pub fn terminal_safe(s: &str, keep_lines: bool) -> Cow<'_, str> {
    let bad = |c: char| match c {
        '\n' | '\t' => !keep_lines,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    };
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if bad(c) { '\u{fffd}' } else { c }).collect())
}

/// Writes command output (a plan, a report, a schema) to stdout, made safe for a terminal
/// when stdout is one (a file or a pipe gets the exact bytes). A reader that went away
/// (EPIPE) is not an error: the output is dropped and `Ok` returned, so the exit code can
/// still say how the command went; any other write error is returned.
pub fn stdout(text: &str) -> io::Result<()> {
    let out = io::stdout();
    let text = if out.is_terminal() { terminal_safe(text, true) } else { Cow::Borrowed(text) };
    let mut out = out.lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// Writes `write` (a status line) so that it never lands on the line of a `pending`
/// prompt: the line goes below it, and the prompt is shown again under the line.
fn beside_prompt<R>(pending: Option<&str>, w: &mut dyn Write, write: impl FnOnce(&mut dyn Write) -> R) -> R {
    match pending {
        None => write(w),
        Some(p) => {
            let _ = writeln!(w);
            let _ = w.flush();
            let r = write(w);
            let _ = write!(w, "{}", terminal_safe(p, false));
            let _ = w.flush();
            r
        }
    }
}

/// Writes `text` to stderr outside the status lines (a plan before the confirmation, a
/// prompt), made safe for a terminal; write errors (a closed stderr) are ignored.
pub fn stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(terminal_safe(text, true).as_bytes()).and_then(|()| err.flush());
}

/// `value` quoted for a POSIX shell, so that a command built with it can be pasted as is:
/// nothing in it expands (`$(...)`, backticks, globs) and spaces do not split it. Plain
/// words (`i-0abc`, `us-east-1`) stay unquoted.
pub fn quote(value: &str) -> Cow<'_, str> {
    match shlex::try_quote(value) {
        Ok(q) => q,
        // Only a NUL byte cannot be quoted; no shell argument can hold one anyway.
        Err(_) => Cow::Owned(shlex::try_quote(&value.replace('\0', "")).map(Cow::into_owned).unwrap_or_default()),
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer whose bytes a test can read back.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Escape sequences a hostile string could carry: a color, a cursor move, an OSC 52
    /// clipboard write ended by BEL and by ST, a carriage return overwriting the line, a C1
    /// CSI, DEL and a right-to-left override.
    const HOSTILE: &str =
        "a\x1b[31mred\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07b\x1b]52;c;eA==\x1b\\c\rd\u{9b}31me\x7ff\u{202e}g\x00h";

    fn no_controls(s: &str) {
        for c in s.chars() {
            assert!(
                c == '\n'
                    || !(c.is_control()
                        || ('\u{202a}'..='\u{202e}').contains(&c)
                        || ('\u{2066}'..='\u{2069}').contains(&c)),
                "{c:?} reached the terminal in {s:?}"
            );
        }
    }

    #[test]
    fn a_status_line_never_lands_on_a_waiting_prompt() {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct W(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let c = Console::to_writer(Box::new(W(buf.clone())), LogFormat::Text);
        c.prompt("\n>>> STEP x\n>>> done | abort: ");
        c.status("Reverting", "break-web");
        c.prompt_answered();
        c.status("Reverted", "break-web");
        let out = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        // While the prompt waits, the status line goes below it and the prompt again under
        // it; once answered (the answer's newline ends its line), lines are plain again.
        assert_eq!(
            out,
            "\n>>> STEP x\n>>> done | abort: \n   Reverting break-web\n>>> done | abort:     Reverted break-web\n"
        );
    }

    /// Every path out of the console keeps off a waiting prompt's line: a JSON line, a
    /// raw line, a warning, and output written beside it (stdout); an abandoned prompt
    /// ends its line once and is not shown again.
    #[test]
    fn no_output_path_lands_on_a_waiting_prompt() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let buf = Buf::default();
            let c = Console::to_writer(Box::new(buf.clone()), format);
            c.prompt("\n>>> STEP x\n>>> done | abort: ");
            c.status("Holding", "the injection");
            c.status_event("Started", "run r1", "run_started", &[("run_id", "r1")]);
            c.warn("careful");
            c.print(Level::Error, "raw");
            c.beside_prompt(|| buf.clone().write_all(b"/runs/r1\n").unwrap());
            c.prompt_abandoned();
            c.status("Passed", "recovered");
            c.prompt_abandoned();
            let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
            let lines: Vec<&str> = out.lines().collect();
            // Each output is a line of its own, followed by the prompt shown again.
            assert_eq!(lines[..3], ["", ">>> STEP x", ">>> done | abort: "], "{format:?}: {out}");
            for pair in lines[3..13].chunks(2) {
                assert!(!pair[0].contains(">>>"), "{format:?}: {:?} in\n{out}", pair[0]);
                assert_eq!(pair[1], ">>> done | abort: ", "{format:?}: {out}");
            }
            assert_eq!(lines[11], "/runs/r1", "{format:?}: {out}");
            // Abandoned, the prompt's line is ended and it is not shown again.
            assert!(lines[13].contains("Passed") && lines.len() == 14, "{format:?}: {out}");
            assert!(out.ends_with("recovered\n") || out.ends_with("}\n"), "{format:?}: {out}");
        }
    }

    #[test]
    fn status_lines_never_carry_escape_sequences() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let buf = Buf::default();
            let shell = Console::to_writer(Box::new(buf.clone()), format);
            shell.status("Probe", HOSTILE);
            shell.warn(HOSTILE);
            shell.error(HOSTILE);
            shell.print(Level::Error, format!("line one\n{HOSTILE}"));
            let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
            no_controls(&out);
            assert!(out.contains("]52;c;cm0gLXJmIH4="), "the text itself stays visible: {out}");
            if format == LogFormat::Json {
                // JSON escapes would decode back to the control characters.
                assert!(!out.contains("\\u001b") && !out.contains("\\u0007"), "{out}");
            }
        }
    }

    #[test]
    fn a_status_event_is_a_line_in_text_and_carries_its_fields_in_json() {
        let buf = Buf::default();
        let shell = Console::to_writer(Box::new(buf.clone()), LogFormat::Json);
        shell.status_event(
            "Started",
            "run r1 in /s/runs/r1",
            "run_started",
            &[("run_id", "r1"), ("run_dir", "/s/\x1b[2Jr1")],
        );
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["event"], "run_started", "{out}");
        assert_eq!(v["status"], "Started", "{out}");
        assert_eq!(v["run_id"], "r1", "{out}");
        assert_eq!(v["message"], "run r1 in /s/runs/r1", "{out}");
        no_controls(&out);
        let buf = Buf::default();
        let shell = Console::to_writer(Box::new(buf.clone()), LogFormat::Text);
        shell.status_event("Started", "run r1 in /s/runs/r1", "run_started", &[("run_id", "r1")]);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out, "     Started run r1 in /s/runs/r1\n");
    }

    #[test]
    fn terminal_safe_keeps_ordinary_text_and_lines() {
        assert!(matches!(terminal_safe("plain — ünïcode ✅\n\tnext", true), Cow::Borrowed(_)));
        assert_eq!(terminal_safe("a\nb\tc", false), "a\u{fffd}b\u{fffd}c");
        no_controls(&terminal_safe(HOSTILE, true));
    }

    #[test]
    fn quote_makes_values_paste_safe() {
        assert_eq!(quote("i-0abc"), "i-0abc");
        assert_eq!(quote("us-east-1"), "us-east-1");
        for v in ["$(touch pwned)", "`id`", "a b", "x;rm -rf ~", "it's", "*", "", "a\nb", "-dash"] {
            let q = quote(v);
            assert_eq!(shlex::split(&q), Some(vec![v.to_string()]), "{v:?} quoted as {q}");
        }
        assert_eq!(quote("a\0b"), "ab");
    }
}
