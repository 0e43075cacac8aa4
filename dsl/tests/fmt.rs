//! Formatter tests: expected output per case, idempotence, and that formatting keeps
//! the meaning (the same tree) and every comment.
//!
//! Each `tests/data/fmt/<case>.gig` is formatted and compared with
//! `tests/data/fmt/<case>.expected.gig`. To accept new output after a deliberate
//! change, run `UPDATE_EXPECT=1 cargo test -p gig-dsl --test fmt` and review the diff.
//! Idempotence and meaning are checked over every `.gig` file under `dsl/tests/data`
//! and `stacks/` that parses.

use std::path::{Path, PathBuf};

use expect_test::expect_file;
use gig_core::diag::Code;
use gig_core::span::FileId;
use gig_dsl::fmt::{format_source, WIDTH};
use gig_dsl::fuzz::files_below;
use gig_dsl::parse::{parse_file, MAX_NESTING};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.gig` file below `dir`, in path order.
fn gig_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let files = files_below(dir).into_iter();
    out.extend(files.filter(|p| p.extension().is_some_and(|e| e == "gig")));
}

/// The debug form of a parsed file with every span removed, for comparing meaning.
fn shape(text: &str) -> String {
    let (file, diags) = parse_file(FileId(0), text);
    assert!(diags.is_empty(), "does not parse: {diags:?}\n{text}");
    let debug = format!("{:?}", file.items);
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(i) = rest.find("Span {") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').map_or(rest.len(), |j| i + j + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn comment_texts(text: &str) -> Vec<String> {
    let (file, _) = parse_file(FileId(0), text);
    let mut texts: Vec<String> = file.comments.into_iter().map(|c| c.text).collect();
    texts.sort();
    texts
}

fn format(text: &str) -> String {
    match format_source(FileId(0), text) {
        Ok(s) => s,
        Err(diags) => panic!(
            "format failed: {:?}",
            diags.iter().map(|d| d.code).collect::<Vec<_>>()
        ),
    }
}

#[test]
fn cases_match_expected_output() {
    let dir = manifest_dir().join("tests/data/fmt");
    let mut cases = Vec::new();
    gig_files(&dir, &mut cases);
    cases.retain(|p| !p.to_string_lossy().ends_with(".expected.gig"));
    assert!(cases.len() >= 8, "only {} formatter cases", cases.len());
    for case in cases {
        let input = std::fs::read_to_string(&case).expect("read case");
        expect_file![case.with_extension("expected.gig")].assert_eq(&format(&input));
    }
}

#[test]
fn formatting_is_idempotent_and_keeps_meaning_and_comments() {
    let mut files = Vec::new();
    gig_files(&manifest_dir().join("tests/data"), &mut files);
    gig_files(&manifest_dir().join("../stacks"), &mut files);
    let mut checked = 0;
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(once) = format_source(FileId(0), &text) else {
            continue;
        };
        let twice = format(&once);
        assert_eq!(twice, once, "not idempotent: {}", path.display());
        assert_eq!(
            shape(&once),
            shape(&text),
            "meaning changed: {}",
            path.display()
        );
        assert_eq!(
            comment_texts(&once),
            comment_texts(&text),
            "comments changed: {}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} files checked");
}

#[test]
fn crlf_input_formats_like_lf() {
    let lf =
        std::fs::read_to_string(manifest_dir().join("tests/data/fmt/comments.gig")).expect("read");
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(format(&crlf), format(&lf));
}

#[test]
fn sources_that_do_not_parse_are_errors() {
    let diags = format_source(FileId(0), "let a = [1, 2").expect_err("must not format");
    assert_eq!(
        diags.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::E0008]
    );
    let diags = format_source(FileId(0), "let a 1").expect_err("must not format");
    assert_eq!(
        diags.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::E0001]
    );
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(format(""), "");
    assert_eq!(format("\n\n  \n"), "");
    assert_eq!(format("# a\n\n\n\n# b"), "# a\n\n# b\n");
    assert_eq!(format("let a = 1"), "let a = 1\n");
}

#[test]
fn long_lines_break_and_short_ones_stay() {
    let items: Vec<String> = (0..20).map(|i| format!("\"subnet-{i:04}\"")).collect();
    let text = format!("let ids = [{}]\n", items.join(", "));
    let out = format(&text);
    assert!(out.lines().all(|l| l.chars().count() <= WIDTH), "{out}");
    assert_eq!(out.lines().count(), 22, "{out}");
    assert!(out.contains("  \"subnet-0019\",\n]"), "{out}");
    assert_eq!(
        format("let ids = [\"a\", \"b\"]\n"),
        "let ids = [\"a\", \"b\"]\n"
    );
}

#[test]
fn deep_nesting_formats_on_a_small_stack() {
    let text = format!(
        "let a = {}1{}\nlet b = {}1\n",
        "[".repeat(MAX_NESTING - 1),
        "]".repeat(MAX_NESTING - 1),
        "1 + ".repeat(200)
    );
    let out = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let once = format(&text);
            let twice = format(&once);
            (once, twice)
        })
        .expect("spawn")
        .join()
        .expect("no panic");
    assert_eq!(out.0, out.1);
}
