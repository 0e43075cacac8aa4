//! RDS resource types (`aws.db_subnet_group`, `aws.db_instance`, `aws.db_parameter_group`) and the RDS tag calls
//! they share.
//!
//! RDS tags by ARN: ListTagsForResource reads them, AddTagsToResource and
//! RemoveTagsFromResource change them (through the model's `Tagging::Rds`). The user's `tags` attribute holds only the
//! user's tags; gig's own `gig:*` tags are written on create and never touched after.

pub(crate) mod db_instance;
pub(crate) mod db_parameter_group;
pub(crate) mod db_subnet_group;

use std::collections::BTreeMap;

use aws_sdk_rds::types::Tag;
use gig_provider::ProviderError;

use crate::common::sdk_error;
use crate::Clients;

/// All tags of an RDS resource.
pub(crate) async fn list_tags(
    clients: &Clients,
    arn: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let out = clients
        .rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| sdk_error("ListTagsForResource", e))?;
    Ok(tags_to_map(out.tag_list()))
}

/// Tags from the SDK's list into a map.
pub(crate) fn tags_to_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
        .collect()
}

/// Tags in the SDK's shape.
pub(crate) fn to_sdk_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}
