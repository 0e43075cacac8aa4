//! pest pairs → [`crate::ast`] nodes, checking what the grammar matches loosely.
//!
//! Binary operators arrive as a flat list (`a + b * c`) and are arranged by
//! [`BinaryOp::precedence`] with an operator stack, left-associative, so long chains
//! cost no recursion. Every expression node carries its depth while it is built; a
//! node deeper than [`MAX_EXPR_DEPTH`] is replaced by `null` and reported (E0004), so
//! no tree handed on is deeper than that.

use pest::iterators::Pair;

use crate::ast::{
    Attribute, BinaryOp, Block, Body, BodyEntry, Expr, ExprKind, ForHead, Heredoc, Ident,
    ImportBlock, Item, Let, MapEntry, MapKey, Module, MovedBlock, Output, Param, Provider,
    Resource, ResourceKind, StackBlock, StateBlock, TemplatePart, TypeExpr, TypeField, UnaryOp,
};
use crate::parse::MAX_EXPR_DEPTH;
use gig_core::diag::{suggest, Code, Diagnostic};
use gig_core::span::{FileId, Span};

use super::grammar::Rule;

/// An expression with the depth of its tree.
struct D {
    expr: Expr,
    depth: usize,
}

/// Turns the pairs of one item into AST nodes.
pub(super) struct Converter<'d> {
    file: FileId,
    /// Offset of the parsed slice in the file.
    base: usize,
    diags: &'d mut Vec<Diagnostic>,
    depth_reported: bool,
}

impl<'d> Converter<'d> {
    /// A converter for pairs parsed from the slice starting at `base`.
    pub(super) fn new(file: FileId, base: usize, diags: &'d mut Vec<Diagnostic>) -> Converter<'d> {
        Converter {
            file,
            base,
            diags,
            depth_reported: false,
        }
    }

    /// The pair's span in the file, without the blanks pest's implicit whitespace
    /// leaves at its end (where a masked comment may hide).
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let len = s.as_str().trim_end_matches([' ', '\t', '\n']).len();
        Span::new(
            self.file,
            self.base + s.start(),
            self.base + s.start() + len,
        )
    }

    /// Converts one item pair.
    pub(super) fn item(&mut self, pair: Pair<'_, Rule>) -> Option<Item> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let is_data = pair
            .clone()
            .into_inner()
            .next()
            .is_some_and(|p| p.as_rule() == Rule::kw_data);
        let mut inner = pair
            .into_inner()
            .filter(|p| !is_keyword(p.as_rule()))
            .peekable();
        match rule {
            Rule::param => {
                let name = self.ident(inner.next()?);
                let mut param = Param {
                    name,
                    ty: None,
                    default: None,
                    options: Vec::new(),
                    span,
                };
                for p in inner {
                    match p.as_rule() {
                        Rule::type_expr => param.ty = Some(self.type_expr(p)),
                        Rule::expr => param.default = Some(self.expr(p).expr),
                        Rule::body => param.options = self.attributes_only(p, "param options"),
                        _ => {}
                    }
                }
                Some(Item::Param(param))
            }
            Rule::let_item => {
                let name = self.ident(inner.next()?);
                let value = self.expr(inner.next()?).expr;
                Some(Item::Let(Let { name, value, span }))
            }
            Rule::provider => {
                let name = self.ident(inner.next()?);
                let body = self.body(inner.next()?);
                Some(Item::Provider(Provider { name, body, span }))
            }
            Rule::stack_item => {
                let body = self.body(inner.next()?);
                Some(Item::Stack(StackBlock { body, span }))
            }
            Rule::state_item => {
                let body = self.body(inner.next()?);
                Some(Item::State(StateBlock { body, span }))
            }
            Rule::moved_item => {
                let body = self.body(inner.next()?);
                Some(Item::Moved(MovedBlock { body, span }))
            }
            Rule::import_item => {
                let (for_each, body) = self.head_and_body(inner);
                Some(Item::Import(ImportBlock {
                    for_each,
                    body: body?,
                    span,
                }))
            }
            Rule::resource => {
                let kind = if is_data {
                    ResourceKind::Data
                } else {
                    ResourceKind::Managed
                };
                let rtype_pair = inner.next()?;
                let rtype = rtype_pair.into_inner().map(|p| self.ident(p)).collect();
                let name = self.ident(inner.next()?);
                let (for_each, body) = self.head_and_body(inner);
                Some(Item::Resource(Resource {
                    kind,
                    rtype,
                    name,
                    for_each,
                    body: body?,
                    span,
                }))
            }
            Rule::module => {
                let name = self.ident(inner.next()?);
                let src = inner.next()?;
                let source_span = self.span(&src);
                let source = self.plain_string(src);
                let (for_each, body) = self.head_and_body(inner);
                Some(Item::Module(Module {
                    name,
                    source,
                    source_span,
                    for_each,
                    body: body?,
                    span,
                }))
            }
            Rule::output => self.output(inner, span),
            Rule::assign => {
                let name = self.ident(inner.next()?);
                let value = self.expr(inner.next()?).expr;
                Some(Item::Assign(Attribute { name, value, span }))
            }
            _ => None,
        }
    }

    fn output<'i>(
        &mut self,
        mut inner: impl Iterator<Item = Pair<'i, Rule>>,
        span: Span,
    ) -> Option<Item> {
        let name = self.ident(inner.next()?);
        let next = inner.next()?;
        if next.as_rule() == Rule::expr {
            let value = self.expr(next).expr;
            return Some(Item::Output(Output {
                name,
                value,
                options: Vec::new(),
                block_form: false,
                span,
            }));
        }
        let body_span = self.span(&next);
        let mut value: Option<Expr> = None;
        let mut options = Vec::new();
        for attr in self.attributes_only(next, "an output block") {
            if attr.name.name != "value" {
                options.push(attr);
            } else if let Some(first) = &value {
                let first = first.span;
                self.diags.push(
                    Diagnostic::error(Code::E0014, "output value given twice", attr.name.span)
                        .with_label("second `value`")
                        .with_secondary(first, "first value")
                        .with_detail(format!(
                            "The output `{}` sets `value` more than once.",
                            name.name
                        ))
                        .with_help("keep one `value` attribute"),
                );
            } else {
                value = Some(attr.value);
            }
        }
        let value = match value {
            Some(v) => v,
            None => {
                self.diags.push(
                    Diagnostic::error(Code::E0014, "output has no value", body_span)
                        .with_label("no `value` in this block")
                        .with_detail(format!(
                            "The output `{}` must say what it outputs.",
                            name.name
                        ))
                        .with_help("add `value = …` to the block"),
                );
                Expr {
                    kind: ExprKind::Null,
                    span: body_span,
                }
            }
        };
        Some(Item::Output(Output {
            name,
            value,
            options,
            block_form: true,
            span,
        }))
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    /// The optional `for` head and the body that end a resource or module block.
    fn head_and_body<'i>(
        &mut self,
        rest: impl Iterator<Item = Pair<'i, Rule>>,
    ) -> (Option<ForHead>, Option<Body>) {
        let mut for_each = None;
        let mut body = None;
        for p in rest {
            match p.as_rule() {
                Rule::for_head => for_each = Some(self.for_head(p)),
                Rule::body => body = Some(self.body(p)),
                _ => {}
            }
        }
        (for_each, body)
    }

    fn for_head(&mut self, pair: Pair<'_, Rule>) -> ForHead {
        let span = self.span(&pair);
        let (key, value, collection) = self.for_vars(&mut pair.into_inner());
        ForHead {
            key,
            value,
            collection: collection.expr,
            span,
        }
    }

    /// Reads `IDENT [, IDENT] in EXPR` from a `for` clause's pairs.
    fn for_vars<'i>(
        &mut self,
        inner: &mut impl Iterator<Item = Pair<'i, Rule>>,
    ) -> (Option<Ident>, Ident, D) {
        let mut names = Vec::new();
        let mut collection = None;
        for p in inner.by_ref() {
            match p.as_rule() {
                Rule::ident => names.push(self.ident(p)),
                Rule::expr => {
                    collection = Some(self.expr(p));
                    break;
                }
                _ => {}
            }
        }
        let collection = collection.unwrap_or_else(|| D {
            expr: null(Span::new(self.file, 0, 0)),
            depth: 1,
        });
        let value = names.pop().unwrap_or_else(|| Ident {
            name: String::new(),
            span: collection.expr.span,
        });
        (names.pop(), value, collection)
    }

    fn type_expr(&mut self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let Some(name) = inner.next() else {
            return TypeExpr::Any(span);
        };
        let name = self.ident(name);
        let takes_arg = matches!(name.name.as_str(), "list" | "map");
        let mut fields = None;
        let arg = inner.next().map(|p| {
            if p.as_rule() == Rule::type_object {
                fields = Some(self.type_fields(p));
                TypeExpr::Any(span)
            } else if takes_arg {
                self.type_expr(p)
            } else {
                TypeExpr::Any(span)
            }
        });
        if name.name == "object" {
            return match fields {
                Some(fields) => TypeExpr::Object(fields, span),
                None => {
                    self.diags.push(
                        Diagnostic::error(Code::E0012, "object type without fields", span)
                            .with_label("fields expected in braces")
                            .with_detail("An object type lists its fields and their types in braces, as `object({ min = number, max = number })`.")
                            .with_help("write the fields as `object({ name = TYPE, … })`"),
                    );
                    TypeExpr::Any(span)
                }
            };
        }
        if fields.is_some() {
            self.diags.push(
                Diagnostic::error(Code::E0012, "unexpected fields", span)
                    .with_label("only `object` takes fields")
                    .with_detail(format!(
                        "Fields in braces belong to `object({{ … }})`, not to `{}`.",
                        name.name
                    ))
                    .with_help(
                        "write `object({ name = TYPE, … })`, or `map(T)` for a map of one type",
                    ),
            );
            return TypeExpr::Any(span);
        }
        let no_arg = |this: &mut Self, ty: TypeExpr| {
            if arg.is_some() {
                this.diags.push(
                    Diagnostic::error(Code::E0012, "unexpected element type", span)
                        .with_label("this type takes no element type")
                        .with_detail(format!(
                            "Only `list` and `map` take an element type, not `{}`.",
                            name.name
                        ))
                        .with_help(format!("write `{}` alone", name.name)),
                );
            }
            ty
        };
        match name.name.as_str() {
            "string" => no_arg(self, TypeExpr::String(span)),
            "number" => no_arg(self, TypeExpr::Number(span)),
            "bool" => no_arg(self, TypeExpr::Bool(span)),
            "any" => no_arg(self, TypeExpr::Any(span)),
            "list" => TypeExpr::List(Box::new(arg.unwrap_or(TypeExpr::Any(span))), span),
            "map" => TypeExpr::Map(Box::new(arg.unwrap_or(TypeExpr::Any(span))), span),
            other => {
                const TYPES: [&str; 7] =
                    ["string", "number", "bool", "any", "list", "map", "object"];
                let mut d = Diagnostic::error(Code::E0012, "unknown type", name.span).with_label("not a type").with_detail(
                    format!("`{other}` is not a type; the types are string, number, bool, any, list(T), map(T) and object({{ name = T, … }})."),
                );
                if let Some(s) = suggest(other, TYPES) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
                TypeExpr::Any(span)
            }
        }
    }

    /// The fields of `object({ … })`; a name given twice is E0012.
    fn type_fields(&mut self, pair: Pair<'_, Rule>) -> Vec<TypeField> {
        let mut fields: Vec<TypeField> = Vec::new();
        for field in pair.into_inner() {
            let mut inner = field.into_inner();
            let (Some(name), Some(ty)) = (inner.next(), inner.next()) else {
                continue;
            };
            let name = self.ident(name);
            let ty = self.type_expr(ty);
            if let Some(first) = fields.iter().find(|f| f.name.name == name.name) {
                self.diags.push(
                    Diagnostic::error(Code::E0012, "duplicate object field", name.span)
                        .with_label("given again here")
                        .with_detail(format!(
                            "The object type names the field `{}` twice.",
                            name.name
                        ))
                        .with_secondary(first.name.span, "first given here")
                        .with_help("remove one of them"),
                );
                continue;
            }
            fields.push(TypeField { name, ty });
        }
        fields
    }

    fn body(&mut self, pair: Pair<'_, Rule>) -> Body {
        let span = self.span(&pair);
        let entries = pair
            .into_inner()
            .filter_map(|p| match p.as_rule() {
                Rule::attribute => Some(BodyEntry::Attribute(self.attribute(p))),
                Rule::block => Some(BodyEntry::Block(self.block(p))),
                _ => None,
            })
            .collect();
        Body { entries, span }
    }

    fn attribute(&mut self, pair: Pair<'_, Rule>) -> Attribute {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = inner.next().map(|p| self.ident(p));
        let value = inner.next().map(|p| self.expr(p).expr);
        Attribute {
            name: name.unwrap_or_else(|| Ident {
                name: String::new(),
                span,
            }),
            value: value.unwrap_or_else(|| null(span)),
            span,
        }
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Block {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = inner.next().map(|p| self.ident(p));
        let body = inner.next().map(|p| self.body(p));
        Block {
            name: name.unwrap_or_else(|| Ident {
                name: String::new(),
                span,
            }),
            body: body.unwrap_or(Body {
                entries: Vec::new(),
                span,
            }),
            span,
        }
    }

    /// The attributes of a body where nested blocks are not allowed (reported, dropped).
    fn attributes_only(&mut self, pair: Pair<'_, Rule>, what: &str) -> Vec<Attribute> {
        let body = self.body(pair);
        let mut attrs = Vec::new();
        for entry in body.entries {
            match entry {
                BodyEntry::Attribute(a) => attrs.push(a),
                BodyEntry::Block(b) => self.diags.push(
                    Diagnostic::error(Code::E0013, "block not allowed here", b.name.span)
                        .with_label("nested block")
                        .with_detail(format!(
                            "The block `{}` cannot appear in {what}; only `name = value` attributes can.",
                            b.name.name
                        ))
                        .with_help(format!("write it as an attribute: `{} = {{ … }}`", b.name.name)),
                ),
            }
        }
        attrs
    }

    /// The text of a string without interpolations (a module source).
    fn plain_string(&mut self, pair: Pair<'_, Rule>) -> String {
        let span = self.span(&pair);
        let mut out = String::new();
        let D { expr, .. } = self.string(pair);
        if let ExprKind::Template(parts) = expr.kind {
            for part in parts {
                match part {
                    TemplatePart::Literal(s) => out.push_str(&s),
                    TemplatePart::Interpolation(e) => {
                        self.diags.push(
                            Diagnostic::error(Code::E0015, "module source must be a plain string", e.span)
                                .with_label("interpolation")
                                .with_secondary(span, "the module source")
                                .with_detail("The path after `from` is resolved before any value is known, so it cannot contain `${…}`.")
                                .with_help("write the path literally"),
                        );
                    }
                }
            }
        }
        out
    }

    // ------------------------------------------------------------ expressions

    /// Makes a node of the given depth, replacing it by `null` when it is too deep.
    fn node(&mut self, kind: ExprKind, span: Span, depth: usize) -> D {
        if depth > MAX_EXPR_DEPTH {
            if !self.depth_reported {
                self.depth_reported = true;
                self.diags.push(
                    Diagnostic::error(Code::E0004, "expression nested too deeply", span)
                        .with_label("this expression is too deep")
                        .with_detail(format!(
                            "An expression may be at most {MAX_EXPR_DEPTH} operators, accesses and brackets deep."
                        ))
                        .with_help("split it into several `let` values"),
                );
            }
            return D {
                expr: null(span),
                depth: 1,
            };
        }
        D {
            expr: Expr { kind, span },
            depth,
        }
    }

    /// Dispatches on the rule. Each case lives in its own function so this frame,
    /// which recursion through nested brackets repeats, stays small.
    fn expr(&mut self, mut pair: Pair<'_, Rule>) -> D {
        // Most levels of the precedence chain (expr → binary → unary → postfix) hold a
        // single child; skip them in a loop rather than one call each.
        while matches!(
            pair.as_rule(),
            Rule::expr | Rule::binary | Rule::unary | Rule::postfix
        ) {
            let mut inner = pair.clone().into_inner();
            match (inner.next(), inner.next()) {
                (Some(only), None) => pair = only,
                _ => break,
            }
        }
        match pair.as_rule() {
            Rule::expr => self.conditional(pair),
            Rule::binary => self.binary(pair),
            Rule::unary => self.unary(pair),
            Rule::postfix => self.postfix(pair),
            Rule::paren => self.paren(pair),
            Rule::list => self.list(pair),
            Rule::map => self.map(pair),
            Rule::for_list => self.for_list(pair),
            Rule::for_map => self.for_map(pair),
            Rule::string => self.string(pair),
            Rule::heredoc => self.heredoc(pair),
            Rule::number => self.number(pair),
            Rule::call => self.call(pair),
            rule => self.atom(rule, pair),
        }
    }

    #[inline(never)]
    fn atom(&mut self, rule: Rule, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        match rule {
            Rule::kw_true => self.node(ExprKind::Bool(true), span, 1),
            Rule::kw_false => self.node(ExprKind::Bool(false), span, 1),
            Rule::kw_null => self.node(ExprKind::Null, span, 1),
            Rule::var => {
                let ident = Ident {
                    name: pair.as_str().to_string(),
                    span,
                };
                self.node(ExprKind::Var(ident), span, 1)
            }
            _ => D {
                expr: null(span),
                depth: 1,
            },
        }
    }

    #[inline(never)]
    fn conditional(&mut self, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let Some(cond) = inner.next() else {
            return D {
                expr: null(span),
                depth: 1,
            };
        };
        let cond = self.expr(cond);
        match (inner.next(), inner.next()) {
            (Some(a), Some(b)) => {
                let (a, b) = (self.expr(a), self.expr(b));
                let depth = 1 + cond.depth.max(a.depth).max(b.depth);
                let kind =
                    ExprKind::Conditional(Box::new(cond.expr), Box::new(a.expr), Box::new(b.expr));
                self.node(kind, span, depth)
            }
            _ => cond,
        }
    }

    #[inline(never)]
    fn paren(&mut self, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        let inner = pair.into_inner().next().map(|p| self.expr(p));
        let inner = inner.unwrap_or(D {
            expr: null(span),
            depth: 1,
        });
        self.node(ExprKind::Paren(Box::new(inner.expr)), span, inner.depth + 1)
    }

    #[inline(never)]
    fn list(&mut self, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        let mut depth = 0;
        let mut items = Vec::new();
        for p in pair.into_inner() {
            let d = self.expr(p);
            depth = depth.max(d.depth);
            items.push(d.expr);
        }
        self.node(ExprKind::List(items), span, depth + 1)
    }

    #[inline(never)]
    fn map(&mut self, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        let mut depth = 0;
        let mut entries = Vec::new();
        for entry in pair.into_inner() {
            let mut inner = entry.into_inner();
            let (Some(key), Some(value)) = (inner.next(), inner.next()) else {
                continue;
            };
            let key = match key.into_inner().next() {
                Some(k) if k.as_rule() == Rule::ident => MapKey::Ident(self.ident(k)),
                Some(k) => {
                    let d = self.expr(k);
                    depth = depth.max(d.depth);
                    MapKey::Expr(d.expr)
                }
                None => continue,
            };
            let value = self.expr(value);
            depth = depth.max(value.depth);
            entries.push(MapEntry {
                key,
                value: value.expr,
            });
        }
        self.node(ExprKind::Map(entries), span, depth + 1)
    }

    #[inline(never)]
    fn for_list(&mut self, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        let mut inner = pair
            .into_inner()
            .filter(|p| p.as_rule() != Rule::kw_for && p.as_rule() != Rule::kw_in);
        let (key, value, collection) = self.for_vars(&mut inner);
        let body = inner.next().map(|p| self.expr(p)).unwrap_or(D {
            expr: null(span),
            depth: 1,
        });
        let cond = inner
            .find(|p| p.as_rule() == Rule::expr)
            .map(|p| self.expr(p));
        let depth = 1 + collection
            .depth
            .max(body.depth)
            .max(cond.as_ref().map_or(0, |c| c.depth));
        let kind = ExprKind::ForList {
            key,
            value,
            collection: Box::new(collection.expr),
            body: Box::new(body.expr),
            cond: cond.map(|c| Box::new(c.expr)),
        };
        self.node(kind, span, depth)
    }

    #[inline(never)]
    fn for_map(&mut self, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        let mut inner = pair
            .into_inner()
            .filter(|p| p.as_rule() != Rule::kw_for && p.as_rule() != Rule::kw_in);
        let (key, value, collection) = self.for_vars(&mut inner);
        let key_expr = inner.next().map(|p| self.expr(p)).unwrap_or(D {
            expr: null(span),
            depth: 1,
        });
        let value_expr = inner.next().map(|p| self.expr(p)).unwrap_or(D {
            expr: null(span),
            depth: 1,
        });
        let cond = inner
            .find(|p| p.as_rule() == Rule::expr)
            .map(|p| self.expr(p));
        let depth = 1 + collection
            .depth
            .max(key_expr.depth)
            .max(value_expr.depth)
            .max(cond.as_ref().map_or(0, |c| c.depth));
        let kind = ExprKind::ForMap {
            key,
            value,
            collection: Box::new(collection.expr),
            key_expr: Box::new(key_expr.expr),
            value_expr: Box::new(value_expr.expr),
            cond: cond.map(|c| Box::new(c.expr)),
        };
        self.node(kind, span, depth)
    }

    #[inline(never)]
    fn call(&mut self, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let Some(name) = inner.next() else {
            return D {
                expr: null(span),
                depth: 1,
            };
        };
        let name = self.ident(name);
        let mut depth = 0;
        let mut args = Vec::new();
        for p in inner {
            let d = self.expr(p);
            depth = depth.max(d.depth);
            args.push(d.expr);
        }
        self.node(ExprKind::Call(name, args), span, depth + 1)
    }

    #[inline(never)]
    fn binary(&mut self, pair: Pair<'_, Rule>) -> D {
        let mut operands: Vec<D> = Vec::new();
        let mut ops: Vec<BinaryOp> = Vec::new();
        for p in pair.into_inner() {
            if p.as_rule() == Rule::binop {
                let op = binary_op(p.as_str());
                while ops
                    .last()
                    .is_some_and(|top| top.precedence() >= op.precedence())
                {
                    self.reduce(&mut operands, &mut ops);
                }
                ops.push(op);
            } else {
                operands.push(self.expr(p));
            }
        }
        while !ops.is_empty() {
            self.reduce(&mut operands, &mut ops);
        }
        operands.pop().unwrap_or(D {
            expr: null(Span::new(self.file, self.base, self.base)),
            depth: 1,
        })
    }

    fn reduce(&mut self, operands: &mut Vec<D>, ops: &mut Vec<BinaryOp>) {
        let (Some(op), Some(rhs), Some(lhs)) = (ops.pop(), operands.pop(), operands.pop()) else {
            return;
        };
        let span = lhs.expr.span.to(rhs.expr.span);
        let depth = 1 + lhs.depth.max(rhs.depth);
        let d = self.node(
            ExprKind::Binary(op, Box::new(lhs.expr), Box::new(rhs.expr)),
            span,
            depth,
        );
        operands.push(d);
    }

    #[inline(never)]
    fn unary(&mut self, pair: Pair<'_, Rule>) -> D {
        let mut ops = Vec::new();
        let mut operand = None;
        for p in pair.into_inner() {
            if p.as_rule() == Rule::unop {
                let op = if p.as_str() == "!" {
                    UnaryOp::Not
                } else {
                    UnaryOp::Neg
                };
                ops.push((op, self.span(&p).start));
            } else {
                operand = Some(self.expr(p));
            }
        }
        let mut d = operand.unwrap_or(D {
            expr: null(Span::new(self.file, self.base, self.base)),
            depth: 1,
        });
        while let Some((op, start)) = ops.pop() {
            let span = Span {
                start,
                ..d.expr.span
            };
            let depth = d.depth + 1;
            d = self.node(ExprKind::Unary(op, Box::new(d.expr)), span, depth);
        }
        d
    }

    #[inline(never)]
    fn postfix(&mut self, pair: Pair<'_, Rule>) -> D {
        let mut inner = pair.into_inner();
        let Some(first) = inner.next() else {
            return D {
                expr: null(Span::new(self.file, self.base, self.base)),
                depth: 1,
            };
        };
        let mut d = self.expr(first);
        for p in inner {
            let end = self.span(&p).end;
            let span = Span { end, ..d.expr.span };
            match p.as_rule() {
                Rule::get_attr => {
                    let Some(name) = p.into_inner().next() else {
                        continue;
                    };
                    let name = self.ident(name);
                    let depth = d.depth + 1;
                    d = self.node(ExprKind::GetAttr(Box::new(d.expr), name), span, depth);
                }
                Rule::splat => {
                    let depth = d.depth + 1;
                    d = self.node(ExprKind::Splat(Box::new(d.expr)), span, depth);
                }
                Rule::index => {
                    let Some(index) = p.into_inner().next() else {
                        continue;
                    };
                    let index = self.expr(index);
                    let depth = 1 + d.depth.max(index.depth);
                    d = self.node(
                        ExprKind::Index(Box::new(d.expr), Box::new(index.expr)),
                        span,
                        depth,
                    );
                }
                _ => {}
            }
        }
        d
    }

    #[inline(never)]
    fn number(&mut self, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        let text = pair.as_str();
        match parse_number(text) {
            Some(n) => self.node(ExprKind::Number(n), span, 1),
            None => {
                let detail = if is_number_syntax(text) {
                    format!("`{text}` is too large to be a number.")
                } else {
                    format!("`{text}` is not a number; numbers look like `42`, `-7`, `3.25` or `1.5e3`.")
                };
                self.diags.push(
                    Diagnostic::error(Code::E0007, "invalid number", span)
                        .with_label("not a valid number")
                        .with_detail(detail)
                        .with_help(
                            "write a decimal number; hexadecimal, `_` separators and trailing letters are not allowed",
                        ),
                );
                self.node(ExprKind::Number(0.0), span, 1)
            }
        }
    }

    #[inline(never)]
    fn string(&mut self, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        let mut parts: Vec<TemplatePart> = Vec::new();
        let mut depth = 0;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::str_escape => {
                    let esc_span = self.span(&p);
                    match unescape(p.as_str()) {
                        Ok(c) => {
                            let mut buf = [0u8; 4];
                            push_literal(&mut parts, c.encode_utf8(&mut buf));
                        }
                        Err(why) => {
                            self.diags.push(
                                Diagnostic::error(Code::E0003, "invalid escape sequence", esc_span)
                                    .with_label("unknown escape")
                                    .with_detail(format!("`{}` {why}", p.as_str()))
                                    .with_help("the escapes are \\n \\t \\r \\\" \\\\ \\$ and \\u{…}; write `\\\\` for a backslash"),
                            );
                            push_literal(&mut parts, p.as_str());
                        }
                    }
                }
                _ => self.template_part(p, &mut parts, &mut depth),
            }
        }
        self.node(ExprKind::Template(parts), span, depth + 1)
    }

    /// Text, `$${` or `${ expr }` of a string or heredoc, appended to `parts`; `depth`
    /// grows to the deepest interpolation's.
    fn template_part(
        &mut self,
        p: Pair<'_, Rule>,
        parts: &mut Vec<TemplatePart>,
        depth: &mut usize,
    ) {
        match p.as_rule() {
            Rule::str_text | Rule::hd_text => push_literal(parts, p.as_str()),
            Rule::str_dollar => push_literal(parts, "${"),
            Rule::str_interp => {
                if let Some(inner) = p.into_inner().next() {
                    let d = self.expr(inner);
                    *depth = (*depth).max(d.depth);
                    parts.push(TemplatePart::Interpolation(d.expr));
                }
            }
            _ => {}
        }
    }

    /// A heredoc: its lines, with the common indentation stripped for `<<-`.
    #[inline(never)]
    fn heredoc(&mut self, pair: Pair<'_, Rule>) -> D {
        let span = self.span(&pair);
        let mut strip = false;
        let mut marker = String::new();
        let mut lines: Vec<Vec<TemplatePart>> = Vec::new();
        let mut depth = 0;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::heredoc_strip => strip = true,
                Rule::ident => marker = p.as_str().to_string(),
                Rule::heredoc_line => {
                    let mut line = Vec::new();
                    for part in p.into_inner() {
                        self.template_part(part, &mut line, &mut depth);
                    }
                    end_heredoc_line(&mut line);
                    lines.push(line);
                }
                _ => {}
            }
        }
        let parts = heredoc_parts(lines, strip);
        self.node(
            ExprKind::Heredoc(Heredoc {
                marker,
                strip,
                parts,
            }),
            span,
            depth + 1,
        )
    }
}

/// Appends literal text to a template, merging it with a literal before it.
fn push_literal(parts: &mut Vec<TemplatePart>, s: &str) {
    if let Some(TemplatePart::Literal(last)) = parts.last_mut() {
        last.push_str(s);
    } else {
        parts.push(TemplatePart::Literal(s.to_string()));
    }
}

/// Drops the carriage return of a `\r\n` line end from a heredoc line's text.
pub(super) fn end_heredoc_line(line: &mut Vec<TemplatePart>) {
    if let Some(TemplatePart::Literal(s)) = line.last_mut() {
        if s.ends_with('\r') {
            s.pop();
            if s.is_empty() {
                line.pop();
            }
        }
    }
}

/// Joins a heredoc's lines into one template, each line ending with a newline. With
/// `strip` (`<<-`), first removes the indentation common to every line that holds more
/// than blanks (a line starting with an interpolation has none); lines of blanks lose
/// as much of it as they have.
pub(super) fn heredoc_parts(mut lines: Vec<Vec<TemplatePart>>, strip: bool) -> Vec<TemplatePart> {
    let indent = |line: &[TemplatePart]| match line.first() {
        Some(TemplatePart::Literal(s)) => s.len() - s.trim_start_matches([' ', '\t']).len(),
        _ => 0,
    };
    let blank = |line: &[TemplatePart]| match line {
        [] => true,
        [TemplatePart::Literal(s)] => s.trim_start_matches([' ', '\t']).is_empty(),
        _ => false,
    };
    if strip {
        let common = lines
            .iter()
            .filter(|l| !blank(l))
            .map(|l| indent(l))
            .min()
            .unwrap_or(0);
        for line in &mut lines {
            let n = indent(line).min(common);
            if let Some(TemplatePart::Literal(s)) = line.first_mut() {
                s.drain(..n);
                if s.is_empty() {
                    line.remove(0);
                }
            }
        }
    }
    let mut parts = Vec::new();
    for line in lines {
        for part in line {
            match part {
                TemplatePart::Literal(s) => push_literal(&mut parts, &s),
                interp => parts.push(interp),
            }
        }
        push_literal(&mut parts, "\n");
    }
    parts
}

fn null(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Null,
        span,
    }
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_param
            | Rule::kw_let
            | Rule::kw_provider
            | Rule::kw_stack
            | Rule::kw_state
            | Rule::kw_moved
            | Rule::kw_import
            | Rule::kw_resource
            | Rule::kw_data
            | Rule::kw_module
            | Rule::kw_from
            | Rule::kw_output
            | Rule::kw_for
            | Rule::kw_in
            | Rule::kw_if
    )
}

fn binary_op(s: &str) -> BinaryOp {
    match s {
        "||" => BinaryOp::Or,
        "&&" => BinaryOp::And,
        "==" => BinaryOp::Eq,
        "!=" => BinaryOp::Ne,
        "<" => BinaryOp::Lt,
        "<=" => BinaryOp::Le,
        ">" => BinaryOp::Gt,
        ">=" => BinaryOp::Ge,
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Sub,
        "*" => BinaryOp::Mul,
        "/" => BinaryOp::Div,
        _ => BinaryOp::Rem,
    }
}

/// Whether `text` has the shape of a decimal number: digits, an optional fraction and
/// an optional exponent.
fn is_number_syntax(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// The value of a number literal, if it is well formed and finite.
pub(super) fn parse_number(text: &str) -> Option<f64> {
    if !is_number_syntax(text) {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// The character an escape sequence (`\n`, `\u{41}`, …) stands for.
pub(super) fn unescape(esc: &str) -> Result<char, &'static str> {
    let rest = esc.strip_prefix('\\').unwrap_or(esc);
    match rest {
        "n" => Ok('\n'),
        "t" => Ok('\t'),
        "r" => Ok('\r'),
        "\"" => Ok('"'),
        "\\" => Ok('\\'),
        "$" => Ok('$'),
        _ => match rest.strip_prefix("u{").and_then(|r| r.strip_suffix('}')) {
            Some(hex)
                if !hex.is_empty()
                    && hex.len() <= 6
                    && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or("is not a Unicode scalar value.")
            }
            Some(_) => Err("needs one to six hexadecimal digits between the braces."),
            None if rest.starts_with('u') => Err("needs braces: write `\\u{41}`."),
            None => Err("is not an escape sequence gig knows."),
        },
    }
}
