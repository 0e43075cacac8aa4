//! `aws.db_parameter_group`: engine settings for RDS instances (`parameter_group_name`).
//!
//! Refresh: DescribeDBParameterGroups, DescribeDBParameters (source `user`: only what
//! was changed from the family's defaults) and ListTagsForResource per group. Changed
//! parameters are written with ModifyDBParameterGroup (20 per call), removed ones reset
//! with ResetDBParameterGroup.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, Parameter};
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, ProviderError, UpdateRequest};

use crate::common::{not_found, object, on_attribute, opt_str, opt_string, req_str, sdk_error};
use crate::model::{
    computed, fetch_each, optional, parameter_blocks, parameter_changes, required, tags_map, Decl,
    Model, Naming, New, ParameterChange,
};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.db_parameter_group` resource type.
pub(crate) struct DbParameterGroup;

#[async_trait]
impl Model for DbParameterGroup {
    fn decl(&self) -> Decl {
        use AttrType::String as Str;
        let parameter = AttrType::Set(Box::new(AttrType::Object(BTreeMap::from([
            (
                "name".to_string(),
                AttributeSchema::required(Str, "The parameter's name, e.g. `max_connections`."),
            ),
            (
                "value".to_string(),
                AttributeSchema::required(Str, "Its value, as text."),
            ),
            (
                "apply_method".to_string(),
                AttributeSchema::optional(
                    Str,
                    "`immediate` or `pending-reboot` (static parameters need the latter).",
                )
                .default("immediate"),
            ),
        ]))));
        Decl {
            type_name: "aws.db_parameter_group",
            description: "A DB parameter group: engine settings that `aws.db_instance` picks with \
                          `parameter_group_name`. Parameters change in place; one removed from the set goes \
                          back to the family's default.",
            example: "resource aws.db_parameter_group mysql {\n  name_prefix = \"giggatek-mysql-\"\n  family      = \"mysql8.0\"\n  parameter {\n    name  = \"max_connections\"\n    value = \"200\"\n  }\n}",
            id: "parameter group name",
            attrs: vec![
                required("family", Str, "The engine family, e.g. `mysql8.0` or `postgres16`.").force_new(),
                optional("description", Str, "What the group is for.").default("Managed by gig").force_new(),
                optional("parameter", parameter, "Parameters that differ from the family's defaults.").default(Value::List(Vec::new())),
                computed("arn", Str, "The group's ARN."),
            ],
            tags: Some(Tagging::Rds),
            naming: Some(Naming { max_len: 255, derived: true, id_is_name: true }),
            busy: &["InvalidDBParameterGroupState"],
            delete_attempts: 6,
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
                .rds
                .describe_db_parameter_groups()
                .db_parameter_group_name(&name)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeDBParameterGroups", e))?;
            let g = out
                .db_parameter_groups()
                .first()
                .ok_or_else(|| not_found(format!("parameter group {name}")))?;
            let arn = g.db_parameter_group_arn().unwrap_or_default().to_string();
            let mut parameters = BTreeMap::new();
            let mut marker = None;
            loop {
                let page = clients
                    .rds
                    .describe_db_parameters()
                    .db_parameter_group_name(&name)
                    .source("user")
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(|e| sdk_error("DescribeDBParameters", e))?;
                for p in page.parameters() {
                    if let (Some(n), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                        let method = p.apply_method().map_or("immediate", ApplyMethod::as_str);
                        parameters.insert(
                            n.to_string(),
                            object([
                                ("name", Value::str(n)),
                                ("value", Value::str(v)),
                                ("apply_method", Value::str(method)),
                            ]),
                        );
                    }
                }
                match page.marker() {
                    Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                    _ => break,
                }
            }
            let tags = crate::rds::list_tags(clients, &arn).await?;
            Ok(object([
                ("id", Value::str(&name)),
                ("name", Value::str(&name)),
                ("family", opt_string(g.db_parameter_group_family())),
                ("description", opt_string(g.description())),
                ("parameter", Value::List(parameters.into_values().collect())),
                ("arn", Value::str(arn)),
                ("tags", tags_map(tags)),
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
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(&name)
            .db_parameter_group_family(req_str(new.planned, "family")?)
            .description(opt_str(new.planned, "description")?.unwrap_or("Managed by gig"))
            .set_tags(Some(crate::rds::to_sdk_tags(new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateDBParameterGroup", e))?;
        new.ctx.created(&name);
        let all = parameter_blocks(new.planned)?
            .into_iter()
            .map(|(n, (v, b))| (n, v, b))
            .collect();
        modify(clients, &name, &to_sdk(all)?).await?;
        Ok(name)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let (dropped, changed) = parameter_changes(req.prior, req.planned)?;
        let reset: Vec<Parameter> = dropped
            .iter()
            .map(|n| {
                Parameter::builder()
                    .parameter_name(n)
                    .apply_method(ApplyMethod::PendingReboot)
                    .build()
            })
            .collect();
        for chunk in reset.chunks(20) {
            clients
                .rds
                .reset_db_parameter_group()
                .db_parameter_group_name(req.id)
                .set_parameters(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| on_attribute(sdk_error("ResetDBParameterGroup", e), "parameter"))?;
        }
        modify(clients, req.id, &to_sdk(changed)?).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .rds
            .delete_db_parameter_group()
            .db_parameter_group_name(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteDBParameterGroup", e))
    }
}

/// Parameters in the SDK's shape.
fn to_sdk(blocks: Vec<ParameterChange<'_>>) -> Result<Vec<Parameter>, ProviderError> {
    blocks
        .into_iter()
        .map(|(name, value, block)| {
            let method = ApplyMethod::from(opt_str(block, "apply_method")?.unwrap_or("immediate"));
            Ok(Parameter::builder()
                .parameter_name(name)
                .parameter_value(value)
                .apply_method(method)
                .build())
        })
        .collect()
}

/// Writes `parameters`, 20 per call (RDS's limit).
async fn modify(
    clients: &Clients,
    name: &str,
    parameters: &[Parameter],
) -> Result<(), ProviderError> {
    for chunk in parameters.chunks(20) {
        clients
            .rds
            .modify_db_parameter_group()
            .db_parameter_group_name(name)
            .set_parameters(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                crate::common::on_attribute(sdk_error("ModifyDBParameterGroup", e), "parameter")
            })?;
    }
    Ok(())
}
