//! `aws.autoscaling_group`: an EC2 Auto Scaling group launching from a launch template,
//! declared on the resource model.
//!
//! The id is the group name. Sizes, subnets, launch template, health checks and target
//! groups change in place (UpdateAutoScalingGroup, Attach/DetachLoadBalancerTargetGroups).
//! gig does not wait for instances to launch (capacity is the group's business); delete
//! uses ForceDelete (terminating its instances) and waits until the group is gone.
//! Refresh: one DescribeAutoScalingGroups per chunk of 50 names.
//!
//! **Instance refresh.** With an `instance_refresh` block, an update that changes the
//! launch template (its id or version) or one of the block's `triggers` starts an
//! instance refresh (StartInstanceRefresh) once the group itself is updated, so running
//! instances are replaced by ones from the new settings. A refresh already in progress
//! is cancelled first, as Terraform does. gig does not wait for the refresh to finish;
//! a refresh that cannot start fails the update with an error naming the group, and the
//! next apply tries again. The block is a gig setting: AWS keeps no such field on the
//! group, and changing only the block starts nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    LaunchTemplateSpecification, RefreshPreferences, RefreshStrategy,
};
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, ProviderError, UpdateRequest};

use crate::common::{
    block, has_code, list, not_found, object, on_attribute, opt_i32, opt_str, req_i64, req_str,
    retry_on, sdk_error, sorted_string_list, str_list, t_str_set, tags_value, wait_until, Poll,
};
use crate::model::{computed, optional, required, Decl, Model, Naming, New};
use crate::tagging::{asg_tag, Tagging};
use crate::Clients;

/// The `aws.autoscaling_group` resource type.
pub(crate) struct AutoscalingGroup;

/// The attributes UpdateAutoScalingGroup sets (all of them are sent together).
const GROUP_SETTINGS: &[&str] = &[
    "min_size",
    "max_size",
    "desired_capacity",
    "vpc_zone_identifier",
    "launch_template",
    "health_check_type",
    "health_check_grace_period",
];

/// What `instance_refresh.triggers` may name: the group's settings besides the launch
/// template, which always triggers a refresh.
const TRIGGERS: &[&str] = &[
    "min_size",
    "max_size",
    "desired_capacity",
    "vpc_zone_identifier",
    "health_check_type",
    "health_check_grace_period",
    "target_group_arns",
];

fn launch_template_schema() -> AttrType {
    let mut r = BTreeMap::new();
    r.insert(
        "id".into(),
        AttributeSchema::required(AttrType::String, "The launch template id."),
    );
    r.insert(
        "version".into(),
        AttributeSchema::optional(
            AttrType::String,
            "A version number, \"$Latest\" or \"$Default\".",
        )
        .default("$Default"),
    );
    AttrType::List(Box::new(AttrType::Object(r)))
}

fn instance_refresh_schema() -> AttrType {
    let preferences = BTreeMap::from([
        (
            "min_healthy_percentage".to_string(),
            AttributeSchema::optional(
                AttrType::Number,
                "The share of the desired capacity (percent) kept in service during the refresh.",
            )
            .default(90i64),
        ),
        (
            "instance_warmup".to_string(),
            AttributeSchema::optional(
                AttrType::Number,
                "Seconds a new instance warms up before the next one is replaced; the group's health check grace period when unset.",
            ),
        ),
    ]);
    AttrType::List(Box::new(AttrType::Object(BTreeMap::from([
        (
            "strategy".to_string(),
            AttributeSchema::required(AttrType::String, "Only \"Rolling\" is supported."),
        ),
        (
            "preferences".to_string(),
            AttributeSchema::optional(
                AttrType::List(Box::new(AttrType::Object(preferences))),
                "How the refresh replaces instances (one block).",
            ),
        ),
        (
            "triggers".to_string(),
            AttributeSchema::optional(
                t_str_set(),
                "Attributes of the group whose change also starts a refresh (a change of the launch template always does), e.g. [\"vpc_zone_identifier\"].",
            ),
        ),
    ]))))
}

#[async_trait]
impl Model for AutoscalingGroup {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.autoscaling_group",
            description: "An Auto Scaling group. Everything but the name changes in place; tags propagate to the \
                          instances it launches. Deleting it terminates its instances (ForceDelete). With \
                          `instance_refresh`, a change of the launch template (or of a listed trigger) starts an \
                          instance refresh that replaces the running instances.",
            example: "resource aws.autoscaling_group app {\n  name_prefix         = \"app-\"\n  min_size            = 2\n  \
                      max_size            = 6\n  vpc_zone_identifier = [for s in aws.subnet.private : s.id]\n  \
                      target_group_arns   = [aws.lb_target_group.app.arn]\n  health_check_type   = \"ELB\"\n  \
                      launch_template {\n    id      = aws.launch_template.app.id\n    version = tostring(aws.launch_template.app.latest_version)\n  }\n  \
                      instance_refresh {\n    strategy = \"Rolling\"\n    preferences {\n      min_healthy_percentage = 50\n    }\n  }\n}",
            id: "group (its name) id",
            attrs: vec![
                required("min_size", AttrType::Number, "Minimum number of instances."),
                required("max_size", AttrType::Number, "Maximum number of instances."),
                optional(
                    "desired_capacity",
                    AttrType::Number,
                    "Instances to run; AWS uses min_size when unset.",
                )
                .also_computed(),
                optional("vpc_zone_identifier", t_str_set(), "Subnet ids to launch into.")
                    .also_computed(),
                required(
                    "launch_template",
                    launch_template_schema(),
                    "The launch template (one block).",
                ),
                optional(
                    "target_group_arns",
                    t_str_set(),
                    "ALB target groups to register instances with.",
                ),
                optional("health_check_type", AttrType::String, "\"EC2\" or \"ELB\".")
                    .default("EC2"),
                optional(
                    "health_check_grace_period",
                    AttrType::Number,
                    "Seconds before health checks start.",
                )
                .default(300i64),
                optional(
                    "instance_refresh",
                    instance_refresh_schema(),
                    "Replace running instances when the launch template changes (one block); see the description.",
                )
                .setting(),
                computed("arn", AttrType::String, "The group's ARN."),
            ],
            tags: Some(Tagging::Autoscaling),
            naming: Some(Naming {
                max_len: 255,
                derived: true,
                id_is_name: true,
            }),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        read_groups(clients, ids).await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let planned = new.planned;
        let name = new
            .name
            .ok_or_else(|| ProviderError::invalid_attribute("name", "`name` is required"))?;
        refresh_triggers(planned)?;
        let subnets = str_list(planned, "vpc_zone_identifier")?;
        let targets = str_list(planned, "target_group_arns")?;
        clients
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .min_size(size(planned, "min_size")?)
            .max_size(size(planned, "max_size")?)
            .set_desired_capacity(opt_i32(planned, "desired_capacity")?)
            .launch_template(template_spec(planned)?)
            .set_vpc_zone_identifier((!subnets.is_empty()).then(|| subnets.join(",")))
            .set_target_group_arns((!targets.is_empty()).then_some(targets))
            .set_health_check_type(opt_str(planned, "health_check_type")?.map(str::to_string))
            .set_health_check_grace_period(opt_i32(planned, "health_check_grace_period")?)
            .set_tags(Some(
                new.tags.iter().map(|(k, v)| asg_tag(&name, k, v)).collect(),
            ))
            .send()
            .await
            .map_err(|e| {
                let e = sdk_error("CreateAutoScalingGroup", e);
                if e.code.as_deref() == Some("AlreadyExists") {
                    on_attribute(e, "name")
                } else {
                    e
                }
            })?;
        new.ctx.created(&name);
        Ok(name)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let name = req.id;
        let planned = req.planned;
        let triggers = refresh_triggers(planned)?;
        let is_changed = |a: &str| crate::common::changed(req.changed, a);
        if GROUP_SETTINGS.iter().any(|a| is_changed(a)) {
            let subnets = str_list(planned, "vpc_zone_identifier")?;
            let desired = if is_changed("desired_capacity") {
                opt_i32(planned, "desired_capacity")?
            } else {
                None
            };
            clients
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(name)
                .min_size(size(planned, "min_size")?)
                .max_size(size(planned, "max_size")?)
                .set_desired_capacity(desired)
                .launch_template(template_spec(planned)?)
                .set_vpc_zone_identifier((!subnets.is_empty()).then(|| subnets.join(",")))
                .set_health_check_type(opt_str(planned, "health_check_type")?.map(str::to_string))
                .set_health_check_grace_period(opt_i32(planned, "health_check_grace_period")?)
                .send()
                .await
                .map_err(|e| sdk_error("UpdateAutoScalingGroup", e))?;
        }
        if is_changed("target_group_arns") {
            update_target_groups(clients, name, req.prior, planned).await?;
        }
        let refresh = block(planned, "instance_refresh")?;
        if let Some(refresh) = refresh {
            if is_changed("launch_template") || triggers.iter().any(|t| is_changed(t)) {
                start_refresh(clients, name, refresh).await?;
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
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(id)
            .force_delete(true)
            .send()
            .await
            .map_err(|e| {
                let e = sdk_error("DeleteAutoScalingGroup", e);
                // Auto Scaling reports a missing group as a ValidationError.
                if e.code.as_deref() == Some("ValidationError") && e.message.contains("not found") {
                    not_found(e.message)
                } else {
                    e
                }
            })?;
        wait_until(
            &format!("Auto Scaling group {id} to be deleted"),
            Duration::from_secs(900),
            Duration::from_secs(15),
            || async {
                let found = read_groups(clients, vec![id.to_string()]).await?;
                Ok(if found.contains_key(id) {
                    Poll::Pending("deleting".into())
                } else {
                    Poll::Done(())
                })
            },
        )
        .await
    }
}

/// The `triggers` of the `instance_refresh` block of `planned`, each checked to name an
/// attribute a refresh can follow.
fn refresh_triggers(planned: &Value) -> Result<Vec<String>, ProviderError> {
    let Some(refresh) = block(planned, "instance_refresh")? else {
        return Ok(Vec::new());
    };
    let strategy = req_str(refresh, "strategy").map_err(|e| on_attribute(e, "instance_refresh"))?;
    if strategy != "Rolling" {
        return Err(ProviderError::invalid_attribute(
            "instance_refresh",
            format!("`strategy` must be \"Rolling\", got {strategy:?}"),
        ));
    }
    let triggers = str_list(refresh, "triggers")?;
    if let Some(bad) = triggers.iter().find(|t| !TRIGGERS.contains(&t.as_str())) {
        return Err(ProviderError::invalid_attribute(
            "instance_refresh",
            format!(
                "`triggers` names {bad:?}, which is not a setting of the group a refresh can follow; use one of {} (a launch template change always starts a refresh)",
                TRIGGERS.join(", ")
            ),
        ));
    }
    Ok(triggers)
}

/// The strategy and preferences StartInstanceRefresh is sent for an `instance_refresh`
/// block.
fn refresh_request(
    refresh: &Value,
) -> Result<(RefreshStrategy, Option<RefreshPreferences>), ProviderError> {
    let strategy = RefreshStrategy::from(
        req_str(refresh, "strategy").map_err(|e| on_attribute(e, "instance_refresh"))?,
    );
    let preferences = match list(refresh, "preferences")?.first() {
        Some(p) => Some(
            RefreshPreferences::builder()
                .set_min_healthy_percentage(opt_i32(p, "min_healthy_percentage")?)
                .set_instance_warmup(opt_i32(p, "instance_warmup")?)
                .build(),
        ),
        None => None,
    };
    Ok((strategy, preferences))
}

/// Starts an instance refresh of group `name`, cancelling one already in progress.
async fn start_refresh(
    clients: &Clients,
    name: &str,
    refresh: &Value,
) -> Result<(), ProviderError> {
    let (strategy, preferences) = refresh_request(refresh)?;
    let start = || async {
        clients
            .autoscaling
            .start_instance_refresh()
            .auto_scaling_group_name(name)
            .strategy(strategy.clone())
            .set_preferences(preferences.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("StartInstanceRefresh", e))
    };
    let mut result = start().await;
    if result.as_ref().is_err_and(|e| has_code(e, IN_PROGRESS)) {
        clients
            .autoscaling
            .cancel_instance_refresh()
            .auto_scaling_group_name(name)
            .send()
            .await
            .map_err(|e| refresh_failed(name, sdk_error("CancelInstanceRefresh", e)))?;
        // The cancelled refresh takes a moment to stop.
        let mut again = start;
        result = retry_on(&mut again, |e| has_code(e, IN_PROGRESS), 8).await;
    }
    result.map_err(|e| refresh_failed(name, e))
}

/// AWS's code for "an instance refresh of this group is already running".
const IN_PROGRESS: &str = "InstanceRefreshInProgress";

/// `err` of starting a refresh of group `name`, said as such and tied to the block.
fn refresh_failed(name: &str, err: ProviderError) -> ProviderError {
    let message = format!(
        "Auto Scaling group {name} was updated, but its instance refresh did not start: {}",
        err.message
    );
    ProviderError {
        message,
        attribute: Some("instance_refresh".to_string()),
        ..err
    }
}

/// Attaches and detaches target groups from `prior`'s set to `planned`'s.
async fn update_target_groups(
    clients: &Clients,
    name: &str,
    prior: &Value,
    planned: &Value,
) -> Result<(), ProviderError> {
    let old: BTreeSet<String> = str_list(prior, "target_group_arns")?.into_iter().collect();
    let new: BTreeSet<String> = str_list(planned, "target_group_arns")?
        .into_iter()
        .collect();
    let attach: Vec<String> = new.difference(&old).cloned().collect();
    let detach: Vec<String> = old.difference(&new).cloned().collect();
    if !attach.is_empty() {
        clients
            .autoscaling
            .attach_load_balancer_target_groups()
            .auto_scaling_group_name(name)
            .set_target_group_arns(Some(attach))
            .send()
            .await
            .map_err(|e| {
                on_attribute(
                    sdk_error("AttachLoadBalancerTargetGroups", e),
                    "target_group_arns",
                )
            })?;
    }
    if !detach.is_empty() {
        clients
            .autoscaling
            .detach_load_balancer_target_groups()
            .auto_scaling_group_name(name)
            .set_target_group_arns(Some(detach))
            .send()
            .await
            .map_err(|e| {
                on_attribute(
                    sdk_error("DetachLoadBalancerTargetGroups", e),
                    "target_group_arns",
                )
            })?;
    }
    Ok(())
}

fn size(v: &Value, attr: &str) -> Result<i32, ProviderError> {
    let n = req_i64(v, attr)?;
    i32::try_from(n).map_err(|_| {
        ProviderError::invalid_attribute(attr, format!("`{attr}` is out of range: {n}"))
    })
}

fn template_spec(planned: &Value) -> Result<LaunchTemplateSpecification, ProviderError> {
    let lt = block(planned, "launch_template")?.ok_or_else(|| {
        ProviderError::invalid_attribute("launch_template", "`launch_template` is required")
    })?;
    Ok(LaunchTemplateSpecification::builder()
        .launch_template_id(req_str(lt, "id").map_err(|e| on_attribute(e, "launch_template"))?)
        .version(opt_str(lt, "version")?.unwrap_or("$Default"))
        .build())
}

/// Reads up to 50 groups by name; groups being deleted are missing from the result.
pub(crate) async fn read_groups(
    clients: &Clients,
    names: Vec<String>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let mut result = BTreeMap::new();
    let mut pages = clients
        .autoscaling
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(Some(names))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("DescribeAutoScalingGroups", e))?;
        for g in page.auto_scaling_groups() {
            let Some(name) = g.auto_scaling_group_name() else {
                continue;
            };
            if g.status().is_some_and(|s| s.contains("Delete")) {
                continue;
            }
            let subnets: Vec<&str> = g
                .vpc_zone_identifier()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let lt = g.launch_template().map(|t| {
                object([
                    ("id", t.launch_template_id().map_or(Value::Null, Value::str)),
                    ("version", Value::str(t.version().unwrap_or("$Default"))),
                ])
            });
            let tags: Vec<(String, String)> = g
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect();
            let mut m = BTreeMap::new();
            m.insert("id".to_string(), Value::str(name));
            m.insert("name".to_string(), Value::str(name));
            m.insert(
                "min_size".to_string(),
                g.min_size()
                    .map_or(Value::Null, |n| Value::from(i64::from(n))),
            );
            m.insert(
                "max_size".to_string(),
                g.max_size()
                    .map_or(Value::Null, |n| Value::from(i64::from(n))),
            );
            m.insert(
                "desired_capacity".to_string(),
                g.desired_capacity()
                    .map_or(Value::Null, |n| Value::from(i64::from(n))),
            );
            m.insert(
                "vpc_zone_identifier".to_string(),
                sorted_string_list(subnets),
            );
            m.insert(
                "launch_template".to_string(),
                lt.map_or(Value::List(vec![]), |b| Value::List(vec![b])),
            );
            m.insert(
                "target_group_arns".to_string(),
                sorted_string_list(g.target_group_arns()),
            );
            m.insert(
                "health_check_type".to_string(),
                g.health_check_type().map_or(Value::Null, Value::str),
            );
            m.insert(
                "health_check_grace_period".to_string(),
                g.health_check_grace_period()
                    .map_or(Value::Null, |n| Value::from(i64::from(n))),
            );
            m.insert("tags".to_string(), tags_value(tags));
            m.insert(
                "arn".to_string(),
                g.auto_scaling_group_arn().map_or(Value::Null, Value::str),
            );
            result.insert(name.to_string(), Value::Map(m));
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(refresh: serde_json::Value) -> Value {
        Value::from_json(&serde_json::json!({ "instance_refresh": refresh }))
    }

    #[test]
    fn refresh_sends_the_strategy_and_preferences_of_the_block() {
        let block = planned(serde_json::json!([{
            "strategy": "Rolling",
            "preferences": [{"min_healthy_percentage": 50, "instance_warmup": 120}],
            "triggers": ["vpc_zone_identifier"]
        }]));
        let refresh = crate::common::block(&block, "instance_refresh")
            .unwrap()
            .unwrap();
        let (strategy, preferences) = refresh_request(refresh).unwrap();
        assert_eq!(strategy, RefreshStrategy::Rolling);
        let preferences = preferences.unwrap();
        assert_eq!(preferences.min_healthy_percentage(), Some(50));
        assert_eq!(preferences.instance_warmup(), Some(120));
        assert_eq!(
            refresh_triggers(&block).unwrap(),
            vec!["vpc_zone_identifier".to_string()]
        );

        let bare = planned(serde_json::json!([{"strategy": "Rolling"}]));
        let refresh = crate::common::block(&bare, "instance_refresh")
            .unwrap()
            .unwrap();
        assert_eq!(refresh_request(refresh).unwrap().1, None);
    }

    #[test]
    fn refresh_block_mistakes_are_errors_on_the_block() {
        for bad in [
            serde_json::json!([{"strategy": "Rolling", "triggers": ["tags"]}]),
            serde_json::json!([{"strategy": "Rolling", "triggers": ["launch_template"]}]),
            serde_json::json!([{"strategy": "AllAtOnce"}]),
        ] {
            let err = refresh_triggers(&planned(bad.clone())).expect_err("rejected");
            assert_eq!(err.attribute.as_deref(), Some("instance_refresh"), "{bad}");
        }
        assert_eq!(
            refresh_triggers(&Value::Map(BTreeMap::new())).unwrap(),
            Vec::<String>::new()
        );
    }
}
