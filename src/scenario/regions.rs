//! The AWS regions firedrill knows, each with its partition, in one table ([`REGIONS`],
//! from the partitions the AWS SDK resolves endpoints with). A region missing from it is
//! only a warning that names the nearest known one (new regions open every year); a
//! scenario whose regions are in two partitions is refused: a role, an account and a
//! policy live in one partition and never reach another.

/// Every AWS region firedrill knows, and its partition.
pub const REGIONS: &[(&str, &str)] = &[
    // aws
    ("us-east-1", "aws"),
    ("us-east-2", "aws"),
    ("us-west-1", "aws"),
    ("us-west-2", "aws"),
    ("af-south-1", "aws"),
    ("ap-east-1", "aws"),
    ("ap-east-2", "aws"),
    ("ap-northeast-1", "aws"),
    ("ap-northeast-2", "aws"),
    ("ap-northeast-3", "aws"),
    ("ap-south-1", "aws"),
    ("ap-south-2", "aws"),
    ("ap-southeast-1", "aws"),
    ("ap-southeast-2", "aws"),
    ("ap-southeast-3", "aws"),
    ("ap-southeast-4", "aws"),
    ("ap-southeast-5", "aws"),
    ("ap-southeast-6", "aws"),
    ("ap-southeast-7", "aws"),
    ("ca-central-1", "aws"),
    ("ca-west-1", "aws"),
    ("eu-central-1", "aws"),
    ("eu-central-2", "aws"),
    ("eu-north-1", "aws"),
    ("eu-south-1", "aws"),
    ("eu-south-2", "aws"),
    ("eu-west-1", "aws"),
    ("eu-west-2", "aws"),
    ("eu-west-3", "aws"),
    ("il-central-1", "aws"),
    ("me-central-1", "aws"),
    ("me-south-1", "aws"),
    ("mx-central-1", "aws"),
    ("sa-east-1", "aws"),
    // aws-cn
    ("cn-north-1", "aws-cn"),
    ("cn-northwest-1", "aws-cn"),
    // aws-us-gov
    ("us-gov-east-1", "aws-us-gov"),
    ("us-gov-west-1", "aws-us-gov"),
    // aws-eusc
    ("eusc-de-east-1", "aws-eusc"),
    // aws-iso, aws-iso-b, aws-iso-e, aws-iso-f
    ("us-iso-east-1", "aws-iso"),
    ("us-iso-west-1", "aws-iso"),
    ("us-isob-east-1", "aws-iso-b"),
    ("us-isob-west-1", "aws-iso-b"),
    ("eu-isoe-west-1", "aws-iso-e"),
    ("us-isof-east-1", "aws-iso-f"),
    ("us-isof-south-1", "aws-iso-f"),
];

/// The partition of a region not in [`REGIONS`], by its prefix (as the SDK's partition
/// rules read it); the rest are in `aws`.
const PREFIXES: &[(&str, &str)] = &[
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("eusc-", "aws-eusc"),
    ("us-iso-", "aws-iso"),
    ("us-isob-", "aws-iso-b"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-isof-", "aws-iso-f"),
];

/// Whether firedrill knows `region`.
pub fn is_known(region: &str) -> bool {
    REGIONS.iter().any(|(r, _)| *r == region)
}

/// The partition `region` is in (`aws`, `aws-cn`, `aws-us-gov`, ...), known or not.
pub fn partition(region: &str) -> &'static str {
    if let Some((_, p)) = REGIONS.iter().find(|(r, _)| *r == region) {
        return p;
    }
    PREFIXES.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or("aws", |(_, p)| p)
}

/// The known region of the same partition nearest to `region` by spelling (the first in
/// [`REGIONS`] on a tie).
pub fn nearest(region: &str) -> Option<&'static str> {
    let p = partition(region);
    REGIONS.iter().filter(|(_, q)| *q == p).min_by_key(|(r, _)| strsim::osa_distance(region, r)).map(|(r, _)| *r)
}

/// The warning for a region firedrill does not know, if it does not.
pub fn unknown(region: &str) -> Option<String> {
    if is_known(region) {
        return None;
    }
    let hint = nearest(region).map(|n| format!(": did you mean `{n}`?")).unwrap_or_default();
    Some(format!(
        "`{region}` is not an AWS region firedrill knows{hint} (if it is a region newer than this firedrill, ignore this)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_and_nearest_regions() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("cn-north-9"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
        assert_eq!(partition("us-east-7"), "aws");
        assert_eq!(nearest("us-east-7"), Some("us-east-1"));
        assert_eq!(nearest("eu-wset-1"), Some("eu-west-1"));
        assert_eq!(nearest("cn-north-7"), Some("cn-north-1"));
        assert_eq!(nearest("us-gov-west-2"), Some("us-gov-west-1"));
        assert!(unknown("us-west-2").is_none());
        let w = unknown("us-east-7").unwrap();
        assert!(w.contains("did you mean `us-east-1`?"), "{w}");
    }

    /// Every region of the table is in the partition its prefix says, so a new region of
    /// a partition is placed in it.
    #[test]
    fn the_table_is_consistent() {
        for (r, p) in REGIONS {
            let by_prefix = PREFIXES.iter().find(|(prefix, _)| r.starts_with(prefix)).map_or("aws", |(_, p)| p);
            assert_eq!(by_prefix, *p, "{r}");
        }
    }
}
