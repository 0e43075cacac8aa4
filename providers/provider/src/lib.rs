//! The provider interface: what a provider tells gig about its resource types
//! ([`schema`]), and the operations the engine calls ([`Provider`]).
//!
//! A provider crate exports a [`ProviderFactory`]; the CLI puts one of each into a
//! [`Registry`]. Schemas are available without configuring (and so without network or
//! credentials): `gig validate` and the planner use them offline. [`ProviderFactory::configure`]
//! must itself be cheap and lazy — a plan on empty state must not contact the cloud.
//!
//! Resource values crossing this interface are [`Value::Map`]s of attribute name →
//! value, always including `"id"` once the resource exists.

#![warn(missing_docs)]

pub mod docs;
pub mod schema;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;

pub use crate::schema::{AttrType, AttributeSchema, ProviderSchema, ResourceSchema};

/// How the engine should treat a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Transient (5xx, network, eventual consistency); retrying may succeed.
    Retryable,
    /// Rate limited; retry after backing off.
    Throttled,
    /// Retrying will not help (validation, permissions, conflicts).
    Permanent,
    /// The object does not exist (for read: gone; for delete: already deleted).
    NotFound,
}

/// An error from a provider call, keeping the cloud's own code and message.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProviderError {
    /// Retryable, throttled, permanent or not found.
    pub class: ErrorClass,
    /// The cloud's error code (`InvalidSubnet.Conflict`), if it gave one.
    pub code: Option<String>,
    /// The cloud's message, or a description of the local failure.
    pub message: String,
    /// The attribute the error is about, when the provider can tell (for spans).
    pub attribute: Option<String>,
    /// Whether the failure is about one object or the provider as a whole.
    #[serde(default)]
    pub scope: ErrorScope,
}

/// What a failed call is about. A provider-wide failure (no credentials, an endpoint
/// that cannot be reached) makes every call of that provider fail alike, so the engine
/// reports it once instead of once per resource, and never retries it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorScope {
    /// The call's own object or arguments.
    #[default]
    Object,
    /// No credentials were found for the provider.
    Credentials,
    /// The provider's endpoint cannot be reached.
    Unreachable,
}

impl ProviderError {
    /// A permanent error without a cloud code.
    pub fn permanent(message: impl Into<String>) -> ProviderError {
        ProviderError {
            class: ErrorClass::Permanent,
            code: None,
            message: message.into(),
            attribute: None,
            scope: ErrorScope::Object,
        }
    }

    /// A permanent failure of the provider as a whole (`scope` other than
    /// [`ErrorScope::Object`]); `message` says what was tried and where.
    pub fn provider_wide(scope: ErrorScope, message: impl Into<String>) -> ProviderError {
        ProviderError {
            scope,
            ..ProviderError::permanent(message)
        }
    }

    /// An error with a class, code and message.
    pub fn new(
        class: ErrorClass,
        code: Option<String>,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError {
            class,
            code,
            message: message.into(),
            attribute: None,
            scope: ErrorScope::Object,
        }
    }

    /// A permanent error about one attribute's value.
    pub fn invalid_attribute(attribute: &str, message: impl Into<String>) -> ProviderError {
        ProviderError {
            class: ErrorClass::Permanent,
            code: None,
            message: message.into(),
            attribute: Some(attribute.to_string()),
            scope: ErrorScope::Object,
        }
    }

    /// Whether every call of this provider fails alike (see [`ErrorScope`]).
    pub fn is_provider_wide(&self) -> bool {
        self.scope != ErrorScope::Object
    }

    /// Whether retrying could help.
    pub fn is_retryable(&self) -> bool {
        matches!(self.class, ErrorClass::Retryable | ErrorClass::Throttled)
    }

    /// This error as a diagnostic at `span`, the block of the resource at `address`
    /// whose operation failed, with the cloud's code and message intact in the detail.
    pub fn diagnostic(&self, code: Code, summary: &str, address: &str, span: Span) -> Diagnostic {
        let cloud_code = self
            .code
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        Diagnostic::error(code, summary, span)
            .with_label(format!("{address} failed here"))
            .with_detail(format!("{address}: {}{cloud_code}", self.message))
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ProviderError {}

/// Who is asking: used for tags (`gig:stack`, `gig:env`, `gig:address`) and logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpContext {
    /// The resource address, e.g. `aws.subnet.private["us-east-1a"]`.
    pub address: String,
    /// The stack name.
    pub stack: String,
    /// The environment name (`default` when none was chosen).
    pub env: String,
    /// On a create: a token fixed for this create (recorded in its intent), to send as
    /// the client token where the API takes one.
    pub token: Option<String>,
    /// On a create: where to report the new object's id (see [`OpContext::created`]).
    pub sink: CreatedSink,
}

impl OpContext {
    /// A context for `address` in `stack` and `env`, with no token and no sink.
    pub fn new(
        address: impl Into<String>,
        stack: impl Into<String>,
        env: impl Into<String>,
    ) -> OpContext {
        OpContext {
            address: address.into(),
            stack: stack.into(),
            env: env.into(),
            ..OpContext::default()
        }
    }

    /// Reports the id of the object a create has just made. A provider calls it the
    /// moment the cloud returns the id — before waiting for the object to become ready,
    /// tagging it or reading it back — so that if gig is stopped or the rest of the
    /// create fails, the engine knows the object exists and adopts it on the next run
    /// instead of creating a second one.
    pub fn created(&self, id: &str) {
        if let Some(f) = &self.sink.0 {
            f(id);
        }
    }
}

/// Receives the ids a create reports through [`OpContext::created`]. Compares equal to
/// any other sink: it is plumbing, not part of what a context means.
#[derive(Clone, Default)]
pub struct CreatedSink(Option<Arc<IdCallback>>);

/// The callback inside a [`CreatedSink`].
type IdCallback = dyn Fn(&str) + Send + Sync;

impl CreatedSink {
    /// A sink calling `f` with each reported id.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> CreatedSink {
        CreatedSink(Some(Arc::new(f)))
    }
}

impl fmt::Debug for CreatedSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "CreatedSink(set)"
        } else {
            "CreatedSink(none)"
        })
    }
}

impl PartialEq for CreatedSink {
    fn eq(&self, _: &CreatedSink) -> bool {
        true
    }
}

impl Eq for CreatedSink {}

/// What [`Provider::find_created`] learned about an object a create may have made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The ids of the objects that carry this create's marks (gig's tags, its unique
    /// name, its client token): none, one, or — ambiguous — several.
    Found(Vec<String>),
    /// Sending the create again cannot make a second object (the id is derived from
    /// the arguments, or the object lives nowhere but in state).
    Repeatable,
    /// This type has no way to look the object up.
    Unsupported,
}

/// One object to refresh.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadRequest {
    /// Resource address (for errors and logs).
    pub address: String,
    /// The cloud id recorded in state.
    pub id: String,
    /// The Prior value (some reads need more than the id).
    pub prior: Value,
}

/// An update in place.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateRequest<'a> {
    /// The cloud id.
    pub id: &'a str,
    /// Prior value (from state, refreshed when refresh ran).
    pub prior: &'a Value,
    /// Planned value, fully known by now.
    pub planned: &'a Value,
    /// Names of the top-level attributes that differ.
    pub changed: &'a [String],
}

/// A provider that has been configured and can make calls.
///
/// # Cancel safety
///
/// The engine never drops a started create/update/delete future: Ctrl-C stops new work
/// but lets calls in flight finish so their results reach state. `read` and
/// `read_data` may be dropped at any await point; they change nothing.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Refreshes many objects of one resource type in as few calls as the cloud allows.
    /// The result has one entry per request, in order: `Ok(None)` when the object is gone.
    async fn read(
        &self,
        rtype: &str,
        requests: &[ReadRequest],
    ) -> Result<Vec<Result<Option<Value>, ProviderError>>, ProviderError>;

    /// Creates an object from its Planned value; returns the New value (with `id`).
    async fn create(
        &self,
        ctx: &OpContext,
        rtype: &str,
        planned: &Value,
    ) -> Result<Value, ProviderError>;

    /// Updates an object in place; returns the New value.
    async fn update(
        &self,
        ctx: &OpContext,
        rtype: &str,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError>;

    /// Deletes an object. Deleting something already gone is success.
    async fn delete(
        &self,
        ctx: &OpContext,
        rtype: &str,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError>;

    /// Reads an existing object by its cloud id so it can be adopted into state.
    /// The default reads through [`Provider::read`].
    async fn import(
        &self,
        ctx: &OpContext,
        rtype: &str,
        id: &str,
    ) -> Result<Option<Value>, ProviderError> {
        let request = ReadRequest {
            address: ctx.address.clone(),
            id: id.to_string(),
            prior: Value::Null,
        };
        let mut out = self.read(rtype, std::slice::from_ref(&request)).await?;
        out.pop().unwrap_or(Ok(None))
    }

    /// Looks up the object an interrupted create of `rtype` may have made, when its id
    /// never reached gig: by the gig tags every object carries (`gig:stack`, `gig:env`,
    /// `gig:address` from `ctx`), by the unique name in `planned`, or by `ctx.token`.
    /// Only objects that carry this stack's and address's marks may be returned, so
    /// that gig never adopts somebody else's object. The default cannot look anything up.
    async fn find_created(
        &self,
        ctx: &OpContext,
        rtype: &str,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let _ = (ctx, rtype, planned);
        Ok(Lookup::Unsupported)
    }

    /// Reads a data source from its arguments; returns its value.
    async fn read_data(
        &self,
        ctx: &OpContext,
        dtype: &str,
        args: &Value,
    ) -> Result<Value, ProviderError> {
        let _ = (ctx, args);
        Err(ProviderError::permanent(format!(
            "data source {dtype} is not supported"
        )))
    }
}

/// Makes configured providers; knows the schema without any I/O.
#[async_trait]
pub trait ProviderFactory: Send + Sync {
    /// The provider's name as used in `.gig` (`aws`, `random`).
    fn name(&self) -> &'static str;

    /// Resource and data-source schemas.
    fn schema(&self) -> &ProviderSchema;

    /// Builds a provider from the `provider NAME { … }` settings. Must not contact the
    /// cloud: connections and credential look-ups happen on first use.
    async fn configure(&self, settings: &Value) -> Result<Arc<dyn Provider>, ProviderError>;
}

/// The providers the CLI knows, by name.
#[derive(Default, Clone)]
pub struct Registry {
    factories: BTreeMap<&'static str, Arc<dyn ProviderFactory>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a provider; a later one with the same name replaces an earlier one.
    pub fn register(&mut self, factory: Arc<dyn ProviderFactory>) {
        self.factories.insert(factory.name(), factory);
    }

    /// The factory for the provider key `name`: `aws` and its aliases (`aws.west`)
    /// share one factory, configured once per key.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn ProviderFactory>> {
        self.factories.get(gig_core::addr::provider_kind(name))
    }

    /// Provider names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.factories.keys().copied()
    }

    /// The schema of a resource (`data == false`) or data source type such as `aws.vpc`.
    pub fn resource_schema(&self, rtype: &str, data: bool) -> Option<&ResourceSchema> {
        let (provider, _) = rtype.split_once('.')?;
        let schema = self.get(provider)?.schema();
        if data {
            schema.data_sources.get(rtype)
        } else {
            schema.resources.get(rtype)
        }
    }
}
