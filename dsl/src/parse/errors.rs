//! Translation of pest errors into diagnostics worded for people (E0001).
//!
//! pest's detailed parse attempts say which literal tokens would have been accepted
//! at the furthest position reached. Those are grouped into words: anything that can
//! start an expression becomes "an expression", name characters become "a name",
//! operators and `.`/`[` after a complete expression are dropped when something else
//! (a separator or a closing bracket) was also possible, and whitespace is ignored.
//! Rule names never reach the user.

use std::collections::BTreeSet;

use pest::error::{Error, ErrorVariant, InputLocation};

use gig_core::diag::{Code, Diagnostic};
use gig_core::span::{FileId, Span};

use super::grammar::Rule;

const OPERATORS: [&str; 13] = [
    "||", "&&", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%",
];
const EXPR_STARTS: [&str; 10] = ["!", "-", "(", "[", "{", "\"", "<<", "true", "false", "null"];
const ITEM_WORDS: [&str; 11] = [
    "param", "let", "provider", "stack", "state", "moved", "import", "resource", "data", "module",
    "output",
];

/// The diagnostic for a pest error from parsing the slice of `masked` at `base`, and
/// the absolute offset where parsing failed.
pub(super) fn translate(
    file: FileId,
    base: usize,
    masked: &str,
    err: &Error<Rule>,
) -> (Diagnostic, usize) {
    if let ErrorVariant::CustomError { message } = &err.variant {
        // pest's own guard: it stops before the thread's stack runs out.
        if message.contains("limit reached") {
            let diag = Diagnostic::error(Code::E0004, "nesting too deep", Span::new(file, base, base))
                .with_label("this item is nested too deeply")
                .with_detail("The parser ran out of stack space in this item; it nests too deeply for this thread.")
                .with_help("move inner parts into `let` values");
            return (diag, base);
        }
    }
    let attempts = err.parse_attempts();
    let rel = match (&attempts, &err.location) {
        (Some(a), _) => a.max_position,
        (None, InputLocation::Pos(p)) => *p,
        (None, InputLocation::Span((s, _))) => *s,
    };
    let at = floor_boundary(masked, (base + rel).min(masked.len()));
    // pest does not export its token type; its display form is the token itself, or
    // `a..z` for a character range.
    let tokens: Vec<String> = attempts
        .map(|a| a.expected_tokens().iter().map(|t| t.to_string()).collect())
        .unwrap_or_default();
    let expected = describe_expected(&tokens, masked[..at].chars().next_back());
    let (found, found_len) = describe_found(&masked[at..]);
    let span = Span::new(file, at, at + found_len);
    let summary = format!("expected {expected}");
    let diag = Diagnostic::error(Code::E0001, summary, span)
        .with_label(format!("expected {expected} here"))
        .with_detail(format!(
            "The parser found {found} where it expected {expected}."
        ));
    (diag, at)
}

/// Words for what the parser would have accepted.
fn describe_expected(tokens: &[String], before: Option<char>) -> String {
    let mut literal: BTreeSet<String> = BTreeSet::new();
    let mut name_chars = false;
    let mut digits = false;
    for token in tokens {
        let chars: Vec<char> = token.chars().collect();
        if let [start, '.', '.', _] = chars[..] {
            if start.is_ascii_digit() {
                digits = true;
            } else {
                name_chars = true;
            }
        } else if token != " " && token != "\t" && token != "BUILTIN_RULE" {
            literal.insert(token.clone());
        }
    }
    if literal.remove("_") {
        name_chars = true;
    }
    // Right after a name or number, "more letters" is never what the user needs to hear.
    if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
        name_chars = false;
        digits = false;
    }

    let mut words: Vec<String> = Vec::new();
    let item_start = ITEM_WORDS.iter().filter(|w| literal.contains(**w)).count() >= 3;
    let expr_start = literal.contains("\"") && (digits || literal.contains("("));
    if item_start {
        literal.retain(|t| !ITEM_WORDS.contains(&t.as_str()));
        words.push(
            "an item (`param`, `let`, `provider`, `stack`, `state`, `resource`, `data`, `module` or `output`)".into(),
        );
        name_chars = false;
    }
    if expr_start {
        literal.retain(|t| !EXPR_STARTS.contains(&t.as_str()));
        words.push("an expression".into());
        name_chars = false;
        digits = false;
    }
    // Continuations of a complete expression (operators, `.name`, `[index]`, and `(`
    // making a name a call): mention them only when nothing else fits.
    let after_word = before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let continuation = |t: &String| {
        OPERATORS.contains(&t.as_str())
            || t == "."
            || t == "["
            || t == "?"
            || (after_word && t == "(")
    };
    let has_continuation = literal
        .iter()
        .any(|t| OPERATORS.contains(&t.as_str()) || (after_word && t == "("));
    let others = literal.iter().any(|t| !continuation(t)) || !words.is_empty() || name_chars;
    if has_continuation && others {
        literal.retain(|t| !continuation(t));
    } else if has_continuation && literal.iter().any(|t| OPERATORS.contains(&t.as_str())) {
        literal.retain(|t| !continuation(t));
        words.push("an operator".into());
    }
    if name_chars {
        words.push("a name".into());
    }
    if digits {
        words.push("a number".into());
    }
    let newline = literal.remove("\n");
    let mut all: Vec<String> = literal.into_iter().map(|t| format!("`{t}`")).collect();
    all.extend(words);
    if newline {
        all.push("a newline".into());
    }
    match all.len() {
        0 => "something else".into(),
        1 => all.remove(0),
        n => format!("{} or {}", all[..n - 1].join(", "), all[n - 1]),
    }
}

/// Words for what is at the error position, and the length of that token.
fn describe_found(rest: &str) -> (String, usize) {
    let Some(c) = rest.chars().next() else {
        return ("the end of the file".into(), 0);
    };
    if c == '\n' {
        return ("the end of the line".into(), 0);
    }
    let len = if c.is_ascii_alphanumeric() || c == '_' {
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())
    } else {
        c.len_utf8()
    };
    let token = &rest[..len];
    let shown: String = token.chars().take(40).collect();
    let what = if c.is_ascii_digit() {
        format!("the number `{shown}`")
    } else if c.is_ascii_alphabetic() || c == '_' {
        format!("the word `{shown}`")
    } else if c == '"' {
        "a string".to_string()
    } else if c.is_control() || c == '`' {
        format!("the character U+{:04X}", c as u32)
    } else {
        format!("`{shown}`")
    };
    (what, len)
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
