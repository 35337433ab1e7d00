//! AWS Fault Injection Service: the experiment templates `fis_experiment` starts, and
//! the experiments it starts and stops (`crate::faults::fis`).

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

impl Aws {
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
