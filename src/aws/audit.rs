//! The read calls of `firedrill audit` ([`crate::audit`]): one region's estate as plain
//! data, every list call paged, nothing changed. Tags filter client-side here (several
//! of these APIs have no tag filter), so an audit reads the whole region once and keeps
//! what carries the asked tags; what a tagged resource depends on (its subnets, the NAT
//! gateways their route tables use, its instance profile's roles) is kept with it.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::tags::tags_of;
use super::{Aws, AwsError, PrincipalKind, Selector, Tags, sdk_err};

/// An EC2 instance, with what it depends on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditInstance {
    pub id: String,
    pub state: String,
    pub zone: String,
    pub subnet: Option<String>,
    /// The instance profile's name, when it has one.
    pub instance_profile: Option<String>,
    /// EBS volumes attached to it.
    pub volumes: Vec<String>,
    /// The root volume's device name (`/dev/xvda`, …).
    pub root_device: Option<String>,
    pub tags: Tags,
}

/// An Auto Scaling group with its sizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditGroup {
    pub name: String,
    pub subnets: Vec<String>,
    /// The zones of its subnets (or its `AvailabilityZones` without subnets).
    pub zones: Vec<String>,
    pub min: u32,
    pub desired: u32,
    pub max: u32,
    /// Its instances, each with its zone.
    pub instances: BTreeMap<String, String>,
    pub tags: Tags,
}

/// An Application, Network or Gateway Load Balancer (elbv2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditLoadBalancer {
    pub name: String,
    pub arn: String,
    /// `application`, `network` or `gateway`.
    pub kind: String,
    pub scheme: String,
    /// Subnet id → its zone.
    pub subnets: BTreeMap<String, String>,
    pub tags: Tags,
}

/// An RDS instance (a member of an Aurora cluster names it in `cluster`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditDbInstance {
    pub id: String,
    pub engine: String,
    pub zone: Option<String>,
    /// The standby's zone of a Multi-AZ instance, when AWS says it.
    pub secondary_zone: Option<String>,
    pub multi_az: bool,
    pub cluster: Option<String>,
    pub tags: Tags,
}

/// An Aurora (or Multi-AZ DB) cluster and its members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditDbCluster {
    pub id: String,
    pub engine: String,
    pub multi_az: bool,
    pub members: Vec<AuditClusterMember>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditClusterMember {
    pub id: String,
    pub writer: bool,
    /// From the member instance (null when it could not be read).
    pub zone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditVolume {
    pub id: String,
    pub zone: String,
    pub state: String,
    /// Instance it is attached to → device name.
    pub attached_to: BTreeMap<String, String>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditSubnet {
    pub id: String,
    pub vpc: String,
    pub zone: String,
    /// The route table it uses (its own association, else the VPC's main table).
    pub route_table: Option<String>,
    /// NAT gateways its route table sends traffic to.
    pub nat_gateways: Vec<String>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditNatGateway {
    pub id: String,
    pub state: String,
    pub subnet: String,
    pub zone: String,
    /// Route tables with a route through it.
    pub route_tables: Vec<String>,
    pub tags: Tags,
}

/// An ElastiCache replication group and the zones of its nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditCache {
    pub id: String,
    pub automatic_failover: bool,
    pub multi_az: bool,
    pub nodes: Vec<AuditCacheNode>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditCacheNode {
    pub id: String,
    pub zone: Option<String>,
    /// `primary`, `replica`, or empty when AWS does not say.
    pub role: String,
}

/// A CloudWatch metric or composite alarm and who it tells.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditAlarm {
    pub name: String,
    pub arn: String,
    pub actions_enabled: bool,
    pub alarm_actions: Vec<String>,
    /// Dimension values (instance ids, group names, …): what it watches.
    pub watches: Vec<String>,
    pub tags: Tags,
}

/// An IAM role or user and what firedrill audits of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditPrincipal {
    pub name: String,
    pub arn: String,
    /// Policies (inline `inline:NAME`, managed by ARN) with `"Action": "*"` on
    /// `"Resource": "*"` in an Allow statement.
    pub wildcard_policies: Vec<String>,
    /// Access keys (users only).
    pub access_keys: Vec<AuditAccessKey>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditAccessKey {
    pub id: String,
    pub status: String,
    /// Seconds since the Unix epoch.
    pub created: Option<i64>,
}

fn u32_of(v: Option<i32>) -> u32 {
    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

impl Aws {
    /// Instances (not terminated) with their instance profile and volumes.
    pub async fn audit_instances(&self) -> Result<Vec<AuditInstance>, AwsError> {
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("instance-state-name")
            .set_values(Some(["pending", "running", "stopping", "stopped"].map(String::from).to_vec()))
            .build();
        let mut out = Vec::new();
        let mut pages = self.ec2.describe_instances().filters(filter).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ec2:DescribeInstances", e))?;
            for i in page.reservations().iter().flat_map(|r| r.instances()) {
                let profile = i.iam_instance_profile().and_then(|p| p.arn()).map(|arn| {
                    // arn:aws:iam::ACCOUNT:instance-profile/PATH/NAME → NAME
                    arn.rsplit('/').next().unwrap_or(arn).to_string()
                });
                out.push(AuditInstance {
                    id: i.instance_id().unwrap_or_default().to_string(),
                    state: i.state().and_then(|s| s.name()).map(|n| n.as_str().to_string()).unwrap_or_default(),
                    zone: i.placement().and_then(|p| p.availability_zone()).unwrap_or_default().to_string(),
                    subnet: i.subnet_id().map(str::to_string),
                    instance_profile: profile,
                    volumes: i
                        .block_device_mappings()
                        .iter()
                        .filter_map(|b| b.ebs().and_then(|e| e.volume_id()).map(str::to_string))
                        .collect(),
                    root_device: i.root_device_name().map(str::to_string),
                    tags: tags_of(i.tags()),
                });
            }
        }
        Ok(out)
    }

    pub async fn audit_volumes(&self) -> Result<Vec<AuditVolume>, AwsError> {
        Ok(self
            .volumes(&Selector::default())
            .await?
            .into_iter()
            .map(|v| AuditVolume {
                attached_to: v.attachments.iter().map(|a| (a.instance.clone(), a.device.clone())).collect(),
                id: v.id,
                zone: v.zone,
                state: v.state,
                tags: v.tags,
            })
            .collect())
    }

    /// Auto Scaling groups with their sizes; `zones` from the subnets' zones in `subnet_zone`.
    pub async fn audit_groups(&self, subnet_zone: &BTreeMap<String, String>) -> Result<Vec<AuditGroup>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self.asg.describe_auto_scaling_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("autoscaling:DescribeAutoScalingGroups", e))?;
            for g in page.auto_scaling_groups() {
                let subnets: Vec<String> = g
                    .vpc_zone_identifier()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                let zones: BTreeSet<String> = if subnets.is_empty() {
                    g.availability_zones().iter().cloned().collect()
                } else {
                    subnets.iter().filter_map(|s| subnet_zone.get(s).cloned()).collect()
                };
                out.push(AuditGroup {
                    name: g.auto_scaling_group_name().unwrap_or_default().to_string(),
                    subnets,
                    zones: zones.into_iter().collect(),
                    min: u32_of(g.min_size()),
                    desired: u32_of(g.desired_capacity()),
                    max: u32_of(g.max_size()),
                    instances: g
                        .instances()
                        .iter()
                        .map(|i| {
                            (
                                i.instance_id().unwrap_or_default().to_string(),
                                i.availability_zone().unwrap_or_default().to_string(),
                            )
                        })
                        .collect(),
                    tags: tags_of(g.tags()),
                });
            }
        }
        Ok(out)
    }

    /// Subnets with the route table each uses and the NAT gateways it routes through,
    /// and every NAT gateway with the route tables that use it.
    pub async fn audit_network(&self) -> Result<(Vec<AuditSubnet>, Vec<AuditNatGateway>), AwsError> {
        let subnets = self.subnets(&Selector::default()).await?;
        // Route tables: explicit subnet associations, each VPC's main table, and NAT routes.
        let mut explicit: BTreeMap<String, String> = BTreeMap::new();
        let mut main: BTreeMap<String, String> = BTreeMap::new();
        let mut nat_of_table: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut pages = self.ec2.describe_route_tables().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ec2:DescribeRouteTables", e))?;
            for t in page.route_tables() {
                let id = t.route_table_id().unwrap_or_default().to_string();
                for a in t.associations() {
                    if let Some(s) = a.subnet_id() {
                        explicit.insert(s.to_string(), id.clone());
                    }
                    if a.main() == Some(true) {
                        main.insert(t.vpc_id().unwrap_or_default().to_string(), id.clone());
                    }
                }
                let nats: BTreeSet<String> =
                    t.routes().iter().filter_map(|r| r.nat_gateway_id()).map(str::to_string).collect();
                nat_of_table.insert(id, nats.into_iter().collect());
            }
        }
        let zone_of: BTreeMap<&str, &str> = subnets.iter().map(|s| (s.id.as_str(), s.zone.as_str())).collect();
        let mut nats = Vec::new();
        let mut pages = self.ec2.describe_nat_gateways().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ec2:DescribeNatGateways", e))?;
            for n in page.nat_gateways() {
                let state = n.state().map(|s| s.as_str().to_string()).unwrap_or_default();
                if state == "deleted" || state == "deleting" {
                    continue;
                }
                let id = n.nat_gateway_id().unwrap_or_default().to_string();
                let subnet = n.subnet_id().unwrap_or_default().to_string();
                nats.push(AuditNatGateway {
                    zone: zone_of.get(subnet.as_str()).map(|z| z.to_string()).unwrap_or_default(),
                    route_tables: nat_of_table
                        .iter()
                        .filter(|(_, n)| n.contains(&id))
                        .map(|(t, _)| t.clone())
                        .collect(),
                    id,
                    state,
                    subnet,
                    tags: tags_of(n.tags()),
                });
            }
        }
        let out = subnets
            .into_iter()
            .map(|s| {
                let table = explicit.get(&s.id).or_else(|| main.get(&s.vpc)).cloned();
                AuditSubnet {
                    nat_gateways: table.as_ref().and_then(|t| nat_of_table.get(t)).cloned().unwrap_or_default(),
                    route_table: table,
                    id: s.id,
                    vpc: s.vpc,
                    zone: s.zone,
                    tags: s.tags,
                }
            })
            .collect();
        Ok((out, nats))
    }

    /// Load balancers (elbv2) with their subnets and tags (DescribeTags, 20 ARNs a call).
    pub async fn audit_load_balancers(&self) -> Result<Vec<AuditLoadBalancer>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self.elb.describe_load_balancers().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("elasticloadbalancing:DescribeLoadBalancers", e))?;
            for lb in page.load_balancers() {
                out.push(AuditLoadBalancer {
                    name: lb.load_balancer_name().unwrap_or_default().to_string(),
                    arn: lb.load_balancer_arn().unwrap_or_default().to_string(),
                    kind: lb.r#type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                    scheme: lb.scheme().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    subnets: lb
                        .availability_zones()
                        .iter()
                        .map(|z| {
                            (
                                z.subnet_id().unwrap_or_default().to_string(),
                                z.zone_name().unwrap_or_default().to_string(),
                            )
                        })
                        .collect(),
                    tags: Tags::new(),
                });
            }
        }
        for chunk in out.chunks_mut(20) {
            let arns: Vec<String> = chunk.iter().map(|l| l.arn.clone()).collect();
            let tags = self
                .elb
                .describe_tags()
                .set_resource_arns(Some(arns))
                .send()
                .await
                .map_err(|e| sdk_err("elasticloadbalancing:DescribeTags", e))?;
            for d in tags.tag_descriptions() {
                if let Some(lb) = chunk.iter_mut().find(|l| Some(l.arn.as_str()) == d.resource_arn()) {
                    lb.tags = tags_of(d.tags());
                }
            }
        }
        Ok(out)
    }

    /// RDS instances and clusters; a cluster member's zone is its instance's.
    pub async fn audit_databases(&self) -> Result<(Vec<AuditDbInstance>, Vec<AuditDbCluster>), AwsError> {
        let mut instances = Vec::new();
        let mut pages = self.rds.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("rds:DescribeDBInstances", e))?;
            for i in page.db_instances() {
                instances.push(AuditDbInstance {
                    id: i.db_instance_identifier().unwrap_or_default().to_string(),
                    engine: i.engine().unwrap_or_default().to_string(),
                    zone: i.availability_zone().map(str::to_string),
                    secondary_zone: i.secondary_availability_zone().map(str::to_string),
                    multi_az: i.multi_az().unwrap_or(false),
                    cluster: i.db_cluster_identifier().map(str::to_string),
                    tags: tags_of(i.tag_list()),
                });
            }
        }
        let mut clusters = Vec::new();
        let mut pages = self.rds.describe_db_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("rds:DescribeDBClusters", e))?;
            for c in page.db_clusters() {
                clusters.push(AuditDbCluster {
                    id: c.db_cluster_identifier().unwrap_or_default().to_string(),
                    engine: c.engine().unwrap_or_default().to_string(),
                    multi_az: c.multi_az().unwrap_or(false),
                    members: c
                        .db_cluster_members()
                        .iter()
                        .map(|m| {
                            let id = m.db_instance_identifier().unwrap_or_default().to_string();
                            let zone = instances.iter().find(|i| i.id == id).and_then(|i| i.zone.clone());
                            AuditClusterMember { writer: m.is_cluster_writer().unwrap_or(false), id, zone }
                        })
                        .collect(),
                    tags: tags_of(c.tag_list()),
                });
            }
        }
        Ok((instances, clusters))
    }

    /// ElastiCache replication groups with their nodes' zones and tags.
    pub async fn audit_caches(&self) -> Result<Vec<AuditCache>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self.elasticache.describe_replication_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("elasticache:DescribeReplicationGroups", e))?;
            for g in page.replication_groups() {
                let tags = match g.arn() {
                    Some(arn) => tags_of(
                        self.elasticache
                            .list_tags_for_resource()
                            .resource_name(arn)
                            .send()
                            .await
                            .map_err(|e| sdk_err("elasticache:ListTagsForResource", e))?
                            .tag_list(),
                    ),
                    None => Tags::new(),
                };
                out.push(AuditCache {
                    id: g.replication_group_id().unwrap_or_default().to_string(),
                    automatic_failover: g.automatic_failover().is_some_and(|a| a.as_str() == "enabled"),
                    multi_az: g.multi_az().is_some_and(|m| m.as_str() == "enabled"),
                    nodes: g
                        .node_groups()
                        .iter()
                        .flat_map(|n| n.node_group_members())
                        .map(|m| AuditCacheNode {
                            id: m.cache_cluster_id().unwrap_or_default().to_string(),
                            zone: m.preferred_availability_zone().map(str::to_string),
                            role: m.current_role().unwrap_or_default().to_string(),
                        })
                        .collect(),
                    tags,
                });
            }
        }
        Ok(out)
    }

    /// Metric and composite alarms with their actions, what they watch and their tags.
    pub async fn audit_alarms(&self) -> Result<Vec<AuditAlarm>, AwsError> {
        let described = self.described_alarms(None).await?;
        let mut out: Vec<AuditAlarm> = described
            .into_iter()
            .map(|a| AuditAlarm {
                name: a.name.unwrap_or_default(),
                arn: a.arn.unwrap_or_default(),
                actions_enabled: a.actions_enabled.unwrap_or(false),
                alarm_actions: a.alarm_actions,
                watches: a.dimensions,
                tags: Tags::new(),
            })
            .collect();
        for a in out.iter_mut().filter(|a| !a.arn.is_empty()) {
            let tags = self
                .cw
                .list_tags_for_resource()
                .resource_arn(&a.arn)
                .send()
                .await
                .map_err(|e| sdk_err("cloudwatch:ListTagsForResource", e))?;
            a.tags = tags_of(tags.tags());
        }
        Ok(out)
    }

    /// The roles of an instance profile (none when it no longer exists).
    pub async fn instance_profile_roles(&self, profile: &str) -> Result<Vec<String>, AwsError> {
        match self.iam.get_instance_profile().instance_profile_name(profile).send().await {
            Ok(o) => Ok(o
                .instance_profile()
                .map(|p| p.roles().iter().map(|r| r.role_name().to_string()).collect())
                .unwrap_or_default()),
            Err(e) => {
                let e = sdk_err("iam:GetInstanceProfile", e);
                if e.is_not_found() { Ok(Vec::new()) } else { Err(e) }
            }
        }
    }

    /// Roles (`kind` Role) or users with these names, and (when `tags` is given) those
    /// carrying all of them, each with its wildcard policies and (users) access keys.
    pub async fn audit_principals(
        &self,
        kind: PrincipalKind,
        names: &BTreeSet<String>,
        tags: Option<&Tags>,
    ) -> Result<Vec<AuditPrincipal>, AwsError> {
        let mut found = match tags {
            Some(t) => self.principals(kind, &Selector { tags: t.clone(), ..Default::default() }).await?,
            None => Vec::new(),
        };
        let missing: Vec<String> = names.iter().filter(|n| !found.iter().any(|p| &p.name == *n)).cloned().collect();
        if !missing.is_empty() {
            found.extend(self.principals(kind, &Selector { ids: missing, ..Default::default() }).await?);
        }
        let mut out = Vec::new();
        for p in found {
            let wildcard_policies = self.wildcard_policies(kind, &p.name).await?;
            let access_keys = match kind {
                PrincipalKind::User => self.audit_access_keys(&p.name).await?,
                PrincipalKind::Role => Vec::new(),
            };
            out.push(AuditPrincipal { name: p.name, arn: p.arn, wildcard_policies, access_keys, tags: p.tags });
        }
        Ok(out)
    }

    async fn audit_access_keys(&self, user: &str) -> Result<Vec<AuditAccessKey>, AwsError> {
        let out =
            self.iam.list_access_keys().user_name(user).send().await.map_err(|e| sdk_err("iam:ListAccessKeys", e))?;
        Ok(out
            .access_key_metadata()
            .iter()
            .map(|k| AuditAccessKey {
                id: k.access_key_id().unwrap_or_default().to_string(),
                status: k.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                created: k.create_date().map(|d| d.secs()),
            })
            .collect())
    }

    /// The inline and attached policies of a role or user that allow `*` on `*`.
    async fn wildcard_policies(&self, kind: PrincipalKind, name: &str) -> Result<Vec<String>, AwsError> {
        let mut docs: Vec<(String, String)> = Vec::new();
        let mut attached: Vec<String> = Vec::new();
        match kind {
            PrincipalKind::Role => {
                let names = self
                    .iam
                    .list_role_policies()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(|e| sdk_err("iam:ListRolePolicies", e))?;
                for p in names.policy_names() {
                    let d = self
                        .iam
                        .get_role_policy()
                        .role_name(name)
                        .policy_name(p)
                        .send()
                        .await
                        .map_err(|e| sdk_err("iam:GetRolePolicy", e))?;
                    docs.push((format!("inline:{p}"), d.policy_document().to_string()));
                }
                let a = self
                    .iam
                    .list_attached_role_policies()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(|e| sdk_err("iam:ListAttachedRolePolicies", e))?;
                attached.extend(a.attached_policies().iter().filter_map(|p| p.policy_arn()).map(str::to_string));
            }
            PrincipalKind::User => {
                let names = self
                    .iam
                    .list_user_policies()
                    .user_name(name)
                    .send()
                    .await
                    .map_err(|e| sdk_err("iam:ListUserPolicies", e))?;
                for p in names.policy_names() {
                    let d = self
                        .iam
                        .get_user_policy()
                        .user_name(name)
                        .policy_name(p)
                        .send()
                        .await
                        .map_err(|e| sdk_err("iam:GetUserPolicy", e))?;
                    docs.push((format!("inline:{p}"), d.policy_document().to_string()));
                }
                let a = self
                    .iam
                    .list_attached_user_policies()
                    .user_name(name)
                    .send()
                    .await
                    .map_err(|e| sdk_err("iam:ListAttachedUserPolicies", e))?;
                attached.extend(a.attached_policies().iter().filter_map(|p| p.policy_arn()).map(str::to_string));
            }
        }
        for arn in attached {
            let p = self.iam.get_policy().policy_arn(&arn).send().await.map_err(|e| sdk_err("iam:GetPolicy", e))?;
            let Some(version) = p.policy().and_then(|p| p.default_version_id()) else { continue };
            let v = self
                .iam
                .get_policy_version()
                .policy_arn(&arn)
                .version_id(version)
                .send()
                .await
                .map_err(|e| sdk_err("iam:GetPolicyVersion", e))?;
            if let Some(doc) = v.policy_version().and_then(|v| v.document()) {
                docs.push((arn, doc.to_string()));
            }
        }
        Ok(docs.into_iter().filter(|(_, d)| allows_everything(d)).map(|(n, _)| n).collect())
    }
}

/// Whether a policy document (as IAM returns it: URL-encoded JSON, or plain JSON) has an
/// Allow statement with `"Action": "*"` on `"Resource": "*"`. A document that cannot be
/// read counts as not.
pub fn allows_everything(document: &str) -> bool {
    let text = if document.trim_start().starts_with('{') { document.to_string() } else { percent_decode(document) };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(s)) => s.clone(),
        Some(s) => vec![s.clone()],
        None => return false,
    };
    let star = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s == "*",
        Some(serde_json::Value::Array(a)) => a.iter().any(|x| x.as_str() == Some("*")),
        _ => false,
    };
    statements.iter().any(|s| {
        s.get("Effect").and_then(|e| e.as_str()) == Some("Allow") && star(s.get("Action")) && star(s.get("Resource"))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_policies_are_allow_star_on_star_in_any_encoding() {
        let plain = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        assert!(allows_everything(plain));
        let encoded = "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22*%22%5D%2C%22Resource%22%3A%22*%22%7D%7D";
        assert!(allows_everything(encoded));
        for narrow in [
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/*"}]}"#,
            r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            "not json",
        ] {
            assert!(!allows_everything(narrow), "{narrow}");
        }
    }
}
