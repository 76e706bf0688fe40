//! Listing newest first without a `Scan`, and giving legacy assets an owner.
//!
//! One owner: `Query` `by_created` (`owner = :o AND created_sort < :after`). Every owner: the
//! same on each of the `SHARDS` partitions of `all_by_created`, in parallel, each cut at a page
//! plus one, merged newest first: the newest page+1 overall is among the shards' newest page+1.
//! The cursor becomes the range condition, so no `ExclusiveStartKey` is carried between pages.

use std::collections::HashMap;

use app::model::{Asset, AssetState};
use chrono::Utc;
use futures::{StreamExt as _, TryStreamExt as _};

use super::items::{from_item, shard_of, sort_key};
use super::{
    ALL_INDEX, DynamoStore, EXPIRES, INDEX, LEGACY_OWNER, SHARD, SHARDS, is_condition_failure, n,
    s, unavailable,
};
use crate::store::{PageRequest, StateFilter, StoreError};

/// How many legacy items `adopt` updates at once.
const ADOPT_CONCURRENCY: usize = 16;

/// One index partition to walk newest first.
struct Partition<'a> {
    index: &'static str,
    key: &'static str,
    value: &'a str,
}

impl DynamoStore {
    pub(super) async fn list_owner(
        &self,
        owner: &str,
        page: &PageRequest,
    ) -> Result<Vec<Asset>, StoreError> {
        let partition = Partition {
            index: INDEX,
            key: "owner",
            value: owner,
        };
        // A user may be called like the legacy constant: its unadopted items are not theirs.
        self.newest(
            &partition,
            page,
            Some(format!("attribute_exists(#{SHARD})")),
        )
        .await
    }

    pub(super) async fn list_all(&self, page: &PageRequest) -> Result<Vec<Asset>, StoreError> {
        let shards: Vec<String> = (0..SHARDS).map(|shard| shard.to_string()).collect();
        let queries = shards.iter().map(|shard| {
            let partition = Partition {
                index: ALL_INDEX,
                key: SHARD,
                value: shard,
            };
            async move { self.newest(&partition, page, None).await }
        });
        let mut items: Vec<Asset> = futures::future::try_join_all(queries)
            .await?
            .into_iter()
            .flatten()
            .collect();
        // Newest first, as one index would give them: (created_at, id) descending.
        items.sort_by_key(|a| std::cmp::Reverse((a.created_at, a.asset_id)));
        items.truncate(page.limit as usize + 1);
        Ok(items)
    }

    /// Up to a page plus one of `partition`'s items after the cursor that pass the filter,
    /// newest first: pages through the partition while the filter drops items.
    async fn newest(
        &self,
        partition: &Partition<'_>,
        page: &PageRequest,
        extra_filter: Option<String>,
    ) -> Result<Vec<Asset>, StoreError> {
        let wanted = page.limit as usize + 1; // one extra tells whether a next page exists
        let mut key_condition = "#pk = :pk".to_string();
        let mut values = HashMap::from([
            (":pk".to_string(), s(partition.value)),
            (":now".to_string(), n(Utc::now().timestamp())),
        ]);
        if let Some(cursor) = page.after {
            key_condition.push_str(" AND created_sort < :after");
            values.insert(":after".into(), s(sort_key(cursor.created_at, cursor.id)));
        }
        let mut filter = vec![format!(
            "(attribute_not_exists(#{EXPIRES}) OR #{EXPIRES} > :now)"
        )];
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
        filter.extend(extra_filter);
        let filter = filter.join(" AND ");
        let mut names = HashMap::from([
            ("#pk".to_string(), partition.key.to_string()),
            (format!("#{EXPIRES}"), EXPIRES.to_string()),
        ]);
        for name in ["state", SHARD] {
            if filter.contains(&format!("#{name}")) {
                names.insert(format!("#{name}"), name.to_string());
            }
        }
        let mut items = Vec::with_capacity(wanted);
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
