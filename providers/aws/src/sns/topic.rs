//! `aws.sns_topic`: an SNS topic, what alarms and applications publish to.
//!
//! The id is the topic ARN. Refresh: GetTopicAttributes and ListTagsForResource per
//! topic. CreateTopic is idempotent by name, so a repeated create cannot make a second
//! topic.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{changed, object, opt_str, opt_string, sdk_error};
use crate::model::{computed, fetch_each, optional, Decl, Model, Naming, New};
use crate::tagging::{sns_tags, Tagging};
use crate::Clients;

/// The `aws.sns_topic` resource type.
pub(crate) struct SnsTopic;

/// Settable attributes: (gig name, SNS attribute name).
const ATTRIBUTES: &[(&str, &str)] = &[
    ("display_name", "DisplayName"),
    ("kms_master_key_id", "KmsMasterKeyId"),
];

#[async_trait]
impl Model for SnsTopic {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.sns_topic",
            description: "An SNS topic: alarms and applications publish to it, subscriptions \
                          (`aws.sns_topic_subscription`) deliver what is published.",
            example: "resource aws.sns_topic alerts {\n  name = \"giggatek-alerts\"\n}",
            id: "topic ARN",
            attrs: vec![
                optional(
                    "display_name",
                    AttrType::String,
                    "The name shown in SMS and e-mail deliveries.",
                ),
                optional(
                    "kms_master_key_id",
                    AttrType::String,
                    "The KMS key (id, ARN or alias) that encrypts messages at rest.",
                ),
                computed(
                    "arn",
                    AttrType::String,
                    "The topic's ARN (the same as `id`).",
                ),
                computed("owner", AttrType::String, "The owning AWS account id."),
            ],
            tags: Some(Tagging::Sns),
            naming: Some(Naming {
                max_len: 256,
                derived: true,
                id_is_name: false,
            }),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        fetch_each(ids, |arn| async move {
            let out = clients
                .sns
                .get_topic_attributes()
                .topic_arn(&arn)
                .send()
                .await
                .map_err(|e| sdk_error("GetTopicAttributes", e))?;
            let attrs = out.attributes().cloned().unwrap_or_default();
            let get = |k: &str| attrs.get(k).map(String::as_str).filter(|v| !v.is_empty());
            let tags = clients
                .sns
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| sdk_error("ListTagsForResource", e))?;
            let tags: BTreeMap<String, Value> = tags
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), Value::str(t.value())))
                .collect();
            Ok(object([
                ("id", Value::str(&arn)),
                ("arn", Value::str(&arn)),
                (
                    "name",
                    Value::str(arn.rsplit(':').next().unwrap_or_default()),
                ),
                ("display_name", opt_string(get("DisplayName"))),
                ("kms_master_key_id", opt_string(get("KmsMasterKeyId"))),
                ("owner", opt_string(get("Owner"))),
                ("tags", Value::Map(tags)),
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
        let mut attributes = std::collections::HashMap::new();
        for (attr, name) in ATTRIBUTES {
            if let Some(v) = opt_str(new.planned, attr)? {
                attributes.insert(name.to_string(), v.to_string());
            }
        }
        let out = clients
            .sns
            .create_topic()
            .name(new.name.unwrap_or_default())
            .set_attributes(Some(attributes))
            .set_tags(Some(sns_tags(&new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateTopic", e))?;
        let arn = out.topic_arn().unwrap_or_default().to_string();
        if arn.is_empty() {
            return Err(ProviderError::permanent("CreateTopic returned no ARN"));
        }
        new.ctx.created(&arn);
        Ok(arn)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        for (attr, name) in ATTRIBUTES.iter().filter(|(a, _)| changed(req.changed, a)) {
            clients
                .sns
                .set_topic_attributes()
                .topic_arn(req.id)
                .attribute_name(*name)
                .attribute_value(opt_str(req.planned, attr)?.unwrap_or_default())
                .send()
                .await
                .map_err(|e| {
                    crate::common::on_attribute(sdk_error("SetTopicAttributes", e), attr)
                })?;
        }
        Ok(())
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .sns
            .delete_topic()
            .topic_arn(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteTopic", e))
    }

    /// CreateTopic returns the existing topic of the same name.
    async fn find_created(
        &self,
        _clients: &Clients,
        _decl: &Decl,
        _ctx: &OpContext,
        _planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Repeatable)
    }
}
