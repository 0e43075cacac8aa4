//! A unified line diff for `gig fmt --diff`: what formatting would change, for review
//! and CI logs, without writing anything.

use std::fmt::Write as _;

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// Above this many line pairs the diff is one hunk replacing the whole file, so a huge
/// file cannot make the comparison table huge.
const MAX_CELLS: usize = 20_000_000;

/// One line of the edit script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Edit {
    Same(usize, usize),
    Removed(usize),
    Added(usize),
}

/// `old` → `new` as a unified diff with `--- a/NAME` / `+++ b/NAME` headers; empty when
/// they are equal.
pub fn unified(name: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let edits = edits(&a, &b);
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    let changed: Vec<usize> = edits
        .iter()
        .enumerate()
        .filter(|(_, e)| !matches!(e, Edit::Same(..)))
        .map(|(i, _)| i)
        .collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(CONTEXT);
        let mut end = changed[i];
        while i < changed.len() && changed[i] <= end + 2 * CONTEXT + 1 {
            end = changed[i];
            i += 1;
        }
        let end = (end + CONTEXT + 1).min(edits.len());
        let hunk = &edits[start..end];
        let (a_start, b_start) = position(&edits[..start]);
        let a_len = hunk.iter().filter(|e| !matches!(e, Edit::Added(_))).count();
        let b_len = hunk
            .iter()
            .filter(|e| !matches!(e, Edit::Removed(_)))
            .count();
        let _ = writeln!(
            out,
            "@@ -{},{a_len} +{},{b_len} @@",
            a_start + usize::from(a_len > 0),
            b_start + usize::from(b_len > 0)
        );
        for e in hunk {
            let _ = match *e {
                Edit::Same(x, _) => writeln!(out, " {}", a[x]),
                Edit::Removed(x) => writeln!(out, "-{}", a[x]),
                Edit::Added(y) => writeln!(out, "+{}", b[y]),
            };
        }
    }
    out
}

/// Lines of `a` and `b` consumed by `edits`.
fn position(edits: &[Edit]) -> (usize, usize) {
    edits.iter().fold((0, 0), |(x, y), e| match e {
        Edit::Same(..) => (x + 1, y + 1),
        Edit::Removed(_) => (x + 1, y),
        Edit::Added(_) => (x, y + 1),
    })
}

/// The shortest edit script by longest common subsequence (or a whole replacement when
/// the files are too large for the table).
fn edits(a: &[&str], b: &[&str]) -> Vec<Edit> {
    if a.len().saturating_mul(b.len()) > MAX_CELLS {
        return (0..a.len())
            .map(Edit::Removed)
            .chain((0..b.len()).map(Edit::Added))
            .collect();
    }
    let width = b.len() + 1;
    let mut lcs = vec![0u32; (a.len() + 1) * width];
    for x in (0..a.len()).rev() {
        for y in (0..b.len()).rev() {
            lcs[x * width + y] = if a[x] == b[y] {
                lcs[(x + 1) * width + y + 1] + 1
            } else {
                lcs[(x + 1) * width + y].max(lcs[x * width + y + 1])
            };
        }
    }
    let (mut x, mut y) = (0, 0);
    let mut out = Vec::with_capacity(a.len() + b.len());
    while x < a.len() || y < b.len() {
        if x < a.len() && y < b.len() && a[x] == b[y] {
            out.push(Edit::Same(x, y));
            x += 1;
            y += 1;
        } else if x < a.len()
            && (y == b.len() || lcs[(x + 1) * width + y] >= lcs[x * width + y + 1])
        {
            out.push(Edit::Removed(x));
            x += 1;
        } else {
            out.push(Edit::Added(y));
            y += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a.gig", "x\n", "x\n"), "");
    }

    #[test]
    fn one_changed_line_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        assert_eq!(
            unified("s.gig", old, new),
            "--- a/s.gig\n+++ b/s.gig\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
    }

    #[test]
    fn additions_at_the_end() {
        assert_eq!(
            unified("s.gig", "a\n", "a\nb\n"),
            "--- a/s.gig\n+++ b/s.gig\n@@ -1,1 +1,2 @@\n a\n+b\n"
        );
    }
}
