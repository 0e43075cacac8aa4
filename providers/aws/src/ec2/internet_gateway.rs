//! `aws.internet_gateway`: an internet gateway, optionally attached to a VPC.
//!
//! Refresh: one DescribeInternetGateways per chunk of 50. Changing `vpc_id` detaches
//! from the old VPC and attaches to the new one in place; delete detaches first.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType as Ec2ResourceType;
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{ignore_not_found, on_attribute, opt_str, retry_on, sdk_error, tags_value};
use crate::ec2::{arn, filter, tag_map, tag_spec};
use crate::model::{computed, optional, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.internet_gateway` resource type.
pub(crate) struct InternetGateway;

#[async_trait]
impl Model for InternetGateway {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.internet_gateway",
            description: "An internet gateway, giving a VPC's public subnets a route to the internet. Attached to \
                          `vpc_id` when set; deleting it detaches it first.",
            example: "resource aws.internet_gateway main {\n  vpc_id = aws.vpc.main.id\n}",
            id: "internet gateway id",
            attrs: vec![
                optional("vpc_id", AttrType::String, "The VPC to attach to; changing it re-attaches in place."),
                computed("arn", AttrType::String, "The gateway's ARN."),
                computed("owner_id", AttrType::String, "The owning AWS account id."),
            ],
            tags: Some(Tagging::Ec2),
            delete_attempts: 6,
            ec2_tagged: Some("internet-gateway"),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        read_igws(clients, ids).await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let out = clients
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(Ec2ResourceType::InternetGateway, &new.tags))
            .send()
            .await
            .map_err(|e| sdk_error("CreateInternetGateway", e))?;
        let id = out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap_or_default()
            .to_string();
        if id.is_empty() {
            return Err(ProviderError::permanent(
                "CreateInternetGateway returned no id",
            ));
        }
        new.ctx.created(&id);
        if let Some(vpc) = opt_str(new.planned, "vpc_id")? {
            attach(clients, &id, vpc).await?;
        }
        Ok(id)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        if let Some(old) = opt_str(req.prior, "vpc_id")? {
            detach(clients, req.id, old).await?;
        }
        if let Some(new) = opt_str(req.planned, "vpc_id")? {
            attach(clients, req.id, new).await?;
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
        // Detach from whatever VPC AWS says it is attached to (state may be stale).
        let current = read_igws(clients, vec![id.to_string()]).await?;
        let Some(current) = current.get(id) else {
            return Ok(());
        };
        if let Some(vpc) = opt_str(current, "vpc_id")? {
            detach(clients, id, vpc).await?;
        }
        clients
            .ec2
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteInternetGateway", e))
    }
}

async fn attach(clients: &Clients, id: &str, vpc: &str) -> Result<(), ProviderError> {
    clients
        .ec2
        .attach_internet_gateway()
        .internet_gateway_id(id)
        .vpc_id(vpc)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| on_attribute(sdk_error("AttachInternetGateway", e), "vpc_id"))
}

async fn detach(clients: &Clients, id: &str, vpc: &str) -> Result<(), ProviderError> {
    // Detaching fails with DependencyViolation while the VPC still has mapped public
    // addresses (EIPs, NAT gateways being deleted); those go away within minutes.
    let mut call = || async {
        clients
            .ec2
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DetachInternetGateway", e))
    };
    match retry_on(
        &mut call,
        |e| e.code.as_deref() == Some("DependencyViolation"),
        8,
    )
    .await
    {
        Err(e) if e.code.as_deref() == Some("Gateway.NotAttached") => Ok(()),
        other => ignore_not_found(other),
    }
}

/// Reads up to 50 internet gateways by id.
pub(crate) async fn read_igws(
    clients: &Clients,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let out = clients
        .ec2
        .describe_internet_gateways()
        .filters(filter("internet-gateway-id", ids))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeInternetGateways", e))?;
    let mut result = BTreeMap::new();
    for g in out.internet_gateways() {
        let Some(id) = g.internet_gateway_id() else {
            continue;
        };
        let vpc = g
            .attachments()
            .iter()
            .find(|a| {
                a.state()
                    .is_none_or(|s| !matches!(s.as_str(), "detaching" | "detached"))
            })
            .and_then(|a| a.vpc_id());
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::str(id));
        m.insert("vpc_id".to_string(), vpc.map_or(Value::Null, Value::str));
        m.insert("tags".to_string(), tags_value(tag_map(g.tags())));
        m.insert(
            "arn".to_string(),
            arn(clients, g.owner_id(), "internet-gateway", id),
        );
        m.insert(
            "owner_id".to_string(),
            g.owner_id().map_or(Value::Null, Value::str),
        );
        result.insert(id.to_string(), Value::Map(m));
    }
    Ok(result)
}
