//! A hand-written parser for well-formed items: the grammar of `grammar.pest`, read
//! directly into [`crate::ast`] nodes without pest's pairs.
//!
//! pest stays the definition of the language. This parser is an accelerator that takes
//! every item it can and declines (returns `None`) wherever it is not certain to build
//! exactly the tree that pest and `convert.rs` would build; `parse.rs` then parses that
//! item with pest, which also explains any error. It therefore never reports anything.
//!
//! Staying equal to pest rests on three rules.
//!
//! - **Choices follow the next token.** The grammar is a PEG, whose ordered choices
//!   take the first alternative that matches. At every choice this parser looks at the
//!   next token(s) and takes the alternative pest would try first among those that
//!   can start there (`[for` is a list comprehension, `name (` a call, `true` a
//!   literal even before `(`); when that alternative fails it declines instead of
//!   trying the next one, which would need pest's backtracking.
//! - **Repetitions and options stop where pest's do.** pest skips blanks (space and
//!   tab, its `WHITESPACE`) between the elements of every non-atomic rule, and the
//!   masked text it parses keeps only the newlines that separate entries; this parser
//!   skips the same blanks at the same places and reads separators the same way. A
//!   span runs from a node's first token to the end of its last one, which is what
//!   `convert.rs` gets by trimming trailing blanks from a pair's span.
//! - **Anything `convert.rs` would diagnose is declined**: malformed numbers and
//!   escapes, unknown param types, blocks where only attributes are allowed, output
//!   blocks without exactly one `value`, interpolated module sources, and expressions
//!   deeper than [`MAX_EXPR_DEPTH`].
//!
//! Recursion is bounded the same way as pest's: the scanner has cut the text before any
//! point where nesting goes past [`super::MAX_NESTING`], and every recursive call below
//! builds a node one level deeper, so a tree past [`MAX_EXPR_DEPTH`] is declined before
//! the recursion can go further. The tests in `parse.rs` compare both parsers on the
//! test corpus and on thousands of mutated variants of it, and the `parse_fast` fuzz
//! target compares them on arbitrary input.

use crate::ast::{
    Attribute, BinaryOp, Block, Body, BodyEntry, Expr, ExprKind, ForHead, Heredoc, Ident,
    ImportBlock, Item, Let, MapEntry, MapKey, Module, MovedBlock, Output, Param, Provider,
    Resource, ResourceKind, StackBlock, StateBlock, TemplatePart, TypeExpr, TypeField, UnaryOp,
};
use crate::parse::convert::{end_heredoc_line, heredoc_parts, parse_number, unescape};
use crate::parse::MAX_EXPR_DEPTH;
use gig_core::span::{FileId, Span};

/// Stacks the parser collects a node's children on before moving them into a vector
/// of exactly their number. Growing each node's vector element by element would
/// reallocate it several times and leave it up to four times too large (a string's
/// single part in room for four), which made the tree of a large stack twice the size.
/// One `Scratch` serves every item of a file.
#[derive(Default)]
pub(super) struct Scratch {
    entries: Vec<BodyEntry>,
    exprs: Vec<Expr>,
    map: Vec<MapEntry>,
    parts: Vec<TemplatePart>,
}

/// Parses the top-level item at the start of `text` (masked text, starting at a token,
/// found at offset `base` of `file`). Returns the item and the offset in `text` where
/// it ends, or `None` when pest should parse it instead.
pub(super) fn parse_item(
    file: FileId,
    base: usize,
    text: &str,
    scratch: &mut Scratch,
) -> Option<(Item, usize)> {
    let mut p = Parser {
        b: text.as_bytes(),
        s: text,
        file,
        base,
        pos: 0,
        last: 0,
        nesting: 0,
        scratch,
    };
    let item = p.item();
    // A declined item may leave children behind.
    p.scratch.entries.clear();
    p.scratch.exprs.clear();
    p.scratch.map.clear();
    p.scratch.parts.clear();
    let item = item?;
    // `item_line` requires a newline or the end of the text after the item.
    p.blanks();
    if p.pos < p.b.len() && p.b[p.pos] != b'\n' {
        return None;
    }
    Some((item, p.last))
}

/// An expression with the depth of its tree (as in `convert.rs`).
struct D {
    expr: Expr,
    depth: usize,
}

/// Makes a node, declining when it would be deeper than the parser allows.
fn node(kind: ExprKind, span: Span, depth: usize) -> Option<D> {
    if depth > MAX_EXPR_DEPTH {
        return None;
    }
    Some(D {
        expr: Expr { kind, span },
        depth,
    })
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

struct Parser<'t, 's> {
    b: &'t [u8],
    s: &'t str,
    file: FileId,
    base: usize,
    pos: usize,
    /// End of the last token read: where the span of whatever is being built ends.
    last: usize,
    /// Expressions currently being parsed, one inside the other.
    nesting: usize,
    scratch: &'s mut Scratch,
}

impl<'t> Parser<'t, '_> {
    // ------------------------------------------------------------ tokens

    /// The byte at the cursor; 0 at the end. Outside strings the masked text holds no
    /// NUL (the scanner masks control characters), so 0 means the end there.
    fn peek(&self) -> u8 {
        self.b.get(self.pos).copied().unwrap_or(0)
    }

    fn peek_at(&self, ahead: usize) -> u8 {
        self.b.get(self.pos + ahead).copied().unwrap_or(0)
    }

    /// Skips spaces and tabs: pest's implicit `WHITESPACE`.
    fn blanks(&mut self) {
        while matches!(self.peek(), b' ' | b'\t') {
            self.pos += 1;
        }
    }

    /// Skips blanks and newlines: `nl*` between blanks.
    fn newlines(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n') {
            self.pos += 1;
        }
    }

    /// Consumes a token of `len` bytes.
    fn token(&mut self, len: usize) {
        self.pos += len;
        self.last = self.pos;
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == c {
            self.token(1);
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// The span from `start` to the end of the last token.
    fn span(&self, start: usize) -> Span {
        Span::new(self.file, self.base + start, self.base + self.last)
    }

    /// The identifier-shaped word at the cursor (empty if none).
    fn word(&self) -> &'t str {
        let b = self.b;
        let mut end = self.pos;
        if end < b.len() && is_ident_start(b[end]) {
            end += 1;
            while end < b.len() && is_ident_char(b[end]) {
                end += 1;
            }
        }
        &self.s[self.pos..end]
    }

    /// Whether keyword `kw` is at the cursor (and not the start of a longer name).
    fn at_keyword(&self, kw: &str) -> bool {
        self.b[self.pos..].starts_with(kw.as_bytes()) && !is_ident_char(self.peek_at(kw.len()))
    }

    /// Whether the first byte after `len` bytes and any blanks is `{`: `stack {` starts
    /// a stack block, while `stack = …` is an assignment.
    fn brace_after(&self, len: usize) -> bool {
        self.b[self.pos + len..]
            .iter()
            .find(|&&c| !matches!(c, b' ' | b'\t'))
            == Some(&b'{')
    }

    /// Whether the keyword `kw` follows `len` bytes and any blanks: `import for …`.
    fn keyword_after(&self, len: usize, kw: &str) -> bool {
        let rest = &self.b[self.pos + len..];
        let start = rest
            .iter()
            .position(|&c| !matches!(c, b' ' | b'\t'))
            .unwrap_or(rest.len());
        start > 0
            && rest[start..].starts_with(kw.as_bytes())
            && !is_ident_char(rest.get(start + kw.len()).copied().unwrap_or(b' '))
    }

    fn keyword(&mut self, kw: &str) -> Option<()> {
        self.at_keyword(kw).then(|| self.token(kw.len()))
    }

    fn ident(&mut self) -> Option<Ident> {
        let start = self.pos;
        let word = self.word();
        if word.is_empty() {
            return None;
        }
        self.token(word.len());
        Some(Ident {
            name: word.to_string(),
            span: self.span(start),
        })
    }

    /// `aws` or `aws.west`: a provider and an optional alias, with no blanks around
    /// the dot (the grammar's `provider_name` is atomic).
    fn provider_name(&mut self) -> Option<Ident> {
        let start = self.pos;
        let mut name = self.ident()?;
        if self.peek() == b'.' && is_ident_start(self.peek_at(1)) {
            self.token(1);
            let alias = self.ident()?;
            name.name = format!("{}.{}", name.name, alias.name);
            name.span = self.span(start);
        }
        Some(name)
    }

    // ------------------------------------------------------------ items

    fn item(&mut self) -> Option<Item> {
        let start = self.pos;
        let word = self.word();
        match word {
            "param" => self.param(start),
            "let" => {
                self.token(word.len());
                self.blanks();
                let name = self.ident()?;
                self.blanks();
                self.expect(b'=')?;
                self.blanks();
                let value = self.expr()?.expr;
                Some(Item::Let(Let {
                    name,
                    value,
                    span: self.span(start),
                }))
            }
            "provider" => {
                self.token(word.len());
                self.blanks();
                let name = self.provider_name()?;
                self.blanks();
                let body = self.body()?;
                Some(Item::Provider(Provider {
                    name,
                    body,
                    span: self.span(start),
                }))
            }
            "stack" | "state" if self.brace_after(word.len()) => {
                self.token(word.len());
                self.blanks();
                let body = self.body()?;
                let span = self.span(start);
                Some(if word == "stack" {
                    Item::Stack(StackBlock { body, span })
                } else {
                    Item::State(StateBlock { body, span })
                })
            }
            "moved" if self.brace_after(word.len()) => {
                self.token(word.len());
                self.blanks();
                let body = self.body()?;
                let span = self.span(start);
                Some(Item::Moved(MovedBlock { body, span }))
            }
            "import" if self.brace_after(word.len()) || self.keyword_after(word.len(), "for") => {
                self.token(word.len());
                self.blanks();
                let for_each = self.for_head()?;
                let body = self.body()?;
                let span = self.span(start);
                Some(Item::Import(ImportBlock {
                    for_each,
                    body,
                    span,
                }))
            }
            "resource" | "data" => self.resource(start, word),
            "module" => self.module(start),
            "output" => self.output(start),
            "" => None,
            _ => {
                let name = self.ident()?;
                self.blanks();
                self.expect(b'=')?;
                self.blanks();
                let value = self.expr()?.expr;
                Some(Item::Assign(Attribute {
                    name,
                    value,
                    span: self.span(start),
                }))
            }
        }
    }

    fn param(&mut self, start: usize) -> Option<Item> {
        self.token("param".len());
        self.blanks();
        let name = self.ident()?;
        self.blanks();
        let mut ty = None;
        if self.eat(b':') {
            self.blanks();
            ty = Some(self.type_expr()?);
            self.blanks();
        }
        let mut default = None;
        if self.eat(b'=') {
            self.blanks();
            default = Some(self.expr()?.expr);
            self.blanks();
        }
        let mut options = Vec::new();
        if self.peek() == b'{' {
            options = self.attributes_only()?;
        }
        Some(Item::Param(Param {
            name,
            ty,
            default,
            options,
            span: self.span(start),
        }))
    }

    fn type_expr(&mut self) -> Option<TypeExpr> {
        let start = self.pos;
        let name = self.ident()?;
        self.blanks();
        let mut arg = None;
        if self.eat(b'(') {
            self.blanks();
            if self.peek() == b'{' {
                if name.name != "object" {
                    return None;
                }
                let fields = self.type_fields()?;
                self.blanks();
                self.expect(b')')?;
                return Some(TypeExpr::Object(fields, self.span(start)));
            }
            arg = Some(self.type_expr()?);
            self.blanks();
            self.expect(b')')?;
        }
        let span = self.span(start);
        match (name.name.as_str(), arg) {
            ("string", None) => Some(TypeExpr::String(span)),
            ("number", None) => Some(TypeExpr::Number(span)),
            ("bool", None) => Some(TypeExpr::Bool(span)),
            ("any", None) => Some(TypeExpr::Any(span)),
            ("list", arg) => Some(TypeExpr::List(
                Box::new(arg.unwrap_or(TypeExpr::Any(span))),
                span,
            )),
            ("map", arg) => Some(TypeExpr::Map(
                Box::new(arg.unwrap_or(TypeExpr::Any(span))),
                span,
            )),
            _ => None,
        }
    }

    /// `{ name = TYPE (sep name = TYPE)* sep? }` of an object type; declines a
    /// repeated name, which pest's path reports.
    fn type_fields(&mut self) -> Option<Vec<TypeField>> {
        self.expect(b'{')?;
        self.newlines();
        let mut fields: Vec<TypeField> = Vec::new();
        if self.eat(b'}') {
            return Some(fields);
        }
        loop {
            let name = self.ident()?;
            self.blanks();
            self.expect(b'=')?;
            self.blanks();
            let ty = self.type_expr()?;
            if fields.iter().any(|f| f.name.name == name.name) {
                return None;
            }
            fields.push(TypeField { name, ty });
            if self.separator()? {
                return Some(fields);
            }
        }
    }

    fn resource(&mut self, start: usize, word: &str) -> Option<Item> {
        let kind = if word == "data" {
            ResourceKind::Data
        } else {
            ResourceKind::Managed
        };
        self.token(word.len());
        self.blanks();
        // `rtype` is compound-atomic: no blanks around its dots.
        let mut rtype = Vec::with_capacity(2);
        rtype.push(self.ident()?);
        while self.peek() == b'.' && is_ident_start(self.peek_at(1)) {
            self.token(1);
            rtype.push(self.ident()?);
        }
        self.blanks();
        let name = self.ident()?;
        self.blanks();
        let for_each = self.for_head()?;
        let body = self.body()?;
        Some(Item::Resource(Resource {
            kind,
            rtype,
            name,
            for_each,
            body,
            span: self.span(start),
        }))
    }

    /// An optional `for k, v in EXPR` head before a block body: `Some(None)` when there
    /// is none, `None` when there is one the fast path declines.
    fn for_head(&mut self) -> Option<Option<ForHead>> {
        if !self.at_keyword("for") {
            return Some(None);
        }
        let head_start = self.pos;
        self.token(3);
        self.blanks();
        let (key, value, collection) = self.for_vars()?;
        let head = ForHead {
            key,
            value,
            collection: collection.expr,
            span: self.span(head_start),
        };
        self.blanks();
        Some(Some(head))
    }

    fn module(&mut self, start: usize) -> Option<Item> {
        self.token("module".len());
        self.blanks();
        let name = self.ident()?;
        self.blanks();
        self.keyword("from")?;
        self.blanks();
        if self.peek() != b'"' {
            return None;
        }
        let source_start = self.pos;
        let D { expr, .. } = self.string()?;
        let source_span = self.span(source_start);
        let ExprKind::Template(parts) = expr.kind else {
            return None;
        };
        let mut source = String::new();
        for part in parts {
            match part {
                TemplatePart::Literal(s) => source.push_str(&s),
                TemplatePart::Interpolation(_) => return None,
            }
        }
        self.blanks();
        let for_each = self.for_head()?;
        let body = self.body()?;
        Some(Item::Module(Module {
            name,
            source,
            source_span,
            for_each,
            body,
            span: self.span(start),
        }))
    }

    fn output(&mut self, start: usize) -> Option<Item> {
        self.token("output".len());
        self.blanks();
        let name = self.ident()?;
        self.blanks();
        if self.eat(b'=') {
            self.blanks();
            let value = self.expr()?.expr;
            return Some(Item::Output(Output {
                name,
                value,
                options: Vec::new(),
                block_form: false,
                span: self.span(start),
            }));
        }
        let mut value = None;
        let mut options = Vec::new();
        for attr in self.attributes_only()? {
            if attr.name.name != "value" {
                options.push(attr);
            } else if value.is_some() {
                return None;
            } else {
                value = Some(attr.value);
            }
        }
        Some(Item::Output(Output {
            name,
            value: value?,
            options,
            block_form: true,
            span: self.span(start),
        }))
    }

    // ------------------------------------------------------------ bodies

    /// `{ entry (sep entry)* sep? }` where a separator is a comma (and newlines) or
    /// newlines.
    fn body(&mut self) -> Option<Body> {
        let start = self.pos;
        self.expect(b'{')?;
        self.newlines();
        let first = self.scratch.entries.len();
        if !self.eat(b'}') {
            loop {
                let entry = self.entry()?;
                self.scratch.entries.push(entry);
                if self.separator()? {
                    break;
                }
            }
        }
        Some(Body {
            entries: take(&mut self.scratch.entries, first),
            span: self.span(start),
        })
    }

    /// After an entry of a body or map: reads the separator and, when the closing `}`
    /// follows, that too (returning `true`). Declines on anything else.
    fn separator(&mut self) -> Option<bool> {
        self.blanks();
        if self.eat(b'}') {
            return Some(true);
        }
        match self.peek() {
            b',' => self.token(1),
            b'\n' => {}
            _ => return None,
        }
        self.newlines();
        Some(self.eat(b'}'))
    }

    fn entry(&mut self) -> Option<BodyEntry> {
        let start = self.pos;
        let name = self.ident()?;
        self.blanks();
        if self.eat(b'=') {
            self.blanks();
            let value = self.expr()?.expr;
            return Some(BodyEntry::Attribute(Attribute {
                name,
                value,
                span: self.span(start),
            }));
        }
        let body = self.body()?;
        Some(BodyEntry::Block(Block {
            name,
            body,
            span: self.span(start),
        }))
    }

    /// A body that may hold attributes only (param options, output blocks).
    fn attributes_only(&mut self) -> Option<Vec<Attribute>> {
        let entries = self.body()?.entries;
        let mut attrs = Vec::with_capacity(entries.len());
        for entry in entries {
            match entry {
                BodyEntry::Attribute(a) => attrs.push(a),
                BodyEntry::Block(_) => return None,
            }
        }
        Some(attrs)
    }

    // ------------------------------------------------------------ expressions

    /// `binary (? expr : expr)?`
    fn expr(&mut self) -> Option<D> {
        // Every nested expression sits inside a node one level deeper, so nesting past
        // the depth limit could only build a tree `convert.rs` would reject.
        if self.nesting > MAX_EXPR_DEPTH {
            return None;
        }
        self.nesting += 1;
        let d = self.conditional();
        self.nesting -= 1;
        d
    }

    fn conditional(&mut self) -> Option<D> {
        let start = self.pos;
        let cond = self.binary()?;
        self.blanks();
        if !self.eat(b'?') {
            return Some(cond);
        }
        self.blanks();
        let a = self.expr()?;
        self.blanks();
        self.expect(b':')?;
        self.blanks();
        let b = self.expr()?;
        let depth = 1 + cond.depth.max(a.depth).max(b.depth);
        node(
            ExprKind::Conditional(Box::new(cond.expr), Box::new(a.expr), Box::new(b.expr)),
            self.span(start),
            depth,
        )
    }

    /// The binary operator at the cursor, if any.
    fn binop(&self) -> Option<BinaryOp> {
        Some(match (self.peek(), self.peek_at(1)) {
            (b'|', b'|') => BinaryOp::Or,
            (b'&', b'&') => BinaryOp::And,
            (b'=', b'=') => BinaryOp::Eq,
            (b'!', b'=') => BinaryOp::Ne,
            (b'<', b'=') => BinaryOp::Le,
            (b'>', b'=') => BinaryOp::Ge,
            (b'<', _) => BinaryOp::Lt,
            (b'>', _) => BinaryOp::Gt,
            (b'+', _) => BinaryOp::Add,
            (b'-', _) => BinaryOp::Sub,
            (b'*', _) => BinaryOp::Mul,
            (b'/', _) => BinaryOp::Div,
            (b'%', _) => BinaryOp::Rem,
            _ => return None,
        })
    }

    /// `unary (binop unary)*`, arranged by precedence with an operator stack exactly as
    /// `convert.rs` does.
    fn binary(&mut self) -> Option<D> {
        let first = self.unary()?;
        self.blanks();
        let Some(mut op) = self.binop() else {
            return Some(first);
        };
        let mut operands = vec![first];
        let mut ops: Vec<BinaryOp> = Vec::new();
        loop {
            self.token(op.symbol().len());
            self.blanks();
            while ops
                .last()
                .is_some_and(|top| top.precedence() >= op.precedence())
            {
                reduce(&mut operands, &mut ops)?;
            }
            ops.push(op);
            operands.push(self.unary()?);
            self.blanks();
            match self.binop() {
                Some(next) => op = next,
                None => break,
            }
        }
        while !ops.is_empty() {
            reduce(&mut operands, &mut ops)?;
        }
        operands.pop()
    }

    /// `unop* postfix`
    fn unary(&mut self) -> Option<D> {
        let op = |b: u8| match b {
            b'!' => Some(UnaryOp::Not),
            b'-' => Some(UnaryOp::Neg),
            _ => None,
        };
        if op(self.peek()).is_none() {
            return self.postfix();
        }
        let mut ops = Vec::new();
        while let Some(o) = op(self.peek()) {
            ops.push((o, self.base + self.pos));
            self.token(1);
            self.blanks();
        }
        let mut d = self.postfix()?;
        while let Some((o, start)) = ops.pop() {
            let span = Span {
                start: start as u32,
                ..d.expr.span
            };
            let depth = d.depth + 1;
            d = node(ExprKind::Unary(o, Box::new(d.expr)), span, depth)?;
        }
        Some(d)
    }

    /// `primary (. ident | [*] | [ expr ])*`
    fn postfix(&mut self) -> Option<D> {
        let mut d = self.primary()?;
        loop {
            self.blanks();
            match self.peek() {
                b'.' => {
                    self.token(1);
                    self.blanks();
                    let name = self.ident()?;
                    let span = Span {
                        end: name.span.end,
                        ..d.expr.span
                    };
                    let depth = d.depth + 1;
                    d = node(ExprKind::GetAttr(Box::new(d.expr), name), span, depth)?;
                }
                b'[' => {
                    self.token(1);
                    self.blanks();
                    if self.eat(b'*') {
                        self.blanks();
                        self.expect(b']')?;
                        let span = Span {
                            end: (self.base + self.last) as u32,
                            ..d.expr.span
                        };
                        let depth = d.depth + 1;
                        d = node(ExprKind::Splat(Box::new(d.expr)), span, depth)?;
                        continue;
                    }
                    let index = self.expr()?;
                    self.blanks();
                    self.expect(b']')?;
                    let span = Span {
                        end: (self.base + self.last) as u32,
                        ..d.expr.span
                    };
                    let depth = 1 + d.depth.max(index.depth);
                    d = node(
                        ExprKind::Index(Box::new(d.expr), Box::new(index.expr)),
                        span,
                        depth,
                    )?;
                }
                _ => return Some(d),
            }
        }
    }

    fn primary(&mut self) -> Option<D> {
        let start = self.pos;
        match self.peek() {
            b'(' => self.paren(),
            b'[' => {
                self.token(1);
                self.blanks();
                if self.at_keyword("for") {
                    self.for_list(start)
                } else {
                    self.list(start)
                }
            }
            b'{' => {
                self.token(1);
                self.newlines();
                if self.at_keyword("for") {
                    self.for_map(start)
                } else {
                    self.map(start)
                }
            }
            b'"' => self.string(),
            b'<' => self.heredoc(),
            b'0'..=b'9' => self.number(),
            c if is_ident_start(c) => {
                let word = self.word();
                let literal = match word {
                    "true" => Some(ExprKind::Bool(true)),
                    "false" => Some(ExprKind::Bool(false)),
                    "null" => Some(ExprKind::Null),
                    _ => None,
                };
                if let Some(kind) = literal {
                    self.token(word.len());
                    return node(kind, self.span(start), 1);
                }
                let name = self.ident()?;
                let after = self.pos;
                self.blanks();
                if self.peek() == b'(' {
                    return self.call(start, name);
                }
                self.pos = after;
                if matches!(word, "for" | "in" | "if") {
                    return None;
                }
                let span = name.span;
                node(ExprKind::Var(name), span, 1)
            }
            _ => None,
        }
    }

    fn paren(&mut self) -> Option<D> {
        let start = self.pos;
        self.expect(b'(')?;
        self.blanks();
        let inner = self.expr()?;
        self.blanks();
        self.expect(b')')?;
        node(
            ExprKind::Paren(Box::new(inner.expr)),
            self.span(start),
            inner.depth + 1,
        )
    }

    /// Comma-separated expressions up to `close` (a trailing comma allowed); the
    /// opening bracket has been read.
    fn elements(&mut self, close: u8) -> Option<(Vec<Expr>, usize)> {
        let first = self.scratch.exprs.len();
        let mut depth = 0;
        if self.eat(close) {
            return Some((Vec::new(), depth));
        }
        loop {
            let d = self.expr()?;
            depth = depth.max(d.depth);
            self.scratch.exprs.push(d.expr);
            self.blanks();
            if self.eat(b',') {
                self.blanks();
                if self.eat(close) {
                    break;
                }
            } else {
                self.expect(close)?;
                break;
            }
        }
        Some((take(&mut self.scratch.exprs, first), depth))
    }

    /// A list; `[` and the blanks after it have been read.
    fn list(&mut self, start: usize) -> Option<D> {
        let (items, depth) = self.elements(b']')?;
        node(ExprKind::List(items), self.span(start), depth + 1)
    }

    fn call(&mut self, start: usize, name: Ident) -> Option<D> {
        self.expect(b'(')?;
        self.blanks();
        let (args, depth) = self.elements(b')')?;
        node(ExprKind::Call(name, args), self.span(start), depth + 1)
    }

    /// A map; `{` and the newlines after it have been read.
    fn map(&mut self, start: usize) -> Option<D> {
        let first = self.scratch.map.len();
        let mut depth = 0;
        if !self.eat(b'}') {
            loop {
                let key = match self.peek() {
                    b'"' => {
                        let d = self.string()?;
                        depth = depth.max(d.depth);
                        MapKey::Expr(d.expr)
                    }
                    b'(' => {
                        let d = self.paren()?;
                        depth = depth.max(d.depth);
                        MapKey::Expr(d.expr)
                    }
                    _ => MapKey::Ident(self.ident()?),
                };
                self.blanks();
                self.expect(b'=')?;
                self.blanks();
                let value = self.expr()?;
                depth = depth.max(value.depth);
                self.scratch.map.push(MapEntry {
                    key,
                    value: value.expr,
                });
                if self.separator()? {
                    break;
                }
            }
        }
        let entries = take(&mut self.scratch.map, first);
        node(ExprKind::Map(entries), self.span(start), depth + 1)
    }

    /// `IDENT [, IDENT] in EXPR` after `for`, as (key, value, collection).
    fn for_vars(&mut self) -> Option<(Option<Ident>, Ident, D)> {
        let first = self.ident()?;
        self.blanks();
        let mut second = None;
        if self.eat(b',') {
            self.blanks();
            second = Some(self.ident()?);
            self.blanks();
        }
        self.keyword("in")?;
        self.blanks();
        let collection = self.expr()?;
        Some(match second {
            Some(value) => (Some(first), value, collection),
            None => (None, first, collection),
        })
    }

    /// `[for … in … : body if cond]`; `[` and the blanks after it have been read.
    fn for_list(&mut self, start: usize) -> Option<D> {
        self.keyword("for")?;
        self.blanks();
        let (key, value, collection) = self.for_vars()?;
        self.blanks();
        self.expect(b':')?;
        self.blanks();
        let body = self.expr()?;
        self.blanks();
        let mut cond = None;
        if self.keyword("if").is_some() {
            self.blanks();
            cond = Some(self.expr()?);
            self.blanks();
        }
        self.expect(b']')?;
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
        node(kind, self.span(start), depth)
    }

    /// `{for … in … : k => v if cond}`; `{` and the newlines after it have been read.
    fn for_map(&mut self, start: usize) -> Option<D> {
        self.keyword("for")?;
        self.blanks();
        let (key, value, collection) = self.for_vars()?;
        self.blanks();
        self.expect(b':')?;
        self.newlines();
        let key_expr = self.expr()?;
        self.newlines();
        if !(self.peek() == b'=' && self.peek_at(1) == b'>') {
            return None;
        }
        self.token(2);
        self.newlines();
        let value_expr = self.expr()?;
        self.newlines();
        let mut cond = None;
        if self.keyword("if").is_some() {
            self.blanks();
            cond = Some(self.expr()?);
            self.newlines();
        }
        self.expect(b'}')?;
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
        node(kind, self.span(start), depth)
    }

    /// A string with escapes and `${…}` interpolations. Literal pieces next to each
    /// other are merged into one part, as in `convert.rs`.
    fn string(&mut self) -> Option<D> {
        let start = self.pos;
        self.expect(b'"')?;
        let b = self.b;
        let first = self.scratch.parts.len();
        let mut depth = 0;
        loop {
            let i = self.pos;
            // Strings may hold NUL bytes, so test the end explicitly here.
            let c = *b.get(i)?;
            match c {
                b'"' => {
                    self.token(1);
                    break;
                }
                b'\n' => return None,
                b'\\' => {
                    let len = escape_len(&b[i..])?;
                    let c = unescape(&self.s[i..i + len]).ok()?;
                    let mut buf = [0u8; 4];
                    push_literal(&mut self.scratch.parts, first, c.encode_utf8(&mut buf));
                    self.token(len);
                }
                b'$' if b.get(i + 1) == Some(&b'$') && b.get(i + 2) == Some(&b'{') => {
                    push_literal(&mut self.scratch.parts, first, "${");
                    self.token(3);
                }
                b'$' if b.get(i + 1) == Some(&b'{') => {
                    let d = self.interpolation()?;
                    depth = depth.max(d.depth);
                    self.scratch.parts.push(TemplatePart::Interpolation(d.expr));
                }
                _ => {
                    let j = literal_end(b, i, b"\"\\\n");
                    push_literal(&mut self.scratch.parts, first, &self.s[i..j]);
                    self.token(j - i);
                }
            }
        }
        let parts = take(&mut self.scratch.parts, first);
        node(ExprKind::Template(parts), self.span(start), depth + 1)
    }

    /// `${ expr }` of a string or heredoc, the cursor at `$`.
    fn interpolation(&mut self) -> Option<D> {
        self.token(2);
        self.blanks();
        let d = self.expr()?;
        self.blanks();
        self.expect(b'}')?;
        Some(d)
    }

    /// A heredoc, read as the grammar's `heredoc` rule reads it: the opening line, then
    /// body lines up to the first that starts (after blanks) with the marker.
    fn heredoc(&mut self) -> Option<D> {
        let start = self.pos;
        let b = self.b;
        if b.get(start + 1) != Some(&b'<') {
            return None;
        }
        self.token(2);
        let strip = self.eat(b'-');
        let marker = self.ident()?.name;
        self.blanks();
        self.expect(b'\n')?;
        let mut lines: Vec<Vec<TemplatePart>> = Vec::new();
        let mut depth = 0;
        loop {
            let line_start = self.pos;
            let mut i = line_start;
            while matches!(b.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
            if b[i..].starts_with(marker.as_bytes())
                && !b.get(i + marker.len()).copied().is_some_and(is_ident_char)
            {
                self.pos = i;
                self.token(marker.len());
                break;
            }
            let mut line = Vec::new();
            loop {
                let i = self.pos;
                match *b.get(i)? {
                    b'\n' => {
                        self.token(1);
                        break;
                    }
                    b'$' if b.get(i + 1) == Some(&b'$') && b.get(i + 2) == Some(&b'{') => {
                        push_literal(&mut line, 0, "${");
                        self.token(3);
                    }
                    b'$' if b.get(i + 1) == Some(&b'{') => {
                        let d = self.interpolation()?;
                        depth = depth.max(d.depth);
                        line.push(TemplatePart::Interpolation(d.expr));
                    }
                    _ => {
                        let j = literal_end(b, i, b"\n");
                        push_literal(&mut line, 0, &self.s[i..j]);
                        self.token(j - i);
                    }
                }
            }
            end_heredoc_line(&mut line);
            lines.push(line);
        }
        let parts = heredoc_parts(lines, strip);
        let kind = ExprKind::Heredoc(Heredoc {
            marker,
            strip,
            parts,
        });
        node(kind, self.span(start), depth + 1)
    }

    /// A number: matched as loosely as the grammar's `number` rule, then checked.
    fn number(&mut self) -> Option<D> {
        let start = self.pos;
        let b = self.b;
        let tail = |mut i: usize| loop {
            match b.get(i) {
                Some(b'e' | b'E') if matches!(b.get(i + 1), Some(b'+' | b'-')) => i += 2,
                Some(&c) if is_ident_char(c) => i += 1,
                _ => return i,
            }
        };
        let mut end = tail(start + 1);
        if b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
            end = tail(end + 2);
        }
        let n = parse_number(&self.s[start..end])?;
        self.token(end - start);
        node(ExprKind::Number(n), self.span(start), 1)
    }
}

/// Combines the top two operands with the top operator.
fn reduce(operands: &mut Vec<D>, ops: &mut Vec<BinaryOp>) -> Option<()> {
    let (op, rhs, lhs) = (ops.pop()?, operands.pop()?, operands.pop()?);
    let span = lhs.expr.span.to(rhs.expr.span);
    let depth = 1 + lhs.depth.max(rhs.depth);
    operands.push(node(
        ExprKind::Binary(op, Box::new(lhs.expr), Box::new(rhs.expr)),
        span,
        depth,
    )?);
    Some(())
}

/// The length of the escape sequence at the start of `b` (which starts with `\\`) when
/// it may be valid: `\\u{` with one to six hexadecimal digits and `}`, or a backslash
/// and one ASCII character. The grammar's `str_escape` matches these the same way;
/// anything else it matches is an invalid escape, which pest should report.
fn escape_len(b: &[u8]) -> Option<usize> {
    match b.get(1)? {
        b'u' if b.get(2) == Some(&b'{') => {
            let digits = b[3..]
                .iter()
                .take(7)
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            ((1..=6).contains(&digits) && b.get(3 + digits) == Some(&b'}'))
                .then_some(3 + digits + 1)
        }
        c if c.is_ascii() => Some(2),
        _ => None,
    }
}

/// Moves the elements from `first` on out of a scratch stack into a vector of their
/// exact number. (`Vec::split_off(0)` would hand over the stack's whole buffer.)
fn take<T>(stack: &mut Vec<T>, first: usize) -> Vec<T> {
    stack.drain(first..).collect()
}

/// Where literal text of a string or heredoc that starts at `i` ends: at the first of
/// the `stops` bytes, `${` or `$${` after `i`, or at the end.
fn literal_end(b: &[u8], i: usize, stops: &[u8]) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            c if stops.contains(&c) => break,
            b'$' if b.get(j + 1) == Some(&b'{')
                || (b.get(j + 1) == Some(&b'$') && b.get(j + 2) == Some(&b'{')) =>
            {
                break
            }
            _ => j += 1,
        }
    }
    j
}

/// Appends literal text to the string whose parts start at `first`.
fn push_literal(parts: &mut Vec<TemplatePart>, first: usize, s: &str) {
    if let Some(TemplatePart::Literal(last)) = parts[first..].last_mut() {
        last.push_str(s);
    } else {
        parts.push(TemplatePart::Literal(s.to_string()));
    }
}
