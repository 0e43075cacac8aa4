//! Drift detection: what changed in the cloud behind gig's back.
//!
//! [`detect`] compares every resource's Refreshed value with its Prior value, attribute by
//! attribute, with the planner's comparison rules (sets without regard to order, maps by
//! key, absent = null = empty, only attributes a user can set) so that normalisation
//! and values the cloud computes never show as drift. It is pure: the refresh happens
//! before, and the check time and duration are passed in for the renderers.

// Pure: no clock, randomness, environment or I/O (clippy.toml lists what is denied).
#![deny(clippy::disallowed_methods, clippy::disallowed_macros)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use gig_dsl::config::Lifecycle;
use gig_provider::Registry;
use gig_state::Snapshot;
use serde::Serialize;

use crate::model::AttrChange;
use crate::render::show_change;

/// How a resource drifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Attributes differ from what gig recorded.
    Changed,
    /// The object no longer exists.
    Deleted,
}

/// One drifted resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceDrift {
    /// The resource.
    pub addr: ResourceAddr,
    /// Changed or deleted.
    pub kind: DriftKind,
    /// Attribute differences: before = Prior (recorded), after = Refreshed (cloud).
    pub attributes: Vec<AttrChange>,
}

/// The result of a drift check.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DriftReport {
    /// Stack name.
    pub stack: String,
    /// Environment name.
    pub env: String,
    /// Resources checked, by type.
    pub checked: BTreeMap<String, usize>,
    /// Drifted resources, sorted by address.
    pub drifted: Vec<ResourceDrift>,
}

impl DriftReport {
    /// Whether anything drifted.
    pub fn has_drift(&self) -> bool {
        !self.drifted.is_empty()
    }
}

/// Compares Refreshed with Prior for every resource in `prior`.
pub fn detect(
    stack: &str,
    env: &str,
    prior: &Snapshot,
    refreshed: &BTreeMap<ResourceAddr, Option<Value>>,
    registry: &Registry,
) -> DriftReport {
    let mut report = DriftReport {
        stack: stack.to_string(),
        env: env.to_string(),
        ..DriftReport::default()
    };
    let empty = BTreeMap::new();
    for (addr, record) in &prior.resources {
        *report.checked.entry(addr.rtype.clone()).or_default() += 1;
        let Some(now) = refreshed.get(addr) else {
            continue;
        };
        let Some(now) = now else {
            report.drifted.push(ResourceDrift {
                addr: addr.clone(),
                kind: DriftKind::Deleted,
                attributes: Vec::new(),
            });
            continue;
        };
        let schema = registry.resource_schema(&addr.rtype, false);
        let before = record.value.as_map().unwrap_or(&empty);
        let after = now.as_map().unwrap_or(&empty);
        let attributes = crate::plan::diff_top(before, after, schema, &Lifecycle::default());
        if !attributes.is_empty() {
            report.drifted.push(ResourceDrift {
                addr: addr.clone(),
                kind: DriftKind::Changed,
                attributes,
            });
        }
    }
    report
}

/// When and how long the check ran, for the renderers that show it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckTiming {
    /// Unix time of the check, seconds.
    pub timestamp: f64,
    /// Duration of refresh plus comparison, seconds.
    pub duration: f64,
}

/// One attribute difference: `+ path = v` for an added set element, `- path = v` for a
/// removed one, `path = before -> after` otherwise.
fn attr_line(c: &AttrChange) -> String {
    match show_change(c) {
        (None, Some(after)) => format!("+ {} = {after}", c.path),
        (Some(before), None) => format!("- {} = {before}", c.path),
        (before, after) => format!(
            "~ {} = {} -> {}",
            c.path,
            before.unwrap_or_else(|| "null".to_string()),
            after.unwrap_or_else(|| "null".to_string())
        ),
    }
}

/// Human-readable report, ending with advice on `gig apply`.
pub fn text(report: &DriftReport) -> String {
    text_with_advice(report, "`gig apply` brings them back to the configuration.")
}

/// Human-readable report whose summary line ends with `advice`.
pub fn text_with_advice(report: &DriftReport, advice: &str) -> String {
    let total: usize = report.checked.values().sum();
    if !report.has_drift() {
        return format!("No drift: {total} resources match the recorded state.\n");
    }
    let mut out = String::new();
    for d in &report.drifted {
        match d.kind {
            DriftKind::Deleted => {
                let _ = writeln!(out, "- {} was deleted outside gig", d.addr);
            }
            DriftKind::Changed => {
                let _ = writeln!(out, "~ {} changed outside gig", d.addr);
                for c in &d.attributes {
                    let _ = writeln!(out, "    {}", attr_line(c));
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\nDrift: {} of {total} resources differ from the recorded state. {advice}",
        report.drifted.len()
    );
    out
}

/// Machine-readable report (secrets redacted).
pub fn json(report: &DriftReport) -> serde_json::Value {
    let drifted: Vec<serde_json::Value> = report
        .drifted
        .iter()
        .map(|d| {
            let attributes: Vec<serde_json::Value> = d
                .attributes
                .iter()
                .map(|c| {
                    let redact = |v: &Option<Value>| match v {
                        Some(_) if c.secret => serde_json::Value::String(gig_core::value::REDACTED.to_string()),
                        Some(v) => v.to_json_redacted(),
                        None => serde_json::Value::Null,
                    };
                    serde_json::json!({ "path": c.path.to_string(), "recorded": redact(&c.before), "actual": redact(&c.after) })
                })
                .collect();
            serde_json::json!({
                "address": d.addr.to_string(),
                "type": d.addr.rtype,
                "kind": d.kind,
                "attributes": attributes,
            })
        })
        .collect();
    serde_json::json!({
        "format_version": 1,
        "stack": report.stack,
        "env": report.env,
        "drift": report.has_drift(),
        "checked": report.checked,
        "drifted": drifted,
    })
}

/// The longest markdown report [`markdown`] writes by default (GitHub's comment and issue
/// body limit is 65,536 characters).
pub const MARKDOWN_MAX_CHARS: usize = 65_000;

/// Markdown for an issue or chat message, at most `max_chars` long: past it, the
/// remaining resources are listed by address only, then cut with a note.
pub fn markdown(report: &DriftReport, max_chars: usize) -> String {
    let total: usize = report.checked.values().sum();
    let mut out = String::new();
    if !report.has_drift() {
        let _ = writeln!(
            out,
            "**No drift** in `{}` / `{}`: {total} resources match.",
            report.stack, report.env
        );
        return out;
    }
    let _ = writeln!(
        out,
        "**Drift** in `{}` / `{}`: {} of {total} resources changed outside gig.\n",
        report.stack,
        report.env,
        report.drifted.len()
    );
    // Deleted resources first: they are the most urgent.
    let mut ordered: Vec<&ResourceDrift> = report.drifted.iter().collect();
    ordered.sort_by_key(|d| (d.kind != DriftKind::Deleted, d.addr.clone()));
    const NOTE_RESERVE: usize = 200;
    for (i, d) in ordered.iter().enumerate() {
        let mut block = String::new();
        match d.kind {
            DriftKind::Deleted => {
                let _ = writeln!(block, "- `{}` — **deleted**", d.addr);
            }
            DriftKind::Changed => {
                let _ = writeln!(block, "<details><summary><code>{}</code> — {} attribute(s) changed</summary>\n\n```diff", d.addr, d.attributes.len());
                for c in &d.attributes {
                    let (before, after) = show_change(c);
                    if let Some(before) = before {
                        let _ = writeln!(block, "- {} = {before}", c.path);
                    }
                    if let Some(after) = after {
                        let _ = writeln!(block, "+ {} = {after}", c.path);
                    }
                }
                let _ = writeln!(block, "```\n\n</details>");
            }
        }
        if out.len() + block.len() + NOTE_RESERVE > max_chars {
            let _ = writeln!(
                out,
                "\n_{} more drifted resource(s) not shown: the report was cut to stay under {max_chars} characters. Run `gig drift` for the full list._",
                ordered.len() - i
            );
            break;
        }
        out.push_str(&block);
    }
    out
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text exposition format, for node_exporter's textfile collector.
pub fn prometheus(report: &DriftReport, timing: CheckTiming) -> String {
    let (stack, env) = (label(&report.stack), label(&report.env));
    let mut by_type: BTreeMap<&str, usize> =
        report.checked.keys().map(|t| (t.as_str(), 0)).collect();
    for d in &report.drifted {
        *by_type.entry(d.addr.rtype.as_str()).or_default() += 1;
    }
    let mut out = String::new();
    out.push_str("# HELP gig_drift_resources Resources whose cloud state differs from gig's recorded state.\n");
    out.push_str("# TYPE gig_drift_resources gauge\n");
    for (t, n) in &by_type {
        let _ = writeln!(
            out,
            "gig_drift_resources{{stack=\"{stack}\",env=\"{env}\",type=\"{}\"}} {n}",
            label(t)
        );
    }
    out.push_str(
        "# HELP gig_drift_resources_checked Resources in state that the last check refreshed.\n",
    );
    out.push_str("# TYPE gig_drift_resources_checked gauge\n");
    for (t, n) in &report.checked {
        let _ = writeln!(
            out,
            "gig_drift_resources_checked{{stack=\"{stack}\",env=\"{env}\",type=\"{}\"}} {n}",
            label(t)
        );
    }
    out.push_str(
        "# HELP gig_drift_last_check_timestamp_seconds Unix time of the last drift check.\n",
    );
    out.push_str("# TYPE gig_drift_last_check_timestamp_seconds gauge\n");
    let _ = writeln!(
        out,
        "gig_drift_last_check_timestamp_seconds{{stack=\"{stack}\",env=\"{env}\"}} {:.3}",
        timing.timestamp
    );
    out.push_str("# HELP gig_drift_check_duration_seconds How long the last drift check took.\n");
    out.push_str("# TYPE gig_drift_check_duration_seconds gauge\n");
    let _ = writeln!(
        out,
        "gig_drift_check_duration_seconds{{stack=\"{stack}\",env=\"{env}\"}} {:.3}",
        timing.duration
    );
    out
}
