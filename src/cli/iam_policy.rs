//! `firedrill iam-policy FILE...`: the least IAM policy the scenarios need, merged into one
//! for a role that runs them all (see [`crate::iam_policy::merge`]). Every file is
//! validated first; one invalid file prints every problem and no policy.

use std::path::PathBuf;

use super::Error;
use crate::iam_policy::merge::{MANAGED_POLICY_MAX_CHARS, merge, size};
use crate::util::console::{Console, Level};

pub fn iam_policy(shell: &Console, files: &[PathBuf]) -> Result<(), Error> {
    let mut policies = Vec::new();
    let mut bad = 0;
    for f in files {
        match crate::gameday::load(f) {
            Ok(d) => policies.push(crate::iam_policy::policy(&d.loaded.scenario)),
            // One file: its problems are the error, shown as they are for `run`.
            Err(e @ Error::Invalid(_)) if files.len() == 1 => return Err(e),
            Err(Error::Invalid(invalid)) => {
                bad += 1;
                for d in &invalid.0 {
                    shell.print(Level::Error, d);
                }
            }
            Err(e) => return Err(e),
        }
    }
    if bad > 0 {
        return Err(Error::InvalidFiles { bad, total: files.len() });
    }
    let policy = merge(&policies);
    let chars = size(&policy);
    if chars > MANAGED_POLICY_MAX_CHARS {
        shell.warn(format!(
            "this policy is {chars} characters (whitespace aside): over the {MANAGED_POLICY_MAX_CHARS} a managed policy may have; attach it as an inline role policy (up to 10,240) or split the scenarios across roles"
        ));
    }
    super::output(&format!("{}\n", serde_json::to_string_pretty(&policy).unwrap_or_default()))
}
