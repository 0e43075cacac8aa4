//! `aws.eip`: an Elastic IP address (VPC domain).
//!
//! The id is the allocation id. Refresh: one DescribeAddresses per chunk of 50.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType as Ec2ResourceType};
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, Lookup, OpContext, ProviderError, ReadRequest, ResourceSchema,
    UpdateRequest,
};

use crate::common::{
    all_tags, batched_read, changed, id_schema, ignore_not_found, opt_str, read_back, retry_on,
    sdk_error, tags_schema, tags_value,
};
use crate::ec2::{filter, sync_tags, tag_map, tag_spec};
use crate::{Clients, ReadResults, ResourceType};

/// The `aws.eip` resource type.
pub(crate) struct Eip;

#[async_trait]
impl ResourceType for Eip {
    fn schema(&self) -> ResourceSchema {
        let mut a = BTreeMap::new();
        a.insert("id".into(), id_schema("allocation"));
        a.insert(
            "domain".into(),
            AttributeSchema::optional(
                AttrType::String,
                "Only \"vpc\" is supported (EC2-Classic is retired).",
            )
            .default("vpc")
            .force_new(),
        );
        a.insert("tags".into(), tags_schema());
        a.insert(
            "allocation_id".into(),
            AttributeSchema::computed(AttrType::String, "The allocation id (same as id)."),
        );
        a.insert(
            "public_ip".into(),
            AttributeSchema::computed(AttrType::String, "The public IPv4 address."),
        );
        a.insert(
            "association_id".into(),
            AttributeSchema::computed(
                AttrType::String,
                "The association with an instance or interface, if any.",
            ),
        );
        ResourceSchema {
            type_name: "aws.eip".into(),
            description: "An Elastic IP address, e.g. for a NAT gateway. Releasing it fails while it is still \
                          associated; delete what uses it first (the engine orders this by references)."
                .into(),
            version: 1,
            attributes: a,
            example: "resource aws.eip nat {\n  tags = { Name = \"nat\" }\n}".into(),
        }
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        batched_read(requests, |ids| read_eips(clients, ids)).await
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let domain = opt_str(planned, "domain")?.unwrap_or("vpc");
        if domain != "vpc" {
            return Err(ProviderError::invalid_attribute(
                "domain",
                format!("domain must be \"vpc\", got {domain:?}"),
            ));
        }
        let tags = all_tags(planned, ctx)?;
        let out = clients
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(Ec2ResourceType::ElasticIp, &tags))
            .send()
            .await
            .map_err(|e| sdk_error("AllocateAddress", e))?;
        let id = out.allocation_id().unwrap_or_default().to_string();
        if id.is_empty() {
            return Err(ProviderError::permanent(
                "AllocateAddress returned no allocation id",
            ));
        }
        ctx.created(&id);
        read_back("Elastic IP", &id, |ids| read_eips(clients, ids)).await
    }

    async fn find_created(
        &self,
        clients: &Clients,
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

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        req: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        if changed(req.changed, "tags") {
            sync_tags(clients, req.id, req.prior, req.planned).await?;
        }
        read_back("Elastic IP", req.id, |ids| read_eips(clients, ids)).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        // A NAT gateway deleted just before may hold the address for a little longer.
        let mut call = || async {
            clients
                .ec2
                .release_address()
                .allocation_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("ReleaseAddress", e))
        };
        let in_use = |e: &ProviderError| {
            matches!(
                e.code.as_deref(),
                Some("InvalidIPAddress.InUse" | "AuthFailure" | "DependencyViolation")
            )
        };
        match retry_on(&mut call, in_use, 6).await {
            Err(e) if e.code.as_deref() == Some("InvalidAllocationID.NotFound") => Ok(()),
            other => ignore_not_found(other),
        }
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
