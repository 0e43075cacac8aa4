//! `aws.ssm_parameter` against the emulator: create, read (the secret value round-trips),
//! in-place updates with new versions, tags, delete, import, error codes, secrecy of the
//! value in errors, read cost, and its generated docs page.

mod support;

use aws_sdk_ssm::types::ParameterType;
use gig_core::value::Value;
use gig_provider::{ErrorClass, ProviderError, ReadRequest};
use serde_json::json;
use support::{assert_plans_clean, calls, val, with_defaults, Emu};

const T: &str = "aws.ssm_parameter";

/// A Planned value from the desired attributes, with the value marked secret as the
/// engine does for a secret attribute.
fn planned(desired: &Value) -> Value {
    let mut m = with_defaults(T, desired)
        .as_map()
        .cloned()
        .unwrap_or_default();
    if let Some(v) = m.get_mut("value") {
        *v = v.clone().into_secret();
    }
    Value::Map(m)
}

/// `v` with `attr` set to `x` (or removed when `x` is null).
fn with(v: &Value, attr: &str, x: Value) -> Value {
    let mut m = v.as_map().cloned().unwrap_or_default();
    if x.is_null() {
        m.remove(attr);
    } else {
        m.insert(attr.to_string(), x);
    }
    Value::Map(m)
}

fn revealed(v: &Value, attr: &str) -> String {
    let x = v.get(attr).unwrap_or(&Value::Null);
    assert!(x.is_secret(), "{attr} must be read back as a secret");
    x.as_str().unwrap_or_default().to_string()
}

fn version(v: &Value) -> i64 {
    v.get("version").and_then(Value::as_i64).unwrap_or(-1)
}

/// Asserts that `value` appears nowhere in an error, its Display or its Debug form.
fn assert_no_value(err: &ProviderError, value: &str) {
    for text in [err.message.clone(), err.to_string(), format!("{err:?}")] {
        assert!(
            !text.contains(value),
            "the value leaked into an error: {text}"
        );
    }
}

#[tokio::test]
async fn create_read_update_in_place_and_delete() {
    let emu = Emu::start().await;
    let desired = val(json!({
        "name": "/giggatek/test/db/password",
        "type": "SecureString",
        "value": "s3cret-Value!",
        "description": "Database password",
        "tags": {"Name": "db"}
    }));
    let created = emu.create(T, &planned(&desired)).await;
    assert_eq!(support::id(&created), "/giggatek/test/db/password");
    assert_eq!(revealed(&created, "value"), "s3cret-Value!");
    assert_eq!(version(&created), 1);
    assert_eq!(support::s(&created, "key_id"), "alias/aws/ssm");
    assert!(
        support::s(&created, "arn").ends_with(":parameter/giggatek/test/db/password"),
        "{}",
        support::s(&created, "arn")
    );

    let read = emu.read(T, &created).await.expect("exists");
    assert_eq!(read, created, "create returns what a read returns");
    let compared = assert_plans_clean(T, &desired, &read);
    for attr in [
        "value",
        "description",
        "tier",
        "data_type",
        "tags",
        "type",
        "name",
    ] {
        assert!(compared.contains(&attr.to_string()), "{attr} not compared");
    }

    // gig's own tags are on the parameter but not in `tags`.
    let raw = emu.clients().await;
    let tags = raw
        .ssm
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id("/giggatek/test/db/password")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = tags.tag_list().iter().map(|t| t.key()).collect();
    for k in ["Name", "gig:stack", "gig:env", "gig:address"] {
        assert!(keys.contains(&k), "tag {k} missing from {keys:?}");
    }

    // Value and description change in place: one overwrite, a new version, no tag call.
    let next = with(
        &with(&created, "value", Value::str("n3w-Value?").into_secret()),
        "description",
        Value::str("Rotated password"),
    );
    emu.recorder().clear();
    let updated = emu.update(T, &created, &next).await;
    assert_eq!(revealed(&updated, "value"), "n3w-Value?");
    assert_eq!(support::s(&updated, "description"), "Rotated password");
    assert_eq!(version(&updated), 2);
    assert_eq!(calls(&emu, "PutParameter"), 1);
    assert_eq!(calls(&emu, "AddTagsToResource"), 0);
    assert_eq!(emu.read(T, &updated).await, Some(updated.clone()));

    // Tags alone: no new version.
    let next = with(&updated, "tags", val(json!({"Team": "core"})));
    emu.recorder().clear();
    let retagged = emu.update(T, &updated, &next).await;
    assert_eq!(retagged.get("tags"), Some(&val(json!({"Team": "core"}))));
    assert_eq!(version(&retagged), 2);
    assert_eq!(calls(&emu, "PutParameter"), 0);
    assert_eq!(calls(&emu, "RemoveTagsFromResource"), 1);
    assert_eq!(calls(&emu, "AddTagsToResource"), 1);

    // A removed description is cleared, so the plan is clean afterwards.
    let next = with(&retagged, "description", Value::Null);
    let cleared = emu.update(T, &retagged, &next).await;
    assert_eq!(cleared.get("description"), Some(&Value::Null));
    assert_eq!(version(&cleared), 3);

    emu.delete(T, &cleared).await;
    assert_eq!(emu.read(T, &cleared).await, None);
    // Deleting what is already gone is success.
    emu.delete(T, &cleared).await;
}

#[tokio::test]
async fn string_types_plan_clean_and_a_chosen_key_reads_back() {
    let emu = Emu::start().await;
    for desired in [
        val(json!({"name": "plain", "type": "String", "value": "v1"})),
        val(json!({"name": "/list", "type": "StringList", "value": "a,b,c", "tier": "Advanced"})),
        val(
            json!({"name": "/ami", "type": "String", "value": "ami-0820d0c589175bc01", "data_type": "aws:ec2:image"}),
        ),
        val(
            json!({"name": "/keyed", "type": "SecureString", "value": "x", "key_id": "alias/custom", "allowed_pattern": "^[a-z]+$"}),
        ),
    ] {
        let created = emu.create(T, &planned(&desired)).await;
        let read = emu.read(T, &created).await.expect("exists");
        assert_plans_clean(T, &desired, &read);
        if support::s(&read, "type") != "SecureString" {
            assert_eq!(
                read.get("key_id"),
                Some(&Value::Null),
                "no key for {}",
                support::id(&read)
            );
        }
    }
    let keyed = emu.read(T, &val(json!({"id": "/keyed"}))).await.unwrap();
    assert_eq!(support::s(&keyed, "key_id"), "alias/custom");
    assert_eq!(support::s(&keyed, "allowed_pattern"), "^[a-z]+$");
}

#[tokio::test]
async fn a_change_made_outside_gig_is_read_as_drift() {
    let emu = Emu::start().await;
    let desired = val(json!({"name": "/drift", "type": "SecureString", "value": "mine"}));
    let created = emu.create(T, &planned(&desired)).await;
    let raw = emu.clients().await;
    raw.ssm
        .put_parameter()
        .name("/drift")
        .value("theirs")
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let read = emu.read(T, &created).await.expect("exists");
    assert_eq!(revealed(&read, "value"), "theirs");
    assert_eq!(version(&read), 2);
}

#[tokio::test]
async fn import_reads_by_name() {
    let emu = Emu::start().await;
    let raw = emu.clients().await;
    raw.ssm
        .put_parameter()
        .name("/made/by/hand")
        .value("hand-made")
        .r#type(ParameterType::SecureString)
        .description("by hand")
        .send()
        .await
        .unwrap();
    let ctx = emu.ctx("aws.ssm_parameter.imported");
    let imported = emu
        .provider()
        .import(&ctx, T, "/made/by/hand")
        .await
        .unwrap()
        .expect("found");
    assert_eq!(support::id(&imported), "/made/by/hand");
    assert_eq!(support::s(&imported, "name"), "/made/by/hand");
    assert_eq!(revealed(&imported, "value"), "hand-made");
    assert_eq!(support::s(&imported, "description"), "by hand");
    assert_eq!(support::s(&imported, "type"), "SecureString");
    assert_eq!(support::s(&imported, "tier"), "Standard");
    assert_eq!(imported.get("tags"), Some(&val(json!({}))));
    assert_eq!(
        emu.provider()
            .import(&ctx, T, "/no/such/parameter")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_taken_name_fails_with_parameter_already_exists() {
    let emu = Emu::start().await;
    let desired = val(json!({"name": "/taken", "type": "SecureString", "value": "first-secret"}));
    emu.create(T, &planned(&desired)).await;
    let second = with(&desired, "value", Value::str("second-secret"));
    let err = emu
        .provider()
        .create(&emu.ctx("aws.ssm_parameter.dup"), T, &planned(&second))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ParameterAlreadyExists"), "{err}");
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_no_value(&err, "second-secret");
    // The first value is untouched.
    let read = emu.read(T, &val(json!({"id": "/taken"}))).await.unwrap();
    assert_eq!(revealed(&read, "value"), "first-secret");
}

#[tokio::test]
async fn the_value_never_appears_in_an_error() {
    let emu = Emu::start().await;
    let ctx = emu.ctx("aws.ssm_parameter.bad");
    let p = emu.provider();
    const SECRET: &str = "Tr0ub4dor-and-3";

    // An invalid type is refused before any call, naming the attribute.
    emu.recorder().clear();
    let bad_type = val(json!({"name": "/bad", "type": "Bogus", "value": SECRET}));
    let err = p.create(&ctx, T, &planned(&bad_type)).await.unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("type"));
    assert!(err.message.contains("Bogus"), "{err}");
    assert_no_value(&err, SECRET);
    assert!(emu.recorder().calls().is_empty(), "no call for a bad type");

    // AWS refuses a reserved name prefix: its code is kept, the value is not shown.
    let reserved = val(json!({"name": "aws-reserved", "type": "SecureString", "value": SECRET}));
    let err = p.create(&ctx, T, &planned(&reserved)).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ValidationException"), "{err}");
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_no_value(&err, SECRET);

    // Even when AWS's message quotes text equal to the value (here the value was pasted
    // into `data_type` by mistake), the value is replaced by `(secret)`.
    let pasted =
        val(json!({"name": "/pasted", "type": "String", "value": SECRET, "data_type": SECRET}));
    let err = p.create(&ctx, T, &planned(&pasted)).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ValidationException"), "{err}");
    assert!(err.message.contains("(secret)"), "{err}");
    assert_no_value(&err, SECRET);

    // An overwrite that AWS refuses is scrubbed the same way.
    let good = val(json!({"name": "/good", "type": "String", "value": "ok-value"}));
    let created = emu.create(T, &planned(&good)).await;
    let next = with(
        &with(&created, "value", Value::str(SECRET).into_secret()),
        "data_type",
        Value::str(SECRET),
    );
    let changed = vec!["value".to_string(), "data_type".to_string()];
    let err = p
        .update(
            &ctx,
            T,
            gig_provider::UpdateRequest {
                id: "/good",
                prior: &created,
                planned: &next,
                changed: &changed,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ValidationException"), "{err}");
    assert_no_value(&err, SECRET);
}

#[tokio::test]
async fn reading_25_parameters_costs_3_get_parameters_calls() {
    let emu = Emu::start().await;
    let raw = emu.clients().await;
    let names: Vec<String> = (0..25).map(|i| format!("/batch/p{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        raw.ssm
            .put_parameter()
            .name(name)
            .value(format!("value-{i}"))
            .r#type(ParameterType::SecureString)
            .send()
            .await
            .unwrap();
    }
    let requests: Vec<ReadRequest> = names
        .iter()
        .map(|n| ReadRequest {
            address: format!("aws.ssm_parameter.p[{n:?}]"),
            id: n.clone(),
            prior: Value::Null,
        })
        .collect();
    emu.recorder().clear();
    let out = emu.provider().read(T, &requests).await.unwrap();
    assert_eq!(out.len(), 25);
    for (i, r) in out.iter().enumerate() {
        let v = r.as_ref().unwrap().as_ref().expect("found");
        assert_eq!(
            support::id(v),
            names[i],
            "answers follow the requests' order"
        );
        assert_eq!(revealed(v, "value"), format!("value-{i}"));
    }
    assert_eq!(
        calls(&emu, "GetParameters"),
        3,
        "ceil(25 / 10) GetParameters calls"
    );
    // One filtered DescribeParameters for up to 50 names on AWS; moto 5.2.5 pages by
    // 10 whatever MaxResults says, so the paginator makes up to 3 calls here.
    let describes = calls(&emu, "DescribeParameters");
    assert!(
        (1..=3).contains(&describes),
        "{describes} DescribeParameters calls"
    );
    assert_eq!(
        calls(&emu, "ListTagsForResource"),
        25,
        "one tag read per parameter"
    );

    // Gone names cost no describe or tag call and read as None.
    let gone: Vec<ReadRequest> = (0..3)
        .map(|i| ReadRequest {
            address: format!("gone[{i}]"),
            id: format!("/gone/{i}"),
            prior: Value::Null,
        })
        .collect();
    emu.recorder().clear();
    let out = emu.provider().read(T, &gone).await.unwrap();
    assert!(out.iter().all(|r| r == &Ok(None)));
    assert_eq!(
        emu.recorder().operations(),
        vec!["GetParameters".to_string()]
    );
}

#[test]
fn schema_marks_value_secret_and_identity_force_new() {
    let s = support::schema(T, false);
    assert!(s.attributes["value"].secret);
    for attr in ["name", "type", "data_type"] {
        assert!(s.attributes[attr].force_new, "{attr} replaces");
    }
    for attr in ["value", "description", "tier", "key_id", "tags"] {
        assert!(!s.attributes[attr].force_new, "{attr} changes in place");
    }
    assert_eq!(s.attributes["tier"].default, Some(Value::str("Standard")));
}

/// docs/resources/aws.ssm_parameter.md is generated from the schema; `UPDATE_EXPECT=1`
/// rewrites it.
#[test]
fn docs_page_is_up_to_date() {
    support::assert_doc_page_up_to_date(T);
}
