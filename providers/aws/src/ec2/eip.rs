//! `aws.eip`: an Elastic IP address (VPC domain).
//!
//! The id is the allocation id. Refresh: one DescribeAddresses per chunk of 50.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType as Ec2ResourceType};
use gig_core::value::Value;
use gig_provider::{AttrType, Lookup, OpContext, ProviderError};

use crate::common::{opt_str, sdk_error, tags_value};
use crate::ec2::{filter, tag_map, tag_spec};
use crate::model::{computed, optional, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.eip` resource type.
pub(crate) struct Eip;

#[async_trait]
impl Model for Eip {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.eip",
            description: "An Elastic IP address, e.g. for a NAT gateway. Releasing it fails while it is still \
                          associated; delete what uses it first (the engine orders this by references).",
            example: "resource aws.eip nat {\n  tags = { Name = \"nat\" }\n}",
            id: "allocation id",
            attrs: vec![
                optional("domain", AttrType::String, "Only \"vpc\" is supported (EC2-Classic is retired).")
                    .default("vpc")
                    .force_new(),
                computed("allocation_id", AttrType::String, "The allocation id (same as id)."),
                computed("public_ip", AttrType::String, "The public IPv4 address."),
                computed("association_id", AttrType::String, "The association with an instance or interface, if any."),
            ],
            tags: Some(Tagging::Ec2),
            // A NAT gateway deleted just before may hold the address for a little longer.
            busy: &["InvalidIPAddress.InUse", "AuthFailure"],
            delete_attempts: 6,
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        read_eips(clients, ids).await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let domain = opt_str(new.planned, "domain")?.unwrap_or("vpc");
        if domain != "vpc" {
            return Err(ProviderError::invalid_attribute(
                "domain",
                format!("domain must be \"vpc\", got {domain:?}"),
            ));
        }
        let out = clients
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(Ec2ResourceType::ElasticIp, &new.tags))
            .send()
            .await
            .map_err(|e| sdk_error("AllocateAddress", e))?;
        let id = out.allocation_id().unwrap_or_default().to_string();
        if id.is_empty() {
            return Err(ProviderError::permanent(
                "AllocateAddress returned no allocation id",
            ));
        }
        new.ctx.created(&id);
        Ok(id)
    }

    async fn find_created(
        &self,
        clients: &Clients,
        _decl: &Decl,
        ctx: &OpContext,
        _planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        // DescribeTags does not list addresses everywhere (the emulator leaves them
        // out): the addresses that carry a gig address tag, compared here.
        let out = clients
            .ec2
            .describe_addresses()
            .filters(filter("tag-key", [crate::common::TAG_ADDRESS]))
            .send()
            .await
            .map_err(|e| sdk_error("DescribeAddresses", e))?;
        Ok(crate::common::owned_by(
            out.addresses()
                .iter()
                .filter_map(|a| Some((a.allocation_id()?.to_string(), tag_map(a.tags())))),
            ctx,
        ))
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
            .release_address()
            .allocation_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("ReleaseAddress", e))
    }
}

/// Reads up to 50 Elastic IPs by allocation id.
pub(crate) async fn read_eips(
    clients: &Clients,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let out = clients
        .ec2
        .describe_addresses()
        .filters(filter("allocation-id", ids))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeAddresses", e))?;
    let mut result = BTreeMap::new();
    for a in out.addresses() {
        let Some(id) = a.allocation_id() else {
            continue;
        };
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::str(id));
        m.insert("allocation_id".to_string(), Value::str(id));
        m.insert(
            "domain".to_string(),
            Value::str(a.domain().map(|d| d.as_str()).unwrap_or("vpc")),
        );
        m.insert(
            "public_ip".to_string(),
            a.public_ip().map_or(Value::Null, Value::str),
        );
        m.insert(
            "association_id".to_string(),
            a.association_id().map_or(Value::Null, Value::str),
        );
        m.insert("tags".to_string(), tags_value(tag_map(a.tags())));
        result.insert(id.to_string(), Value::Map(m));
    }
    Ok(result)
}
