//! `aws.elasticache_subnet_group` against the emulator: create, read, tags, import,
//! errors and read cost; modify and delete where moto cannot show them (see
//! docs/notes/emulator-gaps-services.md) are checked by the calls made and the state left.

mod support;

use gig_provider::{ErrorClass, UpdateRequest};
use serde_json::json;
use support::{assert_plans_clean, calls, val, with, with_defaults, Emu};

const T: &str = "aws.elasticache_subnet_group";

async fn default_subnets(emu: &Emu) -> Vec<String> {
    let raw = emu.clients().await;
    let out = raw
        .ec2
        .describe_subnets()
        .send()
        .await
        .expect("describe subnets");
    let mut ids: Vec<String> = out
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn create_reads_back_every_attribute_and_updates_tags() {
    let emu = Emu::start().await;
    let subnets = default_subnets(&emu).await;
    let desired = val(
        json!({"name": "cache-net", "subnet_ids": [subnets[1], subnets[0]], "tags": {"a": "1"}}),
    );
    let created = emu.create(T, &with_defaults(T, &desired)).await;
    assert_eq!(support::id(&created), "cache-net");
    assert_eq!(support::s(&created, "description"), "Managed by gig");
    assert!(support::s(&created, "arn").ends_with(":subnetgroup:cache-net"));
    assert!(support::s(&created, "vpc_id").starts_with("vpc-"));
    let read = emu.read(T, &created).await.expect("exists");
    assert_plans_clean(T, &desired, &read);
    assert_eq!(read, created);

    let raw = emu.clients().await;
    let tags = raw
        .elasticache
        .list_tags_for_resource()
        .resource_name(support::s(&created, "arn"))
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = tags.tag_list().iter().filter_map(|t| t.key()).collect();
    assert!(
        keys.contains(&"gig:stack") && keys.contains(&"a"),
        "{keys:?}"
    );

    emu.recorder().clear();
    let updated = emu
        .update(T, &created, &with(&created, json!({"tags": {"b": "2"}})))
        .await;
    assert_eq!(updated.get("tags"), Some(&val(json!({"b": "2"}))));
    assert_eq!(
        calls(&emu, "ModifyCacheSubnetGroup"),
        0,
        "tags alone do not modify the group"
    );
    assert_eq!(emu.read(T, &updated).await, Some(updated));
}

/// moto 5.2.5 does not implement ModifyCacheSubnetGroup (HTML 500). The provider makes
/// the one call real AWS needs; the error is reported as retryable and nothing changed.
#[tokio::test]
async fn subnet_change_makes_one_modify_call() {
    let emu = Emu::start().await;
    let subnets = default_subnets(&emu).await;
    let created = emu
        .create(
            T,
            &with_defaults(
                T,
                &val(json!({"name": "moving", "subnet_ids": [subnets[0], subnets[1]]})),
            ),
        )
        .await;
    let planned = with(
        &created,
        json!({"subnet_ids": [subnets[0], subnets[2]], "description": "new"}),
    );
    let changed = vec!["description".to_string(), "subnet_ids".to_string()];
    emu.recorder().clear();
    let result = emu
        .provider()
        .update(
            &emu.ctx("x"),
            T,
            UpdateRequest {
                id: "moving",
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
        .filter(|c| c.operation == "ModifyCacheSubnetGroup")
        .collect();
    assert_eq!(modify.len(), 1, "one call (with its SDK retries)");
    match result {
        Ok(v) => assert_eq!(support::s(&v, "description"), "new"),
        Err(e) => {
            assert!(
                !modify[0].ok && modify[0].attempts > 1,
                "moto's 500 was retried by the SDK"
            );
            assert_eq!(e.class, ErrorClass::Retryable, "{e}");
            assert_eq!(
                emu.read(T, &created).await,
                Some(created.clone()),
                "nothing changed"
            );
        }
    }
}

/// moto 5.2.5 does not implement DeleteCacheSubnetGroup (HTML 500): the call is made,
/// the error is reported, and the group stays.
#[tokio::test]
async fn delete_makes_one_delete_call() {
    let emu = Emu::start().await;
    let subnets = default_subnets(&emu).await;
    let created = emu
        .create(
            T,
            &with_defaults(
                T,
                &val(json!({"name": "doomed", "subnet_ids": [subnets[0], subnets[1]]})),
            ),
        )
        .await;
    emu.recorder().clear();
    let result = emu
        .provider()
        .delete(&emu.ctx("x"), T, "doomed", &created)
        .await;
    assert_eq!(calls(&emu, "DeleteCacheSubnetGroup"), 1);
    match result {
        Ok(()) => assert_eq!(emu.read(T, &created).await, None),
        Err(e) => {
            assert_eq!(e.class, ErrorClass::Retryable, "{e}");
            assert!(emu.read(T, &created).await.is_some(), "moto kept the group");
        }
    }
    // Deleting a group that does not exist is not an error for a real cloud; moto's 500
    // for any delete makes that unobservable here.
}

#[tokio::test]
async fn import_errors_and_read_cost() {
    let emu = Emu::start().await;
    let subnets = default_subnets(&emu).await;
    let raw = emu.clients().await;
    raw.elasticache
        .create_cache_subnet_group()
        .cache_subnet_group_name("by-hand")
        .cache_subnet_group_description("by hand")
        .subnet_ids(&subnets[0])
        .send()
        .await
        .unwrap();
    let imported = emu
        .provider()
        .import(&emu.ctx("x"), T, "by-hand")
        .await
        .unwrap()
        .expect("found");
    assert_eq!(support::s(&imported, "description"), "by hand");
    assert_eq!(
        emu.provider()
            .import(&emu.ctx("x"), T, "nope")
            .await
            .unwrap(),
        None
    );

    let dup = with_defaults(
        T,
        &val(json!({"name": "by-hand", "subnet_ids": [subnets[0]]})),
    );
    let err = emu
        .provider()
        .create(&emu.ctx("x"), T, &dup)
        .await
        .unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("CacheSubnetGroupAlreadyExists"),
        "{err}"
    );
    emu.recorder().clear();
    let upper = with_defaults(
        T,
        &val(json!({"name": "Upper", "subnet_ids": [subnets[0]]})),
    );
    let err = emu
        .provider()
        .create(&emu.ctx("x"), T, &upper)
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("name"));
    assert!(emu.recorder().calls().is_empty(), "refused before any call");

    let mut made = vec![imported];
    for i in 0..3 {
        let d = with_defaults(
            T,
            &val(json!({"name": format!("g{i}"), "subnet_ids": [subnets[0]]})),
        );
        made.push(emu.create(T, &d).await);
    }
    let requests = support::read_requests_with_one_gone(&made);
    emu.recorder().clear();
    let out = emu.provider().read(T, &requests).await.unwrap();
    for (v, r) in made.iter().zip(&out) {
        assert_eq!(r.as_ref().unwrap().as_ref(), Some(v));
    }
    assert!(matches!(out[4], Ok(None)));
    assert_eq!(
        calls(&emu, "DescribeCacheSubnetGroups"),
        1,
        "one listing for many groups"
    );
    assert_eq!(
        calls(&emu, "ListTagsForResource"),
        4,
        "tags: one call per group found"
    );
}

/// docs/resources/<type>.md is generated from the schema; `UPDATE_EXPECT=1` rewrites it.
#[test]
fn docs_pages_are_up_to_date() {
    support::assert_doc_page_up_to_date(T);
}
