//! Call-order audit of a full-stack destroy of the reference stack against the AWS API
//! emulator.
//!
//! The emulator does not enforce most delete dependencies that real AWS enforces (a
//! security group still used by an instance, a subnet that still holds instances, a NAT
//! gateway's EIP), so a wrong order would pass unnoticed. This test derives "uses" from
//! the recorded cloud values alone — resource U uses R when a value of U (tags aside)
//! is R's id or ARN (or name, for the subnet groups referenced by name) — independently
//! of gig's own dependency graph, and checks the real-AWS rule on the apply events: R's
//! delete may start only after U's delete finished (the provider returns from a delete
//! only once the object is gone). It also checks the AWS call sequence recorded by the
//! SDK interceptor: the internet gateway is detached before the VPC is deleted.

mod common;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use gig_dsl::load::LoadOptions;
use gig_engine::apply::{apply, ApplyOptions};
use gig_engine::events::{ApplyEvent, Step};
use gig_engine::model::Plan;
use gig_engine::pipeline::{self, PlanOptions, Stack};
use gig_provider::{Provider, ProviderFactory, Registry};
use gig_state::{LockInfo, Snapshot, Store};

fn identifiers(addr: &ResourceAddr, v: &Value) -> Vec<String> {
    let mut out: Vec<String> = ["id", "arn"]
        .iter()
        .filter_map(|k| v.get(k).and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    if matches!(
        addr.rtype.as_str(),
        "aws.db_subnet_group" | "aws.elasticache_subnet_group"
    ) {
        out.extend(v.get("name").and_then(Value::as_str).map(str::to_string));
    }
    out
}

fn strings(v: &Value, out: &mut BTreeSet<String>) {
    match v.reveal() {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::List(xs) => xs.iter().for_each(|x| strings(x, out)),
        Value::Map(m) => m
            .iter()
            .filter(|(k, _)| !k.starts_with("tags"))
            .for_each(|(_, x)| strings(x, out)),
        _ => {}
    }
}

/// (user, used) pairs derived from recorded cloud values only.
fn uses(state: &Snapshot) -> Vec<(ResourceAddr, ResourceAddr)> {
    let mut pairs = Vec::new();
    for (u, ur) in &state.resources {
        // A resource's own identity and free text are not references to others.
        let mut own = ur.value.clone();
        if let Value::Map(m) = &mut own {
            for k in [
                "id",
                "arn",
                "name",
                "identifier",
                "description",
                "replication_group_id",
            ] {
                m.remove(k);
            }
        }
        let mut values = BTreeSet::new();
        strings(&own, &mut values);
        for (r, rr) in &state.resources {
            if r != u
                && identifiers(r, &rr.value)
                    .iter()
                    .any(|id| values.contains(id))
            {
                pairs.push((u.clone(), r.clone()));
            }
        }
    }
    pairs
}

async fn run(
    plan: &Plan,
    providers: &BTreeMap<String, Arc<dyn Provider>>,
    store: &Store,
) -> Vec<(ResourceAddr, Step, bool, Instant)> {
    let events = Mutex::new(Vec::new());
    let record = |e: ApplyEvent| {
        let now = Instant::now();
        let mut ev = events.lock().unwrap();
        match e {
            ApplyEvent::Started { addr, step, .. } => ev.push((addr, step, false, now)),
            ApplyEvent::Finished { addr, step, .. } => ev.push((addr, step, true, now)),
            _ => {}
        }
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let opts = ApplyOptions {
        stack: "giggatek".into(),
        env: "staging".into(),
        ..ApplyOptions::default()
    };
    let report = apply(plan, providers, store, &opts, rx, &record).await;
    assert!(report.state_error.is_none(), "{report:?}");
    events.into_inner().unwrap()
}

async fn make_plan(registry: &Registry, store: &Store, destroy: bool) -> Plan {
    let opts = LoadOptions {
        env: Some("staging".into()),
        params: vec![("cache_delete_timeout".into(), "20s".into())],
        env_params: Vec::new(),
        stack_name: None,
        extra_files: Vec::new(),
    };
    let loaded = pipeline::load_dir(&common::repo().join("stacks/giggatek"), &opts, registry);
    let stack = Stack::from_loaded(loaded)
        .unwrap_or_else(|(_, diagnostics)| panic!("giggatek lowers: {diagnostics:?}"));
    let prior = store.snapshot().expect("snapshot");
    let options = PlanOptions {
        refresh: false,
        destroy,
        env: "staging".into(),
        ..PlanOptions::default()
    };
    let outcome = pipeline::plan_stack(&stack, &prior, registry, &options)
        .await
        .expect("providers configure");
    match (outcome.plan, outcome.stopped) {
        (Some(plan), None) => plan,
        _ => panic!("giggatek plans: {:?}", outcome.diagnostics),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_stack_destroy_respects_real_aws_delete_order() {
    let emu = support::Emu::start().await;
    let mut registry = Registry::new();
    let random = gig_provider_random::RandomFactory::new();
    registry.register(Arc::new(gig_provider_random::RandomFactory::new()));
    registry.register(Arc::new(gig_provider_aws::AwsFactory::new()));
    let mut providers: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
    providers.insert("aws".into(), emu.provider());
    providers.insert(
        "random".into(),
        random
            .configure(&Value::Map(BTreeMap::new()))
            .await
            .expect("random"),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), LockInfo::current("audit test")).expect("state");

    let created = make_plan(&registry, &store, false).await;
    run(&created, &providers, &store).await;
    let applied = store.snapshot().unwrap();
    assert!(
        applied.resources.len() > 30,
        "applied {} resources",
        applied.resources.len()
    );
    let pairs = uses(&applied);
    for (u, r) in [
        ("aws.instance.app[\"frontend\"]", "aws.security_group.app"),
        (
            "aws.instance.app[\"frontend\"]",
            "aws.subnet.app[\"us-east-1a\"]",
        ),
        (
            "aws.nat_gateway.main[\"us-east-1a\"]",
            "aws.eip.nat[\"us-east-1a\"]",
        ),
        ("aws.internet_gateway.main", "aws.vpc.main"),
    ] {
        let pair = (
            ResourceAddr::parse(u).unwrap(),
            ResourceAddr::parse(r).unwrap(),
        );
        assert!(pairs.contains(&pair), "the audit sees {u} using {r}");
    }

    emu.recorder().clear();
    let destroy = make_plan(&registry, &store, true).await;
    let events = run(&destroy, &providers, &store).await;
    let started: BTreeMap<&ResourceAddr, Instant> = events
        .iter()
        .filter(|e| e.1 == Step::Delete && !e.2)
        .map(|e| (&e.0, e.3))
        .collect();
    let finished: BTreeMap<&ResourceAddr, Instant> = events
        .iter()
        .filter(|e| e.1 == Step::Delete && e.2)
        .map(|e| (&e.0, e.3))
        .collect();
    let mut violations = Vec::new();
    for (u, r) in &pairs {
        let Some(r_start) = started.get(r) else {
            continue;
        };
        match finished.get(u) {
            Some(u_done) if u_done <= r_start => {}
            Some(_) => violations.push(format!(
                "{r} deleted while {u}, which uses it, was still being deleted"
            )),
            None => violations.push(format!(
                "{r} deleted although {u}, which uses it, still exists"
            )),
        }
    }
    assert!(
        violations.is_empty(),
        "delete-order violations:\n{}",
        violations.join("\n")
    );
    assert!(
        finished.len() > 25,
        "the destroy deleted {} resources",
        finished.len()
    );

    let ops = emu.recorder().operations();
    let first = |op: &str| ops.iter().position(|o| o == op);
    let detach = first("DetachInternetGateway").expect("IGW detached");
    if let Some(vpc) = first("DeleteVpc") {
        assert!(
            detach < vpc,
            "IGW detached before the VPC is deleted: {ops:?}"
        );
    }
}
