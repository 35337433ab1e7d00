//! firedrill's own tag keys on AWS resources, and how to read them back. A leaf module:
//! target resolution (which refuses resources another run holds), the lease (which
//! writes the keys), the faults (which write the undo tags) and `recover --sweep` (which
//! reads them) all use it, and it depends on nothing of firedrill's but the tag map type.
//!
//! **Undo tags.** Every change a fault makes to AWS carries, on the changed resource,
//! what undoing it needs: written before the change, removed once it is reverted, so
//! `firedrill recover --sweep` can undo it with the journal gone. A value is the run id,
//! then the fields of its kind, each after a `:` ([`fields`]; no field holds one, and
//! unlike a space it is signed alike by every SDK's form encoding); a value that may be
//! longer than AWS allows (256 characters) is split over numbered tags ([`split`]).
//! docs/tags.md is the schema.

use crate::aws::Tags;

/// Key prefix of a lease tag: `firedrill:lease:<run id>`.
pub const LEASE_PREFIX: &str = "firedrill:lease:";
/// The run that created a resource (firedrill's deny-all network ACL).
pub const RUN: &str = "firedrill:run";
/// On an instance firedrill stopped: `<run>`; the instance was running.
pub const UNDO_START: &str = "firedrill:undo:start";
/// On a volume firedrill detached: `<run>:<instance>:<device>`.
pub const UNDO_ATTACH: &str = "firedrill:undo:attach";
/// On an Auto Scaling group firedrill took subnets from: `<run>:<parts>`, and parts
/// `firedrill:undo:subnets:1`… holding `<original VPCZoneIdentifier>|<what firedrill set>`.
pub const UNDO_SUBNETS: &str = "firedrill:undo:subnets";
/// On firedrill's deny-all network ACL, one per subnet it took:
/// `firedrill:undo:acl:<subnet id>` = `<run>:<the subnet's original ACL>`.
pub const UNDO_ACL_PREFIX: &str = "firedrill:undo:acl:";
/// On a role given the revocation deny policy: `<run>:<region>:<policy name>`.
pub const UNDO_REVOKE: &str = "firedrill:undo:revoke";
/// On a role given the deny policy of a `service_outage` or `region_outage`, one per
/// fault: `firedrill:undo:deny:<fault>` = `<run>:<region>` (the policy is
/// `faults::outage::deny_policy_name(run, fault)`).
pub const UNDO_DENY_PREFIX: &str = "firedrill:undo:deny:";
/// On a user whose access keys were deactivated: `<run>:<region>:<key id>…`.
pub const UNDO_KEYS: &str = "firedrill:undo:keys";
/// The most characters AWS takes in a tag value (EC2, Auto Scaling, IAM, RDS).
pub const MAX_VALUE: usize = 256;

/// The run ids holding a lease in these tags.
pub fn lease_holders(tags: &Tags) -> Vec<String> {
    tags.keys().filter_map(|k| k.strip_prefix(LEASE_PREFIX)).map(str::to_string).collect()
}

/// An undo tag that cannot be read: which resource, which tag, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{resource}: tag {key}: {why}")]
pub struct TagError {
    pub resource: String,
    pub key: String,
    pub why: String,
}

fn bad(resource: &str, key: &str, why: impl Into<String>) -> TagError {
    TagError { resource: resource.to_string(), key: key.to_string(), why: why.into() }
}

/// Whether `id` can be a run id (as `state::StateDir::create_run` makes them: a time
/// stamp, the scenario's name and a salt; letters, digits, `-`, `_`, `.`).
pub fn valid_run(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// What separates the fields of a value.
pub const SEP: char = ':';

/// A tag value: the run id, then each field, separated by [`SEP`].
pub fn fields(run: &str, rest: &[&str]) -> String {
    std::iter::once(run).chain(rest.iter().copied()).collect::<Vec<_>>().join(&SEP.to_string())
}

/// Reads a value written by [`fields`] from tag `key` of `resource`: the run id and the
/// other fields, of which there must be at least `min` (and exactly `min` unless `more`).
pub fn parse_fields(
    resource: &str,
    key: &str,
    value: &str,
    min: usize,
    more: bool,
) -> Result<(String, Vec<String>), TagError> {
    let mut parts = value.split(SEP);
    let run = parts.next().unwrap_or_default();
    if !valid_run(run) {
        return Err(bad(resource, key, format!("{value:?} does not start with a run id")));
    }
    let rest: Vec<String> = parts.map(str::to_string).collect();
    if rest.iter().any(String::is_empty) || rest.len() < min || (!more && rest.len() != min) {
        let want = if more { format!("at least {min}") } else { min.to_string() };
        return Err(bad(
            resource,
            key,
            format!("{value:?} should be the run id and {want} field(s), each after a `{SEP}`"),
        ));
    }
    Ok((run.to_string(), rest))
}

/// The tags that carry `payload` for `run` under `key`: `key` = `<run>:<parts>` and
/// `key:1`…`key:<parts>` holding the payload, cut into pieces of at most
/// [`MAX_VALUE`] characters.
pub fn split(key: &str, run: &str, payload: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = payload.chars().collect();
    let pieces: Vec<String> = chars.chunks(MAX_VALUE).map(|c| c.iter().collect()).collect();
    let pieces = if pieces.is_empty() { vec![String::new()] } else { pieces };
    let mut out = vec![(key.to_string(), fields(run, &[&pieces.len().to_string()]))];
    out.extend(pieces.into_iter().enumerate().map(|(i, p)| (format!("{key}:{}", i + 1), p)));
    out
}

/// Reads back what [`split`] wrote: `None` when `tags` has no `key`; an error naming the
/// resource and tag when a part is missing or the head is malformed.
pub fn join(resource: &str, key: &str, tags: &Tags) -> Result<Option<(String, String)>, TagError> {
    let Some(head) = tags.get(key) else { return Ok(None) };
    let (run, rest) = parse_fields(resource, key, head, 1, false)?;
    let n: usize = match rest[0].parse() {
        Ok(n) if (1..=50).contains(&n) => n,
        _ => return Err(bad(resource, key, format!("{head:?}: the number of parts must be 1 to 50"))),
    };
    let mut payload = String::new();
    for i in 1..=n {
        let part = format!("{key}:{i}");
        match tags.get(&part) {
            Some(p) => payload.push_str(p),
            None => return Err(bad(resource, &part, format!("missing (tag {key} says there are {n} parts)"))),
        }
    }
    Ok(Some((run, payload)))
}

/// Every key of a split value under `key` present in `tags` (the head and its parts),
/// for removal.
pub fn split_keys(key: &str, tags: &Tags) -> Vec<String> {
    let parts = format!("{key}:");
    tags.keys()
        .filter(|k| {
            *k == key || k.strip_prefix(&parts).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .cloned()
        .collect()
}

/// Whether `key` is one of firedrill's undo tags (not the lease, not the opt-in tag).
pub fn is_undo(key: &str) -> bool {
    key.starts_with("firedrill:undo:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(String, String)]) -> Tags {
        pairs.iter().cloned().collect()
    }

    #[test]
    fn a_long_value_is_split_and_joined_back_exactly() {
        let original: Vec<String> = (0..40).map(|i| format!("subnet-{i:017x}")).collect();
        let payload = format!("{}|{}", original.join(","), original[..20].join(","));
        assert!(payload.len() > 2 * MAX_VALUE);
        let written = split(UNDO_SUBNETS, "20261201T100000Z-az-00ab", &payload);
        assert_eq!(written.len(), 1 + payload.len().div_ceil(MAX_VALUE));
        assert!(written.iter().all(|(_, v)| v.chars().count() <= MAX_VALUE), "{written:?}");
        assert_eq!(written[0], (UNDO_SUBNETS.to_string(), format!("20261201T100000Z-az-00ab:{}", written.len() - 1)));
        let t = tags(&written);
        assert_eq!(join("group web", UNDO_SUBNETS, &t).unwrap(), Some(("20261201T100000Z-az-00ab".into(), payload)));
        let mut keys = split_keys(UNDO_SUBNETS, &t);
        keys.sort();
        assert_eq!(keys.len(), written.len());
        // A short value is one part; no tag is no value.
        let t = tags(&split(UNDO_SUBNETS, "r", "a,b|a"));
        assert_eq!(join("g", UNDO_SUBNETS, &t).unwrap(), Some(("r".into(), "a,b|a".into())));
        assert_eq!(join("g", UNDO_SUBNETS, &Tags::new()).unwrap(), None);
    }

    #[test]
    fn malformed_tags_name_the_resource_and_tag() {
        let mut t = tags(&split(UNDO_SUBNETS, "r1", &"x".repeat(600)));
        t.remove(&format!("{UNDO_SUBNETS}:2"));
        let e = join("Auto Scaling group web", UNDO_SUBNETS, &t).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Auto Scaling group web: tag firedrill:undo:subnets:2: missing (tag firedrill:undo:subnets says there are 3 parts)"
        );
        for head in ["r1", "r1:0", "r1:x", "r1:51", ":1", "r1::1", "r$:1", "r1 1"] {
            let t: Tags = [(UNDO_SUBNETS.to_string(), head.to_string())].into();
            let e = join("group g", UNDO_SUBNETS, &t).unwrap_err();
            assert!(e.to_string().starts_with("group g: tag firedrill:undo:subnets: "), "{head:?}: {e}");
        }
        let e = parse_fields("volume vol-1", UNDO_ATTACH, "r1:i-1", 2, false).unwrap_err();
        assert!(
            e.to_string()
                .contains("volume vol-1: tag firedrill:undo:attach: \"r1:i-1\" should be the run id and 2 field(s)"),
            "{e}"
        );
        assert!(parse_fields("v", UNDO_ATTACH, "r1:i-1:/dev/sdf:extra", 2, false).is_err());
        assert!(parse_fields("v", UNDO_ATTACH, "r1 i-1 /dev/sdf", 2, false).is_err());
        assert!(parse_fields("v", UNDO_ATTACH, "", 2, false).is_err());
        assert_eq!(
            parse_fields("u", UNDO_KEYS, "r1:us-east-1:AKIA1:AKIA2", 2, true).unwrap(),
            ("r1".to_string(), vec!["us-east-1".to_string(), "AKIA1".into(), "AKIA2".into()])
        );
        assert_eq!(parse_fields("i", UNDO_START, "r1", 0, false).unwrap(), ("r1".to_string(), vec![]));
    }

    #[test]
    fn only_the_head_and_numbered_parts_are_removed() {
        let t: Tags = [
            (UNDO_SUBNETS.to_string(), "r:1".to_string()),
            (format!("{UNDO_SUBNETS}:1"), "a|b".into()),
            (format!("{UNDO_SUBNETS}:note"), "theirs".into()),
            ("firedrill".into(), "allowed".into()),
        ]
        .into();
        let mut keys = split_keys(UNDO_SUBNETS, &t);
        keys.sort();
        assert_eq!(keys, [UNDO_SUBNETS.to_string(), format!("{UNDO_SUBNETS}:1")]);
    }

    #[test]
    fn holders_and_undo_keys() {
        assert!(is_undo(UNDO_START) && is_undo(&format!("{UNDO_ACL_PREFIX}subnet-1")));
        assert!(!is_undo("firedrill:lease:r") && !is_undo("firedrill"));
    }
}
