//! Plain data that the AWS functions return and take: no SDK types leave `src/aws/`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub type Tags = BTreeMap<String, String>;

/// What to look for: resources carrying all `tags` and, if `ids` is set, only those; in
/// `zone` and `state` when set. Applied server-side where the API can.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    pub tags: Tags,
    pub ids: Vec<String>,
    pub zone: Option<String>,
    pub state: Option<String>,
}

impl Selector {
    pub fn tags_match(&self, tags: &Tags) -> bool {
        self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }

    pub fn id_matches(&self, id: &str) -> bool {
        self.ids.is_empty() || self.ids.iter().any(|i| i == id)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub state: String,
    pub zone: String,
    pub subnet: Option<String>,
    pub vpc: Option<String>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub instance: String,
    pub device: String,
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub id: String,
    /// `available`, `in-use`, ...
    pub state: String,
    pub zone: String,
    pub attachments: Vec<Attachment>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub vpc: String,
    pub zone: String,
    pub tags: Tags,
}

/// A subnet's network ACL association.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NaclAssociation {
    pub association_id: String,
    pub nacl_id: String,
    pub subnet_id: String,
}

/// One rule of a network ACL, as AWS holds it (for cloning an ACL).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NaclEntry {
    pub rule_number: i32,
    pub egress: bool,
    /// `allow` or `deny`.
    pub action: String,
    /// `-1` (all), or a protocol number (`6` TCP, `17` UDP, ...).
    pub protocol: String,
    pub cidr: Option<String>,
    pub ipv6_cidr: Option<String>,
    /// ICMP (type, code).
    pub icmp: Option<(i32, i32)>,
    /// Port range (from, to).
    pub ports: Option<(i32, i32)>,
}

/// A network ACL: its VPC and rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nacl {
    pub id: String,
    pub vpc: String,
    pub entries: Vec<NaclEntry>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInstance {
    pub id: String,
    pub zone: String,
    pub lifecycle: String,
    pub health: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    /// `AutoScalingGroupARN` (what AWS FIS names a group by).
    #[serde(default)]
    pub arn: String,
    /// `VPCZoneIdentifier` exactly as AWS returned it (comma-separated subnet ids).
    pub vpc_zone_identifier: String,
    pub zones: Vec<String>,
    pub instances: Vec<GroupInstance>,
    pub tags: Tags,
}

impl Group {
    pub fn subnets(&self) -> Vec<String> {
        self.vpc_zone_identifier.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
    }

    pub fn healthy_in_service(&self) -> usize {
        self.instances.iter().filter(|i| i.lifecycle == "InService" && i.health == "Healthy").count()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbCluster {
    pub id: String,
    pub status: String,
    /// Member instance ids with whether each is the writer.
    pub members: Vec<(String, bool)>,
    pub tags: Tags,
}

impl DbCluster {
    pub fn writer(&self) -> Option<&str> {
        self.members.iter().find(|(_, w)| *w).map(|(id, _)| id.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbInstance {
    pub id: String,
    pub status: String,
    pub zone: Option<String>,
    pub multi_az: bool,
    pub cluster: Option<String>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub name: String,
    pub arn: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    /// `Active` or `Inactive`.
    pub status: String,
}
