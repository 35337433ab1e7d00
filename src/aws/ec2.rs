//! EC2: instances, volumes, subnets and network ACLs. Describe calls filter server-side
//! and page; state-changing calls take many ids at once, in batches of [`BATCH`].

use aws_sdk_ec2::types::{Filter, IcmpTypeCode, PortRange, ResourceType, RuleAction, Tag, TagSpecification};

use super::tags::tags_of;
use super::{
    Attachment, Aws, AwsError, Instance, Nacl, NaclAssociation, NaclEntry, Selector, Subnet, Tags, Volume, sdk_err,
};

/// Ids per StopInstances/StartInstances/... call.
pub const BATCH: usize = 1000;
/// Instances per DescribeInstances page: small enough that one page's XML and its parsed
/// form stay a few MB (measured: 1000 per page cost ~9 MB of peak RSS), large enough to
/// keep the call count low.
const PAGE: i32 = 200;

fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    Filter::builder().name(name).set_values(Some(values.into_iter().map(Into::into).collect())).build()
}

fn tag_filters(sel: &Selector) -> Vec<Filter> {
    sel.tags.iter().map(|(k, v)| filter(&format!("tag:{k}"), [v.clone()])).collect()
}

impl Aws {
    /// Instances matching `sel` (server-side filters; every page).
    pub async fn instances(&self, sel: &Selector) -> Result<Vec<Instance>, AwsError> {
        let mut filters = tag_filters(sel);
        if !sel.ids.is_empty() {
            filters.push(filter("instance-id", sel.ids.clone()));
        }
        if let Some(z) = &sel.zone {
            filters.push(filter("availability-zone", [z.clone()]));
        }
        match &sel.state {
            Some(s) => filters.push(filter("instance-state-name", [s.clone()])),
            // Terminated instances linger in answers for an hour; they are never targets.
            None => filters.push(filter("instance-state-name", ["pending", "running", "stopping", "stopped"])),
        }
        self.describe_instances(filters).await
    }

    /// The current state of these instances, whatever their state (terminated included).
    pub async fn instances_by_id(&self, ids: &[String]) -> Result<Vec<Instance>, AwsError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(BATCH) {
            let filters = vec![
                filter("instance-id", chunk.to_vec()),
                filter(
                    "instance-state-name",
                    ["pending", "running", "stopping", "stopped", "shutting-down", "terminated"],
                ),
            ];
            out.extend(self.describe_instances(filters).await?);
        }
        Ok(out)
    }

    async fn describe_instances(&self, filters: Vec<Filter>) -> Result<Vec<Instance>, AwsError> {
        let mut out = Vec::new();
        let mut pages =
            self.ec2.describe_instances().set_filters(Some(filters)).max_results(PAGE).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ec2:DescribeInstances", e))?;
            for i in page.reservations().iter().flat_map(|r| r.instances()) {
                out.push(Instance {
                    id: i.instance_id().unwrap_or_default().to_string(),
                    state: i.state().and_then(|s| s.name()).map(|n| n.as_str().to_string()).unwrap_or_default(),
                    zone: i.placement().and_then(|p| p.availability_zone()).unwrap_or_default().to_string(),
                    subnet: i.subnet_id().map(str::to_string),
                    vpc: i.vpc_id().map(str::to_string),
                    tags: tags_of(i.tags()),
                });
            }
        }
        Ok(out)
    }

    pub async fn stop_instances(&self, ids: &[String]) -> Result<(), AwsError> {
        for chunk in ids.chunks(BATCH) {
            self.ec2
                .stop_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sdk_err("ec2:StopInstances", e))?;
        }
        Ok(())
    }

    pub async fn start_instances(&self, ids: &[String]) -> Result<(), AwsError> {
        for chunk in ids.chunks(BATCH) {
            self.ec2
                .start_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sdk_err("ec2:StartInstances", e))?;
        }
        Ok(())
    }

    pub async fn reboot_instances(&self, ids: &[String]) -> Result<(), AwsError> {
        for chunk in ids.chunks(BATCH) {
            self.ec2
                .reboot_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sdk_err("ec2:RebootInstances", e))?;
        }
        Ok(())
    }

    pub async fn terminate_instances(&self, ids: &[String]) -> Result<(), AwsError> {
        for chunk in ids.chunks(BATCH) {
            self.ec2
                .terminate_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sdk_err("ec2:TerminateInstances", e))?;
        }
        Ok(())
    }

    pub async fn volumes(&self, sel: &Selector) -> Result<Vec<Volume>, AwsError> {
        let mut filters = tag_filters(sel);
        if !sel.ids.is_empty() {
            filters.push(filter("volume-id", sel.ids.clone()));
        }
        if let Some(z) = &sel.zone {
            filters.push(filter("availability-zone", [z.clone()]));
        }
        if let Some(s) = &sel.state {
            filters.push(filter("status", [s.clone()]));
        }
        let mut out = Vec::new();
        let mut pages = self.ec2.describe_volumes().set_filters(Some(filters)).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ec2:DescribeVolumes", e))?;
            for v in page.volumes() {
                out.push(Volume {
                    id: v.volume_id().unwrap_or_default().to_string(),
                    state: v.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    zone: v.availability_zone().unwrap_or_default().to_string(),
                    attachments: v
                        .attachments()
                        .iter()
                        .map(|a| Attachment {
                            instance: a.instance_id().unwrap_or_default().to_string(),
                            device: a.device().unwrap_or_default().to_string(),
                            state: a.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                        })
                        .collect(),
                    tags: tags_of(v.tags()),
                });
            }
        }
        Ok(out)
    }

    /// One volume, or `None` if it no longer exists.
    pub async fn volume(&self, id: &str) -> Result<Option<Volume>, AwsError> {
        let sel = Selector { ids: vec![id.to_string()], ..Default::default() };
        match self.volumes(&sel).await {
            Ok(mut v) => Ok(v.pop()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn detach_volume(&self, volume: &str, instance: &str, force: bool) -> Result<(), AwsError> {
        self.ec2
            .detach_volume()
            .volume_id(volume)
            .instance_id(instance)
            .force(force)
            .send()
            .await
            .map_err(|e| sdk_err("ec2:DetachVolume", e))?;
        Ok(())
    }

    pub async fn attach_volume(&self, volume: &str, instance: &str, device: &str) -> Result<(), AwsError> {
        self.ec2
            .attach_volume()
            .volume_id(volume)
            .instance_id(instance)
            .device(device)
            .send()
            .await
            .map_err(|e| sdk_err("ec2:AttachVolume", e))?;
        Ok(())
    }

    pub async fn subnets(&self, sel: &Selector) -> Result<Vec<Subnet>, AwsError> {
        let mut filters = tag_filters(sel);
        if !sel.ids.is_empty() {
            filters.push(filter("subnet-id", sel.ids.clone()));
        }
        if let Some(z) = &sel.zone {
            filters.push(filter("availability-zone", [z.clone()]));
        }
        let mut out = Vec::new();
        let mut pages = self.ec2.describe_subnets().set_filters(Some(filters)).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ec2:DescribeSubnets", e))?;
            for s in page.subnets() {
                out.push(Subnet {
                    id: s.subnet_id().unwrap_or_default().to_string(),
                    vpc: s.vpc_id().unwrap_or_default().to_string(),
                    zone: s.availability_zone().unwrap_or_default().to_string(),
                    tags: tags_of(s.tags()),
                });
            }
        }
        Ok(out)
    }

    /// The network ACL associations of these subnets (every subnet has exactly one).
    pub async fn nacl_associations(&self, subnets: &[String]) -> Result<Vec<NaclAssociation>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self
            .ec2
            .describe_network_acls()
            .filters(filter("association.subnet-id", subnets.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ec2:DescribeNetworkAcls", e))?;
            for acl in page.network_acls() {
                for a in acl.associations() {
                    let subnet = a.subnet_id().unwrap_or_default();
                    if subnets.iter().any(|s| s == subnet) {
                        out.push(NaclAssociation {
                            association_id: a.network_acl_association_id().unwrap_or_default().to_string(),
                            nacl_id: acl.network_acl_id().unwrap_or_default().to_string(),
                            subnet_id: subnet.to_string(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Creates a network ACL in `vpc` with only the implicit deny-all rules, tagged.
    pub async fn create_deny_all_nacl(&self, vpc: &str, tags: &Tags) -> Result<String, AwsError> {
        let spec = TagSpecification::builder()
            .resource_type(ResourceType::NetworkAcl)
            .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .build();
        let out = self
            .ec2
            .create_network_acl()
            .vpc_id(vpc)
            .tag_specifications(spec)
            .send()
            .await
            .map_err(|e| sdk_err("ec2:CreateNetworkAcl", e))?;
        out.network_acl()
            .and_then(|a| a.network_acl_id())
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("ec2:CreateNetworkAcl", "the answer has no network ACL id"))
    }

    /// Network ACL ids carrying tag `key` = `value`, with the subnets still associated.
    pub async fn nacls_tagged(&self, key: &str, value: &str) -> Result<Vec<(String, Vec<String>)>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self
            .ec2
            .describe_network_acls()
            .filters(filter(&format!("tag:{key}"), [value.to_string()]))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ec2:DescribeNetworkAcls", e))?;
            for acl in page.network_acls() {
                let subnets = acl.associations().iter().filter_map(|a| a.subnet_id().map(str::to_string)).collect();
                out.push((acl.network_acl_id().unwrap_or_default().to_string(), subnets));
            }
        }
        Ok(out)
    }

    /// Network ACLs carrying tag `key` (any value): id, tags and the subnets associated.
    pub async fn nacls_with_key(&self, key: &str) -> Result<Vec<(String, Tags, Vec<String>)>, AwsError> {
        let mut out = Vec::new();
        let mut pages =
            self.ec2.describe_network_acls().filters(filter("tag-key", [key.to_string()])).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ec2:DescribeNetworkAcls", e))?;
            for acl in page.network_acls() {
                let subnets = acl.associations().iter().filter_map(|a| a.subnet_id().map(str::to_string)).collect();
                out.push((acl.network_acl_id().unwrap_or_default().to_string(), tags_of(acl.tags()), subnets));
            }
        }
        Ok(out)
    }

    pub async fn delete_nacl(&self, id: &str) -> Result<(), AwsError> {
        self.ec2
            .delete_network_acl()
            .network_acl_id(id)
            .send()
            .await
            .map_err(|e| sdk_err("ec2:DeleteNetworkAcl", e))?;
        Ok(())
    }

    /// The network ACL `id` with its VPC, rules and tags; `None` when it does not exist.
    pub async fn nacl(&self, id: &str) -> Result<Option<Nacl>, AwsError> {
        let out = match self.ec2.describe_network_acls().network_acl_ids(id).send().await {
            Ok(out) => out,
            Err(e) => {
                let e = sdk_err("ec2:DescribeNetworkAcls", e);
                return if e.is_not_found() { Ok(None) } else { Err(e) };
            }
        };
        Ok(out.network_acls().iter().find(|a| a.network_acl_id() == Some(id)).map(|a| Nacl {
            id: id.to_string(),
            vpc: a.vpc_id().unwrap_or_default().to_string(),
            tags: tags_of(a.tags()),
            entries: a
                .entries()
                .iter()
                .map(|e| NaclEntry {
                    rule_number: e.rule_number().unwrap_or_default(),
                    egress: e.egress().unwrap_or_default(),
                    action: e.rule_action().map(|r| r.as_str().to_string()).unwrap_or_default(),
                    protocol: e.protocol().unwrap_or("-1").to_string(),
                    cidr: e.cidr_block().map(str::to_string),
                    ipv6_cidr: e.ipv6_cidr_block().map(str::to_string),
                    icmp: e.icmp_type_code().map(|c| (c.r#type().unwrap_or(-1), c.code().unwrap_or(-1))),
                    ports: e.port_range().map(|p| (p.from().unwrap_or_default(), p.to().unwrap_or_default())),
                })
                .collect(),
        }))
    }

    /// Adds one rule to the network ACL `acl`.
    pub async fn create_nacl_entry(&self, acl: &str, e: &NaclEntry) -> Result<(), AwsError> {
        let icmp = e.icmp.map(|(t, c)| IcmpTypeCode::builder().r#type(t).code(c).build());
        let ports = e.ports.map(|(f, t)| PortRange::builder().from(f).to(t).build());
        self.ec2
            .create_network_acl_entry()
            .network_acl_id(acl)
            .rule_number(e.rule_number)
            .egress(e.egress)
            .rule_action(RuleAction::from(e.action.as_str()))
            .protocol(&e.protocol)
            .set_cidr_block(e.cidr.clone())
            .set_ipv6_cidr_block(e.ipv6_cidr.clone())
            .set_icmp_type_code(icmp)
            .set_port_range(ports)
            .send()
            .await
            .map_err(|e| sdk_err("ec2:CreateNetworkAclEntry", e))?;
        Ok(())
    }

    /// Whether the managed prefix list `id` exists in the region (one the account owns, or
    /// an AWS-managed one).
    pub async fn prefix_list_exists(&self, id: &str) -> Result<bool, AwsError> {
        match self.ec2.describe_managed_prefix_lists().prefix_list_ids(id).send().await {
            Ok(out) => Ok(out.prefix_lists().iter().any(|p| p.prefix_list_id() == Some(id))),
            Err(e) => {
                let e = sdk_err("ec2:DescribeManagedPrefixLists", e);
                if e.is_not_found() { Ok(false) } else { Err(e) }
            }
        }
    }

    /// The CIDRs of the managed prefix list `id` (every page).
    pub async fn prefix_list_cidrs(&self, id: &str) -> Result<Vec<String>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self.ec2.get_managed_prefix_list_entries().prefix_list_id(id).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ec2:GetManagedPrefixListEntries", e))?;
            out.extend(page.entries().iter().filter_map(|e| e.cidr().map(str::to_string)));
        }
        Ok(out)
    }

    /// Points the association at `nacl`; returns the new association id.
    pub async fn replace_nacl_association(&self, association: &str, nacl: &str) -> Result<String, AwsError> {
        let out = self
            .ec2
            .replace_network_acl_association()
            .association_id(association)
            .network_acl_id(nacl)
            .send()
            .await
            .map_err(|e| sdk_err("ec2:ReplaceNetworkAclAssociation", e))?;
        Ok(out.new_association_id().unwrap_or_default().to_string())
    }
}
