//! Assets as DynamoDB items, and back.

use std::collections::HashMap;

use app::model::{Asset, AssetId, Checksum, filename_key, type_key};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::{EXPIRES, SHARD, SHARDS, n, s};
use crate::store::StoreError;

/// The lowercase filename a prefix search matches (`begins_with`).
pub(super) const FILENAME_KEY: &str = "filename_lower";
/// The lowercase type essence a type filter matches.
pub(super) const TYPE_KEY: &str = "type_lower";

/// The listing order's key: fixed width, so string order is time order; the id breaks ties.
pub(super) fn sort_key(created_at: DateTime<Utc>, id: AssetId) -> String {
    format!("{:020}#{id}", created_at.timestamp_micros())
}

/// Which of the `SHARDS` partitions of the all-owners index an asset is in: from the id's last
/// hex digit, random in UUID v4 and v7 alike.
pub(super) fn shard_of(id: AssetId) -> String {
    let text = id.to_string();
    let digit = text
        .chars()
        .next_back()
        .and_then(|c| c.to_digit(16))
        .unwrap_or(0);
    (digit % SHARDS).to_string()
}

pub(super) fn to_item(asset: &Asset, expires_at: Option<i64>) -> HashMap<String, AttributeValue> {
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
        ("owner".to_string(), s(&asset.owner)),
        (SHARD.to_string(), s(shard_of(asset.asset_id))),
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

pub(super) fn optional_fields(asset: &Asset) -> [(&'static str, Option<AttributeValue>); 9] {
    [
        (
            FILENAME_KEY,
            asset.filename.as_deref().map(filename_key).map(s),
        ),
        (TYPE_KEY, asset.content_type.as_deref().map(type_key).map(s)),
        ("filename", asset.filename.clone().map(s)),
        ("content_type", asset.content_type.clone().map(s)),
        ("size", asset.size.map(n)),
        ("etag", asset.etag.clone().map(s)),
        ("sequencer", asset.sequencer.clone().map(s)),
        (
            "checksum",
            asset.checksum.as_ref().map(|c| s(c.to_tagged())),
        ),
        (
            "multipart",
            // Serializing plain strings and numbers cannot fail.
            asset
                .multipart
                .as_ref()
                .and_then(|m| serde_json::to_string(m).ok())
                .map(s),
        ),
    ]
}

pub(super) fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Asset, StoreError> {
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
        // An item without a shard was written before assets had owners: its `owner` is the
        // old constant, and it is nobody's until `adopt_unowned`.
        owner: if item.contains_key(SHARD) {
            text("owner").ok_or_else(|| bad("owner"))?
        } else {
            String::new()
        },
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
        multipart: text("multipart")
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| bad(&format!("multipart: {e}")))?,
    })
}

/// A `CREATED` row past its TTL that DynamoDB has not deleted yet (it may take days).
pub(super) fn is_expired(item: &HashMap<String, AttributeValue>, now: i64) -> bool {
    item.get(EXPIRES)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|at| at <= now)
}
