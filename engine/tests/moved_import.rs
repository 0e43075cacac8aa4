//! `moved` and `import` blocks end to end on the in-process test provider: a moved
//! record is planned at its new address without a delete or a create and the rename is
//! committed (and in the history); an imported object is read by id, planned against
//! the configuration and recorded by apply; each mistake is a coded diagnostic at the
//! block.

use std::sync::Arc;

use gig_core::addr::{InstanceKey, ResourceAddr};
use gig_core::diag::{Code, Severity};
use gig_core::value::Value;
use gig_dsl::load::LoadOptions;
use gig_engine::apply::{apply, ApplyOptions, ApplyReport};
use gig_engine::model::{Action, Plan};
use gig_engine::pipeline::{self, PlanOptions, PlanOutcome, Stack};
use gig_provider::Registry;
use gig_provider_test::{CallLog, Objects, Operation, TestFactory, TestOptions};
use gig_state::{LockInfo, Store};
use tokio::sync::watch;

struct World {
    registry: Registry,
    objects: Objects,
    log: CallLog,
    store: Store,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let factory = TestFactory::new(TestOptions::default());
    let objects = factory.objects();
    let log = factory.log();
    let mut registry = Registry::new();
    registry.register(Arc::new(factory));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), LockInfo::current("gig test")).expect("store opens");
    World {
        registry,
        objects,
        log,
        store,
        _dir: dir,
    }
}

fn thing(name: &str) -> ResourceAddr {
    ResourceAddr::managed("test.thing", name)
}

impl World {
    fn stack(&self, source: &str) -> Stack {
        let loaded =
            pipeline::load_str("main.gig", source, &LoadOptions::default(), &self.registry);
        Stack::from_loaded(loaded)
            .unwrap_or_else(|(_, diagnostics)| panic!("the stack loads: {diagnostics:#?}"))
    }

    async fn outcome(&self, source: &str) -> PlanOutcome {
        let prior = self.store.snapshot().expect("snapshot");
        pipeline::plan_stack(
            &self.stack(source),
            &prior,
            &self.registry,
            &PlanOptions::default(),
        )
        .await
        .expect("providers configure")
    }

    async fn plan(&self, source: &str) -> (Plan, pipeline::Providers) {
        let outcome = self.outcome(source).await;
        assert_eq!(outcome.stopped, None, "{:#?}", outcome.diagnostics);
        (outcome.plan.expect("a plan"), outcome.providers)
    }

    /// The codes of the errors planning `source` stops with.
    async fn errors(&self, source: &str) -> Vec<Code> {
        let outcome = self.outcome(source).await;
        assert!(outcome.stopped.is_some(), "planning should stop");
        outcome
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.code)
            .collect()
    }

    async fn apply(&self, source: &str) -> (Plan, ApplyReport) {
        let (plan, providers) = self.plan(source).await;
        let opts = ApplyOptions {
            stack: plan.stack.clone(),
            env: plan.env.clone(),
            ..ApplyOptions::default()
        };
        let report = apply(
            &plan,
            &providers,
            &self.store,
            &opts,
            watch::channel(false).1,
            &|_| {},
        )
        .await;
        assert!(report.is_success(), "{report:#?}");
        (plan, report)
    }

    fn recorded(&self) -> Vec<String> {
        let snap = self.store.snapshot().expect("snapshot");
        snap.resources.keys().map(ToString::to_string).collect()
    }
}

fn text(plan: &Plan) -> String {
    gig_engine::render::text(plan).plain().to_string()
}

#[tokio::test]
async fn a_moved_record_is_planned_at_its_new_address_and_renamed_by_apply() {
    let w = world();
    w.apply("resource test.thing a {\n  name = \"x\"\n}\nresource test.thing user {\n  ref = test.thing.a.id\n}\n").await;
    let id = w.store.snapshot().unwrap().resources[&thing("a")]
        .id
        .clone();
    w.log.clear();

    let renamed = "resource test.thing b {\n  name = \"x\"\n}\nresource test.thing user {\n  ref = test.thing.b.id\n}\nmoved {\n  from = test.thing.a\n  to   = test.thing.b\n}\n";
    let (plan, _) = w.plan(renamed).await;
    let b = plan
        .changes
        .iter()
        .find(|c| c.addr == thing("b"))
        .expect("b is planned");
    assert_eq!(b.action, Action::NoOp, "{b:#?}");
    assert_eq!(b.id.as_deref(), Some(id.as_str()));
    assert!(
        plan.changes.iter().all(|c| c.addr != thing("a")),
        "nothing is planned at a"
    );
    assert_eq!(plan.moved.get(&thing("b")), Some(&thing("a")));
    assert!(plan.has_changes(), "a rename is a change to apply");
    let shown = text(&plan);
    assert!(
        shown.contains("test.thing.b moved from test.thing.a"),
        "{shown}"
    );
    assert!(
        shown.contains("apply records the state changes above"),
        "{shown}"
    );
    let json = gig_engine::render::json(&plan);
    let change = json["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "test.thing.b")
        .unwrap();
    assert_eq!(change["previous_address"], "test.thing.a");
    assert_eq!(json["summary"]["move"], 1);

    w.apply(renamed).await;
    assert!(
        w.log.calls().iter().all(|c| c.operation == Operation::Read),
        "{:#?}",
        w.log.calls()
    );
    assert_eq!(w.recorded(), ["test.thing.b", "test.thing.user"]);
    assert_eq!(w.store.snapshot().unwrap().resources[&thing("b")].id, id);
    let last = w.store.history().unwrap().pop().expect("a history entry");
    assert_eq!(
        last.changed,
        [thing("a"), thing("b")],
        "the rename is in the history"
    );

    // Applied: the block stays and has nothing left to do.
    let (plan, _) = w.plan(renamed).await;
    assert!(plan.moved.is_empty());
    assert!(!plan.has_changes(), "{}", text(&plan));
}

#[tokio::test]
async fn moves_follow_chains_and_whole_resources_keep_their_keys() {
    let w = world();
    w.apply("resource test.thing a {\n  name = \"a\"\n}\nresource test.thing many for k in [\"x\", \"y\"] {\n  name = k\n}\n").await;

    let moved = concat!(
        "resource test.thing c for k in [\"a\"] {\n  name = k\n}\n",
        "resource test.thing other for k in [\"x\", \"y\"] {\n  name = k\n}\n",
        "moved {\n  from = test.thing.a\n  to   = test.thing.b\n}\n",
        "moved {\n  from = test.thing.b\n  to   = test.thing.c[\"a\"]\n}\n",
        "moved {\n  from = test.thing.many\n  to   = test.thing.other\n}\n",
    );
    let (plan, _) = w.plan(moved).await;
    assert!(
        plan.changes.iter().all(|c| c.action == Action::NoOp),
        "{}",
        text(&plan)
    );
    let c_a = thing("c").with_key(InstanceKey::Name("a".into()));
    assert_eq!(plan.moved.get(&c_a), Some(&thing("a")));
    let other_y = thing("other").with_key(InstanceKey::Name("y".into()));
    assert_eq!(
        plan.moved.get(&other_y),
        Some(&thing("many").with_key(InstanceKey::Name("y".into())))
    );
    w.apply(moved).await;
    assert_eq!(
        w.recorded(),
        [
            r#"test.thing.c["a"]"#,
            r#"test.thing.other["x"]"#,
            r#"test.thing.other["y"]"#
        ]
    );
}

#[tokio::test]
async fn a_moved_block_without_a_record_does_nothing() {
    let w = world();
    let source = "resource test.thing b {\n  name = \"b\"\n}\nmoved {\n  from = test.thing.a\n  to   = test.thing.b\n}\n";
    let (plan, _) = w.plan(source).await;
    assert!(plan.moved.is_empty());
    assert_eq!(plan.changes[0].action, Action::Create);
}

#[tokio::test]
async fn moved_mistakes_are_coded_errors() {
    let w = world();
    w.apply(
        "resource test.thing a {\n  name = \"a\"\n}\nresource test.thing b {\n  name = \"b\"\n}\n",
    )
    .await;
    let both = "resource test.thing b {\n  name = \"b\"\n}\nmoved {\n  from = test.thing.a\n  to   = test.thing.b\n}\n";
    assert_eq!(w.errors(both).await, [Code::E0380]);
    let undeclared = "resource test.thing b {\n  name = \"b\"\n}\nmoved {\n  from = test.thing.a\n  to   = test.thing.c\n}\n";
    assert_eq!(w.errors(undeclared).await, [Code::E0381]);
    let cycle = "resource test.thing b {\n  name = \"b\"\n}\nmoved {\n  from = test.thing.a\n  to   = test.thing.c\n}\nmoved {\n  from = test.thing.c\n  to   = test.thing.a\n}\n";
    assert_eq!(w.errors(cycle).await, [Code::E0382]);
    let declared = "resource test.thing a {\n  name = \"a\"\n}\nresource test.thing c {\n  name = \"b\"\n}\nmoved {\n  from = test.thing.a\n  to   = test.thing.c\n}\n";
    assert_eq!(w.errors(declared).await, [Code::E0383]);
    let twice = "resource test.thing c {\n  name = \"b\"\n}\nresource test.thing d {\n  name = \"b\"\n}\nmoved {\n  from = test.thing.b\n  to   = test.thing.c\n}\nmoved {\n  from = test.thing.b\n  to   = test.thing.d\n}\n";
    assert_eq!(w.errors(twice).await, [Code::E0385]);
}

#[tokio::test]
async fn an_imported_object_is_planned_against_the_configuration_and_recorded() {
    let w = world();
    let made_by_hand = Value::Map(
        [
            ("id".to_string(), Value::str("thing-by-hand")),
            ("name".to_string(), Value::str("old")),
        ]
        .into(),
    );
    w.objects.insert("thing-by-hand", made_by_hand);
    let source = "param id = \"thing-by-hand\"\nresource test.thing a {\n  name = \"new\"\n}\nimport {\n  to = test.thing.a\n  id = id\n}\n";
    let (plan, _) = w.plan(source).await;
    let a = &plan.changes[0];
    assert_eq!(a.action, Action::Update, "{a:#?}");
    assert_eq!(a.id.as_deref(), Some("thing-by-hand"));
    assert_eq!(
        plan.imported.get(&thing("a")).map(String::as_str),
        Some("thing-by-hand")
    );
    let shown = text(&plan);
    assert!(
        shown.contains("test.thing.a will be imported (id \"thing-by-hand\")"),
        "{shown}"
    );
    assert!(
        shown.contains("Plan: 1 to import, 0 to add, 1 to change"),
        "{shown}"
    );

    w.log.clear();
    w.apply(source).await;
    assert!(w
        .log
        .calls()
        .iter()
        .all(|c| c.operation != Operation::Create));
    let snap = w.store.snapshot().unwrap();
    assert_eq!(snap.resources[&thing("a")].id, "thing-by-hand");
    assert_eq!(
        w.objects
            .get("thing-by-hand")
            .and_then(|v| v.get("name").cloned()),
        Some(Value::str("new"))
    );

    // Applied: the block is a no-op with a note.
    let outcome = w.outcome(source).await;
    let plan = outcome.plan.expect("a plan");
    assert!(plan.imported.is_empty());
    assert!(!plan.has_changes(), "{}", text(&plan));
    assert!(outcome
        .diagnostics
        .iter()
        .any(|d| d.code == Code::E0386 && d.severity == Severity::Advice));
}

#[tokio::test]
async fn an_import_of_a_missing_object_or_an_undeclared_address_is_a_coded_error() {
    let w = world();
    let missing = "resource test.thing a {\n  name = \"a\"\n}\nimport {\n  to = test.thing.a\n  id = \"thing-nowhere\"\n}\n";
    assert_eq!(w.errors(missing).await, [Code::E0384]);
    let outcome = w.outcome(missing).await;
    assert!(outcome.diagnostics[0].detail.contains("test.thing.a"));
    let undeclared = "resource test.thing a {\n  name = \"a\"\n}\nimport {\n  to = test.thing.b\n  id = \"thing-1\"\n}\n";
    assert_eq!(w.errors(undeclared).await, [Code::E0381]);
}

#[tokio::test]
async fn an_import_block_with_a_for_head_imports_one_object_per_element() {
    let w = world();
    for (id, name) in [("thing-a", "a"), ("thing-b", "b")] {
        let value = Value::Map(
            [
                ("id".to_string(), Value::str(id)),
                ("name".to_string(), Value::str(name)),
            ]
            .into(),
        );
        w.objects.insert(id, value);
    }
    let source = "resource test.thing many for n in [\"a\", \"b\"] {\n  name = n\n}\n\
                  import for n, id in { a = \"thing-a\", b = \"thing-b\" } {\n  to = test.thing.many[n]\n  id = id\n}\n";
    let (plan, _) = w.plan(source).await;
    assert_eq!(plan.imported.len(), 2, "{}", text(&plan));
    assert!(
        plan.changes.iter().all(|c| c.action == Action::NoOp),
        "{}",
        text(&plan)
    );
    w.apply(source).await;
    let snap = w.store.snapshot().unwrap();
    let many_b = thing("many").with_key(InstanceKey::Name("b".into()));
    assert_eq!(snap.resources[&many_b].id, "thing-b");
}
