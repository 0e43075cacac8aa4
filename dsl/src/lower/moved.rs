//! `moved` and `import` blocks: addresses written as references, read as addresses.
//!
//! Both blocks name resource instances that may not exist yet on one side (the old
//! address of a move is usually no longer declared), so their addresses are read from
//! the syntax, not resolved as references: `module.NAME.` segments, then
//! `PROVIDER.TYPE.NAME`, then an optional instance key that must be known when lowering
//! (a literal, a param or a let). A `moved` block in a module speaks of that module's
//! resources, so its addresses are prefixed with the module's path; `import` blocks
//! belong to the root module. Whether the addresses are declared, recorded, chained or
//! cyclic is decided by the engine, which sees the state.

use crate::ast;
use crate::config::{Expr, ImportConfig, MovedConfig};
use gig_core::addr::{InstanceKey, Mode, ResourceAddr};
use gig_core::diag::{suggest, Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;

use super::{Ctx, Lowerer};

impl<'a> Lowerer<'a> {
    /// Every `moved` block of every module instance and every `import` block of the
    /// root module, lowered; reports malformed blocks.
    pub(super) fn moves_and_imports(&mut self) -> (Vec<MovedConfig>, Vec<ImportConfig>) {
        let mut moves = Vec::new();
        let mut imports = Vec::new();
        for inst in 0..self.insts.len() {
            if self.insts[inst].dead {
                continue;
            }
            let blocks = self.insts[inst].moved.clone();
            for block in blocks {
                if let Some(m) = self.moved_block(inst, block) {
                    moves.push(m);
                }
            }
            let blocks = self.insts[inst].imports.clone();
            for block in blocks {
                if inst != 0 {
                    self.diags.push(
                        block_error(block.span, "An `import` block belongs in the stack's own files: modules cannot import objects.")
                            .with_label("import block in a module"),
                    );
                    continue;
                }
                imports.extend(self.import_blocks(block));
            }
        }
        (moves, imports)
    }

    fn moved_block(&mut self, inst: usize, block: &'a ast::MovedBlock) -> Option<MovedConfig> {
        let [from, to] = self.block_attributes(&block.body, block.span, "moved", ["from", "to"])?;
        let from_addr = self.address(inst, &from.value, &[]);
        let to_addr = self.address(inst, &to.value, &[]);
        let (from_addr, to_addr) = (from_addr?, to_addr?);
        if from_addr == to_addr {
            self.diags.push(
                block_error(
                    to.value.span,
                    "The two addresses of this `moved` block are the same.",
                )
                .with_label("moves nowhere"),
            );
            return None;
        }
        Some(MovedConfig {
            from: from_addr,
            to: to_addr,
            from_span: from.value.span,
            to_span: to.value.span,
            span: block.span,
        })
    }

    /// The imports of one block: one, or one per element of its `for` collection (which
    /// must be known when lowering, like a resource's).
    fn import_blocks(&mut self, block: &'a ast::ImportBlock) -> Vec<ImportConfig> {
        let Some([to, id]) = self.block_attributes(&block.body, block.span, "import", ["to", "id"])
        else {
            return Vec::new();
        };
        let Some(head) = &block.for_each else {
            return self.import_one(block, [to, id], &[]).into_iter().collect();
        };
        let coll = self.lower_expr(&head.collection, &mut Ctx::module(0));
        let Some(v) = self.known_at_lowering(&coll, "the collection of an import block's `for`")
        else {
            return Vec::new();
        };
        let vars = crate::expansion::ForVars {
            key: head.key.as_ref().map(|k| k.name.as_str()),
            value: &head.value.name,
        };
        match crate::expansion::for_instances(v, vars, head.collection.span, "import block") {
            Ok(instances) => instances
                .iter()
                .filter_map(|(_, binds)| self.import_one(block, [to, id], binds))
                .collect(),
            Err(d) => {
                self.diags.push(d);
                Vec::new()
            }
        }
    }

    /// One import of `block`, its `for` variables bound to `vars`.
    fn import_one(
        &mut self,
        block: &'a ast::ImportBlock,
        [to, id]: [&'a ast::Attribute; 2],
        vars: &[(String, Value)],
    ) -> Option<ImportConfig> {
        let addr = self.address(0, &to.value, vars);
        let mut cx = Ctx {
            vars,
            ..Ctx::module(0)
        };
        let value = self.lower_expr(&id.value, &mut cx);
        let addr = addr?;
        let id_text = match value.as_const() {
            Some(v @ (Value::String(_) | Value::Number(_)))
                if crate::functions::scalar_to_string(v).is_some_and(|s| !s.is_empty()) =>
            {
                crate::functions::scalar_to_string(v).unwrap_or_default()
            }
            _ if self.failed_quietly(&value) => return None,
            Some(v) if v.is_known() => {
                self.diags.push(
                    block_error(id.value.span, "The `id` of an `import` block is the object's cloud id: a non-empty string.")
                        .with_label("not a cloud id"),
                );
                return None;
            }
            _ => {
                self.diags.push(
                    Diagnostic::error(Code::E0197, "import id not known", id.value.span)
                        .with_detail(format!(
                            "The id of the object to import at `{addr}` must be known when planning starts, so it may use params and lets but not the attributes of resources."
                        ))
                        .with_label("not known before planning"),
                );
                return None;
            }
        };
        Some(ImportConfig {
            to: addr,
            id: id_text,
            to_span: to.value.span,
            id_span: id.value.span,
            span: block.span,
        })
    }

    /// The attributes `names` of a moved or import block, in that order; reports
    /// missing, repeated and unknown entries.
    fn block_attributes<const N: usize>(
        &mut self,
        body: &'a ast::Body,
        span: Span,
        kind: &str,
        names: [&str; N],
    ) -> Option<[&'a ast::Attribute; N]> {
        let mut found: [Option<&'a ast::Attribute>; N] = [None; N];
        for entry in &body.entries {
            let (name, name_span) = match entry {
                ast::BodyEntry::Attribute(a) => (&a.name.name, a.name.span),
                ast::BodyEntry::Block(b) => (&b.name.name, b.name.span),
            };
            let slot = names.iter().position(|n| n == name);
            match (slot, entry) {
                (Some(i), ast::BodyEntry::Attribute(a)) => {
                    if let Some(first) = found[i] {
                        self.diags
                            .push(super::duplicate_attr(name, name_span, first.name.span));
                    } else {
                        found[i] = Some(a);
                    }
                }
                _ => {
                    let list = names.map(|n| format!("`{n}`")).join(" and ");
                    let mut d = block_error(
                        name_span,
                        &format!("A `{kind}` block has no setting `{name}`; it takes {list}."),
                    )
                    .with_label("unknown setting");
                    if let Some(s) = suggest(name, names) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.diags.push(d);
                }
            }
        }
        let missing: Vec<String> = names
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(n, _)| format!("`{n}`"))
            .collect();
        if !missing.is_empty() {
            self.diags.push(
                block_error(
                    span,
                    &format!("This `{kind}` block does not set {}.", missing.join(" or ")),
                )
                .with_label(format!("incomplete {kind} block")),
            );
            return None;
        }
        found
            .into_iter()
            .collect::<Option<Vec<_>>>()?
            .try_into()
            .ok()
    }

    /// The resource address `e` spells, relative to module instance `inst`.
    /// `vars` are the `for` variables of an import block.
    fn address(
        &mut self,
        inst: usize,
        e: &ast::Expr,
        vars: &[(String, Value)],
    ) -> Option<ResourceAddr> {
        let mut chain: Vec<&ast::Expr> = Vec::new();
        let mut cur = e;
        loop {
            match &cur.kind {
                ast::ExprKind::GetAttr(x, _) | ast::ExprKind::Index(x, _) => {
                    chain.push(cur);
                    cur = x;
                }
                ast::ExprKind::Paren(x) => cur = x,
                _ => break,
            }
        }
        chain.reverse();
        let not_address = |lw: &mut Lowerer<'_>| {
            lw.diags.push(
                Diagnostic::error(Code::E0195, "not a resource address", e.span)
                    .with_detail("Moved and import blocks name resource instances as `PROVIDER.TYPE.NAME`, optionally with an instance key (`aws.subnet.private[\"a\"]`) and after module names (`module.net.aws.subnet.a`).")
                    .with_label("expected a resource address"),
            );
            None
        };
        let ast::ExprKind::Var(root) = &cur.kind else {
            return not_address(self);
        };
        // The words of the address, each with the index that follows it, if any.
        let mut words: Vec<(&str, Option<&ast::Expr>)> = vec![(root.name.as_str(), None)];
        for node in &chain {
            match &node.kind {
                ast::ExprKind::GetAttr(_, name) => words.push((&name.name, None)),
                ast::ExprKind::Index(_, ix) => match words.last_mut() {
                    Some((_, slot @ None)) => *slot = Some(&**ix),
                    _ => return not_address(self),
                },
                _ => return not_address(self),
            }
        }
        let mut module = self.insts[inst].path.clone();
        let mut rest = words.as_slice();
        while rest.len() > 3 && rest[0] == ("module", None) {
            let (name, ix) = rest[1];
            module.push(match ix {
                None => name.to_string(),
                Some(ix) => {
                    super::modules::keyed_segment(name, &self.instance_key(inst, ix, vars)?)
                }
            });
            rest = &rest[2..];
        }
        let [(provider, None), (rtype, None), (name, key_expr)] = rest else {
            return not_address(self);
        };
        if ["module", "data"].contains(provider) {
            return not_address(self);
        }
        let key = match key_expr {
            None => None,
            Some(ix) => Some(self.instance_key(inst, ix, vars)?),
        };
        Some(ResourceAddr {
            module,
            mode: Mode::Managed,
            rtype: super::dotted(provider, rtype),
            name: name.to_string(),
            key,
        })
    }

    /// The instance key `ix` evaluates to: a known string, or a whole number for `count`.
    fn instance_key(
        &mut self,
        inst: usize,
        ix: &ast::Expr,
        vars: &[(String, Value)],
    ) -> Option<InstanceKey> {
        let mut cx = Ctx {
            vars,
            ..Ctx::module(inst)
        };
        let value: Expr = self.lower_expr(ix, &mut cx);
        match value.as_const() {
            Some(Value::String(s)) => Some(InstanceKey::Name(s.clone())),
            Some(Value::Number(n)) if n.fract() == 0.0 && n.abs() < 1e15 => {
                Some(InstanceKey::Index(*n as i64))
            }
            _ if self.failed_quietly(&value) => None,
            _ => {
                self.diags.push(
                    Diagnostic::error(Code::E0195, "not a resource address", ix.span)
                        .with_detail("An instance key in a moved or import block must be a string or a whole number known when lowering: a literal, a param or a let.")
                        .with_label("not a known key"),
                );
                None
            }
        }
    }
}

fn block_error(span: Span, detail: &str) -> Diagnostic {
    Diagnostic::error(Code::E0196, "invalid moved or import block", span)
        .with_detail(detail.to_string())
}
