//! `fis_experiment`: runs an AWS Fault Injection Service experiment as one fault. The
//! template must exist and carry the scenario's opt-in tag (checked at plan time, and
//! again before the start). Before the start, firedrill journals the undo "stop the
//! experiment of this template tagged with this run and fault" (the id is not known
//! yet); the start then uses a client token derived from the run and fault (a retried
//! start is the same experiment) and tags the experiment `firedrill:run` = run,
//! `firedrill:fault` = fault. Revert, abort, halt and `recover` stop every such
//! experiment that has not ended; one already stopped or completed is fine.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ec2::failed;
use super::step::{Step, client};
use super::{AwsFaultCtx, FaultConfig, FaultContext, FaultKind};
use crate::aws::{Aws, Tags};
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Res, Stmt, stmt};
use crate::scenario::validate::{Problem, Scope, problem};
use crate::scenario::{OptInTag, Scenario, Target};
use crate::targets::Resolution;
use crate::util::console::quote;

/// Undo kind: stop the experiment a `fis_experiment` fault started.
pub const STOP: &str = "fis_stop_experiment";
/// Tag on an experiment firedrill started: the fault that started it.
pub const FAULT_TAG: &str = "firedrill:fault";

/// `fis_experiment`.
pub struct Experiment;

/// `fis_experiment`: starts an experiment from an existing AWS FIS experiment template
/// (which must carry the opt-in tag), and stops it at the revert.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FisExperimentFault {
    /// The experiment template's id (`EXT…`).
    pub template_id: String,
}

/// Whether `id` looks like an experiment template id: letters and digits (`EXT…` on
/// AWS), at most 64.
pub fn valid_template_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The client token of the experiment a fault starts: deterministic from the run and the
/// fault, so a retried start is the same experiment.
pub fn client_token(run_id: &str, fault: &str) -> String {
    let hash: String =
        Sha256::digest(format!("{run_id}/{fault}").as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("firedrill-{hash}")
}

impl super::Kind for Experiment {
    const KEY: &'static str = "fis_experiment";
    type Config = FisExperimentFault;

    fn validate(x: &FisExperimentFault, at: &str, _: &Scope<'_>) -> Vec<Problem> {
        if valid_template_id(&x.template_id) {
            vec![]
        } else {
            vec![problem(
                format!("{at}.template_id"),
                format!(
                    "{:?} is not an experiment template id (letters and digits, e.g. `EXT1a2b3c4d5e6f7`)",
                    x.template_id
                ),
            )]
        }
    }

    fn iam(x: &FisExperimentFault, _: &[&Target]) -> Vec<Stmt> {
        let template = Res::FisTemplate(x.template_id.clone());
        let experiments = Res::FisExperiment("*".into());
        vec![
            // Only a template with the opt-in tag can be read, and firedrill reads it (and
            // checks the tag) before every start.
            stmt("ReadFisTemplate", &["fis:GetExperimentTemplate"], vec![template.clone()], true),
            // A start is authorized on the template and on the new experiment, which has
            // no tags yet: no tag condition can hold for it.
            stmt("StartFisExperiment", &["fis:StartExperiment"], vec![template, experiments.clone()], false),
            stmt("StopFisExperiments", &["fis:TagResource", "fis:StopExperiment"], vec![experiments], false),
            stmt("ListFisExperiments", &["fis:ListExperiments"], vec![Res::Any], false),
        ]
    }

    fn describe(x: &FisExperimentFault, _: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        vec![
            format!(
                "inject: start an AWS FIS experiment from template {} (tagged firedrill:run and {FAULT_TAG})",
                x.template_id
            ),
            "revert: stop that experiment (already stopped or completed is fine)".into(),
        ]
    }

    fn build(fault: &str, x: &FisExperimentFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (ctx, res) = ctx.aws()?;
        Some(Arc::new(Injector {
            ctx,
            fault: fault.to_string(),
            template: x.template_id.clone(),
            opt_in: res.opt_in_tag.clone(),
        }))
    }
}

/// Why template `id` may not be started: it does not exist, or lacks the opt-in tag.
pub async fn refusal(aws: &Aws, fault: &str, id: &str, opt_in: Option<&OptInTag>) -> Result<Option<String>, String> {
    let tags = aws.fis_template_tags(id).await.map_err(|e| format!("fault `{fault}`: {e}"))?;
    Ok(match (tags, opt_in) {
        (None, _) => Some(format!(
            "fault `{fault}` (fis_experiment): experiment template {id} does not exist in {}",
            aws.region()
        )),
        (Some(t), Some(o)) if t.get(&o.key) != Some(&o.value) => Some(format!(
            "fault `{fault}` (fis_experiment): experiment template {id} lacks the opt-in tag {}={}",
            o.key, o.value
        )),
        _ => None,
    })
}

/// The plan-time checks of the scenario's `fis_experiment` faults: each template exists
/// and carries the opt-in tag. Refusals; an AWS error reading a template is one too.
pub async fn plan_refusals(aws: &Aws, s: &Scenario, opt_in: Option<&OptInTag>) -> Vec<String> {
    let mut out = Vec::new();
    for f in &s.faults {
        if let FaultConfig { kind: FaultKind::FisExperiment(x), name, .. } = f {
            match refusal(aws, name, &x.template_id, opt_in).await {
                Ok(Some(why)) => out.push(why),
                Ok(None) => {}
                Err(e) => out.push(format!("cannot read the experiment template: {e}")),
            }
        }
    }
    out
}

pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub fault: String,
    pub template: String,
    pub opt_in: Option<OptInTag>,
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        let aws = &self.ctx.aws;
        match refusal(aws, &self.fault, &self.template, self.opt_in.as_ref()).await {
            Ok(None) => {}
            Ok(Some(why)) => return Err(FaultError::Refused(why)),
            Err(e) => return Err(FaultError::Failed(e)),
        }
        let d = StopData { template: self.template.clone(), run: self.ctx.run_id.clone(), fault: self.fault.clone() };
        intents
            .intent(d.record(
                Some(aws.region()),
                format!("stop the FIS experiment of template {} started by fault {}", self.template, self.fault),
            ))
            .await?;
        let tags: Tags =
            [(crate::tags::RUN.to_string(), self.ctx.run_id.clone()), (FAULT_TAG.to_string(), self.fault.clone())]
                .into();
        aws.start_fis_experiment(&self.template, &client_token(&self.ctx.run_id, &self.fault), &tags)
            .await
            .map_err(failed)?;
        Ok(())
    }
}

/// Undo step: stop every experiment of `template` tagged with the run and fault that has
/// not ended (there is at most one; none when the start never happened).
#[derive(Serialize, Deserialize)]
pub struct StopData {
    pub template: String,
    pub run: String,
    pub fault: String,
}

impl StopData {
    /// The undo of experiment `x` if firedrill started it (tagged with a run and a fault)
    /// and it has not ended; what `recover --sweep` finds.
    pub fn of(x: &crate::aws::FisExperiment) -> Option<StopData> {
        let run = x.tags.get(crate::tags::RUN)?;
        let fault = x.tags.get(FAULT_TAG)?;
        (!x.ended() && !x.template.is_empty() && crate::tags::valid_run(run)).then(|| StopData {
            template: x.template.clone(),
            run: run.clone(),
            fault: fault.clone(),
        })
    }

    fn ours(&self, tags: &Tags) -> bool {
        tags.get(crate::tags::RUN) == Some(&self.run) && tags.get(FAULT_TAG) == Some(&self.fault)
    }
}

#[async_trait]
impl Step for StopData {
    const KEY: &'static str = STOP;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        let aws = client(aws)?;
        for x in aws.fis_experiments(Some(&self.template)).await.map_err(failed)? {
            if self.ours(&x.tags) && !x.ended() {
                aws.stop_fis_experiment(&x.id).await.map_err(failed)?;
            }
        }
        Ok(())
    }

    fn manual_fix(&self, region: &str) -> Option<String> {
        Some(format!(
            "aws fis list-experiments --region {} --experiment-template-id {} --query {} --output text | xargs -n1 aws fis stop-experiment --region {} --id",
            quote(region),
            quote(&self.template),
            quote(&format!(
                "experiments[?tags.\"firedrill:run\"=='{}' && tags.\"{FAULT_TAG}\"=='{}'].id",
                self.run, self.fault
            )),
            quote(region),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Kind;

    #[test]
    fn template_ids_are_checked_and_tokens_are_per_run_and_fault() {
        let scope = Scope { targets: &Default::default(), region: None };
        let ok = FisExperimentFault { template_id: "EXT1a2b3c4d5e6f7".into() };
        assert!(Experiment::validate(&ok, "f", &scope).is_empty());
        for bad in ["", "EXT-12", "tpl-1", "EXT 1", &"E".repeat(65)] {
            let x = FisExperimentFault { template_id: bad.into() };
            let p = Experiment::validate(&x, "faults[0].fis_experiment", &scope);
            assert_eq!(p.len(), 1, "{bad:?}");
            assert_eq!(p[0].path, "faults[0].fis_experiment.template_id");
        }
        let a = client_token("20261201T100000Z-x-00ab", "fis");
        assert_eq!(a, client_token("20261201T100000Z-x-00ab", "fis"));
        assert_ne!(a, client_token("20261201T100000Z-x-00ab", "fis2"));
        assert_ne!(a, client_token("20261201T100001Z-x-00ab", "fis"));
        assert!(a.len() <= 64);
    }

    #[test]
    fn only_the_runs_experiment_is_stopped() {
        let d = StopData { template: "EXT1".into(), run: "r1".into(), fault: "f".into() };
        let tags = |run: &str, fault: &str| -> Tags {
            [(crate::tags::RUN.to_string(), run.to_string()), (FAULT_TAG.to_string(), fault.to_string())].into()
        };
        assert!(d.ours(&tags("r1", "f")));
        assert!(!d.ours(&tags("r2", "f")));
        assert!(!d.ours(&tags("r1", "g")));
        assert!(!d.ours(&Tags::new()));
    }
}
