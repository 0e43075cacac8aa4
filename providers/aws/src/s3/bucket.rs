//! `aws.s3_bucket`: a bucket with its versioning, default encryption, public access
//! block and lifecycle rules as attributes of the one resource.
//!
//! Attributes rather than companion types: they are settings of one object that a user
//! decides together, the policy check sees a bucket's whole posture in one block, and
//! the safe settings (public access blocked) are the declared defaults. Refresh:
//! HeadBucket, then one Get call per setting (versioning, encryption, public access
//! block, lifecycle, tags); a setting S3 reports as absent reads as unset.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Transition, TransitionStorageClass, VersioningConfiguration,
};
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, ProviderError, UpdateRequest};

use crate::common::{
    block, changed, list, object, on_attribute, opt_bool, opt_i32, opt_num, opt_str, opt_string,
    req_str, sdk_error,
};
use crate::model::{computed, fetch_each, optional, Decl, Model, Naming, New};
use crate::tagging::{s3_tags, Tagging};
use crate::Clients;

/// The `aws.s3_bucket` resource type.
pub(crate) struct S3Bucket;

const ACCESS_FLAGS: [&str; 4] = [
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
];

fn nested(attrs: Vec<(&str, AttributeSchema)>) -> AttrType {
    AttrType::List(Box::new(AttrType::Object(
        attrs.into_iter().map(|(k, a)| (k.to_string(), a)).collect(),
    )))
}

fn all_blocked() -> Value {
    Value::List(vec![Value::Map(
        ACCESS_FLAGS
            .iter()
            .map(|f| (f.to_string(), Value::Bool(true)))
            .collect(),
    )])
}

#[async_trait]
impl Model for S3Bucket {
    fn decl(&self) -> Decl {
        use AttrType::{Bool, Number, String as Str};
        let flag = |d: &str| AttributeSchema::optional(Bool, d).default(true);
        Decl {
            type_name: "aws.s3_bucket",
            description: "An S3 bucket with its versioning, default encryption, public access block and \
                          lifecycle rules. Public access is blocked unless `public_access_block` says \
                          otherwise; every setting changes in place. Deleting a bucket that still holds \
                          objects fails (S3's `BucketNotEmpty`): empty it first.",
            example: "resource aws.s3_bucket backups {\n  name_prefix = \"giggatek-backups-\"\n  versioning  = true\n  server_side_encryption {\n    sse_algorithm     = \"aws:kms\"\n    kms_master_key_id = aws.kms_key.backups.arn\n  }\n  lifecycle_rule {\n    id                                 = \"expire-old\"\n    expiration_days                    = 365\n    noncurrent_version_expiration_days = 30\n  }\n}",
            id: "bucket name",
            attrs: vec![
                optional("versioning", Bool, "Keep every version of every object.").default(false),
                optional(
                    "server_side_encryption",
                    nested(vec![
                        ("sse_algorithm", AttributeSchema::optional(Str, "`AES256` (S3-managed keys) or `aws:kms`.").default("AES256")),
                        ("kms_master_key_id", AttributeSchema::optional(Str, "The KMS key for `aws:kms`.")),
                        ("bucket_key_enabled", AttributeSchema::optional(Bool, "Use an S3 bucket key to cut KMS calls.").default(false)),
                    ]),
                    "Default encryption of new objects; when unset, S3's own default is kept.",
                )
                .also_computed(),
                optional(
                    "public_access_block",
                    nested(ACCESS_FLAGS.iter().map(|f| (*f, flag("Public access setting (see S3's PublicAccessBlock)."))).collect()),
                    "What public access S3 refuses; all four flags are true unless set otherwise.",
                )
                .default(all_blocked()),
                optional(
                    "lifecycle_rule",
                    nested(vec![
                        ("id", AttributeSchema::required(Str, "The rule's name.")),
                        ("enabled", AttributeSchema::optional(Bool, "Whether the rule applies.").default(true)),
                        ("prefix", AttributeSchema::optional(Str, "Only objects under this key prefix.").default("")),
                        ("expiration_days", AttributeSchema::optional(Number, "Delete current versions this many days after creation.")),
                        ("noncurrent_version_expiration_days", AttributeSchema::optional(Number, "Delete older versions this many days after they stop being current.")),
                        ("transition_days", AttributeSchema::optional(Number, "Move objects to `transition_storage_class` after this many days.")),
                        ("transition_storage_class", AttributeSchema::optional(Str, "`STANDARD_IA`, `GLACIER`, `DEEP_ARCHIVE`, …")),
                    ]),
                    "Lifecycle rules, in order.",
                )
                .default(Value::List(Vec::new())),
                computed("arn", Str, "The bucket's ARN."),
                computed("bucket_domain_name", Str, "The bucket's host name, `<name>.s3.amazonaws.com`."),
            ],
            tags: Some(Tagging::S3),
            naming: Some(Naming { max_len: 63, derived: true, id_is_name: true }),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        fetch_each(ids, |name| async move { read_bucket(clients, &name).await }).await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let name = new.name.unwrap_or_default();
        let mut call = clients.s3.create_bucket().bucket(&name);
        if let Some(region) = clients.region.as_deref().filter(|r| *r != "us-east-1") {
            call = call.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        call.send()
            .await
            .map_err(|e| on_attribute(sdk_error("CreateBucket", e), "name"))?;
        new.ctx.created(&name);
        crate::tagging::Tagging::S3
            .sync(clients, &name, &new.tags, &[])
            .await?;
        let all: Vec<String> = [
            "versioning",
            "server_side_encryption",
            "public_access_block",
            "lifecycle_rule",
        ]
        .map(String::from)
        .to_vec();
        apply(clients, &name, &Value::Null, new.planned, &all).await?;
        Ok(name)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        apply(clients, req.id, req.prior, req.planned, req.changed).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .s3
            .delete_bucket()
            .bucket(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteBucket", e))
    }
}

/// Writes the `changed` settings of `planned` (from `prior`, null on create).
async fn apply(
    clients: &Clients,
    name: &str,
    prior: &Value,
    planned: &Value,
    changed_attrs: &[String],
) -> Result<(), ProviderError> {
    let s3 = &clients.s3;
    let invalid = |attr: &'static str| {
        move |e: aws_sdk_s3::error::BuildError| {
            ProviderError::invalid_attribute(attr, e.to_string())
        }
    };
    if changed(changed_attrs, "versioning") {
        let on = opt_bool(planned, "versioning")?.unwrap_or(false);
        // A bucket never versioned stays so; one that was is suspended.
        if on || opt_bool(prior, "versioning")? == Some(true) {
            let status = if on {
                BucketVersioningStatus::Enabled
            } else {
                BucketVersioningStatus::Suspended
            };
            s3.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(VersioningConfiguration::builder().status(status).build())
                .send()
                .await
                .map_err(|e| on_attribute(sdk_error("PutBucketVersioning", e), "versioning"))?;
        }
    }
    if changed(changed_attrs, "server_side_encryption") {
        if let Some(b) = block(planned, "server_side_encryption")? {
            let by_default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::from(
                    opt_str(b, "sse_algorithm")?.unwrap_or("AES256"),
                ))
                .set_kms_master_key_id(opt_str(b, "kms_master_key_id")?.map(str::to_string))
                .build()
                .map_err(invalid("server_side_encryption"))?;
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .bucket_key_enabled(opt_bool(b, "bucket_key_enabled")?.unwrap_or(false))
                .build();
            let config = ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(invalid("server_side_encryption"))?;
            s3.put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(config)
                .send()
                .await
                .map_err(|e| {
                    on_attribute(
                        sdk_error("PutBucketEncryption", e),
                        "server_side_encryption",
                    )
                })?;
        }
    }
    if changed(changed_attrs, "public_access_block") {
        let b = block(planned, "public_access_block")?;
        let flag = |f| {
            b.map_or(Ok(Some(true)), |b| opt_bool(b, f))
                .map(|v| v.unwrap_or(true))
        };
        let config = PublicAccessBlockConfiguration::builder()
            .block_public_acls(flag("block_public_acls")?)
            .block_public_policy(flag("block_public_policy")?)
            .ignore_public_acls(flag("ignore_public_acls")?)
            .restrict_public_buckets(flag("restrict_public_buckets")?)
            .build();
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(config)
            .send()
            .await
            .map_err(|e| {
                on_attribute(sdk_error("PutPublicAccessBlock", e), "public_access_block")
            })?;
    }
    if changed(changed_attrs, "lifecycle_rule") {
        let rules = list(planned, "lifecycle_rule")?;
        if rules.is_empty() {
            if !list(prior, "lifecycle_rule")?.is_empty() {
                s3.delete_bucket_lifecycle()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(|e| {
                        on_attribute(sdk_error("DeleteBucketLifecycle", e), "lifecycle_rule")
                    })?;
            }
        } else {
            let mut out = Vec::new();
            for r in rules {
                let mut rule = LifecycleRule::builder()
                    .id(req_str(r, "id").map_err(|e| on_attribute(e, "lifecycle_rule"))?)
                    .status(if opt_bool(r, "enabled")?.unwrap_or(true) {
                        ExpirationStatus::Enabled
                    } else {
                        ExpirationStatus::Disabled
                    })
                    .filter(
                        LifecycleRuleFilter::builder()
                            .prefix(opt_str(r, "prefix")?.unwrap_or_default())
                            .build(),
                    );
                if let Some(days) = opt_i32(r, "expiration_days")? {
                    rule = rule.expiration(LifecycleExpiration::builder().days(days).build());
                }
                if let Some(days) = opt_i32(r, "noncurrent_version_expiration_days")? {
                    rule = rule.noncurrent_version_expiration(
                        NoncurrentVersionExpiration::builder()
                            .noncurrent_days(days)
                            .build(),
                    );
                }
                if let (Some(days), Some(class)) = (
                    opt_i32(r, "transition_days")?,
                    opt_str(r, "transition_storage_class")?,
                ) {
                    rule = rule.transitions(
                        Transition::builder()
                            .days(days)
                            .storage_class(TransitionStorageClass::from(class))
                            .build(),
                    );
                }
                out.push(rule.build().map_err(invalid("lifecycle_rule"))?);
            }
            let config = BucketLifecycleConfiguration::builder()
                .set_rules(Some(out))
                .build()
                .map_err(invalid("lifecycle_rule"))?;
            s3.put_bucket_lifecycle_configuration()
                .bucket(name)
                .lifecycle_configuration(config)
                .send()
                .await
                .map_err(|e| {
                    on_attribute(
                        sdk_error("PutBucketLifecycleConfiguration", e),
                        "lifecycle_rule",
                    )
                })?;
        }
    }
    Ok(())
}

/// `Ok(None)` for the answers that mean "this setting is not configured".
fn unset<T>(result: Result<T, ProviderError>, codes: &[&str]) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code.as_deref().is_some_and(|c| codes.contains(&c)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_bucket(clients: &Clients, name: &str) -> Result<Value, ProviderError> {
    let s3 = &clients.s3;
    s3.head_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(|e| sdk_error("HeadBucket", e))?;
    let versioning = s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .map_err(|e| sdk_error("GetBucketVersioning", e))?;
    let encryption = unset(
        s3.get_bucket_encryption()
            .bucket(name)
            .send()
            .await
            .map_err(|e| sdk_error("GetBucketEncryption", e)),
        &["ServerSideEncryptionConfigurationNotFoundError"],
    )?;
    let access = unset(
        s3.get_public_access_block()
            .bucket(name)
            .send()
            .await
            .map_err(|e| sdk_error("GetPublicAccessBlock", e)),
        &["NoSuchPublicAccessBlockConfiguration"],
    )?;
    let lifecycle = unset(
        s3.get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .await
            .map_err(|e| sdk_error("GetBucketLifecycleConfiguration", e)),
        &["NoSuchLifecycleConfiguration"],
    )?;
    let tags = s3_tags(clients, name).await?;

    let sse = encryption
        .as_ref()
        .and_then(|e| e.server_side_encryption_configuration())
        .and_then(|c| c.rules().first())
        .map(|r| {
            let d = r.apply_server_side_encryption_by_default();
            object([
                (
                    "sse_algorithm",
                    opt_string(d.map(|d| d.sse_algorithm().as_str())),
                ),
                (
                    "kms_master_key_id",
                    opt_string(d.and_then(|d| d.kms_master_key_id())),
                ),
                (
                    "bucket_key_enabled",
                    Value::Bool(r.bucket_key_enabled().unwrap_or(false)),
                ),
            ])
        });
    let access = access
        .as_ref()
        .and_then(|a| a.public_access_block_configuration())
        .map(|c| {
            Value::Map(BTreeMap::from([
                (
                    "block_public_acls".to_string(),
                    Value::Bool(c.block_public_acls().unwrap_or(false)),
                ),
                (
                    "block_public_policy".to_string(),
                    Value::Bool(c.block_public_policy().unwrap_or(false)),
                ),
                (
                    "ignore_public_acls".to_string(),
                    Value::Bool(c.ignore_public_acls().unwrap_or(false)),
                ),
                (
                    "restrict_public_buckets".to_string(),
                    Value::Bool(c.restrict_public_buckets().unwrap_or(false)),
                ),
            ]))
        });
    let rules: Vec<Value> = lifecycle
        .as_ref()
        .map(|l| l.rules())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let transition = r.transitions().first();
            object([
                ("id", opt_string(r.id())),
                (
                    "enabled",
                    Value::Bool(r.status() == &ExpirationStatus::Enabled),
                ),
                (
                    "prefix",
                    Value::str(r.filter().and_then(|f| f.prefix()).unwrap_or_default()),
                ),
                (
                    "expiration_days",
                    opt_num(r.expiration().and_then(|e| e.days())),
                ),
                (
                    "noncurrent_version_expiration_days",
                    opt_num(
                        r.noncurrent_version_expiration()
                            .and_then(|n| n.noncurrent_days()),
                    ),
                ),
                (
                    "transition_days",
                    opt_num(transition.and_then(|t| t.days())),
                ),
                (
                    "transition_storage_class",
                    opt_string(
                        transition
                            .and_then(|t| t.storage_class())
                            .map(|c| c.as_str()),
                    ),
                ),
            ])
        })
        .collect();
    Ok(object([
        ("id", Value::str(name)),
        ("name", Value::str(name)),
        (
            "versioning",
            Value::Bool(versioning.status() == Some(&BucketVersioningStatus::Enabled)),
        ),
        (
            "server_side_encryption",
            sse.map_or(Value::List(Vec::new()), |b| Value::List(vec![b])),
        ),
        (
            "public_access_block",
            access.map_or(Value::List(Vec::new()), |b| Value::List(vec![b])),
        ),
        ("lifecycle_rule", Value::List(rules)),
        ("arn", Value::String(format!("arn:aws:s3:::{name}"))),
        (
            "bucket_domain_name",
            Value::String(format!("{name}.s3.amazonaws.com")),
        ),
        (
            "tags",
            Value::Map(
                tags.into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
        ),
    ]))
}
