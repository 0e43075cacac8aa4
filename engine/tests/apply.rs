//! Apply and refresh against the in-memory test provider and a real state store.
//!
//! Plans are built by hand so each test states exactly the changes it exercises.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gig_core::addr::{Mode, ResourceAddr};
use gig_core::span::{FileId, Span};
use gig_core::value::Value;
use gig_dsl::config::{
    Config, Dependency, DependencyKind, Expr, ExprKind, Lifecycle, ObjectEntry, ResourceConfig,
    ResourceRef,
};
use gig_engine::apply::{apply, ApplyOptions, ApplyReport, RetryPolicy};
use gig_engine::events::ApplyEvent;
use gig_engine::model::{Action, OutputChange, Plan, ResourceChange};
use gig_engine::refresh::{read_data_sources, refresh, ReadContext};
use gig_provider::{
    ErrorClass, OpContext, Provider, ProviderError, ProviderFactory as _, ReadRequest,
    UpdateRequest,
};
use gig_provider_test::{AddressMatch, FailRule, Operation, TestFactory, TestOptions};
use gig_state::{LockInfo, Store};
use tokio::sync::watch;

// ---------------------------------------------------------------------------------------
// Builders

fn addr(name: &str) -> ResourceAddr {
    ResourceAddr::managed("test.thing", name)
}

fn span(n: u32) -> Span {
    Span {
        file: FileId(0),
        start: n * 10,
        end: n * 10 + 5,
    }
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

/// A change of `test.thing.NAME`. Creates plan `id`/`arn` as unknown.
fn change(name: &str, action: Action, deps: &[&str]) -> ResourceChange {
    let planned = match action {
        Action::Delete => None,
        _ => Some(obj(&[
            ("name", Value::from(name)),
            ("zone", Value::from("z1")),
            ("id", Value::Unknown),
            ("arn", Value::Unknown),
        ])),
    };
    ResourceChange {
        addr: addr(name),
        provider: "test".into(),
        action,
        id: None,
        prior: None,
        planned,
        body: None,
        attributes: Vec::new(),
        updated: Vec::new(),
        replace_because: Vec::new(),
        lifecycle: Lifecycle::default(),
        dependencies: deps.iter().map(|d| addr(d)).collect(),
        schema_version: 0,
        span: span(name.len() as u32),
    }
}

fn plan(changes: Vec<ResourceChange>) -> Plan {
    let mut changes = changes;
    changes.sort_by(|a, b| a.addr.cmp(&b.addr));
    Plan {
        stack: "s".into(),
        env: "default".into(),
        changes,
        ..Plan::default()
    }
}

fn resource_ref(name: &str) -> Expr {
    let a = addr(name);
    Expr {
        kind: ExprKind::Resource(ResourceRef {
            module: a.module,
            mode: a.mode,
            rtype: a.rtype,
            name: a.name,
            key: None,
        }),
        span: span(1),
    }
}

/// `test.thing.NAME.ATTR`
fn get(name: &str, attr: &str) -> Expr {
    Expr {
        kind: ExprKind::GetAttr(Box::new(resource_ref(name)), attr.into()),
        span: span(2),
    }
}

fn constant(v: Value) -> Expr {
    Expr::constant(v, span(3))
}

fn body(entries: Vec<(&str, Expr)>) -> Expr {
    Expr {
        kind: ExprKind::Object(
            entries
                .into_iter()
                .map(|(k, value)| ObjectEntry {
                    key: k.to_string(),
                    key_span: span(4),
                    value,
                })
                .collect(),
        ),
        span: span(5),
    }
}

/// A create of `test.thing.NAME` whose `ref` is `test.thing.DEP.id`, unknown at plan time.
fn referencing(name: &str, dep: &str) -> ResourceChange {
    let mut c = change(name, Action::Create, &[dep]);
    c.planned = Some(obj(&[
        ("name", Value::from(name)),
        ("zone", Value::from("z1")),
        ("ref", Value::Unknown),
        ("id", Value::Unknown),
        ("arn", Value::Unknown),
    ]));
    c.body = Some(body(vec![
        ("name", constant(Value::from(name))),
        ("zone", constant(Value::from("z1"))),
        ("ref", get(dep, "id")),
    ]));
    c
}

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    factory: TestFactory,
    providers: BTreeMap<String, Arc<dyn Provider>>,
}

fn env(options: TestOptions) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Arc::new(Store::open(dir.path(), LockInfo::current("gig test")).expect("store opens"));
    let factory = TestFactory::new(options);
    let providers = BTreeMap::from([("test".to_string(), factory.provider())]);
    Env {
        _dir: dir,
        store,
        factory,
        providers,
    }
}

fn opts(parallelism: usize) -> ApplyOptions {
    ApplyOptions {
        parallelism,
        stack: "s".into(),
        env: "default".into(),
        retry: RetryPolicy {
            max_attempts: 4,
            initial_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(10),
        },
    }
}

fn no_cancel() -> watch::Receiver<bool> {
    watch::channel(false).1
}

async fn run(env: &Env, plan: &Plan, parallelism: usize) -> (ApplyReport, Vec<ApplyEvent>) {
    let events = Mutex::new(Vec::new());
    let on_event = |e: ApplyEvent| events.lock().unwrap().push(e);
    let report = apply(
        plan,
        &env.providers,
        env.store.as_ref(),
        &opts(parallelism),
        no_cancel(),
        &on_event,
    )
    .await;
    (report, events.into_inner().unwrap())
}

fn state_addrs(store: &Store) -> Vec<String> {
    store
        .snapshot()
        .unwrap()
        .resources
        .keys()
        .map(ToString::to_string)
        .collect()
}

fn state_value(store: &Store, name: &str) -> Value {
    store.snapshot().unwrap().resources[&addr(name)]
        .value
        .clone()
}

/// Turns New values in state into the Prior of a follow-up change.
fn from_state(store: &Store, mut c: ResourceChange) -> ResourceChange {
    let record = store.snapshot().unwrap().resources[&c.addr].clone();
    c.id = Some(record.id.clone());
    c.prior = Some(record.value.clone());
    if c.action == Action::Delete {
        c.dependencies = record.dependencies.clone();
    }
    c
}

// ---------------------------------------------------------------------------------------
// Apply

#[tokio::test]
async fn dependencies_finish_and_are_in_state_before_dependents_start() {
    // a → b → c, plus d on its own.
    let mut e = env(TestOptions {
        latency: Duration::from_millis(15),
        ..TestOptions::default()
    });
    // Wrap the provider so every create checks that its dependencies are already in state.
    let violations = Arc::new(Mutex::new(Vec::new()));
    let deps = BTreeMap::from([
        ("test.thing.b".to_string(), addr("a")),
        ("test.thing.c".to_string(), addr("b")),
    ]);
    let checker: Arc<dyn Provider> = Arc::new(DurabilityCheck {
        inner: e.factory.provider(),
        store: e.store.clone(),
        deps,
        violations: violations.clone(),
    });
    e.providers.insert("test".into(), checker);
    let p = plan(vec![
        change("a", Action::Create, &[]),
        change("b", Action::Create, &["a"]),
        change("c", Action::Create, &["b"]),
        change("d", Action::Create, &[]),
    ]);
    let (report, events) = run(&e, &p, 8).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(violations.lock().unwrap().as_slice(), &[] as &[String]);

    let log = e.factory.log();
    let a = log.succeeded(Operation::Create, "test.thing.a").unwrap();
    let b = log.succeeded(Operation::Create, "test.thing.b").unwrap();
    let c = log.succeeded(Operation::Create, "test.thing.c").unwrap();
    let d = log.succeeded(Operation::Create, "test.thing.d").unwrap();
    assert!(b.start >= a.end && c.start >= b.end);
    // d is independent: it ran alongside a.
    assert!(d.start < a.end);

    assert_eq!(
        state_addrs(&e.store),
        [
            "test.thing.a",
            "test.thing.b",
            "test.thing.c",
            "test.thing.d"
        ]
    );
    let snapshot = e.store.snapshot().unwrap();
    assert_eq!(snapshot.resources[&addr("c")].dependencies, vec![addr("b")]);
    let id = snapshot.resources[&addr("a")].id.clone();
    assert_eq!(
        state_value(&e.store, "a").get("id").and_then(Value::as_str),
        Some(id.as_str())
    );
    assert_eq!(
        e.store.history().unwrap().last().unwrap().operation,
        "apply"
    );

    let started = events
        .iter()
        .filter(|e| matches!(e, ApplyEvent::Started { .. }))
        .count();
    let finished = events
        .iter()
        .filter(|e| matches!(e, ApplyEvent::Finished { .. }))
        .count();
    assert_eq!((started, finished), (4, 4));
    assert_eq!(
        report.succeeded,
        vec![
            (addr("a"), Action::Create),
            (addr("b"), Action::Create),
            (addr("c"), Action::Create),
            (addr("d"), Action::Create)
        ]
    );
}

/// Fails no call; records creates that start before a dependency is in state.
struct DurabilityCheck {
    inner: Arc<dyn Provider>,
    store: Arc<Store>,
    deps: BTreeMap<String, ResourceAddr>,
    violations: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Provider for DurabilityCheck {
    async fn read(
        &self,
        rtype: &str,
        requests: &[ReadRequest],
    ) -> Result<Vec<Result<Option<Value>, ProviderError>>, ProviderError> {
        self.inner.read(rtype, requests).await
    }

    async fn create(
        &self,
        ctx: &OpContext,
        rtype: &str,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        if let Some(dep) = self.deps.get(&ctx.address) {
            if self.store.get(dep).ok().flatten().is_none() {
                self.violations
                    .lock()
                    .unwrap()
                    .push(format!("{} started before {dep} was in state", ctx.address));
            }
        }
        self.inner.create(ctx, rtype, planned).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        rtype: &str,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        self.inner.update(ctx, rtype, request).await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        rtype: &str,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        self.inner.delete(ctx, rtype, id, prior).await
    }
}

#[tokio::test]
async fn deletes_run_in_reverse_dependency_order() {
    let e = env(TestOptions {
        latency: Duration::from_millis(10),
        ..TestOptions::default()
    });
    let create = plan(vec![
        change("a", Action::Create, &[]),
        change("b", Action::Create, &["a"]),
        change("c", Action::Create, &["b"]),
        change("d", Action::Create, &["a"]),
    ]);
    assert!(run(&e, &create, 8).await.0.is_success());
    assert_eq!(e.factory.objects().all().len(), 4);

    let mut destroy = plan(
        ["a", "b", "c", "d"]
            .iter()
            .map(|n| from_state(&e.store, change(n, Action::Delete, &[])))
            .collect(),
    );
    destroy.destroy = true;
    let (report, _) = run(&e, &destroy, 8).await;
    assert!(report.is_success(), "{report:?}");

    let log = e.factory.log();
    let del = |n: &str| {
        log.succeeded(Operation::Delete, &format!("test.thing.{n}"))
            .unwrap()
    };
    assert!(del("c").end <= del("b").start);
    assert!(del("b").end <= del("a").start);
    assert!(del("d").end <= del("a").start);
    assert!(state_addrs(&e.store).is_empty());
    assert!(e.factory.objects().all().is_empty());
    assert_eq!(
        e.store.history().unwrap().last().unwrap().operation,
        "destroy"
    );
}

#[tokio::test]
async fn parallelism_caps_calls_in_flight() {
    let e = env(TestOptions {
        latency: Duration::from_millis(10),
        ..TestOptions::default()
    });
    let names: Vec<String> = (0..20).map(|i| format!("t{i:02}")).collect();
    let p = plan(
        names
            .iter()
            .map(|n| change(n, Action::Create, &[]))
            .collect(),
    );
    let (report, _) = run(&e, &p, 4).await;
    assert!(report.is_success());
    assert_eq!(e.factory.log().max_in_flight(), 4);
    assert_eq!(state_addrs(&e.store).len(), 20);
}

#[tokio::test]
async fn a_permanent_failure_skips_dependents_and_keeps_what_succeeded() {
    let e = env(TestOptions {
        latency: Duration::from_millis(5),
        fail: vec![FailRule::always(Operation::Create, "test.thing.a")],
        ..TestOptions::default()
    });
    let p = plan(vec![
        change("a", Action::Create, &[]),
        change("b", Action::Create, &["a"]),
        change("c", Action::Create, &["b"]),
        change("d", Action::Create, &[]),
        change("e", Action::Create, &["d"]),
    ]);
    let (report, events) = run(&e, &p, 8).await;
    assert!(!report.is_success());
    assert_eq!(report.failed.len(), 1);
    let (failed, error, failed_span) = &report.failed[0];
    assert_eq!(failed, &addr("a"));
    assert_eq!(error.code.as_deref(), Some("InjectedFailure"));
    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(*failed_span, span(1));
    assert_eq!(
        report.skipped,
        vec![(addr("b"), addr("a")), (addr("c"), addr("a"))]
    );
    assert_eq!(
        report.succeeded,
        vec![(addr("d"), Action::Create), (addr("e"), Action::Create)]
    );
    assert_eq!(state_addrs(&e.store), ["test.thing.d", "test.thing.e"]);
    // Neither dependent was attempted; a permanent error is not retried.
    assert!(e
        .factory
        .log()
        .calls_for(Operation::Create, "test.thing.b")
        .is_empty());
    assert_eq!(
        e.factory
            .log()
            .calls_for(Operation::Create, "test.thing.a")
            .len(),
        1
    );
    assert!(events.iter().any(|ev| matches!(ev, ApplyEvent::Skipped { addr: s, because } if *s == addr("c") && *because == addr("a"))));
    // Outputs are not written after a failure.
    assert!(e.store.snapshot().unwrap().outputs.is_empty());
}

#[tokio::test]
async fn throttled_creates_and_retryable_updates_are_retried_until_success() {
    let e = env(TestOptions {
        fail: vec![
            FailRule::transient(Operation::Create, "test.thing.a", ErrorClass::Throttled, 2),
            FailRule::transient(Operation::Create, "test.thing.b", ErrorClass::Throttled, 3),
        ],
        ..TestOptions::default()
    });
    let p = plan(vec![
        change("a", Action::Create, &[]),
        change("b", Action::Create, &[]),
    ]);
    let (report, events) = run(&e, &p, 8).await;
    assert!(report.is_success(), "{report:?}");
    let log = e.factory.log();
    assert_eq!(log.calls_for(Operation::Create, "test.thing.a").len(), 3);
    assert_eq!(log.calls_for(Operation::Create, "test.thing.b").len(), 4);
    let retries: Vec<(String, u32)> = events
        .iter()
        .filter_map(|ev| match ev {
            ApplyEvent::Retrying { addr, attempt, .. } => Some((addr.name.clone(), *attempt)),
            _ => None,
        })
        .collect();
    let mut retries = retries;
    retries.sort();
    assert_eq!(
        retries,
        [
            ("a".into(), 1),
            ("a".into(), 2),
            ("b".into(), 1),
            ("b".into(), 2),
            ("b".into(), 3)
        ]
    );
    assert_eq!(state_addrs(&e.store).len(), 2);
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let e = env(TestOptions {
        fail: vec![FailRule::transient(
            Operation::Create,
            "test.thing.a",
            ErrorClass::Throttled,
            100,
        )],
        ..TestOptions::default()
    });
    let p = plan(vec![
        change("a", Action::Create, &[]),
        change("b", Action::Create, &["a"]),
    ]);
    let (report, _) = run(&e, &p, 8).await;
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].1.class, ErrorClass::Throttled);
    assert_eq!(report.skipped, vec![(addr("b"), addr("a"))]);
    assert_eq!(
        e.factory
            .log()
            .calls_for(Operation::Create, "test.thing.a")
            .len(),
        4
    );
    assert!(state_addrs(&e.store).is_empty());
}

/// Regression: a create that failed with a retryable error (a timeout or a dropped
/// connection after the request was sent) was sent again at once, which makes a second
/// object when the first attempt succeeded unseen. Now it is looked up first, and sent
/// again only when two lookups find no object. Deletes, being idempotent, are retried.
#[tokio::test]
async fn a_create_with_an_unknown_outcome_is_sent_again_only_after_lookups_find_nothing() {
    let e = env(TestOptions {
        fail: vec![
            FailRule::transient(Operation::Create, "test.thing.a", ErrorClass::Retryable, 1),
            FailRule::transient(
                Operation::Delete,
                "test.thing.old",
                ErrorClass::Retryable,
                1,
            ),
        ],
        ..TestOptions::default()
    });
    assert!(run(&e, &plan(vec![change("old", Action::Create, &[])]), 8)
        .await
        .0
        .is_success());
    let old = from_state(&e.store, change("old", Action::Delete, &[]));
    e.factory.log().clear();
    let (report, _) = run(&e, &plan(vec![change("a", Action::Create, &[]), old]), 8).await;
    assert!(report.is_success(), "{report:?}");
    let log = e.factory.log();
    let creates = log.calls_for(Operation::Create, "test.thing.a");
    assert_eq!(creates.len(), 2);
    // Two lookups read no candidate (find_created found none), so no read either; the
    // second create came after the first lookup's retry delay.
    assert!(creates[1].start >= creates[0].end);
    assert_eq!(log.calls_for(Operation::Delete, "test.thing.old").len(), 2);
    assert_eq!(objects_named(&e, "a"), 1);
}

/// A create whose answer was lost after the object was made is settled within the run:
/// the lookup finds the object and apply records it, without a second create.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_adopted_within_the_run() {
    for silent_ids in [false, true] {
        let e = env(TestOptions {
            after_create: vec![FailRule::transient(
                Operation::Create,
                "test.thing.a",
                ErrorClass::Retryable,
                1,
            )],
            silent_ids,
            ..TestOptions::default()
        });
        let p = plan(vec![
            change("a", Action::Create, &[]),
            referencing("b", "a"),
        ]);
        let (report, _) = run(&e, &p, 8).await;
        assert!(report.is_success(), "silent ids {silent_ids}: {report:?}");
        let log = e.factory.log();
        assert_eq!(log.calls_for(Operation::Create, "test.thing.a").len(), 1);
        assert_eq!(objects_named(&e, "a"), 1);
        let a = state_value(&e.store, "a");
        assert_eq!(state_value(&e.store, "b").get("ref"), a.get("id"));
        assert!(e.store.snapshot().unwrap().intents.is_empty());
    }
}

/// Regression: throttling of a later step of a create (after the provider reported the
/// new object's id) re-sent the whole create and made a second object.
#[tokio::test]
async fn a_create_throttled_after_its_object_was_made_is_not_sent_again() {
    let e = env(TestOptions {
        after_create: vec![FailRule::transient(
            Operation::Create,
            "test.thing.a",
            ErrorClass::Throttled,
            1,
        )],
        ..TestOptions::default()
    });
    let (report, _) = run(&e, &plan(vec![change("a", Action::Create, &[])]), 8).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        e.factory
            .log()
            .calls_for(Operation::Create, "test.thing.a")
            .len(),
        1
    );
    assert_eq!(objects_named(&e, "a"), 1);
}

/// When the lookup cannot say whether the object exists, the create is not sent again:
/// it fails, keeping its intent for the next plan.
#[tokio::test]
async fn a_create_whose_lookup_fails_is_not_sent_again() {
    let e = env(TestOptions {
        after_create: vec![FailRule::transient(
            Operation::Create,
            "test.thing.a",
            ErrorClass::Retryable,
            1,
        )],
        fail: vec![FailRule::always(Operation::Read, "test.thing.a")],
        ..TestOptions::default()
    });
    let (report, _) = run(&e, &plan(vec![change("a", Action::Create, &[])]), 8).await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let message = &report.failed[0].1.message;
    assert!(message.contains("not sent again"), "{message}");
    assert!(message.contains("the lookup failed"), "{message}");
    assert_eq!(
        e.factory
            .log()
            .calls_for(Operation::Create, "test.thing.a")
            .len(),
        1
    );
    assert!(e.store.snapshot().unwrap().intents.contains_key(&addr("a")));
}

/// Objects in the test cloud named `name`.
fn objects_named(e: &Env, name: &str) -> usize {
    e.factory
        .objects()
        .all()
        .values()
        .filter(|v| v.get("name").and_then(Value::as_str) == Some(name))
        .count()
}

#[tokio::test]
async fn unknowns_are_resolved_from_a_dependency_new_value() {
    let e = env(TestOptions::default());
    let p = plan(vec![
        change("a", Action::Create, &[]),
        referencing("b", "a"),
    ]);
    let (report, _) = run(&e, &p, 8).await;
    assert!(report.is_success(), "{report:?}");
    let a = state_value(&e.store, "a");
    let b = state_value(&e.store, "b");
    assert!(a.get("id").and_then(Value::as_str).is_some());
    assert_eq!(b.get("ref"), a.get("id"));
    assert_eq!(b.get("name").and_then(Value::as_str), Some("b"));
    // The computed attributes came from the provider, not the plan.
    assert!(b
        .get("arn")
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with("arn:test:s:")));
}

#[tokio::test]
async fn a_value_still_unknown_at_apply_fails_naming_the_resource_and_attribute() {
    let e = env(TestOptions::default());
    let mut b = referencing("b", "a");
    b.body = Some(body(vec![
        ("name", constant(Value::from("b"))),
        ("ref", get("a", "no_such_attribute")),
    ]));
    let p = plan(vec![
        change("a", Action::Create, &[]),
        b,
        change("c", Action::Create, &["b"]),
    ]);
    let (report, _) = run(&e, &p, 8).await;
    assert_eq!(report.failed.len(), 1);
    let (failed, error, _) = &report.failed[0];
    assert_eq!(failed, &addr("b"));
    assert_eq!(error.attribute.as_deref(), Some("ref"));
    assert!(error.message.contains("test.thing.b"), "{}", error.message);
    assert_eq!(report.skipped, vec![(addr("c"), addr("b"))]);
    assert!(e
        .factory
        .log()
        .calls_for(Operation::Create, "test.thing.b")
        .is_empty());
    assert_eq!(state_addrs(&e.store), ["test.thing.a"]);
}

#[tokio::test]
async fn updates_send_the_changed_attributes_and_keep_the_id() {
    let e = env(TestOptions::default());
    assert!(run(&e, &plan(vec![change("a", Action::Create, &[])]), 8)
        .await
        .0
        .is_success());
    let before = state_value(&e.store, "a");
    let mut u = from_state(&e.store, change("a", Action::Update, &[]));
    let mut planned = before.as_map().unwrap().clone();
    planned.insert("name".into(), Value::from("renamed"));
    u.planned = Some(Value::Map(planned));
    let (report, _) = run(&e, &plan(vec![u]), 8).await;
    assert_eq!(report.succeeded, vec![(addr("a"), Action::Update)]);
    let after = state_value(&e.store, "a");
    assert_eq!(after.get("name").and_then(Value::as_str), Some("renamed"));
    assert_eq!(after.get("id"), before.get("id"));
    assert_eq!(
        e.factory
            .log()
            .calls_for(Operation::Update, "test.thing.a")
            .len(),
        1
    );
}

/// Applies `a` (zone z1), then replaces it with zone z2; returns the old and new ids.
async fn replace(e: &Env, create_before_destroy: bool) -> (String, String) {
    assert!(run(
        e,
        &plan(vec![
            change("a", Action::Create, &[]),
            referencing("b", "a")
        ]),
        8
    )
    .await
    .0
    .is_success());
    let old_id = e.store.snapshot().unwrap().resources[&addr("a")].id.clone();
    let mut r = from_state(&e.store, change("a", Action::Replace, &[]));
    r.lifecycle.create_before_destroy = create_before_destroy;
    r.planned = Some(obj(&[
        ("name", Value::from("a")),
        ("zone", Value::from("z2")),
        ("id", Value::Unknown),
        ("arn", Value::Unknown),
    ]));
    // b follows a's id: an update once the new a exists.
    let mut b = from_state(&e.store, referencing("b", "a"));
    b.action = Action::Update;
    let (report, _) = run(e, &plan(vec![r, b]), 8).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        report.succeeded,
        vec![(addr("a"), Action::Replace), (addr("b"), Action::Update)]
    );
    let new_id = e.store.snapshot().unwrap().resources[&addr("a")].id.clone();
    assert_ne!(old_id, new_id);
    assert_eq!(
        state_value(&e.store, "a")
            .get("zone")
            .and_then(Value::as_str),
        Some("z2")
    );
    assert_eq!(
        state_value(&e.store, "b")
            .get("ref")
            .and_then(Value::as_str),
        Some(new_id.as_str())
    );
    assert!(e.factory.objects().get(&old_id).is_none());
    assert!(e.factory.objects().get(&new_id).is_some());
    (old_id, new_id)
}

#[tokio::test]
async fn replace_deletes_then_creates() {
    let e = env(TestOptions {
        latency: Duration::from_millis(5),
        ..TestOptions::default()
    });
    replace(&e, false).await;
    let log = e.factory.log();
    let delete = log.succeeded(Operation::Delete, "test.thing.a").unwrap();
    let creates = log.calls_for(Operation::Create, "test.thing.a");
    assert!(delete.end <= creates[1].start);
    let update = log.succeeded(Operation::Update, "test.thing.b").unwrap();
    assert!(creates[1].end <= update.start);
}

#[tokio::test]
async fn create_before_destroy_creates_then_moves_dependents_then_deletes() {
    let e = env(TestOptions {
        latency: Duration::from_millis(5),
        ..TestOptions::default()
    });
    replace(&e, true).await;
    let log = e.factory.log();
    let creates = log.calls_for(Operation::Create, "test.thing.a");
    let update = log.succeeded(Operation::Update, "test.thing.b").unwrap();
    let delete = log.succeeded(Operation::Delete, "test.thing.a").unwrap();
    assert!(creates[1].end <= update.start);
    assert!(update.end <= delete.start);
}

#[tokio::test]
async fn cancellation_lets_calls_in_flight_finish_and_starts_nothing_new() {
    let e = env(TestOptions {
        latency: Duration::from_millis(50),
        ..TestOptions::default()
    });
    let names: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
    let mut changes: Vec<ResourceChange> = names
        .iter()
        .map(|n| change(n, Action::Create, &[]))
        .collect();
    changes.push(change("z", Action::Create, &["t0"]));
    let p = plan(changes);
    // Ctrl-C arrives as soon as the second call has started: both slots are busy.
    let (tx, rx) = watch::channel(false);
    let started = std::sync::atomic::AtomicUsize::new(0);
    let on_event = |ev: ApplyEvent| {
        if matches!(ev, ApplyEvent::Started { .. })
            && started.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1
        {
            let _ = tx.send(true);
        }
    };
    let report = apply(&p, &e.providers, e.store.as_ref(), &opts(2), rx, &on_event).await;
    assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(report.cancelled);
    assert!(!report.is_success());
    // The two calls in flight (t0, t1 in address order) finished and were committed.
    assert_eq!(
        report.succeeded,
        vec![(addr("t0"), Action::Create), (addr("t1"), Action::Create)]
    );
    assert_eq!(state_addrs(&e.store), ["test.thing.t0", "test.thing.t1"]);
    let creates: Vec<String> = e
        .factory
        .log()
        .calls()
        .iter()
        .filter(|c| c.operation == Operation::Create)
        .map(|c| c.address.clone())
        .collect();
    assert_eq!(creates.len(), 2);
    assert_eq!(report.not_started, ["t2", "t3", "t4", "t5", "z"].map(addr));
}

#[tokio::test]
async fn outputs_are_evaluated_from_new_values_and_stored() {
    let e = env(TestOptions::default());
    let mut p = plan(vec![change("a", Action::Create, &[])]);
    p.outputs = vec![
        OutputChange {
            name: "arn".into(),
            before: None,
            after: Some(Value::Unknown),
            expr: Some(get("a", "arn")),
            secret: false,
        },
        OutputChange {
            name: "fixed".into(),
            before: None,
            after: Some(Value::from(3i64)),
            expr: None,
            secret: false,
        },
        OutputChange {
            name: "hidden".into(),
            before: None,
            after: Some(Value::Unknown),
            expr: Some(get("a", "id")),
            secret: true,
        },
    ];
    let (report, _) = run(&e, &p, 8).await;
    assert!(report.is_success(), "{report:?}");
    let a = state_value(&e.store, "a");
    assert_eq!(report.outputs.get("arn"), a.get("arn"));
    assert_eq!(report.outputs.get("fixed"), Some(&Value::from(3i64)));
    assert_eq!(
        report.outputs.get("hidden"),
        a.get("id").cloned().map(Value::into_secret).as_ref()
    );
    assert_eq!(e.store.snapshot().unwrap().outputs, report.outputs);
}

#[tokio::test]
async fn a_missing_provider_fails_only_its_resources() {
    let e = env(TestOptions::default());
    let mut other = change("x", Action::Create, &[]);
    other.provider = "nowhere".into();
    let p = plan(vec![other, change("a", Action::Create, &[])]);
    let (report, _) = run(&e, &p, 8).await;
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].1.message.contains("nowhere"));
    assert_eq!(state_addrs(&e.store), ["test.thing.a"]);
}

// ---------------------------------------------------------------------------------------
// Refresh

#[tokio::test]
async fn refresh_reads_once_per_type_and_reports_gone_objects() {
    let e = env(TestOptions::default());
    let mut changes: Vec<ResourceChange> = (0..5)
        .map(|i| change(&format!("t{i}"), Action::Create, &[]))
        .collect();
    let mut slow = change("s", Action::Create, &[]);
    slow.addr = ResourceAddr::managed("test.slow", "s");
    slow.planned = Some(obj(&[("name", Value::from("s")), ("id", Value::Unknown)]));
    changes.push(slow);
    assert!(run(&e, &plan(changes), 8).await.0.is_success());
    let prior = e.store.snapshot().unwrap();
    let gone = prior.resources[&addr("t3")].id.clone();
    e.factory.objects().remove(&gone);
    e.factory.log().clear();

    let refreshed = refresh(&prior, &e.providers, 4).await.unwrap();
    assert_eq!(refreshed.len(), 6);
    assert_eq!(refreshed[&addr("t3")], None);
    assert_eq!(
        refreshed[&addr("t1")].as_ref(),
        Some(&prior.resources[&addr("t1")].value)
    );
    let reads: Vec<(String, usize)> = e
        .factory
        .log()
        .calls()
        .iter()
        .filter(|c| c.operation == Operation::Read)
        .map(|c| (c.rtype.clone(), c.address.split(',').count()))
        .collect();
    let mut reads = reads;
    reads.sort();
    assert_eq!(
        reads,
        [("test.slow".to_string(), 1), ("test.thing".to_string(), 5)]
    );
}

#[tokio::test]
async fn refresh_reports_failures_with_addresses_and_keeps_the_rest() {
    let e = env(TestOptions::default());
    let mut changes = vec![change("a", Action::Create, &[])];
    let mut slow = change("s", Action::Create, &[]);
    slow.addr = ResourceAddr::managed("test.slow", "s");
    slow.planned = Some(obj(&[("name", Value::from("s")), ("id", Value::Unknown)]));
    changes.push(slow);
    assert!(run(&e, &plan(changes), 8).await.0.is_success());
    let prior = e.store.snapshot().unwrap();

    let failing = env(TestOptions {
        fail: vec![FailRule {
            operation: Some(Operation::Read),
            address: AddressMatch::Exact("test.slow.s".into()),
            error: ProviderError::new(
                ErrorClass::Permanent,
                Some("AccessDenied".into()),
                "not allowed",
            ),
            times: None,
        }],
        ..TestOptions::default()
    });
    let err = refresh(&prior, &failing.providers, 4).await.unwrap_err();
    assert_eq!(err.failures.len(), 1);
    assert_eq!(
        err.failures[0].addr,
        ResourceAddr::managed("test.slow", "s")
    );
    assert_eq!(err.failures[0].error.code.as_deref(), Some("AccessDenied"));
    // The other provider instance knows nothing of a: the cloud says it is gone.
    assert_eq!(err.values.get(&addr("a")), Some(&None));
    assert!(err.to_string().contains("test.slow.s"));
}

#[tokio::test]
async fn data_sources_are_read_in_dependency_order() {
    let e = env(TestOptions::default());
    let data_addr = |n: &str| ResourceAddr {
        mode: Mode::Data,
        ..ResourceAddr::managed("test.echo", n)
    };
    let first = ResourceConfig {
        addr: data_addr("first"),
        span: span(1),
        header_span: span(1),
        provider: "test".into(),
        body: body(vec![("value", constant(Value::from(7i64)))]),
        dependencies: Vec::new(),
        lifecycle: Lifecycle::default(),
    };
    let first_ref = Expr {
        kind: ExprKind::Resource(ResourceRef {
            module: Vec::new(),
            mode: Mode::Data,
            rtype: "test.echo".into(),
            name: "first".into(),
            key: None,
        }),
        span: span(2),
    };
    let second = ResourceConfig {
        addr: data_addr("second"),
        span: span(2),
        header_span: span(2),
        provider: "test".into(),
        body: body(vec![(
            "value",
            Expr {
                kind: ExprKind::GetAttr(Box::new(first_ref), "value".into()),
                span: span(2),
            },
        )]),
        dependencies: vec![Dependency {
            target: data_addr("first"),
            span: span(2),
            kind: DependencyKind::Reference,
        }],
        lifecycle: Lifecycle::default(),
    };
    let config = Config {
        stack: "s".into(),
        resources: vec![first, second],
        ..Config::default()
    };
    let ctx = ReadContext {
        stack: "s".into(),
        env: "default".into(),
        parallelism: 4,
    };
    let read = read_data_sources(&config, &e.providers, &gig_provider::Registry::new(), &ctx).await;
    assert!(read.is_complete(), "{read:?}");
    let values = read.values;
    assert_eq!(
        values[&data_addr("second")]
            .get("value")
            .and_then(Value::as_i64),
        Some(7)
    );
    assert_eq!(
        values[&data_addr("first")]
            .get("id")
            .and_then(Value::as_str),
        Some("echo")
    );
}

#[tokio::test]
async fn random_provider_applies_through_the_executor() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), LockInfo::current("gig test")).unwrap();
    let random = gig_provider_random::RandomFactory::new()
        .configure(&Value::Null)
        .await
        .unwrap();
    let providers = BTreeMap::from([("random".to_string(), random)]);
    let pw = ResourceChange {
        addr: ResourceAddr::managed("random.password", "db"),
        provider: "random".into(),
        planned: Some(obj(&[
            ("length", Value::from(20i64)),
            ("result", Value::Unknown.into_secret()),
            ("id", Value::Unknown),
        ])),
        ..change("db", Action::Create, &[])
    };
    let p = Plan {
        changes: vec![pw],
        ..Plan::default()
    };
    let report = apply(&p, &providers, &store, &opts(4), no_cancel(), &|_| {}).await;
    assert!(report.is_success(), "{report:?}");
    let record = store.snapshot().unwrap().resources
        [&ResourceAddr::managed("random.password", "db")]
        .clone();
    assert!(matches!(record.value.get("result"), Some(Value::Secret(_))));
    assert_eq!(
        record
            .value
            .get("result")
            .and_then(Value::as_str)
            .map(str::len),
        Some(20)
    );
    assert_eq!(record.id, "none");
}

/// Adaptive concurrency: throttling halves the calls allowed in flight for that resource
/// type (down to one), and a run of successes raises it again; every change succeeds.
#[tokio::test]
async fn throttling_lowers_the_calls_in_flight_and_successes_raise_them() {
    let names: Vec<String> = (0..16).map(|i| format!("t{i:02}")).collect();
    let e = env(TestOptions {
        latency: Duration::from_millis(5),
        fail: names
            .iter()
            .map(|n| {
                FailRule::transient(
                    Operation::Create,
                    &format!("test.thing.{n}"),
                    ErrorClass::Throttled,
                    1,
                )
            })
            .collect(),
        ..TestOptions::default()
    });
    let p = plan(
        names
            .iter()
            .map(|n| change(n, Action::Create, &[]))
            .collect(),
    );
    let (report, events) = run(&e, &p, 8).await;
    assert!(report.is_success(), "{report:?}");
    let limits: Vec<usize> = events
        .iter()
        .filter_map(|ev| match ev {
            ApplyEvent::Concurrency { lane, limit } if lane == "test/test.thing" => Some(*limit),
            _ => None,
        })
        .collect();
    let lowest = limits
        .iter()
        .position(|&l| l == 1)
        .expect("throttling brought the lane to one call");
    assert_eq!(
        limits.first(),
        Some(&4),
        "the first throttle halves 8: {limits:?}"
    );
    assert!(
        limits[lowest..].iter().any(|&l| l > 1),
        "successes raised it again: {limits:?}"
    );
}
