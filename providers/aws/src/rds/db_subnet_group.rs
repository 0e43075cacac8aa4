//! `aws.db_subnet_group`: an RDS DB subnet group (the subnets a DB instance may use).
//!
//! The id is the group name. AWS stores names in lower case, so names with upper-case
//! letters are refused before any call (they would otherwise plan a replacement forever).
//!
//! Read cost: DescribeDBSubnetGroups takes one name or none (its `Filters` are not
//! supported by AWS), so one object costs one describe, and many cost one paginated
//! describe of all groups (100 per page); tags come from one ListTagsForResource per group.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::types::DbSubnetGroup as SdkGroup;
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{object, opt_str, req_str, sdk_error, sorted_string_list, str_list};
use crate::model::{computed, one_or_all, optional, required, tags_map, Decl, Model, New};
use crate::rds::{list_tags, to_sdk_tags};
use crate::tagging::Tagging;
use crate::Clients;

/// The description sent when none is set.
pub(crate) const DEFAULT_DESCRIPTION: &str = "Managed by gig";

/// The `aws.db_subnet_group` resource type.
pub(crate) struct DbSubnetGroup;

#[async_trait]
impl Model for DbSubnetGroup {
    fn decl(&self) -> Decl {
        use AttrType::{Set, String as Str};
        Decl {
            type_name: "aws.db_subnet_group",
            description: "An RDS DB subnet group: the subnets (in two or more availability zones) where RDS may \
                          place a DB instance. Subnets and description change in place; a new name replaces it.",
            example: "resource aws.db_subnet_group main {\n  name        = \"giggatek-db\"\n  description = \"Private subnets for the database\"\n  subnet_ids  = [for s in aws.subnet.private : s.id]\n  tags        = { Name = \"giggatek-db\" }\n}",
            id: "group name",
            id_attr: Some("name"),
            attrs: vec![
                required("name", Str, "Name of the group: lower-case letters, digits, spaces, `.`, `_` and `-`.").force_new(),
                optional("description", Str, "Description of the group.").default(DEFAULT_DESCRIPTION),
                required("subnet_ids", Set(Box::new(Str)), "Subnets of the group, in at least two availability zones."),
                computed("arn", Str, "ARN of the group."),
                computed("vpc_id", Str, "VPC the subnets belong to."),
            ],
            tags: Some(Tagging::Rds),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let one = |name: String| async move {
            let out = clients
                .rds
                .describe_db_subnet_groups()
                .db_subnet_group_name(name)
                .send()
                .await;
            let out = out.map_err(|e| sdk_error("DescribeDBSubnetGroups", e))?;
            Ok(out.db_subnet_groups.unwrap_or_default())
        };
        let all = || async {
            let mut groups = Vec::new();
            let mut pages = clients
                .rds
                .describe_db_subnet_groups()
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| sdk_error("DescribeDBSubnetGroups", e))?;
                groups.extend(page.db_subnet_groups.unwrap_or_default());
            }
            Ok(groups)
        };
        let groups = one_or_all(&ids, one, all).await?;
        let mut out = BTreeMap::new();
        for g in groups {
            let name = g.db_subnet_group_name().unwrap_or_default().to_string();
            if ids.contains(&name) {
                let value = to_value(clients, &g).await?;
                out.insert(name, value);
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let name = req_str(new.planned, "name")?;
        check_name(name)?;
        clients
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(description(new.planned)?)
            .set_subnet_ids(Some(str_list(new.planned, "subnet_ids")?))
            .set_tags(Some(to_sdk_tags(new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateDBSubnetGroup", e))?;
        new.ctx.created(name);
        Ok(name.to_string())
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        clients
            .rds
            .modify_db_subnet_group()
            .db_subnet_group_name(req.id)
            .db_subnet_group_description(description(req.planned)?)
            .set_subnet_ids(Some(str_list(req.planned, "subnet_ids")?))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("ModifyDBSubnetGroup", e))
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
            .delete_db_subnet_group()
            .db_subnet_group_name(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteDBSubnetGroup", e))
    }
}

/// The description to send: the planned one or the default.
fn description(planned: &Value) -> Result<&str, ProviderError> {
    Ok(opt_str(planned, "description")?.unwrap_or(DEFAULT_DESCRIPTION))
}

/// Refuses names AWS would store in another spelling.
fn check_name(name: &str) -> Result<(), ProviderError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || " ._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid_attribute(
            "name",
            "a DB subnet group name may hold only lower-case letters, digits, spaces, '.', '_' and '-' \
             (AWS stores names in lower case)",
        ))
    }
}

async fn to_value(clients: &Clients, group: &SdkGroup) -> Result<Value, ProviderError> {
    let name = group.db_subnet_group_name().unwrap_or_default();
    let arn = group.db_subnet_group_arn().unwrap_or_default();
    let tags = if arn.is_empty() {
        BTreeMap::new()
    } else {
        list_tags(clients, arn).await?
    };
    let subnets = group.subnets().iter().filter_map(|s| s.subnet_identifier());
    Ok(object([
        ("id", Value::str(name)),
        ("name", Value::str(name)),
        (
            "description",
            Value::str(group.db_subnet_group_description().unwrap_or_default()),
        ),
        ("subnet_ids", sorted_string_list(subnets)),
        ("tags", tags_map(tags)),
        ("arn", Value::str(arn)),
        ("vpc_id", Value::str(group.vpc_id().unwrap_or_default())),
    ]))
}
