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
use gig_provider::{
    AttrType, AttributeSchema, ErrorClass, Lookup, OpContext, ProviderError, ReadRequest,
    ResourceSchema, UpdateRequest,
};

use crate::common::{self, sdk_error};
use crate::rds::{list_tags, to_sdk_tags, update_tags};
use crate::{Clients, ReadResults, ResourceType};

const TYPE_NAME: &str = "aws.db_subnet_group";
const NOT_FOUND: &str = "DBSubnetGroupNotFoundFault";
/// The description sent when none is set.
pub(crate) const DEFAULT_DESCRIPTION: &str = "Managed by gig";

/// The `aws.db_subnet_group` resource type.
pub(crate) struct DbSubnetGroup;

#[async_trait]
impl ResourceType for DbSubnetGroup {
    fn schema(&self) -> ResourceSchema {
        use AttrType::{Set, String as Str};
        let mut a = BTreeMap::new();
        a.insert(
            "id".into(),
            AttributeSchema::computed(Str, "The group name."),
        );
        a.insert(
            "name".into(),
            AttributeSchema::required(
                Str,
                "Name of the group: lower-case letters, digits, spaces, `.`, `_` and `-`.",
            )
            .force_new(),
        );
        a.insert(
            "description".into(),
            AttributeSchema::optional(Str, "Description of the group.")
                .default(DEFAULT_DESCRIPTION),
        );
        a.insert(
            "subnet_ids".into(),
            AttributeSchema::required(
                Set(Box::new(Str)),
                "Subnets of the group, in at least two availability zones.",
            ),
        );
        a.insert("tags".into(), common::tags_schema());
        a.insert(
            "arn".into(),
            AttributeSchema::computed(Str, "ARN of the group."),
        );
        a.insert(
            "vpc_id".into(),
            AttributeSchema::computed(Str, "VPC the subnets belong to."),
        );
        ResourceSchema {
            type_name: TYPE_NAME.into(),
            description: "An RDS DB subnet group: the subnets (in two or more availability zones) where RDS may \
                          place a DB instance. Subnets and description change in place; a new name replaces it."
                .into(),
            version: 1,
            attributes: a,
            example: r#"resource aws.db_subnet_group main {
  name        = "giggatek-db"
  description = "Private subnets for the database"
  subnet_ids  = [for s in aws.subnet.private : s.id]
  tags        = { Name = "giggatek-db" }
}"#
            .into(),
        }
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        let found = describe(clients, requests).await?;
        let mut out = Vec::with_capacity(requests.len());
        for request in requests {
            match found.get(&request.id) {
                Some(group) => out.push(to_value(clients, group).await.map(Some)),
                None => out.push(Ok(None)),
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let name = common::req_str(planned, "name")?;
        check_name(name)?;
        let description = common::opt_str(planned, "description")?.unwrap_or(DEFAULT_DESCRIPTION);
        let out = clients
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(description)
            .set_subnet_ids(Some(common::str_list(planned, "subnet_ids")?))
            .set_tags(Some(to_sdk_tags(common::all_tags(planned, ctx)?)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateDBSubnetGroup", e))?;
        ctx.created(name);
        let group = out
            .db_subnet_group
            .ok_or_else(|| ProviderError::permanent("CreateDBSubnetGroup returned no group"))?;
        to_value(clients, &group).await
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let name = common::req_str(planned, "name")?;
        let out = common::unless_not_found(
            clients
                .rds
                .describe_db_subnet_groups()
                .db_subnet_group_name(name)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeDBSubnetGroups", e)),
        )?;
        let mut candidates = Vec::new();
        for g in out.and_then(|o| o.db_subnet_groups).unwrap_or_default() {
            let arn = g.db_subnet_group_arn.clone().unwrap_or_default();
            candidates.push((name.to_string(), super::list_tags(clients, &arn).await?));
        }
        Ok(common::owned_by(candidates, ctx))
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let planned = request.planned;
        let changed = |k: &str| request.changed.iter().any(|c| c == k);
        if changed("description") || changed("subnet_ids") {
            let description =
                common::opt_str(planned, "description")?.unwrap_or(DEFAULT_DESCRIPTION);
            clients
                .rds
                .modify_db_subnet_group()
                .db_subnet_group_name(request.id)
                .db_subnet_group_description(description)
                .set_subnet_ids(Some(common::str_list(planned, "subnet_ids")?))
                .send()
                .await
                .map_err(|e| sdk_error("ModifyDBSubnetGroup", e))?;
        }
        if changed("tags") {
            let arn = common::req_str(request.prior, "arn")?;
            update_tags(clients, arn, request.prior, planned).await?;
        }
        read_one(clients, request.id).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let result = clients
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(id)
            .send()
            .await;
        common::ignore_not_found(
            result
                .map(|_| ())
                .map_err(|e| sdk_error("DeleteDBSubnetGroup", e)),
        )
    }
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

/// Describes the requested groups by name: one call for one name, a paginated listing
/// of all groups for more.
async fn describe(
    clients: &Clients,
    requests: &[ReadRequest],
) -> Result<BTreeMap<String, SdkGroup>, ProviderError> {
    let mut found = BTreeMap::new();
    if let [only] = requests {
        match clients
            .rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(&only.id)
            .send()
            .await
        {
            Ok(out) => {
                for g in out.db_subnet_groups.unwrap_or_default() {
                    if let Some(name) = g.db_subnet_group_name.clone() {
                        found.insert(name, g);
                    }
                }
            }
            Err(e) => common::ignore_not_found(Err(sdk_error("DescribeDBSubnetGroups", e)))?,
        }
        return Ok(found);
    }
    let mut pages = clients
        .rds
        .describe_db_subnet_groups()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for g in page
            .map_err(|e| sdk_error("DescribeDBSubnetGroups", e))?
            .db_subnet_groups
            .unwrap_or_default()
        {
            if let Some(name) = g.db_subnet_group_name.clone() {
                found.insert(name, g);
            }
        }
    }
    Ok(found)
}

async fn read_one(clients: &Clients, name: &str) -> Result<Value, ProviderError> {
    let request = ReadRequest {
        address: String::new(),
        id: name.to_string(),
        prior: Value::Null,
    };
    let found = describe(clients, std::slice::from_ref(&request)).await?;
    match found.get(name) {
        Some(group) => to_value(clients, group).await,
        None => Err(ProviderError::new(
            ErrorClass::NotFound,
            Some(NOT_FOUND.into()),
            format!("DB subnet group {name} disappeared"),
        )),
    }
}

async fn to_value(clients: &Clients, group: &SdkGroup) -> Result<Value, ProviderError> {
    let name = group.db_subnet_group_name.clone().unwrap_or_default();
    let arn = group.db_subnet_group_arn.clone().unwrap_or_default();
    let tags = if arn.is_empty() {
        BTreeMap::new()
    } else {
        list_tags(clients, &arn).await?
    };
    let mut subnets: Vec<String> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier.clone())
        .collect();
    subnets.sort();
    let mut m = BTreeMap::new();
    m.insert("id".to_string(), Value::from(name.clone()));
    m.insert("name".to_string(), Value::from(name));
    m.insert(
        "description".to_string(),
        Value::from(
            group
                .db_subnet_group_description
                .clone()
                .unwrap_or_default(),
        ),
    );
    m.insert(
        "subnet_ids".to_string(),
        Value::List(subnets.into_iter().map(Value::from).collect()),
    );
    m.insert("tags".to_string(), common::tags_value(&tags));
    m.insert("arn".to_string(), Value::from(arn));
    m.insert(
        "vpc_id".to_string(),
        Value::from(group.vpc_id.clone().unwrap_or_default()),
    );
    Ok(Value::Map(m))
}
