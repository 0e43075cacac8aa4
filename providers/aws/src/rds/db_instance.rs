//! `aws.db_instance`: an RDS DB instance, or a read replica of one (`replicate_source_db`).
//!
//! The id is the DB instance identifier. Create calls CreateDBInstance (or
//! CreateDBInstanceReadReplica, then ModifyDBInstance for what a replica cannot be
//! created with) and waits until the instance is `available`. Updates go through one
//! ModifyDBInstance carrying only the changed attributes, with `ApplyImmediately` from
//! the `apply_immediately` attribute (default true), then wait until `available` with
//! no pending modifications. Delete waits until the instance is gone. Deletion
//! protection is never switched off by gig: with it on, AWS's own error is reported.
//!
//! The master password is write-only: it is sent on create and when it changes, never
//! read back (the Refreshed value keeps the Prior one) and never part of an error or
//! log line — AWS error messages are scrubbed of it before they leave this module.
//!
//! Read cost: DescribeDBInstances with a `db-instance-id` filter of up to 50
//! identifiers, so N instances cost ceil(N/50) calls; tags come inline (`TagList`).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbInstance as SdkDbInstance, Filter};
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, ErrorClass, Lookup, OpContext, ProviderError, ReadRequest,
    ResourceSchema, UpdateRequest,
};

use crate::common::{self, sdk_error, timeout_setting, timeouts_schema};
use crate::rds::{tags_to_map, to_sdk_tags, update_tags};
use crate::{Clients, ReadResults, ResourceType};

const TYPE_NAME: &str = "aws.db_instance";
const NOT_FOUND: &str = "DBInstanceNotFound";
/// The longest pause between two status checks.
const POLL: Duration = Duration::from_secs(15);
const CREATE_TIMEOUT: Duration = Duration::from_secs(40 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(80 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Attributes that exist only in gig (not in AWS): kept from the Prior value on read.
const META: &[&str] = &[
    "password",
    "skip_final_snapshot",
    "final_snapshot_identifier",
    "apply_immediately",
    "timeouts",
];

/// The `aws.db_instance` resource type.
pub(crate) struct DbInstance;

fn schema() -> ResourceSchema {
    use AttrType::{Bool, Number, Set, String as Str};
    let opt = AttributeSchema::optional;
    let mut a = BTreeMap::new();
    let mut put = |k: &str, s: AttributeSchema| {
        a.insert(k.to_string(), s);
    };
    put(
        "id",
        AttributeSchema::computed(Str, "The DB instance identifier."),
    );
    put(
        "identifier",
        AttributeSchema::required(Str, "DB instance identifier: lower-case letters, digits and hyphens, starting with a letter.")
            .force_new(),
    );
    put(
        "engine",
        opt(Str, "Database engine (`mysql`, `postgres`, `mariadb` …); required unless `replicate_source_db` is set.")
            .also_computed()
            .force_new(),
    );
    put(
        "engine_version",
        opt(
            Str,
            "Engine version; give the full version AWS reports (e.g. `8.0.35`). Changes in place.",
        )
        .also_computed(),
    );
    put(
        "instance_class",
        AttributeSchema::required(Str, "Instance class, e.g. `db.t3.micro`. Changes in place."),
    );
    put(
        "allocated_storage",
        opt(
            Number,
            "Storage in GiB; required unless `replicate_source_db` is set. Grows in place.",
        )
        .also_computed(),
    );
    put(
        "max_allocated_storage",
        opt(
            Number,
            "Upper limit in GiB for storage autoscaling; unset turns autoscaling off. Changes in place.",
        ),
    );
    put(
        "storage_type",
        opt(
            Str,
            "`gp2`, `gp3`, `io1`, `io2` or `standard`. Changes in place.",
        )
        .also_computed(),
    );
    put(
        "storage_encrypted",
        opt(Bool, "Encrypt storage at rest.")
            .default(false)
            .force_new(),
    );
    put(
        "kms_key_id",
        opt(Str, "KMS key ARN for storage encryption.")
            .also_computed()
            .force_new(),
    );
    put(
        "username",
        opt(
            Str,
            "Master user name; required unless `replicate_source_db` is set.",
        )
        .also_computed()
        .force_new(),
    );
    put(
        "password",
        opt(
            Str,
            "Master password; never shown, never read back from AWS. Changes in place.",
        )
        .secret(),
    );
    put(
        "db_name",
        opt(Str, "Name of the database created with the instance.")
            .also_computed()
            .force_new(),
    );
    put(
        "port",
        opt(Number, "Port the database listens on. Changes in place.").also_computed(),
    );
    put(
        "multi_az",
        opt(Bool, "Run a standby in a second availability zone.").default(false),
    );
    put(
        "publicly_accessible",
        opt(Bool, "Give the instance a public address.").default(false),
    );
    put(
        "vpc_security_group_ids",
        opt(
            Set(Box::new(Str)),
            "VPC security groups of the instance. Change in place.",
        )
        .also_computed(),
    );
    put(
        "db_subnet_group_name",
        opt(
            Str,
            "DB subnet group (and so the VPC) to place the instance in.",
        )
        .also_computed()
        .force_new(),
    );
    put(
        "parameter_group_name",
        opt(Str, "DB parameter group. Changes in place.").also_computed(),
    );
    put(
        "backup_retention_period",
        opt(
            Number,
            "Days to keep automated backups (0 turns them off). Changes in place.",
        )
        .also_computed(),
    );
    put(
        "backup_window",
        opt(
            Str,
            "Daily backup window in UTC, `hh24:mi-hh24:mi`. Changes in place.",
        )
        .also_computed(),
    );
    put(
        "maintenance_window",
        opt(Str, "Weekly maintenance window in UTC, lower case: `ddd:hh24:mi-ddd:hh24:mi`. Changes in place.")
            .also_computed(),
    );
    put(
        "deletion_protection",
        opt(
            Bool,
            "Refuse deletes; turn it off (and apply) before destroying the instance.",
        )
        .default(false),
    );
    put(
        "skip_final_snapshot",
        opt(
            Bool,
            "Delete without a final snapshot; when false, `final_snapshot_identifier` is required.",
        )
        .default(false),
    );
    put(
        "final_snapshot_identifier",
        opt(Str, "Name of the final snapshot taken on delete."),
    );
    put(
        "apply_immediately",
        opt(
            Bool,
            "Apply modifications now instead of in the next maintenance window (gig setting).",
        )
        .default(true),
    );
    put(
        "replicate_source_db",
        opt(
            Str,
            "Identifier (or ARN, across regions) of the instance to create a read replica of.",
        )
        .force_new(),
    );
    put("tags", common::tags_schema());
    put("timeouts", timeouts_schema());
    put(
        "address",
        AttributeSchema::computed(Str, "Host name of the instance."),
    );
    put(
        "endpoint",
        AttributeSchema::computed(Str, "`address:port`."),
    );
    put(
        "arn",
        AttributeSchema::computed(Str, "ARN of the instance."),
    );
    put(
        "status",
        AttributeSchema::computed(Str, "Instance status, e.g. `available`."),
    );
    put(
        "resource_id",
        AttributeSchema::computed(Str, "The region-unique, immutable resource id (`db-…`)."),
    );
    ResourceSchema {
        type_name: TYPE_NAME.into(),
        description: "An RDS DB instance (MySQL, PostgreSQL, MariaDB …), or a read replica of one. Class, storage, \
                      password, security groups, windows and protection change in place (ModifyDBInstance, applied \
                      immediately unless `apply_immediately = false`); identifier, engine, user name, database name, \
                      subnet group and encryption replace it."
            .into(),
        version: 1,
        attributes: a,
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
}"#
        .into(),
    }
}

#[async_trait]
impl ResourceType for DbInstance {
    fn schema(&self) -> ResourceSchema {
        schema()
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        let ids: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
        let found = describe_many(clients, &ids).await?;
        Ok(requests
            .iter()
            .map(|r| Ok(found.get(&r.id).map(|db| to_value(db, &r.prior))))
            .collect())
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let id = common::req_str(planned, "identifier")?.to_string();
        check_identifier(&id)?;
        check_window("maintenance_window", planned)?;
        let password = string(planned, "password")?;
        let scrub = |e: ProviderError| scrub_secret(e, password.as_deref());
        let tags = to_sdk_tags(common::all_tags(planned, ctx)?);
        let gs = |k| string(planned, k);
        let gi = |k| common::opt_i32(planned, k);
        let gb = |k| common::opt_bool(planned, k);
        let sgs =
            Some(common::str_list(planned, "vpc_security_group_ids")?).filter(|v| !v.is_empty());
        let source = gs("replicate_source_db")?;
        if let Some(source) = &source {
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
        } else {
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
        }
        ctx.created(&id);
        let timeout = timeout_setting(planned, "create", CREATE_TIMEOUT);
        let db = wait_available(clients, &id, timeout, false).await?;
        if source.is_some() {
            // A replica is created with its source's settings; bring over what was asked for.
            let fields = [
                "allocated_storage",
                "backup_retention_period",
                "backup_window",
                "maintenance_window",
                "password",
            ];
            let current = to_value(&db, planned);
            let differ: Vec<String> = fields
                .iter()
                .filter(|k| {
                    let want = planned.get(k).filter(|v| !v.is_null() && v.is_known());
                    want.is_some() && want != current.get(k)
                })
                .map(|k| k.to_string())
                .collect();
            if !differ.is_empty() {
                modify(clients, &id, planned, &differ).await?;
                let db = wait_available(clients, &id, timeout, true).await?;
                return Ok(to_value(&db, planned));
            }
        }
        Ok(to_value(&db, planned))
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let id = common::req_str(planned, "identifier")?;
        let Some(db) = common::unless_not_found(describe_one(clients, id).await)? else {
            return Ok(Lookup::Found(Vec::new()));
        };
        let arn = db.db_instance_arn().unwrap_or_default();
        let tags = super::list_tags(clients, arn).await?;
        Ok(common::owned_by([(id.to_string(), tags)], ctx))
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let planned = request.planned;
        check_window("maintenance_window", planned)?;
        let api: Vec<String> = request
            .changed
            .iter()
            .filter(|k| {
                k.as_str() == "password" || (k.as_str() != "tags" && !META.contains(&k.as_str()))
            })
            .cloned()
            .collect();
        if !api.is_empty() {
            modify(clients, request.id, planned, &api).await?;
        }
        if request.changed.iter().any(|k| k == "tags") {
            let arn = common::req_str(request.prior, "arn")?;
            update_tags(clients, arn, request.prior, planned).await?;
        }
        let immediate = common::opt_bool(planned, "apply_immediately")?.unwrap_or(true);
        let timeout = timeout_setting(planned, "update", UPDATE_TIMEOUT);
        let db = if api.is_empty() {
            describe_one(clients, request.id).await?
        } else {
            wait_available(clients, request.id, timeout, immediate).await?
        };
        Ok(to_value(&db, planned))
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
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
        if let Err(e) = call.send().await {
            return common::ignore_not_found(Err(sdk_error("DeleteDBInstance", e)));
        }
        let timeout = timeout_setting(prior, "delete", DELETE_TIMEOUT);
        common::wait_until(
            &format!("DB instance {id} to be deleted"),
            timeout,
            POLL,
            || async {
                match describe_one(clients, id).await {
                    Ok(db) => Ok(common::Poll::Pending(
                        db.db_instance_status.unwrap_or_default(),
                    )),
                    Err(e) if common::is_not_found(&e) => Ok(common::Poll::Done(())),
                    Err(e) => Err(e),
                }
            },
        )
        .await
    }
}

/// One ModifyDBInstance carrying the attributes named in `changed`.
async fn modify(
    clients: &Clients,
    id: &str,
    planned: &Value,
    changed: &[String],
) -> Result<(), ProviderError> {
    let has = |k: &str| changed.iter().any(|c| c == k);
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

/// Describes one instance; a NotFound error when it does not exist.
async fn describe_one(clients: &Clients, id: &str) -> Result<SdkDbInstance, ProviderError> {
    let out = clients
        .rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeDBInstances", e))?;
    out.db_instances
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| {
            ProviderError::new(
                ErrorClass::NotFound,
                Some(NOT_FOUND.into()),
                format!("DBInstance {id} not found."),
            )
        })
}

/// Waits until the instance is `available` (and, with `settled`, has no pending
/// modifications left).
async fn wait_available(
    clients: &Clients,
    id: &str,
    timeout: Duration,
    settled: bool,
) -> Result<SdkDbInstance, ProviderError> {
    common::wait_until(
        &format!("DB instance {id} to be available"),
        timeout,
        POLL,
        || async {
            let db = describe_one(clients, id).await?;
            let status = db.db_instance_status.clone().unwrap_or_default();
            let pending = db.pending_modified_values.as_ref().is_some_and(|p| {
                *p != aws_sdk_rds::types::PendingModifiedValues::builder().build()
            });
            if status == "available" && !(settled && pending) {
                Ok(common::Poll::Done(db))
            } else if matches!(
                status.as_str(),
                "failed" | "incompatible-parameters" | "incompatible-restore" | "storage-full"
            ) {
                Err(ProviderError::permanent(format!(
                    "DB instance {id} is {status}"
                )))
            } else {
                Ok(common::Poll::Pending(if pending {
                    format!("{status}, modifications pending")
                } else {
                    status
                }))
            }
        },
    )
    .await
}

/// The Refreshed value of an instance; gig-only settings come from `prior`.
fn to_value(db: &SdkDbInstance, prior: &Value) -> Value {
    let mut m = BTreeMap::new();
    let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::from);
    let n = |v: Option<i32>| v.map_or(Value::Null, |n| Value::from(i64::from(n)));
    let id = db.db_instance_identifier.clone().unwrap_or_default();
    m.insert("id".into(), Value::from(id.clone()));
    m.insert("identifier".into(), Value::from(id));
    m.insert("engine".into(), s(&db.engine));
    m.insert("engine_version".into(), s(&db.engine_version));
    m.insert("instance_class".into(), s(&db.db_instance_class));
    m.insert("allocated_storage".into(), n(db.allocated_storage));
    // A limit equal to the allocated storage is AWS's way of saying "no autoscaling".
    let limit = db
        .max_allocated_storage
        .filter(|max| Some(*max) != db.allocated_storage);
    m.insert("max_allocated_storage".into(), n(limit));
    m.insert("storage_type".into(), s(&db.storage_type));
    m.insert(
        "storage_encrypted".into(),
        Value::Bool(db.storage_encrypted.unwrap_or(false)),
    );
    m.insert("kms_key_id".into(), s(&db.kms_key_id));
    m.insert("username".into(), s(&db.master_username));
    m.insert("db_name".into(), s(&db.db_name));
    let port = db
        .endpoint
        .as_ref()
        .and_then(|e| e.port)
        .or(db.db_instance_port.filter(|p| *p != 0));
    m.insert("port".into(), n(port));
    m.insert("multi_az".into(), Value::Bool(db.multi_az.unwrap_or(false)));
    m.insert(
        "publicly_accessible".into(),
        Value::Bool(db.publicly_accessible.unwrap_or(false)),
    );
    let mut sgs: Vec<String> = db
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id.clone())
        .collect();
    sgs.sort();
    m.insert(
        "vpc_security_group_ids".into(),
        Value::List(sgs.into_iter().map(Value::from).collect()),
    );
    m.insert(
        "db_subnet_group_name".into(),
        s(&db
            .db_subnet_group
            .as_ref()
            .and_then(|g| g.db_subnet_group_name.clone())),
    );
    m.insert(
        "parameter_group_name".into(),
        s(&db
            .db_parameter_groups()
            .first()
            .and_then(|g| g.db_parameter_group_name.clone())),
    );
    m.insert(
        "backup_retention_period".into(),
        n(db.backup_retention_period),
    );
    m.insert("backup_window".into(), s(&db.preferred_backup_window));
    m.insert(
        "maintenance_window".into(),
        s(&db.preferred_maintenance_window),
    );
    m.insert(
        "deletion_protection".into(),
        Value::Bool(db.deletion_protection.unwrap_or(false)),
    );
    // The source as the user wrote it when it names the same instance (an ARN or an identifier).
    let source = db.read_replica_source_db_instance_identifier.clone();
    let user_source = common::opt_str(prior, "replicate_source_db")
        .ok()
        .flatten()
        .map(str::to_string);
    let source = match (source, user_source) {
        (Some(aws), Some(user))
            if user == aws
                || user.ends_with(&format!(":db:{aws}"))
                || aws.ends_with(&format!(":db:{user}")) =>
        {
            Value::from(user)
        }
        (Some(aws), _) => Value::from(aws),
        (None, _) => Value::Null,
    };
    m.insert("replicate_source_db".into(), source);
    m.insert(
        "tags".into(),
        common::tags_value(&tags_to_map(db.tag_list())),
    );
    let address = db.endpoint.as_ref().and_then(|e| e.address.clone());
    m.insert(
        "endpoint".into(),
        match (&address, port) {
            (Some(a), Some(p)) => Value::from(format!("{a}:{p}")),
            _ => Value::Null,
        },
    );
    m.insert("address".into(), s(&address));
    m.insert("arn".into(), s(&db.db_instance_arn));
    m.insert("status".into(), s(&db.db_instance_status));
    m.insert("resource_id".into(), s(&db.dbi_resource_id));
    for k in META {
        let default = match *k {
            "skip_final_snapshot" => Value::Bool(false),
            "apply_immediately" => Value::Bool(true),
            _ => Value::Null,
        };
        let v = prior.get(k).cloned().filter(|v| !v.is_null());
        m.insert(k.to_string(), v.unwrap_or(default));
    }
    Value::Map(m)
}

#[cfg(test)]
mod tests {
    use super::scrub_secret;
    use gig_provider::ProviderError;

    #[test]
    fn errors_are_scrubbed_of_the_password() {
        let e = ProviderError::permanent("MasterUserPassword hunter2 is not valid");
        assert_eq!(
            scrub_secret(e, Some("hunter2")).message,
            "MasterUserPassword (secret) is not valid"
        );
    }
}
