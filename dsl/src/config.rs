//! The lowered configuration: what the engine consumes.
//!
//! Lowering resolves params, lets, modules and expansions. Whatever is known is folded
//! into [`ExprKind::Const`]; what depends on a resource attribute stays as a residual
//! [`Expr`] over [`ExprKind::Resource`] references, to be evaluated by the engine (at
//! plan time against Prior/Planned values, at apply time against New values) with
//! [`crate::eval::eval`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ast::{BinaryOp, UnaryOp};
use gig_core::addr::{InstanceKey, Mode, ResourceAddr};
use gig_core::span::Span;
use gig_core::value::Value;

/// A whole stack after lowering.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The stack's name: `--stack-name`, else the `stack` block's `name`, else the
    /// directory's name (see [`Config::stack_source`]).
    pub stack: String,
    /// Where [`Config::stack`] came from.
    pub stack_source: StackSource,
    /// The environment selected with `--env`, if any.
    pub env: Option<String>,
    /// Final param values of the root module.
    pub params: BTreeMap<String, ParamValue>,
    /// Provider settings by provider name. Every provider a resource uses appears here,
    /// with an empty map when it had no block.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Every resource instance (managed and data), sorted by address.
    pub resources: Vec<ResourceConfig>,
    /// Root outputs, sorted by name.
    pub outputs: Vec<OutputConfig>,
    /// `moved` blocks of every module, in source order (module by module).
    pub moves: Vec<MovedConfig>,
    /// `import` blocks of the root module, in source order.
    pub imports: Vec<ImportConfig>,
    /// Resources expanded over the values of data sources: their instances are made
    /// once the data sources are read ([`crate::expansion::expand_deferred`]).
    pub deferred: Vec<DeferredResource>,
    /// The stack's `state { … }` block, when it has one.
    pub state: Option<StateConfig>,
}

/// Where the stack's state lives, from its `state { … }` block: plain strings, with
/// params and env values already put in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateConfig {
    /// `location`: a directory or `s3://BUCKET/PREFIX`.
    pub location: Option<String>,
    /// `lock_timeout`: how long to wait for a held lock (`30s`, `5m`).
    pub lock_timeout: Option<String>,
    /// `kms_key_id`: the KMS key that encrypts the state (id, ARN or alias).
    pub kms_key_id: Option<String>,
    /// The block.
    pub span: Span,
}

impl Config {
    /// The resource instance at `addr`.
    pub fn resource(&self, addr: &ResourceAddr) -> Option<&ResourceConfig> {
        self.resources
            .binary_search_by(|r| r.addr.cmp(addr))
            .ok()
            .map(|i| &self.resources[i])
    }
}

/// Where a stack's name came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StackSource {
    /// The stack directory's name: nothing was declared.
    #[default]
    Directory,
    /// `stack { name = "…" }`, at this span (the name's value).
    Declared(Span),
    /// The `--stack-name` option.
    Flag,
}

impl StackSource {
    /// Whether the user chose the name (a `stack` block or `--stack-name`).
    pub fn is_explicit(self) -> bool {
        !matches!(self, StackSource::Directory)
    }
}

/// The longest stack name.
pub const MAX_STACK_NAME: usize = 40;

/// Checks a declared stack name: 1 to [`MAX_STACK_NAME`] lowercase ASCII letters, digits
/// and dashes, starting with a letter and not ending with a dash. Stack names go into
/// cloud tags and into names gig derives for cloud objects, so they stay within what
/// every provider accepts. The error completes the sentence "The stack's name …".
pub fn check_stack_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty.".into());
    }
    if name.len() > MAX_STACK_NAME {
        return Err(format!(
            "has {} characters; at most {MAX_STACK_NAME} are allowed.",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter.".into());
    }
    if name.ends_with('-') {
        return Err("must not end with a dash.".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "holds {}; only lowercase letters, digits and dashes are allowed.",
            if c.is_ascii_graphic() {
                format!("`{c}`")
            } else {
                "a character outside that set".to_string()
            }
        ));
    }
    Ok(())
}

/// A param's final value.
#[derive(Clone, Debug)]
pub struct ParamValue {
    /// The value (wrapped in [`Value::Secret`] when the param is secret).
    pub value: Value,
    /// Declared secret.
    pub secret: bool,
    /// Where it was declared.
    pub span: Span,
}

/// A `provider NAME { … }` block, evaluated (must be known at plan time).
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// Provider name.
    pub name: String,
    /// Settings as a map value.
    pub settings: Value,
    /// Where the block is (`Span::DETACHED` when implicit).
    pub span: Span,
}

/// `lifecycle { … }` options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// A plan that would destroy this resource fails.
    pub prevent_destroy: bool,
    /// On replace, create the new one before deleting the old one.
    pub create_before_destroy: bool,
    /// Attribute names whose differences the planner ignores.
    pub ignore_changes: Vec<String>,
}

/// Why one resource depends on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DependencyKind {
    /// An expression references it.
    Reference,
    /// Listed in `depends_on`.
    DependsOn,
}

/// An edge: this resource needs `target` to exist first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Dependency {
    /// The instance depended on.
    pub target: ResourceAddr,
    /// The reference or `depends_on` entry that made the edge.
    pub span: Span,
    /// Reference or depends_on.
    pub kind: DependencyKind,
}

/// One resource instance after expansion.
#[derive(Clone, Debug)]
pub struct ResourceConfig {
    /// Its address.
    pub addr: ResourceAddr,
    /// The whole resource block in the source.
    pub span: Span,
    /// The block header (`resource aws.vpc main`), for short labels.
    pub header_span: Span,
    /// The provider that manages it (first segment of the type).
    pub provider: String,
    /// The body: an [`ExprKind::Object`] whose entries are the attributes; nested
    /// blocks become lists of objects under the block's name (`ingress = [{…}, {…}]`).
    /// Meta-arguments (`count`, `depends_on`, `lifecycle`, `provider`) are removed.
    pub body: Expr,
    /// Dependencies, sorted and de-duplicated by target.
    pub dependencies: Vec<Dependency>,
    /// Lifecycle options.
    pub lifecycle: Lifecycle,
}

/// A resource whose `for` collection or `count` is read from data sources, so its
/// instances are known only while planning. Its body is lowered once, with the `for`
/// variables (or `count`) left as [`ExprKind::Local`]s that each instance binds.
#[derive(Clone, Debug)]
pub struct DeferredResource {
    /// What every instance starts from: the address without a key, and the body (with
    /// the variables unbound) and dependencies all instances share.
    pub resource: ResourceConfig,
    /// `count` (true) or `for` (false).
    pub count: bool,
    /// The `for` head's key variable, if any.
    pub key_var: Option<String>,
    /// The `for` head's element variable (`count` for `count`).
    pub value_var: String,
    /// The collection (or count), residual over data sources only.
    pub collection: Expr,
}

/// A `moved` block: the record at `from` is the record at `to` from now on.
///
/// When neither address has a key they name whole resources: every instance moves,
/// keeping its key. Otherwise one instance moves (an address without a key then names
/// the instance of a resource that is not expanded). Addresses in a module's `moved` block are already prefixed with the
/// module's path.
#[derive(Clone, Debug, PartialEq)]
pub struct MovedConfig {
    /// The old address.
    pub from: ResourceAddr,
    /// The new address.
    pub to: ResourceAddr,
    /// Where `from` is written.
    pub from_span: Span,
    /// Where `to` is written.
    pub to_span: Span,
    /// The whole block.
    pub span: Span,
}

/// An `import` block: the object with cloud id `id` is adopted at `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportConfig {
    /// The instance that takes the object.
    pub to: ResourceAddr,
    /// The object's cloud id.
    pub id: String,
    /// Where `to` is written.
    pub to_span: Span,
    /// Where `id` is written.
    pub id_span: Span,
    /// The whole block.
    pub span: Span,
}

/// `output NAME = …`
#[derive(Clone, Debug)]
pub struct OutputConfig {
    /// Name.
    pub name: String,
    /// Value, possibly residual.
    pub value: Expr,
    /// Declared or inferred secret (built from a secret).
    pub secret: bool,
    /// Where declared.
    pub span: Span,
}

/// A reference to a resource instance, or to all instances of an expanded resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    /// Module path.
    pub module: Vec<String>,
    /// Managed or data.
    pub mode: Mode,
    /// `aws.subnet`
    pub rtype: String,
    /// `private`
    pub name: String,
    /// `Some` for one instance (`aws.subnet.private["a"]`); `None` for an unexpanded
    /// resource's single instance or, for an expanded resource, all of its instances
    /// (evaluates to a map by key, or a list for `count`).
    pub key: Option<InstanceKey>,
}

impl ResourceRef {
    /// The address this reference names (the group address when `key` is `None`).
    pub fn addr(&self) -> ResourceAddr {
        ResourceAddr {
            module: self.module.clone(),
            mode: self.mode,
            rtype: self.rtype.clone(),
            name: self.name.clone(),
            key: self.key.clone(),
        }
    }
}

/// A lowered expression: the source AST with names resolved and constants folded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it came from.
    pub span: Span,
}

/// An object entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectEntry {
    /// The key.
    pub key: String,
    /// Where the key (or nested block name) is written.
    pub key_span: Span,
    /// The value.
    pub value: Expr,
}

/// A string template part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TemplatePart {
    /// Literal text.
    Literal(String),
    /// `${ expr }`
    Interpolation(Expr),
}

/// The element variable of the `for` a splat lowers to (`x[*].id` is
/// `[for [*] in x : [*].id]`): not an identifier, so no user's name can shadow it or be
/// shadowed by it, and it renders back as the splat.
pub const SPLAT_ELEMENT: &str = "[*]";

/// Kinds of lowered expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ExprKind {
    /// A known value.
    Const(Value),
    /// The object of a resource instance, or the collection of an expanded resource.
    Resource(ResourceRef),
    /// A variable bound by an enclosing for-expression.
    Local(String),
    /// `[a, b]` with at least one residual element.
    List(Vec<Expr>),
    /// An object literal or a block body.
    Object(Vec<ObjectEntry>),
    /// `expr.name`
    GetAttr(Box<Expr>, String),
    /// `expr[index]`
    Index(Box<Expr>, Box<Expr>),
    /// A standard-library call.
    Call(String, Vec<Expr>),
    /// `!x`, `-x`
    Unary(UnaryOp, Box<Expr>),
    /// `a op b`
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
    /// A string with interpolations.
    Template(Vec<TemplatePart>),
    /// `[for …]` (`key_expr` is `None`) or `{for …}`.
    For {
        /// First variable when two are given.
        key: Option<String>,
        /// Element variable.
        value: String,
        /// The collection.
        collection: Box<Expr>,
        /// Result key for the map form.
        key_expr: Option<Box<Expr>>,
        /// Result element / value.
        value_expr: Box<Expr>,
        /// Optional filter.
        cond: Option<Box<Expr>>,
    },
}

impl Expr {
    /// A constant.
    pub fn constant(value: Value, span: Span) -> Expr {
        Expr {
            kind: ExprKind::Const(value),
            span,
        }
    }

    /// The value when wholly known at lowering time.
    pub fn as_const(&self) -> Option<&Value> {
        match &self.kind {
            ExprKind::Const(v) => Some(v),
            _ => None,
        }
    }

    /// For an object expression: the entry named `key`.
    pub fn entry(&self, key: &str) -> Option<&ObjectEntry> {
        match &self.kind {
            ExprKind::Object(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// Every resource reference inside, in source order.
    pub fn references(&self) -> Vec<&ResourceRef> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let ExprKind::Resource(r) = &e.kind {
                out.push(r);
            }
        });
        out
    }

    /// This expression with `f` applied to each direct sub-expression, in source order.
    /// The flag tells `f` whether the child is inside a `for`'s own variables (its key,
    /// value and condition expressions), where they hide outer names.
    pub fn map_children(self, f: &mut impl FnMut(Expr, bool) -> Expr) -> Expr {
        let mut boxed = |x: Box<Expr>, in_loop: bool| Box::new(f(*x, in_loop));
        let kind = match self.kind {
            k @ (ExprKind::Const(_) | ExprKind::Resource(_) | ExprKind::Local(_)) => k,
            ExprKind::List(xs) => ExprKind::List(xs.into_iter().map(|x| f(x, false)).collect()),
            ExprKind::Call(n, xs) => {
                ExprKind::Call(n, xs.into_iter().map(|x| f(x, false)).collect())
            }
            ExprKind::Object(es) => ExprKind::Object(
                es.into_iter()
                    .map(|mut e| {
                        e.value = f(e.value, false);
                        e
                    })
                    .collect(),
            ),
            ExprKind::GetAttr(x, n) => ExprKind::GetAttr(boxed(x, false), n),
            ExprKind::Index(a, b) => {
                let a = boxed(a, false);
                ExprKind::Index(a, boxed(b, false))
            }
            ExprKind::Unary(op, x) => ExprKind::Unary(op, boxed(x, false)),
            ExprKind::Binary(op, a, b) => {
                let a = boxed(a, false);
                ExprKind::Binary(op, a, boxed(b, false))
            }
            ExprKind::Conditional(c, a, b) => {
                let c = boxed(c, false);
                let a = boxed(a, false);
                ExprKind::Conditional(c, a, boxed(b, false))
            }
            ExprKind::Template(parts) => ExprKind::Template(
                parts
                    .into_iter()
                    .map(|p| match p {
                        TemplatePart::Interpolation(x) => TemplatePart::Interpolation(f(x, false)),
                        lit => lit,
                    })
                    .collect(),
            ),
            ExprKind::For {
                key,
                value,
                collection,
                key_expr,
                value_expr,
                cond,
            } => {
                let collection = boxed(collection, false);
                let key_expr = key_expr.map(|k| boxed(k, true));
                let value_expr = boxed(value_expr, true);
                ExprKind::For {
                    key,
                    value,
                    collection,
                    key_expr,
                    value_expr,
                    cond: cond.map(|c| boxed(c, true)),
                }
            }
        };
        Expr {
            kind,
            span: self.span,
        }
    }

    /// Calls `f` on this expression and every sub-expression, pre-order.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Const(_) | ExprKind::Resource(_) | ExprKind::Local(_) => {}
            ExprKind::List(xs) | ExprKind::Call(_, xs) => xs.iter().for_each(|x| x.walk(f)),
            ExprKind::Object(es) => es.iter().for_each(|e| e.value.walk(f)),
            ExprKind::GetAttr(x, _) | ExprKind::Unary(_, x) => x.walk(f),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            ExprKind::Conditional(a, b, c) => {
                a.walk(f);
                b.walk(f);
                c.walk(f);
            }
            ExprKind::Template(parts) => parts.iter().for_each(|p| {
                if let TemplatePart::Interpolation(x) = p {
                    x.walk(f);
                }
            }),
            ExprKind::For {
                collection,
                key_expr,
                value_expr,
                cond,
                ..
            } => {
                collection.walk(f);
                if let Some(k) = key_expr {
                    k.walk(f);
                }
                value_expr.walk(f);
                if let Some(c) = cond {
                    c.walk(f);
                }
            }
        }
    }
}
