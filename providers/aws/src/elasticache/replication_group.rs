//! `aws.elasticache_replication_group`: a Redis (or Valkey) replication group with cluster
//! mode disabled — one primary and `num_cache_clusters - 1` replicas.
//!
//! The id is the replication group id. Create waits until the group is `available`.
//! Updates: one ModifyReplicationGroup with the changed settings (applied immediately
//! unless `apply_immediately = false`), IncreaseReplicaCount / DecreaseReplicaCount for
//! `num_cache_clusters`, tag calls for `tags`; each waits until `available`. Delete waits
//! until the group is gone, bounded by `timeouts { delete = … }` (default 40 minutes).
//!
//! Read cost: DescribeReplicationGroups takes one id or none, and the engine version,
//! subnet group and security groups live on the member clusters (DescribeCacheClusters,
//! likewise one id or none). One group costs one describe of each; many cost one
//! paginated listing of each. Tags cost one ListTagsForResource per group.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticache::types::{
    AutomaticFailoverStatus, CacheCluster, MultiAzStatus, ReplicationGroup,
};
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, ErrorClass, Lookup, OpContext, ProviderError, ReadRequest,
    ResourceSchema, UpdateRequest,
};

use crate::common::{self, sdk_error, timeout_setting, timeouts_schema, Poll};
use crate::elasticache::{check_name, describe_clusters, list_tags, to_sdk_tags, update_tags};
use crate::{Clients, ReadResults, ResourceType};

const TYPE_NAME: &str = "aws.elasticache_replication_group";
const CREATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(40 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(40 * 60);
const POLL: Duration = Duration::from_secs(15);
/// Settings that exist only in gig: kept from the Prior value on read.
const META: &[&str] = &["apply_immediately", "timeouts"];

/// The `aws.elasticache_replication_group` resource type.
pub(crate) struct ReplicationGroupType;

fn schema() -> ResourceSchema {
    use AttrType::{Bool, Number, Set, String as Str};
    let opt = AttributeSchema::optional;
    let mut a = BTreeMap::new();
    let mut put = |k: &str, s: AttributeSchema| {
        a.insert(k.to_string(), s);
    };
    put(
        "id",
        AttributeSchema::computed(Str, "The replication group id."),
    );
    put(
        "replication_group_id",
        AttributeSchema::required(
            Str,
            "Group id: up to 40 lower-case letters, digits and hyphens.",
        )
        .force_new(),
    );
    put(
        "description",
        AttributeSchema::required(Str, "Description of the group. Changes in place."),
    );
    put(
        "engine",
        opt(Str, "`redis` or `valkey`.")
            .default("redis")
            .force_new(),
    );
    put(
        "engine_version",
        opt(Str, "Engine version, e.g. `7.1`. Changes in place.").also_computed(),
    );
    put(
        "node_type",
        AttributeSchema::required(Str, "Node type, e.g. `cache.t3.micro`. Changes in place."),
    );
    put(
        "num_cache_clusters",
        opt(
            Number,
            "Number of nodes (primary plus replicas), 1 to 6. Changes in place.",
        )
        .also_computed(),
    );
    put(
        "port",
        opt(Number, "Port the nodes listen on (6379 when unset).")
            .also_computed()
            .force_new(),
    );
    put(
        "subnet_group_name",
        opt(Str, "ElastiCache subnet group to place the nodes in.")
            .also_computed()
            .force_new(),
    );
    put(
        "security_group_ids",
        opt(
            Set(Box::new(Str)),
            "VPC security groups of the nodes. Change in place.",
        )
        .also_computed(),
    );
    put(
        "at_rest_encryption_enabled",
        opt(Bool, "Encrypt data at rest.")
            .default(false)
            .force_new(),
    );
    put(
        "transit_encryption_enabled",
        opt(Bool, "Require TLS in transit. Changes in place.").default(false),
    );
    put(
        "automatic_failover_enabled",
        opt(
            Bool,
            "Promote a replica when the primary fails (needs 2 or more nodes).",
        )
        .default(false),
    );
    put(
        "multi_az_enabled",
        opt(
            Bool,
            "Spread nodes over availability zones (needs automatic failover).",
        )
        .default(false),
    );
    put(
        "snapshot_retention_limit",
        opt(
            Number,
            "Days to keep automatic snapshots (0 turns them off).",
        )
        .default(0i64),
    );
    put(
        "apply_immediately",
        opt(
            Bool,
            "Apply modifications now instead of in the next maintenance window (gig setting).",
        )
        .default(true),
    );
    put("tags", common::tags_schema());
    put("timeouts", timeouts_schema());
    put("arn", AttributeSchema::computed(Str, "ARN of the group."));
    put(
        "primary_endpoint_address",
        AttributeSchema::computed(Str, "Address of the primary (read/write) endpoint."),
    );
    put(
        "reader_endpoint_address",
        AttributeSchema::computed(Str, "Address of the reader endpoint (all replicas)."),
    );
    put(
        "member_clusters",
        AttributeSchema::computed(
            AttrType::List(Box::new(Str)),
            "Ids of the cache clusters (nodes) in the group.",
        ),
    );
    ResourceSchema {
        type_name: TYPE_NAME.into(),
        description: "An ElastiCache for Redis replication group (cluster mode disabled): a primary node and up to \
                      five replicas behind primary and reader endpoints. Node type, node count, engine version, \
                      security groups, failover and snapshot settings change in place; id, engine, port, subnet \
                      group and at-rest encryption replace it."
            .into(),
        version: 1,
        attributes: a,
        example: r#"resource aws.elasticache_replication_group sessions {
  replication_group_id       = "giggatek-sessions"
  description                = "Session store"
  node_type                  = "cache.t3.micro"
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  subnet_group_name          = aws.elasticache_subnet_group.cache.name
  security_group_ids         = [aws.security_group.cache.id]
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
}"#
        .into(),
    }
}

#[async_trait]
impl ResourceType for ReplicationGroupType {
    fn schema(&self) -> ResourceSchema {
        schema()
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        let ids: Vec<&str> = requests.iter().map(|r| r.id.as_str()).collect();
        let groups = describe_groups(clients, &ids).await?;
        let firsts: Vec<&str> = ids
            .iter()
            .filter_map(|id| groups.get(*id))
            .filter_map(|g| g.member_clusters().first().map(String::as_str))
            .collect();
        let members = describe_clusters(clients, &firsts).await?;
        let mut out = Vec::with_capacity(requests.len());
        for request in requests {
            match groups.get(&request.id) {
                Some(group) => out.push(
                    to_value(clients, group, &members, &request.prior)
                        .await
                        .map(Some),
                ),
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
        let id = common::req_str(planned, "replication_group_id")?;
        check_name("replication_group_id", id, 40)?;
        let sgs = Some(common::str_list(planned, "security_group_ids")?).filter(|v| !v.is_empty());
        clients
            .elasticache
            .create_replication_group()
            .replication_group_id(id)
            .replication_group_description(common::req_str(planned, "description")?)
            .engine(common::opt_str(planned, "engine")?.unwrap_or("redis"))
            .set_engine_version(common::opt_str(planned, "engine_version")?.map(str::to_string))
            .cache_node_type(common::req_str(planned, "node_type")?)
            .set_num_cache_clusters(common::opt_i32(planned, "num_cache_clusters")?)
            .set_port(common::opt_i32(planned, "port")?)
            .set_cache_subnet_group_name(
                common::opt_str(planned, "subnet_group_name")?.map(str::to_string),
            )
            .set_security_group_ids(sgs)
            .set_at_rest_encryption_enabled(common::opt_bool(
                planned,
                "at_rest_encryption_enabled",
            )?)
            .set_transit_encryption_enabled(common::opt_bool(
                planned,
                "transit_encryption_enabled",
            )?)
            .set_automatic_failover_enabled(common::opt_bool(
                planned,
                "automatic_failover_enabled",
            )?)
            .set_multi_az_enabled(common::opt_bool(planned, "multi_az_enabled")?)
            .set_snapshot_retention_limit(common::opt_i32(planned, "snapshot_retention_limit")?)
            .set_tags(Some(to_sdk_tags(common::all_tags(planned, ctx)?)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateReplicationGroup", e))?;
        ctx.created(id);
        wait_available(
            clients,
            id,
            timeout_setting(planned, "create", CREATE_TIMEOUT),
        )
        .await?;
        read_one(clients, id, planned).await
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let id = common::req_str(planned, "replication_group_id")?;
        let found = describe_groups(clients, &[id]).await?;
        super::find_owned(clients, ctx, id, found.into_values().map(|g| g.arn)).await
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let planned = request.planned;
        let id = request.id;
        let has = |k: &str| request.changed.iter().any(|c| c == k);
        let timeout = timeout_setting(planned, "update", UPDATE_TIMEOUT);
        let immediate = common::opt_bool(planned, "apply_immediately")?.unwrap_or(true);
        let modified = [
            "description",
            "engine_version",
            "node_type",
            "security_group_ids",
            "transit_encryption_enabled",
            "automatic_failover_enabled",
            "multi_az_enabled",
            "snapshot_retention_limit",
        ];
        if modified.iter().any(|k| has(k)) {
            let s = |k: &str| -> Result<Option<String>, ProviderError> {
                Ok(if has(k) {
                    common::opt_str(planned, k)?.map(str::to_string)
                } else {
                    None
                })
            };
            let b = |k: &str| {
                if has(k) {
                    common::opt_bool(planned, k)
                } else {
                    Ok(None)
                }
            };
            let sgs = if has("security_group_ids") {
                Some(common::str_list(planned, "security_group_ids")?)
            } else {
                None
            };
            clients
                .elasticache
                .modify_replication_group()
                .replication_group_id(id)
                .apply_immediately(immediate)
                .set_replication_group_description(s("description")?)
                .set_engine_version(s("engine_version")?)
                .set_cache_node_type(s("node_type")?)
                .set_security_group_ids(sgs)
                .set_transit_encryption_enabled(b("transit_encryption_enabled")?)
                .set_automatic_failover_enabled(b("automatic_failover_enabled")?)
                .set_multi_az_enabled(b("multi_az_enabled")?)
                .set_snapshot_retention_limit(if has("snapshot_retention_limit") {
                    common::opt_i32(planned, "snapshot_retention_limit")?
                } else {
                    None
                })
                .send()
                .await
                .map_err(|e| sdk_error("ModifyReplicationGroup", e))?;
            wait_available(clients, id, timeout).await?;
        }
        if has("num_cache_clusters") {
            if let Some(want) = common::opt_i32(planned, "num_cache_clusters")? {
                let have = common::opt_i32(request.prior, "num_cache_clusters")?.unwrap_or(want);
                let replicas = want - 1;
                if want > have {
                    clients
                        .elasticache
                        .increase_replica_count()
                        .replication_group_id(id)
                        .new_replica_count(replicas)
                        .apply_immediately(true)
                        .send()
                        .await
                        .map_err(|e| sdk_error("IncreaseReplicaCount", e))?;
                } else if want < have {
                    clients
                        .elasticache
                        .decrease_replica_count()
                        .replication_group_id(id)
                        .new_replica_count(replicas)
                        .apply_immediately(true)
                        .send()
                        .await
                        .map_err(|e| sdk_error("DecreaseReplicaCount", e))?;
                }
                wait_available(clients, id, timeout).await?;
            }
        }
        if has("tags") {
            update_tags(
                clients,
                common::req_str(request.prior, "arn")?,
                request.prior,
                planned,
            )
            .await?;
        }
        read_one(clients, id, planned).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        let result = clients
            .elasticache
            .delete_replication_group()
            .replication_group_id(id)
            .send()
            .await;
        if let Err(e) = result {
            return common::ignore_not_found(Err(sdk_error("DeleteReplicationGroup", e)));
        }
        let timeout = timeout_setting(prior, "delete", DELETE_TIMEOUT);
        common::wait_until(
            &format!("replication group {id} to be deleted"),
            timeout,
            POLL,
            || async {
                match describe_groups(clients, &[id]).await?.remove(id) {
                    Some(g) => Ok(Poll::Pending(g.status.unwrap_or_default())),
                    None => Ok(Poll::Done(())),
                }
            },
        )
        .await
    }
}

/// Describes groups: one call for one id, a paginated listing of all for more.
async fn describe_groups(
    clients: &Clients,
    ids: &[&str],
) -> Result<BTreeMap<String, ReplicationGroup>, ProviderError> {
    let mut found = BTreeMap::new();
    let mut keep = |g: ReplicationGroup| {
        if let Some(id) = g.replication_group_id.clone() {
            found.insert(id, g);
        }
    };
    if let [only] = ids {
        match clients
            .elasticache
            .describe_replication_groups()
            .replication_group_id(*only)
            .send()
            .await
        {
            Ok(out) => out
                .replication_groups
                .unwrap_or_default()
                .into_iter()
                .for_each(&mut keep),
            Err(e) => common::ignore_not_found(Err(sdk_error("DescribeReplicationGroups", e)))?,
        }
    } else if !ids.is_empty() {
        let mut pages = clients
            .elasticache
            .describe_replication_groups()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("DescribeReplicationGroups", e))?;
            page.replication_groups
                .unwrap_or_default()
                .into_iter()
                .for_each(&mut keep);
        }
    }
    Ok(found)
}

async fn read_one(clients: &Clients, id: &str, prior: &Value) -> Result<Value, ProviderError> {
    let group = describe_groups(clients, &[id])
        .await?
        .remove(id)
        .ok_or_else(|| {
            ProviderError::new(
                ErrorClass::NotFound,
                Some("ReplicationGroupNotFoundFault".into()),
                format!("replication group {id} disappeared"),
            )
        })?;
    let first: Vec<&str> = group
        .member_clusters()
        .first()
        .map(String::as_str)
        .into_iter()
        .collect();
    let members = describe_clusters(clients, &first).await?;
    to_value(clients, &group, &members, prior).await
}

async fn wait_available(
    clients: &Clients,
    id: &str,
    timeout: Duration,
) -> Result<(), ProviderError> {
    common::wait_until(
        &format!("replication group {id} to be available"),
        timeout,
        POLL,
        || async {
            match describe_groups(clients, &[id]).await?.remove(id) {
                Some(g) if g.status() == Some("available") => Ok(Poll::Done(())),
                Some(g) if g.status() == Some("create-failed") => Err(ProviderError::permanent(
                    format!("replication group {id} is create-failed"),
                )),
                Some(g) => Ok(Poll::Pending(g.status.unwrap_or_default())),
                None => Ok(Poll::Pending("not yet visible".into())),
            }
        },
    )
    .await
}

/// The Refreshed value of a group. Engine version, subnet group and security groups come
/// from its first member cluster; what that cluster does not report keeps its value
/// from `prior` (null / empty when there is none, as on import).
async fn to_value(
    clients: &Clients,
    g: &ReplicationGroup,
    members: &BTreeMap<String, CacheCluster>,
    prior: &Value,
) -> Result<Value, ProviderError> {
    let id = g.replication_group_id.clone().unwrap_or_default();
    let arn = g.arn.clone().unwrap_or_default();
    let tags = if arn.is_empty() {
        BTreeMap::new()
    } else {
        list_tags(clients, &arn).await?
    };
    let first = g.member_clusters().first().and_then(|m| members.get(m));
    let node_group = g.node_groups().first();
    let primary = node_group.and_then(|n| n.primary_endpoint.as_ref());
    let port = primary
        .and_then(|e| e.port)
        .or_else(|| g.configuration_endpoint.as_ref().and_then(|e| e.port));
    let failover = matches!(
        g.automatic_failover,
        Some(AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling)
    );
    let mut m: BTreeMap<String, Value> = [
        ("id", Value::from(id.clone())),
        ("replication_group_id", Value::from(id)),
        ("description", common::opt_string(g.description.as_deref())),
        (
            "engine",
            Value::from(g.engine.clone().unwrap_or_else(|| "redis".to_string())),
        ),
        (
            "engine_version",
            common::opt_string(first.and_then(|c| c.engine_version.as_deref())),
        ),
        (
            "node_type",
            common::opt_string(g.cache_node_type.as_deref()),
        ),
        (
            "num_cache_clusters",
            Value::from(g.member_clusters().len() as i64),
        ),
        ("port", common::opt_num(port)),
        (
            "subnet_group_name",
            common::opt_string(first.and_then(|c| c.cache_subnet_group_name.as_deref())),
        ),
        (
            "security_group_ids",
            common::sorted_string_list(
                first
                    .map(|c| c.security_groups())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|s| s.security_group_id.as_deref()),
            ),
        ),
        (
            "at_rest_encryption_enabled",
            Value::Bool(g.at_rest_encryption_enabled.unwrap_or(false)),
        ),
        (
            "transit_encryption_enabled",
            Value::Bool(g.transit_encryption_enabled.unwrap_or(false)),
        ),
        ("automatic_failover_enabled", Value::Bool(failover)),
        (
            "multi_az_enabled",
            Value::Bool(g.multi_az == Some(MultiAzStatus::Enabled)),
        ),
        (
            "snapshot_retention_limit",
            Value::from(i64::from(g.snapshot_retention_limit.unwrap_or(0))),
        ),
        ("tags", common::tags_value(&tags)),
        ("arn", Value::from(arn)),
        (
            "primary_endpoint_address",
            common::opt_string(primary.and_then(|e| e.address.as_deref())),
        ),
        (
            "reader_endpoint_address",
            common::opt_string(
                node_group
                    .and_then(|n| n.reader_endpoint.as_ref())
                    .and_then(|e| e.address.as_deref()),
            ),
        ),
        ("member_clusters", common::string_list(g.member_clusters())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for k in META {
        let default = if *k == "apply_immediately" {
            Value::Bool(true)
        } else {
            Value::Null
        };
        m.insert(
            k.to_string(),
            prior
                .get(k)
                .cloned()
                .filter(|v| !v.is_null())
                .unwrap_or(default),
        );
    }
    // Engine version, subnet group and security groups live on the member clusters. When
    // the member cluster's description leaves one out (a cluster still being created, or
    // an API that does not report it), the response says nothing about it: keep what was
    // recorded rather than report a change nobody made. A VPC cluster always has at least
    // one security group, so an empty list is "not reported", never "none".
    for k in ["engine_version", "subnet_group_name", "security_group_ids"] {
        let reported = m.get(k).is_some_and(|v| match v {
            Value::List(xs) => !xs.is_empty(),
            v => !v.is_null(),
        });
        if !reported {
            if let Some(recorded) = prior.get(k).filter(|v| !v.is_null()) {
                m.insert(k.to_string(), recorded.clone());
            }
        }
    }
    Ok(Value::Map(m))
}
