//! `aws.subnet`: a subnet of a VPC in one availability zone.
//!
//! Refresh: one DescribeSubnets per chunk of 50 subnets.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType as Ec2ResourceType};
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{
    on_attribute, opt_bool, opt_str, req_str, retry_not_found, sdk_error, tags_value,
};
use crate::ec2::{filter, tag_map, tag_spec};
use crate::model::{computed, optional, required, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.subnet` resource type.
pub(crate) struct Subnet;

#[async_trait]
impl Model for Subnet {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.subnet",
            description: "A subnet: a range of a VPC's addresses in one availability zone. VPC, CIDR block and zone \
                          cannot change in place; map_public_ip_on_launch and tags can.",
            example: "resource aws.subnet private for i, az in [\"us-east-1a\", \"us-east-1b\"] {\n  vpc_id            = aws.vpc.main.id\n  \
                      cidr_block        = cidrsubnet(aws.vpc.main.cidr_block, 8, i + 10)\n  availability_zone = az\n}",
            id: "subnet id",
            attrs: vec![
                required("vpc_id", AttrType::String, "The VPC to create the subnet in.").force_new(),
                required(
                    "cidr_block",
                    AttrType::String,
                    "The IPv4 CIDR block; must lie in the VPC's range and overlap no other subnet.",
                )
                .force_new(),
                optional(
                    "availability_zone",
                    AttrType::String,
                    "The availability zone, e.g. us-east-1a; AWS picks one when unset.",
                )
                .also_computed()
                .force_new(),
                optional(
                    "map_public_ip_on_launch",
                    AttrType::Bool,
                    "Whether instances launched here get a public IPv4 address.",
                )
                .default(false),
                computed("availability_zone_id", AttrType::String, "The zone id, e.g. use1-az1."),
                computed("arn", AttrType::String, "The subnet's ARN."),
                computed("owner_id", AttrType::String, "The owning AWS account id."),
            ],
            tags: Some(Tagging::Ec2),
            // Network interfaces of instances, NAT gateways or load balancers deleted just
            // before linger for a while; AWS answers DependencyViolation until they are gone.
            delete_attempts: 7,
            ec2_tagged: Some("subnet"),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        read_subnets(clients, ids).await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let planned = new.planned;
        let out = clients
            .ec2
            .create_subnet()
            .vpc_id(req_str(planned, "vpc_id")?)
            .cidr_block(req_str(planned, "cidr_block")?)
            .set_availability_zone(opt_str(planned, "availability_zone")?.map(str::to_string))
            .tag_specifications(tag_spec(Ec2ResourceType::Subnet, &new.tags))
            .send()
            .await
            .map_err(|e| {
                let e = sdk_error("CreateSubnet", e);
                match e.code.as_deref() {
                    Some("InvalidSubnet.Conflict" | "InvalidSubnet.Range") => {
                        on_attribute(e, "cidr_block")
                    }
                    Some("InvalidVpcID.NotFound") => on_attribute(e, "vpc_id"),
                    Some(c) if c.contains("AvailabilityZone") => {
                        on_attribute(e, "availability_zone")
                    }
                    _ => e,
                }
            })?;
        let id = out
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_string();
        if id.is_empty() {
            return Err(ProviderError::permanent(
                "CreateSubnet returned no subnet id",
            ));
        }
        new.ctx.created(&id);
        if opt_bool(planned, "map_public_ip_on_launch")?.unwrap_or(false) {
            // Right after the create AWS may not know the id yet.
            retry_not_found(|| set_map_public(clients, &id, true)).await?;
        }
        Ok(id)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let v = opt_bool(req.planned, "map_public_ip_on_launch")?.unwrap_or(false);
        set_map_public(clients, req.id, v).await
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
            .delete_subnet()
            .subnet_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteSubnet", e))
    }
}

async fn set_map_public(clients: &Clients, id: &str, value: bool) -> Result<(), ProviderError> {
    clients
        .ec2
        .modify_subnet_attribute()
        .subnet_id(id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(value).build())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk_error("ModifySubnetAttribute", e))
}

/// Reads up to 50 subnets by id; absent ids are missing from the result.
pub(crate) async fn read_subnets(
    clients: &Clients,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let out = clients
        .ec2
        .describe_subnets()
        .filters(filter("subnet-id", ids))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeSubnets", e))?;
    let mut result = BTreeMap::new();
    for s in out.subnets() {
        let Some(id) = s.subnet_id() else { continue };
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::str(id));
        m.insert(
            "vpc_id".to_string(),
            Value::str(s.vpc_id().unwrap_or_default()),
        );
        m.insert(
            "cidr_block".to_string(),
            Value::str(s.cidr_block().unwrap_or_default()),
        );
        m.insert(
            "availability_zone".to_string(),
            s.availability_zone().map_or(Value::Null, Value::str),
        );
        m.insert(
            "availability_zone_id".to_string(),
            s.availability_zone_id().map_or(Value::Null, Value::str),
        );
        m.insert(
            "map_public_ip_on_launch".to_string(),
            Value::Bool(s.map_public_ip_on_launch().unwrap_or(false)),
        );
        m.insert("tags".to_string(), tags_value(tag_map(s.tags())));
        m.insert(
            "arn".to_string(),
            s.subnet_arn().map_or(Value::Null, Value::str),
        );
        m.insert(
            "owner_id".to_string(),
            s.owner_id().map_or(Value::Null, Value::str),
        );
        result.insert(id.to_string(), Value::Map(m));
    }
    Ok(result)
}
