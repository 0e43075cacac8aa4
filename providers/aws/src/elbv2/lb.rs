//! `aws.lb`: an application, network or gateway load balancer.
//!
//! The id is the load balancer ARN. Create calls CreateLoadBalancer, then
//! ModifyLoadBalancerAttributes for `idle_timeout` / `enable_deletion_protection` when
//! they are not AWS's defaults, and waits until the load balancer is `active`. Subnets,
//! security groups and the IP address type change in place (SetSubnets,
//! SetSecurityGroups, SetIpAddressType). Delete waits until it is gone; with deletion
//! protection on, AWS's OperationNotPermitted is reported (turn it off and apply first).
//!
//! Read cost: DescribeLoadBalancers and DescribeTags take 20 ARNs per call; attributes
//! need one DescribeLoadBalancerAttributes per load balancer.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    LoadBalancerStateEnum, LoadBalancerTypeEnum,
};
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, ErrorClass, Lookup, OpContext, ProviderError, ReadRequest,
    ResourceSchema, UpdateRequest,
};

use crate::common::{self, sdk_error, timeout_setting, timeouts_schema, Poll};
use crate::elbv2::{
    arn_suffix, describe_by_arns, describe_tags, distinct_ids, tags_of, to_sdk_tags, update_tags,
};
use crate::{Clients, ReadResults, ResourceType};

const TYPE_NAME: &str = "aws.lb";
const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const POLL: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
const DELETION_PROTECTION: &str = "deletion_protection.enabled";

/// The `aws.lb` resource type.
pub(crate) struct Lb;

fn schema() -> ResourceSchema {
    use AttrType::{Bool, Number, Set, String as Str};
    let opt = AttributeSchema::optional;
    let mut a = BTreeMap::new();
    let mut put = |k: &str, s: AttributeSchema| {
        a.insert(k.to_string(), s);
    };
    put(
        "id",
        AttributeSchema::computed(Str, "The load balancer ARN."),
    );
    put(
        "name",
        AttributeSchema::required(Str, "Name: up to 32 letters, digits and hyphens.").force_new(),
    );
    put(
        "internal",
        opt(
            Bool,
            "Internal (private addresses only) instead of internet-facing.",
        )
        .default(false)
        .force_new(),
    );
    put(
        "load_balancer_type",
        opt(Str, "`application`, `network` or `gateway`.")
            .default("application")
            .force_new(),
    );
    put(
        "subnets",
        opt(
            Set(Box::new(Str)),
            "Subnets, one per availability zone. Change in place.",
        )
        .also_computed(),
    );
    put(
        "security_groups",
        opt(
            Set(Box::new(Str)),
            "Security groups (application and network load balancers). Change in place.",
        )
        .also_computed(),
    );
    put(
        "idle_timeout",
        opt(
            Number,
            "Seconds a connection may idle (application load balancers; AWS's default is 60).",
        )
        .also_computed(),
    );
    put(
        "enable_deletion_protection",
        opt(
            Bool,
            "Refuse deletes; turn it off (and apply) before destroying.",
        )
        .default(false),
    );
    put(
        "ip_address_type",
        opt(Str, "`ipv4` or `dualstack`. Changes in place.").also_computed(),
    );
    put("tags", common::tags_schema());
    put("timeouts", timeouts_schema());
    put(
        "arn",
        AttributeSchema::computed(Str, "ARN of the load balancer (same as `id`)."),
    );
    put(
        "arn_suffix",
        AttributeSchema::computed(Str, "The ARN's suffix used in CloudWatch metrics."),
    );
    put(
        "dns_name",
        AttributeSchema::computed(Str, "DNS name of the load balancer."),
    );
    put(
        "zone_id",
        AttributeSchema::computed(
            Str,
            "Route 53 hosted zone id of the DNS name (for alias records).",
        ),
    );
    put(
        "vpc_id",
        AttributeSchema::computed(Str, "VPC of the load balancer."),
    );
    ResourceSchema {
        type_name: TYPE_NAME.into(),
        description: "An Elastic Load Balancing v2 load balancer (application by default). Subnets, security \
                      groups, IP address type, idle timeout and deletion protection change in place; name, type and \
                      scheme replace it."
            .into(),
        version: 1,
        attributes: a,
        example: r#"resource aws.lb web {
  name            = "giggatek-web"
  subnets         = [for s in aws.subnet.public : s.id]
  security_groups = [aws.security_group.lb.id]
  idle_timeout    = 120
  tags            = { Name = "giggatek-web" }
}"#
        .into(),
    }
}

#[async_trait]
impl ResourceType for Lb {
    fn schema(&self) -> ResourceSchema {
        schema()
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        let found = describe(clients, &distinct_ids(requests)).await?;
        let arns: Vec<String> = found.keys().cloned().collect();
        let tags = describe_tags(clients, &arns).await?;
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            match found.get(&r.id) {
                Some(lb) => out.push(to_value(clients, lb, &tags, &r.prior).await.map(Some)),
                None => out.push(Ok(None)),
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let internal = common::opt_bool(planned, "internal")?.unwrap_or(false);
        let sgs = Some(common::str_list(planned, "security_groups")?).filter(|v| !v.is_empty());
        let out = clients
            .elbv2
            .create_load_balancer()
            .name(common::req_str(planned, "name")?)
            .set_subnets(Some(common::str_list(planned, "subnets")?))
            .set_security_groups(sgs)
            .scheme(if internal {
                LoadBalancerSchemeEnum::Internal
            } else {
                LoadBalancerSchemeEnum::InternetFacing
            })
            .r#type(LoadBalancerTypeEnum::from(
                common::opt_str(planned, "load_balancer_type")?.unwrap_or("application"),
            ))
            .set_ip_address_type(
                common::opt_str(planned, "ip_address_type")?.map(IpAddressType::from),
            )
            .set_tags(Some(to_sdk_tags(common::all_tags(planned, ctx)?)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateLoadBalancer", e))?;
        let arn = out
            .load_balancers()
            .first()
            .and_then(|lb| lb.load_balancer_arn.clone())
            .ok_or_else(|| {
                ProviderError::permanent("CreateLoadBalancer returned no load balancer")
            })?;
        ctx.created(&arn);
        let mut attrs = Vec::new();
        if let Some(t) = common::opt_i64(planned, "idle_timeout")? {
            attrs.push(attribute(IDLE_TIMEOUT, t.to_string()));
        }
        if common::opt_bool(planned, "enable_deletion_protection")? == Some(true) {
            attrs.push(attribute(DELETION_PROTECTION, "true".into()));
        }
        if !attrs.is_empty() {
            modify_attributes(clients, &arn, attrs).await?;
        }
        let lb = wait_active(
            clients,
            &arn,
            timeout_setting(planned, "create", CREATE_TIMEOUT),
        )
        .await?;
        read_back(clients, &lb, planned).await
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let name = common::req_str(planned, "name")?;
        let out = common::unless_not_found(
            clients
                .elbv2
                .describe_load_balancers()
                .names(name)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeLoadBalancers", e)),
        )?;
        let found = out.and_then(|o| o.load_balancers);
        crate::elbv2::find_owned_in(clients, ctx, found, |x| x.load_balancer_arn).await
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let (arn, planned) = (request.id, request.planned);
        let has = |k: &str| request.changed.iter().any(|c| c == k);
        if has("subnets") {
            clients
                .elbv2
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(common::str_list(planned, "subnets")?))
                .send()
                .await
                .map_err(|e| sdk_error("SetSubnets", e))?;
        }
        if has("security_groups") {
            clients
                .elbv2
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(common::str_list(planned, "security_groups")?))
                .send()
                .await
                .map_err(|e| sdk_error("SetSecurityGroups", e))?;
        }
        if has("ip_address_type") {
            if let Some(t) = common::opt_str(planned, "ip_address_type")? {
                clients
                    .elbv2
                    .set_ip_address_type()
                    .load_balancer_arn(arn)
                    .ip_address_type(IpAddressType::from(t))
                    .send()
                    .await
                    .map_err(|e| sdk_error("SetIpAddressType", e))?;
            }
        }
        let mut attrs = Vec::new();
        if has("idle_timeout") {
            if let Some(t) = common::opt_i64(planned, "idle_timeout")? {
                attrs.push(attribute(IDLE_TIMEOUT, t.to_string()));
            }
        }
        if has("enable_deletion_protection") {
            let on = common::opt_bool(planned, "enable_deletion_protection")?.unwrap_or(false);
            attrs.push(attribute(DELETION_PROTECTION, on.to_string()));
        }
        if !attrs.is_empty() {
            modify_attributes(clients, arn, attrs).await?;
        }
        if has("tags") {
            update_tags(clients, arn, request.prior, planned).await?;
        }
        let lb = describe_one(clients, arn).await?;
        read_back(clients, &lb, planned).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        let result = clients
            .elbv2
            .delete_load_balancer()
            .load_balancer_arn(id)
            .send()
            .await;
        if let Err(e) = result {
            return common::ignore_not_found(Err(sdk_error("DeleteLoadBalancer", e)));
        }
        let timeout = timeout_setting(prior, "delete", DELETE_TIMEOUT);
        common::wait_until(
            &format!("load balancer {id} to be deleted"),
            timeout,
            POLL,
            || async {
                match describe_one(clients, id).await {
                    Ok(lb) => Ok(Poll::Pending(state_of(&lb))),
                    Err(e) if common::is_not_found(&e) => Ok(Poll::Done(())),
                    Err(e) => Err(e),
                }
            },
        )
        .await
    }
}

fn attribute(key: &str, value: String) -> LoadBalancerAttribute {
    LoadBalancerAttribute::builder()
        .key(key)
        .value(value)
        .build()
}

async fn modify_attributes(
    clients: &Clients,
    arn: &str,
    attrs: Vec<LoadBalancerAttribute>,
) -> Result<(), ProviderError> {
    clients
        .elbv2
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .set_attributes(Some(attrs))
        .send()
        .await
        .map_err(|e| sdk_error("ModifyLoadBalancerAttributes", e))?;
    Ok(())
}

async fn describe(
    clients: &Clients,
    arns: &[String],
) -> Result<BTreeMap<String, LoadBalancer>, ProviderError> {
    let found = describe_by_arns(arns, |chunk| async move {
        let out = clients
            .elbv2
            .describe_load_balancers()
            .set_load_balancer_arns(Some(chunk))
            .send()
            .await
            .map_err(|e| sdk_error("DescribeLoadBalancers", e))?;
        Ok(out.load_balancers.unwrap_or_default())
    })
    .await?;
    Ok(found
        .into_iter()
        .filter_map(|lb| Some((lb.load_balancer_arn.clone()?, lb)))
        .collect())
}

async fn describe_one(clients: &Clients, arn: &str) -> Result<LoadBalancer, ProviderError> {
    describe(clients, &[arn.to_string()])
        .await?
        .remove(arn)
        .ok_or_else(|| {
            ProviderError::new(
                ErrorClass::NotFound,
                Some("LoadBalancerNotFound".into()),
                format!("load balancer {arn} does not exist"),
            )
        })
}

fn state_of(lb: &LoadBalancer) -> String {
    lb.state
        .as_ref()
        .and_then(|s| s.code.as_ref())
        .map_or_else(|| "unknown".to_string(), |c| c.as_str().to_string())
}

async fn wait_active(
    clients: &Clients,
    arn: &str,
    timeout: Duration,
) -> Result<LoadBalancer, ProviderError> {
    common::wait_until(
        &format!("load balancer {arn} to be active"),
        timeout,
        POLL,
        || async {
            let lb = match describe_one(clients, arn).await {
                Ok(lb) => lb,
                // Just created: AWS may not list it yet.
                Err(e) if common::is_not_found(&e) => {
                    return Ok(Poll::Pending("not yet visible".into()))
                }
                Err(e) => return Err(e),
            };
            match lb.state.as_ref().and_then(|s| s.code.clone()) {
                Some(LoadBalancerStateEnum::Active | LoadBalancerStateEnum::ActiveImpaired) => {
                    Ok(Poll::Done(lb))
                }
                Some(LoadBalancerStateEnum::Failed) => {
                    let reason = lb
                        .state
                        .as_ref()
                        .and_then(|s| s.reason.clone())
                        .unwrap_or_default();
                    Err(ProviderError::permanent(format!(
                        "load balancer {arn} failed: {reason}"
                    )))
                }
                _ => Ok(Poll::Pending(state_of(&lb))),
            }
        },
    )
    .await
}

async fn read_back(
    clients: &Clients,
    lb: &LoadBalancer,
    prior: &Value,
) -> Result<Value, ProviderError> {
    let arn = lb.load_balancer_arn.clone().unwrap_or_default();
    let tags = describe_tags(clients, std::slice::from_ref(&arn)).await?;
    to_value(clients, lb, &tags, prior).await
}

async fn to_value(
    clients: &Clients,
    lb: &LoadBalancer,
    tags: &BTreeMap<String, BTreeMap<String, String>>,
    prior: &Value,
) -> Result<Value, ProviderError> {
    let arn = lb.load_balancer_arn.clone().unwrap_or_default();
    let out = clients
        .elbv2
        .describe_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeLoadBalancerAttributes", e))?;
    let attrs: BTreeMap<&str, &str> = out
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key.as_deref()?, a.value.as_deref()?)))
        .collect();
    let idle = attrs
        .get(IDLE_TIMEOUT)
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(Value::Null, Value::from);
    let protection = attrs.get(DELETION_PROTECTION).is_some_and(|v| *v == "true");
    let subnets = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id.as_deref());
    Ok(common::object([
        ("id", Value::from(arn.clone())),
        ("name", common::opt_string(lb.load_balancer_name.as_deref())),
        (
            "internal",
            Value::Bool(lb.scheme == Some(LoadBalancerSchemeEnum::Internal)),
        ),
        (
            "load_balancer_type",
            common::opt_string(lb.r#type.as_ref().map(|t| t.as_str())),
        ),
        ("subnets", common::sorted_string_list(subnets)),
        (
            "security_groups",
            common::sorted_string_list(lb.security_groups()),
        ),
        ("idle_timeout", idle),
        ("enable_deletion_protection", Value::Bool(protection)),
        (
            "ip_address_type",
            common::opt_string(lb.ip_address_type.as_ref().map(|t| t.as_str())),
        ),
        ("tags", tags_of(tags, &arn)),
        (
            "timeouts",
            prior.get("timeouts").cloned().unwrap_or(Value::Null),
        ),
        ("arn_suffix", arn_suffix(&arn, "loadbalancer")),
        ("arn", Value::from(arn)),
        ("dns_name", common::opt_string(lb.dns_name.as_deref())),
        (
            "zone_id",
            common::opt_string(lb.canonical_hosted_zone_id.as_deref()),
        ),
        ("vpc_id", common::opt_string(lb.vpc_id.as_deref())),
    ]))
}
