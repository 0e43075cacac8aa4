//! An in-process provider named `test`, for engine tests and benchmarks only.
//!
//! It behaves like a small cloud: objects live in an in-memory map keyed by id, so
//! read, update and delete see what create made. Behaviour is configurable through
//! [`TestOptions`]: a fixed latency per call (plus a per-object `delay_ms` for
//! `test.slow`), and failure rules that make chosen calls fail — always, or N times with
//! a retryable class before succeeding. It never panics.
//!
//! Every call is recorded in a shared [`CallLog`] (operation, address, start and end
//! instants, outcome) so a test can assert ordering and concurrency.
//!
//! Resource types:
//! - `test.thing`: inputs `name` (string), `value` (any), `tags` (map), `zone` (string,
//!   force-new), `ref` (any; used to reference other objects); computed `id`, `arn`.
//! - `test.slow`: inputs `name`, `delay_ms` (extra latency for each call on it), `ref`;
//!   computed `id`.
//!
//! Data source `test.echo`: returns its arguments plus `id = "echo"`.

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, ErrorClass, Lookup, OpContext, Provider, ProviderError,
    ProviderFactory, ProviderSchema, ReadRequest, ResourceSchema, UpdateRequest,
};

/// A provider operation, as recorded in the log and matched by failure rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// [`Provider::read`] (one call for a batch).
    Read,
    /// [`Provider::create`].
    Create,
    /// [`Provider::update`].
    Update,
    /// [`Provider::delete`].
    Delete,
    /// [`Provider::read_data`].
    ReadData,
}

/// Which addresses a failure rule applies to.
#[derive(Clone)]
pub enum AddressMatch {
    /// Every address.
    Any,
    /// Exactly this address (display form).
    Exact(String),
    /// Addresses for which the predicate is true.
    Predicate(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl AddressMatch {
    fn matches(&self, address: &str) -> bool {
        match self {
            AddressMatch::Any => true,
            AddressMatch::Exact(a) => a == address,
            AddressMatch::Predicate(p) => p(address),
        }
    }
}

/// Makes matching calls fail.
#[derive(Clone)]
pub struct FailRule {
    /// The operation to fail; `None` for all.
    pub operation: Option<Operation>,
    /// The addresses to fail.
    pub address: AddressMatch,
    /// The error returned.
    pub error: ProviderError,
    /// How many matching calls fail (per address) before calls succeed again; `None`
    /// fails every time.
    pub times: Option<u32>,
}

impl FailRule {
    /// Fails `operation` on `address` every time with a permanent error.
    pub fn always(operation: Operation, address: &str) -> FailRule {
        FailRule {
            operation: Some(operation),
            address: AddressMatch::Exact(address.to_string()),
            error: ProviderError::new(
                ErrorClass::Permanent,
                Some("InjectedFailure".to_string()),
                format!("injected failure of {operation:?} on {address}"),
            ),
            times: None,
        }
    }

    /// Fails `operation` on `address` `times` times with `class`, then succeeds.
    pub fn transient(
        operation: Operation,
        address: &str,
        class: ErrorClass,
        times: u32,
    ) -> FailRule {
        FailRule {
            operation: Some(operation),
            address: AddressMatch::Exact(address.to_string()),
            error: ProviderError::new(
                class,
                Some(
                    if class == ErrorClass::Throttled {
                        "Throttling"
                    } else {
                        "ServiceUnavailable"
                    }
                    .to_string(),
                ),
                format!("injected {class:?} failure of {operation:?} on {address}"),
            ),
            times: Some(times),
        }
    }
}

/// How the provider behaves.
#[derive(Clone, Default)]
pub struct TestOptions {
    /// Slept inside every call (reads included).
    pub latency: Duration,
    /// Failure rules, checked in order; the first match that still has failures left wins.
    pub fail: Vec<FailRule>,
    /// Rules checked after a create has made its object: a matching create returns the
    /// rule's error although the object exists (an answer lost on the way back).
    pub after_create: Vec<FailRule>,
    /// Slept by a create after it made its object and reported its id, like a cloud
    /// object becoming ready.
    pub settle: Duration,
    /// Creates do not report the new object's id early (a provider that cannot).
    pub silent_ids: bool,
}

/// One recorded call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The operation.
    pub operation: Operation,
    /// The resource type.
    pub rtype: String,
    /// The address (for a batched read: every address in the batch, joined by `,`).
    pub address: String,
    /// When the call began (before the latency sleep).
    pub start: Instant,
    /// When it returned.
    pub end: Instant,
    /// The error class when it failed.
    pub error: Option<ErrorClass>,
}

/// The shared, append-only log of calls.
#[derive(Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<Call>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl CallLog {
    /// Every call so far, in the order they finished.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// Calls of `operation` on `address`, in the order they finished.
    pub fn calls_for(&self, operation: Operation, address: &str) -> Vec<Call> {
        lock(&self.calls)
            .iter()
            .filter(|c| c.operation == operation && c.address == address)
            .cloned()
            .collect()
    }

    /// The last successful call of `operation` on `address`.
    pub fn succeeded(&self, operation: Operation, address: &str) -> Option<Call> {
        self.calls_for(operation, address)
            .into_iter()
            .rev()
            .find(|c| c.error.is_none())
    }

    /// The most calls that were ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Forgets every call and resets the concurrency high-water mark.
    pub fn clear(&self) {
        lock(&self.calls).clear();
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    fn enter(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self, call: Call) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        lock(&self.calls).push(call);
    }
}

/// The in-memory "cloud": objects by id, shared by the factory and every provider it made.
#[derive(Clone, Default)]
pub struct Objects {
    inner: Arc<Mutex<BTreeMap<String, Value>>>,
}

impl Objects {
    /// A copy of every object, by id.
    pub fn all(&self) -> BTreeMap<String, Value> {
        lock(&self.inner).clone()
    }

    /// The object with `id`.
    pub fn get(&self, id: &str) -> Option<Value> {
        lock(&self.inner).get(id).cloned()
    }

    /// Removes an object behind gig's back (to simulate drift or out-of-band deletes).
    pub fn remove(&self, id: &str) -> Option<Value> {
        lock(&self.inner).remove(id)
    }

    /// Replaces an object behind gig's back (to simulate drift).
    pub fn insert(&self, id: &str, value: Value) {
        lock(&self.inner).insert(id.to_string(), value);
    }
}

/// The `test` provider's factory.
pub struct TestFactory {
    schema: ProviderSchema,
    shared: Arc<Shared>,
}

struct Shared {
    options: TestOptions,
    /// Failures already injected, per (rule index, address).
    injected: Mutex<BTreeMap<(usize, String), u32>>,
    log: CallLog,
    objects: Objects,
    next_id: AtomicU64,
    /// The marks of each object a create made, by id: (stack, env, address), the
    /// tags a real cloud object carries.
    marks: Mutex<BTreeMap<String, (String, String, String)>>,
}

impl TestFactory {
    /// A factory whose providers behave per `options`.
    pub fn new(options: TestOptions) -> TestFactory {
        TestFactory {
            schema: schema(),
            shared: Arc::new(Shared {
                options,
                injected: Mutex::new(BTreeMap::new()),
                log: CallLog::default(),
                objects: Objects::default(),
                next_id: AtomicU64::new(1),
                marks: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The call log shared by every provider this factory made.
    pub fn log(&self) -> CallLog {
        self.shared.log.clone()
    }

    /// The in-memory objects shared by every provider this factory made.
    pub fn objects(&self) -> Objects {
        self.shared.objects.clone()
    }

    /// A configured provider, without going through the async trait.
    pub fn provider(&self) -> Arc<dyn Provider> {
        Arc::new(TestProvider {
            shared: self.shared.clone(),
        })
    }
}

impl Default for TestFactory {
    fn default() -> TestFactory {
        TestFactory::new(TestOptions::default())
    }
}

#[async_trait]
impl ProviderFactory for TestFactory {
    fn name(&self) -> &'static str {
        "test"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    async fn configure(&self, _settings: &Value) -> Result<Arc<dyn Provider>, ProviderError> {
        Ok(self.provider())
    }
}

fn schema() -> ProviderSchema {
    let mut thing = BTreeMap::new();
    thing.insert(
        "name".to_string(),
        AttributeSchema::optional(AttrType::String, "A name."),
    );
    thing.insert(
        "value".to_string(),
        AttributeSchema::optional(AttrType::Any, "Any value."),
    );
    thing.insert(
        "tags".to_string(),
        AttributeSchema::optional(AttrType::Map(Box::new(AttrType::String)), "Tags."),
    );
    thing.insert(
        "zone".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            "Where it lives; changing it replaces the object.",
        )
        .force_new(),
    );
    thing.insert(
        "ref".to_string(),
        AttributeSchema::optional(AttrType::Any, "A reference to other objects."),
    );
    thing.insert(
        "id".to_string(),
        AttributeSchema::computed(AttrType::String, "The object's id."),
    );
    thing.insert(
        "arn".to_string(),
        AttributeSchema::computed(AttrType::String, "An ARN-like name."),
    );

    let mut slow = BTreeMap::new();
    slow.insert(
        "name".to_string(),
        AttributeSchema::optional(AttrType::String, "A name."),
    );
    slow.insert(
        "delay_ms".to_string(),
        AttributeSchema::optional(
            AttrType::Number,
            "Extra latency of every call on this object.",
        ),
    );
    slow.insert(
        "ref".to_string(),
        AttributeSchema::optional(AttrType::Any, "A reference to other objects."),
    );
    slow.insert(
        "id".to_string(),
        AttributeSchema::computed(AttrType::String, "The object's id."),
    );

    let mut echo = BTreeMap::new();
    echo.insert(
        "value".to_string(),
        AttributeSchema::optional(AttrType::Any, "Returned as given."),
    );
    echo.insert(
        "id".to_string(),
        AttributeSchema::computed(AttrType::String, "Always `echo`."),
    );

    let resource =
        |name: &str, description: &str, attributes: BTreeMap<String, AttributeSchema>| {
            ResourceSchema {
                type_name: name.to_string(),
                description: description.to_string(),
                version: 0,
                attributes,
                example: format!("resource {name} example {{\n  name = \"example\"\n}}\n"),
            }
        };
    let mut resources = BTreeMap::new();
    resources.insert(
        "test.thing".to_string(),
        resource("test.thing", "An in-memory object.", thing),
    );
    resources.insert(
        "test.slow".to_string(),
        resource("test.slow", "An in-memory object with extra latency.", slow),
    );
    let mut data_sources = BTreeMap::new();
    data_sources.insert(
        "test.echo".to_string(),
        resource("test.echo", "Returns its arguments.", echo),
    );
    ProviderSchema {
        name: "test".to_string(),
        settings: BTreeMap::new(),
        resources,
        data_sources,
    }
}

struct TestProvider {
    shared: Arc<Shared>,
}

impl TestProvider {
    /// Sleeps the configured latency (plus `delay_ms` for `test.slow`), checks the
    /// failure rules, runs `body`, and logs the call.
    async fn call<T>(
        &self,
        operation: Operation,
        rtype: &str,
        address: &str,
        delay_ms: Option<&Value>,
        body: impl FnOnce(&Shared) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let log = &self.shared.log;
        log.enter();
        let start = Instant::now();
        let mut latency = self.shared.options.latency;
        if rtype == "test.slow" {
            if let Some(ms) = delay_ms
                .and_then(Value::as_f64)
                .filter(|ms| *ms > 0.0 && ms.is_finite())
            {
                latency += Duration::from_secs_f64(ms.min(3_600_000.0) / 1000.0);
            }
        }
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let result = match self.injected_failure(operation, address) {
            Some(err) => Err(err),
            None => body(&self.shared),
        };
        log.leave(Call {
            operation,
            rtype: rtype.to_string(),
            address: address.to_string(),
            start,
            end: Instant::now(),
            error: result.as_ref().err().map(|e| e.class),
        });
        result
    }

    fn injected_failure(&self, operation: Operation, address: &str) -> Option<ProviderError> {
        Self::injected(
            &self.shared,
            &self.shared.options.fail,
            0,
            operation,
            address,
        )
    }

    fn injected_after_create(&self, address: &str) -> Option<ProviderError> {
        let rules = &self.shared.options.after_create;
        // Counted apart from `fail`: indexes past its rules.
        let base = self.shared.options.fail.len();
        Self::injected(&self.shared, rules, base, Operation::Create, address)
    }

    fn injected(
        shared: &Shared,
        rules: &[FailRule],
        base: usize,
        operation: Operation,
        address: &str,
    ) -> Option<ProviderError> {
        let mut injected = lock(&shared.injected);
        for (i, rule) in rules.iter().enumerate() {
            let i = base + i;
            if rule.operation.is_some_and(|op| op != operation) || !rule.address.matches(address) {
                continue;
            }
            let count = injected.entry((i, address.to_string())).or_insert(0);
            if rule.times.is_none_or(|t| *count < t) {
                *count += 1;
                return Some(rule.error.clone());
            }
        }
        None
    }
}

fn check_type(rtype: &str) -> Result<(), ProviderError> {
    match rtype {
        "test.thing" | "test.slow" => Ok(()),
        other => Err(ProviderError::permanent(format!(
            "the test provider has no resource type {other}"
        ))),
    }
}

fn not_found(id: &str) -> ProviderError {
    ProviderError::new(
        ErrorClass::NotFound,
        Some("NotFound".to_string()),
        format!("no object {id}"),
    )
}

#[async_trait]
impl Provider for TestProvider {
    async fn read(
        &self,
        rtype: &str,
        requests: &[ReadRequest],
    ) -> Result<Vec<Result<Option<Value>, ProviderError>>, ProviderError> {
        check_type(rtype)?;
        let addresses: Vec<&str> = requests.iter().map(|r| r.address.as_str()).collect();
        self.call(
            Operation::Read,
            rtype,
            &addresses.join(","),
            None,
            |shared| {
                let objects = lock(&shared.objects.inner);
                Ok(requests
                    .iter()
                    .map(|r| Ok(objects.get(&r.id).cloned()))
                    .collect())
            },
        )
        .await
    }

    async fn create(
        &self,
        ctx: &OpContext,
        rtype: &str,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        check_type(rtype)?;
        let value = self
            .call(
                Operation::Create,
                rtype,
                &ctx.address,
                planned.get("delay_ms"),
                |shared| {
                    let mut value = planned.as_map().cloned().ok_or_else(|| {
                        ProviderError::permanent("the planned value is not an object")
                    })?;
                    if let Some((k, _)) = value.iter().find(|(_, v)| v.is_unknown()) {
                        return Err(ProviderError::invalid_attribute(
                            k,
                            format!("`{k}` is still unknown at create"),
                        ));
                    }
                    let n = shared.next_id.fetch_add(1, Ordering::SeqCst);
                    let kind = rtype.trim_start_matches("test.");
                    let id = format!("{kind}-{n:06}");
                    if rtype == "test.thing" {
                        value.insert(
                            "arn".to_string(),
                            Value::String(format!("arn:test:{}:{kind}/{id}", ctx.stack)),
                        );
                    }
                    value.insert("id".to_string(), Value::String(id.clone()));
                    let value = Value::Map(value);
                    lock(&shared.objects.inner).insert(id.clone(), value.clone());
                    let marks = (ctx.stack.clone(), ctx.env.clone(), ctx.address.clone());
                    lock(&shared.marks).insert(id, marks);
                    Ok(value)
                },
            )
            .await?;
        let options = &self.shared.options;
        if !options.silent_ids {
            if let Some(id) = value.get("id").and_then(Value::as_str) {
                ctx.created(id);
            }
        }
        if !options.settle.is_zero() {
            tokio::time::sleep(options.settle).await;
        }
        if let Some(e) = self.injected_after_create(&ctx.address) {
            return Err(e);
        }
        Ok(value)
    }

    async fn find_created(
        &self,
        ctx: &OpContext,
        rtype: &str,
        _planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        check_type(rtype)?;
        let marks = lock(&self.shared.marks);
        let objects = lock(&self.shared.objects.inner);
        let ids = marks
            .iter()
            .filter(|(id, (stack, env, address))| {
                *stack == ctx.stack
                    && *env == ctx.env
                    && *address == ctx.address
                    && objects.contains_key(*id)
            })
            .map(|(id, _)| id.clone())
            .collect();
        Ok(Lookup::Found(ids))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        rtype: &str,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        check_type(rtype)?;
        self.call(
            Operation::Update,
            rtype,
            &ctx.address,
            request.planned.get("delay_ms"),
            |shared| {
                let mut objects = lock(&shared.objects.inner);
                let current = objects
                    .get(request.id)
                    .ok_or_else(|| not_found(request.id))?;
                let mut value = current.as_map().cloned().unwrap_or_default();
                let planned = request.planned.as_map().ok_or_else(|| {
                    ProviderError::permanent("the planned value is not an object")
                })?;
                if planned
                    .get("zone")
                    .is_some_and(|z| Some(z) != value.get("zone"))
                {
                    return Err(ProviderError::invalid_attribute(
                        "zone",
                        "`zone` cannot change in place",
                    ));
                }
                for (k, v) in planned {
                    if k == "id" || k == "arn" {
                        continue;
                    }
                    if v.is_unknown() {
                        return Err(ProviderError::invalid_attribute(
                            k,
                            format!("`{k}` is still unknown at update"),
                        ));
                    }
                    value.insert(k.clone(), v.clone());
                }
                value.retain(|k, _| planned.contains_key(k) || k == "id" || k == "arn");
                let value = Value::Map(value);
                objects.insert(request.id.to_string(), value.clone());
                Ok(value)
            },
        )
        .await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        rtype: &str,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        check_type(rtype)?;
        self.call(
            Operation::Delete,
            rtype,
            &ctx.address,
            prior.get("delay_ms"),
            |shared| {
                lock(&shared.objects.inner).remove(id);
                Ok(())
            },
        )
        .await
    }

    async fn read_data(
        &self,
        ctx: &OpContext,
        dtype: &str,
        args: &Value,
    ) -> Result<Value, ProviderError> {
        if dtype != "test.echo" {
            return Err(ProviderError::permanent(format!(
                "the test provider has no data source {dtype}"
            )));
        }
        self.call(Operation::ReadData, dtype, &ctx.address, None, |_| {
            let mut value = args.as_map().cloned().unwrap_or_default();
            value.insert("id".to_string(), Value::from("echo"));
            Ok(Value::Map(value))
        })
        .await
    }
}

/// Locks a mutex, recovering the data if a holder panicked (nothing here panics while
/// holding a lock, but a poisoned lock must not turn into a panic either).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(address: &str) -> OpContext {
        OpContext {
            address: address.to_string(),
            stack: "s".into(),
            env: "default".into(),
            ..OpContext::default()
        }
    }

    fn thing(name: &str) -> Value {
        Value::Map(
            [
                ("name".to_string(), Value::from(name)),
                ("zone".to_string(), Value::from("a")),
            ]
            .into(),
        )
    }

    #[tokio::test]
    async fn objects_behave_like_a_cloud() {
        let f = TestFactory::default();
        let p = f.configure(&Value::Null).await.unwrap();
        let v = p
            .create(&ctx("test.thing.a"), "test.thing", &thing("a"))
            .await
            .unwrap();
        let id = v.get("id").and_then(Value::as_str).unwrap().to_string();
        assert!(v.get("arn").and_then(Value::as_str).unwrap().ends_with(&id));
        assert_eq!(f.objects().get(&id), Some(v.clone()));

        let planned = thing("b");
        let changed = vec!["name".to_string()];
        let req = UpdateRequest {
            id: &id,
            prior: &v,
            planned: &planned,
            changed: &changed,
        };
        let updated = p
            .update(&ctx("test.thing.a"), "test.thing", req)
            .await
            .unwrap();
        assert_eq!(updated.get("name").and_then(Value::as_str), Some("b"));
        assert_eq!(updated.get("id"), v.get("id"));

        let reads = [
            ReadRequest {
                address: "test.thing.a".into(),
                id: id.clone(),
                prior: v.clone(),
            },
            ReadRequest {
                address: "test.thing.gone".into(),
                id: "thing-999999".into(),
                prior: v.clone(),
            },
        ];
        let out = p.read("test.thing", &reads).await.unwrap();
        assert_eq!(out, vec![Ok(Some(updated.clone())), Ok(None)]);

        p.delete(&ctx("test.thing.a"), "test.thing", &id, &updated)
            .await
            .unwrap();
        assert!(f.objects().get(&id).is_none());
        // Deleting again is success.
        p.delete(&ctx("test.thing.a"), "test.thing", &id, &updated)
            .await
            .unwrap();
        let ops: Vec<Operation> = f.log().calls().iter().map(|c| c.operation).collect();
        assert_eq!(
            ops,
            [
                Operation::Create,
                Operation::Update,
                Operation::Read,
                Operation::Delete,
                Operation::Delete
            ]
        );
    }

    #[tokio::test]
    async fn zone_cannot_change_in_place_and_unknowns_are_rejected() {
        let f = TestFactory::default();
        let p = f.provider();
        let v = p
            .create(&ctx("test.thing.a"), "test.thing", &thing("a"))
            .await
            .unwrap();
        let id = v.get("id").and_then(Value::as_str).unwrap().to_string();
        let mut moved = thing("a").as_map().unwrap().clone();
        moved.insert("zone".into(), Value::from("b"));
        let moved = Value::Map(moved);
        let req = UpdateRequest {
            id: &id,
            prior: &v,
            planned: &moved,
            changed: &[],
        };
        let err = p
            .update(&ctx("test.thing.a"), "test.thing", req)
            .await
            .unwrap_err();
        assert_eq!(err.attribute.as_deref(), Some("zone"));
        let unknown = Value::Map([("name".to_string(), Value::Unknown)].into());
        assert!(p
            .create(&ctx("test.thing.b"), "test.thing", &unknown)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn transient_failures_fail_n_times_then_succeed() {
        let f = TestFactory::new(TestOptions {
            fail: vec![FailRule::transient(
                Operation::Create,
                "test.thing.a",
                ErrorClass::Throttled,
                2,
            )],
            ..TestOptions::default()
        });
        let p = f.provider();
        for _ in 0..2 {
            let err = p
                .create(&ctx("test.thing.a"), "test.thing", &thing("a"))
                .await
                .unwrap_err();
            assert_eq!(err.class, ErrorClass::Throttled);
        }
        assert!(p
            .create(&ctx("test.thing.a"), "test.thing", &thing("a"))
            .await
            .is_ok());
        // Other addresses are unaffected.
        assert!(p
            .create(&ctx("test.thing.b"), "test.thing", &thing("b"))
            .await
            .is_ok());
        let calls = f.log().calls_for(Operation::Create, "test.thing.a");
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].error, Some(ErrorClass::Throttled));
        assert!(f
            .log()
            .succeeded(Operation::Create, "test.thing.a")
            .is_some());
    }

    #[tokio::test]
    async fn permanent_failures_by_predicate() {
        let f = TestFactory::new(TestOptions {
            fail: vec![FailRule {
                operation: None,
                address: AddressMatch::Predicate(Arc::new(|a| a.ends_with(".bad"))),
                error: ProviderError::permanent("nope"),
                times: None,
            }],
            ..TestOptions::default()
        });
        let p = f.provider();
        for _ in 0..3 {
            assert!(p
                .create(&ctx("test.thing.bad"), "test.thing", &thing("x"))
                .await
                .is_err());
        }
        assert!(p
            .delete(&ctx("test.thing.bad"), "test.thing", "x", &Value::Null)
            .await
            .is_err());
        assert!(p
            .create(&ctx("test.thing.good"), "test.thing", &thing("x"))
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn latency_and_concurrency_are_recorded() {
        let f = TestFactory::new(TestOptions {
            latency: Duration::from_millis(20),
            ..TestOptions::default()
        });
        let p = f.provider();
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..4 {
            let p = p.clone();
            set.spawn(async move {
                let addr = format!("test.thing.t{i}");
                p.create(&ctx(&addr), "test.thing", &thing("x")).await
            });
        }
        while let Some(result) = set.join_next().await {
            assert!(result.unwrap().is_ok());
        }
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert_eq!(f.log().max_in_flight(), 4);
        for c in f.log().calls() {
            assert!(c.end.duration_since(c.start) >= Duration::from_millis(20));
        }
    }

    #[tokio::test]
    async fn slow_objects_add_their_delay() {
        let f = TestFactory::default();
        let p = f.provider();
        let planned = Value::Map([("delay_ms".to_string(), Value::from(30i64))].into());
        p.create(&ctx("test.slow.s"), "test.slow", &planned)
            .await
            .unwrap();
        let c = f.log().succeeded(Operation::Create, "test.slow.s").unwrap();
        assert!(c.end.duration_since(c.start) >= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn echo_returns_its_arguments() {
        let p = TestFactory::default().provider();
        let args = Value::Map([("value".to_string(), Value::from(3i64))].into());
        let out = p
            .read_data(&ctx("data.test.echo.e"), "test.echo", &args)
            .await
            .unwrap();
        assert_eq!(out.get("value").and_then(Value::as_i64), Some(3));
        assert_eq!(out.get("id").and_then(Value::as_str), Some("echo"));
    }
}
