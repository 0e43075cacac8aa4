//! `aws.kms_alias`: a friendly name (`alias/…`) pointing at a KMS key.
//!
//! The id is the alias name. Refresh: ListAliases pages, one listing for all aliases.
//! `target_key_id` changes in place (UpdateAlias) and may be given as the key id or its
//! ARN.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{object, opt_string, req_str, sdk_error};
use crate::model::{computed, required, same_key, Decl, Model, New};
use crate::Clients;

/// The `aws.kms_alias` resource type.
pub(crate) struct KmsAlias;

#[async_trait]
impl Model for KmsAlias {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.kms_alias",
            description: "An alias (`alias/<name>`) for a KMS key: what applications and other resources can \
                          name instead of the key id. Pointing it at another key is an update in place.",
            example: "resource aws.kms_alias backups {\n  name          = \"alias/giggatek-backups\"\n  target_key_id = aws.kms_key.backups.key_id\n}",
            id: "alias name",
            attrs: vec![
                required("name", AttrType::String, "The alias, starting with `alias/`.").force_new(),
                required("target_key_id", AttrType::String, "The key (id or ARN) the alias points at.").same_as(same_key),
                computed("arn", AttrType::String, "The alias's ARN."),
            ],
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let wanted: BTreeSet<String> = ids.into_iter().collect();
        let mut found = BTreeMap::new();
        let mut marker = None;
        loop {
            let page = clients
                .kms
                .list_aliases()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| sdk_error("ListAliases", e))?;
            for a in page.aliases() {
                let Some(name) = a.alias_name().filter(|n| wanted.contains(*n)) else {
                    continue;
                };
                found.insert(
                    name.to_string(),
                    object([
                        ("id", Value::str(name)),
                        ("name", Value::str(name)),
                        ("target_key_id", opt_string(a.target_key_id())),
                        ("arn", opt_string(a.alias_arn())),
                    ]),
                );
            }
            match page.next_marker() {
                Some(m) if page.truncated() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(found)
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let name = req_str(new.planned, "name")?;
        if !name.starts_with("alias/") || name.starts_with("alias/aws/") {
            return Err(ProviderError::invalid_attribute(
                "name",
                format!("a KMS alias starts with `alias/` (and not `alias/aws/`), got {name:?}"),
            ));
        }
        clients
            .kms
            .create_alias()
            .alias_name(name)
            .target_key_id(req_str(new.planned, "target_key_id")?)
            .send()
            .await
            .map_err(|e| sdk_error("CreateAlias", e))?;
        new.ctx.created(name);
        Ok(name.to_string())
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        clients
            .kms
            .update_alias()
            .alias_name(req.id)
            .target_key_id(req_str(req.planned, "target_key_id")?)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| crate::common::on_attribute(sdk_error("UpdateAlias", e), "target_key_id"))
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .kms
            .delete_alias()
            .alias_name(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteAlias", e))
    }

    /// Aliases carry no tags; an alias of this name pointing at the planned key is the
    /// one this create made (the name is unique in the account and region).
    async fn find_created(
        &self,
        clients: &Clients,
        _decl: &Decl,
        _ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let name = req_str(planned, "name")?;
        let target = req_str(planned, "target_key_id")?;
        let found = self.fetch(clients, vec![name.to_string()]).await?;
        Ok(Lookup::Found(
            found
                .into_iter()
                .filter(|(_, v)| {
                    v.get("target_key_id")
                        .and_then(Value::as_str)
                        .is_some_and(|t| same_key(t, target))
                })
                .map(|(id, _)| id)
                .collect(),
        ))
    }
}
