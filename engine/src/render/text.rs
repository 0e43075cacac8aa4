//! The human plan: a legend, one block per changing instance with aligned attribute
//! lines, destructive changes called out again at the end, and the summary line.

use std::fmt::Write as _;

use gig_core::value::Value;

use crate::model::{Action, AttrChange, OutputChange, Plan, ResourceChange};
use crate::recover::Resolution;
use crate::render::styled::{Style, Styled};
use crate::render::{action_phrase, adoption_counts, show};

/// Renders `plan` for a terminal or a log: plain text with styled ranges, which the
/// caller shows in colour or not.
pub fn text(plan: &Plan) -> Styled {
    let mut out = Styled::new();
    let changing: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
        .collect();
    let outputs: Vec<&OutputChange> = plan.outputs.iter().filter(|o| output_changes(o)).collect();

    recovered(&mut out, plan);
    adopted(&mut out, plan);
    deposed(&mut out, plan);
    if changing.is_empty() && outputs.is_empty() {
        if !plan.deposed.is_empty() {
            out.push_str("No other changes.\n");
        } else if plan.moved.is_empty() && plan.imported.is_empty() {
            out.push_str("No changes. Infrastructure matches the configuration.\n");
        } else {
            out.push_str("No changes to infrastructure; apply records the state changes above.\n");
            summary_line(&mut out, plan);
        }
        return out;
    }

    if !changing.is_empty() {
        legend(&mut out, &changing);
        for c in &changing {
            resource(&mut out, plan, c);
        }
    }

    if !outputs.is_empty() {
        out.push_str("Changes to outputs:\n");
        let width = outputs.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in outputs {
            let before = o.before.as_ref().map(|v| show(v, o.secret));
            let after = o.after.as_ref().map(|v| show(v, o.secret));
            let (sym, text) = match (before, after) {
                (None, Some(a)) => ("+", a),
                (Some(b), None) => ("-", b),
                (Some(b), Some(a)) => ("~", format!("{b} -> {a}")),
                (None, None) => continue,
            };
            out.push_str("  ");
            out.push_styled(mark_style(sym), sym);
            let _ = writeln!(out, " {:width$} = {text}", o.name);
        }
        out.push('\n');
    }

    let destructive: Vec<&&ResourceChange> = changing
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .collect();
    if !destructive.is_empty() {
        out.push_styled(
            Style::Danger,
            "Destructive changes (check these before applying):",
        );
        out.push('\n');
        for c in destructive {
            let what = if c.action == Action::Delete {
                "destroy"
            } else {
                "replace"
            };
            out.push_str("  ");
            symbol(&mut out, c.action.symbol(c.lifecycle.create_before_destroy));
            let _ = writeln!(out, " {} ({what})", c.addr);
        }
        out.push('\n');
    }

    summary_line(&mut out, plan);
    out
}

/// `Plan: … to add, … to change, … to replace, … to destroy.`
fn summary_line(out: &mut Styled, plan: &Plan) {
    let s = plan.summary;
    out.push_styled(
        Style::Heading,
        &format!(
            "Plan: {}{} to add, {} to change, {} to replace, {} to destroy.",
            adoption_counts(plan),
            s.add,
            s.change,
            s.replace,
            s.destroy
        ),
    );
    out.push('\n');
}

fn output_changes(o: &OutputChange) -> bool {
    match (&o.before, &o.after) {
        (None, None) => false,
        (Some(b), Some(a)) => b != a || a.is_unknown(),
        _ => true,
    }
}

fn legend(out: &mut Styled, changing: &[&ResourceChange]) {
    out.push_str("gig will perform the following actions. Symbols:\n");
    let has = |f: &dyn Fn(&ResourceChange) -> bool| changing.iter().any(|c| f(c));
    if has(&|c| c.action == Action::Create) {
        legend_line(out, "+", "create");
    }
    if has(&|c| c.action == Action::Update) {
        legend_line(out, "~", "update in place");
    }
    if has(&|c| c.action == Action::Replace && !c.lifecycle.create_before_destroy) {
        legend_line(out, "-/+", "replace (destroy, then create)");
    }
    if has(&|c| c.action == Action::Replace && c.lifecycle.create_before_destroy) {
        legend_line(out, "+/-", "replace (create, then destroy)");
    }
    if has(&|c| c.action == Action::Delete) {
        legend_line(out, "-", "destroy");
    }
    out.push('\n');
}

fn legend_line(out: &mut Styled, sym: &str, meaning: &str) {
    out.push_str("  ");
    symbol(out, sym);
    let _ = writeln!(out, " {meaning}");
}

fn resource(out: &mut Styled, plan: &Plan, c: &ResourceChange) {
    let header = format!("# {} {}", c.addr, action_phrase(plan, c));
    let style = match c.action {
        Action::Delete | Action::Replace => Style::Danger,
        _ => Style::Heading,
    };
    out.push_styled(style, &header);
    out.push('\n');
    let sym = c.action.symbol(c.lifecycle.create_before_destroy);
    let id =
        c.id.as_ref()
            .map(|id| format!(" (id {id:?})"))
            .unwrap_or_default();
    symbol(out, sym);
    let _ = writeln!(out, " {}{id}", c.addr);
    let width = c
        .attributes
        .iter()
        .map(|a| a.path.to_string().len())
        .max()
        .unwrap_or(0);
    for a in &c.attributes {
        attribute(out, a, width);
    }
    out.push('\n');
}

/// Longest one-line rendering of a list before it is broken one element per line.
const LIST_WIDTH: usize = 80;

/// A value laid out for reading: multi-line strings as a heredoc, long lists one element
/// per line; everything else on one line. Secrets and unknowns keep their markers.
fn layout(value: &Value, secret: bool) -> String {
    if secret && !matches!(value, Value::Unknown) {
        return gig_core::value::REDACTED.to_string();
    }
    match value {
        Value::String(s) if s.contains('\n') => {
            let mut text = String::from("<<EOT\n");
            for line in s.trim_end_matches('\n').lines() {
                let _ = writeln!(text, "          {line}");
            }
            text.push_str("        EOT");
            text
        }
        Value::List(items) if items.len() > 1 && value.display().len() > LIST_WIDTH => {
            let mut text = String::from("[\n");
            for item in items {
                let _ = writeln!(text, "          {},", item.display());
            }
            text.push_str("        ]");
            text
        }
        v => v.display(),
    }
}

fn attribute(out: &mut Styled, a: &AttrChange, width: usize) {
    let before = a.before.as_ref().map(|v| layout(v, a.secret));
    let after = a.after.as_ref().map(|v| layout(v, a.secret));
    let (sym, value) = match (before, after) {
        (None, Some(after)) => ("+", after),
        (Some(before), None) => ("-", before),
        (Some(before), Some(after)) => ("~", format!("{before} -> {after}")),
        (None, None) => ("~", "null".to_string()),
    };
    out.push_str("      ");
    out.push_styled(mark_style(sym), sym);
    let _ = write!(out, " {:width$} = {value}", a.path.to_string());
    if a.forces_replacement {
        out.push(' ');
        out.push_styled(Style::Danger, "# forces replacement");
    }
    out.push('\n');
}

/// An action's symbol, right-aligned in three columns.
fn symbol(out: &mut Styled, sym: &str) {
    let style = match sym {
        "+" => Style::Create,
        "~" => Style::Update,
        "-" => Style::Delete,
        "-/+" | "+/-" => Style::Replace,
        _ => Style::Muted,
    };
    out.push_styled(style, &format!("{sym:>3}"));
}

/// The style of an attribute's `+`, `~` or `-`.
fn mark_style(sym: &str) -> Style {
    match sym {
        "+" => Style::Create,
        "~" => Style::Update,
        _ => Style::Delete,
    }
}

/// The create intents an interrupted apply left and this plan resolved.
fn recovered(out: &mut Styled, plan: &Plan) {
    if plan.recovered.is_empty() {
        return;
    }
    out.push_str("An earlier apply was interrupted during these creates:\n");
    for (addr, resolution) in &plan.recovered {
        out.push_str("  ");
        match resolution {
            Resolution::Adopted(id) => {
                out.push_styled(Style::Create, "+");
                let _ = writeln!(out, " {addr}: its object {id} exists and will be recorded");
            }
            Resolution::Gone => {
                out.push_styled(Style::Muted, "-");
                let _ = writeln!(out, " {addr}: no object was made; it is planned as usual");
            }
        }
    }
    out.push('\n');
}

/// Records `moved` blocks move and objects `import` blocks adopt: state changes that
/// need no cloud call.
fn adopted(out: &mut Styled, plan: &Plan) {
    if plan.moved.is_empty() && plan.imported.is_empty() {
        return;
    }
    out.push_str("State changes (no cloud call):\n");
    for (to, from) in &plan.moved {
        out.push_str("  ");
        out.push_styled(Style::Update, "~");
        let _ = writeln!(out, " {to} moved from {from}");
    }
    for (to, id) in &plan.imported {
        out.push_str("  ");
        out.push_styled(Style::Create, "+");
        let _ = writeln!(out, " {to} will be imported (id {id:?})");
    }
    out.push('\n');
}

/// The objects an earlier create-before-destroy replacement deposed and did not delete.
fn deposed(out: &mut Styled, plan: &Plan) {
    if plan.deposed.is_empty() {
        return;
    }
    out.push_str("Objects replaced earlier and not deleted yet:\n");
    for d in &plan.deposed {
        out.push_str("  ");
        out.push_styled(Style::Delete, "-");
        let _ = writeln!(
            out,
            " {}: deposed object {} will be destroyed",
            d.addr, d.id
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn long_lists_break_per_element_and_multiline_strings_become_heredocs() {
        let rule = |port: i64| {
            Value::Map(
                [
                    (
                        "description".to_string(),
                        Value::str("a rule with a long description"),
                    ),
                    ("from_port".to_string(), Value::from(port)),
                ]
                .into_iter()
                .collect(),
            )
        };
        let list = Value::List(vec![rule(80), rule(443)]);
        assert_eq!(
            layout(&list, false),
            "[\n          { description = \"a rule with a long description\", from_port = 80 },\n          \
             { description = \"a rule with a long description\", from_port = 443 },\n        ]"
        );
        assert_eq!(
            layout(&Value::List(vec![Value::from(1), Value::from(2)]), false),
            "[1, 2]"
        );
        assert_eq!(
            layout(&Value::str("#!/bin/bash\nset -e\n"), false),
            "<<EOT\n          #!/bin/bash\n          set -e\n        EOT"
        );
        assert_eq!(layout(&Value::str("a\nb"), true), "(secret)");
    }
}
