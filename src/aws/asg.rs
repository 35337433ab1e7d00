//! Auto Scaling groups: describe (every page; tags filtered here, the API's tag filters
//! are not modelled everywhere) and the subnets of a group.

use super::tags::tags_of;
use super::{Aws, AwsError, Group, GroupInstance, Selector, sdk_err};

impl Aws {
    pub async fn groups(&self, sel: &Selector) -> Result<Vec<Group>, AwsError> {
        let mut req = self.asg.describe_auto_scaling_groups();
        if !sel.ids.is_empty() {
            req = req.set_auto_scaling_group_names(Some(sel.ids.clone()));
        }
        let mut out = Vec::new();
        let mut pages = req.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("autoscaling:DescribeAutoScalingGroups", e))?;
            for g in page.auto_scaling_groups() {
                let group = Group {
                    name: g.auto_scaling_group_name().unwrap_or_default().to_string(),
                    arn: g.auto_scaling_group_arn().unwrap_or_default().to_string(),
                    vpc_zone_identifier: g.vpc_zone_identifier().unwrap_or_default().to_string(),
                    zones: g.availability_zones().to_vec(),
                    instances: g
                        .instances()
                        .iter()
                        .map(|i| GroupInstance {
                            id: i.instance_id().unwrap_or_default().to_string(),
                            zone: i.availability_zone().unwrap_or_default().to_string(),
                            lifecycle: i.lifecycle_state().map(|l| l.as_str().to_string()).unwrap_or_default(),
                            health: i.health_status().unwrap_or_default().to_string(),
                        })
                        .collect(),
                    tags: tags_of(g.tags()),
                };
                let in_zone = sel.zone.as_ref().is_none_or(|z| group.zones.contains(z));
                if sel.tags_match(&group.tags) && sel.id_matches(&group.name) && in_zone {
                    out.push(group);
                }
            }
        }
        Ok(out)
    }

    /// One group, or `None` if it no longer exists.
    pub async fn group(&self, name: &str) -> Result<Option<Group>, AwsError> {
        let sel = Selector { ids: vec![name.to_string()], ..Default::default() };
        Ok(self.groups(&sel).await?.pop())
    }

    /// Sets the group's `VPCZoneIdentifier` (its subnets).
    pub async fn set_group_subnets(&self, name: &str, vpc_zone_identifier: &str) -> Result<(), AwsError> {
        self.asg
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .vpc_zone_identifier(vpc_zone_identifier)
            .send()
            .await
            .map_err(|e| sdk_err("autoscaling:UpdateAutoScalingGroup", e))?;
        Ok(())
    }
}
