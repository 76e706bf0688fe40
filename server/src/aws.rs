//! The AWS SDK configuration shared by every client: the default credential and region chain
//! (env, profile, IMDS), plus explicit, bounded retries and timeouts, so a backend that is down
//! or throttling turns into a prompt 503 instead of a hang.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// At most this many attempts per call (the first plus two retries, with backoff).
pub const MAX_ATTEMPTS: u32 = 3;

pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build()
}

pub fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(50))
}

pub async fn sdk_config(region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .retry_config(retries());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    loader.load().await
}

/// The region the embedded S3 endpoint and its clients sign for.
pub const EMBEDDED_REGION: &str = "us-east-1";

/// An S3 client from the shared SDK settings; `endpoint` overrides Amazon S3 (MinIO, R2, a
/// local server), which usually wants path-style addressing.
pub fn s3_client(sdk: &SdkConfig, endpoint: Option<&str>, path_style: bool) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style);
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// A DynamoDB client from the shared SDK settings; `endpoint` overrides AWS (a local
/// DynamoDB-protocol server).
pub fn dynamodb_client(sdk: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}
