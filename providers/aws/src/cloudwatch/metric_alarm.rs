//! `aws.cloudwatch_metric_alarm`: an alarm on one CloudWatch metric, notifying actions
//! (SNS topics, scaling policies) when it changes state.
//!
//! The id is the alarm name. PutMetricAlarm both creates and replaces an alarm, so every
//! attribute but the name changes in place; because it would silently take over another
//! alarm of the same name, a create first checks that the name is free. Refresh: one
//! DescribeAlarms per 50 names and one ListTagsForResource per alarm.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricAlarm, StandardUnit, Statistic, Tag,
};
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{
    object, on_attribute, opt_bool, opt_i32, opt_num, opt_str, opt_string, req_str, sdk_error,
    sorted_string_list, str_list, str_map, t_str_set,
};
use crate::model::{computed, optional, required, Decl, Model, Naming, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.cloudwatch_metric_alarm` resource type.
pub(crate) struct MetricAlarmType;

#[async_trait]
impl Model for MetricAlarmType {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.cloudwatch_metric_alarm",
            description: "A CloudWatch alarm on one metric: it goes to `ALARM` when the metric, \
                          aggregated by `statistic` over `period` seconds, compares to `threshold` by \
                          `comparison_operator` for `evaluation_periods` periods, and then runs \
                          `alarm_actions` (SNS topic or scaling policy ARNs). Every attribute but the \
                          name changes in place. A create refuses a name another alarm already has \
                          (PutMetricAlarm would silently replace it); import that alarm instead.",
            example: "resource aws.cloudwatch_metric_alarm db_cpu {\n  namespace           = \"AWS/RDS\"\n  metric_name         = \"CPUUtilization\"\n  dimensions          = { DBInstanceIdentifier = aws.db_instance.main.id }\n  statistic           = \"Average\"\n  period              = 300\n  evaluation_periods  = 2\n  comparison_operator = \"GreaterThanThreshold\"\n  threshold           = 80\n  alarm_actions       = [aws.sns_topic.alerts.arn]\n}",
            id: "alarm name",
            attrs: vec![
                required("comparison_operator", AttrType::String, "`GreaterThanThreshold`, `GreaterThanOrEqualToThreshold`, `LessThanThreshold` or `LessThanOrEqualToThreshold`."),
                required("evaluation_periods", AttrType::Number, "How many periods are compared to the threshold."),
                required("metric_name", AttrType::String, "The metric, e.g. `CPUUtilization`."),
                required("namespace", AttrType::String, "The metric's namespace, e.g. `AWS/RDS`."),
                required("period", AttrType::Number, "Seconds over which the statistic is taken (10, 30 or a multiple of 60)."),
                required("threshold", AttrType::Number, "The value the statistic is compared to."),
                optional("statistic", AttrType::String, "`SampleCount`, `Average`, `Sum`, `Minimum` or `Maximum`; or set `extended_statistic`."),
                optional("extended_statistic", AttrType::String, "A percentile such as `p99`, instead of `statistic`."),
                optional("dimensions", AttrType::Map(Box::new(AttrType::String)), "The metric's dimensions, e.g. `{ LoadBalancer = \"app/web/…\" }`."),
                optional("datapoints_to_alarm", AttrType::Number, "Of `evaluation_periods`, how many must breach (M of N); all of them when unset."),
                optional("unit", AttrType::String, "The metric's unit, when it is published in several."),
                optional("treat_missing_data", AttrType::String, "`missing`, `ignore`, `breaching` or `notBreaching`.").default("missing"),
                optional("alarm_description", AttrType::String, "Free text shown with the alarm."),
                optional("actions_enabled", AttrType::Bool, "Whether state changes run the actions.").default(true),
                optional("alarm_actions", t_str_set(), "ARNs to notify when the alarm goes to `ALARM`.").default(Value::List(Vec::new())),
                optional("ok_actions", t_str_set(), "ARNs to notify when it goes back to `OK`.").default(Value::List(Vec::new())),
                optional("insufficient_data_actions", t_str_set(), "ARNs to notify when it goes to `INSUFFICIENT_DATA`.").default(Value::List(Vec::new())),
                computed("arn", AttrType::String, "The alarm's ARN."),
            ],
            tags: Some(Tagging::CloudWatch),
            naming: Some(Naming { max_len: 255, derived: true, id_is_name: true }),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let out = clients
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(ids))
            .max_records(100)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeAlarms", e))?;
        let mut found = BTreeMap::new();
        for alarm in out.metric_alarms() {
            let (Some(name), Some(arn)) = (alarm.alarm_name(), alarm.alarm_arn()) else {
                continue;
            };
            let tags = clients
                .cloudwatch
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| sdk_error("ListTagsForResource", e))?;
            let tags = tags
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), Value::str(t.value()?))))
                .collect();
            found.insert(name.to_string(), alarm_value(alarm, Value::Map(tags)));
        }
        Ok(found)
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let name = new.name.unwrap_or_default();
        if !self.fetch(clients, vec![name.clone()]).await?.is_empty() {
            return Err(on_attribute(
                ProviderError::permanent(format!(
                    "an alarm named {name:?} already exists; choose another name or `gig import` it"
                )),
                "name",
            ));
        }
        let tags = new
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        put(clients, &name, new.planned, Some(tags)).await?;
        new.ctx.created(&name);
        Ok(name)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        put(clients, req.id, req.planned, None).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        // DeleteAlarms answers success for a name that does not exist.
        clients
            .cloudwatch
            .delete_alarms()
            .alarm_names(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteAlarms", e))
    }
}

/// Creates or replaces the alarm `name` from `v` (tags only on create: PutMetricAlarm
/// ignores them for an existing alarm).
async fn put(
    clients: &Clients,
    name: &str,
    v: &Value,
    tags: Option<Vec<Tag>>,
) -> Result<(), ProviderError> {
    let operator = req_str(v, "comparison_operator")?;
    let dimensions = str_map(v, "dimensions")?
        .into_iter()
        .map(|(k, val)| Dimension::builder().name(k).value(val).build())
        .collect::<Vec<_>>();
    clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .comparison_operator(ComparisonOperator::from(operator))
        .set_evaluation_periods(opt_i32(v, "evaluation_periods")?)
        .metric_name(req_str(v, "metric_name")?)
        .namespace(req_str(v, "namespace")?)
        .set_period(opt_i32(v, "period")?)
        .set_threshold(v.get("threshold").and_then(Value::as_f64))
        .set_statistic(opt_str(v, "statistic")?.map(Statistic::from))
        .set_extended_statistic(opt_str(v, "extended_statistic")?.map(str::to_string))
        .set_dimensions((!dimensions.is_empty()).then_some(dimensions))
        .set_datapoints_to_alarm(opt_i32(v, "datapoints_to_alarm")?)
        .set_unit(opt_str(v, "unit")?.map(StandardUnit::from))
        .set_treat_missing_data(opt_str(v, "treat_missing_data")?.map(str::to_string))
        .set_alarm_description(opt_str(v, "alarm_description")?.map(str::to_string))
        .set_actions_enabled(opt_bool(v, "actions_enabled")?)
        .set_alarm_actions(Some(str_list(v, "alarm_actions")?))
        .set_ok_actions(Some(str_list(v, "ok_actions")?))
        .set_insufficient_data_actions(Some(str_list(v, "insufficient_data_actions")?))
        .set_tags(tags)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk_error("PutMetricAlarm", e))
}

/// The gig value of a described alarm.
fn alarm_value(a: &MetricAlarm, tags: Value) -> Value {
    let dimensions = a
        .dimensions()
        .iter()
        .filter_map(|d| Some((d.name()?.to_string(), Value::str(d.value()?))))
        .collect::<BTreeMap<_, _>>();
    object([
        ("id", opt_string(a.alarm_name())),
        ("name", opt_string(a.alarm_name())),
        ("arn", opt_string(a.alarm_arn())),
        (
            "comparison_operator",
            opt_string(a.comparison_operator().map(|o| o.as_str())),
        ),
        ("evaluation_periods", opt_num(a.evaluation_periods())),
        ("metric_name", opt_string(a.metric_name())),
        ("namespace", opt_string(a.namespace())),
        ("period", opt_num(a.period())),
        (
            "threshold",
            a.threshold().map_or(Value::Null, Value::Number),
        ),
        ("statistic", opt_string(a.statistic().map(|s| s.as_str()))),
        ("extended_statistic", opt_string(a.extended_statistic())),
        (
            "dimensions",
            if dimensions.is_empty() {
                Value::Null
            } else {
                Value::Map(dimensions)
            },
        ),
        ("datapoints_to_alarm", opt_num(a.datapoints_to_alarm())),
        ("unit", opt_string(a.unit().map(|u| u.as_str()))),
        (
            "treat_missing_data",
            Value::str(a.treat_missing_data().unwrap_or("missing")),
        ),
        ("alarm_description", opt_string(a.alarm_description())),
        (
            "actions_enabled",
            Value::Bool(a.actions_enabled().unwrap_or(true)),
        ),
        ("alarm_actions", sorted_string_list(a.alarm_actions())),
        ("ok_actions", sorted_string_list(a.ok_actions())),
        (
            "insufficient_data_actions",
            sorted_string_list(a.insufficient_data_actions()),
        ),
        ("tags", tags),
    ])
}
