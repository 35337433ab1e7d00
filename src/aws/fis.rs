//! AWS Fault Injection Service: the experiment templates `fis_experiment` starts (an
//! existing one, or one it creates from the scenario's inline actions and deletes
//! afterwards), and the experiments it starts and stops (`crate::faults::fis`).

use super::{Aws, AwsError, Tags, sdk_err};

/// An experiment, in firedrill's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FisExperiment {
    pub id: String,
    /// The template it was started from.
    pub template: String,
    /// `pending`, `initiating`, `running`, `completed`, `stopping`, `stopped`, `failed`…
    pub status: String,
    pub tags: Tags,
}

impl FisExperiment {
    /// Whether it has ended or is being stopped: nothing left to stop.
    pub fn ended(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "stopping" | "stopped" | "failed" | "cancelled")
    }
}

/// An experiment template to create, in firedrill's terms: every target names its
/// resources by ARN (firedrill resolved them; FIS selects all of them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFisTemplate {
    pub token: String,
    pub description: String,
    pub role_arn: String,
    /// `(source, value)`: `("aws:cloudwatch:alarm", Some(alarm ARN))` or `("none", None)`.
    pub stop_conditions: Vec<(String, Option<String>)>,
    /// name → (resource type, ARNs).
    pub targets: std::collections::BTreeMap<String, (String, Vec<String>)>,
    pub actions: std::collections::BTreeMap<String, NewFisAction>,
    pub tags: Tags,
}

/// One action of a [`NewFisTemplate`], as FIS spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFisAction {
    pub action_id: String,
    pub description: Option<String>,
    pub parameters: std::collections::BTreeMap<String, String>,
    pub targets: std::collections::BTreeMap<String, String>,
    pub start_after: Vec<String>,
}

impl Aws {
    /// Creates experiment template `t`; its token makes a retried create the same
    /// template. Returns its id.
    pub async fn create_fis_template(&self, t: &NewFisTemplate) -> Result<String, AwsError> {
        use aws_sdk_fis::types::{
            CreateExperimentTemplateActionInput as Action, CreateExperimentTemplateStopConditionInput as Stop,
            CreateExperimentTemplateTargetInput as Target,
        };
        const OP: &str = "fis:CreateExperimentTemplate";
        let built = |e: aws_smithy_types::error::operation::BuildError| AwsError::other(OP, e.to_string());
        let mut call = self
            .fis
            .create_experiment_template()
            .client_token(&t.token)
            .description(&t.description)
            .role_arn(&t.role_arn);
        for (source, value) in &t.stop_conditions {
            call =
                call.stop_conditions(Stop::builder().source(source).set_value(value.clone()).build().map_err(built)?);
        }
        for (name, (kind, arns)) in &t.targets {
            let target = Target::builder()
                .resource_type(kind)
                .set_resource_arns(Some(arns.clone()))
                .selection_mode("ALL")
                .build()
                .map_err(built)?;
            call = call.targets(name, target);
        }
        for (name, a) in &t.actions {
            let mut b = Action::builder().action_id(&a.action_id).set_description(a.description.clone());
            for (k, v) in &a.parameters {
                b = b.parameters(k, v);
            }
            for (k, v) in &a.targets {
                b = b.targets(k, v);
            }
            for x in &a.start_after {
                b = b.start_after(x);
            }
            call = call.actions(name, b.build().map_err(built)?);
        }
        for (k, v) in &t.tags {
            call = call.tags(k, v);
        }
        let out = call.send().await.map_err(|e| sdk_err(OP, e))?;
        out.experiment_template()
            .and_then(|x| x.id())
            .map(str::to_string)
            .ok_or_else(|| AwsError::other(OP, "the answer named no experiment template"))
    }

    /// Every experiment template in the region, with its tags.
    pub async fn fis_templates(&self) -> Result<Vec<(String, Tags)>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self.fis.list_experiment_templates().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("fis:ListExperimentTemplates", e))?;
            for x in page.experiment_templates() {
                let tags =
                    x.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
                out.push((x.id().unwrap_or_default().to_string(), tags));
            }
        }
        Ok(out)
    }

    /// Deletes experiment template `id`; one already gone is fine.
    pub async fn delete_fis_template(&self, id: &str) -> Result<(), AwsError> {
        match self.fis.delete_experiment_template().id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = sdk_err("fis:DeleteExperimentTemplate", e);
                if e.is_not_found() { Ok(()) } else { Err(e) }
            }
        }
    }

    /// The tags of experiment template `id`, or `None` when there is no such template.
    pub async fn fis_template_tags(&self, id: &str) -> Result<Option<Tags>, AwsError> {
        match self.fis.get_experiment_template().id(id).send().await {
            Ok(out) => Ok(Some(
                out.experiment_template()
                    .and_then(|t| t.tags())
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            )),
            Err(e) => {
                let e = sdk_err("fis:GetExperimentTemplate", e);
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
        }
    }

    /// Starts an experiment from `template`; `token` makes a retried start the same
    /// experiment. Returns its id.
    pub async fn start_fis_experiment(&self, template: &str, token: &str, tags: &Tags) -> Result<String, AwsError> {
        const OP: &str = "fis:StartExperiment";
        let mut call = self.fis.start_experiment().experiment_template_id(template).client_token(token);
        for (k, v) in tags {
            call = call.tags(k, v);
        }
        let out = call.send().await.map_err(|e| sdk_err(OP, e))?;
        out.experiment()
            .and_then(|x| x.id())
            .map(str::to_string)
            .ok_or_else(|| AwsError::other(OP, "the answer named no experiment"))
    }

    /// Every experiment of `template` (of any template: `None`) in the region.
    pub async fn fis_experiments(&self, template: Option<&str>) -> Result<Vec<FisExperiment>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self
            .fis
            .list_experiments()
            .set_experiment_template_id(template.map(str::to_string))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("fis:ListExperiments", e))?;
            for x in page.experiments() {
                out.push(FisExperiment {
                    id: x.id().unwrap_or_default().to_string(),
                    template: x.experiment_template_id().unwrap_or_default().to_string(),
                    status: x.state().and_then(|s| s.status()).map(|s| s.as_str().to_string()).unwrap_or_default(),
                    tags: x.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }

    /// Stops experiment `id`; one that has ended, or is gone, is fine.
    pub async fn stop_fis_experiment(&self, id: &str) -> Result<(), AwsError> {
        match self.fis.stop_experiment().id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = sdk_err("fis:StopExperiment", e);
                if e.is_not_found() { Ok(()) } else { Err(e) }
            }
        }
    }
}
