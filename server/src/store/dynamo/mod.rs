//! The metadata store in DynamoDB. Every state change is an `UpdateItem` whose
//! `ConditionExpression` checks the version and state that were read. Abandoned `CREATED`
//! records carry a TTL attribute that DynamoDB expires; it is removed when they leave `CREATED`,
//! and reads hide rows whose TTL passed but that DynamoDB has not deleted yet.
//!
//! Listing never scans. One owner's assets, newest first, are one `Query` on the `by_created`
//! index (partition = owner). Every owner's (admins) are spread over `SHARDS` fixed partitions
//! of `all_by_created` (shard from the asset id): one `Query` per shard in parallel, each
//! starting below the cursor and stopping at a page plus one, merged newest first. Search
//! (prefix, type, oldest, largest) and its bounds: `listing`.
//!
//! Users, API keys and sessions live in a second table (`auth`).

use std::collections::HashMap;

use app::model::{Asset, AssetId, AssetState};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeDelta, Utc};

use super::{AssetStore, Cursor, PageRequest, StateCounts, StoreError};

mod auth;
mod items;
mod listing;

pub use listing::MAX_SIZE_SORTED;

use items::{from_item, is_expired, optional_fields, to_item};

/// The index that lists one owner's assets newest first (hash `owner`, range `created_sort`).
pub const INDEX: &str = "by_created";
/// The index that lists every owner's assets: hash `shard`, range `created_sort`.
pub const ALL_INDEX: &str = "all_by_created";
/// The attribute holding an asset's shard of `ALL_INDEX`, "0" .. `SHARDS - 1`.
pub const SHARD: &str = "shard";
/// How many partitions `ALL_INDEX` spreads assets over; an admin's page queries each.
pub const SHARDS: u32 = 8;
/// The `owner` every asset had before assets had owners (such items have no `shard`).
const LEGACY_OWNER: &str = "assets";
/// The TTL attribute (epoch seconds), present only while an asset is `CREATED`; in the auth
/// table, on sessions.
pub const EXPIRES: &str = "expires_at";
/// The auth table's index listing users (by name) and API keys (by user, then age).
pub const AUTH_INDEX: &str = "by_kind";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Users, API keys and sessions.
    auth_table: String,
    /// How long a `CREATED` record lives without an upload before DynamoDB may expire it.
    created_ttl: TimeDelta,
    /// The most items a largest-first listing sorts (`listing::MAX_SIZE_SORTED` by default).
    size_sort_bound: usize,
}

impl DynamoStore {
    pub fn new(client: Client, table: &str, auth_table: &str, created_ttl: TimeDelta) -> Self {
        Self {
            client,
            table: table.to_string(),
            auth_table: auth_table.to_string(),
            created_ttl,
            size_sort_bound: MAX_SIZE_SORTED,
        }
    }

    /// Another bound for largest-first listings (tests reach it without 10,000 items).
    pub fn with_size_sort_bound(mut self, bound: usize) -> Self {
        self.size_sort_bound = bound;
        self
    }

    fn expires_at(&self, asset: &Asset) -> i64 {
        (asset.created_at + self.created_ttl).timestamp()
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(err: E) -> StoreError {
    StoreError::Unavailable(err.into())
}

/// A conditional write's outcome: a failed condition becomes `refused`, anything else failing
/// is the backend's trouble.
fn conditional<O, E, R>(
    result: Result<O, SdkError<E, R>>,
    refused: StoreError,
) -> Result<(), StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(err) if is_condition_failure(&err) => Err(refused),
        Err(err) => Err(unavailable(err)),
    }
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}

impl DynamoStore {
    /// Assets per state, by a `Scan` that reads only `state` (and the TTL, to leave out what
    /// DynamoDB has yet to expire). The metrics' only full read of the table.
    async fn count_states(&self) -> Result<StateCounts, StoreError> {
        let now = Utc::now().timestamp();
        let mut counts = StateCounts::new();
        let mut start_key = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .projection_expression(format!("#state, #{EXPIRES}"))
                .expression_attribute_names("#state", "state")
                .expression_attribute_names(format!("#{EXPIRES}"), EXPIRES)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items().iter().filter(|item| !is_expired(item, now)) {
                let state = item
                    .get("state")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|v| v.parse::<AssetState>().ok())
                    .ok_or_else(|| {
                        StoreError::Unavailable(anyhow::anyhow!("malformed item: state"))
                    })?;
                *counts.entry(state).or_default() += 1;
            }
            match out.last_evaluated_key() {
                Some(key) => start_key = Some(key.clone()),
                None => break,
            }
        }
        Ok(counts)
    }
}

#[async_trait]
impl AssetStore for DynamoStore {
    async fn insert(&self, asset: &Asset) -> Result<(), StoreError> {
        if asset.owner.is_empty() {
            // Every new asset has an owner; an empty one is the caller's bug (and DynamoDB
            // refuses an empty index key).
            return Err(StoreError::Unavailable(anyhow::anyhow!(
                "asset {} has no owner; refusing to store it",
                asset.asset_id
            )));
        }
        // A multipart upload may run for days: the reconciler, which sees its parts arrive,
        // ends it (aborting the parts), never the table's TTL.
        let expires = (asset.state == AssetState::Created && asset.multipart.is_none())
            .then(|| self.expires_at(asset));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(asset, expires)))
            .condition_expression("attribute_not_exists(asset_id)")
            .send()
            .await;
        conditional(result, StoreError::AlreadyExists)
    }

    async fn get(&self, id: AssetId) -> Result<Option<Asset>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("asset_id", s(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        match out.item() {
            Some(item) if !is_expired(item, Utc::now().timestamp()) => from_item(item).map(Some),
            _ => Ok(None),
        }
    }

    async fn update(&self, current: &Asset, next: &Asset) -> Result<(), StoreError> {
        let mut set = vec![
            "#state = :state".to_string(),
            "updated_us = :updated".to_string(),
            "#version = :next_version".to_string(),
        ];
        let mut remove = Vec::new();
        let mut values = HashMap::from([
            (":state".to_string(), s(next.state.as_str())),
            (
                ":updated".to_string(),
                n(next.updated_at.timestamp_micros()),
            ),
            (":next_version".to_string(), n(next.version)),
            (":expected_version".to_string(), n(current.version)),
            (":expected_state".to_string(), s(current.state.as_str())),
        ]);
        for (name, value) in optional_fields(next) {
            match value {
                Some(value) => {
                    set.push(format!("#{name} = :{name}"));
                    values.insert(format!(":{name}"), value);
                }
                None => remove.push(format!("#{name}")),
            }
        }
        if next.state != AssetState::Created {
            remove.push(format!("#{EXPIRES}")); // the asset left CREATED: it must not expire
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let mut names: HashMap<String, String> = optional_fields(next)
            .map(|(name, _)| name)
            .into_iter()
            .chain([EXPIRES])
            .map(|name| (format!("#{name}"), name.to_string()))
            .collect();
        names.insert("#state".into(), "state".into());
        names.insert("#version".into(), "version".into());
        // Only names the expression uses may be sent.
        names.retain(|placeholder, _| expression.contains(placeholder.as_str()));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("asset_id", s(next.asset_id.to_string()))
            .update_expression(expression)
            .condition_expression("#version = :expected_version AND #state = :expected_state")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        conditional(result, StoreError::Conflict)
    }

    async fn remove(&self, id: AssetId, expected_version: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("asset_id", s(id.to_string()))
            .condition_expression("#version = :expected_version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected_version", n(expected_version))
            .send()
            .await;
        conditional(result, StoreError::Conflict)
    }

    async fn list(&self, page: &PageRequest) -> Result<(Vec<Asset>, Option<Cursor>), StoreError> {
        Ok(page.cut(self.list_page(page).await?))
    }

    async fn adopt_unowned(&self, owner: &str) -> Result<u64, StoreError> {
        self.adopt(owner).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn count_by_state(&self) -> Result<StateCounts, StoreError> {
        self.count_states().await
    }

    /// No index counts by state, and counters kept on every write would be one hot item: a
    /// `Scan` (state only) it is, reused for minutes.
    fn count_max_age(&self) -> std::time::Duration {
        std::time::Duration::from_secs(600)
    }
}
