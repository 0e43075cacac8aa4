//! `aws.elasticache_replication_group`: a Redis (or Valkey) replication group with cluster
//! mode disabled — one primary and `num_cache_clusters - 1` replicas.
//!
//! The id is the replication group id. Create waits until the group is `available`.
//! Updates: one ModifyReplicationGroup with the changed settings (applied immediately
//! unless `apply_immediately = false`), IncreaseReplicaCount / DecreaseReplicaCount for
//! `num_cache_clusters`, tag calls for `tags` (the model's driver); each waits until
//! `available`. Delete waits until the group is gone, bounded by
//! `timeouts { delete = … }` (default 40 minutes).
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
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{self, sdk_error, wait_until, Poll};
use crate::elasticache::{check_name, describe_clusters, list_tags, not_available, to_sdk_tags};
use crate::model::{
    computed, if_changed, optional, required, tags_map, Decl, Model, New, Waits, STATUS,
};
use crate::tagging::Tagging;
use crate::Clients;

const POLL: Duration = Duration::from_secs(15);

/// The `aws.elasticache_replication_group` resource type.
pub(crate) struct ReplicationGroupType;

#[async_trait]
impl Model for ReplicationGroupType {
    fn decl(&self) -> Decl {
        use AttrType::{Bool, List, Number, Set, String as Str};
        Decl {
            type_name: "aws.elasticache_replication_group",
            description: "An ElastiCache for Redis replication group (cluster mode disabled): a primary node and up to \
                      five replicas behind primary and reader endpoints. Node type, node count, engine version, \
                      security groups, failover and snapshot settings change in place; id, engine, port, subnet \
                      group and at-rest encryption replace it.",
            example: "resource aws.elasticache_replication_group sessions {\n  replication_group_id       = \"giggatek-sessions\"\n  description                = \"Session store\"\n  node_type                  = \"cache.t3.micro\"\n  num_cache_clusters         = 2\n  automatic_failover_enabled = true\n  subnet_group_name          = aws.elasticache_subnet_group.cache.name\n  security_group_ids         = [aws.security_group.cache.id]\n  at_rest_encryption_enabled = true\n  transit_encryption_enabled = true\n}",
            id: "replication group id",
            id_attr: Some("replication_group_id"),
            attrs: vec![
                required("replication_group_id", Str, "Group id: up to 40 lower-case letters, digits and hyphens.").force_new(),
                required("description", Str, "Description of the group. Changes in place."),
                optional("engine", Str, "`redis` or `valkey`.").default("redis").force_new(),
                // Engine version, subnet group and security groups are read from the first
                // member cluster; when its description leaves one out (a cluster still being
                // created), the recorded value is kept. A VPC cluster always has a security
                // group, so an empty list is "not reported", never "none".
                optional("engine_version", Str, "Engine version, e.g. `7.1`. Changes in place.").also_computed().kept_when_unreported(),
                required("node_type", Str, "Node type, e.g. `cache.t3.micro`. Changes in place."),
                optional("num_cache_clusters", Number, "Number of nodes (primary plus replicas), 1 to 6. Changes in place.").also_computed(),
                optional("port", Number, "Port the nodes listen on (6379 when unset).").also_computed().force_new(),
                optional("subnet_group_name", Str, "ElastiCache subnet group to place the nodes in.").also_computed().kept_when_unreported().force_new(),
                optional("security_group_ids", Set(Box::new(Str)), "VPC security groups of the nodes. Change in place.").also_computed().kept_when_unreported(),
                optional("at_rest_encryption_enabled", Bool, "Encrypt data at rest.").default(false).force_new(),
                optional("transit_encryption_enabled", Bool, "Require TLS in transit. Changes in place.").default(false),
                optional("automatic_failover_enabled", Bool, "Promote a replica when the primary fails (needs 2 or more nodes).").default(false),
                optional("multi_az_enabled", Bool, "Spread nodes over availability zones (needs automatic failover).").default(false),
                optional("snapshot_retention_limit", Number, "Days to keep automatic snapshots (0 turns them off).").default(0i64),
                optional("apply_immediately", Bool, "Apply modifications now instead of in the next maintenance window (gig setting).").default(true).setting(),
                computed("arn", Str, "ARN of the group."),
                computed("primary_endpoint_address", Str, "Address of the primary (read/write) endpoint."),
                computed("reader_endpoint_address", Str, "Address of the reader endpoint (all replicas)."),
                computed("member_clusters", List(Box::new(Str)), "Ids of the cache clusters (nodes) in the group."),
            ],
            tags: Some(Tagging::Elasticache),
            waits: Some(Waits {
                create: Duration::from_secs(60 * 60),
                update: Duration::from_secs(40 * 60),
                delete: Duration::from_secs(40 * 60),
            }),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let groups = describe_groups(clients, &ids).await?;
        let firsts: Vec<&str> = ids
            .iter()
            .filter_map(|id| groups.get(*id))
            .filter_map(|g| g.member_clusters().first().map(String::as_str))
            .collect();
        let members = describe_clusters(clients, &firsts).await?;
        let mut out = BTreeMap::new();
        for id in ids {
            if let Some(group) = groups.get(id) {
                out.insert(id.to_string(), to_value(clients, group, &members).await?);
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
        let planned = new.planned;
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
            .set_tags(Some(to_sdk_tags(new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateReplicationGroup", e))?;
        new.ctx.created(id);
        Ok(id.to_string())
    }

    async fn update(
        &self,
        clients: &Clients,
        decl: &Decl,
        request: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let planned = request.planned;
        let id = request.id;
        let has = |k: &str| crate::common::changed(request.changed, k);
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
            let s = |k: &str| Ok(if_changed(&request, k, common::opt_str)?.map(str::to_string));
            let b = |k: &str| if_changed(&request, k, common::opt_bool);
            let sgs = if_changed(&request, "security_group_ids", |v, k| {
                common::str_list(v, k).map(Some)
            })?;
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
                .set_snapshot_retention_limit(if_changed(
                    &request,
                    "snapshot_retention_limit",
                    common::opt_i32,
                )?)
                .send()
                .await
                .map_err(|e| sdk_error("ModifyReplicationGroup", e))?;
        }
        if has("num_cache_clusters") {
            if let Some(want) = common::opt_i32(planned, "num_cache_clusters")? {
                let have = common::opt_i32(request.prior, "num_cache_clusters")?.unwrap_or(want);
                if want != have {
                    // A replica-count change waits for the modify before it to settle.
                    wait_available(clients, id, decl.timeout(planned, "update")).await?;
                }
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
            .elasticache
            .delete_replication_group()
            .replication_group_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteReplicationGroup", e))
    }

    fn pending(&self, value: &Value) -> Option<String> {
        not_available(value)
    }

    fn failed(&self, value: &Value) -> Option<String> {
        (value.get(STATUS).and_then(Value::as_str) == Some("create-failed"))
            .then(|| "the replication group is create-failed".to_string())
    }
}

/// Waits until the group is `available` (between a modify and a replica-count change).
async fn wait_available(
    clients: &Clients,
    id: &str,
    timeout: Duration,
) -> Result<(), ProviderError> {
    wait_until(
        &format!("replication group {id} to be available"),
        timeout,
        POLL,
        || async {
            match describe_groups(clients, &[id]).await?.remove(id) {
                Some(g) if g.status() == Some("available") => Ok(Poll::Done(())),
                Some(g) => Ok(Poll::Pending(g.status.unwrap_or_default())),
                None => Ok(Poll::Pending("not yet visible".into())),
            }
        },
    )
    .await
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

/// The Refreshed value of a group, with its state under [`STATUS`]. Engine version,
/// subnet group and security groups come from its first member cluster (declared
/// `kept_when_unreported`: null / empty when it does not report them, as on import).
async fn to_value(
    clients: &Clients,
    g: &ReplicationGroup,
    members: &BTreeMap<String, CacheCluster>,
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
    let m: BTreeMap<String, Value> = [
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
        ("tags", tags_map(tags)),
        (STATUS, common::opt_string(g.status())),
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
    Ok(Value::Map(m))
}
