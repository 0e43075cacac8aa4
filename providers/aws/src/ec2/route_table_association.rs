//! `aws.route_table_association`: associates a subnet with a route table.
//!
//! The id is the association id (`rtbassoc-…`). Changing `route_table_id` moves the
//! subnet in place (ReplaceRouteTableAssociation, which gives a new association id);
//! changing `subnet_id` replaces the association. Refresh: one DescribeRouteTables per
//! chunk of 50 association ids.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, Lookup, OpContext, ProviderError, ReadRequest, ResourceSchema,
    UpdateRequest,
};

use crate::common::{
    batched_read, changed, id_schema, ignore_not_found, on_attribute, read_back, req_str,
    retry_not_found, sdk_error,
};
use crate::ec2::filter;
use crate::{Clients, ReadResults, ResourceType};

/// The `aws.route_table_association` resource type.
pub(crate) struct RouteTableAssociation;

#[async_trait]
impl ResourceType for RouteTableAssociation {
    fn schema(&self) -> ResourceSchema {
        let mut a = BTreeMap::new();
        a.insert("id".into(), id_schema("association"));
        a.insert(
            "subnet_id".into(),
            AttributeSchema::required(AttrType::String, "The subnet.").force_new(),
        );
        a.insert(
            "route_table_id".into(),
            AttributeSchema::required(
                AttrType::String,
                "The route table; changing it re-associates in place.",
            ),
        );
        ResourceSchema {
            type_name: "aws.route_table_association".into(),
            description: "Associates a subnet with a route table (instead of the VPC's main table).".into(),
            version: 1,
            attributes: a,
            example: "resource aws.route_table_association public for az, s in aws.subnet.public {\n  subnet_id      = s.id\n  \
                      route_table_id = aws.route_table.public.id\n}"
                .into(),
        }
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        batched_read(requests, |ids| read_associations(clients, ids)).await
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let subnet = req_str(planned, "subnet_id")?;
        let table = req_str(planned, "route_table_id")?;
        let out = retry_not_found(|| async {
            clients
                .ec2
                .associate_route_table()
                .subnet_id(subnet)
                .route_table_id(table)
                .send()
                .await
                .map_err(|e| {
                    let e = sdk_error("AssociateRouteTable", e);
                    match e.code.as_deref() {
                        Some("InvalidSubnetID.NotFound") => on_attribute(e, "subnet_id"),
                        Some("InvalidRouteTableID.NotFound") => on_attribute(e, "route_table_id"),
                        _ => e,
                    }
                })
        })
        .await?;
        let id = out.association_id().unwrap_or_default().to_string();
        if id.is_empty() {
            return Err(ProviderError::permanent(
                "AssociateRouteTable returned no association id",
            ));
        }
        ctx.created(&id);
        read_back("route table association", &id, |ids| {
            read_associations(clients, ids)
        })
        .await
    }

    /// Associations carry no tags, but a subnet has at most one: the association of
    /// the planned subnet with the planned route table is the one this create made.
    async fn find_created(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let subnet = req_str(planned, "subnet_id")?;
        let table = req_str(planned, "route_table_id")?;
        let out = clients
            .ec2
            .describe_route_tables()
            .filters(super::filter("association.subnet-id", [subnet]))
            .send()
            .await
            .map_err(|e| sdk_error("DescribeRouteTables", e))?;
        Ok(Lookup::Found(
            out.route_tables()
                .iter()
                .flat_map(|t| t.associations())
                .filter(|a| a.subnet_id() == Some(subnet) && a.route_table_id() == Some(table))
                .filter_map(|a| a.route_table_association_id().map(str::to_string))
                .collect(),
        ))
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        req: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let mut id = req.id.to_string();
        if changed(req.changed, "route_table_id") {
            let out = clients
                .ec2
                .replace_route_table_association()
                .association_id(req.id)
                .route_table_id(req_str(req.planned, "route_table_id")?)
                .send()
                .await
                .map_err(|e| {
                    on_attribute(
                        sdk_error("ReplaceRouteTableAssociation", e),
                        "route_table_id",
                    )
                })?;
            if let Some(new) = out.new_association_id() {
                id = new.to_string();
            }
        }
        read_back("route table association", &id, |ids| {
            read_associations(clients, ids)
        })
        .await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let r = clients
            .ec2
            .disassociate_route_table()
            .association_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DisassociateRouteTable", e));
        ignore_not_found(r)
    }
}

/// Reads up to 50 associations by association id.
pub(crate) async fn read_associations(
    clients: &Clients,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let out = clients
        .ec2
        .describe_route_tables()
        .filters(filter(
            "association.route-table-association-id",
            ids.clone(),
        ))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeRouteTables", e))?;
    let mut result = BTreeMap::new();
    for t in out.route_tables() {
        for a in t.associations() {
            let Some(id) = a.route_table_association_id() else {
                continue;
            };
            let Some(subnet) = a.subnet_id() else {
                continue;
            };
            if !ids.iter().any(|i| i == id) {
                continue;
            }
            if a.association_state()
                .and_then(|s| s.state())
                .is_some_and(|s| matches!(s.as_str(), "disassociating" | "disassociated"))
            {
                continue;
            }
            let mut m = BTreeMap::new();
            m.insert("id".to_string(), Value::str(id));
            m.insert("subnet_id".to_string(), Value::str(subnet));
            m.insert(
                "route_table_id".to_string(),
                t.route_table_id().map_or(Value::Null, Value::str),
            );
            result.insert(id.to_string(), Value::Map(m));
        }
    }
    Ok(result)
}
