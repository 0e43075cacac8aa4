//! `aws.db_instance`: an RDS DB instance, or a read replica of one (`replicate_source_db`).
//!
//! The id is the DB instance identifier. Create calls CreateDBInstance (or
//! CreateDBInstanceReadReplica, then ModifyDBInstance for what a replica cannot be
//! created with) and waits until the instance is `available`. Updates go through one
//! ModifyDBInstance carrying only the changed attributes, with `ApplyImmediately` from
//! the `apply_immediately` attribute (default true); when changes apply now, the update
//! waits until no modifications are pending, and the model's driver then waits until the
//! instance is `available`. Delete waits until the instance is gone. Deletion
//! protection is never switched off by gig: with it on, AWS's own error is reported.
//!
//! The master password is write-only (`.write_only()`): it is sent on create and when it
//! changes, never read back (the Refreshed value keeps the Prior one) and never part of
//! an error or log line — AWS error messages are scrubbed of it before they leave this
//! module.
//!
//! Read cost: DescribeDBInstances with a `db-instance-id` filter of up to 50
//! identifiers, so N instances cost ceil(N/50) calls; tags come inline (`TagList`).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbInstance as SdkDbInstance, Filter, PendingModifiedValues};
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{self, sdk_error, wait_until, Poll};
use crate::model::{computed, optional, required, tags_map, Decl, Model, New, Waits, STATUS};
use crate::rds::{tags_to_map, to_sdk_tags};
use crate::tagging::Tagging;
use crate::Clients;

/// The longest pause between two status checks.
const POLL: Duration = Duration::from_secs(15);

/// States an instance does not leave by waiting.
const FAILED: &[&str] = &[
    "failed",
    "incompatible-parameters",
    "incompatible-restore",
    "storage-full",
];

/// The `aws.db_instance` resource type.
pub(crate) struct DbInstance;

#[async_trait]
impl Model for DbInstance {
    fn decl(&self) -> Decl {
        use AttrType::{Bool, Number, Set, String as Str};
        Decl {
            type_name: "aws.db_instance",
            description: "An RDS DB instance (MySQL, PostgreSQL, MariaDB …), or a read replica of one. Class, storage, \
                      password, security groups, windows and protection change in place (ModifyDBInstance, applied \
                      immediately unless `apply_immediately = false`); identifier, engine, user name, database name, \
                      subnet group and encryption replace it.",
            example: r#"resource aws.db_instance main {
  identifier              = "giggatek-${env}"
  engine                  = "postgres"
  engine_version          = "16.3"
  instance_class          = "db.t3.micro"
  allocated_storage       = 20
  storage_encrypted       = true
  username                = "giggatek"
  password                = db_password
  db_subnet_group_name    = aws.db_subnet_group.main.name
  vpc_security_group_ids  = [aws.security_group.db.id]
  backup_retention_period = 7
  skip_final_snapshot     = env != "production"
  final_snapshot_identifier = "giggatek-${env}-final"
  tags = { Name = "giggatek-${env}" }
}"#,
            id: "DB instance identifier",
            id_attr: Some("identifier"),
            attrs: vec![
                required("identifier", Str, "DB instance identifier: lower-case letters, digits and hyphens, starting with a letter.").force_new(),
                optional("engine", Str, "Database engine (`mysql`, `postgres`, `mariadb` …); required unless `replicate_source_db` is set.").also_computed().force_new(),
                optional("engine_version", Str, "Engine version; give the full version AWS reports (e.g. `8.0.35`). Changes in place.").also_computed(),
                required("instance_class", Str, "Instance class, e.g. `db.t3.micro`. Changes in place."),
                optional("allocated_storage", Number, "Storage in GiB; required unless `replicate_source_db` is set. Grows in place.").also_computed(),
                optional("max_allocated_storage", Number, "Upper limit in GiB for storage autoscaling; unset turns autoscaling off. Changes in place."),
                optional("storage_type", Str, "`gp2`, `gp3`, `io1`, `io2` or `standard`. Changes in place.").also_computed(),
                optional("storage_encrypted", Bool, "Encrypt storage at rest.").default(false).force_new(),
                optional("kms_key_id", Str, "KMS key ARN for storage encryption.").also_computed().force_new(),
                optional("username", Str, "Master user name; required unless `replicate_source_db` is set.").also_computed().force_new(),
                optional("password", Str, "Master password; never shown, never read back from AWS. Changes in place.").write_only(),
                optional("db_name", Str, "Name of the database created with the instance.").also_computed().force_new(),
                optional("port", Number, "Port the database listens on. Changes in place.").also_computed(),
                optional("multi_az", Bool, "Run a standby in a second availability zone.").default(false),
                optional("publicly_accessible", Bool, "Give the instance a public address.").default(false),
                optional("vpc_security_group_ids", Set(Box::new(Str)), "VPC security groups of the instance. Change in place.").also_computed(),
                optional("db_subnet_group_name", Str, "DB subnet group (and so the VPC) to place the instance in.").also_computed().force_new(),
                optional("parameter_group_name", Str, "DB parameter group. Changes in place.").also_computed(),
                optional("backup_retention_period", Number, "Days to keep automated backups (0 turns them off). Changes in place.").also_computed(),
                optional("backup_window", Str, "Daily backup window in UTC, `hh24:mi-hh24:mi`. Changes in place.").also_computed(),
                optional("maintenance_window", Str, "Weekly maintenance window in UTC, lower case: `ddd:hh24:mi-ddd:hh24:mi`. Changes in place.").also_computed(),
                optional("deletion_protection", Bool, "Refuse deletes; turn it off (and apply) before destroying the instance.").default(false),
                optional("skip_final_snapshot", Bool, "Delete without a final snapshot; when false, `final_snapshot_identifier` is required.").default(false).setting(),
                optional("final_snapshot_identifier", Str, "Name of the final snapshot taken on delete.").setting(),
                optional("apply_immediately", Bool, "Apply modifications now instead of in the next maintenance window (gig setting).").default(true).setting(),
                // AWS names the source by identifier; an ARN the user wrote for the same
                // instance is kept as written.
                optional("replicate_source_db", Str, "Identifier (or ARN, across regions) of the instance to create a read replica of.").force_new().same_as(same_source),
                computed("address", Str, "Host name of the instance."),
                computed("endpoint", Str, "`address:port`."),
                computed("arn", Str, "ARN of the instance."),
                computed(STATUS, Str, "Instance status, e.g. `available`."),
                computed("resource_id", Str, "The region-unique, immutable resource id (`db-…`)."),
            ],
            tags: Some(Tagging::Rds),
            waits: Some(Waits {
                create: Duration::from_secs(40 * 60),
                update: Duration::from_secs(80 * 60),
                delete: Duration::from_secs(60 * 60),
            }),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        Ok(describe_many(clients, &ids)
            .await?
            .into_iter()
            .map(|(id, db)| (id, to_value(&db)))
            .collect())
    }

    async fn create(
        &self,
        clients: &Clients,
        decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let planned = new.planned;
        let id = common::req_str(planned, "identifier")?.to_string();
        check_identifier(&id)?;
        check_window("maintenance_window", planned)?;
        let password = string(planned, "password")?;
        let scrub = |e: ProviderError| scrub_secret(e, password.as_deref());
        let tags = to_sdk_tags(new.tags);
        let gs = |k| string(planned, k);
        let gi = |k| common::opt_i32(planned, k);
        let gb = |k| common::opt_bool(planned, k);
        let sgs =
            Some(common::str_list(planned, "vpc_security_group_ids")?).filter(|v| !v.is_empty());
        let Some(source) = gs("replicate_source_db")? else {
            let engine = gs("engine")?.ok_or_else(|| {
                ProviderError::invalid_attribute(
                    "engine",
                    "`engine` is required unless `replicate_source_db` is set",
                )
            })?;
            clients
                .rds
                .create_db_instance()
                .db_instance_identifier(&id)
                .engine(engine)
                .set_engine_version(gs("engine_version")?)
                .db_instance_class(common::req_str(planned, "instance_class")?)
                .set_allocated_storage(gi("allocated_storage")?)
                .set_max_allocated_storage(gi("max_allocated_storage")?)
                .set_storage_type(gs("storage_type")?)
                .set_storage_encrypted(gb("storage_encrypted")?)
                .set_kms_key_id(gs("kms_key_id")?)
                .set_master_username(gs("username")?)
                .set_master_user_password(password.clone())
                .set_db_name(gs("db_name")?)
                .set_port(gi("port")?)
                .set_multi_az(gb("multi_az")?)
                .set_publicly_accessible(gb("publicly_accessible")?)
                .set_vpc_security_group_ids(sgs)
                .set_db_subnet_group_name(gs("db_subnet_group_name")?)
                .set_db_parameter_group_name(gs("parameter_group_name")?)
                .set_backup_retention_period(gi("backup_retention_period")?)
                .set_preferred_backup_window(gs("backup_window")?)
                .set_preferred_maintenance_window(gs("maintenance_window")?)
                .set_deletion_protection(gb("deletion_protection")?)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| scrub(sdk_error("CreateDBInstance", e)))?;
            new.ctx.created(&id);
            return Ok(id);
        };
        clients
            .rds
            .create_db_instance_read_replica()
            .db_instance_identifier(&id)
            .source_db_instance_identifier(source)
            .db_instance_class(common::req_str(planned, "instance_class")?)
            .set_port(gi("port")?)
            .set_multi_az(gb("multi_az")?)
            .set_publicly_accessible(gb("publicly_accessible")?)
            .set_vpc_security_group_ids(sgs)
            .set_db_subnet_group_name(gs("db_subnet_group_name")?)
            .set_db_parameter_group_name(gs("parameter_group_name")?)
            .set_storage_type(gs("storage_type")?)
            .set_kms_key_id(gs("kms_key_id")?)
            .set_deletion_protection(gb("deletion_protection")?)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| scrub(sdk_error("CreateDBInstanceReadReplica", e)))?;
        new.ctx.created(&id);
        // A replica is created with its source's settings; bring over what was asked for
        // once it is available. Its master password is its source's, so it is not sent.
        let timeout = decl.timeout(planned, "create");
        let current = to_value(&wait_available(clients, &id, timeout, false).await?);
        let differ: Vec<String> = [
            "allocated_storage",
            "backup_retention_period",
            "backup_window",
            "maintenance_window",
        ]
        .iter()
        .filter(|k| {
            let want = planned.get(k).filter(|v| !v.is_null() && v.is_known());
            want.is_some() && want != current.get(k)
        })
        .map(|k| k.to_string())
        .collect();
        if !differ.is_empty() {
            modify(clients, &id, planned, &differ).await?;
            wait_available(clients, &id, timeout, true).await?;
        }
        Ok(id)
    }

    async fn update(
        &self,
        clients: &Clients,
        decl: &Decl,
        request: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let planned = request.planned;
        check_window("maintenance_window", planned)?;
        modify(clients, request.id, planned, request.changed).await?;
        // Changes applied now are awaited until none is pending; deferred ones wait for
        // the maintenance window, so only `available` (the driver's wait) is awaited.
        if common::opt_bool(planned, "apply_immediately")?.unwrap_or(true) {
            let timeout = decl.timeout(planned, "update");
            wait_available(clients, request.id, timeout, true).await?;
        }
        Ok(())
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        let skip = common::opt_bool(prior, "skip_final_snapshot")?.unwrap_or(false)
            || common::opt_str(prior, "replicate_source_db")?.is_some();
        let mut call = clients
            .rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .skip_final_snapshot(skip);
        if !skip {
            let snapshot = common::opt_str(prior, "final_snapshot_identifier")?.ok_or_else(|| {
                ProviderError::invalid_attribute(
                    "final_snapshot_identifier",
                    "final_snapshot_identifier is required when skip_final_snapshot is false; set one (or \
                     skip_final_snapshot = true) and apply before destroying",
                )
            })?;
            call = call.final_db_snapshot_identifier(snapshot);
        }
        call.send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteDBInstance", e))
    }

    fn pending(&self, value: &Value) -> Option<String> {
        match value.get(STATUS).and_then(Value::as_str) {
            Some("available") => None,
            status => Some(status.unwrap_or_default().to_string()),
        }
    }

    fn failed(&self, value: &Value) -> Option<String> {
        value
            .get(STATUS)
            .and_then(Value::as_str)
            .filter(|s| FAILED.contains(s))
            .map(|s| format!("the DB instance is {s}"))
    }
}

/// One ModifyDBInstance carrying the attributes named in `changed`.
async fn modify(
    clients: &Clients,
    id: &str,
    planned: &Value,
    changed: &[String],
) -> Result<(), ProviderError> {
    let has = |k: &str| crate::common::changed(changed, k);
    let gs = |k: &str| if has(k) { string(planned, k) } else { Ok(None) };
    let gi = |k: &str| {
        if has(k) {
            common::opt_i32(planned, k)
        } else {
            Ok(None)
        }
    };
    let gb = |k: &str| {
        if has(k) {
            common::opt_bool(planned, k)
        } else {
            Ok(None)
        }
    };
    let password = gs("password")?;
    // Autoscaling is turned off by setting the limit to the allocated storage.
    let max_storage = match gi("max_allocated_storage")? {
        None if has("max_allocated_storage") => common::opt_i32(planned, "allocated_storage")?,
        limit => limit,
    };
    let sgs = if has("vpc_security_group_ids") {
        Some(common::str_list(planned, "vpc_security_group_ids")?)
    } else {
        None
    };
    let engine_version = gs("engine_version")?;
    clients
        .rds
        .modify_db_instance()
        .db_instance_identifier(id)
        .apply_immediately(common::opt_bool(planned, "apply_immediately")?.unwrap_or(true))
        .set_db_instance_class(gs("instance_class")?)
        .set_allocated_storage(gi("allocated_storage")?)
        .set_max_allocated_storage(max_storage)
        .set_storage_type(gs("storage_type")?)
        .set_allow_major_version_upgrade(engine_version.as_ref().map(|_| true))
        .set_engine_version(engine_version)
        .set_master_user_password(password.clone())
        .set_db_port_number(gi("port")?)
        .set_multi_az(gb("multi_az")?)
        .set_publicly_accessible(gb("publicly_accessible")?)
        .set_vpc_security_group_ids(sgs)
        .set_db_parameter_group_name(gs("parameter_group_name")?)
        .set_backup_retention_period(gi("backup_retention_period")?)
        .set_preferred_backup_window(gs("backup_window")?)
        .set_preferred_maintenance_window(gs("maintenance_window")?)
        .set_deletion_protection(gb("deletion_protection")?)
        .send()
        .await
        .map_err(|e| scrub_secret(sdk_error("ModifyDBInstance", e), password.as_deref()))?;
    Ok(())
}

/// An optional string attribute, owned.
fn string(v: &Value, name: &str) -> Result<Option<String>, ProviderError> {
    Ok(common::opt_str(v, name)?.map(str::to_string))
}

/// Replaces every occurrence of the password in an error message with `(secret)`.
fn scrub_secret(mut e: ProviderError, secret: Option<&str>) -> ProviderError {
    if let Some(s) = secret.filter(|s| !s.is_empty()) {
        e.message = e.message.replace(s, gig_core::value::REDACTED);
    }
    e
}

/// Refuses identifiers AWS would reject or store in another spelling.
fn check_identifier(id: &str) -> Result<(), ProviderError> {
    let ok = id.len() <= 63
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.ends_with('-')
        && !id.contains("--");
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid_attribute(
            "identifier",
            "a DB instance identifier is 1 to 63 lower-case letters, digits or hyphens, starts with a letter, and \
             has no two consecutive hyphens and no trailing hyphen",
        ))
    }
}

/// Refuses a window with upper-case letters (AWS stores it in lower case).
fn check_window(attr: &str, planned: &Value) -> Result<(), ProviderError> {
    match common::opt_str(planned, attr)? {
        Some(w) if w.chars().any(|c| c.is_ascii_uppercase()) => {
            Err(ProviderError::invalid_attribute(
                attr,
                format!(
                    "{attr} must be lower case (for example sun:05:00-sun:06:00), as AWS stores it"
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// Whether two spellings of a replica's source name the same instance: equal, or one is
/// an ARN ending in `:db:<the other>`.
fn same_source(a: &str, b: &str) -> bool {
    a == b || a.ends_with(&format!(":db:{b}")) || b.ends_with(&format!(":db:{a}"))
}

/// Describes instances by identifier, [`common::DESCRIBE_BATCH`] per call.
async fn describe_many(
    clients: &Clients,
    ids: &[String],
) -> Result<BTreeMap<String, SdkDbInstance>, ProviderError> {
    let mut found = BTreeMap::new();
    for chunk in common::chunks(ids, common::DESCRIBE_BATCH) {
        let filter = Filter::builder()
            .name("db-instance-id")
            .set_values(Some(chunk.to_vec()))
            .build();
        let mut pages = clients
            .rds
            .describe_db_instances()
            .filters(filter)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for db in page
                .map_err(|e| sdk_error("DescribeDBInstances", e))?
                .db_instances
                .unwrap_or_default()
            {
                if let Some(id) = db.db_instance_identifier.clone() {
                    found.insert(id, db);
                }
            }
        }
    }
    Ok(found)
}

/// Waits until the instance is `available` (and, with `settled`, has no pending
/// modifications left); a state it cannot leave ends the wait with an error.
async fn wait_available(
    clients: &Clients,
    id: &str,
    timeout: Duration,
    settled: bool,
) -> Result<SdkDbInstance, ProviderError> {
    wait_until(
        &format!("DB instance {id} to be available"),
        timeout,
        POLL,
        || async {
            let ids = [id.to_string()];
            let Some(db) = describe_many(clients, &ids).await?.remove(id) else {
                return Ok(Poll::Pending("not visible yet".into()));
            };
            let status = db.db_instance_status.clone().unwrap_or_default();
            let pending = db
                .pending_modified_values
                .as_ref()
                .is_some_and(|p| *p != PendingModifiedValues::builder().build());
            if status == "available" && !(settled && pending) {
                Ok(Poll::Done(db))
            } else if FAILED.contains(&status.as_str()) {
                Err(ProviderError::permanent(format!(
                    "DB instance {id} is {status}"
                )))
            } else {
                Ok(Poll::Pending(if pending {
                    format!("{status}, modifications pending")
                } else {
                    status
                }))
            }
        },
    )
    .await
}

/// The Refreshed value of an instance as AWS describes it, with every tag and its state
/// under [`STATUS`]; the driver adds the password and gig's settings from state.
fn to_value(db: &SdkDbInstance) -> Value {
    let s = |v: &Option<String>| common::opt_string(v.as_deref());
    let id = db.db_instance_identifier.clone().unwrap_or_default();
    // A limit equal to the allocated storage is AWS's way of saying "no autoscaling".
    let limit = db
        .max_allocated_storage
        .filter(|max| Some(*max) != db.allocated_storage);
    let port = db
        .endpoint
        .as_ref()
        .and_then(|e| e.port)
        .or(db.db_instance_port.filter(|p| *p != 0));
    let address = db.endpoint.as_ref().and_then(|e| e.address.clone());
    let m: BTreeMap<String, Value> = [
        ("id", Value::from(id.clone())),
        ("identifier", Value::from(id)),
        ("engine", s(&db.engine)),
        ("engine_version", s(&db.engine_version)),
        ("instance_class", s(&db.db_instance_class)),
        ("allocated_storage", common::opt_num(db.allocated_storage)),
        ("max_allocated_storage", common::opt_num(limit)),
        ("storage_type", s(&db.storage_type)),
        (
            "storage_encrypted",
            Value::Bool(db.storage_encrypted.unwrap_or(false)),
        ),
        ("kms_key_id", s(&db.kms_key_id)),
        ("username", s(&db.master_username)),
        ("db_name", s(&db.db_name)),
        ("port", common::opt_num(port)),
        ("multi_az", Value::Bool(db.multi_az.unwrap_or(false))),
        (
            "publicly_accessible",
            Value::Bool(db.publicly_accessible.unwrap_or(false)),
        ),
        (
            "vpc_security_group_ids",
            common::sorted_string_list(
                db.vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id.as_deref()),
            ),
        ),
        (
            "db_subnet_group_name",
            common::opt_string(
                db.db_subnet_group
                    .as_ref()
                    .and_then(|g| g.db_subnet_group_name.as_deref()),
            ),
        ),
        (
            "parameter_group_name",
            common::opt_string(
                db.db_parameter_groups()
                    .first()
                    .and_then(|g| g.db_parameter_group_name.as_deref()),
            ),
        ),
        (
            "backup_retention_period",
            common::opt_num(db.backup_retention_period),
        ),
        ("backup_window", s(&db.preferred_backup_window)),
        ("maintenance_window", s(&db.preferred_maintenance_window)),
        (
            "deletion_protection",
            Value::Bool(db.deletion_protection.unwrap_or(false)),
        ),
        (
            "replicate_source_db",
            s(&db.read_replica_source_db_instance_identifier),
        ),
        ("tags", tags_map(tags_to_map(db.tag_list()))),
        (
            "endpoint",
            match (&address, port) {
                (Some(a), Some(p)) => Value::from(format!("{a}:{p}")),
                _ => Value::Null,
            },
        ),
        ("address", s(&address)),
        ("arn", s(&db.db_instance_arn)),
        (STATUS, s(&db.db_instance_status)),
        ("resource_id", s(&db.dbi_resource_id)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Value::Map(m)
}

#[cfg(test)]
mod tests {
    use super::{same_source, scrub_secret};
    use gig_provider::ProviderError;

    #[test]
    fn errors_are_scrubbed_of_the_password() {
        let e = ProviderError::permanent("MasterUserPassword hunter2 is not valid");
        assert_eq!(
            scrub_secret(e, Some("hunter2")).message,
            "MasterUserPassword (secret) is not valid"
        );
    }

    #[test]
    fn a_source_arn_names_the_same_instance_as_its_identifier() {
        let arn = "arn:aws:rds:eu-west-1:123456789012:db:primary";
        assert!(same_source(arn, "primary"));
        assert!(same_source("primary", arn));
        assert!(!same_source(arn, "other"));
    }
}
