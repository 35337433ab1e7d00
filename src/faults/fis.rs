//! `fis_experiment`: runs an AWS Fault Injection Service experiment as one fault, from an
//! existing template (`template_id`) or from a template firedrill creates at injection
//! from the fault's inline FIS `actions` and `targets`.
//!
//! An existing template must carry the scenario's opt-in tag (checked at plan time, and
//! again before the start). Before the start, firedrill journals the undo "stop the
//! experiment of this template tagged with this run and fault" (the id is not known
//! yet); the start then uses a client token derived from the run and fault (a retried
//! start is the same experiment) and tags the experiment `firedrill:run` = run,
//! `firedrill:fault` = fault. Revert, abort, halt and `recover` stop every such
//! experiment that has not ended; one already stopped or completed is fine.
//!
//! An inline template's targets are resolved by firedrill, never by FIS: each names its
//! resources by `resourceArns` or `resourceTags` (and FIS-style `filters` and
//! `selectionMode`), which firedrill resolves with its own target resolution — opt-in
//! tag, lease, account and region guards included — under the target name
//! `fis:<fault>/<target>`; the template is created with the explicit ARNs of what was
//! resolved and `selectionMode: ALL`, so FIS cannot widen the blast radius. Its stop
//! conditions are the scenario's `abort: - alarm:` rules (`aws:cloudwatch:alarm`), or
//! `none`; its role is the fault's `role_arn`. Before the create, firedrill journals
//! "delete the template tagged with this run and fault" ([`DeleteTemplateData`]); the
//! create uses a client token derived from the run and fault and tags the template with
//! the opt-in tag, `firedrill:run` and `firedrill:fault`. Revert, abort, halt, `recover`
//! and `recover --sweep` stop the experiment, then delete the template (one already gone
//! is fine).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ec2::failed;
use super::step::{Step, client};
use super::{AwsFaultCtx, FaultConfig, FaultContext, FaultKind};
use crate::aws::{Aws, NewFisTemplate, Tags};
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Res, Stmt, stmt};
use crate::scenario::validate::{Problem, Scope, problem};
use crate::scenario::{OptInTag, Scenario, Target, TargetType};
use crate::targets::Resolution;
use crate::util::console::quote;

/// Undo kind: stop the experiment a `fis_experiment` fault started.
pub const STOP: &str = "fis_stop_experiment";
/// Undo kind: delete the experiment template an inline `fis_experiment` fault created.
pub const DELETE_TEMPLATE: &str = "fis_delete_experiment_template";
/// Tag on an experiment firedrill started: the fault that started it.
pub const FAULT_TAG: &str = "firedrill:fault";

/// `fis_experiment`.
pub struct Experiment;

/// `fis_experiment`: starts an AWS FIS experiment and stops it at the revert. Either
/// from an existing experiment template (`template_id`, which must carry the opt-in
/// tag), or inline: `role_arn`, `actions` and `targets` in FIS's own shape, from which
/// firedrill creates a template at injection (targets resolved by firedrill, given to
/// FIS as explicit ARNs) and deletes it afterwards.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FisExperimentFault {
    /// An existing experiment template's id (`EXT…`), or its ARN
    /// (`arn:aws:fis:REGION:ACCOUNT:experiment-template/EXT…`, in the scenario's account
    /// and region). Not with `actions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Inline: the IAM role FIS runs the experiment as (`arn:aws:iam::ACCOUNT:role/NAME`),
    /// in the scenario's account; firedrill passes it (`iam:PassRole`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Inline: the template's actions by name, as FIS spells them (`actionId`,
    /// `parameters`, `targets`, `startAfter`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, FisAction>,
    /// Inline: the template's targets by name, as FIS spells them; firedrill resolves
    /// them itself (`resourceArns` or `resourceTags`, `filters`, `selectionMode`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, FisTarget>,
    /// Required (`true`) when an inline action destroys what it hits
    /// (`aws:ec2:terminate-instances`…): stopping the experiment cannot bring it back, as
    /// with `ec2_terminate_instances`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub irreversible: bool,
}

/// FIS actions whose effect stopping the experiment does not undo: they destroy
/// instances. An inline template with one needs `irreversible: true`.
pub const IRREVERSIBLE_ACTIONS: &[&str] = &[
    "aws:ec2:terminate-instances",
    "aws:eks:terminate-nodegroup-instances",
    "aws:ec2:send-spot-instance-interruptions",
];

/// One action of an inline template (FIS's `CreateExperimentTemplateActionInput`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FisAction {
    /// The FIS action, e.g. `aws:ebs:pause-volume-io`.
    pub action_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The action's parameters, passed to FIS as they are (e.g. `duration: PT10M`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// The action's targets: its target key (`Volumes`, `Roles`, `AutoScalingGroups`…) →
    /// the name of one of the fault's `targets`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, String>,
    /// Actions of this fault that must complete before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start_after: Vec<String>,
}

/// One target of an inline template, as FIS spells it; resolved by firedrill.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FisTarget {
    /// One of `aws:ec2:instance`, `aws:ec2:ebs-volume`, `aws:ec2:subnet`,
    /// `aws:ec2:autoscaling-group`, `aws:rds:cluster`, `aws:rds:db`, `aws:iam:role`.
    pub resource_type: String,
    /// These resources, by ARN (in the scenario's account and region). Not with
    /// `resourceTags`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_arns: Vec<String>,
    /// The resources carrying all of these tags. Not with `resourceArns`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_tags: BTreeMap<String, String>,
    /// FIS-style filters, one value each: `Placement.AvailabilityZone` and `State.Name`
    /// (instances), `AvailabilityZone` and `State` (volumes), `AvailabilityZone` (subnets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FisFilter>,
    /// `ALL` (the default), `COUNT(n)` or `PERCENT(n)`; firedrill picks, and FIS is given
    /// exactly what it picked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_mode: Option<String>,
}

/// A FIS target filter: the attribute's path and the value it must have.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FisFilter {
    pub path: String,
    pub values: Vec<String>,
}

/// Whether `id` looks like an experiment template id: letters and digits (`EXT…` on
/// AWS), at most 64.
pub fn valid_template_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The client token of the experiment a fault starts: deterministic from the run and the
/// fault, so a retried start is the same experiment.
pub fn client_token(run_id: &str, fault: &str) -> String {
    let hash: String =
        Sha256::digest(format!("{run_id}/{fault}").as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("firedrill-{hash}")
}

/// The resource types an inline target may have: FIS's name, firedrill's target type,
/// the ARN's service and the resource part's prefix, and the filter paths firedrill
/// resolves for it (to an Availability Zone, or to a state).
struct Supported {
    fis: &'static str,
    kind: TargetType,
    service: &'static str,
    prefix: &'static str,
    zone: Option<&'static str>,
    state: Option<&'static str>,
}

const SUPPORTED: &[Supported] = &[
    Supported {
        fis: "aws:ec2:instance",
        kind: TargetType::Ec2Instance,
        service: "ec2",
        prefix: "instance/",
        zone: Some("Placement.AvailabilityZone"),
        state: Some("State.Name"),
    },
    Supported {
        fis: "aws:ec2:ebs-volume",
        kind: TargetType::Ec2Volume,
        service: "ec2",
        prefix: "volume/",
        zone: Some("AvailabilityZone"),
        state: Some("State"),
    },
    Supported {
        fis: "aws:ec2:subnet",
        kind: TargetType::Ec2Subnet,
        service: "ec2",
        prefix: "subnet/",
        zone: Some("AvailabilityZone"),
        state: None,
    },
    Supported {
        fis: "aws:ec2:autoscaling-group",
        kind: TargetType::AutoScalingGroup,
        service: "autoscaling",
        prefix: "autoScalingGroup:",
        zone: None,
        state: None,
    },
    Supported {
        fis: "aws:rds:cluster",
        kind: TargetType::RdsCluster,
        service: "rds",
        prefix: "cluster:",
        zone: None,
        state: None,
    },
    Supported {
        fis: "aws:rds:db",
        kind: TargetType::RdsInstance,
        service: "rds",
        prefix: "db:",
        zone: None,
        state: None,
    },
    Supported {
        fis: "aws:iam:role",
        kind: TargetType::IamRole,
        service: "iam",
        prefix: "role/",
        zone: None,
        state: None,
    },
];

fn supported(resource_type: &str) -> Option<&'static Supported> {
    SUPPORTED.iter().find(|x| x.fis == resource_type)
}

/// An ARN's parts: partition, service, region, account, resource.
fn arn_parts(arn: &str) -> Option<[&str; 5]> {
    let mut it = arn.splitn(6, ':');
    (it.next()? == "arn").then_some(())?;
    let parts = [it.next()?, it.next()?, it.next()?, it.next()?, it.next()?];
    (!parts[0].is_empty() && !parts[4].is_empty()).then_some(parts)
}

/// The id (or name) firedrill resolves an ARN of `x` to, if it is one.
fn arn_id(x: &Supported, arn: &str) -> Option<String> {
    let [_, service, _, _, resource] = arn_parts(arn)?;
    let rest = resource.strip_prefix(x.prefix).filter(|_| service == x.service)?;
    let id = match x.kind {
        TargetType::AutoScalingGroup => rest.split_once(":autoScalingGroupName/")?.1,
        TargetType::IamRole => rest.rsplit('/').next()?,
        _ => rest,
    };
    (!id.is_empty() && !id.contains(['/', ':'])).then(|| id.to_string())
}

/// Whether `s` is a FIS action, target or action-target name: letters, digits, `-`, `_`
/// (at most 64).
fn fis_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `ALL`, `COUNT(n)` or `PERCENT(n)` as firedrill's selection.
fn selection(mode: Option<&str>) -> Option<crate::scenario::Select> {
    use crate::scenario::{Select, SelectMap};
    let mode = mode.unwrap_or("ALL");
    if mode == "ALL" {
        return Some(Select::Word("all".into()));
    }
    let num = |p: &str| mode.strip_prefix(p)?.strip_suffix(')')?.parse::<u32>().ok().filter(|n| *n > 0);
    if let Some(n) = num("COUNT(") {
        return Some(Select::Map(SelectMap { count: Some(n), percent: None }));
    }
    num("PERCENT(").filter(|p| *p <= 100).map(|p| Select::Map(SelectMap { count: None, percent: Some(p) }))
}

/// The account of a role ARN (`arn:PARTITION:iam::ACCOUNT:role/…`), if it is one.
fn role_account(arn: &str) -> Option<&str> {
    let [_, service, region, account, resource] = arn_parts(arn)?;
    (service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|n| !n.is_empty() && !n.ends_with('/')))
    .then_some(account)
}

/// The role's name, from its ARN (the part after the last `/`).
fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

impl FisTarget {
    /// The firedrill target this FIS target is resolved as; `Err` holds each problem as
    /// (field under the target, message).
    pub fn as_target(&self) -> Result<Target, Vec<(String, String)>> {
        let mut errs = Vec::new();
        let Some(x) = supported(&self.resource_type) else {
            let known: Vec<&str> = SUPPORTED.iter().map(|x| x.fis).collect();
            return Err(vec![(
                "resourceType".into(),
                format!(
                    "firedrill cannot resolve {:?} targets itself, so it does not hand them to FIS; use one of {}",
                    self.resource_type,
                    known.join(", ")
                ),
            )]);
        };
        match (self.resource_arns.is_empty(), self.resource_tags.is_empty()) {
            (true, true) => errs.push((
                String::new(),
                "give `resourceArns` or `resourceTags`: firedrill resolves the target itself, FIS is only given the ARNs it found".into(),
            )),
            (false, false) => errs.push((String::new(), "give `resourceArns` or `resourceTags`, not both".into())),
            _ => {}
        }
        let mut ids = Vec::new();
        for (i, arn) in self.resource_arns.iter().enumerate() {
            match arn_id(x, arn) {
                Some(id) => ids.push(id),
                None => errs.push((
                    format!("resourceArns[{i}]"),
                    format!("{arn:?} is not the ARN of a {} resource ({})", self.resource_type, x.kind),
                )),
            }
        }
        let mut filters = crate::scenario::Filters::default();
        for (i, f) in self.filters.iter().enumerate() {
            let at = format!("filters[{i}]");
            let [value] = f.values.as_slice() else {
                errs.push((
                    format!("{at}.values"),
                    "give exactly one value: firedrill resolves one zone or state".into(),
                ));
                continue;
            };
            if x.zone == Some(f.path.as_str()) && filters.availability_zone.is_none() {
                filters.availability_zone = Some(value.clone());
            } else if x.state == Some(f.path.as_str()) && filters.state.is_none() {
                filters.state = Some(value.clone());
            } else {
                let paths: Vec<&str> = x.zone.iter().chain(x.state.iter()).copied().collect();
                errs.push((
                    format!("{at}.path"),
                    if paths.is_empty() {
                        format!("firedrill resolves no filter of {} targets", self.resource_type)
                    } else {
                        format!(
                            "firedrill resolves the filters {} of {} targets (each once), not {:?}",
                            paths.join(", "),
                            self.resource_type,
                            f.path
                        )
                    },
                ));
            }
        }
        let select = selection(self.selection_mode.as_deref());
        if select.is_none() {
            errs.push((
                "selectionMode".into(),
                format!(
                    "{:?} is not `ALL`, `COUNT(n)` or `PERCENT(n)` (n ≥ 1)",
                    self.selection_mode.as_deref().unwrap_or("")
                ),
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Target {
            kind: x.kind,
            tags: self.resource_tags.clone(),
            ids,
            filters,
            select,
            exclude: None,
            max: None,
            on_empty: Default::default(),
        })
    }
}

/// An inline action checked against the FIS action catalogue ([`super::fis_actions`]):
/// a known id (else the nearest known one is suggested), its target under the key the
/// action takes and of the resource type it acts on, and its required parameters.
fn catalogue_problems(here: &str, a: &FisAction, targets: &BTreeMap<String, FisTarget>) -> Vec<Problem> {
    let mut out = Vec::new();
    let id = &a.action_id;
    let well_formed = id.split(':').count() == 3 && id.starts_with("aws:");
    let Some(spec) = super::fis_actions::find(id) else {
        // Near a known id: a typo. Far from every one: maybe an action AWS added since the
        // catalogue was written, passed on as written (FIS checks it at template creation).
        if well_formed && let Some(n) = super::fis_actions::nearest(id) {
            out.push(problem(
                format!("{here}.actionId"),
                format!("{id:?} is not an AWS FIS action; did you mean `{n}`?"),
            ));
        }
        return out;
    };
    match spec.target {
        None => {
            if !a.targets.is_empty() {
                out.push(problem(format!("{here}.targets"), format!("{id} takes no targets")));
            }
        }
        Some((key, kind)) => {
            for (k, t) in &a.targets {
                if k != key {
                    out.push(problem(
                        format!("{here}.targets.{k}"),
                        format!("{id} takes its target under `{key}`, not `{k}`"),
                    ));
                } else if let Some(ft) = targets.get(t)
                    && !kind.is_empty()
                    && ft.resource_type != kind
                {
                    out.push(problem(
                        format!("{here}.targets.{k}"),
                        format!("target `{t}` is {:?}; {id} acts on {kind:?} targets", ft.resource_type),
                    ));
                }
            }
            if !a.targets.contains_key(key) {
                out.push(problem(
                    format!("{here}.targets"),
                    format!("{id} needs its target: `{key}: <a {kind} target of this fault>`"),
                ));
            }
        }
    }
    let missing: Vec<&str> = spec.required.iter().copied().filter(|p| !a.parameters.contains_key(*p)).collect();
    if !missing.is_empty() {
        out.push(problem(
            format!("{here}.parameters"),
            format!(
                "{id} needs the parameter{} {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    out
}

/// The first cycle of `startAfter` among inline actions: the action it is reported at,
/// and the names around it.
fn start_after_cycle(actions: &BTreeMap<String, FisAction>) -> Option<(String, Vec<String>)> {
    // 0 = unvisited, 1 = on the path, 2 = done
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        n: &'a str,
        actions: &'a BTreeMap<String, FisAction>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(n, 1);
        path.push(n);
        for dep in actions.get(n).map(|a| a.start_after.as_slice()).unwrap_or_default() {
            // An unknown name, or the action itself, is reported on its own.
            if dep == n || !actions.contains_key(dep) {
                continue;
            }
            match state.get(dep.as_str()) {
                Some(1) => {
                    let start = path.iter().position(|p| p == dep).unwrap_or(0);
                    let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(dep.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(dep, actions, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    for n in actions.keys() {
        if !state.contains_key(n.as_str())
            && let Some(c) = visit(n, actions, &mut state, &mut Vec::new())
        {
            return Some((c[0].clone(), c));
        }
    }
    None
}

/// The name an inline target is resolved under: `fis:<fault>/<target>` (no scenario
/// target's name has a `:` or a `/`).
pub fn resolved_name(fault: &str, target: &str) -> String {
    format!("fis:{fault}/{target}")
}

/// Every inline target of the scenario's `fis_experiment` faults, as the firedrill target
/// it is resolved as, under [`resolved_name`]. (A target that does not convert is not
/// here: validation refuses the scenario.)
pub fn inline_targets(s: &Scenario) -> Vec<(String, Target)> {
    let mut out = Vec::new();
    for f in &s.faults {
        if let FaultKind::FisExperiment(x) = &f.kind {
            for (name, t) in &x.targets {
                if let Ok(t) = t.as_target() {
                    out.push((resolved_name(&f.name, name), t));
                }
            }
        }
    }
    out
}

impl FaultKind {
    /// The targets a fault resolves besides the scenario's (an inline `fis_experiment`'s),
    /// as firedrill targets: what `iam-policy` reads and leases for it.
    pub fn own_targets(&self) -> Vec<Target> {
        match self {
            FaultKind::FisExperiment(x) => x.targets.values().filter_map(|t| t.as_target().ok()).collect(),
            _ => vec![],
        }
    }
}

/// The ARN of resolved resource `r` of type `kind` (an IAM role's and an Auto Scaling
/// group's, which firedrill cannot derive, are read with it as its `arn` fact).
pub fn resource_arn(kind: TargetType, r: &crate::targets::Resource, account: &str, region: &str) -> Option<String> {
    if let Some(a) = r.attrs.get("arn") {
        return Some(a.clone());
    }
    let x = SUPPORTED
        .iter()
        .find(|x| x.kind == kind && !matches!(kind, TargetType::AutoScalingGroup | TargetType::IamRole))?;
    let p = crate::aws::partition(region);
    Some(format!("arn:{p}:{}:{region}:{account}:{}{}", x.service, x.prefix, r.id))
}

/// The template to create for inline fault `fault` of run `run`, from what firedrill
/// resolved; `Err` when a target resolved to nothing or to a resource without an ARN.
pub fn template(
    fault: &str,
    run: &str,
    x: &FisExperimentFault,
    res: &Resolution,
    stop_alarms: &[String],
) -> Result<NewFisTemplate, String> {
    let mut targets = BTreeMap::new();
    for (name, t) in &x.targets {
        let key = resolved_name(fault, name);
        let rt = res.targets.get(&key).ok_or_else(|| format!("target `{name}` was not resolved"))?;
        if rt.resources.is_empty() {
            return Err(format!("target `{name}` selected nothing: no experiment template is created"));
        }
        let mut arns = Vec::new();
        for r in &rt.resources {
            arns.push(
                resource_arn(rt.kind, r, &res.account, &res.region)
                    .ok_or_else(|| format!("target `{name}`: the ARN of {} {} is unknown", rt.kind, r.id))?,
            );
        }
        targets.insert(name.clone(), (t.resource_type.clone(), arns));
    }
    let p = crate::aws::partition(&res.region);
    let mut stop_conditions: Vec<(String, Option<String>)> = stop_alarms
        .iter()
        .map(|a| {
            (
                "aws:cloudwatch:alarm".to_string(),
                Some(format!("arn:{p}:cloudwatch:{}:{}:alarm:{a}", res.region, res.account)),
            )
        })
        .collect();
    if stop_conditions.is_empty() {
        stop_conditions.push(("none".into(), None));
    }
    let mut tags: Tags =
        [(crate::tags::RUN.to_string(), run.to_string()), (FAULT_TAG.to_string(), fault.to_string())].into();
    if let Some(o) = &res.opt_in_tag {
        tags.insert(o.key.clone(), o.value.clone());
    }
    Ok(NewFisTemplate {
        token: template_token(run, fault),
        description: format!("firedrill run {run}, fault {fault}"),
        role_arn: x.role_arn.clone().unwrap_or_default(),
        stop_conditions,
        targets,
        actions: x
            .actions
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    crate::aws::NewFisAction {
                        action_id: a.action_id.clone(),
                        description: a.description.clone(),
                        parameters: a.parameters.clone(),
                        targets: a.targets.clone(),
                        start_after: a.start_after.clone(),
                    },
                )
            })
            .collect(),
        tags,
    })
}

/// The client token of the template an inline fault creates (not the experiment's).
pub fn template_token(run_id: &str, fault: &str) -> String {
    client_token(run_id, &format!("{fault}/template"))
}

impl FisExperimentFault {
    /// Whether the template is inline (created by firedrill).
    pub fn inline(&self) -> bool {
        self.template_id.is_none()
    }

    /// The existing template's id: `template_id`, or the id its ARN names.
    pub fn existing(&self) -> Option<&str> {
        let t = self.template_id.as_deref()?;
        Some(template_arn_id(t).unwrap_or(t))
    }
}

/// The id an experiment template's ARN names (`…:experiment-template/ID`), if `s` is one.
fn template_arn_id(s: &str) -> Option<&str> {
    let a = crate::scenario::arn::parse(s)?;
    (a.service == "fis").then_some(())?;
    a.resource.strip_prefix("experiment-template/")
}

impl super::Kind for Experiment {
    const KEY: &'static str = "fis_experiment";
    type Config = FisExperimentFault;

    fn validate(x: &FisExperimentFault, at: &str, scope: &Scope<'_>) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(id) = &x.template_id {
            let arn = crate::scenario::arn::looks_like_arn(id);
            let why = if arn {
                crate::scenario::arn::scope_problem(id, scope.bounds()).or_else(|| match template_arn_id(id) {
                    Some(t) if valid_template_id(t) => None,
                    _ => Some(format!(
                        "{id:?} is not an experiment template's ARN (`arn:aws:fis:REGION:ACCOUNT:experiment-template/EXT…`)"
                    )),
                })
            } else {
                (!valid_template_id(id)).then(|| {
                    format!("{id:?} is not an experiment template id (letters and digits, e.g. `EXT1a2b3c4d5e6f7`)")
                })
            };
            if let Some(why) = why {
                out.push(problem(format!("{at}.template_id"), why));
            }
            for (field, set) in [
                ("role_arn", x.role_arn.is_some()),
                ("actions", !x.actions.is_empty()),
                ("targets", !x.targets.is_empty()),
            ] {
                if set {
                    out.push(problem(
                        format!("{at}.{field}"),
                        "an existing template (`template_id`) has its own; give `template_id` or an inline template (`role_arn`, `actions`, `targets`), not both",
                    ));
                }
            }
            return out;
        }
        if x.actions.is_empty() {
            out.push(problem(
                at.to_string(),
                "give `template_id` (an existing template) or an inline template's `role_arn`, `actions` and `targets`",
            ));
            return out;
        }
        match &x.role_arn {
            None => out.push(problem(
                format!("{at}.role_arn"),
                "an inline template needs the IAM role FIS runs it as (`role_arn: arn:aws:iam::ACCOUNT:role/NAME`)",
            )),
            Some(r) if role_account(r).is_none() => out.push(problem(
                format!("{at}.role_arn"),
                format!("{r:?} is not an IAM role ARN (`arn:aws:iam::ACCOUNT:role/NAME`)"),
            )),
            Some(r) => {
                if let Some(why) = crate::scenario::arn::scope_problem(r, scope.bounds()) {
                    out.push(problem(format!("{at}.role_arn"), why));
                }
            }
        }
        for (name, a) in &x.actions {
            let here = format!("{at}.actions.{name}");
            if !fis_name(name) {
                out.push(problem(
                    here.clone(),
                    format!("{name:?}: FIS names use letters, digits, `-` and `_` (at most 64)"),
                ));
            }
            let id = a.action_id.split(':').collect::<Vec<_>>();
            if id.len() != 3 || id[0] != "aws" || id[1..].iter().any(|p| p.is_empty()) {
                out.push(problem(
                    format!("{here}.actionId"),
                    format!(
                        "{:?} is not a FIS action id (`aws:SERVICE:ACTION`, e.g. `aws:ebs:pause-volume-io`)",
                        a.action_id
                    ),
                ));
            }
            if IRREVERSIBLE_ACTIONS.contains(&a.action_id.as_str()) && !x.irreversible {
                out.push(problem(
                    format!("{here}.actionId"),
                    format!(
                        "{} destroys what it hits and stopping the experiment cannot bring it back: set `irreversible: true` on the fault to say you mean it",
                        a.action_id
                    ),
                ));
            }
            for (key, target) in &a.targets {
                if !x.targets.contains_key(target) {
                    out.push(problem(
                        format!("{here}.targets.{key}"),
                        format!("no target `{target}` in this fault's `targets`"),
                    ));
                }
            }
            out.extend(catalogue_problems(&here, a, &x.targets));
            // ARNs in parameters (`documentArn`, `alarmArns`): in the scenario's scope, or
            // AWS's own (an AWS-managed SSM document).
            for (key, value) in &a.parameters {
                if !(key.ends_with("Arn") || key.ends_with("Arns")) {
                    continue;
                }
                for arn in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                    if let Some(why) = crate::scenario::arn::scope_problem_or_aws_owned(arn, scope.bounds()) {
                        out.push(problem(format!("{here}.parameters.{key}"), why));
                    }
                }
            }
            for (i, after) in a.start_after.iter().enumerate() {
                if after == name || !x.actions.contains_key(after) {
                    out.push(problem(
                        format!("{here}.startAfter[{i}]"),
                        format!("no other action `{after}` in this fault's `actions`"),
                    ));
                }
            }
        }
        if let Some((name, cycle)) = start_after_cycle(&x.actions) {
            out.push(problem(
                format!("{at}.actions.{name}.startAfter"),
                format!("`startAfter` forms a cycle: {}; FIS could never start these actions", cycle.join(" -> ")),
            ));
        }
        for (name, t) in &x.targets {
            let here = format!("{at}.targets.{name}");
            if !fis_name(name) {
                out.push(problem(
                    here.clone(),
                    format!("{name:?}: FIS names use letters, digits, `-` and `_` (at most 64)"),
                ));
            }
            if let Err(errs) = t.as_target() {
                out.extend(
                    errs.into_iter()
                        .map(|(f, m)| problem(if f.is_empty() { here.clone() } else { format!("{here}.{f}") }, m)),
                );
            }
            // An ARN in another account, partition or region names a resource this
            // scenario may not touch (its form is `as_target`'s business).
            for (i, arn) in t.resource_arns.iter().enumerate() {
                if arn_parts(arn).is_some()
                    && let Some(why) = crate::scenario::arn::scope_problem(arn, scope.bounds())
                {
                    out.push(problem(format!("{here}.resourceArns[{i}]"), why));
                }
            }
            if !x.actions.values().any(|a| a.targets.values().any(|v| v == name)) {
                out.push(problem(here, "no action uses this target"));
            }
        }
        out
    }

    fn iam(x: &FisExperimentFault, _: &[&Target]) -> Vec<Stmt> {
        let experiments = Res::FisExperiment("*".into());
        let Some(id) = x.existing() else {
            // Inline: each statement is needed before anything is left to undo, so that a
            // missing one stops the run cleanly. A template is created (and tagged as it
            // is) from FIS actions, both its resources, and deleted by the revert: one
            // statement, without a tag condition (a new template has no tags; firedrill
            // deletes only the ones tagged with its run and fault). The plan lists the
            // templates and experiments (a lost run's left over are refused), which is
            // what the revert reads to find its own.
            let templates = Res::FisTemplate("*".into());
            let mut out = vec![stmt(
                "FisTemplates",
                &["fis:CreateExperimentTemplate", "fis:DeleteExperimentTemplate", "fis:TagResource"],
                vec![templates.clone(), Res::FisAction("*".into())],
                false,
            )];
            // FIS runs the experiment as the fault's role.
            if let Some(r) = &x.role_arn {
                out.push(
                    stmt("PassFisRole", &["iam:PassRole"], vec![Res::Role(role_name(r).into())], false)
                        .passed_to("fis.amazonaws.com"),
                );
            }
            out.push(stmt(
                "RunFisExperiments",
                &["fis:StartExperiment", "fis:StopExperiment", "fis:TagResource"],
                vec![templates, experiments],
                false,
            ));
            out.push(stmt("ListFisTemplates", &["fis:ListExperimentTemplates"], vec![Res::Any], false));
            out.push(stmt("ListFisExperiments", &["fis:ListExperiments"], vec![Res::Any], false));
            return out;
        };
        let template = Res::FisTemplate(id.to_string());
        vec![
            // Only a template with the opt-in tag can be read, and firedrill reads it (and
            // checks the tag) before every start.
            stmt("ReadFisTemplate", &["fis:GetExperimentTemplate"], vec![template.clone()], true),
            // A start is authorized on the template and on the new experiment, which has
            // no tags yet: no tag condition can hold for it.
            stmt("StartFisExperiment", &["fis:StartExperiment"], vec![template, experiments.clone()], false),
            stmt("StopFisExperiments", &["fis:TagResource", "fis:StopExperiment"], vec![experiments], false),
            stmt("ListFisExperiments", &["fis:ListExperiments"], vec![Res::Any], false),
        ]
    }

    fn describe(x: &FisExperimentFault, _: &dyn Fn(&str) -> String, res: Option<&Resolution>) -> Vec<String> {
        let Some(id) = x.existing() else {
            let mut out = vec![format!(
                "inject: create an AWS FIS experiment template (role {}; tagged with the opt-in tag, firedrill:run and {FAULT_TAG}), then start an experiment from it",
                x.role_arn.as_deref().unwrap_or("?")
            )];
            for (name, a) in &x.actions {
                let on: Vec<String> = a.targets.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                let params: Vec<String> = a.parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push(format!(
                    "  action {name}: {}{}{}{}",
                    a.action_id,
                    if on.is_empty() { String::new() } else { format!(" on {}", on.join(", ")) },
                    if params.is_empty() { String::new() } else { format!(" ({})", params.join(", ")) },
                    if a.start_after.is_empty() {
                        String::new()
                    } else {
                        format!(" after {}", a.start_after.join(", "))
                    },
                ));
            }
            for (name, t) in &x.targets {
                // The fault's name is not known here: the resolved target is found by its
                // own name under any fault's.
                let found = res.and_then(|r| {
                    r.targets
                        .iter()
                        .find(|(k, _)| k.starts_with("fis:") && k.ends_with(&format!("/{name}")))
                        .map(|(_, v)| (r, v))
                });
                let what = match found {
                    Some((r, rt)) if !rt.resources.is_empty() => rt
                        .resources
                        .iter()
                        .map(|x| resource_arn(rt.kind, x, &r.account, &r.region).unwrap_or_else(|| x.id.clone()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    Some(_) => "nothing selected".into(),
                    None => "resolved by firedrill at plan time".into(),
                };
                out.push(format!("  target {name} ({}): {what}", t.resource_type));
            }
            out.push(if x.irreversible {
                "revert: stop that experiment and delete the template; what its irreversible actions destroyed stays destroyed".into()
            } else {
                "revert: stop that experiment (already stopped or completed is fine), then delete the template".into()
            });
            return out;
        };
        vec![
            format!("inject: start an AWS FIS experiment from template {id} (tagged firedrill:run and {FAULT_TAG})"),
            "revert: stop that experiment (already stopped or completed is fine)".into(),
        ]
    }

    fn preflight(fault: &str, x: &FisExperimentFault, res: &Resolution) -> Vec<String> {
        let mut out = Vec::new();
        if !x.inline() {
            return out;
        }
        let account = |arn: &str| arn_parts(arn).map(|p| p[3].to_string());
        if let Some(r) = &x.role_arn
            && role_account(r).is_some_and(|a| a != res.account)
        {
            out.push(format!(
                "fault `{fault}` (fis_experiment): role {r} is not in account {}, where the run acts",
                res.account
            ));
        }
        for (name, t) in &x.targets {
            for arn in &t.resource_arns {
                if account(arn).is_some_and(|a| a != res.account) {
                    out.push(format!(
                        "fault `{fault}` (fis_experiment): target `{name}`: {arn} is not in account {}, where the run acts",
                        res.account
                    ));
                }
            }
            if let Some(rt) = res.targets.get(&resolved_name(fault, name)) {
                for r in &rt.resources {
                    if resource_arn(rt.kind, r, &res.account, &res.region).is_none() {
                        out.push(format!(
                            "fault `{fault}` (fis_experiment): target `{name}`: the ARN of {} {} is unknown",
                            rt.kind, r.id
                        ));
                    }
                }
            }
        }
        out
    }

    fn resources(x: &FisExperimentFault, res: &Resolution) -> Vec<(TargetType, String)> {
        // Without the fault's name: every fault's inline target of one of these names
        // (the lease is one set for the run, so this adds nothing another fault does not).
        res.targets
            .iter()
            .filter(|(k, _)| k.starts_with("fis:") && x.targets.keys().any(|n| k.ends_with(&format!("/{n}"))))
            .flat_map(|(_, rt)| rt.resources.iter().map(|r| (rt.kind, r.id.clone())))
            .collect()
    }

    fn build(fault: &str, x: &FisExperimentFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (actx, res) = ctx.aws()?;
        let template = match x.existing() {
            Some(id) => Template::Existing(id.to_string()),
            None => Template::Inline(template(fault, &actx.run_id, x, res, &ctx.stop_alarms)),
        };
        Some(Arc::new(Injector { ctx: actx, fault: fault.to_string(), template, opt_in: res.opt_in_tag.clone() }))
    }
}

/// Why template `id` may not be started: it does not exist, or lacks the opt-in tag.
pub async fn refusal(aws: &Aws, fault: &str, id: &str, opt_in: Option<&OptInTag>) -> Result<Option<String>, String> {
    let tags = aws.fis_template_tags(id).await.map_err(|e| format!("fault `{fault}`: {e}"))?;
    Ok(match (tags, opt_in) {
        (None, _) => Some(format!(
            "fault `{fault}` (fis_experiment): experiment template {id} does not exist in {}",
            aws.region()
        )),
        (Some(t), Some(o)) if t.get(&o.key) != Some(&o.value) => Some(format!(
            "fault `{fault}` (fis_experiment): experiment template {id} lacks the opt-in tag {}={}",
            o.key, o.value
        )),
        _ => None,
    })
}

/// What a run that did not finish left of inline `fis_experiment` faults: a template or
/// an experiment tagged with a run and a fault. Refused, as a lease is: that run's undo
/// (`firedrill recover`, or `recover --sweep`) comes first. Reading them is also what
/// proves, before anything is touched, that the revert will be able to find its own.
async fn leftovers(aws: &Aws) -> Vec<String> {
    let mut out = Vec::new();
    match aws.fis_templates().await {
        Ok(ts) => out.extend(ts.into_iter().filter_map(|(id, t)| DeleteTemplateData::of(&t).map(|d| format!(
            "FIS experiment template {id} created by fault `{}` of run {} is still there: that run did not finish (`firedrill recover`, or `firedrill recover --sweep`, deletes it)",
            d.fault, d.run
        )))),
        Err(e) => out.push(format!("cannot list the FIS experiment templates, which the revert of an inline fis_experiment reads: {e}")),
    }
    match aws.fis_experiments(None).await {
        Ok(xs) => out.extend(xs.iter().filter_map(|x| StopData::of(x).map(|d| format!(
            "FIS experiment {} started by fault `{}` of run {} is still running: that run did not finish (`firedrill recover`, or `firedrill recover --sweep`, stops it)",
            x.id, d.fault, d.run
        )))),
        Err(e) => out.push(format!("cannot list the FIS experiments, which the revert of an inline fis_experiment reads: {e}")),
    }
    out
}

/// The plan-time checks of the scenario's `fis_experiment` faults: each template exists
/// and carries the opt-in tag. Refusals; an AWS error reading a template is one too.
pub async fn plan_refusals(aws: &Aws, s: &Scenario, opt_in: Option<&OptInTag>) -> Vec<String> {
    let mut out = Vec::new();
    if s.faults.iter().any(|f| matches!(&f.kind, FaultKind::FisExperiment(x) if x.inline())) {
        out.extend(leftovers(aws).await);
    }
    for f in &s.faults {
        if let FaultConfig { kind: FaultKind::FisExperiment(x), name, .. } = f
            && let Some(id) = x.existing()
        {
            match refusal(aws, name, id, opt_in).await {
                Ok(Some(why)) => out.push(why),
                Ok(None) => {}
                Err(e) => out.push(format!("cannot read the experiment template: {e}")),
            }
        }
    }
    out
}

/// The template an injector starts: an existing one, or one it creates (`Err`: why it
/// cannot be, found when it was built).
pub enum Template {
    Existing(String),
    Inline(Result<NewFisTemplate, String>),
}

pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub fault: String,
    pub template: Template,
    pub opt_in: Option<OptInTag>,
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        let aws = &self.ctx.aws;
        let template = match &self.template {
            Template::Existing(id) => {
                match refusal(aws, &self.fault, id, self.opt_in.as_ref()).await {
                    Ok(None) => {}
                    Ok(Some(why)) => return Err(FaultError::Refused(why)),
                    Err(e) => return Err(FaultError::Failed(e)),
                }
                id.clone()
            }
            Template::Inline(Err(why)) => {
                return Err(FaultError::Refused(format!("fault `{}` (fis_experiment): {why}", self.fault)));
            }
            Template::Inline(Ok(t)) => {
                let d = DeleteTemplateData { run: self.ctx.run_id.clone(), fault: self.fault.clone() };
                intents
                    .intent(d.record(
                        Some(aws.region()),
                        format!("delete the FIS experiment template created by fault {}", self.fault),
                    ))
                    .await?;
                aws.create_fis_template(t).await.map_err(failed)?
            }
        };
        let d = StopData { template: template.clone(), run: self.ctx.run_id.clone(), fault: self.fault.clone() };
        intents
            .intent(d.record(
                Some(aws.region()),
                format!("stop the FIS experiment of template {template} started by fault {}", self.fault),
            ))
            .await?;
        let tags: Tags =
            [(crate::tags::RUN.to_string(), self.ctx.run_id.clone()), (FAULT_TAG.to_string(), self.fault.clone())]
                .into();
        aws.start_fis_experiment(&template, &client_token(&self.ctx.run_id, &self.fault), &tags)
            .await
            .map_err(failed)?;
        Ok(())
    }
}

/// Undo step: delete every experiment template tagged with the run and fault (there is
/// at most one; none when the create never happened, or it was deleted already).
#[derive(Serialize, Deserialize)]
pub struct DeleteTemplateData {
    pub run: String,
    pub fault: String,
}

impl DeleteTemplateData {
    /// The undo of a template firedrill created (tagged with a run and a fault); what
    /// `recover --sweep` finds.
    pub fn of(tags: &Tags) -> Option<DeleteTemplateData> {
        let run = tags.get(crate::tags::RUN)?;
        let fault = tags.get(FAULT_TAG)?;
        crate::tags::valid_run(run).then(|| DeleteTemplateData { run: run.clone(), fault: fault.clone() })
    }
}

#[async_trait]
impl Step for DeleteTemplateData {
    const KEY: &'static str = DELETE_TEMPLATE;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        let aws = client(aws)?;
        for (id, tags) in aws.fis_templates().await.map_err(failed)? {
            if tags.get(crate::tags::RUN) == Some(&self.run) && tags.get(FAULT_TAG) == Some(&self.fault) {
                aws.delete_fis_template(&id).await.map_err(failed)?;
            }
        }
        Ok(())
    }

    fn manual_fix(&self, region: &str) -> Option<String> {
        Some(format!(
            "aws fis list-experiment-templates --region {} --query {} --output text | xargs -n1 aws fis delete-experiment-template --region {} --id",
            quote(region),
            quote(&format!(
                "experimentTemplates[?tags.\"firedrill:run\"=='{}' && tags.\"{FAULT_TAG}\"=='{}'].id",
                self.run, self.fault
            )),
            quote(region),
        ))
    }
}

/// Undo step: stop every experiment of `template` tagged with the run and fault that has
/// not ended (there is at most one; none when the start never happened).
#[derive(Serialize, Deserialize)]
pub struct StopData {
    pub template: String,
    pub run: String,
    pub fault: String,
}

impl StopData {
    /// The undo of experiment `x` if firedrill started it (tagged with a run and a fault)
    /// and it has not ended; what `recover --sweep` finds.
    pub fn of(x: &crate::aws::FisExperiment) -> Option<StopData> {
        let run = x.tags.get(crate::tags::RUN)?;
        let fault = x.tags.get(FAULT_TAG)?;
        (!x.ended() && !x.template.is_empty() && crate::tags::valid_run(run)).then(|| StopData {
            template: x.template.clone(),
            run: run.clone(),
            fault: fault.clone(),
        })
    }

    fn ours(&self, tags: &Tags) -> bool {
        tags.get(crate::tags::RUN) == Some(&self.run) && tags.get(FAULT_TAG) == Some(&self.fault)
    }
}

#[async_trait]
impl Step for StopData {
    const KEY: &'static str = STOP;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        let aws = client(aws)?;
        for x in aws.fis_experiments(Some(&self.template)).await.map_err(failed)? {
            if self.ours(&x.tags) && !x.ended() {
                aws.stop_fis_experiment(&x.id).await.map_err(failed)?;
            }
        }
        Ok(())
    }

    fn manual_fix(&self, region: &str) -> Option<String> {
        Some(format!(
            "aws fis list-experiments --region {} --experiment-template-id {} --query {} --output text | xargs -n1 aws fis stop-experiment --region {} --id",
            quote(region),
            quote(&self.template),
            quote(&format!(
                "experiments[?tags.\"firedrill:run\"=='{}' && tags.\"{FAULT_TAG}\"=='{}'].id",
                self.run, self.fault
            )),
            quote(region),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Kind;

    static ACCOUNTS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| vec!["123456789012".into()]);
    static NO_TARGETS: std::sync::LazyLock<BTreeMap<String, Target>> = std::sync::LazyLock::new(BTreeMap::new);

    /// The scope of a scenario in account 123456789012 and us-east-1 (`None`: no region).
    fn us(region: Option<&'static str>) -> Scope<'static> {
        Scope { targets: &NO_TARGETS, region, accounts: &ACCOUNTS }
    }

    #[test]
    fn template_ids_are_checked_and_tokens_are_per_run_and_fault() {
        let scope = us(None);
        let ok: FisExperimentFault =
            serde_json::from_value(serde_json::json!({"template_id": "EXT1a2b3c4d5e6f7"})).unwrap();
        assert!(Experiment::validate(&ok, "f", &scope).is_empty());
        for bad in ["", "EXT-12", "tpl-1", "EXT 1", &"E".repeat(65)] {
            let x = FisExperimentFault { template_id: Some(bad.into()), ..ok.clone() };
            let p = Experiment::validate(&x, "faults[0].fis_experiment", &scope);
            assert_eq!(p.len(), 1, "{bad:?}");
            assert_eq!(p[0].path, "faults[0].fis_experiment.template_id");
        }
        let a = client_token("20261201T100000Z-x-00ab", "fis");
        assert_eq!(a, client_token("20261201T100000Z-x-00ab", "fis"));
        assert_ne!(a, client_token("20261201T100000Z-x-00ab", "fis2"));
        assert_ne!(a, client_token("20261201T100001Z-x-00ab", "fis"));
        assert!(a.len() <= 64);
    }

    #[test]
    fn only_the_runs_experiment_is_stopped() {
        let d = StopData { template: "EXT1".into(), run: "r1".into(), fault: "f".into() };
        let tags = |run: &str, fault: &str| -> Tags {
            [(crate::tags::RUN.to_string(), run.to_string()), (FAULT_TAG.to_string(), fault.to_string())].into()
        };
        assert!(d.ours(&tags("r1", "f")));
        assert!(!d.ours(&tags("r2", "f")));
        assert!(!d.ours(&tags("r1", "g")));
        assert!(!d.ours(&Tags::new()));
    }

    fn inline(v: serde_json::Value) -> FisExperimentFault {
        serde_json::from_value(v).unwrap()
    }

    fn volumes() -> serde_json::Value {
        serde_json::json!({
            "role_arn": "arn:aws:iam::123456789012:role/fis",
            "actions": {"pause": {"actionId": "aws:ebs:pause-volume-io", "parameters": {"duration": "PT5M"}, "targets": {"Volumes": "vols"}}},
            "targets": {"vols": {"resourceType": "aws:ec2:ebs-volume", "resourceTags": {"app": "shop"},
                "filters": [{"path": "AvailabilityZone", "values": ["us-east-1a"]}], "selectionMode": "COUNT(2)"}},
        })
    }

    /// Every static problem of an inline template is found, each at its field: the form,
    /// the role, action ids and their references, and each target firedrill cannot
    /// resolve itself.
    #[test]
    fn an_inline_template_is_checked_field_by_field() {
        let scope = us(Some("us-east-1"));
        assert_eq!(Experiment::validate(&inline(volumes()), "f", &scope), vec![]);
        let paths = |v: serde_json::Value| -> Vec<String> {
            Experiment::validate(&inline(v), "f", &scope).into_iter().map(|p| p.path).collect()
        };
        let bad = serde_json::json!({
            "role_arn": "arn:aws:iam::123456789012:user/fis",
            "actions": {
                "a": {"actionId": "pause-volume-io", "targets": {"Volumes": "nope"}, "startAfter": ["a", "zz"]},
                "b": {"actionId": "aws:ecs:stop-task", "targets": {"Tasks": "tasks", "Volumes": "both", "X": "none",
                      "Y": "arn", "Z": "filter", "W": "elsewhere"}},
            },
            "targets": {
                "tasks": {"resourceType": "aws:ecs:task", "resourceTags": {"a": "b"}},
                "both": {"resourceType": "aws:ec2:instance", "resourceTags": {"a": "b"},
                         "resourceArns": ["arn:aws:ec2:us-east-1:123456789012:instance/i-1"]},
                "none": {"resourceType": "aws:ec2:instance", "selectionMode": "SOME"},
                "arn": {"resourceType": "aws:rds:cluster", "resourceArns": ["arn:aws:rds:us-east-1:123456789012:db:x"]},
                "filter": {"resourceType": "aws:iam:role", "resourceTags": {"a": "b"},
                           "filters": [{"path": "State", "values": ["x"]}, {"path": "State", "values": ["x", "y"]}]},
                "elsewhere": {"resourceType": "aws:ec2:subnet", "resourceArns": ["arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-1"]},
                "unused": {"resourceType": "aws:ec2:subnet", "resourceArns": ["arn:aws:ec2:us-east-1:123456789012:subnet/subnet-1"]},
            },
        });
        assert_eq!(
            paths(bad),
            [
                "f.role_arn",
                "f.actions.a.actionId",
                "f.actions.a.targets.Volumes",
                "f.actions.a.startAfter[0]",
                "f.actions.a.startAfter[1]",
                // aws:ecs:stop-task takes one target, under `Tasks`.
                "f.actions.b.targets.Volumes",
                "f.actions.b.targets.W",
                "f.actions.b.targets.X",
                "f.actions.b.targets.Y",
                "f.actions.b.targets.Z",
                "f.targets.arn.resourceArns[0]",
                "f.targets.both",
                "f.targets.elsewhere.resourceArns[0]",
                "f.targets.filter.filters[0].path",
                "f.targets.filter.filters[1].values",
                "f.targets.none",
                "f.targets.none.selectionMode",
                "f.targets.tasks.resourceType",
                "f.targets.unused",
            ]
        );
        // The form: one of the two, never both, never neither.
        let mut both = volumes();
        both["template_id"] = "EXT1".into();
        assert_eq!(paths(both), ["f.role_arn", "f.actions", "f.targets"]);
        assert_eq!(paths(serde_json::json!({})), ["f"]);
        let mut no_role = volumes();
        no_role.as_object_mut().unwrap().remove("role_arn");
        assert_eq!(paths(no_role), ["f.role_arn"]);
        let msg = Experiment::validate(
            &inline(serde_json::json!({"role_arn": "arn:aws:iam::123456789012:role/fis",
                "actions": {"a": {"actionId": "aws:ecs:stop-task", "targets": {"Tasks": "t"}}},
                "targets": {"t": {"resourceType": "aws:ecs:task", "resourceTags": {"a": "b"}}}})),
            "f",
            &scope,
        );
        assert!(msg[0].message.contains("firedrill cannot resolve \"aws:ecs:task\" targets itself"), "{msg:?}");
    }

    /// Every ARN an `fis_experiment` names — the role, each target's resources, an
    /// existing template given by ARN — must be in the scenario's accounts, partition and
    /// region, or validation refuses it at its field.
    #[test]
    fn every_arn_of_a_fis_experiment_is_in_the_scenarios_scope() {
        let scope = us(Some("us-east-1"));
        let check = |v: serde_json::Value| -> Vec<(String, String)> {
            Experiment::validate(&inline(v), "f", &scope).into_iter().map(|p| (p.path, p.message)).collect()
        };
        let mut v = volumes();
        v["role_arn"] = "arn:aws:iam::999999999999:role/fis".into();
        let p = check(v);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "f.role_arn");
        assert!(p[0].1.contains("account 999999999999"), "{p:?}");
        let mut v = volumes();
        v["role_arn"] = "arn:aws-us-gov:iam::123456789012:role/fis".into();
        assert!(check(v)[0].1.contains("partition `aws-us-gov`"));

        let mut v = volumes();
        v["targets"]["vols"] = serde_json::json!({"resourceType": "aws:ec2:ebs-volume", "resourceArns": [
            "arn:aws:ec2:us-east-1:123456789012:volume/vol-1",
            "arn:aws:ec2:us-east-1:999999999999:volume/vol-2",
            "arn:aws-cn:ec2:us-east-1:123456789012:volume/vol-3",
            "arn:aws:ec2:us-west-2:123456789012:volume/vol-4",
        ]});
        let p = check(v);
        let paths: Vec<&str> = p.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            ["f.targets.vols.resourceArns[1]", "f.targets.vols.resourceArns[2]", "f.targets.vols.resourceArns[3]"],
            "{p:?}"
        );

        let tpl = |id: &str| check(serde_json::json!({"template_id": id}));
        assert_eq!(tpl("arn:aws:fis:us-east-1:123456789012:experiment-template/EXT1a2b"), vec![]);
        let x = inline(
            serde_json::json!({"template_id": "arn:aws:fis:us-east-1:123456789012:experiment-template/EXT1a2b"}),
        );
        assert_eq!(x.existing(), Some("EXT1a2b"));
        for (bad, says) in [
            ("arn:aws:fis:us-east-1:999999999999:experiment-template/EXT1", "account 999999999999"),
            ("arn:aws:fis:eu-west-1:123456789012:experiment-template/EXT1", "region eu-west-1"),
            ("arn:aws:fis:us-east-1:123456789012:experiment/EXT1", "not an experiment template's ARN"),
        ] {
            let p = tpl(bad);
            assert_eq!(p.len(), 1, "{bad}: {p:?}");
            assert_eq!(p[0].0, "f.template_id");
            assert!(p[0].1.contains(says), "{bad}: {p:?}");
        }
    }

    /// Inline actions are checked against the FIS action catalogue — a known id (with the
    /// nearest one suggested), the target key and resource type it takes, its required
    /// parameters — and `startAfter` may not form a cycle; each problem at its field.
    #[test]
    fn inline_actions_are_checked_against_the_fis_catalogue() {
        let scope = us(Some("us-east-1"));
        let check = |v: serde_json::Value| -> Vec<(String, String)> {
            Experiment::validate(&inline(v), "f", &scope).into_iter().map(|p| (p.path, p.message)).collect()
        };
        let with_actions = |actions: serde_json::Value| {
            let mut v = volumes();
            v["targets"]["web"] =
                serde_json::json!({"resourceType": "aws:ec2:instance", "resourceTags": {"app": "shop"}});
            v["actions"] = actions;
            check(v)
        };
        // Known actions, well used: nothing to say.
        let ok = with_actions(serde_json::json!({
            "pause": {"actionId": "aws:ebs:pause-volume-io", "parameters": {"duration": "PT5M"}, "targets": {"Volumes": "vols"}},
            "stop": {"actionId": "aws:ec2:stop-instances", "targets": {"Instances": "web"}, "startAfter": ["pause"]},
            "wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}, "startAfter": ["stop"]},
        }));
        assert_eq!(ok, vec![]);

        let p = with_actions(serde_json::json!({
            "typo": {"actionId": "aws:ec2:stop-instance", "targets": {"Instances": "web"}},
            "vols": {"actionId": "aws:ebs:pause-volume-io", "targets": {"Volumes": "web"}},
            "key": {"actionId": "aws:ec2:stop-instances", "targets": {"Volumes": "vols"}},
            "none": {"actionId": "aws:ec2:reboot-instances"},
            "wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}, "targets": {"Instances": "web"}},
        }));
        let got: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            got,
            [
                (
                    "f.actions.key.targets.Volumes",
                    "aws:ec2:stop-instances takes its target under `Instances`, not `Volumes`"
                ),
                (
                    "f.actions.key.targets",
                    "aws:ec2:stop-instances needs its target: `Instances: <a aws:ec2:instance target of this fault>`"
                ),
                (
                    "f.actions.none.targets",
                    "aws:ec2:reboot-instances needs its target: `Instances: <a aws:ec2:instance target of this fault>`"
                ),
                (
                    "f.actions.typo.actionId",
                    "\"aws:ec2:stop-instance\" is not an AWS FIS action; did you mean `aws:ec2:stop-instances`?"
                ),
                (
                    "f.actions.vols.targets.Volumes",
                    "target `web` is \"aws:ec2:instance\"; aws:ebs:pause-volume-io acts on \"aws:ec2:ebs-volume\" targets"
                ),
                ("f.actions.vols.parameters", "aws:ebs:pause-volume-io needs the parameter `duration`"),
                ("f.actions.wait.targets", "aws:fis:wait takes no targets"),
            ]
        );
        let p = with_actions(serde_json::json!({
            "ice": {"actionId": "aws:ec2:api-insufficient-instance-capacity-error", "targets": {"Roles": "vols"}},
        }));
        assert!(
            p.iter().any(|(a, m)| a == "f.actions.ice.parameters"
                && m.ends_with("needs the parameters `duration`, `availabilityZoneIdentifiers`, `percentage`")),
            "{p:?}"
        );

        // An id far from every known one may be an action AWS added since: passed on (FIS
        // checks it); a row without checked parameters requires none; the ElastiCache rows
        // take either resource type name FIS has used.
        let p = with_actions(serde_json::json!({
            "pause": {"actionId": "aws:ebs:pause-volume-io", "parameters": {"duration": "PT5M"}, "targets": {"Volumes": "vols"}},
            "new": {"actionId": "aws:bedrock:throttle-model-invocations"},
            "lambda": {"actionId": "aws:lambda:invocation-error", "targets": {"Functions": "vols"}},
        }));
        assert_eq!(p.iter().filter(|(a, _)| a.starts_with("f.actions.new")).count(), 0, "{p:?}");
        assert!(!p.iter().any(|(a, _)| a == "f.actions.lambda.parameters"), "{p:?}");
        assert!(
            p.iter().any(|(a, m)| a == "f.actions.lambda.targets.Functions" && m.contains("aws:lambda:function")),
            "{p:?}"
        );

        // startAfter: a cycle, reported once, at the first action on it.
        let p = with_actions(serde_json::json!({
            "a": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}, "startAfter": ["c"]},
            "b": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}, "startAfter": ["a"]},
            "c": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}, "startAfter": ["b"]},
            "pause": {"actionId": "aws:ebs:pause-volume-io", "parameters": {"duration": "PT5M"}, "targets": {"Volumes": "vols"}},
            "stop": {"actionId": "aws:ec2:stop-instances", "targets": {"Instances": "web"}},
        }));
        assert_eq!(
            p,
            [(
                "f.actions.a.startAfter".to_string(),
                "`startAfter` forms a cycle: a -> c -> b -> a; FIS could never start these actions".to_string()
            )]
        );

        // ARNs in parameters: the scenario's own, or AWS's (an AWS-managed document).
        let p = with_actions(serde_json::json!({
            "pause": {"actionId": "aws:ebs:pause-volume-io", "parameters": {"duration": "PT5M"}, "targets": {"Volumes": "vols"}},
            "own": {"actionId": "aws:ssm:send-command", "targets": {"Instances": "web"},
                    "parameters": {"duration": "PT5M", "documentArn": "arn:aws:ssm:us-east-1::document/AWSFIS-Run-CPU-Stress"}},
            "other": {"actionId": "aws:ssm:send-command", "targets": {"Instances": "web"},
                      "parameters": {"duration": "PT5M", "documentArn": "arn:aws:ssm:us-east-1:999999999999:document/x"}},
        }));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "f.actions.other.parameters.documentArn");
        assert!(p[0].1.contains("account 999999999999"), "{p:?}");
    }

    /// A FIS action that destroys instances cannot go in by the back door: like
    /// `ec2_terminate_instances` it needs `irreversible: true`, and the plan says so.
    #[test]
    fn an_inline_action_that_destroys_needs_irreversible() {
        let scope = us(Some("us-east-1"));
        let mut v = serde_json::json!({"role_arn": "arn:aws:iam::123456789012:role/fis",
            "actions": {"kill": {"actionId": "aws:ec2:terminate-instances", "targets": {"Instances": "web"}}},
            "targets": {"web": {"resourceType": "aws:ec2:instance", "resourceTags": {"app": "shop"}}}});
        let msg = Experiment::validate(&inline(v.clone()), "f", &scope);
        assert_eq!(msg.len(), 1, "{msg:?}");
        assert_eq!(msg[0].path, "f.actions.kill.actionId");
        assert!(msg[0].message.contains("set `irreversible: true`"), "{msg:?}");
        v["irreversible"] = true.into();
        let x = inline(v);
        assert!(Experiment::validate(&x, "f", &scope).is_empty());
        let plan = Experiment::describe(&x, &|s| s.to_string(), None);
        assert!(plan.last().unwrap().contains("stays destroyed"), "{plan:?}");
    }

    #[test]
    fn an_inline_target_resolves_as_a_firedrill_target() {
        let x = inline(volumes());
        let t = x.targets["vols"].as_target().unwrap();
        assert_eq!(t.kind, TargetType::Ec2Volume);
        assert_eq!(t.tags, [("app".to_string(), "shop".to_string())].into());
        assert_eq!(t.filters.availability_zone.as_deref(), Some("us-east-1a"));
        assert_eq!(t.selection(), Some(crate::scenario::Selection::Count(2)));
        for (kind, arn, id) in [
            ("aws:ec2:instance", "arn:aws:ec2:us-east-1:1:instance/i-1", "i-1"),
            ("aws:iam:role", "arn:aws:iam::123456789012:role/path/app", "app"),
            (
                "aws:ec2:autoscaling-group",
                "arn:aws:autoscaling:us-east-1:1:autoScalingGroup:0f-1:autoScalingGroupName/web",
                "web",
            ),
            ("aws:rds:db", "arn:aws:rds:us-east-1:1:db:db-1", "db-1"),
        ] {
            let t = FisTarget {
                resource_type: kind.into(),
                resource_arns: vec![arn.into()],
                resource_tags: Default::default(),
                filters: vec![],
                selection_mode: Some("PERCENT(50)".into()),
            };
            let t = t.as_target().unwrap();
            assert_eq!(t.ids, [id], "{arn}");
            assert_eq!(t.selection(), Some(crate::scenario::Selection::Percent(50)));
        }
    }

    /// The template firedrill creates names exactly what it resolved, by ARN, selects all
    /// of it, is tagged with the opt-in tag, the run and the fault, and stops on the
    /// scenario's alarms (or on nothing).
    #[test]
    fn the_created_template_names_the_resolved_arns_and_is_tagged() {
        use crate::faults::fixtures::resource;
        let x = inline(volumes());
        let mut res = crate::faults::fixtures::one_target(TargetType::Ec2Volume, vec![]);
        res.targets.clear();
        res.account = "123456789012".into();
        res.opt_in_tag = Some(OptInTag { key: "firedrill".into(), value: "allowed".into() });
        let err = template("zone", "r1", &x, &res, &[]).unwrap_err();
        assert_eq!(err, "target `vols` was not resolved");
        res.targets.insert(
            resolved_name("zone", "vols"),
            crate::targets::ResolvedTarget {
                kind: TargetType::Ec2Volume,
                matched: 3,
                excluded: vec![],
                resources: vec![resource("vol-1", None, &[]), resource("vol-2", None, &[])],
            },
        );
        let t = template("zone", "r1", &x, &res, &["shop-latency".into()]).unwrap();
        assert_eq!(
            t.targets["vols"],
            (
                "aws:ec2:ebs-volume".to_string(),
                vec![
                    "arn:aws:ec2:us-east-1:123456789012:volume/vol-1".to_string(),
                    "arn:aws:ec2:us-east-1:123456789012:volume/vol-2".to_string()
                ]
            )
        );
        assert_eq!(t.tags["firedrill"], "allowed");
        assert_eq!(t.tags[crate::tags::RUN], "r1");
        assert_eq!(t.tags[FAULT_TAG], "zone");
        assert_eq!(
            t.stop_conditions,
            [(
                "aws:cloudwatch:alarm".to_string(),
                Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm:shop-latency".to_string())
            )]
        );
        assert_eq!(t.role_arn, "arn:aws:iam::123456789012:role/fis");
        assert_eq!(t.actions["pause"].targets["Volumes"], "vols");
        assert_eq!(t.token, template_token("r1", "zone"));
        assert_ne!(t.token, client_token("r1", "zone"));
        let none = template("zone", "r1", &x, &res, &[]).unwrap();
        assert_eq!(none.stop_conditions, [("none".to_string(), None)]);
        // Leased: what was resolved for it.
        assert_eq!(
            Experiment::resources(&x, &res),
            [(TargetType::Ec2Volume, "vol-1".to_string()), (TargetType::Ec2Volume, "vol-2".to_string())]
        );
        // A role or account elsewhere is refused before anything is touched.
        let mut other = x.clone();
        other.role_arn = Some("arn:aws:iam::210987654321:role/fis".into());
        assert_eq!(
            Experiment::preflight("zone", &other, &res),
            [
                "fault `zone` (fis_experiment): role arn:aws:iam::210987654321:role/fis is not in account 123456789012, where the run acts"
            ]
        );
        assert!(Experiment::preflight("zone", &x, &res).is_empty());
        // Nothing selected: no template.
        res.targets.get_mut(&resolved_name("zone", "vols")).unwrap().resources.clear();
        assert!(template("zone", "r1", &x, &res, &[]).unwrap_err().contains("selected nothing"));
    }

    #[test]
    fn an_inline_template_needs_create_pass_role_and_delete() {
        let x = inline(volumes());
        let st = Experiment::iam(&x, &[]);
        let templates = || Res::FisTemplate("*".into());
        for want in [
            stmt(
                "FisTemplates",
                &["fis:CreateExperimentTemplate", "fis:DeleteExperimentTemplate", "fis:TagResource"],
                vec![templates(), Res::FisAction("*".into())],
                false,
            ),
            stmt("PassFisRole", &["iam:PassRole"], vec![Res::Role("fis".into())], false).passed_to("fis.amazonaws.com"),
            stmt(
                "RunFisExperiments",
                &["fis:StartExperiment", "fis:StopExperiment", "fis:TagResource"],
                vec![templates(), Res::FisExperiment("*".into())],
                false,
            ),
            stmt("ListFisTemplates", &["fis:ListExperimentTemplates"], vec![Res::Any], false),
            stmt("ListFisExperiments", &["fis:ListExperiments"], vec![Res::Any], false),
        ] {
            assert!(st.contains(&want), "{want:?} not in {st:#?}");
        }
        assert_eq!(st.len(), 5, "{st:#?}");
        // An existing template needs none of them but the start's.
        let existing = Experiment::iam(&inline(serde_json::json!({"template_id": "EXT1"})), &[]);
        let text = format!("{existing:?}");
        for sid in ["FisTemplates", "PassFisRole", "RunFisExperiments", "ListFisTemplates"] {
            assert!(!text.contains(sid), "{existing:#?}");
        }
        assert_eq!(existing.len(), 4);
    }
}
