//! `aws.elasticache_subnet_group`: the subnets an ElastiCache cluster may use.
//!
//! The id is the group name. AWS stores names lower-cased, so names with upper-case
//! letters are refused before any call (they would otherwise plan a replacement forever).
//!
//! Read cost: DescribeCacheSubnetGroups takes one name or none, so one object costs one
//! describe and many cost one paginated describe of all groups (100 per page); tags
//! come from one ListTagsForResource per group.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticache::types::CacheSubnetGroup;
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{
    object, opt_str, opt_string, req_str, sdk_error, sorted_string_list, str_list,
};
use crate::elasticache::{check_name, list_tags, to_sdk_tags};
use crate::model::{computed, one_or_all, optional, required, tags_map, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The description sent when none is set.
const DEFAULT_DESCRIPTION: &str = "Managed by gig";

/// The `aws.elasticache_subnet_group` resource type.
pub(crate) struct ElasticacheSubnetGroup;

#[async_trait]
impl Model for ElasticacheSubnetGroup {
    fn decl(&self) -> Decl {
        use AttrType::{Set, String as Str};
        Decl {
            type_name: "aws.elasticache_subnet_group",
            description: "An ElastiCache subnet group: the subnets where ElastiCache may place cache nodes. \
                          Subnets and description change in place; a new name replaces it.",
            example: "resource aws.elasticache_subnet_group cache {\n  name       = \"giggatek-cache\"\n  subnet_ids = [for s in aws.subnet.private : s.id]\n}",
            id: "group name",
            id_attr: Some("name"),
            attrs: vec![
                required("name", Str, "Name of the group: up to 255 lower-case letters, digits and hyphens.").force_new(),
                optional("description", Str, "Description of the group.").default(DEFAULT_DESCRIPTION),
                required("subnet_ids", Set(Box::new(Str)), "Subnets of the group. Change in place."),
                computed("arn", Str, "ARN of the group."),
                computed("vpc_id", Str, "VPC the subnets belong to."),
            ],
            tags: Some(Tagging::Elasticache),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let one = |name: String| async move {
            let out = clients
                .elasticache
                .describe_cache_subnet_groups()
                .cache_subnet_group_name(name)
                .send()
                .await;
            let out = out.map_err(|e| sdk_error("DescribeCacheSubnetGroups", e))?;
            Ok(out.cache_subnet_groups.unwrap_or_default())
        };
        let all = || async {
            let mut groups = Vec::new();
            let mut pages = clients
                .elasticache
                .describe_cache_subnet_groups()
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| sdk_error("DescribeCacheSubnetGroups", e))?;
                groups.extend(page.cache_subnet_groups.unwrap_or_default());
            }
            Ok(groups)
        };
        let groups = one_or_all(&ids, one, all).await?;
        let mut out = BTreeMap::new();
        for g in groups {
            let name = g.cache_subnet_group_name().unwrap_or_default().to_string();
            if ids.contains(&name) {
                let value = to_value(clients, &g).await?;
                out.insert(name, value);
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let name = req_str(new.planned, "name")?;
        check_name("name", name, 255)?;
        clients
            .elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(name)
            .cache_subnet_group_description(description(new.planned)?)
            .set_subnet_ids(Some(str_list(new.planned, "subnet_ids")?))
            .set_tags(Some(to_sdk_tags(new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateCacheSubnetGroup", e))?;
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
            .elasticache
            .modify_cache_subnet_group()
            .cache_subnet_group_name(req.id)
            .cache_subnet_group_description(description(req.planned)?)
            .set_subnet_ids(Some(str_list(req.planned, "subnet_ids")?))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("ModifyCacheSubnetGroup", e))
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
            .delete_cache_subnet_group()
            .cache_subnet_group_name(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteCacheSubnetGroup", e))
    }
}

/// The description to send: the planned one or the default.
fn description(planned: &Value) -> Result<&str, ProviderError> {
    Ok(opt_str(planned, "description")?.unwrap_or(DEFAULT_DESCRIPTION))
}

async fn to_value(clients: &Clients, group: &CacheSubnetGroup) -> Result<Value, ProviderError> {
    let name = group.cache_subnet_group_name().unwrap_or_default();
    let arn = group.arn().unwrap_or_default();
    let tags = if arn.is_empty() {
        BTreeMap::new()
    } else {
        list_tags(clients, arn).await?
    };
    let subnets = group.subnets().iter().filter_map(|s| s.subnet_identifier());
    Ok(object([
        ("id", Value::str(name)),
        ("name", Value::str(name)),
        (
            "description",
            opt_string(group.cache_subnet_group_description()),
        ),
        ("subnet_ids", sorted_string_list(subnets)),
        ("tags", tags_map(tags)),
        ("arn", Value::str(arn)),
        ("vpc_id", opt_string(group.vpc_id())),
    ]))
}
