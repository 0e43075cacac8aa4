//! `aws.lb_target_group` and `aws.lb_target_group_attachment` against the emulator:
//! create, read, in-place health check / deregistration delay / tag changes, delete,
//! import, targets registered and deregistered, errors and read cost.

mod support;

use gig_core::value::Value;
use gig_provider::ReadRequest;
use serde_json::json;
use support::{assert_plans_clean, calls, val, with, with_defaults, Emu};

const TG: &str = "aws.lb_target_group";
const ATT: &str = "aws.lb_target_group_attachment";
const AMI: &str = "ami-0820d0c589175bc01";

async fn vpc(emu: &Emu) -> String {
    let raw = emu.clients().await;
    let out = raw.ec2.describe_vpcs().send().await.unwrap();
    out.vpcs()[0].vpc_id().unwrap().to_string()
}

async fn instances(emu: &Emu, n: i32) -> Vec<String> {
    let raw = emu.clients().await;
    let out = raw
        .ec2
        .run_instances()
        .image_id(AMI)
        .min_count(n)
        .max_count(n)
        .send()
        .await
        .unwrap();
    out.instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect()
}

fn health(path: &str, interval: i64) -> serde_json::Value {
    json!([{
        "enabled": true, "path": path, "port": "traffic-port", "protocol": "HTTP", "interval": interval,
        "timeout": 5, "healthy_threshold": 3, "unhealthy_threshold": 2, "matcher": "200-299",
    }])
}

#[tokio::test]
async fn create_update_delete_round_trip() {
    let emu = Emu::start().await;
    let vpc = vpc(&emu).await;
    let desired = val(json!({
        "name": "app", "port": 8080, "protocol": "HTTP", "vpc_id": vpc,
        "health_check": health("/healthz", 15), "deregistration_delay": 30, "tags": {"svc": "app"},
    }));
    emu.recorder().clear();
    let created = emu.create(TG, &with_defaults(TG, &desired)).await;
    assert_eq!(
        calls(&emu, "ModifyTargetGroupAttributes"),
        1,
        "deregistration_delay set on create"
    );
    assert_eq!(support::id(&created), support::s(&created, "arn"));
    assert!(support::s(&created, "arn_suffix").starts_with("targetgroup/app/"));
    let read = emu.read(TG, &created).await.expect("exists");
    let compared = assert_plans_clean(TG, &desired, &read);
    for attr in [
        "health_check",
        "deregistration_delay",
        "target_type",
        "tags",
        "port",
        "protocol",
        "vpc_id",
    ] {
        assert!(compared.contains(&attr.to_string()), "{attr} compared");
    }
    assert_eq!(read, created);

    let planned = with(
        &created,
        json!({"health_check": health("/ready", 10), "deregistration_delay": 0, "tags": {}}),
    );
    emu.recorder().clear();
    let updated = emu.update(TG, &created, &planned).await;
    for op in [
        "ModifyTargetGroup",
        "ModifyTargetGroupAttributes",
        "RemoveTags",
    ] {
        assert_eq!(calls(&emu, op), 1, "{op}");
    }
    assert_eq!(
        updated.get("health_check"),
        Some(&val(health("/ready", 10)))
    );
    assert_eq!(
        updated.get("deregistration_delay"),
        Some(&Value::from(0i64))
    );
    assert_eq!(updated.get("tags"), Some(&val(json!({}))));
    assert_eq!(support::id(&updated), support::id(&created));
    assert_eq!(emu.read(TG, &updated).await, Some(updated.clone()));

    emu.delete(TG, &updated).await;
    assert_eq!(emu.read(TG, &updated).await, None);
    emu.delete(TG, &updated).await;
}

#[tokio::test]
async fn minimal_group_plans_clean_and_imports() {
    let emu = Emu::start().await;
    let vpc = vpc(&emu).await;
    let desired = val(json!({"name": "min", "port": 80, "protocol": "HTTP", "vpc_id": vpc}));
    emu.recorder().clear();
    let created = emu.create(TG, &with_defaults(TG, &desired)).await;
    assert_eq!(
        calls(&emu, "ModifyTargetGroupAttributes"),
        0,
        "AWS's default delay needs no call"
    );
    assert_plans_clean(TG, &desired, &emu.read(TG, &created).await.unwrap());
    let imported = emu
        .provider()
        .import(&emu.ctx("x"), TG, &support::id(&created))
        .await
        .unwrap();
    assert_eq!(imported, Some(created.clone()));
    let missing = support::id(&created).replace("/min/", "/gone/");
    assert_eq!(
        emu.provider()
            .import(&emu.ctx("x"), TG, &missing)
            .await
            .unwrap(),
        None
    );

    let dup = emu
        .provider()
        .create(
            &emu.ctx("x"),
            TG,
            &with_defaults(TG, &with(&desired, json!({"port": 81}))),
        )
        .await;
    let err = dup.unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("DuplicateTargetGroupName"),
        "{err}"
    );
}

/// The target group's attributes as AWS reports them, by key.
async fn tg_attributes(emu: &Emu, arn: &str) -> std::collections::BTreeMap<String, String> {
    let raw = emu.clients().await;
    let out = raw
        .elbv2
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .unwrap();
    out.attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .collect()
}

#[tokio::test]
async fn stickiness_is_written_read_changed_and_drift_detected() {
    let emu = Emu::start().await;
    let vpc = vpc(&emu).await;
    let lb_cookie = json!([{"type": "lb_cookie", "enabled": true, "cookie_duration": 3600, "cookie_name": null}]);
    let desired = val(json!({
        "name_prefix": "app-", "port": 80, "protocol": "HTTP", "vpc_id": vpc, "stickiness": lb_cookie,
    }));
    emu.recorder().clear();
    let created = emu.create(TG, &with_defaults(TG, &desired)).await;
    assert_eq!(
        calls(&emu, "ModifyTargetGroupAttributes"),
        1,
        "one attribute call"
    );
    let name = support::s(&created, "name");
    assert!(name.starts_with("app-") && name.len() == 4 + 26, "{name}");
    let arn = support::id(&created);
    let attrs = tg_attributes(&emu, &arn).await;
    assert_eq!(attrs["stickiness.enabled"], "true");
    assert_eq!(attrs["stickiness.type"], "lb_cookie");
    assert_eq!(attrs["stickiness.lb_cookie.duration_seconds"], "3600");
    let read = emu.read(TG, &created).await.expect("exists");
    let compared = assert_plans_clean(TG, &desired, &read);
    assert!(compared.contains(&"stickiness".to_string()));
    assert_eq!(read, created);

    // Import (no Prior) reads the same block.
    let imported = emu
        .provider()
        .import(&emu.ctx("x"), TG, &arn)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(imported.get("stickiness"), Some(&val(lb_cookie)));

    // In place: the application's own cookie.
    let app_cookie = json!([{"type": "app_cookie", "enabled": true, "cookie_duration": 600, "cookie_name": "SESSION"}]);
    let planned = with(&created, json!({"stickiness": app_cookie}));
    emu.recorder().clear();
    let updated = emu.update(TG, &created, &planned).await;
    assert_eq!(calls(&emu, "CreateTargetGroup"), 0, "not replaced");
    assert_eq!(updated.get("stickiness"), Some(&val(app_cookie)));
    let attrs = tg_attributes(&emu, &arn).await;
    assert_eq!(attrs["stickiness.app_cookie.cookie_name"], "SESSION");
    assert_eq!(attrs["stickiness.app_cookie.duration_seconds"], "600");

    // Drift: stickiness turned off behind gig's back shows on the next read.
    let raw = emu.clients().await;
    raw.elbv2
        .modify_target_group_attributes()
        .target_group_arn(&arn)
        .attributes(
            aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                .key("stickiness.enabled")
                .value("false")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drifted = emu.read(TG, &updated).await.expect("exists");
    let sticky = drifted
        .get("stickiness")
        .and_then(|s| s.as_list())
        .expect("a block");
    assert_eq!(sticky[0].get("enabled"), Some(&Value::Bool(false)));
    assert!(!support::same(
        &support::schema(TG, false).attributes["stickiness"].ty,
        drifted.get("stickiness").unwrap(),
        planned.get("stickiness").unwrap(),
    ));
    emu.delete(TG, &drifted).await;
    assert!(emu.read(TG, &drifted).await.is_none());

    // Without a block AWS's setting is kept and read back (stickiness off).
    let plain = val(json!({"name": "plain", "port": 80, "protocol": "HTTP", "vpc_id": vpc}));
    let created = emu.create(TG, &with_defaults(TG, &plain)).await;
    let sticky = created
        .get("stickiness")
        .and_then(|s| s.as_list())
        .expect("a block");
    assert_eq!(sticky[0].get("enabled"), Some(&Value::Bool(false)));

    emu.recorder().clear();
    let long = with_defaults(
        TG,
        &with(&plain, json!({"name": null, "name_prefix": "toolong"})),
    );
    let err = emu
        .provider()
        .create(&emu.ctx("x"), TG, &long)
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("name_prefix"), "{err}");
    assert_eq!(
        calls(&emu, "CreateTargetGroup"),
        0,
        "refused before any call"
    );
}

#[tokio::test]
async fn a_group_in_use_is_not_deleted() {
    let emu = Emu::start().await;
    let vpc = vpc(&emu).await;
    let created = emu
        .create(
            TG,
            &with_defaults(
                TG,
                &val(json!({"name": "used", "port": 80, "protocol": "HTTP", "vpc_id": vpc})),
            ),
        )
        .await;
    let raw = emu.clients().await;
    let lb_arn = support::raw_load_balancer(&emu, "user").await;
    let action = aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
        .target_group_arn(support::id(&created))
        .build();
    raw.elbv2
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .port(80)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .default_actions(action)
        .send()
        .await
        .unwrap();
    emu.recorder().clear();
    let err = emu
        .provider()
        .delete(&emu.ctx("x"), TG, &support::id(&created), &created)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ResourceInUse"), "{err}");
    assert!(
        calls(&emu, "DeleteTargetGroup") > 1,
        "ResourceInUse is retried for a while"
    );
    let read = emu.read(TG, &created).await.expect("still there");
    assert_eq!(read.get("load_balancer_arns"), Some(&val(json!([lb_arn]))));
}

#[tokio::test]
async fn attachments_register_read_and_deregister() {
    let emu = Emu::start().await;
    let vpc = vpc(&emu).await;
    let tg = emu
        .create(
            TG,
            &with_defaults(
                TG,
                &val(json!({"name": "targets", "port": 80, "protocol": "HTTP", "vpc_id": vpc})),
            ),
        )
        .await;
    let tg_arn = support::id(&tg);
    let ids = instances(&emu, 3).await;

    let desired = val(json!({"target_group_arn": tg_arn, "target_id": ids[0], "port": 8080}));
    let a = emu.create(ATT, &with_defaults(ATT, &desired)).await;
    assert_eq!(support::id(&a), format!("{tg_arn},{},8080", ids[0]));
    assert_plans_clean(ATT, &desired, &emu.read(ATT, &a).await.expect("registered"));
    let b = emu
        .create(
            ATT,
            &val(json!({"target_group_arn": tg_arn, "target_id": ids[1]})),
        )
        .await;
    assert_eq!(support::id(&b), format!("{tg_arn},{}", ids[1]));

    // Read cost: one DescribeTargetHealth per target group, whatever the number of targets.
    let never = format!("{tg_arn},{},80", ids[2]);
    let requests = vec![
        ReadRequest {
            address: "a".into(),
            id: support::id(&a),
            prior: a.clone(),
        },
        ReadRequest {
            address: "b".into(),
            id: support::id(&b),
            prior: b.clone(),
        },
        ReadRequest {
            address: "c".into(),
            id: never.clone(),
            prior: Value::Null,
        },
    ];
    emu.recorder().clear();
    let out = emu.provider().read(ATT, &requests).await.unwrap();
    assert_eq!(out[0].as_ref().unwrap().as_ref(), Some(&a));
    assert_eq!(out[1].as_ref().unwrap().as_ref(), Some(&b));
    assert_eq!(out[2].as_ref().unwrap(), &None, "never registered");
    assert_eq!(calls(&emu, "DescribeTargetHealth"), 1);

    // Import takes the composite id.
    let imported = emu
        .provider()
        .import(&emu.ctx("x"), ATT, &support::id(&a))
        .await
        .unwrap();
    assert_eq!(imported, Some(a.clone()));
    let err = emu
        .provider()
        .import(&emu.ctx("x"), ATT, "not-an-id")
        .await
        .unwrap_err();
    assert!(err.message.contains("TARGET_GROUP_ARN,TARGET_ID"), "{err}");

    emu.delete(ATT, &a).await;
    assert_eq!(emu.read(ATT, &a).await, None);
    emu.delete(ATT, &a).await;
    // Gone with its target group.
    emu.delete(TG, &tg).await;
    assert_eq!(emu.read(ATT, &b).await, None);
    emu.delete(ATT, &b).await;
}

#[tokio::test]
async fn refresh_of_many_groups_costs_one_describe_per_twenty() {
    let emu = Emu::start().await;
    let vpc = vpc(&emu).await;
    let mut made = Vec::new();
    for i in 0..3 {
        let d =
            val(json!({"name": format!("tg-{i}"), "port": 80, "protocol": "HTTP", "vpc_id": vpc}));
        made.push(emu.create(TG, &with_defaults(TG, &d)).await);
    }
    let mut requests: Vec<ReadRequest> = made
        .iter()
        .map(|v| ReadRequest {
            address: "x".into(),
            id: support::id(v),
            prior: v.clone(),
        })
        .collect();
    requests.push(ReadRequest {
        address: "y".into(),
        id: support::id(&made[0]).replace("/tg-0/", "/gone/"),
        prior: Value::Null,
    });
    emu.recorder().clear();
    let out = emu.provider().read(TG, &requests).await.unwrap();
    for (v, r) in made.iter().zip(&out) {
        assert_eq!(r.as_ref().unwrap().as_ref(), Some(v));
    }
    assert!(matches!(out[3], Ok(None)));
    // One chunk; on a NotFound for the chunk (as AWS answers), one call per ARN follows.
    let describes = calls(&emu, "DescribeTargetGroups");
    assert!(
        describes == 1 || describes == 5,
        "{describes} DescribeTargetGroups calls"
    );
    assert_eq!(calls(&emu, "DescribeTags"), 1);
    assert_eq!(calls(&emu, "DescribeTargetGroupAttributes"), 3);
}

/// docs/resources/<type>.md is generated from the schema; `UPDATE_EXPECT=1` rewrites it.
#[test]
fn docs_pages_are_up_to_date() {
    for t in [TG, ATT] {
        support::assert_doc_page_up_to_date(t);
    }
}
