//! Evaluation of lowered expressions ([`config::Expr`]) to [`Value`]s, and constant folding.
//!
//! The engine calls [`eval`] on residual expressions with a [`Scope`] that resolves
//! resource references (Prior/Planned values at plan time, New values at apply time);
//! lowering calls [`fold`] to turn every subtree that needs no resource into a constant.
//!
//! Rules:
//!
//! * **Unknown is contagious.** An operation over [`Value::Unknown`] gives unknown, with
//!   three exceptions that need only part of their input: `c ? a : b` with a known
//!   condition evaluates only the chosen branch, `false && x` / `true || x` short-circuit,
//!   and structural functions such as `length` look only at a collection's shape
//!   (see [`crate::functions`]).
//! * **Secret is contagious.** A result computed from a secret is wrapped secret; list
//!   and map literals keep secret elements in place instead of wrapping the container.
//! * **Type errors** are coded diagnostics at the offending expression's span, naming the
//!   kinds involved, never the values (E0101–E0109).
//! * **Bounded work.** Each call has a step budget, so a for-expression over a large
//!   `range` cannot run away (E0119).
//!
//! A missing attribute on an object that came straight from a resource reference is
//! unknown rather than an error: the engine may not know every attribute of a Planned
//! object yet, and schema checks belong to the engine.

// Diagnostics are large but only travel on the error path, which is rare and cold.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::path::Path;

use crate::ast::{BinaryOp, UnaryOp};
use crate::config::{Expr, ExprKind, ResourceRef, TemplatePart, SPLAT_ELEMENT};
use crate::functions::{self, wrap, CallContext};
use gig_core::diag::{suggest, Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;

/// How many expression nodes and loop iterations one evaluation may visit.
pub const STEP_BUDGET: u64 = 5_000_000;

/// Resolves resource references during evaluation.
pub trait Scope {
    /// The value of `r`: an instance's object (a map of attributes) or, for an expanded
    /// resource referenced without a key, a map key → object (`for` expansion) or a list
    /// (`count`). `None` means "not known yet" and evaluates to [`Value::Unknown`].
    fn resource(&self, r: &ResourceRef) -> Option<Value>;
}

/// A scope with no resources: every reference is unknown.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoResources;

impl Scope for NoResources {
    fn resource(&self, _r: &ResourceRef) -> Option<Value> {
        None
    }
}

/// Evaluates `expr`, resolving resource references through `scope`.
pub fn eval(expr: &Expr, scope: &dyn Scope) -> Result<Value, Diagnostic> {
    eval_with(expr, scope, &CallContext::default())
}

/// [`eval`] with a call context (the directory `file()` reads from).
pub fn eval_with(
    expr: &Expr,
    scope: &dyn Scope,
    ctx: &CallContext<'_>,
) -> Result<Value, Diagnostic> {
    let mut ev = Evaluator {
        scope,
        ctx,
        locals: Vec::new(),
        budget: STEP_BUDGET,
    };
    ev.eval(expr)
}

/// Folds every subtree that references no resource and no unbound local into
/// [`ExprKind::Const`]. Errors found while folding are pushed to `diags`, and the failing
/// subtree becomes an unknown constant so one mistake is reported once.
pub fn fold(expr: Expr, diags: &mut Vec<Diagnostic>) -> Expr {
    fold_in(expr, None, diags)
}

/// [`fold`] with the directory `file()` reads from.
pub fn fold_in(expr: Expr, dir: Option<&Path>, diags: &mut Vec<Diagnostic>) -> Expr {
    let folded = expr.map_children(&mut |x, _| fold_in(x, dir, diags));
    fold_node(folded, dir, diags)
}

/// Folds one node whose children are already folded: evaluates it when it is closed,
/// and picks the branch of a conditional whose condition is known.
pub fn fold_node(expr: Expr, dir: Option<&Path>, diags: &mut Vec<Diagnostic>) -> Expr {
    if let ExprKind::Conditional(c, _, _) = &expr.kind {
        if let Some(Value::Bool(cond)) = c.as_const() {
            if !c.as_const().is_some_and(Value::is_secret) {
                let cond = *cond;
                if let ExprKind::Conditional(_, a, b) = expr.kind {
                    return if cond { *a } else { *b };
                }
            }
        }
    }
    if !is_foldable(&expr) {
        return expr;
    }
    let ctx = CallContext { dir };
    let span = expr.span;
    match eval_folded(expr, &ctx) {
        Ok(v) => Expr::constant(v, span),
        Err(d) => {
            diags.push(d);
            Expr::constant(Value::Unknown, span)
        }
    }
}

/// Evaluates a foldable node (every child it evaluates is a constant) as [`eval_with`]
/// would, but moves the children's values into the result instead of cloning them:
/// folding a map literal of maps would otherwise copy each level once more. Nodes
/// whose evaluation needs more than moving values (logic operators, interpolations,
/// for-expressions) and nodes too large for the step budget take the general path.
fn eval_folded(expr: Expr, ctx: &CallContext<'_>) -> Result<Value, Diagnostic> {
    // `eval` takes one step for the node and one for each constant child.
    let fits = |children: usize| (children as u64) < STEP_BUDGET;
    let span = expr.span;
    match expr.kind {
        ExprKind::List(xs) if fits(xs.len()) => {
            Ok(Value::List(xs.into_iter().map(into_const).collect()))
        }
        ExprKind::Object(es) if fits(es.len()) => {
            let mut m = BTreeMap::new();
            for e in es {
                m.insert(e.key, into_const(e.value));
            }
            Ok(Value::Map(m))
        }
        ExprKind::Template(parts)
            if parts.iter().all(|p| matches!(p, TemplatePart::Literal(_))) =>
        {
            let mut out = String::new();
            for p in parts {
                if let TemplatePart::Literal(s) = p {
                    if out.is_empty() {
                        out = s;
                    } else {
                        out.push_str(&s);
                    }
                }
            }
            Ok(Value::String(out))
        }
        ExprKind::Call(name, args) if fits(args.len()) => {
            // Calls rarely have more than a few arguments: keep their spans on the stack.
            let mut few = [Span::DETACHED; 4];
            let many: Vec<Span>;
            let spans: &[Span] = if args.len() <= few.len() {
                for (slot, a) in few.iter_mut().zip(&args) {
                    *slot = a.span;
                }
                &few[..args.len()]
            } else {
                many = args.iter().map(|a| a.span).collect();
                &many
            };
            let vals = args.into_iter().map(into_const).collect();
            functions::call(&name, vals, spans, span, ctx)
        }
        // A constant is never a resource, so a missing attribute is an error.
        ExprKind::GetAttr(x, name) => get_attr(into_const(*x), &name, false, span),
        ExprKind::Index(a, b) => index(into_const(*a), into_const(*b), span),
        ExprKind::Unary(op, x) => unary(op, into_const(*x), span),
        ExprKind::Binary(op, a, b) if !matches!(op, BinaryOp::And | BinaryOp::Or) => {
            binary(op, into_const(*a), into_const(*b), span)
        }
        kind => eval_with(&Expr { kind, span }, &NoResources, ctx),
    }
}

/// The value of a constant expression. Only called on the children of foldable nodes,
/// which are constants; anything else would be unknown.
fn into_const(e: Expr) -> Value {
    match e.kind {
        ExprKind::Const(v) => v,
        _ => Value::Unknown,
    }
}

/// Whether a node can be evaluated now: its direct children are constants (a
/// for-expression additionally needs a body that uses only its own variables).
fn is_foldable(expr: &Expr) -> bool {
    let c = |e: &Expr| e.as_const().is_some();
    match &expr.kind {
        ExprKind::Const(_) | ExprKind::Resource(_) | ExprKind::Local(_) => false,
        ExprKind::List(xs) | ExprKind::Call(_, xs) => xs.iter().all(c),
        ExprKind::Object(es) => es.iter().all(|e| c(&e.value)),
        ExprKind::GetAttr(x, _) | ExprKind::Unary(_, x) => c(x),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => c(a) && c(b),
        ExprKind::Conditional(x, a, b) => c(x) && c(a) && c(b),
        ExprKind::Template(parts) => parts.iter().all(|p| match p {
            TemplatePart::Literal(_) => true,
            TemplatePart::Interpolation(x) => c(x),
        }),
        ExprKind::For {
            key,
            value,
            collection,
            key_expr,
            value_expr,
            cond,
        } => {
            let mut bound: Vec<&str> = vec![value.as_str()];
            if let Some(k) = key {
                bound.push(k);
            }
            c(collection)
                && key_expr.as_deref().is_none_or(|k| is_closed(k, &mut bound))
                && is_closed(value_expr, &mut bound)
                && cond.as_deref().is_none_or(|k| is_closed(k, &mut bound))
        }
    }
}

/// Whether `expr` references no resource and no local outside `bound`.
fn is_closed<'a>(expr: &'a Expr, bound: &mut Vec<&'a str>) -> bool {
    match &expr.kind {
        ExprKind::Const(_) => true,
        ExprKind::Resource(_) => false,
        ExprKind::Local(n) => bound.contains(&n.as_str()),
        ExprKind::List(xs) | ExprKind::Call(_, xs) => xs.iter().all(|x| is_closed(x, bound)),
        ExprKind::Object(es) => es.iter().all(|e| is_closed(&e.value, bound)),
        ExprKind::GetAttr(x, _) | ExprKind::Unary(_, x) => is_closed(x, bound),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            is_closed(a, bound) && is_closed(b, bound)
        }
        ExprKind::Conditional(x, a, b) => {
            is_closed(x, bound) && is_closed(a, bound) && is_closed(b, bound)
        }
        ExprKind::Template(parts) => parts.iter().all(|p| match p {
            TemplatePart::Literal(_) => true,
            TemplatePart::Interpolation(x) => is_closed(x, bound),
        }),
        ExprKind::For {
            key,
            value,
            collection,
            key_expr,
            value_expr,
            cond,
        } => {
            if !is_closed(collection, bound) {
                return false;
            }
            let depth = bound.len();
            bound.push(value);
            if let Some(k) = key {
                bound.push(k);
            }
            let ok = key_expr.as_deref().is_none_or(|k| is_closed(k, bound))
                && is_closed(value_expr, bound)
                && cond.as_deref().is_none_or(|k| is_closed(k, bound));
            bound.truncate(depth);
            ok
        }
    }
}

/// The expression as gig source text, with constants in their display form (secrets
/// redacted, unknowns as `(known after apply)`). For debugging output and snapshots.
pub fn render(expr: &Expr) -> String {
    let list = |xs: &[Expr]| xs.iter().map(render).collect::<Vec<_>>().join(", ");
    match &expr.kind {
        ExprKind::Const(v) => v.display(),
        ExprKind::Resource(r) => r.addr().to_string(),
        ExprKind::Local(n) => n.clone(),
        ExprKind::List(xs) => format!("[{}]", list(xs)),
        ExprKind::Object(es) => {
            let items: Vec<String> = es
                .iter()
                .map(|e| format!("{} = {}", e.key, render(&e.value)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        ExprKind::GetAttr(x, n) => format!("{}.{n}", render(x)),
        ExprKind::Index(x, i) => format!("{}[{}]", render(x), render(i)),
        ExprKind::Call(n, xs) => format!("{n}({})", list(xs)),
        ExprKind::Unary(op, x) => {
            let sym = match op {
                UnaryOp::Not => "!",
                UnaryOp::Neg => "-",
            };
            format!("{sym}{}", render(x))
        }
        ExprKind::Binary(op, a, b) => format!("({} {} {})", render(a), op.symbol(), render(b)),
        ExprKind::Conditional(c, a, b) => {
            format!("({} ? {} : {})", render(c), render(a), render(b))
        }
        ExprKind::Template(parts) => {
            let mut s = String::from("\"");
            for p in parts {
                match p {
                    TemplatePart::Literal(l) => {
                        s.push_str(&l.replace('\\', "\\\\").replace('"', "\\\""))
                    }
                    TemplatePart::Interpolation(x) => s.push_str(&format!("${{{}}}", render(x))),
                }
            }
            s.push('"');
            s
        }
        ExprKind::For {
            key,
            value,
            collection,
            key_expr,
            value_expr,
            cond,
        } => {
            if key.is_none() && key_expr.is_none() && cond.is_none() && value == SPLAT_ELEMENT {
                // The splat's element variable renders as `[*]`, so the body reads
                // `[*].id` and the whole as `collection[*].id`, as written.
                return format!("{}{}", render(collection), render(value_expr));
            }
            let vars = match key {
                Some(k) => format!("{k}, {value}"),
                None => value.clone(),
            };
            let filter = cond
                .as_ref()
                .map(|c| format!(" if {}", render(c)))
                .unwrap_or_default();
            match key_expr {
                Some(k) => format!(
                    "{{for {vars} in {} : {} => {}{filter}}}",
                    render(collection),
                    render(k),
                    render(value_expr)
                ),
                None => format!(
                    "[for {vars} in {} : {}{filter}]",
                    render(collection),
                    render(value_expr)
                ),
            }
        }
    }
}

struct Evaluator<'s> {
    scope: &'s dyn Scope,
    ctx: &'s CallContext<'s>,
    locals: Vec<(String, Value)>,
    budget: u64,
}

/// A value with its secret wrapper(s) removed at the top, and whether there was one.
fn open(v: Value) -> (Value, bool) {
    match v {
        Value::Secret(inner) => (open(*inner).0, true),
        v => (v, false),
    }
}

fn type_error(code: Code, summary: &str, span: Span, detail: String) -> Diagnostic {
    Diagnostic::error(code, summary, span).with_detail(detail)
}

impl Evaluator<'_> {
    fn step(&mut self, span: Span) -> Result<(), Diagnostic> {
        if self.budget == 0 {
            return Err(Diagnostic::error(Code::E0119, "evaluation too large", span).with_detail(format!(
                "Evaluating this expression took more than {STEP_BUDGET} steps; reduce the size of the collections it iterates over."
            )));
        }
        self.budget -= 1;
        Ok(())
    }

    /// `try(a, b, …)`: the first argument that evaluates without an error `try`
    /// recovers from ([`functions::try_recovers`]); when that argument is unknown
    /// anywhere inside, unknown, since it might still fail once known. When every
    /// argument fails, the last one's error.
    fn eval_try(&mut self, args: &[Expr], span: Span) -> Result<Value, Diagnostic> {
        let mut last = None;
        for a in args {
            match self.eval(a) {
                Ok(v) if v.is_unknown() => return Ok(wrap(Value::Unknown, v.is_secret())),
                Ok(v) => return Ok(v),
                Err(d) if functions::try_recovers(&d) => last = Some(d),
                Err(d) => return Err(d),
            }
        }
        match last {
            Some(d) => Err(d),
            // No arguments: the call reports its arity.
            None => functions::call("try", Vec::new(), &[], span, self.ctx),
        }
    }

    fn eval(&mut self, e: &Expr) -> Result<Value, Diagnostic> {
        self.step(e.span)?;
        match &e.kind {
            ExprKind::Const(v) => Ok(v.clone()),
            ExprKind::Resource(r) => Ok(self.scope.resource(r).unwrap_or(Value::Unknown)),
            ExprKind::Local(name) => self
                .locals
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    Diagnostic::error(Code::E0110, "unbound variable", e.span).with_detail(format!(
                        "The variable `{name}` is not bound by an enclosing for-expression."
                    ))
                }),
            ExprKind::List(xs) => Ok(Value::List(
                xs.iter().map(|x| self.eval(x)).collect::<Result<_, _>>()?,
            )),
            ExprKind::Object(es) => {
                let mut m = BTreeMap::new();
                for entry in es {
                    m.insert(entry.key.clone(), self.eval(&entry.value)?);
                }
                Ok(Value::Map(m))
            }
            ExprKind::GetAttr(x, name) => {
                let v = self.eval(x)?;
                get_attr(v, name, from_resource(x), e.span)
            }
            ExprKind::Index(x, i) => {
                let v = self.eval(x)?;
                let i = self.eval(i)?;
                index(v, i, e.span)
            }
            ExprKind::Call(name, args) if name == "try" => self.eval_try(args, e.span),
            ExprKind::Call(name, args) if name == "can" && args.len() == 1 => {
                match self.eval(&args[0]) {
                    Ok(v) if v.is_unknown() => Ok(Value::Unknown),
                    Ok(_) => Ok(Value::Bool(true)),
                    Err(d) if functions::try_recovers(&d) => Ok(Value::Bool(false)),
                    Err(d) => Err(d),
                }
            }
            ExprKind::Call(name, args) => {
                let vals = args
                    .iter()
                    .map(|x| self.eval(x))
                    .collect::<Result<Vec<_>, _>>()?;
                let spans: Vec<Span> = args.iter().map(|a| a.span).collect();
                functions::call(name, vals, &spans, e.span, self.ctx)
            }
            ExprKind::Unary(op, x) => {
                let v = self.eval(x)?;
                unary(*op, v, e.span)
            }
            ExprKind::Binary(op @ (BinaryOp::And | BinaryOp::Or), a, b) => {
                let (l, ls) = open(self.eval(a)?);
                let short = matches!(
                    (op, &l),
                    (BinaryOp::And, Value::Bool(false)) | (BinaryOp::Or, Value::Bool(true))
                );
                if short {
                    return Ok(wrap(l, ls));
                }
                if !matches!(l, Value::Bool(_) | Value::Unknown) {
                    return Err(logic_error(*op, l.kind().to_string(), a.span));
                }
                let (r, rs) = open(self.eval(b)?);
                match (&l, &r) {
                    (_, Value::Bool(_) | Value::Unknown)
                        if l == Value::Unknown || r == Value::Unknown =>
                    {
                        Ok(wrap(Value::Unknown, ls || rs))
                    }
                    (_, Value::Bool(rb)) => Ok(wrap(Value::Bool(*rb), ls || rs)),
                    _ => Err(logic_error(*op, r.kind().to_string(), b.span)),
                }
            }
            ExprKind::Binary(op, a, b) => {
                let l = self.eval(a)?;
                let r = self.eval(b)?;
                binary(*op, l, r, e.span)
            }
            ExprKind::Conditional(c, a, b) => {
                let (cv, secret) = open(self.eval(c)?);
                match cv {
                    Value::Bool(true) => Ok(wrap(self.eval(a)?, secret)),
                    Value::Bool(false) => Ok(wrap(self.eval(b)?, secret)),
                    Value::Unknown => Ok(wrap(Value::Unknown, secret)),
                    other => Err(type_error(
                        Code::E0102,
                        "condition is not a bool",
                        c.span,
                        format!(
                            "A condition must be true or false, but this is a {}.",
                            other.kind()
                        ),
                    )
                    .with_label(format!("this is a {}", other.kind()))),
                }
            }
            ExprKind::Template(parts) => {
                let mut out = String::new();
                let mut secret = false;
                let mut unknown = false;
                for p in parts {
                    match p {
                        TemplatePart::Literal(s) => out.push_str(s),
                        TemplatePart::Interpolation(x) => {
                            let v = self.eval(x)?;
                            secret |= v.is_secret();
                            if v.is_unknown() {
                                unknown = true;
                                continue;
                            }
                            if let Value::String(s) = v.reveal() {
                                out.push_str(s);
                                continue;
                            }
                            match functions::scalar_to_string(&v) {
                                Some(s) => out.push_str(&s),
                                None => {
                                    return Err(type_error(
                                        Code::E0107,
                                        "value cannot be interpolated",
                                        x.span,
                                        format!(
                                            "Only strings, numbers and bools can appear inside `${{…}}`, but this is a {}.",
                                            v.kind()
                                        ),
                                    )
                                    .with_label(format!("this is a {}", v.kind()))
                                    .with_help("use jsonencode(…) or join(…) to turn a collection into text"))
                                }
                            }
                        }
                    }
                }
                let v = if unknown {
                    Value::Unknown
                } else {
                    Value::String(out)
                };
                Ok(wrap(v, secret))
            }
            ExprKind::For {
                key,
                value,
                collection,
                key_expr,
                value_expr,
                cond,
            } => {
                let (coll, secret) = open(self.eval(collection)?);
                let items: Vec<(Value, Value)> = match coll {
                    Value::Unknown => return Ok(wrap(Value::Unknown, secret)),
                    Value::List(xs) => xs
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| (Value::Number(i as f64), x))
                        .collect(),
                    Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
                    other => {
                        return Err(type_error(
                            Code::E0108,
                            "cannot iterate over this value",
                            collection.span,
                            format!(
                                "A for-expression needs a list or a map, but this is a {}.",
                                other.kind()
                            ),
                        )
                        .with_label(format!("this is a {}", other.kind())))
                    }
                };
                let depth = self.locals.len();
                let result = self.eval_for(
                    items,
                    key,
                    value,
                    key_expr.as_deref(),
                    value_expr,
                    cond.as_deref(),
                    e.span,
                );
                self.locals.truncate(depth);
                Ok(wrap(result?, secret))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_for(
        &mut self,
        items: Vec<(Value, Value)>,
        key: &Option<String>,
        value: &str,
        key_expr: Option<&Expr>,
        value_expr: &Expr,
        cond: Option<&Expr>,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let depth = self.locals.len();
        let mut list = Vec::new();
        let mut map = BTreeMap::new();
        let mut unknown = false;
        let mut secret = false;
        for (k, v) in items {
            self.step(span)?;
            self.locals.truncate(depth);
            if let Some(kn) = key {
                self.locals.push((kn.clone(), k));
            }
            self.locals.push((value.to_string(), v));
            if let Some(c) = cond {
                let (cv, cs) = open(self.eval(c)?);
                match cv {
                    Value::Bool(true) => {}
                    Value::Bool(false) => continue,
                    Value::Unknown => {
                        unknown = true;
                        continue;
                    }
                    other => {
                        return Err(type_error(
                            Code::E0102,
                            "condition is not a bool",
                            c.span,
                            format!("The `if` filter of a for-expression must be true or false, but this is a {}.", other.kind()),
                        ))
                    }
                }
                secret |= cs;
            }
            let out = self.eval(value_expr)?;
            match key_expr {
                None => list.push(out),
                Some(kx) => {
                    let (kv, ks) = open(self.eval(kx)?);
                    let kstr = match kv {
                        Value::Unknown => {
                            unknown = true;
                            continue;
                        }
                        _ if ks => {
                            return Err(Diagnostic::error(Code::E0108, "secret used as a map key", kx.span)
                                .with_detail("A secret cannot become a map key, because keys are shown in plans."))
                        }
                        other => match functions::scalar_to_string(&other) {
                            Some(s) => s,
                            None => {
                                return Err(type_error(
                                    Code::E0108,
                                    "map key is not a string",
                                    kx.span,
                                    format!("The key of a map for-expression must be a string, but this is a {}.", other.kind()),
                                ))
                            }
                        },
                    };
                    if map.insert(kstr.clone(), out).is_some() {
                        return Err(Diagnostic::error(Code::E0109, "duplicate key in for-expression", kx.span)
                            .with_detail(format!("Two elements produce the key `{kstr}`; each key of a map may appear once."))
                            .with_label("this key repeats"));
                    }
                }
            }
        }
        if unknown {
            return Ok(wrap(Value::Unknown, secret));
        }
        Ok(wrap(
            if key_expr.is_some() {
                Value::Map(map)
            } else {
                Value::List(list)
            },
            secret,
        ))
    }
}

/// Whether `x` evaluates to a resource's object (a reference, or an indexed group).
fn from_resource(x: &Expr) -> bool {
    match &x.kind {
        ExprKind::Resource(_) => true,
        ExprKind::Index(inner, _) => matches!(inner.kind, ExprKind::Resource(_)),
        _ => false,
    }
}

fn logic_error(op: BinaryOp, kind: String, span: Span) -> Diagnostic {
    type_error(
        Code::E0101,
        "operator cannot be applied to this type",
        span,
        format!(
            "`{}` needs bools on both sides, but this is a {kind}.",
            op.symbol()
        ),
    )
    .with_label(format!("this is a {kind}"))
}

fn get_attr(v: Value, name: &str, resource: bool, span: Span) -> Result<Value, Diagnostic> {
    let (v, secret) = open(v);
    let out = match v {
        Value::Unknown => Value::Unknown,
        Value::Map(mut m) => match m.remove(name) {
            Some(x) => x,
            None if resource => Value::Unknown,
            None => {
                let mut d = Diagnostic::error(Code::E0104, "no such attribute", span)
                    .with_detail(format!("The object has no attribute `{name}`."))
                    .with_label("not an attribute of this object");
                if let Some(s) = suggest(name, m.keys().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                return Err(d);
            }
        },
        other => {
            let kind = other.kind();
            let mut d = Diagnostic::error(Code::E0104, "attribute access on a non-object", span)
                .with_detail(format!(
                    "Only objects have attributes, but `.{name}` is used on a {kind}."
                ))
                .with_label(format!("this is a {kind}"));
            if kind == gig_core::value::ValueKind::List {
                d = d.with_help(format!(
                    "pick an element first (`x[0].{name}`) or use `[for x in … : x.{name}]`"
                ));
            }
            return Err(d);
        }
    };
    Ok(wrap(out, secret))
}

fn index(v: Value, i: Value, span: Span) -> Result<Value, Diagnostic> {
    let (v, vs) = open(v);
    let (i, is) = open(i);
    let secret = vs || is;
    if v == Value::Unknown || i == Value::Unknown {
        return Ok(wrap(Value::Unknown, secret));
    }
    let out = match (v, &i) {
        (Value::List(mut xs), Value::Number(n)) => {
            if n.fract() != 0.0 || *n < 0.0 || *n >= xs.len() as f64 {
                let len = xs.len();
                let shown = if is { "(secret)".to_string() } else { functions::number_to_string(*n) };
                return Err(Diagnostic::error(Code::E0103, "index out of range", span)
                    .with_detail(format!("The list has {len} element(s), so index {shown} does not exist; indexes are whole numbers from 0."))
                    .with_label("no such element"));
            }
            xs.swap_remove(*n as usize)
        }
        (Value::Map(mut m), Value::String(k)) => match m.remove(k) {
            Some(x) => x,
            None => {
                let shown = if is { "(secret)" } else { k.as_str() };
                let mut d = Diagnostic::error(Code::E0103, "key not found", span)
                    .with_detail(format!("The map has no key `{shown}`."))
                    .with_label("no such key")
                    .with_help("use lookup(map, key, default) to fall back to a default");
                if !is {
                    if let Some(s) = suggest(k, m.keys().map(String::as_str)) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                }
                return Err(d);
            }
        },
        (v, i) => {
            return Err(type_error(
                Code::E0105,
                "cannot index this value",
                span,
                format!(
                    "Lists are indexed by numbers and maps by strings, but this indexes a {} with a {}.",
                    v.kind(),
                    i.kind()
                ),
            )
            .with_label(format!("a {} indexed by a {}", v.kind(), i.kind())))
        }
    };
    Ok(wrap(out, secret))
}

fn unary(op: UnaryOp, v: Value, span: Span) -> Result<Value, Diagnostic> {
    let secret = v.is_secret();
    let (v, _) = open(v);
    let out = match (op, v) {
        (_, Value::Unknown) => Value::Unknown,
        (UnaryOp::Not, Value::Bool(b)) => Value::Bool(!b),
        (UnaryOp::Neg, Value::Number(n)) => Value::Number(-n),
        (op, v) => {
            let (sym, want) = match op {
                UnaryOp::Not => ("!", "a bool"),
                UnaryOp::Neg => ("-", "a number"),
            };
            return Err(type_error(
                Code::E0101,
                "operator cannot be applied to this type",
                span,
                format!("`{sym}` needs {want}, but got a {}.", v.kind()),
            )
            .with_label(format!("`{sym}` applied to a {}", v.kind())));
        }
    };
    Ok(wrap(out, secret))
}

fn binary(op: BinaryOp, l: Value, r: Value, span: Span) -> Result<Value, Diagnostic> {
    let secret = l.is_secret() || r.is_secret();
    if l.is_unknown() || r.is_unknown() {
        return Ok(wrap(Value::Unknown, secret));
    }
    let l = functions::strip_secrets(&l);
    let r = functions::strip_secrets(&r);
    let mismatch = |want: &str| {
        type_error(
            Code::E0101,
            "operator cannot be applied to these types",
            span,
            format!(
                "`{}` needs {want}, but got a {} and a {}.",
                op.symbol(),
                l.kind(),
                r.kind()
            ),
        )
        .with_label(format!("{} {} {}", l.kind(), op.symbol(), r.kind()))
    };
    let out = match op {
        BinaryOp::Eq => Value::Bool(l == r),
        BinaryOp::Ne => Value::Bool(l != r),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let ord = match (&l, &r) {
                (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => return Err(mismatch("two numbers or two strings")),
            };
            let Some(ord) = ord else {
                return Ok(Value::Bool(false));
            };
            Value::Bool(match op {
                BinaryOp::Lt => ord.is_lt(),
                BinaryOp::Le => ord.is_le(),
                BinaryOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
            let (Value::Number(a), Value::Number(b)) = (&l, &r) else {
                let mut d = mismatch("two numbers");
                if op == BinaryOp::Add
                    && (l.kind() == gig_core::value::ValueKind::String
                        || r.kind() == gig_core::value::ValueKind::String)
                {
                    d = d.with_help("join strings with a template: \"${a}${b}\"");
                }
                return Err(d);
            };
            if matches!(op, BinaryOp::Div | BinaryOp::Rem) && *b == 0.0 {
                return Err(Diagnostic::error(Code::E0106, "division by zero", span)
                    .with_detail(format!("The right-hand side of `{}` is zero.", op.symbol()))
                    .with_label("divides by zero"));
            }
            let n = match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                _ => a % b,
            };
            if !n.is_finite() {
                return Err(Diagnostic::error(Code::E0106, "number out of range", span)
                    .with_detail("The result of this arithmetic is too large to represent."));
            }
            Value::Number(n)
        }
        BinaryOp::And | BinaryOp::Or => match (&l, &r) {
            (Value::Bool(a), Value::Bool(b)) => Value::Bool(if op == BinaryOp::And {
                *a && *b
            } else {
                *a || *b
            }),
            _ => return Err(mismatch("two bools")),
        },
    };
    Ok(wrap(out, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ObjectEntry;
    use gig_core::addr::Mode;
    use gig_core::span::FileId;

    fn sp(a: usize) -> Span {
        Span::new(FileId(0), a, a + 1)
    }

    fn c(v: Value) -> Expr {
        Expr::constant(v, sp(0))
    }

    fn e(kind: ExprKind) -> Expr {
        Expr { kind, span: sp(1) }
    }

    fn bin(op: BinaryOp, a: Expr, b: Expr) -> Expr {
        e(ExprKind::Binary(op, Box::new(a), Box::new(b)))
    }

    fn vpc_ref() -> ResourceRef {
        ResourceRef {
            module: vec![],
            mode: Mode::Managed,
            rtype: "aws.vpc".into(),
            name: "main".into(),
            key: None,
        }
    }

    struct OneVpc;
    impl Scope for OneVpc {
        fn resource(&self, r: &ResourceRef) -> Option<Value> {
            (r == &vpc_ref()).then(|| {
                Value::Map(
                    [
                        ("id".to_string(), Value::from("vpc-1")),
                        ("cidr_block".to_string(), Value::from("10.0.0.0/16")),
                    ]
                    .into(),
                )
            })
        }
    }

    fn n(x: f64) -> Expr {
        c(Value::Number(x))
    }

    #[test]
    fn arithmetic_and_comparison() {
        assert_eq!(
            eval(&bin(BinaryOp::Add, n(1.0), n(2.0)), &NoResources).unwrap(),
            Value::Number(3.0)
        );
        assert_eq!(
            eval(&bin(BinaryOp::Rem, n(7.0), n(4.0)), &NoResources).unwrap(),
            Value::Number(3.0)
        );
        assert_eq!(
            eval(&bin(BinaryOp::Lt, n(1.0), n(2.0)), &NoResources).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            eval(
                &bin(BinaryOp::Eq, c(Value::from("a")), c(Value::from("a"))),
                &NoResources
            )
            .unwrap(),
            Value::Bool(true)
        );
        let err = eval(
            &bin(BinaryOp::Add, c(Value::from("a")), n(1.0)),
            &NoResources,
        )
        .unwrap_err();
        assert_eq!(err.code, Code::E0101);
        assert!(
            err.detail.contains("string") && err.detail.contains("number"),
            "{}",
            err.detail
        );
        assert_eq!(
            eval(&bin(BinaryOp::Div, n(1.0), n(0.0)), &NoResources)
                .unwrap_err()
                .code,
            Code::E0106
        );
    }

    #[test]
    fn unknown_is_contagious_but_conditionals_and_short_circuits_are_lazy() {
        let unk = c(Value::Unknown);
        assert_eq!(
            eval(&bin(BinaryOp::Add, unk.clone(), n(1.0)), &NoResources).unwrap(),
            Value::Unknown
        );
        assert_eq!(
            eval(
                &bin(BinaryOp::And, c(Value::Bool(false)), unk.clone()),
                &NoResources
            )
            .unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            eval(
                &bin(BinaryOp::Or, c(Value::Bool(true)), unk.clone()),
                &NoResources
            )
            .unwrap(),
            Value::Bool(true)
        );
        let cond = e(ExprKind::Conditional(
            Box::new(c(Value::Bool(true))),
            Box::new(n(1.0)),
            Box::new(unk.clone()),
        ));
        assert_eq!(eval(&cond, &NoResources).unwrap(), Value::Number(1.0));
        let len = e(ExprKind::Call(
            "length".into(),
            vec![e(ExprKind::List(vec![unk.clone(), n(1.0)]))],
        ));
        assert_eq!(eval(&len, &NoResources).unwrap(), Value::Number(2.0));
        let bad = e(ExprKind::Conditional(
            Box::new(n(1.0)),
            Box::new(n(1.0)),
            Box::new(n(2.0)),
        ));
        assert_eq!(eval(&bad, &NoResources).unwrap_err().code, Code::E0102);
    }

    #[test]
    fn secrets_propagate_through_templates_and_operators() {
        let secret = c(Value::from("pw").into_secret());
        let t = e(ExprKind::Template(vec![
            TemplatePart::Literal("user:".into()),
            TemplatePart::Interpolation(secret.clone()),
        ]));
        assert_eq!(
            eval(&t, &NoResources).unwrap(),
            Value::from("user:pw").into_secret()
        );
        let eq = bin(BinaryOp::Eq, secret.clone(), c(Value::from("pw")));
        assert_eq!(
            eval(&eq, &NoResources).unwrap(),
            Value::Bool(true).into_secret()
        );
        let list = e(ExprKind::List(vec![secret, n(1.0)]));
        let v = eval(&list, &NoResources).unwrap();
        assert!(v.is_secret());
        assert!(matches!(v, Value::List(_)));
    }

    #[test]
    fn resource_attributes_resolve_through_the_scope() {
        let r = e(ExprKind::Resource(vpc_ref()));
        let id = e(ExprKind::GetAttr(Box::new(r.clone()), "id".into()));
        assert_eq!(eval(&id, &OneVpc).unwrap(), Value::from("vpc-1"));
        assert_eq!(eval(&id, &NoResources).unwrap(), Value::Unknown);
        // A missing attribute on a resource object is unknown, not an error.
        let arn = e(ExprKind::GetAttr(Box::new(r), "arn".into()));
        assert_eq!(eval(&arn, &OneVpc).unwrap(), Value::Unknown);
        let cidr = e(ExprKind::Call(
            "cidrsubnet".into(),
            vec![
                e(ExprKind::GetAttr(
                    Box::new(e(ExprKind::Resource(vpc_ref()))),
                    "cidr_block".into(),
                )),
                n(8.0),
                n(1.0),
            ],
        ));
        assert_eq!(eval(&cidr, &OneVpc).unwrap(), Value::from("10.0.1.0/24"));
    }

    #[test]
    fn object_attribute_errors_suggest_names() {
        let obj = e(ExprKind::Object(vec![ObjectEntry {
            key: "vpc_id".into(),
            key_span: sp(0),
            value: n(1.0),
        }]));
        let get = e(ExprKind::GetAttr(Box::new(obj), "vpcid".into()));
        let err = eval(&get, &NoResources).unwrap_err();
        assert_eq!(err.code, Code::E0104);
        assert_eq!(err.help.as_deref(), Some("did you mean `vpc_id`?"));
    }

    #[test]
    fn indexing() {
        let list = c(Value::List(vec![Value::from("a"), Value::from("b")]));
        let ix = |i: Expr| e(ExprKind::Index(Box::new(list.clone()), Box::new(i)));
        assert_eq!(eval(&ix(n(1.0)), &NoResources).unwrap(), Value::from("b"));
        assert_eq!(
            eval(&ix(n(2.0)), &NoResources).unwrap_err().code,
            Code::E0103
        );
        assert_eq!(
            eval(&ix(c(Value::from("x"))), &NoResources)
                .unwrap_err()
                .code,
            Code::E0105
        );
    }

    #[test]
    fn for_expressions_and_folding() {
        let xs = c(Value::List(vec![Value::from("a"), Value::from("b")]));
        let upper = e(ExprKind::For {
            key: Some("i".into()),
            value: "x".into(),
            collection: Box::new(xs.clone()),
            key_expr: Some(Box::new(e(ExprKind::Local("x".into())))),
            value_expr: Box::new(e(ExprKind::Local("i".into()))),
            cond: None,
        });
        let mut diags = Vec::new();
        let folded = fold(upper, &mut diags);
        assert!(diags.is_empty());
        assert_eq!(
            folded.as_const(),
            Some(&Value::Map(
                [
                    ("a".into(), Value::Number(0.0)),
                    ("b".into(), Value::Number(1.0))
                ]
                .into()
            ))
        );
        let dup = e(ExprKind::For {
            key: None,
            value: "x".into(),
            collection: Box::new(xs),
            key_expr: Some(Box::new(c(Value::from("same")))),
            value_expr: Box::new(e(ExprKind::Local("x".into()))),
            cond: None,
        });
        assert_eq!(eval(&dup, &NoResources).unwrap_err().code, Code::E0109);
        // A residual subtree stays residual; its constant siblings fold.
        let residual = bin(
            BinaryOp::Add,
            e(ExprKind::GetAttr(
                Box::new(e(ExprKind::Resource(vpc_ref()))),
                "n".into(),
            )),
            bin(BinaryOp::Mul, n(2.0), n(3.0)),
        );
        let folded = fold(residual, &mut diags);
        match folded.kind {
            ExprKind::Binary(_, _, b) => assert_eq!(b.as_const(), Some(&Value::Number(6.0))),
            other => panic!("not folded as expected: {other:?}"),
        }
    }

    #[test]
    fn runaway_iteration_hits_the_budget() {
        let big = e(ExprKind::Call("range".into(), vec![n(100_000.0)]));
        let inner = e(ExprKind::For {
            key: None,
            value: "y".into(),
            collection: Box::new(big.clone()),
            key_expr: None,
            value_expr: Box::new(e(ExprKind::Local("y".into()))),
            cond: None,
        });
        let outer = e(ExprKind::For {
            key: None,
            value: "x".into(),
            collection: Box::new(big),
            key_expr: None,
            value_expr: Box::new(inner),
            cond: None,
        });
        assert_eq!(eval(&outer, &NoResources).unwrap_err().code, Code::E0119);
    }

    fn vpc_attr(name: &str) -> Expr {
        e(ExprKind::GetAttr(
            Box::new(e(ExprKind::Resource(vpc_ref()))),
            name.into(),
        ))
    }

    fn try_of(args: Vec<Expr>) -> Expr {
        e(ExprKind::Call("try".into(), args))
    }

    #[test]
    fn try_takes_the_first_argument_that_evaluates() {
        // Indexing a string fails (E0105), so the fallback is used.
        let bad = e(ExprKind::Index(
            Box::new(vpc_attr("cidr_block")),
            Box::new(c(Value::from("x"))),
        ));
        let fallback = c(Value::from("d"));
        assert_eq!(
            eval(&try_of(vec![bad.clone(), fallback.clone()]), &OneVpc).unwrap(),
            Value::from("d")
        );
        assert_eq!(
            eval(&try_of(vec![vpc_attr("id"), fallback.clone()]), &OneVpc).unwrap(),
            Value::from("vpc-1")
        );
        // Unknown stays unknown: the argument might still fail once known.
        assert_eq!(
            eval(&try_of(vec![vpc_attr("id"), fallback]), &NoResources).unwrap(),
            Value::Unknown
        );
        // When every argument fails, the last one's error is reported.
        let err = eval(&try_of(vec![bad.clone(), bad]), &OneVpc).unwrap_err();
        assert_eq!(err.code, Code::E0105);
    }

    #[test]
    fn splat_over_an_expanded_resource_lists_instances_in_key_order() {
        struct Subnets;
        impl Scope for Subnets {
            fn resource(&self, _r: &ResourceRef) -> Option<Value> {
                let subnet = |id: &str| Value::Map([("id".to_string(), Value::from(id))].into());
                Some(Value::Map(
                    [
                        ("b".to_string(), subnet("subnet-b")),
                        ("a".to_string(), subnet("subnet-a")),
                    ]
                    .into(),
                ))
            }
        }
        let splat = e(ExprKind::For {
            key: None,
            value: SPLAT_ELEMENT.into(),
            collection: Box::new(e(ExprKind::Resource(vpc_ref()))),
            key_expr: None,
            value_expr: Box::new(e(ExprKind::GetAttr(
                Box::new(e(ExprKind::Local(SPLAT_ELEMENT.into()))),
                "id".into(),
            ))),
            cond: None,
        });
        assert_eq!(
            eval(&splat, &Subnets).unwrap(),
            Value::List(vec![Value::from("subnet-a"), Value::from("subnet-b")])
        );
        assert_eq!(render(&splat), "aws.vpc.main[*].id");
    }
}
