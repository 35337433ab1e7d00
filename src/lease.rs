//! Leases: while a run holds AWS resources it tags each with `firedrill:lease:<run id>`
//! (visible in the console), so a second run — from any machine — refuses them and names
//! the holder. Each run writes its own key, never another's, then reads the tags back and
//! goes on only if it is the sole holder: of two runs that lease a resource at the same
//! moment, the one that reads back second always sees the first, so at most one injects
//! (both stop if each sees the other). A run that stops releases its lease first.
//! The lease is journaled like any side effect: the run releases it after its last
//! revert (and keeps it if a revert failed), and `firedrill recover` releases the lease
//! of a dead run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::aws::{Aws, AwsError, PrincipalKind, Selector, Tags};
use crate::scenario::{OptInTag, TargetType};
use crate::state::journal::UndoRecord;
pub use crate::tags::{LEASE_PREFIX as PREFIX, lease_holders as holders};
use crate::targets::Resolution;

/// Undo kind: remove this run's lease tag.
pub const RELEASE: &str = "lease_release";

/// What a run leases: the selected resources of every target an AWS fault acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leased {
    pub region: String,
    pub account: String,
    pub key: String,
    /// Resource ids by target type.
    pub resources: BTreeMap<TargetType, Vec<String>>,
    /// The scenario's opt-in tag, which `recover` checks before releasing the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_in_tag: Option<OptInTag>,
}

impl Leased {
    /// The lease on `resources` (what the run's faults act on, each kind saying which of
    /// its targets' resources that is: see `faults::lease_resources`), deduplicated.
    pub fn new(
        resources: impl IntoIterator<Item = (TargetType, String)>,
        res: &Resolution,
        opt_in_tag: Option<OptInTag>,
        run_id: &str,
    ) -> Leased {
        let mut by_type: BTreeMap<TargetType, Vec<String>> = BTreeMap::new();
        for (kind, id) in resources {
            let ids = by_type.entry(kind).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        by_type.retain(|_, ids| !ids.is_empty());
        Leased {
            region: res.region.clone(),
            account: res.account.clone(),
            key: format!("{PREFIX}{run_id}"),
            resources: by_type,
            opt_in_tag,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    pub fn count(&self) -> usize {
        self.resources.values().map(Vec::len).sum()
    }

    pub fn undo_record(&self) -> UndoRecord {
        UndoRecord {
            kind: RELEASE.into(),
            description: format!("release the lease ({}) on {} resource(s)", self.key, self.count()),
            data: json!(self),
        }
    }

    /// Tags every resource with this run's lease key.
    pub async fn acquire(&self, aws: &Aws, now: &str) -> Result<(), AwsError> {
        for (kind, ids) in &self.resources {
            aws.tag(&self.account, *kind, ids, &self.key, now).await?;
        }
        Ok(())
    }

    /// The leased resources' tags as they are now (one read per type).
    pub async fn read_back(&self, aws: &Aws) -> Result<Vec<(TargetType, String, Tags)>, AwsError> {
        let mut out = Vec::new();
        for (kind, ids) in &self.resources {
            let sel = Selector { ids: ids.clone(), ..Default::default() };
            let found: Vec<(String, Tags)> = match kind {
                TargetType::Ec2Instance => {
                    aws.instances_by_id(ids).await?.into_iter().map(|i| (i.id, i.tags)).collect()
                }
                TargetType::Ec2Volume => aws.volumes(&sel).await?.into_iter().map(|v| (v.id, v.tags)).collect(),
                TargetType::Ec2Subnet => aws.subnets(&sel).await?.into_iter().map(|s| (s.id, s.tags)).collect(),
                TargetType::AutoScalingGroup => aws.groups(&sel).await?.into_iter().map(|g| (g.name, g.tags)).collect(),
                TargetType::RdsCluster => {
                    let all = Selector { ids: vec![], ..Default::default() };
                    aws.db_clusters(if ids.len() == 1 { &sel } else { &all })
                        .await?
                        .into_iter()
                        .map(|c| (c.id, c.tags))
                        .collect()
                }
                TargetType::RdsInstance => {
                    let all = Selector { ids: vec![], ..Default::default() };
                    aws.db_instances(if ids.len() == 1 { &sel } else { &all })
                        .await?
                        .into_iter()
                        .map(|i| (i.id, i.tags))
                        .collect()
                }
                TargetType::IamRole => {
                    aws.principals(PrincipalKind::Role, &sel).await?.into_iter().map(|p| (p.name, p.tags)).collect()
                }
                TargetType::IamUser => {
                    aws.principals(PrincipalKind::User, &sel).await?.into_iter().map(|p| (p.name, p.tags)).collect()
                }
            };
            out.extend(found.into_iter().filter(|(id, _)| ids.contains(id)).map(|(id, tags)| (*kind, id, tags)));
        }
        Ok(out)
    }

    /// After `acquire`: `Err` names a resource another run leased too. Any other holder
    /// stops this run, whatever the run ids: the other may have read back before this run
    /// tagged, seen itself alone and gone on, so "the earlier id wins" could let both in.
    pub fn contested(&self, current: &[(TargetType, String, Tags)], run_id: &str) -> Result<(), String> {
        for (kind, id, tags) in current {
            if let Some(other) = holders(tags).into_iter().find(|h| h != run_id) {
                return Err(format!("{kind} {id} is leased by run {other} too (leased at the same moment)"));
            }
        }
        Ok(())
    }
}

/// The AWS CLI commands that remove the lease by hand, one line per resource type.
pub fn manual_fix(l: &Leased) -> String {
    // Every value is shell-quoted (see `faults::manual_fix`): the commands paste as they are.
    use crate::util::console::quote;
    let (raw_key, raw_region) = (l.key.as_str(), l.region.as_str());
    let (key, region) = (quote(raw_key), quote(raw_region));
    let ids_q = |ids: &[String]| ids.iter().map(|i| quote(i).into_owned()).collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    for (kind, ids) in &l.resources {
        use TargetType::*;
        match kind {
            Ec2Instance | Ec2Volume | Ec2Subnet => out.push(format!(
                "aws ec2 delete-tags --region {region} --resources {} --tags {}",
                ids_q(ids),
                quote(&format!("Key={raw_key}"))
            )),
            AutoScalingGroup => out.extend(ids.iter().map(|g| {
                format!(
                    "aws autoscaling delete-tags --region {region} --tags {}",
                    quote(&format!("ResourceId={g},ResourceType=auto-scaling-group,Key={raw_key}"))
                )
            })),
            RdsCluster | RdsInstance => out.extend(ids.iter().map(|id| {
                let what = if *kind == RdsCluster { "cluster" } else { "db" };
                let arn =
                    format!("arn:{}:rds:{raw_region}:{}:{what}:{id}", crate::aws::partition(raw_region), l.account);
                format!(
                    "aws rds remove-tags-from-resource --region {region} --resource-name {} --tag-keys {key}",
                    quote(&arn)
                )
            })),
            IamRole => {
                out.extend(ids.iter().map(|n| format!("aws iam untag-role --role-name {} --tag-keys {key}", quote(n))))
            }
            IamUser => {
                out.extend(ids.iter().map(|n| format!("aws iam untag-user --user-name {} --tag-keys {key}", quote(n))))
            }
        }
    }
    out.join("\n")
}

/// Removes the lease tag (resources that are gone are skipped).
pub async fn release(aws: &Aws, l: &Leased) -> Result<(), crate::engine::FaultError> {
    for (kind, ids) in &l.resources {
        aws.untag(&l.account, *kind, ids, &l.key).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The race that "earlier run id wins" lost: run B (the later id) read back before A
    /// tagged, saw itself alone and went on; A then sees B's key and must stop although
    /// its id sorts first.
    #[test]
    fn any_other_holder_stops_the_run_whatever_the_ids() {
        let lease = Leased {
            region: "us-east-1".into(),
            account: "1".into(),
            key: format!("{PREFIX}a"),
            resources: BTreeMap::new(),
            opt_in_tag: None,
        };
        let tags = |keys: &[&str]| -> Tags { keys.iter().map(|k| (format!("{PREFIX}{k}"), "t".to_string())).collect() };
        let seen = |keys: &[&str]| vec![(TargetType::Ec2Instance, "i-1".to_string(), tags(keys))];
        assert_eq!(lease.contested(&seen(&["a"]), "a"), Ok(()));
        let later = lease.contested(&seen(&["a", "b"]), "a").unwrap_err();
        assert!(later.contains("leased by run b too"), "{later}");
        assert!(lease.contested(&seen(&["0", "b"]), "b").is_err());
    }

    #[test]
    fn the_manual_fix_names_every_leased_resource() {
        let mut resources = BTreeMap::new();
        resources.insert(TargetType::Ec2Instance, vec!["i-1".to_string(), "i-2".to_string()]);
        resources.insert(TargetType::RdsCluster, vec!["db".to_string()]);
        let l = Leased {
            region: "cn-north-1".into(),
            account: "1".into(),
            key: format!("{PREFIX}r"),
            resources,
            opt_in_tag: None,
        };
        let fix = manual_fix(&l);
        assert!(
            fix.contains("aws ec2 delete-tags --region cn-north-1 --resources i-1 i-2 --tags 'Key=firedrill:lease:r'"),
            "{fix}"
        );
        assert!(
            fix.contains("--resource-name arn:aws-cn:rds:cn-north-1:1:cluster:db --tag-keys firedrill:lease:r"),
            "{fix}"
        );
    }

    #[test]
    fn holders_are_read_from_lease_keys() {
        let tags: Tags = [
            ("firedrill".to_string(), "allowed".to_string()),
            (format!("{PREFIX}20261123T100000Z-a"), "t".into()),
            (format!("{PREFIX}20261123T090000Z-b"), "t".into()),
        ]
        .into();
        assert_eq!(holders(&tags), ["20261123T090000Z-b", "20261123T100000Z-a"]);
    }
}
