//! `aws.kms_key`: a customer-managed KMS key.
//!
//! Refresh: DescribeKey, GetKeyRotationStatus and ListResourceTags per key; a key
//! pending deletion counts as gone. Description, rotation and enablement change in
//! place. Delete schedules the deletion after `deletion_window_in_days` (a gig setting:
//! AWS keeps no such attribute).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType};
use gig_core::value::Value;
use gig_provider::{AttrType, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{
    changed, has_code, not_found, object, opt_bool, opt_i32, opt_str, opt_string, sdk_error,
};
use crate::model::{computed, fetch_each, optional, owned, Decl, Model, New};
use crate::tagging::{kms_tags, Tagging};
use crate::Clients;

/// The `aws.kms_key` resource type.
pub(crate) struct KmsKey;

#[async_trait]
impl Model for KmsKey {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.kms_key",
            description: "A customer-managed KMS key, for encrypting buckets, parameters, logs and databases \
                          with a key you control. Deleting it only schedules the deletion: the key stays \
                          recoverable for `deletion_window_in_days`.",
            example: "resource aws.kms_key backups {\n  description         = \"Backup bucket encryption\"\n  enable_key_rotation = true\n}",
            id: "key id",
            attrs: vec![
                optional("description", AttrType::String, "What the key is for.").default(""),
                optional("key_usage", AttrType::String, "`ENCRYPT_DECRYPT`, `SIGN_VERIFY` or `GENERATE_VERIFY_MAC`.").default("ENCRYPT_DECRYPT").force_new(),
                optional("key_spec", AttrType::String, "The key type, e.g. `SYMMETRIC_DEFAULT` or `RSA_2048`.").default("SYMMETRIC_DEFAULT").force_new(),
                optional("enable_key_rotation", AttrType::Bool, "Rotate the key material every year.").default(false),
                optional("is_enabled", AttrType::Bool, "Whether the key can be used.").default(true),
                optional("deletion_window_in_days", AttrType::Number, "Days (7–30) a deleted key stays recoverable (gig setting, used on delete).").default(30i64).setting(),
                computed("arn", AttrType::String, "The key's ARN."),
                computed("key_id", AttrType::String, "The key id (the same as `id`)."),
            ],
            tags: Some(Tagging::Kms),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        fetch_each(ids, |id| async move {
            let out = clients
                .kms
                .describe_key()
                .key_id(&id)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeKey", e))?;
            let k = out
                .key_metadata()
                .ok_or_else(|| not_found(format!("key {id}")))?;
            if matches!(
                k.key_state(),
                Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
            ) {
                return Err(not_found(format!("key {id} is pending deletion")));
            }
            let rotation = clients
                .kms
                .get_key_rotation_status()
                .key_id(&id)
                .send()
                .await
                .map_err(|e| sdk_error("GetKeyRotationStatus", e))?;
            let tags = clients
                .kms
                .list_resource_tags()
                .key_id(&id)
                .send()
                .await
                .map_err(|e| sdk_error("ListResourceTags", e))?;
            let tags: BTreeMap<String, Value> = tags
                .tags()
                .iter()
                .map(|t| (t.tag_key().to_string(), Value::str(t.tag_value())))
                .collect();
            Ok(object([
                ("id", Value::str(k.key_id())),
                ("key_id", Value::str(k.key_id())),
                ("arn", opt_string(k.arn())),
                (
                    "description",
                    Value::str(k.description().unwrap_or_default()),
                ),
                (
                    "key_usage",
                    opt_string(k.key_usage().map(KeyUsageType::as_str)),
                ),
                ("key_spec", opt_string(k.key_spec().map(KeySpec::as_str))),
                (
                    "enable_key_rotation",
                    Value::Bool(rotation.key_rotation_enabled()),
                ),
                ("is_enabled", Value::Bool(k.enabled())),
                ("tags", Value::Map(tags)),
            ]))
        })
        .await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let out = clients
            .kms
            .create_key()
            .description(opt_str(new.planned, "description")?.unwrap_or_default())
            .key_usage(KeyUsageType::from(
                opt_str(new.planned, "key_usage")?.unwrap_or("ENCRYPT_DECRYPT"),
            ))
            .key_spec(KeySpec::from(
                opt_str(new.planned, "key_spec")?.unwrap_or("SYMMETRIC_DEFAULT"),
            ))
            .set_tags(Some(kms_tags(&new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateKey", e))?;
        let id = out
            .key_metadata()
            .map(|k| k.key_id().to_string())
            .unwrap_or_default();
        if id.is_empty() {
            return Err(ProviderError::permanent("CreateKey returned no key id"));
        }
        new.ctx.created(&id);
        let all: Vec<String> = ["enable_key_rotation", "is_enabled"]
            .map(String::from)
            .to_vec();
        let fresh = object([
            ("enable_key_rotation", Value::Bool(false)),
            ("is_enabled", Value::Bool(true)),
        ]);
        settle(clients, &id, &fresh, new.planned, &all).await?;
        Ok(id)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        if changed(req.changed, "description") {
            clients
                .kms
                .update_key_description()
                .key_id(req.id)
                .description(opt_str(req.planned, "description")?.unwrap_or_default())
                .send()
                .await
                .map_err(|e| sdk_error("UpdateKeyDescription", e))?;
        }
        settle(clients, req.id, req.prior, req.planned, req.changed).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        let days = opt_i32(prior, "deletion_window_in_days")?.unwrap_or(30);
        match clients
            .kms
            .schedule_key_deletion()
            .key_id(id)
            .pending_window_in_days(days)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = sdk_error("ScheduleKeyDeletion", e);
                // Already scheduled: as good as deleted.
                if has_code(&e, "KMSInvalidStateException") {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// The account's keys that carry this create's gig tags.
    async fn find_created(
        &self,
        clients: &Clients,
        _decl: &Decl,
        ctx: &OpContext,
        _planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let mut ids = Vec::new();
        let mut marker = None;
        loop {
            let page = clients
                .kms
                .list_keys()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| sdk_error("ListKeys", e))?;
            ids.extend(
                page.keys()
                    .iter()
                    .filter_map(|k| k.key_id().map(str::to_string)),
            );
            match page.next_marker() {
                Some(m) if page.truncated() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(owned(self.fetch(clients, ids).await?, ctx))
    }
}

/// Brings rotation and enablement from `prior` to `planned` for the `changed` ones.
async fn settle(
    clients: &Clients,
    id: &str,
    prior: &Value,
    planned: &Value,
    changed_attrs: &[String],
) -> Result<(), ProviderError> {
    let want = |attr| opt_bool(planned, attr);
    let had = |attr| opt_bool(prior, attr);
    if changed(changed_attrs, "is_enabled") && want("is_enabled")? != had("is_enabled")? {
        let r = if want("is_enabled")? == Some(false) {
            clients
                .kms
                .disable_key()
                .key_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("DisableKey", e))
        } else {
            clients
                .kms
                .enable_key()
                .key_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("EnableKey", e))
        };
        r.map_err(|e| crate::common::on_attribute(e, "is_enabled"))?;
    }
    if changed(changed_attrs, "enable_key_rotation")
        && want("enable_key_rotation")? != had("enable_key_rotation")?
    {
        let r = if want("enable_key_rotation")? == Some(true) {
            clients
                .kms
                .enable_key_rotation()
                .key_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("EnableKeyRotation", e))
        } else {
            clients
                .kms
                .disable_key_rotation()
                .key_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("DisableKeyRotation", e))
        };
        r.map_err(|e| crate::common::on_attribute(e, "enable_key_rotation"))?;
    }
    Ok(())
}
