//! Resource graph behaviour: order, cycles with every edge labelled, DOT output.

use gig_core::addr::{InstanceKey, Mode, ResourceAddr};
use gig_core::diag::Code;
use gig_core::span::{FileId, Span};
use gig_dsl::config::{
    Config, Dependency, DependencyKind, Expr, ExprKind, Lifecycle, ResourceConfig,
};
use gig_engine::graph::{self, EdgeOrigin};
use gig_state::{ResourceRecord, Snapshot};

fn addr(s: &str) -> ResourceAddr {
    ResourceAddr::parse(s).expect("test address parses")
}

fn span(start: usize) -> Span {
    Span::new(FileId(0), start, start + 5)
}

/// A resource whose dependencies are `(target, span start)` pairs.
fn resource(a: &str, deps: &[(&str, usize)]) -> ResourceConfig {
    let addr = addr(a);
    let mut dependencies: Vec<Dependency> = deps
        .iter()
        .map(|(t, s)| Dependency {
            target: crate::addr(t),
            span: span(*s),
            kind: DependencyKind::Reference,
        })
        .collect();
    dependencies.sort();
    ResourceConfig {
        provider: addr.provider().to_string(),
        addr,
        span: span(0),
        header_span: span(1),
        body: Expr {
            kind: ExprKind::Object(Vec::new()),
            span: span(0),
        },
        dependencies,
        lifecycle: Lifecycle::default(),
    }
}

fn config(mut resources: Vec<ResourceConfig>) -> Config {
    resources.sort_by(|a, b| a.addr.cmp(&b.addr));
    Config {
        stack: "t".into(),
        resources,
        ..Config::default()
    }
}

fn record(a: &str, deps: &[&str]) -> ResourceRecord {
    let addr = addr(a);
    ResourceRecord {
        provider: addr.provider().to_string(),
        addr,
        id: format!("id-{a}"),
        value: gig_core::value::Value::Null,
        dependencies: deps.iter().map(|d| crate::addr(d)).collect(),
        schema_version: 0,
    }
}

#[test]
fn order_puts_dependencies_first_and_breaks_ties_by_address() {
    let c = config(vec![
        resource("test.thing.z", &[]),
        resource("test.thing.c", &[("test.thing.b", 10)]),
        resource("test.thing.b", &[("test.thing.z", 20)]),
        resource("test.thing.a", &[]),
    ]);
    let (g, diags) = graph::build(&c, &Snapshot::default());
    assert!(diags.is_empty(), "{diags:?}");
    let order: Vec<String> = g.order().iter().map(|a| a.to_string()).collect();
    assert_eq!(
        order,
        [
            "test.thing.a",
            "test.thing.z",
            "test.thing.b",
            "test.thing.c"
        ]
    );
    assert_eq!(
        g.dependencies(&addr("test.thing.c")),
        [&addr("test.thing.b")]
    );
    assert_eq!(g.dependents(&addr("test.thing.z")), [&addr("test.thing.b")]);
    assert_eq!(g.critical_path_len(), 3);
    assert_eq!(g.width(), 2);
}

#[test]
fn cycle_diagnostic_labels_every_edge_at_its_reference() {
    let c = config(vec![
        resource("test.thing.a", &[("test.thing.b", 100)]),
        resource("test.thing.b", &[("test.thing.c", 200)]),
        resource("test.thing.c", &[("test.thing.a", 300)]),
        resource("test.thing.d", &[("test.thing.a", 400)]),
    ]);
    let (g, diags) = graph::build(&c, &Snapshot::default());
    assert!(g.has_cycle());
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d.code, Code::E0301);
    let labels: Vec<(u32, &str)> = d
        .labels
        .iter()
        .map(|l| (l.span.start, l.message.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            (100, "`test.thing.a` references `test.thing.b` here"),
            (200, "`test.thing.b` references `test.thing.c` here"),
            (300, "`test.thing.c` references `test.thing.a` here"),
        ]
    );
    assert!(
        d.detail
            .contains("`test.thing.a` → `test.thing.b` → `test.thing.c` → `test.thing.a`"),
        "{}",
        d.detail
    );
    // Every node is still ordered, the cyclic ones last.
    assert_eq!(g.order().len(), 4);
}

#[test]
fn self_reference_is_a_cycle_of_one_edge() {
    let c = config(vec![resource("test.thing.a", &[("test.thing.a", 50)])]);
    let (_, diags) = graph::build(&c, &Snapshot::default());
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].labels.len(), 1);
    assert_eq!(
        diags[0].labels[0].message,
        "`test.thing.a` references `test.thing.a` here"
    );
}

#[test]
fn reference_to_whole_expanded_resource_depends_on_every_instance() {
    let c = config(vec![
        resource("test.thing.s[\"a\"]", &[]),
        resource("test.thing.s[\"b\"]", &[]),
        resource("test.thing.user", &[("test.thing.s", 10)]),
    ]);
    let (g, diags) = graph::build(&c, &Snapshot::default());
    assert!(diags.is_empty(), "{diags:?}");
    let s_a = addr("test.thing.s").with_key(InstanceKey::Name("a".into()));
    let s_b = addr("test.thing.s").with_key(InstanceKey::Name("b".into()));
    assert_eq!(g.dependencies(&addr("test.thing.user")), [&s_a, &s_b]);
}

#[test]
fn dependency_on_missing_instance_is_reported() {
    let c = config(vec![resource("test.thing.a", &[("test.thing.x[3]", 70)])]);
    let (g, diags) = graph::build(&c, &Snapshot::default());
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::E0302);
    assert_eq!(diags[0].span.start, 70);
    assert_eq!(g.edge_count(), 0);
}

#[test]
fn instances_only_in_state_keep_their_recorded_edges() {
    let c = config(vec![resource("test.thing.a", &[])]);
    let mut prior = Snapshot::default();
    for r in [
        record("test.thing.a", &[]),
        record("test.thing.old", &["test.thing.a", "test.thing.gone"]),
    ] {
        prior.resources.insert(r.addr.clone(), r);
    }
    let (g, diags) = graph::build(&c, &prior);
    assert!(diags.is_empty());
    let old = g.node(&addr("test.thing.old")).expect("node from state");
    assert!(!old.in_config && old.in_prior);
    let edges = g.edges();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0].2.origin, EdgeOrigin::State);
    assert_eq!(
        g.dependencies(&addr("test.thing.old")),
        [&addr("test.thing.a")]
    );
}

#[test]
fn dot_output_is_quoted_and_marks_data_sources() {
    let mut data = resource("test.thing.img", &[]);
    data.addr.mode = Mode::Data;
    let c = config(vec![
        data,
        resource("test.thing.net[\"x\"]", &[("data.test.thing.img", 10)]),
        resource("test.thing.b", &[("test.thing.net[\"x\"]", 20)]),
    ]);
    let mut prior = Snapshot::default();
    let r = record("test.thing.old", &[]);
    prior.resources.insert(r.addr.clone(), r);
    let (g, diags) = graph::build(&c, &prior);
    assert!(diags.is_empty(), "{diags:?}");
    let expected = r#"digraph gig {
  rankdir = "LR";
  node [shape = box];
  "test.thing.b";
  "test.thing.net[\"x\"]";
  "test.thing.old" [style = dotted];
  "data.test.thing.img" [style = dashed];
  "test.thing.net[\"x\"]" -> "test.thing.b";
  "data.test.thing.img" -> "test.thing.net[\"x\"]";
}
"#;
    assert_eq!(g.to_dot(), expected);
}

#[test]
fn cycle_in_gig_source_labels_each_reference_text() {
    let src = r#"
resource test.thing a {
  ref = test.thing.b.id
}

resource test.thing b {
  name = "b"
  ref  = test.thing.c.arn
}

resource test.thing c {
  depends_on = [test.thing.a]
}
"#;
    let loaded = gig_dsl::load::load_str("cycle.gig", src, &gig_dsl::load::LoadOptions::default());
    let config = loaded
        .config
        .unwrap_or_else(|| panic!("{:#?}", loaded.diagnostics));
    let (_, diags) = graph::build(&config, &Snapshot::default());
    assert_eq!(diags.len(), 1, "{diags:?}");
    let labels: Vec<(String, &str)> = diags[0]
        .labels
        .iter()
        .map(|l| (loaded.sources.text(l.span).to_string(), l.message.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            (
                "test.thing.b".to_string(),
                "`test.thing.a` references `test.thing.b` here"
            ),
            (
                "test.thing.c".to_string(),
                "`test.thing.b` references `test.thing.c` here"
            ),
            (
                "test.thing.a".to_string(),
                "`test.thing.c` depends on `test.thing.a` here"
            ),
        ]
    );
    assert_eq!(loaded.sources.text(diags[0].span), "resource test.thing a");
}
