//! The embedded store's schema, one numbered step at a time. `PRAGMA user_version` records the
//! last step applied; each step runs in its own transaction with the version bump, so a crash
//! leaves the file at one version or the next, never between.

use anyhow::Context as _;
use app::model::{filename_key, type_key};
use rusqlite::{Connection, TransactionBehavior};

/// Version 1: the schema of the releases before versioned migrations. Their files say
/// `user_version` 0 but have these tables; `IF NOT EXISTS` makes this step a no-op on them.
const V1: &str = "
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

/// Version 2: owners, users, API keys and sessions. Assets stored before have no owner (NULL)
/// until `adopt_unowned` gives them one.
const V2: &str = "
ALTER TABLE assets ADD COLUMN owner TEXT;
CREATE INDEX assets_by_owner ON assets (owner, created_us DESC, id DESC);
CREATE TABLE users (
    name          TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    admin         INTEGER NOT NULL,
    created_us    INTEGER NOT NULL,
    generation    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE api_keys (
    key_id       TEXT PRIMARY KEY NOT NULL,
    user         TEXT NOT NULL,
    label        TEXT NOT NULL,
    created_us   INTEGER NOT NULL,
    last_used_us INTEGER,
    expires_us   INTEGER,
    secret_hash  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX api_keys_by_user ON api_keys (user, created_us DESC, key_id DESC);
CREATE INDEX api_keys_newest ON api_keys (created_us DESC, key_id DESC);
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY NOT NULL,
    user         TEXT NOT NULL,
    generation   INTEGER NOT NULL,
    created_us   INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL,
    expires_us   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_expiry ON sessions (expires_us);
";

/// Version 3: multipart uploads (`MultipartUpload` as JSON: upload id, part size, ...).
const V3: &str = "
ALTER TABLE assets ADD COLUMN multipart TEXT;
";

/// Version 4: search. The Unicode lowercase filename and the lowercase type essence (SQLite's
/// `lower()` knows ASCII only: `fill_search_keys` computes them in Rust for existing rows), and
/// the indexes that list by filename prefix and by size (unknown size as -1: last).
const V4: &str = "
ALTER TABLE assets ADD COLUMN filename_lower TEXT;
ALTER TABLE assets ADD COLUMN type_lower TEXT;
CREATE INDEX assets_by_owner_name ON assets (owner, filename_lower, created_us DESC, id DESC);
CREATE INDEX assets_by_name ON assets (filename_lower, created_us DESC, id DESC);
CREATE INDEX assets_by_owner_size ON assets (owner, coalesce(size, -1) DESC, created_us DESC, id DESC);
CREATE INDEX assets_by_size ON assets (coalesce(size, -1) DESC, created_us DESC, id DESC);
";

/// Step `i` brings the file to version `i + 1`. Append only; never edit a released step.
const STEPS: [&str; 4] = [V1, V2, V3, V4];

/// The version this release writes.
pub const CURRENT: i64 = STEPS.len() as i64;

/// Brings the file to `CURRENT`; refuses a file written by a newer release.
pub(super) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    for (index, sql) in STEPS.iter().enumerate() {
        let version = index as i64 + 1;
        // IMMEDIATE: take the write lock before reading the version, so two processes opening
        // the same file cannot both apply a step.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting a migration")?;
        let found = user_version(&tx)?;
        anyhow::ensure!(
            found <= CURRENT,
            "the metadata file has schema version {found}; this release knows up to {CURRENT} \
             (it was written by a newer release)"
        );
        if found >= version {
            continue; // dropping `tx` rolls back nothing
        }
        tx.execute_batch(sql)
            .with_context(|| format!("migrating the metadata file to version {version}"))?;
        if version == 4 {
            fill_search_keys(&tx).context("filling the search columns")?;
        }
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()
            .with_context(|| format!("committing schema version {version}"))?;
        tracing::info!(version, "metadata schema migrated");
    }
    Ok(())
}

/// Computes `filename_lower` and `type_lower` of every existing row (version 4).
fn fill_search_keys(conn: &Connection) -> rusqlite::Result<()> {
    let mut read = conn.prepare(
        "SELECT id, filename, content_type FROM assets
         WHERE filename IS NOT NULL OR content_type IS NOT NULL",
    )?;
    let rows = read
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<String>>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut write =
        conn.prepare("UPDATE assets SET filename_lower = ?2, type_lower = ?3 WHERE id = ?1")?;
    for (id, filename, content_type) in rows {
        write.execute(rusqlite::params![
            id,
            filename.as_deref().map(filename_key),
            content_type.as_deref().map(type_key),
        ])?;
    }
    Ok(())
}

pub(super) fn user_version(conn: &Connection) -> anyhow::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .context("reading the schema version")
}
