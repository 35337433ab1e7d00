//! What S3 run state (`--state s3://BUCKET/PREFIX`) needs: read, create, replace (the
//! lock's heartbeat) and delete (the lock) objects under `PREFIX/runs/` and
//! `PREFIX/schedule/` (`schedule run-due`'s claims and log), and list those prefixes (a
//! read of a missing object without it is "access denied", not "no such key": that is
//! how `recover --sweep` tells a run without a lock). `firedrill iam-policy --state
//! s3://…` adds these statements to the scenario's.

use serde_json::{Value, json};

use crate::state::remote::Location;

/// The statements for state at `loc`, in the partition of `region`.
pub fn statements(loc: &Location, region: &str) -> Vec<Value> {
    let p = crate::aws::partition(region);
    let bucket = &loc.bucket;
    let (runs, schedule) = (format!("{}runs/", loc.prefix), format!("{}schedule/", loc.prefix));
    vec![
        json!({
            "Sid": "FiredrillStateObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": format!("arn:{p}:s3:::{bucket}/{runs}*"),
        }),
        // Claims and log lines are only created and read, never replaced nor deleted.
        json!({
            "Sid": "FiredrillScheduleObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": format!("arn:{p}:s3:::{bucket}/{schedule}*"),
        }),
        json!({
            "Sid": "FiredrillStateList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": format!("arn:{p}:s3:::{bucket}"),
            "Condition": { "StringLike": { "s3:prefix": [format!("{runs}*"), format!("{schedule}*")] } },
        }),
    ]
}

/// `policy` (a policy document) with the statements for state at `loc` added.
pub fn with_state(mut policy: Value, loc: &Location, region: &str) -> Value {
    if let Some(list) = policy.get_mut("Statement").and_then(Value::as_array_mut) {
        list.extend(statements(loc, region));
    }
    policy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_statements_are_scoped_to_the_prefix() {
        let loc = Location::parse("s3://drills/team").unwrap();
        let p = with_state(json!({ "Version": "2012-10-17", "Statement": [] }), &loc, "us-east-1");
        let s = p["Statement"].as_array().unwrap();
        assert_eq!(s[0]["Resource"], "arn:aws:s3:::drills/team/runs/*");
        assert_eq!(s[1]["Resource"], "arn:aws:s3:::drills/team/schedule/*");
        assert_eq!(s[1]["Action"], json!(["s3:GetObject", "s3:PutObject"]), "claims are never replaced nor deleted");
        assert_eq!(s[2]["Resource"], "arn:aws:s3:::drills");
        assert_eq!(s[2]["Condition"]["StringLike"]["s3:prefix"], json!(["team/runs/*", "team/schedule/*"]));
        let loc = Location::parse("s3://drills").unwrap();
        let s = statements(&loc, "cn-north-1");
        assert_eq!(s[0]["Resource"], "arn:aws-cn:s3:::drills/runs/*");
    }
}
