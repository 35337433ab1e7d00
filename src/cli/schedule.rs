//! `firedrill schedule next|due|run-due|export CALENDAR`: a calendar's occurrences, what
//! is due, running what is due behind the calendar's gates (and recording what was
//! skipped and why), and the entries a team's scheduler needs to wake firedrill.
//! The calendar and its time rules: [`crate::schedule`]; docs/schedule.md for users.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::Error;
use crate::aws::{Aws, AwsOpts};
use crate::gameday;
use crate::schedule::record::{Record, Records};
use crate::schedule::{Loaded, Occurrence};
use crate::state::StateDir;
use crate::util::console::Console;

#[derive(clap::Subcommand, Debug)]
pub enum ScheduleCmd {
    /// The next occurrences: scenario, local and UTC start, and what skips them (freeze).
    Next {
        calendar: PathBuf,
        /// Count from this time instead of now (RFC 3339, e.g. 2026-12-01T09:00:00Z).
        #[arg(long)]
        now: Option<String>,
        /// How many occurrences (1 to 1000).
        #[arg(long, default_value_t = 5)]
        count: usize,
        /// Only the game day with this id.
        #[arg(long)]
        gameday: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// What is due now and has not run or been skipped yet (read from the state directory).
    Due {
        calendar: PathBuf,
        /// As if it were this time (RFC 3339).
        #[arg(long)]
        now: Option<String>,
        #[arg(long)]
        gameday: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Sends due announcements, checks the gates and runs what is due (as `run --yes`);
    /// records a skipped game day (exit 9) when a freeze, gate, halt or lease stops it.
    RunDue {
        calendar: PathBuf,
        /// Only the game day with this id (what `export` puts in each entry).
        #[arg(long)]
        gameday: Option<String>,
        /// As if it were this time (RFC 3339): rehearsals and tests.
        #[arg(long)]
        now: Option<String>,
    },
    /// Writes the entries that wake `run-due` in a team's scheduler, one per game day.
    Export {
        calendar: PathBuf,
        #[arg(long, value_enum)]
        to: ExportTo,
        /// Write each file into this directory instead of printing them.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The container image (k8s-cronjob).
        #[arg(long, default_value = "ghcr.io/firedrill/firedrill:latest")]
        image: String,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportTo {
    Crontab,
    Systemd,
    K8sCronjob,
    GithubActions,
    Gitlab,
}

pub async fn schedule(shell: Arc<Console>, state: &StateDir, aws: &AwsOpts, cmd: ScheduleCmd) -> Result<(), Error> {
    match cmd {
        ScheduleCmd::Next { calendar, now, count, gameday, format } => {
            let cal = load(&calendar)?;
            let now = now_or(now.as_deref())?;
            if !(1..=1000).contains(&count) {
                return Err(Error::Usage(format!("--count {count}: give 1 to 1000")));
            }
            check_gameday(&cal, gameday.as_deref())?;
            let list = cal.next(now, count, gameday.as_deref());
            print(&list, format, &calendar, None)
        }
        ScheduleCmd::Due { calendar, now, gameday, format } => {
            let cal = load(&calendar)?;
            let now = now_or(now.as_deref())?;
            check_gameday(&cal, gameday.as_deref())?;
            let records = Records::of(state);
            let list = not_done(&records, cal.due(now, gameday.as_deref()))?;
            if list.is_empty() {
                shell.status("Due", format!("nothing at {now}"));
            }
            print(&list, format, &calendar, Some(cal.catch_up))
        }
        ScheduleCmd::RunDue { calendar, gameday, now } => {
            let cal = load(&calendar)?;
            let now = now_or(now.as_deref())?;
            check_gameday(&cal, gameday.as_deref())?;
            run_due(shell, state, aws, &cal, now, gameday.as_deref()).await
        }
        ScheduleCmd::Export { calendar, to, out, image } => {
            let cal = load(&calendar)?;
            let files = export(&cal, &calendar, state, to, &image)?;
            match out {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
                    for (name, text) in &files {
                        let path = dir.join(name);
                        std::fs::write(&path, text)
                            .map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))?;
                        shell.status("Wrote", path.display());
                    }
                    Ok(())
                }
                None if files.len() == 1 => super::output(&files[0].1),
                None => super::output(
                    &files.iter().map(|(n, t)| format!("# ==> {n} <==\n{t}")).collect::<Vec<_>>().join("\n"),
                ),
            }
        }
    }
}

fn load(file: &Path) -> Result<Loaded, Error> {
    crate::schedule::load(file).map_err(Error::Invalid)
}

fn now_or(now: Option<&str>) -> Result<Timestamp, Error> {
    match now {
        None => Ok(Timestamp::now()),
        Some(s) => s
            .parse::<Timestamp>()
            .map_err(|_| Error::Usage(format!("--now {s}: expected an RFC 3339 time like 2026-12-01T09:00:00Z"))),
    }
}

fn check_gameday(cal: &Loaded, only: Option<&str>) -> Result<(), Error> {
    match only {
        Some(id) if !cal.days.iter().any(|d| d.id == id) => Err(Error::Usage(format!(
            "--gameday {id}: the calendar has no such game day; its ids: {}",
            cal.days.iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", ")
        ))),
        _ => Ok(()),
    }
}

fn utc(o: &Occurrence) -> String {
    o.start.timestamp().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn local(o: &Occurrence) -> String {
    o.start.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn print(list: &[Occurrence], format: Format, calendar: &Path, catch_up: Option<Duration>) -> Result<(), Error> {
    match format {
        Format::Json => {
            let items: Vec<serde_json::Value> = list
                .iter()
                .map(|o| {
                    serde_json::json!({
                        "key": o.key,
                        "gameday": o.gameday,
                        "scenario": o.scenario.display().to_string(),
                        "scheduled": o.scheduled.strftime("%Y-%m-%dT%H:%M").to_string(),
                        "start_local": local(o),
                        "start_utc": utc(o),
                        "window_offset_minutes": o.offset_minutes,
                        "seed": o.seed,
                        "dst": o.dst,
                        "skipped": o.freeze.as_ref().map(|r| serde_json::json!({"reason": "freeze", "detail": r})),
                        "due_until_utc": catch_up.map(|_| o.due_until.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
                    })
                })
                .collect();
            super::output(&format!("{}\n", serde_json::to_string_pretty(&items).unwrap_or_default()))
        }
        Format::Text => {
            let mut out = String::new();
            for o in list {
                out.push_str(&format!(
                    "{}  {}  {} ({})",
                    o.start.strftime("%a %Y-%m-%d %H:%M %Z"),
                    utc(o),
                    o.gameday,
                    o.scenario
                        .strip_prefix(calendar.parent().unwrap_or(Path::new("")))
                        .unwrap_or(&o.scenario)
                        .display()
                ));
                if o.offset_minutes > 0 {
                    out.push_str(&format!("  window +{}m (seed {})", o.offset_minutes, o.seed));
                }
                if let Some(r) = &o.freeze {
                    out.push_str(&format!("  SKIPPED: freeze ({r})"));
                }
                if let Some(d) = &o.dst {
                    out.push_str(&format!("  note: {d}"));
                }
                if catch_up.is_some() {
                    out.push_str(&format!("  due until {}", o.due_until.strftime("%Y-%m-%dT%H:%M:%SZ")));
                }
                out.push('\n');
            }
            super::output(&out)
        }
    }
}

fn record(o: &Occurrence, outcome: &str, reason: Option<String>, run: Option<String>) -> Record {
    Record {
        key: o.key.clone(),
        gameday: o.gameday.clone(),
        scenario: o.scenario.display().to_string(),
        start: local(o),
        seed: o.seed,
        outcome: outcome.into(),
        reason,
        run,
        at: Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

fn io_failed<'a>(records: &'a Records, what: &'a str) -> impl Fn(std::io::Error) -> Error + 'a {
    move |e| Error::Failed(format!("cannot record {what} in {}: {e}", records.location()))
}

/// The occurrences of `list` nobody claimed yet (none ran, was skipped or is running).
fn not_done(records: &Records, list: Vec<Occurrence>) -> Result<Vec<Occurrence>, Error> {
    let mut out = Vec::new();
    for o in list {
        let done = records
            .done(&o.key)
            .map_err(|e| Error::Failed(format!("cannot read the claim of {} in {}: {e}", o.key, records.location())))?;
        if !done {
            out.push(o);
        }
    }
    Ok(out)
}

/// What to do with one due occurrence.
enum Decision {
    Skip(String),
    /// A guard other than a lease refused: recorded as skipped, but exit 7 (a scenario or
    /// account to fix, not a passing condition).
    Refused(Vec<String>),
    Run(Box<gameday::Cleared>),
}

async fn run_due(
    shell: Arc<Console>,
    state: &StateDir,
    aws: &AwsOpts,
    cal: &Loaded,
    now: Timestamp,
    only: Option<&str>,
) -> Result<(), Error> {
    let records = Records::of(state);
    let mut undelivered = 0;
    for (o, lead) in cal.announcements(now, only) {
        let key = format!("{}~{}", o.key, humantime::format_duration(lead)).replace(' ', "");
        let fail = io_failed(&records, "an announcement");
        if records.done(&key).map_err(&fail)?
            || !records.claim(&key, &record(&o, "announced", None, None)).map_err(&fail)?
        {
            continue;
        }
        let when = format!("{} ({})", o.start.strftime("%a %-d %b %Y, %H:%M %Z"), utc(&o));
        if let Err(e) = super::announce::announce(&shell, &o.scenario, Some(&when)).await {
            if !e.shown() {
                shell.warn(format!("announcement of {} not sent: {e}", o.key));
            }
            undelivered += 1;
        }
    }
    let all_due = cal.due(now, only);
    let due = not_done(&records, all_due.clone())?;
    for o in all_due.iter().filter(|o| !due.iter().any(|d| d.key == o.key)) {
        shell.status("Claimed", format!("{} was already claimed in {}: not run again", o.key, records.location()));
    }
    if due.is_empty() {
        shell.status("Due", format!("nothing at {now}"));
        return if undelivered == 0 { Ok(()) } else { Err(Error::Undelivered(undelivered)) };
    }
    let mut skipped = Vec::new();
    let mut result: Result<(), Error> = Ok(());
    for o in due {
        shell.status("Due", format!("{} ({}, {})", o.key, local(&o), o.scenario.display()));
        let decision = decide(&shell, cal, aws, &o).await?;
        let (reason, refused) = match decision {
            Decision::Run(cleared) => {
                if !records.claim(&o.key, &record(&o, "started", None, None)).map_err(io_failed(&records, "the run"))? {
                    shell.status(
                        "Claimed",
                        format!(
                            "{} was already claimed in {}: another firedrill is handling it",
                            o.key,
                            records.location()
                        ),
                    );
                    continue;
                }
                let r = run_one(&shell, state, &records, &o, *cleared).await;
                if result.is_ok() {
                    result = r;
                }
                continue;
            }
            Decision::Skip(reason) => (reason, None),
            Decision::Refused(lines) => (format!("refused by a guard: {}", lines.join("; ")), Some(lines)),
        };
        let fail = io_failed(&records, "a skip");
        if !records.claim(&o.key, &record(&o, "skipped", Some(reason.clone()), None)).map_err(&fail)? {
            continue;
        }
        records.append(&record(&o, "skipped", Some(reason.clone()), None)).map_err(&fail)?;
        shell.warn(format!("skipped {}: {reason}; nothing was touched", o.key));
        match refused {
            Some(lines) if result.is_ok() => result = Err(Error::Refused(lines)),
            Some(_) => {}
            None => skipped.push(reason),
        }
    }
    match result {
        Ok(()) if !skipped.is_empty() => Err(Error::Skipped(skipped)),
        Ok(()) if undelivered > 0 => Err(Error::Undelivered(undelivered)),
        r => r,
    }
}

async fn run_one(
    shell: &Arc<Console>,
    state: &StateDir,
    records: &Records,
    o: &Occurrence,
    cleared: gameday::Cleared,
) -> Result<(), Error> {
    records.append(&record(o, "started", None, None)).map_err(io_failed(records, "the run"))?;
    let options = gameday::Options {
        interactive: false,
        revert: crate::engine::RevertPolicy::default(),
        status: Arc::new(super::run::StatusLines(shell.clone())),
        on_end: None,
    };
    let finished = gameday::run(shell, state, cleared, &o.scenario, options).await?;
    let run = &finished.session.run;
    super::run::summarize(shell, &finished.record, &run.id);
    shell.status("Report", run.path.join("report.md").display());
    let outcome = finished.record.outcome;
    records
        .append(&record(o, outcome.as_str(), None, Some(run.id.clone())))
        .map_err(io_failed(records, "the run's outcome"))?;
    gameday::verdict(outcome)
}

/// Freeze, then the calendar's gates, then the scenario's own guards (halt, lease): the
/// first that stops the occurrence is its reason. Only reads.
async fn decide(shell: &Console, cal: &Loaded, aws_opts: &AwsOpts, o: &Occurrence) -> Result<Decision, Error> {
    if let Some(r) = &o.freeze {
        return Ok(Decision::Skip(format!("freeze: {r}")));
    }
    let drill = gameday::load(&o.scenario)?;
    let gates = &cal.calendar.gates;
    if !gates.alarms_ok.is_empty() {
        let region = drill.loaded.scenario.environment.as_ref().map(|e| e.region.as_str());
        let aws = match Aws::connect(aws_opts, region).await {
            Ok(a) => a,
            Err(e) => return Ok(Decision::Skip(format!("gate: cannot reach CloudWatch to read the gate alarms: {e}"))),
        };
        for name in &gates.alarms_ok {
            match aws.alarm_state(name).await {
                Ok(Some(s)) if s == "ALARM" => {
                    return Ok(Decision::Skip(format!("gate: alarm `{name}` is in ALARM")));
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Ok(Decision::Skip(format!("gate: alarm `{name}` does not exist in {}", aws.region())));
                }
                Err(e) => return Ok(Decision::Skip(format!("gate: cannot read alarm `{name}`: {e}"))),
            }
        }
    }
    for g in &gates.http_ok {
        if let Some(why) = http_gate(g).await {
            return Ok(Decision::Skip(format!("gate: open incident? {why}")));
        }
    }
    let prepared = gameday::prepare(shell, drill, aws_opts, Some(o.seed)).await?;
    if let Some(why) = prepared.halted() {
        return Ok(Decision::Skip(format!("halt set: {why}")));
    }
    let refusals = prepared.refusals().to_vec();
    if let Some(lease) = refusals.iter().find(|r| r.contains(" is leased by run ")) {
        return Ok(Decision::Skip(format!("lease held: {lease}")));
    }
    if !refusals.is_empty() {
        return Ok(Decision::Refused(refusals));
    }
    prepared.clear().map(|c| Decision::Run(Box::new(c)))
}

/// `None` when the URL answered the expected status; otherwise what it did.
async fn http_gate(g: &crate::schedule::HttpGate) -> Option<String> {
    let timeout = g.timeout.map_or(Duration::from_secs(10), |d| d.0);
    let client = match reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none()).build() {
        Ok(c) => c,
        Err(e) => return Some(format!("cannot make an HTTP client: {e}")),
    };
    use crate::util::redact::{Keep, in_text, url};
    let shown = url(&g.url, Keep::Path);
    match client.get(&g.url).send().await {
        Ok(r) if r.status().as_u16() == g.expect_status => None,
        Ok(r) => Some(format!("{shown} answered {}, expected {}", r.status().as_u16(), g.expect_status)),
        Err(e) => Some(format!("{shown} did not answer: {}", in_text(&error_chain(&e), Keep::Path))),
    }
}

/// How often each exported entry wakes `run-due`. `run-due` decides what is due, in the
/// calendar's time zone; an occurrence stays due for the calendar's `catch_up` (default
/// 1h), so a 15-minute poll never misses one.
pub const POLL: &str = "*/15 * * * *";

/// The Secret and key the Kubernetes export reads the installation key from, with S3 state.
const K8S_KEY_SECRET: &str = "firedrill-key";
const K8S_KEY_NAME: &str = "journal.key";
/// The CI secret (base64 of the installation key) the CI exports read, with S3 state.
const CI_KEY_SECRET: &str = "FIREDRILL_KEY_B64";

/// The scheduler entries for `cal`. With S3 state (`--state s3://…` or `FIREDRILL_STATE`)
/// each one names the bucket rather than a local state directory, and gives firedrill the
/// installation key every runner that may recover the runs shares: the state outlives the
/// machine, the pod or the CI job that ran the game day.
fn export(
    cal: &Loaded,
    calendar: &Path,
    state: &StateDir,
    to: ExportTo,
    image: &str,
) -> Result<Vec<(String, String)>, Error> {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let cal_abs = abs(calendar);
    let runs = state.runs();
    let state_abs = abs(runs.parent().unwrap_or(&runs));
    let s3 = state.remote().map(|r| r.url());
    let q = |s: &str| shlex::try_quote(s).map(|c| c.into_owned()).unwrap_or_else(|_| s.to_string());
    // The state flag of a command line: the bucket, or the absolute local directory.
    let state_flag = match &s3 {
        Some(url) => format!("--state {}", q(url)),
        None => format!("--state-dir {}", q(&state_abs.to_string_lossy())),
    };
    let tz = &cal.calendar.timezone;
    let mut files = Vec::new();
    match to {
        ExportTo::Crontab => {
            let mut t = format!(
                "# firedrill game days from {} (times in {tz}).\n# Each line wakes firedrill every 15 minutes; `schedule run-due` decides, in the\n# calendar's time zone, whether the game day is due (daylight saving, windows,\n# freezes and gates included), so the cron daemon's own time zone does not matter.\n",
                cal_abs.display()
            );
            if let Some(url) = &s3 {
                t.push_str(&format!(
                    "# The state is in {url}: every machine that runs these lines, or `recover`s\n# their runs, needs the same installation key (FIREDRILL_KEY_FILE; docs/ci.md).\n"
                ));
            }
            for d in &cal.days {
                t.push_str(&format!(
                    "# {}: {} ({})\n{POLL} firedrill {state_flag} schedule run-due {} --gameday {}\n",
                    d.id,
                    d.rule,
                    d.scenario.display(),
                    q(&cal_abs.to_string_lossy()),
                    q(&d.id)
                ));
            }
            files.push(("firedrill.crontab".to_string(), t));
        }
        ExportTo::Systemd => {
            for d in &cal.days {
                let unit = format!("firedrill-{}", d.id);
                files.push((
                    format!("{unit}.service"),
                    format!(
                        "[Unit]\nDescription=firedrill game day {id} ({rule}, {tz})\nDocumentation=file://{doc}\n\n[Service]\nType=oneshot\nExecStart=firedrill {state_flag} schedule run-due {cal} --gameday {id}\n# 9 (skipped) is an answer, not a failure of the unit.\nSuccessExitStatus=9\n",
                        id = d.id,
                        rule = d.rule,
                        doc = cal_abs.display(),
                        cal = q(&cal_abs.to_string_lossy()),
                    ),
                ));
                files.push((
                    format!("{unit}.timer"),
                    format!(
                        "[Unit]\nDescription=Wake firedrill for game day {id} every 15 minutes (it decides in {tz})\n\n[Timer]\nOnCalendar=*:0/15\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
                        id = d.id
                    ),
                ));
            }
        }
        ExportTo::K8sCronjob => {
            let cal_name = calendar.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            for d in &cal.days {
                let (about, security, init, env, mounts, volumes) = match &s3 {
                    None => (
                        "the run state from the PVC\n# `firedrill-state` (docs/schedule.md).".to_string(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        "            - name: state\n              persistentVolumeClaim: { claimName: firedrill-state }\n"
                            .to_string(),
                    ),
                    // The Secret's file is root's (mode 0400), or with `fsGroup` the group's
                    // (0440), which the non-root firedrill cannot read, or refuses: an init
                    // container copies it, owner-only, into memory for firedrill's user.
                    Some(url) => (
                        format!(
                            "and the run state\n# is in {url} (FIREDRILL_STATE), so /state is only a cache (an emptyDir).\n# The installation key comes from the Secret `{K8S_KEY_SECRET}` (key `{K8S_KEY_NAME}`), the same\n# on every runner that may recover these runs; an init container copies it,\n# readable by firedrill's user alone, into memory (docs/schedule.md)."
                        ),
                        "            runAsUser: 10001\n            runAsGroup: 10001\n            fsGroup: 10001\n".to_string(),
                        format!(
                            "          initContainers:\n            - name: installation-key\n              image: {image_json}\n              command: [\"sh\", \"-c\", \"umask 077 && cat /secret/{K8S_KEY_NAME} > /key/{K8S_KEY_NAME}\"]\n              volumeMounts:\n                - {{ name: key-secret, mountPath: /secret, readOnly: true }}\n                - {{ name: key, mountPath: /key }}\n",
                            image_json = json(image),
                        ),
                        format!(
                            "              env:\n                - {{ name: FIREDRILL_STATE, value: {url_json} }}\n                - {{ name: FIREDRILL_KEY_FILE, value: /key/{K8S_KEY_NAME} }}\n",
                            url_json = json(url),
                        ),
                        "                - { name: key, mountPath: /key, readOnly: true }\n".to_string(),
                        format!(
                            "            - name: key-secret\n              secret: {{ secretName: {K8S_KEY_SECRET}, defaultMode: 0400 }}\n            - name: key\n              emptyDir: {{ medium: Memory }}\n            - name: state\n              emptyDir: {{}}\n"
                        ),
                    ),
                };
                files.push((
                    format!("firedrill-{}.cronjob.yaml", d.id),
                    format!(
                        r#"# firedrill game day {id}: {rule} ({tz}). The CronJob wakes `run-due` every 15
# minutes; firedrill decides when the game day is due. The calendar and its scenarios
# come from the ConfigMap `firedrill-calendar`, {about}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: firedrill-{id}
  labels:
    app.kubernetes.io/name: firedrill
spec:
  schedule: "{POLL}"
  timeZone: {tz_json}
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 600
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 12
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          serviceAccountName: firedrill
          securityContext:
            runAsNonRoot: true
{security}{init}          containers:
            - name: firedrill
              image: {image_json}
              args: ["--state-dir", "/state", "schedule", "run-due", {cal_json}, "--gameday", {id_json}]
{env}              volumeMounts:
                - {{ name: calendar, mountPath: /calendar, readOnly: true }}
{mounts}                - {{ name: state, mountPath: /state }}
          volumes:
            - name: calendar
              configMap: {{ name: firedrill-calendar }}
{volumes}"#,
                        id = d.id,
                        rule = d.rule,
                        tz_json = json(tz),
                        image_json = json(image),
                        cal_json = json(&format!("/calendar/{cal_name}")),
                        id_json = json(&d.id),
                    ),
                ));
            }
        }
        ExportTo::GithubActions => {
            let kept = match &s3 {
                None => "The state directory (what ran, what was skipped) is kept in the Actions cache.".to_string(),
                Some(url) => format!(
                    "The state is in {url}\n# (FIREDRILL_STATE), not on the runner; each job writes the installation key from the\n# secret {CI_KEY_SECRET} (base64), the same for every job that may recover these runs."
                ),
            };
            let mut t = format!(
                r#"# firedrill game days from {cal} ({tz}). GitHub runs schedules in UTC, so the
# workflow wakes every 15 minutes and `schedule run-due` decides, in {tz}, what is
# due. {kept}
name: firedrill game days
on:
  schedule:
    - cron: "{POLL}"
  workflow_dispatch: {{}}
concurrency:
  group: firedrill-gamedays
  cancel-in-progress: false
permissions:
  contents: read
  id-token: write
jobs:
"#,
                cal = calendar.display()
            );
            for d in &cal.days {
                let (job, id, rule, cal) =
                    (d.id.replace('_', "-"), &d.id, d.rule.replace(':', " ="), q(&calendar.to_string_lossy()));
                t.push_str(&match &s3 {
                    None => format!(
                        r#"  {job}:
    runs-on: ubuntu-latest
    timeout-minutes: 120
    steps:
      - uses: actions/checkout@v4
      - uses: actions/cache/restore@v4
        with:
          path: .firedrill
          key: firedrill-state-${{{{ github.run_id }}}}
          restore-keys: firedrill-state-
      - name: {id} ({rule})
        run: firedrill schedule run-due {cal} --gameday {id}
      - uses: actions/cache/save@v4
        if: always()
        with:
          path: .firedrill
          key: firedrill-state-${{{{ github.run_id }}}}-{id}
"#
                    ),
                    Some(url) => format!(
                        r#"  {job}:
    runs-on: ubuntu-latest
    timeout-minutes: 120
    env:
      FIREDRILL_STATE: {url_json}
    steps:
      - uses: actions/checkout@v4
      - name: installation key
        run: |
          umask 077
          printf '%s' "$KEY" | base64 -d > "$RUNNER_TEMP/firedrill.key"
          echo "FIREDRILL_KEY_FILE=$RUNNER_TEMP/firedrill.key" >> "$GITHUB_ENV"
        env:
          KEY: ${{{{ secrets.{CI_KEY_SECRET} }}}}
      - name: {id} ({rule})
        run: firedrill schedule run-due {cal} --gameday {id}
"#,
                        url_json = json(url),
                    ),
                });
            }
            files.push(("firedrill-gamedays.yml".to_string(), t));
        }
        ExportTo::Gitlab => {
            let kept = match &s3 {
                None => "The state directory is kept in the job cache.".to_string(),
                Some(url) => format!(
                    "The state is in\n# {url} (FIREDRILL_STATE); each job writes the installation key from the CI/CD\n# variable {CI_KEY_SECRET} (base64, masked), the same for every job that may recover these runs."
                ),
            };
            let mut t = format!(
                "# firedrill game days from {cal} ({tz}). Create one pipeline schedule (CI/CD >\n# Schedules) with cron `{POLL}` in any time zone: `schedule run-due` decides, in\n# {tz}, what is due. {kept}\n",
                cal = calendar.display()
            );
            for d in &cal.days {
                let (id, cal) = (&d.id, q(&calendar.to_string_lossy()));
                t.push_str(&match &s3 {
                    None => format!(
                        "firedrill-{id}:\n  rules:\n    - if: $CI_PIPELINE_SOURCE == \"schedule\"\n  resource_group: firedrill-gamedays\n  cache:\n    key: firedrill-state\n    paths: [.firedrill/]\n  script:\n    - firedrill schedule run-due {cal} --gameday {id}\n"
                    ),
                    Some(url) => format!(
                        "firedrill-{id}:\n  rules:\n    - if: $CI_PIPELINE_SOURCE == \"schedule\"\n  resource_group: firedrill-gamedays\n  variables:\n    FIREDRILL_STATE: {url_json}\n  script:\n    - export FIREDRILL_KEY_FILE=\"$(mktemp -d)/firedrill.key\"\n    - (umask 077 && printf '%s' \"${CI_KEY_SECRET}\" | base64 -d > \"$FIREDRILL_KEY_FILE\")\n    - firedrill schedule run-due {cal} --gameday {id}\n",
                        url_json = json(url),
                    ),
                });
            }
            files.push((".gitlab-ci.firedrill.yml".to_string(), t));
        }
    }
    Ok(files)
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
