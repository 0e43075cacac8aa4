//! Data-driven policy tests: each `tests/policy/<case>.gig` states the findings it must
//! produce in leading `// expect: E0501 12:5` lines (code, 1-based line:column of the
//! finding's span); a case with no expect line must pass clean.

use std::path::Path;

use gig_dsl::load::{load_str, LoadOptions};

fn expectations(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("// expect:"))
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn policy_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/policy")
        .flatten()
        .map(|e| e.path())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 8,
        "expected the policy corpus, found {} files",
        cases.len()
    );
    let mut failures = Vec::new();
    for path in cases {
        let text = std::fs::read_to_string(&path).expect("readable case");
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let loaded = load_str(&name, &text, &LoadOptions::default());
        let Some(mut config) = loaded.config else {
            failures.push(format!("{name}: does not lower: {:?}", loaded.diagnostics));
            continue;
        };
        // `// env: NAME` runs the case as that environment (production rules).
        if let Some(env) = text.lines().find_map(|l| l.strip_prefix("// env: ")) {
            config.env = Some(env.trim().to_string());
        }
        let report = gig_engine::policy::check(&config, &loaded.sources);
        let mut got: Vec<String> = report
            .findings
            .iter()
            .map(|d| {
                let (line, col) = loaded.sources.line_col(d.span.file, d.span.start);
                format!("{} {line}:{col}", d.code)
            })
            .collect();
        got.sort();
        let mut want = expectations(&text);
        want.sort();
        if got != want {
            failures.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
        for (finding, reason) in &report.accepted {
            assert!(
                !reason.is_empty(),
                "{name}: {} accepted without a reason",
                finding.code
            );
        }
    }
    assert!(
        failures.is_empty(),
        "policy cases failed:\n{}",
        failures.join("\n")
    );
}
