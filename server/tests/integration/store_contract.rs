//! One contract for the metadata store, run against every implementation.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use app::model::{ApiKeyInfo, Asset, AssetId, AssetState, Checksum, ChecksumAlgorithm};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use server::provision::{Capacity, create_auth_table, create_table};
use server::store::auth::{ApiKeyRecord, AuthStore, SessionRecord, UserRecord};
use server::store::dynamo::{ALL_INDEX, DynamoStore};
use server::store::local::LocalStore;

use server::store::{AssetStore, Cursor, PageRequest, StateFilter, StoreError};

const ALICE: &str = "alice";

fn new_asset(created_offset_us: i64) -> Asset {
    let at = Utc::now() + Duration::microseconds(created_offset_us);
    Asset {
        asset_id: AssetId::from_uuid(uuid::Uuid::new_v4()),
        state: AssetState::Created,
        owner: ALICE.into(),
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
        multipart: None,
        version: 1,
        sequencer: None,
    }
}

fn owned_by(owner: &str, created_offset_us: i64) -> Asset {
    Asset {
        owner: owner.into(),
        ..new_asset(created_offset_us)
    }
}

/// Truncates to what every store keeps (microseconds).
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap()
}

fn normalized(mut asset: Asset) -> Asset {
    asset.created_at = micros(asset.created_at);
    asset.updated_at = micros(asset.updated_at);
    asset
}

fn page(
    owner: Option<&str>,
    limit: u32,
    after: Option<Cursor>,
    filter: StateFilter,
) -> PageRequest {
    PageRequest {
        owner: owner.map(str::to_string),
        limit,
        after,
        filter,
        search: Default::default(),
    }
}

/// Every page of a listing, checking each is within the limit and no item comes twice.
async fn list_all_pages(
    store: &dyn AssetStore,
    owner: Option<&str>,
    limit: u32,
    filter: StateFilter,
) -> Vec<AssetId> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (items, next) = store
            .list(&page(owner, limit, after, filter))
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
    seen
}

/// Ids newest first, as listings order them: (created_at, id) descending.
fn newest_first<'a>(assets: impl IntoIterator<Item = &'a Asset>) -> Vec<AssetId> {
    let mut assets: Vec<&Asset> = assets.into_iter().collect();
    assets.sort_by_key(|a| std::cmp::Reverse((micros(a.created_at), a.asset_id)));
    assets.into_iter().map(|a| a.asset_id).collect()
}

fn user(name: &str, admin: bool) -> UserRecord {
    UserRecord {
        name: name.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1${name}$hash"),
        admin,
        created_at: micros(Utc::now()),
        generation: 1,
    }
}

fn key(user: &str, age_s: i64) -> ApiKeyRecord {
    let key_id = uuid::Uuid::new_v4().simple().to_string();
    ApiKeyRecord {
        info: ApiKeyInfo {
            key_id: key_id.clone(),
            user: user.into(),
            label: format!("key {key_id}"),
            created_at: micros(Utc::now() - Duration::seconds(age_s)),
            last_used_at: None,
            expires_at: (age_s % 2 == 0).then(|| micros(Utc::now() + Duration::days(30))),
        },
        secret_hash: format!("{:064x}", age_s),
    }
}

fn session(user: &str, expires_in: Duration) -> SessionRecord {
    let now = micros(Utc::now());
    SessionRecord {
        id_hash: format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ),
        user: user.into(),
        generation: 1,
        created_at: now,
        last_seen_at: now,
        expires_at: now + expires_in,
    }
}

/// `$make` gives (store, guard); `$legacy(&guard, &asset)` stores `asset` as releases before
/// owners did (no owner).
macro_rules! store_contract {
    ($name:ident, $make:expr, $legacy:path) => {
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
            async fn multipart_uploads_are_kept_and_updated() {
                let (store, _guard) = $make;
                let mut asset = new_asset(0);
                asset.multipart = Some(app::model::MultipartUpload {
                    upload_id: "2~upload/id+with=odd chars".into(),
                    part_size: 16 << 20,
                    part_sha256: true,
                    parts: None,
                });
                store.insert(&asset).await.unwrap();
                assert_eq!(
                    store.get(asset.asset_id).await.unwrap(),
                    Some(normalized(asset.clone()))
                );
                let mut next = asset.clone();
                next.version += 1;
                if let Some(upload) = &mut next.multipart {
                    upload.parts = Some(7);
                }
                store.update(&asset, &next).await.unwrap();
                let stored = store.get(asset.asset_id).await.unwrap().unwrap();
                assert_eq!(stored.multipart.and_then(|m| m.parts), Some(7));
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
            async fn assets_are_counted_by_state() {
                let (store, _guard) = $make;
                assert!(
                    store
                        .count_by_state()
                        .await
                        .unwrap()
                        .values()
                        .all(|n| *n == 0)
                );
                let (a, b, c) = (new_asset(0), new_asset(1), new_asset(2));
                for asset in [&a, &b, &c] {
                    store.insert(asset).await.unwrap();
                }
                let mut deleted = c.clone();
                deleted.state = AssetState::Deleted;
                deleted.version = 2;
                store.update(&c, &deleted).await.unwrap();
                let counts = store.count_by_state().await.unwrap();
                assert_eq!(counts.get(&AssetState::Created), Some(&2));
                assert_eq!(counts.get(&AssetState::Deleted), Some(&1));
                assert_eq!(counts.get(&AssetState::Uploaded).copied().unwrap_or(0), 0);
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
                    let seen = list_all_pages(&store, Some(ALICE), limit, filter).await;
                    assert_eq!(seen, wanted, "{filter:?}");
                }
            }

            #[tokio::test]
            async fn owners_list_only_their_own_and_admins_list_everyones_newest_first() {
                let (store, _guard) = $make;
                let mut all = Vec::new();
                for i in 0..70 {
                    let owner = ["alice", "bob", "carol"][i % 3];
                    let mut asset = owned_by(owner, i as i64);
                    if i % 7 == 0 {
                        asset.state = AssetState::Deleted;
                    }
                    store.insert(&asset).await.unwrap();
                    all.push(asset);
                }
                for owner in ["alice", "bob"] {
                    let wanted = newest_first(
                        all.iter()
                            .filter(|a| a.owner == owner && a.state != AssetState::Deleted),
                    );
                    let seen = list_all_pages(&store, Some(owner), 6, StateFilter::Live).await;
                    assert_eq!(seen, wanted, "{owner}");
                }
                assert!(
                    list_all_pages(&store, Some("nobody"), 5, StateFilter::All)
                        .await
                        .is_empty()
                );
                // Every owner's: many pages, each merging every shard.
                for (filter, limit) in [
                    (StateFilter::All, 9),
                    (StateFilter::Live, 4),
                    (StateFilter::Only(AssetState::Deleted), 3),
                ] {
                    let wanted = newest_first(all.iter().filter(|a| filter.admits(a.state)));
                    let seen = list_all_pages(&store, None, limit, filter).await;
                    assert_eq!(seen, wanted, "{filter:?}");
                }
                let (first, _) = store
                    .list(&page(None, 3, None, StateFilter::All))
                    .await
                    .unwrap();
                assert_eq!(
                    first[0],
                    normalized(all[69].clone()),
                    "records come back whole"
                );
            }

            #[tokio::test]
            async fn adopting_gives_unowned_assets_an_owner_once() {
                let (store, guard) = $make;
                let legacy: Vec<Asset> = (0..3).map(|i| owned_by("", i)).collect();
                for asset in &legacy {
                    $legacy(&guard, asset).await;
                }
                // A user may be called like the old constant owner; theirs stay theirs.
                let theirs = owned_by("assets", 10);
                store.insert(&theirs).await.unwrap();
                let bobs = owned_by("bob", 11);
                store.insert(&bobs).await.unwrap();
                for asset in &legacy {
                    let read = store.get(asset.asset_id).await.unwrap().unwrap();
                    assert_eq!(read.owner, "", "nobody's before adoption");
                }
                assert!(
                    list_all_pages(&store, Some(ALICE), 10, StateFilter::All)
                        .await
                        .is_empty()
                );
                assert_eq!(
                    list_all_pages(&store, Some("assets"), 10, StateFilter::All).await,
                    vec![theirs.asset_id]
                );
                assert_eq!(store.adopt_unowned(ALICE).await.unwrap(), 3);
                for asset in &legacy {
                    let read = store.get(asset.asset_id).await.unwrap().unwrap();
                    assert_eq!(read.owner, ALICE);
                    assert_eq!(read.version, asset.version + 1, "adoption is a change");
                }
                assert_eq!(
                    list_all_pages(&store, Some(ALICE), 2, StateFilter::All).await,
                    newest_first(&legacy)
                );
                assert_eq!(
                    list_all_pages(&store, None, 2, StateFilter::All).await,
                    newest_first(legacy.iter().chain([&theirs, &bobs]))
                );
                assert_eq!(
                    store.get(theirs.asset_id).await.unwrap().unwrap().owner,
                    "assets"
                );
                assert_eq!(store.get(bobs.asset_id).await.unwrap().unwrap().version, 1);
                assert_eq!(store.adopt_unowned("bob").await.unwrap(), 0, "adopted once");
                // A new asset must have an owner.
                assert!(store.insert(&owned_by("", 0)).await.is_err());
            }

            #[tokio::test]
            async fn users_change_only_from_the_generation_read() {
                let (store, _guard) = $make;
                let alice = user("alice", false);
                store.insert_user(&alice).await.unwrap();
                store.insert_user(&user("admin", true)).await.unwrap();
                assert!(matches!(
                    store.insert_user(&user("alice", true)).await,
                    Err(StoreError::AlreadyExists)
                ));
                assert_eq!(store.get_user("alice").await.unwrap(), Some(alice.clone()));
                assert_eq!(store.get_user("nobody").await.unwrap(), None);
                let next = UserRecord {
                    password_hash: "$argon2id$new".into(),
                    generation: 2,
                    ..alice.clone()
                };
                store.update_user(&alice, &next).await.unwrap();
                assert_eq!(store.get_user("alice").await.unwrap(), Some(next.clone()));
                // A writer still holding generation 1 loses.
                let stale = UserRecord {
                    admin: true,
                    generation: 2,
                    ..alice.clone()
                };
                assert!(matches!(
                    store.update_user(&alice, &stale).await,
                    Err(StoreError::Conflict)
                ));
                let ghost = user("ghost", false);
                assert!(matches!(
                    store.update_user(&ghost, &ghost).await,
                    Err(StoreError::Conflict)
                ));
                assert_eq!(
                    store.get_user("ghost").await.unwrap(),
                    None,
                    "not created by an update"
                );
                let names: Vec<String> = store
                    .list_users()
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|u| u.name)
                    .collect();
                assert_eq!(names, ["admin", "alice"]);
                // Removing a user removes their keys, not anyone else's.
                let (k1, k2, other) = (key("alice", 1), key("alice", 2), key("admin", 3));
                for k in [&k1, &k2, &other] {
                    store.insert_key(k).await.unwrap();
                }
                assert!(store.remove_user("alice").await.unwrap());
                assert_eq!(store.get_user("alice").await.unwrap(), None);
                assert_eq!(store.get_key(&k1.info.key_id).await.unwrap(), None);
                assert_eq!(store.get_key(&k2.info.key_id).await.unwrap(), None);
                assert!(store.list_keys(Some("alice")).await.unwrap().is_empty());
                assert_eq!(store.list_keys(None).await.unwrap(), vec![other]);
                assert!(!store.remove_user("alice").await.unwrap());
            }

            #[tokio::test]
            async fn api_keys_list_newest_first_and_stay_revoked() {
                let (store, _guard) = $make;
                // Inserted out of age order; "alice.x" shares alice's name as a prefix.
                let keys = [
                    key("alice", 30),
                    key("alice", 10),
                    key("alice", 20),
                    key("alice.x", 15),
                    key("bob", 5),
                ];
                for k in &keys {
                    store.insert_key(k).await.unwrap();
                }
                assert!(matches!(
                    store.insert_key(&keys[0]).await,
                    Err(StoreError::AlreadyExists)
                ));
                assert_eq!(
                    store.get_key(&keys[0].info.key_id).await.unwrap(),
                    Some(keys[0].clone())
                );
                assert_eq!(store.get_key("unknown").await.unwrap(), None);
                let ids = |list: Vec<ApiKeyRecord>| -> Vec<String> {
                    list.into_iter().map(|k| k.info.key_id).collect()
                };
                let id = |i: usize| keys[i].info.key_id.clone();
                assert_eq!(
                    ids(store.list_keys(Some("alice")).await.unwrap()),
                    [id(1), id(2), id(0)]
                );
                assert_eq!(
                    ids(store.list_keys(None).await.unwrap()),
                    [id(4), id(1), id(3), id(2), id(0)]
                );
                let used = micros(Utc::now());
                store.touch_key(&id(1), used).await.unwrap();
                assert_eq!(
                    store
                        .get_key(&id(1))
                        .await
                        .unwrap()
                        .unwrap()
                        .info
                        .last_used_at,
                    Some(used)
                );
                assert!(store.remove_key(&id(1)).await.unwrap());
                assert!(!store.remove_key(&id(1)).await.unwrap());
                // A late "last used" write does not bring a revoked key back.
                assert!(matches!(
                    store.touch_key(&id(1), used).await,
                    Err(StoreError::Conflict)
                ));
                assert_eq!(store.get_key(&id(1)).await.unwrap(), None);
                assert_eq!(
                    ids(store.list_keys(Some("alice")).await.unwrap()),
                    [id(2), id(0)]
                );
            }

            #[tokio::test]
            async fn sessions_end_when_removed_or_past_their_end() {
                let (store, _guard) = $make;
                let live = session("alice", Duration::hours(1));
                store.insert_session(&live).await.unwrap();
                assert!(matches!(
                    store.insert_session(&live).await,
                    Err(StoreError::AlreadyExists)
                ));
                assert_eq!(
                    store.get_session(&live.id_hash).await.unwrap(),
                    Some(live.clone())
                );
                let seen = micros(Utc::now() + Duration::seconds(5));
                store.touch_session(&live.id_hash, seen).await.unwrap();
                assert_eq!(
                    store
                        .get_session(&live.id_hash)
                        .await
                        .unwrap()
                        .unwrap()
                        .last_seen_at,
                    seen
                );
                store.remove_session(&live.id_hash).await.unwrap();
                assert_eq!(store.get_session(&live.id_hash).await.unwrap(), None);
                store.remove_session(&live.id_hash).await.unwrap();
                assert!(matches!(
                    store.touch_session(&live.id_hash, seen).await,
                    Err(StoreError::Conflict)
                ));
                assert_eq!(
                    store.get_session(&live.id_hash).await.unwrap(),
                    None,
                    "not resurrected"
                );
                let over = session("alice", Duration::seconds(-1));
                store.insert_session(&over).await.unwrap();
                assert_eq!(
                    store.get_session(&over.id_hash).await.unwrap(),
                    None,
                    "past its end"
                );
                assert_eq!(store.get_session("unknown").await.unwrap(), None);
            }
        }
    };
}

store_contract!(
    local,
    {
        let dir = tempfile::tempdir().unwrap();
        (LocalStore::open(dir.path()).unwrap(), dir)
    },
    local_legacy
);

/// The assets schema of the releases before versioned migrations (`user_version` 0), exactly.
const RELEASED_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS assets (
    id           TEXT PRIMARY KEY NOT NULL,
    state        TEXT NOT NULL,
    created_us   INTEGER NOT NULL,
    updated_us   INTEGER NOT NULL,
    filename     TEXT,
    content_type TEXT,
    size         INTEGER,
    etag         TEXT,
    version      INTEGER NOT NULL,
    sequencer    TEXT,
    checksum     TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS assets_newest ON assets (created_us DESC, id DESC);
CREATE INDEX IF NOT EXISTS assets_by_state ON assets (state, created_us DESC, id DESC);
";

fn metadata_file(dir: &tempfile::TempDir) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.path().join("assets.sqlite3")).unwrap()
}

/// Inserts a row as the released schema's writer did (no owner column to fill).
fn insert_released_row(conn: &rusqlite::Connection, asset: &Asset) {
    conn.execute(
        "INSERT INTO assets (id, state, created_us, updated_us, filename, content_type, size,
             etag, version, sequencer, checksum)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, NULL, ?9)",
        rusqlite::params![
            asset.asset_id.to_string(),
            asset.state.as_str(),
            asset.created_at.timestamp_micros(),
            asset.updated_at.timestamp_micros(),
            asset.filename,
            asset.content_type,
            asset.size.map(|s| s as i64),
            asset.version as i64,
            asset.checksum.as_ref().map(Checksum::to_tagged),
        ],
    )
    .unwrap();
}

async fn local_legacy(dir: &tempfile::TempDir, asset: &Asset) {
    insert_released_row(&metadata_file(dir), asset);
}

#[tokio::test]
async fn a_released_data_directory_migrates_in_place_once() {
    let dir = tempfile::tempdir().unwrap();
    let old: Vec<Asset> = (0..2).map(|i| owned_by("", i)).collect();
    {
        let conn = metadata_file(&dir);
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(RELEASED_SCHEMA).unwrap();
        for asset in &old {
            insert_released_row(&conn, asset);
        }
    }
    let version = |dir: &tempfile::TempDir| -> i64 {
        metadata_file(dir)
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap()
    };
    assert_eq!(version(&dir), 0);
    {
        let store = LocalStore::open(dir.path()).unwrap();
        assert_eq!(version(&dir), server::store::local::SCHEMA_VERSION);
        for asset in &old {
            assert_eq!(
                store.get(asset.asset_id).await.unwrap(),
                Some(normalized(asset.clone())),
                "kept, nobody's"
            );
        }
        // The new tables work on the migrated file.
        store.insert_user(&user("admin", true)).await.unwrap();
        assert_eq!(store.adopt_unowned("admin").await.unwrap(), 2);
        store.insert(&owned_by("admin", 5)).await.unwrap();
    }
    // Opening again changes nothing.
    let store = LocalStore::open(dir.path()).unwrap();
    assert_eq!(version(&dir), server::store::local::SCHEMA_VERSION);
    assert_eq!(store.adopt_unowned("other").await.unwrap(), 0);
    assert!(store.get_user("admin").await.unwrap().is_some());
    let mine = list_all_pages(&store, Some("admin"), 10, StateFilter::All).await;
    assert_eq!(mine.len(), 3);
    for asset in &old {
        let read = store.get(asset.asset_id).await.unwrap().unwrap();
        assert_eq!((read.owner.as_str(), read.version), ("admin", 2));
    }
    // Search finds the rows stored before it existed: version 4 filled in their keys.
    let search = app::model::Search::parse(Some("F."), Some("TEXT/*"), None).unwrap();
    let request = PageRequest {
        search,
        ..page(Some("admin"), 10, None, StateFilter::All)
    };
    let (found, _) = store.list(&request).await.unwrap();
    for asset in &old {
        assert!(found.iter().any(|a| a.asset_id == asset.asset_id));
    }
}

#[tokio::test]
async fn a_data_directory_from_a_newer_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(LocalStore::open(dir.path()).unwrap());
    metadata_file(&dir)
        .pragma_update(
            None,
            "user_version",
            server::store::local::SCHEMA_VERSION + 1,
        )
        .unwrap();
    let err = LocalStore::open(dir.path()).err().unwrap();
    assert!(format!("{err:#}").contains("newer release"), "{err:#}");
}

/// A DynamoDB store on fresh tables; the guard keeps moto and names the assets table.
async fn dynamo_store(moto: &crate::common::Moto, created_ttl: Duration) -> (DynamoStore, String) {
    let table = format!("t{}", uuid::Uuid::new_v4().simple());
    let auth_table = format!("{table}-auth");
    let client = moto.dynamodb();
    create_table(&client, &table, Capacity::OnDemand)
        .await
        .unwrap();
    create_auth_table(&client, &auth_table, Capacity::OnDemand)
        .await
        .unwrap();
    (
        DynamoStore::new(client, &table, &auth_table, created_ttl),
        table,
    )
}

store_contract!(
    dynamo,
    {
        let moto = crate::common::Moto::start().await;
        let (store, table) = dynamo_store(&moto, Duration::hours(1)).await;
        (store, (moto, table))
    },
    dynamo_legacy
);

/// An item as releases before owners wrote it: the constant owner "assets", no shard.
fn released_item(asset: &Asset) -> HashMap<String, AttributeValue> {
    let s = |v: String| AttributeValue::S(v);
    let n = |v: i64| AttributeValue::N(v.to_string());
    HashMap::from([
        ("asset_id".into(), s(asset.asset_id.to_string())),
        ("state".into(), s(asset.state.as_str().into())),
        ("created_us".into(), n(asset.created_at.timestamp_micros())),
        ("updated_us".into(), n(asset.updated_at.timestamp_micros())),
        ("version".into(), n(asset.version as i64)),
        ("owner".into(), s("assets".into())),
        (
            "created_sort".into(),
            s(format!(
                "{:020}#{}",
                asset.created_at.timestamp_micros(),
                asset.asset_id
            )),
        ),
        ("filename".into(), s(asset.filename.clone().unwrap())),
        (
            "content_type".into(),
            s(asset.content_type.clone().unwrap()),
        ),
        ("size".into(), n(asset.size.unwrap() as i64)),
        (
            "checksum".into(),
            s(asset.checksum.as_ref().unwrap().to_tagged()),
        ),
    ])
}

async fn dynamo_legacy((moto, table): &(crate::common::Moto, String), asset: &Asset) {
    put_released(&moto.dynamodb(), table, asset).await;
}

async fn put_released(client: &aws_sdk_dynamodb::Client, table: &str, asset: &Asset) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(released_item(asset)))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn init_aws_adds_the_all_owners_index_to_a_released_table() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let moto = crate::common::Moto::start().await;
    let client = moto.dynamodb();
    let table = format!("t{}", uuid::Uuid::new_v4().simple());
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    // The table as the released `init-aws` made it: one index, on the constant owner.
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(attr("asset_id"))
        .attribute_definitions(attr("owner"))
        .attribute_definitions(attr("created_sort"))
        .key_schema(key("asset_id", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_created")
                .key_schema(key("owner", KeyType::Hash))
                .key_schema(key("created_sort", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let old: Vec<Asset> = (0..3).map(|i| owned_by("", i)).collect();
    for asset in &old {
        put_released(&client, &table, asset).await;
    }
    for _ in 0..2 {
        create_table(&client, &table, Capacity::OnDemand)
            .await
            .unwrap();
        let described = client
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .unwrap();
        let names: Vec<&str> = described
            .table()
            .unwrap()
            .global_secondary_indexes()
            .iter()
            .filter_map(|i| i.index_name())
            .collect();
        assert!(
            names.contains(&ALL_INDEX) && names.contains(&"by_created"),
            "{names:?}"
        );
    }
    let auth_table = format!("{table}-auth");
    for _ in 0..2 {
        create_auth_table(&client, &auth_table, Capacity::OnDemand)
            .await
            .unwrap();
    }
    let store = DynamoStore::new(client, &table, &auth_table, Duration::hours(1));
    assert_eq!(store.adopt_unowned(ALICE).await.unwrap(), 3);
    assert_eq!(
        list_all_pages(&store, None, 2, StateFilter::All).await,
        newest_first(&old)
    );
}

#[tokio::test]
async fn dynamo_hides_expired_created_records_and_keeps_them_once_they_move_on() {
    let moto = crate::common::Moto::start().await;
    let (store, _table) = dynamo_store(&moto, Duration::zero()).await;
    let asset = new_asset(0);
    store.insert(&asset).await.unwrap();
    // Its TTL passed at once: reads and listings hide it, as DynamoDB may take days to delete it.
    assert_eq!(store.get(asset.asset_id).await.unwrap(), None);
    for owner in [Some(ALICE), None] {
        let all = page(owner, 10, None, StateFilter::All);
        assert!(store.list(&all).await.unwrap().0.is_empty());
    }
    // Once it leaves CREATED its TTL attribute is removed: it is visible and stays.
    let mut received = asset.clone();
    received.state = AssetState::Received;
    received.version = 2;
    store.update(&asset, &received).await.unwrap();
    assert_eq!(
        store.get(asset.asset_id).await.unwrap(),
        Some(normalized(received))
    );
    for owner in [Some(ALICE), None] {
        let all = page(owner, 10, None, StateFilter::All);
        assert_eq!(store.list(&all).await.unwrap().0.len(), 1);
    }
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
