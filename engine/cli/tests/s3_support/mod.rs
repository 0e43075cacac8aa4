//! SDK clients for tests that look at the emulator's S3 and KMS directly: read every
//! object of a bucket, make a bucket or a KMS key. Built with the workspace's SDK
//! feature set (dev-dependencies of the CLI), pointed at the emulator's endpoint.

#![allow(dead_code)]

use aws_sdk_s3::config::{Credentials, Region};

/// The emulator's region.
const REGION: &str = "us-east-1";

fn credentials() -> Credentials {
    Credentials::new("testing", "testing", None, None, "test")
}

/// An S3 client for the emulator at `endpoint` (path-style addressing).
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A KMS client for the emulator at `endpoint`.
pub fn kms_client(endpoint: &str) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version_latest()
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

/// Makes `bucket` on the emulator at `endpoint`; returns a client for it.
pub async fn bucket(endpoint: &str, bucket: &str) -> aws_sdk_s3::Client {
    let s3 = s3_client(endpoint);
    s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("create bucket");
    s3
}
