//! The properties the fuzz targets check, one function per target, so that the same
//! checks run under libFuzzer (`dsl/fuzz/`, nightly) and, for a fixed budget of
//! generated inputs, in the ordinary test suite (`dsl/tests/fuzz_budget.rs`).
//!
//! Each function takes arbitrary bytes. Bad input is never a reason to panic: a
//! function panics only when a property of gig's front end is broken (a parser panics,
//! the two parsers disagree, formatted text is not stable), which is how a fuzzer
//! learns that it found something. The deterministic generator and the grammar pieces
//! used to mutate inputs live here too, shared by the budgeted test and the parser's
//! agreement tests.

use std::path::{Path, PathBuf};

use gig_core::span::{FileId, SourceMap};

use crate::fmt::format_source;
use crate::load::{load_str, LoadOptions};
use crate::parse::{parse_file, parse_file_reference};
use crate::source::source_from_bytes;

/// The scanner, parser and formatter on arbitrary bytes: nothing panics, and whatever
/// formats must format again to the same text (idempotence), so it must still parse.
pub fn parse(data: &[u8]) {
    let mut sources = SourceMap::new();
    let _ = source_from_bytes(&mut sources, Path::new("fuzz.gig"), data.to_vec());
    let text = String::from_utf8_lossy(data);
    let _ = parse_file(FileId(0), &text);
    if let Ok(once) = format_source(FileId(0), &text) {
        match format_source(FileId(0), &once) {
            Ok(twice) => assert_eq!(once, twice, "formatting is not idempotent"),
            Err(diags) => panic!("formatted output does not parse: {diags:?}\n{once}"),
        }
    }
}

/// The hand-written parser against pest on arbitrary bytes: [`parse_file`] (the
/// hand-written parser first, pest for what it declines) and [`parse_file_reference`]
/// (pest alone) must return the same file and the same diagnostics.
pub fn parse_fast(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let fast = parse_file(FileId(0), &text);
    let reference = parse_file_reference(FileId(0), &text);
    assert!(fast == reference, "the parsers disagree on {text:?}");
}

/// Parsing and lowering of one in-memory file on arbitrary bytes: nothing panics or
/// overflows the stack.
pub fn parse_lower(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = load_str("fuzz.gig", &text, &LoadOptions::default());
}

/// Every file below `dir`, depth first in path order; none where `dir` cannot be read.
/// The test corpora are read with it, so inputs come in the same order everywhere.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    paths
        .into_iter()
        .flat_map(|path| {
            if path.is_dir() {
                files_below(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// A small deterministic generator (xorshift64*): the same seed gives the same inputs
/// on every run and every machine.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Pieces inserted by mutation: tokens, separators and keywords of the grammar.
pub const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "${",
    "$${",
    "\\",
    "\\u{41}",
    ",",
    "\n",
    " ",
    "=",
    "==",
    "=>",
    "?",
    ":",
    ".",
    "!",
    "-",
    "+",
    "*",
    "<=",
    "&&",
    "for ",
    " in ",
    " if ",
    "true",
    "null",
    "1.5e3",
    "0x1",
    "x",
    "_a9",
    "#",
    "//",
    "/*",
    "*/",
    "resource ",
    "let ",
    "param ",
    "output ",
    "module ",
    "data ",
    "provider ",
    "é",
    "\t",
    "\r",
];
