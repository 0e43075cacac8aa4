//! The parser: `.gig` text → [`ast::File`] plus every syntax diagnostic found.
//!
//! Parsing never fails: [`parse_file`] always returns a file, holding every item that
//! parsed, together with the diagnostics for the rest. It works in three steps.
//!
//! 1. The scanner (`parse/scan.rs`) makes one linear pass that collects comments,
//!    reports problems a grammar explains badly (unterminated strings and block
//!    comments, unclosed or mismatched delimiters, control characters, nesting deeper
//!    than [`MAX_NESTING`]), and builds a *masked* copy of the text of the same length
//!    in which comments and insignificant newlines are spaces.
//! 2. The masked text is parsed one top-level item at a time. A hand-written parser
//!    (`parse/fast.rs`) reads the grammar's well-formed items straight into [`ast`]
//!    nodes; it declines anything it is not sure to read exactly as pest would, and
//!    any item it declines is parsed by pest (`grammar.pest`), the definition of the
//!    language. When pest fails too, its error is translated into words
//!    (`parse/errors.rs`), and parsing resumes at the next line that starts with a
//!    top-level keyword. Errors in an item that overlaps a scanner diagnostic are
//!    dropped: the scanner's account of the problem is the useful one. Neither parser
//!    sees text past a point where nesting went too deep, so recursion stays bounded.
//! 3. The pest pairs of each item become [`ast`] nodes (`parse/convert.rs`), which
//!    checks what the grammar matches loosely: escapes, numbers, param types, output
//!    and module forms, and that no expression is deeper than [`MAX_EXPR_DEPTH`].
//!
//! The hand-written parser exists for speed: pest's backtracking and pairs made it
//! about ten times slower on large stacks (see docs/performance.md). Both give the
//! same tree for every item the fast one accepts; [`parse_file_reference`] parses
//! with pest alone so tests and the `parse_fast` fuzz target can check that.
//!
//! pest types never leave this module.

mod convert;
mod errors;
mod fast;
mod grammar;
mod scan;
#[cfg(test)]
mod tests;

use crate::ast;
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::{FileId, Span};

/// Deepest nesting of brackets, braces, parentheses, string interpolations and
/// conditionals the parser accepts (diagnostic E0004).
pub const MAX_NESTING: usize = 128;

/// Deepest expression tree the parser builds (diagnostic E0004). Every recursive walk
/// over an [`ast::Expr`] can rely on this bound.
pub const MAX_EXPR_DEPTH: usize = 256;

/// After this many diagnostics in one file the parser stops (diagnostic E0017).
pub const MAX_ERRORS: usize = 100;

/// The keywords that start a top-level item; parsing resumes at a line starting with
/// one of them after an error.
const ITEM_KEYWORDS: [&str; 8] = [
    "param", "let", "provider", "stack", "resource", "data", "module", "output",
];

/// Parses one source file. Always returns a file (holding the items that parsed) and
/// every diagnostic found, sorted by position.
pub fn parse_file(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    parse_with(file, text, Engine::Fast)
}

/// Total size of text below which [`parse_files`] parses on the calling thread alone:
/// smaller stacks parse in a few milliseconds, less than starting threads would save.
pub const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// Parses several files, each as [`parse_file`] would, and returns the results in the
/// order given. When the files hold at least [`PARALLEL_MIN_BYTES`] of text they are
/// shared out among as many threads as the machine has cores (the calling thread one of
/// them), each taking the next unparsed file; files are independent, so the results
/// are the same either way.
pub fn parse_files(files: &[(FileId, &str)]) -> Vec<(ast::File, Vec<Diagnostic>)> {
    let total: usize = files.iter().map(|(_, text)| text.len()).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(files.len());
    if threads < 2 || total < PARALLEL_MIN_BYTES {
        return files
            .iter()
            .map(|&(file, text)| parse_file(file, text))
            .collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&(file, text)) = files.get(i) else {
                return done;
            };
            done.push((i, parse_file(file, text)));
        }
    };
    let mut parsed: Vec<(usize, (ast::File, Vec<Diagnostic>))> = std::thread::scope(|scope| {
        // Threads get the stack of a main thread: the parser's recursion is bounded by
        // MAX_NESTING but deep in a debug build.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let mut parsed = work();
        for helper in helpers {
            match helper.join() {
                Ok(more) => parsed.extend(more),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        parsed
    });
    parsed.sort_by_key(|(i, _)| *i);
    parsed.into_iter().map(|(_, result)| result).collect()
}

/// [`parse_file`] with pest alone, without the hand-written parser: the same result,
/// more slowly. For tests and fuzzing that check the two parsers agree.
pub fn parse_file_reference(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    parse_with(file, text, Engine::PestOnly)
}

/// Which parsers read the items.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// The hand-written parser first, pest for the items it declines.
    Fast,
    /// pest for every item.
    PestOnly,
}

fn parse_with(file: FileId, text: &str, engine: Engine) -> (ast::File, Vec<Diagnostic>) {
    let mut out = ast::File {
        items: Vec::new(),
        comments: Vec::new(),
        span: Span::new(file, 0, text.len()),
    };
    if text.len() > crate::source::MAX_SOURCE_BYTES {
        out.span = Span::new(file, 0, 0);
        return (
            out,
            vec![crate::source::too_large(
                Span::new(file, 0, 0),
                text.len() as u64,
            )],
        );
    }
    let scan = scan::scan(file, text);
    let mut diags = scan.diagnostics;
    // Offsets of scanner diagnostics that explain pest failures around them.
    let structural: Vec<usize> = diags.iter().map(|d| d.span.start as usize).collect();
    let masked = scan.masked.as_str();
    out.comments = scan.comments;

    let mut scratch = fast::Scratch::default();
    let mut pos = 0;
    loop {
        pos = skip_blank(masked, pos);
        if pos >= masked.len() {
            break;
        }
        if diags.len() >= MAX_ERRORS {
            diags.push(
                Diagnostic::error(Code::E0017, "too many syntax errors", Span::new(file, pos, pos))
                    .with_label("parsing stopped here")
                    .with_detail(format!(
                        "The parser stopped after {MAX_ERRORS} errors in this file; the rest of the file was not checked."
                    ))
                    .with_help("fix the errors above and run gig again"),
            );
            break;
        }
        // pest never sees text where nesting went too deep, unless it starts there.
        let cut = scan
            .too_deep
            .iter()
            .copied()
            .find(|&d| d >= pos)
            .unwrap_or(masked.len());
        if engine == Engine::Fast {
            if let Some((item, end)) = fast::parse_item(file, pos, &masked[pos..cut], &mut scratch)
            {
                out.items.push(item);
                pos += end;
                continue;
            }
        }
        match grammar::parse_item(&masked[pos..cut]) {
            Ok(pair) => {
                let end = pos + pair.as_span().end();
                let mut conv = convert::Converter::new(file, pos, &mut diags);
                if let Some(item) = conv.item(pair) {
                    out.items.push(item);
                }
                pos = end;
            }
            Err(err) => {
                let resume = next_item_line(text, masked, pos);
                let (diag, at) = errors::translate(file, pos, masked, &err);
                // A scanner diagnostic between the item's start and where pest gave up
                // explains the failure better than pest can.
                let explained = structural.iter().any(|&s| s >= pos && s <= at);
                if !explained {
                    diags.push(diag);
                }
                pos = resume;
            }
        }
    }

    out.items.shrink_to_fit();
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    (out, diags)
}

/// Skips spaces, tabs and newlines.
fn skip_blank(masked: &str, mut pos: usize) -> usize {
    let bytes = masked.as_bytes();
    while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b'\n') {
        pos += 1;
    }
    pos
}

/// The start of the first line after the one holding `pos` that begins (after
/// indentation) with an item keyword followed by a name; the end of the text if none.
/// Lines are found in the original text, since the masked text hides newlines inside
/// brackets; keywords are checked in the masked text, which hides comments.
fn next_item_line(text: &str, masked: &str, pos: usize) -> usize {
    let mut line_start = match text[pos..].find('\n') {
        Some(rel) => pos + rel + 1,
        None => return text.len(),
    };
    loop {
        if starts_item(&masked[line_start..]) {
            return line_start;
        }
        match text[line_start..].find('\n') {
            Some(rel) => line_start += rel + 1,
            None => return text.len(),
        }
    }
}

fn starts_item(line: &str) -> bool {
    let line = line.trim_start_matches([' ', '\t']);
    ITEM_KEYWORDS.iter().any(|kw| {
        line.strip_prefix(kw).is_some_and(|rest| {
            let name = rest.trim_start_matches([' ', '\t']);
            name.len() < rest.len()
                && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        })
    })
}
