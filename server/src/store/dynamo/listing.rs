//! Listing without a `Scan`, and giving legacy assets an owner.
//!
//! One owner: `Query` `by_created` (`owner = :o AND created_sort < :after`; oldest first:
//! `ScanIndexForward` and `>`). Every owner: the same on each of the `SHARDS` partitions of
//! `all_by_created`, in parallel, each cut at a page plus one, merged: the first page+1 overall
//! is among the shards' first page+1. The cursor becomes the range condition, so no
//! `ExclusiveStartKey` is carried between pages.
//!
//! Search reads only the owner's partition (an admin's: the shards): the filename prefix and
//! the type are filter expressions on `filename_lower` and `type_lower` (the lowercase
//! filename and type essence, written with every item), so a rare prefix may read many of the
//! owner's items to fill a page — bounded by the owner's item count, never the table's.
//! Largest first has no index (one keyed by size would cost a write per index on every size
//! change, and need a backfill of every item): the owner's matching items are read whole and
//! sorted here, up to `MAX_SIZE_SORTED`; beyond, the request is refused (409) and a narrower
//! search works. Items written before search existed lack `filename_lower`/`type_lower` until
//! their next write, so a prefix or type search misses them; `size` they always had.

use std::collections::HashMap;

use app::model::{Asset, AssetState, SortOrder, TypeFilter};
use chrono::Utc;
use futures::{StreamExt as _, TryStreamExt as _};

use super::items::{FILENAME_KEY, TYPE_KEY, from_item, shard_of, sort_key};
use super::{
    ALL_INDEX, DynamoStore, EXPIRES, INDEX, LEGACY_OWNER, SHARD, SHARDS, is_condition_failure, n,
    s, unavailable,
};
use crate::store::{PageRequest, StateFilter, StoreError};

/// How many legacy items `adopt` updates at once.
const ADOPT_CONCURRENCY: usize = 16;

/// The most items a largest-first listing reads: one owner's matching items (an admin's: every
/// owner's) are read and sorted in memory, as no index orders by size. Beyond, `TooBroad`.
pub const MAX_SIZE_SORTED: usize = 10_000;

/// One index partition to walk in creation order.
struct Partition<'a> {
    index: &'static str,
    key: &'static str,
    value: &'a str,
}

impl DynamoStore {
    /// A page plus one of the request's items, in its order: from the owner's partition of
    /// `by_created`, or (admins) from every shard of `all_by_created` in parallel, merged.
    pub(super) async fn list_page(&self, page: &PageRequest) -> Result<Vec<Asset>, StoreError> {
        let shards: Vec<String> = (0..SHARDS).map(|shard| shard.to_string()).collect();
        let partitions: Vec<Partition<'_>> = match &page.owner {
            Some(owner) => vec![Partition {
                index: INDEX,
                key: "owner",
                value: owner,
            }],
            None => shards
                .iter()
                .map(|shard| Partition {
                    index: ALL_INDEX,
                    key: SHARD,
                    value: shard,
                })
                .collect(),
        };
        // A user may be called like the legacy constant: its unadopted items are not theirs.
        let only_adopted = page.owner.is_some();
        let largest = page.search.sort == SortOrder::Largest;
        // Creation order: each partition's first page+1 after the cursor holds the merged
        // page+1. Largest first: every matching item, up to the bound, sorted here.
        let wanted = if largest {
            self.size_sort_bound + 1
        } else {
            page.limit as usize + 1
        };
        let queries = partitions
            .iter()
            .map(|partition| self.walk(partition, page, only_adopted, wanted));
        let mut items: Vec<Asset> = futures::future::try_join_all(queries)
            .await?
            .into_iter()
            .flatten()
            .collect();
        if largest {
            if items.len() > self.size_sort_bound {
                return Err(StoreError::TooBroad(format!(
                    "over {} assets match: sorting them by size needs a narrower search (a \
                     filename prefix, a type or a state)",
                    self.size_sort_bound
                )));
            }
            if let Some(cursor) = &page.after {
                items.retain(|asset| cursor.precedes(asset));
            }
        }
        items.sort_by(|a, b| page.search.sort.order(a, b));
        items.truncate(page.limit as usize + 1);
        Ok(items)
    }

    /// Up to `wanted` of `partition`'s items that pass the request's filters, in creation
    /// order (newest first, or oldest first for `oldest`) after the cursor (largest first: from
    /// the start; the caller applies the cursor): pages through the partition while the
    /// filter drops items.
    async fn walk(
        &self,
        partition: &Partition<'_>,
        page: &PageRequest,
        only_adopted: bool,
        wanted: usize,
    ) -> Result<Vec<Asset>, StoreError> {
        let oldest = page.search.sort == SortOrder::Oldest;
        let mut key_condition = "#pk = :pk".to_string();
        let mut values = HashMap::from([
            (":pk".to_string(), s(partition.value)),
            (":now".to_string(), n(Utc::now().timestamp())),
        ]);
        let mut names = HashMap::from([
            ("#pk".to_string(), partition.key.to_string()),
            (format!("#{EXPIRES}"), EXPIRES.to_string()),
        ]);
        if let Some(cursor) = page
            .after
            .filter(|_| page.search.sort != SortOrder::Largest)
        {
            key_condition.push_str(if oldest {
                " AND created_sort > :after"
            } else {
                " AND created_sort < :after"
            });
            values.insert(":after".into(), s(sort_key(cursor.created_at, cursor.id)));
        }
        let mut filter = vec![format!(
            "(attribute_not_exists(#{EXPIRES}) OR #{EXPIRES} > :now)"
        )];
        let mut name = |n: &str| {
            names.insert(format!("#{n}"), n.to_string());
        };
        match page.filter {
            StateFilter::All => {}
            StateFilter::Live => {
                filter.push("#state <> :state".into());
                values.insert(":state".into(), s(AssetState::Deleted.as_str()));
                name("state");
            }
            StateFilter::Only(state) => {
                filter.push("#state = :state".into());
                values.insert(":state".into(), s(state.as_str()));
                name("state");
            }
        }
        if only_adopted {
            filter.push(format!("attribute_exists(#{SHARD})"));
            name(SHARD);
        }
        if let Some(prefix) = &page.search.name_prefix {
            filter.push(format!("begins_with(#{FILENAME_KEY}, :prefix)"));
            values.insert(":prefix".into(), s(prefix));
            name(FILENAME_KEY);
        }
        match &page.search.kind {
            None => {}
            Some(TypeFilter::Exact(wanted)) => {
                filter.push(format!("#{TYPE_KEY} = :type"));
                values.insert(":type".into(), s(wanted));
                name(TYPE_KEY);
            }
            Some(TypeFilter::Family(family)) => {
                filter.push(format!("begins_with(#{TYPE_KEY}, :type)"));
                values.insert(":type".into(), s(format!("{family}/")));
                name(TYPE_KEY);
            }
        }
        let filter = filter.join(" AND ");
        let mut items = Vec::with_capacity(wanted.min(1024));
        let mut start_key = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(partition.index)
                .key_condition_expression(&key_condition)
                .filter_expression(&filter)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(oldest)
                .limit((wanted - items.len()).min(1000) as i32)
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
        Ok(items)
    }

    /// Gives every legacy item (owner "assets", no shard) to `owner`: found by a `Query` on
    /// the legacy owner's partition of `by_created`, each moved by a conditional update that
    /// holds only while it is still legacy (a concurrent adoption or removal wins).
    pub(super) async fn adopt(&self, owner: &str) -> Result<u64, StoreError> {
        let mut adopted = 0;
        let mut start_key = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX)
                .key_condition_expression("#owner = :legacy")
                .filter_expression(format!("attribute_not_exists(#{SHARD})"))
                .projection_expression("asset_id")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_names(format!("#{SHARD}"), SHARD)
                .expression_attribute_values(":legacy", s(LEGACY_OWNER))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(unavailable)?;
            let ids: Vec<String> = out
                .items()
                .iter()
                .filter_map(|item| item.get("asset_id").and_then(|v| v.as_s().ok()).cloned())
                .collect();
            adopted += futures::stream::iter(ids)
                .map(|id| self.adopt_one(id, owner))
                .buffer_unordered(ADOPT_CONCURRENCY)
                .try_fold(0, |count, done| async move { Ok(count + u64::from(done)) })
                .await?;
            match out.last_evaluated_key() {
                Some(key) => start_key = Some(key.clone()),
                None => break,
            }
        }
        Ok(adopted)
    }

    /// True if this call gave the item its owner.
    async fn adopt_one(&self, id: String, owner: &str) -> Result<bool, StoreError> {
        let shard = id
            .parse()
            .map(shard_of)
            .map_err(|_| StoreError::Unavailable(anyhow::anyhow!("malformed item: asset_id")))?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("asset_id", s(id))
            .update_expression("SET #owner = :owner, #shard = :shard, #version = #version + :one")
            .condition_expression("attribute_not_exists(#shard) AND #owner = :legacy")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#shard", SHARD)
            .expression_attribute_names("#version", "version")
            .set_expression_attribute_values(Some(HashMap::from([
                (":owner".to_string(), s(owner)),
                (":shard".to_string(), s(shard)),
                (":one".to_string(), n(1)),
                (":legacy".to_string(), s(LEGACY_OWNER)),
            ])))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }
}
