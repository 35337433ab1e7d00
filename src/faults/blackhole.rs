//! `network_blackhole`: the subnets of an `ec2:subnet` target lose the listed
//! destinations — CIDRs and/or the entries of a managed prefix list (S3's, DynamoDB's, a
//! partner's ranges) — in both directions, by the network ACL swap `az_outage` uses
//! ([`super::nacl`]): each subnet's current network ACL is cloned (one clone per original
//! ACL, shared by the targeted subnets that use it), deny entries for the destinations go
//! in front of the cloned rules, and the subnets are associated with the clone. Revert
//! points each subnet back at exactly its original ACL and deletes the clone.
//!
//! Both directions: a destination that is down neither answers nor calls in, and a
//! network ACL is stateless (an egress-only deny would still let the destination's own
//! connections in, and drop our answers). The subnets are the target (not instances):
//! a network ACL acts on every instance of a subnet, so the opt-in tag and the lease are
//! on what changes. A prefix list is read at injection (its entries may change).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ec2::{failed, list};
use super::{AwsFaultCtx, FaultContext};
use crate::aws::{NaclAssociation, NaclEntry};
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Res, Stmt, of_type, stmt};
use crate::scenario::validate::{Problem, Scope, problem};
use crate::scenario::{Target, TargetType};
use crate::targets::Resolution;

/// Tag key that marks firedrill's clones; its value is `<run>/<fault>/<original ACL>`.
pub const BLACKHOLE_TAG: &str = "firedrill:blackhole";

/// The rules a network ACL holds per direction unless the account's quota was raised
/// (AWS's default quota), and so the default of `acl_rule_limit`.
pub const DEFAULT_RULE_LIMIT: u32 = 20;

/// The most rules per direction AWS lets a network ACL quota be raised to.
pub const MAX_RULE_LIMIT: u32 = 40;

/// The highest rule number a network ACL takes (32767 is the implicit deny-all `*`).
const MAX_RULE: i32 = 32766;

/// The `network_blackhole` fault kind.
pub struct NetworkBlackhole;

/// `network_blackhole`: the target's subnets lose the listed destinations (a clone of
/// each subnet's network ACL, with deny entries in front of its rules).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkBlackholeFault {
    /// An `ec2:subnet` target: the subnets that lose the destinations (every instance in
    /// them does).
    pub target: String,
    /// Destinations denied, in and out: IPv4 or IPv6 CIDRs (`203.0.113.0/24`,
    /// `2001:db8::/32`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidrs: Option<Vec<String>>,
    /// A managed prefix list (`pl-…`) whose entries, read at injection, are denied too:
    /// the region's S3 or DynamoDB list, or a partner's ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
    /// The rules a network ACL holds per direction in this account and region (the
    /// "rules per network ACL" quota): 20 by default, at most 40 (raised on request). The
    /// clone holds the original's rules and a deny entry per destination in each
    /// direction: more than this is refused at `validate` (the CIDRs alone) and at `plan`
    /// (with each original ACL's rules and the prefix list's entries), nothing touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl_rule_limit: Option<u32>,
}

impl NetworkBlackholeFault {
    /// `acl_rule_limit`, or AWS's default quota.
    pub fn rule_limit(&self) -> u32 {
        self.acl_rule_limit.unwrap_or(DEFAULT_RULE_LIMIT)
    }
}

/// Why `s` is not a CIDR firedrill takes; `None` when it is one.
pub fn cidr_problem(s: &str) -> Option<String> {
    let Some((addr, len)) = s.split_once('/') else {
        return Some(match s.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => format!("{s:?} is an address, not a CIDR: write `{s}/32` for that one address"),
            Ok(IpAddr::V6(_)) => format!("{s:?} is an address, not a CIDR: write `{s}/128` for that one address"),
            Err(_) => format!("{s:?} is not a CIDR: write an address and a prefix length (`203.0.113.0/24`)"),
        });
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return Some(format!("{s:?} is not a CIDR: {addr:?} is not an IPv4 or IPv6 address"));
    };
    let max: u32 = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len.parse::<u32>() {
        Ok(n) if n <= max && len.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => return Some(format!("{s:?} is not a CIDR: the prefix length must be 0 to {max}")),
    };
    let net = match ip {
        IpAddr::V4(a) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            IpAddr::from(std::net::Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            IpAddr::from(std::net::Ipv6Addr::from(u128::from(a) & mask))
        }
    };
    if net != ip {
        return Some(format!("{s:?} has bits set after its prefix: did you mean `{net}/{len}`?"));
    }
    // Traffic a network ACL never sees: a deny for it would change nothing.
    let unfiltered = match ip {
        IpAddr::V4(a) => (a.is_link_local() && len >= 16) || (a.is_loopback() && len >= 8),
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0 == 0xfe80 && len >= 10) || (a.is_loopback() && len == 128),
    };
    unfiltered.then(|| {
        format!(
            "{s:?} is link-local or loopback (instance metadata, the Amazon DNS and time servers): network ACLs never filter that traffic, so denying it would change nothing"
        )
    })
}

/// Whether `id` looks like a managed prefix list id: `pl-` and 8 or 17 lowercase hex
/// digits (`pl-63a5400a`, `pl-0123456789abcdef0`).
pub fn valid_prefix_list_id(id: &str) -> bool {
    id.strip_prefix("pl-").is_some_and(|h| {
        matches!(h.len(), 8 | 17) && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// What the fault denies, in words.
fn destinations(x: &NetworkBlackholeFault) -> String {
    let mut out: Vec<String> = x.cidrs.iter().flatten().cloned().collect();
    if let Some(pl) = &x.prefix_list_id {
        out.push(format!("the entries of prefix list {pl} (read at injection)"));
    }
    out.join(", ")
}

/// The clone's rules: a deny entry for each destination in each direction, numbered
/// from 1, in front of `original`'s rules in their order (their numbers kept when they
/// are all above the deny entries', else moved up together). The implicit `*` rule is
/// not copied (every ACL has it). `Err` when a direction would hold more than `limit`
/// rules, or the rule numbers leave no room in front of the original's.
pub fn clone_entries(original: &[NaclEntry], deny: &[String], limit: u32) -> Result<Vec<NaclEntry>, String> {
    let n = i32::try_from(deny.len()).map_err(|_| "too many destinations".to_string())?;
    let mut out = Vec::new();
    for egress in [true, false] {
        for (i, cidr) in deny.iter().enumerate() {
            let v6 = cidr.contains(':');
            out.push(NaclEntry {
                rule_number: i as i32 + 1,
                egress,
                action: "deny".into(),
                protocol: "-1".into(),
                cidr: (!v6).then(|| cidr.clone()),
                ipv6_cidr: v6.then(|| cidr.clone()),
                icmp: None,
                ports: None,
            });
        }
        let mut rules: Vec<&NaclEntry> =
            original.iter().filter(|e| e.egress == egress && e.rule_number <= MAX_RULE).collect();
        rules.sort_by_key(|e| e.rule_number);
        if deny.len() + rules.len() > limit as usize {
            return Err(format!(
                "its {} {} rules and {} deny entries make {}, more than the {limit} a network ACL holds per \
                 direction (`acl_rule_limit`; AWS's default quota is {DEFAULT_RULE_LIMIT}, {MAX_RULE_LIMIT} at most \
                 on request)",
                rules.len(),
                if egress { "outbound" } else { "inbound" },
                deny.len(),
                deny.len() + rules.len()
            ));
        }
        let (Some(low), Some(high)) = (rules.first().map(|e| e.rule_number), rules.last().map(|e| e.rule_number))
        else {
            continue;
        };
        let shift = if low > n { 0 } else { n + 1 - low };
        if high + shift > MAX_RULE {
            return Err(format!(
                "its {} rules have no room for {n} deny entries in front of them (rule numbers {low} to {high}; \
                 the highest is {MAX_RULE})",
                if egress { "outbound" } else { "inbound" }
            ));
        }
        out.extend(rules.into_iter().map(|e| NaclEntry { rule_number: e.rule_number + shift, ..e.clone() }));
    }
    Ok(out)
}

impl super::Kind for NetworkBlackhole {
    const KEY: &'static str = "network_blackhole";
    type Config = NetworkBlackholeFault;
    const TARGET_TYPES: &'static [TargetType] = &[TargetType::Ec2Subnet];

    fn targets(x: &NetworkBlackholeFault) -> Vec<(String, &str)> {
        vec![("target".into(), &x.target)]
    }

    fn validate(x: &NetworkBlackholeFault, at: &str, _: &Scope<'_>) -> Vec<Problem> {
        let mut out = Vec::new();
        match &x.cidrs {
            Some(c) if c.is_empty() => out.push(problem(
                format!("{at}.cidrs"),
                "an empty list: list at least one CIDR (`203.0.113.0/24`), or leave `cidrs` out and name a `prefix_list_id`",
            )),
            None if x.prefix_list_id.is_none() => out.push(problem(
                at,
                "network_blackhole denies nothing: list `cidrs` (`[203.0.113.0/24]`) and/or a `prefix_list_id` (`pl-…`)",
            )),
            _ => {}
        }
        let cidrs = x.cidrs.as_deref().unwrap_or_default();
        for (i, c) in cidrs.iter().enumerate() {
            // A repeat is refused with every other list's (`scenario::repeats`).
            if let Some(why) = cidr_problem(c) {
                out.push(problem(format!("{at}.cidrs[{i}]"), why));
            }
        }
        let limit = x.rule_limit();
        if !(1..=MAX_RULE_LIMIT).contains(&limit) {
            out.push(problem(
                format!("{at}.acl_rule_limit"),
                format!(
                    "{limit} rules per direction: AWS's network ACL quota is {DEFAULT_RULE_LIMIT} by default and at most {MAX_RULE_LIMIT}"
                ),
            ));
        } else if cidrs.len() > limit as usize {
            out.push(problem(
                format!("{at}.cidrs"),
                format!(
                    "{} CIDRs: the clone needs a deny entry per CIDR in each direction, and a network ACL holds at most \
                     {limit} rules per direction (`acl_rule_limit`; AWS's default quota is {DEFAULT_RULE_LIMIT}, \
                     {MAX_RULE_LIMIT} at most on request), the original's own rules included",
                    cidrs.len()
                ),
            ));
        }
        if let Some(pl) = &x.prefix_list_id
            && !valid_prefix_list_id(pl)
        {
            out.push(problem(
                format!("{at}.prefix_list_id"),
                format!("{pl:?} is not a managed prefix list id: `pl-` and 8 or 17 hex digits (`pl-63a5400a`)"),
            ));
        }
        out
    }

    fn iam(x: &NetworkBlackholeFault, targets: &[&Target]) -> Vec<Stmt> {
        let mut read = vec!["ec2:DescribeNetworkAcls"];
        // An AWS-managed prefix list's ARN names the owner `aws`, not the account: the
        // read cannot be scoped to the account's ARNs.
        if x.prefix_list_id.is_some() {
            read.extend(["ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries"]);
        }
        let mut r = vec![Res::Ec2("network-acl", "*".into()), Res::Ec2("vpc", "*".into())];
        r.extend(of_type(targets, TargetType::Ec2Subnet));
        vec![
            stmt("BlackholeNetworkRead", &read, vec![Res::Any], false),
            // As `az_outage`'s network part: a new ACL has no tags to condition on;
            // firedrill tags it at creation and only ever deletes the ACLs carrying its
            // tag. The ACL a subnet goes back to, and the VPC of a clone, are any of the
            // account's.
            stmt(
                "BlackholeNetworkAcls",
                &[
                    "ec2:CreateNetworkAcl",
                    "ec2:CreateNetworkAclEntry",
                    "ec2:ReplaceNetworkAclAssociation",
                    "ec2:DeleteNetworkAcl",
                ],
                r,
                false,
            ),
            stmt("TagNewNetworkAcls", &["ec2:CreateTags"], vec![Res::Ec2("network-acl", "*".into())], false)
                .on_create("CreateNetworkAcl"),
        ]
    }

    fn describe(x: &NetworkBlackholeFault, ids: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        vec![
            format!(
                "inject: subnet(s) {} lose {} in and out: each subnet's network ACL is cloned (tagged {BLACKHOLE_TAG}), \
                 deny entries go in front of its rules, and the subnet uses the clone",
                ids(&x.target),
                destinations(x)
            ),
            "revert: point each subnet back at its original network ACL, delete the clone".into(),
        ]
    }

    fn no_effect(_: &str, x: &NetworkBlackholeFault, res: &Resolution) -> Option<String> {
        res.resources(&x.target)
            .is_empty()
            .then(|| format!("target `{}` selected no subnet: nothing to blackhole", x.target))
    }

    fn build(fault: &str, x: &NetworkBlackholeFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (ctx, res) = ctx.aws()?;
        Some(Arc::new(Injector { ctx, fault: fault.to_string(), subnets: res.ids(&x.target), config: x.clone() }))
    }
}

/// What the fault would do, read and decided before anything is touched (at plan time,
/// and again at injection): per original network ACL of `subnets`, the ACL, its clone's
/// rules and the subnets that use it. `Refused` when the prefix list is empty or gone,
/// or a clone would not fit the rule limit or the rule numbers.
pub async fn clones(
    aws: &crate::aws::Aws,
    x: &NetworkBlackholeFault,
    subnets: &[String],
) -> Result<Vec<(crate::aws::Nacl, Vec<NaclEntry>, Vec<NaclAssociation>)>, FaultError> {
    let mut deny: Vec<String> = x.cidrs.iter().flatten().cloned().collect();
    if let Some(pl) = &x.prefix_list_id {
        let found = aws.prefix_list_cidrs(pl).await.map_err(failed)?;
        if found.is_empty() {
            return Err(FaultError::Refused(format!(
                "prefix list {pl} has no entries, or does not exist: nothing to blackhole from it"
            )));
        }
        for c in found {
            if !deny.contains(&c) {
                deny.push(c);
            }
        }
    }
    let limit = x.rule_limit();
    if deny.len() > limit as usize {
        return Err(FaultError::Refused(format!(
            "{} destinations{}: a network ACL holds at most {limit} rules per direction (`acl_rule_limit`)",
            deny.len(),
            x.prefix_list_id.as_ref().map(|pl| format!(" with the entries of prefix list {pl}")).unwrap_or_default(),
        )));
    }
    let current = aws.nacl_associations(subnets).await.map_err(failed)?;
    for s in subnets {
        if !current.iter().any(|a| &a.subnet_id == s) {
            return Err(FaultError::Failed(format!("subnet {s} no longer exists or has no network ACL")));
        }
    }
    let mut by_acl: BTreeMap<String, Vec<NaclAssociation>> = BTreeMap::new();
    for a in current {
        by_acl.entry(a.nacl_id.clone()).or_default().push(a);
    }
    let mut plans = Vec::new();
    for (acl, subnets) in by_acl {
        let Some(original) = aws.nacl(&acl).await.map_err(failed)? else {
            return Err(FaultError::Failed(format!("network ACL {acl} vanished between plan and injection")));
        };
        let entries = clone_entries(&original.entries, &deny, limit).map_err(|why| {
            FaultError::Refused(format!("network ACL {acl} cannot be cloned with the deny entries: {why}"))
        })?;
        plans.push((original, entries, subnets));
    }
    Ok(plans)
}

/// The plan-time check of the scenario's `network_blackhole` faults: each clone must fit
/// (see [`clones`]), read from AWS before anything is touched. Refusals (exit 7).
pub async fn plan_refusals(aws: &crate::aws::Aws, s: &crate::scenario::Scenario, res: &Resolution) -> Vec<String> {
    let mut out = Vec::new();
    for f in &s.faults {
        let super::FaultKind::NetworkBlackhole(x) = &f.kind else { continue };
        let subnets = res.ids(&x.target);
        if subnets.is_empty() {
            continue;
        }
        if let Err(e) = clones(aws, x, &subnets).await {
            let why = match e {
                FaultError::Refused(m) | FaultError::Failed(m) => m,
                other => other.to_string(),
            };
            out.push(format!("fault `{}` (network_blackhole): {why}", f.name));
        }
    }
    out
}

/// Clones the subnets' network ACLs with the deny entries and swaps them in.
pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub fault: String,
    pub subnets: Vec<String>,
    pub config: NetworkBlackholeFault,
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        let aws = &self.ctx.aws;
        if self.subnets.is_empty() {
            return Ok(());
        }
        // Everything is read and decided before the first side effect.
        let plans = clones(aws, &self.config, &self.subnets).await?;
        for (original, entries, subnets) in plans {
            let acl = &original.id;
            let ids: Vec<String> = subnets.iter().map(|a| a.subnet_id.clone()).collect();
            let swap = super::nacl::Swap {
                tag: BLACKHOLE_TAG,
                token: format!("{}/{}/{acl}", self.ctx.run_id, self.fault),
                vpc: &original.vpc,
                name: format!("firedrill-blackhole-{acl}"),
                entries,
                what: format!("firedrill's clone of network ACL {acl} (subnets {})", list(&ids)),
                scope: format!("use network ACL {acl}"),
                zone: None,
            };
            super::nacl::swap(&self.ctx, intents, &swap, subnets).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Kind;
    use crate::faults::fixtures::{one_target, resource};

    fn scope() -> Scope<'static> {
        static EMPTY: std::sync::OnceLock<BTreeMap<String, Target>> = std::sync::OnceLock::new();
        Scope { targets: EMPTY.get_or_init(BTreeMap::new), region: Some("us-east-1"), accounts: &[] }
    }

    fn fault(cidrs: Option<&[&str]>, pl: Option<&str>) -> NetworkBlackholeFault {
        NetworkBlackholeFault {
            target: "t".into(),
            cidrs: cidrs.map(|c| c.iter().map(|s| s.to_string()).collect()),
            prefix_list_id: pl.map(String::from),
            acl_rule_limit: None,
        }
    }

    fn problems(x: &NetworkBlackholeFault) -> Vec<(String, String)> {
        NetworkBlackhole::validate(x, "f", &scope()).into_iter().map(|p| (p.path, p.message)).collect()
    }

    #[test]
    fn cidrs_are_checked_with_what_was_meant() {
        for ok in ["203.0.113.0/24", "0.0.0.0/0", "10.1.2.3/32", "2001:db8::/32", "::/0"] {
            assert_eq!(cidr_problem(ok), None, "{ok}");
        }
        let why = |s: &str| cidr_problem(s).unwrap();
        assert!(why("10.1.2.3").contains("write `10.1.2.3/32`"), "{}", why("10.1.2.3"));
        assert!(why("2001:db8::1").contains("`2001:db8::1/128`"));
        assert!(why("10.1.2.3/16").contains("did you mean `10.1.0.0/16`?"), "{}", why("10.1.2.3/16"));
        assert!(why("2001:db8::1/32").contains("did you mean `2001:db8::/32`?"));
        assert!(why("10.0.0.0/33").contains("0 to 32"));
        assert!(why("10.0.0.0/+8").contains("0 to 32"));
        assert!(why("s3.amazonaws.com/16").contains("not an IPv4 or IPv6 address"));
        assert!(why("example.com").contains("not a CIDR"));
        for never in ["169.254.169.254/32", "169.254.0.0/16", "127.0.0.0/8", "fe80::/10", "::1/128"] {
            assert!(why(never).contains("network ACLs never filter"), "{never}: {:?}", cidr_problem(never));
        }
    }

    #[test]
    fn prefix_list_ids_look_like_aws_ones() {
        assert!(valid_prefix_list_id("pl-63a5400a"));
        assert!(valid_prefix_list_id("pl-0123456789abcdef0"));
        for bad in ["pl-", "pl-63A5400A", "pl-63a5400", "sg-63a5400a", "63a5400a", "pl-63a5400a "] {
            assert!(!valid_prefix_list_id(bad), "{bad}");
        }
    }

    /// Every problem names its field: an empty list, nothing to deny, a bad or repeated
    /// CIDR, a bad prefix list id.
    #[test]
    fn validation_names_the_field() {
        assert!(problems(&fault(Some(&["203.0.113.0/24"]), Some("pl-63a5400a"))).is_empty());
        assert!(problems(&fault(None, Some("pl-63a5400a"))).is_empty());
        assert_eq!(
            problems(&fault(None, None)),
            [(
                "f".to_string(),
                "network_blackhole denies nothing: list `cidrs` (`[203.0.113.0/24]`) and/or a `prefix_list_id` (`pl-…`)"
                    .to_string()
            )]
        );
        let empty = problems(&fault(Some(&[]), Some("pl-63a5400a")));
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0].0, "f.cidrs");
        assert!(empty[0].1.starts_with("an empty list"), "{empty:?}");
        let bad = problems(&fault(Some(&["10.0.0.0/8", "10.0.0.1", "10.0.0.0/8"]), Some("pl-xyz")));
        let at: Vec<&str> = bad.iter().map(|(p, _)| p.as_str()).collect();
        // A repeated CIDR is the loader's (scenario::repeats), not this check's.
        assert_eq!(at, ["f.cidrs[1]", "f.prefix_list_id"], "{bad:?}");
        // More CIDRs than a direction of the ACL holds: by default 20, or `acl_rule_limit`.
        let many: Vec<String> = (0..21).map(|i| format!("10.0.{i}.0/24")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let got = problems(&fault(Some(&many), None));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].0 == "f.cidrs" && got[0].1.contains("at most 20 rules per direction"), "{got:?}");
        let raised = NetworkBlackholeFault { acl_rule_limit: Some(40), ..fault(Some(&many), None) };
        assert!(problems(&raised).is_empty());
        let lower = NetworkBlackholeFault { acl_rule_limit: Some(10), ..fault(Some(&many[..11]), None) };
        assert!(problems(&lower)[0].1.contains("at most 10 rules"), "{:?}", problems(&lower));
        for bad in [0, 41] {
            let x = NetworkBlackholeFault { acl_rule_limit: Some(bad), ..fault(Some(&["10.0.0.0/8"]), None) };
            let got = problems(&x);
            assert_eq!(got.len(), 1, "{got:?}");
            assert_eq!(got[0].0, "f.acl_rule_limit");
        }
    }

    fn entry(rule: i32, egress: bool, action: &str, cidr: &str) -> NaclEntry {
        NaclEntry {
            rule_number: rule,
            egress,
            action: action.into(),
            protocol: "6".into(),
            cidr: Some(cidr.into()),
            ipv6_cidr: None,
            icmp: None,
            ports: Some((443, 443)),
        }
    }

    fn numbers(es: &[NaclEntry], egress: bool) -> Vec<(i32, String)> {
        es.iter()
            .filter(|e| e.egress == egress)
            .map(|e| (e.rule_number, format!("{} {}", e.action, e.cidr.clone().or(e.ipv6_cidr.clone()).unwrap())))
            .collect()
    }

    /// The deny entries come first in both directions; the original rules follow in their
    /// order, with their own numbers when there is room, moved up together when not; the
    /// implicit `*` rule is not copied; everything else of a rule is kept.
    #[test]
    fn the_clone_puts_the_deny_entries_in_front_of_the_original_rules() {
        let original = [
            entry(200, true, "allow", "0.0.0.0/0"),
            entry(100, true, "deny", "192.0.2.0/24"),
            entry(32767, true, "deny", "0.0.0.0/0"),
            entry(2, false, "allow", "0.0.0.0/0"),
            entry(32767, false, "deny", "0.0.0.0/0"),
        ];
        let deny = ["203.0.113.0/24".to_string(), "2001:db8::/32".to_string()];
        let c = clone_entries(&original, &deny, DEFAULT_RULE_LIMIT).unwrap();
        assert_eq!(
            numbers(&c, true),
            [
                (1, "deny 203.0.113.0/24".to_string()),
                (2, "deny 2001:db8::/32".into()),
                (100, "deny 192.0.2.0/24".into()),
                (200, "allow 0.0.0.0/0".into()),
            ]
        );
        // Inbound rule 2 collides with the deny entries: moved to 3.
        assert_eq!(
            numbers(&c, false),
            [(1, "deny 203.0.113.0/24".to_string()), (2, "deny 2001:db8::/32".into()), (3, "allow 0.0.0.0/0".into())]
        );
        let denied = c.iter().find(|e| e.rule_number == 2 && e.egress).unwrap();
        assert_eq!((denied.cidr.as_deref(), denied.ipv6_cidr.as_deref()), (None, Some("2001:db8::/32")));
        assert_eq!((denied.protocol.as_str(), denied.ports), ("-1", None), "a deny entry takes all traffic");
        let kept = c.iter().find(|e| e.rule_number == 3 && !e.egress).unwrap();
        assert_eq!((kept.protocol.as_str(), kept.ports), ("6", Some((443, 443))), "a cloned rule is kept whole");

        // No room in front of a rule at the top of the range.
        let full = [entry(1, true, "allow", "0.0.0.0/0"), entry(MAX_RULE, true, "allow", "10.0.0.0/8")];
        assert!(clone_entries(&full, &deny, DEFAULT_RULE_LIMIT).unwrap_err().contains("no room"));

        // The rule limit counts the original's rules and the deny entries, per direction.
        let rules: Vec<NaclEntry> = (1..=18).map(|i| entry(100 + i, false, "allow", "10.0.0.0/8")).collect();
        assert!(clone_entries(&rules, &deny, 20).is_ok(), "18 inbound rules + 2 deny entries fit 20");
        let why = clone_entries(&rules, &deny, 19).unwrap_err();
        assert!(why.contains("its 18 inbound rules and 2 deny entries make 20, more than the 19"), "{why}");
        let mut more = rules.clone();
        more.push(entry(500, false, "allow", "10.0.0.0/8"));
        assert!(clone_entries(&more, &deny, 20).unwrap_err().contains("make 21, more than the 20"));
        assert!(clone_entries(&more, &deny, 40).is_ok());
    }

    #[test]
    fn plan_lines_and_no_effect() {
        let x = fault(Some(&["203.0.113.0/24"]), Some("pl-63a5400a"));
        let ids = |t: &str| format!("target `{t}`");
        let lines = NetworkBlackhole::describe(&x, &ids, None);
        assert_eq!(
            lines[0],
            "inject: subnet(s) target `t` lose 203.0.113.0/24, the entries of prefix list pl-63a5400a (read at injection) \
             in and out: each subnet's network ACL is cloned (tagged firedrill:blackhole), deny entries go in front of \
             its rules, and the subnet uses the clone"
        );
        assert_eq!(lines[1], "revert: point each subnet back at its original network ACL, delete the clone");
        let none = one_target(TargetType::Ec2Subnet, vec![]);
        assert_eq!(
            NetworkBlackhole::no_effect("f", &x, &none).as_deref(),
            Some("target `t` selected no subnet: nothing to blackhole")
        );
        let some = one_target(TargetType::Ec2Subnet, vec![resource("subnet-1", None, &[("vpc", "vpc-1")])]);
        assert_eq!(NetworkBlackhole::no_effect("f", &x, &some), None);
        assert_eq!(NetworkBlackhole::resources(&x, &some), [(TargetType::Ec2Subnet, "subnet-1".to_string())]);
    }

    #[test]
    fn iam_reads_the_prefix_list_only_when_one_is_named() {
        let t: Target =
            serde_json::from_value(serde_json::json!({"type": "ec2:subnet", "tags": {"app": "shop"}})).unwrap();
        let with = NetworkBlackhole::iam(&fault(None, Some("pl-63a5400a")), &[&t]);
        let without = NetworkBlackhole::iam(&fault(Some(&["10.0.0.0/8"]), None), &[&t]);
        let read = |s: &[Stmt]| format!("{:?}", s[0]);
        assert!(read(&with).contains("ec2:GetManagedPrefixListEntries"));
        assert!(!read(&without).contains("ec2:GetManagedPrefixListEntries"));
        assert!(format!("{:?}", with[1]).contains("ec2:CreateNetworkAclEntry"));
    }
}
