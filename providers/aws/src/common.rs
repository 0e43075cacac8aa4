//! Shared AWS plumbing: settings, lazily built SDK clients, error mapping, tags.
//!
//! SKELETON: filled in by the AWS provider work.

use std::collections::BTreeMap;

use gig_dsl::value::Value;
use gig_provider::{AttributeSchema, ProviderError};

/// `provider aws { … }` settings.
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    /// Region; otherwise from the AWS environment chain.
    pub region: Option<String>,
    /// Endpoint override; otherwise `AWS_ENDPOINT_URL` or the real AWS endpoints.
    pub endpoint: Option<String>,
    /// Named profile.
    pub profile: Option<String>,
    /// SDK max attempts (standard retry mode).
    pub max_attempts: u32,
    /// Adaptive retry mode (client-side rate limiting).
    pub adaptive_retry: bool,
}

impl AwsSettings {
    /// Reads the settings map of the provider block.
    pub fn from_value(settings: &Value) -> Result<AwsSettings, ProviderError> {
        let _ = settings;
        Ok(AwsSettings { max_attempts: 5, ..AwsSettings::default() })
    }
}

/// The schema of the settings.
pub(crate) fn settings_schema() -> BTreeMap<String, AttributeSchema> {
    BTreeMap::new()
}

/// SDK clients for every service the provider uses.
pub struct Clients {
    /// EC2 (VPC, subnets, SGs, instances, launch templates …).
    pub ec2: aws_sdk_ec2::Client,
    /// RDS.
    pub rds: aws_sdk_rds::Client,
    /// ElastiCache.
    pub elasticache: aws_sdk_elasticache::Client,
    /// ELBv2 (ALB).
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// Auto Scaling.
    pub autoscaling: aws_sdk_autoscaling::Client,
}

impl Clients {
    /// Builds the clients from the settings and the AWS environment chain. Makes no call.
    pub async fn load(settings: &AwsSettings) -> Clients {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let conf = loader.load().await;
        Clients {
            ec2: aws_sdk_ec2::Client::new(&conf),
            rds: aws_sdk_rds::Client::new(&conf),
            elasticache: aws_sdk_elasticache::Client::new(&conf),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
            autoscaling: aws_sdk_autoscaling::Client::new(&conf),
        }
    }
}
