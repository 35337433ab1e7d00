//! Tags on any resource a target can name, for leases: add, remove, and read back.
//! EC2 (instances, volumes, subnets) in batches, Auto Scaling groups, RDS (by ARN), IAM
//! roles and users.

use super::{Aws, AwsError, sdk_err};
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
        use TargetType::*;
        match kind {
            Ec2Instance | Ec2Volume | Ec2Subnet => {
                for chunk in ids.chunks(super::ec2::BATCH) {
                    let tag = aws_sdk_ec2::types::Tag::builder().key(key).value(value).build();
                    self.ec2
                        .create_tags()
                        .set_resources(Some(chunk.to_vec()))
                        .tags(tag)
                        .send()
                        .await
                        .map_err(|e| sdk_err("ec2:CreateTags", e))?;
                }
            }
            AutoScalingGroup => {
                for id in ids {
                    let tag = aws_sdk_autoscaling::types::Tag::builder()
                        .resource_id(id)
                        .resource_type("auto-scaling-group")
                        .key(key)
                        .value(value)
                        .propagate_at_launch(false)
                        .build();
                    self.asg
                        .create_or_update_tags()
                        .tags(tag)
                        .send()
                        .await
                        .map_err(|e| sdk_err("autoscaling:CreateOrUpdateTags", e))?;
                }
            }
            RdsCluster | RdsInstance => {
                for id in ids {
                    let tag = aws_sdk_rds::types::Tag::builder().key(key).value(value).build();
                    self.rds
                        .add_tags_to_resource()
                        .resource_name(self.rds_arn(account, kind, id))
                        .tags(tag)
                        .send()
                        .await
                        .map_err(|e| sdk_err("rds:AddTagsToResource", e))?;
                }
            }
            IamRole | IamUser => {
                for id in ids {
                    let tag = aws_sdk_iam::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build()
                        .map_err(|e| AwsError::other("iam:Tag", e.to_string()))?;
                    let r = if kind == IamRole {
                        self.iam
                            .tag_role()
                            .role_name(id)
                            .tags(tag)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk_err("iam:TagRole", e))
                    } else {
                        self.iam
                            .tag_user()
                            .user_name(id)
                            .tags(tag)
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
        use TargetType::*;
        let ok_if_gone = |r: Result<(), AwsError>| match r {
            Err(e) if e.is_not_found() => Ok(()),
            r => r,
        };
        match kind {
            Ec2Instance | Ec2Volume | Ec2Subnet => {
                for chunk in ids.chunks(super::ec2::BATCH) {
                    let tag = aws_sdk_ec2::types::Tag::builder().key(key).build();
                    ok_if_gone(
                        self.ec2
                            .delete_tags()
                            .set_resources(Some(chunk.to_vec()))
                            .tags(tag)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk_err("ec2:DeleteTags", e)),
                    )?;
                }
            }
            AutoScalingGroup => {
                for id in ids {
                    let tag = aws_sdk_autoscaling::types::Tag::builder()
                        .resource_id(id)
                        .resource_type("auto-scaling-group")
                        .key(key)
                        .build();
                    ok_if_gone(
                        self.asg
                            .delete_tags()
                            .tags(tag)
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
                            .tag_keys(key)
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
                            .tag_keys(key)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk_err("iam:UntagRole", e))
                    } else {
                        self.iam
                            .untag_user()
                            .user_name(id)
                            .tag_keys(key)
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
