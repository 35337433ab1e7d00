//! Pager noise: which of the alarms that page someone went to ALARM during the run. The
//! pager watch reads the watched alarms once before the first injection (an alarm already
//! in ALARM then is "already alarming", not a page), then at its interval until the
//! verdict, once more at the end, and finally asks the alarms' history for transitions the
//! polling missed. The alarms come in as an [`AlarmSource`] trait object, so this logic is
//! tested with fakes under `tokio::time::pause()`; `crate::pages` reads them from
//! CloudWatch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

/// One alarm as read now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlarmReading {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// The alarm's state reason, as its service wrote it.
    pub reason: String,
}

/// A transition to ALARM found in an alarm's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlarmChange {
    pub name: String,
    /// How long before the history was read the alarm went to ALARM.
    pub ago: Duration,
    pub reason: String,
}

/// Where the watched alarms' states and history come from.
#[async_trait]
pub trait AlarmSource: Send + Sync {
    /// The current state of each alarm in `names` that exists (one missing from the answer
    /// does not exist). `Err` when they cannot be read at all.
    async fn read(&self, names: &[String]) -> Result<Vec<AlarmReading>, String>;
    /// The transitions to ALARM of `names` during the last `span`. `Err` when the history
    /// cannot be read (or the service does not keep one).
    async fn history(&self, names: &[String], span: Duration) -> Result<Vec<AlarmChange>, String>;
}

/// The alarms to watch for pages, and how.
#[derive(Clone)]
pub struct PagerSpec {
    /// Alarm names, resolved before the run.
    pub alarms: Vec<String>,
    /// Time between two reads.
    pub every: Duration,
    /// More pages than this miss the objective; `None`: pages are reported only.
    pub max_pages: Option<u32>,
    pub source: Arc<dyn AlarmSource>,
}

/// How a page was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeenBy {
    /// A read during the run found the alarm in ALARM.
    Poll,
    /// The alarm's history holds a transition the reads missed (it went back to OK between
    /// two reads).
    History,
}

/// An alarm that went to ALARM during the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub alarm: String,
    /// From the start of the run: when the read saw it (an upper bound, within one
    /// interval), or when the history says it happened.
    pub at: Duration,
    pub reason: String,
    pub seen_by: SeenBy,
}

/// A read that failed: for one alarm (`alarm`), or for every watched alarm (`None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unread {
    pub alarm: Option<String>,
    pub error: String,
    /// The first time it failed this way, and how many reads did.
    pub first_at: Duration,
    pub times: u32,
}

/// Whether the alarms' history was checked after the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryCheck {
    /// Read; it added this many pages that the polling missed.
    Checked { added: usize },
    /// It could not be read: why.
    NotAvailable(String),
}

/// What the pager watch saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagesRecord {
    pub watched: Vec<String>,
    pub every: Duration,
    pub max_pages: Option<u32>,
    /// In time order.
    pub pages: Vec<Page>,
    /// In ALARM at the first read, before anything was injected: not pages.
    pub already_alarming: Vec<String>,
    pub unreadable: Vec<Unread>,
    pub history: HistoryCheck,
}

impl PagesRecord {
    /// More pages than `max_pages` allows.
    pub fn exceeded(&self) -> bool {
        self.max_pages.is_some_and(|m| self.pages.len() > m as usize)
    }

    /// Why the pages miss the objective (`None` when they do not).
    pub fn reason(&self) -> Option<String> {
        let max = self.max_pages.filter(|_| self.exceeded())?;
        Some(format!(
            "{} page(s), at most {max} allowed: {}",
            self.pages.len(),
            self.pages
                .iter()
                .map(|p| format!("{} at {}", p.alarm, humantime::format_duration(round(p.at))))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The longest one read (or the history) may take before it counts as failed.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Pages from a sequence of reads.
#[derive(Debug)]
pub(crate) struct Tracker {
    rec: PagesRecord,
    /// Whether each alarm was in ALARM at its last read; absent: never read.
    last: HashMap<String, bool>,
}

impl Tracker {
    pub(crate) fn new(spec: &PagerSpec) -> Self {
        Tracker {
            rec: PagesRecord {
                watched: spec.alarms.clone(),
                every: spec.every,
                max_pages: spec.max_pages,
                pages: Vec::new(),
                already_alarming: Vec::new(),
                unreadable: Vec::new(),
                history: HistoryCheck::NotAvailable("not read".into()),
            },
            last: HashMap::new(),
        }
    }

    /// Takes one read, done at `at`; `first`: the read before anything was injected.
    pub(crate) fn observe(&mut self, at: Duration, read: Result<Vec<AlarmReading>, String>, first: bool) {
        let readings = match read {
            Ok(r) => r,
            Err(e) => return self.unread(None, e, at),
        };
        let by_name: HashMap<&str, &AlarmReading> = readings.iter().map(|r| (r.name.as_str(), r)).collect();
        for name in self.rec.watched.clone() {
            let Some(r) = by_name.get(name.as_str()) else {
                self.unread(Some(name), "no alarm of this name".into(), at);
                continue;
            };
            let alarm = r.state == "ALARM";
            let before = self.last.insert(name.clone(), alarm);
            if !alarm || before == Some(true) {
                continue;
            }
            if first {
                self.rec.already_alarming.push(name);
                continue;
            }
            let mut reason = r.reason.clone();
            if before.is_none() {
                reason.push_str(" (its state before was never read: counted as a page)");
            }
            self.rec.pages.push(Page { alarm: name, at, reason, seen_by: SeenBy::Poll });
        }
    }

    fn unread(&mut self, alarm: Option<String>, error: String, at: Duration) {
        match self.rec.unreadable.iter_mut().find(|u| u.alarm == alarm && u.error == error) {
            Some(u) => u.times += 1,
            None => self.rec.unreadable.push(Unread { alarm, error, first_at: at, times: 1 }),
        }
    }

    /// Adds the history's transitions (at `now` from the start of the run) that no read
    /// saw. A read sees a transition at most one interval after it happened (and clocks
    /// differ a little): each transition is matched with the first unmatched page of the
    /// same alarm seen from 2 s before it to one interval and 2 s after it.
    pub(crate) fn history(&mut self, now: Duration, read: Result<Vec<AlarmChange>, String>) {
        let changes = match read {
            Ok(c) => c,
            Err(e) => {
                self.rec.history = HistoryCheck::NotAvailable(e);
                return;
            }
        };
        let slack = Duration::from_secs(2);
        let mut changes: Vec<(Duration, AlarmChange)> =
            changes.into_iter().map(|c| (now.saturating_sub(c.ago), c)).collect();
        changes.sort_by_key(|(at, _)| *at);
        let mut matched = vec![false; self.rec.pages.len()];
        let mut added = Vec::new();
        for (at, c) in changes {
            if !self.rec.watched.contains(&c.name) {
                continue;
            }
            let hit = self.rec.pages.iter().enumerate().position(|(i, p)| {
                !matched[i]
                    && p.alarm == c.name
                    && p.at + slack >= at
                    && p.at <= at.saturating_add(self.rec.every).saturating_add(slack)
            });
            match hit {
                Some(i) => matched[i] = true,
                None => added.push(Page { alarm: c.name, at, reason: c.reason, seen_by: SeenBy::History }),
            }
        }
        self.rec.history = HistoryCheck::Checked { added: added.len() };
        self.rec.pages.extend(added);
        self.rec.pages.sort_by_key(|p| p.at);
    }

    pub(crate) fn record(self) -> PagesRecord {
        self.rec
    }
}

/// A pager watch under way.
pub(crate) struct Watch {
    spec: PagerSpec,
    tracker: Arc<Mutex<Tracker>>,
    started: Instant,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn read(spec: &PagerSpec) -> Result<Vec<AlarmReading>, String> {
    match timeout(READ_TIMEOUT, spec.source.read(&spec.alarms)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {}", humantime::format_duration(READ_TIMEOUT))),
    }
}

fn lock(t: &Mutex<Tracker>) -> std::sync::MutexGuard<'_, Tracker> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watch {
    /// Reads the alarms once (before anything is injected), then keeps reading them every
    /// `spec.every` in a task of its own until [`Watch::finish`].
    pub(crate) async fn start(spec: PagerSpec, t0: Instant) -> Watch {
        let started = Instant::now();
        let tracker = Arc::new(Mutex::new(Tracker::new(&spec)));
        let first = read(&spec).await;
        lock(&tracker).observe(started.saturating_duration_since(t0), first, true);
        let stop = CancellationToken::new();
        let task = {
            let (spec, tracker, stop) = (spec.clone(), tracker.clone(), stop.clone());
            tokio::spawn(async move {
                let mut next = super::executor::later(started, spec.every);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = sleep_until(next) => {}
                    }
                    let begun = Instant::now();
                    let r = tokio::select! {
                        _ = stop.cancelled() => return,
                        r = read(&spec) => r,
                    };
                    lock(&tracker).observe(Instant::now().saturating_duration_since(t0), r, false);
                    next = super::executor::later(begun, spec.every).max(Instant::now());
                }
            })
        };
        Watch { spec, tracker, started, stop, task }
    }

    /// At the verdict: stops the reads, reads once more (a page in the last interval
    /// counts too), then checks the history since the first read.
    pub(crate) async fn finish(self, t0: Instant) -> PagesRecord {
        self.stop.cancel();
        let _ = self.task.await;
        let last = read(&self.spec).await;
        let now = Instant::now();
        lock(&self.tracker).observe(now.saturating_duration_since(t0), last, false);
        let span = now.saturating_duration_since(self.started);
        let history = match timeout(READ_TIMEOUT, self.spec.source.history(&self.spec.alarms, span)).await {
            Ok(h) => h,
            Err(_) => Err(format!("no answer within {}", humantime::format_duration(READ_TIMEOUT))),
        };
        let mut tracker = std::mem::replace(&mut *lock(&self.tracker), Tracker::new(&self.spec));
        tracker.history(now.saturating_duration_since(t0), history);
        tracker.record()
    }
}
