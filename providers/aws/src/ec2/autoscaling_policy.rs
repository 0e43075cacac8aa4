//! `aws.autoscaling_policy`: a scaling policy of an auto-scaling group, simple or target
//! tracking.
//!
//! The id is `<group name>/<policy name>`, as `gig import` takes it. PutScalingPolicy
//! both creates and updates (it replaces the policy of that name), so every attribute but
//! the group and the name changes in place, and a repeated create makes nothing new.
//! Refresh: one DescribePolicies per policy.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    MetricType, PredefinedMetricSpecification, TargetTrackingConfiguration,
};
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, ProviderError, UpdateRequest};

use crate::common::{not_found, object, opt_i32, opt_num, opt_str, opt_string, req_str, sdk_error};
use crate::model::{computed, fetch_each, optional, required, Decl, Model, Naming, New};
use crate::Clients;

/// The `aws.autoscaling_policy` resource type.
pub(crate) struct AutoscalingPolicy;

fn target_tracking_schema() -> AttrType {
    let mut metric = BTreeMap::new();
    metric.insert(
        "predefined_metric_type".to_string(),
        AttributeSchema::required(
            AttrType::String,
            "ASGAverageCPUUtilization, ASGAverageNetworkIn, ASGAverageNetworkOut or ALBRequestCountPerTarget.",
        ),
    );
    metric.insert(
        "resource_label".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            "For ALBRequestCountPerTarget: `<load balancer ARN suffix>/<target group ARN suffix>`.",
        ),
    );
    let mut t = BTreeMap::new();
    t.insert(
        "predefined_metric_specification".to_string(),
        AttributeSchema::required(
            AttrType::List(Box::new(AttrType::Object(metric))),
            "The metric to track (one block).",
        ),
    );
    t.insert(
        "target_value".to_string(),
        AttributeSchema::required(AttrType::Number, "The value the group keeps the metric at."),
    );
    t.insert(
        "disable_scale_in".to_string(),
        AttributeSchema::optional(AttrType::Bool, "Only scale out; never remove instances.")
            .default(false),
    );
    AttrType::List(Box::new(AttrType::Object(t)))
}

#[async_trait]
impl Model for AutoscalingPolicy {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.autoscaling_policy",
            description: "A scaling policy of an auto-scaling group: `SimpleScaling` (add or remove \
                          `scaling_adjustment` instances when an alarm fires) or `TargetTrackingScaling` \
                          (keep a metric at `target_value`). Every attribute but the group and the name \
                          changes in place. The id is `<group name>/<policy name>`.",
            example: "resource aws.autoscaling_policy cpu {\n  autoscaling_group_name = aws.autoscaling_group.app.name\n  policy_type            = \"TargetTrackingScaling\"\n  target_tracking_configuration {\n    predefined_metric_specification {\n      predefined_metric_type = \"ASGAverageCPUUtilization\"\n    }\n    target_value = 50\n  }\n}",
            id: "group name and policy name joined by `/`",
            attrs: vec![
                required("autoscaling_group_name", AttrType::String, "The group the policy scales.")
                    .force_new(),
                optional("policy_type", AttrType::String, "`SimpleScaling` or `TargetTrackingScaling`.")
                    .default("SimpleScaling"),
                optional(
                    "adjustment_type",
                    AttrType::String,
                    "SimpleScaling: `ChangeInCapacity`, `ExactCapacity` or `PercentChangeInCapacity`.",
                ),
                optional("scaling_adjustment", AttrType::Number, "SimpleScaling: how many instances (or percent) to add; negative removes."),
                optional("cooldown", AttrType::Number, "SimpleScaling: seconds before another scaling activity."),
                optional(
                    "estimated_instance_warmup",
                    AttrType::Number,
                    "TargetTrackingScaling: seconds a new instance needs before its metrics count.",
                ),
                optional(
                    "target_tracking_configuration",
                    target_tracking_schema(),
                    "TargetTrackingScaling: the metric and its target (one block).",
                ),
                computed("arn", AttrType::String, "The policy's ARN (what a CloudWatch alarm's action names)."),
            ],
            naming: Some(Naming { max_len: 255, derived: true, id_is_name: false }),
            // PutScalingPolicy replaces the policy of that name.
            repeatable_create: true,
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        fetch_each(ids, |id| async move {
            let (group, name) = split_id(&id)?;
            let out = clients
                .autoscaling
                .describe_policies()
                .auto_scaling_group_name(group)
                .policy_names(name)
                .send()
                .await
                .map_err(|e| sdk_error("DescribePolicies", e))?;
            let p = out
                .scaling_policies()
                .iter()
                .find(|p| p.policy_name() == Some(name))
                .ok_or_else(|| not_found(format!("scaling policy {id}")))?;
            let tracking = match p.target_tracking_configuration() {
                Some(t) => Value::List(vec![tracking_value(t)]),
                None => Value::List(Vec::new()),
            };
            Ok(object([
                ("id", Value::str(&id)),
                ("name", Value::str(name)),
                ("autoscaling_group_name", Value::str(group)),
                ("policy_type", opt_string(p.policy_type())),
                ("adjustment_type", opt_string(p.adjustment_type())),
                ("scaling_adjustment", opt_num(p.scaling_adjustment())),
                ("cooldown", opt_num(p.cooldown())),
                (
                    "estimated_instance_warmup",
                    opt_num(p.estimated_instance_warmup()),
                ),
                ("target_tracking_configuration", tracking),
                ("arn", opt_string(p.policy_arn())),
            ]))
        })
        .await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let name = new.name.unwrap_or_default();
        let group = req_str(new.planned, "autoscaling_group_name")?;
        put(clients, group, &name, new.planned).await?;
        let id = format!("{group}/{name}");
        new.ctx.created(&id);
        Ok(id)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let (group, name) = split_id(req.id)?;
        put(clients, group, name, req.planned).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let (group, name) = split_id(id)?;
        clients
            .autoscaling
            .delete_policy()
            .auto_scaling_group_name(group)
            .policy_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeletePolicy", e))
    }
}

/// Creates or replaces the policy `name` of `group` from the planned value.
async fn put(clients: &Clients, group: &str, name: &str, v: &Value) -> Result<(), ProviderError> {
    clients
        .autoscaling
        .put_scaling_policy()
        .auto_scaling_group_name(group)
        .policy_name(name)
        .set_policy_type(opt_str(v, "policy_type")?.map(str::to_string))
        .set_adjustment_type(opt_str(v, "adjustment_type")?.map(str::to_string))
        .set_scaling_adjustment(opt_i32(v, "scaling_adjustment")?)
        .set_cooldown(opt_i32(v, "cooldown")?)
        .set_estimated_instance_warmup(opt_i32(v, "estimated_instance_warmup")?)
        .set_target_tracking_configuration(tracking_config(v)?)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk_error("PutScalingPolicy", e))
}

/// The first object of the list attribute (nested block) `name`.
fn first_block<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v.get(name) {
        Some(Value::List(xs)) => xs.first(),
        _ => None,
    }
}

fn tracking_config(v: &Value) -> Result<Option<TargetTrackingConfiguration>, ProviderError> {
    let Some(t) = first_block(v, "target_tracking_configuration") else {
        return Ok(None);
    };
    let metric = first_block(t, "predefined_metric_specification").ok_or_else(|| {
        ProviderError::invalid_attribute(
            "target_tracking_configuration",
            "a predefined_metric_specification block is required",
        )
    })?;
    let spec = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::from(req_str(metric, "predefined_metric_type")?))
        .set_resource_label(opt_str(metric, "resource_label")?.map(str::to_string))
        .build();
    let target = t
        .get("target_value")
        .and_then(Value::as_f64)
        .ok_or_else(|| {
            ProviderError::invalid_attribute(
                "target_tracking_configuration",
                "target_value is required",
            )
        })?;
    Ok(Some(
        TargetTrackingConfiguration::builder()
            .predefined_metric_specification(spec)
            .target_value(target)
            .set_disable_scale_in(t.get("disable_scale_in").and_then(Value::as_bool))
            .build(),
    ))
}

fn tracking_value(t: &TargetTrackingConfiguration) -> Value {
    let metric = t
        .predefined_metric_specification()
        .map_or(Value::List(Vec::new()), |m| {
            Value::List(vec![object([
                (
                    "predefined_metric_type",
                    opt_string(m.predefined_metric_type().map(MetricType::as_str)),
                ),
                ("resource_label", opt_string(m.resource_label())),
            ])])
        });
    object([
        ("predefined_metric_specification", metric),
        (
            "target_value",
            t.target_value().map_or(Value::Null, Value::Number),
        ),
        (
            "disable_scale_in",
            Value::Bool(t.disable_scale_in().unwrap_or(false)),
        ),
    ])
}

/// `(group, policy)` of an id: the group name ends at the first `/`.
fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once('/')
        .filter(|(group, name)| !group.is_empty() && !name.is_empty())
        .ok_or_else(|| {
            ProviderError::invalid_attribute(
                "id",
                format!("a scaling policy id is `<group name>/<policy name>`, got {id:?}"),
            )
        })
}
