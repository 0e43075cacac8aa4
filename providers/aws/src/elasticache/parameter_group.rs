//! `aws.elasticache_parameter_group`: engine settings for Redis / Memcached clusters.
//!
//! Refresh: DescribeCacheParameterGroups, DescribeCacheParameters (source `user`) and
//! ListTagsForResource per group. Changed parameters are written with
//! ModifyCacheParameterGroup (20 per call), removed ones reset.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticache::types::ParameterNameValue;
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, ProviderError, UpdateRequest};

use crate::common::{not_found, object, on_attribute, opt_str, opt_string, req_str, sdk_error};
use crate::model::{
    computed, fetch_each, optional, parameter_blocks, parameter_changes, required, tags_map, Decl,
    Model, Naming, New, ParameterChange,
};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.elasticache_parameter_group` resource type.
pub(crate) struct CacheParameterGroup;

#[async_trait]
impl Model for CacheParameterGroup {
    fn decl(&self) -> Decl {
        use AttrType::String as Str;
        let parameter = AttrType::Set(Box::new(AttrType::Object(BTreeMap::from([
            (
                "name".to_string(),
                AttributeSchema::required(Str, "The parameter's name, e.g. `maxmemory-policy`."),
            ),
            (
                "value".to_string(),
                AttributeSchema::required(Str, "Its value, as text."),
            ),
        ]))));
        Decl {
            type_name: "aws.elasticache_parameter_group",
            description: "An ElastiCache parameter group: engine settings a replication group or cluster picks \
                          with `parameter_group_name`. Parameters change in place; one removed from the set \
                          goes back to the family's default.",
            example: "resource aws.elasticache_parameter_group redis {\n  name   = \"giggatek-redis\"\n  family = \"redis7\"\n  parameter {\n    name  = \"maxmemory-policy\"\n    value = \"allkeys-lru\"\n  }\n}",
            id: "parameter group name",
            attrs: vec![
                required("family", Str, "The engine family, e.g. `redis7` or `memcached1.6`.").force_new(),
                optional("description", Str, "What the group is for.").default("Managed by gig").force_new(),
                optional("parameter", parameter, "Parameters that differ from the family's defaults.").default(Value::List(Vec::new())),
                computed("arn", Str, "The group's ARN."),
            ],
            tags: Some(Tagging::Elasticache),
            naming: Some(Naming { max_len: 255, derived: true, id_is_name: true }),
            busy: &["InvalidCacheParameterGroupState"],
            delete_attempts: 6,
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        fetch_each(ids, |name| async move {
            let out = clients
                .elasticache
                .describe_cache_parameter_groups()
                .cache_parameter_group_name(&name)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeCacheParameterGroups", e))?;
            let g = out
                .cache_parameter_groups()
                .first()
                .ok_or_else(|| not_found(format!("cache parameter group {name}")))?;
            let arn = g.arn().unwrap_or_default().to_string();
            let mut parameters = BTreeMap::new();
            let mut marker = None;
            loop {
                let page = clients
                    .elasticache
                    .describe_cache_parameters()
                    .cache_parameter_group_name(&name)
                    .source("user")
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(|e| sdk_error("DescribeCacheParameters", e))?;
                for p in page.parameters() {
                    if let (Some(n), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                        parameters.insert(
                            n.to_string(),
                            object([("name", Value::str(n)), ("value", Value::str(v))]),
                        );
                    }
                }
                match page.marker() {
                    Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                    _ => break,
                }
            }
            let tags = crate::elasticache::list_tags(clients, &arn).await?;
            Ok(object([
                ("id", Value::str(&name)),
                ("name", Value::str(&name)),
                ("family", opt_string(g.cache_parameter_group_family())),
                ("description", opt_string(g.description())),
                ("parameter", Value::List(parameters.into_values().collect())),
                ("arn", Value::str(arn)),
                ("tags", tags_map(tags)),
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
        let name = new.name.unwrap_or_default();
        clients
            .elasticache
            .create_cache_parameter_group()
            .cache_parameter_group_name(&name)
            .cache_parameter_group_family(req_str(new.planned, "family")?)
            .description(opt_str(new.planned, "description")?.unwrap_or("Managed by gig"))
            .set_tags(Some(crate::elasticache::to_sdk_tags(new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateCacheParameterGroup", e))?;
        new.ctx.created(&name);
        let all = parameter_blocks(new.planned)?
            .into_iter()
            .map(|(n, (v, b))| (n, v, b))
            .collect();
        modify(clients, &name, &to_sdk(all)).await?;
        Ok(name)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let (dropped, changed) = parameter_changes(req.prior, req.planned)?;
        let reset: Vec<ParameterNameValue> = dropped
            .iter()
            .map(|n| ParameterNameValue::builder().parameter_name(n).build())
            .collect();
        for chunk in reset.chunks(20) {
            clients
                .elasticache
                .reset_cache_parameter_group()
                .cache_parameter_group_name(req.id)
                .set_parameter_name_values(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| on_attribute(sdk_error("ResetCacheParameterGroup", e), "parameter"))?;
        }
        modify(clients, req.id, &to_sdk(changed)).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .elasticache
            .delete_cache_parameter_group()
            .cache_parameter_group_name(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteCacheParameterGroup", e))
    }
}

/// Parameters in the SDK's shape.
fn to_sdk(blocks: Vec<ParameterChange<'_>>) -> Vec<ParameterNameValue> {
    blocks
        .into_iter()
        .map(|(name, value, _)| {
            ParameterNameValue::builder()
                .parameter_name(name)
                .parameter_value(value)
                .build()
        })
        .collect()
}

/// Writes `parameters`, 20 per call.
async fn modify(
    clients: &Clients,
    name: &str,
    parameters: &[ParameterNameValue],
) -> Result<(), ProviderError> {
    for chunk in parameters.chunks(20) {
        clients
            .elasticache
            .modify_cache_parameter_group()
            .cache_parameter_group_name(name)
            .set_parameter_name_values(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                crate::common::on_attribute(sdk_error("ModifyCacheParameterGroup", e), "parameter")
            })?;
    }
    Ok(())
}
