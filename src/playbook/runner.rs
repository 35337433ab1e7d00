//! Runs a playbook's steps and a scenario's notifications alongside a game day. It
//! listens to the run's events (`start`, `inject`, `detect`, `recover`, `abort`, `revert`,
//! `end`, each taken at its first occurrence), starts each step `after` its event, and
//! records planned vs actual times. Manual steps are prompted to the facilitator with
//! `--interactive` (answers: `done`, `skip <reason>`, `note <text>`, `abort`) and otherwise
//! recorded as not exercised. Nothing here can delay a revert: it runs in its own task and only reads
//! events; at the end, steps still waiting for a time that never came are `not_due`. Nor can
//! a prompt keep the run alive: once the run is over, a prompt still waiting gets the
//! notifications' cut-off, and its step is recorded as `unanswered`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::Step;
use crate::engine::executor::later;
use crate::notify::{self, Delivery, Message, Notify};
use crate::util::console::Console;
use crate::util::sh::{ShellOpts, run_shell};

/// How long an automated `run` step may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// What happened to one step, for the report. Offsets are ms from the start of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub what: String,
    pub who: String,
    /// `manual`, `command` or `webhook`.
    pub kind: String,
    pub on: String,
    pub after_ms: u64,
    pub communicate: bool,
    /// When it was due; null if its event never happened.
    pub due_ms: Option<u64>,
    /// When it was done (or failed, or was skipped).
    pub done_ms: Option<u64>,
    /// `done`, `failed`, `skipped`, `aborted` (the facilitator answered `abort` at its
    /// prompt), `unanswered` (its prompt had no answer when the run ended and was cut off,
    /// or stdin closed), `not_exercised` (manual, non-interactive run) or `not_due` (its
    /// event never came, or the run ended first).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What became of a manual step's prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Done,
    /// Skipped, with the facilitator's reason.
    Skipped(String),
    /// The facilitator answered `abort` here: the run aborts (the reason says where).
    Aborted(String),
    /// No answer can come (stdin closed).
    Unanswered(String),
}

/// Asks the facilitator about manual steps. `None`: run non-interactively.
#[async_trait::async_trait]
pub trait Prompter: Send + Sync {
    /// The facilitator's answer. The future may be dropped before it is ready (the run
    /// is over and the cut-off came): the prompt is then given up.
    async fn ask(&self, step: &Step, late_by: Duration) -> Reply;
}

/// A facilitator's answer to a step's prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `done` (or `d`).
    Done,
    /// `skip <reason>` (or `s <reason>`).
    Skip(String),
    /// `note <text>` (or `n <text>`): an observer note in the run's notes; the prompt stays.
    Note(String),
    /// `abort`: the run aborts and reverts every fault.
    Abort,
    /// Anything else (an empty line included): asked again. Nothing is taken for `done`.
    Unknown(String),
}

/// What the prompt offers.
pub const ANSWERS: &str = "done | skip <reason> | note <text> | abort";

impl Answer {
    pub fn parse(line: &str) -> Answer {
        let line = line.trim();
        let (word, rest) = line.split_once(char::is_whitespace).map_or((line, ""), |(w, r)| (w, r.trim()));
        match (word.to_ascii_lowercase().as_str(), rest.is_empty()) {
            ("done" | "d", true) => Answer::Done,
            ("skip" | "s", true) => Answer::Skip("skipped".into()),
            ("skip" | "s", false) => Answer::Skip(rest.into()),
            ("note" | "n", false) => Answer::Note(rest.into()),
            ("abort", true) => Answer::Abort,
            _ => Answer::Unknown(line.into()),
        }
    }
}

/// Where the facilitator's `note` and `abort` answers go.
#[derive(Clone)]
pub struct Room {
    /// The run's folder: notes are appended to its `notes.jsonl`.
    pub run_dir: PathBuf,
    /// Who writes the notes (`firedrill note`'s author rule).
    pub author: String,
    /// Cancelled (with its reason set first) by `abort`: the run aborts and reverts.
    pub abort: CancellationToken,
    pub abort_reason: Arc<std::sync::OnceLock<String>>,
    /// Counts the `hold` steps answered: the run injects once all of them are.
    pub held: tokio::sync::watch::Sender<usize>,
}

/// Prompts on the terminal (stderr) and reads stdin, one step at a time. Each prompt says
/// the step, who does it and what is due next, and takes one of [`ANSWERS`]; while it
/// waits, status lines are printed on lines of their own and the prompt is shown again
/// below them.
pub struct Terminal {
    console: Arc<Console>,
    one_at_a_time: Mutex<()>,
    /// Every step in the order it comes due, for "next".
    steps: Vec<Step>,
    room: Option<Room>,
}

impl Terminal {
    pub fn new(console: Arc<Console>, steps: &[Step], room: Option<Room>) -> Self {
        let steps = super::in_order(steps).into_iter().cloned().collect();
        Terminal { console, one_at_a_time: Mutex::new(()), steps, room }
    }

    /// The prompt for `step`: what, who, and the step due after it.
    fn prompt(&self, step: &Step) -> String {
        let next = self
            .steps
            .iter()
            .position(|s| s.name == step.name)
            .and_then(|i| self.steps.get(i + 1))
            .map(|n| {
                format!(">>> next: `{}` for {} ({} +{})\n", n.name, n.who, n.on, humantime::format_duration(n.after()))
            })
            .unwrap_or_default();
        let hold = if step.hold { ">>> nothing is injected until you answer\n" } else { "" };
        format!("\n>>> STEP `{}` for {}: {}\n{hold}{next}>>> {ANSWERS}: ", step.name, step.who, step.what)
    }
}

/// Shows `prompt` and reads one line of stdin. The read runs on a thread of its own, not
/// the runtime's blocking pool: a read that never returns (nobody answers) must not hold
/// the process at exit, which waits for that pool. Dropped before a line came, the prompt
/// is given up (its line ended, status lines plain again).
async fn read_line(console: Arc<Console>, prompt: String) -> Option<String> {
    struct GiveUp(Arc<Console>, bool);
    impl Drop for GiveUp {
        fn drop(&mut self) {
            if !self.1 {
                self.0.prompt_abandoned();
            }
        }
    }
    // Shown here, not on the thread: once this future is dropped, no prompt can appear.
    console.prompt(&prompt);
    let mut guard = GiveUp(console.clone(), false);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new().name("prompt".into()).spawn(move || {
        use std::io::BufRead;
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        // Given up meanwhile: the line is not this prompt's answer, and nothing waits.
        if tx.is_closed() {
            return;
        }
        console.prompt_answered();
        let _ = tx.send(match read {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        });
    });
    if spawned.is_err() {
        return None;
    }
    let line = rx.await.ok().flatten();
    guard.1 = true;
    line
}

#[async_trait::async_trait]
impl Prompter for Terminal {
    async fn ask(&self, step: &Step, late_by: Duration) -> Reply {
        let answer = self.answer(step, late_by).await;
        if step.hold
            && let Some(room) = &self.room
        {
            // A hold nobody can answer (stdin closed) is not a go: nothing is injected.
            if let Reply::Unanswered(why) = &answer {
                let _ = room.abort_reason.set(format!("step `{}` holds the injection and had {why}", step.name));
                room.abort.cancel();
            }
            room.held.send_modify(|n| *n += 1);
        }
        answer
    }
}

impl Terminal {
    async fn answer(&self, step: &Step, _late_by: Duration) -> Reply {
        let _one = self.one_at_a_time.lock().await;
        let mut prompt = self.prompt(step);
        loop {
            let Some(line) = read_line(self.console.clone(), prompt.clone()).await else {
                return Reply::Unanswered("no answer (stdin closed)".into());
            };
            match Answer::parse(&line) {
                Answer::Done => return Reply::Done,
                Answer::Skip(reason) => return Reply::Skipped(reason),
                Answer::Abort => {
                    let why = format!("the facilitator answered `abort` at step `{}`", step.name);
                    if let Some(room) = &self.room {
                        let _ = room.abort_reason.set(why.clone());
                        room.abort.cancel();
                    }
                    return Reply::Aborted(why);
                }
                Answer::Note(text) => {
                    let said = match (&self.room, crate::notes::check_text(&text)) {
                        (Some(room), Ok(text)) => {
                            let note = crate::notes::Note::now(&room.author, text, false);
                            match crate::notes::append(&room.run_dir, &note) {
                                Ok(()) => "noted".to_string(),
                                Err(e) => format!("the note was not kept: {e}"),
                            }
                        }
                        (None, _) => "notes are not kept in this run".to_string(),
                        (_, Err(e)) => format!("the note was not kept: {e}"),
                    };
                    prompt = format!(">>> {said}\n>>> {ANSWERS}: ");
                }
                Answer::Unknown(what) => {
                    let what = if what.is_empty() { "an empty line".to_string() } else { format!("`{what}`") };
                    prompt = format!(">>> {what} is not an answer; type one of: {ANSWERS}: ");
                }
            }
        }
    }
}

/// Who and where, for commands and messages.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub scenario: String,
    pub run_id: String,
    pub cwd: PathBuf,
}

/// A run event for the runner: its name (one of [`super::EVENTS`]) and a message.
#[derive(Clone, Debug)]
pub struct RunEvent {
    pub name: &'static str,
    pub at: Duration,
    pub text: String,
    /// With `end`: what the run came to, for the webhooks.
    pub summary: Option<notify::Summary>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Why a prompt still waiting when the run's cut-off came is recorded as `unanswered`.
pub const UNANSWERED: &str =
    "no answer: the run had ended and the cut-off for what was still under way passed (or a signal came)";

/// The run event of a fault that could not be reverted: not a playbook event (a step cannot
/// wait for it), but a notification of its own, sent for each such fault.
pub const REVERT_FAILED: &str = "revert_failed";

/// The notify event a run event triggers, if any.
fn notify_event(run_event: &str) -> Option<&'static str> {
    match run_event {
        "start" => Some("start"),
        "abort" => Some("abort"),
        "recover" => Some("recovered"),
        "revert_failed" => Some("revert_failed"),
        "end" => Some("end"),
        _ => None,
    }
}

/// Runs until `events` is closed (after `end`), then returns every step's record and every
/// notification delivery. `t0` is the start of the run. Cancelling `cutoff` ends every
/// webhook and `run` step still under way (recorded as failed, cut off) and every prompt
/// still waiting (recorded as unanswered), so that the end of a run is never held by a
/// notification or a prompt.
pub async fn run(
    steps: Vec<Step>,
    notify: Vec<Notify>,
    info: RunInfo,
    mut events: mpsc::UnboundedReceiver<RunEvent>,
    prompter: Option<Arc<dyn Prompter>>,
    t0: Instant,
    cutoff: CancellationToken,
) -> (Vec<StepRecord>, Vec<Delivery>) {
    let mut records: Vec<StepRecord> = steps
        .iter()
        .map(|s| StepRecord {
            name: s.name.clone(),
            what: s.what.clone(),
            who: s.who.clone(),
            kind: s.kind().to_string(),
            on: s.on.clone(),
            after_ms: ms(s.after()),
            communicate: s.communicate,
            due_ms: None,
            done_ms: None,
            status: "not_due".into(),
            detail: None,
        })
        .collect();
    let mut fired: HashMap<&'static str, Duration> = HashMap::new();
    let mut waiting: JoinSet<(usize, StepRecord)> = JoinSet::new();
    let mut handles = Vec::new();
    let mut sending: JoinSet<Delivery> = JoinSet::new();

    while let Some(ev) = events.recv().await {
        // Each fault that cannot be undone is its own alarm; every other event counts once.
        if ev.name != REVERT_FAILED {
            if fired.contains_key(ev.name) {
                continue;
            }
            fired.insert(ev.name, ev.at);
        }
        if let Some(n) = notify_event(ev.name) {
            for entry in notify.iter().filter(|e| e.on.iter().any(|o| o == n)) {
                let hook = entry.webhook.clone();
                let mut msg = message(&info, n, &ev.text);
                msg.summary = ev.summary.clone();
                let sent_at = ev.at;
                let cutoff = cutoff.clone();
                sending.spawn(async move {
                    let mut d = notify::send(&hook, &msg, &cutoff).await;
                    d.t_ms = ms(sent_at);
                    d
                });
            }
        }
        for (i, s) in steps.iter().enumerate().filter(|(_, s)| s.on == ev.name) {
            let due = ev.at.saturating_add(s.after());
            records[i].due_ms = Some(ms(due));
            let (step, mut rec, info, prompter) = (s.clone(), records[i].clone(), info.clone(), prompter.clone());
            let cutoff = cutoff.clone();
            let h = waiting.spawn(async move {
                sleep_until(later(t0, due)).await;
                perform(&step, &mut rec, &info, prompter.as_deref(), t0, due, &cutoff).await;
                (i, rec)
            });
            handles.push((i, due, h));
        }
        if ev.name == "end" {
            break;
        }
    }
    // The run is over. `end` steps still run; a step that is still waiting for a time
    // after the end never comes due. Steps already being performed finish.
    if let Some(end) = fired.get("end").copied() {
        for (i, due, h) in &handles {
            if steps[*i].on != "end" && *due > end {
                h.abort();
            }
        }
    }
    while let Some(r) = waiting.join_next().await {
        if let Ok((i, rec)) = r {
            records[i] = rec;
        }
    }
    for (s, r) in steps.iter().zip(records.iter_mut()) {
        if r.status == "not_due" {
            r.detail = Some(if fired.contains_key(s.on.as_str()) {
                "the run ended before it was due".into()
            } else {
                format!("`{}` never happened in this run", s.on)
            });
        }
    }
    let mut deliveries = Vec::new();
    while let Some(d) = sending.join_next().await {
        if let Ok(d) = d {
            deliveries.push(d);
        }
    }
    deliveries.sort_by_key(|d| d.t_ms);
    (records, deliveries)
}

async fn perform(
    step: &Step,
    rec: &mut StepRecord,
    info: &RunInfo,
    prompter: Option<&dyn Prompter>,
    t0: Instant,
    due: Duration,
    cutoff: &CancellationToken,
) {
    let now = || ms(Instant::now().saturating_duration_since(t0));
    match (&step.run, &step.webhook) {
        (Some(_), _) if cutoff.is_cancelled() => {
            rec.status = "failed".into();
            rec.detail = Some(notify::CUT_OFF.into());
        }
        (Some(cmd), _) => {
            let opts = ShellOpts {
                timeout: STEP_TIMEOUT,
                cwd: Some(info.cwd.clone()),
                env: vec![
                    ("FIREDRILL_RUN_ID".into(), info.run_id.clone()),
                    ("FIREDRILL_STEP".into(), step.name.clone()),
                ],
                ..ShellOpts::default()
            };
            let result = tokio::select! {
                r = run_shell(cmd, &opts) => Some(r),
                _ = cutoff.cancelled() => None,
            };
            match result {
                None => {
                    rec.status = "failed".into();
                    rec.detail = Some(notify::CUT_OFF.into());
                }
                Some(Ok(out)) if out.status == Some(0) => rec.status = "done".into(),
                Some(Ok(out)) => {
                    rec.status = "failed".into();
                    rec.detail = Some(out.summary());
                }
                Some(Err(e)) => {
                    rec.status = "failed".into();
                    rec.detail = Some(e.to_string());
                }
            }
        }
        (_, Some(hook)) => {
            let d = notify::send(hook, &message(info, &format!("step:{}", step.name), &step.what), cutoff).await;
            rec.status = if d.ok { "done" } else { "failed" }.into();
            rec.detail = d.error.map(|e| format!("{}: {e}", d.target));
        }
        (None, None) => match prompter {
            None => {
                rec.status = "not_exercised".into();
                rec.detail = Some("manual step; the run was not --interactive".into());
                rec.done_ms = None;
                return;
            }
            Some(p) => {
                let late = Instant::now().saturating_duration_since(later(t0, due));
                // The cut-off first: once it came, a prompt is not even shown.
                let reply = tokio::select! {
                    biased;
                    _ = cutoff.cancelled() => None,
                    r = p.ask(step, late) => Some(r),
                };
                let (status, detail) = match reply {
                    Some(Reply::Done) => ("done", None),
                    Some(Reply::Skipped(reason)) => ("skipped", Some(reason)),
                    Some(Reply::Aborted(why)) => ("aborted", Some(why)),
                    Some(Reply::Unanswered(why)) => ("unanswered", Some(why)),
                    None => ("unanswered", Some(UNANSWERED.to_string())),
                };
                rec.status = status.into();
                rec.detail = detail;
                if status == "unanswered" {
                    rec.done_ms = None;
                    return;
                }
            }
        },
    }
    rec.done_ms = Some(now());
}

fn message(info: &RunInfo, event: &str, text: &str) -> Message {
    Message {
        event: event.to_string(),
        scenario: info.scenario.clone(),
        run_id: info.run_id.clone(),
        text: format!("[firedrill] {} ({}): {text}", info.scenario, event),
        at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        summary: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the explicit answers count: `abort` is never taken for `done`, nor is an empty
    /// line or a typo.
    #[test]
    fn answers_are_explicit() {
        assert_eq!(Answer::parse("done\n"), Answer::Done);
        assert_eq!(Answer::parse(" D "), Answer::Done);
        assert_eq!(Answer::parse("skip nobody on comms"), Answer::Skip("nobody on comms".into()));
        assert_eq!(Answer::parse("s"), Answer::Skip("skipped".into()));
        assert_eq!(Answer::parse("note  the pager went off late "), Answer::Note("the pager went off late".into()));
        assert_eq!(Answer::parse("abort"), Answer::Abort);
        assert_eq!(Answer::parse("ABORT\n"), Answer::Abort);
        for other in ["", "\n", "abort now", "note", "dome", "done it", "yes"] {
            assert_eq!(Answer::parse(other), Answer::Unknown(other.trim().into()), "{other:?}");
        }
    }

    #[test]
    fn the_prompt_says_the_step_who_and_what_is_due_next() {
        let steps = vec![
            step("page", "comms", "detect", 200, None),
            step("tell", "ic", "inject", 0, None),
            step("retro", "ic", "end", 0, None),
        ];
        let console = Arc::new(Console::to_writer(Box::new(std::io::sink()), crate::util::console::LogFormat::Text));
        let t = Terminal::new(console, &steps, None);
        let p = t.prompt(&steps[1]);
        assert_eq!(
            p,
            "\n>>> STEP `tell` for ic: do tell\n>>> next: `page` for comms (detect +200ms)\n>>> done | skip <reason> | note <text> | abort: "
        );
        assert!(!t.prompt(&steps[2]).contains("next:"), "the last step has no next");
    }

    fn step(name: &str, who: &str, on: &str, after_ms: u64, run: Option<&str>) -> Step {
        Step {
            name: name.into(),
            what: format!("do {name}"),
            who: who.into(),
            on: on.into(),
            after: Some(crate::scenario::duration::Offset(Duration::from_millis(after_ms))).filter(|_| after_ms > 0),
            communicate: true,
            run: run.map(String::from),
            webhook: None,
            hold: false,
        }
    }

    /// Answers after `delay`; skips steps whose name starts with `skip`.
    struct Facilitator(Duration);

    #[async_trait::async_trait]
    impl Prompter for Facilitator {
        async fn ask(&self, step: &Step, _: Duration) -> Reply {
            tokio::time::sleep(self.0).await;
            if step.name.starts_with("skip") { Reply::Skipped("no status page today".into()) } else { Reply::Done }
        }
    }

    fn ev(name: &'static str, ms: u64) -> RunEvent {
        RunEvent { name, at: Duration::from_millis(ms), text: String::new(), summary: None }
    }

    async fn drive(steps: Vec<Step>, events: Vec<RunEvent>, prompter: Option<Arc<dyn Prompter>>) -> Vec<StepRecord> {
        drive_with(steps, events, prompter, CancellationToken::new()).await
    }

    async fn drive_with(
        steps: Vec<Step>,
        events: Vec<RunEvent>,
        prompter: Option<Arc<dyn Prompter>>,
        cutoff: CancellationToken,
    ) -> Vec<StepRecord> {
        let (tx, rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        let info = RunInfo { scenario: "s".into(), run_id: "r".into(), cwd: std::env::temp_dir() };
        let task = tokio::spawn(run(steps, vec![], info, rx, prompter, t0, cutoff));
        for e in events {
            tokio::time::sleep_until(t0 + e.at).await;
            tx.send(e).unwrap();
        }
        drop(tx);
        task.await.unwrap().0
    }

    /// Never answers: a facilitator who walked away.
    struct Away;

    #[async_trait::async_trait]
    impl Prompter for Away {
        async fn ask(&self, _: &Step, _: Duration) -> Reply {
            std::future::pending().await
        }
    }

    /// A prompt nobody answers does not keep the run alive: once the cut-off comes (the
    /// run is over), each step still waiting for an answer is `unanswered`.
    #[tokio::test(start_paused = true)]
    async fn a_prompt_nobody_answers_is_cut_off_and_recorded_as_unanswered() {
        let steps = vec![step("rollback-check", "ic", "revert", 0, None), step("retro", "ic2", "end", 0, None)];
        let events = vec![ev("start", 0), ev("revert", 100), ev("end", 200)];
        let cutoff = CancellationToken::new();
        let cut = cutoff.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            cut.cancel();
        });
        let r = drive_with(steps, events, Some(Arc::new(Away)), cutoff).await;
        for rec in &r {
            assert_eq!((rec.status.as_str(), rec.done_ms), ("unanswered", None), "{rec:?}");
            assert_eq!(rec.detail.as_deref(), Some(UNANSWERED));
            assert!(rec.due_ms.is_some(), "{rec:?}");
        }
    }

    /// `abort` at a prompt is recorded as aborted, with where it was answered.
    #[tokio::test(start_paused = true)]
    async fn an_abort_answer_is_recorded_as_aborted() {
        struct Aborts;
        #[async_trait::async_trait]
        impl Prompter for Aborts {
            async fn ask(&self, step: &Step, _: Duration) -> Reply {
                Reply::Aborted(format!("the facilitator answered `abort` at step `{}`", step.name))
            }
        }
        let r = drive(
            vec![step("tell", "ic", "inject", 0, None)],
            vec![ev("inject", 0), ev("end", 10)],
            Some(Arc::new(Aborts)),
        )
        .await;
        assert_eq!(r[0].status, "aborted");
        assert_eq!(r[0].detail.as_deref(), Some("the facilitator answered `abort` at step `tell`"));
    }

    #[tokio::test(start_paused = true)]
    async fn manual_steps_are_prompted_when_due_and_timed() {
        let steps = vec![
            step("tell-staff", "ic", "inject", 0, None),
            step("skip-status", "comms", "detect", 1000, None),
            step("never", "comms", "recover", 0, None),
            step("later", "ic", "start", 60_000, None),
            step("all-clear", "comms", "end", 0, None),
        ];
        let events = vec![ev("start", 0), ev("inject", 100), ev("detect", 300), ev("end", 5000)];
        let r = drive(steps, events, Some(Arc::new(Facilitator(Duration::from_millis(200))))).await;
        assert_eq!((r[0].due_ms, r[0].done_ms, r[0].status.as_str()), (Some(100), Some(300), "done"));
        assert_eq!((r[1].due_ms, r[1].done_ms, r[1].status.as_str()), (Some(1300), Some(1500), "skipped"));
        assert_eq!(r[1].detail.as_deref(), Some("no status page today"));
        assert_eq!((r[2].due_ms, r[2].status.as_str()), (None, "not_due"));
        assert_eq!(r[2].detail.as_deref(), Some("`recover` never happened in this run"));
        assert_eq!((r[3].due_ms, r[3].status.as_str()), (Some(60_000), "not_due"), "due after the run ended");
        assert_eq!(r[3].detail.as_deref(), Some("the run ended before it was due"));
        assert_eq!((r[4].due_ms, r[4].done_ms, r[4].status.as_str()), (Some(5000), Some(5200), "done"));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_facilitator_manual_steps_are_not_exercised() {
        let r = drive(
            vec![step("tell", "ic", "inject", 0, None)],
            vec![ev("start", 0), ev("inject", 10), ev("end", 20)],
            None,
        )
        .await;
        assert_eq!((r[0].due_ms, r[0].done_ms, r[0].status.as_str()), (Some(10), None, "not_exercised"));
    }

    #[tokio::test]
    async fn command_steps_run_and_failures_are_recorded() {
        let steps = vec![step("ok", "bot", "start", 0, Some("true")), step("bad", "bot2", "start", 0, Some("exit 3"))];
        let r = drive(steps, vec![ev("start", 0), ev("end", 0)], None).await;
        assert_eq!(r[0].status, "done");
        assert_eq!(r[1].status, "failed");
        assert!(r[1].detail.as_deref().unwrap().contains('3'), "{:?}", r[1].detail);
    }
}
