//! `firedrill plan FILE`: print what a run would do, with targets resolved (read-only AWS
//! calls) and the guards' verdict; touch nothing. The same load and prepare stages as a
//! run ([`crate::gameday`]).

use std::path::Path;

use super::Error;
use crate::aws::AwsOpts;
use crate::gameday;
use crate::util::console::Console;

pub async fn plan(shell: &Console, file: &Path, aws: &AwsOpts, seed: Option<u64>) -> Result<(), Error> {
    let drill = gameday::load(file)?;
    let prepared = gameday::prepare(shell, drill, aws, seed).await?;
    super::output(&format!("{}\nNothing was touched (plan only).\n", prepared.render()))?;
    if let Some(why) = prepared.halted() {
        return Err(Error::Halted(why));
    }
    if prepared.refusals().is_empty() { Ok(()) } else { Err(Error::PlanRefused) }
}
