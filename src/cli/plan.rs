//! `firedrill plan FILE`: print what a run would do, with targets resolved (read-only AWS
//! calls) and the guards' verdict; touch nothing.

use std::path::Path;

use super::Exit;
use crate::aws::AwsOpts;
use crate::shell::Shell;

pub async fn plan(shell: &Shell, file: &Path, aws: &AwsOpts, seed: Option<u64>) -> Exit {
    let loaded = match super::load(&shell, file) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let prepared = match super::prepare(shell, &loaded, aws, seed).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let res = prepared.as_ref().map(|(_, r)| r.as_ref());
    let text = format!("{}\nNothing was touched (plan only).\n", crate::plan::render(&loaded, res));
    match super::output(shell, &text) {
        Exit::Ok if res.is_some_and(|r| !r.refusals.is_empty()) => Exit::Refused,
        code => code,
    }
}
