//! `aws.vpc`: a virtual private cloud.
//!
//! Refresh costs, per chunk of 50 VPCs, one DescribeVpcs, one DescribeSecurityGroups
//! (default groups) and one DescribeRouteTables (main tables), plus two
//! DescribeVpcAttribute calls per VPC: AWS offers no batched read of the DNS attributes.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, ResourceType as Ec2ResourceType, Tenancy, VpcAttributeName,
};
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{changed, opt_bool, opt_str, req_str, sdk_error, tags_value, wait_until, Poll};
use crate::ec2::{arn, filter, tag_map, tag_spec};
use crate::model::{computed, optional, required, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.vpc` resource type.
pub(crate) struct Vpc;

/// The DNS attributes: name, AWS's attribute and the value of a new VPC.
const DNS: [(&str, VpcAttributeName, bool); 2] = [
    (
        "enable_dns_support",
        VpcAttributeName::EnableDnsSupport,
        true,
    ),
    (
        "enable_dns_hostnames",
        VpcAttributeName::EnableDnsHostnames,
        false,
    ),
];

#[async_trait]
impl Model for Vpc {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.vpc",
            description: "A VPC: an isolated network with its own IPv4 range. The CIDR block and tenancy cannot be \
                          changed in place; the DNS attributes and tags can.",
            example: "resource aws.vpc main {\n  cidr_block           = \"10.0.0.0/16\"\n  enable_dns_hostnames = true\n  \
                      tags = { Name = \"main\" }\n}",
            id: "VPC id",
            attrs: vec![
                required("cidr_block", AttrType::String, "The IPv4 CIDR block, e.g. 10.0.0.0/16.").force_new(),
                optional(
                    "instance_tenancy",
                    AttrType::String,
                    "\"default\" or \"dedicated\" tenancy of instances launched in the VPC.",
                )
                .default("default")
                .force_new(),
                optional(
                    "enable_dns_support",
                    AttrType::Bool,
                    "Whether the Amazon DNS server resolves names in the VPC.",
                )
                .default(true),
                optional(
                    "enable_dns_hostnames",
                    AttrType::Bool,
                    "Whether instances get public DNS host names.",
                )
                .default(false),
                computed("arn", AttrType::String, "The VPC's ARN."),
                computed("owner_id", AttrType::String, "The owning AWS account id."),
                computed(
                    "default_security_group_id",
                    AttrType::String,
                    "The id of the security group AWS created with the VPC.",
                ),
                computed("main_route_table_id", AttrType::String, "The id of the VPC's main route table."),
            ],
            tags: Some(Tagging::Ec2),
            // Subnets, gateways and interfaces deleted just before may still count for a
            // few seconds (DependencyViolation); give them time.
            delete_attempts: 6,
            ec2_tagged: Some("vpc"),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        read_vpcs(clients, ids).await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let planned = new.planned;
        let cidr = req_str(planned, "cidr_block")?;
        let tenancy = opt_str(planned, "instance_tenancy")?.unwrap_or("default");
        let out = clients
            .ec2
            .create_vpc()
            .cidr_block(cidr)
            .instance_tenancy(Tenancy::from(tenancy))
            .tag_specifications(tag_spec(Ec2ResourceType::Vpc, &new.tags))
            .send()
            .await
            .map_err(|e| sdk_error("CreateVpc", e))?;
        let id = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .unwrap_or_default()
            .to_string();
        if id.is_empty() {
            return Err(ProviderError::permanent("CreateVpc returned no VPC id"));
        }
        new.ctx.created(&id);
        wait_available(clients, &id).await?;
        // Change only what differs from a new VPC's DNS attributes.
        for (attr, name, initial) in DNS {
            let want = opt_bool(planned, attr)?.unwrap_or(initial);
            if want != initial {
                set_dns(clients, &id, name, want).await?;
            }
        }
        Ok(id)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        for (attr, name, initial) in DNS {
            if changed(req.changed, attr) {
                let v = opt_bool(req.planned, attr)?.unwrap_or(initial);
                set_dns(clients, req.id, name, v).await?;
            }
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
            .ec2
            .delete_vpc()
            .vpc_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteVpc", e))
    }
}

async fn set_dns(
    clients: &Clients,
    id: &str,
    name: VpcAttributeName,
    value: bool,
) -> Result<(), ProviderError> {
    let flag = AttributeBooleanValue::builder().value(value).build();
    let call = clients.ec2.modify_vpc_attribute().vpc_id(id);
    let call = match name {
        VpcAttributeName::EnableDnsSupport => call.enable_dns_support(flag),
        _ => call.enable_dns_hostnames(flag),
    };
    call.send()
        .await
        .map(|_| ())
        .map_err(|e| sdk_error("ModifyVpcAttribute", e))
}

async fn wait_available(clients: &Clients, id: &str) -> Result<(), ProviderError> {
    wait_until(
        &format!("VPC {id} to become available"),
        Duration::from_secs(300),
        Duration::from_secs(5),
        || async {
            let out = clients
                .ec2
                .describe_vpcs()
                .filters(filter("vpc-id", [id]))
                .send()
                .await
                .map_err(|e| sdk_error("DescribeVpcs", e))?;
            match out.vpcs().first().and_then(|v| v.state()) {
                Some(s) if s.as_str() == "available" => Ok(Poll::Done(())),
                Some(s) => Ok(Poll::Pending(s.as_str().to_string())),
                None => Ok(Poll::Pending("not visible yet".into())),
            }
        },
    )
    .await
}

/// Reads up to 50 VPCs by id; absent ids are simply missing from the result.
pub(crate) async fn read_vpcs(
    clients: &Clients,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let out = clients
        .ec2
        .describe_vpcs()
        .filters(filter("vpc-id", ids.clone()))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeVpcs", e))?;
    let vpcs: Vec<_> = out
        .vpcs()
        .iter()
        .filter(|v| v.vpc_id().is_some())
        .cloned()
        .collect();
    if vpcs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let found_ids: Vec<String> = vpcs
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect();
    let sgs = clients
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", found_ids.clone()))
        .filters(filter("group-name", ["default"]))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeSecurityGroups", e))?;
    let default_sg: BTreeMap<String, String> = sgs
        .security_groups()
        .iter()
        .filter_map(|g| Some((g.vpc_id()?.to_string(), g.group_id()?.to_string())))
        .collect();
    let rts = clients
        .ec2
        .describe_route_tables()
        .filters(filter("vpc-id", found_ids))
        .filters(filter("association.main", ["true"]))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeRouteTables", e))?;
    let main_rt: BTreeMap<String, String> = rts
        .route_tables()
        .iter()
        .filter_map(|t| Some((t.vpc_id()?.to_string(), t.route_table_id()?.to_string())))
        .collect();
    let mut result = BTreeMap::new();
    for v in vpcs {
        let id = v.vpc_id().unwrap_or_default().to_string();
        let support = dns_attr(clients, &id, VpcAttributeName::EnableDnsSupport).await;
        let hostnames = dns_attr(clients, &id, VpcAttributeName::EnableDnsHostnames).await;
        // A VPC deleted between the two calls is gone, not an error.
        let (support, hostnames) = match (support, hostnames) {
            (Ok(s), Ok(h)) => (s, h),
            (Err(e), _) | (_, Err(e)) if e.class == gig_provider::ErrorClass::NotFound => continue,
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::str(&id));
        m.insert(
            "cidr_block".to_string(),
            Value::str(v.cidr_block().unwrap_or_default()),
        );
        m.insert(
            "instance_tenancy".to_string(),
            Value::str(
                v.instance_tenancy()
                    .map(|t| t.as_str())
                    .unwrap_or("default"),
            ),
        );
        m.insert("enable_dns_support".to_string(), Value::Bool(support));
        m.insert("enable_dns_hostnames".to_string(), Value::Bool(hostnames));
        m.insert("tags".to_string(), tags_value(tag_map(v.tags())));
        m.insert("arn".to_string(), arn(clients, v.owner_id(), "vpc", &id));
        m.insert(
            "owner_id".to_string(),
            v.owner_id().map_or(Value::Null, Value::str),
        );
        m.insert(
            "default_security_group_id".to_string(),
            default_sg.get(&id).map_or(Value::Null, Value::str),
        );
        m.insert(
            "main_route_table_id".to_string(),
            main_rt.get(&id).map_or(Value::Null, Value::str),
        );
        result.insert(id, Value::Map(m));
    }
    Ok(result)
}

async fn dns_attr(
    clients: &Clients,
    id: &str,
    name: VpcAttributeName,
) -> Result<bool, ProviderError> {
    let out = clients
        .ec2
        .describe_vpc_attribute()
        .vpc_id(id)
        .attribute(name.clone())
        .send()
        .await
        .map_err(|e| sdk_error("DescribeVpcAttribute", e))?;
    let v = match name {
        VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
        _ => out.enable_dns_hostnames(),
    };
    Ok(v.and_then(|b| b.value()).unwrap_or(false))
}
