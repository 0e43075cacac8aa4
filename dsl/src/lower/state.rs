//! The stack's `state { … }` block: where its state lives, lowered to plain strings.
//!
//! `location`, `lock_timeout` and `kms_key_id` may use params and env values (so
//! staging and production can point at different buckets or prefixes), but must be
//! known before anything is planned: the state is opened before any resource is read.
//! A passphrase is never a setting: it would sit in the repository next to the state it
//! protects, so it comes only from `GIG_STATE_PASSPHRASE`.

use crate::ast;
use crate::config::StateConfig;
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;

use super::{Ctx, Lowerer};

/// The settings a `state` block accepts.
const SETTINGS: [&str; 3] = ["location", "lock_timeout", "kms_key_id"];

impl Lowerer<'_> {
    /// The root module's `state` block, lowered; reports bad blocks and settings.
    pub(super) fn state_block(&mut self) -> Option<StateConfig> {
        let files = self.files.clone();
        let mut found: Option<StateConfig> = None;
        for file in &files {
            for item in &file.items {
                let ast::Item::State(block) = item else {
                    continue;
                };
                if let Some(first) = &found {
                    self.diags.push(
                        state_error(block.span, "A stack has one `state` block.")
                            .with_label("second state block")
                            .with_secondary(first.span, "first state block"),
                    );
                    continue;
                }
                found = Some(self.state_settings(block));
            }
        }
        found
    }

    fn state_settings(&mut self, block: &ast::StateBlock) -> StateConfig {
        let mut out = StateConfig {
            location: None,
            lock_timeout: None,
            kms_key_id: None,
            span: block.span,
        };
        let mut seen: Vec<&str> = Vec::new();
        for entry in &block.body.entries {
            let a = match entry {
                ast::BodyEntry::Attribute(a) => a,
                ast::BodyEntry::Block(b) => {
                    self.diags.push(
                        state_error(
                            b.name.span,
                            "A state block holds settings, not nested blocks.",
                        )
                        .with_label("nested block"),
                    );
                    continue;
                }
            };
            let name = a.name.name.as_str();
            if !SETTINGS.contains(&name) {
                let help = if name.contains("passphrase") {
                    "a passphrase is never written in the stack: set GIG_STATE_PASSPHRASE in the environment (in CI, from the secret store)"
                } else {
                    "a state block accepts `location`, `lock_timeout` and `kms_key_id`"
                };
                self.diags.push(
                    state_error(
                        a.name.span,
                        &format!("A state block has no setting `{name}`."),
                    )
                    .with_label("unknown setting")
                    .with_help(help),
                );
                continue;
            }
            if seen.contains(&name) {
                self.diags.push(
                    state_error(a.name.span, &format!("`{name}` is set more than once."))
                        .with_label("set again here"),
                );
                continue;
            }
            seen.push(name);
            let Some(text) = self.state_value(name, &a.value) else {
                continue;
            };
            let slot = match name {
                "location" => &mut out.location,
                "lock_timeout" => &mut out.lock_timeout,
                _ => &mut out.kms_key_id,
            };
            *slot = Some(text);
        }
        out
    }

    /// One setting's value: a string known before planning.
    fn state_value(&mut self, name: &str, value: &ast::Expr) -> Option<String> {
        let lowered = self.lower_expr(value, &mut Ctx::module(0));
        let folded = crate::eval::fold(lowered, &mut self.diags);
        let text = match folded.as_const() {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Secret(inner)) => match inner.as_ref() {
                Value::String(text) => text.clone(),
                _ => return self.not_a_string(name, value.span),
            },
            // An unknown constant stands for an error reported already.
            Some(v) if !v.is_known() => return None,
            Some(_) => return self.not_a_string(name, value.span),
            None => {
                self.diags.push(
                    Diagnostic::error(Code::E0519, "a state setting is not known before planning", value.span)
                        .with_detail(format!(
                            "`{name}` must be known before anything is planned, because the state is read first; it can use params and env values, not resource attributes or data sources."
                        ))
                        .with_label("depends on a resource"),
                );
                return None;
            }
        };
        if text.trim().is_empty() {
            return self.not_a_string(name, value.span);
        }
        Some(text)
    }

    fn not_a_string(&mut self, name: &str, span: Span) -> Option<String> {
        self.diags.push(
            Diagnostic::error(Code::E0518, "a state setting is not a string", span)
                .with_detail(format!(
                    "`{name}` in a state block is a non-empty string, such as \"s3://team-state/web/${{env}}\" or \"30s\"."
                ))
                .with_label("not a string"),
        );
        None
    }
}

fn state_error(span: Span, detail: &str) -> Diagnostic {
    Diagnostic::error(Code::E0517, "invalid state block", span).with_detail(detail)
}
