//! `aws.nat_gateway`: a NAT gateway in a subnet, public (with an Elastic IP) or private.
//!
//! Create waits until `available` (failing with AWS's failure message when it fails);
//! delete waits until `deleted`, so the Elastic IP and subnet can go next. Refresh: one
//! DescribeNatGateways per chunk of 50; `deleted` gateways count as gone. The create
//! carries a ClientToken derived from the stack, env, address and planned value, so a
//! retried create after a crash adopts the gateway made the first time.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, NatGatewayState, ResourceType as Ec2ResourceType};
use gig_core::value::Value;
use gig_provider::{AttrType, Lookup, OpContext, ProviderError};

use crate::common::{
    client_token, ignore_not_found, on_attribute, opt_str, req_str, sdk_error, tags_value,
    wait_until, Poll,
};
use crate::ec2::{filter, tag_map, tag_spec};
use crate::model::{computed, optional, required, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.nat_gateway` resource type.
pub(crate) struct NatGateway;

#[async_trait]
impl Model for NatGateway {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.nat_gateway",
            description: "A NAT gateway giving private subnets outbound internet access. Creating one takes a few \
                          minutes on AWS; gig waits until it is available, and on delete until it is deleted.",
            example: "resource aws.nat_gateway main {\n  subnet_id     = aws.subnet.public[\"us-east-1a\"].id\n  \
                      allocation_id = aws.eip.nat.id\n}",
            id: "NAT gateway id",
            attrs: vec![
                required("subnet_id", AttrType::String, "The (public) subnet to place it in.").force_new(),
                optional(
                    "allocation_id",
                    AttrType::String,
                    "The Elastic IP allocation for a public gateway.",
                )
                .force_new(),
                optional(
                    "connectivity_type",
                    AttrType::String,
                    "\"public\" (needs allocation_id) or \"private\".",
                )
                .default("public")
                .force_new(),
                computed("public_ip", AttrType::String, "The public address (public gateways)."),
                computed("private_ip", AttrType::String, "The private address in the subnet."),
                computed(
                    "network_interface_id",
                    AttrType::String,
                    "The network interface AWS created for it.",
                ),
            ],
            tags: Some(Tagging::Ec2),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        read_nats(clients, ids).await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let planned = new.planned;
        let connectivity = opt_str(planned, "connectivity_type")?.unwrap_or("public");
        let out = clients
            .ec2
            .create_nat_gateway()
            .subnet_id(req_str(planned, "subnet_id")?)
            .set_allocation_id(opt_str(planned, "allocation_id")?.map(str::to_string))
            .connectivity_type(ConnectivityType::from(connectivity))
            .client_token(client_token(new.ctx, planned, ""))
            .tag_specifications(tag_spec(Ec2ResourceType::Natgateway, &new.tags))
            .send()
            .await
            .map_err(|e| {
                let e = sdk_error("CreateNatGateway", e);
                match e.code.as_deref() {
                    Some("InvalidSubnetID.NotFound") => on_attribute(e, "subnet_id"),
                    Some(c) if c.contains("Allocation") => on_attribute(e, "allocation_id"),
                    _ => e,
                }
            })?;
        let id = out
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .unwrap_or_default()
            .to_string();
        if id.is_empty() {
            return Err(ProviderError::permanent("CreateNatGateway returned no id"));
        }
        new.ctx.created(&id);
        wait_state(clients, &id, "available", Duration::from_secs(600)).await?;
        Ok(id)
    }

    async fn find_created(
        &self,
        clients: &Clients,
        _decl: &Decl,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        // By the planned subnet and the tags the gateway carries: DescribeTags does not
        // list NAT gateways everywhere (the emulator leaves them out).
        let subnet = req_str(planned, "subnet_id")?;
        let mut candidates = Vec::new();
        let mut pages = clients
            .ec2
            .describe_nat_gateways()
            .filter(filter("subnet-id", [subnet]))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("DescribeNatGateways", e))?;
            for n in page.nat_gateways() {
                let gone = matches!(
                    n.state(),
                    Some(NatGatewayState::Deleted | NatGatewayState::Deleting)
                );
                if let (Some(id), false) = (n.nat_gateway_id(), gone) {
                    candidates.push((id.to_string(), tag_map(n.tags())));
                }
            }
        }
        Ok(crate::common::owned_by(candidates, ctx))
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteNatGateway", e))?;
        ignore_not_found(wait_state(clients, id, "deleted", Duration::from_secs(600)).await)
    }
}

/// Waits until the gateway reaches `want` (`available` or `deleted`); `failed` is an
/// error carrying AWS's failure code and message.
async fn wait_state(
    clients: &Clients,
    id: &str,
    want: &str,
    timeout: Duration,
) -> Result<(), ProviderError> {
    wait_until(
        &format!("NAT gateway {id} to become {want}"),
        timeout,
        Duration::from_secs(10),
        || async {
            let out = clients
                .ec2
                .describe_nat_gateways()
                .filter(filter("nat-gateway-id", [id]))
                .send()
                .await
                .map_err(|e| sdk_error("DescribeNatGateways", e))?;
            let Some(n) = out.nat_gateways().first() else {
                return Ok(if want == "deleted" {
                    Poll::Done(())
                } else {
                    Poll::Pending("not visible yet".into())
                });
            };
            match n.state() {
                Some(s) if s.as_str() == want => Ok(Poll::Done(())),
                Some(NatGatewayState::Failed) if want != "deleted" => Err(ProviderError::new(
                    gig_provider::ErrorClass::Permanent,
                    n.failure_code().map(str::to_string),
                    n.failure_message()
                        .unwrap_or("the NAT gateway failed")
                        .to_string(),
                )),
                Some(NatGatewayState::Failed) => Ok(Poll::Done(())),
                Some(s) => Ok(Poll::Pending(s.as_str().to_string())),
                None => Ok(Poll::Pending("unknown".into())),
            }
        },
    )
    .await
}

/// Reads up to 50 NAT gateways by id; deleted ones are missing from the result.
pub(crate) async fn read_nats(
    clients: &Clients,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let mut result = BTreeMap::new();
    let mut pages = clients
        .ec2
        .describe_nat_gateways()
        .filter(filter("nat-gateway-id", ids))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("DescribeNatGateways", e))?;
        for n in page.nat_gateways() {
            let Some(id) = n.nat_gateway_id() else {
                continue;
            };
            if matches!(n.state(), Some(NatGatewayState::Deleted)) {
                continue;
            }
            let addr = n.nat_gateway_addresses().first();
            let mut m = BTreeMap::new();
            m.insert("id".to_string(), Value::str(id));
            m.insert(
                "subnet_id".to_string(),
                n.subnet_id().map_or(Value::Null, Value::str),
            );
            m.insert(
                "allocation_id".to_string(),
                addr.and_then(|a| a.allocation_id())
                    .map_or(Value::Null, Value::str),
            );
            m.insert(
                "connectivity_type".to_string(),
                Value::str(
                    n.connectivity_type()
                        .map(|c| c.as_str())
                        .unwrap_or("public"),
                ),
            );
            m.insert("tags".to_string(), tags_value(tag_map(n.tags())));
            m.insert(
                "public_ip".to_string(),
                addr.and_then(|a| a.public_ip())
                    .map_or(Value::Null, Value::str),
            );
            m.insert(
                "private_ip".to_string(),
                addr.and_then(|a| a.private_ip())
                    .map_or(Value::Null, Value::str),
            );
            m.insert(
                "network_interface_id".to_string(),
                addr.and_then(|a| a.network_interface_id())
                    .map_or(Value::Null, Value::str),
            );
            result.insert(id.to_string(), Value::Map(m));
        }
    }
    Ok(result)
}
