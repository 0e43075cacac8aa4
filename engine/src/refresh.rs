//! Refresh: reading what the cloud holds now (Refreshed values) for everything in the
//! Prior state, and reading data sources.
//!
//! [`refresh`] groups the Prior records by (provider, resource type) and makes one
//! [`Provider::read`] call per group with every id of that type — the provider chunks
//! it into as few cloud calls as the API allows. Groups are read concurrently, at most
//! `parallelism` at a time. Retryable and throttling errors of a whole call are retried
//! per [`RetryPolicy::default`]; errors about single objects are reported with their
//! address, and every failure is collected rather than stopping at the first.
//!
//! [`read_data_sources`] evaluates each data block's arguments — constants, or
//! references to other data sources, read first — and calls [`Provider::read_data`].
//!
//! # Cancel safety
//!
//! Both functions only read; dropping their futures at any await point is safe.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt as _};
use gig_core::addr::{Mode, ResourceAddr};
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;
use gig_dsl::config::Config;
use gig_dsl::eval::eval;
use gig_provider::{ErrorScope, OpContext, Provider, ProviderError, ReadRequest, Registry};
use gig_state::Snapshot;

use crate::apply::RetryPolicy;
use crate::values::ValueTable;

/// A failed read of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadFailure {
    /// The instance.
    pub addr: ResourceAddr,
    /// The provider's error, code and message intact.
    pub error: ProviderError,
    /// The block in the source (detached for refresh, which works from state).
    pub span: Span,
}

impl ReadFailure {
    /// The failure as a diagnostic at the resource block that caused it (`E0402`), with
    /// the cloud's code and message intact.
    pub fn diagnostic(&self) -> Diagnostic {
        self.error.diagnostic(
            Code::E0402,
            "reading from the provider failed",
            &self.addr.to_string(),
            self.span,
        )
    }
}

/// The diagnostics for `failures`: a provider-wide failure (no credentials, an endpoint
/// that cannot be reached; see [`gig_provider::ErrorScope`]) once, however many reads it
/// failed (`E0405`, `E0406`), and every other failure at its resource block (`E0402`).
pub fn failure_diagnostics(failures: &[ReadFailure]) -> Vec<Diagnostic> {
    let mut wide: Vec<(&ProviderError, Vec<&ResourceAddr>)> = Vec::new();
    let mut out = Vec::new();
    for f in failures {
        if !f.error.is_provider_wide() {
            out.push(f.diagnostic());
            continue;
        }
        match wide.iter_mut().find(|(e, _)| **e == f.error) {
            Some((_, addrs)) => addrs.push(&f.addr),
            None => wide.push((&f.error, vec![&f.addr])),
        }
    }
    let wide_diags = wide.into_iter().map(|(error, addrs)| {
        let (code, summary, help) = match error.scope {
            ErrorScope::Credentials => (
                Code::E0405,
                "no credentials were found for a provider",
                "give the provider credentials (for AWS: the environment, a profile, web identity or instance metadata), then run the command again",
            ),
            _ => (
                Code::E0406,
                "a provider's endpoint cannot be reached",
                "check the endpoint (the provider block's `endpoint`, AWS_ENDPOINT_URL) and the network, then run the command again",
            ),
        };
        let shown: Vec<String> = addrs.iter().take(3).map(ToString::to_string).collect();
        let more = match addrs.len() {
            n if n > 3 => format!(" and {} more", n - 3),
            _ => String::new(),
        };
        Diagnostic::error(code, summary, Span::DETACHED)
            .with_detail(format!(
                "{}. {} read(s) failed this way: {}{more}.",
                error.message,
                addrs.len(),
                shown.join(", ")
            ))
            .with_help(help)
    });
    let mut all: Vec<Diagnostic> = wide_diags.collect();
    all.extend(out);
    all
}

/// Some reads failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{} read(s) failed; first: {}: {}", failures.len(), first_addr(failures), first_error(failures))]
pub struct RefreshError {
    /// Every failed read, sorted by address.
    pub failures: Vec<ReadFailure>,
    /// What was read successfully (`None`: the object is gone).
    pub values: BTreeMap<ResourceAddr, Option<Value>>,
}

fn first_addr(f: &[ReadFailure]) -> String {
    f.first().map(|f| f.addr.to_string()).unwrap_or_default()
}

fn first_error(f: &[ReadFailure]) -> String {
    f.first().map(|f| f.error.to_string()).unwrap_or_default()
}

/// The outcome of reading one object: `None` when it is gone.
type ReadResult = Result<Option<Value>, ProviderError>;

/// Reads every resource in `prior` from its provider. The result has one entry per
/// Prior resource: `Some(Refreshed)`, or `None` when the object no longer exists.
pub async fn refresh(
    prior: &Snapshot,
    providers: &BTreeMap<String, Arc<dyn Provider>>,
    parallelism: usize,
) -> Result<BTreeMap<ResourceAddr, Option<Value>>, RefreshError> {
    let mut groups: BTreeMap<(&str, &str), Vec<&ResourceAddr>> = BTreeMap::new();
    for (addr, record) in &prior.resources {
        groups
            .entry((record.provider.as_str(), addr.rtype.as_str()))
            .or_default()
            .push(addr);
    }
    let retry = RetryPolicy::default();
    let reads = groups.into_iter().map(|((provider, rtype), addrs)| {
        let provider_impl = providers.get(provider).cloned();
        let retry = &retry;
        async move {
            let Some(p) = provider_impl else {
                let e = ProviderError::permanent(format!("provider {provider} is not configured"));
                return addrs
                    .into_iter()
                    .map(|a| (a.clone(), Err(e.clone())))
                    .collect::<Vec<_>>();
            };
            let requests: Vec<ReadRequest> = addrs
                .iter()
                .map(|a| {
                    let record = &prior.resources[*a];
                    ReadRequest {
                        address: a.to_string(),
                        id: record.id.clone(),
                        prior: record.value.clone(),
                    }
                })
                .collect();
            match read_with_retry(p.as_ref(), rtype, &requests, retry).await {
                Ok(results) if results.len() == requests.len() => {
                    addrs.into_iter().cloned().zip(results).collect()
                }
                Ok(results) => {
                    let e = ProviderError::permanent(format!(
                        "provider {provider} answered {} of {} reads of {rtype}",
                        results.len(),
                        requests.len()
                    ));
                    addrs
                        .into_iter()
                        .map(|a| (a.clone(), Err(e.clone())))
                        .collect()
                }
                Err(e) => addrs
                    .into_iter()
                    .map(|a| (a.clone(), Err(e.clone())))
                    .collect(),
            }
        }
    });
    let results: Vec<Vec<(ResourceAddr, ReadResult)>> = stream::iter(reads)
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;

    let mut values = BTreeMap::new();
    let mut failures = Vec::new();
    for (addr, result) in results.into_iter().flatten() {
        match result {
            Ok(v) => {
                values.insert(addr, v);
            }
            Err(error) => failures.push(ReadFailure {
                addr,
                error,
                span: Span::DETACHED,
            }),
        }
    }
    if failures.is_empty() {
        Ok(values)
    } else {
        failures.sort_by(|a, b| a.addr.cmp(&b.addr));
        Err(RefreshError { failures, values })
    }
}

/// One batched read, retrying retryable and throttling errors of the whole call.
async fn read_with_retry(
    p: &dyn Provider,
    rtype: &str,
    requests: &[ReadRequest],
    retry: &RetryPolicy,
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let started = Instant::now();
        let result = p.read(rtype, requests).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::debug!(
                target: "gig::provider",
                address = %rtype, operation = "read", count = requests.len(), duration_ms, attempt, outcome = "ok",
                "provider call succeeded"
            ),
            // A provider-wide failure is reported once as a diagnostic; logging it per
            // call at the default level would repeat it for every resource type.
            Err(e) if e.is_provider_wide() => tracing::debug!(
                target: "gig::provider",
                address = %rtype, operation = "read", count = requests.len(), duration_ms, attempt,
                outcome = ?e.scope, error = %e.message,
                "provider call failed"
            ),
            Err(e) => tracing::warn!(
                target: "gig::provider",
                address = %rtype, operation = "read", count = requests.len(), duration_ms, attempt,
                outcome = ?e.class, code = e.code.as_deref().unwrap_or(""), error = %e.message,
                "provider call failed"
            ),
        }
        match result {
            Err(e) if e.is_retryable() && attempt < retry.max_attempts => {
                tokio::time::sleep(retry.delay(attempt)).await;
            }
            other => return other,
        }
    }
}

/// Who is reading, for [`OpContext`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadContext {
    /// Stack name.
    pub stack: String,
    /// Environment name.
    pub env: String,
    /// The most reads in flight at once.
    pub parallelism: usize,
}

/// What reading the data sources produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataRead {
    /// Every data source read successfully.
    pub values: BTreeMap<ResourceAddr, Value>,
    /// Reads the provider failed, sorted by address.
    pub failures: Vec<ReadFailure>,
    /// User mistakes found on the way: arguments not known at plan time (`E0403`), data
    /// sources that need each other (`E0404`), arguments that do not evaluate.
    pub diagnostics: Vec<Diagnostic>,
}

impl DataRead {
    /// Whether every data source was read.
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty() && self.diagnostics.is_empty()
    }

    /// The user mistakes, then the provider failures as diagnostics at their blocks.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        let mut out = self.diagnostics;
        out.extend(failure_diagnostics(&self.failures));
        out
    }
}

/// Reads every data source in `config`. A data source's arguments may reference other
/// data sources, which are read first; any other reference, or an argument that is not
/// known, is a user mistake reported as a diagnostic at the data block. A data source
/// that needs one that could not be read is not read and not reported again.
pub async fn read_data_sources(
    config: &Config,
    providers: &BTreeMap<String, Arc<dyn Provider>>,
    registry: &Registry,
    ctx: &ReadContext,
) -> DataRead {
    let data: Vec<_> = config
        .resources
        .iter()
        .filter(|r| r.addr.mode == Mode::Data)
        .collect();
    let mut table = ValueTable::new();
    let mut values: BTreeMap<ResourceAddr, Value> = BTreeMap::new();
    let mut failures: Vec<ReadFailure> = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    // Data sources not read: failed, wrong, or needing one that was not read.
    let mut unread: BTreeSet<ResourceAddr> = BTreeSet::new();
    let mut pending: BTreeSet<usize> = (0..data.len()).collect();
    let is_data_dep = |d: &ResourceAddr| d.mode == Mode::Data;
    let depends_on = |r: &gig_dsl::config::ResourceConfig, other: &ResourceAddr| {
        r.dependencies
            .iter()
            .any(|d| d.target == *other || (d.target.key.is_none() && other.group() == d.target))
    };

    while !pending.is_empty() {
        // Ready: every data dependency has been read or has failed.
        let ready: Vec<usize> = pending
            .iter()
            .copied()
            .filter(|&i| {
                data.iter().enumerate().all(|(j, other)| {
                    j == i || !pending.contains(&j) || !depends_on(data[i], &other.addr)
                })
            })
            .collect();
        if ready.is_empty() {
            let cycle: Vec<String> = pending.iter().map(|&i| data[i].addr.to_string()).collect();
            for i in std::mem::take(&mut pending) {
                diagnostics.push(
                    Diagnostic::error(
                        Code::E0404,
                        "data sources depend on each other in a cycle",
                        data[i].span,
                    )
                    .with_label("this data source is part of the cycle")
                    .with_detail(format!(
                        "{} cannot be read before the data sources it needs, and each of {} needs another of them.",
                        data[i].addr,
                        cycle.join(", ")
                    )),
                );
            }
            break;
        }
        let mut jobs = Vec::new();
        for &i in &ready {
            pending.remove(&i);
            let r = data[i];
            let failed_dep = r.dependencies.iter().any(|d| {
                unread
                    .iter()
                    .any(|u| *u == d.target || (d.target.key.is_none() && u.group() == d.target))
            });
            if failed_dep {
                unread.insert(r.addr.clone());
                continue;
            }
            let args = if let Some(dep) = r.dependencies.iter().find(|d| !is_data_dep(&d.target)) {
                Err(Diagnostic::error(
                    Code::E0403,
                    "a data source's arguments are not known at plan time",
                    dep.span,
                )
                .with_label("a managed resource, known only after apply")
                .with_detail(format!(
                    "Data sources are read while planning, but the arguments of {} refer to {}, whose values exist only after apply.",
                    r.addr, dep.target
                ))
                .with_help("use constants, params or other data sources in a data block's arguments"))
            } else {
                match eval(&r.body, &table) {
                    Ok(v) if v.is_known() => Ok(converted_args(v, &r.addr.rtype, registry)),
                    Ok(_) => Err(Diagnostic::error(
                        Code::E0403,
                        "a data source's arguments are not known at plan time",
                        r.span,
                    )
                    .with_label("arguments with values known only after apply")
                    .with_detail(format!(
                        "Data sources are read while planning, but some arguments of {} are not known until apply.",
                        r.addr
                    ))),
                    Err(d) => Err(d),
                }
            };
            match (args, providers.get(&r.provider)) {
                (Err(d), _) => {
                    unread.insert(r.addr.clone());
                    diagnostics.push(d);
                }
                (Ok(_), None) => {
                    unread.insert(r.addr.clone());
                    failures.push(ReadFailure {
                        addr: r.addr.clone(),
                        error: ProviderError::permanent(format!(
                            "provider {} is not configured",
                            r.provider
                        )),
                        span: r.span,
                    });
                }
                (Ok(args), Some(p)) => jobs.push((i, p.clone(), args)),
            }
        }
        let reads = jobs.into_iter().map(|(i, p, args)| {
            let r = data[i];
            let op = OpContext { address: r.addr.to_string(), stack: ctx.stack.clone(), env: ctx.env.clone(), ..OpContext::default() };
            async move {
                let started = Instant::now();
                let result = p.read_data(&op, &r.addr.rtype, &args).await;
                let duration_ms = started.elapsed().as_millis() as u64;
                match &result {
                    Ok(_) => tracing::debug!(
                        target: "gig::provider",
                        address = %op.address, operation = "read_data", duration_ms, attempt = 1u32, outcome = "ok",
                        "provider call succeeded"
                    ),
                    Err(e) => tracing::warn!(
                        target: "gig::provider",
                        address = %op.address, operation = "read_data", duration_ms, attempt = 1u32,
                        outcome = ?e.class, code = e.code.as_deref().unwrap_or(""), error = %e.message,
                        "provider call failed"
                    ),
                }
                (i, result)
            }
        });
        let results: Vec<(usize, Result<Value, ProviderError>)> = stream::iter(reads)
            .buffer_unordered(ctx.parallelism.max(1))
            .collect()
            .await;
        for (i, result) in results {
            let r = data[i];
            match result {
                Ok(v) => {
                    table.insert(r.addr.clone(), v.clone());
                    values.insert(r.addr.clone(), v);
                }
                Err(error) => {
                    unread.insert(r.addr.clone());
                    failures.push(ReadFailure {
                        addr: r.addr.clone(),
                        error,
                        span: r.span,
                    });
                }
            }
        }
    }

    failures.sort_by(|a, b| a.addr.cmp(&b.addr));
    DataRead {
        values,
        failures,
        diagnostics,
    }
}

/// A data source's arguments with the lossless implicit conversions to their declared
/// types made (see [`crate::check::convert`]).
fn converted_args(args: Value, dtype: &str, registry: &Registry) -> Value {
    let (Some(schema), Value::Map(m)) = (registry.resource_schema(dtype, true), &args) else {
        return args;
    };
    Value::Map(
        m.iter()
            .map(|(k, v)| match schema.attributes.get(k) {
                Some(a) => (k.clone(), crate::check::convert(v.clone(), &a.ty)),
                None => (k.clone(), v.clone()),
            })
            .collect(),
    )
}
