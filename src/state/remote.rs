//! Run state in S3 (`--state s3://BUCKET/PREFIX`, or `FIREDRILL_STATE`): the truth about
//! every run lives in the bucket, so a run survives the machine that ran it (a cancelled
//! CI job, a deleted pod) and `recover`, `runs`, `report`, `history` and `note` work from
//! any machine with the credentials. The local state directory (`--state-dir`) is then a
//! cache: readers fetch what the bucket holds into it first, and read from there.
//!
//! Layout under `PREFIX/runs/<run id>/`:
//! - `journal/<seq, 8 digits>.json`: one object per journal entry (its line), created with
//!   `If-None-Match: *` before [`crate::state::journal::Sink::append`] returns, so before the
//!   side effect it precedes. An entry is never overwritten: a second writer of the same
//!   entry gets an error ([`StateError::Conflict`]), unless it wrote the very same bytes
//!   (the SDK retrying a write whose answer was lost).
//! - `notes/<time>-<pid>-<n>.json`: one object per observer note.
//! - `lock`: the run's lock, created with `If-None-Match: *`. A machine that died cannot
//!   delete it, so its holder rewrites it every [`heartbeat`] (`If-Match` on its ETag) with
//!   the time. **The rule:** a lock whose heartbeat is older than the staleness
//!   (`FIREDRILL_LOCK_STALE`, default 30s) is dead; `recover` takes a dead lock with
//!   `If-Match` on the ETag it read, so of two recovers one wins and the other is told.
//!   Before that, `recover` watches the lock: if it changes, its holder is alive and the
//!   run is left alone; a lock is taken only after it stayed unchanged for two heartbeats
//!   (when its time is already stale) or for the whole staleness (when it looked fresh:
//!   this also covers clocks that disagree).
//! - everything else (`report.json`, `report.md`, …, `scenario.yaml`): whole files.
//!
//! `recover --sweep` reads the locks without taking them ([`Remote::watch_locks`]): a run
//! whose lock is fresh, or changes while watched, is alive and left alone.
//!
//! Under `PREFIX/schedule/` (`schedule run-due`, [`crate::schedule::record`]):
//! - `claims/<occurrence>.json`: the claim of the one `run-due` that runs, skips or
//!   announces an occurrence, created with `If-None-Match: *` ([`Remote::claim`]), so that
//!   of two schedulers on two machines exactly one gets it.
//! - `log/<time>-<pid>-<n>.json`: one object per line of the schedule's log.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::{Holder, StateError};
use crate::aws::s3::{Bucket, Listed, Put};
use crate::aws::{AwsError, AwsOpts};

/// The environment variable `--state` reads.
pub const STATE_ENV: &str = "FIREDRILL_STATE";
/// Overrides how old a lock's heartbeat may be before the lock counts as dead.
pub const STALE_ENV: &str = "FIREDRILL_LOCK_STALE";
/// How old a heartbeat may be, by default.
pub const DEFAULT_STALE: Duration = Duration::from_secs(30);

/// Files of a run folder that are not copied whole (each has its own way to S3), and the
/// cache's own folder.
const NOT_FILES: &[&str] = &["journal.jsonl", "notes.jsonl", "run.lock", ".s3"];

/// Where S3 state lives: a bucket and a key prefix (`""`, or ending in `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    pub prefix: String,
}

impl Location {
    /// Parses `s3://BUCKET` or `s3://BUCKET/PREFIX` (a trailing `/` is optional).
    pub fn parse(url: &str) -> Result<Location, String> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| format!("`{url}` is not an s3://BUCKET/PREFIX URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("`{url}` names no bucket: use s3://BUCKET or s3://BUCKET/PREFIX"));
        }
        let valid = (3..=63).contains(&bucket.len())
            && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Err(format!(
                "`{bucket}` in `{url}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-` and `.`)"
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if prefix.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") && !prefix.is_empty() {
            return Err(format!("the prefix `{prefix}` in `{url}` has an empty, `.` or `..` part"));
        }
        if prefix.chars().any(char::is_control) {
            return Err(format!("the prefix in `{url}` has a control character"));
        }
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Ok(Location { bucket: bucket.to_string(), prefix })
    }

    /// `s3://BUCKET/PREFIX` (no trailing `/`).
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix).trim_end_matches('/').to_string()
    }

    fn runs(&self) -> String {
        format!("{}runs/", self.prefix)
    }

    fn run(&self, id: &str) -> String {
        format!("{}runs/{id}/", self.prefix)
    }

    fn schedule(&self) -> String {
        format!("{}schedule/", self.prefix)
    }
}

/// How old a lock's heartbeat may be before the lock counts as dead.
pub fn staleness() -> Duration {
    std::env::var(STALE_ENV)
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_STALE)
}

/// How often a held lock's heartbeat is written: a sixth of the staleness, so a live
/// holder misses several before it could be taken for dead.
pub fn heartbeat() -> Duration {
    (staleness() / 6).max(Duration::from_millis(100))
}

/// The S3 state store: the bucket, and a runtime of its own that makes its calls, so that
/// synchronous code (the journal's `append`) can wait for them to be durable, from inside
/// or outside another runtime.
#[derive(Debug)]
pub struct Remote {
    loc: Location,
    aws: AwsOpts,
    /// Made on first use: a command that never reads the state never configures S3.
    bucket: std::sync::OnceLock<Bucket>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for Remote {
    fn drop(&mut self) {
        // May be dropped inside another runtime, where a blocking shutdown would panic.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn remote_err(what: impl Into<String>) -> impl FnOnce(AwsError) -> StateError {
    let what = what.into();
    move |source| StateError::Remote { what, source }
}

impl Remote {
    /// A store at `loc`, reached as `aws` says (profile, region, endpoint). No call is made.
    pub fn connect(loc: Location, aws: &AwsOpts) -> Result<Arc<Remote>, StateError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("firedrill-s3")
            .enable_all()
            .build()
            .map_err(|e| StateError::Io { path: PathBuf::from(loc.url()), source: e })?;
        Ok(Arc::new(Remote { loc, aws: aws.clone(), bucket: std::sync::OnceLock::new(), rt: Some(rt) }))
    }

    /// The bucket's client, configured on first use.
    fn bucket(&self) -> Result<Bucket, StateError> {
        if let Some(b) = self.bucket.get() {
            return Ok(b.clone());
        }
        let (aws, name) = (self.aws.clone(), self.loc.bucket.clone());
        let b = self.block(async move { Bucket::connect(&aws, &name).await }).map_err(remote_err(self.url()))?;
        Ok(self.bucket.get_or_init(|| b).clone())
    }

    pub fn url(&self) -> String {
        self.loc.url()
    }

    /// The URL of a run's folder.
    pub fn run_url(&self, id: &str) -> String {
        format!("s3://{}/{}", self.loc.bucket, self.loc.run(id))
    }

    /// Runs `f` on this store's runtime and waits for it; safe in and out of a runtime.
    fn block<T, F>(&self, f: F) -> Result<T, AwsError>
    where
        F: Future<Output = Result<T, AwsError>> + Send + 'static,
        T: Send + 'static,
    {
        let Some(rt) = &self.rt else { return Err(AwsError::other("s3", "the S3 client was shut down")) };
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        let wait = move || rx.recv();
        let got = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        got.unwrap_or_else(|_| Err(AwsError::other("s3", "the S3 call was cut short")))
    }

    fn list(&self, prefix: String) -> Result<Vec<Listed>, StateError> {
        let b = self.bucket()?;
        let what = format!("cannot list s3://{}/{prefix}", self.loc.bucket);
        self.block(async move { b.list(&prefix).await }).map_err(remote_err(what))
    }

    fn get(&self, key: &str) -> Result<Option<crate::aws::s3::Object>, StateError> {
        let (b, k) = (self.bucket()?, key.to_string());
        let what = format!("cannot read s3://{}/{key}", self.loc.bucket);
        self.block(async move { b.get(&k).await }).map_err(remote_err(what))
    }

    fn put_if_absent(&self, key: &str, body: Vec<u8>) -> Result<Put, StateError> {
        let (b, k) = (self.bucket()?, key.to_string());
        let what = format!("cannot write s3://{}/{key}", self.loc.bucket);
        self.block(async move { b.put_if_absent(&k, body).await }).map_err(remote_err(what))
    }

    fn put_if_match(&self, key: &str, body: Vec<u8>, etag: &str) -> Result<Put, StateError> {
        let (b, k, e) = (self.bucket()?, key.to_string(), etag.to_string());
        let what = format!("cannot write s3://{}/{key}", self.loc.bucket);
        self.block(async move { b.put_if_match(&k, body, &e).await }).map_err(remote_err(what))
    }

    /// Fetches every run into `cache` (the local `runs/` folder); returns their ids, oldest
    /// first.
    pub fn pull_all(&self, cache: &Path) -> Result<Vec<String>, StateError> {
        let listed = self.list(self.loc.runs())?;
        let mut by_run: BTreeMap<String, Vec<Listed>> = BTreeMap::new();
        let runs = self.loc.runs();
        for l in listed {
            let Some((id, _)) = l.key.strip_prefix(&runs).and_then(|rest| rest.split_once('/')) else { continue };
            if is_plain_name(id) {
                by_run.entry(id.to_string()).or_default().push(l);
            }
        }
        for (id, objects) in &by_run {
            self.sync_run(&cache.join(id), id, objects)?;
        }
        Ok(by_run.into_keys().collect())
    }

    /// Fetches one run into its cache folder `dir`.
    pub fn pull_run(&self, dir: &Path, id: &str) -> Result<(), StateError> {
        let objects = self.list(self.loc.run(id))?;
        self.sync_run(dir, id, &objects)
    }

    /// Fetches only run `id`'s notes into `dir` (its journal is left as it is: the run
    /// itself may be writing it).
    pub fn pull_notes(&self, dir: &Path, id: &str) -> Result<(), StateError> {
        let objects = self.list(format!("{}notes/", self.loc.run(id)))?;
        self.sync_run(dir, id, &objects)
    }

    /// Makes `dir` what S3 holds for run `id`: journal entries and notes (immutable, each
    /// fetched once) joined into `journal.jsonl` and `notes.jsonl`, other files fetched
    /// when their ETag changed.
    fn sync_run(&self, dir: &Path, id: &str, objects: &[Listed]) -> Result<(), StateError> {
        let base = self.loc.run(id);
        let cache = dir.join(".s3");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io { path, source }
        };
        std::fs::create_dir_all(&cache).map_err(io(&cache))?;
        let etags_path = cache.join("etags.json");
        let mut etags: BTreeMap<String, String> =
            std::fs::read(&etags_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        let mut logs: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        for o in objects {
            let Some(rel) = o.key.strip_prefix(&base) else { continue };
            match rel.split_once('/') {
                Some((log @ ("journal" | "notes"), name)) if is_plain_name(name) => {
                    let local = cache.join(log).join(name);
                    if !local.is_file() {
                        let Some(obj) = self.get(&o.key)? else { continue };
                        std::fs::create_dir_all(cache.join(log)).map_err(io(&cache))?;
                        write_atomically(&local, &obj.body)?;
                    }
                    let mut body = std::fs::read(&local).map_err(io(&local))?;
                    if !body.ends_with(b"\n") {
                        body.push(b'\n');
                    }
                    logs.entry(log).or_default().extend_from_slice(&body);
                }
                None if is_plain_name(rel) && !NOT_FILES.contains(&rel) && rel != "lock" => {
                    let local = dir.join(rel);
                    if etags.get(rel) != Some(&o.etag) || !local.is_file() {
                        let Some(obj) = self.get(&o.key)? else { continue };
                        write_atomically(&local, &obj.body)?;
                        etags.insert(rel.to_string(), obj.etag);
                    }
                }
                _ => {}
            }
        }
        for (log, file) in [("journal", "journal.jsonl"), ("notes", "notes.jsonl")] {
            let Some(text) = logs.get(log) else { continue };
            let local = dir.join(file);
            if std::fs::read(&local).ok().as_deref() != Some(text.as_slice()) {
                write_atomically(&local, text)?;
            }
        }
        let etags = serde_json::to_vec(&etags).unwrap_or_default();
        write_atomically(&etags_path, &etags)
    }

    /// Copies the run folder's whole files (reports, the scenario) to S3.
    pub fn push_files(&self, dir: &Path, id: &str) -> Result<(), StateError> {
        let entries = std::fs::read_dir(dir).map_err(|source| StateError::Io { path: dir.to_path_buf(), source })?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if NOT_FILES.contains(&name.as_str()) || !is_plain_name(&name) || !e.path().is_file() {
                continue;
            }
            let body = std::fs::read(e.path()).map_err(|source| StateError::Io { path: e.path(), source })?;
            let (b, key) = (self.bucket()?, format!("{}{name}", self.loc.run(id)));
            let what = format!("cannot write s3://{}/{key}", self.loc.bucket);
            self.block(async move { b.put(&key, body).await }).map_err(remote_err(what))?;
        }
        Ok(())
    }

    /// The sequence number the next journal entry of run `id` takes.
    pub fn next_seq(&self, id: &str) -> Result<u64, StateError> {
        let prefix = format!("{}journal/", self.loc.run(id));
        let listed = self.list(prefix.clone())?;
        let last =
            listed.iter().filter_map(|l| l.key.strip_prefix(&prefix)?.strip_suffix(".json")?.parse::<u64>().ok()).max();
        Ok(last.map_or(0, |n| n + 1))
    }

    /// Makes journal entry `seq` of run `id` durable in S3; never overwrites one.
    pub fn put_entry(&self, id: &str, seq: u64, line: &[u8]) -> Result<(), StateError> {
        let key = format!("{}journal/{seq:08}.json", self.loc.run(id));
        self.put_once(&key, line, "journal entry")
    }

    /// Adds an observer's note (its `notes.jsonl` line) to run `id`.
    pub fn put_note(&self, id: &str, line: &[u8]) -> Result<(), StateError> {
        let stamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string().replace([':', '-', '.'], "");
        let key = format!("{}notes/{stamp}-{}-{:04x}.json", self.loc.run(id), std::process::id(), salt());
        self.put_once(&key, line, "note")
    }

    fn put_once(&self, key: &str, body: &[u8], what: &str) -> Result<(), StateError> {
        match self.put_if_absent(key, body.to_vec())? {
            Put::Written(_) => Ok(()),
            // The SDK may have retried a write whose answer was lost: the same bytes are fine.
            Put::Conflict => match self.get(key)? {
                Some(o) if o.body == body => Ok(()),
                _ => Err(StateError::Conflict(format!(
                    "{what} s3://{}/{key} already exists with other contents: another process is writing this run; nothing was overwritten",
                    self.loc.bucket
                ))),
            },
        }
    }

    /// Takes run `id`'s lock for a new run: only if nobody holds it.
    pub fn lock_run(self: &Arc<Self>, id: &str) -> Result<Option<RemoteLock>, StateError> {
        let key = format!("{}lock", self.loc.run(id));
        let body = LockBody::new("run");
        match self.put_if_absent(&key, body.bytes())? {
            Put::Written(etag) => Ok(Some(RemoteLock::hold(self.clone(), key, body, etag))),
            Put::Conflict => Ok(None),
        }
    }

    /// Takes run `id`'s lock for `recover`: when there is none, or its heartbeat is dead
    /// (see the module doc); else says who holds it.
    pub fn lock_for_recover(self: &Arc<Self>, id: &str) -> Result<Result<RemoteLock, Holder>, StateError> {
        let key = format!("{}lock", self.loc.run(id));
        let stale = staleness();
        let mut first: Option<(String, Instant)> = None;
        loop {
            let body = LockBody::new("recover");
            let Some(obj) = self.get(&key)? else {
                match self.put_if_absent(&key, body.bytes())? {
                    Put::Written(etag) => return Ok(Ok(RemoteLock::hold(self.clone(), key, body, etag))),
                    Put::Conflict => continue,
                }
            };
            let held = LockBody::parse(&obj.body);
            // Another recover with a live heartbeat is at work: say so at once.
            if let Some(h) = held.as_ref().filter(|h| h.holder == "recover" && h.age() <= stale) {
                return Ok(Err(h.holder()));
            }
            let unchanged_for = match &first {
                Some((etag, since)) if *etag == obj.etag => since.elapsed(),
                Some(_) => return Ok(Err(held.map_or(Holder::Run, |h| h.holder()))),
                None => {
                    first = Some((obj.etag.clone(), Instant::now()));
                    Duration::ZERO
                }
            };
            let dead = is_dead(held.as_ref().map(LockBody::age), unchanged_for, stale, heartbeat());
            if dead {
                match self.put_if_match(&key, body.bytes(), &obj.etag)? {
                    Put::Written(etag) => return Ok(Ok(RemoteLock::hold(self.clone(), key, body, etag))),
                    // Another recover took it first, or the holder beat: look again.
                    Put::Conflict => {
                        first = None;
                        continue;
                    }
                }
            }
            std::thread::sleep((stale / 20).clamp(Duration::from_millis(50), Duration::from_secs(1)));
        }
    }

    /// Who holds run `id`'s lock with a live heartbeat; `None` when nobody does.
    pub fn holder(&self, id: &str) -> Result<Option<Holder>, StateError> {
        let key = format!("{}lock", self.loc.run(id));
        Ok(self
            .get(&key)?
            .and_then(|o| LockBody::parse(&o.body))
            .filter(|h| h.age() <= staleness())
            .map(|h| h.holder()))
    }

    /// What run `id`'s lock says about it, for `recover --sweep`, which must leave a live
    /// run alone but takes no lock itself: [`Remote::watch_locks`] for many runs at once.
    pub fn lock_state(&self, id: &str) -> Result<LockState, StateError> {
        Ok(self.watch_locks(&[id.to_string()])?.remove(id).unwrap_or(LockState::Free))
    }

    /// What the lock of each run in `ids` says about it, by the rule of the module doc: a
    /// lock whose heartbeat is fresh is alive; one that looks stale is watched (once, for
    /// all of them: two heartbeats), and alive if it changed meanwhile. Nothing is
    /// written. An error reading any lock is an error: the caller cannot tell a live run.
    pub fn watch_locks(&self, ids: &[String]) -> Result<BTreeMap<String, LockState>, StateError> {
        let stale = staleness();
        let mut out = BTreeMap::new();
        let mut watched: Vec<(String, String)> = Vec::new();
        for id in ids {
            let key = format!("{}lock", self.loc.run(id));
            let state = match self.get(&key)? {
                None => LockState::Free,
                Some(o) => match LockBody::parse(&o.body).filter(|h| h.age() <= stale) {
                    Some(h) => {
                        LockState::Alive(h.alive_because(&format!("s3://{}/{key}", self.loc.bucket), "is fresh"))
                    }
                    None => {
                        watched.push((id.clone(), o.etag));
                        LockState::Dead
                    }
                },
            };
            out.insert(id.clone(), state);
        }
        if watched.is_empty() {
            return Ok(out);
        }
        // A live holder whose clock lags beats at least once meanwhile.
        std::thread::sleep(2 * heartbeat() + Duration::from_millis(100));
        for (id, etag) in watched {
            let key = format!("{}lock", self.loc.run(&id));
            let state = match self.get(&key)? {
                // Released meanwhile: its holder finished.
                None => LockState::Free,
                Some(o) if o.etag == etag => LockState::Dead,
                Some(o) => LockState::Alive(LockBody::parse(&o.body).map_or_else(
                    || format!("its lock in s3://{}/{key} changed while watched", self.loc.bucket),
                    |h| h.alive_because(&format!("s3://{}/{key}", self.loc.bucket), "changed while watched"),
                )),
            };
            out.insert(id, state);
        }
        Ok(out)
    }

    /// Creates `schedule/claims/NAME.json` with `body` only if it does not exist: `true`
    /// when this call created it (or an earlier try of it whose answer was lost: `body`
    /// names its writer, so the same bytes are this writer's), `false` when another did.
    pub fn claim(&self, name: &str, body: &[u8]) -> Result<bool, StateError> {
        let key = format!("{}claims/{name}.json", self.loc.schedule());
        for _ in 0..3 {
            match self.put_if_absent(&key, body.to_vec())? {
                Put::Written(_) => return Ok(true),
                Put::Conflict => match self.get(&key)? {
                    Some(o) => return Ok(o.body == body),
                    // A conditional write under way that did not land: try again.
                    None => std::thread::sleep(Duration::from_millis(200)),
                },
            }
        }
        Err(StateError::Conflict(format!(
            "cannot claim s3://{}/{key}: another writer kept racing for it; nothing was overwritten",
            self.loc.bucket
        )))
    }

    /// Whether `schedule/claims/NAME.json` exists.
    pub fn claimed(&self, name: &str) -> Result<bool, StateError> {
        Ok(self.get(&format!("{}claims/{name}.json", self.loc.schedule()))?.is_some())
    }

    /// Where the schedule's claims and log are, for messages.
    pub fn schedule_url(&self) -> String {
        format!("s3://{}/{}", self.loc.bucket, self.loc.schedule())
    }

    /// Adds one line of the schedule's log as its own object (never overwritten).
    pub fn put_schedule_record(&self, line: &[u8]) -> Result<(), StateError> {
        let stamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string().replace([':', '-', '.'], "");
        let key = format!("{}log/{stamp}-{}-{:04x}.json", self.loc.schedule(), std::process::id(), salt());
        self.put_once(&key, line, "schedule record")
    }

    /// Every line of the schedule's log, in the order they were written.
    pub fn schedule_records(&self) -> Result<Vec<Vec<u8>>, StateError> {
        let mut listed = self.list(format!("{}log/", self.loc.schedule()))?;
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        let mut out = Vec::new();
        for l in listed {
            if let Some(o) = self.get(&l.key)? {
                out.push(o.body);
            }
        }
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<(), StateError> {
        let (b, k) = (self.bucket()?, key.to_string());
        let what = format!("cannot delete s3://{}/{key}", self.loc.bucket);
        self.block(async move { b.delete(&k).await }).map_err(remote_err(what))
    }

    /// Writes `body` to `key` whatever is there (tests of the conditional writes).
    #[doc(hidden)]
    pub fn put_raw(&self, key: &str, body: Vec<u8>) -> Result<(), StateError> {
        let (b, k) = (self.bucket()?, key.to_string());
        let what = format!("cannot write s3://{}/{key}", self.loc.bucket);
        self.block(async move { b.put(&k, body).await.map(|_| ()) }).map_err(remote_err(what))
    }
}

/// What a run's S3 lock says, for a reader that takes no lock ([`Remote::watch_locks`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockState {
    /// No lock: the run finished, or never started.
    Free,
    /// Its holder is alive: why we think so, in the user's terms ("it is still running on
    /// HOST/PID (its lock in s3://… is fresh)").
    Alive(String),
    /// Its heartbeat is stale and it did not change while watched: its holder is dead.
    Dead,
}

/// The rule for a lock `recover` watches: its heartbeat is `age` old by this machine's
/// clock (`None`: unreadable) and it has not changed for `unchanged_for`. Dead when old by
/// the clock and still for two heartbeats (a live holder whose clock lags would have
/// beaten by then), or still for the whole staleness whatever the clocks say.
fn is_dead(age: Option<Duration>, unchanged_for: Duration, stale: Duration, beat: Duration) -> bool {
    let old = age.is_none_or(|a| a > stale);
    (old && unchanged_for >= 2 * beat) || unchanged_for > stale
}

/// A few random-enough bits to tell writers apart.
fn salt() -> u32 {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    (nanos ^ std::process::id().rotate_left(16)) & 0xffff
}

/// A name S3 gave that is safe as one path component here.
fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let io = |source| StateError::Io { path: path.to_path_buf(), source };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// What a lock object holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LockBody {
    /// `run` or `recover`.
    holder: String,
    pid: u32,
    host: String,
    /// Tells this holder's lock from a later one's.
    token: String,
    /// When the holder last wrote it (RFC 3339).
    heartbeat: String,
}

impl LockBody {
    fn new(holder: &str) -> LockBody {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default()
            .trim()
            .to_string();
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        LockBody {
            holder: holder.to_string(),
            pid: std::process::id(),
            host,
            token: format!("{:x}-{:x}", nanos, std::process::id()),
            heartbeat: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn parse(bytes: &[u8]) -> Option<LockBody> {
        serde_json::from_slice(bytes).ok()
    }

    /// How long ago the heartbeat was written, by this machine's clock.
    fn age(&self) -> Duration {
        humantime::parse_rfc3339(&self.heartbeat)
            .ok()
            .map_or(Duration::MAX, |t| SystemTime::now().duration_since(t).unwrap_or_default())
    }

    /// Why this lock's holder counts as alive: `how` its lock at `url` is.
    fn alive_because(&self, url: &str, how: &str) -> String {
        let at = format!("{}/{}", if self.host.is_empty() { "?" } else { &self.host }, self.pid);
        if self.holder == "recover" {
            format!("a `firedrill recover` on {at} is recovering it (its lock in {url} {how})")
        } else {
            format!("it is still running on {at} (its lock in {url} {how})")
        }
    }

    fn holder(&self) -> Holder {
        if self.holder == "recover" {
            Holder::Recover(format!("{} on {}", self.pid, if self.host.is_empty() { "?" } else { &self.host }))
        } else {
            Holder::Run
        }
    }
}

/// A held S3 lock: its heartbeat runs until it is dropped, which deletes it (if it is
/// still this holder's).
#[derive(Debug)]
pub struct RemoteLock {
    remote: Arc<Remote>,
    key: String,
    token: String,
    beat: Option<tokio::task::JoinHandle<()>>,
}

impl RemoteLock {
    fn hold(remote: Arc<Remote>, key: String, body: LockBody, etag: String) -> RemoteLock {
        // Made before any lock could be taken.
        let b = remote.bucket.get().cloned();
        let (k, token) = (key.clone(), body.token.clone());
        let every = heartbeat();
        let beat = remote.rt.as_ref().zip(b).map(|(rt, b)| {
            rt.spawn(async move {
                let (mut body, mut etag) = (body, etag);
                loop {
                    tokio::time::sleep(every).await;
                    body.heartbeat = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
                    match b.put_if_match(&k, body.bytes(), &etag).await {
                        Ok(Put::Written(e)) => etag = e,
                        Ok(Put::Conflict) => {
                            tracing::warn!("lock s3://{}/{k} was taken over: no longer refreshed", b.name());
                            return;
                        }
                        Err(e) => tracing::warn!("cannot refresh the lock s3://{}/{k}: {e}", b.name()),
                    }
                }
            })
        });
        RemoteLock { remote, key, token, beat }
    }
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        if let Some(b) = self.beat.take() {
            b.abort();
        }
        // Only this holder's own lock is deleted, never one a recover took over.
        let ours = matches!(self.remote.get(&self.key), Ok(Some(o))
            if LockBody::parse(&o.body).is_some_and(|h| h.token == self.token));
        if ours && let Err(e) = self.remote.delete(&self.key) {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_parse_to_a_bucket_and_a_prefix() {
        let l = Location::parse("s3://drills").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str(), l.url()), ("drills", "", "s3://drills".to_string()));
        assert_eq!(Location::parse("s3://drills/").unwrap(), l);
        let l = Location::parse("s3://my.drills-1/team/web/").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("my.drills-1", "team/web/"));
        assert_eq!(l.url(), "s3://my.drills-1/team/web");
        assert_eq!(l.run("r1"), "team/web/runs/r1/");
        assert_eq!(Location::parse("s3://my.drills-1/team/web").unwrap(), l);
    }

    #[test]
    fn bad_s3_urls_say_what_is_wrong() {
        for (url, says) in [
            ("drills", "is not an s3://BUCKET/PREFIX URL"),
            ("https://drills", "is not an s3://BUCKET/PREFIX URL"),
            ("s3://", "names no bucket"),
            ("s3:///prefix", "names no bucket"),
            ("s3://Drills", "is not an S3 bucket name"),
            ("s3://ab", "is not an S3 bucket name"),
            ("s3://-drills", "is not an S3 bucket name"),
            ("s3://drills/a//b", "has an empty, `.` or `..` part"),
            ("s3://drills/a/../b", "has an empty, `.` or `..` part"),
            ("s3://drills/a\u{7}", "control character"),
        ] {
            let e = Location::parse(url).unwrap_err();
            assert!(e.contains(says), "{url}: {e}");
        }
    }

    #[test]
    fn names_from_the_bucket_stay_inside_the_cache() {
        for bad in ["", ".", "..", "a/b", "a\\b"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
        assert!(is_plain_name("20261201T100000Z-web-0001"));
    }

    #[test]
    fn a_watched_lock_is_dead_only_when_old_and_still() {
        let (stale, beat) = (Duration::from_secs(30), Duration::from_secs(5));
        let s = Duration::from_secs;
        // Fresh by the clock: alive until it has not moved for the whole staleness.
        assert!(!is_dead(Some(s(1)), s(0), stale, beat));
        assert!(!is_dead(Some(s(1)), s(29), stale, beat));
        assert!(is_dead(Some(s(1)), s(31), stale, beat));
        // Old by the clock: dead once it stayed still for two heartbeats, not before.
        assert!(!is_dead(Some(s(60)), s(0), stale, beat));
        assert!(!is_dead(Some(s(60)), s(9), stale, beat));
        assert!(is_dead(Some(s(60)), s(10), stale, beat));
        // An unreadable lock counts as old.
        assert!(!is_dead(None, s(1), stale, beat));
        assert!(is_dead(None, s(10), stale, beat));
    }

    #[test]
    fn a_live_lock_says_who_holds_it_and_where() {
        let mut b = LockBody::new("run");
        (b.host, b.pid) = ("runner-7".into(), 4242);
        assert_eq!(
            b.alive_because("s3://drills/runs/r1/lock", "is fresh"),
            "it is still running on runner-7/4242 (its lock in s3://drills/runs/r1/lock is fresh)"
        );
        b.holder = "recover".into();
        b.host.clear();
        assert_eq!(
            b.alive_because("s3://drills/runs/r1/lock", "changed while watched"),
            "a `firedrill recover` on ?/4242 is recovering it (its lock in s3://drills/runs/r1/lock changed while watched)"
        );
    }

    #[test]
    fn a_lock_is_dead_once_its_heartbeat_is_older_than_the_staleness() {
        let mut b = LockBody::new("run");
        assert!(b.age() < DEFAULT_STALE);
        assert_eq!(b.holder(), Holder::Run);
        b.heartbeat = humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(31)).to_string();
        assert!(b.age() > DEFAULT_STALE);
        b.heartbeat = "garbage".into();
        assert_eq!(b.age(), Duration::MAX);
        let r = LockBody::new("recover");
        assert!(matches!(r.holder(), Holder::Recover(who) if who.starts_with(&std::process::id().to_string())));
        assert!(heartbeat() * 6 <= staleness().max(Duration::from_millis(600)));
    }
}
