//! `aws.lb_listener` and `aws.lb_listener_rule` against the emulator: forward, redirect
//! and fixed-response actions, conditions, in-place changes, priorities, import, errors
//! and read cost.

mod support;

use gig_core::value::Value;
use gig_provider::ReadRequest;
use serde_json::json;
use support::{assert_plans_clean, calls, val, with, with_defaults, Emu};

const L: &str = "aws.lb_listener";
const R: &str = "aws.lb_listener_rule";

/// A load balancer and two target groups in the default VPC: (lb arn, [tg arns]).
async fn setup(emu: &Emu) -> (String, Vec<String>) {
    let raw = emu.clients().await;
    let out = raw.ec2.describe_subnets().send().await.unwrap();
    let vpc = out.subnets()[0].vpc_id().unwrap().to_string();
    let lb = support::raw_load_balancer(emu, "web").await;
    let mut tgs = Vec::new();
    for name in ["blue", "green"] {
        let tg = raw
            .elbv2
            .create_target_group()
            .name(name)
            .port(80)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        tgs.push(
            tg.target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_string(),
        );
    }
    (lb, tgs)
}

fn forward(tg: &str) -> serde_json::Value {
    json!([{"type": "forward", "target_group_arn": tg}])
}

#[tokio::test]
async fn listener_round_trip_and_in_place_changes() {
    let emu = Emu::start().await;
    let (lb, tgs) = setup(&emu).await;
    let desired = val(
        json!({"load_balancer_arn": lb, "port": 80, "protocol": "HTTP", "default_action": forward(&tgs[0]), "tags": {"a": "1"}}),
    );
    let created = emu.create(L, &with_defaults(L, &desired)).await;
    assert_eq!(support::id(&created), support::s(&created, "arn"));
    let read = emu.read(L, &created).await.expect("exists");
    let compared = assert_plans_clean(L, &desired, &read);
    assert!(compared.contains(&"default_action".to_string()));
    assert_eq!(read, created);

    // Port and default action change in place through one ModifyListener.
    let planned = with(
        &created,
        json!({"port": 8080, "default_action": forward(&tgs[1])}),
    );
    emu.recorder().clear();
    let updated = emu.update(L, &created, &planned).await;
    assert_eq!(calls(&emu, "ModifyListener"), 1);
    assert_eq!(calls(&emu, "CreateListener"), 0);
    assert_eq!(support::id(&updated), support::id(&created));
    assert_eq!(updated.get("port"), Some(&Value::from(8080i64)));
    assert_eq!(
        updated.get("default_action"),
        Some(&val(
            json!([{"type": "forward", "target_group_arn": tgs[1], "redirect": null, "fixed_response": null}])
        ))
    );

    // A redirect, then a fixed response.
    let redirect = json!([{"type": "redirect", "redirect": [{
        "host": "#{host}", "path": "/#{path}", "port": "443", "protocol": "HTTPS", "query": "#{query}", "status_code": "HTTP_301"}]}]);
    let redirected = emu
        .update(
            L,
            &updated,
            &with(&updated, json!({"default_action": redirect})),
        )
        .await;
    let got = redirected.get("default_action").unwrap().as_list().unwrap()[0].clone();
    assert_eq!(got.get("type"), Some(&Value::str("redirect")));
    assert_eq!(
        got.get("redirect"),
        Some(&val(redirect[0]["redirect"].clone()))
    );
    let fixed = json!([{"type": "fixed-response", "fixed_response": [{"content_type": "text/plain", "message_body": "down", "status_code": "503"}]}]);
    let fixed_v = emu
        .update(
            L,
            &redirected,
            &with(&redirected, json!({"default_action": fixed})),
        )
        .await;
    let got = fixed_v.get("default_action").unwrap().as_list().unwrap()[0].clone();
    assert_eq!(
        got.get("fixed_response"),
        Some(&val(fixed[0]["fixed_response"].clone()))
    );
    assert_eq!(emu.read(L, &fixed_v).await, Some(fixed_v.clone()));

    emu.delete(L, &fixed_v).await;
    assert_eq!(emu.read(L, &fixed_v).await, None);
    emu.delete(L, &fixed_v).await;
}

#[tokio::test]
async fn listener_import_errors_and_read_cost() {
    let emu = Emu::start().await;
    let (lb, tgs) = setup(&emu).await;
    let mut made = Vec::new();
    for port in [80, 81, 82] {
        let d = val(
            json!({"load_balancer_arn": lb, "port": port, "protocol": "HTTP", "default_action": forward(&tgs[0])}),
        );
        made.push(emu.create(L, &with_defaults(L, &d)).await);
    }
    let imported = emu
        .provider()
        .import(&emu.ctx("x"), L, &support::id(&made[0]))
        .await
        .unwrap();
    assert_eq!(imported, Some(made[0].clone()));

    let requests: Vec<ReadRequest> = made
        .iter()
        .map(|v| ReadRequest {
            address: "x".into(),
            id: support::id(v),
            prior: v.clone(),
        })
        .collect();
    emu.recorder().clear();
    let out = emu.provider().read(L, &requests).await.unwrap();
    for (v, r) in made.iter().zip(&out) {
        assert_eq!(r.as_ref().unwrap().as_ref(), Some(v));
    }
    assert_eq!(calls(&emu, "DescribeListeners"), 1);
    assert_eq!(calls(&emu, "DescribeTags"), 1);

    // A second listener on the same port (AWS: DuplicateListener) is not checked: moto
    // 5.2.5 accepts it (docs/notes/emulator-gaps-services.md).
    // An empty default action list is refused before any call.
    let bad =
        val(json!({"load_balancer_arn": lb, "port": 90, "protocol": "HTTP", "default_action": []}));
    emu.recorder().clear();
    let err = emu
        .provider()
        .create(&emu.ctx("x"), L, &with_defaults(L, &bad))
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("default_action"));
    assert!(emu.recorder().calls().is_empty());
    // A forward to a target group that does not exist: AWS's TargetGroupNotFound.
    let missing = tgs[0].replace("/blue/", "/nope/");
    let bad = val(
        json!({"load_balancer_arn": lb, "port": 91, "protocol": "HTTP", "default_action": forward(&missing)}),
    );
    let err = emu
        .provider()
        .create(&emu.ctx("x"), L, &with_defaults(L, &bad))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("TargetGroupNotFound"), "{err}");
}

#[tokio::test]
async fn rule_round_trip_priorities_and_changes() {
    let emu = Emu::start().await;
    let (lb, tgs) = setup(&emu).await;
    let listener = emu
        .create(L, &with_defaults(L, &val(json!({"load_balancer_arn": lb, "port": 80, "protocol": "HTTP", "default_action": forward(&tgs[0])}))))
        .await;
    let listener_arn = support::id(&listener);
    let desired = val(json!({
        "listener_arn": listener_arn,
        "priority": 10,
        "condition": [{"path_pattern": [{"values": ["/api/*", "/v2/*"]}]}, {"host_header": [{"values": ["api.example.com"]}]}],
        "action": forward(&tgs[1]),
        "tags": {"r": "api"},
    }));
    let rule = emu.create(R, &with_defaults(R, &desired)).await;
    assert_eq!(
        support::s(&rule, "listener_arn"),
        listener_arn,
        "derived from the rule ARN"
    );
    let read = emu.read(R, &rule).await.expect("exists");
    let compared = assert_plans_clean(R, &desired, &read);
    for attr in ["listener_arn", "priority", "condition", "action", "tags"] {
        assert!(compared.contains(&attr.to_string()), "{attr} compared");
    }
    assert_eq!(read, rule);

    // Without a priority: after the listener's last rule.
    let second = val(
        json!({"listener_arn": listener_arn, "condition": [{"http_request_method": [{"values": ["POST"]}]}], "action": forward(&tgs[0])}),
    );
    let second = emu.create(R, &with_defaults(R, &second)).await;
    assert_eq!(second.get("priority"), Some(&Value::from(11i64)));

    let planned = with(
        &rule,
        json!({"priority": 5, "condition": [{"path_pattern": [{"values": ["/api/*"]}]}], "action": forward(&tgs[0])}),
    );
    emu.recorder().clear();
    let updated = emu.update(R, &rule, &planned).await;
    assert_eq!(calls(&emu, "SetRulePriorities"), 1);
    assert_eq!(calls(&emu, "ModifyRule"), 1);
    assert_eq!(calls(&emu, "CreateRule"), 0);
    assert_eq!(updated.get("priority"), Some(&Value::from(5i64)));
    assert_eq!(
        updated
            .get("condition")
            .and_then(|c| c.as_list())
            .map(|c| c.len()),
        Some(1),
        "the host condition was dropped"
    );
    assert_eq!(emu.read(R, &updated).await, Some(updated.clone()));

    let imported = emu
        .provider()
        .import(&emu.ctx("x"), R, &support::id(&updated))
        .await
        .unwrap();
    assert_eq!(imported, Some(updated.clone()));

    let requests = vec![
        ReadRequest {
            address: "a".into(),
            id: support::id(&updated),
            prior: updated.clone(),
        },
        ReadRequest {
            address: "b".into(),
            id: support::id(&second),
            prior: second.clone(),
        },
    ];
    emu.recorder().clear();
    let out = emu.provider().read(R, &requests).await.unwrap();
    assert!(out.iter().all(|r| matches!(r, Ok(Some(_)))));
    assert_eq!(calls(&emu, "DescribeRules"), 1);

    // A condition block holding two kinds is refused before any call.
    let bad = with(
        &desired,
        json!({"priority": 30, "condition": [{"path_pattern": [{"values": ["/x"]}], "host_header": [{"values": ["x"]}]}]}),
    );
    emu.recorder().clear();
    let err = emu
        .provider()
        .create(&emu.ctx("x"), R, &with_defaults(R, &bad))
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("condition"));
    assert!(emu.recorder().calls().is_empty());
    // The same priority twice: AWS's PriorityInUse.
    let dup = with(&desired, json!({"priority": 5}));
    let err = emu
        .provider()
        .create(&emu.ctx("x"), R, &with_defaults(R, &dup))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("PriorityInUse"), "{err}");

    emu.delete(R, &updated).await;
    assert_eq!(emu.read(R, &updated).await, None);
    emu.delete(R, &updated).await;
}

/// docs/resources/<type>.md is generated from the schema; `UPDATE_EXPECT=1` rewrites it.
#[test]
fn docs_pages_are_up_to_date() {
    for t in [L, R] {
        support::assert_doc_page_up_to_date(t);
    }
}
