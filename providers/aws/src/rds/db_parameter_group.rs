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

use crate::common::{list, not_found, object, opt_str, opt_string, req_str, sdk_error};
use crate::model::{computed, fetch_each, optional, required, Decl, Model, Naming, New};
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
                (
                    "tags",
                    Value::Map(
                        tags.into_iter()
                            .map(|(k, v)| (k, Value::String(v)))
                            .collect(),
                    ),
                ),
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
        modify(clients, &name, &parameters(new.planned)?).await?;
        Ok(name)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let before = parameters(req.prior)?;
        let after = parameters(req.planned)?;
        let removed: Vec<Parameter> = before
            .keys()
            .filter(|n| !after.contains_key(*n))
            .map(|n| {
                Parameter::builder()
                    .parameter_name(n)
                    .apply_method(ApplyMethod::PendingReboot)
                    .build()
            })
            .collect();
        for chunk in removed.chunks(20) {
            clients
                .rds
                .reset_db_parameter_group()
                .db_parameter_group_name(req.id)
                .set_parameters(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| {
                    crate::common::on_attribute(sdk_error("ResetDBParameterGroup", e), "parameter")
                })?;
        }
        let changed: BTreeMap<String, Parameter> = after
            .into_iter()
            .filter(|(n, p)| before.get(n) != Some(p))
            .collect();
        modify(clients, req.id, &changed).await
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

    fn tag_target(&self, _id: &str, value: &Value) -> String {
        value
            .get("arn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
}

/// The `parameter` set of a value by name.
fn parameters(v: &Value) -> Result<BTreeMap<String, Parameter>, ProviderError> {
    let mut out = BTreeMap::new();
    for p in list(v, "parameter")? {
        let name = req_str(p, "name").map_err(|e| crate::common::on_attribute(e, "parameter"))?;
        let value = req_str(p, "value").map_err(|e| crate::common::on_attribute(e, "parameter"))?;
        let method = ApplyMethod::from(opt_str(p, "apply_method")?.unwrap_or("immediate"));
        out.insert(
            name.to_string(),
            Parameter::builder()
                .parameter_name(name)
                .parameter_value(value)
                .apply_method(method)
                .build(),
        );
    }
    Ok(out)
}

/// Writes `parameters`, 20 per call (RDS's limit).
async fn modify(
    clients: &Clients,
    name: &str,
    parameters: &BTreeMap<String, Parameter>,
) -> Result<(), ProviderError> {
    let all: Vec<Parameter> = parameters.values().cloned().collect();
    for chunk in all.chunks(20) {
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
