//! One contract for the metadata store, run against every implementation.

use std::collections::HashSet;
use std::sync::Arc;

use app::model::{Asset, AssetId, AssetState, Checksum, ChecksumAlgorithm};
use chrono::{Duration, Utc};
use server::provision::{Capacity, create_table};
use server::store::dynamo::DynamoStore;
use server::store::local::LocalStore;

use server::store::{AssetStore, PageRequest, StateFilter, StoreError};

fn new_asset(created_offset_us: i64) -> Asset {
    let at = Utc::now() + Duration::microseconds(created_offset_us);
    Asset {
        asset_id: AssetId::from_uuid(uuid::Uuid::new_v4()),
        state: AssetState::Created,
        created_at: at,
        updated_at: at,
        filename: Some("f.txt".into()),
        content_type: Some("text/plain".into()),
        size: Some(3),
        etag: None,
        checksum: Some(
            Checksum::parse(
                ChecksumAlgorithm::Sha256,
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            )
            .unwrap(),
        ),
        version: 1,
        sequencer: None,
    }
}

/// Truncates to what every store keeps (microseconds).
fn normalized(mut asset: Asset) -> Asset {
    asset.created_at =
        chrono::DateTime::from_timestamp_micros(asset.created_at.timestamp_micros()).unwrap();
    asset.updated_at =
        chrono::DateTime::from_timestamp_micros(asset.updated_at.timestamp_micros()).unwrap();
    asset
}

macro_rules! store_contract {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn insert_then_get_returns_the_same_record() {
                let (store, _guard) = $make;
                let asset = new_asset(0);
                store.insert(&asset).await.unwrap();
                assert_eq!(
                    store.get(asset.asset_id).await.unwrap(),
                    Some(normalized(asset.clone()))
                );
                assert!(matches!(
                    store.insert(&asset).await,
                    Err(StoreError::AlreadyExists)
                ));
                let unknown = AssetId::from_uuid(uuid::Uuid::new_v4());
                assert_eq!(store.get(unknown).await.unwrap(), None);
            }

            #[tokio::test]
            async fn updates_apply_only_from_the_expected_version() {
                let (store, _guard) = $make;
                let asset = new_asset(0);
                store.insert(&asset).await.unwrap();
                let mut next = asset.clone();
                next.state = AssetState::Received;
                next.version = 2;
                next.sequencer = Some("0A".into());
                next.etag = Some("abc".into());
                store.update(&asset, &next).await.unwrap();
                assert_eq!(
                    store.get(asset.asset_id).await.unwrap(),
                    Some(normalized(next.clone()))
                );
                // A writer still holding version 1 loses.
                let mut stale = asset.clone();
                stale.state = AssetState::Deleted;
                stale.version = 2;
                assert!(matches!(
                    store.update(&asset, &stale).await,
                    Err(StoreError::Conflict)
                ));
                // Same version but another state than read: refused too.
                let mut wrong_state = next.clone();
                wrong_state.state = AssetState::Created;
                let mut after = next.clone();
                after.version = 3;
                assert!(matches!(
                    store.update(&wrong_state, &after).await,
                    Err(StoreError::Conflict)
                ));
                assert_eq!(
                    store.get(asset.asset_id).await.unwrap().unwrap().state,
                    AssetState::Received
                );
                // Updating or removing a record that does not exist is a conflict too.
                let ghost = new_asset(0);
                let mut ghost_next = ghost.clone();
                ghost_next.version = 2;
                assert!(matches!(
                    store.update(&ghost, &ghost_next).await,
                    Err(StoreError::Conflict)
                ));
                assert!(matches!(
                    store.remove(ghost.asset_id, 1).await,
                    Err(StoreError::Conflict)
                ));
                // Removal is conditional as well.
                assert!(matches!(
                    store.remove(asset.asset_id, 1).await,
                    Err(StoreError::Conflict)
                ));
                store.remove(asset.asset_id, 2).await.unwrap();
                assert_eq!(store.get(asset.asset_id).await.unwrap(), None);
            }

            #[tokio::test]
            async fn racing_writers_have_exactly_one_winner() {
                let (store, _guard) = $make;
                let store: Arc<dyn AssetStore> = Arc::new(store);
                let asset = new_asset(0);
                store.insert(&asset).await.unwrap();
                let writers = (0..32).map(|i| {
                    let store = store.clone();
                    let mut next = asset.clone();
                    next.version = 2;
                    next.state = if i % 2 == 0 {
                        AssetState::Received
                    } else {
                        AssetState::Deleted
                    };
                    next.sequencer = Some(format!("{i:04X}"));
                    let current = asset.clone();
                    tokio::spawn(async move { store.update(&current, &next).await.map(|_| next) })
                });
                let results = futures::future::join_all(writers).await;
                let winners: Vec<Asset> = results
                    .into_iter()
                    .filter_map(|r| r.unwrap().ok())
                    .collect();
                assert_eq!(winners.len(), 1, "exactly one conditional write wins");
                assert_eq!(
                    store.get(asset.asset_id).await.unwrap(),
                    Some(normalized(winners[0].clone()))
                );
            }

            #[tokio::test]
            async fn pages_list_every_record_once_newest_first() {
                let (store, _guard) = $make;
                let mut expected = Vec::new();
                for i in 0..130 {
                    let mut asset = new_asset(i);
                    if i % 10 == 0 {
                        asset.state = AssetState::Deleted;
                    }
                    store.insert(&asset).await.unwrap();
                    expected.push(asset);
                }
                expected.reverse();
                for (filter, limit) in [
                    (StateFilter::All, 50),
                    (StateFilter::Live, 7),
                    (StateFilter::Only(AssetState::Deleted), 4),
                ] {
                    let wanted: Vec<AssetId> = expected
                        .iter()
                        .filter(|a| filter.admits(a.state))
                        .map(|a| a.asset_id)
                        .collect();
                    let mut seen = Vec::new();
                    let mut after = None;
                    loop {
                        let (items, next) = store
                            .list(&PageRequest {
                                limit,
                                after,
                                filter,
                            })
                            .await
                            .unwrap();
                        assert!(items.len() <= limit as usize);
                        seen.extend(items.iter().map(|a| a.asset_id));
                        match next {
                            Some(cursor) => after = Some(cursor),
                            None => break,
                        }
                    }
                    assert_eq!(
                        seen.iter().collect::<HashSet<_>>().len(),
                        seen.len(),
                        "no duplicates"
                    );
                    assert_eq!(seen, wanted, "{filter:?}");
                }
            }
        }
    };
}

store_contract!(local, {
    let dir = tempfile::tempdir().unwrap();
    (LocalStore::open(dir.path()).unwrap(), dir)
});

async fn dynamo_store(moto: &crate::common::Moto, created_ttl: Duration) -> DynamoStore {
    let table = format!("t{}", uuid::Uuid::new_v4().simple());
    create_table(&moto.dynamodb(), &table, Capacity::OnDemand)
        .await
        .unwrap();
    DynamoStore::new(moto.dynamodb(), &table, created_ttl)
}

store_contract!(dynamo, {
    let moto = crate::common::Moto::start().await;
    (dynamo_store(&moto, Duration::hours(1)).await, moto)
});

#[tokio::test]
async fn dynamo_hides_expired_created_records_and_keeps_them_once_they_move_on() {
    let moto = crate::common::Moto::start().await;
    let store = dynamo_store(&moto, Duration::zero()).await;
    let asset = new_asset(0);
    store.insert(&asset).await.unwrap();
    // Its TTL passed at once: reads and listings hide it, as DynamoDB may take days to delete it.
    assert_eq!(store.get(asset.asset_id).await.unwrap(), None);
    let all = PageRequest {
        limit: 10,
        after: None,
        filter: StateFilter::All,
    };
    assert!(store.list(&all).await.unwrap().0.is_empty());
    // Once it leaves CREATED its TTL attribute is removed: it is visible and stays.
    let mut received = asset.clone();
    received.state = AssetState::Received;
    received.version = 2;
    store.update(&asset, &received).await.unwrap();
    assert_eq!(
        store.get(asset.asset_id).await.unwrap(),
        Some(normalized(received))
    );
    assert_eq!(store.list(&all).await.unwrap().0.len(), 1);
}

#[tokio::test]
async fn the_local_store_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let asset = new_asset(0);
    {
        let store = LocalStore::open(dir.path()).unwrap();
        store.insert(&asset).await.unwrap();
    }
    let reopened = LocalStore::open(dir.path()).unwrap();
    assert_eq!(
        reopened.get(asset.asset_id).await.unwrap(),
        Some(normalized(asset))
    );
}
