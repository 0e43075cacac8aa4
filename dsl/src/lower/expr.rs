//! Lowering of expressions: name resolution, references and folding.
//!
//! A chain of attribute accesses and indexes (`aws.subnet.private["a"].id`) is taken
//! apart from its root name: the root decides what the first few accessors mean (a
//! resource type and name, a module and output, …) and the rest are applied to the
//! resolved value as ordinary attribute accesses and indexes.

use crate::ast;
use crate::config::{Expr, ExprKind, ObjectEntry, ResourceRef, TemplatePart, SPLAT_ELEMENT};
use crate::eval::fold_node;
use crate::functions::check_call;
use gig_core::addr::{InstanceKey, Mode};
use gig_core::diag::{suggest, Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;

use super::{res_key, Ctx, Expansion, FastMap, Lowerer, SMALL_NAMES};

impl<'a> Lowerer<'a> {
    /// Lowers one expression in `cx`, folding whatever is known.
    pub(super) fn lower_expr(&mut self, e: &ast::Expr, cx: &mut Ctx<'_>) -> Expr {
        let span = e.span;
        let kind = match &e.kind {
            ast::ExprKind::Null => return Expr::constant(Value::Null, span),
            ast::ExprKind::Bool(b) => return Expr::constant(Value::Bool(*b), span),
            ast::ExprKind::Number(n) => return Expr::constant(Value::Number(*n), span),
            ast::ExprKind::Template(parts) => return self.lower_template(parts, span, cx),
            ast::ExprKind::Heredoc(h) => return self.lower_template(&h.parts, span, cx),
            ast::ExprKind::List(xs) => {
                ExprKind::List(xs.iter().map(|x| self.lower_expr(x, cx)).collect())
            }
            ast::ExprKind::Map(entries) => ExprKind::Object(self.lower_map(entries, cx)),
            ast::ExprKind::Var(_)
            | ast::ExprKind::GetAttr(..)
            | ast::ExprKind::Index(..)
            | ast::ExprKind::Splat(..) => return self.lower_path(e, cx),
            ast::ExprKind::Call(name, args) if name.name == "try" && !args.is_empty() => {
                return self.lower_try(args, span, cx)
            }
            ast::ExprKind::Call(name, args) if name.name == "can" && args.len() == 1 => {
                return self.lower_can(&args[0], span, cx)
            }
            ast::ExprKind::Call(name, args) => {
                if let Err(d) = check_call(&name.name, args.len(), span, name.span) {
                    self.diags.push(d);
                    return Expr::constant(Value::Unknown, span);
                }
                ExprKind::Call(
                    name.name.clone(),
                    args.iter().map(|x| self.lower_expr(x, cx)).collect(),
                )
            }
            ast::ExprKind::Unary(op, x) => ExprKind::Unary(*op, Box::new(self.lower_expr(x, cx))),
            ast::ExprKind::Binary(op, a, b) => ExprKind::Binary(
                *op,
                Box::new(self.lower_expr(a, cx)),
                Box::new(self.lower_expr(b, cx)),
            ),
            ast::ExprKind::Conditional(c, a, b) => ExprKind::Conditional(
                Box::new(self.lower_expr(c, cx)),
                Box::new(self.lower_expr(a, cx)),
                Box::new(self.lower_expr(b, cx)),
            ),
            ast::ExprKind::ForList {
                key,
                value,
                collection,
                body,
                cond,
            } => {
                let collection = Box::new(self.lower_expr(collection, cx));
                let depth = cx.locals.len();
                cx.locals.extend(key.iter().map(|k| k.name.clone()));
                cx.locals.push(value.name.clone());
                let value_expr = Box::new(self.lower_expr(body, cx));
                let cond = cond.as_ref().map(|c| Box::new(self.lower_expr(c, cx)));
                cx.locals.truncate(depth);
                ExprKind::For {
                    key: key.as_ref().map(|k| k.name.clone()),
                    value: value.name.clone(),
                    collection,
                    key_expr: None,
                    value_expr,
                    cond,
                }
            }
            ast::ExprKind::ForMap {
                key,
                value,
                collection,
                key_expr,
                value_expr,
                cond,
            } => {
                let collection = Box::new(self.lower_expr(collection, cx));
                let depth = cx.locals.len();
                cx.locals.extend(key.iter().map(|k| k.name.clone()));
                cx.locals.push(value.name.clone());
                let key_expr = Some(Box::new(self.lower_expr(key_expr, cx)));
                let value_expr = Box::new(self.lower_expr(value_expr, cx));
                let cond = cond.as_ref().map(|c| Box::new(self.lower_expr(c, cx)));
                cx.locals.truncate(depth);
                ExprKind::For {
                    key: key.as_ref().map(|k| k.name.clone()),
                    value: value.name.clone(),
                    collection,
                    key_expr,
                    value_expr,
                    cond,
                }
            }
            ast::ExprKind::Paren(x) => return self.lower_expr(x, cx),
        };
        let dir = self.insts[cx.inst].dir;
        fold_node(Expr { kind, span }, dir, &mut self.diags)
    }

    /// `try(a, b, …)`. Each argument is lowered (and so folded) in turn; one whose
    /// lowering fails only with errors `try` recovers from is dropped with its errors,
    /// and errors of any other kind (an undefined name) are reported as usual. What
    /// remains is evaluated lazily at plan time, or folds to its first argument.
    /// `can(x)`: false when lowering `x` fails only with errors `try` recovers from, true
    /// when `x` is known now, otherwise evaluated lazily at plan time.
    fn lower_can(&mut self, arg: &ast::Expr, span: Span, cx: &mut Ctx<'_>) -> Expr {
        let mark = self.diags.len();
        let x = self.lower_expr(arg, cx);
        let errors = self.diags.split_off(mark);
        if !errors.is_empty() && errors.iter().all(crate::functions::try_recovers) {
            return Expr::constant(Value::Bool(false), span);
        }
        self.diags.extend(errors);
        if x.as_const().is_some_and(Value::is_known) {
            return Expr::constant(Value::Bool(true), span);
        }
        Expr {
            kind: ExprKind::Call("can".to_string(), vec![x]),
            span,
        }
    }

    fn lower_try(&mut self, args: &[ast::Expr], span: Span, cx: &mut Ctx<'_>) -> Expr {
        let mut kept = Vec::new();
        let mut last = None;
        for a in args {
            let mark = self.diags.len();
            let x = self.lower_expr(a, cx);
            let errors = self.diags.split_off(mark);
            if !errors.is_empty() && errors.iter().all(crate::functions::try_recovers) {
                last = errors.into_iter().last();
                continue;
            }
            self.diags.extend(errors);
            kept.push(x);
        }
        if kept.is_empty() {
            if let Some(d) = last {
                self.diags.push(d);
            }
            return Expr::constant(Value::Unknown, span);
        }
        // A first argument known now is the result; the others are never evaluated,
        // so the call does not depend on what they refer to.
        if kept[0].as_const().is_some_and(Value::is_known) {
            return kept.swap_remove(0);
        }
        let kind = ExprKind::Call("try".to_string(), kept);
        let dir = self.insts[cx.inst].dir;
        fold_node(Expr { kind, span }, dir, &mut self.diags)
    }

    /// Lowers a string or heredoc.
    fn lower_template(
        &mut self,
        parts: &[ast::TemplatePart],
        span: Span,
        cx: &mut Ctx<'_>,
    ) -> Expr {
        // What folding would make of a string without interpolations, sooner.
        if parts
            .iter()
            .all(|p| matches!(p, ast::TemplatePart::Literal(_)))
        {
            let mut text = String::new();
            for p in parts {
                if let ast::TemplatePart::Literal(s) = p {
                    text.push_str(s);
                }
            }
            return Expr::constant(Value::String(text), span);
        }
        let kind = ExprKind::Template(
            parts
                .iter()
                .map(|p| match p {
                    ast::TemplatePart::Literal(s) => TemplatePart::Literal(s.clone()),
                    ast::TemplatePart::Interpolation(x) => {
                        TemplatePart::Interpolation(self.lower_expr(x, cx))
                    }
                })
                .collect(),
        );
        let dir = self.insts[cx.inst].dir;
        fold_node(Expr { kind, span }, dir, &mut self.diags)
    }

    fn lower_map(&mut self, entries: &[ast::MapEntry], cx: &mut Ctx<'_>) -> Vec<ObjectEntry> {
        let mut out: Vec<ObjectEntry> = Vec::with_capacity(entries.len());
        // Where each key is in `out`, once the map is too large to search in order.
        let mut index: Option<FastMap<String, usize>> =
            (entries.len() > SMALL_NAMES).then(FastMap::default);
        for entry in entries {
            let (key, key_span) = match &entry.key {
                ast::MapKey::Ident(id) => (id.name.clone(), id.span),
                ast::MapKey::Expr(k) => {
                    let kv = self.lower_expr(k, cx);
                    match kv
                        .as_const()
                        .filter(|v| v.is_known() && !v.is_secret())
                        .and_then(crate::functions::scalar_to_string)
                    {
                        Some(s) => (s, k.span),
                        None => {
                            if !self.quiet_unknown(&kv) {
                                self.diags.push(
                                    Diagnostic::error(Code::E0193, "map key not known", k.span)
                                        .with_detail("The keys of a map literal must be strings known when lowering, and not secret.")
                                        .with_label("not a known string")
                                        .with_help("build maps with unknown keys using a for-expression: {for … : k => v}"),
                                );
                            }
                            continue;
                        }
                    }
                }
            };
            let first = match &index {
                Some(index) => index.get(&key).map(|&i| &out[i]),
                None => out.iter().find(|e| e.key == key),
            };
            if let Some(first) = first {
                let first = first.key_span;
                self.diags
                    .push(super::duplicate_attr(&key, key_span, first));
                continue;
            }
            if let Some(index) = &mut index {
                index.insert(key.clone(), out.len());
            }
            let value = self.lower_expr(&entry.value, cx);
            out.push(ObjectEntry {
                key,
                key_span,
                value,
            });
        }
        out
    }

    /// Whether `e` is the unknown constant lowering leaves behind after an error.
    fn quiet_unknown(&self, e: &Expr) -> bool {
        self.failed_quietly(e)
    }

    /// Lowers a name followed by attribute accesses and indexes.
    fn lower_path<'e>(&mut self, e: &'e ast::Expr, cx: &mut Ctx<'_>) -> Expr {
        let mut chain: Vec<&'e ast::Expr> = Vec::new();
        let mut cur = e;
        while let ast::ExprKind::GetAttr(x, _) | ast::ExprKind::Index(x, _) = &cur.kind {
            chain.push(cur);
            cur = x;
        }
        chain.reverse();
        let (base, used) = match &cur.kind {
            ast::ExprKind::Var(id) => self.resolve_root(id, &chain, cx),
            ast::ExprKind::Splat(x) => return self.lower_splat(x, &chain, cur.span, cx),
            _ => (self.lower_expr(cur, cx), 0),
        };
        self.apply_accessors(base, &chain[used.min(chain.len())..], cx)
    }

    /// `x[*].a.b` is `[for v in x : v.a.b]`: the accesses after the splat apply to each
    /// element of `x`, in order (a map, such as a resource expanded with `for`, gives
    /// its values in key order). A splat over a resource thus refers to the resource as
    /// a whole, and depends on every instance, as a `for` over it does.
    fn lower_splat(
        &mut self,
        x: &ast::Expr,
        chain: &[&ast::Expr],
        splat_span: Span,
        cx: &mut Ctx<'_>,
    ) -> Expr {
        let collection = Box::new(self.lower_expr(x, cx));
        let element = Expr {
            kind: ExprKind::Local(SPLAT_ELEMENT.to_string()),
            span: splat_span,
        };
        let depth = cx.locals.len();
        cx.locals.push(SPLAT_ELEMENT.to_string());
        let value_expr = Box::new(self.apply_accessors(element, chain, cx));
        cx.locals.truncate(depth);
        let span = chain.last().map_or(splat_span, |n| n.span);
        let kind = ExprKind::For {
            key: None,
            value: SPLAT_ELEMENT.to_string(),
            collection,
            key_expr: None,
            value_expr,
            cond: None,
        };
        let dir = self.insts[cx.inst].dir;
        fold_node(Expr { kind, span }, dir, &mut self.diags)
    }

    fn apply_accessors(&mut self, mut base: Expr, chain: &[&ast::Expr], cx: &mut Ctx<'_>) -> Expr {
        for node in chain {
            let kind = match &node.kind {
                ast::ExprKind::GetAttr(_, name) => {
                    ExprKind::GetAttr(Box::new(base), name.name.clone())
                }
                ast::ExprKind::Index(_, ix) => {
                    let ix = self.lower_expr(ix, cx);
                    ExprKind::Index(Box::new(base), Box::new(ix))
                }
                _ => return base,
            };
            let dir = self.insts[cx.inst].dir;
            base = fold_node(
                Expr {
                    kind,
                    span: node.span,
                },
                dir,
                &mut self.diags,
            );
        }
        base
    }

    /// Resolves the root name of a chain; returns the value and how many accessors of
    /// the chain it consumed.
    fn resolve_root<'e>(
        &mut self,
        id: &'e ast::Ident,
        chain: &[&'e ast::Expr],
        cx: &mut Ctx<'_>,
    ) -> (Expr, usize) {
        let name = id.name.as_str();
        let unknown = |span: Span| Expr::constant(Value::Unknown, span);
        if cx.locals.iter().any(|l| l == name) {
            return (
                Expr {
                    kind: ExprKind::Local(name.to_string()),
                    span: id.span,
                },
                0,
            );
        }
        if let Some((_, v)) = cx.vars.iter().find(|(n, _)| n == name) {
            return (Expr::constant(v.clone(), id.span), 0);
        }
        if cx.const_only {
            self.diags.push(
                Diagnostic::error(Code::E0187, "value must be a constant", id.span)
                    .with_detail(format!(
                        "Param defaults and gigvars values are written with literals and functions only, so they cannot use `{name}`."
                    ))
                    .with_label("not a constant"),
            );
            return (unknown(id.span), chain.len());
        }
        let inst = cx.inst;
        let shadowed =
            self.insts[inst].params.contains_key(name) || self.insts[inst].lets.contains_key(name);
        if name == "module" && !shadowed {
            return self.module_ref(id, chain, cx);
        }
        if name == "data" && !shadowed {
            return self.resource_ref(Mode::Data, id, chain, cx);
        }
        if self.insts[inst].prefixes.contains(name) {
            return self.resource_ref(Mode::Managed, id, chain, cx);
        }
        if self.insts[inst].params.contains_key(name) {
            let v = self.param_value(inst, name);
            return (respan(v, id.span), 0);
        }
        if self.insts[inst].lets.contains_key(name) {
            let v = self.let_value(inst, name);
            return (respan(v, id.span), 0);
        }
        let mut candidates: Vec<&str> = cx.locals.iter().map(String::as_str).collect();
        candidates.extend(cx.vars.iter().map(|(n, _)| n.as_str()));
        candidates.extend(self.insts[inst].params.keys().copied());
        candidates.extend(self.insts[inst].lets.keys().copied());
        candidates.sort_unstable();
        let mut d = Diagnostic::error(Code::E0150, "undefined name", id.span)
            .with_detail(format!("Nothing called `{name}` is defined here: no param, let or for variable has that name."))
            .with_label("not defined");
        if let Some(s) = suggest(name, candidates.iter().copied()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else if name == "count" {
            d = d.with_help("`count.index` exists only in a resource expanded with `count = N`");
        }
        self.diags.push(d);
        (unknown(id.span), chain.len())
    }

    /// `PROVIDER.TYPE.NAME[...]` or `data.PROVIDER.TYPE.NAME[...]`.
    fn resource_ref<'e>(
        &mut self,
        mode: Mode,
        id: &'e ast::Ident,
        chain: &[&'e ast::Expr],
        cx: &mut Ctx<'_>,
    ) -> (Expr, usize) {
        let inst = cx.inst;
        let seg = |i: usize| -> Option<&'e ast::Ident> {
            chain.get(i).and_then(|n| match &n.kind {
                ast::ExprKind::GetAttr(_, id) => Some(id),
                _ => None,
            })
        };
        let (p, t, n, used) = match mode {
            Mode::Managed => (Some(id), seg(0), seg(1), 2),
            Mode::Data => (seg(0), seg(1), seg(2), 3),
        };
        let whole = chain.last().map_or(id.span, |n| n.span);
        let (Some(p), Some(t), Some(n)) = (p, t, n) else {
            self.diags.push(
                Diagnostic::error(Code::E0151, "undefined resource", whole)
                    .with_detail(match mode {
                        Mode::Managed => "A resource reference has the form `PROVIDER.TYPE.NAME`, such as `aws.vpc.main`.",
                        Mode::Data => "A data source reference has the form `data.PROVIDER.TYPE.NAME`, such as `data.aws.ami.app`.",
                    })
                    .with_label("incomplete reference"),
            );
            return (Expr::constant(Value::Unknown, whole), chain.len());
        };
        let rtype = super::dotted(&p.name, &t.name);
        let key = res_key(mode, &rtype, &n.name);
        let ref_span = chain[used - 1].span;
        if !self.insts[inst].resources.contains_key(&key) {
            let mut candidates: Vec<&str> = self.insts[inst]
                .resources
                .keys()
                .map(String::as_str)
                .collect();
            candidates.sort_unstable();
            let mut d = Diagnostic::error(Code::E0151, "undefined resource", ref_span)
                .with_detail(format!("No resource `{key}` is declared in this module."))
                .with_label("not declared");
            if let Some(s) = suggest(&key, candidates.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.diags.push(d);
            return (Expr::constant(Value::Unknown, ref_span), chain.len());
        }
        let r = ResourceRef {
            module: self.insts[inst].path.clone(),
            mode,
            rtype,
            name: n.name.clone(),
            key: None,
        };
        let exp = self.expansion(inst, &key);
        let next = chain.get(used);
        match (&*exp, next.map(|x| &x.kind)) {
            (Expansion::Failed, _) => (Expr::constant(Value::Unknown, ref_span), chain.len()),
            (Expansion::Single, Some(ast::ExprKind::Index(..))) => {
                let at = next.map_or(ref_span, |x| x.span);
                self.diags.push(
                    Diagnostic::error(Code::E0162, "no such instance", at)
                        .with_detail(format!("`{key}` is not expanded with `for` or `count`, so it has no instance keys."))
                        .with_label("indexes a single resource")
                        .with_help(format!("refer to it as `{key}`")),
                );
                (Expr::constant(Value::Unknown, at), chain.len())
            }
            (Expansion::Single, _) => (
                Expr {
                    kind: ExprKind::Resource(r),
                    span: ref_span,
                },
                used,
            ),
            (Expansion::Deferred { count, .. }, Some(ast::ExprKind::Index(_, ix))) => {
                // Instances are known only while planning: a known key names one (the
                // graph reports it when it does not exist), any other indexes the group.
                let at = chain[used].span;
                let kx = self.lower_expr(ix, cx);
                let ikey = match (*count, kx.as_const().map(Value::reveal)) {
                    (true, Some(v @ Value::Number(_))) => v.as_i64().map(InstanceKey::Index),
                    (false, Some(Value::String(s))) => Some(InstanceKey::Name(s.clone())),
                    _ => None,
                };
                let node = match ikey {
                    Some(k) => ExprKind::Resource(ResourceRef { key: Some(k), ..r }),
                    None => ExprKind::Index(
                        Box::new(Expr {
                            kind: ExprKind::Resource(r),
                            span: ref_span,
                        }),
                        Box::new(kx),
                    ),
                };
                (
                    Expr {
                        kind: node,
                        span: at,
                    },
                    used + 1,
                )
            }
            (Expansion::Keys { count, instances }, Some(ast::ExprKind::Index(_, ix))) => {
                let count = *count;
                let at = chain[used].span;
                let kx = self.lower_expr(ix, cx);
                let Some(kv) = kx.as_const().filter(|v| v.is_known()).cloned() else {
                    // A key computed later (a for-expression variable): index the group.
                    let group = Expr {
                        kind: ExprKind::Resource(r),
                        span: ref_span,
                    };
                    return (
                        Expr {
                            kind: ExprKind::Index(Box::new(group), Box::new(kx)),
                            span: at,
                        },
                        used + 1,
                    );
                };
                let ikey = match (count, kv.reveal()) {
                    (true, Value::Number(_)) => kv.as_i64().map(InstanceKey::Index),
                    (false, Value::String(s)) => Some(InstanceKey::Name(s.clone())),
                    _ => None,
                };
                let exists = ikey
                    .as_ref()
                    .is_some_and(|k| instances.iter().any(|(ik, _)| ik == k));
                match ikey {
                    Some(k) if exists && !kv.is_secret() => {
                        let r = ResourceRef { key: Some(k), ..r };
                        (
                            Expr {
                                kind: ExprKind::Resource(r),
                                span: at,
                            },
                            used + 1,
                        )
                    }
                    _ => {
                        let mut keys: Vec<String> = exp
                            .keys()
                            .into_iter()
                            .flatten()
                            .take(6)
                            .map(|k| k.to_string())
                            .collect();
                        if instances.len() > 6 {
                            keys.push("…".to_string());
                        }
                        let what = if kv.is_secret() {
                            "a secret key".to_string()
                        } else {
                            match &ikey {
                                Some(k) => format!("the key {k}"),
                                None => format!("a {} key", kv.kind()),
                            }
                        };
                        self.diags.push(
                            Diagnostic::error(Code::E0162, "no such instance", ix.span)
                                .with_detail(format!(
                                    "`{key}` has no instance with {what}; its instances are {}.",
                                    if keys.is_empty() {
                                        "none".to_string()
                                    } else {
                                        keys.join(", ")
                                    }
                                ))
                                .with_label("no instance with this key"),
                        );
                        (Expr::constant(Value::Unknown, at), chain.len())
                    }
                }
            }
            (
                Expansion::Keys { count, .. } | Expansion::Deferred { count, .. },
                Some(ast::ExprKind::GetAttr(_, attr)),
            ) => {
                let at = chain[used].span;
                let example = if *count { "[0]" } else { "[\"KEY\"]" };
                self.diags.push(
                    Diagnostic::error(Code::E0163, "instance key missing", at)
                        .with_detail(format!(
                            "`{key}` is expanded into several instances, so `.{}` needs to say which one.",
                            attr.name
                        ))
                        .with_label("which instance?")
                        .with_help(format!(
                            "pick one with `{key}{example}.{a}`, or collect them all with `[for x in {key} : x.{a}]`",
                            a = attr.name
                        )),
                );
                (Expr::constant(Value::Unknown, at), chain.len())
            }
            (Expansion::Keys { .. } | Expansion::Deferred { .. }, _) => (
                Expr {
                    kind: ExprKind::Resource(r),
                    span: ref_span,
                },
                used,
            ),
        }
    }
}

/// The value of a substituted name (a let, param or module output) as seen where it is
/// used: the root and every resource reference inside point at the use, so dependencies
/// and evaluation errors are reported where the reader is looking.
pub(super) fn respan(mut e: Expr, span: Span) -> Expr {
    fn refs(e: &mut Expr, span: Span) {
        match &mut e.kind {
            ExprKind::Const(_) | ExprKind::Local(_) => {}
            ExprKind::Resource(_) => e.span = span,
            ExprKind::List(xs) | ExprKind::Call(_, xs) => xs.iter_mut().for_each(|x| refs(x, span)),
            ExprKind::Object(es) => es.iter_mut().for_each(|x| refs(&mut x.value, span)),
            ExprKind::GetAttr(x, _) | ExprKind::Unary(_, x) => refs(x, span),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                refs(a, span);
                refs(b, span);
            }
            ExprKind::Conditional(a, b, c) => {
                refs(a, span);
                refs(b, span);
                refs(c, span);
            }
            ExprKind::Template(parts) => parts.iter_mut().for_each(|p| {
                if let TemplatePart::Interpolation(x) = p {
                    refs(x, span)
                }
            }),
            ExprKind::For {
                collection,
                key_expr,
                value_expr,
                cond,
                ..
            } => {
                refs(collection, span);
                if let Some(k) = key_expr {
                    refs(k, span);
                }
                refs(value_expr, span);
                if let Some(c) = cond {
                    refs(c, span);
                }
            }
        }
    }
    if e.as_const().is_none() {
        refs(&mut e, span);
    }
    e.span = span;
    e
}
