//! The hand-written parser against pest: both must give the same file and diagnostics.
//!
//! Inputs are every file of the test corpus (`tests/data`), the reference stack, the
//! fuzz corpus when one exists locally, a list of corner cases of the grammar, and
//! thousands of variants of all these made by deterministic random edits (deleting,
//! repeating and inserting tokens), which reach the fast parser's decline paths.

use std::path::{Path, PathBuf};

use super::{parse_file, parse_file_reference};
use crate::fuzz::{Rng, PIECES};
use gig_core::span::FileId;

/// Corner cases where a PEG choice, a separator or a span could go either way.
const CASES: &[&str] = &[
    "module m from \"./m\" for k, v in { a = 1 } {\n  x = v\n}",
    "module m from \"./m\" for x in [\"a\"] {}",
    "module m from \"./m\" for {}",
    "module m from \"./m\" for x in {}",
    "moved {\n  from = aws.a.b\n  to = aws.a.c[\"k\"]\n}",
    "moved { from = module.m.aws.a.b, to = aws.a.b }",
    "moved = 1",
    "moved",
    "moved {",
    "import {\n  to = aws.a.b\n  id = \"x-${y}\"\n}",
    "import { to = aws.a.b[0] id = 1 }",
    "import = 2",
    "import{}",
    "import for k, v in { a = \"x\" } {\n  to = aws.a.b[k]\n  id = v\n}",
    "import for x in xs {}",
    "import for {}",
    "import for = 1",
    "let a = 1",
    "let a = -1.5e3 + 2 * 3 % 4 - -x",
    "let a = !b && c || d == e != f < g <= h > i >= j",
    "let a = b ? c : d ? e : f",
    "let a = (b ? c : d) ? e : f",
    "let a = x.y.z[0][\"k\"].w",
    "let a = x . y [ 0 ] . z",
    "let a = 1.foo",
    "let a = 1 .5",
    "let a = 1.5.3",
    "let a = 0x1F",
    "let a = 1_000",
    "let a = 10gb",
    "let a = 1e",
    "let a = 1e+",
    "let a = 1E-3",
    "let a = 1.5e+3x",
    "let a = 99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999e999",
    "let a = \"\"",
    "let a = \"plain\"",
    "let a = \"a${b}c${d.e}f\"",
    "let a = \"${ b }\"",
    "let a = \"$${b}\"",
    "let a = \"$$$${b}\"",
    "let a = \"$\"",
    "let a = \"$$\"",
    "let a = \"a$b\"",
    "let a = \"\\n\\t\\r\\\"\\\\\\$\"",
    "let a = \"\\u{41}\\u{1F600}\"",
    "let a = \"\\u{}\"",
    "let a = \"\\u{1234567}\"",
    "let a = \"\\u{D800}\"",
    "let a = \"\\u41\"",
    "let a = \"\\u{41\"",
    "let a = \"\\q\"",
    "let a = \"\\é\"",
    "let a = \"é${x}ü\"",
    "let a = \"${\"",
    "let a = \"${}\"",
    "let a = \"${\"${\"x\"}\"}\"",
    "let a = \"x\0y\"",
    "let a = \"unterminated",
    "let a = [for x in xs : x]",
    "let a = [for i, x in xs : x if i > 0]",
    "let a = [for x in c ? a : b : x]",
    "let a = [for x in xs : c ? a : b]",
    "let a = [for(x)]",
    "let a = [for]",
    "let a = [for x in xs : x if]",
    "let a = [ ]",
    "let a = [1, 2,]",
    "let a = [1,, 2]",
    "let a = [,]",
    "let a = [a [0]]",
    "let a = [\n  1,\n  2,\n]",
    "let a = {}",
    "let a = { }",
    "let a = {a = 1, b = 2}",
    "let a = {a = 1,}",
    "let a = {a = 1,, b = 2}",
    "let a = {\n  a = 1\n\n  b = 2\n}",
    "let a = {\n  a = 1,\n  b = 2,\n}",
    "let a = {\n  a = 1\n  ,b = 2\n}",
    "let a = { \"k\" = 1, (k) = 2, \"${k}\" = 3 }",
    "let a = { for = 1 }",
    "let a = { if = 1, in = 2, true = 3, null = 4 }",
    "let a = {for k, v in m : k => v}",
    "let a = {for k, v in m : k => v if v != null}",
    "let a = {\n  for k, v in m :\n  k\n  =>\n  v\n  if v\n}",
    "let a = {for k in m : k => k}",
    "let a = {for = 1}",
    "let a = {a == 1}",
    "let a = f()",
    "let a = f(1, 2,)",
    "let a = f (1)",
    "let a = f(,)",
    "let a = f(\n  1,\n  2\n)",
    "let a = for(1)",
    "let a = if(1)",
    "let a = in(1)",
    "let a = true(1)",
    "let a = null",
    "let a = nullable",
    "let a = form",
    "let a = for",
    "let a = in",
    "let a = trueish",
    "let a = true.x",
    "let a = (1)",
    "let a = ((((1))))",
    "let a = - - 1",
    "let a = !!x",
    "let a = !=x",
    "let a = a +",
    "let a = a + \n b",
    "let a = (a +\n b)",
    "let a = a =>",
    "let a = 1 2",
    "let a == 1",
    "let = 1",
    "let let = 1",
    "let a = 1 # comment\nlet b = 2 // comment\n/* block */ let c = 3",
    "let a = [1, # one\n 2 /* two */]",
    "let a = 1\r\nlet b = 2\r\n",
    "\u{feff}let a = 1",
    "let a = 1\u{1}",
    "a = 1",
    "true = 1",
    "param = 1",
    "data = 1",
    "resources = 1",
    "x == 1",
    "param a",
    "param a: string",
    "param a: list(string) = []",
    "param a: list",
    "param a: map(list(number))",
    "param a: list (string)",
    "param a: strin",
    "param a: string(number)",
    "param a: list(strin)",
    "param a = 1 { secret = true }",
    "param a { secret = true, description = \"x\" }",
    "param a { inner { x = 1 } }",
    "param a: string = \"x\" {\n  secret = true\n}",
    "param a = {a = 1}",
    "param a = b {secret = true}",
    "param a: = 1",
    "provider aws {\n  region = \"us-east-1\"\n}",
    "provider aws {}",
    "provider aws { region = \"x\" }",
    "resource aws.vpc main {\n  cidr_block = \"10.0.0.0/16\"\n  tags = { Name = \"x\" }\n}",
    "resource aws.vpc main {}",
    "resource aws.vpc.main {}",
    "resource aws . vpc main {}",
    "resource aws.vpc. main {}",
    "resource aws main {}",
    "resource a.b.c main {}",
    "resource aws.vpc for {}",
    "resource aws.vpc for for x in xs {}",
    "resource aws.subnet s for k, az in azs {\n  availability_zone = az\n}",
    "resource aws.subnet s for az in azs {}",
    "resource aws.subnet s for az in {a = 1} {}",
    "resource aws.subnet s for in in xs {}",
    "resource aws.subnet s for x, in xs {}",
    "resource aws.vpc main {\n  ingress {\n    port = 1\n  }\n  ingress { port = 2 }\n  lifecycle { prevent_destroy = true }\n}",
    "resource aws.vpc main { a = 1, b = 2 }",
    "resource aws.vpc main { a = 1 b = 2 }",
    "resource aws.vpc main {\n  a = 1,\n\n  b = 2\n}",
    "resource aws.vpc main {\n  a == 1\n}",
    "resource aws.vpc main {\n  a\n}",
    "resource aws.vpc main {\n  , a = 1\n}",
    "resource aws.vpc main {\n  a = 1,,\n}",
    "data aws.ami app {\n  most_recent = true\n}",
    "data aws.ami app for x in xs { a = x }",
    "module edge from \"./modules/alb\" {\n  vpc_id = aws.vpc.main.id\n}",
    "module edge from \"./mod${x}\" {}",
    "module edge from \"./m\\u{41}\" {}",
    "module edge from x {}",
    "module edge \"./m\" {}",
    "output a = 1",
    "output a { value = 1 }",
    "output a { value = 1, secret = true, description = \"d\" }",
    "output a { secret = true }",
    "output a { value = 1\n value = 2 }",
    "output a { value { x = 1 } }",
    "output a == 1",
    "output a",
    "let a = 1 }",
    "let a = 1 ]",
    "let a = (1",
    "let a = [1",
    "let a = {a = 1",
    "}",
    "",
    "\n\n\n",
    "let a = 1\n\n\nlet b = 2",
    "let a = 1 let b = 2",
    "let a = b\n(c)",
    "let a = b\n[0]",
    "let a = b\n.c",
    "let a = b ?\nc : d",
    "let a = (b ?\nc : d)",
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Every text file below `dir`.
fn files_below(dir: &Path, out: &mut Vec<String>) {
    for path in crate::fuzz::files_below(dir) {
        if let Ok(bytes) = std::fs::read(&path) {
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
}

/// Expressions around the depth and nesting limits, built from every kind of node.
fn deep_cases() -> Vec<String> {
    let mut out = Vec::new();
    for n in [120, 126, 127, 128, 129, 250, 253, 254, 255, 256, 257] {
        let chain = format!("x{}", ".a".repeat(n));
        out.push(format!("let a = {chain}"));
        out.push(format!("let a = c ? {chain} : d"));
        out.push(format!("let a = [{chain}]"));
        out.push(format!("let a = f({chain})"));
        out.push(format!("let a = -{chain}"));
        out.push(format!("let a = \"${{{chain}}}\""));
        out.push(format!("let a = {{ k = {chain} }}"));
        out.push(format!("let a = {{ (k) = {chain} }}"));
        out.push(format!("let a = [for x in {chain} : x]"));
        out.push(format!("let a = {{for k, v in m : k => {chain}}}"));
        out.push(format!("let a = x[{chain}]"));
        out.push(format!("let a = ({chain})"));
        out.push(format!("let a = {}x", "!".repeat(n)));
        out.push(format!("let a = {}x", "x + ".repeat(n)));
        out.push(format!("let a = {}x{}", "(".repeat(n), ")".repeat(n)));
        out.push(format!("let a = {}x{}", "[".repeat(n), "]".repeat(n)));
        out.push(format!("let a = {}x{}", "f(".repeat(n), ")".repeat(n)));
        out.push(format!("let a = {}x{}", "{k = ".repeat(n), "}".repeat(n)));
        out.push(format!("let a = {}x{}", "\"${".repeat(n), "}\"".repeat(n)));
        out.push(format!("let a = {}x", "c ? x : ".repeat(n)));
        out.push(format!("let a = {}x", "c ? x : ".repeat(n.min(120))) + &".a".repeat(n));
        out.push(format!("let a = x{}", "[0]".repeat(n)));
    }
    out
}

/// The corner cases, the test corpus and the reference stack.
fn inputs() -> Vec<String> {
    let mut out: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    files_below(&data_dir(), &mut out);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(repo) = root.parent() {
        files_below(&repo.join("stacks"), &mut out);
    }
    out
}

/// Asserts both parsers agree on `text`.
fn check(text: &str) {
    let fast = parse_file(FileId(3), text);
    let reference = parse_file_reference(FileId(3), text);
    assert!(
        fast == reference,
        "the parsers disagree on {text:?}:\nfast: {fast:#?}\npest: {reference:#?}"
    );
}

/// Applies one random edit to `text`, on character boundaries.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let a = bounds[rng.below(bounds.len())];
    let b = bounds[rng.below(bounds.len())];
    let (a, b) = (a.min(b), a.max(b));
    let b = a + (b - a).min(1 + rng.below(12));
    let b = bounds
        .iter()
        .copied()
        .find(|&x| x >= b)
        .unwrap_or(text.len());
    match rng.below(4) {
        0 => format!("{}{}", &text[..a], &text[b..]),
        1 => format!("{}{}{}", &text[..b], &text[a..b], &text[b..]),
        _ => format!(
            "{}{}{}",
            &text[..a],
            PIECES[rng.below(PIECES.len())],
            &text[a..]
        ),
    }
}

#[test]
fn fast_parser_agrees_with_pest_on_the_corpus() {
    let mut texts = inputs();
    texts.extend(deep_cases());
    // The fuzzer's corpus, when it has been run here (it is not committed).
    files_below(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus"),
        &mut texts,
    );
    for text in texts {
        check(&text);
    }
}

#[test]
fn fast_parser_agrees_with_pest_on_edited_inputs() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for text in inputs() {
        // Large inputs get fewer edits: each edit re-parses the whole text.
        let rounds = if text.len() > 20_000 { 3 } else { 40 };
        for _ in 0..rounds {
            let mut edited = mutate(&mut rng, &text);
            if rng.below(3) == 0 {
                edited = mutate(&mut rng, &edited);
            }
            check(&edited);
        }
    }
}

/// The fast parser must actually take the items of ordinary files, or it would be
/// checked against pest without ever being used.
#[test]
fn fast_parser_takes_every_item_of_the_valid_corpus() {
    let mut files = Vec::new();
    files_below(&data_dir().join("ok"), &mut files);
    files_below(&data_dir().join("fmt"), &mut files);
    assert!(!files.is_empty());
    let mut taken = 0;
    let mut scratch = super::fast::Scratch::default();
    for text in &files {
        let (reference, diags) = parse_file_reference(FileId(0), text);
        if !diags.is_empty() {
            continue;
        }
        let scan = super::scan::scan(FileId(0), text);
        for item in &reference.items {
            let start = item.span().start as usize;
            let got =
                super::fast::parse_item(FileId(0), start, &scan.masked[start..], &mut scratch);
            assert!(
                got.as_ref().is_some_and(|(i, _)| i == item),
                "the fast parser declined or misread {:?}",
                &text[start..item.span().end as usize]
            );
            taken += 1;
        }
    }
    assert!(taken > 100, "only {taken} items checked");
}
