//! SARIF 2.1.0 output of policy findings, for code-scanning upload.

use std::collections::BTreeMap;

use gig_core::diag::{Code, Diagnostic, Severity};
use gig_core::span::SourceMap;
use serde_json::{json, Value as J};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Advice => "note",
    }
}

fn result(d: &Diagnostic, sources: &SourceMap, suppression: Option<&str>) -> J {
    let (file, start, end) = match sources.get(d.span.file) {
        Some(f) => (
            f.path.display().to_string(),
            sources.line_col(d.span.file, d.span.start),
            sources.line_col(d.span.file, d.span.end),
        ),
        None => (String::new(), (1, 1), (1, 1)),
    };
    let mut r = json!({
        "ruleId": format!("gig::{}", d.code),
        "level": level(d.severity),
        "message": { "text": if d.detail.is_empty() { d.summary.clone() } else { d.detail.clone() } },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": file },
                "region": {
                    "startLine": start.0, "startColumn": start.1,
                    "endLine": end.0, "endColumn": end.1,
                }
            }
        }],
    });
    if let Some(reason) = suppression {
        r["suppressions"] = json!([{ "kind": "inSource", "justification": reason }]);
    }
    r
}

/// A SARIF log with one run: the rules seen and every finding (accepted ones carry an
/// in-source suppression with their reason).
pub fn log(findings: &[Diagnostic], accepted: &[(Diagnostic, String)], sources: &SourceMap) -> J {
    let mut rules: BTreeMap<Code, &str> = BTreeMap::new();
    for d in findings.iter().chain(accepted.iter().map(|(d, _)| d)) {
        rules.insert(d.code, &d.summary);
    }
    let rules: Vec<J> = rules
        .into_iter()
        .map(|(code, summary)| {
            json!({
                "id": format!("gig::{code}"),
                "shortDescription": { "text": summary },
                "help": { "text": format!("See {} in the gig repository.", code.docs_path()) },
            })
        })
        .collect();
    let mut results: Vec<J> = findings.iter().map(|d| result(d, sources, None)).collect();
    results.extend(
        accepted
            .iter()
            .map(|(d, reason)| result(d, sources, Some(reason))),
    );
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "gig", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }]
    })
}
