//! The pull-request comment: a one-line summary, destructive changes first, one
//! collapsible block per instance with its attribute diff, cut to a size limit by
//! dropping the least important changes first.

use std::fmt::Write as _;

use crate::model::{Action, AttrChange, Plan, ResourceChange};
use crate::recover::Resolution;
use crate::render::{action_phrase, adoption_counts, importance, show, show_change};

/// Options of the markdown renderer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// Upper bound on the output's length in bytes (GitHub comments take 65 536).
    pub max_chars: usize,
}

impl Default for MarkdownOptions {
    fn default() -> MarkdownOptions {
        MarkdownOptions { max_chars: 65_000 }
    }
}

/// Room kept for the closing note when changes are cut.
const FOOTER_RESERVE: usize = 300;

/// Renders `plan` as GitHub-flavoured markdown of at most `opts.max_chars` bytes
/// (the summary is always kept).
pub fn markdown(plan: &Plan, opts: &MarkdownOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### gig plan: `{}` (env `{}`)\n",
        escape_code(&plan.stack),
        escape_code(&plan.env)
    );
    let s = plan.summary;
    let changing: Vec<&ResourceChange> = {
        let mut v: Vec<&ResourceChange> = plan
            .changes
            .iter()
            .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
            .collect();
        v.sort_by(|a, b| (importance(a.action), &a.addr).cmp(&(importance(b.action), &b.addr)));
        v
    };
    let outputs = outputs_block(plan);
    if !plan.recovered.is_empty() {
        out.push_str("An earlier apply was interrupted during these creates:\n\n");
        for (addr, r) in &plan.recovered {
            let addr = escape_code(&addr.to_string());
            let _ = match r {
                Resolution::Adopted(id) => writeln!(
                    out,
                    "- `{addr}`: its object `{}` exists and will be recorded",
                    escape_code(id)
                ),
                Resolution::Gone => writeln!(out, "- `{addr}`: no object was made"),
            };
        }
        out.push('\n');
    }
    if !plan.moved.is_empty() || !plan.imported.is_empty() {
        out.push_str("State changes (no cloud call):\n\n");
        for (to, from) in &plan.moved {
            let _ = writeln!(
                out,
                "- `{}` moved from `{}`",
                escape_code(&to.to_string()),
                escape_code(&from.to_string())
            );
        }
        for (to, id) in &plan.imported {
            let _ = writeln!(
                out,
                "- `{}` will be imported (id `{}`)",
                escape_code(&to.to_string()),
                escape_code(id)
            );
        }
        out.push('\n');
    }
    if !plan.deposed.is_empty() {
        out.push_str("Objects replaced earlier and not deleted yet:\n\n");
        for d in &plan.deposed {
            let _ = writeln!(
                out,
                "- `{}`: deposed object `{}` will be destroyed",
                escape_code(&d.addr.to_string()),
                escape_code(&d.id)
            );
        }
        out.push('\n');
    }
    if changing.is_empty() && outputs.is_none() {
        if !plan.deposed.is_empty() {
            out.push_str("**No other changes.**\n");
        } else if plan.moved.is_empty() && plan.imported.is_empty() {
            out.push_str("**No changes.** Infrastructure matches the configuration.\n");
        } else {
            out.push_str(
                "**No changes to infrastructure.** Apply records the state changes above.\n",
            );
        }
        return out;
    }
    let _ = writeln!(
        out,
        "**Plan: {}{} to add, {} to change, {} to replace, {} to destroy.**\n",
        adoption_counts(plan),
        s.add,
        s.change,
        s.replace,
        s.destroy
    );
    if s.destroy + s.replace > 0 {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> This plan destroys {} and replaces {} resource(s). They are listed first.\n",
            s.destroy, s.replace
        );
    }

    let mut blocks: Vec<String> = changing.iter().map(|c| block(plan, c)).collect();
    if let Some(o) = outputs {
        blocks.push(o);
    }
    let total = blocks.len();
    let mut shown = 0;
    for b in &blocks {
        let remaining = total - shown - 1;
        let reserve = if remaining > 0 { FOOTER_RESERVE } else { 0 };
        if out.len() + b.len() + reserve > opts.max_chars {
            break;
        }
        out.push_str(b);
        shown += 1;
    }
    if shown < total {
        let cut = &blocks[shown..];
        let _ = writeln!(
            out,
            "_{} more change(s) not shown to stay within the comment size limit; the most important \
             (destroys, replaces, then updates) are shown first. Run `gig plan` for the full plan._",
            cut.len()
        );
    }
    if out.len() > opts.max_chars {
        // Even the summary does not fit: keep what fits on a character boundary.
        let mut end = opts.max_chars;
        while end > 0 && !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

fn block(plan: &Plan, c: &ResourceChange) -> String {
    let sym = c.action.symbol(c.lifecycle.create_before_destroy);
    let mut lines = String::new();
    if let Some(id) = &c.id {
        let _ = writeln!(lines, "  id = {id:?}");
    }
    for a in &c.attributes {
        attribute_lines(&mut lines, a);
    }
    let fence = fence_for(&lines);
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<details><summary><code>{}</code> <b>{}</b> {}</summary>\n",
        escape_html(sym),
        escape_html(&c.addr.to_string()),
        escape_html(&action_phrase(plan, c).replace('`', ""))
    );
    let _ = write!(b, "{fence}diff\n{lines}{fence}\n\n</details>\n\n");
    b
}

fn attribute_lines(out: &mut String, a: &AttrChange) {
    let (before, after) = show_change(a);
    let note = if a.forces_replacement {
        "   # forces replacement"
    } else {
        ""
    };
    if let Some(b) = before {
        let _ = writeln!(
            out,
            "- {} = {b}{}",
            a.path,
            if after.is_none() { note } else { "" }
        );
    }
    if let Some(x) = after {
        let _ = writeln!(out, "+ {} = {x}{note}", a.path);
    }
}

fn outputs_block(plan: &Plan) -> Option<String> {
    let mut lines = String::new();
    for o in &plan.outputs {
        if o.before == o.after && !o.after.as_ref().is_some_and(|v| v.is_unknown()) {
            continue;
        }
        if let Some(b) = &o.before {
            let _ = writeln!(lines, "- {} = {}", o.name, show(b, o.secret));
        }
        if let Some(a) = &o.after {
            let _ = writeln!(lines, "+ {} = {}", o.name, show(a, o.secret));
        }
    }
    if lines.is_empty() {
        return None;
    }
    let fence = fence_for(&lines);
    Some(format!(
        "<details><summary>Outputs</summary>\n\n{fence}diff\n{lines}{fence}\n\n</details>\n\n"
    ))
}

/// A code fence longer than any backtick run inside `body`.
fn fence_for(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in body.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn escape_code(s: &str) -> String {
    s.replace('`', "'")
}
