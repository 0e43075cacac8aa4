//! The apply executor: carries out a [`Plan`] through the providers, committing each
//! result to state as it lands.
//!
//! # Algorithm
//!
//! The plan's changes become provider *steps* (see [`schedule`]): a create or update,
//! a delete, or both for a replace, ordered by dependency edges. Apply is Kahn's
//! algorithm run live: every step whose predecessors have all succeeded is started at
//! once, in address order, and a [`tokio::sync::Semaphore`] caps the provider calls in
//! flight at [`ApplyOptions::parallelism`]. All steps run as futures on the calling
//! task; no task is spawned, so the plan, the providers and the store are borrowed.
//!
//! Just before a create or update, the change's residual `body` is evaluated against a
//! [`ValueTable`] of New values (of steps already done) and Prior values (of untouched
//! instances), filling in what the plan left *unknown until apply*. What is still
//! unknown then is an error naming the resource and attribute.
//!
//! # Commits: durable before dependents start
//!
//! When a step completes, the executor takes every other step that has completed by
//! then as well, writes all their results to the state in one durable batch
//! ([`StateBackend::commit`]: for sled one transaction, one flush and `fdatasync`; for
//! S3 one journal object), and only then starts the steps that waited for them. A dependent therefore never starts before its
//! dependency's New value is durable, while resources that finish together share one
//! commit. docs/notes/apply.md discusses the trade-off.
//!
//! # Failures, retries and cancellation
//!
//! Providers classify their errors. Retryable and throttling errors are retried per
//! [`RetryPolicy`] (the concurrency slot is released while waiting), except that a
//! create is re-sent at once only after throttling: after a timeout, a dropped
//! connection or a server error its object may exist, and sending it again could make a
//! second one. Such a create is settled within the run: its object is looked up as the
//! next plan would ([`crate::recover`]) and adopted when found; only when two lookups a
//! retry delay apart find nothing is it sent again, and when the lookup cannot say, the
//! step fails and keeps its intent for the next plan. A permanent error
//! fails the step: independent branches carry on, and every step that (transitively)
//! waits for the failed one is skipped and reported with the failed instance. State
//! keeps everything that succeeded.
//!
//! Cancellation is a [`tokio::sync::watch`] channel: when it turns `true`, no further
//! provider call starts (steps waiting for a slot or a retry give up), but calls in
//! flight run to completion and their results are committed. The report says
//! `cancelled` and lists the steps that never started.
//!
//! # Cancel safety
//!
//! Dropping the future returned by [`apply`] drops provider calls in flight, whose
//! results then never reach state. Use the cancellation channel instead.

mod limit;
mod retry;
mod schedule;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt as _};
use futures::FutureExt as _;
use gig_core::addr::ResourceAddr;
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;
use gig_dsl::eval::eval;
use gig_provider::{CreatedSink, ErrorClass, OpContext, Provider, ProviderError, UpdateRequest};
use gig_state::{Deposed, Intent, ResourceRecord, StateBackend, StateError, Write};
use tokio::sync::{watch, Semaphore};

pub use crate::apply::retry::RetryPolicy;
use crate::apply::schedule::{Commit, Schedule};
use crate::events::{ApplyEvent, Step};
use crate::model::{Action, Plan, ResourceChange};
use crate::recover::Resolution;
use crate::values::ValueTable;

/// How apply runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyOptions {
    /// The most provider calls in flight at once (at least 1).
    pub parallelism: usize,
    /// Stack name, passed to providers for tags and logs.
    pub stack: String,
    /// Environment name, passed to providers for tags and logs.
    pub env: String,
    /// Retries of retryable and throttling errors.
    pub retry: RetryPolicy,
}

impl Default for ApplyOptions {
    fn default() -> ApplyOptions {
        ApplyOptions {
            parallelism: 32,
            stack: String::new(),
            env: "default".to_string(),
            retry: RetryPolicy::default(),
        }
    }
}

/// What apply did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplyReport {
    /// Changes carried out completely, sorted by address.
    pub succeeded: Vec<(ResourceAddr, Action)>,
    /// Changes that failed, with the provider's error and the resource block's span,
    /// sorted by address.
    pub failed: Vec<(ResourceAddr, ProviderError, Span)>,
    /// Changes not attempted because an instance they wait for failed: (skipped,
    /// because), sorted by address.
    pub skipped: Vec<(ResourceAddr, ResourceAddr)>,
    /// Changes not started because apply was cancelled or stopped, sorted.
    pub not_started: Vec<ResourceAddr>,
    /// Whether cancellation was requested.
    pub cancelled: bool,
    /// The outputs stored (set only when every change succeeded).
    pub outputs: BTreeMap<String, Value>,
    /// Outputs that could not be evaluated: (name, reason).
    pub output_errors: Vec<(String, String)>,
    /// A state write failed; apply stopped starting new work. The message names the
    /// state path.
    pub state_error: Option<String>,
    /// The state write failed because this process lost the state's lock
    /// ([`StateError::LockLost`]): another process may be writing the state now.
    pub state_lock_lost: bool,
}

impl ApplyReport {
    /// Whether everything in the plan was done and recorded.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty()
            && self.skipped.is_empty()
            && self.not_started.is_empty()
            && !self.cancelled
            && self.output_errors.is_empty()
            && self.state_error.is_none()
    }

    /// Every failed change as a diagnostic at its resource block (`E0401`), with the
    /// cloud's code and message intact.
    pub fn failure_diagnostics(&self) -> Vec<gig_core::diag::Diagnostic> {
        self.failed
            .iter()
            .map(|(addr, error, span)| {
                error.diagnostic(
                    Code::E0401,
                    "the provider rejected a change",
                    &addr.to_string(),
                    *span,
                )
            })
            .collect()
    }
}

/// Carries out `plan`. See the [module documentation](self) for ordering, commits,
/// retries and cancellation.
///
/// `providers` maps provider names (a change's `provider`) to configured providers.
/// `store` must be open; apply starts one write session on it (`apply`, or `destroy`
/// for a destroy plan). `events` is called on the executing task for every
/// [`ApplyEvent`]; it should return quickly.
pub async fn apply(
    plan: &Plan,
    providers: &BTreeMap<String, Arc<dyn Provider>>,
    store: &dyn StateBackend,
    opts: &ApplyOptions,
    cancel: watch::Receiver<bool>,
    events: &(dyn Fn(ApplyEvent) + Send + Sync),
) -> ApplyReport {
    let operation = if plan.destroy { "destroy" } else { "apply" };
    execute(plan, providers, store, opts, operation, cancel, events).await
}

/// [`apply`] in a write session named `operation` (`apply`, `destroy`, `rollback`).
pub(crate) async fn execute(
    plan: &Plan,
    providers: &BTreeMap<String, Arc<dyn Provider>>,
    store: &dyn StateBackend,
    opts: &ApplyOptions,
    operation: &str,
    mut cancel: watch::Receiver<bool>,
    events: &(dyn Fn(ApplyEvent) + Send + Sync),
) -> ApplyReport {
    let mut report = ApplyReport::default();
    if let Err(e) = store.begin(operation) {
        report.state_lock_lost = matches!(e, StateError::LockLost { .. });
        report.state_error = Some(e.to_string());
        report.not_started = plan
            .changes
            .iter()
            .filter(|c| does_something(c))
            .map(|c| c.addr.clone())
            .collect();
        return report;
    }

    let mut first_writes = recovered_writes(plan);
    first_writes.extend(adopted_writes(plan));
    if let Err(e) = store.commit(&first_writes) {
        report.state_error = Some(e.to_string());
        report.not_started = plan
            .changes
            .iter()
            .filter(|c| does_something(c))
            .map(|c| c.addr.clone())
            .collect();
        return report;
    }

    let changes = with_deposed(plan);
    let schedule = Schedule::build_with_deposed(&changes, plan.changes.len());
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Shared {
        store,
        semaphore: Semaphore::new(opts.parallelism.max(1)),
        lanes: limit::Lanes::new(opts.parallelism.max(1)),
        stop: stop_rx,
        events,
        retry: opts.retry.clone(),
    };
    let mut run = Run::new(&changes, &schedule, providers, opts, initial_values(plan));
    let mut cancel_open = true;
    if *cancel.borrow_and_update() {
        run.cancelled = true;
        let _ = stop_tx.send(true);
    }

    for i in schedule.cyclic() {
        let change = &changes[schedule.steps[i].change];
        run.fail(
            i,
            ProviderError::permanent(format!("{} is part of a dependency cycle", change.addr)),
            events,
        );
    }
    let mut running: FuturesUnordered<Pin<Box<dyn Future<Output = Done> + Send + '_>>> =
        FuturesUnordered::new();
    let initial: Vec<usize> = (0..schedule.steps.len())
        .filter(|i| schedule.predecessors[*i] == 0 && run.state[*i] == StepState::Waiting)
        .collect();
    run.launch(initial, &shared, &mut running);

    while !running.is_empty() {
        tokio::select! {
            biased;
            changed = cancel.changed(), if cancel_open => {
                if changed.is_ok() && *cancel.borrow_and_update() {
                    run.cancelled = true;
                    let _ = stop_tx.send(true);
                } else if changed.is_err() {
                    cancel_open = false;
                }
            }
            Some(first) = running.next() => {
                let mut batch = vec![first];
                // Take every step that has completed by now. Unconstrained: tokio's
                // cooperative budget (128 operations per poll) would otherwise cut a wide
                // layer of instant steps into several commit rounds.
                while let Some(Some(done)) = tokio::task::unconstrained(running.next()).now_or_never() {
                    batch.push(done);
                }
                let ready = run.finish(batch, store, &shared);
                if run.state_error.is_some() {
                    let _ = stop_tx.send(true);
                }
                run.launch(ready, &shared, &mut running);
            }
        }
    }

    let ok = run.failed.is_empty()
        && !run.cancelled
        && run.state_error.is_none()
        && run.not_started.is_empty();
    let (mut report, table) = run.into_report();
    // A partial plan (--target/--exclude) did not resolve every output: keep the old.
    if ok && !plan.partial {
        let (outputs, errors) = evaluate_outputs(plan, &table);
        report.output_errors = errors;
        if report.output_errors.is_empty() {
            match store.set_outputs(&outputs) {
                Ok(()) => report.outputs = outputs,
                Err(e) => {
                    report.state_lock_lost = matches!(e, StateError::LockLost { .. });
                    report.state_error = Some(e.to_string());
                }
            }
        }
    }
    report
}

/// The writes that settle the intents the plan resolved, made before anything else: an
/// adopted object is recorded with the value refresh read (its change's Prior), and an
/// intent whose object was never made is dropped. An adopted address the plan does not
/// carry (left out by `--target`) keeps its intent for the next run.
fn recovered_writes(plan: &Plan) -> Vec<Write> {
    plan.recovered
        .iter()
        .filter_map(|(addr, resolution)| match resolution {
            Resolution::Gone => Some(Write::DropIntent(addr.clone())),
            Resolution::Adopted(id) => {
                let change = plan.changes.iter().find(|c| c.addr == *addr)?;
                Some(Write::Put(ResourceRecord {
                    addr: addr.clone(),
                    provider: change.provider.clone(),
                    id: id.clone(),
                    value: change.prior.clone()?,
                    dependencies: change.dependencies.clone(),
                    schema_version: change.schema_version,
                }))
            }
        })
        .collect()
}

/// The writes that record what `moved` and `import` blocks changed, made before
/// anything else: each moved record at its new address (and no longer at the old), and
/// each imported object, with the value the plan read (its change's Prior). A record
/// refresh found gone is only dropped from its old address; its change creates it. An
/// address the plan does not carry (left out by `--target`) is left as it is.
fn adopted_writes(plan: &Plan) -> Vec<Write> {
    let mut writes = Vec::new();
    let record = |change: &ResourceChange| {
        Some(Write::Put(ResourceRecord {
            addr: change.addr.clone(),
            provider: change.provider.clone(),
            id: change.id.clone()?,
            value: change.prior.clone()?,
            dependencies: change.dependencies.clone(),
            schema_version: change.schema_version,
        }))
    };
    let change = |addr: &ResourceAddr| plan.changes.iter().find(|c| c.addr == *addr);
    for (to, from) in &plan.moved {
        let Some(c) = change(to) else { continue };
        writes.push(Write::Remove(from.clone()));
        writes.extend(record(c));
    }
    for to in plan.imported.keys() {
        writes.extend(change(to).and_then(record));
    }
    writes
}

/// The plan's changes followed by one delete per deposed object (see
/// [`Plan::deposed`]); borrowed when there is none.
fn with_deposed(plan: &Plan) -> std::borrow::Cow<'_, [ResourceChange]> {
    if plan.deposed.is_empty() {
        return std::borrow::Cow::Borrowed(&plan.changes);
    }
    let deposed = plan.deposed.iter().map(|d| ResourceChange {
        addr: d.addr.clone(),
        provider: d.provider.clone(),
        action: Action::Delete,
        id: Some(d.id.clone()),
        prior: Some(d.value.clone()),
        planned: None,
        body: None,
        attributes: Vec::new(),
        updated: Vec::new(),
        replace_because: Vec::new(),
        lifecycle: gig_dsl::config::Lifecycle::default(),
        dependencies: d.dependencies.clone(),
        schema_version: d.schema_version,
        span: plan
            .changes
            .iter()
            .find(|c| c.addr == d.addr)
            .map_or(Span::DETACHED, |c| c.span),
    });
    std::borrow::Cow::Owned(plan.changes.iter().cloned().chain(deposed).collect())
}

/// The record of the object a change finds at its address (its id and Prior value),
/// when it has one.
fn old_record(change: &ResourceChange) -> Option<ResourceRecord> {
    let value = change.prior.clone()?;
    let id = change
        .id
        .clone()
        .or_else(|| value.get("id").and_then(Value::as_str).map(str::to_string))?;
    Some(record_of(change, id, value))
}

/// The record of `change`'s object with `id` and `value`.
fn record_of(change: &ResourceChange, id: String, value: Value) -> ResourceRecord {
    ResourceRecord {
        addr: change.addr.clone(),
        provider: change.provider.clone(),
        id,
        value,
        dependencies: change.dependencies.clone(),
        schema_version: change.schema_version,
    }
}

/// Whether a change needs a provider call.
fn does_something(c: &ResourceChange) -> bool {
    !matches!(c.action, Action::NoOp | Action::Read)
}

/// The values references resolve to before anything is applied: Prior values of every
/// instance that exists and is not being replaced, and data source values.
fn initial_values(plan: &Plan) -> ValueTable {
    let mut table = ValueTable::new();
    for c in &plan.changes {
        match c.action {
            Action::NoOp | Action::Update => {
                if let Some(v) = c.prior.clone().or_else(|| c.planned.clone()) {
                    table.insert(c.addr.clone(), v);
                }
            }
            Action::Create | Action::Replace | Action::Delete | Action::Read => {}
        }
    }
    for (addr, v) in &plan.data {
        table.insert(addr.clone(), v.clone());
    }
    table
}

/// Evaluates every root output against the New values.
fn evaluate_outputs(
    plan: &Plan,
    table: &ValueTable,
) -> (BTreeMap<String, Value>, Vec<(String, String)>) {
    let mut outputs = BTreeMap::new();
    let mut errors = Vec::new();
    for o in &plan.outputs {
        let value = match &o.expr {
            Some(expr) => match eval(expr, table) {
                Ok(v) => v,
                Err(d) => {
                    errors.push((o.name.clone(), diagnostic_text(&d)));
                    continue;
                }
            },
            None => match &o.after {
                Some(v) => v.clone(),
                None => continue,
            },
        };
        if value.is_unknown() {
            errors.push((
                o.name.clone(),
                "the value is still unknown after apply".to_string(),
            ));
            continue;
        }
        outputs.insert(
            o.name.clone(),
            if o.secret { value.into_secret() } else { value },
        );
    }
    (outputs, errors)
}

fn diagnostic_text(d: &Diagnostic) -> String {
    if d.detail.is_empty() {
        format!("gig::{}: {}", d.code, d.summary)
    } else {
        format!("gig::{}: {}. {}", d.code, d.summary, d.detail)
    }
}

/// What every step future shares; lives on the stack of [`apply`].
struct Shared<'a> {
    /// Where results, intents and reported ids are recorded.
    store: &'a dyn StateBackend,
    semaphore: Semaphore,
    /// Calls in flight per provider and resource type, adapted to throttling.
    lanes: limit::Lanes,
    /// Turns `true` when no new call may start.
    stop: watch::Receiver<bool>,
    events: &'a (dyn Fn(ApplyEvent) + Send + Sync),
    retry: RetryPolicy,
}

/// Everything one step's provider call needs, prepared when it became ready.
struct Job {
    step_index: usize,
    /// The concurrency lane: provider and resource type.
    lane: String,
    addr: ResourceAddr,
    action: Action,
    step: Step,
    provider: Arc<dyn Provider>,
    /// The provider's name, recorded in intents.
    provider_name: String,
    rtype: String,
    ctx: OpContext,
    request: Request,
    /// Recorded in intents, for adoption.
    dependencies: Vec<ResourceAddr>,
    schema_version: u32,
    /// When the step was prepared: its intent's `started`, kept when the id is added.
    prepared: String,
}

enum Request {
    Create {
        planned: Value,
    },
    Update {
        id: String,
        prior: Value,
        planned: Value,
        changed: Vec<String>,
    },
    Delete {
        id: String,
        prior: Value,
    },
}

/// A step's outcome.
struct Done {
    step_index: usize,
    /// `Ok(Some(New))` after create/update, `Ok(None)` after delete.
    result: Result<Option<Value>, ProviderError>,
    /// `false` when it gave up before its first call because apply stopped.
    started: bool,
    duration: Duration,
    /// For a create: the id the provider reported, if it did.
    created_id: Option<String>,
}

/// Runs one step: waits for a slot, calls the provider, retries what may be retried.
async fn run_step(shared: &Shared<'_>, job: Job) -> Done {
    let mut attempt: u32 = 0;
    let mut first_start: Option<Instant> = None;
    let mut last_error: Option<ProviderError> = None;
    let mut created_id: Option<String> = None;
    let done = |result, started, first: Option<Instant>, created_id| Done {
        step_index: job.step_index,
        result,
        started,
        duration: first.map_or(Duration::ZERO, |t| t.elapsed()),
        created_id,
    };
    loop {
        attempt += 1;
        let lane = tokio::select! {
            slot = shared.lanes.acquire(&job.lane) => Some(slot),
            _ = stop_requested(shared) => None,
        };
        let permit = shared.semaphore.acquire().await;
        if lane.is_none() || *shared.stop.borrow() || permit.is_err() {
            return match last_error {
                Some(e) => done(Err(e), true, first_start, created_id),
                None => done(Ok(None), false, None, created_id),
            };
        }
        if first_start.is_none() {
            first_start = Some(Instant::now());
            (shared.events)(ApplyEvent::Started {
                addr: job.addr.clone(),
                action: job.action,
                step: job.step,
            });
        }
        let started = Instant::now();
        let (result, id) = call(shared, &job).await;
        created_id = id.or(created_id);
        drop(permit);
        drop(lane);
        let adapted = match &result {
            Err(e) if e.class == ErrorClass::Throttled => shared.lanes.throttled(&job.lane),
            Ok(_) => shared.lanes.succeeded(&job.lane),
            Err(_) => None,
        };
        if let Some(limit) = adapted {
            (shared.events)(ApplyEvent::Concurrency {
                lane: job.lane.clone(),
                limit,
            });
        }
        let duration_ms = started.elapsed().as_millis() as u64;
        let result = match result {
            Err(e) if job.step == Step::Delete && e.class == ErrorClass::NotFound => Ok(None),
            other => other,
        };
        log_call(&job, attempt, duration_ms, &result);
        match result {
            Ok(v) => return done(Ok(v), true, first_start, created_id),
            Err(e)
                if e.is_retryable()
                    && attempt < shared.retry.max_attempts
                    && may_reissue(&job, &e, created_id.is_some()) =>
            {
                let delay = shared.retry.delay(attempt);
                (shared.events)(ApplyEvent::Retrying {
                    addr: job.addr.clone(),
                    step: job.step,
                    attempt,
                    error: e.clone(),
                    delay,
                });
                last_error = Some(e);
                let mut stop = shared.stop.clone();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
            }
            Err(e) if !may_reissue(&job, &e, created_id.is_some()) => {
                let why = match settle(shared, &job, created_id.clone(), attempt).await {
                    Settled::Adopted(id, value) => {
                        tracing::info!(
                            target: "gig::provider",
                            address = %job.addr, id = %id,
                            "a create whose answer was lost made its object; adopted"
                        );
                        return done(Ok(Some(value)), true, first_start, Some(id));
                    }
                    Settled::Behind(id, why) => {
                        created_id = Some(id);
                        why
                    }
                    Settled::NotMade if attempt < shared.retry.max_attempts => {
                        (shared.events)(ApplyEvent::Retrying {
                            addr: job.addr.clone(),
                            step: job.step,
                            attempt,
                            error: e.clone(),
                            delay: Duration::ZERO,
                        });
                        last_error = Some(e);
                        continue;
                    }
                    Settled::NotMade => "no object was found, and no attempt is left".to_string(),
                    Settled::Unknown(why) => why,
                };
                let e = ProviderError {
                    message: format!(
                        "{} (the create was not sent again: it may have succeeded unseen, and \
                         creating again could make a second object; {why}. The next plan looks \
                         the object up.)",
                        e.message
                    ),
                    ..e
                };
                return done(Err(e), true, first_start, created_id);
            }
            Err(e) => return done(Err(e), true, first_start, created_id),
        }
    }
}

/// What became of a create whose outcome is unknown, settled within the run.
enum Settled {
    /// Its object exists: the id and the value read.
    Adopted(String, Value),
    /// Two lookups, a retry delay apart, found no object: the create did not happen and
    /// may be sent again.
    NotMade,
    /// Its object exists but could not be brought in line with the planned value (the
    /// steps of the create after the lost answer never ran): its id, and why. Its intent
    /// keeps the id, so the next plan adopts it and plans the rest.
    Behind(String, String),
    /// The lookup could not say (or apply is stopping): why.
    Unknown(String),
}

/// Settles a create that failed with an unknown outcome (a timeout, a dropped
/// connection, a server error) the way the next plan would: looks its object up by the
/// reported id or the marks it carries ([`crate::recover::look_up`]) and adopts a single
/// live one. When nothing is found, it waits one retry delay — an object can take a
/// moment to become visible — and looks again; nothing twice means the create was not
/// made. The lookup is never a reason to create again while an object might exist.
async fn settle(
    shared: &Shared<'_>,
    job: &Job,
    created_id: Option<String>,
    attempt: u32,
) -> Settled {
    let Request::Create { planned } = &job.request else {
        return Settled::Unknown("not a create".to_string());
    };
    let intent = intent(job, planned, created_id);
    let look =
        || crate::recover::look_up(&intent, &job.ctx.stack, &job.ctx.env, job.provider.as_ref());
    for round in 0..2 {
        if *shared.stop.borrow() {
            return Settled::Unknown("apply is stopping".to_string());
        }
        if round > 0 {
            let mut stop = shared.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(shared.retry.delay(attempt)) => {}
                _ = stop.wait_for(|s| *s) => {
                    return Settled::Unknown("apply is stopping".to_string());
                }
            }
        }
        match look().await {
            crate::recover::Found::One(id, value) => {
                return finish_adopted(shared, job, planned, id, value).await
            }
            crate::recover::Found::Nothing => {}
            crate::recover::Found::Unresolved(why) => return Settled::Unknown(why),
        }
    }
    Settled::NotMade
}

/// Brings an object adopted within the run in line with the planned value: the create
/// whose answer was lost may have stopped before its later steps (attributes set after
/// the object is made, routes, rules), so every planned attribute the object does not
/// hold yet is updated in place. The id goes into the create's intent first.
async fn finish_adopted(
    shared: &Shared<'_>,
    job: &Job,
    planned: &Value,
    id: String,
    found: Value,
) -> Settled {
    record_id(shared, job, planned, &id);
    let behind: Vec<String> = planned
        .as_map()
        .into_iter()
        .flatten()
        .filter(|(k, v)| {
            !matches!(v.reveal(), Value::Null | Value::Unknown)
                && found.get(k).map(Value::revealed) != Some(v.revealed())
        })
        .map(|(k, _)| k.clone())
        .collect();
    if behind.is_empty() {
        return Settled::Adopted(id, found);
    }
    let mut target = planned.clone();
    if let Value::Map(m) = &mut target {
        m.insert("id".to_string(), Value::String(id.clone()));
    }
    let request = UpdateRequest {
        id: &id,
        prior: &found,
        planned: &target,
        changed: &behind,
    };
    match job.provider.update(&job.ctx, &job.rtype, request).await {
        Ok(new) => Settled::Adopted(id, new),
        Err(e) => Settled::Behind(
            id.clone(),
            format!(
                "its object {id} was found, but setting {} on it failed: {}",
                behind.join(", "),
                e.message
            ),
        ),
    }
}

/// Whether a failed call may be sent again at once. A create that failed for a reason
/// other than throttling (a timeout, a dropped connection, a server error) may have made
/// its object before the answer was lost, so it is settled by lookup instead (see
/// [`settle`]). Throttling rejects a request before it is processed — but when the
/// provider already reported the new object's id, the throttled call was a later step of
/// the create (a route, a rule): the object exists, and sending the whole create again
/// would make a second one.
///
/// Regression: a throttled `CreateRoute` after `CreateRouteTable` re-sent the whole
/// create, and the fault-injecting proxy test found two route tables at one address.
fn may_reissue(job: &Job, e: &ProviderError, created: bool) -> bool {
    job.step != Step::Create || (e.class != ErrorClass::Retryable && !created)
}

/// Resolves once apply has been told to start nothing new.
async fn stop_requested(shared: &Shared<'_>) {
    let mut stop = shared.stop.clone();
    let _ = stop.wait_for(|s| *s).await;
}

/// Makes the provider call of `job`; for a create, also the id the provider reported.
async fn call(
    shared: &Shared<'_>,
    job: &Job,
) -> (Result<Option<Value>, ProviderError>, Option<String>) {
    let p = &job.provider;
    match &job.request {
        Request::Create { planned } => create(shared, job, planned).await,
        Request::Update {
            id,
            prior,
            planned,
            changed,
        } => {
            let request = UpdateRequest {
                id,
                prior,
                planned,
                changed,
            };
            let result = p.update(&job.ctx, &job.rtype, request).await.map(Some);
            (result, None)
        }
        Request::Delete { id, prior } => {
            let result = p.delete(&job.ctx, &job.rtype, id, prior).await;
            (result.map(|()| None), None)
        }
    }
}

/// Calls create with a sink for the new object's id: each id the provider reports is
/// written into the create's intent, durably, before the provider's future is polled
/// again — so an object is on record from the moment the cloud names it, even if gig
/// is stopped while the provider waits for it to become ready.
async fn create(
    shared: &Shared<'_>,
    job: &Job,
    planned: &Value,
) -> (Result<Option<Value>, ProviderError>, Option<String>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let ctx = OpContext {
        sink: CreatedSink::new(move |id| {
            let _ = tx.send(id.to_string());
        }),
        ..job.ctx.clone()
    };
    let mut reported: Option<String> = None;
    let mut record = |id: String| {
        if reported.as_deref() != Some(id.as_str()) {
            record_id(shared, job, planned, &id);
            reported = Some(id);
        }
    };
    let result = {
        let create = job.provider.create(&ctx, &job.rtype, planned);
        tokio::pin!(create);
        loop {
            tokio::select! {
                biased;
                Some(id) = rx.recv() => record(id),
                result = &mut create => break result,
            }
        }
    };
    while let Ok(id) = rx.try_recv() {
        record(id);
    }
    (result.map(Some), reported)
}

/// Writes the id a create reported into its intent. A failed write is logged: the
/// create goes on, and its result is committed (or its failure reported) as usual.
fn record_id(shared: &Shared<'_>, job: &Job, planned: &Value, id: &str) {
    let intent = intent(job, planned, Some(id.to_string()));
    if let Err(e) = shared.store.commit(&[Write::Intent(intent)]) {
        tracing::error!(
            target: "gig::state",
            address = %job.addr, id, error = %e,
            "cannot record the id of a new object"
        );
    }
}

/// The intent of a create job.
fn intent(job: &Job, planned: &Value, id: Option<String>) -> Intent {
    Intent {
        addr: job.addr.clone(),
        provider: job.provider_name.clone(),
        token: job.ctx.token.clone().unwrap_or_default(),
        started: job.prepared.clone(),
        id,
        planned: planned.clone(),
        dependencies: job.dependencies.clone(),
        schema_version: job.schema_version,
    }
}

/// A fresh client token for one create.
fn new_token() -> String {
    format!("gig-{:032x}", rand::random::<u128>())
}

/// One tracing event per provider call. Values are never logged; provider error
/// messages are, as the provider wrote them.
fn log_call(
    job: &Job,
    attempt: u32,
    duration_ms: u64,
    result: &Result<Option<Value>, ProviderError>,
) {
    let address = job.addr.to_string();
    let operation = job.step.name();
    match result {
        Ok(_) => tracing::debug!(
            target: "gig::provider",
            address = %address, operation, duration_ms, attempt, outcome = "ok",
            "provider call succeeded"
        ),
        Err(e) => tracing::warn!(
            target: "gig::provider",
            address = %address, operation, duration_ms, attempt, outcome = class_name(e.class),
            code = e.code.as_deref().unwrap_or(""), error = %e.message,
            "provider call failed"
        ),
    }
}

fn class_name(c: ErrorClass) -> &'static str {
    match c {
        ErrorClass::Retryable => "retryable",
        ErrorClass::Throttled => "throttled",
        ErrorClass::Permanent => "permanent",
        ErrorClass::NotFound => "not_found",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepState {
    Waiting,
    Running,
    Succeeded,
    Failed,
    Skipped,
    NotStarted,
}

/// The executor's bookkeeping, owned by the [`apply`] loop.
struct Run<'a> {
    /// The plan's changes, then the deletes of deposed objects.
    changes: &'a [ResourceChange],
    schedule: &'a Schedule,
    providers: &'a BTreeMap<String, Arc<dyn Provider>>,
    opts: &'a ApplyOptions,
    table: ValueTable,
    state: Vec<StepState>,
    /// Steps each step still waits for.
    waiting: Vec<usize>,
    /// Steps of each change not yet succeeded.
    remaining: Vec<usize>,
    succeeded: Vec<(ResourceAddr, Action)>,
    failed: BTreeMap<ResourceAddr, (ProviderError, Span)>,
    skipped: BTreeMap<ResourceAddr, ResourceAddr>,
    not_started: Vec<ResourceAddr>,
    cancelled: bool,
    state_error: Option<String>,
    state_lock_lost: bool,
}

impl<'a> Run<'a> {
    fn new(
        changes: &'a [ResourceChange],
        schedule: &'a Schedule,
        providers: &'a BTreeMap<String, Arc<dyn Provider>>,
        opts: &'a ApplyOptions,
        table: ValueTable,
    ) -> Run<'a> {
        Run {
            changes,
            schedule,
            providers,
            opts,
            table,
            state: vec![StepState::Waiting; schedule.steps.len()],
            waiting: schedule.predecessors.clone(),
            remaining: schedule.steps_per_change.clone(),
            succeeded: Vec::new(),
            failed: BTreeMap::new(),
            skipped: BTreeMap::new(),
            not_started: Vec::new(),
            cancelled: false,
            state_error: None,
            state_lock_lost: false,
        }
    }

    fn change(&self, step_index: usize) -> &'a ResourceChange {
        &self.changes[self.schedule.steps[step_index].change]
    }

    /// Starts `ready` steps in order, or fails them at once when their request cannot
    /// be built, or marks them not started when apply is stopping.
    fn launch<'s>(
        &mut self,
        mut ready: Vec<usize>,
        shared: &'s Shared<'s>,
        running: &mut FuturesUnordered<Pin<Box<dyn Future<Output = Done> + Send + 's>>>,
    ) {
        ready.sort_unstable();
        let mut jobs = Vec::with_capacity(ready.len());
        for i in ready {
            if self.state[i] != StepState::Waiting {
                continue;
            }
            if *shared.stop.borrow() {
                self.state[i] = StepState::NotStarted;
                self.not_started.push(self.change(i).addr.clone());
                continue;
            }
            match self.job(i) {
                Ok(job) => jobs.push(job),
                Err(e) => {
                    let change = self.change(i);
                    let action = change.action;
                    let step = self.schedule.steps[i].step;
                    (shared.events)(ApplyEvent::Failed {
                        addr: change.addr.clone(),
                        action,
                        step,
                        error: e.clone(),
                    });
                    self.fail(i, e, shared.events);
                }
            }
        }
        // Every create about to start is on record first, in one durable write: if gig
        // dies from here on, the next run knows to look for the object.
        let intents: Vec<Write> = jobs
            .iter()
            .filter_map(|job| match &job.request {
                Request::Create { planned } => Some(Write::Intent(intent(job, planned, None))),
                _ => None,
            })
            .collect();
        if !intents.is_empty() {
            if let Err(e) = shared.store.commit(&intents) {
                self.state_error.get_or_insert_with(|| e.to_string());
                for job in jobs {
                    self.state[job.step_index] = StepState::NotStarted;
                    self.not_started.push(job.addr);
                }
                return;
            }
        }
        for job in jobs {
            self.state[job.step_index] = StepState::Running;
            running.push(Box::pin(run_step(shared, job)));
        }
    }

    /// Builds the provider request of step `i`.
    fn job(&self, i: usize) -> Result<Job, ProviderError> {
        let node = &self.schedule.steps[i];
        let change = self.change(i);
        let provider = self
            .providers
            .get(&change.provider)
            .cloned()
            .ok_or_else(|| {
                ProviderError::permanent(format!("provider {} is not configured", change.provider))
            })?;
        let prior = change.prior.clone().unwrap_or(Value::Null);
        let id = || {
            change
                .id
                .clone()
                .or_else(|| prior.get("id").and_then(Value::as_str).map(str::to_string))
                .ok_or_else(|| {
                    ProviderError::permanent(format!("{} has no id in state", change.addr))
                })
        };
        let request = match node.step {
            Step::Create => Request::Create {
                planned: self.resolve(change)?,
            },
            Step::Update => {
                let planned = self.resolve(change)?;
                let changed = changed_attributes(change, &prior, &planned);
                Request::Update {
                    id: id()?,
                    prior: prior.clone(),
                    planned,
                    changed,
                }
            }
            Step::Delete => Request::Delete {
                id: id()?,
                prior: prior.clone(),
            },
        };
        Ok(Job {
            step_index: i,
            lane: format!("{}/{}", change.provider, change.addr.rtype),
            addr: change.addr.clone(),
            action: change.action,
            step: node.step,
            provider,
            provider_name: change.provider.clone(),
            rtype: change.addr.rtype.clone(),
            dependencies: change.dependencies.clone(),
            schema_version: change.schema_version,
            prepared: gig_state::now_rfc3339(),
            ctx: OpContext {
                token: (node.step == Step::Create).then(new_token),
                ..OpContext::new(
                    change.addr.to_string(),
                    self.opts.stack.clone(),
                    self.opts.env.clone(),
                )
            },
            request,
        })
    }

    /// The Planned value with what was unknown filled in from the body evaluated
    /// against New values. Top-level attributes still wholly unknown and absent from
    /// the body are computed ones the provider sets; they are left out.
    fn resolve(&self, change: &ResourceChange) -> Result<Value, ProviderError> {
        let mut planned = match &change.planned {
            Some(v) => v.as_map().cloned().ok_or_else(|| {
                ProviderError::permanent(format!(
                    "the planned value of {} is not an object",
                    change.addr
                ))
            })?,
            None => {
                return Err(ProviderError::permanent(format!(
                    "{} has no planned value",
                    change.addr
                )))
            }
        };
        if planned.values().any(Value::is_unknown) {
            let mut desired = BTreeMap::new();
            if let Some(body) = &change.body {
                let value = eval(body, &self.table.projecting(body)).map_err(|d| {
                    ProviderError::new(
                        ErrorClass::Permanent,
                        Some(format!("gig::{}", d.code)),
                        diagnostic_text(&d),
                    )
                })?;
                desired = value.as_map().cloned().unwrap_or_default();
                for (k, v) in planned.iter_mut() {
                    if v.is_unknown() {
                        if let Some(d) = desired.get(k) {
                            *v = if matches!(v, Value::Secret(_)) {
                                d.clone().into_secret()
                            } else {
                                d.clone()
                            };
                        }
                    }
                }
            }
            planned.retain(|k, v| desired.contains_key(k) || !matches!(v.reveal(), Value::Unknown));
            if let Some((k, _)) = planned.iter().find(|(_, v)| v.is_unknown()) {
                return Err(ProviderError::invalid_attribute(
                    k,
                    format!(
                        "`{k}` of {} is still unknown after its dependencies were applied",
                        change.addr
                    ),
                ));
            }
        }
        Ok(Value::Map(planned))
    }

    /// Records completed steps: commits their results in one go, then marks them and
    /// returns the steps that became ready.
    fn finish(
        &mut self,
        batch: Vec<Done>,
        store: &dyn StateBackend,
        shared: &Shared<'_>,
    ) -> Vec<usize> {
        let mut writes: Vec<(usize, Write)> = Vec::new();
        let mut outcomes: Vec<(Done, Option<ProviderError>)> = Vec::new();
        let mut dropped: Vec<Write> = Vec::new();
        for done in batch {
            if self.made_nothing(&done) {
                dropped.push(Write::DropIntent(self.change(done.step_index).addr.clone()));
            }
            if let Ok(new) = &done.result {
                if done.started {
                    let i = done.step_index;
                    match self.writes_for(i, new.as_ref()) {
                        Ok(ws) => writes.extend(ws.into_iter().map(|w| (i, w))),
                        Err(e) => {
                            outcomes.push((done, Some(e)));
                            continue;
                        }
                    }
                }
            }
            outcomes.push((done, None));
        }
        // One transaction and one flush plus `fdatasync` for the whole batch: every
        // write is durable before any dependent is released below. A failed commit
        // writes nothing, so it fails every step of the batch.
        let written: BTreeSet<usize> = writes.iter().map(|(i, _)| *i).collect();
        let batch: Vec<Write> = writes.into_iter().map(|(_, w)| w).chain(dropped).collect();
        let state_failure = if batch.is_empty() {
            None
        } else {
            store.commit(&batch).err()
        };
        if let Some(e) = &state_failure {
            if self.state_error.is_none() {
                self.state_lock_lost = matches!(e, StateError::LockLost { .. });
            }
            self.state_error.get_or_insert_with(|| e.to_string());
        }

        let mut ready = Vec::new();
        for (done, prepare_error) in outcomes {
            let i = done.step_index;
            let change = self.change(i);
            let node = &self.schedule.steps[i];
            let (addr, action, step) = (change.addr.clone(), change.action, node.step);
            let failed_write = state_failure.as_ref().filter(|_| written.contains(&i));
            let result = match (prepare_error, failed_write) {
                (Some(e), _) => Err(e),
                (None, Some(e)) => Err(ProviderError::new(
                    ErrorClass::Permanent,
                    Some("gig.StateWriteFailed".to_string()),
                    format!("the provider call succeeded but recording it in state failed: {e}"),
                )),
                (None, None) => done.result,
            };
            match result {
                Ok(_) if !done.started => {
                    self.state[i] = StepState::NotStarted;
                    self.not_started.push(addr);
                }
                Ok(new) => {
                    match (node.commit, new) {
                        (Commit::Put, Some(v)) => self.table.insert(addr.clone(), v),
                        (Commit::Remove, _) => {
                            self.table.remove(&addr);
                        }
                        _ => {}
                    }
                    (shared.events)(ApplyEvent::Finished {
                        addr: addr.clone(),
                        action,
                        step,
                        duration: done.duration,
                    });
                    self.state[i] = StepState::Succeeded;
                    self.remaining[node.change] -= 1;
                    if self.remaining[node.change] == 0 {
                        self.succeeded.push((addr, action));
                    }
                    for &n in &self.schedule.successors[i] {
                        self.waiting[n] -= 1;
                        if self.waiting[n] == 0 && self.state[n] == StepState::Waiting {
                            ready.push(n);
                        }
                    }
                }
                Err(mut e) => {
                    if node.commit == Commit::DropDeposed {
                        e.message = format!(
                            "{} (the replaced object {} stays on record as deposed; the \
                             next apply deletes it)",
                            e.message,
                            change.id.as_deref().unwrap_or("without an id")
                        );
                    }
                    (shared.events)(ApplyEvent::Failed {
                        addr,
                        action,
                        step,
                        error: e.clone(),
                    });
                    self.fail(i, e, shared.events);
                }
            }
        }
        ready
    }

    /// Whether `done` is a create that certainly made no object, so its intent goes: it
    /// never started, or the cloud refused it (a permanent error or throttling, both
    /// answered before anything is made) without having reported an id. A create that
    /// timed out or lost its connection keeps its intent: its object may exist.
    fn made_nothing(&self, done: &Done) -> bool {
        if self.schedule.steps[done.step_index].step != Step::Create {
            return false;
        }
        match &done.result {
            _ if !done.started => true,
            Ok(_) => false,
            Err(e) => {
                done.created_id.is_none()
                    && matches!(
                        e.class,
                        ErrorClass::Permanent | ErrorClass::Throttled | ErrorClass::NotFound
                    )
            }
        }
    }

    /// The state writes for a successful step. The create of a create-before-destroy
    /// replacement also records the object it replaces as deposed, in the same durable
    /// write: from then on the old object is on record until its delete succeeds.
    fn writes_for(&self, i: usize, new: Option<&Value>) -> Result<Vec<Write>, ProviderError> {
        let change = self.change(i);
        match self.schedule.steps[i].commit {
            Commit::DropDeposed => Ok(old_record(change)
                .map(|old| Write::DropDeposed(Deposed::of(&old).key()))
                .into_iter()
                .collect()),
            Commit::Remove => Ok(vec![Write::Remove(change.addr.clone())]),
            Commit::Put => {
                let value = new.cloned().ok_or_else(|| {
                    ProviderError::permanent(format!(
                        "the provider returned no value for {}",
                        change.addr
                    ))
                })?;
                let id = value
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let mut writes = vec![Write::Put(record_of(change, id, value))];
                if change.action == Action::Replace && change.lifecycle.create_before_destroy {
                    writes.extend(old_record(change).map(|old| Write::Depose(Deposed::of(&old))));
                }
                Ok(writes)
            }
        }
    }

    /// Marks step `i` failed and skips everything that waits for it.
    fn fail(
        &mut self,
        i: usize,
        error: ProviderError,
        events: &(dyn Fn(ApplyEvent) + Send + Sync),
    ) {
        let change = self.change(i);
        self.state[i] = StepState::Failed;
        self.failed
            .entry(change.addr.clone())
            .or_insert((error, change.span));
        let because = change.addr.clone();
        let mut stack: Vec<usize> = self.schedule.successors[i].clone();
        while let Some(n) = stack.pop() {
            if self.state[n] != StepState::Waiting {
                continue;
            }
            self.state[n] = StepState::Skipped;
            let addr = &self.change(n).addr;
            if *addr != because
                && !self.failed.contains_key(addr)
                && !self.skipped.contains_key(addr)
            {
                self.skipped.insert(addr.clone(), because.clone());
                events(ApplyEvent::Skipped {
                    addr: addr.clone(),
                    because: because.clone(),
                });
            }
            stack.extend(self.schedule.successors[n].iter().copied());
        }
    }

    /// The report, and the final values for evaluating outputs.
    fn into_report(self) -> (ApplyReport, ValueTable) {
        let mut succeeded = self.succeeded;
        succeeded.sort();
        let mut not_started = self.not_started;
        not_started.sort();
        not_started.dedup();
        let report = ApplyReport {
            succeeded,
            failed: self
                .failed
                .into_iter()
                .map(|(a, (e, s))| (a, e, s))
                .collect(),
            skipped: self.skipped.into_iter().collect(),
            not_started,
            cancelled: self.cancelled,
            outputs: BTreeMap::new(),
            output_errors: Vec::new(),
            state_error: self.state_error,
            state_lock_lost: self.state_lock_lost,
        };
        (report, self.table)
    }
}

/// Top-level attributes an update changes: those the planner found different
/// (`change.updated`; its comparison knows the schema: set order, null = absent = empty,
/// computed values), plus those that were unknown at plan time and now differ from the
/// Prior value.
///
/// Regression: comparing raw values here made a reordered set (RDS subnet ids) count as
/// changed, so a tags-only update also called ModifyDBSubnetGroup.
pub(crate) fn changed_attributes(
    change: &ResourceChange,
    prior: &Value,
    planned: &Value,
) -> Vec<String> {
    let empty = BTreeMap::new();
    let before = prior.as_map().unwrap_or(&empty);
    let after = planned.as_map().unwrap_or(&empty);
    let planned_at_plan_time = change.planned.as_ref().and_then(Value::as_map);
    let mut changed: std::collections::BTreeSet<String> = change.updated.iter().cloned().collect();
    for (k, v) in after {
        let was_unknown = planned_at_plan_time
            .and_then(|p| p.get(k))
            .is_some_and(Value::is_unknown);
        if was_unknown && before.get(k) != Some(v) {
            changed.insert(k.clone());
        }
    }
    changed
        .into_iter()
        .filter(|k| after.contains_key(k) || before.contains_key(k))
        .collect()
}
