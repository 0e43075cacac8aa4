//! `aws.lb` against the emulator: create (waiting for `active`), read, in-place subnet /
//! security group / attribute changes, deletion protection, import, errors, read cost.

mod support;

use gig_core::value::Value;
use gig_provider::ReadRequest;
use serde_json::json;
use support::{assert_plans_clean, calls, val, with, with_defaults, Emu};

const T: &str = "aws.lb";

/// The default VPC's subnets (sorted by zone) and a new security group in it.
async fn network(emu: &Emu) -> (Vec<String>, String) {
    let raw = emu.clients().await;
    let out = raw.ec2.describe_subnets().send().await.unwrap();
    let mut subnets: Vec<(String, String)> = out
        .subnets()
        .iter()
        .map(|s| {
            (
                s.availability_zone().unwrap_or_default().to_string(),
                s.subnet_id().unwrap_or_default().to_string(),
            )
        })
        .collect();
    subnets.sort();
    let vpc = out.subnets()[0].vpc_id().unwrap().to_string();
    let sg = raw
        .ec2
        .create_security_group()
        .group_name("lb")
        .description("lb")
        .vpc_id(vpc)
        .send()
        .await
        .unwrap();
    (
        subnets.into_iter().map(|(_, id)| id).collect(),
        sg.group_id().unwrap().to_string(),
    )
}

/// The `deletion_protection.enabled` attribute as AWS reports it.
async fn protection(emu: &Emu, arn: &str) -> String {
    let attrs = lb_attributes(emu, arn).await;
    attrs
        .get("deletion_protection.enabled")
        .cloned()
        .unwrap_or_default()
}

/// The load balancer's attributes as AWS reports them, by key.
async fn lb_attributes(emu: &Emu, arn: &str) -> std::collections::BTreeMap<String, String> {
    let raw = emu.clients().await;
    let out = raw
        .elbv2
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .unwrap();
    out.attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .collect()
}

#[tokio::test]
async fn create_waits_active_and_reads_back_every_attribute() {
    let emu = Emu::start().await;
    let (subnets, sg) = network(&emu).await;
    let desired = val(json!({
        "name": "web",
        "subnets": [subnets[1], subnets[0]],
        "security_groups": [sg],
        "tags": {"Name": "web"},
    }));
    emu.recorder().clear();
    let created = emu.create(T, &with_defaults(T, &desired)).await;
    // CreateLoadBalancer answers `provisioning`; the waiter describes until `active`.
    assert!(
        calls(&emu, "DescribeLoadBalancers") >= 1,
        "waited for `active`"
    );
    assert_eq!(
        calls(&emu, "ModifyLoadBalancerAttributes"),
        0,
        "defaults need no attribute call"
    );
    let arn = support::s(&created, "arn");
    assert_eq!(support::id(&created), arn);
    assert!(support::s(&created, "arn_suffix").starts_with("app/web/"));
    assert!(support::s(&created, "dns_name").contains("elb.amazonaws.com"));
    assert!(!support::s(&created, "zone_id").is_empty());
    assert_eq!(support::s(&created, "load_balancer_type"), "application");
    assert_eq!(created.get("internal"), Some(&Value::Bool(false)));

    let read = emu.read(T, &created).await.expect("exists");
    let compared = assert_plans_clean(T, &desired, &read);
    for attr in [
        "subnets",
        "security_groups",
        "internal",
        "load_balancer_type",
        "enable_deletion_protection",
        "tags",
    ] {
        assert!(compared.contains(&attr.to_string()), "{attr} compared");
    }
    assert_eq!(read, created);

    let raw = emu.clients().await;
    let tags = raw
        .elbv2
        .describe_tags()
        .resource_arns(&arn)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = tags.tag_descriptions()[0]
        .tags()
        .iter()
        .filter_map(|t| t.key())
        .collect();
    assert!(
        keys.contains(&"gig:address") && keys.contains(&"Name"),
        "{keys:?}"
    );
}

#[tokio::test]
async fn subnets_security_groups_and_attributes_change_in_place() {
    let emu = Emu::start().await;
    let (subnets, sg) = network(&emu).await;
    let desired = val(
        json!({"name": "moving", "internal": true, "subnets": [subnets[0], subnets[1]], "idle_timeout": 120}),
    );
    emu.recorder().clear();
    let created = emu.create(T, &with_defaults(T, &desired)).await;
    assert_eq!(
        calls(&emu, "ModifyLoadBalancerAttributes"),
        1,
        "idle_timeout set on create"
    );
    assert_eq!(created.get("idle_timeout"), Some(&Value::from(120i64)));
    assert_eq!(created.get("internal"), Some(&Value::Bool(true)));

    let planned = with(
        &created,
        json!({"subnets": [subnets[0], subnets[2]], "security_groups": [sg], "idle_timeout": 30, "tags": {"k": "v"}}),
    );
    emu.recorder().clear();
    let updated = emu.update(T, &created, &planned).await;
    for op in [
        "SetSubnets",
        "SetSecurityGroups",
        "ModifyLoadBalancerAttributes",
        "AddTags",
    ] {
        assert_eq!(calls(&emu, op), 1, "{op}");
    }
    assert_eq!(calls(&emu, "CreateLoadBalancer"), 0);
    assert_eq!(
        support::id(&updated),
        support::id(&created),
        "same load balancer"
    );
    let mut want = vec![subnets[0].clone(), subnets[2].clone()];
    want.sort();
    assert_eq!(updated.get("subnets"), Some(&val(json!(want))));
    assert_eq!(updated.get("security_groups"), Some(&val(json!([sg]))));
    assert_eq!(updated.get("idle_timeout"), Some(&Value::from(30i64)));
    assert_eq!(emu.read(T, &updated).await, Some(updated.clone()));

    emu.delete(T, &updated).await;
    assert_eq!(emu.read(T, &updated).await, None);
    emu.delete(T, &updated).await;
}

#[tokio::test]
async fn deletion_protection_blocks_destroy_until_turned_off() {
    let emu = Emu::start().await;
    let (subnets, _) = network(&emu).await;
    let desired = val(
        json!({"name": "kept", "subnets": [subnets[0], subnets[1]], "enable_deletion_protection": true}),
    );
    let created = emu.create(T, &with_defaults(T, &desired)).await;
    let arn = support::id(&created);
    assert_eq!(
        created.get("enable_deletion_protection"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        protection(&emu, &arn).await,
        "true",
        "set in AWS, not just in state"
    );

    let off = emu
        .update(
            T,
            &created,
            &with(&created, json!({"enable_deletion_protection": false})),
        )
        .await;
    assert_eq!(
        off.get("enable_deletion_protection"),
        Some(&Value::Bool(false))
    );
    assert_eq!(protection(&emu, &arn).await, "false");
    let on = emu
        .update(
            T,
            &off,
            &with(&off, json!({"enable_deletion_protection": true})),
        )
        .await;
    assert_eq!(protection(&emu, &arn).await, "true");

    // AWS refuses with OperationNotPermitted and the provider reports it as is. moto 5.2.5
    // does not enforce ELBv2 deletion protection (docs/notes/emulator-gaps-services.md):
    // there the delete goes through.
    if let Err(err) = emu.provider().delete(&emu.ctx("x"), T, &arn, &on).await {
        assert_eq!(err.code.as_deref(), Some("OperationNotPermitted"), "{err}");
        assert!(emu.read(T, &on).await.is_some());
        let off = emu
            .update(
                T,
                &on,
                &with(&on, json!({"enable_deletion_protection": false})),
            )
            .await;
        emu.delete(T, &off).await;
    }
    assert_eq!(emu.read(T, &on).await, None);
}

#[tokio::test]
async fn import_and_bad_input() {
    let emu = Emu::start().await;
    let (subnets, _) = network(&emu).await;
    let raw = emu.clients().await;
    let out = raw
        .elbv2
        .create_load_balancer()
        .name("by-hand")
        .subnets(&subnets[0])
        .subnets(&subnets[1])
        .send()
        .await
        .unwrap();
    let arn = out.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let imported = emu
        .provider()
        .import(&emu.ctx("x"), T, &arn)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(support::s(&imported, "name"), "by-hand");
    assert_eq!(imported.get("tags"), Some(&val(json!({}))));
    let missing = arn.replace("/by-hand/", "/no-such/");
    assert_eq!(
        emu.provider()
            .import(&emu.ctx("x"), T, &missing)
            .await
            .unwrap(),
        None
    );

    let bad = with_defaults(
        T,
        &val(json!({"name": "bad", "subnets": ["subnet-00000000000000000"]})),
    );
    let err = emu
        .provider()
        .create(&emu.ctx("x"), T, &bad)
        .await
        .unwrap_err();
    assert!(err.code.is_some(), "an AWS code: {err}");
    assert!(
        err.message.contains("subnet-00000000000000000")
            || err.code.as_deref() == Some("SubnetNotFound"),
        "{err}"
    );
}

#[tokio::test]
async fn refresh_costs_one_describe_per_twenty() {
    let emu = Emu::start().await;
    let (subnets, _) = network(&emu).await;
    let raw = emu.clients().await;
    let mut arns = Vec::new();
    for i in 0..21 {
        let out = raw
            .elbv2
            .create_load_balancer()
            .name(format!("lb-{i}"))
            .subnets(&subnets[0])
            .subnets(&subnets[1])
            .send()
            .await
            .unwrap();
        arns.push(
            out.load_balancers()[0]
                .load_balancer_arn()
                .unwrap()
                .to_string(),
        );
    }
    let mut requests: Vec<ReadRequest> = arns
        .iter()
        .map(|a| ReadRequest {
            address: "x".into(),
            id: a.clone(),
            prior: Value::Null,
        })
        .collect();
    let gone = arns[0].replace("/lb-0/", "/gone/");
    requests.push(ReadRequest {
        address: "y".into(),
        id: gone,
        prior: Value::Null,
    });
    emu.recorder().clear();
    let out = emu.provider().read(T, &requests).await.unwrap();
    assert!(out[..21].iter().all(|r| matches!(r, Ok(Some(_)))));
    assert!(matches!(out[21], Ok(None)));
    // 22 ARNs in two chunks of 20. The missing one ("gone") sorts first, so the first chunk
    // fails with LoadBalancerNotFound and is asked again by halves: [0,10) fails, [10,20)
    // answers, [0,5) fails, [5,10), [0,2) fails, [2,5), [0,1) is absent, [1,2): 9 calls,
    // plus 1 for the second chunk.
    assert_eq!(calls(&emu, "DescribeLoadBalancers"), 10);
    assert_eq!(
        calls(&emu, "DescribeTags"),
        2,
        "tags: 21 found ARNs in chunks of 20"
    );
    assert_eq!(
        calls(&emu, "DescribeLoadBalancerAttributes"),
        21,
        "attributes: one call per load balancer"
    );
}

/// docs/resources/<type>.md is generated from the schema; `UPDATE_EXPECT=1` rewrites it.
#[test]
fn docs_pages_are_up_to_date() {
    support::assert_doc_page_up_to_date(T);
}

#[tokio::test]
async fn access_logs_are_written_read_changed_drift_and_turn_off() {
    let emu = Emu::start().await;
    let (subnets, _) = network(&emu).await;
    let raw = emu.clients().await;
    raw.s3
        .create_bucket()
        .bucket("lb-logs")
        .send()
        .await
        .unwrap();
    let logs = |prefix: &str| json!([{"bucket": "lb-logs", "prefix": prefix, "enabled": true}]);
    let desired = val(json!({
        "name": "logged", "subnets": [subnets[0], subnets[1]], "access_logs": logs("web"),
    }));
    let created = emu.create(T, &with_defaults(T, &desired)).await;
    let arn = support::id(&created);
    let attrs = lb_attributes(&emu, &arn).await;
    assert_eq!(attrs["access_logs.s3.enabled"], "true");
    assert_eq!(attrs["access_logs.s3.bucket"], "lb-logs");
    assert_eq!(attrs["access_logs.s3.prefix"], "web");
    let read = emu.read(T, &created).await.expect("exists");
    let compared = assert_plans_clean(T, &desired, &read);
    assert!(compared.contains(&"access_logs".to_string()));
    assert_eq!(read, created);

    // Import (no Prior) shows logging that is on.
    let imported = emu
        .provider()
        .import(&emu.ctx("x"), T, &arn)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(imported.get("access_logs"), Some(&val(logs("web"))));

    // In place: a new prefix.
    let planned = with(&created, json!({"access_logs": logs("edge")}));
    emu.recorder().clear();
    let updated = emu.update(T, &created, &planned).await;
    assert_eq!(calls(&emu, "ModifyLoadBalancerAttributes"), 1);
    assert_eq!(calls(&emu, "CreateLoadBalancer"), 0, "not replaced");
    assert_eq!(updated.get("access_logs"), Some(&val(logs("edge"))));
    assert_eq!(
        lb_attributes(&emu, &arn).await["access_logs.s3.prefix"],
        "edge"
    );

    // Drift: logging turned off behind gig's back shows on the next read.
    raw.elbv2
        .modify_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .attributes(
            aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                .key("access_logs.s3.enabled")
                .value("false")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drifted = emu.read(T, &updated).await.expect("exists");
    assert_eq!(
        drifted.get("access_logs"),
        Some(&val(
            json!([{"bucket": "lb-logs", "prefix": "edge", "enabled": false}])
        ))
    );
    assert!(!support::same(
        &support::schema(T, false).attributes["access_logs"].ty,
        drifted.get("access_logs").unwrap(),
        planned.get("access_logs").unwrap(),
    ));

    // Removing the block turns logging off; a load balancer that logs nothing and
    // declares nothing reads back without a block.
    let on = emu.update(T, &drifted, &planned).await;
    assert_eq!(
        lb_attributes(&emu, &arn).await["access_logs.s3.enabled"],
        "true"
    );
    let off = with(&on, json!({"access_logs": []}));
    let updated = emu.update(T, &on, &off).await;
    assert_eq!(
        lb_attributes(&emu, &arn).await["access_logs.s3.enabled"],
        "false"
    );
    assert_eq!(updated.get("access_logs"), Some(&val(json!([]))));
    emu.delete(T, &updated).await;
    assert!(emu.read(T, &updated).await.is_none());
}

#[tokio::test]
async fn name_prefix_gets_a_suffix_per_create_and_is_at_most_six_characters() {
    let emu = Emu::start().await;
    let (subnets, _) = network(&emu).await;
    let desired = val(json!({"name_prefix": "web-", "subnets": [subnets[0], subnets[1]]}));
    let planned = with_defaults(T, &desired);
    let created = emu.create(T, &planned).await;
    let name = support::s(&created, "name");
    assert!(name.starts_with("web-") && name.len() == 4 + 26, "{name}");
    assert_eq!(created.get("name_prefix"), Some(&Value::from("web-")));
    let read = emu.read(T, &created).await.expect("exists");
    assert_plans_clean(T, &desired, &read);
    assert_eq!(read, created);

    // A replacement (another create token) gets another name.
    let ctx = gig_provider::OpContext {
        token: Some("another-create".into()),
        ..emu.ctx("aws.lb.test")
    };
    let second = emu.provider().create(&ctx, T, &planned).await.unwrap();
    let other = support::s(&second, "name");
    assert!(other.starts_with("web-") && other != name, "{other}");

    // Neither name nor prefix: a derived name.
    let derived = emu
        .create(
            T,
            &with_defaults(T, &val(json!({"subnets": [subnets[0], subnets[1]]}))),
        )
        .await;
    assert!(support::s(&derived, "name").len() <= 32);

    emu.recorder().clear();
    let long = with_defaults(
        T,
        &val(json!({"name_prefix": "toolong", "subnets": [subnets[0], subnets[1]]})),
    );
    let err = emu
        .provider()
        .create(&emu.ctx("x"), T, &long)
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("name_prefix"), "{err}");
    assert_eq!(
        calls(&emu, "CreateLoadBalancer"),
        0,
        "refused before any call"
    );
}
