//! `aws.cloudwatch_log_group`: a CloudWatch Logs log group with its retention.
//!
//! Refresh: one DescribeLogGroups (by name prefix) and one ListTagsForResource per
//! group. Retention changes in place (PutRetentionPolicy, or DeleteRetentionPolicy when
//! unset: kept forever).

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{not_found, object, opt_i32, opt_num, opt_str, opt_string, sdk_error};
use crate::model::{computed, fetch_each, optional, Decl, Model, Naming, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.cloudwatch_log_group` resource type.
pub(crate) struct LogGroup;

#[async_trait]
impl Model for LogGroup {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.cloudwatch_log_group",
            description: "A CloudWatch Logs log group. Without `retention_in_days` its events are kept \
                          forever; setting or clearing it changes the group in place.",
            example: "resource aws.cloudwatch_log_group app {\n  name              = \"/giggatek/app\"\n  retention_in_days = 30\n}",
            id: "log group name",
            attrs: vec![
                optional("retention_in_days", AttrType::Number, "Days to keep events (1, 3, 5, 7, 14, 30, 60, 90, …, 3653); unset keeps them forever."),
                optional("kms_key_id", AttrType::String, "The ARN of the KMS key that encrypts the events.").force_new(),
                computed("arn", AttrType::String, "The log group's ARN (without the `:*` suffix)."),
            ],
            tags: Some(Tagging::Logs),
            naming: Some(Naming { max_len: 512, derived: true, id_is_name: true }),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        fetch_each(ids, |name| async move {
            let out = clients
                .logs
                .describe_log_groups()
                .log_group_name_prefix(&name)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeLogGroups", e))?;
            let g = out
                .log_groups()
                .iter()
                .find(|g| g.log_group_name() == Some(name.as_str()))
                .ok_or_else(|| not_found(format!("log group {name}")))?;
            let arn = g
                .arn()
                .map(|a| a.trim_end_matches(":*").to_string())
                .unwrap_or_default();
            let tags = clients
                .logs
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| sdk_error("ListTagsForResource", e))?;
            let tags: BTreeMap<String, Value> = tags
                .tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), Value::str(v)))
                .collect();
            Ok(object([
                ("id", Value::str(&name)),
                ("name", Value::str(&name)),
                ("retention_in_days", opt_num(g.retention_in_days())),
                ("kms_key_id", opt_string(g.kms_key_id())),
                ("arn", Value::str(arn)),
                ("tags", Value::Map(tags)),
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
        clients
            .logs
            .create_log_group()
            .log_group_name(&name)
            .set_kms_key_id(opt_str(new.planned, "kms_key_id")?.map(str::to_string))
            .set_tags(Some(new.tags.into_iter().collect()))
            .send()
            .await
            .map_err(|e| sdk_error("CreateLogGroup", e))?;
        new.ctx.created(&name);
        if let Some(days) = opt_i32(new.planned, "retention_in_days")? {
            set_retention(clients, &name, Some(days)).await?;
        }
        Ok(name)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        set_retention(clients, req.id, opt_i32(req.planned, "retention_in_days")?).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .logs
            .delete_log_group()
            .log_group_name(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteLogGroup", e))
    }
}

/// Sets the retention, or removes it (keep forever) when `days` is unset.
async fn set_retention(
    clients: &Clients,
    name: &str,
    days: Option<i32>,
) -> Result<(), ProviderError> {
    match days {
        Some(days) => clients
            .logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                crate::common::on_attribute(sdk_error("PutRetentionPolicy", e), "retention_in_days")
            }),
        None => crate::common::ignore_not_found(
            clients
                .logs
                .delete_retention_policy()
                .log_group_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("DeleteRetentionPolicy", e)),
        ),
    }
}
