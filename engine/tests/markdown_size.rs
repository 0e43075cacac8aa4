//! Issue: "a 2,000-resource plan stays under 65,000 characters and keeps the summary".

use std::sync::Arc;

use gig_dsl::load::LoadOptions;
use gig_engine::pipeline::{self, PlanOptions, Stack};
use gig_engine::render::{markdown, MarkdownOptions};
use gig_provider::Registry;
use gig_state::Snapshot;

#[test]
fn a_2000_resource_plan_fits_a_pr_comment_and_keeps_the_summary() {
    let mut src = String::new();
    for i in 0..2000 {
        src.push_str(&format!(
            "resource random.id r{i:04} {{\n  byte_length = 8\n  keepers = {{ owner = \"team-{}\", purpose = \"a reasonably long description of resource {i}\" }}\n}}\n",
            i % 7
        ));
    }
    let mut registry = Registry::new();
    registry.register(Arc::new(gig_provider_random::RandomFactory::new()));
    let loaded = pipeline::load_str("big.gig", &src, &LoadOptions::default(), &registry);
    let stack = Stack::from_loaded(loaded).expect("the generated stack lowers");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let outcome = runtime
        .block_on(pipeline::plan_stack(
            &stack,
            &Snapshot::default(),
            &registry,
            &PlanOptions::default(),
        ))
        .expect("random configures");
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    let p = outcome.plan.expect("planned");
    assert_eq!(p.summary.add, 2000);
    let md = markdown(&p, &MarkdownOptions::default());
    assert!(
        md.chars().count() <= 65_000,
        "{} characters",
        md.chars().count()
    );
    assert!(
        md.contains("2000 to add"),
        "summary kept: {}",
        &md[..md.len().min(400)]
    );
    assert!(
        md.contains("not shown") || md.contains("cut") || md.contains("omitted"),
        "says what was cut"
    );
}
