//! `aws.db_instance` against the emulator: create, read, in-place updates, deletion
//! protection, final snapshots, read replicas, import, AWS error codes, read cost, and
//! the master password never reaching an error or a log line.

mod support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use gig_core::value::Value;
use gig_provider::{ReadRequest, UpdateRequest};
use serde_json::json;
use support::{assert_plans_clean, calls, val, with, with_defaults, Emu};

const T: &str = "aws.db_instance";
const PASSWORD: &str = "Pw-Never-Shown-7731";
const NEW_PASSWORD: &str = "Pw-Also-Hidden-9902";

/// A subnet group and a security group in the default VPC; returns their names/ids.
async fn network(emu: &Emu) -> (String, String) {
    let raw = emu.clients().await;
    let subnets = raw.ec2.describe_subnets().send().await.unwrap();
    let ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    let vpc = subnets.subnets()[0].vpc_id().unwrap().to_string();
    raw.rds
        .create_db_subnet_group()
        .db_subnet_group_name("db-net")
        .db_subnet_group_description("d")
        .set_subnet_ids(Some(ids))
        .send()
        .await
        .unwrap();
    let sg = raw
        .ec2
        .create_security_group()
        .group_name("db")
        .description("db")
        .vpc_id(vpc)
        .send()
        .await
        .unwrap();
    ("db-net".to_string(), sg.group_id().unwrap().to_string())
}

fn desired(id: &str, subnet_group: &str, sg: &str) -> Value {
    let mut v = val(json!({
        "identifier": id,
        "engine": "postgres",
        "engine_version": "16.3",
        "instance_class": "db.t3.micro",
        "allocated_storage": 20,
        "username": "giggatek",
        "db_name": "app",
        "db_subnet_group_name": subnet_group,
        "vpc_security_group_ids": [sg],
        "backup_retention_period": 7,
        "skip_final_snapshot": true,
        "tags": {"Name": id},
    }));
    if let Value::Map(m) = &mut v {
        m.insert("password".into(), Value::str(PASSWORD).into_secret());
    }
    v
}

#[tokio::test]
async fn create_reads_back_every_attribute() {
    let emu = Emu::start().await;
    let (group, sg) = network(&emu).await;
    let desired = desired("app-db", &group, &sg);
    let created = emu.create(T, &with_defaults(T, &desired)).await;
    assert_eq!(support::id(&created), "app-db");
    assert_eq!(support::s(&created, "status"), "available");
    assert!(support::s(&created, "arn").ends_with(":db:app-db"));
    assert!(support::s(&created, "resource_id").starts_with("db-"));
    let address = support::s(&created, "address");
    assert_eq!(support::s(&created, "endpoint"), format!("{address}:5432"));
    assert_eq!(created.get("port"), Some(&Value::from(5432i64)));
    assert!(
        created.get("password").is_some_and(Value::is_secret),
        "the password stays secret"
    );

    let read = emu.read(T, &created).await.expect("exists");
    let compared = assert_plans_clean(T, &desired, &read);
    for attr in [
        "engine_version",
        "vpc_security_group_ids",
        "publicly_accessible",
        "multi_az",
        "tags",
        "password",
    ] {
        assert!(compared.contains(&attr.to_string()), "{attr} compared");
    }
    assert_eq!(read, created);

    let raw = emu.clients().await;
    let out = raw
        .rds
        .describe_db_instances()
        .db_instance_identifier("app-db")
        .send()
        .await
        .unwrap();
    let db = &out.db_instances()[0];
    assert_eq!(
        db.publicly_accessible(),
        Some(false),
        "publicly_accessible = false is sent explicitly"
    );
    let keys: Vec<&str> = db.tag_list().iter().filter_map(|t| t.key()).collect();
    assert!(
        keys.contains(&"gig:address") && keys.contains(&"Name"),
        "{keys:?}"
    );
}

#[tokio::test]
async fn updates_in_place_then_deletes() {
    let emu = Emu::start().await;
    let (group, sg) = network(&emu).await;
    let created = emu
        .create(T, &with_defaults(T, &desired("upd", &group, &sg)))
        .await;

    let mut planned = with(
        &created,
        json!({
            "instance_class": "db.t3.small",
            "allocated_storage": 30,
            "max_allocated_storage": 100,
            "backup_retention_period": 3,
            "maintenance_window": "sun:05:00-sun:06:00",
            "tags": {"Name": "upd", "team": "data"},
        }),
    );
    if let Value::Map(m) = &mut planned {
        m.insert("password".into(), Value::str(NEW_PASSWORD).into_secret());
    }
    emu.recorder().clear();
    let updated = emu.update(T, &created, &planned).await;
    assert_eq!(
        calls(&emu, "ModifyDBInstance"),
        1,
        "one modify carries every changed attribute"
    );
    assert_eq!(calls(&emu, "AddTagsToResource"), 1);
    assert_eq!(calls(&emu, "CreateDBInstance"), 0);
    assert_eq!(support::s(&updated, "instance_class"), "db.t3.small");
    assert_eq!(updated.get("allocated_storage"), Some(&Value::from(30i64)));
    assert_eq!(
        updated.get("max_allocated_storage"),
        Some(&Value::from(100i64)),
        "storage autoscaling is turned on in the same modify"
    );
    assert_eq!(
        updated.get("backup_retention_period"),
        Some(&Value::from(3i64))
    );
    assert_eq!(
        support::s(&updated, "maintenance_window"),
        "sun:05:00-sun:06:00"
    );
    assert_eq!(
        updated.get("password"),
        planned.get("password"),
        "the new password is kept, secret"
    );
    assert_eq!(support::id(&updated), "upd", "same instance");
    assert_eq!(emu.read(T, &updated).await, Some(updated.clone()));

    // Changing only gig settings makes no AWS call that changes anything.
    let planned = with(
        &updated,
        json!({"skip_final_snapshot": false, "final_snapshot_identifier": "upd-final"}),
    );
    emu.recorder().clear();
    let meta = emu.update(T, &updated, &planned).await;
    assert_eq!(calls(&emu, "ModifyDBInstance"), 0);
    assert_eq!(support::s(&meta, "final_snapshot_identifier"), "upd-final");

    // A final snapshot is taken on delete when skip_final_snapshot is false.
    emu.delete(T, &meta).await;
    assert_eq!(emu.read(T, &meta).await, None);
    let raw = emu.clients().await;
    let snaps = raw
        .rds
        .describe_db_snapshots()
        .db_snapshot_identifier("upd-final")
        .send()
        .await
        .unwrap();
    assert_eq!(snaps.db_snapshots().len(), 1, "final snapshot taken");
}

#[tokio::test]
async fn deletion_protection_blocks_destroy_until_turned_off() {
    let emu = Emu::start().await;
    let (group, sg) = network(&emu).await;
    let d = with(
        &desired("protected", &group, &sg),
        json!({"deletion_protection": true}),
    );
    let created = emu.create(T, &with_defaults(T, &d)).await;
    assert_eq!(created.get("deletion_protection"), Some(&Value::Bool(true)));

    let ctx = emu.ctx("aws.db_instance.protected");
    let err = emu
        .provider()
        .delete(&ctx, T, "protected", &created)
        .await
        .unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("InvalidParameterCombination"),
        "{err}"
    );
    assert!(
        err.message.to_lowercase().contains("deletion protection"),
        "{err}"
    );
    assert!(emu.read(T, &created).await.is_some(), "still there");

    let off = emu
        .update(
            T,
            &created,
            &with(&created, json!({"deletion_protection": false})),
        )
        .await;
    assert_eq!(off.get("deletion_protection"), Some(&Value::Bool(false)));
    emu.delete(T, &off).await;
    assert_eq!(emu.read(T, &off).await, None);
}

#[tokio::test]
async fn final_snapshot_identifier_is_required_unless_skipped() {
    let emu = Emu::start().await;
    let (group, sg) = network(&emu).await;
    let d = with(
        &desired("snap", &group, &sg),
        json!({"skip_final_snapshot": false}),
    );
    let created = emu.create(T, &with_defaults(T, &d)).await;
    emu.recorder().clear();
    let err = emu
        .provider()
        .delete(&emu.ctx("x"), T, "snap", &created)
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("final_snapshot_identifier"));
    assert_eq!(
        calls(&emu, "DeleteDBInstance"),
        0,
        "refused before calling AWS"
    );
}

#[tokio::test]
async fn read_replica_is_created_from_its_source() {
    let emu = Emu::start().await;
    let (group, sg) = network(&emu).await;
    let source = emu
        .create(T, &with_defaults(T, &desired("primary", &group, &sg)))
        .await;
    let replica_desired = val(json!({
        "identifier": "primary-replica",
        "replicate_source_db": "primary",
        "instance_class": "db.t3.micro",
        "skip_final_snapshot": true,
        "tags": {"role": "replica"},
    }));
    emu.recorder().clear();
    let replica = emu.create(T, &with_defaults(T, &replica_desired)).await;
    assert_eq!(calls(&emu, "CreateDBInstanceReadReplica"), 1);
    assert_eq!(calls(&emu, "CreateDBInstance"), 0);
    assert_eq!(support::s(&replica, "replicate_source_db"), "primary");
    assert_eq!(
        support::s(&replica, "engine"),
        "postgres",
        "the engine comes from the source"
    );
    let read = emu.read(T, &replica).await.expect("exists");
    assert_plans_clean(T, &replica_desired, &read);

    emu.delete(T, &replica).await;
    assert_eq!(emu.read(T, &replica).await, None);
    emu.delete(T, &source).await;
}

#[tokio::test]
async fn import_reads_by_identifier() {
    let emu = Emu::start().await;
    let raw = emu.clients().await;
    raw.rds
        .create_db_instance()
        .db_instance_identifier("by-hand")
        .engine("mysql")
        .db_instance_class("db.t3.micro")
        .allocated_storage(10)
        .master_username("admin")
        .master_user_password(PASSWORD)
        .send()
        .await
        .unwrap();
    let imported = emu
        .provider()
        .import(&emu.ctx("aws.db_instance.imported"), T, "by-hand")
        .await
        .unwrap();
    let imported = imported.expect("found");
    assert_eq!(support::s(&imported, "engine"), "mysql");
    assert_eq!(support::s(&imported, "username"), "admin");
    assert_eq!(
        imported.get("password"),
        Some(&Value::Null),
        "AWS never returns the password"
    );
    assert_eq!(
        imported.get("skip_final_snapshot"),
        Some(&Value::Bool(false))
    );
    assert_eq!(imported.get("apply_immediately"), Some(&Value::Bool(true)));
}

#[tokio::test]
async fn duplicate_identifier_keeps_the_aws_code() {
    let emu = Emu::start().await;
    let (group, sg) = network(&emu).await;
    let planned = with_defaults(T, &desired("dup", &group, &sg));
    emu.create(T, &planned).await;
    let err = emu
        .provider()
        .create(&emu.ctx("aws.db_instance.dup2"), T, &planned)
        .await
        .unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("DBInstanceAlreadyExists"),
        "{err}"
    );
    assert!(!err.message.is_empty());

    // Refused before any call: identifiers AWS would lower-case or reject.
    emu.recorder().clear();
    for bad in ["Upper", "1digit", "two--hyphens", "trailing-"] {
        let p = with(&planned, json!({"identifier": bad}));
        let err = emu
            .provider()
            .create(&emu.ctx("x"), T, &p)
            .await
            .unwrap_err();
        assert_eq!(err.attribute.as_deref(), Some("identifier"), "{bad}");
    }
    let p = with(
        &planned,
        json!({"identifier": "win", "maintenance_window": "Sun:05:00-Sun:06:00"}),
    );
    let err = emu
        .provider()
        .create(&emu.ctx("x"), T, &p)
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("maintenance_window"));
    let p = with(&planned, json!({"identifier": "no-engine", "engine": null}));
    let err = emu
        .provider()
        .create(&emu.ctx("x"), T, &p)
        .await
        .unwrap_err();
    assert_eq!(err.attribute.as_deref(), Some("engine"));
    assert!(emu.recorder().calls().is_empty());
}

#[tokio::test]
async fn refresh_of_many_instances_costs_one_describe_per_fifty() {
    let emu = Emu::start().await;
    let (group, sg) = network(&emu).await;
    let mut made = Vec::new();
    for i in 0..3 {
        made.push(
            emu.create(
                T,
                &with_defaults(T, &desired(&format!("many-{i}"), &group, &sg)),
            )
            .await,
        );
    }
    // 120 requests: the 3 instances and 117 that do not exist.
    let mut requests: Vec<ReadRequest> = made
        .iter()
        .map(|v| ReadRequest {
            address: "x".into(),
            id: support::id(v),
            prior: v.clone(),
        })
        .collect();
    for i in 0..117 {
        requests.push(ReadRequest {
            address: "y".into(),
            id: format!("missing-{i}"),
            prior: Value::Null,
        });
    }
    emu.recorder().clear();
    let out = emu.provider().read(T, &requests).await.unwrap();
    assert_eq!(out.len(), 120);
    for (v, r) in made.iter().zip(&out) {
        assert_eq!(
            r.as_ref().unwrap().as_ref(),
            Some(v),
            "prior-only settings (password) are kept"
        );
    }
    assert!(out[3..].iter().all(|r| matches!(r, Ok(None))));
    assert_eq!(
        calls(&emu, "DescribeDBInstances"),
        3,
        "ceil(120 / 50) calls"
    );
    assert_eq!(
        emu.recorder().calls().len(),
        3,
        "tags come inline: no other call"
    );
}

/// Everything tracing emits, at every level and from every crate (the SDK included).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut out = self.0.lock().unwrap();
        let _ = write!(out, "\nspan {} ", span.metadata().name());
        span.record(&mut Fields(&mut out));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut out = self.0.lock().unwrap();
        let _ = write!(
            out,
            "\n{} {} ",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Fields(&mut out));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn the_password_never_appears_in_errors_or_logs() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let emu = Emu::start().await;
    let (group, sg) = network(&emu).await;
    let planned = with_defaults(T, &desired("secretive", &group, &sg));
    let created = emu.create(T, &planned).await;

    let mut errors = Vec::new();
    // An AWS error on a create carrying the password.
    errors.push(
        emu.provider()
            .create(&emu.ctx("x"), T, &planned)
            .await
            .unwrap_err(),
    );
    // A modify carrying a new password together with a parameter group that does not exist.
    let mut bad = with(&created, json!({"parameter_group_name": "no-such-group"}));
    if let Value::Map(m) = &mut bad {
        m.insert("password".into(), Value::str(NEW_PASSWORD).into_secret());
    }
    let changed = vec!["parameter_group_name".to_string(), "password".to_string()];
    let req = UpdateRequest {
        id: "secretive",
        prior: &created,
        planned: &bad,
        changed: &changed,
    };
    if let Err(e) = emu.provider().update(&emu.ctx("x"), T, req).await {
        errors.push(e);
    }
    // A successful password change.
    let mut planned2 = created.clone();
    if let Value::Map(m) = &mut planned2 {
        m.insert("password".into(), Value::str(NEW_PASSWORD).into_secret());
    }
    let updated = emu.update(T, &created, &planned2).await;
    assert!(calls(&emu, "ModifyDBInstance") >= 1);
    emu.delete(T, &updated).await;

    assert!(!errors.is_empty());
    for e in &errors {
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(
                !shown.contains(PASSWORD) && !shown.contains(NEW_PASSWORD),
                "password in error: {shown}"
            );
        }
    }
    let log = capture.0.lock().unwrap().clone();
    assert!(
        log.contains("CreateDBInstance"),
        "the capture saw the provider's calls:\n{log}"
    );
    assert!(!log.contains(PASSWORD), "password in a log line");
    assert!(!log.contains(NEW_PASSWORD), "new password in a log line");
}

/// docs/resources/<type>.md is generated from the schema; `UPDATE_EXPECT=1` rewrites it.
#[test]
fn docs_pages_are_up_to_date() {
    support::assert_doc_page_up_to_date(T);
}
