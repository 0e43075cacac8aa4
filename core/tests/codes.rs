//! The diagnostic code registry held together with its docs and with the sources.
//!
//! Both ways: every registered code has `docs/diagnostics/<code>.md` whose first line is
//! `# <code>: <title>`, and every page there is a registered code. The index
//! `docs/diagnostics/README.md` lists every code with its title between two markers;
//! `UPDATE_EXPECT=1 cargo test -p gig-core --test codes` rewrites that list. Finally, no
//! product source spells a code as a string literal: codes are written `Code::E0101`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gig_core::diag::Code;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ has a parent")
        .to_path_buf()
}

fn docs_dir() -> PathBuf {
    repo().join("docs/diagnostics")
}

/// Whether `s` is the form of a code: `E` and four digits.
fn looks_like_code(s: &str) -> bool {
    s.len() == 5 && s.starts_with('E') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn codes_are_well_formed_unique_and_sorted() {
    assert!(Code::ALL.len() > 90, "only {} codes", Code::ALL.len());
    let mut problems = Vec::new();
    for pair in Code::ALL.windows(2) {
        if pair[0].as_str() >= pair[1].as_str() {
            problems.push(format!("{} is not before {}", pair[0], pair[1]));
        }
        if pair[0] >= pair[1] {
            problems.push(format!("{:?} does not order before {:?}", pair[0], pair[1]));
        }
    }
    for code in Code::ALL {
        if !looks_like_code(code.as_str()) {
            problems.push(format!("{code} is not `E` and four digits"));
        }
        if code.title().is_empty() || code.title().ends_with('.') {
            problems.push(format!("{code} needs a short title without a full stop"));
        }
        if code.as_str().parse::<Code>() != Ok(*code) {
            problems.push(format!("{code} does not parse back"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_code_has_a_page_headed_with_its_title() {
    let mut problems = Vec::new();
    for code in Code::ALL {
        let path = repo().join(code.docs_path());
        let Ok(text) = std::fs::read_to_string(&path) else {
            problems.push(format!("{code} has no {}", code.docs_path()));
            continue;
        };
        let heading = text.lines().next().unwrap_or_default();
        let want = format!("# {code}: {}", code.title());
        if heading != want {
            problems.push(format!(
                "{}: first line is {heading:?}, expected {want:?}",
                code.docs_path()
            ));
        }
        for section in ["## Example", "## Fix"] {
            if !text.lines().any(|l| l == section) {
                problems.push(format!("{} has no `{section}` section", code.docs_path()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_page_is_a_registered_code() {
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(docs_dir()).expect("read docs/diagnostics") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "README.md" {
            continue;
        }
        match name.strip_suffix(".md").map(str::parse::<Code>) {
            Some(Ok(_)) => {}
            _ => problems.push(format!("docs/diagnostics/{name} is not a registered code")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

const INDEX_START: &str = "<!-- codes: generated from the registry by core/tests/codes.rs -->";
const INDEX_END: &str = "<!-- /codes -->";

/// The index table: one row per code with a link to its page.
fn index_table() -> String {
    let mut out = String::from("| Code | Title |\n|---|---|\n");
    for code in Code::ALL {
        let _ = writeln!(out, "| [{code}]({code}.md) | {} |", code.title());
    }
    out
}

#[test]
fn the_index_lists_every_code() {
    let path = docs_dir().join("README.md");
    let text = std::fs::read_to_string(&path).expect("read docs/diagnostics/README.md");
    let (Some(start), Some(end)) = (text.find(INDEX_START), text.find(INDEX_END)) else {
        panic!("docs/diagnostics/README.md lacks the markers {INDEX_START} and {INDEX_END}");
    };
    let body_start = start + INDEX_START.len() + 1;
    let current = format!("{}{}{}", &text[..body_start], index_table(), &text[end..]);
    expect_test::expect_file![path].assert_eq(&current);
}

/// The source directories of product crates.
const CRATE_DIRS: &[&str] = &["core", "dsl", "engine", "providers", "state"];

/// Every `.rs` file under `dir`, skipping `tests` directories and build output.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "tests" | "target") && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

/// The product part of a source file: everything before its first `#[cfg(test)]` line
/// (gig keeps unit tests at the end of a file).
fn product_part(text: &str) -> &str {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == "#[cfg(test)]" {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

/// `"E0…` literals in `text`: a quote, `E`, then digits.
fn code_literals(text: &str) -> BTreeSet<String> {
    text.match_indices("\"E")
        .map(|(i, _)| {
            let digits: String = text[i + 2..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            format!("E{digits}")
        })
        .filter(|s| s.len() > 1)
        .collect()
}

#[test]
fn the_scan_finds_a_code_literal_outside_tests_only() {
    let src = "fn f() -> Diagnostic { Diagnostic::error(\"E0101\", \"x\", s) }\n\
               #[cfg(test)]\nmod tests { fn g() { assert_eq!(c, \"E0102\"); } }\n";
    let literals = code_literals(product_part(src));
    assert_eq!(literals, BTreeSet::from(["E0101".to_string()]));
    assert!(code_literals("\"Every\" \"E\" \"Eu-west\"").is_empty());
}

#[test]
fn product_code_writes_codes_from_the_registry() {
    let mut files = Vec::new();
    for dir in CRATE_DIRS {
        rust_files(&repo().join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        for code in code_literals(product_part(&text)) {
            let shown = file
                .strip_prefix(repo())
                .unwrap_or(&file)
                .display()
                .to_string();
            problems.push(format!("{shown}: \"{code}\"; write Code::{code} instead"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
