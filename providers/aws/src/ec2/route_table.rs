//! `aws.route_table`: a VPC route table with its routes managed inline.
//!
//! `route` is a set of objects keyed by destination (`cidr_block` or
//! `ipv6_cidr_block`). An update compares Prior routes as read from AWS with the Planned
//! set: new destinations are created (CreateRoute), changed targets replaced in place
//! (ReplaceRoute), and destinations no longer planned deleted (DeleteRoute). The VPC's
//! `local` route and propagated routes are never shown or touched. Refresh: one
//! DescribeRouteTables per chunk of 50.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType as Ec2ResourceType, Route};
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, ProviderError, UpdateRequest};

use crate::common::{
    ignore_not_found, list, on_attribute, opt_str, req_str, retry_not_found, sdk_error, tags_value,
};
use crate::ec2::{arn, filter, tag_map, tag_spec};
use crate::model::{computed, optional, required, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.route_table` resource type.
pub(crate) struct RouteTable;

/// Route target attributes, in the order they are tried.
const TARGETS: &[&str] = &[
    "gateway_id",
    "nat_gateway_id",
    "network_interface_id",
    "vpc_peering_connection_id",
    "transit_gateway_id",
];

fn route_schema() -> AttrType {
    let mut r = BTreeMap::new();
    r.insert(
        "cidr_block".into(),
        AttributeSchema::optional(AttrType::String, "IPv4 destination, e.g. 0.0.0.0/0."),
    );
    r.insert(
        "ipv6_cidr_block".into(),
        AttributeSchema::optional(AttrType::String, "IPv6 destination, e.g. ::/0."),
    );
    r.insert(
        "gateway_id".into(),
        AttributeSchema::optional(AttrType::String, "Target: an internet gateway id."),
    );
    r.insert(
        "nat_gateway_id".into(),
        AttributeSchema::optional(AttrType::String, "Target: a NAT gateway id."),
    );
    r.insert(
        "network_interface_id".into(),
        AttributeSchema::optional(AttrType::String, "Target: a network interface id."),
    );
    r.insert(
        "vpc_peering_connection_id".into(),
        AttributeSchema::optional(AttrType::String, "Target: a VPC peering connection id."),
    );
    r.insert(
        "transit_gateway_id".into(),
        AttributeSchema::optional(AttrType::String, "Target: a transit gateway id."),
    );
    AttrType::Set(Box::new(AttrType::Object(r)))
}

#[async_trait]
impl Model for RouteTable {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.route_table",
            description: "A route table with inline routes. Routes are a set: order does not matter, and each \
                          route is changed in place by destination. The VPC's local route is implicit.",
            example: "resource aws.route_table public {\n  vpc_id = aws.vpc.main.id\n  route {\n    cidr_block = \"0.0.0.0/0\"\n    \
                      gateway_id = aws.internet_gateway.main.id\n  }\n}",
            id: "route table id",
            attrs: vec![
                required("vpc_id", AttrType::String, "The VPC.").force_new(),
                optional(
                    "route",
                    route_schema(),
                    "Routes (blocks), each with one destination and one target; changed in place.",
                ),
                computed("arn", AttrType::String, "The route table's ARN."),
                computed("owner_id", AttrType::String, "The owning AWS account id."),
            ],
            tags: Some(Tagging::Ec2),
            delete_attempts: 6,
            ec2_tagged: Some("route-table"),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        read_tables(clients, ids).await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let routes = planned_routes(new.planned)?;
        let out = clients
            .ec2
            .create_route_table()
            .vpc_id(req_str(new.planned, "vpc_id")?)
            .tag_specifications(tag_spec(Ec2ResourceType::RouteTable, &new.tags))
            .send()
            .await
            .map_err(|e| on_attribute(sdk_error("CreateRouteTable", e), "vpc_id"))?;
        let id = out
            .route_table()
            .and_then(|t| t.route_table_id())
            .unwrap_or_default()
            .to_string();
        if id.is_empty() {
            return Err(ProviderError::permanent("CreateRouteTable returned no id"));
        }
        new.ctx.created(&id);
        for route in routes.values() {
            retry_not_found(|| create_route(clients, &id, route)).await?;
        }
        Ok(id)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        // Diff against what AWS has now, not only against Prior.
        let current = read_tables(clients, vec![req.id.to_string()]).await?;
        let current = current.get(req.id).cloned().unwrap_or_default();
        let have = planned_routes(&current)?;
        let want = planned_routes(req.planned)?;
        for (dest, route) in &have {
            if !want.contains_key(dest) {
                delete_route(clients, req.id, route).await?;
            }
        }
        for (dest, route) in &want {
            match have.get(dest) {
                None => create_route(clients, req.id, route).await?,
                Some(old) if old != route => replace_route(clients, req.id, route).await?,
                Some(_) => {}
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
            .delete_route_table()
            .route_table_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteRouteTable", e))
    }
}

/// One route: destination and target, each `(attribute, value)`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PlannedRoute {
    dest: (&'static str, String),
    target: (&'static str, String),
}

/// The routes of a value keyed by destination. Each route needs exactly one
/// destination and one target.
fn planned_routes(v: &Value) -> Result<BTreeMap<String, PlannedRoute>, ProviderError> {
    let mut out = BTreeMap::new();
    for r in list(v, "route")? {
        let dest = match (opt_str(r, "cidr_block")?, opt_str(r, "ipv6_cidr_block")?) {
            (Some(c), None) => ("cidr_block", c.to_string()),
            (None, Some(c)) => ("ipv6_cidr_block", c.to_string()),
            _ => {
                return Err(ProviderError::invalid_attribute(
                    "route",
                    "each route needs exactly one of cidr_block or ipv6_cidr_block",
                ))
            }
        };
        let mut targets = Vec::new();
        for t in TARGETS {
            if let Some(x) = opt_str(r, t)? {
                targets.push((*t, x.to_string()));
            }
        }
        let [target] = <[_; 1]>::try_from(targets).map_err(|_| {
            ProviderError::invalid_attribute(
                "route",
                format!("the route to {} needs exactly one target", dest.1),
            )
        })?;
        if out
            .insert(
                dest.1.clone(),
                PlannedRoute {
                    dest: dest.clone(),
                    target,
                },
            )
            .is_some()
        {
            return Err(ProviderError::invalid_attribute(
                "route",
                format!("two routes to {}", dest.1),
            ));
        }
    }
    Ok(out)
}

macro_rules! route_call {
    ($builder:expr, $route:expr) => {{
        let b = $builder;
        let b = match $route.dest.0 {
            "cidr_block" => b.destination_cidr_block(&$route.dest.1),
            _ => b.destination_ipv6_cidr_block(&$route.dest.1),
        };
        let t = &$route.target.1;
        match $route.target.0 {
            "gateway_id" => b.gateway_id(t),
            "nat_gateway_id" => b.nat_gateway_id(t),
            "network_interface_id" => b.network_interface_id(t),
            "vpc_peering_connection_id" => b.vpc_peering_connection_id(t),
            _ => b.transit_gateway_id(t),
        }
    }};
}

async fn create_route(
    clients: &Clients,
    id: &str,
    route: &PlannedRoute,
) -> Result<(), ProviderError> {
    route_call!(clients.ec2.create_route().route_table_id(id), route)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| on_attribute(sdk_error("CreateRoute", e), "route"))
}

async fn replace_route(
    clients: &Clients,
    id: &str,
    route: &PlannedRoute,
) -> Result<(), ProviderError> {
    route_call!(clients.ec2.replace_route().route_table_id(id), route)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| on_attribute(sdk_error("ReplaceRoute", e), "route"))
}

async fn delete_route(
    clients: &Clients,
    id: &str,
    route: &PlannedRoute,
) -> Result<(), ProviderError> {
    let b = clients.ec2.delete_route().route_table_id(id);
    let b = match route.dest.0 {
        "cidr_block" => b.destination_cidr_block(&route.dest.1),
        _ => b.destination_ipv6_cidr_block(&route.dest.1),
    };
    match b
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk_error("DeleteRoute", e))
    {
        Err(e) if e.code.as_deref() == Some("InvalidRoute.NotFound") => Ok(()),
        other => ignore_not_found(other),
    }
}

fn route_value(r: &Route) -> Option<Value> {
    if r.gateway_id() == Some("local")
        || r.origin()
            .is_some_and(|o| o.as_str() == "EnableVgwRoutePropagation")
    {
        return None;
    }
    let mut m = BTreeMap::new();
    m.insert(
        "cidr_block".to_string(),
        r.destination_cidr_block().map_or(Value::Null, Value::str),
    );
    m.insert(
        "ipv6_cidr_block".to_string(),
        r.destination_ipv6_cidr_block()
            .map_or(Value::Null, Value::str),
    );
    if r.destination_cidr_block().is_none() && r.destination_ipv6_cidr_block().is_none() {
        return None;
    }
    // An instance target also reports its interface; show the interface only.
    m.insert(
        "gateway_id".to_string(),
        r.gateway_id().map_or(Value::Null, Value::str),
    );
    m.insert(
        "nat_gateway_id".to_string(),
        r.nat_gateway_id().map_or(Value::Null, Value::str),
    );
    m.insert(
        "network_interface_id".to_string(),
        r.network_interface_id().map_or(Value::Null, Value::str),
    );
    m.insert(
        "vpc_peering_connection_id".to_string(),
        r.vpc_peering_connection_id()
            .map_or(Value::Null, Value::str),
    );
    m.insert(
        "transit_gateway_id".to_string(),
        r.transit_gateway_id().map_or(Value::Null, Value::str),
    );
    Some(Value::Map(m))
}

/// Reads up to 50 route tables by id.
pub(crate) async fn read_tables(
    clients: &Clients,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let out = clients
        .ec2
        .describe_route_tables()
        .filters(filter("route-table-id", ids))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeRouteTables", e))?;
    let mut result = BTreeMap::new();
    for t in out.route_tables() {
        let Some(id) = t.route_table_id() else {
            continue;
        };
        let mut routes: Vec<Value> = t.routes().iter().filter_map(route_value).collect();
        routes.sort_by_key(|r| r.to_json().to_string());
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::str(id));
        m.insert(
            "vpc_id".to_string(),
            t.vpc_id().map_or(Value::Null, Value::str),
        );
        m.insert("route".to_string(), Value::List(routes));
        m.insert("tags".to_string(), tags_value(tag_map(t.tags())));
        m.insert(
            "arn".to_string(),
            arn(clients, t.owner_id(), "route-table", id),
        );
        m.insert(
            "owner_id".to_string(),
            t.owner_id().map_or(Value::Null, Value::str),
        );
        result.insert(id.to_string(), Value::Map(m));
    }
    Ok(result)
}
