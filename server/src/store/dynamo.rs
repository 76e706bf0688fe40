//! The metadata store in DynamoDB. Every state change is an `UpdateItem` whose
//! `ConditionExpression` checks the version and state that were read; listing newest first is a
//! `Query` on the `by_created` global secondary index (never a `Scan`). Abandoned `CREATED`
//! records carry a TTL attribute that DynamoDB expires; it is removed when they leave `CREATED`,
//! and reads hide rows whose TTL passed but that DynamoDB has not deleted yet.

use std::collections::HashMap;

use app::model::{Asset, AssetId, AssetState, Checksum};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};

use super::{AssetStore, Cursor, PageRequest, StateFilter, StoreError};

/// The index that lists assets newest first.
pub const INDEX: &str = "by_created";
/// Every asset shares this GSI partition, so one `Query` walks them all in creation order.
const OWNER: &str = "assets";
/// The TTL attribute (epoch seconds), present only while an asset is `CREATED`.
pub const EXPIRES: &str = "expires_at";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long a `CREATED` record lives without an upload before DynamoDB may expire it.
    created_ttl: TimeDelta,
}

impl DynamoStore {
    pub fn new(client: Client, table: &str, created_ttl: TimeDelta) -> Self {
        Self {
            client,
            table: table.to_string(),
            created_ttl,
        }
    }

    fn expires_at(&self, asset: &Asset) -> i64 {
        (asset.created_at + self.created_ttl).timestamp()
    }
}

fn sort_key(created_at: DateTime<Utc>, id: AssetId) -> String {
    // Fixed width, so string order is time order; the id breaks ties.
    format!("{:020}#{id}", created_at.timestamp_micros())
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

fn to_item(asset: &Asset, expires_at: Option<i64>) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("asset_id".to_string(), s(asset.asset_id.to_string())),
        ("state".to_string(), s(asset.state.as_str())),
        (
            "created_us".to_string(),
            n(asset.created_at.timestamp_micros()),
        ),
        (
            "updated_us".to_string(),
            n(asset.updated_at.timestamp_micros()),
        ),
        ("version".to_string(), n(asset.version)),
        ("owner".to_string(), s(OWNER)),
        (
            "created_sort".to_string(),
            s(sort_key(asset.created_at, asset.asset_id)),
        ),
    ]);
    for (name, value) in optional_fields(asset) {
        if let Some(value) = value {
            item.insert(name.to_string(), value);
        }
    }
    if let Some(expires_at) = expires_at {
        item.insert(EXPIRES.to_string(), n(expires_at));
    }
    item
}

fn optional_fields(asset: &Asset) -> [(&'static str, Option<AttributeValue>); 6] {
    [
        ("filename", asset.filename.clone().map(s)),
        ("content_type", asset.content_type.clone().map(s)),
        ("size", asset.size.map(n)),
        ("etag", asset.etag.clone().map(s)),
        ("sequencer", asset.sequencer.clone().map(s)),
        (
            "checksum",
            asset.checksum.as_ref().map(|c| s(c.to_tagged())),
        ),
    ]
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Asset, StoreError> {
    let bad = |what: &str| StoreError::Unavailable(anyhow::anyhow!("malformed item: {what}"));
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    let time = |name: &str| {
        number(name)
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(|| bad(name))
    };
    Ok(Asset {
        asset_id: text("asset_id")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("asset_id"))?,
        state: text("state")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("state"))?,
        created_at: time("created_us")?,
        updated_at: time("updated_us")?,
        filename: text("filename"),
        content_type: text("content_type"),
        size: number("size").map(|v| v as u64),
        etag: text("etag"),
        version: number("version").ok_or_else(|| bad("version"))? as u64,
        sequencer: text("sequencer"),
        // A corrupt checksum is an error, never "none": that would skip verification.
        checksum: text("checksum")
            .map(|c| Checksum::from_tagged(&c))
            .transpose()
            .map_err(|e| bad(&format!("checksum: {e}")))?,
    })
}

/// A `CREATED` row past its TTL that DynamoDB has not deleted yet (it may take days).
fn is_expired(item: &HashMap<String, AttributeValue>, now: i64) -> bool {
    item.get(EXPIRES)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|at| at <= now)
}

#[async_trait]
impl AssetStore for DynamoStore {
    async fn insert(&self, asset: &Asset) -> Result<(), StoreError> {
        let expires = (asset.state == AssetState::Created).then(|| self.expires_at(asset));
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
        let mut names: HashMap<String, String> = [
            "filename",
            "content_type",
            "size",
            "etag",
            "sequencer",
            "checksum",
            EXPIRES,
        ]
        .into_iter()
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
        let now = Utc::now().timestamp();
        let wanted = page.limit as usize + 1; // one extra tells whether a next page exists
        let mut items = Vec::with_capacity(wanted);
        let mut start_key = page.after.map(|cursor| {
            HashMap::from([
                ("asset_id".to_string(), s(cursor.id.to_string())),
                ("owner".to_string(), s(OWNER)),
                (
                    "created_sort".to_string(),
                    s(sort_key(cursor.created_at, cursor.id)),
                ),
            ])
        });
        let mut filter = vec![format!(
            "(attribute_not_exists(#{EXPIRES}) OR #{EXPIRES} > :now)"
        )];
        let mut values = HashMap::from([
            (":owner".to_string(), s(OWNER)),
            (":now".to_string(), n(now)),
        ]);
        match page.filter {
            StateFilter::All => {}
            StateFilter::Live => {
                filter.push("#state <> :state".into());
                values.insert(":state".into(), s(AssetState::Deleted.as_str()));
            }
            StateFilter::Only(state) => {
                filter.push("#state = :state".into());
                values.insert(":state".into(), s(state.as_str()));
            }
        }
        let filter = filter.join(" AND ");
        let mut names = HashMap::from([("#owner".to_string(), "owner".to_string())]);
        names.insert(format!("#{EXPIRES}"), EXPIRES.to_string());
        if filter.contains("#state") {
            names.insert("#state".into(), "state".into());
        }
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX)
                .key_condition_expression("#owner = :owner")
                .filter_expression(&filter)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit((wanted - items.len()) as i32)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items() {
                items.push(from_item(item)?);
            }
            match out.last_evaluated_key() {
                Some(key) if items.len() < wanted => start_key = Some(key.clone()),
                _ => break,
            }
        }
        Ok(page.cut(items))
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
}
