//! `aws.sns_topic_subscription`: delivers a topic's messages to an endpoint.
//!
//! The id is the subscription ARN. Refresh: one GetSubscriptionAttributes per
//! subscription. Subscribing again with the same topic, protocol and endpoint returns the
//! existing subscription, so a repeated create makes nothing new.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{object, opt_bool, opt_string, req_str, sdk_error};
use crate::model::{computed, fetch_each, optional, required, Decl, Model, New};
use crate::Clients;

/// The `aws.sns_topic_subscription` resource type.
pub(crate) struct SnsSubscription;

#[async_trait]
impl Model for SnsSubscription {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.sns_topic_subscription",
            description: "A subscription of an endpoint (an e-mail address, an SQS queue, an HTTPS URL, a \
                          Lambda function) to an SNS topic. E-mail and HTTP endpoints must confirm before \
                          messages flow; until then `pending_confirmation` is true.",
            example: "resource aws.sns_topic_subscription oncall {\n  topic_arn = aws.sns_topic.alerts.arn\n  protocol  = \"email\"\n  endpoint  = \"oncall@example.com\"\n}",
            id: "subscription ARN",
            attrs: vec![
                required("topic_arn", AttrType::String, "The topic's ARN.").force_new(),
                required("protocol", AttrType::String, "`email`, `sqs`, `https`, `lambda`, `sms`, …").force_new(),
                required("endpoint", AttrType::String, "Where messages go, in the protocol's form.").force_new(),
                optional("raw_message_delivery", AttrType::Bool, "Deliver the message body without SNS's JSON envelope (SQS and HTTP).").default(false),
                computed("arn", AttrType::String, "The subscription's ARN (the same as `id`)."),
                computed("pending_confirmation", AttrType::Bool, "Whether the endpoint has yet to confirm."),
            ],
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
                .get_subscription_attributes()
                .subscription_arn(&arn)
                .send()
                .await
                .map_err(|e| sdk_error("GetSubscriptionAttributes", e))?;
            let attrs = out.attributes().cloned().unwrap_or_default();
            let get = |k: &str| attrs.get(k).map(String::as_str);
            Ok(object([
                ("id", Value::str(&arn)),
                ("arn", Value::str(&arn)),
                ("topic_arn", opt_string(get("TopicArn"))),
                ("protocol", opt_string(get("Protocol"))),
                ("endpoint", opt_string(get("Endpoint"))),
                (
                    "raw_message_delivery",
                    Value::Bool(get("RawMessageDelivery") == Some("true")),
                ),
                (
                    "pending_confirmation",
                    Value::Bool(get("PendingConfirmation") == Some("true")),
                ),
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
        if opt_bool(new.planned, "raw_message_delivery")? == Some(true) {
            attributes.insert("RawMessageDelivery".to_string(), "true".to_string());
        }
        let out = clients
            .sns
            .subscribe()
            .topic_arn(req_str(new.planned, "topic_arn")?)
            .protocol(req_str(new.planned, "protocol")?)
            .endpoint(req_str(new.planned, "endpoint")?)
            .set_attributes((!attributes.is_empty()).then_some(attributes))
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(|e| sdk_error("Subscribe", e))?;
        let arn = out.subscription_arn().unwrap_or_default().to_string();
        if arn.is_empty() {
            return Err(ProviderError::permanent("Subscribe returned no ARN"));
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
        let raw = opt_bool(req.planned, "raw_message_delivery")?.unwrap_or(false);
        clients
            .sns
            .set_subscription_attributes()
            .subscription_arn(req.id)
            .attribute_name("RawMessageDelivery")
            .attribute_value(raw.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                crate::common::on_attribute(
                    sdk_error("SetSubscriptionAttributes", e),
                    "raw_message_delivery",
                )
            })
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
            .unsubscribe()
            .subscription_arn(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("Unsubscribe", e))
    }

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
