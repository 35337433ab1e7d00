//! The first stages, shared by `plan`, `run --dry-run` and `run`: [`load`] the scenario
//! and its playbook, [`prepare`] (connect to AWS, resolve the targets read-only, run the
//! guards and every fault's plan-time checks), and [`Prepared::clear`], the guards'
//! verdict that a run needs before anything is touched.

use std::path::Path;
use std::sync::Arc;

use super::Error;
use crate::aws::{Aws, AwsOpts};
use crate::playbook::Step;
use crate::scenario::Loaded;
use crate::targets::Resolution;
use crate::util::console::Console;

/// A valid scenario and its playbook's timed steps.
#[derive(Clone, Debug)]
pub struct Drill {
    pub loaded: Loaded,
    /// The playbook's timed steps (none without a playbook or its front-matter).
    pub steps: Vec<Step>,
    /// What is valid but probably not meant, with its position (shown as warnings).
    pub warnings: Vec<crate::scenario::Diagnostic>,
}

/// The AWS client and the targets resolved with it.
pub type Connected = (Aws, Arc<Resolution>);

/// A drill with its targets resolved and the guards' verdict (`aws` is `None` for a
/// scenario without AWS).
pub struct Prepared {
    pub drill: Drill,
    /// How to reach AWS (a run's reverts use them also for a scenario without AWS).
    pub aws_opts: AwsOpts,
    pub aws: Option<Connected>,
    /// The emergency halt in the scenario's account and region (`None` without AWS: a
    /// scenario without AWS ignores halts).
    pub halt: Option<crate::halt::Status>,
    /// What the operator should know before a run that is not a refusal: a stop-condition
    /// alarm already in ALARM, or one that could not be read (the run would be blocked).
    pub warnings: Vec<String>,
    /// The paging alarms a run watches (the scenario's `pages`); `None` without it.
    pub pages: Option<crate::pages::Watched>,
}

/// A prepared drill that no guard refused: the only input a run's session accepts.
pub struct Cleared(Prepared);

/// Reads and validates a scenario file and its playbook; every problem in either file is
/// in [`Error::Invalid`].
pub fn load(file: &Path) -> Result<Drill, Error> {
    let loaded = crate::scenario::load(file).map_err(|mut invalid| {
        // The playbook is checked even so: one pass shows the problems of both files.
        if let Some(p) = crate::scenario::load::named_playbook(file) {
            invalid.0.extend(crate::playbook::problems(&p));
        }
        invalid
    })?;
    let (steps, playbook) = crate::playbook::for_scenario(&loaded)?;
    let warnings = loaded.warnings.iter().cloned().chain(playbook).collect();
    Ok(Drill { loaded, steps, warnings })
}

/// For a scenario that uses AWS: connects, resolves the targets (read-only) and runs the
/// guards and every fault's plan-time checks. The refusals are in the resolution; an AWS
/// error is an [`Error::Failed`].
pub async fn prepare(shell: &Console, drill: Drill, opts: &AwsOpts, seed: Option<u64>) -> Result<Prepared, Error> {
    let s = &drill.loaded.scenario;
    let aws_opts = opts.clone();
    let Some(env) = &s.environment else {
        return Ok(Prepared { drill, aws_opts, aws: None, halt: None, warnings: Vec::new(), pages: None });
    };
    let aws = Aws::connect(opts, Some(&env.region))
        .await
        .map_err(|e| Error::Failed(format!("cannot set up AWS access: {e}")))?;
    let seed = seed.unwrap_or_else(random_seed);
    shell.status("Resolving", format!("targets of {} in {}", s.name, aws.region()));
    let mut res = crate::targets::resolve(&aws, s, seed)
        .await
        .map_err(|e| Error::Failed(format!("cannot resolve targets, nothing was touched: {e}")))?;
    // A name that does not exist (a typo) is an error in the scenario, at its position —
    // checked only in the scenario's own account and region (elsewhere the guards refuse,
    // and every name would look missing).
    if res.region == env.region && env.accounts.contains(&res.account) {
        let missing = super::names::missing(&aws, &drill.loaded).await.map_err(|e| {
            Error::Failed(format!("cannot check the names the scenario gives, nothing was touched: {e}"))
        })?;
        if !missing.is_empty() {
            return Err(Error::Invalid(crate::scenario::Invalid(missing)));
        }
    }
    if res.refusals.is_empty() {
        for f in &s.faults {
            res.refusals.extend(crate::faults::preflight(f, &res));
        }
        res.refusals.extend(crate::faults::fis::plan_refusals(&aws, s, res.opt_in_tag.as_ref()).await);
        res.refusals.extend(crate::faults::blackhole::plan_refusals(&aws, s, &res).await);
        res.refusals.extend(crate::faults::iam::plan_refusals(&aws, s, &res).await);
    }
    let mut warnings = gate_alarms(&aws, s, &mut res.refusals).await;
    let pages = crate::pages::resolve(&aws, s, &mut res.refusals, &mut warnings)
        .await
        .map_err(|e| Error::Failed(format!("cannot read the paging alarms (`pages`), nothing was touched: {e}")))?;
    let halt = crate::halt::status(&aws).await;
    Ok(Prepared { drill, aws_opts, aws: Some((aws, Arc::new(res))), halt: Some(halt), warnings, pages })
}

/// Reads each stop-condition alarm (`abort: - alarm: NAME`) before anything is touched. An
/// alarm that does not exist is a refusal: the stop condition could never be watched (a
/// typo in its name, say). One in ALARM, or that cannot be read, is a warning: a run would
/// be blocked by it before injection (it is read again there), and the plan says so.
async fn gate_alarms(aws: &Aws, s: &crate::scenario::Scenario, refusals: &mut Vec<String>) -> Vec<String> {
    let mut names: Vec<&str> = s.abort.iter().filter_map(|r| r.alarm.as_deref()).collect();
    names.sort_unstable();
    names.dedup();
    let mut warnings = Vec::new();
    for name in names {
        match aws.alarm_state(name).await {
            Ok(Some(state)) if state == "ALARM" => warnings.push(format!(
                "stop-condition alarm `{name}` is in ALARM now: a run would be blocked before injection (exit 4) until it is OK"
            )),
            Ok(Some(_)) => {}
            Ok(None) => refusals.push(format!(
                "stop-condition alarm `{name}` does not exist in {}: the stop condition could never be watched",
                aws.region()
            )),
            Err(e) => warnings.push(format!(
                "could not read stop-condition alarm `{name}`: {e}; a run would be blocked before injection (exit 4) unless it can be read then"
            )),
        }
    }
    warnings
}

impl Prepared {
    pub fn resolution(&self) -> Option<&Resolution> {
        self.aws.as_ref().map(|(_, r)| r.as_ref())
    }

    /// Why the guards refuse the run (empty: they do not).
    pub fn refusals(&self) -> &[String] {
        self.resolution().map_or(&[][..], |r| r.refusals.as_slice())
    }

    /// The plan, for people (see [`crate::plan::render`]), and the halt when it blocks.
    pub fn render(&self) -> String {
        let mut plan = crate::plan::render(
            &self.drill.loaded,
            &self.drill.steps,
            self.resolution(),
            self.pages.as_ref(),
            &self.warnings,
        );
        if let Some(why) = self.halted() {
            let then = match self.halt {
                Some(crate::halt::Status::Halted(_)) => "while the halt is set (`firedrill unhalt` clears it)",
                _ => "until the halt can be read (ssm:GetParameter on /firedrill/halt)",
            };
            plan.push_str(&format!("\n{why}\nNothing will be injected {then}.\n"));
        }
        plan
    }

    /// Why the emergency halt blocks a run (`halted: REASON (by … at …)`, or that it could
    /// not be read); `None` when it does not.
    pub fn halted(&self) -> Option<String> {
        self.halt.as_ref().and_then(crate::halt::Status::blocks)
    }

    /// The guards' verdict: a run may go on only if none refused — and no emergency halt
    /// is set (or unreadable) in its account and region.
    pub fn clear(self) -> Result<Cleared, Error> {
        if let Some(why) = self.halted() {
            return Err(Error::Halted(why));
        }
        if self.refusals().is_empty() {
            return Ok(Cleared(self));
        }
        let mut lines: Vec<String> = self.refusals().iter().map(|why| format!("refused: {why}")).collect();
        lines.push("nothing was touched".into());
        Err(Error::Refused(lines))
    }
}

impl std::ops::Deref for Cleared {
    type Target = Prepared;
    fn deref(&self) -> &Prepared {
        &self.0
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish() >> 11 // fits a JSON number exactly
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The load stage reads the scenario's playbook, never beyond the size cap, and names
    /// its problems by the playbook file; a playbook within the cap gives its steps.
    #[test]
    fn the_load_stage_reads_the_playbook_and_caps_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/local-web-outage.yaml");
        let text = std::fs::read_to_string(shipped).unwrap();
        let scenario = d.join("s.yaml");
        std::fs::write(&scenario, text.replace("../playbooks/local-web-outage.md", "pb.md")).unwrap();
        let pb = d.join("pb.md");
        std::fs::write(&pb, format!("---\nsteps: []\n---\n{}", "x".repeat(1 << 20))).unwrap();
        match load(&scenario) {
            Err(Error::Invalid(i)) => assert_eq!(
                i.0.iter().map(ToString::to_string).collect::<Vec<_>>(),
                [format!("{}: the file is larger than 1048576 bytes, the most a playbook may be", pb.display())]
            ),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a playbook over the cap loaded"),
        }
        let steps = "---\nsteps:\n  - name: tell\n    what: Post in #incidents\n    who: ic\n    on: inject\n---\n";
        std::fs::write(&pb, steps).unwrap();
        let drill = load(&scenario).unwrap();
        assert_eq!(drill.steps.len(), 1);
        assert_eq!(drill.loaded.playbook.as_deref(), Some(pb.as_path()));
    }
}
