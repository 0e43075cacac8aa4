//! `aws.subnet`: a subnet of a VPC in one availability zone.
//!
//! Refresh: one DescribeSubnets per chunk of 50 subnets.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType as Ec2ResourceType};
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, Lookup, OpContext, ProviderError, ReadRequest, ResourceSchema,
    UpdateRequest,
};

use crate::common::{
    all_tags, batched_read, changed, delete_when_unused, id_schema, on_attribute, opt_bool,
    opt_str, read_back, req_str, sdk_error, tags_schema, tags_value, wait_until, Poll,
};
use crate::ec2::{filter, sync_tags, tag_map, tag_spec};
use crate::{Clients, ReadResults, ResourceType};

/// The `aws.subnet` resource type.
pub(crate) struct Subnet;

#[async_trait]
impl ResourceType for Subnet {
    fn schema(&self) -> ResourceSchema {
        let mut a = BTreeMap::new();
        a.insert("id".into(), id_schema("subnet"));
        a.insert(
            "vpc_id".into(),
            AttributeSchema::required(AttrType::String, "The VPC to create the subnet in.")
                .force_new(),
        );
        a.insert(
            "cidr_block".into(),
            AttributeSchema::required(
                AttrType::String,
                "The IPv4 CIDR block; must lie in the VPC's range and overlap no other subnet.",
            )
            .force_new(),
        );
        a.insert(
            "availability_zone".into(),
            AttributeSchema::optional(
                AttrType::String,
                "The availability zone, e.g. us-east-1a; AWS picks one when unset.",
            )
            .also_computed()
            .force_new(),
        );
        a.insert(
            "map_public_ip_on_launch".into(),
            AttributeSchema::optional(
                AttrType::Bool,
                "Whether instances launched here get a public IPv4 address.",
            )
            .default(false),
        );
        a.insert("tags".into(), tags_schema());
        a.insert(
            "availability_zone_id".into(),
            AttributeSchema::computed(AttrType::String, "The zone id, e.g. use1-az1."),
        );
        a.insert(
            "arn".into(),
            AttributeSchema::computed(AttrType::String, "The subnet's ARN."),
        );
        a.insert(
            "owner_id".into(),
            AttributeSchema::computed(AttrType::String, "The owning AWS account id."),
        );
        ResourceSchema {
            type_name: "aws.subnet".into(),
            description: "A subnet: a range of a VPC's addresses in one availability zone. VPC, CIDR block and zone \
                          cannot change in place; map_public_ip_on_launch and tags can."
                .into(),
            version: 1,
            attributes: a,
            example: "resource aws.subnet private for i, az in [\"us-east-1a\", \"us-east-1b\"] {\n  vpc_id            = aws.vpc.main.id\n  \
                      cidr_block        = cidrsubnet(aws.vpc.main.cidr_block, 8, i + 10)\n  availability_zone = az\n}"
                .into(),
        }
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        batched_read(requests, |ids| read_subnets(clients, ids)).await
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let tags = all_tags(planned, ctx)?;
        let out = clients
            .ec2
            .create_subnet()
            .vpc_id(req_str(planned, "vpc_id")?)
            .cidr_block(req_str(planned, "cidr_block")?)
            .set_availability_zone(opt_str(planned, "availability_zone")?.map(str::to_string))
            .tag_specifications(tag_spec(Ec2ResourceType::Subnet, &tags))
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
        ctx.created(&id);
        wait_until(
            &format!("subnet {id} to become available"),
            Duration::from_secs(300),
            Duration::from_secs(5),
            || async {
                let found = read_subnets(clients, vec![id.clone()]).await?;
                Ok(match found.get(&id) {
                    Some(_) => Poll::Done(()),
                    None => Poll::Pending("not visible yet".into()),
                })
            },
        )
        .await?;
        if opt_bool(planned, "map_public_ip_on_launch")?.unwrap_or(false) {
            set_map_public(clients, &id, true).await?;
        }
        read_back("subnet", &id, |ids| read_subnets(clients, ids)).await
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        _planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        super::find_tagged(clients, ctx, "subnet").await
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        req: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        if changed(req.changed, "map_public_ip_on_launch") {
            let v = opt_bool(req.planned, "map_public_ip_on_launch")?.unwrap_or(false);
            set_map_public(clients, req.id, v).await?;
        }
        if changed(req.changed, "tags") {
            sync_tags(clients, req.id, req.prior, req.planned).await?;
        }
        read_back("subnet", req.id, |ids| read_subnets(clients, ids)).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        // Network interfaces of instances, NAT gateways or load balancers deleted just
        // before linger for a while; AWS answers DependencyViolation until they are gone.
        let mut call = || async {
            clients
                .ec2
                .delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("DeleteSubnet", e))
        };
        delete_when_unused(&mut call, 7).await
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
