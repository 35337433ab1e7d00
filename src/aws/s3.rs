//! S3, for the shared run state (`--state s3://BUCKET/PREFIX`, [`crate::state`]): a small
//! typed API over one bucket: create an object only if it does not exist (`If-None-Match:
//! *`), replace it only if it is unchanged (`If-Match: ETAG`), get, list and delete.
//! Addressing is path-style when an endpoint is given (`--endpoint-url`, a local moto or
//! an S3-compatible store), virtual-hosted on AWS. Answers are capped like every other
//! client's ([`super::BodyCap`]), and errors keep their [`ErrorKind`].

use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;

use super::{AwsError, AwsOpts, BodyCap, ErrorKind, NoRetryOverCap, sdk_err};

/// The region S3 state uses when neither `--region` nor the standard chain names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// One bucket, cheap to clone.
#[derive(Clone, Debug)]
pub struct Bucket {
    client: aws_sdk_s3::Client,
    name: String,
}

/// An object read back: its bytes and its ETag (for a later [`Bucket::put_if_match`]).
#[derive(Clone, Debug)]
pub struct Object {
    pub body: Vec<u8>,
    pub etag: String,
}

/// One key of a listing.
#[derive(Clone, Debug)]
pub struct Listed {
    pub key: String,
    pub etag: String,
}

/// What a conditional write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Put {
    /// Written; the new ETag.
    Written(String),
    /// Not written: the condition failed (the object exists, or changed since it was read).
    Conflict,
}

/// Whether an error is S3 refusing a conditional write (412 Precondition Failed, or 409
/// ConditionalRequestConflict when another conditional write to the key was under way).
fn is_conflict<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    let code = match e {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    };
    matches!(code, Some("PreconditionFailed" | "ConditionalRequestConflict"))
}

impl Bucket {
    /// A client for `bucket`, from the standard chain with `opts` (as every other client).
    pub async fn connect(opts: &AwsOpts, bucket: &str) -> Result<Bucket, AwsError> {
        let sdk = super::load(opts).await;
        let endpoint = opts.endpoint_url.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let mut conf = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(endpoint.is_some())
            .interceptor(BodyCap)
            .retry_classifier(NoRetryOverCap)
            // Plain Content-MD5-free writes: the checksums newer SDKs add by default are
            // not understood by every S3-compatible store.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if sdk.region().is_none() {
            conf = conf.region(Region::new(DEFAULT_REGION));
        }
        Ok(Bucket { client: aws_sdk_s3::Client::from_conf(conf.build()), name: bucket.to_string() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates `key` with `body` unless it exists (`If-None-Match: *`): never overwrites.
    pub async fn put_if_absent(&self, key: &str, body: Vec<u8>) -> Result<Put, AwsError> {
        let req = self.client.put_object().bucket(&self.name).key(key).if_none_match("*");
        match req.body(ByteStream::from(body)).send().await {
            Ok(out) => Ok(Put::Written(out.e_tag.unwrap_or_default())),
            Err(e) if is_conflict(&e) => Ok(Put::Conflict),
            Err(e) => Err(sdk_err("s3:PutObject", e)),
        }
    }

    /// Replaces `key` with `body` only if its ETag is still `etag` (`If-Match`).
    pub async fn put_if_match(&self, key: &str, body: Vec<u8>, etag: &str) -> Result<Put, AwsError> {
        let req = self.client.put_object().bucket(&self.name).key(key).if_match(etag);
        match req.body(ByteStream::from(body)).send().await {
            Ok(out) => Ok(Put::Written(out.e_tag.unwrap_or_default())),
            Err(e) if is_conflict(&e) => Ok(Put::Conflict),
            Err(e) => {
                let e = sdk_err("s3:PutObject", e);
                // The object is gone: it changed.
                if e.kind == ErrorKind::NotFound { Ok(Put::Conflict) } else { Err(e) }
            }
        }
    }

    /// Writes `key` whatever is there (for files that are rewritten whole, like reports).
    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<String, AwsError> {
        let out = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| sdk_err("s3:PutObject", e))?;
        Ok(out.e_tag.unwrap_or_default())
    }

    /// Reads `key`; `None` when there is no such object (a missing bucket is an error:
    /// it holds no lock nor claim, but nothing can be told from it either).
    pub async fn get(&self, key: &str) -> Result<Option<Object>, AwsError> {
        let out = match self.client.get_object().bucket(&self.name).key(key).send().await {
            Ok(o) => o,
            Err(e) => {
                let e = sdk_err("s3:GetObject", e);
                let no_key = e.is_not_found() && e.code.as_deref() != Some("NoSuchBucket");
                return if no_key { Ok(None) } else { Err(e) };
            }
        };
        let etag = out.e_tag.clone().unwrap_or_default();
        let body = out.body.collect().await.map_err(|e| AwsError {
            op: "s3:GetObject".into(),
            kind: ErrorKind::Unreachable,
            code: None,
            message: format!("cannot read s3://{}/{key}: {}", self.name, super::wire_cause(&e)),
        })?;
        Ok(Some(Object { body: body.into_bytes().to_vec(), etag }))
    }

    /// Every key under `prefix`, in key order (all pages).
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.name).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("s3:ListObjectsV2", e))?;
            for o in page.contents() {
                if let Some(key) = o.key() {
                    out.push(Listed { key: key.to_string(), etag: o.e_tag().unwrap_or_default().to_string() });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Deletes `key` (no error when it is already gone).
    pub async fn delete(&self, key: &str) -> Result<(), AwsError> {
        match self.client.delete_object().bucket(&self.name).key(key).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = sdk_err("s3:DeleteObject", e);
                if e.is_not_found() { Ok(()) } else { Err(e) }
            }
        }
    }
}
