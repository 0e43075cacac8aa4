//! Param values: the root module's from defaults, gigvars, `GIG_PARAM_*` and
//! `--param`; a module instance's from the arguments of its module block.
//!
//! Precedence for the root, lowest first: the declared default, `env/<ENV>.gigvars`,
//! `GIG_PARAM_<name>`, `--param name=value` (the last one given wins). Raw text from the
//! environment and the command line is converted by the declared type: `string` keeps
//! the text as it is, `number` and `bool` parse it, `list`/`map` parse it as a gig
//! expression, and `any` (or no type) reads numbers, bools, lists, maps and quoted
//! strings as such and anything else as a string.

use std::collections::{BTreeMap, HashMap};

use crate::ast;
use crate::config::{Expr, ParamValue};
use gig_core::diag::{suggest, Code, Diagnostic, Severity};
use gig_core::span::Span;
use gig_core::value::Value;

use super::{Ctx, LowerOptions, Lowerer, Slot};

/// Whether `v` fits the declared type. Null and unknown fit every type.
pub(super) fn type_matches(v: &Value, ty: &ast::TypeExpr) -> bool {
    match (v.reveal(), ty) {
        (Value::Unknown | Value::Null, _) | (_, ast::TypeExpr::Any(_)) => true,
        (Value::String(_), ast::TypeExpr::String(_))
        | (Value::Number(_), ast::TypeExpr::Number(_))
        | (Value::Bool(_), ast::TypeExpr::Bool(_)) => true,
        (Value::List(xs), ast::TypeExpr::List(t, _)) => xs.iter().all(|x| type_matches(x, t)),
        (Value::Map(m), ast::TypeExpr::Map(t, _)) => m.values().all(|x| type_matches(x, t)),
        (Value::Map(m), ast::TypeExpr::Object(fields, _)) => {
            m.len() == fields.len()
                && fields
                    .iter()
                    .all(|f| m.get(&f.name.name).is_some_and(|x| type_matches(x, &f.ty)))
        }
        _ => false,
    }
}

/// `v` with the lossless implicit conversions to `ty` made, inside lists, maps and
/// objects too (see [`crate::functions::convert_scalar`]): `"80"` for a `number`,
/// `"true"` for a `bool`, `80` for a `string`. What does not convert is left as it is,
/// for [`type_matches`] to reject.
pub(super) fn convert(v: Value, ty: &ast::TypeExpr) -> Value {
    use gig_core::value::ValueKind;
    match (v, ty) {
        (Value::Secret(inner), _) => convert(*inner, ty).into_secret(),
        (v, ast::TypeExpr::String(_) | ast::TypeExpr::Number(_) | ast::TypeExpr::Bool(_)) => {
            let kind = match ty {
                ast::TypeExpr::String(_) => ValueKind::String,
                ast::TypeExpr::Number(_) => ValueKind::Number,
                _ => ValueKind::Bool,
            };
            crate::functions::convert_scalar(&v, kind).unwrap_or(v)
        }
        (Value::List(xs), ast::TypeExpr::List(t, _)) => {
            Value::List(xs.into_iter().map(|x| convert(x, t)).collect())
        }
        (Value::Map(m), ast::TypeExpr::Map(t, _)) => {
            Value::Map(m.into_iter().map(|(k, x)| (k, convert(x, t))).collect())
        }
        (Value::Map(m), ast::TypeExpr::Object(fields, _)) => Value::Map(
            m.into_iter()
                .map(|(k, x)| match fields.iter().find(|f| f.name.name == k) {
                    Some(f) => (k, convert(x, &f.ty)),
                    None => (k, x),
                })
                .collect(),
        ),
        (v, _) => v,
    }
}

/// Help for a scalar that did not convert: which strings do, and the explicit function.
fn conversion_help(v: &Value, ty: &ast::TypeExpr) -> Option<String> {
    match (v.reveal(), ty) {
        (Value::String(_), ast::TypeExpr::Number(_)) => Some(
            "a string converts to a number by itself only when it is one, such as \"80\"; to convert on purpose, write tonumber(…)".into(),
        ),
        (Value::String(_), ast::TypeExpr::Bool(_)) => Some(
            "only the strings \"true\" and \"false\" convert to a bool by themselves".into(),
        ),
        _ => None,
    }
}

/// The type as written: `list(string)`.
pub(super) fn type_name(ty: &ast::TypeExpr) -> String {
    ty.to_string()
}

/// Where `v` first fails to fit `ty`, in words naming kinds and keys, never values;
/// `at` is the path inside the param value (`None` for the value itself).
fn mismatch(v: &Value, ty: &ast::TypeExpr, at: Option<&str>) -> Option<String> {
    let here = |what: String| match at {
        Some(path) => format!("`{path}` {what}"),
        None => format!("its value {what}"),
    };
    let inner = |key: &str| match at {
        Some(path) => format!("{path}.{key}"),
        None => key.to_string(),
    };
    match (v.reveal(), ty) {
        (Value::Map(m), ast::TypeExpr::Object(fields, _)) => {
            if let Some(f) = fields.iter().find(|f| !m.contains_key(&f.name.name)) {
                return Some(here(format!("has no field `{}`", f.name.name)));
            }
            if let Some(k) = m
                .keys()
                .find(|k| !fields.iter().any(|f| &f.name.name == *k))
            {
                return Some(here(format!(
                    "has a field `{k}` that the type does not declare"
                )));
            }
            fields
                .iter()
                .find_map(|f| mismatch(m.get(&f.name.name)?, &f.ty, Some(&inner(&f.name.name))))
        }
        (Value::Map(m), ast::TypeExpr::Map(t, _)) => {
            m.iter().find_map(|(k, x)| mismatch(x, t, Some(&inner(k))))
        }
        (Value::List(xs), ast::TypeExpr::List(t, _)) => xs
            .iter()
            .enumerate()
            .find_map(|(i, x)| mismatch(x, t, Some(&inner(&i.to_string())))),
        _ if type_matches(v, ty) => None,
        _ => Some(here(format!("is a {}", shape(v)))),
    }
}

/// A short description of a value's shape for type errors (never the value itself).
fn shape(v: &Value) -> String {
    match v.reveal() {
        Value::List(xs) => match xs.iter().find(|x| !x.is_null()) {
            Some(x) => format!("list({})", shape(x)),
            None => "list".into(),
        },
        Value::Map(m) => match m.values().find(|x| !x.is_null()) {
            Some(x) => format!("map({})", shape(x)),
            None => "map".into(),
        },
        other => other.kind().to_string(),
    }
}

impl<'a> Lowerer<'a> {
    /// Computes the root module's param values and reports missing, unknown and
    /// mistyped ones.
    pub(super) fn root_params(
        &mut self,
        opts: &LowerOptions<'_>,
        host: &mut dyn super::Host,
    ) -> BTreeMap<String, ParamValue> {
        let mut names: Vec<&'a str> = self.insts[0].params.keys().copied().collect();
        names.sort_unstable();

        let mut gigvars: HashMap<&str, &ast::Attribute> = HashMap::new();
        if let Some(file) = opts.gigvars {
            for item in &file.items {
                match item {
                    ast::Item::Assign(a) => {
                        if !self.insts[0].params.contains_key(a.name.name.as_str()) {
                            let mut d = Diagnostic::error(
                                Code::E0186,
                                "gigvars sets an undeclared param",
                                a.name.span,
                            )
                            .with_detail(format!("The stack declares no param `{}`.", a.name.name))
                            .with_label("no such param");
                            if let Some(s) = suggest(&a.name.name, names.iter().copied()) {
                                d = d.with_help(format!("did you mean `{s}`?"));
                            }
                            self.diags.push(d);
                        } else if let Some(first) = gigvars.insert(&a.name.name, a) {
                            self.diags.push(super::duplicate_attr(
                                &a.name.name,
                                a.name.span,
                                first.name.span,
                            ));
                        }
                    }
                    other => {
                        let span = other.span();
                        self.diags.push(
                            Diagnostic::error(Code::E0185, "invalid item in a gigvars file", span)
                                .with_detail(
                                    "A gigvars file only sets params, one `NAME = VALUE` per line.",
                                )
                                .with_label("not a param assignment"),
                        );
                    }
                }
            }
        }
        for (list, origin, severity) in [
            (opts.params, "--param", Severity::Error),
            (opts.env_params, "GIG_PARAM_", Severity::Warning),
        ] {
            for (name, _) in list {
                if self.insts[0].params.contains_key(name.as_str()) {
                    continue;
                }
                let shown = if origin == "--param" {
                    format!("--param {name}")
                } else {
                    format!("GIG_PARAM_{name}")
                };
                let mut d = Diagnostic::error(Code::E0181, "unknown param", Span::DETACHED)
                    .with_detail(format!(
                        "`{shown}` sets `{name}`, but the stack declares no param by that name."
                    ));
                d.severity = severity;
                if let Some(s) = suggest(name, names.iter().copied()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
            }
        }

        let mut out = BTreeMap::new();
        for name in names {
            let Some(state) = self.insts[0].params.get(name) else {
                continue;
            };
            let decl = state.decl;
            let secret = state.secret;
            let mut value: Option<(Value, Span)> = None;
            if let Some(d) = &decl.default {
                value = Some((self.const_value(d), d.span));
            }
            if let Some(a) = gigvars.get(name) {
                value = Some((self.const_value(&a.value), a.value.span));
            }
            if let Some((_, raw)) = opts.env_params.iter().rev().find(|(n, _)| n == name) {
                value = self
                    .convert_raw(decl, &format!("GIG_PARAM_{name}"), raw, host)
                    .or(value);
            }
            if let Some((_, raw)) = opts.params.iter().rev().find(|(n, _)| n == name) {
                value = self
                    .convert_raw(decl, &format!("--param {name}"), raw, host)
                    .or(value);
            }
            let Some((v, vspan)) = value else {
                self.diags.push(
                    Diagnostic::error(Code::E0180, "missing param value", decl.name.span)
                        .with_detail(format!("The param `{name}` has no default, and no value was given for it."))
                        .with_label("needs a value")
                        .with_help(format!(
                            "set it in env/<ENV>.gigvars, with GIG_PARAM_{name}=…, or with --param {name}=…"
                        )),
                );
                self.set_param(
                    0,
                    name,
                    Slot::Done(Expr::constant(Value::Unknown, decl.name.span)),
                );
                continue;
            };
            let v = match &decl.ty {
                Some(ty) => convert(v, ty),
                None => v,
            };
            self.check_param_type(decl, &v, vspan);
            let v = if secret { v.into_secret() } else { v };
            self.set_param(
                0,
                name,
                Slot::Done(Expr::constant(v.clone(), decl.name.span)),
            );
            out.insert(
                name.to_string(),
                ParamValue {
                    value: v,
                    secret,
                    span: decl.span,
                },
            );
        }
        out
    }

    fn set_param(&mut self, inst: usize, name: &str, slot: Slot<Expr>) {
        if let Some(p) = self.insts[inst].params.get_mut(name) {
            p.slot = slot;
        }
    }

    fn check_param_type(&mut self, decl: &ast::Param, v: &Value, span: Span) {
        let Some(ty) = &decl.ty else { return };
        if type_matches(v, ty) {
            return;
        }
        let span = if span.is_detached() {
            decl.name.span
        } else {
            span
        };
        let mut d = Diagnostic::error(Code::E0182, "param value has the wrong type", span)
            .with_detail(format!(
                "The param `{}` is declared `{}`, but {}.",
                decl.name.name,
                type_name(ty),
                mismatch(v, ty, None).unwrap_or_else(|| "its value does not fit".into())
            ))
            .with_label(format!("expected {}", type_name(ty)));
        if let Some(help) = conversion_help(v, ty) {
            d = d.with_help(help);
        }
        self.diags.push(d);
    }

    /// Lowers a param default or gigvars value, which may use no names.
    fn const_value(&mut self, e: &ast::Expr) -> Value {
        let mut cx = Ctx {
            const_only: true,
            ..Ctx::module(0)
        };
        let lowered = self.lower_expr(e, &mut cx);
        lowered.as_const().cloned().unwrap_or(Value::Unknown)
    }

    /// Converts raw text from the environment or the command line by the declared type.
    fn convert_raw(
        &mut self,
        decl: &'a ast::Param,
        origin: &str,
        raw: &str,
        host: &mut dyn super::Host,
    ) -> Option<(Value, Span)> {
        let fail = |want: &str| {
            Diagnostic::error(Code::E0183, "cannot convert param value", Span::DETACHED)
                .with_detail(format!(
                    "The value given by `{origin}` is not {want}, which the param `{}` is declared to hold.",
                    decl.name.name
                ))
                .with_help(format!("the param is declared at its `param {}` line", decl.name.name))
        };
        let trimmed = raw.trim();
        let as_expr = |me: &mut Self, host: &mut dyn super::Host| -> Option<Value> {
            let e = host.parse_expr(origin, &decl.name.name, raw)?;
            let mut cx = Ctx {
                const_only: true,
                ..Ctx::module(0)
            };
            let lowered = me.lower_expr(&e, &mut cx);
            lowered.as_const().filter(|v| v.is_known()).cloned()
        };
        let v = match &decl.ty {
            Some(ast::TypeExpr::String(_)) => Some(Value::String(raw.to_string())),
            Some(ast::TypeExpr::Number(_)) => match trimmed.parse::<f64>() {
                Ok(n) if n.is_finite() => Some(Value::Number(n)),
                _ => {
                    self.diags.push(fail("a number"));
                    return None;
                }
            },
            Some(ast::TypeExpr::Bool(_)) => match trimmed {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => {
                    self.diags.push(fail("`true` or `false`"));
                    return None;
                }
            },
            Some(ast::TypeExpr::List(..) | ast::TypeExpr::Map(..) | ast::TypeExpr::Object(..)) => {
                match as_expr(self, host) {
                    Some(v) => Some(v),
                    None => {
                        self.diags.push(fail(
                            "a gig list or map expression such as `[\"a\", \"b\"]`",
                        ));
                        return None;
                    }
                }
            }
            Some(ast::TypeExpr::Any(_)) | None => {
                if let Ok(n) = trimmed.parse::<f64>().map_err(|_| ()).and_then(|n| {
                    if n.is_finite() {
                        Ok(n)
                    } else {
                        Err(())
                    }
                }) {
                    Some(Value::Number(n))
                } else if trimmed == "true" || trimmed == "false" {
                    Some(Value::Bool(trimmed == "true"))
                } else if trimmed.starts_with(['[', '{', '"']) {
                    match as_expr(self, host) {
                        Some(v) => Some(v),
                        None => {
                            self.diags.push(fail("a valid gig expression"));
                            return None;
                        }
                    }
                } else {
                    Some(Value::String(raw.to_string()))
                }
            }
        };
        v.map(|v| (v, Span::DETACHED))
    }

    /// Reports unknown and missing module arguments, and lowers every argument.
    pub(super) fn check_module_args(&mut self) {
        // The instances of an expanded module block share the block: check it once.
        let mut checked: std::collections::HashSet<Span> = std::collections::HashSet::new();
        for i in 1..self.insts.len() {
            let Some((_, block)) = self.insts[i].parent else {
                continue;
            };
            if self.insts[i].dead {
                continue;
            }
            let mut names: Vec<&'a str> = self.insts[i].params.keys().copied().collect();
            names.sort_unstable();
            if !checked.insert(block.span) {
                for name in names {
                    self.param_value(i, name);
                }
                continue;
            }
            let mut given: HashMap<&str, Span> = HashMap::new();
            for entry in &block.body.entries {
                match entry {
                    ast::BodyEntry::Attribute(a) => {
                        if let Some(first) = given.insert(&a.name.name, a.name.span) {
                            self.diags.push(super::duplicate_attr(&a.name.name, a.name.span, first));
                        } else if super::modules::META_ARGS.contains(&a.name.name.as_str()) {
                            // `count` and `depends_on` are the block's, not the module's.
                        } else if !self.insts[i].params.contains_key(a.name.name.as_str()) {
                            let mut d = Diagnostic::error(Code::E0173, "unknown module argument", a.name.span)
                                .with_detail(format!(
                                    "The module `{}` declares no param `{}`.",
                                    block.name.name, a.name.name
                                ))
                                .with_label("not a param of the module");
                            if let Some(s) = suggest(&a.name.name, names.iter().copied()) {
                                d = d.with_help(format!("did you mean `{s}`?"));
                            }
                            self.diags.push(d);
                        }
                    }
                    ast::BodyEntry::Block(b) => self.diags.push(
                        Diagnostic::error(Code::E0173, "unknown module argument", b.name.span)
                            .with_detail(format!(
                                "Module arguments are written `NAME = VALUE`; `{} {{ … }}` is a block.",
                                b.name.name
                            ))
                            .with_label("blocks are not module arguments"),
                    ),
                }
            }
            for name in &names {
                let Some(state) = self.insts[i].params.get(name) else {
                    continue;
                };
                if state.decl.default.is_none() && !given.contains_key(name) {
                    self.diags.push(
                        Diagnostic::error(Code::E0172, "missing module argument", block.name.span)
                            .with_detail(format!(
                                "The module `{}` requires the param `{name}`, which has no default.",
                                block.name.name
                            ))
                            .with_label(format!("`{name}` is not set"))
                            .with_secondary(state.decl.name.span, "declared here"),
                    );
                }
            }
            for name in names {
                self.param_value(i, name);
            }
        }
    }

    /// The value of param `name` in `inst`: the root's final value, or a module
    /// instance's argument (lowered in the parent module) or default.
    pub(super) fn param_value(&mut self, inst: usize, name: &str) -> Expr {
        let Some(state) = self.insts[inst].params.get(name) else {
            return Expr::constant(Value::Unknown, Span::DETACHED);
        };
        let decl = state.decl;
        let secret = state.secret;
        match &state.slot {
            Slot::Done(e) => return e.clone(),
            Slot::Busy => {
                let what = self.describe(inst, &format!("param {name}"));
                return self.cycle(what, decl.name.span);
            }
            Slot::Todo => {}
        }
        let what = self.describe(inst, &format!("param {name}"));
        let Some((parent, block)) = self.insts[inst].parent else {
            return Expr::constant(Value::Unknown, decl.name.span);
        };
        self.set_param(inst, name, Slot::Busy);
        self.stack.push(what);
        let arg = block.body.entries.iter().find_map(|e| match e {
            ast::BodyEntry::Attribute(a) if a.name.name == name => Some(a),
            _ => None,
        });
        let mut e = match (arg, &decl.default) {
            (Some(a), _) => {
                // The block's for variables (an instance of an expanded module block).
                let vars = self.insts[inst].vars.clone();
                let mut cx = Ctx {
                    vars: &vars,
                    ..Ctx::module(parent)
                };
                self.lower_expr(&a.value, &mut cx)
            }
            (None, Some(d)) => {
                let mut cx = Ctx {
                    const_only: true,
                    ..Ctx::module(inst)
                };
                self.lower_expr(d, &mut cx)
            }
            (None, None) => Expr::constant(Value::Unknown, decl.name.span),
        };
        if let Some(v) = e.as_const() {
            let at = arg.map_or(decl.name.span, |a| a.value.span);
            let v = match &decl.ty {
                Some(ty) => convert(v.clone(), ty),
                None => v.clone(),
            };
            self.check_param_type(decl, &v, at);
            let v = if secret { v.into_secret() } else { v };
            e = Expr::constant(v, e.span);
        }
        self.stack.pop();
        self.set_param(inst, name, Slot::Done(e.clone()));
        e
    }
}
