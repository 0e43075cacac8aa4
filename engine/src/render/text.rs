//! The human plan: a legend, one block per changing instance with aligned attribute
//! lines, destructive changes called out again at the end, and the summary line.

use std::fmt::Write as _;

use gig_core::value::Value;

use crate::model::{Action, AttrChange, OutputChange, Plan, ResourceChange};
use crate::render::{action_phrase, show};

/// Options of the text renderer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// Use ANSI colours (only when writing to a terminal that wants them).
    pub color: bool,
}

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const MAGENTA: &str = "\x1b[35m";
const DIM: &str = "\x1b[2m";

/// Renders `plan` for a terminal or a log.
pub fn text(plan: &Plan, opts: &TextOptions) -> String {
    let p = Painter { color: opts.color };
    let mut out = String::new();
    let changing: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
        .collect();
    let outputs: Vec<&OutputChange> = plan.outputs.iter().filter(|o| output_changes(o)).collect();

    if changing.is_empty() && outputs.is_empty() {
        out.push_str("No changes. Infrastructure matches the configuration.\n");
        return out;
    }

    if !changing.is_empty() {
        legend(&mut out, &changing, &p);
        for c in &changing {
            resource(&mut out, c, &p);
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
            let _ = writeln!(out, "  {} {:width$} = {text}", p.mark(sym), o.name);
        }
        out.push('\n');
    }

    let destructive: Vec<&&ResourceChange> = changing
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .collect();
    if !destructive.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.paint(
                &format!("{BOLD}{RED}"),
                "Destructive changes (check these before applying):"
            )
        );
        for c in destructive {
            let what = if c.action == Action::Delete {
                "destroy"
            } else {
                "replace"
            };
            let _ = writeln!(
                out,
                "  {} {} ({what})",
                p.symbol(c.action.symbol(c.lifecycle.create_before_destroy)),
                c.addr
            );
        }
        out.push('\n');
    }

    let s = plan.summary;
    let _ = writeln!(
        out,
        "{}",
        p.paint(
            BOLD,
            &format!(
                "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
                s.add, s.change, s.replace, s.destroy
            )
        )
    );
    out
}

fn output_changes(o: &OutputChange) -> bool {
    match (&o.before, &o.after) {
        (None, None) => false,
        (Some(b), Some(a)) => b != a || a.is_unknown(),
        _ => true,
    }
}

fn legend(out: &mut String, changing: &[&ResourceChange], p: &Painter) {
    out.push_str("gig will perform the following actions. Symbols:\n");
    let has = |f: &dyn Fn(&ResourceChange) -> bool| changing.iter().any(|c| f(c));
    if has(&|c| c.action == Action::Create) {
        let _ = writeln!(out, "  {} create", p.symbol("+"));
    }
    if has(&|c| c.action == Action::Update) {
        let _ = writeln!(out, "  {} update in place", p.symbol("~"));
    }
    if has(&|c| c.action == Action::Replace && !c.lifecycle.create_before_destroy) {
        let _ = writeln!(out, "  {} replace (destroy, then create)", p.symbol("-/+"));
    }
    if has(&|c| c.action == Action::Replace && c.lifecycle.create_before_destroy) {
        let _ = writeln!(out, "  {} replace (create, then destroy)", p.symbol("+/-"));
    }
    if has(&|c| c.action == Action::Delete) {
        let _ = writeln!(out, "  {} destroy", p.symbol("-"));
    }
    out.push('\n');
}

fn resource(out: &mut String, c: &ResourceChange, p: &Painter) {
    let header = format!("# {} {}", c.addr, action_phrase(c));
    let header = match c.action {
        Action::Delete | Action::Replace => p.paint(&format!("{BOLD}{RED}"), &header),
        _ => p.paint(BOLD, &header),
    };
    let _ = writeln!(out, "{header}");
    let sym = c.action.symbol(c.lifecycle.create_before_destroy);
    let id =
        c.id.as_ref()
            .map(|id| format!(" (id {id:?})"))
            .unwrap_or_default();
    let _ = writeln!(out, "{} {}{id}", p.symbol(sym), c.addr);
    let width = c.attributes.iter().map(|a| a.path.len()).max().unwrap_or(0);
    for a in &c.attributes {
        attribute(out, a, width, p);
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

fn attribute(out: &mut String, a: &AttrChange, width: usize, p: &Painter) {
    let before = a.before.as_ref().map(|v| layout(v, a.secret));
    let after = a.after.as_ref().map(|v| layout(v, a.secret));
    let (sym, value) = match (before, after) {
        (None, Some(after)) => ("+", after),
        (Some(before), None) => ("-", before),
        (Some(before), Some(after)) => ("~", format!("{before} -> {after}")),
        (None, None) => ("~", "null".to_string()),
    };
    let note = if a.forces_replacement {
        format!(
            " {}",
            p.paint(&format!("{BOLD}{RED}"), "# forces replacement")
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "      {} {:width$} = {value}{note}",
        p.mark(sym),
        a.path
    );
}

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: &str, s: &str) -> String {
        if self.color {
            format!("{style}{s}{RESET}")
        } else {
            s.to_string()
        }
    }

    fn symbol(&self, sym: &str) -> String {
        let style = match sym {
            "+" => GREEN,
            "~" => YELLOW,
            "-" => RED,
            "-/+" | "+/-" => MAGENTA,
            _ => DIM,
        };
        self.paint(style, &format!("{sym:>3}"))
    }

    /// An attribute's `+`, `~` or `-`, unpadded.
    fn mark(&self, sym: &str) -> String {
        let style = match sym {
            "+" => GREEN,
            "~" => YELLOW,
            _ => RED,
        };
        self.paint(style, sym)
    }
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
