//! ElastiCache resource types (`aws.elasticache_cluster`, `aws.elasticache_subnet_group`,
//! `aws.elasticache_replication_group`, `aws.elasticache_parameter_group`) and the ElastiCache tag calls they share.
//!
//! ElastiCache tags by ARN: ListTagsForResource reads them, AddTagsToResource and
//! RemoveTagsFromResource change them. The user's `tags` attribute holds only the
//! user's tags; gig's own `gig:*` tags are written on create and never touched after.

pub(crate) mod cluster;
pub(crate) mod parameter_group;
pub(crate) mod replication_group;
pub(crate) mod subnet_group;

use std::collections::BTreeMap;

use aws_sdk_elasticache::types::{CacheCluster, Tag};
use gig_core::value::Value;
use gig_provider::ProviderError;

use crate::common::{self, sdk_error};
use crate::model::STATUS;
use crate::Clients;

/// All tags of an ElastiCache resource.
pub(crate) async fn list_tags(
    clients: &Clients,
    arn: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let out = clients
        .elasticache
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| sdk_error("ListTagsForResource", e))?;
    Ok(out
        .tag_list()
        .iter()
        .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
        .collect())
}

/// Tags in the SDK's shape.
pub(crate) fn to_sdk_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Refuses names AWS would store lower-cased: 1 to `max` lower-case letters, digits or
/// hyphens, starting with a letter, no two consecutive hyphens, no trailing hyphen.
pub(crate) fn check_name(attr: &str, name: &str, max: usize) -> Result<(), ProviderError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid_attribute(
            attr,
            format!(
                "`{attr}` must be 1 to {max} lower-case letters, digits or hyphens, start with a letter, and have \
                 no two consecutive hyphens and no trailing hyphen (AWS stores it lower-cased)"
            ),
        ))
    }
}

/// Describes cache clusters: one call for one id, a paginated listing of all for more.
/// Clusters that do not exist are simply absent; nodes are described with their endpoints.
pub(crate) async fn describe_clusters(
    clients: &Clients,
    ids: &[&str],
) -> Result<BTreeMap<String, CacheCluster>, ProviderError> {
    let mut found = BTreeMap::new();
    let mut keep = |c: CacheCluster| {
        if let Some(id) = c.cache_cluster_id.clone() {
            found.insert(id, c);
        }
    };
    if let [only] = ids {
        match clients
            .elasticache
            .describe_cache_clusters()
            .cache_cluster_id(*only)
            .show_cache_node_info(true)
            .send()
            .await
        {
            Ok(out) => out
                .cache_clusters
                .unwrap_or_default()
                .into_iter()
                .for_each(&mut keep),
            Err(e) => common::ignore_not_found(Err(sdk_error("DescribeCacheClusters", e)))?,
        }
    } else if !ids.is_empty() {
        let mut pages = clients
            .elasticache
            .describe_cache_clusters()
            .show_cache_node_info(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("DescribeCacheClusters", e))?;
            page.cache_clusters
                .unwrap_or_default()
                .into_iter()
                .for_each(&mut keep);
        }
    }
    Ok(found)
}

/// The state of a fetched cluster or group (under [`STATUS`]) while it is not
/// `available`, for [`crate::model::Model::pending`].
pub(crate) fn not_available(value: &Value) -> Option<String> {
    match value.get(STATUS).and_then(Value::as_str) {
        Some("available") | None => None,
        Some(state) => Some(state.to_string()),
    }
}
