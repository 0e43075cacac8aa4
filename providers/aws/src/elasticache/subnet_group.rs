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
use gig_provider::{
    AttrType, AttributeSchema, ErrorClass, Lookup, OpContext, ProviderError, ReadRequest,
    ResourceSchema, UpdateRequest,
};

use crate::common::{self, sdk_error};
use crate::elasticache::{check_name, list_tags, to_sdk_tags, update_tags};
use crate::{Clients, ReadResults, ResourceType};

const TYPE_NAME: &str = "aws.elasticache_subnet_group";
/// The description sent when none is set.
const DEFAULT_DESCRIPTION: &str = "Managed by gig";

/// The `aws.elasticache_subnet_group` resource type.
pub(crate) struct ElasticacheSubnetGroup;

#[async_trait]
impl ResourceType for ElasticacheSubnetGroup {
    fn schema(&self) -> ResourceSchema {
        use AttrType::{Set, String as Str};
        let mut a = BTreeMap::new();
        a.insert(
            "id".into(),
            AttributeSchema::computed(Str, "The group name."),
        );
        a.insert(
            "name".into(),
            AttributeSchema::required(
                Str,
                "Name of the group: up to 255 lower-case letters, digits and hyphens.",
            )
            .force_new(),
        );
        a.insert(
            "description".into(),
            AttributeSchema::optional(Str, "Description of the group.")
                .default(DEFAULT_DESCRIPTION),
        );
        a.insert(
            "subnet_ids".into(),
            AttributeSchema::required(Set(Box::new(Str)), "Subnets of the group. Change in place."),
        );
        a.insert("tags".into(), common::tags_schema());
        a.insert(
            "arn".into(),
            AttributeSchema::computed(Str, "ARN of the group."),
        );
        a.insert(
            "vpc_id".into(),
            AttributeSchema::computed(Str, "VPC the subnets belong to."),
        );
        ResourceSchema {
            type_name: TYPE_NAME.into(),
            description:
                "An ElastiCache subnet group: the subnets where ElastiCache may place cache nodes. \
                          Subnets and description change in place; a new name replaces it."
                    .into(),
            version: 1,
            attributes: a,
            example: r#"resource aws.elasticache_subnet_group cache {
  name       = "giggatek-cache"
  subnet_ids = [for s in aws.subnet.private : s.id]
}"#
            .into(),
        }
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        let ids: Vec<&str> = requests.iter().map(|r| r.id.as_str()).collect();
        let found = describe(clients, &ids).await?;
        let mut out = Vec::with_capacity(requests.len());
        for request in requests {
            match found.get(&request.id) {
                Some(group) => out.push(to_value(clients, group).await.map(Some)),
                None => out.push(Ok(None)),
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let name = common::req_str(planned, "name")?;
        check_name("name", name, 255)?;
        let out = clients
            .elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(name)
            .cache_subnet_group_description(
                common::opt_str(planned, "description")?.unwrap_or(DEFAULT_DESCRIPTION),
            )
            .set_subnet_ids(Some(common::str_list(planned, "subnet_ids")?))
            .set_tags(Some(to_sdk_tags(common::all_tags(planned, ctx)?)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateCacheSubnetGroup", e))?;
        ctx.created(name);
        let group = out
            .cache_subnet_group
            .ok_or_else(|| ProviderError::permanent("CreateCacheSubnetGroup returned no group"))?;
        to_value(clients, &group).await
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let name = common::req_str(planned, "name")?;
        let found = describe(clients, &[name]).await?;
        super::find_owned(clients, ctx, name, found.into_values().map(|g| g.arn)).await
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let planned = request.planned;
        let changed = |k: &str| request.changed.iter().any(|c| c == k);
        if changed("description") || changed("subnet_ids") {
            clients
                .elasticache
                .modify_cache_subnet_group()
                .cache_subnet_group_name(request.id)
                .cache_subnet_group_description(
                    common::opt_str(planned, "description")?.unwrap_or(DEFAULT_DESCRIPTION),
                )
                .set_subnet_ids(Some(common::str_list(planned, "subnet_ids")?))
                .send()
                .await
                .map_err(|e| sdk_error("ModifyCacheSubnetGroup", e))?;
        }
        if changed("tags") {
            update_tags(
                clients,
                common::req_str(request.prior, "arn")?,
                request.prior,
                planned,
            )
            .await?;
        }
        let found = describe(clients, &[request.id]).await?;
        match found.get(request.id) {
            Some(group) => to_value(clients, group).await,
            None => Err(ProviderError::new(
                ErrorClass::NotFound,
                Some("CacheSubnetGroupNotFoundFault".into()),
                format!("cache subnet group {} disappeared", request.id),
            )),
        }
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let result = clients
            .elasticache
            .delete_cache_subnet_group()
            .cache_subnet_group_name(id)
            .send()
            .await;
        common::ignore_not_found(
            result
                .map(|_| ())
                .map_err(|e| sdk_error("DeleteCacheSubnetGroup", e)),
        )
    }
}

/// Describes groups by name: one call for one name, a paginated listing of all groups
/// for more.
async fn describe(
    clients: &Clients,
    names: &[&str],
) -> Result<BTreeMap<String, CacheSubnetGroup>, ProviderError> {
    let mut found = BTreeMap::new();
    let mut keep = |g: CacheSubnetGroup| {
        if let Some(name) = g.cache_subnet_group_name.clone() {
            found.insert(name, g);
        }
    };
    if let [only] = names {
        match clients
            .elasticache
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(*only)
            .send()
            .await
        {
            Ok(out) => out
                .cache_subnet_groups
                .unwrap_or_default()
                .into_iter()
                .for_each(&mut keep),
            Err(e) => common::ignore_not_found(Err(sdk_error("DescribeCacheSubnetGroups", e)))?,
        }
    } else {
        let mut pages = clients
            .elasticache
            .describe_cache_subnet_groups()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("DescribeCacheSubnetGroups", e))?;
            page.cache_subnet_groups
                .unwrap_or_default()
                .into_iter()
                .for_each(&mut keep);
        }
    }
    Ok(found)
}

async fn to_value(clients: &Clients, group: &CacheSubnetGroup) -> Result<Value, ProviderError> {
    let name = group.cache_subnet_group_name.clone().unwrap_or_default();
    let arn = group.arn.clone().unwrap_or_default();
    let tags = if arn.is_empty() {
        BTreeMap::new()
    } else {
        list_tags(clients, &arn).await?
    };
    Ok(common::object([
        ("id", Value::from(name.clone())),
        ("name", Value::from(name)),
        (
            "description",
            common::opt_string(group.cache_subnet_group_description.as_deref()),
        ),
        (
            "subnet_ids",
            common::sorted_string_list(
                group
                    .subnets()
                    .iter()
                    .filter_map(|s| s.subnet_identifier.as_deref()),
            ),
        ),
        ("tags", common::tags_value(&tags)),
        ("arn", Value::from(arn)),
        ("vpc_id", common::opt_string(group.vpc_id.as_deref())),
    ]))
}
