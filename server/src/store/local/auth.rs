//! Users, API keys and sessions in the embedded store. Conditional writes are `WHERE` clauses:
//! a user changes only from the generation that was read, a key or session is touched only while
//! its row exists.

use app::model::ApiKeyInfo;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{LocalStore, unavailable};
use crate::store::StoreError;
use crate::store::auth::{ApiKeyRecord, AuthStore, SessionRecord, UserRecord};

const USER_COLUMNS: &str = "name, password_hash, admin, created_us, generation";
const KEY_COLUMNS: &str = "key_id, user, label, created_us, last_used_us, expires_us, secret_hash";
const SESSION_COLUMNS: &str = "id_hash, user, generation, created_us, last_seen_us, expires_us";

fn time(row: &Row<'_>, i: usize) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(row.get(i)?).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Integer,
            "timestamp out of range".into(),
        )
    })
}

fn optional_time(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get::<_, Option<i64>>(i)? {
        None => Ok(None),
        Some(_) => time(row, i).map(Some),
    }
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        name: row.get(0)?,
        password_hash: row.get(1)?,
        admin: row.get(2)?,
        created_at: time(row, 3)?,
        generation: row.get::<_, i64>(4)? as u64,
    })
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        info: ApiKeyInfo {
            key_id: row.get(0)?,
            user: row.get(1)?,
            label: row.get(2)?,
            created_at: time(row, 3)?,
            last_used_at: optional_time(row, 4)?,
            expires_at: optional_time(row, 5)?,
        },
        secret_hash: row.get(6)?,
    })
}

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id_hash: row.get(0)?,
        user: row.get(1)?,
        generation: row.get::<_, i64>(2)? as u64,
        created_at: time(row, 3)?,
        last_seen_at: time(row, 4)?,
        expires_at: time(row, 5)?,
    })
}

/// One row changed: done; none: the condition did not hold.
fn one_or(changed: usize, refused: StoreError) -> Result<(), StoreError> {
    if changed == 1 { Ok(()) } else { Err(refused) }
}

#[async_trait]
impl AuthStore for LocalStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let u = user.clone();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    &format!(
                        "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (name) DO NOTHING"
                    ),
                    params![
                        u.name,
                        u.password_hash,
                        u.admin,
                        u.created_at.timestamp_micros(),
                        u.generation as i64
                    ],
                )
                .map_err(unavailable)?;
            one_or(changed, StoreError::AlreadyExists)
        })
        .await
    }

    async fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let name = name.to_string();
        self.read(move |conn| {
            conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"))
                .and_then(|mut stmt| stmt.query_row([name], user_from_row).optional())
                .map_err(unavailable)
        })
        .await
    }

    async fn update_user(&self, current: &UserRecord, next: &UserRecord) -> Result<(), StoreError> {
        let (name, expected) = (current.name.clone(), current.generation);
        let n = next.clone();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE users SET password_hash = ?3, admin = ?4, created_us = ?5,
                         generation = ?6
                     WHERE name = ?1 AND generation = ?2",
                    params![
                        name,
                        expected as i64,
                        n.password_hash,
                        n.admin,
                        n.created_at.timestamp_micros(),
                        n.generation as i64
                    ],
                )
                .map_err(unavailable)?;
            one_or(changed, StoreError::Conflict)
        })
        .await
    }

    async fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            tx.execute("DELETE FROM api_keys WHERE user = ?1", [&name])
                .map_err(unavailable)?;
            let removed = tx
                .execute("DELETE FROM users WHERE name = ?1", [&name])
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(removed == 1)
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
                .and_then(|mut stmt| {
                    stmt.query_map([], user_from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
        })
        .await
    }

    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let k = key.clone();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    &format!(
                        "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT (key_id) DO NOTHING"
                    ),
                    params![
                        k.info.key_id,
                        k.info.user,
                        k.info.label,
                        k.info.created_at.timestamp_micros(),
                        k.info.last_used_at.map(|at| at.timestamp_micros()),
                        k.info.expires_at.map(|at| at.timestamp_micros()),
                        k.secret_hash
                    ],
                )
                .map_err(unavailable)?;
            one_or(changed, StoreError::AlreadyExists)
        })
        .await
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let key_id = key_id.to_string();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row([key_id], key_from_row).optional())
            .map_err(unavailable)
        })
        .await
    }

    async fn list_keys(&self, user: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let user = user.map(str::to_string);
        self.read(move |conn| {
            let sql = match user {
                Some(_) => format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE user = ?1
                     ORDER BY created_us DESC, key_id DESC"
                ),
                None => format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE ?1 IS NULL
                     ORDER BY created_us DESC, key_id DESC"
                ),
            };
            conn.prepare_cached(&sql)
                .and_then(|mut stmt| {
                    stmt.query_map([user], key_from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
        })
        .await
    }

    async fn remove_key(&self, key_id: &str) -> Result<bool, StoreError> {
        let key_id = key_id.to_string();
        self.write(move |conn| {
            conn.execute("DELETE FROM api_keys WHERE key_id = ?1", [key_id])
                .map(|removed| removed == 1)
                .map_err(unavailable)
        })
        .await
    }

    async fn touch_key(&self, key_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let key_id = key_id.to_string();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE api_keys SET last_used_us = ?2 WHERE key_id = ?1",
                    params![key_id, at.timestamp_micros()],
                )
                .map_err(unavailable)?;
            one_or(changed, StoreError::Conflict)
        })
        .await
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let s = session.clone();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            // Sessions past their end are never read again: clear them out on the way.
            tx.execute(
                "DELETE FROM sessions WHERE expires_us <= ?1",
                [Utc::now().timestamp_micros()],
            )
            .map_err(unavailable)?;
            let changed = tx
                .execute(
                    &format!(
                        "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (id_hash) DO NOTHING"
                    ),
                    params![
                        s.id_hash,
                        s.user,
                        s.generation as i64,
                        s.created_at.timestamp_micros(),
                        s.last_seen_at.timestamp_micros(),
                        s.expires_at.timestamp_micros()
                    ],
                )
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            one_or(changed, StoreError::AlreadyExists)
        })
        .await
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let id_hash = id_hash.to_string();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id_hash = ?1 AND expires_us > ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![id_hash, Utc::now().timestamp_micros()],
                    session_from_row,
                )
                .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn touch_session(&self, id_hash: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let id_hash = id_hash.to_string();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE sessions SET last_seen_us = ?2 WHERE id_hash = ?1",
                    params![id_hash, at.timestamp_micros()],
                )
                .map_err(unavailable)?;
            one_or(changed, StoreError::Conflict)
        })
        .await
    }

    async fn remove_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let id_hash = id_hash.to_string();
        self.write(move |conn| {
            conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])
                .map(|_| ())
                .map_err(unavailable)
        })
        .await
    }
}
