//! CloudWatch metric alarms against the emulator: create with an SNS action, read back,
//! import, in-place update, drift, a taken name refused, find_created and delete.

mod support;

use gig_core::value::Value;
use gig_provider::Lookup;
use serde_json::json;
use support::{a, assert_plans_clean, calls, ctx, id, s, val, with, with_defaults, Emu};

const T: &str = "aws.cloudwatch_metric_alarm";

#[tokio::test]
async fn alarm_lifecycle_with_an_sns_action() {
    let emu = Emu::start().await;
    let topic = emu
        .create(
            "aws.sns_topic",
            &with_defaults("aws.sns_topic", &val(json!({"name": "alerts"}))),
        )
        .await;
    let desired = val(json!({
        "name": "giggatek-db-cpu",
        "namespace": "AWS/RDS",
        "metric_name": "CPUUtilization",
        "dimensions": {"DBInstanceIdentifier": "giggatek-db"},
        "statistic": "Average",
        "period": 300,
        "evaluation_periods": 2,
        "comparison_operator": "GreaterThanThreshold",
        "threshold": 80.5,
        "alarm_description": "Database CPU above 80%",
        "alarm_actions": [id(&topic)],
        "tags": {"Tier": "db"}
    }));
    let made = emu.create(T, &with_defaults(T, &desired)).await;
    assert_eq!(id(&made), "giggatek-db-cpu");
    assert!(
        s(&made, "arn").ends_with(":alarm:giggatek-db-cpu"),
        "{}",
        s(&made, "arn")
    );
    assert_eq!(a(&made, "threshold"), Value::Number(80.5));
    assert_eq!(a(&made, "alarm_actions"), val(json!([id(&topic)])));
    assert_eq!(a(&made, "tags"), val(json!({"Tier": "db"})));
    assert_plans_clean(T, &desired, &emu.read(T, &made).await.expect("exists"));
    assert_eq!(emu.import(T, "giggatek-db-cpu").await, Some(made.clone()));

    // The create was tagged, so an interrupted one is found by its name and tags.
    let planned = with_defaults(T, &desired);
    match emu
        .provider()
        .find_created(&ctx("aws.cloudwatch_metric_alarm.test"), T, &planned)
        .await
        .unwrap()
    {
        Lookup::Found(found) => assert_eq!(found, vec!["giggatek-db-cpu".to_string()]),
        other => panic!("expected the alarm to be found, got {other:?}"),
    }

    // A second alarm of the same name would silently replace the first: refused.
    let err = emu
        .provider()
        .create(&ctx("aws.cloudwatch_metric_alarm.other"), T, &planned)
        .await
        .expect_err("the name is taken");
    assert!(err.message.contains("already exists"), "{}", err.message);
    assert_eq!(err.attribute.as_deref(), Some("name"));

    emu.recorder().clear();
    let changed = emu
        .update(
            T,
            &made,
            &with(
                &made,
                json!({"threshold": 90, "datapoints_to_alarm": 2, "alarm_actions": [], "tags": {"Tier": "data"}}),
            ),
        )
        .await;
    assert_eq!(a(&changed, "threshold"), Value::from(90i64));
    assert_eq!(a(&changed, "datapoints_to_alarm"), Value::from(2i64));
    assert_eq!(a(&changed, "alarm_actions"), val(json!([])));
    assert_eq!(a(&changed, "tags"), val(json!({"Tier": "data"})));
    assert_eq!(calls(&emu, "PutMetricAlarm"), 1);
    assert_eq!(calls(&emu, "TagResource"), 1);

    // A change made outside gig shows on the next read.
    let raw = emu.clients().await;
    raw.cloudwatch
        .put_metric_alarm()
        .alarm_name("giggatek-db-cpu")
        .namespace("AWS/RDS")
        .metric_name("CPUUtilization")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
        .period(300)
        .evaluation_periods(2)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .threshold(50.0)
        .send()
        .await
        .unwrap();
    let drifted = emu.read(T, &changed).await.expect("exists");
    assert_eq!(a(&drifted, "threshold"), Value::from(50i64), "drift shows");

    emu.delete(T, &drifted).await;
    assert_eq!(emu.read(T, &drifted).await, None);
    emu.delete(T, &drifted).await;
}
