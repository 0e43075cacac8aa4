//! The scanner that runs before pest: comments, delimiters, nesting depth and masking.
//!
//! One linear pass over the bytes tracks a stack of open contexts (`{`, `[`, `(`, a
//! string, a `${` interpolation). It
//!
//! - collects every comment (`#`, `//`, `/* */`) for [`crate::ast::File::comments`];
//! - reports unterminated strings and block comments, unclosed and mismatched
//!   delimiters, control characters, and nesting deeper than [`super::MAX_NESTING`]
//!   (each `?` of a conditional counts as one level too, because pest recurses into
//!   its branches);
//! - builds the *masked* text that pest parses: the same length as the source, with
//!   comments, `\r`, a leading byte-order mark and every newline inside `( )`, `[ ]`
//!   and `${ }` replaced by spaces. Newlines that separate items and entries stay.
//!
//! Since the masked text has the same byte offsets as the source, pest's positions
//! are source positions.

use crate::ast::Comment;
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::{FileId, Span};

use super::MAX_NESTING;

/// What the scanner found.
pub(super) struct Scan {
    /// The text pest parses.
    pub masked: String,
    /// Every comment in source order.
    pub comments: Vec<Comment>,
    /// Structural problems found.
    pub diagnostics: Vec<Diagnostic>,
    /// Byte offsets where nesting first went past the limit; pest must never see text
    /// from such an offset on when it starts parsing before it.
    pub too_deep: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Brace,
    Bracket,
    Paren,
    Interp,
    Str,
    /// The body of a heredoc (`<<EOT` … `EOT`).
    Heredoc,
}

impl Ctx {
    fn open(self) -> &'static str {
        match self {
            Ctx::Brace => "{",
            Ctx::Bracket => "[",
            Ctx::Paren => "(",
            Ctx::Interp => "${",
            Ctx::Str => "\"",
            Ctx::Heredoc => "<<",
        }
    }

    fn close(self) -> &'static str {
        match self {
            Ctx::Brace | Ctx::Interp => "}",
            Ctx::Bracket => "]",
            Ctx::Paren => ")",
            Ctx::Str => "\"",
            Ctx::Heredoc => "the closing marker",
        }
    }

    /// Whether newlines inside this context are insignificant.
    fn ignores_newlines(self) -> bool {
        matches!(self, Ctx::Bracket | Ctx::Paren | Ctx::Interp)
    }
}

struct Frame {
    ctx: Ctx,
    at: usize,
    /// Nesting depth just inside this delimiter.
    base: usize,
    /// Number of `?` seen in the current expression at this level.
    questions: usize,
    /// For a heredoc, the byte range of its marker (`EOT`) in the text.
    marker: (usize, usize),
}

/// Current nesting depth: delimiters plus pending conditionals at every level.
fn depth(stack: &[Frame], top_questions: usize) -> usize {
    stack.last().map_or(top_questions, |f| f.base + f.questions)
}

/// Scans `text` (the source of `file`).
pub(super) fn scan(file: FileId, text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut masked = bytes.to_vec();
    let mut comments = Vec::new();
    let mut diagnostics = Vec::new();
    let mut too_deep = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // `?` count of the top level (outside any delimiter).
    let mut top_questions = 0usize;
    let mut deep = false;
    let span = |s: usize, e: usize| Span::new(file, s, e);

    let mut i = 0;
    if text.starts_with('\u{feff}') {
        masked[..3].fill(b' ');
        i = 3;
    }
    while i < bytes.len() {
        if deep && depth(&stack, top_questions) <= MAX_NESTING {
            deep = false;
        }
        let top = stack.last().map(|f| f.ctx);
        // A heredoc ends at the first line that starts with its marker.
        if let Some(f) = stack.last().filter(|f| f.ctx == Ctx::Heredoc) {
            if bytes[i - 1] == b'\n' {
                if let Some(end) = heredoc_end(text, i, &text[f.marker.0..f.marker.1]) {
                    stack.pop();
                    i = end;
                    continue;
                }
            }
        }
        let heredoc = top == Some(Ctx::Heredoc);
        let in_string = heredoc || top == Some(Ctx::Str);
        // Most bytes are none of the ones below; skip them in a tight loop.
        let special = match top {
            Some(Ctx::Str) => &STRING_SPECIAL,
            Some(Ctx::Heredoc) => &HEREDOC_SPECIAL,
            _ => &CODE_SPECIAL,
        };
        while i < bytes.len() && !special[usize::from(bytes[i])] {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else {
            break;
        };
        if in_string {
            // A heredoc's body is a string without quotes, escapes or line ends.
            match b {
                b'"' if !heredoc => {
                    stack.pop();
                    i += 1;
                }
                b'\\' if !heredoc => {
                    // An escape: skip the escaped character unless it ends the line.
                    match text[i + 1..].chars().next() {
                        None | Some('\n') => i += 1,
                        Some('\r') if bytes.get(i + 2) == Some(&b'\n') => i += 1,
                        Some(c) => i += 1 + c.len_utf8(),
                    }
                }
                b'$' if bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') => {
                    i += 3;
                }
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    push(
                        &mut stack,
                        Ctx::Interp,
                        i,
                        top_questions,
                        &mut deep,
                        &mut too_deep,
                        &mut diagnostics,
                        file,
                    );
                    i += 2;
                }
                b'\n' if !heredoc => {
                    let frame = stack.pop();
                    let start = frame.map_or(i, |f| f.at);
                    let end = if i > 0 && bytes[i - 1] == b'\r' {
                        i - 1
                    } else {
                        i
                    };
                    diagnostics.push(unterminated_string(span(start, end)));
                    // The newline itself is handled in the enclosing context.
                }
                b'\r' if !heredoc && bytes.get(i + 1) == Some(&b'\n') => i += 1,
                _ if is_bad_control(b) => {
                    diagnostics.push(control_char(span(i, i + 1), b));
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }

        match b {
            b'#' => i = line_comment(text, &mut masked, &mut comments, file, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = line_comment(text, &mut masked, &mut comments, file, i);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let keep_newlines = !stack.last().is_some_and(|f| f.ctx.ignores_newlines());
                let end = match text[i + 2..].find("*/") {
                    Some(rel) => i + 2 + rel + 2,
                    None => {
                        diagnostics.push(
                            Diagnostic::error(
                                Code::E0010,
                                "unterminated block comment",
                                span(i, i + 2),
                            )
                            .with_label("this comment is never closed")
                            .with_detail(
                                "A block comment that starts with `/*` must end with `*/`.",
                            )
                            .with_help("add `*/` where the comment should end"),
                        );
                        bytes.len()
                    }
                };
                comments.push(Comment {
                    text: text[i..end].to_string(),
                    span: span(i, end),
                });
                for m in &mut masked[i..end] {
                    if !(keep_newlines && *m == b'\n') {
                        *m = b' ';
                    }
                }
                i = end;
            }
            b'"' => {
                push(
                    &mut stack,
                    Ctx::Str,
                    i,
                    top_questions,
                    &mut deep,
                    &mut too_deep,
                    &mut diagnostics,
                    file,
                );
                i += 1;
            }
            b'{' | b'[' | b'(' => {
                let ctx = match b {
                    b'{' => Ctx::Brace,
                    b'[' => Ctx::Bracket,
                    _ => Ctx::Paren,
                };
                push(
                    &mut stack,
                    ctx,
                    i,
                    top_questions,
                    &mut deep,
                    &mut too_deep,
                    &mut diagnostics,
                    file,
                );
                i += 1;
            }
            b'}' | b']' | b')' => {
                let want = |c: Ctx| match b {
                    b'}' => matches!(c, Ctx::Brace | Ctx::Interp),
                    b']' => c == Ctx::Bracket,
                    _ => c == Ctx::Paren,
                };
                let found = char::from(b);
                match stack.last() {
                    Some(f) if want(f.ctx) => {
                        stack.pop();
                    }
                    Some(f) => {
                        // Close what this delimiter matches if it is open further out;
                        // otherwise ignore it.
                        let inner = (f.ctx, f.at);
                        let mut d = Diagnostic::error(
                            Code::E0009,
                            "mismatched closing delimiter",
                            span(i, i + 1),
                        )
                        .with_label(format!("expected `{}` here", inner.0.close()))
                        .with_detail(format!(
                            "This `{found}` does not match the `{}` that is still open.",
                            inner.0.open()
                        ))
                        .with_secondary(
                            span(inner.1, inner.1 + inner.0.open().len()),
                            "the delimiter that is still open",
                        );
                        // If an opener this closes is further out, close up to it;
                        // otherwise take it as a typo closing the innermost one.
                        match stack.iter().rposition(|f| want(f.ctx)) {
                            Some(pos)
                                if !stack[pos + 1..]
                                    .iter()
                                    .any(|f| matches!(f.ctx, Ctx::Str | Ctx::Heredoc)) =>
                            {
                                stack.truncate(pos)
                            }
                            _ => {
                                stack.pop();
                            }
                        }
                        d = d.with_help(format!("close the `{}` first", inner.0.open()));
                        diagnostics.push(d);
                    }
                    None => diagnostics.push(
                        Diagnostic::error(
                            Code::E0009,
                            "unexpected closing delimiter",
                            span(i, i + 1),
                        )
                        .with_label("nothing to close here")
                        .with_detail(format!("This `{found}` has no matching opening delimiter.")),
                    ),
                }
                i += 1;
            }
            b'?' => {
                match stack.last_mut() {
                    Some(f) => f.questions += 1,
                    None => top_questions += 1,
                }
                check_depth(
                    depth(&stack, top_questions),
                    i,
                    &mut deep,
                    &mut too_deep,
                    &mut diagnostics,
                    file,
                );
                i += 1;
            }
            b'<' => match heredoc_start(bytes, i) {
                Some((marker, body)) => {
                    push(
                        &mut stack,
                        Ctx::Heredoc,
                        i,
                        top_questions,
                        &mut deep,
                        &mut too_deep,
                        &mut diagnostics,
                        file,
                    );
                    if let Some(f) = stack.last_mut() {
                        f.marker = marker;
                    }
                    // A carriage return before the opening line's newline is masked
                    // like any other outside a heredoc's body.
                    for m in &mut masked[marker.1..body] {
                        if *m == b'\r' {
                            *m = b' ';
                        }
                    }
                    i = body;
                }
                None => i += 1,
            },
            b',' => {
                reset_questions(&mut stack, &mut top_questions);
                i += 1;
            }
            b'\n' => {
                let pending = stack.last().map_or(top_questions, |f| f.questions);
                if stack.last().is_some_and(|f| f.ctx.ignores_newlines())
                    || continues_conditional(&masked, i, pending)
                {
                    masked[i] = b' ';
                } else {
                    reset_questions(&mut stack, &mut top_questions);
                }
                i += 1;
            }
            b'\r' => {
                masked[i] = b' ';
                i += 1;
            }
            _ if is_bad_control(b) => {
                diagnostics.push(control_char(span(i, i + 1), b));
                masked[i] = b' ';
                i += 1;
            }
            _ => i += 1,
        }
    }

    // Delimiters around an unterminated heredoc are unclosed only because the heredoc
    // took the rest of the file; the heredoc's diagnostic is the one to read.
    let heredoc = stack.iter().position(|f| f.ctx == Ctx::Heredoc);
    for f in stack[heredoc.unwrap_or(0)..].iter().rev() {
        diagnostics.push(match f.ctx {
            Ctx::Str => unterminated_string(span(f.at, bytes.len())),
            Ctx::Heredoc => {
                let marker = &text[f.marker.0..f.marker.1];
                Diagnostic::error(Code::E0018, "unterminated heredoc", span(f.at, f.marker.1))
                    .with_label("this heredoc is never closed")
                    .with_detail(format!(
                        "A heredoc that starts with `{}` ends at the first line that starts with `{marker}`, and no line does.",
                        &text[f.at..f.marker.1]
                    ))
                    .with_help(format!("add a line holding only `{marker}` where the text should end"))
            }
            ctx => Diagnostic::error(
                Code::E0008,
                "unclosed delimiter",
                span(f.at, f.at + ctx.open().len()),
            )
            .with_label("opened here and never closed")
            .with_detail(format!(
                "This `{}` has no matching `{}` before the end of the file.",
                ctx.open(),
                ctx.close()
            ))
            .with_help(format!("add `{}` where it should end", ctx.close())),
        });
    }

    let masked = String::from_utf8(masked)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    Scan {
        masked,
        comments,
        diagnostics,
        too_deep,
    }
}

#[allow(clippy::too_many_arguments)]
fn push(
    stack: &mut Vec<Frame>,
    ctx: Ctx,
    at: usize,
    top_questions: usize,
    deep: &mut bool,
    too_deep: &mut Vec<usize>,
    diagnostics: &mut Vec<Diagnostic>,
    file: FileId,
) {
    let base = depth(stack, top_questions) + 1;
    stack.push(Frame {
        ctx,
        at,
        base,
        questions: 0,
        marker: (0, 0),
    });
    check_depth(base, at, deep, too_deep, diagnostics, file);
}

fn check_depth(
    depth: usize,
    at: usize,
    deep: &mut bool,
    too_deep: &mut Vec<usize>,
    diagnostics: &mut Vec<Diagnostic>,
    file: FileId,
) {
    if depth > MAX_NESTING && !*deep {
        *deep = true;
        too_deep.push(at);
        diagnostics.push(
            Diagnostic::error(Code::E0004, "nesting too deep", Span::new(file, at, at + 1))
                .with_label("this goes past the nesting limit")
                .with_detail(format!(
                    "Brackets, braces, parentheses, string interpolations and conditionals may nest at most {MAX_NESTING} levels deep."
                ))
                .with_help("move inner parts into `let` values"),
        );
    }
}

fn reset_questions(stack: &mut [Frame], top_questions: &mut usize) {
    match stack.last_mut() {
        Some(f) => f.questions = 0,
        None => *top_questions = 0,
    }
}

/// Whether the newline at `i` sits inside a conditional written over several lines:
/// the line before it ends with `?` (or with `:` while a `?` is pending), or the line
/// after it starts with `?` (or `:` while a `?` is pending). Such a newline is masked,
/// so `cond\n  ? a\n  : b` reads as one expression. Comments are already masked when
/// the line before is looked at; the line after is looked at for blanks only.
fn continues_conditional(masked: &[u8], i: usize, pending: usize) -> bool {
    let joins = |b: u8| b == b'?' || (b == b':' && pending > 0);
    let before = masked[..i]
        .iter()
        .rev()
        .find(|&&b| !matches!(b, b' ' | b'\t' | b'\r'));
    let after = masked[i + 1..]
        .iter()
        .find(|&&b| !matches!(b, b' ' | b'\t' | b'\r'));
    before.is_some_and(|&b| joins(b)) || after.is_some_and(|&b| joins(b))
}

/// Whether a heredoc starts at `i` (`<<EOT` or `<<-EOT`, then blanks and a newline):
/// the marker's byte range and the offset where the body starts.
fn heredoc_start(bytes: &[u8], i: usize) -> Option<((usize, usize), usize)> {
    let mut j = i + 2;
    if bytes.get(i + 1) != Some(&b'<') {
        return None;
    }
    if bytes.get(j) == Some(&b'-') {
        j += 1;
    }
    let start = j;
    if !bytes
        .get(j)
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return None;
    }
    while bytes
        .get(j)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        j += 1;
    }
    let end = j;
    while matches!(bytes.get(j), Some(b' ' | b'\t' | b'\r')) {
        j += 1;
    }
    (bytes.get(j) == Some(&b'\n')).then_some(((start, end), j + 1))
}

/// Whether the line starting at `i` ends the heredoc with `marker`: it starts, after
/// blanks, with the marker not followed by an identifier character. Returns the offset
/// just past the marker.
fn heredoc_end(text: &str, i: usize, marker: &str) -> Option<usize> {
    let line = &text[i..];
    let trimmed = line.trim_start_matches([' ', '\t']);
    let rest = trimmed.strip_prefix(marker)?;
    if rest
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    Some(i + (line.len() - rest.len()))
}

/// Records the line comment at `i` and masks it; returns the offset of the newline.
fn line_comment(
    text: &str,
    masked: &mut [u8],
    comments: &mut Vec<Comment>,
    file: FileId,
    i: usize,
) -> usize {
    let end = text[i..].find('\n').map_or(text.len(), |rel| i + rel);
    let body_end = if end > i && text.as_bytes()[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    comments.push(Comment {
        text: text[i..body_end].to_string(),
        span: Span::new(file, i, body_end),
    });
    masked[i..end].fill(b' ');
    end
}

const fn is_bad_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r') || b == 0x7f
}

/// Bytes the scanner acts on outside strings: comment starts, quotes, delimiters, `?`,
/// `,`, `<` (heredocs), line ends and control characters.
static CODE_SPECIAL: [bool; 256] = special_bytes(b"#/\"{[(}])?,<\n\r");

/// Bytes the scanner acts on inside a heredoc's body: `$`, line ends and control
/// characters.
static HEREDOC_SPECIAL: [bool; 256] = special_bytes(b"$\n");

/// Bytes the scanner acts on inside strings: the closing quote, escapes, `$`, line
/// ends and control characters.
static STRING_SPECIAL: [bool; 256] = special_bytes(b"\"\\$\n\r");

const fn special_bytes(list: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_bad_control(b as u8);
        b += 1;
    }
    let mut i = 0;
    while i < list.len() {
        table[list[i] as usize] = true;
        i += 1;
    }
    table
}

fn unterminated_string(span: Span) -> Diagnostic {
    Diagnostic::error(Code::E0002, "unterminated string", span)
        .with_label("this string is never closed")
        .with_detail("A string must end with `\"` on the line where it starts.")
        .with_help(
            "add the closing `\"`; write a line break inside a string as `\\n`, or write text over several lines as a heredoc (`<<EOT`)",
        )
}

fn control_char(span: Span, b: u8) -> Diagnostic {
    Diagnostic::error(Code::E0011, "invalid character", span)
        .with_label("control character")
        .with_detail(format!(
            "The byte 0x{b:02X} is a control character, which may appear only inside comments."
        ))
        .with_help("remove it; inside a string write `\\t`, `\\n`, `\\r` or `\\u{…}` instead")
}
