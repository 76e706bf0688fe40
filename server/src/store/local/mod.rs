//! The embedded metadata store: one SQLite file in the data directory (WAL, synchronous=FULL:
//! a committed write survives a crash). Conditional writes are `UPDATE ... WHERE version = ?`.
//! SQLite calls block, so they run on the blocking pool, never on the async workers.
//! The schema is versioned (`migrations`); users, API keys and sessions live here too (`auth`).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use app::model::{Asset, AssetId, Checksum, filename_key, type_key};
use async_trait::async_trait;
use chrono::DateTime;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use super::{AssetStore, Cursor, PageRequest, StateCounts, StoreError};

mod auth;
mod group;
mod listing;
mod migrations;

pub use migrations::CURRENT as SCHEMA_VERSION;

const READERS: usize = 4;

#[derive(Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    queue: group::WriteQueue,
}

impl LocalStore {
    /// Opens (or creates) `dir/assets.sqlite3`.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("assets.sqlite3");
        let mut writer =
            Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "FULL")?;
        writer.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| {
                let conn = Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(Mutex::new(conn))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .context("opening read connections")?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                queue: group::WriteQueue::default(),
            }),
        })
    }

    async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner
                .writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            op(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.into()))?
    }

    async fn read<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            // Take a free reader if there is one, else wait for ours in the rotation.
            let conn = (0..READERS)
                .find_map(|i| inner.readers[(start + i) % READERS].try_lock().ok())
                .unwrap_or_else(|| {
                    inner.readers[start % READERS]
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                });
            op(&conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.into()))?
    }
}

fn unavailable(err: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(err.into())
}

/// Every new asset has an owner; an empty one is the caller's bug, refused rather than stored
/// as "nobody's".
fn unowned(id: AssetId) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!(
        "asset {id} has no owner; refusing to store it"
    ))
}

fn asset_from_row(row: &Row<'_>) -> rusqlite::Result<Asset> {
    let text = |i: usize| -> rusqlite::Result<String> { row.get(i) };
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            what.to_string().into(),
        )
    };
    let time = |i: usize| -> rusqlite::Result<_> {
        DateTime::from_timestamp_micros(row.get(i)?).ok_or_else(|| bad(i, "timestamp out of range"))
    };
    Ok(Asset {
        asset_id: text(0)?.parse().map_err(|_| bad(0, "bad asset id"))?,
        state: text(1)?.parse().map_err(|_| bad(1, "bad state"))?,
        // Stored before assets had owners: nobody's until `adopt_unowned`.
        owner: row.get::<_, Option<String>>(11)?.unwrap_or_default(),
        created_at: time(2)?,
        updated_at: time(3)?,
        filename: row.get(4)?,
        content_type: row.get(5)?,
        size: row.get::<_, Option<i64>>(6)?.map(|s| s as u64),
        etag: row.get(7)?,
        version: row.get::<_, i64>(8)? as u64,
        sequencer: row.get(9)?,
        // A corrupt checksum is an error, never "none": that would skip verification.
        checksum: row
            .get::<_, Option<String>>(10)?
            .map(|c| Checksum::from_tagged(&c))
            .transpose()
            .map_err(|e| bad(10, &e.message))?,
        multipart: row
            .get::<_, Option<String>>(12)?
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| bad(12, &format!("multipart: {e}")))?,
    })
}

/// The record's multipart upload, as stored (JSON).
fn multipart_column(asset: &Asset) -> Result<Option<String>, StoreError> {
    asset
        .multipart
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Unavailable(e.into()))
}

const COLUMNS: &str = "id, state, created_us, updated_us, filename, content_type, size, etag, version, sequencer, checksum, owner, multipart";

#[async_trait]
impl AssetStore for LocalStore {
    async fn insert(&self, asset: &Asset) -> Result<(), StoreError> {
        if asset.owner.is_empty() {
            return Err(unowned(asset.asset_id));
        }
        let a = asset.clone();
        let multipart = multipart_column(&a)?;
        self.write_grouped(move |conn| {
            let inserted = conn
                .execute(
                    &format!(
                        "INSERT INTO assets ({COLUMNS}, filename_lower, type_lower)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                         ON CONFLICT (id) DO NOTHING"
                    ),
                    params![
                        a.asset_id.to_string(),
                        a.state.as_str(),
                        a.created_at.timestamp_micros(),
                        a.updated_at.timestamp_micros(),
                        a.filename,
                        a.content_type,
                        a.size.map(|s| s as i64),
                        a.etag,
                        a.version as i64,
                        a.sequencer,
                        a.checksum.as_ref().map(Checksum::to_tagged),
                        a.owner,
                        multipart,
                        a.filename.as_deref().map(filename_key),
                        a.content_type.as_deref().map(type_key),
                    ],
                )
                .map_err(unavailable)?;
            if inserted == 0 {
                Err(StoreError::AlreadyExists)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn get(&self, id: AssetId) -> Result<Option<Asset>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM assets WHERE id = ?1"))
                .and_then(|mut stmt| stmt.query_row([id.to_string()], asset_from_row).optional())
                .map_err(unavailable)
        })
        .await
    }

    async fn update(&self, current: &Asset, next: &Asset) -> Result<(), StoreError> {
        let a = next.clone();
        let multipart = multipart_column(&a)?;
        let (expected_version, expected_state) = (current.version, current.state.as_str());
        self.write_grouped(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE assets SET state = ?2, updated_us = ?3, filename = ?4, content_type = ?5,
                         size = ?6, etag = ?7, version = ?8, sequencer = ?9, checksum = ?12,
                         multipart = ?13, filename_lower = ?14, type_lower = ?15
                     WHERE id = ?1 AND version = ?10 AND state = ?11",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        a.asset_id.to_string(),
                        a.state.as_str(),
                        a.updated_at.timestamp_micros(),
                        a.filename,
                        a.content_type,
                        a.size.map(|s| s as i64),
                        a.etag,
                        a.version as i64,
                        a.sequencer,
                        expected_version as i64,
                        expected_state,
                        a.checksum.as_ref().map(Checksum::to_tagged),
                        multipart,
                        a.filename.as_deref().map(filename_key),
                        a.content_type.as_deref().map(type_key),
                    ])
                })
                .map_err(unavailable)?;
            if changed == 1 { Ok(()) } else { Err(StoreError::Conflict) }
        })
        .await
    }

    async fn remove(&self, id: AssetId, expected_version: u64) -> Result<(), StoreError> {
        self.write_grouped(move |conn| {
            let changed = conn
                .execute(
                    "DELETE FROM assets WHERE id = ?1 AND version = ?2",
                    params![id.to_string(), expected_version as i64],
                )
                .map_err(unavailable)?;
            if changed == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict)
            }
        })
        .await
    }

    async fn list(&self, page: &PageRequest) -> Result<(Vec<Asset>, Option<Cursor>), StoreError> {
        let page = page.clone();
        self.read(move |conn| {
            let (sql, values) = listing::list_sql(&page);
            let mut stmt = conn.prepare_cached(&sql).map_err(unavailable)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(values), asset_from_row)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(unavailable)?;
            Ok(page.cut(rows))
        })
        .await
    }

    async fn adopt_unowned(&self, owner: &str) -> Result<u64, StoreError> {
        let owner = owner.to_string();
        self.write(move |conn| {
            conn.execute(
                "UPDATE assets SET owner = ?1, version = version + 1 WHERE owner IS NULL",
                [owner],
            )
            .map(|changed| changed as u64)
            .map_err(unavailable)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(unavailable)
        })
        .await
    }

    async fn count_by_state(&self) -> Result<StateCounts, StoreError> {
        self.read(|conn| {
            // Walks the `assets_by_state` index only.
            let mut stmt = conn
                .prepare_cached("SELECT state, COUNT(*) FROM assets GROUP BY state")
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(unavailable)?;
            rows.into_iter()
                .map(|(state, count)| {
                    let state = state.parse().map_err(|_| {
                        StoreError::Unavailable(anyhow::anyhow!("bad state {state:?} stored"))
                    })?;
                    Ok((state, count.max(0) as u64))
                })
                .collect()
        })
        .await
    }
}
