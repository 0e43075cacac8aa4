//! ELBv2 resource types (`aws.lb`, `aws.lb_target_group`, `aws.lb_listener`,
//! `aws.lb_listener_rule`, `aws.lb_target_group_attachment`) and what they share: tag
//! calls, ARN-batched describes, and the action / condition blocks.
//!
//! ELBv2 Describe calls accept up to 20 ARNs and fail as a whole with a `*NotFound` code
//! when any one of them does not exist. [`describe_by_arns`] therefore asks in chunks of
//! 20 and, only for a chunk that failed that way, asks again by halves, so a refresh of N
//! objects costs ceil(N / 20) calls when all exist, and about 2·log2(20) more per chunk
//! holding a deleted object. Tags come from DescribeTags, also 20 ARNs per call.

pub(crate) mod actions;
pub(crate) mod lb;
pub(crate) mod listener;
pub(crate) mod listener_rule;
pub(crate) mod target_group;
pub(crate) mod target_group_attachment;

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_elasticloadbalancingv2::types::Tag;
use gig_core::value::Value;
use gig_provider::{Lookup, OpContext, ProviderError};

use crate::common::{self, sdk_error};
use crate::Clients;

/// The most ARNs ELBv2's Describe calls and DescribeTags accept at once.
pub(crate) const ARN_BATCH: usize = 20;

/// Describes objects by ARN in chunks of [`ARN_BATCH`]. A chunk that fails with a
/// NotFound error is split in halves and each half asked again (down to single ARNs,
/// which are then simply absent), so one missing ARN among 20 costs about 2·log2(20)
/// extra calls instead of 20.
pub(crate) async fn describe_by_arns<T, F, Fut>(
    arns: &[String],
    mut call: F,
) -> Result<Vec<T>, ProviderError>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ProviderError>>,
{
    let mut out = Vec::new();
    for chunk in common::chunks(arns, ARN_BATCH) {
        // A stack of slices still to ask, so the halving needs no recursion.
        let mut todo = vec![chunk];
        while let Some(part) = todo.pop() {
            match call(part.to_vec()).await {
                Ok(found) => out.extend(found),
                Err(e) if common::is_not_found(&e) && part.len() > 1 => {
                    let (left, right) = part.split_at(part.len() / 2);
                    todo.push(right);
                    todo.push(left);
                }
                Err(e) if common::is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

/// The tags of many resources by ARN, 20 ARNs per DescribeTags call.
pub(crate) async fn describe_tags(
    clients: &Clients,
    arns: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ProviderError> {
    let descriptions = describe_by_arns(arns, |chunk| async move {
        let out = clients
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk))
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTags", e))?;
        Ok(out.tag_descriptions.unwrap_or_default())
    })
    .await?;
    Ok(descriptions
        .into_iter()
        .filter_map(|d| {
            let tags = d
                .tags()
                .iter()
                .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())));
            Some((d.resource_arn.clone()?, tags.collect()))
        })
        .collect())
}

/// The lookup of an interrupted create among `arns`: those whose tags carry every gig
/// tag of `ctx`.
pub(crate) async fn find_owned(
    clients: &Clients,
    ctx: &OpContext,
    arns: Vec<String>,
) -> Result<Lookup, ProviderError> {
    find_owned_in(clients, ctx, Some(arns), Some).await
}

/// [`find_owned`] over what a Describe call answered: `found` is `None` when the name
/// or parent was not found, and `arn` picks each object's ARN.
pub(crate) async fn find_owned_in<T>(
    clients: &Clients,
    ctx: &OpContext,
    found: Option<Vec<T>>,
    arn: impl Fn(T) -> Option<String>,
) -> Result<Lookup, ProviderError> {
    let arns: Vec<String> = found
        .unwrap_or_default()
        .into_iter()
        .filter_map(arn)
        .collect();
    if arns.is_empty() {
        return Ok(Lookup::Found(Vec::new()));
    }
    let tags = describe_tags(clients, &arns).await?;
    Ok(common::owned_by(tags, ctx))
}

/// Tags in the SDK's shape.
pub(crate) fn to_sdk_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The user's tags of `arn` from a DescribeTags result, as the `tags` attribute.
pub(crate) fn tags_of(tags: &BTreeMap<String, BTreeMap<String, String>>, arn: &str) -> Value {
    tags.get(arn)
        .map_or_else(|| Value::Map(BTreeMap::new()), common::tags_value)
}

/// The part of an ARN after the resource kind (`app/web/50dc6c495c0c9188`), as used in
/// CloudWatch dimensions.
pub(crate) fn arn_suffix(arn: &str, kind: &str) -> Value {
    match arn.split_once(&format!(":{kind}/")) {
        Some((_, rest)) if kind == "targetgroup" => Value::from(format!("targetgroup/{rest}")),
        Some((_, rest)) => Value::from(rest.to_string()),
        None => Value::Null,
    }
}
