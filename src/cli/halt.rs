//! `firedrill halt` and `firedrill unhalt`: set and clear the emergency halt
//! ([`crate::halt`]) in an account and region. A halt is a lever pulled in a hurry: it
//! refuses nothing (no guard, no confirmation), and says exactly where it wrote.

use std::path::PathBuf;

use super::Error;
use crate::aws::{Aws, AwsOpts};
use crate::halt::PARAMETER;
use crate::util::console::Console;

#[derive(clap::Args, Debug)]
pub struct HaltArgs {
    /// Why: shown by every run it stops and by `plan` (at most 1000 characters are kept).
    #[arg(long)]
    pub reason: Option<String>,
    /// Act in this scenario's `environment.region` (unless --region is given).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct UnhaltArgs {
    /// Act in this scenario's `environment.region` (unless --region is given).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
}

/// Where a halt goes: `--region`, else the scenario's region, else the standard chain's.
async fn connect(opts: &AwsOpts, scenario: Option<&PathBuf>) -> Result<(Aws, String), Error> {
    let mut opts = opts.clone();
    if let Some(file) = scenario {
        let loaded = crate::scenario::load(file)?;
        match (&loaded.scenario.environment, &opts.region) {
            (Some(env), None) => opts.region = Some(env.region.clone()),
            (Some(_), Some(_)) => {}
            (None, _) => {
                return Err(Error::Usage(format!(
                    "{}: the scenario uses no AWS (no `environment`), so halts do not apply to it; pass --region",
                    file.display()
                )));
            }
        }
    }
    let aws = Aws::connect(&opts, None).await.map_err(|e| Error::Failed(format!("cannot set up AWS access: {e}")))?;
    // The account is for the operator to see where the halt went; a halt never waits on it.
    let account = aws.account().await.unwrap_or_else(|_| "(unknown account)".into());
    Ok((aws, account))
}

pub async fn halt(shell: &Console, opts: &AwsOpts, args: HaltArgs) -> Result<(), Error> {
    let (aws, account) = connect(opts, args.scenario.as_ref()).await?;
    let reason = args.reason.unwrap_or_default();
    let at = format!("account {account}, region {} (SSM parameter {PARAMETER})", aws.region());
    let halt = crate::halt::set(&aws, &reason)
        .await
        .map_err(|e| Error::Failed(format!("could not set the halt in {at}: {e}")))?;
    if halt.reason.chars().count() < reason.trim().chars().count() {
        shell.warn(format!("the reason was cut to {} characters", crate::halt::MAX_REASON));
    }
    super::output(&format!(
        "Halted {at}: {}\nEvery firedrill run there aborts and reverts within one probe interval (at most {}); no new \
         run injects until `firedrill unhalt`.\n",
        halt.describe(),
        humantime::format_duration(crate::halt::EVERY.1)
    ))
}

pub async fn unhalt(opts: &AwsOpts, args: UnhaltArgs) -> Result<(), Error> {
    let (aws, account) = connect(opts, args.scenario.as_ref()).await?;
    let at = format!("account {account}, region {} (SSM parameter {PARAMETER})", aws.region());
    let was = crate::halt::status(&aws).await;
    let cleared =
        crate::halt::clear(&aws).await.map_err(|e| Error::Failed(format!("could not clear the halt in {at}: {e}")))?;
    let text = match (cleared, was) {
        (true, crate::halt::Status::Halted(h)) => format!("Unhalted {at} (it was: {})\n", h.describe()),
        (true, _) => format!("Unhalted {at}\n"),
        (false, _) => format!("No halt was set in {at}\n"),
    };
    super::output(&text)
}
