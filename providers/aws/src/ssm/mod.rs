//! Systems Manager resource types (`aws.ssm_parameter`) and the SSM tag calls they use.
//!
//! SSM tags by resource type and id: for a parameter the type is `Parameter` and the id
//! is the parameter's name. ListTagsForResource reads them, AddTagsToResource and
//! RemoveTagsFromResource change them. The user's `tags` attribute holds only the
//! user's tags; gig's own `gig:*` tags are written on create and never touched after.

pub(crate) mod parameter;

use std::collections::BTreeMap;

use aws_sdk_ssm::types::{ResourceTypeForTagging, Tag};
use gig_provider::ProviderError;

use crate::common::{self, sdk_error};
use crate::Clients;

/// All tags of the parameter `name`.
pub(crate) async fn list_tags(
    clients: &Clients,
    name: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let out = clients
        .ssm
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .map_err(|e| sdk_error("ListTagsForResource", e))?;
    Ok(out
        .tag_list()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

/// Tags in the SDK's shape.
pub(crate) fn to_sdk_tags(tags: BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.into_iter()
        .map(|(k, v)| {
            Tag::builder().key(k).value(v).build().map_err(|e| {
                common::on_attribute(
                    ProviderError::permanent(format!("building a tag: {e}")),
                    "tags",
                )
            })
        })
        .collect()
}
