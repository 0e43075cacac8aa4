//! Instance keys of expanded resources and modules, and the expansion of resources
//! keyed by data sources once those are read.
//!
//! A `for` over a list of strings keys each instance by its element (the key variable
//! is the index); over a map, by its key. `count = N` keys instances `0..N` and binds
//! `count.index`. Lowering expands blocks whose collection is known then. A resource
//! whose collection (or count) reads only data sources is *deferred*: lowering keeps its
//! body with the `for` variables unbound ([`crate::config::DeferredResource`]), and once
//! the engine has read the data sources, [`expand_deferred`] computes the keys by the
//! same rules and binds each instance's variables into its own copy of the body.

// Diagnostics are large but only travel on the error path.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};

use gig_core::addr::{InstanceKey, Mode, ResourceAddr};
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;

use crate::config::{Config, DeferredResource, Expr, ExprKind, ResourceConfig, ResourceRef};
use crate::eval::{eval, Scope};
use crate::lower::MAX_INSTANCES;

/// One instance's key and the variables it binds.
pub type Instance = (InstanceKey, Vec<(String, Value)>);

/// The variables of a `for` head.
#[derive(Clone, Copy, Debug)]
pub struct ForVars<'a> {
    /// The key (or index) variable, when two are given.
    pub key: Option<&'a str>,
    /// The element variable.
    pub value: &'a str,
}

/// Whether `e` is not known yet only because it reads data sources: it refers to at
/// least one resource, and to data sources only.
pub fn reads_only_data(e: &Expr) -> bool {
    let refs = e.references();
    e.as_const().is_none() && !refs.is_empty() && refs.iter().all(|r| r.mode == Mode::Data)
}

/// The instances `count = v` makes; `span` is the count's value.
pub fn count_instances(v: &Value, span: Span) -> Result<Vec<Instance>, Diagnostic> {
    match v.as_i64() {
        Some(n) if (0..=MAX_INSTANCES as i64).contains(&n) && !v.is_secret() => Ok((0..n)
            .map(|i| {
                let obj = Value::Map([("index".to_string(), Value::Number(i as f64))].into());
                (InstanceKey::Index(i), vec![("count".to_string(), obj)])
            })
            .collect()),
        _ => Err(Diagnostic::error(Code::E0158, "invalid count", span)
            .with_detail(format!(
                "`count` must be a whole number from 0 to {MAX_INSTANCES}, but this is a {}.",
                v.kind()
            ))
            .with_label("not a valid count")),
    }
}

/// The instances a `for` over `v` makes for a `what` (`resource` or `module`); `span`
/// is the collection.
pub fn for_instances(
    v: Value,
    vars: ForVars<'_>,
    span: Span,
    what: &str,
) -> Result<Vec<Instance>, Diagnostic> {
    let invalid = || Diagnostic::error(Code::E0156, "invalid expansion collection", span);
    if v.is_secret() {
        return Err(invalid()
            .with_detail(format!(
                "A secret cannot expand a {what}: instance keys appear in addresses and plans."
            ))
            .with_label("this is secret"));
    }
    let mut instances = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    match v {
        Value::List(xs) => {
            for (i, x) in xs.into_iter().enumerate() {
                let Value::String(s) = &x else {
                    return Err(invalid()
                        .with_detail(format!(
                            "Expanding over a list keys each instance by its element, so the elements must be strings, but element {i} is a {}.",
                            x.kind()
                        ))
                        .with_label("not a list of strings")
                        .with_help("expand over a map to key instances by name, or use `count`"));
                };
                if !seen.insert(s.clone()) {
                    return Err(Diagnostic::error(Code::E0157, "duplicate instance key", span)
                        .with_detail(format!(
                            "The element `{s}` appears more than once, and each instance needs its own key."
                        ))
                        .with_label("holds a repeated element")
                        .with_help("remove the duplicate, or wrap the list in distinct(…)"));
                }
                let mut binds = Vec::new();
                if let Some(k) = vars.key {
                    binds.push((k.to_string(), Value::Number(i as f64)));
                }
                binds.push((vars.value.to_string(), x.clone()));
                instances.push((InstanceKey::Name(s.clone()), binds));
            }
        }
        Value::Map(m) => {
            for (k, x) in m {
                let mut binds = Vec::new();
                if let Some(kn) = vars.key {
                    binds.push((kn.to_string(), Value::String(k.clone())));
                }
                binds.push((vars.value.to_string(), x));
                instances.push((InstanceKey::Name(k), binds));
            }
        }
        other => {
            return Err(invalid()
                .with_detail(format!(
                    "A {what}'s `for` needs a list of strings or a map, but this is a {}.",
                    other.kind()
                ))
                .with_label(format!("this is a {}", other.kind())));
        }
    }
    if instances.len() > MAX_INSTANCES {
        return Err(invalid()
            .with_detail(format!(
                "A {what} may expand into at most {MAX_INSTANCES} instances."
            ))
            .with_label("too many elements"));
    }
    Ok(instances)
}

/// Data source values by address, as a scope for evaluating collections.
struct DataScope<'a>(&'a BTreeMap<ResourceAddr, Value>);

impl Scope for DataScope<'_> {
    fn resource(&self, r: &ResourceRef) -> Option<Value> {
        self.0.get(&r.addr()).cloned()
    }
}

/// Makes the instances of every deferred resource of `config` from the data source
/// values `data` (read while planning) and adds them to `config.resources`, keeping it
/// sorted; `config.deferred` is left empty. A collection that is still not known (a data source that could not be read)
/// or that is not a valid collection is an error at the resource's `for` or `count`.
pub fn expand_deferred(
    config: &mut Config,
    data: &BTreeMap<ResourceAddr, Value>,
) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let deferred = std::mem::take(&mut config.deferred);
    for d in &deferred {
        match instances_of(d, data) {
            Ok(instances) => {
                for (key, vars) in instances {
                    config.resources.push(ResourceConfig {
                        addr: d.resource.addr.clone().with_key(key),
                        body: bind(d.resource.body.clone(), &vars),
                        ..d.resource.clone()
                    });
                }
            }
            Err(e) => diags.push(e),
        }
    }
    config.resources.sort_by(|a, b| a.addr.cmp(&b.addr));
    diags
}

fn instances_of(
    d: &DeferredResource,
    data: &BTreeMap<ResourceAddr, Value>,
) -> Result<Vec<Instance>, Diagnostic> {
    let v = eval(&d.collection, &DataScope(data))?;
    if !v.is_known() {
        let sources: Vec<String> = d
            .collection
            .references()
            .iter()
            .map(|r| format!("`{}`", r.addr()))
            .collect();
        return Err(Diagnostic::error(
            Code::E0199,
            "expansion over a data value not known while planning",
            d.collection.span,
        )
        .with_detail(format!(
            "`{}` is expanded over {}, but that value is not known while planning: the data source could not be read before apply, so there are no keys to make instances with.",
            d.resource.addr,
            sources.join(", ")
        ))
        .with_label("not known while planning")
        .with_help("give the data source arguments known before apply, or expand over params or lets"));
    }
    if d.count {
        count_instances(&v, d.collection.span)
    } else {
        let vars = ForVars {
            key: d.key_var.as_deref(),
            value: &d.value_var,
        };
        for_instances(v, vars, d.collection.span, "resource")
    }
}

/// `e` with the locals `vars` replaced by their values, except where an inner `for`
/// binds the same name.
fn bind(e: Expr, vars: &[(String, Value)]) -> Expr {
    if let ExprKind::Local(name) = &e.kind {
        return match vars.iter().find(|(n, _)| n == name) {
            Some((_, v)) => Expr::constant(v.clone(), e.span),
            None => e,
        };
    }
    // A loop's own variables hide outer ones of the same name inside it.
    let inner: Vec<(String, Value)> = match &e.kind {
        ExprKind::For { key, value, .. } => vars
            .iter()
            .filter(|(n, _)| Some(n) != key.as_ref() && n != value)
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    e.map_children(&mut |x, in_loop| bind(x, if in_loop { &inner } else { vars }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Lifecycle;

    fn deferred() -> Config {
        let zones = Expr {
            kind: ExprKind::GetAttr(
                Box::new(Expr {
                    kind: ExprKind::Resource(ResourceRef {
                        module: Vec::new(),
                        mode: Mode::Data,
                        rtype: "aws.availability_zones".into(),
                        name: "all".into(),
                        key: None,
                    }),
                    span: Span::DETACHED,
                }),
                "names".into(),
            ),
            span: Span::DETACHED,
        };
        let body = Expr {
            kind: ExprKind::Object(vec![crate::config::ObjectEntry {
                key: "zone".into(),
                key_span: Span::DETACHED,
                value: Expr {
                    kind: ExprKind::Local("az".into()),
                    span: Span::DETACHED,
                },
            }]),
            span: Span::DETACHED,
        };
        Config {
            deferred: vec![DeferredResource {
                resource: ResourceConfig {
                    addr: ResourceAddr::managed("aws.subnet", "private"),
                    span: Span::DETACHED,
                    header_span: Span::DETACHED,
                    provider: "aws".into(),
                    body,
                    dependencies: Vec::new(),
                    lifecycle: Lifecycle::default(),
                },
                count: false,
                key_var: None,
                value_var: "az".into(),
                collection: zones,
            }],
            ..Config::default()
        }
    }

    #[test]
    fn instances_bind_their_variables_into_the_body() {
        let mut config = deferred();
        let data = BTreeMap::from([(
            ResourceAddr {
                mode: Mode::Data,
                ..ResourceAddr::managed("aws.availability_zones", "all")
            },
            Value::Map(
                [(
                    "names".to_string(),
                    Value::List(vec![Value::str("b"), Value::str("a")]),
                )]
                .into(),
            ),
        )]);
        assert!(expand_deferred(&mut config, &data).is_empty());
        let made: Vec<String> = config
            .resources
            .iter()
            .map(|r| r.addr.to_string())
            .collect();
        assert_eq!(
            made,
            [r#"aws.subnet.private["a"]"#, r#"aws.subnet.private["b"]"#]
        );
        let zone = eval(&config.resources[0].body, &crate::eval::NoResources)
            .ok()
            .and_then(|v| v.get("zone").cloned());
        assert_eq!(zone, Some(Value::str("a")));
        assert!(config.deferred.is_empty());
    }

    #[test]
    fn a_data_value_not_known_while_planning_is_e0199() {
        let mut config = deferred();
        let diags = expand_deferred(&mut config, &BTreeMap::new());
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::E0199);
        assert!(
            diags[0].detail.contains("data.aws.availability_zones.all"),
            "{}",
            diags[0].detail
        );
        assert!(config.resources.is_empty());
    }

    #[test]
    fn an_inner_for_hides_the_instance_variable_of_the_same_name() {
        let local = |n: &str| Expr {
            kind: ExprKind::Local(n.into()),
            span: Span::DETACHED,
        };
        let inner = Expr {
            kind: ExprKind::For {
                key: None,
                value: "az".into(),
                collection: Box::new(Expr::constant(
                    Value::List(vec![Value::str("x")]),
                    Span::DETACHED,
                )),
                key_expr: None,
                value_expr: Box::new(local("az")),
                cond: None,
            },
            span: Span::DETACHED,
        };
        let both = Expr {
            kind: ExprKind::List(vec![local("az"), inner]),
            span: Span::DETACHED,
        };
        let bound = bind(both, &[("az".to_string(), Value::str("a"))]);
        let v = eval(&bound, &crate::eval::NoResources).expect("evaluates");
        assert_eq!(
            v,
            Value::List(vec![Value::str("a"), Value::List(vec![Value::str("x")])])
        );
    }
}
