//! `aws.elasticache_cluster` against the emulator: create, read-back, import, tags and
//! drift; in-place modify and delete, which moto 5.2.5 cannot complete (see
//! docs/notes/emulator-gaps-services.md), are checked by the calls made and the state
//! left behind. Also its docs page.

mod support;

use gig_core::value::Value;
use gig_provider::{ErrorClass, UpdateRequest};
use serde_json::json;
use support::{assert_plans_clean, calls, id, s, val, with, with_defaults, Emu};

const T: &str = "aws.elasticache_cluster";

fn memcached(id: &str) -> serde_json::Value {
    json!({
        "cluster_id": id,
        "engine": "memcached",
        "node_type": "cache.t3.micro",
        "num_cache_nodes": 2,
    })
}

/// A cache subnet group over the default VPC's subnets, made behind gig's back.
async fn subnet_group(emu: &Emu, name: &str) {
    let raw = emu.clients().await;
    let subnets = raw.ec2.describe_subnets().send().await.unwrap();
    let ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    raw.elasticache
        .create_cache_subnet_group()
        .cache_subnet_group_name(name)
        .cache_subnet_group_description("d")
        .set_subnet_ids(Some(ids))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn memcached_cluster_is_created_read_back_imported_and_tagged() {
    let emu = Emu::start().await;
    subnet_group(&emu, "cache-net").await;
    let desired = val(json!({
        "cluster_id": "sessions",
        "engine": "memcached",
        "node_type": "cache.t3.micro",
        "num_cache_nodes": 2,
        "engine_version": "1.6.22",
        "port": 11211,
        "subnet_group_name": "cache-net",
        "security_group_ids": ["sg-0123456789abcdef0"],
        "maintenance_window": "sun:05:00-sun:06:00",
        "tags": {"team": "web"},
    }));
    emu.recorder().clear();
    let created = emu.create(T, &with_defaults(T, &desired)).await;
    assert_eq!(calls(&emu, "CreateCacheCluster"), 1);
    assert_eq!(id(&created), "sessions");
    assert!(
        s(&created, "arn").ends_with(":cluster:sessions"),
        "{created:?}"
    );
    for attr in [
        "engine",
        "node_type",
        "num_cache_nodes",
        "engine_version",
        "port",
        "subnet_group_name",
        "security_group_ids",
        "maintenance_window",
        "tags",
    ] {
        assert_eq!(created.get(attr), desired.get(attr), "{attr} round-trips");
    }
    assert_eq!(
        created.get("apply_immediately"),
        Some(&Value::Bool(true)),
        "the gig setting's default"
    );
    assert_eq!(created.get("status"), None, "the state is no attribute");
    let read = emu.read(T, &created).await.expect("exists");
    assert_eq!(read, created);
    assert_plans_clean(T, &desired, &read);

    // Imported by id with no Prior value. moto 5.2.5 reports no security groups, nodes or
    // endpoint (so no port) for a cache cluster: the recorded values are kept on a read,
    // and an import shows them unknown where AWS shows the cluster's.
    let imported = emu.import(T, "sessions").await.expect("imports");
    for attr in ["engine", "node_type", "num_cache_nodes", "tags", "arn"] {
        assert_eq!(imported.get(attr), created.get(attr), "{attr} imports");
    }

    // Tags change in place through the tag calls, without a modify.
    emu.recorder().clear();
    let retagged = emu
        .update(
            T,
            &created,
            &with(&created, json!({"tags": {"team": "api"}})),
        )
        .await;
    assert_eq!(retagged.get("tags"), Some(&val(json!({"team": "api"}))));
    assert_eq!(calls(&emu, "AddTagsToResource"), 1);
    assert_eq!(calls(&emu, "ModifyCacheCluster"), 0);

    // Drift: a tag added behind gig's back shows on the next read; gig's own tags do not.
    let raw = emu.clients().await;
    raw.elasticache
        .add_tags_to_resource()
        .resource_name(s(&created, "arn"))
        .tags(
            aws_sdk_elasticache::types::Tag::builder()
                .key("owner")
                .value("someone")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drifted = emu.read(T, &retagged).await.expect("exists");
    assert_eq!(
        drifted.get("tags"),
        Some(&val(json!({"team": "api", "owner": "someone"})))
    );
}

#[tokio::test]
async fn a_redis_cluster_gets_its_defaults_and_plans_clean() {
    let emu = Emu::start().await;
    let desired = val(json!({
        "cluster_id": "redis-one",
        "engine": "redis",
        "node_type": "cache.t3.micro",
        "snapshot_retention_limit": 3,
    }));
    let created = emu.create(T, &with_defaults(T, &desired)).await;
    assert_eq!(created.get("num_cache_nodes"), Some(&Value::from(1i64)));
    // The port comes from the nodes' endpoints, which moto 5.2.5 does not report.
    let port = created.get("port").cloned().unwrap_or(Value::Null);
    assert!(port.is_null() || port == Value::from(6379i64), "{port:?}");
    assert_eq!(
        created.get("snapshot_retention_limit"),
        Some(&Value::from(3i64))
    );
    let read = emu.read(T, &created).await.expect("exists");
    assert_plans_clean(T, &desired, &read);
}

/// moto 5.2.5 does not implement ModifyCacheCluster (HTML 500): one call carries both
/// changes, the error is retryable and the cluster is unchanged. On AWS the driver then
/// waits for `available` within `timeouts { update }`.
#[tokio::test]
async fn in_place_changes_are_one_modify_call() {
    let emu = Emu::start().await;
    let created = emu
        .create(T, &with_defaults(T, &val(memcached("mod"))))
        .await;
    let planned = with(
        &created,
        json!({"node_type": "cache.t3.small", "num_cache_nodes": 1}),
    );
    let changed = vec!["node_type".to_string(), "num_cache_nodes".to_string()];
    emu.recorder().clear();
    let result = emu
        .provider()
        .update(
            &emu.ctx("x"),
            T,
            UpdateRequest {
                id: "mod",
                prior: &created,
                planned: &planned,
                changed: &changed,
            },
        )
        .await;
    let modify: Vec<_> = emu
        .recorder()
        .calls()
        .into_iter()
        .filter(|c| c.operation == "ModifyCacheCluster")
        .collect();
    assert_eq!(modify.len(), 1, "one modify for both changes");
    match result {
        Ok(v) => assert_eq!(s(&v, "node_type"), "cache.t3.small"),
        Err(e) => {
            assert_eq!(e.class, ErrorClass::Retryable, "{e}");
            assert_eq!(emu.read(T, &created).await, Some(created.clone()));
        }
    }
}

/// moto 5.2.5 leaves a deleted cluster `deleting` forever: the wait ends at the
/// `timeouts { delete }` limit with the last state seen.
#[tokio::test]
async fn delete_waits_within_its_timeout() {
    let emu = Emu::start().await;
    let d = with(
        &val(memcached("doomed")),
        json!({"timeouts": [{"delete": "2s"}]}),
    );
    let created = emu.create(T, &with_defaults(T, &d)).await;
    assert_eq!(created.get("timeouts"), d.get("timeouts"));
    emu.recorder().clear();
    let started = std::time::Instant::now();
    let result = emu
        .provider()
        .delete(&emu.ctx("x"), T, "doomed", &created)
        .await;
    assert_eq!(calls(&emu, "DeleteCacheCluster"), 1);
    match result {
        Ok(()) => assert_eq!(emu.read(T, &created).await, None),
        Err(e) => {
            assert!(started.elapsed() < std::time::Duration::from_secs(10));
            assert!(
                e.message.contains("timed out") && e.message.contains("deleting"),
                "{e}"
            );
        }
    }
    // A cluster already gone counts as deleted.
    emu.provider()
        .delete(&emu.ctx("x"), T, "never-made", &created)
        .await
        .expect("gone is deleted");
}

#[tokio::test]
async fn bad_ids_are_refused_before_any_call() {
    let emu = Emu::start().await;
    emu.recorder().clear();
    let err = emu
        .provider()
        .create(
            &emu.ctx(&format!("{T}.bad")),
            T,
            &with_defaults(T, &val(memcached("Upper-Case"))),
        )
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("cluster_id"), "{err}");
    assert_eq!(calls(&emu, "CreateCacheCluster"), 0);
}

#[test]
fn docs_page_is_current() {
    support::assert_doc_page_up_to_date(T);
}
