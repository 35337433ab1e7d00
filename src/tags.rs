//! firedrill's own tag keys on AWS resources, and how to read them back. A leaf module:
//! target resolution (which refuses resources another run holds) and the lease (which
//! writes the keys) both read it, and it depends on nothing of firedrill's but the tag
//! map type.

use crate::aws::Tags;

/// Key prefix of a lease tag: `firedrill:lease:<run id>`.
pub const LEASE_PREFIX: &str = "firedrill:lease:";

/// The run ids holding a lease in these tags.
pub fn lease_holders(tags: &Tags) -> Vec<String> {
    tags.keys().filter_map(|k| k.strip_prefix(LEASE_PREFIX)).map(str::to_string).collect()
}
