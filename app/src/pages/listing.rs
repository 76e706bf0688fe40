//! The asset list as the dashboard holds it: the rows loaded so far for one filter, newest
//! first, and the cursor where the next page starts.
//!
//! "Load more" follows that cursor and appends one page, and moves the person's `Reach` to the
//! new last row. A refresh (the button, a `resync` from the live stream, after a delete or upload)
//! reads again from the top down to that reach, following cursors in requests of at most
//! `MAX_PAGE_SIZE` rows: rows the person loaded stay on screen with fresh states, assets that
//! arrived meanwhile join at the top without pushing loaded rows back behind "Load more", and
//! no row shows twice (cursors are positions in a fixed order, and `append` skips ids already
//! shown). Without a reach a refresh reads the first page, as on the server. Its cost grows
//! with the rows loaded: up to 1,000 rows are one request.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::list_assets;
use crate::model::ErrorBody;
use crate::model::{
    Asset, AssetId, AssetPage, AssetState, DEFAULT_PAGE_SIZE, InvalidInput, ListQuery,
    MAX_PAGE_SIZE, Search, SortOrder,
};

/// Which assets the list shows, in which order (the search form's fields: `pages::search`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Filter {
    pub(crate) state: Option<AssetState>,
    pub(crate) include_deleted: bool,
    /// Filename prefix; empty: any.
    pub(crate) q: String,
    /// `?type=` as the server takes it (`image/*`, `application/pdf`); empty: any.
    pub(crate) kind: String,
    pub(crate) sort: SortOrder,
}

impl Filter {
    /// The search as the server validates it (the page admits pushed changes by it).
    pub(crate) fn search(&self) -> Result<Search, InvalidInput> {
        Search::parse(Some(&self.q), Some(&self.kind), Some(self.sort))
    }

    fn query(&self, cursor: Option<String>, limit: u32) -> ListQuery {
        ListQuery {
            limit: Some(limit.clamp(1, MAX_PAGE_SIZE)),
            cursor,
            state: self.state,
            include_deleted: self.include_deleted,
            // The server lists the signed-in user's own assets (an admin's: everyone's).
            owner: None,
            q: (!self.q.is_empty()).then(|| self.q.clone()),
            content_type: (!self.kind.is_empty()).then(|| self.kind.clone()),
            sort: (self.sort != SortOrder::Newest).then_some(self.sort),
        }
    }
}

/// The rows loaded so far for `filter`, and the cursor of the page after them (none at the end).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Listing {
    pub(crate) filter: Filter,
    pub(crate) items: Vec<Asset>,
    pub(crate) next_cursor: Option<String>,
}

impl Listing {
    fn new(filter: Filter) -> Self {
        Self {
            filter,
            items: Vec::new(),
            next_cursor: None,
        }
    }

    /// Appends the page that follows, skipping rows already shown (defence in depth: pages that
    /// follow each other's cursors do not overlap).
    pub(crate) fn append(&mut self, page: AssetPage) {
        let shown: HashSet<AssetId> = self.items.iter().map(|asset| asset.asset_id).collect();
        self.items.extend(
            page.items
                .into_iter()
                .filter(|asset| !shown.contains(&asset.asset_id)),
        );
        self.next_cursor = page.next_cursor;
    }

    /// How far down this listing goes.
    fn reach(&self) -> Option<Reach> {
        self.items.last().map(|last| Reach {
            created_at: last.created_at,
            asset_id: last.asset_id,
            rows: self.items.len() as u32,
            newest_first: self.filter.sort == SortOrder::Newest,
        })
    }

    /// Whether `page`, fetched from `cursor` for `filter`, continues this listing. A refresh or
    /// a filter change may have replaced the listing while the page was on its way.
    pub(crate) fn continues_at(&self, filter: &Filter, cursor: &str) -> bool {
        self.filter == *filter && self.next_cursor.as_deref() == Some(cursor)
    }
}

/// The last row the person loaded with "Load more", and how many rows that made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reach {
    created_at: DateTime<Utc>,
    asset_id: AssetId,
    rows: u32,
    /// Other orders (oldest, largest) are covered by the row itself only.
    newest_first: bool,
}

impl Reach {
    /// Whether `asset` is this row or further down. The list is ordered newest first by
    /// creation time, which never changes; rows created in the same instant may cost one more
    /// request, never a missing row.
    fn covered_by(&self, asset: &Asset) -> bool {
        asset.asset_id == self.asset_id || (self.newest_first && asset.created_at < self.created_at)
    }
}

/// Reads `filter`'s list from the top: the first page, or down to `reach()` when there is one.
/// `reach` is asked again after each request, so a "Load more" that lands meanwhile is kept.
pub(crate) async fn load_first(
    filter: Filter,
    reach: impl Fn() -> Option<Reach>,
) -> Result<Listing, ErrorBody> {
    let mut listing = Listing::new(filter);
    loop {
        // As many rows as were loaded, in one request when they fit; a page more when new
        // assets at the top pushed the reach further down.
        let still = reach()
            .map_or(0, |reach| reach.rows)
            .saturating_sub(listing.items.len() as u32);
        let limit = still.max(DEFAULT_PAGE_SIZE);
        let page = list_assets(listing.filter.query(listing.next_cursor.clone(), limit)).await?;
        let empty = page.items.is_empty();
        listing.append(page);
        let reached = reach().is_none_or(|reach| {
            listing.items.len() as u32 >= reach.rows && !reach.newest_first
                || listing
                    .items
                    .iter()
                    .rev()
                    .any(|asset| reach.covered_by(asset))
        });
        if reached || empty || listing.next_cursor.is_none() {
            return Ok(listing);
        }
    }
}

/// Appends the page after the rows shown and moves `reach` to its end. A refresh may replace
/// the listing while the page is on its way: the page is appended only to the listing it
/// continues; otherwise this starts again from the new end (a few times at most).
pub(crate) async fn append_next_page(
    listing: Resource<Result<Listing, ErrorBody>>,
    reach: StoredValue<Option<Reach>>,
) -> Result<(), ErrorBody> {
    for _ in 0..3 {
        let Some((filter, cursor)) = listing.with_untracked(|current| match current {
            Some(Ok(current)) => current
                .next_cursor
                .clone()
                .map(|cursor| (current.filter.clone(), cursor)),
            _ => None,
        }) else {
            return Ok(());
        };
        let next = list_assets(filter.query(Some(cursor.clone()), DEFAULT_PAGE_SIZE)).await?;
        let appended = listing.try_update(|current| match current {
            Some(Ok(current)) if current.continues_at(&filter, &cursor) => {
                current.append(next);
                // Set here, in the same turn as the append, so a refresh that is on its way
                // sees it after its next request and reads down to these rows too.
                reach.set_value(current.reach());
                true
            }
            _ => false,
        });
        if appended == Some(true) {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asset `n` was created `n` seconds after midnight (so a higher `n` is newer).
    fn asset(n: u128) -> Asset {
        let created = format!("2025-01-01T00:{:02}:{:02}Z", n / 60, n % 60);
        serde_json::from_value(serde_json::json!({
            "asset_id": uuid::Uuid::from_u128(n),
            "state": "CREATED",
            "createdAt": created,
            "updatedAt": created,
        }))
        .unwrap()
    }

    fn page(ids: &[u128], next: Option<&str>) -> AssetPage {
        AssetPage {
            items: ids.iter().map(|&n| asset(n)).collect(),
            next_cursor: next.map(str::to_string),
        }
    }

    fn ids(listing: &Listing) -> Vec<u128> {
        listing
            .items
            .iter()
            .map(|a| {
                uuid::Uuid::parse_str(&a.asset_id.to_string())
                    .unwrap()
                    .as_u128()
            })
            .collect()
    }

    #[test]
    fn append_adds_the_next_page_once_and_moves_the_cursor() {
        let mut listing = Listing::new(Filter::default());
        listing.append(page(&[1, 2], Some("c2")));
        listing.append(page(&[2, 3], Some("c3")));
        assert_eq!(ids(&listing), [1, 2, 3]);
        assert_eq!(listing.next_cursor.as_deref(), Some("c3"));
        listing.append(page(&[4], None));
        assert_eq!(ids(&listing), [1, 2, 3, 4]);
        assert_eq!(listing.next_cursor, None);
    }

    #[test]
    fn a_page_continues_only_the_listing_it_was_fetched_for() {
        let mut listing = Listing::new(Filter::default());
        listing.append(page(&[1], Some("c1")));
        assert!(listing.continues_at(&Filter::default(), "c1"));
        assert!(!listing.continues_at(&Filter::default(), "c0"));
        let created = Filter {
            state: Some(AssetState::Created),
            ..Filter::default()
        };
        assert!(!listing.continues_at(&created, "c1"));
    }

    #[test]
    fn the_reach_is_the_last_row_loaded_and_covers_it_and_everything_older() {
        let mut listing = Listing::new(Filter::default());
        assert_eq!(listing.reach(), None);
        listing.append(page(&[9, 8, 7], Some("c7")));
        let reach = listing.reach().unwrap();
        assert_eq!(reach.rows, 3);
        assert!(reach.covered_by(&asset(7)));
        assert!(reach.covered_by(&asset(6)));
        assert!(!reach.covered_by(&asset(8)));
        assert!(!reach.covered_by(&asset(10)));
    }

    #[test]
    fn queries_stay_within_the_servers_page_limits() {
        assert_eq!(
            Filter::default().query(None, 5000).limit,
            Some(MAX_PAGE_SIZE)
        );
        assert_eq!(Filter::default().query(None, 0).limit, Some(1));
    }
}
