//! RDS resource types (`aws.db_subnet_group`, `aws.db_instance`, `aws.db_parameter_group`) and the RDS tag calls
//! they share.
//!
//! RDS tags by ARN: ListTagsForResource reads them, AddTagsToResource and
//! RemoveTagsFromResource change them. The user's `tags` attribute holds only the
//! user's tags; gig's own `gig:*` tags are written on create and never touched after.

pub(crate) mod db_instance;
pub(crate) mod db_parameter_group;
pub(crate) mod db_subnet_group;

use std::collections::BTreeMap;

use aws_sdk_rds::types::Tag;
use gig_core::value::Value;
use gig_provider::ProviderError;

use crate::common::{self, sdk_error};
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

/// Brings the user's tags from Prior to Planned: removes the dropped keys, then
/// writes the new and changed ones. gig's own tags are never in either map.
pub(crate) async fn update_tags(
    clients: &Clients,
    arn: &str,
    prior: &Value,
    planned: &Value,
) -> Result<(), ProviderError> {
    let (set, remove) = common::tag_diff(
        &common::user_tags_of(prior)?,
        &common::user_tags_of(planned)?,
    );
    if !remove.is_empty() {
        clients
            .rds
            .remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| sdk_error("RemoveTagsFromResource", e))?;
    }
    if !set.is_empty() {
        clients
            .rds
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(to_sdk_tags(set)))
            .send()
            .await
            .map_err(|e| sdk_error("AddTagsToResource", e))?;
    }
    Ok(())
}
