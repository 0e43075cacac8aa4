//! A stack on the in-process test provider with a fresh state: plan and apply it
//! through the same entry points the CLI uses, for the end-to-end engine tests.

#![allow(dead_code)]

use std::sync::Arc;

use gig_core::addr::ResourceAddr;
use gig_dsl::load::LoadOptions;
use gig_engine::apply::{apply, ApplyOptions, ApplyReport};
use gig_engine::model::Plan;
use gig_engine::pipeline::{self, PlanOptions, Stack};
use gig_provider::Registry;
use gig_provider_test::{Objects, TestFactory, TestOptions};
use gig_state::{LockInfo, Store};
use tokio::sync::watch;

/// The test provider, its cloud and a state.
pub struct World {
    pub registry: Registry,
    pub factory: Arc<TestFactory>,
    pub objects: Objects,
    pub store: Store,
    _dir: tempfile::TempDir,
}

/// A world whose provider behaves per `options`.
pub fn world(options: TestOptions) -> World {
    let factory = Arc::new(TestFactory::new(options));
    let objects = factory.objects();
    let mut registry = Registry::new();
    registry.register(factory.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), LockInfo::current("gig test")).expect("store opens");
    World {
        registry,
        factory,
        objects,
        store,
        _dir: dir,
    }
}

/// The address of the `test.thing` named `name`.
pub fn thing(name: &str) -> ResourceAddr {
    ResourceAddr::managed("test.thing", name)
}

/// Apply options as the CLI sets them: the plan's stack and env.
pub fn options(plan: &Plan) -> ApplyOptions {
    ApplyOptions {
        stack: plan.stack.clone(),
        env: plan.env.clone(),
        ..ApplyOptions::default()
    }
}

impl World {
    /// Plans the configuration `text` against the state; the plan must not stop.
    pub async fn plan(&self, text: &str) -> (Plan, pipeline::Providers) {
        let loaded = pipeline::load_str("main.gig", text, &LoadOptions::default(), &self.registry);
        let stack = Stack::from_loaded(loaded)
            .unwrap_or_else(|(_, diagnostics)| panic!("the stack loads: {diagnostics:#?}"));
        let prior = self.store.snapshot().expect("snapshot");
        let outcome = pipeline::plan_stack(&stack, &prior, &self.registry, &PlanOptions::default())
            .await
            .expect("providers configure");
        assert_eq!(outcome.stopped, None, "{:#?}", outcome.diagnostics);
        (outcome.plan.expect("a plan"), outcome.providers)
    }

    /// Plans and applies the configuration `text`.
    pub async fn apply(&self, text: &str) -> (Plan, ApplyReport) {
        let (plan, providers) = self.plan(text).await;
        let report = self.run(&plan, &providers).await;
        (plan, report)
    }

    /// Applies `plan` with `providers`.
    pub async fn run(&self, plan: &Plan, providers: &pipeline::Providers) -> ApplyReport {
        apply(
            plan,
            providers,
            &self.store,
            &options(plan),
            watch::channel(false).1,
            &|_| {},
        )
        .await
    }

    /// Ids of the objects in the cloud named `name`, sorted.
    pub fn ids(&self, name: &str) -> Vec<String> {
        self.objects
            .all()
            .into_iter()
            .filter(|(_, v)| v.get("name").and_then(|n| n.as_str()) == Some(name))
            .map(|(id, _)| id)
            .collect()
    }
}
