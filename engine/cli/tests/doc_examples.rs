//! Every ```gig code block in docs/ (except docs/diagnostics/, whose examples are wrong on
//! purpose) is checked: it parses without a diagnostic, and each
//! `resource` and `data` block in it uses only types the providers have and attributes
//! (and nested blocks) their schemas declare — so a doc example cannot show an attribute
//! gig would reject. Blocks are fragments (they may refer to params or resources defined
//! elsewhere), so references are not resolved; the meta-arguments every resource takes
//! (`count`, `depends_on`, `lifecycle`, `provider`, `timeouts` where declared) are allowed.

use std::path::{Path, PathBuf};

use gig_core::span::SourceMap;
use gig_dsl::ast::{BodyEntry, Item, ResourceKind};
use gig_dsl::parse::parse_file;
use gig_provider::Registry;

const META: &[&str] = &["count", "depends_on", "lifecycle", "provider"];

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("docs directory")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() && !p.ends_with("diagnostics") {
            markdown_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "md") {
            out.push(p);
        }
    }
}

/// The ```gig blocks of `text`, with the line each starts on.
fn gig_blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim_start() == "```gig" => current = Some((n + 2, String::new())),
            Some(_) if line.trim_start() == "```" => out.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    out
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(std::sync::Arc::new(gig_provider_aws::AwsFactory::new()));
    r.register(std::sync::Arc::new(
        gig_provider_random::RandomFactory::new(),
    ));
    r
}

#[test]
fn every_gig_example_in_the_docs_parses_and_uses_real_attributes() {
    let registry = registry();
    let mut files = Vec::new();
    markdown_files(&docs(), &mut files);
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a doc");
        let name = file
            .strip_prefix(docs())
            .unwrap_or(file)
            .display()
            .to_string();
        for (line, block) in gig_blocks(&text) {
            checked += 1;
            let mut sources = SourceMap::new();
            let id = sources.add(format!("{name}:{line}"), block.clone());
            let (ast, diags) = parse_file(id, &block);
            for d in &diags {
                problems.push(format!("{name}:{line}: gig::{} {}", d.code, d.summary));
            }
            for item in &ast.items {
                let Item::Resource(r) = item else { continue };
                let rtype = r.type_name();
                let data = r.kind == ResourceKind::Data;
                let Some(schema) = registry.resource_schema(&rtype, data) else {
                    problems.push(format!("{name}:{line}: no type {rtype}"));
                    continue;
                };
                for entry in &r.body.entries {
                    let key = match entry {
                        BodyEntry::Attribute(a) => &a.name.name,
                        BodyEntry::Block(b) => &b.name.name,
                    };
                    if !schema.attributes.contains_key(key) && !META.contains(&key.as_str()) {
                        problems.push(format!("{name}:{line}: {rtype} has no attribute `{key}`"));
                    }
                }
            }
        }
    }
    assert!(checked > 30, "found only {checked} examples");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
