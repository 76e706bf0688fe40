//! `server init-aws`: creates what the AWS mode needs, leaving existing resources as they are:
//! the DynamoDB table (key schema, the listing index, TTL) and the S3 bucket with the CORS rules
//! browsers need for presigned uploads and downloads.

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::error::SdkError as DynamoError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ProvisionedThroughput, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use aws_sdk_s3::error::SdkError as S3Error;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::store::dynamo::{EXPIRES, INDEX};

/// Waits for a new table to become active; a table that never does is an error (the TTL
/// setting and first writes would fail on it).
async fn wait_until_active(client: &aws_sdk_dynamodb::Client, table: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .context("describing the new table")?;
        let status = described.table().and_then(|t| t.table_status()).cloned();
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "table {table} is still {status:?} after {TABLE_ACTIVE_TIMEOUT:?}; not continuing"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How long `create_table` waits for a new table to become active.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Table capacity for `create_table`: on-demand, or provisioned like the original's
/// `ReadCapacityUnits`/`WriteCapacityUnits`.
#[derive(Clone, Copy, Debug)]
pub enum Capacity {
    OnDemand,
    Provisioned { read: i64, write: i64 },
}

/// Creates the table, its index and its TTL setting, and waits until it is active.
/// An existing table is left as it is.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    capacity: Capacity,
) -> anyhow::Result<()> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let throughput = match capacity {
        Capacity::OnDemand => None,
        Capacity::Provisioned { read, write } => Some(
            ProvisionedThroughput::builder()
                .read_capacity_units(read)
                .write_capacity_units(write)
                .build()?,
        ),
    };
    let mut index = GlobalSecondaryIndex::builder()
        .index_name(INDEX)
        .key_schema(key("owner", KeyType::Hash)?)
        .key_schema(key("created_sort", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        );
    if let Some(t) = &throughput {
        index = index.provisioned_throughput(t.clone());
    }
    let mut request = client
        .create_table()
        .table_name(table)
        .attribute_definitions(attr("asset_id")?)
        .attribute_definitions(attr("owner")?)
        .attribute_definitions(attr("created_sort")?)
        .key_schema(key("asset_id", KeyType::Hash)?)
        .global_secondary_indexes(index.build()?);
    request = match throughput {
        None => request.billing_mode(BillingMode::PayPerRequest),
        Some(t) => request
            .billing_mode(BillingMode::Provisioned)
            .provisioned_throughput(t),
    };
    match request.send().await {
        Ok(_) => {}
        Err(DynamoError::ServiceError(e)) if e.err().is_resource_in_use_exception() => {
            tracing::info!(table = %table, "table exists; left as it is");
            return Ok(());
        }
        Err(err) => return Err(anyhow::Error::new(err).context("creating the table")),
    }
    wait_until_active(client, table).await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(EXPIRES)
                .build()?,
        )
        .send()
        .await
        .context("enabling TTL")?;
    tracing::info!(table = %table, "table created");
    Ok(())
}

/// Creates the bucket if needed and sets the CORS rules browsers need to upload and
/// download with presigned URLs from the dashboard's origins (ETag exposed).
pub async fn create_bucket_with_cors(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    origins: &[String],
) -> anyhow::Result<()> {
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => tracing::info!(bucket = %bucket, "bucket created"),
        Err(S3Error::ServiceError(e))
            if e.err().is_bucket_already_owned_by_you() || e.err().is_bucket_already_exists() =>
        {
            tracing::info!(bucket = %bucket, "bucket exists");
        }
        Err(err) => return Err(anyhow::Error::new(err).context("creating the bucket")),
    }
    let rule = CorsRule::builder()
        .set_allowed_origins(Some(origins.to_vec()))
        .allowed_methods("PUT")
        .allowed_methods("GET")
        .allowed_methods("HEAD")
        .allowed_headers("*")
        .expose_headers("ETag")
        .max_age_seconds(3600)
        .build()?;
    client
        .put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build()?)
        .send()
        .await
        .context("setting the bucket's CORS rules")?;
    Ok(())
}
