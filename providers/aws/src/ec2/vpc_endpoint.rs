//! `aws.vpc_endpoint`: a gateway or interface endpoint that reaches an AWS service from
//! inside a VPC without the internet.
//!
//! Refresh: DescribeVpcEndpoints by id, 50 at a time; when AWS refuses the batch because
//! one id is gone (`InvalidVpcEndpointId.NotFound`), that chunk is described id by id.
//! An endpoint in state `deleted` is gone. Route tables, subnets, security groups, the
//! policy and private DNS change in place with one ModifyVpcEndpoint (adds and removes
//! computed from the Prior value); the rest replaces the endpoint. Creates and updates
//! wait for `available`, deletes for the endpoint to disappear.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType as Ec2ResourceType, VpcEndpoint, VpcEndpointType};
use gig_core::value::Value;
use gig_provider::{AttrType, ErrorClass, ProviderError, UpdateRequest};

use crate::common::{
    changed, client_token, has_code, is_not_found, object, on_attribute, opt_bool, opt_str,
    req_str, sdk_error, sorted_string_list, str_list, t_str_set, tags_value, wait_until, Poll,
};
use crate::ec2::{arn, filter, tag_map, tag_spec};
use crate::model::{computed, optional, required, Decl, Model, New, Waits};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.vpc_endpoint` resource type.
pub(crate) struct Endpoint;

const TEN_MINUTES: Duration = Duration::from_secs(600);

fn dns_entry_type() -> AttrType {
    AttrType::List(Box::new(AttrType::Object(BTreeMap::from([
        (
            "dns_name".to_string(),
            gig_provider::AttributeSchema::computed(AttrType::String, "The DNS name."),
        ),
        (
            "hosted_zone_id".to_string(),
            gig_provider::AttributeSchema::computed(AttrType::String, "Its hosted zone."),
        ),
    ]))))
}

#[async_trait]
impl Model for Endpoint {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.vpc_endpoint",
            description: "A VPC endpoint: private access from a VPC to an AWS service. A `Gateway` endpoint \
                          (S3, DynamoDB) adds a route to the service's prefix list in each of `route_table_ids`; \
                          an `Interface` endpoint puts a network interface in each of `subnet_ids`, guarded by \
                          `security_group_ids`, with private DNS names when `private_dns_enabled`. Route tables, \
                          subnets, security groups, the policy and private DNS change in place; the service, the \
                          VPC and the type replace the endpoint. `policy` is a JSON document compared by meaning \
                          (`jsonencode` output never shows as drift); AWS's full-access policy applies when unset. \
                          `prefix_list_id` (gateway endpoints) can feed an `aws.security_group_rule`'s \
                          `prefix_list_ids`.",
            example: "resource aws.vpc_endpoint s3 {\n  vpc_id          = aws.vpc.main.id\n  \
                      service_name    = \"com.amazonaws.us-east-1.s3\"\n  \
                      route_table_ids = [aws.route_table.private.id]\n}",
            id: "VPC endpoint id",
            attrs: vec![
                required("vpc_id", AttrType::String, "The VPC.").force_new(),
                required(
                    "service_name",
                    AttrType::String,
                    "The service, `com.amazonaws.<region>.<service>`.",
                )
                .force_new(),
                optional(
                    "vpc_endpoint_type",
                    AttrType::String,
                    "`Gateway`, `Interface` or `GatewayLoadBalancer`.",
                )
                .default("Gateway")
                .force_new(),
                optional(
                    "route_table_ids",
                    t_str_set(),
                    "Route tables that get a route to the service (gateway endpoints); changed in place.",
                )
                .also_computed(),
                optional(
                    "subnet_ids",
                    t_str_set(),
                    "Subnets that get an endpoint interface (interface endpoints); changed in place.",
                )
                .also_computed(),
                optional(
                    "security_group_ids",
                    t_str_set(),
                    "Security groups of the endpoint's interfaces (interface endpoints); changed in place.",
                )
                .also_computed(),
                optional(
                    "private_dns_enabled",
                    AttrType::Bool,
                    "Whether the service's public DNS name resolves to the endpoint inside the VPC (interface endpoints).",
                )
                .also_computed(),
                optional(
                    "policy",
                    AttrType::String,
                    "The endpoint policy (JSON); AWS's full-access policy when unset.",
                )
                .json()
                .also_computed(),
                computed("state", AttrType::String, "The endpoint state (`available`)."),
                computed(
                    "prefix_list_id",
                    AttrType::String,
                    "The service's prefix list (gateway endpoints).",
                ),
                computed(
                    "dns_entry",
                    dns_entry_type(),
                    "The endpoint's DNS names (interface endpoints).",
                ),
                computed(
                    "network_interface_ids",
                    t_str_set(),
                    "The endpoint's network interfaces (interface endpoints).",
                ),
                computed("owner_id", AttrType::String, "The owning AWS account id."),
                computed("arn", AttrType::String, "The endpoint's ARN."),
            ],
            tags: Some(Tagging::Ec2),
            waits: Some(Waits {
                create: TEN_MINUTES,
                update: TEN_MINUTES,
                delete: TEN_MINUTES,
            }),
            ec2_tagged: Some("vpc-endpoint"),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let found = match describe(clients, ids.clone()).await {
            Err(e) if is_not_found(&e) && ids.len() > 1 => {
                let mut one_by_one = Vec::new();
                for id in ids {
                    match describe(clients, vec![id]).await {
                        Ok(mut v) => one_by_one.append(&mut v),
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
                one_by_one
            }
            Err(e) if is_not_found(&e) => Vec::new(),
            other => other?,
        };
        let found: Vec<VpcEndpoint> = found
            .into_iter()
            .filter(|e| {
                e.state()
                    .is_none_or(|s| !s.as_str().eq_ignore_ascii_case("deleted"))
            })
            .collect();
        let lists = prefix_lists(clients, &found).await?;
        Ok(found
            .iter()
            .filter_map(|e| Some((e.vpc_endpoint_id()?.to_string(), value(clients, e, &lists))))
            .collect())
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let p = new.planned;
        let kind = opt_str(p, "vpc_endpoint_type")?.unwrap_or("Gateway");
        let out = clients
            .ec2
            .create_vpc_endpoint()
            .vpc_id(req_str(p, "vpc_id")?)
            .service_name(req_str(p, "service_name")?)
            .vpc_endpoint_type(VpcEndpointType::from(kind))
            .set_route_table_ids(non_empty(str_list(p, "route_table_ids")?))
            .set_subnet_ids(non_empty(str_list(p, "subnet_ids")?))
            .set_security_group_ids(non_empty(str_list(p, "security_group_ids")?))
            .set_private_dns_enabled(opt_bool(p, "private_dns_enabled")?)
            .set_policy_document(opt_str(p, "policy")?.map(str::to_string))
            .client_token(client_token(new.ctx, p, "vpc-endpoint"))
            .tag_specifications(tag_spec(Ec2ResourceType::VpcEndpoint, &new.tags))
            .send()
            .await
            .map_err(|e| attributed(sdk_error("CreateVpcEndpoint", e)))?;
        let id = out
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .unwrap_or_default()
            .to_string();
        if id.is_empty() {
            return Err(ProviderError::permanent("CreateVpcEndpoint returned no id"));
        }
        new.ctx.created(&id);
        Ok(id)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let diff = |attr| set_diff(&req, attr);
        let (add_tables, remove_tables) = diff("route_table_ids")?;
        let (add_subnets, remove_subnets) = diff("subnet_ids")?;
        let (add_groups, remove_groups) = diff("security_group_ids")?;
        let mut call = clients
            .ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(req.id)
            .set_add_route_table_ids(add_tables)
            .set_remove_route_table_ids(remove_tables)
            .set_add_subnet_ids(add_subnets)
            .set_remove_subnet_ids(remove_subnets)
            .set_add_security_group_ids(add_groups)
            .set_remove_security_group_ids(remove_groups);
        if changed(req.changed, "policy") {
            call = match opt_str(req.planned, "policy")? {
                Some(doc) => call.policy_document(doc),
                None => call.reset_policy(true),
            };
        }
        if changed(req.changed, "private_dns_enabled") {
            call = call.set_private_dns_enabled(opt_bool(req.planned, "private_dns_enabled")?);
        }
        call.send()
            .await
            .map(|_| ())
            .map_err(|e| attributed(sdk_error("ModifyVpcEndpoint", e)))
    }

    async fn delete(
        &self,
        clients: &Clients,
        decl: &Decl,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        let out = clients
            .ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
            .map_err(|e| {
                // Only the endpoint's own absence means "already deleted"; another
                // object's (a route of one of its tables) is a failure to report.
                let mut e = sdk_error("DeleteVpcEndpoints", e);
                if is_not_found(&e) && !has_code(&e, "InvalidVpcEndpointId.NotFound") {
                    e.class = ErrorClass::Permanent;
                }
                e
            })?;
        // AWS answers per endpoint in `Unsuccessful` instead of failing the call.
        if let Some(failed) = out.unsuccessful().first().and_then(|u| u.error()) {
            let code = failed.code().unwrap_or_default();
            if !code.ends_with(".NotFound") {
                return Err(ProviderError::permanent(format!(
                    "DeleteVpcEndpoints: {code}: {}",
                    failed.message().unwrap_or_default()
                )));
            }
        }
        wait_until(
            &format!("aws.vpc_endpoint {id} deletion"),
            decl.timeout(prior, "delete"),
            Duration::from_secs(15),
            || async {
                let now = self.fetch(clients, vec![id.to_string()]).await?;
                Ok(match now.get(id) {
                    None => Poll::Done(()),
                    Some(v) => Poll::Pending(
                        v.get("state")
                            .and_then(Value::as_str)
                            .unwrap_or("deleting")
                            .to_string(),
                    ),
                })
            },
        )
        .await
    }

    fn pending(&self, value: &Value) -> Option<String> {
        match value.get("state").and_then(Value::as_str) {
            Some(s @ ("pending" | "pendingAcceptance" | "Pending" | "PendingAcceptance")) => {
                Some(s.to_string())
            }
            _ => None,
        }
    }
}

/// The ids an update adds and the ids it removes (`None` for none).
type IdChanges = (Option<Vec<String>>, Option<Vec<String>>);

/// What a changed id set `attr` adds and removes, from the Prior to the Planned value
/// (`None` for nothing, and for an attribute that did not change).
fn set_diff(req: &UpdateRequest<'_>, attr: &str) -> Result<IdChanges, ProviderError> {
    if !changed(req.changed, attr) {
        return Ok((None, None));
    }
    let before: BTreeSet<String> = str_list(req.prior, attr)?.into_iter().collect();
    let after: BTreeSet<String> = str_list(req.planned, attr)?.into_iter().collect();
    Ok((
        non_empty(after.difference(&before).cloned().collect()),
        non_empty(before.difference(&after).cloned().collect()),
    ))
}

/// `None` for an empty list, so the call leaves the field out.
fn non_empty(items: Vec<String>) -> Option<Vec<String>> {
    (!items.is_empty()).then_some(items)
}

/// Errors about a referenced object, attributed to the attribute that names it.
fn attributed(e: ProviderError) -> ProviderError {
    let attr = match e.code.as_deref() {
        Some("InvalidVpcId.NotFound" | "InvalidVpcID.NotFound") => "vpc_id",
        Some("InvalidServiceName") => "service_name",
        Some("InvalidRouteTableId.NotFound" | "InvalidRouteTableId.Malformed") => "route_table_ids",
        Some("InvalidSubnetId.NotFound" | "InvalidSubnetID.NotFound") => "subnet_ids",
        Some("InvalidGroupId.NotFound" | "InvalidGroup.NotFound") => "security_group_ids",
        Some(c) if c.contains("Policy") => "policy",
        _ => return e,
    };
    if has_code(&e, "InvalidVpcEndpointId.NotFound") {
        return e;
    }
    on_attribute(e, attr)
}

async fn describe(clients: &Clients, ids: Vec<String>) -> Result<Vec<VpcEndpoint>, ProviderError> {
    let out = clients
        .ec2
        .describe_vpc_endpoints()
        .set_vpc_endpoint_ids(Some(ids))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeVpcEndpoints", e))?;
    Ok(out.vpc_endpoints().to_vec())
}

fn value(clients: &Clients, e: &VpcEndpoint, lists: &BTreeMap<String, String>) -> Value {
    let id = e.vpc_endpoint_id().unwrap_or_default();
    let dns = e
        .dns_entries()
        .iter()
        .map(|d| {
            object([
                ("dns_name", d.dns_name().map_or(Value::Null, Value::str)),
                (
                    "hosted_zone_id",
                    d.hosted_zone_id().map_or(Value::Null, Value::str),
                ),
            ])
        })
        .collect();
    let m = BTreeMap::from([
        ("id".to_string(), Value::str(id)),
        (
            "vpc_id".to_string(),
            e.vpc_id().map_or(Value::Null, Value::str),
        ),
        (
            "service_name".to_string(),
            e.service_name().map_or(Value::Null, Value::str),
        ),
        (
            "vpc_endpoint_type".to_string(),
            e.vpc_endpoint_type()
                .map_or(Value::Null, |t| Value::str(t.as_str())),
        ),
        (
            "route_table_ids".to_string(),
            sorted_string_list(e.route_table_ids()),
        ),
        ("subnet_ids".to_string(), sorted_string_list(e.subnet_ids())),
        (
            "security_group_ids".to_string(),
            sorted_string_list(e.groups().iter().filter_map(|g| g.group_id())),
        ),
        (
            "private_dns_enabled".to_string(),
            e.private_dns_enabled().map_or(Value::Null, Value::Bool),
        ),
        (
            "policy".to_string(),
            e.policy_document().map_or(Value::Null, Value::str),
        ),
        (
            "state".to_string(),
            e.state().map_or(Value::Null, |s| Value::str(s.as_str())),
        ),
        (
            "prefix_list_id".to_string(),
            e.service_name()
                .filter(|_| gateway(e))
                .and_then(|n| lists.get(n))
                .map_or(Value::Null, Value::str),
        ),
        ("dns_entry".to_string(), Value::List(dns)),
        (
            "network_interface_ids".to_string(),
            sorted_string_list(e.network_interface_ids()),
        ),
        (
            "owner_id".to_string(),
            e.owner_id().map_or(Value::Null, Value::str),
        ),
        (
            "arn".to_string(),
            arn(clients, e.owner_id(), "vpc-endpoint", id),
        ),
        ("tags".to_string(), tags_value(tag_map(e.tags()))),
    ]);
    Value::Map(m)
}

fn gateway(e: &VpcEndpoint) -> bool {
    e.vpc_endpoint_type()
        .is_some_and(|t| t.as_str().eq_ignore_ascii_case("gateway"))
}

/// The prefix list id of each gateway endpoint's service, by service name: AWS does not
/// list it on the endpoint, so one DescribePrefixLists answers for the whole batch.
async fn prefix_lists(
    clients: &Clients,
    endpoints: &[VpcEndpoint],
) -> Result<BTreeMap<String, String>, ProviderError> {
    let names: BTreeSet<&str> = endpoints
        .iter()
        .filter(|e| gateway(e))
        .filter_map(VpcEndpoint::service_name)
        .collect();
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = clients
        .ec2
        .describe_prefix_lists()
        .filters(filter("prefix-list-name", names))
        .send()
        .await
        .map_err(|e| sdk_error("DescribePrefixLists", e))?;
    Ok(out
        .prefix_lists()
        .iter()
        .filter_map(|p| {
            Some((
                p.prefix_list_name()?.to_string(),
                p.prefix_list_id()?.to_string(),
            ))
        })
        .collect())
}
