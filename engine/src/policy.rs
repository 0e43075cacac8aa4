//! Built-in policy checks: the platform's security rules, run on the Desired
//! configuration before anything is planned or applied.
//!
//! Each rule looks at resource bodies in the lowered [`Config`]; values that depend on
//! other resources are unknown here and never produce a finding on their own. Findings
//! are diagnostics at the offending attribute's span:
//!
//! | code  | severity | rule |
//! |-------|----------|------|
//! | E0501 | error    | security group ingress from 0.0.0.0/0 or ::/0 on a port other than 80/443 |
//! | E0502 | error    | RDS instance or ElastiCache replication group without encryption |
//! | E0503 | error    | publicly accessible RDS instance |
//! | E0504 | error    | RDS or ElastiCache in a subnet whose route table routes to an internet gateway |
//! | E0505 | warning  | RDS backups retained fewer than 7 days |
//! | E0506 | warning  | EC2 instance or launch template without IMDSv2 (`http_tokens = "required"`) |
//! | E0507 | error    | production RDS instance without `deletion_protection = true` |
//! | E0508 | error    | production RDS instance without `multi_az = true` |
//! | E0509 | error    | HTTP listener that does not redirect, on a load balancer with an HTTPS listener |
//! | E0430 | error    | S3 bucket whose public access block lets public access through |
//! | E0431 | warning  | S3 bucket without declared default encryption |
//! | E0432 | error    | IAM policy allowing every action (`"Action": "*"`) |
//!
//! A stack is *production* when its environment (`--env`) is `production` or `prod`, or
//! starts with `production-`, `prod-`, `production_` or `prod_`.
//!
//! A finding is accepted in the source with a comment inside the resource block (or on
//! the line just above its header): `# gig:accept E0501 -- reason`. An acceptance
//! without a reason does not count, and is itself reported.

// Pure: no clock, randomness, environment or I/O (clippy.toml lists what is denied).
#![deny(clippy::disallowed_methods, clippy::disallowed_macros)]

use std::collections::{BTreeMap, BTreeSet};

use gig_core::addr::ResourceAddr;
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::{SourceMap, Span};
use gig_core::value::Value;
use gig_dsl::config::{Config, Expr, ExprKind, ResourceConfig};
use gig_dsl::eval::{eval, NoResources};

/// The outcome of the policy checks.
#[derive(Clone, Debug, Default)]
pub struct PolicyReport {
    /// Findings not accepted in the source.
    pub findings: Vec<Diagnostic>,
    /// Findings accepted with a reason: (finding, reason).
    pub accepted: Vec<(Diagnostic, String)>,
}

/// Runs every rule over `config`. `sources` is read for `gig:accept` comments.
pub fn check(config: &Config, sources: &SourceMap) -> PolicyReport {
    let mut raw = Vec::new();
    for r in &config.resources {
        match r.addr.rtype.as_str() {
            "aws.security_group" => open_ingress(r, &mut raw),
            "aws.db_instance" => {
                db_instance(r, &mut raw);
                if is_production(config) {
                    production_db(r, &mut raw);
                }
            }
            "aws.elasticache_replication_group" => cache_encryption(r, &mut raw),
            "aws.instance" | "aws.launch_template" => imdsv2(r, &mut raw),
            "aws.s3_bucket" => bucket(r, &mut raw),
            "aws.iam_policy" => iam_allows_everything(r, &mut raw),
            _ => {}
        }
    }
    public_data_subnets(config, &mut raw);
    plain_http_beside_https(config, &mut raw);
    let mut report = PolicyReport::default();
    for (resource_span, finding) in raw {
        match acceptance(sources, resource_span, finding.code) {
            Acceptance::Accepted(reason) => report.accepted.push((finding, reason)),
            Acceptance::MissingReason(span) => {
                report
                    .findings
                    .push(finding.with_secondary(span, "accepted here, but without a reason"));
            }
            Acceptance::None => report.findings.push(finding),
        }
    }
    report.findings.sort_by_key(|d| (d.span, d.code));
    report
}

type Raw = Vec<(Span, Diagnostic)>;

/// An attribute of a resource body: its value with references unknown, and its span.
fn attr(r: &ResourceConfig, name: &str) -> Option<(Value, Span)> {
    let entry = r.body.entry(name)?;
    let value = eval(&entry.value, &NoResources).unwrap_or(Value::Unknown);
    Some((value, entry.value.span))
}

/// The objects of a nested block (or an object attribute), each with the best span known.
fn blocks(r: &ResourceConfig, name: &str) -> Vec<(Value, Span)> {
    let Some(entry) = r.body.entry(name) else {
        return Vec::new();
    };
    let elements: Vec<(&Expr, Span)> = match &entry.value.kind {
        ExprKind::List(items) => items.iter().map(|e| (e, e.span)).collect(),
        _ => vec![(&entry.value, entry.value.span)],
    };
    let mut out = Vec::new();
    for (expr, span) in elements {
        match eval(expr, &NoResources).unwrap_or(Value::Unknown) {
            Value::List(items) => out.extend(items.into_iter().map(|v| (v, span))),
            v => out.push((v, span)),
        }
    }
    out
}

fn is(v: &Value, b: bool) -> bool {
    v.as_bool() == Some(b)
}

fn open_ingress(r: &ResourceConfig, out: &mut Raw) {
    for (rule, span) in blocks(r, "ingress") {
        let open = ["cidr_blocks", "ipv6_cidr_blocks"].iter().any(|k| {
            rule.get(k).and_then(Value::as_list).is_some_and(|l| {
                l.iter()
                    .any(|c| matches!(c.as_str(), Some("0.0.0.0/0" | "::/0")))
            })
        });
        if !open {
            continue;
        }
        let protocol = rule
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("tcp");
        let (from, to) = match (rule.get("port"), rule.get("from_port"), rule.get("to_port")) {
            (Some(p), _, _) if p.as_i64().is_some() => (p.as_i64(), p.as_i64()),
            (_, f, t) => (f.and_then(Value::as_i64), t.and_then(Value::as_i64)),
        };
        let web_only = matches!(protocol, "tcp" | "6")
            && matches!((from, to), (Some(f), Some(t)) if (f == 80 || f == 443) && f == t);
        if web_only {
            continue;
        }
        let ports = match (from, to) {
            (Some(f), Some(t)) if f == t => format!("port {f}"),
            (Some(f), Some(t)) => format!("ports {f}-{t}"),
            _ => "every port".to_string(),
        };
        out.push((
            r.span,
            Diagnostic::error(Code::E0501, "security group open to the internet on a non-web port", span)
                .with_label("ingress from 0.0.0.0/0 or ::/0")
                .with_detail(format!(
                    "{} allows {protocol} {ports} from anywhere. Only ports 80 and 443 may be open to the internet; other traffic must come from a known CIDR or another security group.",
                    r.addr
                ))
                .with_help("restrict cidr_blocks to a known range, or reference the security group that needs access"),
        ));
    }
}

fn db_instance(r: &ResourceConfig, out: &mut Raw) {
    let replica = r.body.entry("replicate_source_db").is_some();
    match attr(r, "storage_encrypted") {
        Some((v, span)) if is(&v, false) => {
            out.push((r.span, unencrypted(r, span, "storage_encrypted")))
        }
        None if !replica => out.push((r.span, unencrypted(r, r.header_span, "storage_encrypted"))),
        _ => {}
    }
    if let Some((v, span)) = attr(r, "publicly_accessible") {
        if is(&v, true) {
            out.push((
                r.span,
                Diagnostic::error(Code::E0503, "database reachable from the internet", span)
                    .with_label("publicly_accessible = true")
                    .with_detail(format!(
                        "{} is publicly accessible: AWS gives it a public DNS name and address. Databases belong in private subnets, reached from the app tier.",
                        r.addr
                    ))
                    .with_help("set publicly_accessible = false"),
            ));
        }
    }
    if replica {
        return;
    }
    let (retention, span) =
        attr(r, "backup_retention_period").unwrap_or((Value::Number(1.0), r.header_span));
    if let Some(days) = retention.as_i64() {
        if days < 7 {
            let kept = if days == 1 {
                "1 day".to_string()
            } else {
                format!("{days} days")
            };
            out.push((
                r.span,
                Diagnostic::warning(Code::E0505, "database backups kept fewer than 7 days", span)
                    .with_label(kept.clone())
                    .with_detail(format!(
                        "{} keeps automated backups for {kept} (AWS's default is 1 when unset). The platform's rule is at least 7.",
                        r.addr
                    ))
                    .with_help("set backup_retention_period = 7 or more"),
            ));
        }
    }
}

/// Whether the stack's environment names production (see the module docs).
fn is_production(config: &Config) -> bool {
    config.env.as_deref().is_some_and(|env| {
        ["production", "prod"].iter().any(|p| {
            env == *p
                || env
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with(['-', '_']))
        })
    })
}

/// A production database must survive a mistaken destroy and an availability zone.
fn production_db(r: &ResourceConfig, out: &mut Raw) {
    if r.body.entry("replicate_source_db").is_some() {
        return;
    }
    let rules = [
        (
            "deletion_protection",
            Code::E0507,
            "production database without deletion protection",
            "a destroy or a replacing change would delete it, and its automated backups with it",
        ),
        (
            "multi_az",
            Code::E0508,
            "production database in a single availability zone",
            "an availability-zone outage or a host failure takes the database down until it is rebuilt",
        ),
    ];
    for (attribute, code, summary, why) in rules {
        let (value, span) = attr(r, attribute).unwrap_or((Value::Bool(false), r.header_span));
        if value.is_unknown() || is(&value, true) {
            continue;
        }
        out.push((
            r.span,
            Diagnostic::error(code, summary, span)
                .with_label(format!("{attribute} is not true"))
                .with_detail(format!("{} is in a production environment: {why}.", r.addr))
                .with_help(format!("set {attribute} = true")),
        ));
    }
}

/// An HTTP listener that serves traffic in clear although its load balancer has an
/// HTTPS listener (and so a certificate): the HTTP one should redirect.
fn plain_http_beside_https(config: &Config, out: &mut Raw) {
    let listeners: Vec<(&ResourceConfig, Vec<ResourceAddr>)> = config
        .resources
        .iter()
        .filter(|r| r.addr.rtype == "aws.lb_listener")
        .map(|r| (r, referenced(r, "load_balancer_arn")))
        .collect();
    let protocol = |r: &ResourceConfig| {
        attr(r, "protocol").and_then(|(v, _)| v.as_str().map(str::to_ascii_uppercase))
    };
    let secured: Vec<&Vec<ResourceAddr>> = listeners
        .iter()
        .filter(|(r, _)| {
            protocol(r).as_deref() == Some("HTTPS") || r.body.entry("certificate_arn").is_some()
        })
        .map(|(_, lbs)| lbs)
        .collect();
    for (r, lbs) in &listeners {
        if protocol(r).as_deref() != Some("HTTP") || lbs.is_empty() {
            continue;
        }
        let beside_https = secured.iter().any(|other| {
            other
                .iter()
                .any(|lb| lbs.iter().any(|a| same_resource(a, lb)))
        });
        if !beside_https {
            continue;
        }
        let actions = blocks(r, "default_action");
        let redirects = actions.iter().any(|(v, _)| {
            v.get("type")
                .is_some_and(|t| t.is_unknown() || t.as_str() == Some("redirect"))
        });
        if redirects {
            continue;
        }
        let span = actions.first().map_or(r.header_span, |(_, s)| *s);
        out.push((
            r.span,
            Diagnostic::error(Code::E0509, "HTTP served in clear beside HTTPS", span)
                .with_label("does not redirect to HTTPS")
                .with_detail(format!(
                    "{} answers plain HTTP on a load balancer that has an HTTPS listener, so clients that type http:// send cookies and credentials in clear.",
                    r.addr
                ))
                .with_help("make its default_action a redirect: type = \"redirect\" with redirect { port = \"443\", protocol = \"HTTPS\", status_code = \"HTTP_301\" }"),
        ));
    }
}

fn unencrypted(r: &ResourceConfig, span: Span, attribute: &str) -> Diagnostic {
    Diagnostic::error(Code::E0502, "data store without encryption", span)
        .with_label(format!("{attribute} is not true"))
        .with_detail(format!(
            "{} stores data unencrypted: {attribute} must be true.",
            r.addr
        ))
        .with_help(format!(
            "set {attribute} = true (for an existing store this replaces it)"
        ))
}

fn cache_encryption(r: &ResourceConfig, out: &mut Raw) {
    for attribute in ["at_rest_encryption_enabled", "transit_encryption_enabled"] {
        match attr(r, attribute) {
            Some((v, span)) if is(&v, false) => out.push((r.span, unencrypted(r, span, attribute))),
            None => out.push((r.span, unencrypted(r, r.header_span, attribute))),
            _ => {}
        }
    }
}

fn imdsv2(r: &ResourceConfig, out: &mut Raw) {
    let options = blocks(r, "metadata_options");
    let required = options
        .iter()
        .any(|(v, _)| matches!(v.get("http_tokens").map(Value::reveal), Some(Value::String(s)) if s == "required"));
    let unknown = options
        .iter()
        .any(|(v, _)| v.get("http_tokens").is_some_and(Value::is_unknown));
    if required || unknown {
        return;
    }
    let span = options.first().map_or(r.header_span, |(_, s)| *s);
    out.push((
        r.span,
        Diagnostic::warning(Code::E0506, "instance metadata reachable without IMDSv2", span)
            .with_label("http_tokens is not \"required\"")
            .with_detail(format!(
                "{} allows IMDSv1, whose unauthenticated requests let a server-side request forgery read instance credentials.",
                r.addr
            ))
            .with_help("add metadata_options { http_tokens = \"required\" }"),
    ));
}

fn bucket(r: &ResourceConfig, out: &mut Raw) {
    // Unset, the block defaults to all four flags on; a flag set to false opens the bucket.
    for (block, span) in blocks(r, "public_access_block") {
        let open: Vec<&str> = [
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ]
        .into_iter()
        .filter(|f| block.get(f).is_some_and(|v| is(v, false)))
        .collect();
        if !open.is_empty() {
            out.push((
                r.span,
                Diagnostic::error(Code::E0430, "bucket open to public access", span)
                    .with_label(format!("{} = false", open.join(", ")))
                    .with_detail(format!(
                        "{} lets public ACLs or policies through its public access block. Buckets stay private; publish through a CDN or presigned URLs instead.",
                        r.addr
                    ))
                    .with_help("remove the public_access_block block (all four flags default to true)"),
            ));
        }
    }
    if r.body.entry("server_side_encryption").is_none() {
        out.push((
            r.span,
            Diagnostic::warning(Code::E0431, "bucket without declared default encryption", r.header_span)
                .with_label("no server_side_encryption block")
                .with_detail(format!(
                    "{} does not say how new objects are encrypted, so its encryption is whatever the account's default is.",
                    r.addr
                ))
                .with_help("add server_side_encryption { sse_algorithm = \"aws:kms\" } (or \"AES256\")"),
        ));
    }
}

fn iam_allows_everything(r: &ResourceConfig, out: &mut Raw) {
    let Some((value, span)) = attr(r, "policy") else {
        return;
    };
    let Some(doc) = value
        .reveal()
        .as_str()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
    else {
        return;
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(xs)) => xs.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    let star = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s == "*",
        Some(serde_json::Value::Array(xs)) => xs.iter().any(|x| x.as_str() == Some("*")),
        _ => false,
    };
    let everything = statements.iter().any(|st| {
        st.get("Effect").and_then(serde_json::Value::as_str) == Some("Allow")
            && star(st.get("Action"))
    });
    if everything {
        out.push((
            r.span,
            Diagnostic::error(Code::E0432, "IAM policy allows every action", span)
                .with_label("a statement allows \"Action\": \"*\"")
                .with_detail(format!(
                    "{} grants every action of every service: whoever holds it administers the account. Grant the actions the workload calls.",
                    r.addr
                ))
                .with_help("list the actions needed, e.g. [\"ssm:GetParameter\"], scoped to the resources they touch"),
        ));
    }
}

/// Resources referenced (to any depth of attribute access) from an attribute's expression.
fn referenced(r: &ResourceConfig, name: &str) -> Vec<ResourceAddr> {
    let Some(entry) = r.body.entry(name) else {
        return Vec::new();
    };
    entry
        .value
        .references()
        .into_iter()
        .map(|rr| rr.addr())
        .collect()
}

fn public_data_subnets(config: &Config, out: &mut Raw) {
    // Subnets whose associated route table has a route through an internet gateway.
    let public_tables: BTreeSet<ResourceAddr> = config
        .resources
        .iter()
        .filter(|r| r.addr.rtype == "aws.route_table")
        .filter(|r| {
            r.body
                .entry("route")
                .or(r.body.entry("routes"))
                .is_some_and(|e| {
                    e.value
                        .references()
                        .iter()
                        .any(|rr| rr.rtype == "aws.internet_gateway")
                })
        })
        .map(|r| r.addr.clone())
        .collect();
    let mut public_subnets = BTreeSet::new();
    for r in config
        .resources
        .iter()
        .filter(|r| r.addr.rtype == "aws.route_table_association")
    {
        let tables = referenced(r, "route_table_id");
        if tables.iter().any(|t| matches_any(t, &public_tables)) {
            public_subnets.extend(referenced(r, "subnet_id"));
        }
    }
    if public_subnets.is_empty() {
        return;
    }
    let groups: BTreeMap<ResourceAddr, &ResourceConfig> = config
        .resources
        .iter()
        .filter(|r| {
            matches!(
                r.addr.rtype.as_str(),
                "aws.db_subnet_group" | "aws.elasticache_subnet_group"
            )
        })
        .map(|r| (r.addr.clone(), r))
        .collect();
    for r in &config.resources {
        let group_attr = match r.addr.rtype.as_str() {
            "aws.db_instance" => "db_subnet_group_name",
            "aws.elasticache_replication_group" => "subnet_group_name",
            _ => continue,
        };
        let Some(entry) = r.body.entry(group_attr) else {
            continue;
        };
        for g in referenced(r, group_attr) {
            let Some(group) = groups
                .iter()
                .find(|(a, _)| same_resource(a, &g))
                .map(|(_, r)| *r)
            else {
                continue;
            };
            let public: Vec<String> = referenced(group, "subnet_ids")
                .into_iter()
                .filter(|s| matches_any(s, &public_subnets))
                .map(|s| s.to_string())
                .collect();
            if public.is_empty() {
                continue;
            }
            out.push((
                r.span,
                Diagnostic::error(Code::E0504, "data store in a subnet routed to the internet", entry.value.span)
                    .with_label("this subnet group includes public subnets")
                    .with_detail(format!(
                        "{} is placed through {} in subnets whose route table sends traffic to an internet gateway ({}). Databases and caches belong in private subnets.",
                        r.addr,
                        group.addr,
                        public.join(", ")
                    ))
                    .with_help("use subnets whose route table has no internet gateway route"),
            ));
        }
    }
}

/// Whether `a` names `b` or, when either has no key, the same resource block.
fn same_resource(a: &ResourceAddr, b: &ResourceAddr) -> bool {
    a == b || (a.group() == b.group() && (a.key.is_none() || b.key.is_none()))
}

fn matches_any(a: &ResourceAddr, set: &BTreeSet<ResourceAddr>) -> bool {
    set.iter().any(|s| same_resource(a, s))
}

enum Acceptance {
    Accepted(String),
    MissingReason(Span),
    None,
}

/// Looks for `gig:accept CODE -- reason` inside the resource block or on the line above it.
fn acceptance(sources: &SourceMap, resource: Span, code: Code) -> Acceptance {
    let Some(file) = sources.get(resource.file) else {
        return Acceptance::None;
    };
    let text = &file.text;
    let start = resource.start as usize;
    let end = (resource.end as usize).min(text.len());
    let line_above = text[..start.min(text.len())].trim_end_matches([' ', '\t']);
    let line_above = line_above.strip_suffix('\n').unwrap_or(line_above);
    let above_start = line_above.rfind('\n').map_or(0, |i| i + 1);
    for (offset, region) in [
        (above_start, &text[above_start..start.min(text.len())]),
        (start, &text[start..end]),
    ] {
        let mut pos = 0;
        for line in region.split_inclusive('\n') {
            if let Some(i) = line.find("gig:accept") {
                let rest = line[i + "gig:accept".len()..].trim();
                if let Some(after) = rest.strip_prefix(code.as_str()) {
                    let reason = after
                        .trim()
                        .trim_start_matches("--")
                        .trim()
                        .trim_matches('"')
                        .trim();
                    if reason.is_empty() {
                        let at = offset + pos + i;
                        return Acceptance::MissingReason(Span::new(
                            resource.file,
                            at,
                            at + "gig:accept".len(),
                        ));
                    }
                    return Acceptance::Accepted(reason.to_string());
                }
            }
            pos += line.len();
        }
    }
    Acceptance::None
}
