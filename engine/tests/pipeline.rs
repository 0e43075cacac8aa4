//! The plan pipeline end to end on the in-process test provider: where a run stops, and
//! which diagnostics it reports, for user mistakes found while reading data sources.

use std::sync::Arc;

use gig_core::diag::{Code, Diagnostic};
use gig_dsl::load::LoadOptions;
use gig_engine::pipeline::{self, PlanOptions, PlanOutcome, Stack, Stage};
use gig_provider::Registry;
use gig_provider_test::{TestFactory, TestOptions};
use gig_state::Snapshot;

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(Arc::new(TestFactory::new(TestOptions::default())));
    r
}

async fn plan(source: &str) -> PlanOutcome {
    let registry = registry();
    let loaded = pipeline::load_str("main.gig", source, &LoadOptions::default(), &registry);
    let stack = Stack::from_loaded(loaded)
        .unwrap_or_else(|(_, diagnostics)| panic!("the stack loads: {diagnostics:#?}"));
    pipeline::plan_stack(
        &stack,
        &Snapshot::default(),
        &registry,
        &PlanOptions::default(),
    )
    .await
    .expect("the test provider configures")
}

fn codes(diagnostics: &[Diagnostic]) -> Vec<Code> {
    diagnostics.iter().map(|d| d.code).collect()
}

#[tokio::test]
async fn data_sources_are_read_and_planned_with() {
    let outcome = plan(
        r#"
data test.echo greeting {
  value = "hello"
}

resource test.thing t {
  name = data.test.echo.greeting.value
}
"#,
    )
    .await;
    assert_eq!(outcome.stopped, None, "{:#?}", outcome.diagnostics);
    let plan = outcome.plan.expect("a plan");
    assert_eq!(plan.summary.add, 1);
}

/// Regression: a data source whose arguments need a managed resource was flattened into
/// a provider failure and reported as E0402 ("reading from the provider failed").
#[tokio::test]
async fn a_data_source_needing_a_managed_resource_is_a_user_mistake_not_a_read_failure() {
    let outcome = plan(
        r#"
resource test.thing t {
  name = "t"
}

data test.echo e {
  value = test.thing.t.id
}
"#,
    )
    .await;
    assert_eq!(outcome.stopped, Some(Stage::Data));
    assert!(outcome.plan.is_none());
    assert_eq!(
        codes(&outcome.diagnostics),
        [Code::E0403],
        "{:#?}",
        outcome.diagnostics
    );
    let d = &outcome.diagnostics[0];
    assert!(d.detail.contains("data.test.echo.e"), "{}", d.detail);
    assert!(d.detail.contains("test.thing.t"), "{}", d.detail);
    assert!(
        !d.span.is_detached(),
        "the diagnostic points at the reference"
    );
}
