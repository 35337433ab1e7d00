//! Leases: while a run holds AWS resources it tags each with `firedrill:lease:<run id>`
//! (visible in the console), so a second run — from any machine — refuses them and names
//! the holder. Each run writes its own key, never another's, so two runs that lease the
//! same resource at the same moment both see both keys when they read back, and the
//! earlier run id wins; the other releases its lease and stops before injecting anything.
//! The lease is journaled like any side effect: the run releases it after its last
//! revert (and keeps it if a revert failed), and `firedrill recover` releases the lease
//! of a dead run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::aws::{Aws, AwsError, Tags};
use crate::journal::UndoRecord;
use crate::scenario::{Scenario, TargetType};
use crate::targets::Resolution;

pub const PREFIX: &str = "firedrill:lease:";
/// Undo kind: remove this run's lease tag.
pub const RELEASE: &str = "lease_release";

/// The run ids holding a lease in these tags.
pub fn holders(tags: &Tags) -> Vec<String> {
    tags.keys().filter_map(|k| k.strip_prefix(PREFIX)).map(str::to_string).collect()
}

/// What a run leases: the selected resources of every target an AWS fault acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leased {
    pub region: String,
    pub account: String,
    pub key: String,
    /// Resource ids by target type.
    pub resources: BTreeMap<TargetType, Vec<String>>,
}

impl Leased {
    pub fn new(s: &Scenario, res: &Resolution, run_id: &str) -> Leased {
        let mut resources: BTreeMap<TargetType, Vec<String>> = BTreeMap::new();
        for f in &s.faults {
            let Some(kind) = f.kind() else { continue };
            for t in kind.targets() {
                if let Some(rt) = res.targets.get(t) {
                    let ids = resources.entry(rt.kind).or_default();
                    for r in &rt.resources {
                        if !ids.contains(&r.id) {
                            ids.push(r.id.clone());
                        }
                    }
                }
            }
        }
        resources.retain(|_, ids| !ids.is_empty());
        Leased { region: res.region.clone(), account: res.account.clone(), key: format!("{PREFIX}{run_id}"), resources }
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

    /// After `acquire`, the other runs holding a lease on any of these resources, with
    /// the resource: `Err` names a holder whose run id sorts first (it won).
    pub fn contested(&self, current: &Resolution, run_id: &str) -> Result<(), String> {
        for t in current.targets.values() {
            for r in &t.resources {
                if !self.resources.get(&t.kind).is_some_and(|ids| ids.contains(&r.id)) {
                    continue;
                }
                if let Some(first) = holders(&r.tags).into_iter().filter(|h| h != run_id).min() {
                    if first.as_str() < run_id {
                        return Err(format!("{} {} is leased by run {first}, which started first", t.kind, r.id));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Removes the lease tag (resources that are gone are skipped).
pub async fn release(aws: &Aws, data: &serde_json::Value) -> Result<(), crate::engine::FaultError> {
    let l: Leased = crate::faults::parse(RELEASE, data)?;
    for (kind, ids) in &l.resources {
        aws.untag(&l.account, *kind, ids, &l.key).await.map_err(crate::faults::ec2::failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
