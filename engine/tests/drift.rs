//! Drift detection: which differences count as drift, and how each format reports them.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use gig_engine::drift::{self, CheckTiming, DriftKind};
use gig_provider::{
    AttrType, AttributeSchema as A, Provider, ProviderError, ProviderFactory, ProviderSchema,
    Registry, ResourceSchema,
};
use gig_state::{ResourceRecord, Snapshot};

struct Lab(ProviderSchema);

#[async_trait]
impl ProviderFactory for Lab {
    fn name(&self) -> &'static str {
        "lab"
    }
    fn schema(&self) -> &ProviderSchema {
        &self.0
    }
    async fn configure(&self, _settings: &Value) -> Result<Arc<dyn Provider>, ProviderError> {
        Err(ProviderError::permanent("not used"))
    }
}

fn registry() -> Registry {
    let s = AttrType::String;
    let mut attributes = BTreeMap::new();
    attributes.insert(
        "cidrs".to_string(),
        A::optional(AttrType::Set(Box::new(s.clone())), "CIDRs."),
    );
    attributes.insert(
        "tags".to_string(),
        A::optional(AttrType::Map(Box::new(s.clone())), "Tags."),
    );
    attributes.insert(
        "password".to_string(),
        A::optional(s.clone(), "Password.").secret(),
    );
    attributes.insert("status".to_string(), A::computed(s.clone(), "Status."));
    attributes.insert("id".to_string(), A::computed(s, "Id."));
    let mut resources = BTreeMap::new();
    resources.insert(
        "lab.thing".to_string(),
        ResourceSchema {
            type_name: "lab.thing".into(),
            attributes,
            ..ResourceSchema::default()
        },
    );
    let mut r = Registry::new();
    r.register(Arc::new(Lab(ProviderSchema {
        name: "lab".into(),
        resources,
        ..ProviderSchema::default()
    })));
    r
}

fn val(j: serde_json::Value) -> Value {
    Value::from_json(&j)
}

fn prior(values: &[(&str, serde_json::Value)]) -> Snapshot {
    let mut s = Snapshot {
        lineage: "l".into(),
        serial: 1,
        ..Snapshot::default()
    };
    for (addr, v) in values {
        let addr = ResourceAddr::parse(addr).unwrap();
        s.resources.insert(
            addr.clone(),
            ResourceRecord {
                addr,
                provider: "lab".into(),
                id: "i".into(),
                value: val(v.clone()),
                dependencies: Vec::new(),
                schema_version: 0,
            },
        );
    }
    s
}

#[test]
fn normalisation_and_computed_values_are_not_drift() {
    let p = prior(&[(
        "lab.thing.a",
        serde_json::json!({"id": "i", "cidrs": ["10.0.0.0/8", "192.168.0.0/16"], "tags": {}, "status": "ok"}),
    )]);
    let mut refreshed = BTreeMap::new();
    refreshed.insert(
        ResourceAddr::parse("lab.thing.a").unwrap(),
        Some(val(serde_json::json!({"id": "i", "cidrs": ["192.168.0.0/16", "10.0.0.0/8"], "status": "busy"}))),
    );
    let report = drift::detect("s", "e", &p, &refreshed, &registry());
    assert!(!report.has_drift(), "{report:?}");
}

#[test]
fn changed_and_deleted_objects_are_reported_with_secrets_redacted() {
    let p = prior(&[
        (
            "lab.thing.a",
            serde_json::json!({"id": "i", "tags": {"Name": "a"}, "password": {"$secret": "hunter22"}}),
        ),
        ("lab.thing.b", serde_json::json!({"id": "j"})),
    ]);
    let mut refreshed = BTreeMap::new();
    refreshed.insert(
        ResourceAddr::parse("lab.thing.a").unwrap(),
        Some(val(
            serde_json::json!({"id": "i", "tags": {"Name": "x"}, "password": "changed-by-hand"}),
        )),
    );
    refreshed.insert(ResourceAddr::parse("lab.thing.b").unwrap(), None);
    let report = drift::detect("s", "e", &p, &refreshed, &registry());
    let kinds: Vec<(String, DriftKind, Vec<String>)> = report
        .drifted
        .iter()
        .map(|d| {
            (
                d.addr.to_string(),
                d.kind,
                d.attributes.iter().map(|a| a.path.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "lab.thing.a".to_string(),
                DriftKind::Changed,
                vec!["password".to_string(), "tags.Name".to_string()]
            ),
            ("lab.thing.b".to_string(), DriftKind::Deleted, vec![]),
        ]
    );
    let timing = CheckTiming {
        timestamp: 1_700_000_000.0,
        duration: 1.5,
    };
    let outputs = [
        drift::text(&report),
        drift::json(&report).to_string(),
        drift::markdown(&report, drift::MARKDOWN_MAX_CHARS),
        drift::prometheus(&report, timing),
    ];
    for out in &outputs {
        assert!(
            !out.contains("hunter22") && !out.contains("changed-by-hand"),
            "secret leaked:\n{out}"
        );
    }
    assert!(
        outputs[1].contains("\"kind\":\"deleted\""),
        "{}",
        outputs[1]
    );
    let prom = &outputs[3];
    assert!(
        prom.contains("gig_drift_resources{stack=\"s\",env=\"e\",type=\"lab.thing\"} 2\n"),
        "{prom}"
    );
    assert!(
        prom.contains(
            "gig_drift_last_check_timestamp_seconds{stack=\"s\",env=\"e\"} 1700000000.000\n"
        ),
        "{prom}"
    );
    assert!(
        prom.contains("# TYPE gig_drift_check_duration_seconds gauge\n"),
        "{prom}"
    );
}

#[test]
fn markdown_stays_under_its_limit_and_says_what_was_cut() {
    let values: Vec<(String, serde_json::Value)> = (0..3000)
        .map(|i| {
            (
                format!("lab.thing.t{i:04}"),
                serde_json::json!({"id": "i", "tags": {"Name": "old"}}),
            )
        })
        .collect();
    let refs: Vec<(&str, serde_json::Value)> = values
        .iter()
        .map(|(a, v)| (a.as_str(), v.clone()))
        .collect();
    let p = prior(&refs);
    let refreshed = p
        .resources
        .keys()
        .map(|a| {
            (
                a.clone(),
                Some(val(
                    serde_json::json!({"id": "i", "tags": {"Name": "new-value-set-by-hand"}}),
                )),
            )
        })
        .collect();
    let report = drift::detect("s", "e", &p, &refreshed, &registry());
    assert_eq!(report.drifted.len(), 3000);
    let md = drift::markdown(&report, drift::MARKDOWN_MAX_CHARS);
    assert!(md.len() <= drift::MARKDOWN_MAX_CHARS, "{} chars", md.len());
    assert!(md.starts_with("**Drift**"), "summary kept");
    assert!(
        md.contains("more drifted resource(s) not shown"),
        "cut is announced"
    );
}

#[test]
fn a_set_element_added_by_hand_is_reported_alone() {
    let p = prior(&[(
        "lab.thing.a",
        serde_json::json!({"id": "i", "cidrs": ["10.0.0.0/8", "192.168.0.0/16"]}),
    )]);
    let mut refreshed = BTreeMap::new();
    refreshed.insert(
        ResourceAddr::parse("lab.thing.a").unwrap(),
        Some(val(serde_json::json!({"id": "i", "cidrs": ["192.168.0.0/16", "172.16.0.0/12", "10.0.0.0/8"]}))),
    );
    let report = drift::detect("s", "e", &p, &refreshed, &registry());
    let attrs = &report.drifted[0].attributes;
    assert_eq!(attrs.len(), 1, "{attrs:?}");
    assert_eq!(
        (attrs[0].before.clone(), attrs[0].after.clone()),
        (None, Some(Value::str("172.16.0.0/12")))
    );
    assert!(
        drift::text(&report).contains("    + cidrs = \"172.16.0.0/12\"\n"),
        "{}",
        drift::text(&report)
    );
}
