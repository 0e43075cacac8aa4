//! `aws.autoscaling_policy` against the emulator: a target-tracking policy is created,
//! read back and imported as planned, changed in place, turned into a simple policy, and
//! deleted; its docs page is current.

mod support;

use gig_core::value::Value;
use gig_provider::ReadRequest;
use serde_json::json;
use support::{assert_plans_clean, id, s, val, with, with_defaults, Emu};

const POLICY: &str = "aws.autoscaling_policy";

/// An auto-scaling group made behind gig's back, to hang policies on.
async fn group(emu: &Emu, name: &str) {
    let clients = emu.clients().await;
    clients
        .autoscaling
        .create_launch_configuration()
        .launch_configuration_name(format!("{name}-lc"))
        .image_id("ami-0820d0c589175bc01")
        .instance_type("t3.micro")
        .send()
        .await
        .expect("launch configuration");
    clients
        .autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(format!("{name}-lc"))
        .availability_zones("us-east-1a")
        .min_size(0)
        .max_size(2)
        .desired_capacity(0)
        .send()
        .await
        .expect("auto-scaling group");
}

fn tracking(target: f64) -> serde_json::Value {
    json!([{
        "predefined_metric_specification": [{ "predefined_metric_type": "ASGAverageCPUUtilization" }],
        "target_value": target,
    }])
}

#[tokio::test]
async fn target_tracking_policy_lifecycle() {
    let emu = Emu::start().await;
    group(&emu, "web").await;
    let desired = val(json!({
        "name": "cpu50",
        "autoscaling_group_name": "web",
        "policy_type": "TargetTrackingScaling",
        "target_tracking_configuration": tracking(50.0),
    }));
    let planned = with_defaults(POLICY, &desired);
    let made = emu.create(POLICY, &planned).await;
    assert_eq!(id(&made), "web/cpu50");
    assert!(!s(&made, "arn").is_empty(), "{made:?}");
    let read = emu.read(POLICY, &made).await.expect("exists");
    assert_eq!(read, made);
    assert_plans_clean(POLICY, &desired, &read);

    // Imported by id with no Prior value: the same policy.
    let imported = emu.import(POLICY, "web/cpu50").await.expect("imports");
    assert_eq!(s(&imported, "arn"), s(&made, "arn"));

    // The target changes in place (PutScalingPolicy replaces the policy of that name).
    let next = with(
        &made,
        json!({ "target_tracking_configuration": tracking(70.0) }),
    );
    let updated = emu.update(POLICY, &made, &next).await;
    assert_eq!(id(&updated), "web/cpu50");
    let target = updated
        .get("target_tracking_configuration")
        .and_then(|t| match t {
            Value::List(xs) => xs.first().and_then(|x| x.get("target_value")).cloned(),
            _ => None,
        });
    assert_eq!(target, Some(Value::Number(70.0)), "{updated:?}");

    emu.delete(POLICY, &updated).await;
    assert!(emu.read(POLICY, &updated).await.is_none(), "deleted");
}

#[tokio::test]
async fn simple_scaling_policy_and_a_bad_id() {
    let emu = Emu::start().await;
    group(&emu, "api").await;
    let desired = val(json!({
        "name": "add-one",
        "autoscaling_group_name": "api",
        "adjustment_type": "ChangeInCapacity",
        "scaling_adjustment": 1,
        "cooldown": 120,
    }));
    let planned = with_defaults(POLICY, &desired);
    let made = emu.create(POLICY, &planned).await;
    assert_eq!(s(&made, "policy_type"), "SimpleScaling");
    assert_eq!(made.get("scaling_adjustment"), Some(&Value::Number(1.0)));
    assert_plans_clean(
        POLICY,
        &desired,
        &emu.read(POLICY, &made).await.expect("exists"),
    );

    // An id without the group part is a typed error naming the form, not a panic.
    let req = ReadRequest {
        address: "aws.autoscaling_policy.bad".into(),
        id: "no-slash".into(),
        prior: Value::Null,
    };
    let err = emu
        .provider()
        .read(POLICY, &[req])
        .await
        .expect_err("bad id");
    assert!(err.message.contains("<group name>/<policy name>"), "{err}");
}

#[test]
fn docs_page_is_current() {
    support::assert_doc_page_up_to_date(POLICY);
}
