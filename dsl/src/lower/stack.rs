//! The stack's own settings: `stack { name = "…" }` in the root module, and the name
//! given on the command line.
//!
//! The name chosen here is the stack's *declared* identity. Precedence: the
//! `--stack-name` option, then the `stack` block, then the directory's name. Only the
//! first two are explicit ([`StackSource::Flag`], [`StackSource::Declared`]); the engine
//! settles the directory case against what the state records (see
//! `gig_engine::identity`). A declared name must be a plain string, so the identity
//! never depends on params or the environment.

use crate::ast;
use crate::config::{check_stack_name, StackSource};
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;

use super::{LowerOptions, Lowerer};

impl Lowerer<'_> {
    /// The stack's name and where it came from; reports bad stack blocks and names.
    pub(super) fn stack_name(&mut self, opts: &LowerOptions<'_>) -> (String, StackSource) {
        let files = self.files.clone();
        let mut declared: Option<(String, Span)> = None;
        let mut first_block: Option<Span> = None;
        for file in &files {
            for item in &file.items {
                let ast::Item::Stack(block) = item else {
                    continue;
                };
                if let Some(first) = first_block {
                    self.diags.push(
                        block_error(block.span, "A stack has one `stack` block.")
                            .with_label("second stack block")
                            .with_secondary(first, "first stack block"),
                    );
                    continue;
                }
                first_block = Some(block.span);
                declared = self.stack_block(block);
            }
        }
        if let Some(name) = &opts.stack_name {
            if let Err(why) = check_stack_name(name) {
                self.diags.push(
                    Diagnostic::error(Code::E0355, "invalid stack name", Span::DETACHED)
                        .with_detail(format!("The name given with --stack-name {why}"))
                        .with_help(NAME_HELP),
                );
            }
            return (name.clone(), StackSource::Flag);
        }
        match declared {
            Some((name, span)) => (name, StackSource::Declared(span)),
            None => (opts.stack.clone(), StackSource::Directory),
        }
    }

    /// The name a `stack` block declares, when it declares a valid one.
    fn stack_block(&mut self, block: &ast::StackBlock) -> Option<(String, Span)> {
        let mut name = None;
        for entry in &block.body.entries {
            match entry {
                ast::BodyEntry::Attribute(a) if a.name.name == "name" => {
                    if name.is_some() {
                        self.diags.push(
                            block_error(a.name.span, "`name` is set more than once.")
                                .with_label("set again here"),
                        );
                        continue;
                    }
                    name = Some(self.stack_name_value(&a.value));
                }
                ast::BodyEntry::Attribute(a) => self.diags.push(
                    block_error(
                        a.name.span,
                        &format!(
                            "A stack block has no setting `{}`; it accepts `name`.",
                            a.name.name
                        ),
                    )
                    .with_label("unknown setting"),
                ),
                ast::BodyEntry::Block(b) => self.diags.push(
                    block_error(
                        b.name.span,
                        "A stack block holds settings, not nested blocks.",
                    )
                    .with_label("nested block"),
                ),
            }
        }
        match name {
            Some(found) => found,
            None => {
                self.diags.push(
                    block_error(block.span, "A stack block must set `name`.")
                        .with_label("no name")
                        .with_help("write `stack { name = \"my-app-dev\" }`, or remove the block"),
                );
                None
            }
        }
    }

    /// `name = "…"`: a plain string that passes [`check_stack_name`].
    fn stack_name_value(&mut self, value: &ast::Expr) -> Option<(String, Span)> {
        let Some(text) = value.plain_string().map(str::to_string) else {
            self.diags.push(
                Diagnostic::error(Code::E0355, "invalid stack name", value.span)
                    .with_detail(
                        "The stack's name must be a plain string: it identifies the stack's cloud objects and state, so it cannot depend on params, the environment or other values.",
                    )
                    .with_label("not a plain string")
                    .with_help(NAME_HELP),
            );
            return None;
        };
        if let Err(why) = check_stack_name(&text) {
            self.diags.push(
                Diagnostic::error(Code::E0355, "invalid stack name", value.span)
                    .with_detail(format!("The stack's name {why}"))
                    .with_label("invalid name")
                    .with_help(NAME_HELP),
            );
            return None;
        }
        Some((text, value.span))
    }
}

const NAME_HELP: &str =
    "use 1 to 40 lowercase letters, digits and dashes, starting with a letter: `shop-dev`";

fn block_error(span: Span, detail: &str) -> Diagnostic {
    Diagnostic::error(Code::E0356, "invalid stack block", span).with_detail(detail.to_string())
}
