//! Resolving create intents left by an interrupted apply.
//!
//! Apply records an [`Intent`] before every create call and fills in the object's id
//! as soon as the provider reports it (see [`crate::apply`]). An intent still in state
//! when the next plan starts marks a create whose result never reached state: gig was
//! killed, the answer was lost, or a second interrupt stopped waiting. Before anything
//! else reads Prior, [`recover`] finds out what became of each one:
//!
//! 1. With a reported id, one [`Provider::read`] says whether the object exists.
//! 2. Without one, [`Provider::find_created`] looks it up by the marks the provider put
//!    on it (gig's tags, its unique name, its client token).
//!
//! An object found exactly once is *adopted*: it joins Prior as if state had recorded
//! it, so the plan shows a no-op or an update instead of a second create, and apply
//! records it first. No object means the create never happened: the intent is dropped
//! and the plan creates the resource. Several candidates (E0410), a type that cannot be
//! looked up (E0411) and a failed lookup (E0412) stop the plan at the resource block:
//! creating again could make a duplicate. This is one mechanism for every resource type;
//! a provider only reports ids and implements the lookup.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt as _};
use gig_core::addr::ResourceAddr;
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;
use gig_dsl::config::Config;
use gig_provider::{OpContext, ProviderError, ReadRequest};
use gig_state::{Intent, ResourceRecord, Snapshot};

use crate::pipeline::Providers;

/// What became of one intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The object exists with this id and is adopted.
    Adopted(String),
    /// No object was made; the intent is dropped.
    Gone,
}

/// The outcome of [`recover`].
#[derive(Debug, Default)]
pub struct Recovery {
    /// Prior with every adopted object recorded.
    pub prior: Snapshot,
    /// What became of each resolved intent, by address.
    pub resolved: BTreeMap<ResourceAddr, Resolution>,
    /// Errors at the resource blocks of intents that could not be resolved.
    pub diagnostics: Vec<Diagnostic>,
}

/// Resolves every intent of `prior` (see the module documentation). Intents of
/// addresses already recorded are stale and resolve to [`Resolution::Gone`].
pub async fn recover(
    prior: &Snapshot,
    config: &Config,
    providers: &Providers,
    env: &str,
    parallelism: usize,
) -> Recovery {
    let mut out = Recovery {
        prior: prior.clone(),
        ..Recovery::default()
    };
    out.prior.intents.clear();
    let lookups = prior.intents.values().map(|intent| async move {
        let outcome = if prior.resources.contains_key(&intent.addr) {
            Ok(None)
        } else {
            resolve(intent, &config.stack, env, providers).await
        };
        (intent, outcome)
    });
    let results: Vec<(&Intent, Lookup)> = stream::iter(lookups)
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    for (intent, outcome) in results {
        match outcome {
            Ok(Some((id, value))) => {
                out.prior.resources.insert(
                    intent.addr.clone(),
                    ResourceRecord {
                        addr: intent.addr.clone(),
                        provider: intent.provider.clone(),
                        id: id.clone(),
                        value,
                        dependencies: intent.dependencies.clone(),
                        schema_version: intent.schema_version,
                    },
                );
                out.resolved
                    .insert(intent.addr.clone(), Resolution::Adopted(id));
            }
            Ok(None) => {
                out.resolved.insert(intent.addr.clone(), Resolution::Gone);
            }
            Err(failure) => out
                .diagnostics
                .push(failure.diagnostic(intent, span_of(config, &intent.addr))),
        }
    }
    out.diagnostics
        .sort_by(|a, b| a.summary.cmp(&b.summary).then(a.detail.cmp(&b.detail)));
    out
}

/// The id and value of the object an intent resolves to, `None` when nothing was made,
/// or why it could not be resolved.
type Lookup = Result<Option<(String, Value)>, Failure>;

/// Why an intent could not be resolved.
enum Failure {
    Ambiguous(Vec<String>),
    Unsupported,
    Lookup(ProviderError),
}

impl Failure {
    fn diagnostic(&self, intent: &Intent, span: Span) -> Diagnostic {
        let addr = &intent.addr;
        match self {
            Failure::Ambiguous(ids) => Diagnostic::error(
                Code::E0410,
                "an interrupted create matches several objects",
                span,
            )
            .with_label(format!(
                "{} objects carry the marks of {addr}: {}",
                ids.len(),
                ids.join(", ")
            ))
            .with_detail(format!(
                "An apply started creating {addr} (at {}) and never learned the result.",
                intent.started
            ))
            .with_help(format!(
                "keep one with `gig import {addr} ID`, then delete the others in the cloud \
                 or import them at other addresses"
            )),
            Failure::Unsupported => Diagnostic::error(
                Code::E0411,
                "an interrupted create cannot be looked up",
                span,
            )
            .with_label(format!("the create of {addr} may have made an object"))
            .with_detail(format!(
                "An apply started creating {addr} (at {}) and never learned the result, and \
                 {} objects cannot be found by gig's tags, name or client token.",
                intent.started, addr.rtype
            ))
            .with_help(format!(
                "check the cloud: if the object exists, record it with `gig import {addr} ID`; \
                 if not, forget the intent with `gig state rm {addr}`"
            )),
            Failure::Lookup(e) => {
                Diagnostic::error(Code::E0412, "looking up an interrupted create failed", span)
                    .with_label(e.message.clone())
                    .with_detail(format!(
                        "An apply started creating {addr} (at {}) and never learned the result; \
                     gig must know whether the object exists before planning.",
                        intent.started
                    ))
            }
        }
    }
}

/// The id and value of the object an intent resolves to, or `None` when nothing was
/// made.
async fn resolve(intent: &Intent, stack: &str, env: &str, providers: &Providers) -> Lookup {
    let provider = providers.get(&intent.provider).ok_or_else(|| {
        Failure::Lookup(ProviderError::permanent(format!(
            "provider {} is not configured",
            intent.provider
        )))
    })?;
    let ctx = OpContext {
        token: Some(intent.token.clone()),
        ..OpContext::new(intent.addr.to_string(), stack, env)
    };
    let rtype = &intent.addr.rtype;
    let id = match &intent.id {
        Some(id) => id.clone(),
        None => match provider.find_created(&ctx, rtype, &intent.planned).await {
            Ok(gig_provider::Lookup::Found(ids)) => match ids.as_slice() {
                [] => return Ok(None),
                [id] => id.clone(),
                _ => return Err(Failure::Ambiguous(ids)),
            },
            Ok(gig_provider::Lookup::Repeatable) => return Ok(None),
            Ok(gig_provider::Lookup::Unsupported) => return Err(Failure::Unsupported),
            Err(e) => return Err(Failure::Lookup(e)),
        },
    };
    // The planned value stands in for Prior: reads that need more than the id find it.
    let mut prior = intent.planned.clone();
    if let Value::Map(m) = &mut prior {
        m.insert("id".to_string(), Value::String(id.clone()));
    }
    let request = ReadRequest {
        address: ctx.address.clone(),
        id: id.clone(),
        prior,
    };
    let mut read = provider
        .read(rtype, std::slice::from_ref(&request))
        .await
        .map_err(Failure::Lookup)?;
    match read.pop() {
        Some(Ok(Some(value))) => Ok(Some((id, value))),
        Some(Ok(None)) | None => Ok(None),
        Some(Err(e)) => Err(Failure::Lookup(e)),
    }
}

/// The span of the resource block of `addr`, or an empty span when the address is no
/// longer in the configuration.
fn span_of(config: &Config, addr: &ResourceAddr) -> Span {
    config
        .resources
        .iter()
        .find(|r| r.addr == *addr)
        .map_or(Span::DETACHED, |r| r.header_span)
}
