//! `rds_failover`: a cluster fails over (FailoverDBCluster, optionally to a named
//! instance); a Multi-AZ instance reboots with failover. A failover is its own recovery,
//! so the journal records it with nothing to undo — unless the fault asks for
//! `failback: true`: then the journal records a [`FailbackData`] step before the failover,
//! and the revert fails over again to the original writer (a cluster) or reboots with
//! failover again until the original zone is the primary's (a Multi-AZ instance). A
//! single-AZ instance is refused at plan time ([`preflight`]); a cluster without a writer,
//! or whose writer already is `to`, has nothing to fail over ([`nothing_to_fail_over`]),
//! at plan time and again at injection.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use std::collections::BTreeMap;

use super::ec2::failed;
use super::step::{Step, client, region_flag};
use super::{AwsFaultCtx, FaultContext};
use crate::aws::{Aws, Selector};
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Stmt, stmt, target_res};
use crate::scenario::{Target, TargetType};
use crate::targets::Resolution;
use crate::targets::Resource;
use crate::util::console::quote;

/// `rds_failover`.
pub struct Failover;

/// `rds_failover`: a cluster fails over (optionally to a named instance); a Multi-AZ
/// instance reboots with failover. A failover is its own recovery: nothing to revert.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsFailoverFault {
    /// An `rds:cluster` or `rds:instance` target.
    pub target: String,
    /// For a cluster: the instance to promote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// On revert, fail back: a cluster fails over again to the instance that was its
    /// writer; a Multi-AZ instance reboots with failover again until its primary is back in
    /// its original zone. Without it, a failover is its own recovery.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failback: bool,
}

/// Undo kind: fail back to the original writer (or primary zone).
pub const FAILBACK: &str = "rds_failback";

/// A cluster fails over; an instance reboots with failover.
pub fn failover_statement(t: &Target) -> Option<Stmt> {
    match t.kind {
        TargetType::RdsCluster => Some(stmt("FailOverClusters", &["rds:FailoverDBCluster"], target_res(t), true)),
        TargetType::RdsInstance => Some(stmt("FailOverInstances", &["rds:RebootDBInstance"], target_res(t), true)),
        _ => None,
    }
}

impl super::Kind for Failover {
    const KEY: &'static str = "rds_failover";
    type Config = RdsFailoverFault;
    const TARGET_TYPES: &'static [TargetType] = &[TargetType::RdsCluster, TargetType::RdsInstance];

    fn targets(x: &RdsFailoverFault) -> Vec<(String, &str)> {
        vec![("target".into(), &x.target)]
    }

    fn iam(_: &RdsFailoverFault, targets: &[&Target]) -> Vec<Stmt> {
        targets.iter().filter_map(|t| failover_statement(t)).collect()
    }

    fn describe(x: &RdsFailoverFault, ids: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        vec![
            format!(
                "inject: fail over {}{}",
                ids(&x.target),
                x.to.as_ref().map(|t| format!(" to {t}")).unwrap_or_default()
            ),
            if x.failback {
                "revert: fail back to the original writer (cluster) or primary zone (instance)".into()
            } else {
                "revert: nothing (a failover is its own recovery)".into()
            },
        ]
    }

    fn no_effect(_: &str, x: &RdsFailoverFault, res: &Resolution) -> Option<String> {
        let rs = res.resources(&x.target);
        if rs.is_empty() {
            return Some(format!("target `{}` selected nothing to fail over", x.target));
        }
        let why: Vec<String> = rs.iter().map(|r| nothing_to_fail_over(r, x.to.as_deref())).collect::<Option<_>>()?;
        Some(why.join("; "))
    }

    fn preflight(fault: &str, x: &RdsFailoverFault, res: &Resolution) -> Vec<String> {
        preflight(fault, res.resources(&x.target))
    }

    fn build(_: &str, x: &RdsFailoverFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (ctx, res) = ctx.aws()?;
        let kind = res.targets.get(&x.target).map_or(TargetType::RdsCluster, |t| t.kind);
        Some(Arc::new(Injector { ctx, kind, ids: res.ids(&x.target), to: x.to.clone(), failback: x.failback }))
    }
}

/// Why failing over `r` (a resolved `rds:cluster` or `rds:instance`) would change
/// nothing: a cluster without a writer, or whose writer already is `to`. `None` when it
/// has something to fail over (a Multi-AZ instance always has; a single-AZ one is a
/// refusal of [`preflight`]).
pub fn nothing_to_fail_over(r: &Resource, to: Option<&str>) -> Option<String> {
    if !r.attrs.contains_key("members") {
        return None;
    }
    match r.attrs.get("writer") {
        None => Some(format!("cluster {} has no writer to fail over from", r.id)),
        Some(w) if Some(w.as_str()) == to => Some(format!("{w} is already the writer of cluster {}", r.id)),
        Some(_) => None,
    }
}

pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub kind: TargetType,
    pub ids: Vec<String>,
    pub to: Option<String>,
    pub failback: bool,
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        for id in &self.ids {
            let how = How { to: self.to.as_deref(), from_zone: None, failback: self.failback };
            failover(&self.ctx, self.kind, id, how, intents).await?;
        }
        Ok(())
    }
}

/// How one failover is made.
#[derive(Clone, Copy, Debug, Default)]
pub struct How<'a> {
    /// The cluster instance to promote.
    pub to: Option<&'a str>,
    /// Only when the writer (or the primary) is in this zone (`az_outage`).
    pub from_zone: Option<&'a str>,
    /// Journal a [`FailbackData`] step, so that the revert fails back.
    pub failback: bool,
}

/// The writer of a cluster and its zone, or a Multi-AZ instance and its primary's zone, as
/// they are now; `None` when there is none (a cluster without a writer).
pub async fn current_writer(aws: &Aws, kind: TargetType, id: &str) -> Result<Option<(String, String)>, FaultError> {
    let instance = if kind == TargetType::RdsCluster {
        let sel = Selector { ids: vec![id.to_string()], ..Default::default() };
        let clusters = aws.db_clusters(&sel).await.map_err(failed)?;
        let Some(c) = clusters.iter().find(|c| c.id == id) else {
            return Err(FaultError::Failed(format!("RDS cluster {id} no longer exists")));
        };
        match c.writer() {
            Some(w) => w.to_string(),
            None => return Ok(None),
        }
    } else {
        id.to_string()
    };
    let sel = Selector { ids: vec![instance.clone()], ..Default::default() };
    let found = aws.db_instances(&sel).await.map_err(failed)?;
    let Some(i) = found.into_iter().find(|i| i.id == instance) else {
        return Err(FaultError::Failed(format!("RDS instance {instance} no longer exists")));
    };
    Ok(Some((instance, i.zone.unwrap_or_default())))
}

/// Fails one cluster or Multi-AZ instance over, journaling it first — unless, as it is
/// now, there is nothing to fail over: a cluster without a writer, a writer that already is
/// `to`, or (`from_zone`) a writer or primary outside the zone. Then it journals nothing.
pub async fn failover(
    ctx: &AwsFaultCtx,
    kind: TargetType,
    id: &str,
    how: How<'_>,
    intents: &dyn Intents,
) -> Result<(), FaultError> {
    let aws = &ctx.aws;
    let Some((writer, zone)) = current_writer(aws, kind, id).await? else { return Ok(()) };
    if how.to == Some(writer.as_str()) || how.from_zone.is_some_and(|z| z != zone) {
        return Ok(());
    }
    let is_cluster = kind == TargetType::RdsCluster;
    let record = if how.failback {
        let d = if is_cluster {
            FailbackData { cluster: Some(id.to_string()), instance: writer.clone(), zone: zone.clone() }
        } else {
            FailbackData { cluster: None, instance: id.to_string(), zone: zone.clone() }
        };
        let what = d.what();
        d.record(Some(aws.region()), what)
    } else if is_cluster {
        let to_text = how.to.map(|t| format!(" to {t}")).unwrap_or_default();
        super::nothing(format!("fail over cluster {id}{to_text} (a failover is its own recovery)"))
    } else {
        super::nothing(format!("reboot {id} with failover (a failover is its own recovery)"))
    };
    intents.intent(record).await?;
    if is_cluster {
        aws.failover_cluster(id, how.to).await.map_err(failed)?;
    } else {
        aws.reboot_with_failover(id).await.map_err(failed)?;
    }
    // For the report: where the writer (primary) is now. A failover still under way shows
    // as the request; a read that fails only leaves the report less precise.
    let now = current_writer(aws, kind, id).await.ok().flatten();
    let (what, before, after) = if is_cluster {
        let after = match now {
            Some((w, _)) if w != writer => w,
            _ => format!("(failover to {} requested)", how.to.unwrap_or("a reader")),
        };
        ("writer", writer, after)
    } else {
        let after = match now {
            Some((_, z)) if z != zone && !z.is_empty() => z,
            _ => "(failover requested)".into(),
        };
        ("primary zone", zone.clone(), after)
    };
    let name = if is_cluster { "RDS cluster" } else { "RDS instance" };
    intents.changed(crate::engine::Change {
        resource: format!("{name} {id}"),
        zone: Some(zone).filter(|z| !z.is_empty()),
        what: what.into(),
        before,
        after,
        undone_by_revert: how.failback,
    });
    Ok(())
}

/// Undo step: fail back. For a cluster, fail over again to `instance`, its writer before
/// the fault; for a Multi-AZ instance (`cluster` absent), reboot with failover again while
/// its primary is not in `zone`, where it was before the fault.
#[derive(Serialize, Deserialize)]
pub struct FailbackData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub instance: String,
    pub zone: String,
}

impl FailbackData {
    fn what(&self) -> String {
        match &self.cluster {
            Some(c) => format!("fail cluster {c} back over to {}, its writer before the fault", self.instance),
            None => format!("reboot {} with failover again, back to its primary zone {}", self.instance, self.zone),
        }
    }
}

#[async_trait]
impl Step for FailbackData {
    const KEY: &'static str = FAILBACK;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        undo_failback(client(aws)?, self).await
    }

    fn manual_fix(&self, region: &str) -> Option<String> {
        Some(match &self.cluster {
            Some(c) => format!(
                "aws rds failover-db-cluster {} --db-cluster-identifier {} --target-db-instance-identifier {}",
                region_flag(region),
                quote(c),
                quote(&self.instance)
            ),
            None => format!(
                "aws rds reboot-db-instance {} --db-instance-identifier {} --force-failover (only if its primary is not in {})",
                region_flag(region),
                quote(&self.instance),
                quote(&self.zone)
            ),
        })
    }

    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        match &self.cluster {
            Some(c) => BTreeMap::from([(TargetType::RdsCluster, vec![c.clone()])]),
            None => BTreeMap::from([(TargetType::RdsInstance, vec![self.instance.clone()])]),
        }
    }
}

/// Fails back unless the original writer already is the writer (or the primary already
/// is in its zone): idempotent, and fine when the failover never happened. An instance
/// that is not `available` (still failing over or rebooting) is retried, never rebooted
/// again mid-way.
async fn undo_failback(aws: &Aws, d: &FailbackData) -> Result<(), FaultError> {
    match &d.cluster {
        Some(c) => {
            let sel = Selector { ids: vec![c.clone()], ..Default::default() };
            let clusters = aws.db_clusters(&sel).await.map_err(failed)?;
            let Some(cl) = clusters.iter().find(|x| &x.id == c) else {
                return Err(FaultError::Conflict(format!("RDS cluster {c} no longer exists")));
            };
            if cl.writer() == Some(d.instance.as_str()) {
                return Ok(());
            }
            if !cl.members.iter().any(|(m, _)| m == &d.instance) {
                return Err(FaultError::Conflict(format!(
                    "{} is no longer a member of cluster {c}: not failed back",
                    d.instance
                )));
            }
            aws.failover_cluster(c, Some(&d.instance)).await.map_err(failed)
        }
        None => {
            let sel = Selector { ids: vec![d.instance.clone()], ..Default::default() };
            let found = aws.db_instances(&sel).await.map_err(failed)?;
            let Some(i) = found.into_iter().find(|i| i.id == d.instance) else {
                return Err(FaultError::Conflict(format!("RDS instance {} no longer exists", d.instance)));
            };
            if i.zone.as_deref() == Some(d.zone.as_str()) {
                return Ok(());
            }
            if i.status != "available" {
                return Err(FaultError::Failed(format!(
                    "RDS instance {} is {}, not available: failing back once it is",
                    d.instance, i.status
                )));
            }
            aws.reboot_with_failover(&d.instance).await.map_err(failed)
        }
    }
}

/// Refusals known from the resolved resources: failing over a single-AZ instance would be
/// an outage, not a failover.
pub fn preflight(fault: &str, resources: &[Resource]) -> Vec<String> {
    resources
        .iter()
        .filter(|r| r.attrs.get("multi_az").is_some_and(|m| m == "false") && !r.attrs.contains_key("cluster"))
        .map(|r| {
            format!(
                "fault `{fault}`: RDS instance {} is single-AZ; rebooting it with failover is impossible (make it Multi-AZ or target its cluster)",
                r.id
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(id: &str, attrs: &[(&str, &str)]) -> Resource {
        Resource {
            id: id.into(),
            zones: vec!["us-east-1a".into()],
            state: None,
            tags: Default::default(),
            attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn preflight_refuses_a_single_az_instance() {
        let rs = [
            resource("db-single", &[("multi_az", "false")]),
            resource("db-multi", &[("multi_az", "true")]),
            // A cluster member is failed over through its cluster, never rebooted.
            resource("db-member", &[("multi_az", "false"), ("cluster", "c")]),
            resource("cluster-1", &[("writer", "db-w"), ("members", "2")]),
        ];
        assert_eq!(
            preflight("f", &rs),
            [
                "fault `f`: RDS instance db-single is single-AZ; rebooting it with failover is impossible (make it Multi-AZ or target its cluster)"
            ]
        );
        assert!(preflight("f", &rs[1..]).is_empty());
    }

    fn resolution(resources: Vec<Resource>) -> Resolution {
        Resolution {
            account: "1".into(),
            region: "us-east-1".into(),
            seed: 0,
            targets: [(
                "db".to_string(),
                crate::targets::ResolvedTarget {
                    kind: TargetType::RdsCluster,
                    matched: resources.len(),
                    excluded: Vec::new(),
                    resources,
                },
            )]
            .into(),
            refusals: vec![],
            opt_in_tag: None,
        }
    }

    /// A cluster without a writer, or whose writer already is `to`, has nothing to fail
    /// over; the fault has no effect only when that holds for every selected resource.
    #[test]
    fn a_failover_has_no_effect_without_a_writer_or_to_the_writer_already() {
        use crate::faults::Kind;
        let fault =
            |to: Option<&str>| RdsFailoverFault { target: "db".into(), to: to.map(String::from), failback: false };
        let moved = resolution(vec![resource("shop-db", &[("writer", "db-2"), ("members", "2")])]);
        assert_eq!(
            Failover::no_effect("f", &fault(Some("db-2")), &moved).as_deref(),
            Some("db-2 is already the writer of cluster shop-db")
        );
        assert_eq!(Failover::no_effect("f", &fault(Some("db-1")), &moved), None);
        assert_eq!(Failover::no_effect("f", &fault(None), &moved), None);
        let headless = resolution(vec![resource("shop-db", &[("members", "1")])]);
        assert_eq!(
            Failover::no_effect("f", &fault(None), &headless).as_deref(),
            Some("cluster shop-db has no writer to fail over from")
        );
        let both =
            resolution(vec![resource("a", &[("members", "1")]), resource("b", &[("writer", "b-1"), ("members", "2")])]);
        assert_eq!(Failover::no_effect("f", &fault(None), &both), None, "b still fails over");
        // A Multi-AZ instance always has a primary to fail over.
        let multi = resolution(vec![resource("db-multi", &[("multi_az", "true")])]);
        assert_eq!(Failover::no_effect("f", &fault(None), &multi), None);
    }

    /// The failback step's manual fix and what it touches, for a cluster and an instance.
    #[test]
    fn the_failback_step_names_the_original_writer() {
        let c = FailbackData { cluster: Some("shop-db".into()), instance: "db-1".into(), zone: "us-east-1a".into() };
        assert_eq!(
            c.manual_fix("us-east-1").unwrap(),
            "aws rds failover-db-cluster --region us-east-1 --db-cluster-identifier shop-db --target-db-instance-identifier db-1"
        );
        assert_eq!(c.touched(), BTreeMap::from([(TargetType::RdsCluster, vec!["shop-db".to_string()])]));
        let i = FailbackData { cluster: None, instance: "db-m".into(), zone: "us-east-1a".into() };
        assert!(
            i.manual_fix("us-east-1")
                .unwrap()
                .contains("reboot-db-instance --region us-east-1 --db-instance-identifier db-m --force-failover")
        );
        assert_eq!(i.touched(), BTreeMap::from([(TargetType::RdsInstance, vec!["db-m".to_string()])]));
        // Without `failback`, the key is not written: existing files read and write as before.
        let x: RdsFailoverFault = serde_json::from_value(serde_json::json!({"target": "db"})).unwrap();
        assert!(!x.failback);
        assert_eq!(serde_json::to_value(&x).unwrap(), serde_json::json!({"target": "db"}));
    }
}
