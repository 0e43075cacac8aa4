//! `aws.elasticache_cluster`: a single ElastiCache cache cluster (Memcached with one or
//! more nodes, or a one-node Redis / Valkey cluster).
//!
//! The id is the cluster id. Create waits until the cluster is `available`, bounded by
//! `timeouts { create }`. One ModifyCacheCluster carries every in-place change (node
//! type, node count, engine version, parameter group, security groups, snapshots,
//! maintenance window); the driver then waits for `available` again. Removing nodes names
//! the highest-numbered ones. Delete waits until the cluster is gone.
//!
//! Read cost: DescribeCacheClusters takes one id or none, so one cluster costs one call and
//! many cost one paginated listing; tags cost one ListTagsForResource per cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticache::types::{AzMode, CacheCluster};
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, ProviderError, UpdateRequest};

use crate::common::{
    object, opt_i32, opt_str, opt_string, req_str, sdk_error, sorted_string_list, str_list,
};
use crate::elasticache::{check_name, describe_clusters, list_tags, not_available, to_sdk_tags};
use crate::model::{
    computed, if_changed, optional, required, tags_map, Decl, Model, New, Waits, STATUS,
};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.elasticache_cluster` resource type.
pub(crate) struct CacheClusterType;

#[async_trait]
impl Model for CacheClusterType {
    fn decl(&self) -> Decl {
        use AttrType::{Bool, List, Number, Object, Set, String as Str};
        let node = Object(BTreeMap::from([
            (
                "id".to_string(),
                AttributeSchema::computed(Str, "The node id, `0001`."),
            ),
            (
                "address".to_string(),
                AttributeSchema::computed(Str, "The node's DNS name."),
            ),
            (
                "port".to_string(),
                AttributeSchema::computed(Number, "The node's port."),
            ),
            (
                "availability_zone".to_string(),
                AttributeSchema::computed(Str, "The node's availability zone."),
            ),
        ]));
        Decl {
            type_name: "aws.elasticache_cluster",
            description: "An ElastiCache cache cluster: Memcached with one to forty nodes, or a single Redis / Valkey \
                          node (use `aws.elasticache_replication_group` for replicas and failover). Node type, node \
                          count, engine version, parameter group, security groups, snapshot retention and the \
                          maintenance window change in place; id, engine, port, subnet group, availability zone and \
                          AZ mode replace it. Create, update and delete wait for the cluster within `timeouts`.",
            example: "resource aws.elasticache_cluster cache {\n  cluster_id         = \"giggatek-cache\"\n  engine             = \"memcached\"\n  node_type          = \"cache.t3.micro\"\n  num_cache_nodes    = 2\n  az_mode            = \"cross-az\"\n  subnet_group_name  = aws.elasticache_subnet_group.cache.name\n  security_group_ids = [aws.security_group.cache.id]\n}",
            id: "cluster id",
            id_attr: Some("cluster_id"),
            attrs: vec![
                required("cluster_id", Str, "Cluster id: up to 50 lower-case letters, digits and hyphens.").force_new(),
                required("engine", Str, "`memcached`, `redis` or `valkey`.").force_new(),
                required("node_type", Str, "Node type, e.g. `cache.t3.micro`. Changes in place."),
                optional("num_cache_nodes", Number, "Number of nodes: 1 for Redis and Valkey, up to 40 for Memcached. Changes in place.").default(1i64),
                optional("engine_version", Str, "Engine version, e.g. `1.6.22`. Changes in place.").also_computed(),
                optional("parameter_group_name", Str, "Parameter group (the family's default when unset). Changes in place.").also_computed(),
                optional("port", Number, "Port the nodes listen on (11211 for Memcached, 6379 otherwise).").also_computed().kept_when_unreported().force_new(),
                optional("subnet_group_name", Str, "ElastiCache subnet group to place the nodes in.").also_computed().force_new(),
                optional("security_group_ids", Set(Box::new(Str)), "VPC security groups of the nodes. Change in place.").also_computed().kept_when_unreported(),
                optional("availability_zone", Str, "Availability zone of the (first) node.").also_computed().force_new(),
                optional("az_mode", Str, "`single-az` or `cross-az` (Memcached only).").also_computed().force_new(),
                optional("snapshot_retention_limit", Number, "Days to keep automatic snapshots, Redis and Valkey only (0 turns them off). Changes in place.").default(0i64),
                optional("maintenance_window", Str, "Weekly maintenance window, e.g. `sun:05:00-sun:06:00`. Changes in place.").also_computed(),
                optional("apply_immediately", Bool, "Apply modifications now instead of in the next maintenance window (gig setting).").default(true).setting(),
                computed("arn", Str, "ARN of the cluster."),
                computed("cache_nodes", List(Box::new(node)), "The nodes, by id, with their addresses."),
                computed("cluster_address", Str, "DNS name of the cluster's configuration endpoint (Memcached)."),
                computed("configuration_endpoint", Str, "`address:port` of the configuration endpoint (Memcached)."),
            ],
            tags: Some(Tagging::Elasticache),
            waits: Some(Waits {
                create: Duration::from_secs(40 * 60),
                update: Duration::from_secs(80 * 60),
                delete: Duration::from_secs(40 * 60),
            }),
            busy: &["InvalidCacheClusterState"],
            delete_attempts: 6,
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut out = BTreeMap::new();
        for (id, c) in describe_clusters(clients, &ids).await? {
            if ids.contains(&id.as_str()) {
                let tags = match c.arn() {
                    Some(arn) => list_tags(clients, arn).await?,
                    None => BTreeMap::new(),
                };
                out.insert(id, to_value(&c, tags));
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
        let p = new.planned;
        let id = req_str(p, "cluster_id")?;
        check_name("cluster_id", id, 50)?;
        let owned_str = |k| Ok::<_, ProviderError>(opt_str(p, k)?.map(str::to_string));
        let sgs = Some(str_list(p, "security_group_ids")?).filter(|v| !v.is_empty());
        clients
            .elasticache
            .create_cache_cluster()
            .cache_cluster_id(id)
            .engine(req_str(p, "engine")?)
            .cache_node_type(req_str(p, "node_type")?)
            .set_num_cache_nodes(opt_i32(p, "num_cache_nodes")?)
            .set_engine_version(owned_str("engine_version")?)
            .set_cache_parameter_group_name(owned_str("parameter_group_name")?)
            .set_port(opt_i32(p, "port")?)
            .set_cache_subnet_group_name(owned_str("subnet_group_name")?)
            .set_security_group_ids(sgs)
            .set_preferred_availability_zone(owned_str("availability_zone")?)
            .set_az_mode(opt_str(p, "az_mode")?.map(AzMode::from))
            .set_snapshot_retention_limit(
                opt_i32(p, "snapshot_retention_limit")?.filter(|n| *n > 0),
            )
            .set_preferred_maintenance_window(owned_str("maintenance_window")?)
            .set_tags(Some(to_sdk_tags(new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateCacheCluster", e))?;
        new.ctx.created(id);
        Ok(id.to_string())
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let p = req.planned;
        let s = |k: &str| Ok(if_changed(&req, k, opt_str)?.map(str::to_string));
        let n = |k: &str| if_changed(&req, k, opt_i32);
        let nodes = n("num_cache_nodes")?;
        let remove = match nodes {
            Some(want) => nodes_to_remove(req.prior, want),
            None => Vec::new(),
        };
        clients
            .elasticache
            .modify_cache_cluster()
            .cache_cluster_id(req.id)
            .apply_immediately(opt_bool_or_true(p)?)
            .set_cache_node_type(s("node_type")?)
            .set_num_cache_nodes(nodes)
            .set_cache_node_ids_to_remove(Some(remove).filter(|r| !r.is_empty()))
            .set_engine_version(s("engine_version")?)
            .set_cache_parameter_group_name(s("parameter_group_name")?)
            .set_security_group_ids(if_changed(&req, "security_group_ids", |v, k| {
                str_list(v, k).map(Some)
            })?)
            .set_snapshot_retention_limit(n("snapshot_retention_limit")?)
            .set_preferred_maintenance_window(s("maintenance_window")?)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("ModifyCacheCluster", e))
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
            .delete_cache_cluster()
            .cache_cluster_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteCacheCluster", e))
    }

    fn pending(&self, value: &Value) -> Option<String> {
        not_available(value)
    }

    fn failed(&self, value: &Value) -> Option<String> {
        let state = value.get(STATUS).and_then(Value::as_str)?;
        ["incompatible-network", "restore-failed"]
            .contains(&state)
            .then(|| format!("the cluster is {state}"))
    }
}

/// `apply_immediately`, true when unset.
fn opt_bool_or_true(v: &Value) -> Result<bool, ProviderError> {
    Ok(crate::common::opt_bool(v, "apply_immediately")?.unwrap_or(true))
}

/// The ids of the highest-numbered nodes of `prior` beyond the first `want`.
fn nodes_to_remove(prior: &Value, want: i32) -> Vec<String> {
    let mut ids: Vec<String> = prior
        .get("cache_nodes")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    ids.sort();
    ids.split_off(usize::try_from(want).unwrap_or(0).min(ids.len()))
}

/// The Refreshed value of a cluster, with its state under [`STATUS`] for
/// [`Model::pending`].
fn to_value(c: &CacheCluster, tags: BTreeMap<String, String>) -> Value {
    let id = c.cache_cluster_id().unwrap_or_default();
    let endpoint = c.configuration_endpoint();
    let nodes = c
        .cache_nodes()
        .iter()
        .map(|n| {
            let e = n.endpoint();
            object([
                ("id", opt_string(n.cache_node_id())),
                ("address", opt_string(e.and_then(|e| e.address()))),
                ("port", crate::common::opt_num(e.and_then(|e| e.port()))),
                (
                    "availability_zone",
                    opt_string(n.customer_availability_zone()),
                ),
            ])
        })
        .collect();
    let port = endpoint
        .and_then(|e| e.port())
        .or_else(|| c.cache_nodes().first().and_then(|n| n.endpoint()?.port()));
    let sgs = c
        .security_groups()
        .iter()
        .filter_map(|s| s.security_group_id());
    Value::Map(
        [
            ("id", Value::str(id)),
            ("cluster_id", Value::str(id)),
            ("engine", opt_string(c.engine())),
            ("node_type", opt_string(c.cache_node_type())),
            (
                "num_cache_nodes",
                Value::from(i64::from(c.num_cache_nodes().unwrap_or(0))),
            ),
            ("engine_version", opt_string(c.engine_version())),
            (
                "parameter_group_name",
                opt_string(
                    c.cache_parameter_group()
                        .and_then(|g| g.cache_parameter_group_name()),
                ),
            ),
            ("port", crate::common::opt_num(port)),
            ("subnet_group_name", opt_string(c.cache_subnet_group_name())),
            ("security_group_ids", sorted_string_list(sgs)),
            (
                "availability_zone",
                opt_string(c.preferred_availability_zone().filter(|z| *z != "Multiple")),
            ),
            ("az_mode", opt_string(az_mode(c).as_deref())),
            (
                "snapshot_retention_limit",
                Value::from(i64::from(c.snapshot_retention_limit().unwrap_or(0))),
            ),
            (
                "maintenance_window",
                opt_string(c.preferred_maintenance_window()),
            ),
            ("arn", opt_string(c.arn())),
            ("cache_nodes", Value::List(nodes)),
            (
                "cluster_address",
                opt_string(endpoint.and_then(|e| e.address())),
            ),
            (
                "configuration_endpoint",
                match endpoint.and_then(|e| Some((e.address()?, e.port()?))) {
                    Some((a, p)) => Value::str(format!("{a}:{p}")),
                    None => Value::Null,
                },
            ),
            (STATUS, opt_string(c.cache_cluster_status())),
            ("tags", tags_map(tags)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    )
}

/// The AZ mode AWS reports: `PreferredAvailabilityZone` is `Multiple` for a cross-AZ
/// cluster.
fn az_mode(c: &CacheCluster) -> Option<String> {
    match c.preferred_availability_zone() {
        Some("Multiple") => Some("cross-az".into()),
        Some(_) => Some("single-az".into()),
        None => None,
    }
}
