//! Log groups, SNS topics and subscriptions, KMS keys and aliases against the emulator:
//! create, read back, update, import, drift and delete.

mod support;

use gig_core::value::Value;
use gig_provider::Lookup;
use serde_json::json;
use support::{a, assert_plans_clean, calls, ctx, id, s, val, with, with_defaults, Emu};

#[tokio::test]
async fn log_group_retention_changes_in_place() {
    const T: &str = "aws.cloudwatch_log_group";
    let emu = Emu::start().await;
    let desired =
        val(json!({"name": "/giggatek/app", "retention_in_days": 30, "tags": {"Tier": "app"}}));
    let made = emu.create(T, &with_defaults(T, &desired)).await;
    assert_eq!(id(&made), "/giggatek/app");
    assert!(
        s(&made, "arn").ends_with(":log-group:/giggatek/app"),
        "{}",
        s(&made, "arn")
    );
    assert_plans_clean(T, &desired, &emu.read(T, &made).await.expect("exists"));
    assert_eq!(emu.import(T, "/giggatek/app").await, Some(made.clone()));

    let kept_forever = emu
        .update(
            T,
            &made,
            &with(&made, json!({"retention_in_days": null, "tags": {}})),
        )
        .await;
    assert_eq!(a(&kept_forever, "retention_in_days"), Value::Null);
    assert_eq!(a(&kept_forever, "tags"), val(json!({})));
    let raw = emu.clients().await;
    raw.logs
        .put_retention_policy()
        .log_group_name("/giggatek/app")
        .retention_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(
        a(
            &emu.read(T, &kept_forever).await.unwrap(),
            "retention_in_days"
        ),
        Value::from(7i64),
        "drift shows"
    );

    emu.delete(T, &kept_forever).await;
    assert_eq!(emu.read(T, &kept_forever).await, None);
    emu.delete(T, &kept_forever).await;
}

#[tokio::test]
async fn topics_and_subscriptions() {
    const TOPIC: &str = "aws.sns_topic";
    const SUB: &str = "aws.sns_topic_subscription";
    let emu = Emu::start().await;
    let desired = val(json!({"name": "alerts", "display_name": "Alerts", "tags": {"Team": "ops"}}));
    let topic = emu.create(TOPIC, &with_defaults(TOPIC, &desired)).await;
    assert!(id(&topic).ends_with(":alerts"), "{}", id(&topic));
    assert_plans_clean(
        TOPIC,
        &desired,
        &emu.read(TOPIC, &topic).await.expect("exists"),
    );
    assert_eq!(emu.import(TOPIC, &id(&topic)).await, Some(topic.clone()));
    let planned = with_defaults(TOPIC, &desired);
    assert_eq!(
        emu.provider()
            .find_created(&ctx("aws.sns_topic.test"), TOPIC, &planned)
            .await
            .unwrap(),
        Lookup::Repeatable
    );

    emu.recorder().clear();
    let renamed = emu
        .update(
            TOPIC,
            &topic,
            &with(&topic, json!({"display_name": "Ops alerts", "tags": {}})),
        )
        .await;
    assert_eq!(s(&renamed, "display_name"), "Ops alerts");
    assert_eq!(a(&renamed, "tags"), val(json!({})));
    assert_eq!(calls(&emu, "SetTopicAttributes"), 1);
    assert_eq!(calls(&emu, "UntagResource"), 1);

    let sub_desired = val(
        json!({"topic_arn": id(&topic), "protocol": "email", "endpoint": "oncall@example.com"}),
    );
    let sub = emu.create(SUB, &with_defaults(SUB, &sub_desired)).await;
    assert_plans_clean(
        SUB,
        &sub_desired,
        &emu.read(SUB, &sub).await.expect("exists"),
    );
    assert_eq!(emu.import(SUB, &id(&sub)).await, Some(sub.clone()));
    let raw_on = emu
        .update(
            SUB,
            &sub,
            &with(&sub, json!({"raw_message_delivery": true})),
        )
        .await;
    assert_eq!(a(&raw_on, "raw_message_delivery"), Value::Bool(true));

    emu.delete(SUB, &raw_on).await;
    assert_eq!(emu.read(SUB, &raw_on).await, None);
    emu.delete(TOPIC, &renamed).await;
    assert_eq!(emu.read(TOPIC, &renamed).await, None);
    emu.delete(TOPIC, &renamed).await;
}

#[tokio::test]
async fn keys_rotate_in_place_and_deletion_is_scheduled() {
    const KEY: &str = "aws.kms_key";
    const ALIAS: &str = "aws.kms_alias";
    let emu = Emu::start().await;
    let desired = val(json!({"description": "backups", "tags": {"Data": "backups"}}));
    let key = emu.create(KEY, &with_defaults(KEY, &desired)).await;
    assert_eq!(s(&key, "key_id"), id(&key));
    assert_eq!(a(&key, "deletion_window_in_days"), Value::from(30i64));
    assert_plans_clean(KEY, &desired, &emu.read(KEY, &key).await.expect("exists"));
    assert_eq!(
        emu.import(KEY, &id(&key)).await,
        Some(key.clone()),
        "import fills the gig setting's default"
    );
    let own = ctx("aws.kms_key.test");
    assert_eq!(
        emu.provider()
            .find_created(&own, KEY, &with_defaults(KEY, &desired))
            .await
            .unwrap(),
        Lookup::Found(vec![id(&key)])
    );

    let rotated = emu
        .update(KEY, &key, &with(&key, json!({"enable_key_rotation": true, "description": "backup bucket", "deletion_window_in_days": 7})))
        .await;
    assert_eq!(a(&rotated, "enable_key_rotation"), Value::Bool(true));
    assert_eq!(s(&rotated, "description"), "backup bucket");
    assert_eq!(a(&rotated, "deletion_window_in_days"), Value::from(7i64));

    let key2 = emu.create(KEY, &with_defaults(KEY, &val(json!({})))).await;
    let alias_desired = val(json!({"name": "alias/backups", "target_key_id": s(&key, "arn")}));
    let alias = emu
        .create(ALIAS, &with_defaults(ALIAS, &alias_desired))
        .await;
    assert_eq!(
        s(&alias, "target_key_id"),
        s(&key, "arn"),
        "the key's ARN reads back as written"
    );
    assert_plans_clean(
        ALIAS,
        &alias_desired,
        &emu.read(ALIAS, &alias).await.expect("exists"),
    );
    let moved = emu
        .update(
            ALIAS,
            &alias,
            &with(&alias, json!({"target_key_id": id(&key2)})),
        )
        .await;
    assert_eq!(s(&moved, "target_key_id"), id(&key2));
    let bad = with_defaults(
        ALIAS,
        &val(json!({"name": "backups", "target_key_id": id(&key2)})),
    );
    let err = emu
        .provider()
        .create(&ctx("aws.kms_alias.bad"), ALIAS, &bad)
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("name"));

    emu.delete(ALIAS, &moved).await;
    assert_eq!(emu.read(ALIAS, &moved).await, None);
    emu.recorder().clear();
    emu.delete(KEY, &rotated).await;
    assert_eq!(calls(&emu, "ScheduleKeyDeletion"), 1);
    assert_eq!(
        emu.read(KEY, &rotated).await,
        None,
        "a key pending deletion is gone"
    );
    emu.delete(KEY, &rotated).await;
    emu.delete(KEY, &key2).await;
}
