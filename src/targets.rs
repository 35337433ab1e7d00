//! Targets and guards: resolves each scenario target to concrete resources (read-only
//! AWS calls), applies the selection mode with a recorded seed, and decides — before
//! anything is injected — whether the run may touch them: the caller's account and region
//! must match `environment`, every matched resource must carry the opt-in tag, no target
//! may exceed its `max`, and an empty target fails unless `on_empty: skip`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aws::{Aws, AwsError, PrincipalKind, Selector, Tags};
use crate::scenario::{Environment, OnEmpty, Scenario, Selection, Target, TargetType};

/// One resource a target resolved to, with what the plan and the faults need to know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub id: String,
    /// The zone(s) it lives in: one for an instance, volume, subnet or RDS instance; the
    /// zones of an ASG; the writer's zone for an RDS cluster.
    pub zones: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    pub tags: Tags,
    /// Kind-specific facts: `vpc`, `multi_az`, `writer`, `attached_to`, `active_keys` (a
    /// user's active access keys), ...
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ResolvedTarget {
    pub kind: TargetType,
    /// How many resources matched the tags, ids and filters (the excluded ones not counted).
    pub matched: usize,
    /// The ids that matched but the target's `exclude` left out, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
    /// The ones selected, sorted by id.
    pub resources: Vec<Resource>,
}

/// Every target resolved, and the guard's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Resolution {
    pub account: String,
    pub region: String,
    /// Seed of the random selection (`count`/`percent`); rerun with `--seed` to repeat.
    pub seed: u64,
    pub targets: BTreeMap<String, ResolvedTarget>,
    /// Why the run must not go ahead; empty when it may.
    pub refusals: Vec<String>,
    /// The scenario's opt-in tag, journaled with every AWS undo record.
    #[serde(skip)]
    pub opt_in_tag: Option<crate::scenario::OptInTag>,
}

impl Resolution {
    pub fn ids(&self, target: &str) -> Vec<String> {
        self.targets.get(target).map(|t| t.resources.iter().map(|r| r.id.clone()).collect()).unwrap_or_default()
    }

    pub fn resources(&self, target: &str) -> &[Resource] {
        self.targets.get(target).map(|t| t.resources.as_slice()).unwrap_or_default()
    }
}

/// Resolves every target of `s` and runs the guards. AWS errors (unreachable, no
/// credentials) are returned as errors; refusals are in the result.
pub async fn resolve(aws: &Aws, s: &Scenario, seed: u64) -> Result<Resolution, AwsError> {
    let Some(env) = &s.environment else {
        return Ok(Resolution {
            account: String::new(),
            region: String::new(),
            seed,
            targets: BTreeMap::new(),
            refusals: vec![],
            opt_in_tag: None,
        });
    };
    let account = aws.account().await?;
    let mut refusals = guard_environment(env, &account, aws.region());
    let mut targets = BTreeMap::new();
    // Resolve nothing in the wrong account or region: even reads would be misleading.
    if refusals.is_empty() {
        for (name, t) in &s.targets {
            let found = find(aws, t).await?;
            let (resolved, mut r) = decide(name, t, found, env, seed);
            refusals.append(&mut r);
            targets.insert(name.clone(), resolved);
        }
        // An inline `fis_experiment` template's targets: firedrill resolves them, with the
        // same guards, and gives FIS only the ARNs it found.
        for (name, t) in crate::faults::fis::inline_targets(s) {
            let mut found = find(aws, &t).await?;
            let groups: BTreeMap<String, String> = match t.kind {
                TargetType::AutoScalingGroup => {
                    aws.groups(&selector(&t)).await?.into_iter().map(|g| (g.name, g.arn)).collect()
                }
                _ => BTreeMap::new(),
            };
            for r in &mut found {
                if let Some(arn) = groups.get(&r.id).filter(|a| !a.is_empty()) {
                    r.attrs.insert("arn".into(), arn.clone());
                }
            }
            let (resolved, mut r) = decide(&name, &t, found, env, seed);
            refusals.append(&mut r);
            targets.insert(name, resolved);
        }
    }
    Ok(Resolution {
        account,
        region: aws.region().to_string(),
        seed,
        targets,
        refusals,
        opt_in_tag: Some(env.opt_in_tag.clone()),
    })
}

/// Account and region must be the scenario's.
pub fn guard_environment(env: &Environment, account: &str, region: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !env.accounts.iter().any(|a| a == account) {
        out.push(format!(
            "account {account} is not in the scenario's environment.accounts ({}): refusing to act in it",
            env.accounts.join(", ")
        ));
    }
    if region != env.region {
        out.push(format!(
            "region {region} is not the scenario's environment.region ({}): refusing to act in it",
            env.region
        ));
    }
    out
}

/// Applies the opt-in tag guard, the selection, `max` and `on_empty` to what matched.
pub fn decide(
    name: &str,
    t: &Target,
    mut found: Vec<Resource>,
    env: &Environment,
    seed: u64,
) -> (ResolvedTarget, Vec<String>) {
    let mut refusals = Vec::new();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    let mut excluded = Vec::new();
    if let Some(x) = &t.exclude {
        found.retain(|r| {
            let out = x.excludes(&r.id, &r.tags);
            if out {
                excluded.push(r.id.clone());
            }
            !out
        });
    }
    let tag = &env.opt_in_tag;
    for r in &found {
        if r.tags.get(&tag.key) != Some(&tag.value) {
            refusals.push(format!(
                "target `{name}`: {} {} lacks the opt-in tag {}={}: refusing to touch it",
                t.kind, r.id, tag.key, tag.value
            ));
        }
    }
    for r in &found {
        for holder in crate::tags::lease_holders(&r.tags) {
            refusals.push(format!(
                "target `{name}`: {} {} is leased by run {holder} (a game day in progress, or one that died: `firedrill recover` with its state, or `firedrill recover --sweep` from anywhere, releases it)",
                t.kind, r.id
            ));
        }
    }
    let matched = found.len();
    let mut selected = select(found, t.selection().unwrap_or(Selection::All), seed_for(seed, name));
    selected.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(max) = t.max
        && selected.len() > max as usize
    {
        refusals.push(format!(
            "target `{name}`: {} resources would be hit, over its max of {max}: refusing (blast radius)",
            selected.len()
        ));
    }
    if selected.is_empty() && t.on_empty == OnEmpty::Fail {
        refusals.push(format!("target `{name}`: no {} matches (set `on_empty: skip` to run without it)", t.kind));
    }
    (ResolvedTarget { kind: t.kind, matched, excluded, resources: selected }, refusals)
}

/// Picks resources: all, `count` of them, or `percent` (rounded up) of them, at random
/// from `seed` (the same seed and resources give the same pick). Never more than exist.
pub fn select<T>(mut items: Vec<T>, mode: Selection, seed: u64) -> Vec<T> {
    let n = items.len();
    let want = match mode {
        Selection::All => return items,
        Selection::Count(c) => (c as usize).min(n),
        Selection::Percent(p) => (n * p.min(100) as usize).div_ceil(100),
    };
    // Fisher-Yates with splitmix64: small, deterministic, good enough to pick victims.
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
    items.truncate(want);
    items
}

/// Each target gets its own stream from the run's seed.
fn seed_for(seed: u64, target: &str) -> u64 {
    target.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

fn selector(t: &Target) -> Selector {
    Selector {
        tags: t.tags.clone(),
        ids: t.ids.clone(),
        zone: t.filters.availability_zone.clone(),
        state: t.filters.state.clone(),
    }
}

fn attrs<const N: usize>(pairs: [(&str, Option<String>); N]) -> BTreeMap<String, String> {
    pairs.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))).collect()
}

/// The resources matching a target's tags, ids and filters.
async fn find(aws: &Aws, t: &Target) -> Result<Vec<Resource>, AwsError> {
    let sel = selector(t);
    Ok(match t.kind {
        TargetType::Ec2Instance => aws
            .instances(&sel)
            .await?
            .into_iter()
            .map(|i| Resource {
                id: i.id,
                zones: vec![i.zone],
                state: Some(i.state),
                tags: i.tags,
                attrs: attrs([("vpc", i.vpc), ("subnet", i.subnet)]),
            })
            .collect(),
        TargetType::Ec2Volume => aws
            .volumes(&sel)
            .await?
            .into_iter()
            .map(|v| Resource {
                id: v.id,
                zones: vec![v.zone],
                state: Some(v.state),
                tags: v.tags,
                attrs: attrs([(
                    "attached_to",
                    v.attachments.first().map(|a| format!("{} as {}", a.instance, a.device)),
                )]),
            })
            .collect(),
        TargetType::Ec2Subnet => aws
            .subnets(&sel)
            .await?
            .into_iter()
            .map(|s| Resource {
                id: s.id,
                zones: vec![s.zone],
                state: None,
                tags: s.tags,
                attrs: attrs([("vpc", Some(s.vpc))]),
            })
            .collect(),
        TargetType::AutoScalingGroup => aws
            .groups(&sel)
            .await?
            .into_iter()
            .map(|g| Resource {
                attrs: attrs([("subnets", Some(g.vpc_zone_identifier.clone()))]),
                id: g.name,
                zones: g.zones,
                state: None,
                tags: g.tags,
            })
            .collect(),
        TargetType::RdsCluster => {
            let clusters = aws.db_clusters(&Selector { zone: None, ..sel.clone() }).await?;
            let mut out = Vec::new();
            for c in clusters {
                let writer = c.writer().map(str::to_string);
                let zone = match &writer {
                    Some(w) => aws
                        .db_instances(&Selector { ids: vec![w.clone()], ..Default::default() })
                        .await?
                        .first()
                        .and_then(|i| i.zone.clone()),
                    None => None,
                };
                if sel.zone.as_ref().is_some_and(|z| zone.as_ref() != Some(z)) {
                    continue;
                }
                out.push(Resource {
                    id: c.id,
                    zones: zone.into_iter().collect(),
                    state: Some(c.status),
                    tags: c.tags,
                    attrs: attrs([("writer", writer), ("members", Some(c.members.len().to_string()))]),
                });
            }
            out
        }
        TargetType::RdsInstance => aws
            .db_instances(&sel)
            .await?
            .into_iter()
            .map(|i| Resource {
                id: i.id,
                zones: i.zone.into_iter().collect(),
                state: Some(i.status),
                tags: i.tags,
                attrs: attrs([("multi_az", Some(i.multi_az.to_string())), ("cluster", i.cluster)]),
            })
            .collect(),
        TargetType::IamRole | TargetType::IamUser => {
            let kind = if t.kind == TargetType::IamRole { PrincipalKind::Role } else { PrincipalKind::User };
            let mut out = Vec::new();
            for p in aws.principals(kind, &sel).await? {
                // A user's active access keys: what revoking its credentials would act on.
                let keys = match kind {
                    PrincipalKind::User => {
                        let keys = aws.access_keys(&p.name).await?;
                        Some(keys.iter().filter(|k| k.status == "Active").count().to_string())
                    }
                    PrincipalKind::Role => None,
                };
                out.push(Resource {
                    id: p.name,
                    zones: vec![],
                    state: None,
                    tags: p.tags,
                    attrs: attrs([("arn", Some(p.arn)), ("active_keys", keys)]),
                });
            }
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::OptInTag;

    fn env() -> Environment {
        Environment {
            region: "us-east-1".into(),
            accounts: vec!["123456789012".into()],
            opt_in_tag: OptInTag { key: "firedrill".into(), value: "allowed".into() },
        }
    }

    fn res(id: &str, tagged: bool) -> Resource {
        let mut tags = Tags::new();
        if tagged {
            tags.insert("firedrill".into(), "allowed".into());
        }
        Resource { id: id.into(), zones: vec![], state: None, tags, attrs: BTreeMap::new() }
    }

    fn target(v: serde_json::Value) -> Target {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn selection_modes_stay_within_bounds_and_repeat_with_the_seed() {
        let items: Vec<u32> = (0..10).collect();
        assert_eq!(select(items.clone(), Selection::All, 1).len(), 10);
        assert_eq!(select(items.clone(), Selection::Count(3), 1).len(), 3);
        assert_eq!(select(items.clone(), Selection::Count(30), 1).len(), 10);
        assert_eq!(select(items.clone(), Selection::Percent(25), 1).len(), 3);
        assert_eq!(select(items.clone(), Selection::Percent(100), 1).len(), 10);
        assert_eq!(select(Vec::<u32>::new(), Selection::Percent(50), 1).len(), 0);
        assert_eq!(select(vec![1], Selection::Percent(1), 1), vec![1]);
        let a = select(items.clone(), Selection::Count(4), 42);
        assert_eq!(a, select(items.clone(), Selection::Count(4), 42));
        let mut uniq = a.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 4, "no resource picked twice");
        // Some seed picks a different set (the pick is random, not the first N).
        assert!((0..20).any(|s| select(items.clone(), Selection::Count(4), s) != a));
    }

    #[test]
    fn environment_guard_names_account_and_region() {
        assert!(guard_environment(&env(), "123456789012", "us-east-1").is_empty());
        let r = guard_environment(&env(), "999999999999", "eu-west-1");
        assert_eq!(r.len(), 2);
        assert!(r[0].contains("account 999999999999"), "{r:?}");
        assert!(r[1].contains("region eu-west-1"), "{r:?}");
    }

    /// `exclude` leaves resources out before any guard looks at them: a stray untagged
    /// instance excluded by id, or a bastion by tag, no longer refuses the run, is never
    /// selected, and does not count toward `max`.
    #[test]
    fn excluded_resources_are_left_out_before_the_guards() {
        let t = target(serde_json::json!({
            "type": "ec2:instance", "tags": {"app": "shop"}, "max": 2,
            "exclude": {"ids": ["i-9"], "tags": {"role": "bastion"}},
        }));
        let mut bastion = res("i-3", true);
        bastion.tags.insert("role".into(), "bastion".into());
        let mut other_role = res("i-4", true);
        other_role.tags.insert("role".into(), "web".into());
        let found = vec![res("i-9", false), bastion, res("i-1", true), other_role];
        let (r, refusals) = decide("web", &t, found, &env(), 7);
        assert!(refusals.is_empty(), "{refusals:?}");
        assert_eq!(r.resources.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["i-1", "i-4"]);
        assert_eq!(r.excluded, ["i-3", "i-9"]);
        assert_eq!(r.matched, 2);
        // Without `exclude`, the same resources are refused (untagged, over max).
        let plain = target(serde_json::json!({"type": "ec2:instance", "tags": {"app": "shop"}, "max": 2}));
        let (_, refusals) =
            decide("web", &plain, vec![res("i-9", false), res("i-1", true), res("i-4", true)], &env(), 7);
        assert_eq!(refusals.len(), 2, "{refusals:?}");
    }

    #[test]
    fn untagged_over_max_and_empty_are_refused() {
        let t = target(serde_json::json!({"type": "ec2:instance", "tags": {"app": "shop"}, "max": 2}));
        let (r, refusals) = decide("web", &t, vec![res("i-2", true), res("i-1", true)], &env(), 7);
        assert!(refusals.is_empty(), "{refusals:?}");
        assert_eq!(r.resources.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["i-1", "i-2"]);

        let (_, refusals) = decide("web", &t, vec![res("i-1", true), res("i-9", false)], &env(), 7);
        assert_eq!(refusals.len(), 1);
        assert!(refusals[0].contains("i-9 lacks the opt-in tag firedrill=allowed"), "{refusals:?}");

        let (_, refusals) = decide("web", &t, vec![res("i-1", true), res("i-2", true), res("i-3", true)], &env(), 7);
        assert!(refusals[0].contains("3 resources would be hit, over its max of 2"), "{refusals:?}");

        let (_, refusals) = decide("web", &t, vec![], &env(), 7);
        assert!(refusals[0].contains("no ec2:instance matches"), "{refusals:?}");
        let skip = target(serde_json::json!({"type": "ec2:instance", "tags": {"app": "shop"}, "on_empty": "skip"}));
        assert!(decide("web", &skip, vec![], &env(), 7).1.is_empty());
    }

    #[test]
    fn max_applies_to_the_selection_not_to_what_matched() {
        let t =
            target(serde_json::json!({"type": "ec2:instance", "tags": {"a": "b"}, "select": {"count": 2}, "max": 2}));
        let found = (0..5).map(|i| res(&format!("i-{i}"), true)).collect();
        let (r, refusals) = decide("web", &t, found, &env(), 3);
        assert!(refusals.is_empty(), "{refusals:?}");
        assert_eq!((r.matched, r.resources.len()), (5, 2));
    }

    /// Property: for any number of resources, mode and seed, the selection never exceeds
    /// what exists or was asked for, never repeats a resource, repeats with its seed, and
    /// is refused exactly when it is over `max`.
    #[test]
    fn property_selection_bounds_and_max() {
        let mut state = 7u64;
        let mut next = |below: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % below
        };
        for _ in 0..500 {
            let n = next(60) as usize;
            let (mode, json) = match next(3) {
                0 => (Selection::All, serde_json::json!("all")),
                1 => {
                    let c = 1 + next(80) as u32;
                    (Selection::Count(c), serde_json::json!({ "count": c }))
                }
                _ => {
                    let p = 1 + next(100) as u32;
                    (Selection::Percent(p), serde_json::json!({ "percent": p }))
                }
            };
            let seed = next(u64::MAX);
            let ids: Vec<String> = (0..n).map(|i| format!("i-{i:03}")).collect();
            let picked = select(ids.clone(), mode, seed);
            let want = match mode {
                Selection::All => n,
                Selection::Count(c) => (c as usize).min(n),
                Selection::Percent(p) => (n * p as usize).div_ceil(100),
            };
            assert_eq!(picked.len(), want, "{mode:?} of {n}");
            let mut uniq = picked.clone();
            uniq.sort();
            uniq.dedup();
            assert_eq!(uniq.len(), picked.len());
            assert_eq!(picked, select(ids.clone(), mode, seed));

            let max = 1 + next(40) as u32;
            let t = target(
                serde_json::json!({"type": "ec2:instance", "tags": {"a": "b"}, "select": json, "max": max, "on_empty": "skip"}),
            );
            let found = ids.iter().map(|id| res(id, true)).collect();
            let (r, refusals) = decide("t", &t, found, &env(), seed);
            assert_eq!(r.resources.len(), want);
            assert_eq!(!refusals.is_empty(), want > max as usize, "{mode:?} of {n}, max {max}: {refusals:?}");
        }
    }
}
