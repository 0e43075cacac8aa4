//! The S3 calls the backend makes, run on a runtime of its own and waited for from
//! synchronous code.
//!
//! # Why a runtime of its own
//!
//! [`gig_state::StateBackend`] is synchronous (sled commits in about a millisecond) while
//! the SDK is async and `gig apply` calls the backend from inside its tokio runtime. The
//! backend therefore owns a small multi-thread runtime (one worker) on which every S3 call
//! and the lease renewal run. A synchronous method spawns its call there and blocks on a
//! channel for the answer; when the caller is itself a worker of a multi-thread runtime
//! the wait runs inside `block_in_place`, so the caller's runtime moves its other tasks
//! to another worker instead of stalling them. This works from plain threads, from
//! `block_on` and from runtime workers alike, and never nests `block_on` (which panics).
//! The decision is recorded in docs/notes/state-backends.md.
//!
//! Every call is counted ([`Client::requests`]) and logged at debug level with its verb
//! and key (never a body: bodies hold state, and state holds secrets).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

/// Where the AWS settings come from. `None` everywhere means the standard AWS chain
/// (environment, `AWS_ENDPOINT_URL`, profile files, instance metadata), as for the AWS
/// provider.
#[derive(Clone, Debug, Default)]
pub struct AwsOptions {
    /// Region (else the chain's; `us-east-1` when the chain has none).
    pub region: Option<String>,
    /// Endpoint URL (else the chain's, e.g. `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// Profile name (else the chain's).
    pub profile: Option<String>,
    /// Static access key id and secret key (else the chain's credentials).
    pub static_credentials: Option<(String, String)>,
}

/// An S3 client bound to one bucket, with its runtime and request counter.
pub(crate) struct Client {
    runtime: Option<tokio::runtime::Runtime>,
    s3: aws_sdk_s3::Client,
    bucket: String,
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

/// What a conditional write or a read found.
pub(crate) enum Outcome<T> {
    /// It happened; the value (an ETag, an object).
    Done(T),
    /// The object was not there (404).
    Missing,
    /// A precondition failed (412): `If-None-Match: *` on an existing object, or a stale
    /// `If-Match`.
    Conflict,
}

/// An object read: its bytes and ETag.
pub(crate) struct Object {
    pub(crate) bytes: Vec<u8>,
    pub(crate) etag: String,
}

/// A failed S3 call: what was called on which key, with the S3 error code and message
/// kept intact.
#[derive(Debug)]
pub(crate) struct CallError(pub(crate) String);

/// How a conditional `PUT` is guarded.
#[derive(Clone, Debug)]
pub(crate) enum Guard {
    /// Only if no object is at the key (`If-None-Match: *`).
    Absent,
    /// Only if the object's ETag is this one (`If-Match`).
    Etag(String),
    /// Unconditionally.
    None,
}

impl Client {
    /// Builds the client (no request is made: credentials resolve on first use).
    pub(crate) fn new(bucket: &str, options: &AwsOptions) -> Result<Client, CallError> {
        let runtime = runtime("gig-state-s3")?;
        let conf = sdk_config(&runtime, options)?;
        let mut builder = aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if conf.region().is_none() {
            builder = builder.region(aws_config::Region::new("us-east-1"));
        }
        Ok(Client {
            runtime: Some(runtime),
            s3: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket: bucket.to_string(),
            requests: Arc::new(AtomicU64::new(0)),
            bytes: Arc::new(AtomicU64::new(0)),
        })
    }

    /// S3 requests made so far by this client.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Object bytes sent and received so far by this client (bodies of `PUT` and `GET`).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Runs `fut` on the client's runtime and waits for it (see the module docs).
    pub(crate) fn run<F, T>(&self, fut: F) -> Result<T, CallError>
    where
        F: Future<Output = Result<T, CallError>> + Send + 'static,
        T: Send + 'static,
    {
        match &self.runtime {
            Some(runtime) => wait_on(runtime, fut),
            None => Err(stopped()),
        }
    }

    /// Spawns `fut` on the client's runtime without waiting (the lease renewal).
    pub(crate) fn spawn<F>(&self, fut: F) -> Option<tokio::task::JoinHandle<()>>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.runtime.as_ref().map(|rt| rt.spawn(fut))
    }

    /// A handle for async code running on the client's runtime.
    pub(crate) fn handle(&self) -> Calls {
        Calls {
            s3: self.s3.clone(),
            bucket: self.bucket.clone(),
            requests: self.requests.clone(),
            bytes: self.bytes.clone(),
        }
    }
}

/// A one-worker runtime for AWS calls made from synchronous code (see the module docs).
pub(crate) fn runtime(name: &str) -> Result<tokio::runtime::Runtime, CallError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| CallError(format!("cannot start the AWS runtime: {e}")))
}

/// The AWS settings from `options` and the standard chain, loaded on `runtime` (no
/// request is made: credentials resolve on first use).
pub(crate) fn sdk_config(
    runtime: &tokio::runtime::Runtime,
    options: &AwsOptions,
) -> Result<aws_config::SdkConfig, CallError> {
    let options = options.clone();
    wait_on(runtime, async move {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &options.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some((key, secret)) = &options.static_credentials {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                key.clone(),
                secret.clone(),
                None,
                None,
                "gig-static",
            ));
        }
        loader = loader.timeout_config(
            aws_smithy_types::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        );
        Ok(loader.load().await)
    })
}

/// Runs `fut` on `runtime` and blocks until it is done, from any thread: inside a
/// multi-thread runtime's worker the wait is `block_in_place`, elsewhere a plain wait.
pub(crate) fn wait_on<F, T>(runtime: &tokio::runtime::Runtime, fut: F) -> Result<T, CallError>
where
    F: Future<Output = Result<T, CallError>> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(fut.await);
    });
    let wait = move || rx.recv();
    let in_worker = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let answer = if in_worker {
        tokio::task::block_in_place(wait)
    } else {
        wait()
    };
    answer.map_err(|_| stopped())?
}

fn stopped() -> CallError {
    CallError("the S3 runtime has stopped".to_string())
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The S3 calls, cheap to clone into tasks.
#[derive(Clone)]
pub(crate) struct Calls {
    s3: aws_sdk_s3::Client,
    bucket: String,
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl Calls {
    fn count(&self, verb: &str, key: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target: "gig_state_s3", verb, bucket = %self.bucket, key, "S3 call");
    }

    /// `GET key`, optionally `If-None-Match: etag` (an unchanged object then comes back as
    /// `Done(None)`).
    pub(crate) async fn get(
        &self,
        key: &str,
        unless_etag: Option<&str>,
    ) -> Result<Outcome<Option<Object>>, CallError> {
        self.count("GET", key);
        let mut req = self.s3.get_object().bucket(&self.bucket).key(key);
        if let Some(etag) = unless_etag {
            req = req.if_none_match(etag);
        }
        match req.send().await {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_string();
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| CallError(format!("GET {key}: reading the body: {e}")))?
                    .into_bytes()
                    .to_vec();
                self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                Ok(Outcome::Done(Some(Object { bytes, etag })))
            }
            Err(e) => match status(&e) {
                Some(304) => Ok(Outcome::Done(None)),
                Some(404) => Ok(Outcome::Missing),
                _ => Err(call_error("GET", key, &e)),
            },
        }
    }

    /// `PUT key` guarded by `guard`; returns the new ETag.
    pub(crate) async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        guard: Guard,
    ) -> Result<Outcome<String>, CallError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        tracing::debug!(target: "gig_state_s3", verb = "PUT", bucket = %self.bucket, key, bytes = bytes.len(), "S3 call");
        let mut req = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        req = match guard {
            Guard::Absent => req.if_none_match("*"),
            Guard::Etag(etag) => req.if_match(etag),
            Guard::None => req,
        };
        match req.send().await {
            Ok(out) => Ok(Outcome::Done(out.e_tag().unwrap_or_default().to_string())),
            Err(e) => match status(&e) {
                Some(412) => Ok(Outcome::Conflict),
                // S3 answers 404 to `If-Match` on a key that has no object.
                Some(404) => Ok(Outcome::Missing),
                _ => Err(call_error("PUT", key, &e)),
            },
        }
    }

    /// Every key under `prefix`, sorted.
    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.count("LIST", prefix);
            let out = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| call_error("LIST", prefix, &e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match out.next_continuation_token() {
                Some(next) if out.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Deletes `keys`, up to 1,000 per request.
    pub(crate) async fn delete(&self, keys: &[String]) -> Result<(), CallError> {
        for chunk in keys.chunks(1000) {
            let first = chunk.first().map(String::as_str).unwrap_or_default();
            self.count("DELETE", first);
            let objects = chunk
                .iter()
                .map(|k| {
                    aws_sdk_s3::types::ObjectIdentifier::builder()
                        .key(k)
                        .build()
                        .map_err(|e| CallError(format!("DELETE {k}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let delete = aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| CallError(format!("DELETE {first}: {e}")))?;
            self.s3
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| call_error("DELETE", first, &e))?;
        }
        Ok(())
    }
}

type Response = aws_smithy_runtime_api::http::Response;

fn status<E>(e: &SdkError<E, Response>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

fn call_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    verb: &str,
    key: &str,
    e: &SdkError<E, Response>,
) -> CallError {
    let detail = match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("(no message)")
            )
        }
        other => aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
    };
    CallError(format!("{verb} {key}: {detail}"))
}
