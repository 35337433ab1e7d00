//! The AWS part of the scenario model: the `environment` guard and named `targets` (tag
//! selectors, filters, selection mode, blast-radius cap). Validation of these lives in
//! `validate.rs` with the rest; the AWS fault and probe kinds live in `faults/` and
//! `probes/`, one file each.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the scenario may run. firedrill refuses to touch anything unless the caller's
/// account (STS) is listed and the region matches.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The only region this scenario may act in, e.g. `us-east-1`.
    pub region: String,
    /// The only AWS account ids (12 digits) this scenario may act in. Quote them: an
    /// unquoted one is read as a number, and loses its leading zeros.
    #[serde(deserialize_with = "account_ids")]
    pub accounts: Vec<String>,
    /// Nothing without this tag is ever touched.
    pub opt_in_tag: OptInTag,
}

/// An account id as written: an unquoted `123456789012` is the id it obviously is (YAML
/// reads it as a number); one whose leading zeros YAML dropped that way (`012345678901`
/// is read as a number too) is too short, and validation says to quote it.
struct AccountId(String);

fn account_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Vec::<AccountId>::deserialize(d)?.into_iter().map(|a| a.0).collect())
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = AccountId;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a 12-digit AWS account id")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<AccountId, E> {
                Ok(AccountId(s.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<AccountId, E> {
                Ok(AccountId(n.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<AccountId, E> {
                Ok(AccountId(n.to_string()))
            }
            // YAML reads an unquoted `012345678901` as the number 12345678901 in floating
            // point: kept as the digits it holds, it is too short, and validation says to
            // quote it (any other number is refused there as not an account id).
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<AccountId, E> {
                if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n < 1e15 {
                    return Ok(AccountId((n as u64).to_string()));
                }
                Ok(AccountId(n.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptInTag {
    pub key: String,
    pub value: String,
}

/// The kinds of resources a target can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
pub enum TargetType {
    #[serde(rename = "ec2:instance")]
    Ec2Instance,
    #[serde(rename = "ec2:volume")]
    Ec2Volume,
    #[serde(rename = "ec2:subnet")]
    Ec2Subnet,
    #[serde(rename = "autoscaling:group")]
    AutoScalingGroup,
    #[serde(rename = "rds:instance")]
    RdsInstance,
    #[serde(rename = "rds:cluster")]
    RdsCluster,
    #[serde(rename = "iam:role")]
    IamRole,
    #[serde(rename = "iam:user")]
    IamUser,
}

impl TargetType {
    pub const ALL: &'static [TargetType] = &[
        TargetType::Ec2Instance,
        TargetType::Ec2Volume,
        TargetType::Ec2Subnet,
        TargetType::AutoScalingGroup,
        TargetType::RdsInstance,
        TargetType::RdsCluster,
        TargetType::IamRole,
        TargetType::IamUser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Ec2Instance => "ec2:instance",
            TargetType::Ec2Volume => "ec2:volume",
            TargetType::Ec2Subnet => "ec2:subnet",
            TargetType::AutoScalingGroup => "autoscaling:group",
            TargetType::RdsInstance => "rds:instance",
            TargetType::RdsCluster => "rds:cluster",
            TargetType::IamRole => "iam:role",
            TargetType::IamUser => "iam:user",
        }
    }

    /// Whether resources of this type live in one Availability Zone (or, for an ASG or an
    /// RDS cluster, span several) so that `filters.availability_zone` applies.
    pub fn zonal(self) -> bool {
        !matches!(self, TargetType::IamRole | TargetType::IamUser)
    }

    /// The states `filters.state` may name, if the type has any.
    pub fn states(self) -> &'static [&'static str] {
        match self {
            TargetType::Ec2Instance => &["pending", "running", "stopping", "stopped"],
            TargetType::Ec2Volume => &["available", "in-use"],
            TargetType::RdsInstance | TargetType::RdsCluster => &["available"],
            _ => &[],
        }
    }
}

impl std::fmt::Display for TargetType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named set of resources, resolved (read-only) before anything is injected.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: TargetType,
    /// Resources carrying all of these tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Or (and) exactly these resources: instance, volume or subnet ids, group, cluster,
    /// instance, role or user names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Filters::is_empty")]
    pub filters: Filters,
    /// `all` (default), `{ count: N }` or `{ percent: P }`; random picks record their seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<Select>,
    /// Resources never to touch, though they match: by id, or carrying all of these tags.
    /// An excluded resource is left out before the guards look (one stray untagged
    /// instance does not block the game day); `plan` lists what was left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Exclude>,
    /// Blast-radius cap: refuse the run if more resources than this would be hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// What to do when nothing matches: `fail` (default) or `skip`.
    #[serde(default)]
    pub on_empty: OnEmpty,
}

/// A target's `exclude`: what to leave out of what matched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exclude {
    /// These resources (ids or names, as in `ids`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Resources carrying all of these tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl Exclude {
    /// Whether a resource with this id and these tags is left out.
    pub fn excludes(&self, id: &str, tags: &BTreeMap<String, String>) -> bool {
        self.ids.iter().any(|i| i == id)
            || (!self.tags.is_empty() && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v)))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Only resources in this Availability Zone (for ASGs and RDS clusters: spanning it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Only resources in this state (`running`, `stopped`, `available`, `in-use`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.availability_zone.is_none() && self.state.is_none()
    }
}

/// `all`, `{ count: N }` or `{ percent: P }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged, expecting = "`all`, `{ count: N }` or `{ percent: P }`")]
pub enum Select {
    Word(String),
    Map(SelectMap),
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectMap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
}

/// A validated selection mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    All,
    Count(u32),
    Percent(u32),
}

impl Target {
    /// The selection mode; `None` when `select` is malformed (validation reports it).
    pub fn selection(&self) -> Option<Selection> {
        match &self.select {
            None => Some(Selection::All),
            Some(Select::Word(w)) if w == "all" => Some(Selection::All),
            Some(Select::Word(_)) => None,
            Some(Select::Map(SelectMap { count: Some(n), percent: None })) => Some(Selection::Count(*n)),
            Some(Select::Map(SelectMap { count: None, percent: Some(p) })) => Some(Selection::Percent(*p)),
            Some(Select::Map(_)) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnEmpty {
    #[default]
    Fail,
    Skip,
}
