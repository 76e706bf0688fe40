//! `server init-aws`: creates what the AWS mode needs, leaving existing resources as they are:
//! the DynamoDB tables (assets: key schema, the listing indexes, TTL; auth: users, API keys,
//! sessions) and the S3 bucket with the CORS rules browsers need for presigned uploads and
//! downloads.

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::error::SdkError as DynamoError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ProvisionedThroughput, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_s3::error::SdkError as S3Error;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, CorsConfiguration, CorsRule,
    ExpirationStatus, LifecycleRule, LifecycleRuleFilter,
};

use crate::store::dynamo::{ALL_INDEX, AUTH_INDEX, EXPIRES, INDEX, SHARD};

/// Waits for a table, and the index `index` if given, to become active; one that never does is
/// an error (the TTL setting and first writes would fail on it).
async fn wait_until_active(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    index: Option<&str>,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .with_context(|| format!("describing table {table}"))?;
        let description = described.table();
        let status = description.and_then(|t| t.table_status()).cloned();
        let index_status = index.map(|name| {
            description
                .map(|t| t.global_secondary_indexes())
                .unwrap_or_default()
                .iter()
                .find(|i| i.index_name() == Some(name))
                .and_then(|i| i.index_status())
                .cloned()
        });
        let index_ready = index_status
            .as_ref()
            .is_none_or(|s| s.as_ref() == Some(&IndexStatus::Active));
        if status == Some(TableStatus::Active) && index_ready {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "table {table} is still {status:?} (index: {index_status:?}) after \
             {TABLE_ACTIVE_TIMEOUT:?}; not continuing"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How long `create_table` waits for a new table (or an index added to one) to become active.
/// Adding an index to a big table backfills it, which may take longer; `init-aws` run again
/// carries on waiting.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// Table capacity for `create_table`: on-demand, or provisioned like the original's
/// `ReadCapacityUnits`/`WriteCapacityUnits`.
#[derive(Clone, Copy, Debug)]
pub enum Capacity {
    OnDemand,
    Provisioned { read: i64, write: i64 },
}

impl Capacity {
    fn throughput(self) -> anyhow::Result<Option<ProvisionedThroughput>> {
        Ok(match self {
            Self::OnDemand => None,
            Self::Provisioned { read, write } => Some(
                ProvisionedThroughput::builder()
                    .read_capacity_units(read)
                    .write_capacity_units(write)
                    .build()?,
            ),
        })
    }
}

fn string_attribute(name: &str) -> anyhow::Result<AttributeDefinition> {
    Ok(AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()?)
}

fn key(name: &str, kind: KeyType) -> anyhow::Result<KeySchemaElement> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()?)
}

/// An index on (hash, range) projecting every attribute.
fn index(
    name: &str,
    hash: &str,
    range: &str,
    capacity: Capacity,
) -> anyhow::Result<GlobalSecondaryIndex> {
    let mut index = GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash)?)
        .key_schema(key(range, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        );
    if let Some(t) = capacity.throughput()? {
        index = index.provisioned_throughput(t);
    }
    Ok(index.build()?)
}

/// Creates a table with hash key `hash_key`, the given string attributes and indexes, waits
/// until it is active and enables TTL on `EXPIRES`. False if the table already existed (then
/// nothing is changed).
async fn create_new_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    hash_key: &str,
    attributes: &[&str],
    indexes: Vec<GlobalSecondaryIndex>,
    capacity: Capacity,
) -> anyhow::Result<bool> {
    let mut request = client
        .create_table()
        .table_name(table)
        .key_schema(key(hash_key, KeyType::Hash)?)
        .set_global_secondary_indexes(Some(indexes));
    for name in attributes {
        request = request.attribute_definitions(string_attribute(name)?);
    }
    request = match capacity.throughput()? {
        None => request.billing_mode(BillingMode::PayPerRequest),
        Some(t) => request
            .billing_mode(BillingMode::Provisioned)
            .provisioned_throughput(t),
    };
    match request.send().await {
        Ok(_) => {}
        Err(DynamoError::ServiceError(e)) if e.err().is_resource_in_use_exception() => {
            return Ok(false);
        }
        Err(err) => {
            return Err(anyhow::Error::new(err).context(format!("creating table {table}")));
        }
    }
    wait_until_active(client, table, None).await?;
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
        .with_context(|| format!("enabling TTL on {table}"))?;
    tracing::info!(table = %table, "table created");
    Ok(true)
}

/// The assets table's attributes that keys of the table or its indexes use.
const ASSET_KEY_ATTRIBUTES: [&str; 4] = ["asset_id", "owner", "created_sort", SHARD];

/// Creates the assets table, its indexes and its TTL setting, and waits until it is active.
/// An existing table is left as it is, except that the all-owners index (`ALL_INDEX`, added
/// when assets got owners) is added to it if missing, and waited for.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    capacity: Capacity,
) -> anyhow::Result<()> {
    let indexes = vec![
        index(INDEX, "owner", "created_sort", capacity)?,
        index(ALL_INDEX, SHARD, "created_sort", capacity)?,
    ];
    if create_new_table(
        client,
        table,
        "asset_id",
        &ASSET_KEY_ATTRIBUTES,
        indexes,
        capacity,
    )
    .await?
    {
        return Ok(());
    }
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .with_context(|| format!("describing table {table}"))?;
    let has_index = described
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .any(|i| i.index_name() == Some(ALL_INDEX));
    if !has_index {
        // A provisioned table needs the index's throughput whatever `capacity` says: its own.
        let capacity = match described.table().and_then(|t| t.provisioned_throughput()) {
            Some(t) if t.read_capacity_units().unwrap_or(0) > 0 => Capacity::Provisioned {
                read: t.read_capacity_units().unwrap_or(1),
                write: t.write_capacity_units().unwrap_or(1),
            },
            _ => Capacity::OnDemand,
        };
        let all = index(ALL_INDEX, SHARD, "created_sort", capacity)?;
        let mut create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(ALL_INDEX)
            .set_key_schema(Some(all.key_schema().to_vec()))
            .set_projection(all.projection().cloned());
        if let Some(t) = all.provisioned_throughput() {
            create = create.provisioned_throughput(t.clone());
        }
        let mut request = client
            .update_table()
            .table_name(table)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .create(create.build()?)
                    .build(),
            );
        // Every key attribute of the table and its indexes (moto replaces the list).
        for name in ASSET_KEY_ATTRIBUTES {
            request = request.attribute_definitions(string_attribute(name)?);
        }
        request
            .send()
            .await
            .with_context(|| format!("adding index {ALL_INDEX} to table {table}"))?;
        tracing::info!(table = %table, index = ALL_INDEX, "adding the all-owners index");
    }
    wait_until_active(client, table, Some(ALL_INDEX)).await?;
    tracing::info!(table = %table, "table exists; left as it is");
    Ok(())
}

/// Creates the auth table (users, API keys, sessions: see `store::dynamo`): hash key `pk`, the
/// `by_kind` index (hash `kind`, range `sort`), TTL on `expires_at` for sessions; waits until it
/// is active. An existing table is left as it is.
pub async fn create_auth_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    capacity: Capacity,
) -> anyhow::Result<()> {
    let indexes = vec![index(AUTH_INDEX, "kind", "sort", capacity)?];
    if !create_new_table(
        client,
        table,
        "pk",
        &["pk", "kind", "sort"],
        indexes,
        capacity,
    )
    .await?
    {
        tracing::info!(table = %table, "auth table exists; left as it is");
    }
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

/// The lifecycle rule `init-aws` keeps on the bucket, by this id.
pub const ABORT_RULE_ID: &str = "assets-abort-incomplete-multipart-uploads";

/// Makes the bucket abort multipart uploads still incomplete `days` after they started (the
/// parts of an upload nobody finished cost storage until then). Other lifecycle rules the
/// bucket has are kept: the configuration is read, this rule replaced, and written back.
pub async fn abort_incomplete_uploads(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    days: i32,
) -> anyhow::Result<()> {
    let mut rules = match client
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(current) => current.rules.unwrap_or_default(),
        Err(S3Error::ServiceError(e)) if e.raw().status().as_u16() == 404 => Vec::new(),
        Err(err) => {
            return Err(anyhow::Error::new(err).context("reading the bucket's lifecycle rules"));
        }
    };
    rules.retain(|rule| rule.id() != Some(ABORT_RULE_ID));
    rules.push(
        LifecycleRule::builder()
            .id(ABORT_RULE_ID)
            .status(ExpirationStatus::Enabled)
            .filter(
                LifecycleRuleFilter::builder()
                    .prefix(crate::objects::KEY_PREFIX)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(days)
                    .build(),
            )
            .build()?,
    );
    client
        .put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()?,
        )
        .send()
        .await
        .context("setting the bucket's lifecycle rules")?;
    tracing::info!(bucket = %bucket, days, "incomplete multipart uploads abort after {days} day(s)");
    Ok(())
}
