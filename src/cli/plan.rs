//! `firedrill plan FILE`: print what a run would do, with targets resolved (read-only AWS
//! calls) and the guards' verdict; touch nothing. The same load and prepare stages as a
//! run ([`crate::gameday`]). `--format json` prints it as a document for scripts and CI
//! ([`crate::plan_json`]).

use std::path::PathBuf;

use super::Error;
use crate::aws::AwsOpts;
use crate::gameday;
use crate::util::console::Console;

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    pub file: PathBuf,
    /// Seed for `count`/`percent` target selection (default: random, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// `text` for people; `json` for scripts and CI (schema/plan.schema.json).
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// The revert deadline the run will have (`run --revert-deadline`; default 5m): it
    /// counts in `longest_run_secs`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub revert_deadline: Option<std::time::Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

pub async fn plan(shell: &Console, aws: &AwsOpts, args: PlanArgs) -> Result<(), Error> {
    let drill = gameday::load(&args.file)?;
    super::warn(shell, &drill);
    let deadline = match args.revert_deadline.map(crate::engine::RevertPolicy::with_deadline) {
        None => crate::engine::RevertPolicy::default().deadline,
        Some(Ok(p)) => p.deadline,
        Some(Err(e)) => return Err(Error::Usage(format!("--revert-deadline: {e}"))),
    };
    let prepared = gameday::prepare(shell, drill, aws, args.seed).await?;
    match args.format {
        PlanFormat::Text => super::output(&format!("{}\nNothing was touched (plan only).\n", prepared.render()))?,
        PlanFormat::Json => {
            // A halt blocks the run: the document says so with the other warnings.
            let mut warnings = prepared.warnings.clone();
            warnings.extend(prepared.halted());
            let mut doc = crate::plan_json::build(&prepared.drill.loaded, prepared.resolution(), &warnings, deadline);
            doc.pages =
                prepared.pages.as_ref().map(|w| crate::plan_json::PlanPages::new(&prepared.drill.loaded.scenario, w));
            doc.playbook_steps = crate::plan_json::PlanStep::all(&prepared.drill.steps);
            super::output(&format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()))?
        }
    }
    if let Some(why) = prepared.halted() {
        return Err(Error::Halted(why));
    }
    if prepared.refusals().is_empty() { Ok(()) } else { Err(Error::PlanRefused) }
}
