//! AWS access: the only module that imports `aws-sdk-*`. It builds clients from
//! aws-config's standard chain (env, profiles, SSO, credential_process, IMDS) with the
//! AWS CLI's `--profile`, `--region` and `--endpoint-url` / `AWS_ENDPOINT_URL`, retries
//! throttling and 5xx with backoff (the SDK's standard retry mode), pages every list
//! call, filters server-side where the API can, and turns SDK errors into [`AwsError`].
//! Faults, probes and target resolution call the plain functions here and never see an
//! SDK type.
//!
//! What AWS sends back is bounded: a response body larger than [`MAX_RESPONSE`] fails
//! its call (an endless or huge answer from a broken endpoint or proxy must not grow the
//! process until the OOM killer ends it with faults still injected). Errors read in the
//! operator's terms ("cannot reach the AWS endpoint http://…: connection refused"), never
//! as the SDK's debug dump, and keep their [`ErrorKind`].

mod asg;
pub mod audit;
mod cloudwatch;
mod ec2;
mod fis;
mod iam;
mod rds;
pub mod s3;
mod scheduler;
mod ssm;
mod tags;
mod types;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ec2::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef, InterceptorContext,
};
use aws_sdk_ec2::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_ec2::config::{ConfigBag, Intercept, Region, RuntimeComponents};
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

pub use fis::{FisExperiment, NewFisAction, NewFisTemplate};
pub use iam::PrincipalKind;
pub use scheduler::OneTimeSchedule;
pub use tags::partition;
pub use types::*;

/// How to reach AWS, as in the AWS CLI.
#[derive(Clone, Debug, Default)]
pub struct AwsOpts {
    pub profile: Option<String>,
    /// Overrides the standard chain's region.
    pub region: Option<String>,
    /// Overrides every service's endpoint (also read from `AWS_ENDPOINT_URL` by the SDK).
    pub endpoint_url: Option<String>,
}

/// What kind of failure an AWS call had, for messages and decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The resource does not exist (any more).
    NotFound,
    /// Still throttled after the SDK's retries.
    Throttled,
    /// The endpoint could not be reached or did not answer in time.
    Unreachable,
    /// No credentials were found, or they were refused.
    Credentials,
    /// The request was refused as invalid for the resource's current state.
    InvalidState,
    /// The credentials lack a permission (IAM said no).
    AccessDenied,
    Other,
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{op}: {message}")]
pub struct AwsError {
    pub op: String,
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn other(op: &str, message: impl Into<String>) -> Self {
        AwsError { op: op.to_string(), kind: ErrorKind::Other, code: None, message: message.into() }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// Whether the same call may succeed if tried again: not when IAM denied it or the
    /// credentials were refused (nothing firedrill does changes either).
    pub fn may_succeed_later(&self) -> bool {
        !matches!(self.kind, ErrorKind::AccessDenied | ErrorKind::Credentials)
    }
}

/// The most bytes of one AWS response body firedrill reads; a larger answer fails the call.
pub const MAX_RESPONSE: usize = 64 << 20;

/// Where calls go, for messages: the `--endpoint-url` / `AWS_ENDPOINT_URL` if one was
/// given, else the region (each service's own endpoint there).
static WHERE: std::sync::RwLock<Option<(Option<String>, String)>> = std::sync::RwLock::new(None);

/// "the AWS endpoint http://127.0.0.1:4566" or "the AWS ec2 endpoint in us-east-1".
fn endpoint_for(op: &str) -> String {
    let service = op.split(':').next().unwrap_or("AWS");
    match WHERE.read().ok().and_then(|w| w.clone()) {
        Some((Some(url), _)) => format!("the AWS endpoint {url}"),
        Some((None, region)) => format!("the AWS {service} endpoint in {region}"),
        None => format!("the AWS {service} endpoint"),
    }
}

/// What went wrong on the wire, in words, from an error's chain of causes: "connection
/// refused", "the connection was closed before AWS answered", …
fn wire_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut last = e.to_string();
    while let Some(c) = cause {
        if c.downcast_ref::<http_body_util::LengthLimitError>().is_some() || c.to_string() == "length limit exceeded" {
            return format!("the answer was larger than {} MiB; refused", MAX_RESPONSE >> 20);
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            return match io.kind() {
                K::ConnectionRefused => "connection refused".into(),
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => "the connection was reset".into(),
                K::TimedOut => "the connection timed out".into(),
                K::UnexpectedEof => "the connection was closed before AWS answered".into(),
                _ => strip_os_error(&io.to_string()),
            };
        }
        let text = c.to_string();
        if text.contains("connection closed before message completed") || text.contains("IncompleteMessage") {
            return "the connection was closed before AWS answered".into();
        }
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return "the host name could not be resolved".into();
        }
        if !text.is_empty() {
            last = text;
        }
        cause = c.source();
    }
    strip_os_error(&last)
}

/// "Connection refused (os error 111)" → "Connection refused".
fn strip_os_error(s: &str) -> String {
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// Turns an SDK error into an [`AwsError`] that says what went wrong in words.
fn sdk_err<E>(op: &str, e: SdkError<E>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = e.code().map(str::to_string);
    let text = DisplayErrorContext(&e).to_string();
    // What happened before any answer could be read, in the operator's terms.
    let wire = match &e {
        SdkError::DispatchFailure(d) => {
            let why = match d.as_connector_error() {
                Some(c) if c.is_timeout() => "timed out".to_string(),
                Some(c) => wire_cause(c),
                None => wire_cause(&e),
            };
            Some(format!("cannot reach {}: {why}", endpoint_for(op)))
        }
        SdkError::TimeoutError(_) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            let mut what = "timed out".to_string();
            while let Some(c) = cause {
                let t = c.to_string();
                if let Some(i) = t.find("occurred after ") {
                    let after = &t[i + "occurred after ".len()..];
                    let all = t.contains("all attempts");
                    what = format!(
                        "{} timed out after {after}",
                        if all { "the call (all its attempts)" } else { "one attempt" }
                    );
                    break;
                }
                cause = c.source();
            }
            Some(format!("no answer from {}: {what}", endpoint_for(op)))
        }
        SdkError::ResponseError(_) => Some(format!("unreadable answer from {}: {}", endpoint_for(op), wire_cause(&e))),
        _ => None,
    };
    let kind = match (&e, code.as_deref()) {
        (SdkError::DispatchFailure(_), _) if text.contains("credentials") || text.contains("Credentials") => {
            ErrorKind::Credentials
        }
        (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_), _) => {
            ErrorKind::Unreachable
        }
        (_, Some(c)) if c.contains("NotFound") || c.starts_with("NoSuch") || c.ends_with(".NotFound") => {
            ErrorKind::NotFound
        }
        (_, Some(c)) if c.contains("Throttl") || c == "RequestLimitExceeded" || c == "TooManyRequestsException" => {
            ErrorKind::Throttled
        }
        (_, Some(c))
            if c.contains("AuthFailure")
                || c == "UnrecognizedClientException"
                || c == "InvalidClientTokenId"
                || c == "ExpiredToken"
                || c == "SignatureDoesNotMatch" =>
        {
            ErrorKind::Credentials
        }
        (_, Some(c)) if c.starts_with("AccessDenied") || c == "UnauthorizedOperation" || c == "AuthorizationError" => {
            ErrorKind::AccessDenied
        }
        (SdkError::ServiceError(_), None) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
            ErrorKind::AccessDenied
        }
        (_, Some(c))
            if c.contains("IncorrectState") || c.contains("InvalidState") || c.contains("IncorrectInstanceState") =>
        {
            ErrorKind::InvalidState
        }
        _ => ErrorKind::Other,
    };
    let status = e.raw_response().map(|r| r.status().as_u16());
    const IAM_HINT: &str = "`firedrill iam-policy SCENARIO` prints the permissions a scenario needs";
    let message = match (e.code(), e.message()) {
        _ if kind == ErrorKind::AccessDenied => match (e.code(), e.message()) {
            (Some(c), Some(m)) => format!("{c}: {m} ({IAM_HINT})"),
            (Some(c), None) => format!("{c} ({IAM_HINT})"),
            (None, _) => format!("access denied (HTTP 403): the credentials lack a permission ({IAM_HINT})"),
        },
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        // An answer AWS gave without a readable error (an empty 503 from a proxy, say):
        // the status says it all; the SDK's debug dump would only bury it.
        (None, _) if matches!(e, SdkError::ServiceError(_)) && status.is_some() => {
            format!("HTTP {} with no error details", status.unwrap_or_default())
        }
        _ if kind == ErrorKind::Credentials => format!("no usable AWS credentials ({})", wire_cause(&e)),
        _ => match wire {
            Some(w) => w,
            None => text,
        },
    };
    AwsError { op: op.to_string(), kind, code, message }
}

/// Counts operations and HTTP attempts (an operation's retries are its attempts after the
/// first) across all clients.
#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<AtomicU64>, Arc<AtomicU64>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "firedrill-call-counter"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.1.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Caps every AWS response body at [`MAX_RESPONSE`] bytes: reading more fails the call.
#[derive(Debug, Clone, Default)]
struct BodyCap;

impl Intercept for BodyCap {
    fn name(&self) -> &'static str {
        "firedrill-body-cap"
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let body = ctx.response_mut().body_mut();
        let inner = std::mem::replace(body, aws_smithy_types::body::SdkBody::taken());
        *body = aws_smithy_types::body::SdkBody::from_body_1_x(http_body_util::Limited::new(inner, MAX_RESPONSE));
        Ok(())
    }
}

/// An answer over the cap is not retried: a broken endpoint would only send it again.
#[derive(Debug, Clone, Default)]
struct NoRetryOverCap;

impl ClassifyRetry for NoRetryOverCap {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.output_or_error() {
            Some(Err(e)) if e.is_response_error() && wire_cause(e).starts_with("the answer was larger than") => {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "firedrill-no-retry-over-cap"
    }
}

/// The SDK configuration every client starts from: the standard credential and region
/// chain with `opts` (profile, region, endpoint) applied, firedrill's retries (5 attempts
/// from 200 ms) and timeouts (5 s to connect, 30 s per attempt, 120 s per operation).
pub(crate) async fn load(opts: &AwsOpts) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(5).with_initial_backoff(Duration::from_millis(200)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        );
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(u) = &opts.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    loader.load().await
}

/// Clients for one region, cheap to clone.
#[derive(Clone, Debug)]
pub struct Aws {
    region: String,
    ec2: aws_sdk_ec2::Client,
    asg: aws_sdk_autoscaling::Client,
    rds: aws_sdk_rds::Client,
    iam: aws_sdk_iam::Client,
    cw: aws_sdk_cloudwatch::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    elasticache: aws_sdk_elasticache::Client,
    sts: aws_sdk_sts::Client,
    ssm: aws_sdk_ssm::Client,
    scheduler: aws_sdk_scheduler::Client,
    fis: aws_sdk_fis::Client,
    calls: CallCounter,
    /// First wait between polls of a resource's state; doubles up to 5 s.
    pub poll: Duration,
}

impl Aws {
    /// Builds clients from the standard chain. The region is `opts.region`, else the
    /// chain's (`AWS_REGION`, profile), else `fallback_region` (the scenario's).
    pub async fn connect(opts: &AwsOpts, fallback_region: Option<&str>) -> Result<Aws, AwsError> {
        let mut sdk = load(opts).await;
        if sdk.region().is_none() {
            match fallback_region {
                Some(r) => sdk = sdk.into_builder().region(Region::new(r.to_string())).build(),
                None => {
                    return Err(AwsError::other(
                        "configure",
                        "no AWS region: pass --region, set AWS_REGION, or name one in the scenario's environment",
                    ));
                }
            }
        }
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let endpoint = opts.endpoint_url.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        if let Ok(mut w) = WHERE.write() {
            *w = Some((endpoint, region.clone()));
        }
        let calls = CallCounter::default();
        Ok(Aws {
            region,
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            asg: aws_sdk_autoscaling::Client::from_conf(
                aws_sdk_autoscaling::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            rds: aws_sdk_rds::Client::from_conf(
                aws_sdk_rds::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            cw: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                aws_sdk_elasticloadbalancingv2::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            elasticache: aws_sdk_elasticache::Client::from_conf(
                aws_sdk_elasticache::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            ssm: aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            scheduler: aws_sdk_scheduler::Client::from_conf(
                aws_sdk_scheduler::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            fis: aws_sdk_fis::Client::from_conf(
                aws_sdk_fis::config::Builder::from(&sdk)
                    .interceptor(calls.clone())
                    .interceptor(BodyCap)
                    .retry_classifier(NoRetryOverCap)
                    .build(),
            ),
            calls,
            poll: poll_interval(),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// HTTP attempts made so far by every client of this handle (retries included).
    pub fn calls(&self) -> u64 {
        self.calls.0.load(Ordering::Relaxed)
    }

    /// Attempts beyond the first of each operation: retries after throttling, 5xx,
    /// timeouts or dropped connections.
    pub fn retries(&self) -> u64 {
        self.calls().saturating_sub(self.calls.1.load(Ordering::Relaxed))
    }

    /// The caller's account id (STS GetCallerIdentity).
    pub async fn account(&self) -> Result<String, AwsError> {
        let out = self.sts.get_caller_identity().send().await.map_err(|e| sdk_err("sts:GetCallerIdentity", e))?;
        out.account.ok_or_else(|| AwsError::other("sts:GetCallerIdentity", "the answer has no account id"))
    }

    /// The caller's ARN (STS GetCallerIdentity): who is acting, for records people read.
    pub async fn caller_arn(&self) -> Result<String, AwsError> {
        let out = self.sts.get_caller_identity().send().await.map_err(|e| sdk_err("sts:GetCallerIdentity", e))?;
        out.arn.ok_or_else(|| AwsError::other("sts:GetCallerIdentity", "the answer has no ARN"))
    }

    /// Waits until `check` returns `Some`, polling with backoff, for at most `limit`.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, limit: Duration, mut check: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, AwsError>>,
    {
        let deadline = tokio::time::Instant::now() + limit;
        let mut wait = self.poll;
        loop {
            if let Some(v) = check().await? {
                return Ok(v);
            }
            if tokio::time::Instant::now() + wait > deadline {
                return Err(AwsError {
                    op: "wait".into(),
                    kind: ErrorKind::Other,
                    code: None,
                    message: format!("{what}: still not done after {}", humantime::format_duration(limit)),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

/// `FIREDRILL_AWS_POLL` (e.g. `100ms`) sets the first poll interval; default 1 s.
fn poll_interval() -> Duration {
    std::env::var("FIREDRILL_AWS_POLL")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::error::ConnectorError;
    use aws_sdk_ec2::operation::describe_instances::DescribeInstancesError;

    use super::*;

    type Err = SdkError<DescribeInstancesError>;

    /// What went wrong on the wire reads in the operator's terms, names where, and keeps
    /// its kind; no SDK type name or debug dump gets through.
    #[test]
    fn wire_errors_read_in_user_terms() {
        let refused: Err = SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        ))));
        let e = sdk_err("ec2:DescribeInstances", refused);
        assert_eq!(e.kind, ErrorKind::Unreachable);
        assert!(e.message.starts_with("cannot reach the AWS"), "{e}");
        assert!(e.message.ends_with(": connection refused"), "{e}");
        assert!(!e.message.contains("DispatchFailure") && !e.message.contains("ConnectorError"), "{e}");

        let timed_out: Err = SdkError::timeout_error(Box::new(std::io::Error::other(
            "operation timeout (all attempts including retries) occurred after 120s",
        )));
        let e = sdk_err("ec2:DescribeInstances", timed_out);
        assert_eq!(e.kind, ErrorKind::Unreachable);
        assert!(e.message.ends_with(": the call (all its attempts) timed out after 120s"), "{e}");

        // (An answer over the cap: tests/it/chaos.rs serves one through a proxy.)
        for internal in ["DispatchFailure", "ConnectorError", "TimeoutError", "source:"] {
            assert!(!e.message.contains(internal), "{internal} in {e}");
        }
    }
}
