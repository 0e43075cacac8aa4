//! Shared AWS plumbing: settings, lazily built SDK clients, call logging and recording,
//! error mapping, tags, value getters, waiters and batching.
//!
//! Every resource module builds on these helpers so that all AWS types behave alike:
//!
//! - **Errors** go through [`sdk_error`], which keeps the AWS code and message intact and
//!   classifies them (throttled, retryable, not found, permanent) for the engine.
//! - **Calls** are logged at debug level and optionally recorded by an SDK interceptor
//!   registered on every client ([`CallRecorder`]), so tests can count Describe calls and
//!   audit the order of deletes.
//! - **Reads** are batched: [`batched_read`] splits the requested ids into chunks of at
//!   most [`DESCRIBE_BATCH`] and answers every request from the merged result, so
//!   refreshing N objects of one type costs `ceil(N / 50)` calls.
//! - **Waits** use [`wait_until`], which polls with a short first interval growing to the
//!   given one, and fails with the last observed state when the timeout passes.
//! - **Tags**: the user's `tags` map plus `gig:stack`, `gig:env` and `gig:address` are
//!   written; only the user's tags are read back into `tags` so plans stay clean.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, ErrorClass, ErrorScope, Lookup, OpContext, ProviderError,
    ReadRequest,
};

use crate::ReadResults;

/// The most ids one Describe call is given; AWS accepts more for some APIs, but 50 keeps
/// every filter list and response page small.
pub(crate) const DESCRIBE_BATCH: usize = 50;

/// Tag keys gig writes on every object it creates.
pub(crate) const TAG_STACK: &str = "gig:stack";
/// See [`TAG_STACK`].
pub(crate) const TAG_ENV: &str = "gig:env";
/// See [`TAG_STACK`].
pub(crate) const TAG_ADDRESS: &str = "gig:address";
/// The prefix of the tags gig manages itself; they never appear in `tags`.
pub(crate) const GIG_TAG_PREFIX: &str = "gig:";

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

/// `provider aws { … }` settings.
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    /// Region; otherwise from the AWS environment chain.
    pub region: Option<String>,
    /// Endpoint override; otherwise `AWS_ENDPOINT_URL` or the real AWS endpoints.
    pub endpoint: Option<String>,
    /// Named profile.
    pub profile: Option<String>,
    /// SDK max attempts per call, including the first (default 5).
    pub max_attempts: u32,
    /// Adaptive retry mode (client-side rate limiting) instead of standard.
    pub adaptive_retry: bool,
    /// Bounds on every AWS call, so a hung endpoint fails in bounded time.
    pub timeouts: Timeouts,
    /// Static credentials instead of the environment chain. Not settable from `.gig`
    /// (keys do not belong in configuration); used by embedders and tests.
    pub static_credentials: Option<StaticCredentials>,
    /// Records every call made through these settings' clients. Not settable from
    /// `.gig`; used by tests and by embedders that count calls.
    pub recorder: Option<CallRecorder>,
}

/// How long one AWS call may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection (default 10 s).
    pub connect: Duration,
    /// Waiting for response data once a request is sent (default 60 s).
    pub read: Duration,
    /// One call with all its SDK retries (default 5 min).
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(60),
            operation: Duration::from_secs(300),
        }
    }
}

/// An access key pair. Its `Debug` form never shows the secret.
#[derive(Clone)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &gig_core::value::REDACTED)
            .finish()
    }
}

impl AwsSettings {
    /// Reads the settings map of the provider block. Unknown keys were already rejected
    /// by the engine against [`settings_schema`]; wrong types are reported here.
    pub fn from_value(settings: &Value) -> Result<AwsSettings, ProviderError> {
        let mut out = AwsSettings {
            max_attempts: 5,
            ..AwsSettings::default()
        };
        if settings.is_null() {
            return Ok(out);
        }
        if settings.as_map().is_none() {
            return Err(ProviderError::permanent(
                "provider aws settings must be a block of attributes",
            ));
        }
        out.region = opt_str(settings, "region")?.map(str::to_string);
        out.endpoint = opt_str(settings, "endpoint")?.map(str::to_string);
        out.profile = opt_str(settings, "profile")?.map(str::to_string);
        if let Some(n) = opt_i64(settings, "max_attempts")? {
            if !(1..=20).contains(&n) {
                return Err(ProviderError::invalid_attribute(
                    "max_attempts",
                    format!("max_attempts must be between 1 and 20, got {n}"),
                ));
            }
            out.max_attempts = n as u32;
        }
        for (key, slot) in [
            ("connect_timeout", &mut out.timeouts.connect),
            ("read_timeout", &mut out.timeouts.read),
            ("operation_timeout", &mut out.timeouts.operation),
        ] {
            if let Some(text) = opt_str(settings, key)? {
                *slot =
                    parse_duration(text)
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| {
                            ProviderError::invalid_attribute(
                        key,
                        format!("{key} must be a duration such as \"30s\" or \"5m\", got {text:?}"),
                    )
                        })?;
            }
        }
        match opt_str(settings, "retry_mode")? {
            None | Some("standard") => {}
            Some("adaptive") => out.adaptive_retry = true,
            Some(other) => {
                return Err(ProviderError::invalid_attribute(
                    "retry_mode",
                    format!("retry_mode must be \"standard\" or \"adaptive\", got {other:?}"),
                ))
            }
        }
        Ok(out)
    }
}

/// The schema of the settings.
pub(crate) fn settings_schema() -> BTreeMap<String, AttributeSchema> {
    let mut s = BTreeMap::new();
    s.insert(
        "region".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            "AWS region; when unset, taken from AWS_REGION / the profile like the AWS CLI does.",
        ),
    );
    s.insert(
        "endpoint".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            "Endpoint URL for every service (an emulator or a proxy); overrides AWS_ENDPOINT_URL.",
        ),
    );
    s.insert(
        "profile".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            "Named profile from the shared AWS config files.",
        ),
    );
    s.insert(
        "max_attempts".to_string(),
        AttributeSchema::optional(
            AttrType::Number,
            "Attempts per AWS call, including the first (1–20).",
        )
        .default(5i64),
    );
    s.insert(
        "connect_timeout".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            "How long connecting to an AWS endpoint may take, e.g. \"10s\".",
        )
        .default("10s"),
    );
    s.insert(
        "read_timeout".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            "How long gig waits for an answer once a request is sent, e.g. \"60s\".",
        )
        .default("60s"),
    );
    s.insert(
        "operation_timeout".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            "How long one AWS call may take with all its retries, e.g. \"5m\". A hung endpoint fails after this.",
        )
        .default("5m"),
    );
    s.insert(
        "retry_mode".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            "\"standard\" or \"adaptive\" (adds client-side rate limiting when throttled).",
        )
        .default("standard"),
    );
    s
}

// ---------------------------------------------------------------------------------------
// Call recording and logging
// ---------------------------------------------------------------------------------------

/// One finished AWS call (an execution, with all its attempts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// The service as the SDK names it: `EC2`, `RDS`, `ElastiCache`,
    /// `Elastic Load Balancing v2`, `Auto Scaling`.
    pub service: String,
    /// The operation: `DescribeVpcs`, `CreateSubnet` …
    pub operation: String,
    /// Attempts made (1 unless the SDK retried).
    pub attempts: u32,
    /// Whether the call finally succeeded.
    pub ok: bool,
}

/// A shared, append-only list of the calls made through some clients, in completion order.
#[derive(Clone, Default)]
pub struct CallRecorder {
    calls: Arc<Mutex<Vec<CallRecord>>>,
}

impl fmt::Debug for CallRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallRecorder({} calls)", self.calls().len())
    }
}

impl CallRecorder {
    /// An empty recorder.
    pub fn new() -> CallRecorder {
        CallRecorder::default()
    }

    /// A copy of the calls recorded so far.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Forgets the calls recorded so far.
    pub fn clear(&self) {
        if let Ok(mut c) = self.calls.lock() {
            c.clear();
        }
    }

    /// How many recorded calls were `operation` (any service).
    pub fn count(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    /// The operations recorded so far, in order.
    pub fn operations(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.operation).collect()
    }

    fn push(&self, record: CallRecord) {
        if let Ok(mut c) = self.calls.lock() {
            c.push(record);
        }
    }
}

/// Per-execution bookkeeping kept in the SDK's config bag.
#[derive(Clone, Debug)]
struct CallStart {
    started: Instant,
    attempts: u32,
}

impl Storable for CallStart {
    type Storer = StoreReplace<Self>;
}

/// Logs every attempt and execution at debug level and feeds the optional recorder.
#[derive(Debug, Clone)]
struct CallLog {
    recorder: Option<CallRecorder>,
}

fn request_id(ctx: &FinalizerInterceptorContextRef<'_>) -> Option<String> {
    let headers = ctx.response()?.headers();
    ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
        .iter()
        .find_map(|h| headers.get(*h))
        .map(str::to_string)
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "gig-call-log"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(CallStart {
            started: Instant::now(),
            attempts: 0,
        });
        Ok(())
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        crate::create_once::limit_attempts(cfg);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut start = cfg.load::<CallStart>().cloned().unwrap_or(CallStart {
            started: Instant::now(),
            attempts: 0,
        });
        start.attempts += 1;
        let (service, operation) = names(cfg);
        let status = context.response().map(|r| r.status().as_u16());
        if matches!(context.output_or_error(), Some(Err(_)) | None) {
            tracing::debug!(
                service,
                operation,
                attempt = start.attempts,
                status,
                request_id = request_id(context),
                "aws attempt failed"
            );
        }
        cfg.interceptor_state().store_put(start);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = names(cfg);
        let (elapsed, attempts) = cfg
            .load::<CallStart>()
            .map(|s| (s.started.elapsed(), s.attempts.max(1)))
            .unwrap_or((Duration::ZERO, 1));
        let ok = !matches!(context.output_or_error(), Some(Err(_)) | None);
        tracing::debug!(
            service,
            operation,
            request_id = request_id(context),
            status = context.response().map(|r| r.status().as_u16()),
            duration_ms = elapsed.as_millis() as u64,
            attempts,
            ok,
            "aws call"
        );
        if let Some(recorder) = &self.recorder {
            recorder.push(CallRecord {
                service,
                operation,
                attempts,
                ok,
            });
        }
        Ok(())
    }
}

fn names(cfg: &ConfigBag) -> (String, String) {
    match cfg.load::<Metadata>() {
        Some(m) => (m.service().to_string(), m.name().to_string()),
        None => ("unknown".to_string(), "unknown".to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

/// SDK clients for every service the provider uses.
#[derive(Clone, Debug)]
pub struct Clients {
    /// EC2 (VPC, subnets, SGs, instances, launch templates …).
    pub ec2: aws_sdk_ec2::Client,
    /// RDS.
    pub rds: aws_sdk_rds::Client,
    /// ElastiCache.
    pub elasticache: aws_sdk_elasticache::Client,
    /// ELBv2 (ALB).
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// Auto Scaling.
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// Systems Manager (Parameter Store).
    pub ssm: aws_sdk_ssm::Client,
    /// IAM (roles, policies, instance profiles).
    pub iam: aws_sdk_iam::Client,
    /// KMS (keys and aliases).
    pub kms: aws_sdk_kms::Client,
    /// SNS (topics and subscriptions).
    pub sns: aws_sdk_sns::Client,
    /// CloudWatch (metric alarms).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// CloudWatch Logs (log groups).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// S3 (buckets).
    pub s3: aws_sdk_s3::Client,
    /// The region the clients talk to, when known.
    pub region: Option<String>,
    /// The endpoint override every client uses, when one is set.
    pub endpoint: Option<String>,
}

impl Clients {
    /// Where the clients send requests, for error messages.
    pub fn endpoint_description(&self) -> String {
        match (&self.endpoint, &self.region) {
            (Some(url), _) => url.clone(),
            (None, Some(region)) => format!("the AWS endpoints of {region}"),
            (None, None) => "the AWS endpoints".to_string(),
        }
    }

    /// `err` with the endpoint named, when it is a local failure (a timeout, a refused or
    /// dropped connection) rather than an answer from AWS.
    pub fn locate(&self, err: ProviderError) -> ProviderError {
        if err.scope == ErrorScope::Unreachable {
            return ProviderError {
                message: format!(
                    "cannot connect to {}: {}",
                    self.endpoint_description(),
                    err.message
                ),
                ..err
            };
        }
        if err.code.is_some() || err.class != ErrorClass::Retryable {
            return err;
        }
        ProviderError {
            message: format!(
                "{} (endpoint: {})",
                err.message,
                self.endpoint_description()
            ),
            ..err
        }
    }
}

impl Clients {
    /// Builds the clients from the settings and the AWS environment chain. Makes no call:
    /// credentials are resolved on the first request.
    pub async fn load(settings: &AwsSettings) -> Clients {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(c) = &settings.static_credentials {
            loader = loader.credentials_provider(aws_sdk_ec2::config::Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                None,
                None,
                "gig-static",
            ));
        }
        let attempts = settings.max_attempts.max(1);
        let retry = if settings.adaptive_retry {
            RetryConfig::adaptive()
        } else {
            RetryConfig::standard()
        }
        .with_max_attempts(attempts);
        loader = loader.retry_config(retry);
        loader = loader.timeout_config(
            aws_smithy_types::timeout::TimeoutConfig::builder()
                .connect_timeout(settings.timeouts.connect)
                .read_timeout(settings.timeouts.read)
                .operation_attempt_timeout(settings.timeouts.read + settings.timeouts.connect)
                .operation_timeout(settings.timeouts.operation)
                .build(),
        );
        let conf = loader.load().await;
        let log = CallLog {
            recorder: settings.recorder.clone(),
        };
        // Every client gets the same call log and refused-connection classifier.
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(&conf)
                        .interceptor(log.clone())
                        .retry_classifier(RefusedIsFinal)
                        .build(),
                )
            };
        }
        Clients {
            ec2: client!(aws_sdk_ec2),
            rds: client!(aws_sdk_rds),
            elasticache: client!(aws_sdk_elasticache),
            elbv2: client!(aws_sdk_elasticloadbalancingv2),
            autoscaling: client!(aws_sdk_autoscaling),
            ssm: client!(aws_sdk_ssm),
            iam: client!(aws_sdk_iam),
            kms: client!(aws_sdk_kms),
            sns: client!(aws_sdk_sns),
            cloudwatch: client!(aws_sdk_cloudwatch),
            logs: client!(aws_sdk_cloudwatchlogs),
            // Path-style addressing when an endpoint is set (emulators and proxies have
            // no per-bucket host names); checksums only where S3 requires them.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&conf)
                    .force_path_style(conf.endpoint_url().is_some())
                    .request_checksum_calculation(
                        aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
                    )
                    .response_checksum_validation(
                        aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
                    )
                    .interceptor(log.clone())
                    .retry_classifier(RefusedIsFinal)
                    .build(),
            ),
            region: conf.region().map(|r| r.to_string()),
            endpoint: conf.endpoint_url().map(str::to_string),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Codes meaning "no such object" that do not say `NotFound` (IAM, S3, KMS).
const GONE_CODES: &[&str] = &["NoSuchEntity", "NoSuchBucket"];

const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "RequestExpired",
];

/// Classifies an AWS error code (and the HTTP status, when known).
pub(crate) fn classify(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    if let Some(code) = code {
        if THROTTLING_CODES.contains(&code) {
            return ErrorClass::Throttled;
        }
        if code.ends_with(".NotFound") || code.contains("NotFound") || GONE_CODES.contains(&code) {
            return ErrorClass::NotFound;
        }
        if TRANSIENT_CODES.contains(&code) {
            return ErrorClass::Retryable;
        }
    }
    match status {
        Some(429) => ErrorClass::Throttled,
        Some(s) if s >= 500 => ErrorClass::Retryable,
        _ => ErrorClass::Permanent,
    }
}

/// Maps an SDK error to a [`ProviderError`], keeping the AWS code and message intact.
///
/// Service errors keep `code()` and `message()` (the message falls back to the code);
/// throttling codes become [`ErrorClass::Throttled`], `*NotFound*` codes
/// [`ErrorClass::NotFound`], 5xx / dispatch / timeout / bad responses
/// [`ErrorClass::Retryable`], everything else [`ErrorClass::Permanent`]. `op` names the
/// call for local failures, which carry no AWS message.
pub(crate) fn sdk_error<E>(op: &str, err: SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    // A failure on this side of the wire: no AWS code, the SDK's own words.
    let local = |class| {
        ProviderError::new(
            class,
            None,
            format!(
                "{op}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            ),
        )
    };
    let out = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().map(str::to_string);
            let message = e
                .message()
                .map(str::to_string)
                .or_else(|| code.clone())
                .unwrap_or_else(|| format!("{op} failed with HTTP status {}", status.unwrap_or(0)));
            ProviderError::new(classify(code.as_deref(), status), code, message)
        }
        SdkError::TimeoutError(_) => ProviderError::new(
            ErrorClass::Retryable,
            None,
            format!("{op}: the request timed out"),
        ),
        SdkError::DispatchFailure(_) => {
            provider_wide_failure(&err).unwrap_or_else(|| local(ErrorClass::Retryable))
        }
        SdkError::ResponseError(_) => local(ErrorClass::Retryable),
        _ => local(ErrorClass::Permanent),
    };
    tracing::debug!(op, class = ?out.class, code = out.code.as_deref(), "aws error");
    out
}

/// Where the AWS SDK looks for credentials, in its order; said when it found none.
const CREDENTIAL_SOURCES: &str = "no AWS credentials were found. gig looked, in this order, at: \
     the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN); \
     the profile (`profile` in the provider block, else AWS_PROFILE, else `default`) in the shared \
     files AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE (default ~/.aws/credentials and ~/.aws/config); \
     web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN); the ECS container credentials endpoint; \
     and EC2 instance metadata (unless AWS_EC2_METADATA_DISABLED is true)";

/// The failure of every call alike, found in `err`'s source chain: no credentials (the
/// SDK's credentials chain gave up) or nothing listening at the endpoint (connection
/// refused). `None` for failures of one call.
fn provider_wide_failure(err: &(dyn std::error::Error + 'static)) -> Option<ProviderError> {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(creds) = e.downcast_ref::<CredentialsError>() {
            let message = match creds {
                CredentialsError::CredentialsNotLoaded(_) => CREDENTIAL_SOURCES.to_string(),
                other => format!(
                    "AWS credentials could not be loaded: {}",
                    error_chain(other)
                ),
            };
            return Some(ProviderError::provider_wide(
                ErrorScope::Credentials,
                message,
            ));
        }
        if is_connection_refused(e) {
            return Some(ProviderError::provider_wide(
                ErrorScope::Unreachable,
                "the connection was refused (nothing is listening there)",
            ));
        }
        source = e.source();
    }
    None
}

fn is_connection_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// An error and its sources' messages, joined with `: ` (never a `Debug` dump).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// Forbids the SDK's own retries of a refused connection: nothing listens at the
/// endpoint, and retrying only delays the one error by the whole backoff schedule.
#[derive(Debug)]
pub(crate) struct RefusedIsFinal;

impl ClassifyRetry for RefusedIsFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let refused = matches!(ctx.output_or_error(), Some(Err(err))
        if err.as_connector_error().is_some_and(|c| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(c);
            while let Some(e) = source {
                if is_connection_refused(e) {
                    return true;
                }
                source = e.source();
            }
            false
        }));
        if refused {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "gig: a refused connection is final"
    }
}

/// A NotFound error without an AWS code (an object not visible yet, or gone).
pub(crate) fn not_found(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::NotFound, None, message)
}

/// Whether `err` carries the AWS code `code`.
pub(crate) fn has_code(err: &ProviderError, code: &str) -> bool {
    err.code.as_deref() == Some(code)
}

/// Whether `err` means the object does not exist.
pub(crate) fn is_not_found(err: &ProviderError) -> bool {
    err.class == ErrorClass::NotFound
}

/// Turns a NotFound error into `Ok(())`: for deletes of something already gone.
pub(crate) fn ignore_not_found(result: Result<(), ProviderError>) -> Result<(), ProviderError> {
    match result {
        Err(e) if is_not_found(&e) => Ok(()),
        other => other,
    }
}

/// Attaches an attribute name to an error (so the engine can point at the span).
pub(crate) fn on_attribute(mut err: ProviderError, attribute: &str) -> ProviderError {
    if err.attribute.is_none() {
        err.attribute = Some(attribute.to_string());
    }
    err
}

// ---------------------------------------------------------------------------------------
// Retrying and waiting
// ---------------------------------------------------------------------------------------

/// The outcome of one waiter check.
pub(crate) enum Poll<T> {
    /// The condition holds; stop with this value.
    Done(T),
    /// Not yet; the string names the state seen (for the timeout message).
    Pending(String),
}

/// Checks of a wait that may fail in a row (after the SDK's own retries) before the wait
/// gives up.
const FAILED_CHECKS_IN_A_ROW: u32 = 3;

/// Polls `check` until it returns [`Poll::Done`], an error that is not retryable, or
/// `timeout` passes. The first check runs at once; pauses start at 250 ms and double up
/// to `poll`. Retryable and throttling errors from a check are treated as "pending",
/// unless [`FAILED_CHECKS_IN_A_ROW`] checks fail in a row: then the last error is
/// returned (a hung endpoint fails the wait in seconds, not after the whole timeout).
///
/// # Cancel safety
///
/// Dropping the future stops polling; nothing is changed by the waiter itself.
pub(crate) async fn wait_until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    poll: Duration,
    mut check: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ProviderError>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(250).min(poll);
    let mut last;
    let mut failed_in_a_row = 0;
    loop {
        match check().await {
            Ok(Poll::Done(v)) => return Ok(v),
            Ok(Poll::Pending(state)) => {
                failed_in_a_row = 0;
                last = state;
            }
            // Each check already had the SDK's retries: checks failing in a row mean the
            // endpoint is down or hung, and waiting out the whole timeout (minutes) would
            // hold gig that long.
            Err(e) if e.is_retryable() && failed_in_a_row + 1 >= FAILED_CHECKS_IN_A_ROW => {
                return Err(ProviderError {
                    message: format!(
                        "gave up waiting for {what} after {FAILED_CHECKS_IN_A_ROW} failed checks \
                         in a row: {}",
                        e.message
                    ),
                    ..e
                });
            }
            Err(e) if e.is_retryable() => {
                failed_in_a_row += 1;
                last = format!("error: {e}");
            }
            Err(e) => return Err(e),
        }
        // The timeout is the user's bound on the whole wait (`timeouts { … }`): running
        // out is final for this apply, not a transient error to retry (which would
        // multiply the bound by the engine's retry count).
        if started.elapsed() + pause > timeout {
            return Err(ProviderError::new(
                ErrorClass::Permanent,
                None,
                format!(
                    "timed out after {}s waiting for {what} (last state: {last})",
                    timeout.as_secs()
                ),
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(poll);
    }
}

/// Runs `call` again while it fails with NotFound, for the eventual consistency window
/// right after a create (AWS may not yet know an id it has just returned). Up to six
/// attempts with pauses of 0.5, 1, 2, 4 and 8 s; other errors return at once.
pub(crate) async fn retry_not_found<T, F, Fut>(mut call: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    retry_on(&mut call, is_not_found, 6).await
}

/// Runs `call` again while `should_retry(err)` holds, up to `attempts` times in total with
/// doubling pauses from 0.5 s (capped at 8 s). Used for eventual consistency, for
/// `DependencyViolation` during deletes and for errors the SDK did not retry.
pub(crate) async fn retry_on<T, F, Fut, P>(
    call: &mut F,
    should_retry: P,
    attempts: u32,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
    P: Fn(&ProviderError) -> bool,
{
    let mut pause = Duration::from_millis(500);
    let mut n = 1;
    loop {
        match call().await {
            Err(e) if n < attempts && should_retry(&e) => {
                tracing::debug!(attempt = n, error = %e, "retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(8));
                n += 1;
            }
            other => return other,
        }
    }
}

/// Whether `attr` is among the changed attributes of an update.
pub(crate) fn changed(changed: &[String], attr: &str) -> bool {
    changed.iter().any(|c| c == attr)
}

/// A client token for an idempotent create: a hex SHA-256 of the stack, env, address and
/// planned value, 64 characters (the EC2 limit). A retry of the same create after a crash
/// sends the same token, so AWS returns the object made the first time instead of a
/// duplicate; a different planned value (a replacement) gives a different token. `salt`
/// distinguishes deliberate re-creates of an identical value.
pub(crate) fn client_token(ctx: &OpContext, planned: &Value, salt: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in [
        ctx.stack.as_str(),
        ctx.env.as_str(),
        ctx.address.as_str(),
        salt,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.update(planned.to_json().to_string().as_bytes());
    hex::encode(h.finalize())
}

// ---------------------------------------------------------------------------------------
// Batched reads
// ---------------------------------------------------------------------------------------

/// Splits `ids` into batches of at most `size` (at least 1).
pub(crate) fn chunks<T>(ids: &[T], size: usize) -> std::slice::Chunks<'_, T> {
    ids.chunks(size.max(1))
}

/// Answers a batched read: the distinct requested ids, sorted, are passed to `fetch` in
/// chunks of [`DESCRIBE_BATCH`]; `fetch` returns the objects it found by id (missing ids
/// simply absent). Each request then gets `Ok(Some(value))` or `Ok(None)`.
///
/// An error from `fetch` fails the whole read (the engine retries or reports it).
pub(crate) async fn batched_read<F, Fut>(
    requests: &[ReadRequest],
    mut fetch: F,
) -> Result<ReadResults, ProviderError>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: Future<Output = Result<BTreeMap<String, Value>, ProviderError>>,
{
    let ids: Vec<String> = requests
        .iter()
        .map(|r| r.id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut found = BTreeMap::new();
    for chunk in chunks(&ids, DESCRIBE_BATCH) {
        found.extend(fetch(chunk.to_vec()).await?);
    }
    Ok(requests
        .iter()
        .map(|r| Ok(found.get(&r.id).cloned()))
        .collect())
}

// ---------------------------------------------------------------------------------------
// Value getters (Planned values are fully known maps of attribute → value)
// ---------------------------------------------------------------------------------------

fn type_error(attr: &str, want: &str, got: &Value) -> ProviderError {
    let got = if matches!(got, Value::Unknown) || got.is_unknown() {
        "a value unknown until apply".to_string()
    } else {
        format!("a {}", got.kind())
    };
    ProviderError::invalid_attribute(attr, format!("`{attr}` must be {want}, got {got}"))
}

fn attr<'a>(v: &'a Value, attr: &str) -> Option<&'a Value> {
    v.get(attr).filter(|x| !x.is_null())
}

/// A required string attribute.
pub(crate) fn req_str<'a>(v: &'a Value, name: &str) -> Result<&'a str, ProviderError> {
    opt_str(v, name)?
        .ok_or_else(|| ProviderError::invalid_attribute(name, format!("`{name}` is required")))
}

/// An optional string attribute (`None` when unset or null).
pub(crate) fn opt_str<'a>(v: &'a Value, name: &str) -> Result<Option<&'a str>, ProviderError> {
    match attr(v, name) {
        None => Ok(None),
        Some(x) => x
            .as_str()
            .map(Some)
            .ok_or_else(|| type_error(name, "a string", x)),
    }
}

/// A required whole-number attribute.
pub(crate) fn req_i64(v: &Value, name: &str) -> Result<i64, ProviderError> {
    opt_i64(v, name)?
        .ok_or_else(|| ProviderError::invalid_attribute(name, format!("`{name}` is required")))
}

/// An optional whole-number attribute.
pub(crate) fn opt_i64(v: &Value, name: &str) -> Result<Option<i64>, ProviderError> {
    match attr(v, name) {
        None => Ok(None),
        Some(x) => x
            .as_i64()
            .map(Some)
            .ok_or_else(|| type_error(name, "a whole number", x)),
    }
}

/// An optional whole-number attribute that must fit an `i32` (most AWS sizes and ports).
pub(crate) fn opt_i32(v: &Value, name: &str) -> Result<Option<i32>, ProviderError> {
    match opt_i64(v, name)? {
        None => Ok(None),
        Some(n) => i32::try_from(n).map(Some).map_err(|_| {
            ProviderError::invalid_attribute(name, format!("`{name}` is out of range: {n}"))
        }),
    }
}

/// An optional bool attribute.
pub(crate) fn opt_bool(v: &Value, name: &str) -> Result<Option<bool>, ProviderError> {
    match attr(v, name) {
        None => Ok(None),
        Some(x) => x
            .as_bool()
            .map(Some)
            .ok_or_else(|| type_error(name, "a bool", x)),
    }
}

/// An optional list attribute (empty when unset).
pub(crate) fn list<'a>(v: &'a Value, name: &str) -> Result<&'a [Value], ProviderError> {
    match attr(v, name) {
        None => Ok(&[]),
        Some(x) => x.as_list().ok_or_else(|| type_error(name, "a list", x)),
    }
}

/// An optional list-of-strings attribute (empty when unset).
pub(crate) fn str_list(v: &Value, name: &str) -> Result<Vec<String>, ProviderError> {
    list(v, name)?
        .iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| type_error(name, "a list of strings", x))
        })
        .collect()
}

/// An optional map-of-strings attribute (empty when unset).
pub(crate) fn str_map(v: &Value, name: &str) -> Result<BTreeMap<String, String>, ProviderError> {
    match attr(v, name) {
        None => Ok(BTreeMap::new()),
        Some(x) => {
            let m = x
                .as_map()
                .ok_or_else(|| type_error(name, "a map of strings", x))?;
            m.iter()
                .map(|(k, val)| match val.reveal() {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    Value::Number(_) | Value::Bool(_) => Ok((k.clone(), val.display())),
                    other => Err(type_error(name, "a map of strings", other)),
                })
                .collect()
        }
    }
}

/// An optional nested block given as a list of one object, or as an object; `None` when
/// unset or empty.
pub(crate) fn block<'a>(v: &'a Value, name: &str) -> Result<Option<&'a Value>, ProviderError> {
    match attr(v, name) {
        None => Ok(None),
        Some(x) => match x.reveal() {
            Value::Map(_) => Ok(Some(x)),
            Value::List(xs) if xs.is_empty() => Ok(None),
            Value::List(xs) if xs.len() == 1 && xs[0].as_map().is_some() => Ok(Some(&xs[0])),
            _ => Err(type_error(name, "a single block", x)),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Value builders
// ---------------------------------------------------------------------------------------

/// Builds a map value from `(name, value)` pairs.
pub(crate) fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// A string, or null when absent.
pub(crate) fn opt_string(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::str)
}

/// A number from an optional `i32`, or null.
pub(crate) fn opt_num(n: Option<i32>) -> Value {
    n.map_or(Value::Null, |n| Value::from(i64::from(n)))
}

/// A list of strings.
pub(crate) fn string_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
    Value::List(items.into_iter().map(|s| Value::str(s.as_ref())).collect())
}

/// A sorted list of strings (for set-typed attributes read from the cloud).
pub(crate) fn sorted_string_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
    let set: BTreeSet<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    Value::List(set.into_iter().map(Value::String).collect())
}

// ---------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------

/// The tags gig adds to every object it creates.
pub(crate) fn gig_tags(ctx: &OpContext) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TAG_STACK.to_string(), ctx.stack.clone()),
        (TAG_ENV.to_string(), ctx.env.clone()),
        (TAG_ADDRESS.to_string(), ctx.address.clone()),
    ])
}

/// The lookup result of [`gig_provider::Provider::find_created`]: the ids of the
/// candidates (id, tags as the cloud returns them) that carry every gig tag of `ctx`,
/// so that an object another stack, env or address made is never adopted.
pub(crate) fn owned_by(
    candidates: impl IntoIterator<Item = (String, BTreeMap<String, String>)>,
    ctx: &OpContext,
) -> Lookup {
    let marks = gig_tags(ctx);
    Lookup::Found(
        candidates
            .into_iter()
            .filter(|(_, tags)| marks.iter().all(|(k, v)| tags.get(k) == Some(v)))
            .map(|(id, _)| id)
            .collect(),
    )
}

/// A lookup call's result with "not found" as `None`.
pub(crate) fn unless_not_found<T>(
    result: Result<T, ProviderError>,
) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The user's `tags` plus gig's own tags: what to write on create.
pub(crate) fn all_tags(
    planned: &Value,
    ctx: &OpContext,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let mut tags = user_tags_of(planned)?;
    tags.extend(gig_tags(ctx));
    Ok(tags)
}

/// The user's `tags` of a value (gig's own never included).
pub(crate) fn user_tags_of(v: &Value) -> Result<BTreeMap<String, String>, ProviderError> {
    let mut tags = str_map(v, "tags")?;
    tags.retain(|k, _| !k.starts_with(GIG_TAG_PREFIX));
    Ok(tags)
}

/// The `tags` attribute value from the tags read from the cloud (gig's own dropped).
pub(crate) fn tags_value<K: AsRef<str>, V: AsRef<str>>(
    tags: impl IntoIterator<Item = (K, V)>,
) -> Value {
    Value::Map(
        tags.into_iter()
            .filter(|(k, _)| !k.as_ref().starts_with(GIG_TAG_PREFIX))
            .map(|(k, v)| (k.as_ref().to_string(), Value::str(v.as_ref())))
            .collect(),
    )
}

/// The tag changes from `prior` to `planned` user tags: (to set, keys to remove).
/// gig's own tags are never removed.
pub(crate) fn tag_diff(
    prior: &BTreeMap<String, String>,
    planned: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = planned
        .iter()
        .filter(|(k, v)| prior.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = prior
        .keys()
        .filter(|k| !planned.contains_key(*k) && !k.starts_with(GIG_TAG_PREFIX))
        .cloned()
        .collect();
    (set, remove)
}

/// The schema of the `tags` attribute every taggable resource has.
pub(crate) fn tags_schema() -> AttributeSchema {
    AttributeSchema::optional(
        AttrType::Map(Box::new(AttrType::String)),
        "Tags to apply. gig also writes gig:stack, gig:env and gig:address, which are not shown here.",
    )
    .default(Value::Map(BTreeMap::new()))
}

/// Shorthand for a list-of-strings attribute type.
pub(crate) fn t_str_list() -> AttrType {
    AttrType::List(Box::new(AttrType::String))
}

/// Shorthand for a set-of-strings attribute type.
pub(crate) fn t_str_set() -> AttrType {
    AttrType::Set(Box::new(AttrType::String))
}

/// The `timeouts` block shared by the types that wait (`create`, `update`, `delete`
/// as `30s`, `40m`, `2h`).
pub(crate) fn timeouts_schema() -> AttributeSchema {
    use AttrType::{List, Object, String as Str};
    let mut inner = BTreeMap::new();
    for op in ["create", "update", "delete"] {
        inner.insert(
            op.to_string(),
            AttributeSchema::optional(Str, &format!("How long to wait for the {op}, e.g. `40m`.")),
        );
    }
    AttributeSchema::optional(
        List(Box::new(Object(inner))),
        "Waiting limits (gig setting): `timeouts { delete = \"90m\" }`.",
    )
}

/// The `timeouts { <op> = "…" }` setting of a value, or the default.
pub(crate) fn timeout_setting(value: &Value, op: &str, default: Duration) -> Duration {
    value
        .get("timeouts")
        .and_then(Value::as_list)
        .and_then(|l| l.first())
        .and_then(|t| t.get(op))
        .and_then(Value::as_str)
        .and_then(parse_duration)
        .unwrap_or(default)
}

/// Parses `90s`, `40m`, `2h` (and combinations such as `1h30m`).
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
    }
    let any_unit = text
        .chars()
        .any(|c| !c.is_ascii_digit() && !c.is_whitespace());
    (digits.is_empty() && any_unit).then_some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_terraform_timeouts() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("40m"), Some(Duration::from_secs(2400)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        for bad in ["", "m", "10", "5d", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn classify_codes() {
        assert_eq!(
            classify(Some("RequestLimitExceeded"), Some(503)),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify(Some("InvalidVpcID.NotFound"), Some(400)),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify(Some("DBInstanceNotFound"), Some(404)),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify(Some("InvalidSubnet.Conflict"), Some(400)),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(Some("NoSuchEntity"), Some(404)),
            ErrorClass::NotFound
        );
        assert_eq!(classify(None, Some(500)), ErrorClass::Retryable);
        assert_eq!(
            classify(Some("InternalError"), Some(400)),
            ErrorClass::Retryable
        );
        assert_eq!(classify(None, None), ErrorClass::Permanent);
    }

    #[test]
    fn settings_from_value() {
        let v = object([
            ("region", Value::str("eu-west-1")),
            ("max_attempts", Value::from(3i64)),
            ("retry_mode", Value::str("adaptive")),
        ]);
        let s = AwsSettings::from_value(&v).unwrap();
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.max_attempts, 3);
        assert!(s.adaptive_retry);
        assert_eq!(
            AwsSettings::from_value(&Value::Null).unwrap().max_attempts,
            5
        );
        let bad = object([("retry_mode", Value::str("fast"))]);
        assert_eq!(
            AwsSettings::from_value(&bad)
                .unwrap_err()
                .attribute
                .as_deref(),
            Some("retry_mode")
        );
        let bad = object([("max_attempts", Value::str("x"))]);
        assert!(AwsSettings::from_value(&bad).is_err());
    }

    #[test]
    fn settings_schema_lists_every_setting() {
        let keys: Vec<String> = settings_schema().into_keys().collect();
        assert_eq!(
            keys,
            [
                "connect_timeout",
                "endpoint",
                "max_attempts",
                "operation_timeout",
                "profile",
                "read_timeout",
                "region",
                "retry_mode"
            ]
        );
        let creds = StaticCredentials {
            access_key_id: "AKIA".to_string(),
            secret_access_key: "very-secret".to_string(),
        };
        assert!(!format!("{creds:?}").contains("very-secret"));
    }

    #[test]
    fn getters_name_the_attribute() {
        let v = object([("a", Value::from(1i64)), ("t", Value::Map(BTreeMap::new()))]);
        let e = req_str(&v, "a").unwrap_err();
        assert_eq!(e.attribute.as_deref(), Some("a"));
        assert!(e.message.contains("must be a string"), "{}", e.message);
        assert_eq!(opt_str(&v, "missing").unwrap(), None);
        assert_eq!(req_i64(&v, "a").unwrap(), 1);
        assert!(str_map(&v, "t").unwrap().is_empty());
    }

    #[test]
    fn tags_hide_gig_keys() {
        let v = tags_value([("Name", "x"), ("gig:stack", "s")]);
        assert_eq!(v, object([("Name", Value::str("x"))]));
        let prior = BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]);
        let planned = BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("c".to_string(), "3".to_string()),
        ]);
        let (set, remove) = tag_diff(&prior, &planned);
        assert_eq!(set.keys().collect::<Vec<_>>(), vec!["c"]);
        assert_eq!(remove, vec!["b".to_string()]);
    }

    #[test]
    fn client_tokens_are_stable_per_address_and_value() {
        let ctx = |address: &str| OpContext {
            address: address.to_string(),
            stack: "s".to_string(),
            env: "default".to_string(),
            ..OpContext::default()
        };
        let planned = object([("ami", Value::str("ami-1"))]);
        let t = client_token(&ctx("aws.instance.web"), &planned, "");
        assert_eq!(t.len(), 64, "EC2 accepts at most 64 characters");
        assert_eq!(t, client_token(&ctx("aws.instance.web"), &planned, ""));
        assert_ne!(t, client_token(&ctx("aws.instance.api"), &planned, ""));
        assert_ne!(
            t,
            client_token(
                &ctx("aws.instance.web"),
                &object([("ami", Value::str("ami-2"))]),
                ""
            )
        );
        assert_ne!(
            t,
            client_token(&ctx("aws.instance.web"), &planned, "i-0123")
        );
    }

    #[tokio::test]
    async fn batched_read_chunks_by_fifty() {
        let requests: Vec<ReadRequest> = (0..120)
            .map(|i| ReadRequest {
                address: format!("x[{i}]"),
                id: format!("id-{i:03}"),
                prior: Value::Null,
            })
            .collect();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let out = batched_read(&requests, |ids| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                assert!(ids.len() <= DESCRIBE_BATCH);
                Ok(ids
                    .into_iter()
                    .filter(|i| i != "id-007")
                    .map(|i| (i.clone(), Value::str(i)))
                    .collect())
            }
        })
        .await
        .unwrap();
        assert_eq!(calls.into_inner(), 3);
        assert_eq!(out.len(), 120);
        assert_eq!(out[7], Ok(None));
        assert_eq!(out[8], Ok(Some(Value::str("id-008"))));
    }

    #[tokio::test]
    async fn wait_until_times_out_with_last_state() {
        let e = wait_until::<(), _, _>(
            "thing",
            Duration::from_millis(300),
            Duration::from_millis(100),
            || async { Ok(Poll::Pending("pending".to_string())) },
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("last state: pending"), "{}", e.message);
        // Running out of the user's timeout is final, not retried by the engine.
        assert!(!e.is_retryable());
    }

    /// Regression: a wait whose checks all failed (a hung endpoint) waited out its whole
    /// timeout, 300 s for a VPC, before gig could report anything.
    #[tokio::test]
    async fn wait_until_gives_up_after_checks_fail_in_a_row() {
        let checks = std::sync::atomic::AtomicU32::new(0);
        let started = Instant::now();
        let e = wait_until::<(), _, _>(
            "thing",
            Duration::from_secs(300),
            Duration::from_millis(10),
            || {
                checks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { Err(ProviderError::new(ErrorClass::Retryable, None, "timed out")) }
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            checks.load(std::sync::atomic::Ordering::SeqCst),
            FAILED_CHECKS_IN_A_ROW
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            e.message.contains("gave up waiting for thing"),
            "{}",
            e.message
        );
        assert!(e.message.contains("timed out"), "{}", e.message);
    }
}
