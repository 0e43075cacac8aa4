//! The IAM types against the emulator: roles (trust policy compared by meaning), managed
//! policies (new default versions), attachments and instance profiles — create, read
//! back, update, import, drift, find_created and delete — and their docs pages.

mod support;

use gig_core::value::Value;
use gig_provider::{Lookup, OpContext, ReadRequest};
use serde_json::json;
use support::{a, assert_plans_clean, calls, ctx, id, s, val, with, with_defaults, Emu};

const ROLE: &str = "aws.iam_role";
const POLICY: &str = "aws.iam_policy";
const ATTACH: &str = "aws.iam_role_policy_attachment";
const PROFILE: &str = "aws.iam_instance_profile";

/// A trust policy as `jsonencode` writes it (compact, keys sorted).
const TRUST: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}],"Version":"2012-10-17"}"#;

fn json_of(v: &Value, attr: &str) -> serde_json::Value {
    serde_json::from_str(&s(v, attr)).unwrap_or_else(|e| panic!("{attr} is not JSON: {e}"))
}

#[tokio::test]
async fn role_lifecycle_with_a_trust_policy_compared_by_meaning() {
    let emu = Emu::start().await;
    let desired =
        val(json!({"name": "app-role", "assume_role_policy": TRUST, "tags": {"Team": "core"}}));
    let planned = with_defaults(ROLE, &desired);
    let made = emu.create(ROLE, &planned).await;
    assert_eq!(id(&made), "app-role");
    assert_eq!(
        s(&made, "assume_role_policy"),
        TRUST,
        "the planned spelling is kept"
    );
    assert!(
        s(&made, "arn").ends_with(":role/app-role"),
        "{}",
        s(&made, "arn")
    );
    let read = emu.read(ROLE, &made).await.expect("exists");
    assert_eq!(read, made);
    assert_plans_clean(ROLE, &desired, &read);

    // Imported with no Prior value: the same object, IAM's spelling of the same policy.
    let imported = emu.import(ROLE, "app-role").await.expect("imports");
    assert_eq!(
        json_of(&imported, "assume_role_policy"),
        json_of(&made, "assume_role_policy")
    );
    assert_eq!(
        a(&imported, "tags"),
        val(json!({"Team": "core"})),
        "gig's tags stay hidden"
    );

    // Trust policy, description and tags change in place.
    let trust2 = TRUST.replace("ec2.amazonaws.com", "ecs-tasks.amazonaws.com");
    let next = with(
        &made,
        json!({"assume_role_policy": trust2, "description": "App tier", "tags": {"Team": "web"}}),
    );
    emu.recorder().clear();
    let updated = emu.update(ROLE, &made, &next).await;
    assert_eq!(s(&updated, "description"), "App tier");
    assert_eq!(s(&updated, "assume_role_policy"), trust2);
    assert_eq!(a(&updated, "tags"), val(json!({"Team": "web"})));
    assert_eq!(calls(&emu, "UpdateAssumeRolePolicy"), 1);
    assert_eq!(calls(&emu, "UpdateRole"), 1);
    assert_eq!(calls(&emu, "TagRole"), 1);
    assert_eq!(
        calls(&emu, "UntagRole"),
        0,
        "a changed value is set, not removed"
    );

    // Drift: a description changed outside gig shows on refresh.
    let raw = emu.clients().await;
    raw.iam
        .update_role()
        .role_name("app-role")
        .description("changed by hand")
        .send()
        .await
        .unwrap();
    let drifted = emu.read(ROLE, &updated).await.expect("exists");
    assert_eq!(s(&drifted, "description"), "changed by hand");

    emu.delete(ROLE, &updated).await;
    assert_eq!(emu.read(ROLE, &updated).await, None);
    emu.delete(ROLE, &updated).await;
}

#[tokio::test]
async fn names_come_from_the_prefix_or_the_address_and_find_created_checks_tags() {
    let emu = Emu::start().await;
    let planned = with_defaults(
        ROLE,
        &val(json!({"name_prefix": "web-", "assume_role_policy": TRUST})),
    );
    let made = emu.create(ROLE, &planned).await;
    let name = s(&made, "name");
    assert!(name.starts_with("web-") && name.len() == 30, "{name}");
    assert_eq!(a(&made, "name_prefix"), Value::str("web-"));
    let read = emu.read(ROLE, &made).await.expect("exists");
    assert_eq!(read, made, "name_prefix is kept from state");

    let derived = with_defaults(ROLE, &val(json!({"assume_role_policy": TRUST})));
    let own = ctx("aws.iam_role.worker");
    let made = emu
        .provider()
        .create(&own, ROLE, &derived)
        .await
        .expect("create");
    assert!(
        s(&made, "name").starts_with("test-default-worker-"),
        "{}",
        s(&made, "name")
    );
    let found = emu
        .provider()
        .find_created(&own, ROLE, &derived)
        .await
        .unwrap();
    assert_eq!(found, Lookup::Found(vec![id(&made)]));
    let other = OpContext {
        stack: "other".into(),
        ..own.clone()
    };
    assert_eq!(
        emu.provider()
            .find_created(&other, ROLE, &derived)
            .await
            .unwrap(),
        Lookup::Found(vec![])
    );
}

#[tokio::test]
async fn policies_attachments_and_instance_profiles() {
    let emu = Emu::start().await;
    let role = emu
        .create(
            ROLE,
            &with_defaults(
                ROLE,
                &val(json!({"name": "app", "assume_role_policy": TRUST})),
            ),
        )
        .await;
    let role2 = emu
        .create(
            ROLE,
            &with_defaults(
                ROLE,
                &val(json!({"name": "app2", "assume_role_policy": TRUST})),
            ),
        )
        .await;

    let doc = r#"{"Statement":[{"Action":["ssm:GetParameter"],"Effect":"Allow","Resource":"arn:aws:ssm:*:*:parameter/app/*"}],"Version":"2012-10-17"}"#;
    let desired = val(
        json!({"name": "read-params", "policy": doc, "description": "Read the app's parameters"}),
    );
    let policy = emu.create(POLICY, &with_defaults(POLICY, &desired)).await;
    assert!(
        id(&policy).starts_with("arn:aws:iam::") && id(&policy).ends_with(":policy/read-params"),
        "{}",
        id(&policy)
    );
    assert_eq!(s(&policy, "policy"), doc);
    assert_plans_clean(
        POLICY,
        &desired,
        &emu.read(POLICY, &policy).await.expect("exists"),
    );
    let own = ctx(&format!("{POLICY}.test"));
    assert_eq!(
        emu.provider()
            .find_created(&own, POLICY, &with_defaults(POLICY, &desired))
            .await
            .unwrap(),
        Lookup::Found(vec![id(&policy)])
    );

    // A new document becomes the default version.
    let doc2 = doc.replace("ssm:GetParameter", "ssm:GetParameters");
    let updated = emu
        .update(POLICY, &policy, &with(&policy, json!({"policy": doc2})))
        .await;
    assert_eq!(
        json_of(&updated, "policy"),
        serde_json::from_str::<serde_json::Value>(&doc2).unwrap()
    );
    let imported = emu.import(POLICY, &id(&policy)).await.expect("imports");
    assert_eq!(json_of(&imported, "policy"), json_of(&updated, "policy"));

    // Attach, read back, import by `<role>/<arn>`, detach.
    let attach = with_defaults(
        ATTACH,
        &val(json!({"role": "app", "policy_arn": id(&policy)})),
    );
    let attached = emu.create(ATTACH, &attach).await;
    assert_eq!(id(&attached), format!("app/{}", id(&policy)));
    assert_eq!(
        emu.import(ATTACH, &id(&attached)).await,
        Some(attached.clone())
    );
    let bad = ReadRequest {
        address: "x".into(),
        id: "no-slash".into(),
        prior: Value::Null,
    };
    let err = emu.provider().read(ATTACH, &[bad]).await.unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("id"));

    // An instance profile carries one role; swapping it is an update.
    let profile = emu
        .create(
            PROFILE,
            &with_defaults(PROFILE, &val(json!({"name": "app", "role": "app"}))),
        )
        .await;
    assert_eq!(s(&profile, "role"), "app");
    let swapped = emu
        .update(PROFILE, &profile, &with(&profile, json!({"role": "app2"})))
        .await;
    assert_eq!(s(&swapped, "role"), "app2");
    assert_eq!(emu.read(PROFILE, &swapped).await, Some(swapped.clone()));

    emu.delete(PROFILE, &swapped).await;
    assert_eq!(emu.read(PROFILE, &swapped).await, None);
    emu.delete(ATTACH, &attached).await;
    assert_eq!(emu.read(ATTACH, &attached).await, None);
    emu.delete(POLICY, &updated).await;
    assert_eq!(emu.read(POLICY, &updated).await, None);
    emu.delete(ROLE, &role).await;
    emu.delete(ROLE, &role2).await;
}
