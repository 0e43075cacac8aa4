//! Resources expanded over data sources, on the in-process test provider: a `for` or a
//! `count` that reads a data source is expanded once the data source is read while
//! planning, its instances are planned and applied like any others, other resources can
//! refer to them, and `for` expressions over data values work in bodies.

use std::sync::Arc;

use gig_core::addr::{InstanceKey, ResourceAddr};
use gig_core::diag::Code;
use gig_core::value::Value;
use gig_dsl::load::LoadOptions;
use gig_engine::apply::{apply, ApplyOptions};
use gig_engine::model::{Action, Plan};
use gig_engine::pipeline::{self, PlanOptions, PlanOutcome, Stack};
use gig_provider::Registry;
use gig_provider_test::{TestFactory, TestOptions};
use gig_state::{LockInfo, Store};
use tokio::sync::watch;

const STACK: &str = r#"
data test.echo zones {
  value = ["a", "b"]
}

resource test.thing per_zone for z in data.test.echo.zones.value {
  name = "zone-${z}"
}

resource test.thing counted {
  count = length(data.test.echo.zones.value)
  name  = "n${count.index}"
}

resource test.thing user {
  ref   = test.thing.per_zone["a"].id
  value = [for z in data.test.echo.zones.value : upper(z)]
}

output names = [for t in test.thing.per_zone : t.name]
"#;

struct World {
    registry: Registry,
    store: Store,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let mut registry = Registry::new();
    registry.register(Arc::new(TestFactory::new(TestOptions::default())));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), LockInfo::current("gig test")).expect("store opens");
    World {
        registry,
        store,
        _dir: dir,
    }
}

impl World {
    async fn outcome(&self, source: &str) -> PlanOutcome {
        let loaded =
            pipeline::load_str("main.gig", source, &LoadOptions::default(), &self.registry);
        let stack = Stack::from_loaded(loaded)
            .unwrap_or_else(|(_, diagnostics)| panic!("the stack loads: {diagnostics:#?}"));
        let prior = self.store.snapshot().expect("snapshot");
        pipeline::plan_stack(&stack, &prior, &self.registry, &PlanOptions::default())
            .await
            .expect("providers configure")
    }

    async fn plan(&self, source: &str) -> (Plan, pipeline::Providers) {
        let outcome = self.outcome(source).await;
        assert_eq!(outcome.stopped, None, "{:#?}", outcome.diagnostics);
        (outcome.plan.expect("a plan"), outcome.providers)
    }
}

fn thing(name: &str, key: InstanceKey) -> ResourceAddr {
    ResourceAddr::managed("test.thing", name).with_key(key)
}

#[tokio::test]
async fn for_and_count_over_a_data_source_expand_while_planning() {
    let w = world();
    let (plan, providers) = w.plan(STACK).await;
    let created: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .map(|c| c.addr.to_string())
        .collect();
    assert_eq!(
        created,
        [
            "test.thing.counted[0]",
            "test.thing.counted[1]",
            r#"test.thing.per_zone["a"]"#,
            r#"test.thing.per_zone["b"]"#,
            "test.thing.user",
        ]
    );
    let a = thing("per_zone", InstanceKey::Name("a".into()));
    let b = thing("per_zone", InstanceKey::Name("b".into()));
    let user = plan.changes.iter().find(|c| c.addr.name == "user").unwrap();
    assert!(
        user.dependencies.contains(&a),
        "user waits for the instance it names: {:?}",
        user.dependencies
    );
    let planned = |c: &gig_engine::model::ResourceChange, k: &str| {
        c.planned.as_ref().and_then(|v| v.get(k).cloned())
    };
    assert_eq!(
        planned(user, "value"),
        Some(Value::List(vec![Value::str("A"), Value::str("B")]))
    );
    let b_change = plan.changes.iter().find(|c| c.addr == b).unwrap();
    assert_eq!(planned(b_change, "name"), Some(Value::str("zone-b")));

    let opts = ApplyOptions {
        stack: plan.stack.clone(),
        env: plan.env.clone(),
        ..ApplyOptions::default()
    };
    let report = apply(
        &plan,
        &providers,
        &w.store,
        &opts,
        watch::channel(false).1,
        &|_| {},
    )
    .await;
    assert!(report.is_success(), "{report:#?}");
    assert_eq!(
        report.outputs.get("names"),
        Some(&Value::List(vec![
            Value::str("zone-a"),
            Value::str("zone-b")
        ]))
    );
    let (again, _) = w.plan(STACK).await;
    assert!(
        !again.has_changes(),
        "{}",
        gig_engine::render::text(&again).plain()
    );

    // One zone fewer in the data: its instances go. (A reference to an instance that
    // no longer exists is an error, as for any expanded resource.)
    let fewer = STACK.replace(r#"value = ["a", "b"]"#, r#"value = ["a"]"#);
    let (plan, _) = w.plan(&fewer).await;
    let deleted: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.addr.to_string())
        .collect();
    assert_eq!(
        deleted,
        ["test.thing.counted[1]", r#"test.thing.per_zone["b"]"#]
    );
}

#[tokio::test]
async fn a_data_value_that_cannot_key_instances_is_a_coded_error_at_the_collection() {
    let w = world();
    let source = "data test.echo zones {\n  value = 3\n}\nresource test.thing t for z in data.test.echo.zones.value {\n  name = z\n}\n";
    let outcome = w.outcome(source).await;
    assert!(outcome.stopped.is_some());
    let codes: Vec<Code> = outcome.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::E0156]);
    assert_eq!(outcome.diagnostics[0].span.start, 68, "at the collection");
}
