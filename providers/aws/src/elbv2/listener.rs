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
use gig_provider::{AttrType, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{self, sdk_error};
use crate::elbv2::actions::{action_schema, from_sdk_actions, to_sdk_actions};
use crate::elbv2::{describe_by_arns, describe_tags, tags_of, to_sdk_tags};
use crate::model::{attr, computed, optional, required, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.lb_listener` resource type.
pub(crate) struct ListenerType;

#[async_trait]
impl Model for ListenerType {
    fn decl(&self) -> Decl {
        use AttrType::{Number, String as Str};
        Decl {
            type_name: "aws.lb_listener",
            description: "A listener on a load balancer: a port and protocol, and the default actions for requests no \
                          rule matches. Everything but the load balancer changes in place.",
            example: r#"resource aws.lb_listener https {
  load_balancer_arn = aws.lb.web.arn
  port              = 443
  protocol          = "HTTPS"
  certificate_arn   = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-example"
  default_action {
    type             = "forward"
    target_group_arn = aws.lb_target_group.app.arn
  }
}"#,
            id: "listener ARN",
            attrs: vec![
                required("load_balancer_arn", Str, "The load balancer to listen on.").force_new(),
                optional("port", Number, "Port to listen on. Changes in place.").also_computed(),
                optional("protocol", Str, "`HTTP` or `HTTPS` (application), `TCP`, `TLS`, `UDP`, `TCP_UDP` (network). Changes in place.")
                    .also_computed(),
                optional("certificate_arn", Str, "Default certificate of an `HTTPS` or `TLS` listener. Changes in place."),
                optional("ssl_policy", Str, "SSL policy of an `HTTPS` or `TLS` listener. Changes in place.").also_computed(),
                attr("default_action", action_schema("What to do with requests no rule matches. Changes in place.")),
                computed("arn", Str, "ARN of the listener (same as `id`)."),
            ],
            tags: Some(Tagging::Elbv2),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let found = describe(clients, &ids).await?;
        let arns: Vec<String> = found.keys().cloned().collect();
        let tags = describe_tags(clients, &arns).await?;
        Ok(found
            .iter()
            .map(|(arn, l)| (arn.clone(), to_value(l, &tags)))
            .collect())
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let planned = new.planned;
        let out = clients
            .elbv2
            .create_listener()
            .load_balancer_arn(common::req_str(planned, "load_balancer_arn")?)
            .set_port(common::opt_i32(planned, "port")?)
            .set_protocol(common::opt_str(planned, "protocol")?.map(ProtocolEnum::from))
            .set_ssl_policy(common::opt_str(planned, "ssl_policy")?.map(str::to_string))
            .set_certificates(certificates(planned)?)
            .set_default_actions(Some(to_sdk_actions(planned, "default_action")?))
            .set_tags(Some(to_sdk_tags(new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateListener", e))?;
        let arn = out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn.clone())
            .ok_or_else(|| ProviderError::permanent("CreateListener returned no listener"))?;
        new.ctx.created(&arn);
        Ok(arn)
    }

    async fn find_created(
        &self,
        clients: &Clients,
        _decl: &Decl,
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
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let planned = req.planned;
        let has = |k: &str| common::changed(req.changed, k);
        let mut call = clients.elbv2.modify_listener().listener_arn(req.id);
        if has("port") {
            call = call.set_port(common::opt_i32(planned, "port")?);
        }
        if has("protocol") {
            call = call.set_protocol(common::opt_str(planned, "protocol")?.map(ProtocolEnum::from));
        }
        if has("ssl_policy") {
            call = call.set_ssl_policy(common::opt_str(planned, "ssl_policy")?.map(str::to_string));
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
            .elbv2
            .delete_listener()
            .listener_arn(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteListener", e))
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
