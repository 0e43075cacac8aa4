//! `aws.autoscaling_group`: an EC2 Auto Scaling group launching from a launch template.
//!
//! The id is the group name. Sizes, subnets, launch template, health checks and target
//! groups change in place (UpdateAutoScalingGroup, Attach/DetachLoadBalancerTargetGroups).
//! gig does not wait for instances to launch (capacity is the group's business); delete
//! uses ForceDelete (terminating its instances) and waits until the group is gone.
//! Refresh: one DescribeAutoScalingGroups per chunk of 50 names.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, Lookup, OpContext, ProviderError, ReadRequest, ResourceSchema,
    UpdateRequest,
};

use crate::common::{
    all_tags, batched_read, block, changed, gig_tags, id_schema, ignore_not_found, object,
    on_attribute, opt_i32, opt_str, read_back, req_i64, req_str, sdk_error, sorted_string_list,
    str_list, t_str_set, tag_diff, tags_schema, tags_value, user_tags_of, wait_until, Poll,
};
use crate::{Clients, ReadResults, ResourceType};

/// The `aws.autoscaling_group` resource type.
pub(crate) struct AutoscalingGroup;

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

#[async_trait]
impl ResourceType for AutoscalingGroup {
    fn schema(&self) -> ResourceSchema {
        let mut a = BTreeMap::new();
        a.insert("id".into(), id_schema("group (its name)"));
        a.insert(
            "name".into(),
            AttributeSchema::required(AttrType::String, "The group name.").force_new(),
        );
        a.insert(
            "min_size".into(),
            AttributeSchema::required(AttrType::Number, "Minimum number of instances."),
        );
        a.insert(
            "max_size".into(),
            AttributeSchema::required(AttrType::Number, "Maximum number of instances."),
        );
        a.insert(
            "desired_capacity".into(),
            AttributeSchema::optional(
                AttrType::Number,
                "Instances to run; AWS uses min_size when unset.",
            )
            .also_computed(),
        );
        a.insert(
            "vpc_zone_identifier".into(),
            AttributeSchema::optional(t_str_set(), "Subnet ids to launch into.").also_computed(),
        );
        a.insert(
            "launch_template".into(),
            AttributeSchema::required(launch_template_schema(), "The launch template (one block)."),
        );
        a.insert(
            "target_group_arns".into(),
            AttributeSchema::optional(t_str_set(), "ALB target groups to register instances with."),
        );
        a.insert(
            "health_check_type".into(),
            AttributeSchema::optional(AttrType::String, "\"EC2\" or \"ELB\".").default("EC2"),
        );
        a.insert(
            "health_check_grace_period".into(),
            AttributeSchema::optional(AttrType::Number, "Seconds before health checks start.")
                .default(300i64),
        );
        a.insert("tags".into(), tags_schema());
        a.insert(
            "arn".into(),
            AttributeSchema::computed(AttrType::String, "The group's ARN."),
        );
        ResourceSchema {
            type_name: "aws.autoscaling_group".into(),
            description: "An Auto Scaling group. Everything but the name changes in place; tags propagate to the \
                          instances it launches. Deleting it terminates its instances (ForceDelete)."
                .into(),
            version: 1,
            attributes: a,
            example: "resource aws.autoscaling_group app {\n  name                = \"app\"\n  min_size            = 2\n  \
                      max_size            = 6\n  vpc_zone_identifier = [for s in aws.subnet.private : s.id]\n  \
                      target_group_arns   = [aws.lb_target_group.app.arn]\n  health_check_type   = \"ELB\"\n  \
                      launch_template {\n    id      = aws.launch_template.app.id\n    version = \"$Latest\"\n  }\n}"
                .into(),
        }
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        batched_read(requests, |names| read_groups(clients, names)).await
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let name = req_str(planned, "name")?;
        let tags: Vec<Tag> = all_tags(planned, ctx)?
            .iter()
            .map(|(k, v)| asg_tag(name, k, v))
            .collect();
        let subnets = str_list(planned, "vpc_zone_identifier")?;
        let targets = str_list(planned, "target_group_arns")?;
        clients
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(size(planned, "min_size")?)
            .max_size(size(planned, "max_size")?)
            .set_desired_capacity(opt_i32(planned, "desired_capacity")?)
            .launch_template(template_spec(planned)?)
            .set_vpc_zone_identifier((!subnets.is_empty()).then(|| subnets.join(",")))
            .set_target_group_arns((!targets.is_empty()).then_some(targets))
            .set_health_check_type(opt_str(planned, "health_check_type")?.map(str::to_string))
            .set_health_check_grace_period(opt_i32(planned, "health_check_grace_period")?)
            .set_tags(Some(tags))
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
        ctx.created(name);
        read_back("Auto Scaling group", name, |names| {
            read_groups(clients, names)
        })
        .await
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let name = req_str(planned, "name")?;
        let out = clients
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeAutoScalingGroups", e))?;
        Ok(crate::common::owned_by(
            out.auto_scaling_groups().iter().map(|g| {
                let tags = g
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect();
                (
                    g.auto_scaling_group_name().unwrap_or(name).to_string(),
                    tags,
                )
            }),
            ctx,
        ))
    }

    async fn update(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        req: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let name = req.id;
        let planned = req.planned;
        let settings = [
            "min_size",
            "max_size",
            "desired_capacity",
            "vpc_zone_identifier",
            "launch_template",
            "health_check_type",
            "health_check_grace_period",
        ];
        if settings.iter().any(|a| changed(req.changed, a)) {
            let subnets = str_list(planned, "vpc_zone_identifier")?;
            let desired = if changed(req.changed, "desired_capacity") {
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
        if changed(req.changed, "target_group_arns") {
            let old: BTreeSet<String> = str_list(req.prior, "target_group_arns")?
                .into_iter()
                .collect();
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
        }
        if changed(req.changed, "tags") {
            let (set, remove) = tag_diff(&user_tags_of(req.prior)?, &user_tags_of(planned)?);
            let mut set: Vec<Tag> = set.iter().map(|(k, v)| asg_tag(name, k, v)).collect();
            // Re-assert gig's own tags too (cheap, and repairs manual removal).
            set.extend(gig_tags(ctx).iter().map(|(k, v)| asg_tag(name, k, v)));
            clients
                .autoscaling
                .create_or_update_tags()
                .set_tags(Some(set))
                .send()
                .await
                .map_err(|e| sdk_error("CreateOrUpdateTags", e))?;
            if !remove.is_empty() {
                let remove: Vec<Tag> = remove.iter().map(|k| asg_tag(name, k, "")).collect();
                clients
                    .autoscaling
                    .delete_tags()
                    .set_tags(Some(remove))
                    .send()
                    .await
                    .map_err(|e| sdk_error("DeleteTags", e))?;
            }
        }
        read_back("Auto Scaling group", name, |names| {
            read_groups(clients, names)
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
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(id)
            .force_delete(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteAutoScalingGroup", e));
        match r {
            // Auto Scaling reports a missing group as a ValidationError.
            Err(e)
                if e.code.as_deref() == Some("ValidationError")
                    && e.message.contains("not found") =>
            {
                return Ok(())
            }
            other => ignore_not_found(other)?,
        }
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

fn asg_tag(name: &str, key: &str, value: &str) -> Tag {
    Tag::builder()
        .resource_id(name)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(true)
        .build()
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
