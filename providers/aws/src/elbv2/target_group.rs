//! `aws.lb_target_group`: a target group that load balancer listeners and rules forward to.
//!
//! The id is the target group ARN. The name is `name`, else `name_prefix` (at most 6
//! characters, as Terraform allows) plus a 26-character suffix fixed per create, else
//! derived from stack, env and address. Name, port, protocol, VPC and target type
//! replace it; the `health_check` block changes in place (ModifyTargetGroup), and so do
//! `deregistration_delay` and the `stickiness` block (ModifyTargetGroupAttributes:
//! `stickiness.enabled`, `stickiness.type`, and the cookie duration and name of the
//! chosen type). `stickiness` is optional and computed: without a block AWS's setting
//! is kept and read back. A target group still used by a
//! listener or rule cannot be deleted: right after that listener is deleted AWS may
//! still say `ResourceInUse` for a moment, so the delete is retried for about 30 s
//! before AWS's error is reported.
//!
//! Read cost: DescribeTargetGroups and DescribeTags take 20 ARNs per call; attributes
//! need one DescribeTargetGroupAttributes per target group.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{self, sdk_error};
use crate::elbv2::{arn_suffix, describe_by_arns, describe_tags, tags_of, to_sdk_tags};
use crate::model::{computed, optional, Decl, Model, Naming, New};
use crate::tagging::Tagging;
use crate::Clients;

const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
const STICKY_ENABLED: &str = "stickiness.enabled";
const STICKY_TYPE: &str = "stickiness.type";
const LB_COOKIE_DURATION: &str = "stickiness.lb_cookie.duration_seconds";
const APP_COOKIE_DURATION: &str = "stickiness.app_cookie.duration_seconds";
const APP_COOKIE_NAME: &str = "stickiness.app_cookie.cookie_name";

/// The `aws.lb_target_group` resource type.
pub(crate) struct TargetGroupType;

fn stickiness_schema() -> BTreeMap<String, AttributeSchema> {
    use AttrType::{Bool, Number, String as Str};
    let opt = AttributeSchema::optional;
    BTreeMap::from([
        (
            "type".to_string(),
            AttributeSchema::required(
                Str,
                "`lb_cookie` or `app_cookie` (application load balancers), `source_ip`, `source_ip_dest_ip` or `source_ip_dest_ip_proto` (network and gateway load balancers).",
            ),
        ),
        (
            "enabled".to_string(),
            opt(Bool, "Whether sticky sessions are on.").default(true),
        ),
        (
            "cookie_duration".to_string(),
            opt(
                Number,
                "Seconds a cookie keeps a client on one target (`lb_cookie`, `app_cookie`), 1 to 604800.",
            )
            .default(86400i64),
        ),
        (
            "cookie_name".to_string(),
            opt(Str, "The application's cookie (`app_cookie` only)."),
        ),
    ])
}

fn health_schema() -> BTreeMap<String, AttributeSchema> {
    use AttrType::{Bool, Number, String as Str};
    let opt = AttributeSchema::optional;
    [
        (
            "enabled",
            opt(Bool, "Whether health checks run.").default(true),
        ),
        (
            "path",
            opt(Str, "Path requested (HTTP/HTTPS checks).").also_computed(),
        ),
        (
            "port",
            opt(Str, "Port checked, or `traffic-port`.").default("traffic-port"),
        ),
        (
            "protocol",
            opt(Str, "Protocol of the check (`HTTP`, `HTTPS`, `TCP`).").also_computed(),
        ),
        (
            "interval",
            opt(Number, "Seconds between checks.").default(30i64),
        ),
        (
            "timeout",
            opt(Number, "Seconds without an answer that fail a check.").also_computed(),
        ),
        (
            "healthy_threshold",
            opt(Number, "Successes before a target is healthy.").also_computed(),
        ),
        (
            "unhealthy_threshold",
            opt(Number, "Failures before a target is unhealthy.").also_computed(),
        ),
        (
            "matcher",
            opt(Str, "HTTP codes that count as success, e.g. `200-299`.").also_computed(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[async_trait]
impl Model for TargetGroupType {
    fn decl(&self) -> Decl {
        use AttrType::{List, Number, Object, String as Str};
        Decl {
            type_name: "aws.lb_target_group",
            description: "A load balancer target group. Health checks, deregistration delay and tags change in place; \
                          name, port, protocol, VPC and target type replace it.",
            example: r#"resource aws.lb_target_group app {
  name     = "giggatek-app"
  port     = 8080
  protocol = "HTTP"
  vpc_id   = aws.vpc.main.id
  health_check {
    path    = "/healthz"
    matcher = "200"
  }
  deregistration_delay = 30
}"#,
            id: "target group ARN",
            attrs: vec![
                optional("port", Number, "Port targets receive traffic on (not for `lambda` targets).").force_new(),
                optional("protocol", Str, "`HTTP`, `HTTPS`, `TCP`, `TLS`, `UDP`, `TCP_UDP` or `GENEVE`.").force_new(),
                optional("vpc_id", Str, "VPC of the targets (not for `lambda` targets).").force_new(),
                optional("target_type", Str, "`instance`, `ip`, `lambda` or `alb`.").default("instance").force_new(),
                optional("health_check", List(Box::new(Object(health_schema()))), "Health check settings. Change in place.")
                    .also_computed(),
                optional("deregistration_delay", Number, "Seconds to let in-flight requests finish when a target leaves.")
                    .default(300i64),
                optional(
                    "stickiness",
                    List(Box::new(Object(stickiness_schema()))),
                    "Sticky sessions (target group attributes). Change in place; without a block AWS's setting is kept.",
                )
                .also_computed(),
                computed("arn", Str, "ARN of the target group (same as `id`)."),
                computed("arn_suffix", Str, "The ARN's suffix used in CloudWatch metrics."),
                computed("load_balancer_arns", List(Box::new(Str)), "Load balancers that route to this group."),
            ],
            tags: Some(Tagging::Elbv2),
            naming: Some(Naming { max_len: 32, derived: true, id_is_name: false }),
            name_prefix_max: 6,
            // Right after the listener that used it is deleted, AWS may still say
            // `ResourceInUse` for a moment.
            busy: &["ResourceInUse"],
            delete_attempts: 7,
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
        for (arn, tg) in &found {
            out.insert(arn.clone(), to_value(clients, tg, &tags).await?);
        }
        Ok(out)
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let planned = new.planned;
        let h = HealthCheck::from(common::block(planned, "health_check")?)?;
        let out = clients
            .elbv2
            .create_target_group()
            .set_name(new.name)
            .set_port(common::opt_i32(planned, "port")?)
            .set_protocol(common::opt_str(planned, "protocol")?.map(ProtocolEnum::from))
            .set_vpc_id(common::opt_str(planned, "vpc_id")?.map(str::to_string))
            .target_type(TargetTypeEnum::from(
                common::opt_str(planned, "target_type")?.unwrap_or("instance"),
            ))
            .set_health_check_enabled(h.enabled)
            .set_health_check_path(h.path)
            .set_health_check_port(h.port)
            .set_health_check_protocol(h.protocol)
            .set_health_check_interval_seconds(h.interval)
            .set_health_check_timeout_seconds(h.timeout)
            .set_healthy_threshold_count(h.healthy)
            .set_unhealthy_threshold_count(h.unhealthy)
            .set_matcher(h.matcher)
            .set_tags(Some(to_sdk_tags(new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateTargetGroup", e))?;
        let arn = out
            .target_groups()
            .first()
            .and_then(|tg| tg.target_group_arn.clone())
            .ok_or_else(|| {
                ProviderError::permanent("CreateTargetGroup returned no target group")
            })?;
        new.ctx.created(&arn);
        let mut attrs = stickiness_attributes(planned)?;
        if let Some(delay) = common::opt_i64(planned, "deregistration_delay")?.filter(|d| *d != 300)
        {
            attrs.push(attribute(DEREGISTRATION_DELAY, delay.to_string()));
        }
        if !attrs.is_empty() {
            modify_attributes(clients, &arn, attrs).await?;
        }
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
                .describe_target_groups()
                .set_names(decl.resolve_name(ctx, planned)?.map(|n| vec![n]))
                .send()
                .await
                .map_err(|e| sdk_error("DescribeTargetGroups", e)),
        )?;
        let found = out.and_then(|o| o.target_groups);
        crate::elbv2::find_owned_in(clients, ctx, found, |x| x.target_group_arn).await
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let (arn, planned) = (req.id, req.planned);
        let has = |k: &str| common::changed(req.changed, k);
        if has("health_check") {
            let h = HealthCheck::from(common::block(planned, "health_check")?)?;
            clients
                .elbv2
                .modify_target_group()
                .target_group_arn(arn)
                .set_health_check_enabled(h.enabled)
                .set_health_check_path(h.path)
                .set_health_check_port(h.port)
                .set_health_check_protocol(h.protocol)
                .set_health_check_interval_seconds(h.interval)
                .set_health_check_timeout_seconds(h.timeout)
                .set_healthy_threshold_count(h.healthy)
                .set_unhealthy_threshold_count(h.unhealthy)
                .set_matcher(h.matcher)
                .send()
                .await
                .map_err(|e| sdk_error("ModifyTargetGroup", e))?;
        }
        let mut attrs = Vec::new();
        if has("deregistration_delay") {
            let delay = common::opt_i64(planned, "deregistration_delay")?.unwrap_or(300);
            attrs.push(attribute(DEREGISTRATION_DELAY, delay.to_string()));
        }
        if has("stickiness") {
            attrs.extend(stickiness_attributes(planned)?);
        }
        if !attrs.is_empty() {
            modify_attributes(clients, arn, attrs).await?;
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
            .elbv2
            .delete_target_group()
            .target_group_arn(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteTargetGroup", e))
    }
}

/// The `health_check` block in the SDK's terms (unset fields are left to AWS).
struct HealthCheck {
    enabled: Option<bool>,
    path: Option<String>,
    port: Option<String>,
    protocol: Option<ProtocolEnum>,
    interval: Option<i32>,
    timeout: Option<i32>,
    healthy: Option<i32>,
    unhealthy: Option<i32>,
    matcher: Option<Matcher>,
}

impl HealthCheck {
    fn from(block: Option<&Value>) -> Result<HealthCheck, ProviderError> {
        let Some(b) = block else {
            return Ok(HealthCheck {
                enabled: None,
                path: None,
                port: None,
                protocol: None,
                interval: None,
                timeout: None,
                healthy: None,
                unhealthy: None,
                matcher: None,
            });
        };
        let s = |k: &str| -> Result<Option<String>, ProviderError> {
            common::opt_str(b, k)
                .map(|v| v.map(str::to_string))
                .map_err(|e| common::on_attribute(e, "health_check"))
        };
        let n =
            |k: &str| common::opt_i32(b, k).map_err(|e| common::on_attribute(e, "health_check"));
        Ok(HealthCheck {
            enabled: common::opt_bool(b, "enabled")?,
            path: s("path")?,
            port: s("port")?,
            protocol: s("protocol")?.map(|p| ProtocolEnum::from(p.as_str())),
            interval: n("interval")?,
            timeout: n("timeout")?,
            healthy: n("healthy_threshold")?,
            unhealthy: n("unhealthy_threshold")?,
            matcher: s("matcher")?.map(|m| Matcher::builder().http_code(m).build()),
        })
    }
}

fn attribute(key: &str, value: String) -> TargetGroupAttribute {
    TargetGroupAttribute::builder()
        .key(key)
        .value(value)
        .build()
}

/// The attributes that write `planned`'s `stickiness` block (none without a block).
fn stickiness_attributes(planned: &Value) -> Result<Vec<TargetGroupAttribute>, ProviderError> {
    let Some(b) = common::block(planned, "stickiness")? else {
        return Ok(Vec::new());
    };
    let at = |e| common::on_attribute(e, "stickiness");
    let kind = common::req_str(b, "type").map_err(at)?;
    let enabled = common::opt_bool(b, "enabled").map_err(at)?.unwrap_or(true);
    let duration = common::opt_i64(b, "cookie_duration")
        .map_err(at)?
        .unwrap_or(86400);
    let mut attrs = vec![
        attribute(STICKY_ENABLED, enabled.to_string()),
        attribute(STICKY_TYPE, kind.to_string()),
    ];
    match kind {
        "lb_cookie" => attrs.push(attribute(LB_COOKIE_DURATION, duration.to_string())),
        "app_cookie" => {
            attrs.push(attribute(APP_COOKIE_DURATION, duration.to_string()));
            if let Some(name) = common::opt_str(b, "cookie_name").map_err(at)? {
                attrs.push(attribute(APP_COOKIE_NAME, name.to_string()));
            }
        }
        _ => {}
    }
    Ok(attrs)
}

/// The `stickiness` attribute from the target group's attributes (none when AWS reports
/// no stickiness type).
fn stickiness_value(attrs: &BTreeMap<&str, &str>) -> Value {
    let Some(kind) = attrs.get(STICKY_TYPE).filter(|k| !k.is_empty()) else {
        return Value::List(Vec::new());
    };
    let number = |k| {
        attrs
            .get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .map_or(Value::Null, Value::from)
    };
    let (duration, name) = if *kind == "app_cookie" {
        let name = attrs.get(APP_COOKIE_NAME).filter(|n| !n.is_empty());
        (
            number(APP_COOKIE_DURATION),
            name.map_or(Value::Null, |n| Value::from(n.to_string())),
        )
    } else {
        (number(LB_COOKIE_DURATION), Value::Null)
    };
    Value::List(vec![common::object([
        ("type", Value::from(kind.to_string())),
        (
            "enabled",
            Value::Bool(attrs.get(STICKY_ENABLED).is_some_and(|v| *v == "true")),
        ),
        ("cookie_duration", duration),
        ("cookie_name", name),
    ])])
}

async fn modify_attributes(
    clients: &Clients,
    arn: &str,
    attrs: Vec<TargetGroupAttribute>,
) -> Result<(), ProviderError> {
    clients
        .elbv2
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .set_attributes(Some(attrs))
        .send()
        .await
        .map_err(|e| sdk_error("ModifyTargetGroupAttributes", e))?;
    Ok(())
}

async fn describe(
    clients: &Clients,
    arns: &[String],
) -> Result<BTreeMap<String, TargetGroup>, ProviderError> {
    let found = describe_by_arns(arns, |chunk| async move {
        let out = clients
            .elbv2
            .describe_target_groups()
            .set_target_group_arns(Some(chunk))
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTargetGroups", e))?;
        Ok(out.target_groups.unwrap_or_default())
    })
    .await?;
    Ok(found
        .into_iter()
        .filter_map(|tg| Some((tg.target_group_arn.clone()?, tg)))
        .collect())
}

async fn to_value(
    clients: &Clients,
    tg: &TargetGroup,
    tags: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Value, ProviderError> {
    let arn = tg.target_group_arn.clone().unwrap_or_default();
    let out = clients
        .elbv2
        .describe_target_group_attributes()
        .target_group_arn(&arn)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeTargetGroupAttributes", e))?;
    let attrs: BTreeMap<&str, &str> = out
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key.as_deref()?, a.value.as_deref()?)))
        .collect();
    let delay = attrs
        .get(DEREGISTRATION_DELAY)
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(Value::Null, Value::from);
    let health = common::object([
        (
            "enabled",
            Value::Bool(tg.health_check_enabled.unwrap_or(true)),
        ),
        ("path", common::opt_string(tg.health_check_path.as_deref())),
        ("port", common::opt_string(tg.health_check_port.as_deref())),
        (
            "protocol",
            common::opt_string(tg.health_check_protocol.as_ref().map(|p| p.as_str())),
        ),
        (
            "interval",
            common::opt_num(tg.health_check_interval_seconds),
        ),
        ("timeout", common::opt_num(tg.health_check_timeout_seconds)),
        (
            "healthy_threshold",
            common::opt_num(tg.healthy_threshold_count),
        ),
        (
            "unhealthy_threshold",
            common::opt_num(tg.unhealthy_threshold_count),
        ),
        (
            "matcher",
            common::opt_string(tg.matcher.as_ref().and_then(|m| m.http_code.as_deref())),
        ),
    ]);
    Ok(common::object([
        ("id", Value::from(arn.clone())),
        ("name", common::opt_string(tg.target_group_name.as_deref())),
        ("stickiness", stickiness_value(&attrs)),
        ("port", common::opt_num(tg.port)),
        (
            "protocol",
            common::opt_string(tg.protocol.as_ref().map(|p| p.as_str())),
        ),
        ("vpc_id", common::opt_string(tg.vpc_id.as_deref())),
        (
            "target_type",
            common::opt_string(tg.target_type.as_ref().map(|t| t.as_str())),
        ),
        ("health_check", Value::List(vec![health])),
        ("deregistration_delay", delay),
        ("tags", tags_of(tags, &arn)),
        ("arn_suffix", arn_suffix(&arn, "targetgroup")),
        ("arn", Value::from(arn)),
        (
            "load_balancer_arns",
            common::string_list(tg.load_balancer_arns()),
        ),
    ]))
}
