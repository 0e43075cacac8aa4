//! Planner behaviour on hand-built configurations against a small `lab` schema.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use gig_core::addr::{InstanceKey, ResourceAddr};
use gig_core::diag::Code;
use gig_core::span::{FileId, Span};
use gig_core::value::Value;
use gig_dsl::config::{
    Config, Dependency, DependencyKind, Expr, ExprKind, Lifecycle, ObjectEntry, OutputConfig,
    ResourceConfig, ResourceRef,
};
use gig_provider::{
    AttrType, AttributeSchema, Provider, ProviderError, ProviderFactory, ProviderSchema, Registry,
    ResourceSchema,
};
use gig_state::{ResourceRecord, Snapshot};

use super::{plan, PlanInput};
use crate::graph;
use crate::model::{Action, Plan};

/// A schema-only provider for planner tests.
struct Lab(ProviderSchema);

impl ProviderFactory for Lab {
    fn name(&self) -> &'static str {
        "lab"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.0
    }

    fn configure<'a, 'b, 'f>(
        &'a self,
        _settings: &'b Value,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<dyn Provider>, ProviderError>> + Send + 'f>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        Box::pin(async { Err(ProviderError::permanent("the lab provider is schema-only")) })
    }
}

pub(crate) fn registry() -> Registry {
    use AttributeSchema as A;
    let s = AttrType::String;
    let mut net = BTreeMap::new();
    net.insert("cidr".into(), A::required(s.clone(), "CIDR.").force_new());
    net.insert("name".into(), A::optional(s.clone(), "Name."));
    net.insert(
        "tags".into(),
        A::optional(AttrType::Map(Box::new(s.clone())), "Tags."),
    );
    net.insert(
        "zones".into(),
        A::optional(AttrType::Set(Box::new(s.clone())), "Zones."),
    );
    net.insert(
        "dns".into(),
        A::optional(AttrType::Bool, "DNS.").default(true),
    );
    net.insert(
        "mode".into(),
        A::optional(s.clone(), "Mode.").also_computed(),
    );
    net.insert("id".into(), A::computed(s.clone(), "Id."));
    net.insert("arn".into(), A::computed(s.clone(), "ARN."));
    net.insert(
        "revision".into(),
        A::computed(AttrType::Number, "Revision.").recomputed_on_update(),
    );
    let mut rule = BTreeMap::new();
    rule.insert("port".into(), A::required(AttrType::Number, "Port."));
    rule.insert(
        "proto".into(),
        A::optional(s.clone(), "Protocol.").default("tcp"),
    );
    rule.insert("rule_id".into(), A::computed(s.clone(), "Rule id."));
    let mut server = BTreeMap::new();
    server.insert(
        "network_id".into(),
        A::required(s.clone(), "Network.").force_new(),
    );
    server.insert(
        "size".into(),
        A::optional(s.clone(), "Size.").default("small"),
    );
    server.insert(
        "password".into(),
        A::optional(s.clone(), "Password.").secret(),
    );
    server.insert(
        "rules".into(),
        A::optional(AttrType::List(Box::new(AttrType::Object(rule))), "Rules."),
    );
    server.insert("id".into(), A::computed(s.clone(), "Id."));
    server.insert("ip".into(), A::computed(s, "IP."));
    let res = |name: &str, attributes| ResourceSchema {
        type_name: name.into(),
        version: 1,
        attributes,
        ..ResourceSchema::default()
    };
    let mut resources = BTreeMap::new();
    resources.insert("lab.network".into(), res("lab.network", net));
    resources.insert("lab.server".into(), res("lab.server", server));
    let mut r = Registry::new();
    r.register(Arc::new(Lab(ProviderSchema {
        name: "lab".into(),
        resources,
        ..ProviderSchema::default()
    })));
    r
}

pub(crate) fn sp(n: usize) -> Span {
    Span::new(FileId(0), n, n + 1)
}

pub(crate) fn c(v: impl Into<Value>) -> Expr {
    Expr::constant(v.into(), sp(0))
}

pub(crate) fn list(xs: &[&str]) -> Expr {
    c(Value::List(xs.iter().map(|x| Value::str(*x)).collect()))
}

pub(crate) fn map(kv: &[(&str, &str)]) -> Value {
    Value::Map(
        kv.iter()
            .map(|(k, v)| (k.to_string(), Value::str(*v)))
            .collect(),
    )
}

pub(crate) fn attr_of(addr: &str, attr: &str) -> Expr {
    let a = ResourceAddr::parse(addr).expect("test address");
    let r = ResourceRef {
        module: a.module,
        mode: a.mode,
        rtype: a.rtype,
        name: a.name,
        key: a.key,
    };
    Expr {
        kind: ExprKind::GetAttr(
            Box::new(Expr {
                kind: ExprKind::Resource(r),
                span: sp(50),
            }),
            attr.into(),
        ),
        span: sp(50),
    }
}

pub(crate) fn resource(addr: &str, body: Vec<(&str, Expr)>) -> ResourceConfig {
    let a = ResourceAddr::parse(addr).expect("test address");
    let mut deps = Vec::new();
    let entries: Vec<ObjectEntry> = body
        .into_iter()
        .enumerate()
        .map(|(i, (k, v))| {
            for r in v.references() {
                deps.push(Dependency {
                    target: r.addr(),
                    span: v.span,
                    kind: DependencyKind::Reference,
                });
            }
            ObjectEntry {
                key: k.into(),
                key_span: sp(10 + i),
                value: v,
            }
        })
        .collect();
    deps.sort();
    deps.dedup_by(|x, y| x.target == y.target);
    ResourceConfig {
        provider: a.provider().into(),
        addr: a,
        span: sp(1),
        header_span: sp(2),
        body: Expr {
            kind: ExprKind::Object(entries),
            span: sp(1),
        },
        dependencies: deps,
        lifecycle: Lifecycle::default(),
    }
}

pub(crate) fn config(mut resources: Vec<ResourceConfig>) -> Config {
    resources.sort_by(|a, b| a.addr.cmp(&b.addr));
    Config {
        stack: "lab".into(),
        resources,
        ..Config::default()
    }
}

pub(crate) fn state(records: &[(&str, Value)]) -> Snapshot {
    let mut s = Snapshot::default();
    for (addr, v) in records {
        let a = ResourceAddr::parse(addr).expect("test address");
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("x")
            .to_string();
        s.resources.insert(
            a.clone(),
            ResourceRecord {
                provider: a.provider().into(),
                addr: a,
                id,
                value: v.clone(),
                dependencies: Vec::new(),
                schema_version: 1,
            },
        );
    }
    s
}

pub(crate) fn obj(kv: Vec<(&str, Value)>) -> Value {
    Value::Map(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

pub(crate) fn run(
    config: &Config,
    prior: &Snapshot,
    refreshed: Option<&BTreeMap<ResourceAddr, Option<Value>>>,
    destroy: bool,
) -> (Plan, Vec<gig_core::diag::Diagnostic>) {
    let registry = registry();
    let (g, diags) = graph::build(config, prior);
    assert!(diags.is_empty(), "{diags:?}");
    let data = BTreeMap::new();
    plan(&PlanInput {
        config,
        graph: &g,
        prior,
        refreshed,
        data: &data,
        registry: &registry,
        destroy,
        replace: &[],
    })
}

pub(crate) fn network_value(id: &str) -> Value {
    obj(vec![
        ("id", Value::str(id)),
        ("arn", Value::str(format!("arn:{id}"))),
        ("cidr", Value::str("10.0.0.0/16")),
        ("dns", Value::Bool(true)),
        ("mode", Value::str("auto")),
        ("tags", map(&[("Name", "main")])),
        ("zones", Value::List(vec![Value::str("a"), Value::str("b")])),
    ])
}

pub(crate) fn network_config() -> ResourceConfig {
    resource(
        "lab.network.main",
        vec![
            ("cidr", c("10.0.0.0/16")),
            ("tags", c(map(&[("Name", "main")]))),
            ("zones", list(&["b", "a"])),
        ],
    )
}

pub(crate) fn server_config() -> ResourceConfig {
    resource(
        "lab.server.web",
        vec![("network_id", attr_of("lab.network.main", "id"))],
    )
}

pub(crate) fn server_value(network: &str) -> Value {
    obj(vec![
        ("id", Value::str("srv-1")),
        ("ip", Value::str("10.0.0.5")),
        ("network_id", Value::str(network)),
        ("size", Value::str("small")),
    ])
}

#[test]
fn empty_state_creates_everything_with_unknowns() {
    let cfg = config(vec![network_config(), server_config()]);
    let (p, diags) = run(&cfg, &Snapshot::default(), None, false);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(p.summary.add, 2);
    let server = &p.changes[1];
    assert_eq!(server.action, Action::Create);
    let planned = server.planned.as_ref().expect("planned");
    assert_eq!(planned.get("network_id"), Some(&Value::Unknown));
    assert_eq!(
        planned.get("size"),
        Some(&Value::str("small")),
        "schema default"
    );
    assert_eq!(planned.get("id"), Some(&Value::Unknown));
    assert!(server.body.is_some(), "residual body kept for apply");
    let net = &p.changes[0];
    assert!(net.body.is_none());
    assert_eq!(
        net.planned.as_ref().and_then(|v| v.get("dns")),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        net.planned.as_ref().and_then(|v| v.get("mode")),
        Some(&Value::Unknown)
    );
    assert_eq!(
        server.dependencies,
        vec![ResourceAddr::parse("lab.network.main").expect("addr")]
    );
}

#[test]
fn references_resolve_to_prior_values_and_plan_no_changes() {
    let cfg = config(vec![network_config(), server_config()]);
    let prior = state(&[
        ("lab.network.main", network_value("net-1")),
        ("lab.server.web", server_value("net-1")),
    ]);
    let (p, diags) = run(&cfg, &prior, None, false);
    assert!(diags.is_empty(), "{diags:?}");
    assert!(!p.summary.has_changes(), "{:#?}", p.changes);
    assert!(p
        .changes
        .iter()
        .all(|c| c.action == Action::NoOp && c.attributes.is_empty()));
}

/// Regression: after a launch template changed in place, its `latest_version` kept the
/// Prior value in the plan, so an auto-scaling group pinned to it was updated only by a
/// second apply.
#[test]
fn attributes_recomputed_on_update_are_unknown_and_dependents_follow() {
    let mut net = network_config();
    net.body = resource(
        "lab.network.main",
        vec![
            ("cidr", c("10.0.0.0/16")),
            ("tags", c(map(&[("Name", "renamed")]))),
            ("zones", list(&["a", "b"])),
        ],
    )
    .body;
    let server = resource(
        "lab.server.web",
        vec![
            ("network_id", attr_of("lab.network.main", "id")),
            ("size", attr_of("lab.network.main", "revision")),
        ],
    );
    let cfg = config(vec![net, server]);
    let mut prior_net = network_value("net-1");
    if let Value::Map(m) = &mut prior_net {
        m.insert("revision".into(), Value::from(3i64));
    }
    let mut prior_server = server_value("net-1");
    if let Value::Map(m) = &mut prior_server {
        m.insert("size".into(), Value::from(3i64));
    }
    let prior = state(&[
        ("lab.network.main", prior_net),
        ("lab.server.web", prior_server),
    ]);
    let (p, diags) = run(&cfg, &prior, None, false);
    assert!(diags.is_empty(), "{diags:?}");
    let net = &p.changes[0];
    assert_eq!(net.action, Action::Update);
    assert_eq!(
        net.planned.as_ref().and_then(|v| v.get("revision")),
        Some(&Value::Unknown)
    );
    let web = &p.changes[1];
    assert_eq!(
        web.action,
        Action::Update,
        "the dependent follows the new revision"
    );
    assert_eq!(
        web.planned.as_ref().and_then(|v| v.get("size")),
        Some(&Value::Unknown)
    );
    assert!(web.body.is_some(), "apply resolves it from the New value");
}

#[test]
fn tag_change_updates_in_place_with_leaf_paths() {
    let mut net = network_config();
    net.body = resource(
        "lab.network.main",
        vec![
            ("cidr", c("10.0.0.0/16")),
            ("tags", c(map(&[("Name", "renamed"), ("Env", "prod")]))),
            ("zones", list(&["a", "b"])),
        ],
    )
    .body;
    let cfg = config(vec![net]);
    let prior = state(&[("lab.network.main", network_value("net-1"))]);
    let (p, _) = run(&cfg, &prior, None, false);
    let ch = &p.changes[0];
    assert_eq!(ch.action, Action::Update);
    let paths: Vec<String> = ch.attributes.iter().map(|a| a.path.to_string()).collect();
    assert_eq!(paths, ["tags.Env", "tags.Name"]);
    assert_eq!(ch.attributes[1].before, Some(Value::str("main")));
    assert_eq!(ch.attributes[1].after, Some(Value::str("renamed")));
    assert_eq!(
        ch.planned.as_ref().and_then(|v| v.get("arn")),
        Some(&Value::str("arn:net-1"))
    );
}

#[test]
fn force_new_change_replaces_and_dependents_see_unknown_ids() {
    let mut net = network_config();
    net.body = resource(
        "lab.network.main",
        vec![
            ("cidr", c("10.1.0.0/16")),
            ("tags", c(map(&[("Name", "main")]))),
            ("zones", list(&["a", "b"])),
        ],
    )
    .body;
    let cfg = config(vec![net, server_config()]);
    let prior = state(&[
        ("lab.network.main", network_value("net-1")),
        ("lab.server.web", server_value("net-1")),
    ]);
    let (p, diags) = run(&cfg, &prior, None, false);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(p.changes[0].action, Action::Replace);
    assert_eq!(p.changes[0].replace_because, ["cidr"]);
    assert_eq!(
        p.changes[0].planned.as_ref().and_then(|v| v.get("id")),
        Some(&Value::Unknown)
    );
    // The server's network_id is force-new and now unknown: replaced too.
    assert_eq!(p.changes[1].action, Action::Replace);
    assert_eq!(p.changes[1].replace_because, ["network_id"]);
    assert_eq!(p.summary.replace, 2);
}

#[test]
fn removed_resource_is_deleted_and_prevent_destroy_blocks_replacement() {
    let mut net = network_config();
    net.body = resource("lab.network.main", vec![("cidr", c("10.9.0.0/16"))]).body;
    net.lifecycle.prevent_destroy = true;
    let cfg = config(vec![net]);
    let prior = state(&[
        ("lab.network.main", network_value("net-1")),
        ("lab.server.web", server_value("net-1")),
    ]);
    let (p, diags) = run(&cfg, &prior, None, false);
    assert_eq!(p.changes[1].action, Action::Delete);
    assert_eq!(p.changes[1].id.as_deref(), Some("srv-1"));
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::E0330);
    assert!(diags[0].detail.contains("`lab.network.main`"));
}

#[test]
fn set_order_and_unset_optional_computed_never_diff() {
    // network_config lists zones as ["b", "a"]; state has ["a", "b"] and mode "auto".
    let cfg = config(vec![network_config()]);
    let prior = state(&[("lab.network.main", network_value("net-1"))]);
    let (p, _) = run(&cfg, &prior, None, false);
    assert_eq!(
        p.changes[0].action,
        Action::NoOp,
        "{:?}",
        p.changes[0].attributes
    );
}

#[test]
fn ignore_changes_keeps_the_current_value() {
    let mut net = network_config();
    net.body = resource(
        "lab.network.main",
        vec![
            ("cidr", c("10.0.0.0/16")),
            ("tags", c(map(&[("Name", "other")]))),
            ("zones", list(&["a", "b"])),
        ],
    )
    .body;
    net.lifecycle.ignore_changes = vec!["tags".into()];
    let cfg = config(vec![net]);
    let prior = state(&[("lab.network.main", network_value("net-1"))]);
    let (p, _) = run(&cfg, &prior, None, false);
    assert_eq!(p.changes[0].action, Action::NoOp);
    assert_eq!(
        p.changes[0].planned.as_ref().and_then(|v| v.get("tags")),
        Some(&map(&[("Name", "main")]))
    );
}

#[test]
fn object_gone_on_refresh_is_created_again() {
    let cfg = config(vec![network_config()]);
    let prior = state(&[("lab.network.main", network_value("net-1"))]);
    let mut refreshed = BTreeMap::new();
    refreshed.insert(ResourceAddr::parse("lab.network.main").expect("addr"), None);
    let (p, _) = run(&cfg, &prior, Some(&refreshed), false);
    assert_eq!(p.changes[0].action, Action::Create);
    assert_eq!(p.changes[0].prior, None);
}

#[test]
fn secret_attributes_are_wrapped_and_flagged() {
    let server = resource(
        "lab.server.web",
        vec![("network_id", c("net-1")), ("password", c("hunter2-new"))],
    );
    let cfg = config(vec![server]);
    let mut prior_value = server_value("net-1");
    if let Value::Map(m) = &mut prior_value {
        m.insert("password".into(), Value::str("hunter2-old"));
    }
    let prior = state(&[("lab.server.web", prior_value)]);
    let (p, _) = run(&cfg, &prior, None, false);
    let ch = &p.changes[0];
    assert_eq!(ch.action, Action::Update);
    assert!(ch.attributes[0].secret);
    assert!(matches!(ch.attributes[0].after, Some(Value::Secret(_))));
    assert!(matches!(
        ch.planned.as_ref().and_then(|v| v.get("password")),
        Some(Value::Secret(_))
    ));
    let rendered = serde_json::to_string(&crate::render::json(&p)).expect("json");
    assert!(!rendered.contains("hunter2"), "{rendered}");
}

#[test]
fn nested_block_defaults_and_computed_fields_do_not_diff() {
    let rules = c(Value::List(vec![obj(vec![("port", Value::from(443i64))])]));
    let server = resource(
        "lab.server.web",
        vec![("network_id", c("net-1")), ("rules", rules)],
    );
    let cfg = config(vec![server]);
    let mut prior_value = server_value("net-1");
    if let Value::Map(m) = &mut prior_value {
        m.insert(
            "rules".into(),
            Value::List(vec![obj(vec![
                ("port", Value::from(443i64)),
                ("proto", Value::str("tcp")),
                ("rule_id", Value::str("r-1")),
            ])]),
        );
    }
    let prior = state(&[("lab.server.web", prior_value)]);
    let (p, _) = run(&cfg, &prior, None, false);
    assert_eq!(
        p.changes[0].action,
        Action::NoOp,
        "{:?}",
        p.changes[0].attributes
    );
}

#[test]
fn keyed_instances_plan_independently_of_list_order() {
    let inst = |k: &str| {
        let mut r = resource(
            &format!("lab.network.n[\"{k}\"]"),
            vec![("cidr", c(format!("10.{k}.0.0/16")))],
        );
        r.addr.key = Some(InstanceKey::Name(k.into()));
        r
    };
    let cfg = config(vec![inst("2"), inst("1")]);
    let v = |k: &str| {
        obj(vec![
            ("id", Value::str(format!("n{k}"))),
            ("cidr", Value::str(format!("10.{k}.0.0/16"))),
            ("dns", Value::Bool(true)),
        ])
    };
    let prior = state(&[
        ("lab.network.n[\"1\"]", v("1")),
        ("lab.network.n[\"2\"]", v("2")),
    ]);
    let (p, _) = run(&cfg, &prior, None, false);
    assert!(!p.summary.has_changes(), "{:#?}", p.changes);
}

#[test]
fn destroy_deletes_everything_in_state_and_outputs_go_away() {
    let mut cfg = config(vec![network_config(), server_config()]);
    cfg.outputs.push(OutputConfig {
        name: "ip".into(),
        value: attr_of("lab.server.web", "ip"),
        secret: false,
        span: sp(3),
    });
    let mut prior = state(&[
        ("lab.network.main", network_value("net-1")),
        ("lab.server.web", server_value("net-1")),
    ]);
    prior.outputs.insert("ip".into(), Value::str("10.0.0.5"));
    let (p, diags) = run(&cfg, &prior, None, true);
    assert!(diags.is_empty());
    assert_eq!(p.summary.destroy, 2);
    assert_eq!(p.outputs[0].after, None);
    let (p, _) = run(&cfg, &prior, None, false);
    assert_eq!(p.outputs[0].after, Some(Value::str("10.0.0.5")));
}

#[test]
fn type_error_visible_only_with_real_values_is_reported_at_the_key() {
    let server = resource(
        "lab.server.web",
        vec![
            ("network_id", attr_of("lab.network.main", "id")),
            ("size", attr_of("lab.network.main", "zones")),
        ],
    );
    let cfg = config(vec![network_config(), server]);
    let prior = state(&[("lab.network.main", network_value("net-1"))]);
    let (_, diags) = run(&cfg, &prior, None, false);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, Code::E0315);
    assert_eq!(diags[0].span, sp(11), "the key span of `size`");
    assert_eq!(diags[0].label, "expected string, found list");
}

#[test]
fn a_value_known_only_when_planning_converts_losslessly_to_the_attribute_type() {
    let server = resource(
        "lab.server.web",
        vec![
            ("network_id", attr_of("lab.network.main", "id")),
            ("size", attr_of("lab.network.main", "dns")),
        ],
    );
    let cfg = config(vec![network_config(), server]);
    let prior = state(&[("lab.network.main", network_value("net-1"))]);
    let (p, diags) = run(&cfg, &prior, None, false);
    assert!(diags.is_empty(), "{diags:?}");
    let web = p
        .changes
        .iter()
        .find(|c| c.addr.name == "web")
        .expect("web");
    let size = web.planned.as_ref().and_then(|v| v.get("size"));
    assert_eq!(size, Some(&Value::str("true")), "the bool became its text");
}
