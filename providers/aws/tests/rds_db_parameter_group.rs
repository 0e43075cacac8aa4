//! `aws.db_parameter_group` against the emulator: parameters written on create, read
//! back as a set, changed and reset in place, imported, drift, tags and delete.

mod support;

use gig_core::value::Value;
use gig_provider::ReadRequest;
use serde_json::json;
use support::{a, assert_plans_clean, calls, id, s, val, with, with_defaults, Emu};

const T: &str = "aws.db_parameter_group";

#[tokio::test]
async fn parameters_change_in_place() {
    let emu = Emu::start().await;
    let desired = val(json!({
        "name": "giggatek-mysql",
        "family": "mysql8.0",
        "parameter": [{"name": "max_connections", "value": "200"}, {"name": "character_set_server", "value": "utf8mb4"}],
        "tags": {"Tier": "data"}
    }));
    let made = emu.create(T, &with_defaults(T, &desired)).await;
    assert_eq!(id(&made), "giggatek-mysql");
    assert!(
        s(&made, "arn").ends_with(":pg:giggatek-mysql"),
        "{}",
        s(&made, "arn")
    );
    let read = emu.read(T, &made).await.expect("exists");
    assert_eq!(read, made);
    assert_plans_clean(T, &desired, &read);
    let req = ReadRequest {
        address: "x".into(),
        id: id(&made),
        prior: Value::Null,
    };
    assert_eq!(
        emu.provider()
            .read(T, &[req])
            .await
            .unwrap()
            .pop()
            .unwrap()
            .unwrap(),
        Some(made.clone()),
        "import"
    );

    emu.recorder().clear();
    let next = with(
        &made,
        json!({"parameter": [
        {"name": "max_connections", "value": "300", "apply_method": "immediate"},
        {"name": "character_set_server", "value": "utf8mb4", "apply_method": "immediate"}
    ], "tags": {}}),
    );
    let updated = emu.update(T, &made, &next).await;
    assert_eq!(
        calls(&emu, "ModifyDBParameterGroup"),
        1,
        "only the changed parameter is written"
    );
    assert_eq!(calls(&emu, "ResetDBParameterGroup"), 0);
    assert_eq!(calls(&emu, "RemoveTagsFromResource"), 1);
    assert_eq!(a(&updated, "tags"), val(json!({})));
    let params = a(&updated, "parameter");
    let names: Vec<&str> = params
        .as_list()
        .unwrap()
        .iter()
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .collect();
    assert!(names.contains(&"max_connections"), "{names:?}");

    // Drift: a parameter changed by hand shows on refresh.
    let raw = emu.clients().await;
    raw.rds
        .modify_db_parameter_group()
        .db_parameter_group_name("giggatek-mysql")
        .parameters(
            aws_sdk_rds::types::Parameter::builder()
                .parameter_name("max_connections")
                .parameter_value("50")
                .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drifted = emu.read(T, &updated).await.expect("exists");
    assert_ne!(a(&drifted, "parameter"), a(&updated, "parameter"));

    // A parameter dropped from the set is reset. The emulator does not implement
    // ResetDBParameterGroup (docs/notes/emulator-gaps.md): the call is sent and its
    // failure reported against `parameter`.
    emu.recorder().clear();
    let fewer = with(
        &updated,
        json!({"parameter": [{"name": "max_connections", "value": "300", "apply_method": "immediate"}]}),
    );
    let req = gig_provider::UpdateRequest {
        id: "giggatek-mysql",
        prior: &updated,
        planned: &fewer,
        changed: &["parameter".to_string()],
    };
    let err = emu
        .provider()
        .update(&support::ctx("aws.db_parameter_group.test"), T, req)
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("parameter"));
    assert_eq!(calls(&emu, "ResetDBParameterGroup"), 1);

    emu.delete(T, &drifted).await;
    assert_eq!(emu.read(T, &drifted).await, None);
    // A parameter dropped from the set is reset. The emulator does not implement
    // ResetDBParameterGroup (docs/notes/emulator-gaps.md): the call is sent and its
    // failure reported against `parameter`.
    emu.recorder().clear();
    let fewer = with(
        &updated,
        json!({"parameter": [{"name": "max_connections", "value": "300", "apply_method": "immediate"}]}),
    );
    let req = gig_provider::UpdateRequest {
        id: "giggatek-mysql",
        prior: &updated,
        planned: &fewer,
        changed: &["parameter".to_string()],
    };
    let err = emu
        .provider()
        .update(&support::ctx("aws.db_parameter_group.test"), T, req)
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("parameter"));
    assert_eq!(calls(&emu, "ResetDBParameterGroup"), 1);

    emu.delete(T, &drifted).await;
}
