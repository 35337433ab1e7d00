//! Faults: turns a scenario's faults into the engine's [`crate::engine::Fault`] trait
//! objects ([`build`]) and plan lines ([`describe`]), and undoes journaled side effects by
//! fault kind ([`Undo`]), which is all `firedrill recover` needs.

pub mod command;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::engine::{self, FaultError, FaultSpec, Intents, Undoer};
use crate::journal::UndoRecord;
use crate::scenario::Fault;

/// What faults of one run share.
#[derive(Clone, Debug)]
pub struct FaultContext {
    /// Passed to commands as `FIREDRILL_RUN_ID`.
    pub run_id: String,
    /// Where commands run (the scenario file's directory).
    pub cwd: PathBuf,
}

/// The executor's view of a (validated) fault; `after` holds the indexes of the faults
/// it starts after.
pub fn build(f: &Fault, after: Vec<usize>, ctx: &FaultContext) -> FaultSpec {
    let (kind, fault): (&str, Arc<dyn engine::Fault>) = match &f.command {
        Some(c) => (command::KIND, Arc::new(command::Injector::new(&f.name, c, ctx))),
        None => ("none", Arc::new(NoKind(f.name.clone()))),
    };
    FaultSpec { name: f.name.clone(), kind: kind.to_string(), duration: f.duration.0, after, fault }
}

/// How the fault is injected and reverted, for `firedrill plan`.
pub fn describe(f: &Fault) -> Vec<String> {
    match &f.command {
        Some(c) => command::describe(c),
        None => vec!["no fault kind is set".to_string()],
    }
}

/// Undoes any journaled side effect this firedrill version knows, by [`UndoRecord::kind`].
pub struct Undo;

#[async_trait]
impl Undoer for Undo {
    async fn undo(&self, record: &UndoRecord) -> Result<(), FaultError> {
        match record.kind.as_str() {
            command::KIND => command::undo(&record.data).await,
            other => Err(FaultError::Failed(format!("no undo for fault kind `{other}` in this firedrill version"))),
        }
    }
}

/// A fault without a kind (only possible for an unvalidated scenario): refuses to inject.
struct NoKind(String);

#[async_trait]
impl engine::Fault for NoKind {
    async fn inject(&self, _: &dyn Intents) -> Result<(), FaultError> {
        Err(FaultError::Refused(format!("fault `{}` has no kind set", self.0)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn fault(v: serde_json::Value) -> Fault {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn builds_a_command_fault() {
        let f = fault(json!({
            "name": "break-web", "duration": "3s",
            "command": {"inject": "stop web", "revert": "start web", "timeout": "10s"},
        }));
        let ctx = FaultContext { run_id: "run-1".into(), cwd: PathBuf::from("/tmp") };
        let spec = build(&f, vec![0, 2], &ctx);
        assert_eq!(spec.name, "break-web");
        assert_eq!(spec.kind, "command");
        assert_eq!(spec.duration, Duration::from_secs(3));
        assert_eq!(spec.after, [0, 2]);
        assert_eq!(describe(&f), ["inject: run `stop web` (timeout 10s)", "revert: run `start web`"]);
    }

    #[tokio::test]
    async fn a_fault_without_a_kind_refuses_to_inject() {
        struct NoIntents;
        #[async_trait]
        impl Intents for NoIntents {
            async fn intent(&self, _: UndoRecord) -> Result<(), FaultError> {
                panic!("no intent expected")
            }
        }
        let f = fault(json!({"name": "x", "duration": "1s"}));
        let spec = build(&f, vec![], &FaultContext { run_id: "r".into(), cwd: PathBuf::from("/tmp") });
        let err = spec.fault.inject(&NoIntents).await.unwrap_err();
        assert_eq!(err.to_string(), "refused: fault `x` has no kind set");
    }

    #[tokio::test]
    async fn undo_dispatches_on_kind() {
        let dir = tempfile::tempdir().unwrap();
        let record = UndoRecord {
            kind: "command".into(),
            description: "run `touch reverted`".into(),
            data: json!({"revert": "touch reverted", "cwd": dir.path()}),
        };
        Undo.undo(&record).await.unwrap();
        Undo.undo(&record).await.unwrap();
        assert!(dir.path().join("reverted").exists());
    }

    #[tokio::test]
    async fn unknown_kind() {
        let record = UndoRecord { kind: "aws-ec2-stop".into(), description: String::new(), data: json!({}) };
        let err = Undo.undo(&record).await.unwrap_err();
        assert_eq!(err.to_string(), "no undo for fault kind `aws-ec2-stop` in this firedrill version");
    }
}
