//! gig's AWS provider over aws-sdk-rust.
//!
//! Each resource type is one [`ResourceType`] implementation in its own module; this
//! file registers them, builds the schema, and dispatches the engine's calls. SDK
//! clients are built lazily on first use ([`Clients`]), so planning with empty state
//! and no data sources works offline and without credentials.

#![warn(missing_docs)]

mod cloudwatch;
// Helpers shared by every resource module.
pub(crate) mod common;
mod create_once;
mod ec2;
mod elasticache;
mod elbv2;
mod iam;
mod kms;
mod logs;
mod model;
mod rds;
mod s3;
mod sns;
mod ssm;
mod tagging;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{
    Lookup, OpContext, Provider, ProviderError, ProviderFactory, ProviderSchema, ReadRequest,
    ResourceSchema, UpdateRequest,
};
use tokio::sync::OnceCell;

use crate::model::Modeled;

pub use crate::common::{
    AwsSettings, CallRecord, CallRecorder, Clients, StaticCredentials, Timeouts,
};

/// Result of a batched read: one entry per request, `Ok(None)` when gone.
pub(crate) type ReadResults = Vec<Result<Option<Value>, ProviderError>>;

/// One AWS resource type (or data source, which only implements `read_data`).
#[async_trait]
pub(crate) trait ResourceType: Send + Sync {
    /// The schema, with `type_name` such as `aws.vpc`.
    fn schema(&self) -> ResourceSchema;

    /// Batched refresh (Describe with id filters, chunked).
    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError>;

    /// Create and wait until usable; returns the New value.
    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError>;

    /// Looks up the object an interrupted create may have made: only objects that
    /// carry every gig tag of `ctx` (see [`Provider::find_created`]).
    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let _ = (clients, ctx, planned);
        Ok(Lookup::Unsupported)
    }

    /// Update in place and wait; returns the New value.
    async fn update(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError>;

    /// Delete and wait until gone. Already gone is success.
    async fn delete(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError>;
}

/// One AWS data source.
#[async_trait]
pub(crate) trait DataSource: Send + Sync {
    /// The schema, with `type_name` such as `aws.ami`.
    fn schema(&self) -> ResourceSchema;

    /// Reads the data source from its arguments.
    async fn read(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        args: &Value,
    ) -> Result<Value, ProviderError>;
}

fn resource_types() -> Vec<Arc<dyn ResourceType>> {
    vec![
        Arc::new(Modeled::new(ec2::vpc::Vpc)),
        Arc::new(Modeled::new(ec2::subnet::Subnet)),
        Arc::new(Modeled::new(ec2::internet_gateway::InternetGateway)),
        Arc::new(Modeled::new(ec2::eip::Eip)),
        Arc::new(Modeled::new(ec2::autoscaling_policy::AutoscalingPolicy)),
        Arc::new(Modeled::new(ec2::nat_gateway::NatGateway)),
        Arc::new(Modeled::new(ec2::route_table::RouteTable)),
        Arc::new(Modeled::new(
            ec2::route_table_association::RouteTableAssociation,
        )),
        Arc::new(Modeled::new(ec2::security_group::SecurityGroup)),
        Arc::new(Modeled::new(ec2::security_group_rule::SecurityGroupRule)),
        Arc::new(Modeled::new(ec2::vpc_endpoint::Endpoint)),
        Arc::new(Modeled::new(ec2::instance::Instance)),
        Arc::new(Modeled::new(ec2::launch_template::LaunchTemplate)),
        Arc::new(Modeled::new(ec2::autoscaling_group::AutoscalingGroup)),
        Arc::new(Modeled::new(rds::db_subnet_group::DbSubnetGroup)),
        Arc::new(Modeled::new(rds::db_instance::DbInstance)),
        Arc::new(Modeled::new(
            elasticache::subnet_group::ElasticacheSubnetGroup,
        )),
        Arc::new(Modeled::new(
            elasticache::replication_group::ReplicationGroupType,
        )),
        Arc::new(Modeled::new(elasticache::cluster::CacheClusterType)),
        Arc::new(Modeled::new(ssm::parameter::SsmParameter)),
        Arc::new(Modeled::new(elbv2::lb::Lb)),
        Arc::new(Modeled::new(elbv2::target_group::TargetGroupType)),
        Arc::new(Modeled::new(elbv2::listener::ListenerType)),
        Arc::new(Modeled::new(elbv2::listener_rule::ListenerRuleType)),
        Arc::new(Modeled::new(
            elbv2::target_group_attachment::TargetGroupAttachment,
        )),
        Arc::new(Modeled::new(iam::role::IamRole)),
        Arc::new(Modeled::new(iam::policy::IamPolicy)),
        Arc::new(Modeled::new(
            iam::role_policy_attachment::IamRolePolicyAttachment,
        )),
        Arc::new(Modeled::new(iam::instance_profile::IamInstanceProfile)),
        Arc::new(Modeled::new(logs::log_group::LogGroup)),
        Arc::new(Modeled::new(cloudwatch::metric_alarm::MetricAlarmType)),
        Arc::new(Modeled::new(sns::topic::SnsTopic)),
        Arc::new(Modeled::new(sns::subscription::SnsSubscription)),
        Arc::new(Modeled::new(kms::key::KmsKey)),
        Arc::new(Modeled::new(kms::alias::KmsAlias)),
        Arc::new(Modeled::new(s3::bucket::S3Bucket)),
        Arc::new(Modeled::new(rds::db_parameter_group::DbParameterGroup)),
        Arc::new(Modeled::new(
            elasticache::parameter_group::CacheParameterGroup,
        )),
    ]
}

fn data_sources() -> Vec<Arc<dyn DataSource>> {
    vec![
        Arc::new(ec2::data_ami::Ami),
        Arc::new(ec2::data_availability_zones::AvailabilityZones),
    ]
}

/// The `aws` provider factory.
pub struct AwsFactory {
    schema: ProviderSchema,
    resources: BTreeMap<String, Arc<dyn ResourceType>>,
    data: BTreeMap<String, Arc<dyn DataSource>>,
}

impl Default for AwsFactory {
    fn default() -> AwsFactory {
        AwsFactory::new()
    }
}

impl AwsFactory {
    /// Builds the factory and its schema.
    pub fn new() -> AwsFactory {
        let resources: BTreeMap<String, Arc<dyn ResourceType>> = resource_types()
            .into_iter()
            .map(|r| (r.schema().type_name, r))
            .collect();
        let data: BTreeMap<String, Arc<dyn DataSource>> = data_sources()
            .into_iter()
            .map(|d| (d.schema().type_name, d))
            .collect();
        let schema = ProviderSchema {
            name: "aws".to_string(),
            settings: common::settings_schema(),
            resources: resources
                .iter()
                .map(|(k, r)| (k.clone(), r.schema()))
                .collect(),
            data_sources: data.iter().map(|(k, d)| (k.clone(), d.schema())).collect(),
        };
        AwsFactory {
            schema,
            resources,
            data,
        }
    }

    /// A provider from already parsed settings (for embedders and tests that need
    /// settings a `.gig` file cannot give, such as a [`CallRecorder`]). Makes no call.
    pub fn provider(&self, settings: AwsSettings) -> AwsProvider {
        AwsProvider {
            settings,
            clients: OnceCell::new(),
            resources: self.resources.clone(),
            data: self.data.clone(),
        }
    }
}

#[async_trait]
impl ProviderFactory for AwsFactory {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    async fn configure(&self, settings: &Value) -> Result<Arc<dyn Provider>, ProviderError> {
        let settings = AwsSettings::from_value(settings)?;
        Ok(Arc::new(self.provider(settings)))
    }
}

/// A configured AWS provider.
pub struct AwsProvider {
    settings: AwsSettings,
    clients: OnceCell<Clients>,
    resources: BTreeMap<String, Arc<dyn ResourceType>>,
    data: BTreeMap<String, Arc<dyn DataSource>>,
}

impl AwsProvider {
    /// The SDK clients, built on first use.
    pub async fn clients(&self) -> &Clients {
        self.clients
            .get_or_init(|| Clients::load(&self.settings))
            .await
    }

    /// The clients, once a region is known: without one no AWS call can be signed, and
    /// retrying would not help, so it is a permanent error saying where to set it.
    async fn ready(&self) -> Result<&Clients, ProviderError> {
        let clients = self.clients().await;
        if clients.region.is_none() {
            return Err(ProviderError::invalid_attribute(
                "region",
                "no AWS region is configured: set `region` in the `provider aws { … }` block, \
                 or AWS_REGION / a profile's region in the environment",
            ));
        }
        Ok(clients)
    }

    fn resource(&self, rtype: &str) -> Result<&Arc<dyn ResourceType>, ProviderError> {
        self.resources
            .get(rtype)
            .ok_or_else(|| ProviderError::permanent(format!("unknown resource type {rtype}")))
    }
}

#[async_trait]
impl Provider for AwsProvider {
    async fn read(
        &self,
        rtype: &str,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        let r = self.resource(rtype)?;
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let clients = self.ready().await?;
        r.read(clients, requests)
            .await
            .map_err(|e| clients.locate(e))
    }

    async fn create(
        &self,
        ctx: &OpContext,
        rtype: &str,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let r = self.resource(rtype)?;
        let clients = self.ready().await?;
        r.create(clients, ctx, planned)
            .await
            .map_err(|e| clients.locate(e))
    }

    async fn find_created(
        &self,
        ctx: &OpContext,
        rtype: &str,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let r = self.resource(rtype)?;
        let clients = self.ready().await?;
        r.find_created(clients, ctx, planned)
            .await
            .map_err(|e| clients.locate(e))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        rtype: &str,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let r = self.resource(rtype)?;
        let clients = self.ready().await?;
        r.update(clients, ctx, request)
            .await
            .map_err(|e| clients.locate(e))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        rtype: &str,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        let r = self.resource(rtype)?;
        let clients = self.ready().await?;
        r.delete(clients, ctx, id, prior)
            .await
            .map_err(|e| clients.locate(e))
    }

    async fn read_data(
        &self,
        ctx: &OpContext,
        dtype: &str,
        args: &Value,
    ) -> Result<Value, ProviderError> {
        let d = self
            .data
            .get(dtype)
            .ok_or_else(|| ProviderError::permanent(format!("unknown data source {dtype}")))?;
        let clients = self.ready().await?;
        d.read(clients, ctx, args)
            .await
            .map_err(|e| clients.locate(e))
    }
}
