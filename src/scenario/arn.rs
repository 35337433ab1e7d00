//! ARNs a scenario names (an inline `fis_experiment`'s role and targets, an existing
//! template given by ARN, the dead man's switch's role, an alarm or a target id written
//! as an ARN): each must be in one of `environment.accounts`, in the partition of
//! `environment.region`, and — unless its service is global (IAM) — in that region. One
//! check, [`scope_problem`], used everywhere an ARN can be written, so that nothing the
//! scenario names lies outside what it declares.

/// An ARN's parts: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Services whose ARNs name no region.
const GLOBAL: &[&str] = &["iam", "sts", "organizations", "route53", "cloudfront"];

/// The partitions an ARN may name.
const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f"];

/// Whether `s` is written as an ARN (and so is checked as one).
pub fn looks_like_arn(s: &str) -> bool {
    s.starts_with("arn:")
}

/// The parts of `s`, if it has the six parts of an ARN with a partition, a service and a
/// resource.
pub fn parse(s: &str) -> Option<Arn<'_>> {
    let mut it = s.splitn(6, ':');
    (it.next()? == "arn").then_some(())?;
    let [partition, service, region, account, resource] = [it.next()?, it.next()?, it.next()?, it.next()?, it.next()?];
    (!partition.is_empty() && !service.is_empty() && !resource.is_empty()).then_some(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

/// What the scenario declares: its accounts, and its region when well-formed.
#[derive(Clone, Copy, Debug)]
pub struct Bounds<'a> {
    pub accounts: &'a [String],
    pub region: Option<&'a str>,
}

/// Why `arn` lies outside `b` (or is no ARN at all), in the user's terms; `None` when it
/// is inside. Without a well-formed region, only the account is checked (the region's
/// own problem is reported at `environment.region`); without accounts, only the region.
pub fn scope_problem(arn: &str, b: Bounds<'_>) -> Option<String> {
    check(arn, b, false)
}

/// As [`scope_problem`], but an ARN with no account — a resource AWS itself owns, as an
/// AWS-managed SSM document (`arn:aws:ssm:us-east-1::document/AWSFIS-Run-CPU-Stress`) —
/// passes when its partition and region are the scenario's.
pub fn scope_problem_or_aws_owned(arn: &str, b: Bounds<'_>) -> Option<String> {
    check(arn, b, true)
}

fn check(arn: &str, b: Bounds<'_>, aws_owned_ok: bool) -> Option<String> {
    let Some(a) = parse(arn) else {
        return Some(format!("{arn:?} is not an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`)"));
    };
    if !PARTITIONS.contains(&a.partition) {
        return Some(format!("{arn:?} names partition `{}`, which is not an AWS partition", a.partition));
    }
    if let Some(region) = b.region {
        let p = crate::aws::partition(region);
        if a.partition != p {
            return Some(format!(
                "{arn:?} is in partition `{}`, but the scenario's region {region} is in `{p}`",
                a.partition
            ));
        }
    }
    let global = GLOBAL.contains(&a.service);
    if global && !a.region.is_empty() {
        return Some(format!("{arn:?} names region {}, but {} ARNs have none", a.region, a.service));
    }
    if !global {
        match b.region {
            _ if a.region.is_empty() => {
                return Some(format!("{arn:?} names no region: {} ARNs name theirs", a.service));
            }
            Some(region) if a.region != region => {
                return Some(format!("{arn:?} is in region {}, not the scenario's region {region}", a.region));
            }
            _ => {}
        }
    }
    if aws_owned_ok && a.account.is_empty() {
        return None;
    }
    if a.account.len() != 12 || !a.account.bytes().all(|c| c.is_ascii_digit()) {
        return Some(format!("{arn:?} names no 12-digit account id (found {:?})", a.account));
    }
    if !b.accounts.is_empty() && !b.accounts.iter().any(|x| x == a.account) {
        return Some(format!(
            "{arn:?} is in account {}, which is not one of the scenario's accounts ({})",
            a.account,
            b.accounts.join(", ")
        ));
    }
    None
}

/// Why `value`, written where firedrill reads a name (an alarm's, a target id), cannot
/// stand: an ARN outside the scenario's scope, or one inside it (firedrill reads names,
/// so the ARN would never be found). `None` when `value` is not written as an ARN.
pub fn name_not_arn(value: &str, what: &str, b: Bounds<'_>) -> Option<String> {
    if !looks_like_arn(value) {
        return None;
    }
    if let Some(why) = scope_problem(value, b) {
        return Some(why);
    }
    let name = parse(value).map(|a| a.resource).unwrap_or(value);
    let name = name.rsplit(['/', ':']).next().unwrap_or(name);
    Some(format!("firedrill reads the {what} by name in the scenario's account and region, not by ARN: write `{name}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b<'a>(accounts: &'a [String], region: Option<&'a str>) -> Bounds<'a> {
        Bounds { accounts, region }
    }

    #[test]
    fn arns_are_checked_against_account_partition_and_region() {
        let acc = vec!["123456789012".to_string()];
        let us = b(&acc, Some("us-east-1"));
        for ok in [
            "arn:aws:iam::123456789012:role/ops/fis",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:high-5xx",
        ] {
            assert_eq!(scope_problem(ok, us), None, "{ok}");
        }
        for (bad, says) in [
            ("arn:aws:iam::999999999999:role/fis", "account 999999999999"),
            ("arn:aws-cn:iam::123456789012:role/fis", "partition `aws-cn`"),
            ("arn:aws:ec2:eu-west-1:123456789012:instance/i-1", "region eu-west-1"),
            ("arn:aws:iam:us-east-1:123456789012:role/fis", "have none"),
            ("arn:aws:ec2::123456789012:instance/i-1", "names no region"),
            ("arn:aws:ec2:us-east-1::instance/i-1", "12-digit"),
            ("arn:evil:iam::123456789012:role/fis", "not an AWS partition"),
            ("arn:aws:iam", "not an ARN"),
        ] {
            let why = scope_problem(bad, us).unwrap_or_default();
            assert!(why.contains(says), "{bad}: {why}");
        }
        // A resource AWS owns has no account: allowed only where it may be named.
        let doc = "arn:aws:ssm:us-east-1::document/AWSFIS-Run-CPU-Stress";
        assert_eq!(scope_problem_or_aws_owned(doc, us), None);
        assert!(scope_problem(doc, us).is_some());
        assert!(scope_problem_or_aws_owned("arn:aws:ssm:eu-west-1::document/AWSFIS-Run-CPU-Stress", us).is_some());
        assert!(scope_problem_or_aws_owned("arn:aws:ssm:us-east-1:999999999999:document/x", us).is_some());
        // GovCloud: its own partition.
        let gov = b(&acc, Some("us-gov-west-1"));
        assert_eq!(scope_problem("arn:aws-us-gov:iam::123456789012:role/fis", gov), None);
        assert!(scope_problem("arn:aws:iam::123456789012:role/fis", gov).is_some());
    }

    #[test]
    fn an_arn_where_a_name_goes_is_refused_with_the_name() {
        let acc = vec!["123456789012".to_string()];
        let us = b(&acc, Some("us-east-1"));
        assert_eq!(name_not_arn("high-5xx", "alarm", us), None);
        let why = name_not_arn("arn:aws:cloudwatch:us-east-1:123456789012:alarm:high-5xx", "alarm", us).unwrap();
        assert!(why.contains("write `high-5xx`"), "{why}");
        let why = name_not_arn("arn:aws:cloudwatch:us-east-1:999999999999:alarm:x", "alarm", us).unwrap();
        assert!(why.contains("account 999999999999"), "{why}");
    }
}
