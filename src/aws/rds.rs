//! RDS: clusters and instances (tags come with the describe answers), cluster failover
//! and reboot with failover.

use super::tags::tags_of;
use super::{Aws, AwsError, DbCluster, DbInstance, Selector, sdk_err};

impl Aws {
    pub async fn db_clusters(&self, sel: &Selector) -> Result<Vec<DbCluster>, AwsError> {
        let mut out = Vec::new();
        let mut req = self.rds.describe_db_clusters();
        if let [one] = sel.ids.as_slice() {
            req = req.db_cluster_identifier(one);
        }
        let mut pages = req.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let e = sdk_err("rds:DescribeDBClusters", e);
                    if e.is_not_found() {
                        return Ok(out);
                    }
                    return Err(e);
                }
            };
            for c in page.db_clusters() {
                let cluster = DbCluster {
                    id: c.db_cluster_identifier().unwrap_or_default().to_string(),
                    status: c.status().unwrap_or_default().to_string(),
                    members: c
                        .db_cluster_members()
                        .iter()
                        .map(|m| {
                            (
                                m.db_instance_identifier().unwrap_or_default().to_string(),
                                m.is_cluster_writer().unwrap_or(false),
                            )
                        })
                        .collect(),
                    tags: tags_of(c.tag_list()),
                };
                if sel.tags_match(&cluster.tags)
                    && sel.id_matches(&cluster.id)
                    && sel.state.as_ref().is_none_or(|s| s == &cluster.status)
                {
                    out.push(cluster);
                }
            }
        }
        Ok(out)
    }

    pub async fn db_instances(&self, sel: &Selector) -> Result<Vec<DbInstance>, AwsError> {
        let mut out = Vec::new();
        let mut req = self.rds.describe_db_instances();
        if let [one] = sel.ids.as_slice() {
            req = req.db_instance_identifier(one);
        }
        let mut pages = req.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let e = sdk_err("rds:DescribeDBInstances", e);
                    if e.is_not_found() {
                        return Ok(out);
                    }
                    return Err(e);
                }
            };
            for i in page.db_instances() {
                let inst = DbInstance {
                    id: i.db_instance_identifier().unwrap_or_default().to_string(),
                    status: i.db_instance_status().unwrap_or_default().to_string(),
                    zone: i.availability_zone().map(str::to_string),
                    multi_az: i.multi_az().unwrap_or(false),
                    cluster: i.db_cluster_identifier().map(str::to_string),
                    tags: tags_of(i.tag_list()),
                };
                if sel.tags_match(&inst.tags)
                    && sel.id_matches(&inst.id)
                    && sel.zone.as_ref().is_none_or(|z| inst.zone.as_ref() == Some(z))
                    && sel.state.as_ref().is_none_or(|s| s == &inst.status)
                {
                    out.push(inst);
                }
            }
        }
        Ok(out)
    }

    pub async fn failover_cluster(&self, cluster: &str, to: Option<&str>) -> Result<(), AwsError> {
        self.rds
            .failover_db_cluster()
            .db_cluster_identifier(cluster)
            .set_target_db_instance_identifier(to.map(str::to_string))
            .send()
            .await
            .map_err(|e| sdk_err("rds:FailoverDBCluster", e))?;
        Ok(())
    }

    pub async fn reboot_with_failover(&self, instance: &str) -> Result<(), AwsError> {
        self.rds
            .reboot_db_instance()
            .db_instance_identifier(instance)
            .force_failover(true)
            .send()
            .await
            .map_err(|e| sdk_err("rds:RebootDBInstance", e))?;
        Ok(())
    }
}
