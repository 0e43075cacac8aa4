//! `aws.lb`: an application, network or gateway load balancer.
//!
//! The id is the load balancer ARN. The name is `name`, else `name_prefix` (at most 6
//! characters, as Terraform allows) plus a 26-character suffix fixed per create, else
//! derived from stack, env and address. Create calls CreateLoadBalancer, then
//! ModifyLoadBalancerAttributes for `idle_timeout` / `enable_deletion_protection` /
//! `access_logs` when they are not AWS's defaults, and waits until the load balancer is
//! `active`. Subnets, security groups and the IP address type change in place
//! (SetSubnets, SetSecurityGroups, SetIpAddressType), the attributes through
//! ModifyLoadBalancerAttributes. Delete waits until it is gone; with deletion
//! protection on, AWS's OperationNotPermitted is reported (turn it off and apply first).
//!
//! `access_logs` is read back as a block while logging is on, or while the Prior declares
//! one; a load balancer that logs nothing and declares no block reads back without one,
//! so AWS's empty bucket attribute never shows as drift. Removing the block turns logging
//! off (only `access_logs.s3.enabled` is written, as Terraform does).
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
    AttrType, AttributeSchema, ErrorClass, Lookup, OpContext, ProviderError, UpdateRequest,
};

use crate::common::{self, sdk_error, Poll};
use crate::elbv2::{arn_suffix, describe_by_arns, describe_tags, tags_of, to_sdk_tags};
use crate::model::{computed, optional, Decl, Model, Naming, New, Waits};
use crate::tagging::Tagging;
use crate::Clients;

const WAIT: Duration = Duration::from_secs(10 * 60);
const POLL: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
const DELETION_PROTECTION: &str = "deletion_protection.enabled";
const LOGS_ENABLED: &str = "access_logs.s3.enabled";
const LOGS_BUCKET: &str = "access_logs.s3.bucket";
const LOGS_PREFIX: &str = "access_logs.s3.prefix";

/// The `aws.lb` resource type.
pub(crate) struct Lb;

fn access_logs_schema() -> BTreeMap<String, AttributeSchema> {
    use AttrType::{Bool, String as Str};
    BTreeMap::from([
        (
            "bucket".to_string(),
            AttributeSchema::required(Str, "S3 bucket the logs go to."),
        ),
        (
            "prefix".to_string(),
            AttributeSchema::optional(Str, "Key prefix of the log objects in the bucket."),
        ),
        (
            "enabled".to_string(),
            AttributeSchema::optional(Bool, "Whether logs are written.").default(false),
        ),
    ])
}

#[async_trait]
impl Model for Lb {
    fn decl(&self) -> Decl {
        use AttrType::{Bool, List, Number, Object, Set, String as Str};
        let strings = || Set(Box::new(Str));
        Decl {
            type_name: "aws.lb",
            description: "An Elastic Load Balancing v2 load balancer (application by default). Subnets, security \
                          groups, IP address type, idle timeout and deletion protection change in place; name, type and \
                          scheme replace it.",
            example: r#"resource aws.lb web {
  name            = "giggatek-web"
  subnets         = [for s in aws.subnet.public : s.id]
  security_groups = [aws.security_group.lb.id]
  idle_timeout    = 120
  tags            = { Name = "giggatek-web" }
}"#,
            id: "load balancer ARN",
            attrs: vec![
                optional(
                    "access_logs",
                    List(Box::new(Object(access_logs_schema()))),
                    "Access logs written to S3 (load balancer attributes). Change in place; removing the block turns logging off.",
                ),
                optional("internal", Bool, "Internal (private addresses only) instead of internet-facing.")
                    .default(false)
                    .force_new(),
                optional("load_balancer_type", Str, "`application`, `network` or `gateway`.")
                    .default("application")
                    .force_new(),
                optional("subnets", strings(), "Subnets, one per availability zone. Change in place.").also_computed(),
                optional("security_groups", strings(), "Security groups (application and network load balancers). Change in place.")
                    .also_computed(),
                optional("idle_timeout", Number, "Seconds a connection may idle (application load balancers; AWS's default is 60).")
                    .also_computed(),
                optional("enable_deletion_protection", Bool, "Refuse deletes; turn it off (and apply) before destroying.")
                    .default(false),
                optional("ip_address_type", Str, "`ipv4` or `dualstack`. Changes in place.").also_computed(),
                computed("arn", Str, "ARN of the load balancer (same as `id`)."),
                computed("arn_suffix", Str, "The ARN's suffix used in CloudWatch metrics."),
                computed("dns_name", Str, "DNS name of the load balancer."),
                computed("zone_id", Str, "Route 53 hosted zone id of the DNS name (for alias records)."),
                computed("vpc_id", Str, "VPC of the load balancer."),
            ],
            tags: Some(Tagging::Elbv2),
            naming: Some(Naming { max_len: 32, derived: true, id_is_name: false }),
            name_prefix_max: 6,
            waits: Some(Waits { create: WAIT, update: WAIT, delete: WAIT }),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let found = describe(clients, &ids).await?;
        let arns: Vec<String> = found.keys().cloned().collect();
        let tags = describe_tags(clients, &arns).await?;
        let mut out = BTreeMap::new();
        for (arn, lb) in &found {
            out.insert(arn.clone(), to_value(clients, lb, &tags).await?);
        }
        Ok(out)
    }

    async fn create(
        &self,
        clients: &Clients,
        decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let planned = new.planned;
        let internal = common::opt_bool(planned, "internal")?.unwrap_or(false);
        let sgs = Some(common::str_list(planned, "security_groups")?).filter(|v| !v.is_empty());
        let out = clients
            .elbv2
            .create_load_balancer()
            .set_name(new.name)
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
            .set_tags(Some(to_sdk_tags(new.tags)))
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
        new.ctx.created(&arn);
        let mut attrs = Vec::new();
        if let Some(t) = common::opt_i64(planned, "idle_timeout")? {
            attrs.push(attribute(IDLE_TIMEOUT, t.to_string()));
        }
        if common::opt_bool(planned, "enable_deletion_protection")? == Some(true) {
            attrs.push(attribute(DELETION_PROTECTION, "true".into()));
        }
        if common::block(planned, "access_logs")?.is_some() {
            attrs.extend(access_log_attributes(planned)?);
        }
        if !attrs.is_empty() {
            modify_attributes(clients, &arn, attrs).await?;
        }
        wait_active(clients, &arn, decl.timeout(planned, "create")).await?;
        Ok(arn)
    }

    async fn find_created(
        &self,
        clients: &Clients,
        decl: &Decl,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let out = common::unless_not_found(
            clients
                .elbv2
                .describe_load_balancers()
                .set_names(decl.resolve_name(ctx, planned)?.map(|n| vec![n]))
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
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let (arn, planned) = (req.id, req.planned);
        let has = |k: &str| common::changed(req.changed, k);
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
        if has("access_logs") {
            attrs.extend(access_log_attributes(planned)?);
        }
        if !attrs.is_empty() {
            modify_attributes(clients, arn, attrs).await?;
        }
        Ok(())
    }

    async fn delete(
        &self,
        clients: &Clients,
        decl: &Decl,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .elbv2
            .delete_load_balancer()
            .load_balancer_arn(id)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteLoadBalancer", e))?;
        common::wait_until(
            &format!("load balancer {id} to be deleted"),
            decl.timeout(prior, "delete"),
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

    /// Logging that is off reads back as no block unless the reference declares one.
    fn present(&self, mut read: Value, reference: &Value) -> Value {
        let declared =
            matches!(reference.get("access_logs"), Some(Value::List(b)) if !b.is_empty());
        let off = |b: &Value| b.get("enabled") != Some(&Value::Bool(true));
        if let Value::Map(m) = &mut read {
            if !declared
                && matches!(m.get("access_logs"), Some(Value::List(b)) if b.iter().all(off))
            {
                m.insert("access_logs".into(), Value::List(Vec::new()));
            }
        }
        read
    }
}

/// The attributes that write `planned`'s `access_logs` block; without a block, logging
/// is turned off and the bucket left as it is.
fn access_log_attributes(planned: &Value) -> Result<Vec<LoadBalancerAttribute>, ProviderError> {
    let Some(b) = common::block(planned, "access_logs")? else {
        return Ok(vec![attribute(LOGS_ENABLED, "false".into())]);
    };
    let at = |e| common::on_attribute(e, "access_logs");
    let enabled = common::opt_bool(b, "enabled").map_err(at)?.unwrap_or(false);
    Ok(vec![
        attribute(LOGS_ENABLED, enabled.to_string()),
        attribute(
            LOGS_BUCKET,
            common::req_str(b, "bucket").map_err(at)?.to_string(),
        ),
        attribute(
            LOGS_PREFIX,
            common::opt_str(b, "prefix")
                .map_err(at)?
                .unwrap_or_default()
                .to_string(),
        ),
    ])
}

/// The `access_logs` attribute from the load balancer's attributes (always a block;
/// [`Model::settle`] drops one that logs nothing and was not declared).
fn access_logs_value(attrs: &BTreeMap<&str, &str>) -> Value {
    let enabled = attrs.get(LOGS_ENABLED).is_some_and(|v| *v == "true");
    let text = |k| {
        attrs
            .get(k)
            .filter(|v| !v.is_empty())
            .map_or(Value::Null, |v| Value::from(v.to_string()))
    };
    Value::List(vec![common::object([
        ("bucket", text(LOGS_BUCKET)),
        ("prefix", text(LOGS_PREFIX)),
        ("enabled", Value::Bool(enabled)),
    ])])
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

async fn to_value(
    clients: &Clients,
    lb: &LoadBalancer,
    tags: &BTreeMap<String, BTreeMap<String, String>>,
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
        ("access_logs", access_logs_value(&attrs)),
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
