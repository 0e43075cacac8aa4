//! `aws.lb_listener`: a listener (port and protocol) on a load balancer with its default
//! actions.
//!
//! The id is the listener ARN. Port, protocol, certificate, SSL policy and the default
//! actions change in place through one ModifyListener; a new load balancer replaces it.
//!
//! Read cost: DescribeListeners and DescribeTags take 20 ARNs per call.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Certificate, Listener, ProtocolEnum};
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, ErrorClass, Lookup, OpContext, ProviderError, ReadRequest,
    ResourceSchema, UpdateRequest,
};

use crate::common::{self, sdk_error};
use crate::elbv2::actions::{action_schema, from_sdk_actions, to_sdk_actions};
use crate::elbv2::{
    describe_by_arns, describe_tags, distinct_ids, tags_of, to_sdk_tags, update_tags,
};
use crate::{Clients, ReadResults, ResourceType};

const TYPE_NAME: &str = "aws.lb_listener";

/// The `aws.lb_listener` resource type.
pub(crate) struct ListenerType;

fn schema() -> ResourceSchema {
    use AttrType::{Number, String as Str};
    let opt = AttributeSchema::optional;
    let mut a = BTreeMap::new();
    let mut put = |k: &str, s: AttributeSchema| {
        a.insert(k.to_string(), s);
    };
    put("id", AttributeSchema::computed(Str, "The listener ARN."));
    put(
        "load_balancer_arn",
        AttributeSchema::required(Str, "The load balancer to listen on.").force_new(),
    );
    put(
        "port",
        opt(Number, "Port to listen on. Changes in place.").also_computed(),
    );
    put(
        "protocol",
        opt(Str, "`HTTP` or `HTTPS` (application), `TCP`, `TLS`, `UDP`, `TCP_UDP` (network). Changes in place.")
            .also_computed(),
    );
    put(
        "certificate_arn",
        opt(
            Str,
            "Default certificate of an `HTTPS` or `TLS` listener. Changes in place.",
        ),
    );
    put(
        "ssl_policy",
        opt(
            Str,
            "SSL policy of an `HTTPS` or `TLS` listener. Changes in place.",
        )
        .also_computed(),
    );
    put(
        "default_action",
        action_schema("What to do with requests no rule matches. Changes in place."),
    );
    put("tags", common::tags_schema());
    put(
        "arn",
        AttributeSchema::computed(Str, "ARN of the listener (same as `id`)."),
    );
    ResourceSchema {
        type_name: TYPE_NAME.into(),
        description: "A listener on a load balancer: a port and protocol, and the default actions for requests no \
                      rule matches. Everything but the load balancer changes in place."
            .into(),
        version: 1,
        attributes: a,
        example: r#"resource aws.lb_listener https {
  load_balancer_arn = aws.lb.web.arn
  port              = 443
  protocol          = "HTTPS"
  certificate_arn   = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-example"
  default_action {
    type             = "forward"
    target_group_arn = aws.lb_target_group.app.arn
  }
}"#
        .into(),
    }
}

#[async_trait]
impl ResourceType for ListenerType {
    fn schema(&self) -> ResourceSchema {
        schema()
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        let found = describe(clients, &distinct_ids(requests)).await?;
        let arns: Vec<String> = found.keys().cloned().collect();
        let tags = describe_tags(clients, &arns).await?;
        Ok(requests
            .iter()
            .map(|r| Ok(found.get(&r.id).map(|l| to_value(l, &tags))))
            .collect())
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let out = clients
            .elbv2
            .create_listener()
            .load_balancer_arn(common::req_str(planned, "load_balancer_arn")?)
            .set_port(common::opt_i32(planned, "port")?)
            .set_protocol(common::opt_str(planned, "protocol")?.map(ProtocolEnum::from))
            .set_ssl_policy(common::opt_str(planned, "ssl_policy")?.map(str::to_string))
            .set_certificates(certificates(planned)?)
            .set_default_actions(Some(to_sdk_actions(planned, "default_action")?))
            .set_tags(Some(to_sdk_tags(common::all_tags(planned, ctx)?)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateListener", e))?;
        let listener = out
            .listeners()
            .first()
            .ok_or_else(|| ProviderError::permanent("CreateListener returned no listener"))?;
        let arn = listener.listener_arn.clone().unwrap_or_default();
        ctx.created(&arn);
        let tags = describe_tags(clients, std::slice::from_ref(&arn)).await?;
        Ok(to_value(listener, &tags))
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let lb = common::req_str(planned, "load_balancer_arn")?;
        let out = common::unless_not_found(
            clients
                .elbv2
                .describe_listeners()
                .load_balancer_arn(lb)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeListeners", e)),
        )?;
        let found = out.and_then(|o| o.listeners);
        crate::elbv2::find_owned_in(clients, ctx, found, |x| x.listener_arn).await
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let (arn, planned) = (request.id, request.planned);
        let has = |k: &str| request.changed.iter().any(|c| c == k);
        if [
            "port",
            "protocol",
            "ssl_policy",
            "certificate_arn",
            "default_action",
        ]
        .iter()
        .any(|k| has(k))
        {
            let mut call = clients.elbv2.modify_listener().listener_arn(arn);
            if has("port") {
                call = call.set_port(common::opt_i32(planned, "port")?);
            }
            if has("protocol") {
                call = call
                    .set_protocol(common::opt_str(planned, "protocol")?.map(ProtocolEnum::from));
            }
            if has("ssl_policy") {
                call = call
                    .set_ssl_policy(common::opt_str(planned, "ssl_policy")?.map(str::to_string));
            }
            if has("certificate_arn") {
                call = call.set_certificates(certificates(planned)?);
            }
            if has("default_action") {
                call = call.set_default_actions(Some(to_sdk_actions(planned, "default_action")?));
            }
            call.send()
                .await
                .map_err(|e| sdk_error("ModifyListener", e))?;
        }
        if has("tags") {
            update_tags(clients, arn, request.prior, planned).await?;
        }
        let found = describe(clients, &[arn.to_string()]).await?;
        let listener = found.get(arn).ok_or_else(|| {
            ProviderError::new(
                ErrorClass::NotFound,
                Some("ListenerNotFound".into()),
                format!("listener {arn} disappeared"),
            )
        })?;
        let tags = describe_tags(clients, &[arn.to_string()]).await?;
        Ok(to_value(listener, &tags))
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let result = clients
            .elbv2
            .delete_listener()
            .listener_arn(id)
            .send()
            .await;
        common::ignore_not_found(
            result
                .map(|_| ())
                .map_err(|e| sdk_error("DeleteListener", e)),
        )
    }
}

fn certificates(planned: &Value) -> Result<Option<Vec<Certificate>>, ProviderError> {
    Ok(common::opt_str(planned, "certificate_arn")?
        .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()]))
}

async fn describe(
    clients: &Clients,
    arns: &[String],
) -> Result<BTreeMap<String, Listener>, ProviderError> {
    let found = describe_by_arns(arns, |chunk| async move {
        let out = clients
            .elbv2
            .describe_listeners()
            .set_listener_arns(Some(chunk))
            .send()
            .await
            .map_err(|e| sdk_error("DescribeListeners", e))?;
        Ok(out.listeners.unwrap_or_default())
    })
    .await?;
    Ok(found
        .into_iter()
        .filter_map(|l| Some((l.listener_arn.clone()?, l)))
        .collect())
}

fn to_value(l: &Listener, tags: &BTreeMap<String, BTreeMap<String, String>>) -> Value {
    let arn = l.listener_arn.clone().unwrap_or_default();
    let certificate = l
        .certificates()
        .iter()
        .find(|c| c.is_default != Some(false))
        .and_then(|c| c.certificate_arn.as_deref());
    common::object([
        ("id", Value::from(arn.clone())),
        (
            "load_balancer_arn",
            common::opt_string(l.load_balancer_arn.as_deref()),
        ),
        ("port", common::opt_num(l.port)),
        (
            "protocol",
            common::opt_string(l.protocol.as_ref().map(|p| p.as_str())),
        ),
        ("certificate_arn", common::opt_string(certificate)),
        ("ssl_policy", common::opt_string(l.ssl_policy.as_deref())),
        ("default_action", from_sdk_actions(l.default_actions())),
        ("tags", tags_of(tags, &arn)),
        ("arn", Value::from(arn)),
    ])
}
