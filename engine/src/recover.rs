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
    resolve_with(intent, stack, env, provider.as_ref()).await
}

/// What a lookup of one create whose outcome is unknown found, for apply to settle it
/// within the run (see [`crate::apply`]).
pub(crate) enum Found {
    /// Exactly one live object: its id and value.
    One(String, Value),
    /// No object.
    Nothing,
    /// The lookup could not say (several candidates, no lookup for the type, a failed
    /// call): why.
    Unresolved(String),
}

/// Looks up the object of `intent` through `provider`, as the next plan would.
pub(crate) async fn look_up(
    intent: &Intent,
    stack: &str,
    env: &str,
    provider: &dyn gig_provider::Provider,
) -> Found {
    match resolve_with(intent, stack, env, provider).await {
        Ok(Some((id, value))) => Found::One(id, value),
        Ok(None) => Found::Nothing,
        Err(Failure::Ambiguous(ids)) => Found::Unresolved(format!(
            "several objects carry its marks: {}",
            ids.join(", ")
        )),
        Err(Failure::Unsupported) => {
            Found::Unresolved(format!("{} objects cannot be looked up", intent.addr.rtype))
        }
        Err(Failure::Lookup(e)) => Found::Unresolved(format!("the lookup failed: {}", e.message)),
    }
}

/// [`resolve`] with the intent's provider at hand.
async fn resolve_with(
    intent: &Intent,
    stack: &str,
    env: &str,
    provider: &dyn gig_provider::Provider,
) -> Lookup {
    let ctx = OpContext {
        token: Some(intent.token.clone()),
        ..OpContext::new(intent.addr.to_string(), stack, env)
    };
    let rtype = &intent.addr.rtype;
    let candidates = match &intent.id {
        Some(id) => vec![id.clone()],
        None => match provider.find_created(&ctx, rtype, &intent.planned).await {
            Ok(gig_provider::Lookup::Found(ids)) => ids,
            Ok(gig_provider::Lookup::Repeatable) => return Ok(None),
            Ok(gig_provider::Lookup::Unsupported) => return Err(Failure::Unsupported),
            Err(e) => return Err(Failure::Lookup(e)),
        },
    };
    if candidates.is_empty() {
        return Ok(None);
    }
    // Every candidate is read: only objects that exist count (a terminated instance or
    // a deleted NAT gateway keeps its tags for a while). The planned value stands in
    // for Prior, so reads that need more than the id find it.
    let requests: Vec<ReadRequest> = candidates
        .iter()
        .map(|id| {
            let mut prior = intent.planned.clone();
            if let Value::Map(m) = &mut prior {
                m.insert("id".to_string(), Value::String(id.clone()));
            }
            ReadRequest {
                address: ctx.address.clone(),
                id: id.clone(),
                prior,
            }
        })
        .collect();
    let read = provider
        .read(rtype, &requests)
        .await
        .map_err(Failure::Lookup)?;
    let mut live = Vec::new();
    for (id, result) in candidates.into_iter().zip(read) {
        match result {
            Ok(Some(value)) => live.push((id, value)),
            Ok(None) => {}
            Err(e) => return Err(Failure::Lookup(e)),
        }
    }
    match live.len() {
        0 => Ok(None),
        1 => Ok(live.pop()),
        _ => Err(Failure::Ambiguous(
            live.into_iter().map(|(id, _)| id).collect(),
        )),
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
