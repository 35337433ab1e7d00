//! Tags on any resource a target can name, for leases and undo tags: add, remove, and
//! read back.
//! EC2 (instances, volumes, subnets) in batches, Auto Scaling groups, RDS (by ARN), IAM
//! roles and users. [`tags_of`] reads the tags of any service's describe answers.

use super::{Aws, AwsError, Tags, sdk_err};
use crate::scenario::TargetType;

/// The ARN partition of a region, as AWS's partition table has it (China, GovCloud and
/// the isolated regions have their own).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else {
        "aws"
    }
}

/// A tag as an AWS service's SDK gives it: a key and a value, either of which it may
/// leave out.
pub(super) trait SdkTag {
    fn pair(&self) -> (Option<&str>, Option<&str>);
}

macro_rules! sdk_tags {
    ($($t:ty),* $(,)?) => {
        $(impl SdkTag for $t {
            fn pair(&self) -> (Option<&str>, Option<&str>) {
                (self.key(), self.value())
            }
        })*
    };
}

sdk_tags!(
    aws_sdk_autoscaling::types::TagDescription,
    aws_sdk_cloudwatch::types::Tag,
    aws_sdk_ec2::types::Tag,
    aws_sdk_elasticache::types::Tag,
    aws_sdk_elasticloadbalancingv2::types::Tag,
    aws_sdk_rds::types::Tag,
);

impl SdkTag for aws_sdk_iam::types::Tag {
    fn pair(&self) -> (Option<&str>, Option<&str>) {
        (Some(self.key()), Some(self.value()))
    }
}

/// A resource's tags as firedrill reads them, from any service: a tag without a key is
/// left out, one without a value has an empty one.
pub(super) fn tags_of<T: SdkTag>(tags: &[T]) -> Tags {
    tags.iter()
        .filter_map(|t| match t.pair() {
            (Some(k), v) => Some((k.to_string(), v.unwrap_or_default().to_string())),
            (None, _) => None,
        })
        .collect()
}

impl Aws {
    fn rds_arn(&self, account: &str, kind: TargetType, id: &str) -> String {
        let what = if kind == TargetType::RdsCluster { "cluster" } else { "db" };
        format!("arn:{}:rds:{}:{account}:{what}:{id}", partition(self.region()), self.region())
    }

    /// Sets `key=value` on each resource.
    pub async fn tag(
        &self,
        account: &str,
        kind: TargetType,
        ids: &[String],
        key: &str,
        value: &str,
    ) -> Result<(), AwsError> {
        self.tag_all(account, kind, ids, &[(key.to_string(), value.to_string())]).await
    }

    /// Sets every `(key, value)` on each resource, in one call per resource (per batch for
    /// EC2): the tags arrive together or not at all.
    pub async fn tag_all(
        &self,
        account: &str,
        kind: TargetType,
        ids: &[String],
        tags: &[(String, String)],
    ) -> Result<(), AwsError> {
        use TargetType::*;
        if ids.is_empty() || tags.is_empty() {
            return Ok(());
        }
        match kind {
            Ec2Instance | Ec2Volume | Ec2Subnet => {
                for chunk in ids.chunks(super::ec2::BATCH) {
                    let list = tags.iter().map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build());
                    self.ec2
                        .create_tags()
                        .set_resources(Some(chunk.to_vec()))
                        .set_tags(Some(list.collect()))
                        .send()
                        .await
                        .map_err(|e| sdk_err("ec2:CreateTags", e))?;
                }
            }
            AutoScalingGroup => {
                for id in ids {
                    let list = tags.iter().map(|(k, v)| {
                        aws_sdk_autoscaling::types::Tag::builder()
                            .resource_id(id)
                            .resource_type("auto-scaling-group")
                            .key(k)
                            .value(v)
                            .propagate_at_launch(false)
                            .build()
                    });
                    self.asg
                        .create_or_update_tags()
                        .set_tags(Some(list.collect()))
                        .send()
                        .await
                        .map_err(|e| sdk_err("autoscaling:CreateOrUpdateTags", e))?;
                }
            }
            RdsCluster | RdsInstance => {
                for id in ids {
                    let list = tags.iter().map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build());
                    self.rds
                        .add_tags_to_resource()
                        .resource_name(self.rds_arn(account, kind, id))
                        .set_tags(Some(list.collect()))
                        .send()
                        .await
                        .map_err(|e| sdk_err("rds:AddTagsToResource", e))?;
                }
            }
            IamRole | IamUser => {
                for id in ids {
                    let list = tags
                        .iter()
                        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| AwsError::other("iam:Tag", e.to_string()))?;
                    let r = if kind == IamRole {
                        self.iam
                            .tag_role()
                            .role_name(id)
                            .set_tags(Some(list))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk_err("iam:TagRole", e))
                    } else {
                        self.iam
                            .tag_user()
                            .user_name(id)
                            .set_tags(Some(list))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk_err("iam:TagUser", e))
                    };
                    r?;
                }
            }
        }
        Ok(())
    }

    /// Removes tag `key` from each resource; resources that are gone are skipped.
    pub async fn untag(&self, account: &str, kind: TargetType, ids: &[String], key: &str) -> Result<(), AwsError> {
        self.untag_all(account, kind, ids, &[key.to_string()]).await
    }

    /// Removes firedrill's undo tags once their change is reverted. Best effort: the
    /// change is undone either way, and a tag left behind only makes a later `recover
    /// --sweep` find the change undone already and remove the tag; so a failure is logged,
    /// never a failed revert.
    pub async fn forget(&self, kind: TargetType, ids: &[String], keys: &[String]) {
        if let Err(e) = self.untag_all("", kind, ids, keys).await {
            tracing::warn!("could not remove the undo tag(s) {} from {kind} {}: {e}", keys.join(", "), ids.join(", "));
        }
    }

    /// Removes every tag of `keys` from each resource (a key it lacks is fine); resources
    /// that are gone are skipped.
    pub async fn untag_all(
        &self,
        account: &str,
        kind: TargetType,
        ids: &[String],
        keys: &[String],
    ) -> Result<(), AwsError> {
        use TargetType::*;
        if ids.is_empty() || keys.is_empty() {
            return Ok(());
        }
        let ok_if_gone = |r: Result<(), AwsError>| match r {
            Err(e) if e.is_not_found() => Ok(()),
            r => r,
        };
        match kind {
            Ec2Instance | Ec2Volume | Ec2Subnet => {
                for chunk in ids.chunks(super::ec2::BATCH) {
                    let list = keys.iter().map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build());
                    ok_if_gone(
                        self.ec2
                            .delete_tags()
                            .set_resources(Some(chunk.to_vec()))
                            .set_tags(Some(list.collect()))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk_err("ec2:DeleteTags", e)),
                    )?;
                }
            }
            AutoScalingGroup => {
                for id in ids {
                    let list = keys.iter().map(|k| {
                        aws_sdk_autoscaling::types::Tag::builder()
                            .resource_id(id)
                            .resource_type("auto-scaling-group")
                            .key(k)
                            .build()
                    });
                    ok_if_gone(
                        self.asg
                            .delete_tags()
                            .set_tags(Some(list.collect()))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk_err("autoscaling:DeleteTags", e)),
                    )?;
                }
            }
            RdsCluster | RdsInstance => {
                for id in ids {
                    ok_if_gone(
                        self.rds
                            .remove_tags_from_resource()
                            .resource_name(self.rds_arn(account, kind, id))
                            .set_tag_keys(Some(keys.to_vec()))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk_err("rds:RemoveTagsFromResource", e)),
                    )?;
                }
            }
            IamRole | IamUser => {
                for id in ids {
                    let r = if kind == IamRole {
                        self.iam
                            .untag_role()
                            .role_name(id)
                            .set_tag_keys(Some(keys.to_vec()))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk_err("iam:UntagRole", e))
                    } else {
                        self.iam
                            .untag_user()
                            .user_name(id)
                            .set_tag_keys(Some(keys.to_vec()))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk_err("iam:UntagUser", e))
                    };
                    ok_if_gone(r)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn partitions_follow_the_region() {
        for (region, p) in [
            ("us-east-1", "aws"),
            ("eu-west-3", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
        ] {
            assert_eq!(super::partition(region), p, "{region}");
        }
    }
}
