//! The `command` fault: a shell command that injects and one that reverts. The revert
//! command is journaled (with its timeout, directory and environment) before the inject
//! command runs, so [`undo`] can revert from the journal alone; the inject's process group
//! is journaled as soon as it starts, so `recover` can kill what is left of it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::FaultContext;
use super::step::Step;
use crate::aws::Aws;
use crate::engine::{Fault, FaultError, Intents};
use crate::scenario::Dur;
use crate::scenario::validate::{Problem, Scope, command_problem, problem, timeout_problem};
use crate::state::journal::UndoRecord;
use crate::targets::Resolution;
use crate::util::sh::{ShellOpts, run_shell, spawn_shell};

/// The [`UndoRecord::kind`] of this fault.
pub const KIND: &str = "command";
/// Timeout of each of the inject and revert commands unless the scenario sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Shell commands that inject and revert a fault. The revert command must be safe to run
/// more than once and when the inject command never ran (firedrill reverts whenever it
/// cannot be sure).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandFault {
    pub inject: String,
    pub revert: String,
    /// Timeout of each command; default 30s, at least 10ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

/// A `command` fault, ready to inject.
pub struct Injector {
    fault: String,
    inject: String,
    revert: String,
    timeout: Duration,
    run_id: String,
    cwd: PathBuf,
}

impl Injector {
    pub fn new(fault: &str, c: &CommandFault, ctx: &FaultContext) -> Self {
        Injector {
            fault: fault.to_string(),
            inject: c.inject.clone(),
            revert: c.revert.clone(),
            timeout: timeout(c),
            run_id: ctx.run_id.clone(),
            cwd: ctx.cwd.clone(),
        }
    }

    fn undo_record(&self) -> UndoRecord {
        RevertData {
            revert: self.revert.clone(),
            timeout_ms: Some(u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)),
            cwd: Some(self.cwd.clone()),
            env: BTreeMap::from([
                ("FIREDRILL_RUN_ID".to_string(), self.run_id.clone()),
                ("FIREDRILL_FAULT".to_string(), self.fault.clone()),
            ]),
        }
        .record(None, format!("run `{}`", self.revert))
    }
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        intents.intent(self.undo_record()).await?;
        let opts = ShellOpts {
            timeout: self.timeout,
            cwd: Some(self.cwd.clone()),
            env: vec![
                ("FIREDRILL_RUN_ID".into(), self.run_id.clone()),
                ("FIREDRILL_FAULT".into(), self.fault.clone()),
                ("FIREDRILL_PHASE".into(), "inject".into()),
            ],
            ..ShellOpts::default()
        };
        let spawned = match spawn_shell(&self.inject, &opts) {
            Ok(s) => s,
            Err(e) => return failed("inject", Err(e)),
        };
        if let Some(pgid) = spawned.pgid() {
            // Dropping `spawned` on error kills the group.
            intents.process_group(pgid).await?;
        }
        failed("inject", spawned.finish().await)
    }
}

/// Undo step: what a `command` intent journals, enough to run the revert from the
/// journal alone.
#[derive(Serialize, Deserialize)]
pub struct RevertData {
    pub revert: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[async_trait]
impl Step for RevertData {
    const KEY: &'static str = KIND;
    const AWS: bool = false;

    async fn undo(&self, _: Option<&Aws>) -> Result<(), FaultError> {
        let r = Revert::from_data(self);
        if let Some(w) = r.warning() {
            tracing::warn!("{w}");
        }
        let opts = ShellOpts { timeout: r.timeout, cwd: r.cwd, env: r.env, ..ShellOpts::default() };
        failed("revert", run_shell(&r.command, &opts).await)
    }

    /// The operator's own revert command, as written, in the journaled directory.
    fn manual_fix(&self, _: &str) -> Option<String> {
        Some(match &self.cwd {
            Some(cwd) => format!("cd {} && {}", crate::util::console::quote(&cwd.to_string_lossy()), self.revert),
            None => self.revert.clone(),
        })
    }
}

/// Where a revert runs when the directory its run started in is gone (a CI workspace
/// cleaned up after a crash): a directory that always exists.
pub const FALLBACK_DIR: &str = "/";

/// What a journaled `command` intent would run, exactly.
pub struct Revert {
    pub command: String,
    /// The journaled directory if it exists, else [`FALLBACK_DIR`].
    pub cwd: Option<PathBuf>,
    /// The journaled directory when it is gone, for the warning.
    pub missing_cwd: Option<PathBuf>,
    /// `FIREDRILL_*` variables only: nothing in a journal may set `PATH`, `LD_PRELOAD`...
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

impl Revert {
    pub fn from_record(data: &serde_json::Value) -> Result<Revert, FaultError> {
        Ok(Revert::from_data(&super::step::parse::<RevertData>(KIND, data)?))
    }

    fn from_data(data: &RevertData) -> Revert {
        let (cwd, missing_cwd) = match data.cwd.clone() {
            Some(dir) if !dir.is_dir() => (Some(PathBuf::from(FALLBACK_DIR)), Some(dir)),
            other => (other, None),
        };
        let mut env: Vec<(String, String)> = data
            .env
            .iter()
            .filter(|(k, _)| k.starts_with("FIREDRILL_") && *k != "FIREDRILL_PHASE")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.push(("FIREDRILL_PHASE".into(), "revert".into()));
        Revert {
            command: data.revert.clone(),
            cwd,
            missing_cwd,
            env,
            timeout: data.timeout_ms.map_or(DEFAULT_TIMEOUT, Duration::from_millis),
        }
    }

    /// The exact shell command line, for an operator to review: `cd DIR && VAR=.. sh -c CMD`.
    pub fn shell_line(&self) -> String {
        let mut out = String::new();
        if let Some(dir) = &self.cwd {
            out.push_str(&format!("cd {} && ", quote(&dir.to_string_lossy())));
        }
        for (k, v) in &self.env {
            out.push_str(&format!("{k}={} ", quote(v)));
        }
        out.push_str(&format!("sh -c {}", quote(&self.command)));
        out
    }

    /// Why the revert runs elsewhere than journaled, if it does.
    pub fn warning(&self) -> Option<String> {
        self.missing_cwd.as_ref().map(|d| {
            format!("directory {} no longer exists: running the revert command in {FALLBACK_DIR} instead", d.display())
        })
    }
}

/// Single-quotes `s` for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r#"'\''"#))
}

/// Runs the revert command described by a journaled `command` intent.
pub async fn undo(data: &serde_json::Value) -> Result<(), FaultError> {
    super::step::parse::<RevertData>(KIND, data)?.undo(None).await
}

fn failed(
    phase: &str,
    result: Result<crate::util::sh::ShellOutput, crate::util::sh::ShellError>,
) -> Result<(), FaultError> {
    match result {
        Ok(out) if out.status == Some(0) => Ok(()),
        Ok(out) => Err(FaultError::Failed(format!("{phase} command failed: {}", out.summary()))),
        Err(e) => Err(FaultError::Failed(format!("{phase} command {e}"))),
    }
}

fn timeout(c: &CommandFault) -> Duration {
    c.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0)
}

/// Lines for `firedrill plan`.
/// The `command` fault kind.
pub struct Command;

impl super::Kind for Command {
    const KEY: &'static str = "command";
    type Config = CommandFault;
    const AWS: bool = false;

    fn validate(c: &CommandFault, at: &str, _: &Scope<'_>) -> Vec<Problem> {
        let mut out = Vec::new();
        if c.inject.trim().is_empty() {
            out.push(problem(format!("{at}.inject"), "the inject command is empty"));
        }
        if c.revert.trim().is_empty() {
            out.push(problem(
                format!("{at}.revert"),
                "the revert command is empty: every command fault must say how to undo it",
            ));
        }
        for (field, cmd) in [("inject", &c.inject), ("revert", &c.revert)] {
            if let Some(m) = command_problem(cmd) {
                out.push(problem(format!("{at}.{field}"), m));
            }
        }
        if let Some(m) = timeout_problem(c.timeout) {
            out.push(problem(format!("{at}.timeout"), m));
        }
        out
    }

    fn describe(c: &CommandFault, _: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        describe(c)
    }

    fn build(fault: &str, c: &CommandFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        Some(Arc::new(Injector::new(fault, c, ctx)))
    }
}

pub fn describe(c: &CommandFault) -> Vec<String> {
    vec![
        format!("inject: run `{}` (timeout {})", c.inject, humantime::format_duration(timeout(c))),
        format!("revert: run `{}`", c.revert),
    ]
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    /// Records each intent, with whether `marker` existed when it arrived.
    struct Recorder {
        marker: PathBuf,
        fail: bool,
        seen: Mutex<Vec<(UndoRecord, bool)>>,
        groups: Mutex<Vec<u32>>,
    }

    impl Recorder {
        fn new(marker: &Path) -> Self {
            Recorder { marker: marker.to_path_buf(), fail: false, seen: Mutex::default(), groups: Mutex::default() }
        }
        fn seen(&self) -> Vec<(UndoRecord, bool)> {
            self.seen.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Intents for Recorder {
        async fn intent(&self, undo: UndoRecord) -> Result<(), FaultError> {
            if self.fail {
                return Err(FaultError::Failed("journal is full".into()));
            }
            self.seen.lock().unwrap().push((undo, self.marker.exists()));
            Ok(())
        }

        async fn process_group(&self, pgid: u32) -> Result<(), FaultError> {
            self.groups.lock().unwrap().push(pgid);
            Ok(())
        }
    }

    fn injector(dir: &Path, inject: &str, revert: &str) -> Injector {
        let c = CommandFault { inject: inject.into(), revert: revert.into(), timeout: None };
        Injector::new(
            "break-web",
            &c,
            &FaultContext { run_id: "run-1".into(), cwd: dir.to_path_buf(), aws: None, stop_alarms: vec![] },
        )
    }

    const ECHO_ENV: &str = r#"echo "$FIREDRILL_RUN_ID $FIREDRILL_FAULT $FIREDRILL_PHASE""#;

    #[tokio::test]
    async fn journals_the_intent_before_injecting() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("injected");
        let intents = Recorder::new(&marker);
        let f = injector(dir.path(), &format!("{ECHO_ENV} > injected"), "rm -f injected");
        f.inject(&intents).await.unwrap();

        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "run-1 break-web inject\n");
        let seen = intents.seen();
        assert_eq!(seen.len(), 1);
        let (record, marker_existed) = &seen[0];
        assert!(!marker_existed, "the inject command ran before its intent was journaled");
        assert_eq!(record.kind, "command");
        assert_eq!(record.description, "run `rm -f injected`");
        assert_eq!(
            record.data,
            json!({
                "revert": "rm -f injected",
                "timeout_ms": 30_000,
                "cwd": dir.path().to_str().unwrap(),
                "env": {"FIREDRILL_RUN_ID": "run-1", "FIREDRILL_FAULT": "break-web"},
            })
        );
    }

    /// The inject's process group is journaled while it runs, so `recover` can kill it.
    #[tokio::test]
    async fn journals_the_inject_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let intents = Recorder::new(&dir.path().join("unused"));
        injector(dir.path(), "echo $$ > shell.pid", "true").inject(&intents).await.unwrap();
        let pid: u32 = std::fs::read_to_string(dir.path().join("shell.pid")).unwrap().trim().parse().unwrap();
        assert_eq!(*intents.groups.lock().unwrap(), [pid], "the shell leads its own group");
    }

    #[tokio::test]
    async fn no_injection_without_an_intent() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("injected");
        let intents = Recorder { fail: true, ..Recorder::new(&marker) };
        let err = injector(dir.path(), "touch injected", "true").inject(&intents).await.unwrap_err();
        assert_eq!(err.to_string(), "journal is full");
        assert!(!marker.exists());
    }

    #[tokio::test]
    async fn failed_inject_still_leaves_the_intent() {
        let dir = tempfile::tempdir().unwrap();
        let intents = Recorder::new(&dir.path().join("unused"));
        let f = injector(dir.path(), "echo starting; echo boom >&2; exit 1", "true");
        let err = f.inject(&intents).await.unwrap_err();
        assert_eq!(err.to_string(), "inject command failed: exit 1: boom");
        assert_eq!(intents.seen().len(), 1);
    }

    #[tokio::test]
    async fn inject_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let intents = Recorder::new(&dir.path().join("unused"));
        let f = Injector { timeout: Duration::from_millis(200), ..injector(dir.path(), "sleep 30", "true") };
        let err = f.inject(&intents).await.unwrap_err();
        assert_eq!(err.to_string(), "inject command timed out after 200ms");
        assert_eq!(intents.seen().len(), 1);
    }

    #[tokio::test]
    async fn undo_runs_the_revert_from_the_journaled_data_alone() {
        let dir = tempfile::tempdir().unwrap();
        let intents = Recorder::new(&dir.path().join("unused"));
        let f = injector(dir.path(), "true", &format!("{ECHO_ENV} >> reverted"));
        f.inject(&intents).await.unwrap();
        // As `firedrill recover` sees it: read back from the journal's JSON.
        let text = serde_json::to_string(&intents.seen()[0].0).unwrap();
        let record: UndoRecord = serde_json::from_str(&text).unwrap();
        drop(f);

        undo(&record.data).await.unwrap();
        undo(&record.data).await.unwrap();
        let reverted = std::fs::read_to_string(dir.path().join("reverted")).unwrap();
        assert_eq!(reverted, "run-1 break-web revert\nrun-1 break-web revert\n");
    }

    /// A CI workspace cleaned up after the crash: the revert runs in `/`, not nowhere.
    #[tokio::test]
    async fn undo_runs_in_a_safe_directory_when_the_journaled_one_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("where");
        let gone = dir.path().join("workspace");
        let data = json!({"revert": format!("pwd > {}", out.display()), "cwd": gone});
        let r = Revert::from_record(&data).unwrap();
        assert_eq!(r.cwd.as_deref(), Some(Path::new("/")));
        assert!(r.warning().unwrap().contains(&format!("{} no longer exists", gone.display())));
        undo(&data).await.unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "/\n");
        // An existing directory is used as journaled, without a warning.
        let here = json!({"revert": "true", "cwd": dir.path()});
        assert!(Revert::from_record(&here).unwrap().warning().is_none());
    }

    /// Only `FIREDRILL_*` variables come from a journal: a record cannot set what the shell
    /// loads or where it finds programs.
    #[tokio::test]
    async fn undo_takes_only_firedrill_variables_from_the_journal() {
        let data = json!({
            "revert": "echo \"$FIREDRILL_FAULT|$FIREDRILL_PHASE|${LD_PRELOAD-unset}|${BASH_ENV-unset}\" >&2; exit 1",
            "env": {"FIREDRILL_FAULT": "f", "FIREDRILL_PHASE": "inject", "LD_PRELOAD": "/tmp/evil.so", "BASH_ENV": "/tmp/x"},
        });
        let err = undo(&data).await.unwrap_err();
        assert_eq!(err.to_string(), "revert command failed: exit 1: f|revert|unset|unset");
        let line = Revert::from_record(&data).unwrap().shell_line();
        assert!(line.starts_with("FIREDRILL_FAULT='f' FIREDRILL_PHASE='revert' sh -c 'echo"), "{line}");
        assert!(!line.contains("LD_PRELOAD="), "{line}");
    }

    #[tokio::test]
    async fn failed_revert() {
        let err = undo(&json!({"revert": "echo 'still broken' >&2; exit 2"})).await.unwrap_err();
        assert_eq!(err.to_string(), "revert command failed: exit 2: still broken");
    }

    #[tokio::test]
    async fn malformed_undo_data() {
        let err = undo(&json!({"timeout_ms": 5})).await.unwrap_err();
        assert!(err.to_string().starts_with("malformed `command` undo record: missing field `revert`"), "{err}");
        let err = undo(&json!("rm -rf /tmp/x")).await.unwrap_err();
        assert!(err.to_string().starts_with("malformed `command` undo record: "), "{err}");
    }

    #[test]
    fn describes() {
        let c = CommandFault { inject: "stop web".into(), revert: "start web".into(), timeout: None };
        assert_eq!(describe(&c), ["inject: run `stop web` (timeout 30s)", "revert: run `start web`"]);
    }
}
