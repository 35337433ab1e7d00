//! `firedrill iam-policy FILE...`: the least IAM policy the scenarios need, merged into one
//! for a role that runs them all (see [`crate::iam_policy::merge`]). Every file is
//! validated first; one invalid file prints every problem and no policy.
//! `--sweep` adds what `recover --sweep` reads, and S3 state (`--state s3://…`) what the
//! state needs; `--dead-mans-switch-role` prints instead the policy and trust policy of one scenario's
//! dead man's switch role.

use std::path::PathBuf;

use super::Error;
use crate::iam_policy::merge::{MANAGED_POLICY_MAX_CHARS, merge, size};
use crate::state::remote::Location;
use crate::util::console::{Console, Level};

pub fn iam_policy(
    shell: &Console,
    files: &[PathBuf],
    dead_mans_switch_role: bool,
    sweep: bool,
    state: Option<&Location>,
) -> Result<(), Error> {
    if dead_mans_switch_role {
        return switch_role(files);
    }
    let mut policies = Vec::new();
    let mut bad = 0;
    for f in files {
        match crate::gameday::load(f) {
            Ok(d) => {
                let s = &d.loaded.scenario;
                let mut policy = if sweep { crate::iam_policy::sweep_policy(s) } else { crate::iam_policy::policy(s) };
                // With S3 state, what the state needs too.
                if let Some(loc) = state {
                    let region = s.environment.as_ref().map_or("us-east-1", |e| e.region.as_str());
                    policy = crate::iam_policy::state::with_state(policy, loc, region);
                }
                policies.push(policy);
            }
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

/// `--dead-mans-switch-role`: what the role of one scenario's `safety.dead_mans_switch`
/// needs — its policy (the undo calls) and its trust policy.
fn switch_role(files: &[PathBuf]) -> Result<(), Error> {
    let [file] = files else {
        return Err(Error::Usage(
            "--dead-mans-switch-role prints the role of one scenario's dead man's switch: give one file".into(),
        ));
    };
    let drill = crate::gameday::load(file)?;
    let Some((role, trust)) = crate::iam_policy::switch_role(&drill.loaded.scenario) else {
        return Err(Error::Usage(
            "the scenario has no `safety.dead_mans_switch` (with `environment`): there is no role to print".into(),
        ));
    };
    let doc = serde_json::json!({"role_policy": role, "trust_policy": trust});
    super::output(&format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()))
}
