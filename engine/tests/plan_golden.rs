//! Golden plans: each directory under `tests/plan/` is one case.
//!
//! A case holds `main.gig` (the stack; `// param: name=value` lines pass params),
//! optionally `prior.json` (a Snapshot in the state export layout) and `refreshed.json`
//! (address → value, `null` for an object found gone; without it refresh is skipped),
//! and the expected `plan.txt` (text rendering, then every diagnostic) and `plan.json`
//! (the JSON rendering). A case whose name starts with `destroy_` plans a destroy.
//! `UPDATE_EXPECT=1 cargo test -p gig-engine --test plan_golden` rewrites the expected
//! files. Every case is also checked for leaked secrets: no value of a param marked
//! secret and no value stored under `$secret` may appear in any rendering.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use expect_test::expect_file;
use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use gig_dsl::load::LoadOptions;
use gig_engine::pipeline::{self, PlanOptions, Stack};
use gig_engine::render::{self, MarkdownOptions};
use gig_provider::{
    AttrType, AttributeSchema as A, OpContext, Provider, ProviderError, ProviderFactory,
    ProviderSchema, ReadRequest, Registry, ResourceSchema, UpdateRequest,
};
use gig_state::{ResourceRecord, Snapshot};

/// A provider with the attribute kinds the planner treats specially: force-new,
/// defaults, optional+computed, sets, maps, nested blocks, secrets. It only reads: a
/// case's `refreshed.json` is what the cloud holds (instances it does not name are
/// unchanged since Prior).
struct Lab(ProviderSchema, Refreshed);

type Refreshed = BTreeMap<ResourceAddr, Option<Value>>;

#[async_trait]
impl ProviderFactory for Lab {
    fn name(&self) -> &'static str {
        "lab"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.0
    }

    async fn configure(&self, _settings: &Value) -> Result<Arc<dyn Provider>, ProviderError> {
        Ok(Arc::new(LabCloud(self.1.clone())))
    }
}

/// The lab provider configured: answers reads from the case's `refreshed.json`.
struct LabCloud(Refreshed);

#[async_trait]
impl Provider for LabCloud {
    async fn read(
        &self,
        _rtype: &str,
        requests: &[ReadRequest],
    ) -> Result<Vec<Result<Option<Value>, ProviderError>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let addr = ResourceAddr::parse(&r.address).expect("address");
                Ok(self
                    .0
                    .get(&addr)
                    .cloned()
                    .unwrap_or_else(|| Some(r.prior.clone())))
            })
            .collect())
    }

    async fn create(&self, _: &OpContext, _: &str, _: &Value) -> Result<Value, ProviderError> {
        Err(ProviderError::permanent("the lab provider only plans"))
    }

    async fn update(
        &self,
        _: &OpContext,
        _: &str,
        _: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        Err(ProviderError::permanent("the lab provider only plans"))
    }

    async fn delete(
        &self,
        _: &OpContext,
        _: &str,
        _: &str,
        _: &Value,
    ) -> Result<(), ProviderError> {
        Err(ProviderError::permanent("the lab provider only plans"))
    }
}

fn lab(refreshed: Refreshed) -> Lab {
    let s = || AttrType::String;
    let mut net = BTreeMap::new();
    net.insert("cidr".into(), A::required(s(), "CIDR block.").force_new());
    net.insert("name".into(), A::optional(s(), "Name."));
    net.insert(
        "tags".into(),
        A::optional(AttrType::Map(Box::new(s())), "Tags."),
    );
    net.insert(
        "zones".into(),
        A::optional(AttrType::Set(Box::new(s())), "Zones, unordered."),
    );
    net.insert(
        "dns".into(),
        A::optional(AttrType::Bool, "DNS support.").default(true),
    );
    net.insert(
        "mode".into(),
        A::optional(s(), "Mode; the cloud picks one when unset.").also_computed(),
    );
    net.insert("id".into(), A::computed(s(), "Id."));
    net.insert("arn".into(), A::computed(s(), "ARN."));
    let mut rule = BTreeMap::new();
    rule.insert("port".into(), A::required(AttrType::Number, "Port."));
    rule.insert("proto".into(), A::optional(s(), "Protocol.").default("tcp"));
    rule.insert(
        "sources".into(),
        A::optional(AttrType::Set(Box::new(s())), "Source CIDRs."),
    );
    let mut server = BTreeMap::new();
    server.insert(
        "network_id".into(),
        A::required(s(), "Network.").force_new(),
    );
    server.insert("size".into(), A::optional(s(), "Size.").default("small"));
    server.insert(
        "password".into(),
        A::optional(s(), "Admin password.").secret(),
    );
    server.insert(
        "rule".into(),
        A::optional(
            AttrType::List(Box::new(AttrType::Object(rule))),
            "Firewall rules.",
        ),
    );
    server.insert("id".into(), A::computed(s(), "Id."));
    server.insert("ip".into(), A::computed(s(), "Private IP."));
    let res = |name: &str, attributes| ResourceSchema {
        type_name: name.into(),
        version: 2,
        attributes,
        ..ResourceSchema::default()
    };
    let mut resources = BTreeMap::new();
    resources.insert("lab.network".into(), res("lab.network", net));
    resources.insert("lab.server".into(), res("lab.server", server));
    Lab(
        ProviderSchema {
            name: "lab".into(),
            resources,
            ..ProviderSchema::default()
        },
        refreshed,
    )
}

fn registry(refreshed: Refreshed) -> Registry {
    let mut r = Registry::new();
    r.register(Arc::new(lab(refreshed)));
    r.register(Arc::new(gig_provider_random::RandomFactory::new()));
    r.register(Arc::new(gig_provider_test::TestFactory::new(
        gig_provider_test::TestOptions::default(),
    )));
    r
}

/// Reads a Snapshot from the state export layout (`Snapshot::to_json_raw`).
fn read_snapshot(path: &Path) -> Snapshot {
    let mut snap = Snapshot::default();
    let Ok(text) = std::fs::read_to_string(path) else {
        return snap;
    };
    let j: serde_json::Value = serde_json::from_str(&text).expect("prior.json parses");
    snap.lineage = j["lineage"].as_str().unwrap_or("golden").to_string();
    snap.serial = j["serial"].as_u64().unwrap_or(1);
    for (addr, r) in j["resources"].as_object().into_iter().flatten() {
        let addr = ResourceAddr::parse(addr).expect("address in prior.json");
        let value = Value::from_json(&r["value"]);
        let record = ResourceRecord {
            provider: r["provider"]
                .as_str()
                .map_or_else(|| addr.provider().to_string(), str::to_string),
            id: r["id"]
                .as_str()
                .or_else(|| value.get("id").and_then(Value::as_str))
                .unwrap_or("")
                .to_string(),
            value,
            dependencies: r["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().and_then(ResourceAddr::parse))
                .collect(),
            schema_version: r["schema_version"].as_u64().unwrap_or(0) as u32,
            addr: addr.clone(),
        };
        snap.resources.insert(addr, record);
    }
    for (k, v) in j["outputs"].as_object().into_iter().flatten() {
        snap.outputs.insert(k.clone(), Value::from_json(v));
    }
    snap
}

fn read_refreshed(path: &Path) -> Option<BTreeMap<ResourceAddr, Option<Value>>> {
    let text = std::fs::read_to_string(path).ok()?;
    let j: serde_json::Value = serde_json::from_str(&text).expect("refreshed.json parses");
    Some(
        j.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let addr = ResourceAddr::parse(k).expect("address in refreshed.json");
                (
                    addr,
                    if v.is_null() {
                        None
                    } else {
                        Some(Value::from_json(v))
                    },
                )
            })
            .collect(),
    )
}

/// Values a case must never print: secret params and `$secret` values in its files.
fn secrets_of(case: &Path, params: &[(String, String)], main: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in params {
        if main.contains(&format!("param {name}:")) && main.contains("secret = true") {
            out.push(value.clone());
        }
    }
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Secret(inner) => {
                if let Some(s) = inner.as_str() {
                    out.push(s.to_string());
                }
            }
            Value::List(xs) => xs.iter().for_each(|x| collect(x, out)),
            Value::Map(m) => m.values().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    for r in read_snapshot(&case.join("prior.json")).resources.values() {
        collect(&r.value, &mut out);
    }
    out.retain(|s| s.len() >= 6);
    out
}

struct Outcome {
    text: String,
    json: String,
    markdown: String,
}

fn run_case(case: &Path) -> Outcome {
    let main = std::fs::read_to_string(case.join("main.gig")).expect("main.gig");
    let params: Vec<(String, String)> = main
        .lines()
        .filter_map(|l| l.trim().strip_prefix("// param:"))
        .filter_map(|p| p.trim().split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let prior = read_snapshot(&case.join("prior.json"));
    let refreshed = read_refreshed(&case.join("refreshed.json"));
    let registry = registry(refreshed.clone().unwrap_or_default());
    let loaded = pipeline::load_dir(
        case,
        &LoadOptions {
            params,
            ..LoadOptions::default()
        },
        &registry,
    );
    let sources = loaded.sources.clone();
    let stack = Stack::from_loaded(loaded).unwrap_or_else(|(_, diagnostics)| {
        panic!("{} does not load: {diagnostics:#?}", case.display())
    });
    let destroy = case
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("destroy_"));
    let options = PlanOptions {
        refresh: refreshed.is_some(),
        destroy,
        ..PlanOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let outcome = runtime
        .block_on(pipeline::plan_stack(&stack, &prior, &registry, &options))
        .expect("the lab providers configure");
    let diags = outcome.diagnostics;
    let plan = outcome.plan.unwrap_or_else(|| {
        panic!(
            "{} stopped at {:?}: {diags:#?}",
            case.display(),
            outcome.stopped
        )
    });

    let mut text = render::text(&plan).into_plain();
    if !diags.is_empty() {
        text.push_str("\nDiagnostics:\n");
        for d in &diags {
            let (line, col) = sources.line_col(d.span.file, d.span.start);
            text.push_str(&format!(
                "{:?}[gig::{}] {}:{}: {}: {}\n",
                d.severity, d.code, line, col, d.summary, d.detail
            ));
            if !d.label.is_empty() {
                text.push_str(&format!("  label: {}\n", d.label));
            }
            for l in &d.labels {
                let (line, col) = sources.line_col(l.span.file, l.span.start);
                text.push_str(&format!("  at {line}:{col}: {}\n", l.message));
            }
            if let Some(h) = &d.help {
                text.push_str(&format!("  help: {h}\n"));
            }
        }
    }
    let json = serde_json::to_string_pretty(&render::json(&plan)).expect("json") + "\n";
    let markdown = render::markdown(&plan, &MarkdownOptions::default());
    Outcome {
        text,
        json,
        markdown,
    }
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plan");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/plan exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("main.gig").is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn golden_plans() {
    let all = cases();
    assert!(
        all.len() >= 12,
        "expected at least 12 golden cases, found {}",
        all.len()
    );
    for case in all {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let outcome = run_case(&case);
        let main = std::fs::read_to_string(case.join("main.gig")).unwrap_or_default();
        let params: Vec<(String, String)> = main
            .lines()
            .filter_map(|l| l.trim().strip_prefix("// param:"))
            .filter_map(|p| p.trim().split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        for secret in secrets_of(&case, &params, &main) {
            for (what, out) in [
                ("text", &outcome.text),
                ("json", &outcome.json),
                ("markdown", &outcome.markdown),
            ] {
                assert!(
                    !out.contains(&secret),
                    "{name}: the {what} rendering leaks a secret"
                );
            }
        }
        expect_file![case.join("plan.txt")].assert_eq(&outcome.text);
        expect_file![case.join("plan.json")].assert_eq(&outcome.json);
    }
}
