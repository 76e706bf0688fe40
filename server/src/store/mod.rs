//! The metadata store: where asset records are kept. Stores write "from this version to the
//! next" conditionally; they never decide the lifecycle rules (that is `app::model`).
//! `auth` holds the users, API keys and sessions; both stores keep them too.

pub mod auth;
pub mod dynamo;
pub mod local;
pub mod metered;

use std::collections::HashMap;
use std::time::Duration;

use std::cmp::Ordering;

use app::model::{Asset, AssetId, AssetState, ListPosition, Search, SortOrder, size_key};
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
    /// The store cannot answer this listing within its bounds (see `dynamo`'s largest-first
    /// sort); a narrower search can.
    #[error("{0}")]
    TooBroad(String),
    /// The backend failed; the caller may retry later.
    #[error("metadata store unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
}

/// A request for one page, in the search's order.
#[derive(Clone, Debug)]
pub struct PageRequest {
    /// Only this owner's assets; none: every owner's (admins).
    pub owner: Option<String>,
    pub limit: u32,
    pub after: Option<Cursor>,
    pub filter: StateFilter,
    /// Filename prefix, type and sort order.
    pub search: Search,
}

impl PageRequest {
    /// Stores fetch `limit + 1` rows: the extra one says a next page exists. Cuts them to one
    /// page and the cursor after its last item.
    pub fn cut(&self, mut rows: Vec<Asset>) -> (Vec<Asset>, Option<Cursor>) {
        if rows.len() <= self.limit as usize {
            return (rows, None);
        }
        rows.truncate(self.limit as usize);
        let next = rows.last().map(|last| Cursor::after(last, &self.search));
        (rows, next)
    }

    /// Whether an asset passes every filter of this request but the cursor (stores that
    /// filter after reading use this).
    pub fn admits(&self, asset: &Asset) -> bool {
        self.filter.admits(asset.state)
            && self
                .search
                .admits(asset.filename.as_deref(), asset.content_type.as_deref())
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

/// Position after the last item of a page, in the order it was listed in, and the search it
/// belongs to: a cursor from another sort or search is refused (`BadCursor`), never misread.
///
/// Opaque to clients, but of a shape the API document states exactly (`CURSOR_PATTERN`):
/// `<micros>.<id>` (newest), `o<micros>.<id>` (oldest), `l<size or x>.<micros>.<id>` (largest;
/// `x`: size unknown), then `~<8 hex digits>` when a filename prefix or type narrows the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub sort: SortOrder,
    /// Largest first: the last item's size key (`size_key`); otherwise unused (-1).
    pub size: i64,
    pub created_at: DateTime<Utc>,
    pub id: AssetId,
    /// `Search::fingerprint` of a narrowing search.
    pub fingerprint: Option<u32>,
}

/// The cursor's shape, as the API document states it.
pub const CURSOR_PATTERN: &str = r"^(o?[0-9]{1,16}|l([0-9]{1,19}|x)\.[0-9]{1,16})\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(~[0-9a-f]{8})?$";

impl Cursor {
    pub fn after(asset: &Asset, search: &Search) -> Self {
        Self {
            sort: search.sort,
            size: match search.sort {
                SortOrder::Largest => size_key(asset),
                _ => -1,
            },
            created_at: asset.created_at,
            id: asset.asset_id,
            fingerprint: search.narrows().then(|| search.fingerprint()),
        }
    }

    /// Whether `asset` comes after this cursor in its order.
    pub fn precedes(&self, asset: &Asset) -> bool {
        let mine = ListPosition {
            size: self.size,
            created_at: self.created_at,
            id: self.id,
        };
        mine.cmp_in(self.sort, &ListPosition::of(asset)) == Ordering::Greater
    }

    pub fn encode(&self) -> String {
        let micros = self.created_at.timestamp_micros();
        let mut out = match self.sort {
            SortOrder::Newest => format!("{micros}.{}", self.id),
            SortOrder::Oldest => format!("o{micros}.{}", self.id),
            SortOrder::Largest if self.size < 0 => format!("lx.{micros}.{}", self.id),
            SortOrder::Largest => format!("l{}.{micros}.{}", self.size, self.id),
        };
        if let Some(fingerprint) = self.fingerprint {
            out.push_str(&format!("~{fingerprint:08x}"));
        }
        out
    }

    /// Reads a cursor issued for `search` (same sort, same filters).
    pub fn decode(raw: &str, search: &Search) -> Result<Self, StoreError> {
        let digits = |s: &str, max: usize| {
            if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(StoreError::BadCursor);
            }
            s.parse::<i64>().map_err(|_| StoreError::BadCursor)
        };
        let (body, fingerprint) = match raw.split_once('~') {
            Some((body, hex))
                if hex.len() == 8
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
            {
                (
                    body,
                    Some(u32::from_str_radix(hex, 16).map_err(|_| StoreError::BadCursor)?),
                )
            }
            Some(_) => return Err(StoreError::BadCursor),
            None => (raw, None),
        };
        let (sort, size, rest) = if let Some(rest) = body.strip_prefix('o') {
            (SortOrder::Oldest, -1, rest)
        } else if let Some(rest) = body.strip_prefix('l') {
            let (size, rest) = rest.split_once('.').ok_or(StoreError::BadCursor)?;
            let size = if size == "x" { -1 } else { digits(size, 19)? };
            (SortOrder::Largest, size, rest)
        } else {
            (SortOrder::Newest, -1, body)
        };
        let (micros, id) = rest.split_once('.').ok_or(StoreError::BadCursor)?;
        let created_at =
            DateTime::from_timestamp_micros(digits(micros, 16)?).ok_or(StoreError::BadCursor)?;
        let id = id.parse().map_err(|_| StoreError::BadCursor)?;
        let expected = search.narrows().then(|| search.fingerprint());
        if sort != search.sort || fingerprint != expected {
            return Err(StoreError::BadCursor);
        }
        Ok(Self {
            sort,
            size,
            created_at,
            id,
            fingerprint,
        })
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

    /// One page in the search's order (newest: created_at, then id, descending; oldest: the
    /// reverse; largest: size key, then newest), and the cursor of the next page.
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

    fn asset(id: AssetId, created_at: DateTime<Utc>) -> Asset {
        Asset {
            asset_id: id,
            state: AssetState::Created,
            owner: "alice".into(),
            created_at,
            updated_at: created_at,
            filename: None,
            content_type: None,
            size: None,
            etag: None,
            version: 1,
            sequencer: None,
            checksum: None,
            multipart: None,
        }
    }

    fn search(q: Option<&str>, sort: SortOrder) -> Search {
        Search::parse(q, None, Some(sort)).unwrap()
    }

    #[test]
    fn cursors_round_trip_per_sort_and_reject_garbage() {
        let created_at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let id: AssetId = "1a5ea69a-d30c-11e7-90d0-129b5a655d2d".parse().unwrap();
        let pattern = regex_lite::Regex::new(CURSOR_PATTERN).unwrap();
        for sort in SortOrder::ALL {
            for q in [None, Some("Rep")] {
                for size in [-1, 0, 12345] {
                    let search = search(q, sort);
                    let cursor = Cursor {
                        sort,
                        size: if sort == SortOrder::Largest { size } else { -1 },
                        created_at,
                        id,
                        fingerprint: search.narrows().then(|| search.fingerprint()),
                    };
                    let raw = cursor.encode();
                    assert!(pattern.is_match(&raw), "{raw}");
                    assert_eq!(Cursor::decode(&raw, &search).unwrap(), cursor);
                    // Another sort or another search: refused, never misread.
                    for other in SortOrder::ALL.into_iter().filter(|o| *o != sort) {
                        assert!(Cursor::decode(&raw, &self::search(q, other)).is_err());
                    }
                    let other_q = if q.is_some() { None } else { Some("x") };
                    assert!(Cursor::decode(&raw, &self::search(other_q, sort)).is_err());
                }
            }
        }
        // Today's cursors keep their shape.
        assert_eq!(
            Cursor::after(&asset(id, created_at), &Search::default()).encode(),
            format!("1764000000123456.{id}")
        );
        for bad in [
            "",
            "!!!",
            "bm90LWEtY3Vyc29y",
            "12.not-an-id",
            "-12.1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
            "+12.1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
            "12345678901234567.1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
            "12.1a5ea69a-d30c-11e7-90d0-129b5a655d2d~",
            "12.1a5ea69a-d30c-11e7-90d0-129b5a655d2d~ABCDEF12",
            "12.1a5ea69a-d30c-11e7-90d0-129b5a655d2d~abc",
            "l99999999999999999999.12.1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
        ] {
            assert!(!pattern.is_match(bad), "{bad}");
            assert!(
                matches!(
                    Cursor::decode(bad, &Search::default()),
                    Err(StoreError::BadCursor)
                ),
                "{bad}"
            );
        }
    }
}
