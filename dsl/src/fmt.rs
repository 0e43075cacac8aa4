//! The canonical printer behind `gig fmt`: [`ast::File`] plus its source → formatted text.
//!
//! Style: two-space indent; one entry per line in blocks; `=` aligned within a run
//! of consecutive single-line attributes (a blank line, a nested block or a
//! multi-line value ends the run); consecutive single-line `let`s align the same
//! way. Top-level items keep at most one blank line between them, and always get
//! one around an item that spans several lines; inside blocks at most one of the
//! user's blank lines is kept. Lists, maps, calls and blocks written on one line
//! stay on one line while they fit in [`WIDTH`] columns; otherwise (or when written
//! over several lines) they get one element per line: lists and call arguments with
//! a trailing comma, maps without commas. Strings are re-escaped canonically.
//!
//! Comments are never lost. Each container (file, block, list, map, call) places
//! the comments between its children itself: a comment on the line where a child
//! ends stays at the end of that line, others go on their own lines before the next
//! child or before the closing bracket. A comment inside an expression that is not a
//! container makes that expression print exactly as written. Any comment still
//! unprinted after its item is printed on its own line before the item.
//!
//! Every decision depends only on the tree and on whether a container spanned
//! several lines, which the output preserves, so formatting is idempotent.

use crate::ast::{
    Block, BodyEntry, Comment, Expr, ExprKind, File, ForHead, Heredoc, ImportBlock, Item, MapKey,
    MovedBlock, Output, Param, ResourceKind, StackBlock, StateBlock, TemplatePart, TypeExpr,
    UnaryOp,
};
use crate::parse::parse_file;
use gig_core::diag::{has_errors, Diagnostic};
use gig_core::span::FileId;

/// The line width the printer keeps to where it can.
pub const WIDTH: usize = 100;

const INDENT: &str = "  ";

/// Parses and formats `text`; returns the parse errors instead when it does not parse.
pub fn format_source(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    let (ast, diags) = parse_file(file, text);
    if has_errors(&diags) {
        return Err(diags);
    }
    Ok(format_file(&ast, text))
}

/// Formats a parsed file. `source` must be the text `file` was parsed from.
pub fn format_file(file: &File, source: &str) -> String {
    let mut p = Printer::new(source, &file.comments);
    let children: Vec<Child<'_>> = file.items.iter().map(Child::item).collect();
    let (_, mut out) = p.sequence(&children, 0, 0, source.len(), Seq::File);
    // Anything left over (only possible for trees not parsed from `source`).
    for i in 0..p.comments.len() {
        if !p.printed[i] {
            p.printed[i] = true;
            out.push_str(&no_cr(&p.comments[i].text));
            out.push('\n');
        }
    }
    let trimmed = out.trim_end_matches('\n');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}

/// What kind of sequence a container holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seq {
    /// Top-level items.
    File,
    /// Block entries or map entries.
    Body,
    /// List elements or call arguments: a comma after each.
    Commas,
}

/// One child of a container.
struct Child<'a> {
    start: usize,
    end: usize,
    kind: Kind<'a>,
}

enum Kind<'a> {
    /// `key = value`. Runs of the same tag align their `=`.
    KeyValue {
        tag: &'static str,
        key: String,
        value: &'a Expr,
    },
    /// `name { … }` in a body.
    Block(&'a Block),
    /// A top-level item other than `let`, `output NAME =` and `NAME =`.
    Item(&'a Item),
    /// A list element or call argument.
    Element(&'a Expr),
}

impl<'a> Child<'a> {
    fn item(item: &'a Item) -> Child<'a> {
        let span = item.span();
        let kind = match item {
            Item::Let(l) => Kind::KeyValue {
                tag: "let",
                key: format!("let {}", l.name.name),
                value: &l.value,
            },
            Item::Assign(a) => Kind::KeyValue {
                tag: "assign",
                key: a.name.name.clone(),
                value: &a.value,
            },
            Item::Output(o) if !o.block_form => Kind::KeyValue {
                tag: "output",
                key: format!("output {}", o.name.name),
                value: &o.value,
            },
            _ => Kind::Item(item),
        };
        Child {
            start: span.start as usize,
            end: span.end as usize,
            kind,
        }
    }

    fn entry(entry: &'a BodyEntry) -> Child<'a> {
        match entry {
            BodyEntry::Attribute(a) => Child {
                start: a.span.start as usize,
                end: a.span.end as usize,
                kind: Kind::KeyValue {
                    tag: "attr",
                    key: a.name.name.clone(),
                    value: &a.value,
                },
            },
            BodyEntry::Block(b) => Child {
                start: b.span.start as usize,
                end: b.span.end as usize,
                kind: Kind::Block(b),
            },
        }
    }
}

struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    printed: Vec<bool>,
    line_starts: Vec<usize>,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str, comments: &'a [Comment]) -> Printer<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        Printer {
            src,
            comments,
            printed: vec![false; comments.len()],
            line_starts,
        }
    }

    // ------------------------------------------------------------ positions

    fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }

    fn same_line(&self, a: usize, b: usize) -> bool {
        self.line(a) == self.line(b)
    }

    fn text(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    fn newlines(&self, start: usize, end: usize) -> usize {
        self.text(start, end.max(start)).matches('\n').count()
    }

    /// Indices of comments starting in `start..end`.
    fn comments_in(&self, start: usize, end: usize) -> std::ops::Range<usize> {
        let from = self
            .comments
            .partition_point(|c| (c.span.start as usize) < start);
        let to = self
            .comments
            .partition_point(|c| (c.span.start as usize) < end);
        from..to.max(from)
    }

    fn has_comments(&self, start: usize, end: usize) -> bool {
        !self.comments_in(start, end).is_empty()
    }

    /// Whether the gap `start..end` holds a blank line outside its comments.
    fn gap_has_blank(&self, start: usize, end: usize) -> bool {
        let mut at = start;
        for i in self.comments_in(start, end) {
            let c = &self.comments[i].span;
            if self.newlines(at, c.start as usize) >= 2 {
                return true;
            }
            at = c.end as usize;
        }
        self.newlines(at, end) >= 2
    }

    /// The offset of the first `{` at or after `from`, skipping comments.
    fn find_open_brace(&self, from: usize, limit: usize) -> Option<usize> {
        let bytes = self.src.as_bytes();
        let mut i = from;
        while i < limit.min(bytes.len()) {
            if let Some(c) = self.comments_in(i, i + 1).next().map(|n| &self.comments[n]) {
                i = (c.span.end as usize).max(i + 1);
                continue;
            }
            if bytes[i] == b'{' {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// The source text of a span, marking the comments in it printed.
    fn verbatim(&mut self, start: usize, end: usize) -> String {
        for i in self.comments_in(start, end) {
            self.printed[i] = true;
        }
        no_cr(self.text(start, end))
    }

    // ------------------------------------------------------------ sequences

    /// Prints the children of a container whose inside runs from `open_end` to
    /// `close_start`, each on its own line at `level`. Returns the comments that
    /// follow the opening bracket on its line, and the lines.
    fn sequence(
        &mut self,
        children: &[Child<'_>],
        level: usize,
        open_end: usize,
        close_start: usize,
        seq: Seq,
    ) -> (String, String) {
        let ind = INDENT.repeat(level);
        let sep = if seq == Seq::Commas { "," } else { "" };
        let mut pads = self.align(children, level);
        let mut out = String::new();
        let mut emitted_any = false;

        // Comments on the line of the opening bracket stay there.
        let mut after_open = String::new();
        let mut at = open_end;
        if seq != Seq::File {
            let first = children.first().map_or(close_start, |c| c.start);
            for i in self.comments_in(open_end, first) {
                let c = &self.comments[i];
                if !self.same_line(open_end.saturating_sub(1), c.span.start as usize)
                    || self.printed[i]
                {
                    break;
                }
                self.printed[i] = true;
                after_open.push(' ');
                after_open.push_str(&no_cr(&c.text));
                at = c.span.end as usize;
            }
        }

        let mut prev_end: Option<usize> = None;
        let mut prev_multiline = false;
        for (n, child) in children.iter().enumerate() {
            if let Some(end) = prev_end {
                at = self.trailing(&mut out, end, child.start);
            }
            let rendered = self.render_child(child, level, pads[n].take());
            let multiline = rendered.contains('\n');
            // Comments inside the child that nothing placed go before it.
            let stray: Vec<usize> = self
                .comments_in(child.start, child.end)
                .filter(|&i| !self.printed[i])
                .collect();
            let force_blank =
                seq == Seq::File && prev_end.is_some() && (prev_multiline || multiline);
            self.leading(
                &mut out,
                &ind,
                at,
                child.start,
                force_blank,
                &mut emitted_any,
            );
            for i in stray {
                self.printed[i] = true;
                out.push_str(&ind);
                out.push_str(&no_cr(&self.comments[i].text));
                out.push('\n');
            }
            out.push_str(&ind);
            out.push_str(&rendered);
            out.push_str(sep);
            out.push('\n');
            emitted_any = true;
            prev_end = Some(child.end);
            prev_multiline = multiline;
        }
        if let Some(end) = prev_end {
            at = self.trailing(&mut out, end, close_start);
        }
        // Comments before the closing bracket (or the end of the file).
        let mut first = true;
        for i in self.comments_in(at, close_start) {
            if self.printed[i] {
                continue;
            }
            self.printed[i] = true;
            let c = &self.comments[i];
            let blank = emitted_any
                && ((first && seq == Seq::File && prev_multiline)
                    || self.newlines(at, c.span.start as usize) >= 2);
            if blank {
                out.push('\n');
            }
            out.push_str(&ind);
            out.push_str(&no_cr(&c.text));
            out.push('\n');
            emitted_any = true;
            first = false;
            at = c.span.end as usize;
        }
        (after_open, out)
    }

    /// Appends the comments that start on the line where the previous child ended
    /// (before `limit`) to the last output line; returns where the gap continues.
    fn trailing(&mut self, out: &mut String, prev_end: usize, limit: usize) -> usize {
        let mut at = prev_end;
        let mut extra = String::new();
        for i in self.comments_in(prev_end, limit) {
            let c = &self.comments[i];
            if self.printed[i] || !self.same_line(prev_end, c.span.start as usize) {
                break;
            }
            self.printed[i] = true;
            extra.push(' ');
            extra.push_str(&no_cr(&c.text));
            at = c.span.end as usize;
        }
        if !extra.is_empty() {
            if out.ends_with('\n') {
                out.pop();
            }
            out.push_str(&extra);
            out.push('\n');
        }
        at
    }

    /// Emits the blank lines and own-line comments in the gap `from..to` before a child.
    fn leading(
        &mut self,
        out: &mut String,
        ind: &str,
        from: usize,
        to: usize,
        force_blank: bool,
        emitted_any: &mut bool,
    ) {
        let mut at = from;
        let mut first = true;
        for i in self.comments_in(from, to) {
            if self.printed[i] {
                continue;
            }
            self.printed[i] = true;
            let c = &self.comments[i];
            let blank = (first && force_blank) || self.newlines(at, c.span.start as usize) >= 2;
            if blank && *emitted_any {
                out.push('\n');
            }
            out.push_str(ind);
            out.push_str(&no_cr(&c.text));
            out.push('\n');
            *emitted_any = true;
            first = false;
            at = c.span.end as usize;
        }
        let blank = (first && force_blank) || self.newlines(at, to) >= 2;
        if blank && *emitted_any {
            out.push('\n');
        }
    }

    /// Key widths to pad to, per child, for runs of aligned `key = value` lines.
    fn align(&self, children: &[Child<'_>], level: usize) -> Vec<Option<(usize, String)>> {
        let mut pads: Vec<Option<(usize, String)>> = vec![None; children.len()];
        let flats: Vec<Option<String>> = children
            .iter()
            .map(|c| match &c.kind {
                Kind::KeyValue { value, .. } => self.flat(value),
                _ => None,
            })
            .collect();
        // Split into runs of consecutive flat key-values of one tag without blank lines.
        let mut runs: Vec<Vec<usize>> = Vec::new();
        for (n, c) in children.iter().enumerate() {
            let Kind::KeyValue { tag, .. } = &c.kind else {
                continue;
            };
            if flats[n].is_none() {
                continue;
            }
            let continues = n > 0
                && runs.last().is_some_and(|r| r.last() == Some(&(n - 1)))
                && matches!(&children[n - 1].kind, Kind::KeyValue { tag: t, .. } if t == tag)
                && !self.gap_has_blank(children[n - 1].end, c.start);
            if continues {
                if let Some(r) = runs.last_mut() {
                    r.push(n);
                }
            } else {
                runs.push(vec![n]);
            }
        }
        let key_width = |n: usize| match &children[n].kind {
            Kind::KeyValue { key, .. } => key.chars().count(),
            _ => 0,
        };
        // A member whose value would not fit after padding and can be broken over
        // lines leaves the run, which splits there.
        while let Some(run) = runs.pop() {
            let pad = run.iter().map(|&n| key_width(n)).max().unwrap_or(0);
            let col = level * INDENT.len() + pad + 3;
            let bad: Vec<usize> = run
                .iter()
                .copied()
                .filter(|&n| {
                    let flat = flats[n].as_deref().unwrap_or("");
                    let breakable = matches!(&children[n].kind, Kind::KeyValue { value, .. } if contains_container(value));
                    col + flat.chars().count() > WIDTH && breakable
                })
                .collect();
            if bad.is_empty() {
                for &n in &run {
                    pads[n] = flats[n].clone().map(|f| (pad, f));
                }
            } else {
                let mut part = Vec::new();
                for n in run {
                    if bad.contains(&n) {
                        if !part.is_empty() {
                            runs.push(std::mem::take(&mut part));
                        }
                    } else {
                        part.push(n);
                    }
                }
                if !part.is_empty() {
                    runs.push(part);
                }
            }
        }
        pads
    }

    fn render_child(
        &mut self,
        child: &Child<'_>,
        level: usize,
        pad: Option<(usize, String)>,
    ) -> String {
        match &child.kind {
            Kind::KeyValue { key, value, .. } => match pad {
                Some((width, flat)) => {
                    let spaces = width.saturating_sub(key.chars().count());
                    format!("{key}{} = {flat}", " ".repeat(spaces))
                }
                None => {
                    let col = level * INDENT.len() + key.chars().count() + 3;
                    format!("{key} = {}", self.expr(value, level, col))
                }
            },
            Kind::Block(b) => {
                let col = level * INDENT.len() + b.name.name.len() + 1;
                let children: Vec<Child<'_>> = b.body.entries.iter().map(Child::entry).collect();
                let body = self.body(
                    &children,
                    b.body.span.start as usize,
                    b.body.span.end as usize,
                    level,
                    col,
                );
                format!("{} {body}", b.name.name)
            }
            Kind::Item(item) => self.item(item),
            Kind::Element(e) => self.expr(e, level, level * INDENT.len()),
        }
    }

    // ------------------------------------------------------------ items and bodies

    fn item(&mut self, item: &Item) -> String {
        match item {
            Item::Param(p) => self.param(p),
            Item::Provider(p) => {
                let head = format!("provider {}", p.name.name);
                let children: Vec<Child<'_>> = p.body.entries.iter().map(Child::entry).collect();
                self.with_body(
                    head,
                    &children,
                    p.body.span.start as usize,
                    p.body.span.end as usize,
                )
            }
            Item::Stack(StackBlock { body, .. }) | Item::State(StateBlock { body, .. }) => {
                let keyword = if matches!(item, Item::Stack(_)) {
                    "stack"
                } else {
                    "state"
                };
                let children: Vec<Child<'_>> = body.entries.iter().map(Child::entry).collect();
                self.with_body(
                    keyword.to_string(),
                    &children,
                    body.span.start as usize,
                    body.span.end as usize,
                )
            }
            Item::Moved(MovedBlock { body, .. }) | Item::Import(ImportBlock { body, .. }) => {
                let mut head = String::new();
                match item {
                    Item::Import(i) => {
                        head.push_str("import");
                        self.for_head(&mut head, i.for_each.as_ref());
                    }
                    _ => head.push_str("moved"),
                }
                let children: Vec<Child<'_>> = body.entries.iter().map(Child::entry).collect();
                self.with_body(
                    head,
                    &children,
                    body.span.start as usize,
                    body.span.end as usize,
                )
            }
            Item::Resource(r) => {
                let kw = if r.kind == ResourceKind::Data {
                    "data"
                } else {
                    "resource"
                };
                let mut head = format!("{kw} {} {}", r.type_name(), r.name.name);
                self.for_head(&mut head, r.for_each.as_ref());
                let children: Vec<Child<'_>> = r.body.entries.iter().map(Child::entry).collect();
                self.with_body(
                    head,
                    &children,
                    r.body.span.start as usize,
                    r.body.span.end as usize,
                )
            }
            Item::Module(m) => {
                let mut head = format!(
                    "module {} from \"{}\"",
                    m.name.name,
                    escape(&m.source, false)
                );
                self.for_head(&mut head, m.for_each.as_ref());
                let children: Vec<Child<'_>> = m.body.entries.iter().map(Child::entry).collect();
                self.with_body(
                    head,
                    &children,
                    m.body.span.start as usize,
                    m.body.span.end as usize,
                )
            }
            Item::Output(o) => self.output_block(o),
            // Lets, assignments and short outputs are key-values; never reached.
            Item::Let(_) | Item::Assign(_) => String::new(),
        }
    }

    /// Appends ` for k, v in EXPR` to a block's head, when it has one.
    fn for_head(&mut self, head: &mut String, for_each: Option<&ForHead>) {
        let Some(f) = for_each else {
            return;
        };
        head.push_str(" for ");
        if let Some(k) = &f.key {
            head.push_str(&k.name);
            head.push_str(", ");
        }
        head.push_str(&f.value.name);
        head.push_str(" in ");
        let col = head.chars().count();
        let coll = self.expr(&f.collection, 0, col);
        head.push_str(&coll);
    }

    fn with_body(
        &mut self,
        head: String,
        children: &[Child<'_>],
        open: usize,
        close_end: usize,
    ) -> String {
        let col = head.chars().count() + 1;
        let body = self.body(children, open, close_end, 0, col);
        format!("{head} {body}")
    }

    fn param(&mut self, p: &Param) -> String {
        let mut out = format!("param {}", p.name.name);
        let mut header_end = p.name.span.end as usize;
        if let Some(ty) = &p.ty {
            out.push_str(": ");
            out.push_str(&type_expr(ty));
            header_end = header_end.max(type_span_end(ty));
        }
        if let Some(d) = &p.default {
            out.push_str(" = ");
            let col = out.chars().count();
            let v = self.expr(d, 0, col);
            out.push_str(&v);
            header_end = header_end.max(d.span.end as usize);
        }
        if !p.options.is_empty() {
            let close_end = p.span.end as usize;
            let open = self
                .find_open_brace(header_end, close_end)
                .unwrap_or(header_end);
            let children: Vec<Child<'_>> = p
                .options
                .iter()
                .map(|a| Child {
                    start: a.span.start as usize,
                    end: a.span.end as usize,
                    kind: Kind::KeyValue {
                        tag: "attr",
                        key: a.name.name.clone(),
                        value: &a.value,
                    },
                })
                .collect();
            let col = out.chars().count() + 1;
            let body = self.body(&children, open, close_end, 0, col);
            out.push(' ');
            out.push_str(&body);
        }
        out
    }

    fn output_block(&mut self, o: &Output) -> String {
        let head = format!("output {}", o.name.name);
        let close_end = o.span.end as usize;
        let open = self
            .find_open_brace(o.name.span.end as usize, close_end)
            .unwrap_or(o.name.span.end as usize);
        let value_start = self.attribute_start(&o.value, open);
        let mut children: Vec<Child<'_>> = vec![Child {
            start: value_start,
            end: o.value.span.end as usize,
            kind: Kind::KeyValue {
                tag: "attr",
                key: "value".into(),
                value: &o.value,
            },
        }];
        children.extend(o.options.iter().map(|a| Child {
            start: a.span.start as usize,
            end: a.span.end as usize,
            kind: Kind::KeyValue {
                tag: "attr",
                key: a.name.name.clone(),
                value: &a.value,
            },
        }));
        children.sort_by_key(|c| c.start);
        self.with_body(head, &children, open, close_end)
    }

    /// Where `name = ` starts before an attribute value (the output form keeps only
    /// the value's span).
    fn attribute_start(&self, value: &Expr, floor: usize) -> usize {
        let before = self.text(floor, value.span.start as usize);
        let trimmed = before
            .trim_end_matches([' ', '\t'])
            .trim_end_matches('=')
            .trim_end_matches([' ', '\t']);
        let name = trimmed.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
        floor + name.len()
    }

    /// `{ … }` of a block or item. `open` is the offset of `{`, `close_end` the offset
    /// just past `}`; `col` is the column where `{` goes.
    fn body(
        &mut self,
        children: &[Child<'_>],
        open: usize,
        close_end: usize,
        level: usize,
        col: usize,
    ) -> String {
        let close = close_end.saturating_sub(1);
        if self.same_line(open, close) && !self.has_comments(open, close_end) {
            if let Some(inline) = self.inline_body(children) {
                if col + inline.chars().count() <= WIDTH {
                    return inline;
                }
            }
        }
        if children.is_empty() && !self.has_comments(open, close_end) {
            return "{}".into();
        }
        let (after_open, inner) = self.sequence(children, level + 1, open + 1, close, Seq::Body);
        format!("{{{after_open}\n{inner}{}}}", INDENT.repeat(level))
    }

    /// `{ a = 1, b { c = 2 } }` when every entry can be written flat.
    fn inline_body(&self, children: &[Child<'_>]) -> Option<String> {
        if children.is_empty() {
            return Some("{}".into());
        }
        let mut parts = Vec::new();
        for c in children {
            match &c.kind {
                Kind::KeyValue { key, value, .. } => {
                    parts.push(format!("{key} = {}", self.flat(value)?))
                }
                Kind::Block(b) => {
                    let inner: Vec<Child<'_>> = b.body.entries.iter().map(Child::entry).collect();
                    parts.push(format!("{} {}", b.name.name, self.inline_body(&inner)?));
                }
                _ => return None,
            }
        }
        Some(format!("{{ {} }}", parts.join(", ")))
    }

    // ------------------------------------------------------------ expressions

    fn spans_lines(&self, e: &Expr) -> bool {
        !self.same_line(
            e.span.start as usize,
            (e.span.end as usize)
                .saturating_sub(1)
                .max(e.span.start as usize),
        )
    }

    fn comments_inside(&self, e: &Expr) -> bool {
        self.has_comments(e.span.start as usize, e.span.end as usize)
    }

    /// The expression on one line, if it has no comments and no list, map or call
    /// in it was written over several lines.
    fn flat(&self, e: &Expr) -> Option<String> {
        if self.comments_inside(e) {
            return None;
        }
        self.flat_unchecked(e)
    }

    fn flat_unchecked(&self, e: &Expr) -> Option<String> {
        Some(match &e.kind {
            ExprKind::Null => "null".into(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Number(n) => self.number(e, *n),
            ExprKind::Template(parts) => {
                let mut s = String::from("\"");
                for (i, part) in parts.iter().enumerate() {
                    match part {
                        TemplatePart::Literal(l) => {
                            let before_interp =
                                matches!(parts.get(i + 1), Some(TemplatePart::Interpolation(_)));
                            s.push_str(&escape(l, before_interp));
                        }
                        TemplatePart::Interpolation(x) => {
                            s.push_str("${");
                            s.push_str(&self.flat_unchecked(x)?);
                            s.push('}');
                        }
                    }
                }
                s.push('"');
                s
            }
            ExprKind::List(items) => {
                if self.spans_lines(e) {
                    return None;
                }
                let items: Option<Vec<String>> =
                    items.iter().map(|x| self.flat_unchecked(x)).collect();
                format!("[{}]", items?.join(", "))
            }
            ExprKind::Map(entries) => {
                if self.spans_lines(e) {
                    return None;
                }
                if entries.is_empty() {
                    return Some("{}".into());
                }
                let mut parts = Vec::new();
                for m in entries {
                    parts.push(format!(
                        "{} = {}",
                        self.map_key_flat(&m.key)?,
                        self.flat_unchecked(&m.value)?
                    ));
                }
                format!("{{ {} }}", parts.join(", "))
            }
            ExprKind::Var(i) => i.name.clone(),
            ExprKind::GetAttr(x, name) => format!("{}.{}", self.flat_unchecked(x)?, name.name),
            ExprKind::Index(x, i) => {
                format!("{}[{}]", self.flat_unchecked(x)?, self.flat_unchecked(i)?)
            }
            ExprKind::Splat(x) => format!("{}[*]", self.flat_unchecked(x)?),
            ExprKind::Heredoc(_) => return None,
            ExprKind::Call(f, args) => {
                if self.spans_lines(e) {
                    return None;
                }
                let args: Option<Vec<String>> =
                    args.iter().map(|x| self.flat_unchecked(x)).collect();
                format!("{}({})", f.name, args?.join(", "))
            }
            ExprKind::Unary(op, x) => format!("{}{}", unary(*op), self.flat_unchecked(x)?),
            ExprKind::Binary(op, a, b) => {
                format!(
                    "{} {} {}",
                    self.flat_unchecked(a)?,
                    op.symbol(),
                    self.flat_unchecked(b)?
                )
            }
            ExprKind::Conditional(c, a, b) => format!(
                "{} ? {} : {}",
                self.flat_unchecked(c)?,
                self.flat_unchecked(a)?,
                self.flat_unchecked(b)?
            ),
            ExprKind::ForList {
                key,
                value,
                collection,
                body,
                cond,
            } => {
                let mut s = format!(
                    "[for {} in {} : {}",
                    for_vars(key, value),
                    self.flat_unchecked(collection)?,
                    self.flat_unchecked(body)?
                );
                if let Some(c) = cond {
                    s.push_str(" if ");
                    s.push_str(&self.flat_unchecked(c)?);
                }
                s.push(']');
                s
            }
            ExprKind::ForMap {
                key,
                value,
                collection,
                key_expr,
                value_expr,
                cond,
            } => {
                let mut s = format!(
                    "{{for {} in {} : {} => {}",
                    for_vars(key, value),
                    self.flat_unchecked(collection)?,
                    self.flat_unchecked(key_expr)?,
                    self.flat_unchecked(value_expr)?
                );
                if let Some(c) = cond {
                    s.push_str(" if ");
                    s.push_str(&self.flat_unchecked(c)?);
                }
                s.push('}');
                s
            }
            ExprKind::Paren(x) => format!("({})", self.flat_unchecked(x)?),
        })
    }

    fn map_key_flat(&self, key: &MapKey) -> Option<String> {
        match key {
            MapKey::Ident(i) => Some(i.name.clone()),
            MapKey::Expr(e) => self.flat_unchecked(e),
        }
    }

    /// A number as the user wrote it (`0.10`, `1e3`), or printed from its value.
    fn number(&self, e: &Expr, n: f64) -> String {
        let written = self.text(e.span.start as usize, e.span.end as usize);
        if !written.is_empty()
            && written
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
        {
            written.to_string()
        } else {
            n.to_string()
        }
    }

    /// The expression starting at column `col` of a line indented `level` deep; may
    /// span several lines.
    /// A for-expression: `head`, then each (separator, expression) part, an optional
    /// `if` filter, and the closing bracket; each part knows the column it starts at.
    fn for_expr(
        &mut self,
        head: String,
        parts: &[(&str, &Expr)],
        cond: Option<&Expr>,
        close: char,
        level: usize,
        col: usize,
    ) -> String {
        let mut s = head;
        for (sep, part) in parts.iter().copied().chain(cond.map(|c| (" if ", c))) {
            s.push_str(sep);
            let text = self.expr(part, level, end_col(col, &s));
            s.push_str(&text);
        }
        s.push(close);
        s
    }

    fn expr(&mut self, e: &Expr, level: usize, col: usize) -> String {
        let commented = self.comments_inside(e);
        if !commented {
            if let Some(f) = self.flat_unchecked(e) {
                if col + f.chars().count() <= WIDTH {
                    return f;
                }
            }
        }
        let is_container = matches!(
            e.kind,
            ExprKind::List(_) | ExprKind::Map(_) | ExprKind::Call(..)
        );
        if commented && !is_container {
            return self.verbatim(e.span.start as usize, e.span.end as usize);
        }
        let ind = INDENT.repeat(level);
        match &e.kind {
            ExprKind::List(items) => {
                if items.is_empty() && !commented {
                    return "[]".into();
                }
                let children: Vec<Child<'_>> = items
                    .iter()
                    .map(|x| Child {
                        start: x.span.start as usize,
                        end: x.span.end as usize,
                        kind: Kind::Element(x),
                    })
                    .collect();
                let (open, inner) = self.sequence(
                    &children,
                    level + 1,
                    e.span.start as usize + 1,
                    (e.span.end as usize).saturating_sub(1),
                    Seq::Commas,
                );
                format!("[{open}\n{inner}{ind}]")
            }
            ExprKind::Map(entries) => {
                if entries.is_empty() && !commented {
                    return "{}".into();
                }
                let mut children = Vec::new();
                for m in entries {
                    let key = match &m.key {
                        MapKey::Ident(i) => i.name.clone(),
                        MapKey::Expr(k) => self.expr(k, level + 1, (level + 1) * INDENT.len()),
                    };
                    let start = match &m.key {
                        MapKey::Ident(i) => i.span.start,
                        MapKey::Expr(k) => k.span.start,
                    } as usize;
                    children.push(Child {
                        start,
                        end: m.value.span.end as usize,
                        kind: Kind::KeyValue {
                            tag: "attr",
                            key,
                            value: &m.value,
                        },
                    });
                }
                let (open, inner) = self.sequence(
                    &children,
                    level + 1,
                    e.span.start as usize + 1,
                    (e.span.end as usize).saturating_sub(1),
                    Seq::Body,
                );
                format!("{{{open}\n{inner}{ind}}}")
            }
            ExprKind::Call(f, args) => {
                // `merge(a, {` … `})`: the last argument breaks, the rest stay flat.
                if let Some((last, rest)) = args.split_last() {
                    let rest_flat: Option<Vec<String>> =
                        rest.iter().map(|x| self.flat(x)).collect();
                    let last_breaks = matches!(last.kind, ExprKind::List(_) | ExprKind::Map(_))
                        && (self.spans_lines(last) || self.comments_inside(last));
                    let outside_comments = self
                        .has_comments(e.span.start as usize, last.span.start as usize)
                        || self.has_comments(last.span.end as usize, e.span.end as usize);
                    if let (Some(rest), true, false) = (rest_flat, last_breaks, outside_comments) {
                        let mut head = format!("{}(", f.name);
                        for r in rest {
                            head.push_str(&r);
                            head.push_str(", ");
                        }
                        if col + head.chars().count() < WIDTH {
                            let last = self.expr(last, level, col + head.chars().count());
                            return format!("{head}{last})");
                        }
                    }
                }
                let children: Vec<Child<'_>> = args
                    .iter()
                    .map(|x| Child {
                        start: x.span.start as usize,
                        end: x.span.end as usize,
                        kind: Kind::Element(x),
                    })
                    .collect();
                let open_at = e.span.start as usize + f.name.len() + 1;
                let (open, inner) = self.sequence(
                    &children,
                    level + 1,
                    open_at,
                    (e.span.end as usize).saturating_sub(1),
                    Seq::Commas,
                );
                format!("{}({open}\n{inner}{ind})", f.name)
            }
            ExprKind::GetAttr(x, name) => format!("{}.{}", self.expr(x, level, col), name.name),
            ExprKind::Index(x, i) => {
                let a = self.expr(x, level, col);
                let c = end_col(col, &a) + 1;
                format!("{a}[{}]", self.expr(i, level, c))
            }
            ExprKind::Unary(op, x) => format!("{}{}", unary(*op), self.expr(x, level, col + 1)),
            ExprKind::Binary(op, a, b) => {
                let l = self.expr(a, level, col);
                let c = end_col(col, &l) + op.symbol().len() + 2;
                format!("{l} {} {}", op.symbol(), self.expr(b, level, c))
            }
            ExprKind::Conditional(c, a, b) => {
                let sc = self.expr(c, level, col);
                let sa = self.expr(a, level, end_col(col, &sc) + 3);
                let sb = self.expr(b, level, end_col(end_col(col, &sc) + 3, &sa) + 3);
                format!("{sc} ? {sa} : {sb}")
            }
            ExprKind::Paren(x) => format!("({})", self.expr(x, level, col + 1)),
            ExprKind::Splat(x) => format!("{}[*]", self.expr(x, level, col)),
            ExprKind::Heredoc(h) => self.heredoc(h, level),
            ExprKind::Template(parts) => {
                let mut s = String::from("\"");
                for (i, part) in parts.iter().enumerate() {
                    match part {
                        TemplatePart::Literal(l) => {
                            let before_interp =
                                matches!(parts.get(i + 1), Some(TemplatePart::Interpolation(_)));
                            s.push_str(&escape(l, before_interp));
                        }
                        TemplatePart::Interpolation(x) => {
                            s.push_str("${");
                            let c = end_col(col, &s);
                            let inner = self.expr(x, level, c);
                            s.push_str(&inner);
                            s.push('}');
                        }
                    }
                }
                s.push('"');
                s
            }
            ExprKind::ForList {
                key,
                value,
                collection,
                body,
                cond,
            } => {
                let head = format!("[for {} in ", for_vars(key, value));
                let parts = [("", &**collection), (" : ", &**body)];
                self.for_expr(head, &parts, cond.as_deref(), ']', level, col)
            }
            ExprKind::ForMap {
                key,
                value,
                collection,
                key_expr,
                value_expr,
                cond,
            } => {
                let head = format!("{{for {} in ", for_vars(key, value));
                let parts = [
                    ("", &**collection),
                    (" : ", &**key_expr),
                    (" => ", &**value_expr),
                ];
                self.for_expr(head, &parts, cond.as_deref(), '}', level, col)
            }
            ExprKind::Null | ExprKind::Bool(_) | ExprKind::Number(_) | ExprKind::Var(_) => {
                self.flat_unchecked(e).unwrap_or_default()
            }
        }
    }
}

impl Printer<'_> {
    /// A heredoc: `<<EOT` keeps its text as it is; `<<-EOT` indents every line that is
    /// not blank one level deeper than the line the heredoc starts on. The closing marker
    /// goes at that line's indentation.
    fn heredoc(&mut self, h: &Heredoc, level: usize) -> String {
        let ind = INDENT.repeat(level);
        let mut lines: Vec<String> = vec![String::new()];
        for part in &h.parts {
            match part {
                TemplatePart::Literal(l) => {
                    let mut pieces = l.split('\n');
                    if let (Some(first), Some(line)) = (pieces.next(), lines.last_mut()) {
                        line.push_str(&first.replace("${", "$${"));
                    }
                    lines.extend(pieces.map(|p| p.replace("${", "$${")));
                }
                TemplatePart::Interpolation(x) => {
                    let inner = self.expr(x, level + 1, 0);
                    if let Some(line) = lines.last_mut() {
                        line.push_str("${");
                        line.push_str(&inner);
                        line.push('}');
                    }
                }
            }
        }
        // The text ends with a newline, which leaves an empty last piece.
        if lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        let blank = |l: &String| l.trim_start_matches([' ', '\t']).is_empty();
        // Blank lines are indented too unless every line is blank, so that reading the
        // output strips exactly what was added.
        let all_blank = lines.iter().all(blank);
        let mut out = format!("<<{}{}\n", if h.strip { "-" } else { "" }, h.marker);
        for line in &lines {
            if h.strip && !(line.is_empty() || all_blank) {
                out.push_str(&ind);
                out.push_str(INDENT);
            }
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&ind);
        out.push_str(&h.marker);
        out
    }
}

/// Text with Windows line endings turned into `\n` (block comments, verbatim code).
fn no_cr(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// The column after writing `s` starting at column `col`.
fn end_col(col: usize, s: &str) -> usize {
    match s.rfind('\n') {
        Some(i) => s[i + 1..].chars().count(),
        None => col + s.chars().count(),
    }
}

/// Whether a list, map or call occurs in the expression (so it could break over lines).
fn contains_container(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::List(_) | ExprKind::Map(_) | ExprKind::Call(..) => true,
        ExprKind::Null | ExprKind::Bool(_) | ExprKind::Number(_) | ExprKind::Var(_) => false,
        ExprKind::Template(parts) => parts.iter().any(|p| match p {
            TemplatePart::Interpolation(x) => contains_container(x),
            TemplatePart::Literal(_) => false,
        }),
        ExprKind::GetAttr(x, _)
        | ExprKind::Unary(_, x)
        | ExprKind::Paren(x)
        | ExprKind::Splat(x) => contains_container(x),
        ExprKind::Heredoc(h) => h.parts.iter().any(|p| match p {
            TemplatePart::Interpolation(x) => contains_container(x),
            TemplatePart::Literal(_) => false,
        }),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            contains_container(a) || contains_container(b)
        }
        ExprKind::Conditional(a, b, c) => {
            contains_container(a) || contains_container(b) || contains_container(c)
        }
        ExprKind::ForList {
            collection,
            body,
            cond,
            ..
        } => {
            contains_container(collection)
                || contains_container(body)
                || cond.as_ref().is_some_and(|c| contains_container(c))
        }
        ExprKind::ForMap {
            collection,
            key_expr,
            value_expr,
            cond,
            ..
        } => {
            contains_container(collection)
                || contains_container(key_expr)
                || contains_container(value_expr)
                || cond.as_ref().is_some_and(|c| contains_container(c))
        }
    }
}

fn for_vars(key: &Option<crate::ast::Ident>, value: &crate::ast::Ident) -> String {
    match key {
        Some(k) => format!("{}, {}", k.name, value.name),
        None => value.name.clone(),
    }
}

fn unary(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Not => "!",
        UnaryOp::Neg => "-",
    }
}

fn type_expr(t: &TypeExpr) -> String {
    t.to_string()
}

fn type_span_end(t: &TypeExpr) -> usize {
    match t {
        TypeExpr::String(s) | TypeExpr::Number(s) | TypeExpr::Bool(s) | TypeExpr::Any(s) => {
            s.end as usize
        }
        TypeExpr::List(_, s) | TypeExpr::Map(_, s) | TypeExpr::Object(_, s) => s.end as usize,
    }
}

/// A string literal's text with escapes: `\\`, `\"`, `\n`, `\t`, `\r`, `\u{…}` for
/// other control characters, `$${` for a literal `${`, and `\$` for a `$` right
/// before an interpolation.
fn escape(s: &str, before_interp: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push_str("$${");
            }
            '$' if chars.peek().is_none() && before_interp => out.push_str("\\$"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
