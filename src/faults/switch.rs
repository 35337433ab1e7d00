//! The dead man's switch (`safety.dead_mans_switch`): if firedrill dies mid-fault (a
//! cancelled CI job's SIGKILL, a lost laptop), AWS undoes the fault anyway.
//!
//! Once a fault is injected, [`arm`]'s wrapper reads the undo steps it journaled and, for
//! each step that is one unconditional API call ([`Step::scheduled`]), creates a one-time
//! EventBridge Scheduler schedule whose universal target makes that call as the
//! scenario's role. The first is due at the fault's planned end plus `grace`, the next one
//! [`STAGGER`] later, and so on, last injected step first: schedules cannot wait for one
//! another, so the order of the undo is kept by time alone. Each deletes itself after it
//! ran.
//!
//! Arming is a side effect like any other: it is journaled first ([`DisarmData`], whose
//! undo deletes the schedules, a schedule already gone being fine), so a normal revert
//! (which undoes newest first) deletes them before it undoes the fault, and `firedrill
//! recover` of a crashed run deletes what is left of them. A switch that cannot be armed
//! fails the injection, and the run reverts the fault at once.
//!
//! What a step's undo cannot say as one call (a `command` fault's shell revert, waits, an
//! RDS failback that depends on where the writer is now, deleting firedrill's deny-all
//! network ACL or `network_blackhole`'s clone, which is found by its tag, stopping a FIS
//! experiment and deleting an inline one's template, found by their tags)
//! is not covered; `firedrill plan` says which steps are.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::step::{Lookup, ScheduledCall, Step, client};
use super::{FaultConfig, FaultContext, FaultKind, UndoStep, az_outage, ebs, ec2, guard, iam, outage};
use crate::aws::{Aws, OneTimeSchedule};
use crate::engine::{Fault, FaultError, Intents};
use crate::scenario::TargetType;
use crate::scenario::safety::DeadMansSwitch;
use crate::state::journal::UndoRecord;
use crate::targets::Resolution;
use crate::util::console::quote;

/// Undo kind of an armed switch: delete its schedules.
pub const DISARM: &str = "scheduler_delete_schedules";

/// The time between two undo calls of one fault: EventBridge Scheduler fires a schedule
/// within the minute it is due, so a minute apart keeps their order.
pub const STAGGER: Duration = Duration::from_secs(60);

/// A schedule's name: deterministic from the run, the fault's index and the call's
/// position; at most 64 of `[0-9a-zA-Z-_.]`. A run id too long for that is shortened and
/// made unique again by a hash of it.
pub fn schedule_name(run_id: &str, fault: usize, call: usize) -> String {
    let clean: String = run_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    let tail = format!("-{fault}-{call}");
    let full = format!("firedrill-{clean}{tail}");
    if full.len() <= 64 && clean == run_id {
        return full;
    }
    let hash: String = Sha256::digest(run_id.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect();
    let room = 64 - "firedrill--".len() - hash.len() - tail.len();
    let head: String = clean.chars().take(room).collect();
    format!("firedrill-{head}-{hash}{tail}")
}

/// `yyyy-mm-ddThh:mm:ss`, UTC, as `at(...)` takes it (rounded up to the second).
pub fn at(t: SystemTime) -> String {
    let t = t + Duration::from_nanos(999_999_999);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.trim_end_matches('Z').to_string()
}

/// `fault` with the switch armed after each injection. `index` is the fault's place in
/// the scenario (part of the schedules' names); `duration` its planned duration.
pub fn arm(
    fault: Arc<dyn Fault>,
    switch: &DeadMansSwitch,
    name: &str,
    index: usize,
    duration: Duration,
    ctx: &FaultContext,
) -> Arc<dyn Fault> {
    let Some((aws, res)) = &ctx.aws else { return fault };
    Arc::new(Armed {
        inner: fault,
        switch: switch.clone(),
        aws: aws.clone(),
        run_id: ctx.run_id.clone(),
        fault: name.to_string(),
        index,
        duration,
        account: res.account.clone(),
        tag: res.opt_in_tag.as_ref().map(|t| serde_json::json!(t)),
    })
}

struct Armed {
    inner: Arc<dyn Fault>,
    switch: DeadMansSwitch,
    aws: Aws,
    run_id: String,
    fault: String,
    index: usize,
    duration: Duration,
    account: String,
    tag: Option<serde_json::Value>,
}

/// Passes every intent on, and keeps a copy.
struct Recording<'a> {
    inner: &'a dyn Intents,
    seen: Mutex<Vec<UndoRecord>>,
}

#[async_trait]
impl Intents for Recording<'_> {
    async fn intent(&self, undo: UndoRecord) -> Result<(), FaultError> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).push(undo.clone());
        self.inner.intent(undo).await
    }

    async fn process_group(&self, pgid: u32) -> Result<(), FaultError> {
        self.inner.process_group(pgid).await
    }

    fn changed(&self, change: crate::engine::Change) {
        self.inner.changed(change)
    }
}

/// The calls that undo `records` (journaled in this order), last step first.
pub fn calls(records: &[UndoRecord]) -> Result<Vec<ScheduledCall>, FaultError> {
    let mut out = Vec::new();
    for r in records.iter().rev() {
        if let Some(step) = UndoStep::parse(r)? {
            out.extend(step.scheduled());
        }
    }
    Ok(out)
}

impl Armed {
    fn failed(&self, e: impl std::fmt::Display) -> FaultError {
        FaultError::Failed(format!("the dead man's switch of fault `{}` could not be armed: {e}", self.fault))
    }

    /// Fills in what only AWS knows now that the fault is in place.
    async fn resolve(&self, call: &mut ScheduledCall) -> Result<(), FaultError> {
        match call.lookup.take() {
            None => Ok(()),
            Some(Lookup::NaclAssociation { subnet }) => {
                let now =
                    self.aws.nacl_associations(std::slice::from_ref(&subnet)).await.map_err(|e| self.failed(e))?;
                let a = now.into_iter().find(|a| a.subnet_id == subnet);
                let a = a.ok_or_else(|| self.failed(format!("subnet {subnet} has no network ACL association")))?;
                if let Some(input) = call.input.as_object_mut() {
                    input.insert("AssociationId".into(), a.association_id.into());
                }
                Ok(())
            }
        }
    }
}

#[async_trait]
impl Fault for Armed {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        let rec = Recording { inner: intents, seen: Mutex::new(Vec::new()) };
        self.inner.inject(&rec).await?;
        let records = rec.seen.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut calls = calls(&records)?;
        if calls.is_empty() {
            return Ok(());
        }
        for c in &mut calls {
            self.resolve(c).await?;
        }
        let first = SystemTime::now() + self.duration + self.switch.grace.0;
        let partition = crate::aws::partition(self.aws.region());
        let n = calls.len();
        let schedules: Vec<OneTimeSchedule> = calls
            .iter()
            .enumerate()
            .map(|(i, c)| OneTimeSchedule {
                name: schedule_name(&self.run_id, self.index, i),
                group: self.switch.group().to_string(),
                at: at(first + STAGGER * i as u32),
                target_arn: c.target_arn(partition),
                role_arn: self.switch.role_arn.clone(),
                input: c.input.to_string(),
                description: format!(
                    "firedrill run {}: dead man's switch of fault `{}`, undo call {} of {n} ({})",
                    self.run_id,
                    self.fault,
                    i + 1,
                    c.api()
                ),
            })
            .collect();
        let disarm = DisarmData {
            group: self.switch.group().to_string(),
            names: schedules.iter().map(|s| s.name.clone()).collect(),
        };
        let mut record = disarm.record(
            Some(self.aws.region()),
            format!("delete the dead man's switch of fault `{}` ({n} schedule(s))", self.fault),
        );
        // What `recover` checks first, as for the fault's own records.
        if let Some(d) = record.data.as_object_mut() {
            d.insert(guard::ACCOUNT.into(), self.account.clone().into());
            if let Some(t) = &self.tag {
                d.insert(guard::OPT_IN_TAG.into(), t.clone());
            }
        }
        intents.intent(record).await?;
        for s in &schedules {
            self.aws.create_one_time_schedule(s).await.map_err(|e| self.failed(e))?;
        }
        Ok(())
    }
}

/// Undo step: delete the switch's schedules (those that already fired deleted
/// themselves).
#[derive(Serialize, Deserialize)]
pub struct DisarmData {
    pub group: String,
    pub names: Vec<String>,
}

#[async_trait]
impl Step for DisarmData {
    const KEY: &'static str = DISARM;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        let aws = client(aws)?;
        for name in &self.names {
            aws.delete_schedule(&self.group, name).await.map_err(ec2::failed)?;
        }
        Ok(())
    }

    // One command per schedule, `;`-separated: one already gone does not stop the rest.
    fn manual_fix(&self, region: &str) -> Option<String> {
        let each = self.names.iter().map(|n| {
            format!(
                "aws scheduler delete-schedule {} --group-name {} --name {}",
                super::step::region_flag(region),
                quote(&self.group),
                quote(n)
            )
        });
        Some(each.collect::<Vec<_>>().join("; "))
    }

    // Firedrill's own schedules: nothing of the operator's is changed.
    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        BTreeMap::new()
    }
}

/// What the switch would arm for one fault, for `firedrill plan`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Planned {
    /// The calls, last injected step first, each [`STAGGER`] after the one before.
    pub calls: Vec<ScheduledCall>,
    /// The undo steps it does not cover, in words.
    pub not_covered: Vec<String>,
}

/// A placeholder for a value only known at injection.
fn known_then(what: &str) -> String {
    format!("<{what}>")
}

/// What the switch would arm for `f`, predicted from its resolved targets (values only
/// known at injection are shown as `<...>`).
pub fn planned(f: &FaultConfig, res: Option<&Resolution>) -> Planned {
    let ids = |t: &str| -> Vec<String> {
        match res {
            Some(r) => r.ids(t),
            None => vec![known_then(&format!("the resources of target {t}"))],
        }
    };
    let mut steps: Vec<UndoStep> = Vec::new();
    let mut not_covered = Vec::new();
    match &f.kind {
        FaultKind::Command(_) => not_covered.push("the revert is a shell command".to_string()),
        FaultKind::Ec2Reboot(_) => not_covered.push("nothing to undo (a reboot)".to_string()),
        FaultKind::Ec2Terminate(_) => not_covered.push("nothing to undo (a termination)".to_string()),
        FaultKind::FisExperiment(_) => not_covered
            .push("stopping the FIS experiment needs its id, found by its tags (`firedrill recover` stops it)".into()),
        FaultKind::RdsFailover(_) => not_covered
            .push("a failover is its own recovery; a failback depends on where the writer is then".to_string()),
        FaultKind::Ec2Stop(c) => {
            let running: Vec<String> = match res {
                Some(r) => r
                    .resources(&c.target)
                    .iter()
                    .filter(|x| x.state.as_deref().is_none_or(|s| s == "running"))
                    .map(|x| x.id.clone())
                    .collect(),
                None => ids(&c.target),
            };
            steps.push(UndoStep::Ec2Start(ec2::StartData { instance_ids: running }));
        }
        FaultKind::EbsDetach(c) => match res {
            // Resolved: each attached volume goes back to the instance and device it is
            // attached to now; one that is not attached is left alone by the fault.
            Some(r) => {
                for v in r.resources(&c.target) {
                    let (instance, device) = match ebs::attachment(v) {
                        Some((i, d)) => (i.to_string(), d.to_string()),
                        None if v.state.as_deref() == Some("in-use") => {
                            (known_then("its instance"), known_then("its device"))
                        }
                        None => continue,
                    };
                    steps.push(UndoStep::EbsAttach(ebs::AttachData { volume: v.id.clone(), instance, device }));
                }
            }
            None => {
                for v in ids(&c.target) {
                    steps.push(UndoStep::EbsAttach(ebs::AttachData {
                        volume: v,
                        instance: known_then("its instance"),
                        device: known_then("its device"),
                    }));
                }
            }
        },
        FaultKind::IamRevoke(c) => {
            let kind = res.and_then(|r| r.targets.get(&c.target)).map(|t| t.kind);
            for id in ids(&c.target) {
                steps.push(match kind {
                    Some(TargetType::IamUser) => UndoStep::IamReactivateKeys(iam::KeysData {
                        user: id,
                        keys: vec![known_then("each active key")],
                    }),
                    _ => UndoStep::IamDeletePolicy(iam::PolicyData {
                        role: id,
                        policy: iam::policy_name(&known_then("run id")),
                    }),
                });
            }
        }
        FaultKind::ServiceOutage(outage::ServiceOutageFault { target, .. })
        | FaultKind::RegionOutage(outage::RegionOutageFault { target, .. }) => {
            for id in ids(target) {
                steps.push(UndoStep::IamDeleteDenyPolicy(outage::DenyData {
                    role: id,
                    policy: outage::deny_policy_name(&known_then("run id"), &f.name),
                    tag: outage::deny_tag(&f.name),
                }));
            }
        }
        FaultKind::NetworkBlackhole(b) => {
            for s in ids(&b.target).into_iter().rev() {
                steps.push(UndoStep::RestoreNetworkAcl(az_outage::RestoreData {
                    subnet: s,
                    original: known_then("its network ACL before the fault"),
                    clone: String::new(),
                }));
            }
            not_covered.push(
                "deleting firedrill's clone of each network ACL (no subnet uses it any more; `firedrill recover` deletes it)"
                    .into(),
            );
        }
        FaultKind::AzOutage(a) => {
            let Some(r) = res else {
                not_covered.push("the calls depend on what is in the zone (resolved by `plan` with AWS)".into());
                return Planned { calls: vec![], not_covered };
            };
            let p = az_outage::Plan::new(a, r);
            if !p.rds.is_empty() {
                not_covered.push("the RDS failover (its own recovery; a failback depends on the writer)".into());
            }
            for g in p.groups.iter().rev() {
                steps.push(UndoStep::RestoreGroupSubnets(az_outage::SubnetsData {
                    group: g.clone(),
                    original: known_then("its subnets before the fault"),
                    applied: String::new(),
                }));
            }
            if !p.instances.is_empty() {
                steps.push(UndoStep::Ec2Start(ec2::StartData { instance_ids: p.instances.clone() }));
            }
            for (vpc, subnets) in p.subnets.iter().rev() {
                for s in subnets.iter().rev() {
                    steps.push(UndoStep::RestoreNetworkAcl(az_outage::RestoreData {
                        subnet: s.clone(),
                        original: known_then("its network ACL before the fault"),
                        clone: String::new(),
                    }));
                }
                not_covered.push(format!(
                    "deleting firedrill's deny-all network ACL in {vpc} (no subnet uses it any more; `firedrill recover` deletes it)"
                ));
            }
        }
    }
    let mut calls = Vec::new();
    for s in &steps {
        calls.extend(s.scheduled());
    }
    for c in &mut calls {
        if let Some(Lookup::NaclAssociation { subnet }) = &c.lookup
            && let Some(input) = c.input.as_object_mut()
        {
            input.insert("AssociationId".into(), known_then(&format!("{subnet}'s association then")).into());
        }
    }
    Planned { calls, not_covered }
}

/// How long after a fault's planned end its `i`-th call is due.
pub fn due_after_end(switch: &DeadMansSwitch, i: usize) -> Duration {
    switch.grace.0 + STAGGER * u32::try_from(i).unwrap_or(u32::MAX)
}

/// The text plan's lines for the switch; empty without one.
pub fn plan_lines(s: &crate::scenario::Scenario, res: Option<&Resolution>) -> Vec<String> {
    let Some(d) = s.safety.as_ref().and_then(|x| x.dead_mans_switch.as_ref()) else { return vec![] };
    let mut out = vec![format!(
        "if firedrill dies mid-fault, EventBridge Scheduler (role {}, group {}) makes these calls, from the fault's planned end + {}, one a minute, last injected step first; a normal revert deletes them:",
        d.role_arn,
        d.group(),
        d.grace
    )];
    for f in s.faults.iter().filter(|f| f.kind.needs_aws()) {
        let p = planned(f, res);
        out.push(format!("{} ({}):", f.name, f.kind.key()));
        for (i, c) in p.calls.iter().enumerate() {
            let when = humantime::format_duration(due_after_end(d, i));
            out.push(format!("  end+{when}: {} {}", c.api(), c.input));
        }
        if p.calls.is_empty() {
            out.push("  nothing armed".into());
        }
        for n in &p.not_covered {
            out.push(format!("  not covered: {n}"));
        }
    }
    for f in s.faults.iter().filter(|f| !f.kind.needs_aws()) {
        out.push(format!("{} ({}): not covered: {}", f.name, f.kind.key(), planned(f, res).not_covered.join("; ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_names_are_deterministic_short_and_plain() {
        let run = "20261201T203929Z-az-failure-ab12";
        assert_eq!(schedule_name(run, 0, 2), "firedrill-20261201T203929Z-az-failure-ab12-0-2");
        assert_eq!(schedule_name(run, 0, 2), schedule_name(run, 0, 2));
        let long = format!("20261201T203929Z-{}-ab12", "x".repeat(64));
        let other = format!("20261201T203929Z-{}-ab13", "x".repeat(64));
        for (r, f, c) in [(long.as_str(), 3, 12), (other.as_str(), 3, 12), ("a b/c", 0, 0)] {
            let n = schedule_name(r, f, c);
            assert!(n.len() <= 64, "{n}");
            assert!(n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "{n}");
            assert!(n.ends_with(&format!("-{f}-{c}")), "{n}");
        }
        assert_ne!(schedule_name(&long, 3, 12), schedule_name(&other, 3, 12), "a shortened id stays unique");
    }

    #[test]
    fn at_is_utc_to_the_second_rounded_up() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_250);
        assert_eq!(at(t), "2027-01-15T08:00:01");
        assert_eq!(at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)), "2027-01-15T08:00:00");
    }

    #[test]
    fn calls_undo_the_last_step_first() {
        let r = Some("us-east-1");
        let records = [
            az_outage::RestoreData { subnet: "subnet-1".into(), original: "acl-1".into(), clone: "acl-fd".into() }
                .record(r, String::new()),
            ec2::StartData { instance_ids: vec!["i-1".into()] }.record(r, String::new()),
            crate::faults::command::RevertData {
                revert: "start web".into(),
                timeout_ms: None,
                cwd: None,
                env: Default::default(),
            }
            .record(None, String::new()),
            az_outage::SubnetsData { group: "web".into(), original: "s-a,s-b".into(), applied: "s-b".into() }
                .record(r, String::new()),
        ];
        let c = calls(&records).unwrap();
        let apis: Vec<String> = c.iter().map(|c| c.api()).collect();
        assert_eq!(
            apis,
            ["autoscaling:updateAutoScalingGroup", "ec2:startInstances", "ec2:replaceNetworkAclAssociation"]
        );
        assert_eq!(c[0].input, serde_json::json!({"AutoScalingGroupName": "web", "VPCZoneIdentifier": "s-a,s-b"}));
        assert_eq!(c[1].target_arn("aws"), "arn:aws:scheduler:::aws-sdk:ec2:startInstances");
        assert_eq!(c[2].lookup, Some(Lookup::NaclAssociation { subnet: "subnet-1".into() }));
    }

    fn switch_scenario() -> crate::scenario::Scenario {
        let text = r#"version: 1
name: p
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: { key: firedrill, value: allowed }
safety:
  dead_mans_switch: { role_arn: "arn:aws:iam::123456789012:role/dms", grace: 10m }
targets:
  t: { type: ec2:volume, tags: { role: data } }
steady_state:
  - name: ok
    command: { run: "true" }
    every: 5s
faults:
  - name: disk
    duration: 5m
    ebs_detach_volumes: { target: t }
recovery: { within: 1m }
"#;
        crate::scenario::load_str(text, std::path::Path::new(".")).map(|(s, _)| s).unwrap()
    }

    /// The plan's first line reads as one sentence (no run of spaces in it), and with the
    /// targets resolved a detached volume's re-attachment names the instance and device it
    /// is attached to now; a volume that is not attached gets no call; without AWS the
    /// values are placeholders.
    #[test]
    fn the_plan_shows_the_real_instance_and_device_when_the_targets_are_resolved() {
        use crate::faults::fixtures::{one_target, resource};
        let s = switch_scenario();
        let res = one_target(
            TargetType::Ec2Volume,
            vec![
                resource("vol-1", Some("in-use"), &[("attached_to", "i-0abc as /dev/sdf")]),
                resource("vol-2", Some("available"), &[]),
            ],
        );
        let lines = plan_lines(&s, Some(&res));
        assert!(!lines[0].contains("  "), "{}", lines[0]);
        assert!(lines[0].contains("makes these calls, from the fault's planned end + 10m,"), "{}", lines[0]);
        let calls: Vec<&String> = lines.iter().filter(|l| l.contains("ec2:attachVolume")).collect();
        assert_eq!(calls.len(), 1, "{lines:#?}");
        let input = serde_json::json!({"VolumeId": "vol-1", "InstanceId": "i-0abc", "Device": "/dev/sdf"});
        assert_eq!(calls[0].as_str(), format!("  end+10m: ec2:attachVolume {input}"));
        assert!(!lines.iter().any(|l| l.contains('<')), "{lines:#?}");
        let unresolved = plan_lines(&s, None);
        assert!(
            unresolved.iter().any(|l| l.contains("<its instance>") && l.contains("<its device>")),
            "{unresolved:#?}"
        );
    }

    #[test]
    fn disarming_pastes_one_quoted_command_per_schedule() {
        let d = DisarmData { group: "default".into(), names: vec!["a".into(), "b$(x)".into()] };
        assert_eq!(
            d.manual_fix("us-east-1").unwrap(),
            "aws scheduler delete-schedule --region us-east-1 --group-name default --name a; \
             aws scheduler delete-schedule --region us-east-1 --group-name default --name 'b$(x)'"
        );
    }
}
