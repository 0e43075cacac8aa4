//! Schema checks of a lowered [`Config`] against the providers' schemas, without any I/O.
//!
//! Finds unknown providers, resource and data-source types, attributes and provider
//! settings (each with "did you mean …?" help when a name is close), missing required
//! attributes, attributes the provider computes being set, and values of the wrong
//! type. Values still residual at check time (they reference a resource) are checked as
//! far as their shape is visible: an object literal's keys, a list literal's elements,
//! a string template's kind. The planner checks the same rules again on real values
//! with [`value_problems`].
//!
//! Instances of an expanded resource share one block, so identical diagnostics are
//! reported once.

use std::collections::{BTreeMap, BTreeSet};

use gig_core::addr::Mode;
use gig_core::diag::{suggest, Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::{Value, ValueKind};
use gig_dsl::config::{Config, Expr, ExprKind, ObjectEntry};
use gig_provider::{AttrType, AttributeSchema, Registry};

/// Checks `config` against the schemas in `registry`; returns every problem found.
pub fn check(config: &Config, registry: &Registry) -> Vec<Diagnostic> {
    let mut c = Checker::default();
    check_providers(config, registry, &mut c);
    for r in &config.resources {
        let Some(factory) = registry.get(&r.provider) else {
            continue;
        };
        let data = r.addr.mode == Mode::Data;
        let kind = if data { "data source" } else { "resource" };
        let Some(schema) = registry.resource_schema(&r.addr.rtype, data) else {
            let provider = factory.schema();
            let types = if data {
                &provider.data_sources
            } else {
                &provider.resources
            };
            let mut d =
                Diagnostic::error(Code::E0311, format!("unknown {kind} type"), r.header_span)
                    .with_detail(format!(
                        "The `{}` provider has no {kind} type `{}`.",
                        r.provider, r.addr.rtype
                    ))
                    .with_label(format!("unknown {kind} type"));
            if let Some(s) = suggest(&r.addr.rtype, types.keys().map(String::as_str)) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            c.push(d);
            continue;
        };
        let what = format!("`{}`", r.addr.rtype);
        match &r.body.kind {
            ExprKind::Object(entries) => {
                c.object_entries(entries, &schema.attributes, "", &what, r.header_span);
            }
            _ => c.expr(
                &r.body,
                &AttrType::Object(schema.attributes.clone()),
                "",
                &what,
                r.header_span,
            ),
        }
    }
    c.diags
}

/// One way a value fails its attribute type.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueProblem {
    /// The value at `path` has the wrong kind.
    WrongType {
        /// Attribute path such as `ingress[0].port`.
        path: String,
        /// The expected type, e.g. `list of string`.
        expected: String,
        /// The kind found.
        found: ValueKind,
    },
    /// An object has a key its type does not declare.
    UnknownKey {
        /// Path of the key.
        path: String,
        /// Did-you-mean candidate.
        suggestion: Option<String>,
    },
    /// An object lacks a required key.
    MissingRequired {
        /// Path of the key.
        path: String,
    },
    /// An object sets a key the provider computes.
    ComputedSet {
        /// Path of the key.
        path: String,
    },
}

/// Checks a value against an attribute type. Null (unset) and unknown values pass;
/// secrets are checked through. `path` is the value's attribute path ("" at the top).
pub fn value_problems(value: &Value, ty: &AttrType, path: &str) -> Vec<ValueProblem> {
    let mut out = Vec::new();
    value_problems_into(value, ty, path, &mut out);
    out
}

/// `value` with the lossless implicit conversions to `ty` made, inside lists, sets,
/// maps and objects too (see [`gig_dsl::functions::convert_scalar`]): `"80"` for a
/// number attribute, `"true"` for a bool, `80` for a string. What does not convert is
/// left as it is, for [`value_problems`] to report.
pub fn convert(value: Value, ty: &AttrType) -> Value {
    match (value, ty) {
        (Value::Secret(inner), _) => convert(*inner, ty).into_secret(),
        (v, AttrType::String | AttrType::Number | AttrType::Bool) => {
            gig_dsl::functions::convert_scalar(&v, scalar_kind(ty)).unwrap_or(v)
        }
        (Value::List(xs), AttrType::List(inner) | AttrType::Set(inner)) => {
            Value::List(xs.into_iter().map(|x| convert(x, inner)).collect())
        }
        (Value::Map(m), AttrType::Map(inner)) => {
            Value::Map(m.into_iter().map(|(k, x)| (k, convert(x, inner))).collect())
        }
        (Value::Map(m), AttrType::Object(attrs)) => Value::Map(
            m.into_iter()
                .map(|(k, x)| match attrs.get(&k) {
                    Some(a) => {
                        let x = convert(x, &a.ty);
                        (k, x)
                    }
                    None => (k, x),
                })
                .collect(),
        ),
        (v, _) => v,
    }
}

/// The value kind of a scalar attribute type.
fn scalar_kind(ty: &AttrType) -> ValueKind {
    match ty {
        AttrType::Number => ValueKind::Number,
        AttrType::Bool => ValueKind::Bool,
        _ => ValueKind::String,
    }
}

/// A type as written in messages: `string`, `list of number`, `object`.
pub fn type_name(ty: &AttrType) -> String {
    match ty {
        AttrType::String => "string".into(),
        AttrType::Number => "number".into(),
        AttrType::Bool => "bool".into(),
        AttrType::List(t) => format!("list of {}", type_name(t)),
        AttrType::Set(t) => format!("set of {}", type_name(t)),
        AttrType::Map(t) => format!("map of {}", type_name(t)),
        AttrType::Object(_) => "object".into(),
        AttrType::Any => "any value".into(),
    }
}

/// Turns a [`ValueProblem`] into a diagnostic at `span` about the attributes of `what`
/// (e.g. "`aws.vpc`").
pub fn problem_diagnostic(problem: &ValueProblem, what: &str, span: Span) -> Diagnostic {
    match problem {
        ValueProblem::WrongType { path, expected, found } => {
            let d = Diagnostic::error(Code::E0315, "value of the wrong type", span)
                .with_detail(format!(
                    "Attribute `{path}` of {what} must be a {expected}, but this value is a {found}."
                ))
                .with_label(format!("expected {expected}, found {found}"));
            match (expected.as_str(), found) {
                ("number", ValueKind::String) => d.with_help(
                    "a string converts to a number by itself only when it is one, such as \"80\"; to convert on purpose, write tonumber(…)",
                ),
                ("bool", ValueKind::String) => d.with_help(
                    "only the strings \"true\" and \"false\" convert to a bool by themselves",
                ),
                _ => d,
            }
        }
        ValueProblem::UnknownKey { path, suggestion } => {
            let mut d = Diagnostic::error(Code::E0312, "unknown attribute", span)
                .with_detail(format!("{what} has no attribute `{path}`."))
                .with_label("unknown attribute");
            if let Some(s) = suggestion {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            d
        }
        ValueProblem::MissingRequired { path } => {
            Diagnostic::error(Code::E0313, "missing required attribute", span)
                .with_detail(format!("Attribute `{path}` of {what} is required but not set."))
                .with_label(format!("`{path}` is not set"))
                .with_help(format!("add `{} = …`", last_segment(path)))
        }
        ValueProblem::ComputedSet { path } => {
            Diagnostic::error(Code::E0314, "attribute is set by the provider", span)
                .with_detail(format!(
                    "Attribute `{path}` of {what} is computed by the provider and cannot be set in the configuration."
                ))
                .with_label("read-only attribute")
                .with_help("remove this attribute; read it from the resource instead")
        }
    }
}

fn check_providers(config: &Config, registry: &Registry, c: &mut Checker) {
    for (name, provider) in &config.providers {
        // Where to point: the block when written, else the first resource using it.
        let span = if provider.span.is_detached() {
            config
                .resources
                .iter()
                .find(|r| &r.provider == name)
                .map_or(Span::DETACHED, |r| r.header_span)
        } else {
            provider.span
        };
        let Some(factory) = registry.get(name) else {
            let mut d = Diagnostic::error(Code::E0310, "unknown provider", span)
                .with_detail(format!(
                    "No provider named `{name}` is available. Known providers: {}.",
                    registry
                        .names()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_label("unknown provider");
            if let Some(s) = suggest(name, registry.names()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            c.push(d);
            continue;
        };
        let settings = &factory.schema().settings;
        let what = format!("provider `{name}`");
        if let Some(map) = provider.settings.as_map() {
            for (key, value) in map {
                match settings.get(key) {
                    None => {
                        let mut d =
                            Diagnostic::error(Code::E0316, "unknown provider setting", span)
                                .with_detail(format!(
                                    "The `{name}` provider has no setting `{key}`."
                                ))
                                .with_label("unknown setting");
                        if let Some(s) = suggest(key, settings.keys().map(String::as_str)) {
                            d = d.with_help(format!("did you mean `{s}`?"));
                        }
                        c.push(d);
                    }
                    Some(attr) => {
                        for p in value_problems(value, &attr.ty, key) {
                            c.push(problem_diagnostic(&p, &what, span));
                        }
                    }
                }
            }
        } else if !provider.settings.is_null() {
            c.push(problem_diagnostic(
                &ValueProblem::WrongType {
                    path: name.clone(),
                    expected: "object".into(),
                    found: provider.settings.kind(),
                },
                &what,
                span,
            ));
        }
        for (key, attr) in settings {
            if attr.required && provider.settings.get(key).is_none_or(Value::is_null) {
                c.push(problem_diagnostic(
                    &ValueProblem::MissingRequired { path: key.clone() },
                    &what,
                    span,
                ));
            }
        }
    }
}

/// Collects diagnostics, dropping exact repeats (instances of one block).
#[derive(Default)]
struct Checker {
    diags: Vec<Diagnostic>,
    seen: BTreeSet<(Code, Span, String, String)>,
}

impl Checker {
    fn push(&mut self, d: Diagnostic) {
        if self
            .seen
            .insert((d.code, d.span, d.summary.clone(), d.detail.clone()))
        {
            self.diags.push(d);
        }
    }

    /// Warns when a constant for an attribute the provider base64-encodes is itself
    /// base64 of text: it would reach the cloud encoded twice (cloud-init would not run
    /// it).
    fn already_encoded(&mut self, e: &ObjectEntry, path: &str, what: &str) {
        let Some(text) = e.value.as_const().and_then(Value::as_str) else {
            return;
        };
        if !decodes_to_text(text) {
            return;
        }
        self.push(
            Diagnostic::warning(Code::E0317, "value is already base64-encoded", e.value.span)
                .with_label("base64 text")
                .with_detail(format!(
                    "`{path}` of {what} takes plain text and the provider base64-encodes it; this value is already base64, so it would be encoded twice."
                ))
                .with_help("pass the plain text (drop `base64encode(...)`)"),
        );
    }

    /// Checks the entries of an object literal against `attrs`; a missing required
    /// attribute is reported at `missing_span`.
    fn object_entries(
        &mut self,
        entries: &[ObjectEntry],
        attrs: &BTreeMap<String, AttributeSchema>,
        prefix: &str,
        what: &str,
        missing_span: Span,
    ) {
        for e in entries {
            let path = join(prefix, &e.key);
            match attrs.get(&e.key) {
                None => {
                    let suggestion = suggest(
                        &e.key,
                        attrs
                            .iter()
                            .filter(|(_, a)| a.settable())
                            .map(|(k, _)| k.as_str()),
                    )
                    .map(str::to_string);
                    self.push(problem_diagnostic(
                        &ValueProblem::UnknownKey { path, suggestion },
                        what,
                        e.key_span,
                    ));
                }
                Some(a) if !a.settable() => {
                    self.push(problem_diagnostic(
                        &ValueProblem::ComputedSet { path },
                        what,
                        e.key_span,
                    ));
                }
                Some(a) => {
                    if a.encoded_by_provider {
                        self.already_encoded(e, &path, what);
                    }
                    self.expr(&e.value, &a.ty, &path, what, e.key_span);
                }
            }
        }
        for (key, a) in attrs {
            let set = entries
                .iter()
                .any(|e| &e.key == key && !matches!(e.value.as_const(), Some(Value::Null)));
            if a.required && !set {
                self.push(problem_diagnostic(
                    &ValueProblem::MissingRequired {
                        path: join(prefix, key),
                    },
                    what,
                    missing_span,
                ));
            }
        }
    }

    /// Checks an expression against a type as far as its shape is known now.
    fn expr(&mut self, expr: &Expr, ty: &AttrType, path: &str, what: &str, key_span: Span) {
        let wrong = |found: ValueKind| ValueProblem::WrongType {
            path: path.to_string(),
            expected: type_name(ty),
            found,
        };
        match (&expr.kind, ty) {
            (_, AttrType::Any) => {}
            (ExprKind::Const(v), _) => {
                // Point at the value when it is in the source, else at the attribute.
                let span = if expr.span.is_detached() {
                    key_span
                } else {
                    expr.span
                };
                for p in value_problems(v, ty, path) {
                    self.push(problem_diagnostic(&p, what, span));
                }
            }
            (ExprKind::Object(entries), AttrType::Object(attrs)) => {
                self.object_entries(entries, attrs, path, what, expr.span);
            }
            (ExprKind::Object(entries), AttrType::Map(inner)) => {
                for e in entries {
                    self.expr(&e.value, inner, &join(path, &e.key), what, e.key_span);
                }
            }
            (ExprKind::Object(_), _) => {
                self.push(problem_diagnostic(&wrong(ValueKind::Map), what, expr.span))
            }
            (ExprKind::List(xs), AttrType::List(inner) | AttrType::Set(inner)) => {
                for (i, x) in xs.iter().enumerate() {
                    self.expr(x, inner, &format!("{path}[{i}]"), what, key_span);
                }
            }
            (ExprKind::For { key_expr: None, .. }, AttrType::List(_) | AttrType::Set(_)) => {}
            (ExprKind::List(_) | ExprKind::For { key_expr: None, .. }, _) => {
                self.push(problem_diagnostic(&wrong(ValueKind::List), what, expr.span));
            }
            (
                ExprKind::For {
                    key_expr: Some(_), ..
                },
                AttrType::Map(_) | AttrType::Object(_),
            ) => {}
            (
                ExprKind::For {
                    key_expr: Some(_), ..
                },
                _,
            ) => {
                self.push(problem_diagnostic(&wrong(ValueKind::Map), what, expr.span));
            }
            (ExprKind::Template(_), AttrType::String) => {}
            (ExprKind::Template(_), _) => {
                self.push(problem_diagnostic(
                    &wrong(ValueKind::String),
                    what,
                    expr.span,
                ));
            }
            // References, calls and operators: known only at plan time.
            _ => {}
        }
    }
}

fn value_problems_into(value: &Value, ty: &AttrType, path: &str, out: &mut Vec<ValueProblem>) {
    let wrong = |found: ValueKind| ValueProblem::WrongType {
        path: path.to_string(),
        expected: type_name(ty),
        found,
    };
    match (value, ty) {
        (Value::Secret(inner), _) => value_problems_into(inner, ty, path, out),
        (Value::Null | Value::Unknown, _) | (_, AttrType::Any) => {}
        (Value::String(_), AttrType::String)
        | (Value::Number(_), AttrType::Number)
        | (Value::Bool(_), AttrType::Bool) => {}
        // Converted losslessly before planning (see `convert`).
        (_, AttrType::String | AttrType::Number | AttrType::Bool)
            if gig_dsl::functions::convert_scalar(value, scalar_kind(ty)).is_some() => {}
        (Value::List(xs), AttrType::List(inner) | AttrType::Set(inner)) => {
            for (i, x) in xs.iter().enumerate() {
                value_problems_into(x, inner, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Map(m), AttrType::Map(inner)) => {
            for (k, v) in m {
                value_problems_into(v, inner, &join(path, k), out);
            }
        }
        (Value::Map(m), AttrType::Object(attrs)) => {
            for (k, v) in m {
                let p = join(path, k);
                match attrs.get(k) {
                    None => out.push(ValueProblem::UnknownKey {
                        path: p,
                        suggestion: suggest(
                            k,
                            attrs
                                .iter()
                                .filter(|(_, a)| a.settable())
                                .map(|(k, _)| k.as_str()),
                        )
                        .map(str::to_string),
                    }),
                    Some(a) if !a.settable() && !v.is_null() => {
                        out.push(ValueProblem::ComputedSet { path: p })
                    }
                    Some(a) => value_problems_into(v, &a.ty, &p, out),
                }
            }
            for (k, a) in attrs {
                if a.required && m.get(k).is_none_or(Value::is_null) {
                    out.push(ValueProblem::MissingRequired {
                        path: join(path, k),
                    });
                }
            }
        }
        (v, _) => out.push(wrong(v.kind())),
    }
}

/// `prefix.key`, or `key` at the top level.
fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit(['.', ']'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(path)
}

/// Whether `text` is standard base64 (at least 8 characters) of valid UTF-8 text.
fn decodes_to_text(text: &str) -> bool {
    use base64::Engine as _;
    let compact: String = text.split_whitespace().collect();
    if compact.len() < 8 || !compact.len().is_multiple_of(4) {
        return false;
    }
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .is_some_and(|decoded| {
            decoded
                .chars()
                .all(|c| !c.is_control() || c.is_whitespace())
        })
}

#[cfg(test)]
mod tests {
    use gig_core::addr::ResourceAddr;
    use gig_core::span::FileId;
    use gig_dsl::config::{ExprKind, Lifecycle, ObjectEntry, ProviderConfig, ResourceConfig};

    use super::*;
    use crate::plan::tests::registry;

    fn sp(n: usize) -> Span {
        Span::new(FileId(0), n, n + 1)
    }

    #[test]
    fn lossless_conversions_are_made_and_others_left_for_the_type_check() {
        let number = AttrType::Number;
        assert_eq!(convert(Value::str("80"), &number), Value::from(80));
        assert_eq!(convert(Value::str("1.5"), &number), Value::Number(1.5));
        assert_eq!(convert(Value::str("eighty"), &number), Value::str("eighty"));
        assert_eq!(convert(Value::str(" 80"), &number), Value::str(" 80"));
        assert_eq!(
            convert(Value::str("true"), &AttrType::Bool),
            Value::Bool(true)
        );
        assert_eq!(
            convert(Value::str("yes"), &AttrType::Bool),
            Value::str("yes")
        );
        assert_eq!(
            convert(Value::from(80), &AttrType::String),
            Value::str("80")
        );
        assert_eq!(
            convert(Value::str("80").into_secret(), &number),
            Value::from(80).into_secret()
        );
        let list = Value::List(vec![Value::str("80"), Value::from(443)]);
        let ports = AttrType::List(Box::new(AttrType::Number));
        assert_eq!(
            convert(list.clone(), &ports),
            Value::List(vec![Value::from(80), Value::from(443)])
        );
        assert!(value_problems(&list, &ports, "ports").is_empty());
        let problems = value_problems(&Value::str("eighty"), &number, "port");
        assert_eq!(problems.len(), 1);
        let d = problem_diagnostic(&problems[0], "`x`", sp(1));
        assert!(
            d.help.as_deref().is_some_and(|h| h.contains("tonumber(")),
            "{d:?}"
        );
    }

    fn c(v: impl Into<Value>) -> Expr {
        Expr::constant(v.into(), sp(900))
    }

    fn object(entries: Vec<(&str, Expr)>) -> Expr {
        let entries = entries
            .into_iter()
            .enumerate()
            .map(|(i, (k, v))| ObjectEntry {
                key: k.into(),
                key_span: sp(100 + i),
                value: v,
            })
            .collect();
        Expr {
            kind: ExprKind::Object(entries),
            span: sp(1),
        }
    }

    fn resource(addr: &str, body: Expr) -> ResourceConfig {
        let a = ResourceAddr::parse(addr).expect("test address");
        ResourceConfig {
            provider: a.provider().into(),
            addr: a,
            span: sp(1),
            header_span: sp(2),
            body,
            dependencies: Vec::new(),
            lifecycle: Lifecycle::default(),
        }
    }

    fn config(resources: Vec<ResourceConfig>) -> Config {
        let mut c = Config {
            stack: "t".into(),
            resources,
            ..Config::default()
        };
        c.resources.sort_by(|a, b| a.addr.cmp(&b.addr));
        for r in &c.resources {
            c.providers
                .entry(r.provider.clone())
                .or_insert_with(|| ProviderConfig {
                    name: r.provider.clone(),
                    settings: Value::Map(BTreeMap::new()),
                    span: Span::DETACHED,
                });
        }
        c
    }

    fn codes(d: &[Diagnostic]) -> Vec<(Code, u32, Option<&str>)> {
        d.iter()
            .map(|d| (d.code, d.span.start, d.help.as_deref()))
            .collect()
    }

    #[test]
    fn valid_body_passes() {
        let cfg = config(vec![resource(
            "lab.network.a",
            object(vec![("cidr", c("10.0.0.0/16")), ("dns", c(false))]),
        )]);
        assert_eq!(check(&cfg, &registry()), []);
    }

    #[test]
    fn unknown_provider_and_type_suggest_close_names() {
        let cfg = config(vec![
            resource("labs.network.a", object(vec![])),
            resource("lab.netwrk.b", object(vec![])),
        ]);
        let d = check(&cfg, &registry());
        assert_eq!(
            codes(&d),
            [
                (Code::E0310, 2, Some("did you mean `lab`?")),
                (Code::E0311, 2, Some("did you mean `lab.network`?"))
            ]
        );
    }

    #[test]
    fn attribute_problems_point_at_the_key_or_header() {
        let cfg = config(vec![resource(
            "lab.network.a",
            object(vec![
                ("cidrr", c("10.0.0.0/16")),
                ("arn", c("x")),
                ("dns", c("yes")),
            ]),
        )]);
        let d = check(&cfg, &registry());
        assert_eq!(
            codes(&d),
            [
                (Code::E0312, 100, Some("did you mean `cidr`?")),
                (
                    Code::E0314,
                    101,
                    Some("remove this attribute; read it from the resource instead")
                ),
                (
                    Code::E0315,
                    900,
                    Some("only the strings \"true\" and \"false\" convert to a bool by themselves")
                ),
                (Code::E0313, 2, Some("add `cidr = …`")),
            ]
        );
        assert_eq!(d[2].label, "expected bool, found string");
    }

    #[test]
    fn nested_blocks_are_checked_against_their_object_type() {
        let rules = Value::List(vec![Value::Map(
            [
                ("port".to_string(), Value::str("https")),
                ("protocol".to_string(), Value::str("tcp")),
            ]
            .into_iter()
            .collect(),
        )]);
        let cfg = config(vec![resource(
            "lab.server.a",
            object(vec![("network_id", c("n")), ("rules", c(rules))]),
        )]);
        let d = check(&cfg, &registry());
        let details: Vec<&str> = d.iter().map(|d| d.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "Attribute `rules[0].port` of `lab.server` must be a number, but this value is a string.",
                "`lab.server` has no attribute `rules[0].protocol`.",
            ]
        );
        assert_eq!(d[1].help.as_deref(), Some("did you mean `proto`?"));
    }

    #[test]
    fn expanded_instances_report_once_and_unknown_settings_are_found() {
        let mut cfg = config(vec![
            resource("lab.network.n[0]", object(vec![])),
            resource("lab.network.n[1]", object(vec![])),
        ]);
        if let Some(p) = cfg.providers.get_mut("lab") {
            p.settings = Value::Map(
                [("region".to_string(), Value::str("x"))]
                    .into_iter()
                    .collect(),
            );
            p.span = sp(7);
        }
        let d = check(&cfg, &registry());
        assert_eq!(
            codes(&d),
            [
                (Code::E0316, 7, None),
                (Code::E0313, 2, Some("add `cidr = …`"))
            ]
        );
    }

    #[test]
    fn residual_shapes_are_checked_where_visible() {
        let template = Expr {
            kind: ExprKind::Template(Vec::new()),
            span: sp(5),
        };
        let cfg = config(vec![resource(
            "lab.network.a",
            object(vec![("cidr", c("x")), ("dns", template)]),
        )]);
        let d = check(&cfg, &registry());
        assert_eq!(
            codes(&d),
            [(
                Code::E0315,
                5,
                Some("only the strings \"true\" and \"false\" convert to a bool by themselves")
            )]
        );
    }

    #[test]
    fn list_comprehension_is_accepted_for_a_set_attribute() {
        let comprehension = Expr {
            kind: ExprKind::For {
                key: None,
                value: "s".into(),
                collection: Box::new(c(Value::List(vec![]))),
                key_expr: None,
                value_expr: Box::new(Expr {
                    kind: ExprKind::Local("s".into()),
                    span: sp(6),
                }),
                cond: None,
            },
            span: sp(5),
        };
        let cfg = config(vec![resource(
            "lab.network.a",
            object(vec![("cidr", c("10.0.0.0/16")), ("zones", comprehension)]),
        )]);
        assert_eq!(check(&cfg, &registry()), []);
    }
}
