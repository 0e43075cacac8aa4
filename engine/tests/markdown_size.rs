//! Issue: "a 2,000-resource plan stays under 65,000 characters and keeps the summary".

use std::collections::BTreeMap;
use std::sync::Arc;

use gig_dsl::load::{load_str, LoadOptions};
use gig_engine::plan::{plan, PlanInput};
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
    let loaded = load_str("big.gig", &src, &LoadOptions::default());
    let config = loaded.config.expect("the generated stack lowers");
    let prior = Snapshot::default();
    let (graph, diags) = gig_engine::graph::build(&config, &prior);
    assert!(diags.is_empty(), "{diags:?}");
    let mut registry = Registry::new();
    registry.register(Arc::new(gig_provider_random::RandomFactory::new()));
    let data = BTreeMap::new();
    let input = PlanInput {
        config: &config,
        graph: &graph,
        prior: &prior,
        refreshed: None,
        data: &data,
        registry: &registry,
        destroy: false,
    };
    let (p, diags) = plan(&input);
    assert!(diags.is_empty(), "{diags:?}");
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
