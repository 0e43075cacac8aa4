//! The plan file's own schema (format version [`super::FORMAT_VERSION`]), documented in
//! docs/plan-file.md.
//!
//! These types are the file: they change only with the format version. The engine's
//! [`Plan`] and the language's lowered expressions are converted to and from them, so a
//! refactor of the planner or of lowering cannot silently change what a saved plan
//! holds; a conversion that would have to change the file fails to compile here instead.
//! Addresses are written as address strings, attribute paths as lists of keys and
//! indexes, operators as written in the language, and values in gig's value JSON
//! (`{"$unknown": true}`, `{"$secret": …}`).

use std::collections::{BTreeMap, BTreeSet};

use gig_core::addr::ResourceAddr;
use gig_core::path::AttrPath;
use gig_core::span::{FileId, Span};
use gig_core::value::Value;
use gig_dsl::ast::{BinaryOp, UnaryOp};
use gig_dsl::config::{Expr, ExprKind, Lifecycle, ObjectEntry, ResourceRef, TemplatePart};
use serde::{Deserialize, Serialize};

use crate::model::{Action, AttrChange, OutputChange, Plan, ResourceChange, Summary};
use crate::recover::Resolution;

/// The plan inside a plan file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePlan {
    /// Stack name.
    pub stack: String,
    /// Environment name.
    pub env: String,
    /// Whether this is a destroy plan.
    pub destroy: bool,
    /// Every managed instance in config or state, sorted by address.
    pub changes: Vec<FileChange>,
    /// Data source values read at plan time, by address.
    pub data: BTreeMap<String, Value>,
    /// Root outputs.
    pub outputs: Vec<FileOutput>,
    /// Counts of the summary line.
    pub summary: FileSummary,
    /// Addresses refresh found deleted outside gig (display only); absent when none.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub deleted_outside: BTreeSet<String>,
    /// Create intents resolved while planning: address → the adopted object's id, or
    /// `null` when no object was made. Absent when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recovered: BTreeMap<String, Option<String>>,
    /// Records `moved` blocks move: new address → the address state records it at.
    /// Absent when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub moved: BTreeMap<String, String>,
    /// Objects `import` blocks adopt: address → cloud id. Absent when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imported: BTreeMap<String, String>,
    /// Deposed objects the apply deletes, sorted by address and id. Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<FileDeposed>,
    /// Only some instances were planned (`--target`/`--exclude`): apply leaves the
    /// outputs alone. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// An object a create-before-destroy replacement deposed at its address and did not
/// delete yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDeposed {
    /// The address it was recorded at.
    pub address: String,
    /// Its provider.
    pub provider: String,
    /// The cloud id of the old object.
    pub id: String,
    /// Its last recorded value.
    pub value: Value,
    /// Addresses it depended on.
    pub dependencies: Vec<String>,
    /// Schema version of `value`.
    pub schema_version: u32,
    /// When it was deposed (RFC 3339, UTC).
    pub since: String,
}

/// One instance's planned change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileChange {
    /// The instance's address.
    pub address: String,
    /// Its provider.
    pub provider: String,
    /// `no_op`, `create`, `update`, `replace`, `delete` or `read`.
    pub action: Action,
    /// The cloud id from state.
    pub id: Option<String>,
    /// The Prior value.
    pub prior: Option<Value>,
    /// The Planned value; may hold unknowns.
    pub planned: Option<Value>,
    /// The residual body evaluated at apply time when `planned` has unknowns.
    pub body: Option<FileExpr>,
    /// For an update: the top-level attributes it changes.
    pub updated: Vec<String>,
    /// Attribute differences, for display.
    pub attributes: Vec<FileAttrChange>,
    /// Attributes forcing replacement, for display.
    pub replace_because: Vec<String>,
    /// Lifecycle options.
    pub lifecycle: FileLifecycle,
    /// Addresses this instance needs first.
    pub dependencies: Vec<String>,
    /// Schema version the value is written with.
    pub schema_version: u32,
    /// The resource block: `[file, start, end]` (file numbers follow the stack's sorted
    /// file list; `u32::MAX` when the instance is only in state).
    pub span: FileSpan,
}

/// A span as `[file, start, end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSpan(pub u32, pub u32, pub u32);

/// One attribute difference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAttrChange {
    /// Keys and indexes from the top-level attribute.
    pub path: AttrPath,
    /// Prior value.
    pub before: Option<Value>,
    /// Planned value.
    pub after: Option<Value>,
    /// Forces replacement.
    pub forces_replacement: bool,
    /// Secret.
    pub secret: bool,
}

/// Lifecycle options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLifecycle {
    /// `prevent_destroy`.
    pub prevent_destroy: bool,
    /// `create_before_destroy`.
    pub create_before_destroy: bool,
    /// `ignore_changes`.
    pub ignore_changes: Vec<String>,
}

/// An output's planned value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOutput {
    /// Name.
    pub name: String,
    /// Value from the last apply.
    pub before: Option<Value>,
    /// Planned value.
    pub after: Option<Value>,
    /// Residual expression evaluated after apply.
    pub expr: Option<FileExpr>,
    /// Secret.
    pub secret: bool,
}

/// Counts of the summary line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSummary {
    /// Creates.
    pub add: usize,
    /// Updates in place.
    pub change: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletes.
    pub destroy: usize,
}

/// A residual expression: what is left of a block or output after lowering folded
/// everything known at plan time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FileExpr {
    /// A known value.
    Value(Value),
    /// A resource instance, or all instances of an expanded resource, by address.
    Ref(String),
    /// A for-expression variable.
    Local(String),
    /// `[a, b]`
    List(Vec<FileExpr>),
    /// An object: entries in order.
    Object(Vec<(String, FileExpr)>),
    /// `e.name`
    Attr(Box<FileExpr>, String),
    /// `e[i]`
    Index(Box<FileExpr>, Box<FileExpr>),
    /// A standard-library call.
    Call(String, Vec<FileExpr>),
    /// `!e` or `-e`, the operator as written.
    Unary(String, Box<FileExpr>),
    /// `a op b`, the operator as written.
    Binary(String, Box<FileExpr>, Box<FileExpr>),
    /// `c ? a : b`
    Cond(Box<FileExpr>, Box<FileExpr>, Box<FileExpr>),
    /// A string template: literal text and interpolated expressions.
    Template(Vec<FilePart>),
    /// `[for …]` or `{for …}`.
    For(Box<FileFor>),
}

/// A template part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FilePart {
    /// Literal text.
    Text(String),
    /// `${ … }`
    Interp(FileExpr),
}

/// A for-expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileFor {
    /// First variable when two are given.
    pub key: Option<String>,
    /// Element variable.
    pub value: String,
    /// The collection.
    pub collection: FileExpr,
    /// Result key (map form only).
    pub key_expr: Option<FileExpr>,
    /// Result element or value.
    pub value_expr: FileExpr,
    /// Filter.
    pub cond: Option<FileExpr>,
}

/// Where a param's value came from when the plan was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamFrom {
    /// Its default or the env's gigvars file: the sources hold it.
    Config,
    /// A `GIG_PARAM_<name>` variable.
    Env,
    /// `--param name=value`.
    Flag,
}

/// A declared param as a plan file records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedParam {
    /// Where its value came from.
    pub from: ParamFrom,
    /// The text given by `--param` or `GIG_PARAM_*`, which apply gives again; absent
    /// for a secret param and one from the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The final value; absent for a secret param.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// For a secret param only: the SHA-256 of its final value, which apply compares
    /// with the value it is given again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Why a file's plan cannot be turned back into a [`Plan`].
pub type SchemaError = String;

impl FilePlan {
    /// The file form of `plan`.
    pub fn from_plan(plan: &Plan) -> FilePlan {
        FilePlan {
            stack: plan.stack.clone(),
            env: plan.env.clone(),
            destroy: plan.destroy,
            changes: plan.changes.iter().map(FileChange::from_change).collect(),
            data: plan
                .data
                .iter()
                .map(|(a, v)| (a.to_string(), v.clone()))
                .collect(),
            outputs: plan
                .outputs
                .iter()
                .map(|o| FileOutput {
                    name: o.name.clone(),
                    before: o.before.clone(),
                    after: o.after.clone(),
                    expr: o.expr.as_ref().map(FileExpr::from_expr),
                    secret: o.secret,
                })
                .collect(),
            summary: FileSummary {
                add: plan.summary.add,
                change: plan.summary.change,
                replace: plan.summary.replace,
                destroy: plan.summary.destroy,
            },
            partial: plan.partial,
            deleted_outside: plan
                .deleted_outside
                .iter()
                .map(ToString::to_string)
                .collect(),
            recovered: plan
                .recovered
                .iter()
                .map(|(a, r)| {
                    let id = match r {
                        Resolution::Adopted(id) => Some(id.clone()),
                        Resolution::Gone => None,
                    };
                    (a.to_string(), id)
                })
                .collect(),
            moved: plan
                .moved
                .iter()
                .map(|(to, from)| (to.to_string(), from.to_string()))
                .collect(),
            imported: plan
                .imported
                .iter()
                .map(|(a, id)| (a.to_string(), id.clone()))
                .collect(),
            deposed: plan
                .deposed
                .iter()
                .map(|d| FileDeposed {
                    address: d.addr.to_string(),
                    provider: d.provider.clone(),
                    id: d.id.clone(),
                    value: d.value.clone(),
                    dependencies: d.dependencies.iter().map(ToString::to_string).collect(),
                    schema_version: d.schema_version,
                    since: d.since.clone(),
                })
                .collect(),
        }
    }

    /// The engine's plan from the file form.
    pub fn into_plan(self) -> Result<Plan, SchemaError> {
        let mut data = BTreeMap::new();
        for (a, v) in self.data {
            data.insert(address(&a)?, v);
        }
        let mut outputs = Vec::new();
        for o in self.outputs {
            outputs.push(OutputChange {
                name: o.name,
                before: o.before,
                after: o.after,
                expr: o.expr.map(FileExpr::into_expr).transpose()?,
                secret: o.secret,
            });
        }
        Ok(Plan {
            stack: self.stack,
            env: self.env,
            changes: self
                .changes
                .into_iter()
                .map(FileChange::into_change)
                .collect::<Result<_, _>>()?,
            data,
            outputs,
            summary: Summary {
                add: self.summary.add,
                change: self.summary.change,
                replace: self.summary.replace,
                destroy: self.summary.destroy,
            },
            destroy: self.destroy,
            partial: self.partial,
            deleted_outside: self
                .deleted_outside
                .iter()
                .map(|a| address(a))
                .collect::<Result<_, _>>()?,
            recovered: self
                .recovered
                .into_iter()
                .map(|(a, id)| {
                    let r = id.map_or(Resolution::Gone, Resolution::Adopted);
                    address(&a).map(|a| (a, r))
                })
                .collect::<Result<_, _>>()?,
            moved: self
                .moved
                .iter()
                .map(|(to, from)| Ok::<_, SchemaError>((address(to)?, address(from)?)))
                .collect::<Result<_, _>>()?,
            imported: self
                .imported
                .into_iter()
                .map(|(a, id)| address(&a).map(|a| (a, id)))
                .collect::<Result<_, _>>()?,
            deposed: self
                .deposed
                .into_iter()
                .map(|d| {
                    Ok(gig_state::Deposed {
                        addr: address(&d.address)?,
                        provider: d.provider,
                        id: d.id,
                        value: d.value,
                        dependencies: d
                            .dependencies
                            .iter()
                            .map(|a| address(a))
                            .collect::<Result<_, _>>()?,
                        schema_version: d.schema_version,
                        since: d.since,
                    })
                })
                .collect::<Result<_, SchemaError>>()?,
            diagnostics: Vec::new(),
        })
    }
}

impl FileChange {
    fn from_change(c: &ResourceChange) -> FileChange {
        FileChange {
            address: c.addr.to_string(),
            provider: c.provider.clone(),
            action: c.action,
            id: c.id.clone(),
            prior: c.prior.clone(),
            planned: c.planned.clone(),
            body: c.body.as_ref().map(FileExpr::from_expr),
            updated: c.updated.clone(),
            attributes: c
                .attributes
                .iter()
                .map(|a| FileAttrChange {
                    path: a.path.clone(),
                    before: a.before.clone(),
                    after: a.after.clone(),
                    forces_replacement: a.forces_replacement,
                    secret: a.secret,
                })
                .collect(),
            replace_because: c.replace_because.clone(),
            lifecycle: FileLifecycle {
                prevent_destroy: c.lifecycle.prevent_destroy,
                create_before_destroy: c.lifecycle.create_before_destroy,
                ignore_changes: c.lifecycle.ignore_changes.clone(),
            },
            dependencies: c.dependencies.iter().map(ToString::to_string).collect(),
            schema_version: c.schema_version,
            span: FileSpan(c.span.file.0, c.span.start, c.span.end),
        }
    }

    fn into_change(self) -> Result<ResourceChange, SchemaError> {
        Ok(ResourceChange {
            addr: address(&self.address)?,
            provider: self.provider,
            action: self.action,
            id: self.id,
            prior: self.prior,
            planned: self.planned,
            body: self.body.map(FileExpr::into_expr).transpose()?,
            updated: self.updated,
            attributes: self
                .attributes
                .into_iter()
                .map(|a| AttrChange {
                    path: a.path,
                    before: a.before,
                    after: a.after,
                    forces_replacement: a.forces_replacement,
                    secret: a.secret,
                })
                .collect(),
            replace_because: self.replace_because,
            lifecycle: Lifecycle {
                prevent_destroy: self.lifecycle.prevent_destroy,
                create_before_destroy: self.lifecycle.create_before_destroy,
                ignore_changes: self.lifecycle.ignore_changes,
            },
            dependencies: self
                .dependencies
                .iter()
                .map(|d| address(d))
                .collect::<Result<_, _>>()?,
            schema_version: self.schema_version,
            span: Span {
                file: FileId(self.span.0),
                start: self.span.1,
                end: self.span.2,
            },
        })
    }
}

fn address(s: &str) -> Result<ResourceAddr, SchemaError> {
    ResourceAddr::parse(s).ok_or_else(|| format!("`{s}` is not a resource address"))
}

impl FileExpr {
    /// The file form of a lowered expression. Spans are not kept: apply reports errors
    /// at the resource block.
    pub fn from_expr(e: &Expr) -> FileExpr {
        let b = |e: &Expr| Box::new(FileExpr::from_expr(e));
        match &e.kind {
            ExprKind::Const(v) => FileExpr::Value(v.clone()),
            ExprKind::Resource(r) => FileExpr::Ref(r.addr().to_string()),
            ExprKind::Local(name) => FileExpr::Local(name.clone()),
            ExprKind::List(xs) => FileExpr::List(xs.iter().map(FileExpr::from_expr).collect()),
            ExprKind::Object(entries) => FileExpr::Object(
                entries
                    .iter()
                    .map(|en| (en.key.clone(), FileExpr::from_expr(&en.value)))
                    .collect(),
            ),
            ExprKind::GetAttr(x, name) => FileExpr::Attr(b(x), name.clone()),
            ExprKind::Index(x, i) => FileExpr::Index(b(x), b(i)),
            ExprKind::Call(name, args) => {
                FileExpr::Call(name.clone(), args.iter().map(FileExpr::from_expr).collect())
            }
            ExprKind::Unary(op, x) => FileExpr::Unary(unary_symbol(*op).to_string(), b(x)),
            ExprKind::Binary(op, l, r) => FileExpr::Binary(op.symbol().to_string(), b(l), b(r)),
            ExprKind::Conditional(c, t, f) => FileExpr::Cond(b(c), b(t), b(f)),
            ExprKind::Template(parts) => FileExpr::Template(
                parts
                    .iter()
                    .map(|p| match p {
                        TemplatePart::Literal(s) => FilePart::Text(s.clone()),
                        TemplatePart::Interpolation(x) => FilePart::Interp(FileExpr::from_expr(x)),
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
            } => FileExpr::For(Box::new(FileFor {
                key: key.clone(),
                value: value.clone(),
                collection: FileExpr::from_expr(collection),
                key_expr: key_expr.as_deref().map(FileExpr::from_expr),
                value_expr: FileExpr::from_expr(value_expr),
                cond: cond.as_deref().map(FileExpr::from_expr),
            })),
        }
    }

    /// The lowered expression back, with detached spans.
    pub fn into_expr(self) -> Result<Expr, SchemaError> {
        let b = |e: Box<FileExpr>| e.into_expr().map(Box::new);
        let kind = match self {
            FileExpr::Value(v) => ExprKind::Const(v),
            FileExpr::Ref(a) => {
                let addr = address(&a)?;
                ExprKind::Resource(ResourceRef {
                    module: addr.module,
                    mode: addr.mode,
                    rtype: addr.rtype,
                    name: addr.name,
                    key: addr.key,
                })
            }
            FileExpr::Local(name) => ExprKind::Local(name),
            FileExpr::List(xs) => ExprKind::List(
                xs.into_iter()
                    .map(FileExpr::into_expr)
                    .collect::<Result<_, _>>()?,
            ),
            FileExpr::Object(entries) => ExprKind::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| {
                        Ok(ObjectEntry {
                            key,
                            key_span: Span::DETACHED,
                            value: value.into_expr()?,
                        })
                    })
                    .collect::<Result<_, SchemaError>>()?,
            ),
            FileExpr::Attr(x, name) => ExprKind::GetAttr(b(x)?, name),
            FileExpr::Index(x, i) => ExprKind::Index(b(x)?, b(i)?),
            FileExpr::Call(name, args) => ExprKind::Call(
                name,
                args.into_iter()
                    .map(FileExpr::into_expr)
                    .collect::<Result<_, _>>()?,
            ),
            FileExpr::Unary(op, x) => ExprKind::Unary(unary_op(&op)?, b(x)?),
            FileExpr::Binary(op, l, r) => ExprKind::Binary(binary_op(&op)?, b(l)?, b(r)?),
            FileExpr::Cond(c, t, f) => ExprKind::Conditional(b(c)?, b(t)?, b(f)?),
            FileExpr::Template(parts) => ExprKind::Template(
                parts
                    .into_iter()
                    .map(|p| match p {
                        FilePart::Text(s) => Ok(TemplatePart::Literal(s)),
                        FilePart::Interp(x) => x.into_expr().map(TemplatePart::Interpolation),
                    })
                    .collect::<Result<_, SchemaError>>()?,
            ),
            FileExpr::For(f) => {
                let f = *f;
                ExprKind::For {
                    key: f.key,
                    value: f.value,
                    collection: Box::new(f.collection.into_expr()?),
                    key_expr: f
                        .key_expr
                        .map(|k| k.into_expr().map(Box::new))
                        .transpose()?,
                    value_expr: Box::new(f.value_expr.into_expr()?),
                    cond: f.cond.map(|c| c.into_expr().map(Box::new)).transpose()?,
                }
            }
        };
        Ok(Expr {
            kind,
            span: Span::DETACHED,
        })
    }
}

fn unary_symbol(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Not => "!",
        UnaryOp::Neg => "-",
    }
}

fn unary_op(s: &str) -> Result<UnaryOp, SchemaError> {
    match s {
        "!" => Ok(UnaryOp::Not),
        "-" => Ok(UnaryOp::Neg),
        _ => Err(format!("`{s}` is not a unary operator")),
    }
}

fn binary_op(s: &str) -> Result<BinaryOp, SchemaError> {
    const ALL: [BinaryOp; 13] = [
        BinaryOp::Or,
        BinaryOp::And,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Rem,
    ];
    ALL.into_iter()
        .find(|op| op.symbol() == s)
        .ok_or_else(|| format!("`{s}` is not a binary operator"))
}
