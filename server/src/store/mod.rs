//! The metadata store: where asset records are kept. Stores write "from this version to the
//! next" conditionally; they never decide the lifecycle rules (that is `app::model`).
//! `auth` holds the users, API keys and sessions; both stores keep them too.

pub mod auth;
pub mod dynamo;
pub mod local;
pub mod metered;

use std::collections::HashMap;
use std::time::Duration;

use app::model::{Asset, AssetId, AssetState};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record changed (or vanished) since it was read: the conditional write did not apply.
    #[error("the record changed concurrently")]
    Conflict,
    /// A record with this id already exists.
    #[error("the record already exists")]
    AlreadyExists,
    /// A cursor we did not issue.
    #[error("invalid cursor")]
    BadCursor,
    /// The backend failed; the caller may retry later.
    #[error("metadata store unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
}

/// A request for one page, newest first.
#[derive(Clone, Debug)]
pub struct PageRequest {
    /// Only this owner's assets; none: every owner's (admins).
    pub owner: Option<String>,
    pub limit: u32,
    pub after: Option<Cursor>,
    pub filter: StateFilter,
}

impl PageRequest {
    /// Stores fetch `limit + 1` rows: the extra one says a next page exists. Cuts them to one
    /// page and the cursor after its last item.
    pub fn cut(&self, mut rows: Vec<Asset>) -> (Vec<Asset>, Option<Cursor>) {
        if rows.len() <= self.limit as usize {
            return (rows, None);
        }
        rows.truncate(self.limit as usize);
        let next = rows.last().map(Cursor::after);
        (rows, next)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFilter {
    /// Every state but DELETED.
    Live,
    /// Every state.
    All,
    Only(AssetState),
}

impl StateFilter {
    pub fn admits(self, state: AssetState) -> bool {
        match self {
            Self::Live => state != AssetState::Deleted,
            Self::All => true,
            Self::Only(wanted) => state == wanted,
        }
    }
}

/// Position after the last item of a page: (created_at, id), the listing order's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: AssetId,
}

impl Cursor {
    pub fn after(asset: &Asset) -> Self {
        Self {
            created_at: asset.created_at,
            id: asset.asset_id,
        }
    }

    /// Opaque to clients, but of a shape the API document states exactly (`CURSOR_PATTERN`):
    /// "<micros>.<id>", at most 16 digits of microseconds since the epoch.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at.timestamp_micros(), self.id)
    }

    pub fn decode(raw: &str) -> Result<Self, StoreError> {
        let (micros, id) = raw.split_once('.').ok_or(StoreError::BadCursor)?;
        if micros.is_empty() || micros.len() > 16 || !micros.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::BadCursor);
        }
        let micros: i64 = micros.parse().map_err(|_| StoreError::BadCursor)?;
        let created_at = DateTime::from_timestamp_micros(micros).ok_or(StoreError::BadCursor)?;
        let id = id.parse().map_err(|_| StoreError::BadCursor)?;
        Ok(Self { created_at, id })
    }
}

#[async_trait]
pub trait AssetStore: Send + Sync + 'static {
    /// Adds a new record; `AlreadyExists` if the id is taken.
    async fn insert(&self, asset: &Asset) -> Result<(), StoreError>;

    async fn get(&self, id: AssetId) -> Result<Option<Asset>, StoreError>;

    /// Replaces the record `current` (as read) with `next`, only if the stored record still has
    /// `current`'s version and state; `next.version` is `current.version + 1`. `Conflict` otherwise.
    async fn update(&self, current: &Asset, next: &Asset) -> Result<(), StoreError>;

    /// Removes the record only if its stored version is still `expected_version`.
    async fn remove(&self, id: AssetId, expected_version: u64) -> Result<(), StoreError>;

    /// One page, newest first (created_at, then id, descending), and the cursor of the next page.
    async fn list(&self, page: &PageRequest) -> Result<(Vec<Asset>, Option<Cursor>), StoreError>;

    /// Gives every asset stored before assets had owners to `owner`; returns how many.
    async fn adopt_unowned(&self, owner: &str) -> Result<u64, StoreError>;

    /// Whether the backend answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// How many assets are in each state (for metrics; states with none may be absent).
    async fn count_by_state(&self) -> Result<StateCounts, StoreError>;

    /// How long a count may be reused: counting is an index-only `GROUP BY` on SQLite (fresh
    /// every time) but a `Scan` of the whole table on DynamoDB (reused for minutes).
    fn count_max_age(&self) -> Duration {
        Duration::ZERO
    }
}

/// Assets per state.
pub type StateCounts = HashMap<AssetState, u64>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: "1a5ea69a-d30c-11e7-90d0-129b5a655d2d".parse().unwrap(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in [
            "",
            "!!!",
            "bm90LWEtY3Vyc29y",
            "12.not-an-id",
            "-12.1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
            "+12.1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
            "12345678901234567.1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
        ] {
            assert!(
                matches!(Cursor::decode(bad), Err(StoreError::BadCursor)),
                "{bad}"
            );
        }
    }
}
