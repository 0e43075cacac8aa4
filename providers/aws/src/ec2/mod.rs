//! EC2 (and Auto Scaling) resource types and data sources, plus the EC2 helpers they
//! share: filters, tag conversion and in-place tag updates.

pub(crate) mod autoscaling_group;
pub(crate) mod autoscaling_policy;
pub(crate) mod data_ami;
pub(crate) mod data_availability_zones;
pub(crate) mod eip;
pub(crate) mod instance;
pub(crate) mod internet_gateway;
pub(crate) mod launch_template;
pub(crate) mod nat_gateway;
pub(crate) mod route_table;
pub(crate) mod route_table_association;
pub(crate) mod security_group;
pub(crate) mod security_group_rule;
pub(crate) mod subnet;
pub(crate) mod vpc;
pub(crate) mod vpc_endpoint;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType as Ec2ResourceType, Tag, TagSpecification};
use gig_core::value::Value;
use gig_provider::{Lookup, OpContext, ProviderError};

use crate::common::{gig_tags, owned_by, sdk_error};
use crate::Clients;

/// A Describe filter `name = values`.
pub(crate) fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().map(Into::into).collect()))
        .build()
}

/// The ids of the EC2 objects of `resource_type` (DescribeTags' name for it: `vpc`,
/// `subnet`, `security-group`, …) that carry every gig tag of `ctx`. Tag values are
/// compared here, not in the filter: filter values are patterns, and addresses hold
/// characters (`[`, `"`, `*`) a pattern would not match literally. Objects on their way
/// out (a terminated instance keeps its tags for a while) are found too; the engine
/// reads every candidate and keeps those that exist.
pub(crate) async fn find_tagged(
    clients: &Clients,
    ctx: &OpContext,
    resource_type: &str,
) -> Result<Lookup, ProviderError> {
    let marks = gig_tags(ctx);
    let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .ec2
            .describe_tags()
            .filters(filter("resource-type", [resource_type]))
            .filters(filter("key", marks.keys().map(String::as_str)))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTags", e))?;
        for t in page.tags() {
            if let (Some(id), Some(key)) = (t.resource_id(), t.key()) {
                tags.entry(id.to_string())
                    .or_default()
                    .insert(key.to_string(), t.value().unwrap_or_default().to_string());
            }
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(owned_by(tags, ctx))
}

/// EC2 tags from a map.
pub(crate) fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A tag specification for a create call.
pub(crate) fn tag_spec(
    rtype: Ec2ResourceType,
    tags: &BTreeMap<String, String>,
) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rtype)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

/// EC2 tags as a map.
pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// The `metadata_options` block as read back from an instance or a launch template:
/// the token setting, the endpoint setting and the hop limit, each null when absent.
pub(crate) fn metadata_options_value(
    http_tokens: Option<&str>,
    http_endpoint: Option<&str>,
    hop_limit: Option<i32>,
) -> Value {
    crate::common::object([
        ("http_tokens", http_tokens.map_or(Value::Null, Value::str)),
        (
            "http_endpoint",
            http_endpoint.map_or(Value::Null, Value::str),
        ),
        (
            "http_put_response_hop_limit",
            hop_limit.map_or(Value::Null, |n| Value::from(i64::from(n))),
        ),
    ])
}

/// The ARN of an EC2 object, when the region and owner account are known.
pub(crate) fn arn(clients: &Clients, owner: Option<&str>, kind: &str, id: &str) -> Value {
    match (clients.region.as_deref(), owner) {
        (Some(region), Some(owner)) => {
            Value::String(format!("arn:aws:ec2:{region}:{owner}:{kind}/{id}"))
        }
        _ => Value::Null,
    }
}
