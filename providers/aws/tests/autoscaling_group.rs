//! `aws.autoscaling_group` against the emulator: `name_prefix` and `instance_refresh`
//! (create, read-back, update, import, drift, delete). The emulator does not implement
//! StartInstanceRefresh (docs/notes/emulator-gaps.md), so the tests check through the
//! call recorder when gig asks for a refresh, and that a refresh that cannot start is an
//! error on the group's `instance_refresh`.

mod support;

use gig_core::value::Value;
use serde_json::json;
use support::{a, assert_plans_clean, changed, ctx, planned_for, s, val, with_defaults, Emu};

const ASG: &str = "aws.autoscaling_group";
const LT: &str = "aws.launch_template";

/// Amazon Linux 2023 x86_64 in moto's us-east-1 image list.
const AMI: &str = "ami-0820d0c589175bc01";

fn group(
    subnet: &str,
    template: &str,
    version: &str,
    max: i64,
    preferences: serde_json::Value,
) -> serde_json::Value {
    json!({
        "name_prefix": "web-",
        "vpc_zone_identifier": [subnet],
        "min_size": 0,
        "max_size": max,
        "desired_capacity": 0,
        "launch_template": [{"id": template, "version": version}],
        "instance_refresh": [{
            "strategy": "Rolling",
            "preferences": preferences,
            "triggers": ["max_size"]
        }],
        "tags": {"team": "web"}
    })
}

/// Updates through the provider and returns the result with the operations recorded.
async fn update(
    emu: &Emu,
    prior: &Value,
    planned: &Value,
) -> (Result<Value, gig_provider::ProviderError>, Vec<String>) {
    emu.recorder().clear();
    let changed = changed(prior, planned);
    let id = s(prior, "id");
    let req = gig_provider::UpdateRequest {
        id: &id,
        prior,
        planned,
        changed: &changed,
    };
    let out = emu
        .provider()
        .update(&ctx("aws.autoscaling_group.test"), ASG, req)
        .await;
    (out, emu.recorder().operations())
}

#[tokio::test]
async fn instance_refresh_starts_when_the_template_version_or_a_trigger_changes() {
    let emu = Emu::start().await;
    let vpc = support::vpc(&emu, "10.50.0.0/16").await;
    let subnet = emu
        .create(
            "aws.subnet",
            &with_defaults(
                "aws.subnet",
                &val(json!({"vpc_id": s(&vpc, "id"), "cidr_block": "10.50.1.0/24"})),
            ),
        )
        .await;
    let subnet = s(&subnet, "id");
    let lt_desired = json!({"name": "web", "image_id": AMI, "instance_type": "t3.micro"});
    let lt = emu.create(LT, &with_defaults(LT, &val(lt_desired))).await;
    let lt_id = s(&lt, "id");

    let desired = group(
        &subnet,
        &lt_id,
        "1",
        2,
        json!([{"min_healthy_percentage": 50}]),
    );
    let made = emu
        .create(ASG, &with_defaults(ASG, &val(desired.clone())))
        .await;
    let name = s(&made, "id");
    assert!(name.starts_with("web-") && name.len() == 30, "{name}");
    assert_eq!(s(&made, "name"), name);
    let read = emu.read(ASG, &made).await.expect("exists");
    assert_eq!(
        read, made,
        "name_prefix and instance_refresh are kept from state"
    );
    assert_plans_clean(ASG, &val(desired.clone()), &read);

    // Only the refresh settings change: nothing is sent, the new block is kept.
    let calmer = group(
        &subnet,
        &lt_id,
        "1",
        2,
        json!([{"min_healthy_percentage": 75, "instance_warmup": 60}]),
    );
    let (out, ops) = update(
        &emu,
        &read,
        &planned_for(ASG, calmer.clone(), &a(&made, "id")),
    )
    .await;
    let read = out.expect("settings only");
    assert!(
        !ops.iter()
            .any(|o| o == "StartInstanceRefresh" || o == "UpdateAutoScalingGroup"),
        "{ops:?}"
    );
    assert_plans_clean(ASG, &val(calmer), &read);

    // A setting that is not a trigger: the group is updated, no refresh.
    let mut bigger = group(
        &subnet,
        &lt_id,
        "1",
        2,
        json!([{"min_healthy_percentage": 75, "instance_warmup": 60}]),
    );
    bigger["min_size"] = json!(1);
    bigger["desired_capacity"] = json!(1);
    let (out, ops) = update(
        &emu,
        &read,
        &planned_for(ASG, bigger.clone(), &a(&made, "id")),
    )
    .await;
    let read = out.expect("no refresh");
    assert!(
        ops.contains(&"UpdateAutoScalingGroup".to_string()),
        "{ops:?}"
    );
    assert!(
        !ops.contains(&"StartInstanceRefresh".to_string()),
        "{ops:?}"
    );
    assert_eq!(a(&read, "min_size"), Value::from(1i64));

    // A new template version: the group is updated, then a refresh is asked for. The
    // emulator cannot start one, so the update fails on the block, naming the group.
    let lt2 = emu
        .update(
            LT,
            &lt,
            &planned_for(
                LT,
                json!({"name": "web", "image_id": AMI, "instance_type": "t3.small"}),
                &a(&lt, "id"),
            ),
        )
        .await;
    assert_eq!(a(&lt2, "latest_version"), Value::from(2i64));
    let mut next = bigger.clone();
    next["launch_template"] = json!([{"id": lt_id, "version": "2"}]);
    let (out, ops) = update(&emu, &read, &planned_for(ASG, next, &a(&made, "id"))).await;
    let err = out.expect_err("the emulator has no StartInstanceRefresh");
    assert_eq!(
        err.attribute.as_deref(),
        Some("instance_refresh"),
        "{err:?}"
    );
    assert!(err.message.contains(&name), "{err}");
    let pos = |op: &str| {
        ops.iter()
            .position(|o| o == op)
            .unwrap_or_else(|| panic!("{op} not in {ops:?}"))
    };
    assert!(pos("UpdateAutoScalingGroup") < pos("StartInstanceRefresh"));
    let group_now = emu.read(ASG, &read).await.expect("exists");
    assert_eq!(
        a(&group_now, "launch_template").as_list().unwrap()[0].get("version"),
        Some(&Value::str("2")),
        "the group itself was updated"
    );

    // A listed trigger asks for a refresh too.
    let mut wider = bigger.clone();
    wider["max_size"] = json!(4);
    let (out, ops) = update(&emu, &read, &planned_for(ASG, wider, &a(&made, "id"))).await;
    assert_eq!(
        out.expect_err("refresh").attribute.as_deref(),
        Some("instance_refresh")
    );
    assert_eq!(
        ops.iter().filter(|o| *o == "StartInstanceRefresh").count(),
        1,
        "{ops:?}"
    );

    // Import: read by name with no prior; the gig settings are unset.
    let imported = emu
        .provider()
        .import(&ctx("aws.autoscaling_group.x"), ASG, &name)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(a(&imported, "max_size"), Value::from(4i64));
    assert_eq!(a(&imported, "instance_refresh"), Value::Null);
    assert_eq!(a(&imported, "tags"), val(json!({"team": "web"})));

    // Drift: a size changed behind gig's back shows in a read.
    let raw = emu.clients().await;
    raw.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&name)
        .max_size(7)
        .send()
        .await
        .unwrap();
    let drifted = emu.read(ASG, &group_now).await.expect("exists");
    assert_eq!(a(&drifted, "max_size"), Value::from(7i64));
    assert_eq!(
        a(&drifted, "instance_refresh"),
        a(&group_now, "instance_refresh")
    );

    emu.delete(ASG, &drifted).await;
    assert_eq!(emu.read(ASG, &drifted).await, None);
    emu.delete(ASG, &drifted).await;
    emu.delete(LT, &lt2).await;
}

#[tokio::test]
async fn a_trigger_that_is_no_setting_of_the_group_is_refused_before_any_call() {
    let emu = Emu::start().await;
    let mut desired = group(
        "subnet-0123456789abcdef0",
        "lt-0123456789abcdef0",
        "1",
        2,
        json!([]),
    );
    desired["instance_refresh"][0]["triggers"] = json!(["tags"]);
    let err = emu
        .provider()
        .create(
            &ctx("aws.autoscaling_group.bad"),
            ASG,
            &with_defaults(ASG, &val(desired)),
        )
        .await
        .expect_err("tags cannot trigger");
    assert_eq!(err.attribute.as_deref(), Some("instance_refresh"));
    assert!(err.message.contains("vpc_zone_identifier"), "{err}");
    assert_eq!(emu.recorder().count("CreateAutoScalingGroup"), 0);
}
