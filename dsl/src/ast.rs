//! The syntax tree: an owned tree with spans, produced by the parser from pest pairs.
//!
//! pest types never leave the parser; everything downstream (lowering, the formatter)
//! works on this tree. Comments are kept beside the tree in [`File::comments`] so the
//! formatter can put them back.

use gig_core::span::Span;

/// One parsed `.gig` (or `.gigvars`) file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// Top-level items in source order.
    pub items: Vec<Item>,
    /// Every comment in the file, in source order.
    pub comments: Vec<Comment>,
    /// The whole file.
    pub span: Span,
}

/// A `#` or `//` comment (text includes the marker, excludes the newline).
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    /// The comment text.
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// A name with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is.
    pub span: Span,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `param NAME: TYPE = DEFAULT { secret = true }`
    Param(Param),
    /// `let NAME = EXPR`
    Let(Let),
    /// `provider NAME { … }`
    Provider(Provider),
    /// `stack { name = "…" }`: settings of the stack itself.
    Stack(StackBlock),
    /// `state { location = "…" }`: where the stack's state lives.
    State(StateBlock),
    /// `moved { from = ADDR, to = ADDR }`: a state record changes address.
    Moved(MovedBlock),
    /// `import { to = ADDR, id = EXPR }`: an existing object joins the state.
    Import(ImportBlock),
    /// `resource TYPE NAME [for …] { … }` or `data TYPE NAME { … }`
    Resource(Resource),
    /// `module NAME from "PATH" { … }`
    Module(Module),
    /// `output NAME = EXPR` or `output NAME { value = EXPR, secret = true }`
    Output(Output),
    /// `NAME = EXPR` at top level: only valid in `.gigvars` files.
    Assign(Attribute),
}

impl Item {
    /// The whole item's span.
    pub fn span(&self) -> Span {
        match self {
            Item::Param(p) => p.span,
            Item::Let(l) => l.span,
            Item::Provider(p) => p.span,
            Item::Stack(s) => s.span,
            Item::State(s) => s.span,
            Item::Moved(m) => m.span,
            Item::Import(i) => i.span,
            Item::Resource(r) => r.span,
            Item::Module(m) => m.span,
            Item::Output(o) => o.span,
            Item::Assign(a) => a.span,
        }
    }
}

/// Declared type of a param.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeExpr {
    /// `string`
    String(Span),
    /// `number`
    Number(Span),
    /// `bool`
    Bool(Span),
    /// `any`
    Any(Span),
    /// `list(T)` (or bare `list` = `list(any)`)
    List(Box<TypeExpr>, Span),
    /// `map(T)` (or bare `map` = `map(any)`)
    Map(Box<TypeExpr>, Span),
    /// `object({ name = T, … })`: a map with exactly these keys.
    Object(Vec<TypeField>, Span),
}

impl std::fmt::Display for TypeExpr {
    /// The type as `gig fmt` writes it: `list(string)`, `object({ min = number })`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TypeExpr::String(_) => f.write_str("string"),
            TypeExpr::Number(_) => f.write_str("number"),
            TypeExpr::Bool(_) => f.write_str("bool"),
            TypeExpr::Any(_) => f.write_str("any"),
            TypeExpr::List(t, _) => write!(f, "list({t})"),
            TypeExpr::Map(t, _) => write!(f, "map({t})"),
            TypeExpr::Object(fields, _) => {
                f.write_str("object({")?;
                for (i, field) in fields.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{} = {}", field.name.name, field.ty)?;
                }
                f.write_str(if fields.is_empty() { "})" } else { " })" })
            }
        }
    }
}

/// One field of an object type: `min = number`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeField {
    /// The field's name.
    pub name: Ident,
    /// Its type.
    pub ty: TypeExpr,
}

/// `param NAME: TYPE = DEFAULT { … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The param's name.
    pub name: Ident,
    /// Declared type, if any.
    pub ty: Option<TypeExpr>,
    /// Default value, if any.
    pub default: Option<Expr>,
    /// Options block: `secret = true`, `description = "…"`.
    pub options: Vec<Attribute>,
    /// The whole item.
    pub span: Span,
}

/// `let NAME = EXPR`
#[derive(Clone, Debug, PartialEq)]
pub struct Let {
    /// The name.
    pub name: Ident,
    /// The value.
    pub value: Expr,
    /// The whole item.
    pub span: Span,
}

/// `provider NAME { … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    /// Provider name, e.g. `aws`.
    pub name: Ident,
    /// Settings.
    pub body: Body,
    /// The whole item.
    pub span: Span,
}

/// `state { … }`: where the stack's state lives (location, lock timeout, KMS key).
#[derive(Clone, Debug, PartialEq)]
pub struct StateBlock {
    /// Settings.
    pub body: Body,
    /// The whole item.
    pub span: Span,
}

/// `stack { … }`: the stack's own settings (its name).
#[derive(Clone, Debug, PartialEq)]
pub struct StackBlock {
    /// Settings.
    pub body: Body,
    /// The whole item.
    pub span: Span,
}

/// `moved { from = ADDR, to = ADDR }`: the record at `from` is the record at `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct MovedBlock {
    /// The attributes (`from`, `to`).
    pub body: Body,
    /// The whole item.
    pub span: Span,
}

/// `import [for k, v in EXPR] { to = ADDR, id = EXPR }`: the object with this id is
/// adopted at `to` (once per element with a `for` head).
#[derive(Clone, Debug, PartialEq)]
pub struct ImportBlock {
    /// `for k, v in EXPR` after `import`: one import per element.
    pub for_each: Option<ForHead>,
    /// The attributes (`to`, `id`).
    pub body: Body,
    /// The whole item.
    pub span: Span,
}

/// Whether a resource block is managed (`resource`) or a data source (`data`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// `resource`
    Managed,
    /// `data`
    Data,
}

/// `for k, v in EXPR` after a resource name.
#[derive(Clone, Debug, PartialEq)]
pub struct ForHead {
    /// First variable when two are given (`k` / `i`).
    pub key: Option<Ident>,
    /// The element variable.
    pub value: Ident,
    /// The collection.
    pub collection: Expr,
    /// From `for` to the end of the collection.
    pub span: Span,
}

/// `resource TYPE NAME [for …] { … }` / `data TYPE NAME { … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// Managed or data.
    pub kind: ResourceKind,
    /// Type segments: `["aws", "subnet"]`.
    pub rtype: Vec<Ident>,
    /// The resource name.
    pub name: Ident,
    /// Expansion by `for`, if any (`count` is an attribute in the body).
    pub for_each: Option<ForHead>,
    /// Attributes and nested blocks (`ingress { … }`, `lifecycle { … }`).
    pub body: Body,
    /// The whole item.
    pub span: Span,
}

impl Resource {
    /// `aws.subnet`
    pub fn type_name(&self) -> String {
        self.rtype
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// `module NAME from "PATH" { … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    /// The module instance's name.
    pub name: Ident,
    /// The path string as written.
    pub source: String,
    /// Span of the path string.
    pub source_span: Span,
    /// `for k, v in EXPR` after the path: one module instance per element.
    pub for_each: Option<ForHead>,
    /// Arguments: the module's params.
    pub body: Body,
    /// The whole item.
    pub span: Span,
}

/// `output NAME = EXPR` or `output NAME { value = EXPR, secret = true, description = "…" }`
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// The output's name.
    pub name: Ident,
    /// The value (from `= EXPR`, or the `value` attribute of the block form).
    pub value: Expr,
    /// Other options from the block form.
    pub options: Vec<Attribute>,
    /// Whether the block form was used (for the formatter).
    pub block_form: bool,
    /// The whole item.
    pub span: Span,
}

/// The inside of `{ … }` in a block.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// Entries in source order.
    pub entries: Vec<BodyEntry>,
    /// From `{` to `}`.
    pub span: Span,
}

/// One entry of a block body.
#[derive(Clone, Debug, PartialEq)]
pub enum BodyEntry {
    /// `name = expr`
    Attribute(Attribute),
    /// `name { … }`
    Block(Block),
}

/// `name = expr`
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// Attribute name.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
    /// The whole entry.
    pub span: Span,
}

/// `name { … }` inside a body.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Block type name (`ingress`, `lifecycle`).
    pub name: Ident,
    /// Its body.
    pub body: Body,
    /// The whole entry.
    pub span: Span,
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

impl Expr {
    /// The text of a string literal without interpolations (`"abc"`, `""`); `None`
    /// for anything else.
    pub fn plain_string(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Template(parts) => match parts.as_slice() {
                [] => Some(""),
                [TemplatePart::Literal(s)] => Some(s),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UnaryOp {
    /// `!`
    Not,
    /// `-`
    Neg,
}

/// Binary operators, lowest precedence first: `||`, `&&`, `== !=`, `< <= > >=`, `+ -`, `* / %`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BinaryOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    /// Binding strength; higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 6,
        }
    }
}

/// A piece of a string template.
#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    /// Literal text, escapes already resolved.
    Literal(String),
    /// `${ expr }`
    Interpolation(Expr),
}

/// A heredoc string: its text as a template, after indentation is stripped.
#[derive(Clone, Debug, PartialEq)]
pub struct Heredoc {
    /// The marker, such as `EOT`.
    pub marker: String,
    /// Whether it was written `<<-`, which strips the lines' common indentation.
    pub strip: bool,
    /// The text, ending with a newline unless empty.
    pub parts: Vec<TemplatePart>,
}

/// A key in a map literal.
#[derive(Clone, Debug, PartialEq)]
pub enum MapKey {
    /// `Name = …`
    Ident(Ident),
    /// `"Name" = …` or `(expr) = …`
    Expr(Expr),
}

/// An entry of a map literal.
#[derive(Clone, Debug, PartialEq)]
pub struct MapEntry {
    /// The key.
    pub key: MapKey,
    /// The value.
    pub value: Expr,
}

/// Kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number literal.
    Number(f64),
    /// A string, possibly with `${}` interpolations.
    Template(Vec<TemplatePart>),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `{ k = v, … }`
    Map(Vec<MapEntry>),
    /// A bare name: a param, a let, a for variable, or the first segment of a
    /// reference (`aws`, `module`, `data`).
    Var(Ident),
    /// `expr.name`
    GetAttr(Box<Expr>, Ident),
    /// `expr[index]`
    Index(Box<Expr>, Box<Expr>),
    /// `expr[*]`: the accesses that follow apply to every element.
    Splat(Box<Expr>),
    /// `<<EOT` … `EOT` or `<<-EOT` … `EOT`.
    Heredoc(Heredoc),
    /// `name(args…)`
    Call(Ident, Vec<Expr>),
    /// `!x`, `-x`
    Unary(UnaryOp, Box<Expr>),
    /// `a op b`
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `[for k, v in coll : value if cond]`
    ForList {
        /// First variable when two are given.
        key: Option<Ident>,
        /// Element variable.
        value: Ident,
        /// The collection.
        collection: Box<Expr>,
        /// Result element.
        body: Box<Expr>,
        /// Optional filter.
        cond: Option<Box<Expr>>,
    },
    /// `{for k, v in coll : kexpr => vexpr if cond}`
    ForMap {
        /// First variable when two are given.
        key: Option<Ident>,
        /// Element variable.
        value: Ident,
        /// The collection.
        collection: Box<Expr>,
        /// Result key.
        key_expr: Box<Expr>,
        /// Result value.
        value_expr: Box<Expr>,
        /// Optional filter.
        cond: Option<Box<Expr>>,
    },
    /// `( expr )`, kept so the formatter can keep the user's grouping.
    Paren(Box<Expr>),
}
