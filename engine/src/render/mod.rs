//! Renderers of a [`crate::model::Plan`]: human text, machine JSON, pull-request markdown.
//!
//! All three render the same structured plan, deterministically, and none ever prints a
//! secret: values of changes marked secret, and any [`gig_core::value::Value::Secret`]
//! inside a value, are shown as `(secret)`.

mod json;
mod markdown;
mod styled;
mod text;

pub use self::json::{json, FORMAT_VERSION};
pub use self::markdown::{markdown, MarkdownOptions};
pub use self::styled::{Style, Styled};
pub use self::text::text;

use gig_core::value::{Value, REDACTED};

use crate::model::{Action, AttrChange, Plan, ResourceChange};

/// The words used for an action in headings: `will be created`, and why when refresh
/// found the object deleted outside gig; a moved or imported record says so.
pub(crate) fn action_phrase(plan: &Plan, change: &ResourceChange) -> String {
    let phrase = bare_action_phrase(plan, change);
    match adoption(plan, change) {
        Some(how) => format!("{phrase} ({how})"),
        None => phrase,
    }
}

/// How the change's Prior record came to its address in this plan: `moved from ADDR`
/// (a `moved` block) or `imported, id "…"` (an `import` block).
pub(crate) fn adoption(plan: &Plan, change: &ResourceChange) -> Option<String> {
    if let Some(from) = plan.moved.get(&change.addr) {
        return Some(format!("moved from {from}"));
    }
    plan.imported
        .get(&change.addr)
        .map(|id| format!("imported, id {id:?}"))
}

/// The counts of records moved and objects imported, for the summary line: empty when
/// there are none, else `2 to import, 1 to move, `.
pub(crate) fn adoption_counts(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.imported.is_empty() {
        out.push_str(&format!("{} to import, ", plan.imported.len()));
    }
    if !plan.moved.is_empty() {
        out.push_str(&format!("{} to move, ", plan.moved.len()));
    }
    out
}

fn bare_action_phrase(plan: &Plan, change: &ResourceChange) -> String {
    match change.action {
        Action::Create if plan.deleted_outside.contains(&change.addr) => {
            "will be created (it was deleted outside gig)".into()
        }
        Action::Create => "will be created".into(),
        Action::Update => "will be updated in place".into(),
        Action::Replace => {
            let order = if change.lifecycle.create_before_destroy {
                "create before destroy"
            } else {
                "destroy before create"
            };
            if change.replace_because.is_empty() {
                format!("must be replaced ({order})")
            } else {
                let forced: Vec<String> = change
                    .replace_because
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect();
                format!(
                    "must be replaced, forced by {} ({order})",
                    forced.join(", ")
                )
            }
        }
        Action::Delete => "will be destroyed".into(),
        Action::NoOp => "is unchanged".into(),
        Action::Read => "will be read".into(),
    }
}

/// A value for display: strings quoted, secrets `(secret)`, unknowns
/// `(known after apply)`.
pub(crate) fn show(value: &Value, secret: bool) -> String {
    if secret && !matches!(value, Value::Unknown) {
        return REDACTED.to_string();
    }
    value.display()
}

/// The before/after pair of an attribute change as display strings.
pub(crate) fn show_change(c: &AttrChange) -> (Option<String>, Option<String>) {
    let before = c.before.as_ref().map(|v| show(v, c.secret));
    let after = c.after.as_ref().map(|v| show(v, c.secret));
    (before, after)
}

/// Order of importance for reviewers: destroys, replaces, updates, creates.
pub(crate) fn importance(action: Action) -> u8 {
    match action {
        Action::Delete => 0,
        Action::Replace => 1,
        Action::Update => 2,
        Action::Create => 3,
        Action::Read => 4,
        Action::NoOp => 5,
    }
}

#[cfg(test)]
mod tests;
