//! `aws.route_table_association`: associates a subnet with a route table.
//!
//! The id is the association id (`rtbassoc-…`). Changing `route_table_id` moves the
//! subnet in place (ReplaceRouteTableAssociation, which gives a new association id);
//! changing `subnet_id` replaces the association. Refresh: one DescribeRouteTables per
//! chunk of 50 association ids.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{on_attribute, req_str, retry_not_found, sdk_error};
use crate::ec2::filter;
use crate::model::{required, Decl, Model, New};
use crate::Clients;

/// The `aws.route_table_association` resource type.
pub(crate) struct RouteTableAssociation;

#[async_trait]
impl Model for RouteTableAssociation {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.route_table_association",
            description: "Associates a subnet with a route table (instead of the VPC's main table).",
            example: "resource aws.route_table_association public for az, s in aws.subnet.public {\n  subnet_id      = s.id\n  \
                      route_table_id = aws.route_table.public.id\n}",
            id: "association id",
            attrs: vec![
                required("subnet_id", AttrType::String, "The subnet.").force_new(),
                required(
                    "route_table_id",
                    AttrType::String,
                    "The route table; changing it re-associates in place.",
                ),
            ],
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        read_associations(clients, ids).await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let subnet = req_str(new.planned, "subnet_id")?;
        let table = req_str(new.planned, "route_table_id")?;
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
        new.ctx.created(&id);
        Ok(id)
    }

    /// Associations carry no tags, but a subnet has at most one: the association of
    /// the planned subnet with the planned route table is the one this create made.
    async fn find_created(
        &self,
        clients: &Clients,
        _decl: &Decl,
        _ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let subnet = req_str(planned, "subnet_id")?;
        let table = req_str(planned, "route_table_id")?;
        let out = clients
            .ec2
            .describe_route_tables()
            .filters(filter("association.subnet-id", [subnet]))
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

    /// Moving the subnet to another table gives the association a new id.
    async fn update_with_id(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<Option<String>, ProviderError> {
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
        Ok(out.new_association_id().map(str::to_string))
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
            .disassociate_route_table()
            .association_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DisassociateRouteTable", e))
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
