//! A pushed change (`GET /assets/events`) applied to the rows shown, without refetching: the
//! row with the same id is replaced when the change is newer, a new asset that passes the
//! filter (state, name prefix, type) joins in its place in the list's order, a row that no longer passes (deleted
//! while deleted rows are hidden, another state than the one filtered on, removed for good)
//! leaves.

use super::listing::{Filter, Listing};
use crate::model::{Asset, AssetChange, AssetState};

impl Filter {
    /// Whether the list for this filter shows `asset` (as the server's listing decides).
    pub(crate) fn admits(&self, asset: &Asset) -> bool {
        let state = match self.state {
            Some(state) => asset.state == state,
            None => self.include_deleted || asset.state != AssetState::Deleted,
        };
        // A search the server refused lists nothing, so it admits nothing.
        state
            && self.search().is_ok_and(|search| {
                search.admits(asset.filename.as_deref(), asset.content_type.as_deref())
            })
    }
}

/// What a change does to the rows shown.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Nothing,
    Replace(usize),
    Remove(usize),
    Insert(usize),
}

impl Listing {
    /// Applies `change`; whether the rows changed. Applying it again changes nothing.
    pub(crate) fn apply(&mut self, change: &AssetChange) -> bool {
        match self.step(change) {
            Step::Nothing => return false,
            Step::Replace(at) => self.items[at] = change.asset.clone(),
            Step::Remove(at) => {
                self.items.remove(at);
            }
            Step::Insert(at) => self.items.insert(at, change.asset.clone()),
        }
        true
    }

    /// Whether `change` would change the rows (a refetch that overtook it may have lost it).
    pub(crate) fn changed_by(&self, change: &AssetChange) -> bool {
        self.step(change) != Step::Nothing
    }

    fn step(&self, change: &AssetChange) -> Step {
        let asset = &change.asset;
        let shown = self
            .items
            .iter()
            .position(|row| row.asset_id == asset.asset_id);
        let keep = !change.removed && self.filter.admits(asset);
        match shown {
            // A change older than the row (a refetch overtook it) changes nothing.
            Some(at) if !change.removed && asset.updated_at < self.items[at].updated_at => {
                Step::Nothing
            }
            Some(at) if keep && self.items[at] == *asset => Step::Nothing,
            Some(at) if keep => Step::Replace(at),
            Some(at) => Step::Remove(at),
            None if keep => self.place_of(asset),
            None => Step::Nothing,
        }
    }

    /// Where the list's order puts a new row; one after every loaded row belongs to a page not
    /// loaded yet ("Load more" brings it), unless this is the last page.
    fn place_of(&self, asset: &Asset) -> Step {
        let sort = self.filter.sort;
        let at = self
            .items
            .iter()
            .position(|row| sort.order(asset, row) == std::cmp::Ordering::Less);
        match at {
            Some(at) => Step::Insert(at),
            None if self.next_cursor.is_none() => Step::Insert(self.items.len()),
            None => Step::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AssetPage, SortOrder};

    /// Asset `n`, created `n` seconds after midnight, updated `updated` seconds later.
    fn asset(n: u128, state: &str, updated: u32) -> Asset {
        let at = |s: u128| format!("2025-01-01T00:{:02}:{:02}Z", s / 60, s % 60);
        serde_json::from_value(serde_json::json!({
            "asset_id": uuid::Uuid::from_u128(n),
            "state": state,
            "createdAt": at(n),
            "updatedAt": at(n + u128::from(updated)),
        }))
        .unwrap()
    }

    fn change(n: u128, state: &str, updated: u32) -> AssetChange {
        let asset = asset(n, state, updated);
        AssetChange {
            state: asset.state,
            asset,
            removed: false,
        }
    }

    fn listing(filter: Filter, ids: &[u128], next: Option<&str>) -> Listing {
        let mut listing = Listing {
            filter,
            items: Vec::new(),
            next_cursor: None,
        };
        listing.append(AssetPage {
            items: ids.iter().map(|&n| asset(n, "CREATED", 0)).collect(),
            next_cursor: next.map(str::to_string),
        });
        listing
    }

    fn rows(listing: &Listing) -> Vec<(u128, &'static str)> {
        listing
            .items
            .iter()
            .map(|a| {
                let n = uuid::Uuid::parse_str(&a.asset_id.to_string())
                    .unwrap()
                    .as_u128();
                (n, a.state.as_str())
            })
            .collect()
    }

    #[test]
    fn a_row_is_updated_in_place_when_the_change_is_newer() {
        let mut list = listing(Filter::default(), &[30, 20, 10], None);
        assert!(list.changed_by(&change(20, "RECEIVED", 1)));
        assert!(list.apply(&change(20, "RECEIVED", 1)));
        assert!(list.apply(&change(20, "UPLOADED", 2)));
        assert!(!list.changed_by(&change(20, "UPLOADED", 2)));
        assert_eq!(
            rows(&list),
            [(30, "CREATED"), (20, "UPLOADED"), (10, "CREATED")]
        );
        // Late or repeated news changes nothing.
        assert!(!list.apply(&change(20, "RECEIVED", 1)));
        assert!(!list.apply(&change(20, "UPLOADED", 2)));
        assert_eq!(rows(&list)[1], (20, "UPLOADED"));
    }

    #[test]
    fn a_new_asset_joins_in_newest_first_order_unless_it_belongs_to_an_unloaded_page() {
        let mut list = listing(Filter::default(), &[30, 20], Some("c20"));
        assert!(list.apply(&change(40, "CREATED", 0)));
        assert!(list.apply(&change(25, "CREATED", 0)));
        assert_eq!(
            rows(&list).iter().map(|r| r.0).collect::<Vec<_>>(),
            [40, 30, 25, 20]
        );
        // Older than every loaded row, with more pages: "Load more" brings it.
        assert!(!list.apply(&change(5, "CREATED", 0)));
        // On the last page it is the new last row.
        let mut last = listing(Filter::default(), &[30], None);
        assert!(last.apply(&change(5, "CREATED", 0)));
        assert_eq!(rows(&last).iter().map(|r| r.0).collect::<Vec<_>>(), [30, 5]);
    }

    #[test]
    fn a_pushed_asset_joins_only_a_search_it_matches_in_the_searchs_order() {
        let named = |n: u128, name: &str, size: u64| -> AssetChange {
            let mut change = change(n, "RECEIVED", 1);
            change.asset.filename = Some(name.to_string());
            change.asset.content_type = Some("image/png".into());
            change.asset.size = Some(size);
            change
        };
        let search = Filter {
            q: "rep".into(),
            kind: "image/*".into(),
            sort: SortOrder::Largest,
            ..Filter::default()
        };
        let mut list = listing(search, &[], None);
        assert!(list.apply(&named(1, "Report-a.png", 10)));
        assert!(list.apply(&named(2, "report-b.png", 30)));
        // Between the two by size, though newest.
        assert!(list.apply(&named(3, "REPORT-c.png", 20)));
        // Another name, or another type: not in this search.
        assert!(!list.apply(&named(4, "summary.png", 50)));
        let mut pdf = named(5, "report.pdf", 40);
        pdf.asset.content_type = Some("application/pdf".into());
        assert!(!list.apply(&pdf));
        assert_eq!(
            rows(&list).iter().map(|r| r.0).collect::<Vec<_>>(),
            [2, 3, 1]
        );
        // Renamed out of the search (not possible today, but a change that stops matching leaves).
        assert!(list.apply(&{
            let mut moved = named(3, "other.png", 20);
            moved.asset.updated_at += chrono::TimeDelta::seconds(5);
            moved
        }));
        assert_eq!(rows(&list).iter().map(|r| r.0).collect::<Vec<_>>(), [2, 1]);
    }

    #[test]
    fn rows_that_no_longer_pass_the_filter_leave() {
        // Deleted while deleted rows are hidden.
        let mut list = listing(Filter::default(), &[30, 20], None);
        assert!(list.apply(&change(20, "DELETED", 1)));
        assert_eq!(rows(&list), [(30, "CREATED")]);
        // ...but stay, as DELETED, when they are shown.
        let shown = Filter {
            include_deleted: true,
            ..Filter::default()
        };
        let mut list = listing(shown, &[30, 20], None);
        assert!(list.apply(&change(20, "DELETED", 1)));
        assert_eq!(rows(&list), [(30, "CREATED"), (20, "DELETED")]);
        // Filtered on CREATED: a row that moved on leaves; a new RECEIVED one never joins.
        let created = Filter {
            state: Some(AssetState::Created),
            ..Filter::default()
        };
        let mut list = listing(created, &[30, 20], None);
        assert!(list.apply(&change(30, "RECEIVED", 1)));
        assert!(!list.apply(&change(40, "RECEIVED", 0)));
        assert_eq!(rows(&list), [(20, "CREATED")]);
    }

    #[test]
    fn a_removed_record_leaves_whatever_its_time() {
        let mut list = listing(Filter::default(), &[30, 20], None);
        let mut gone = change(20, "CREATED", 0);
        gone.removed = true;
        assert!(list.apply(&gone));
        assert_eq!(rows(&list), [(30, "CREATED")]);
        assert!(!list.changed_by(&gone));
        assert!(
            !list.apply(&gone),
            "an unknown removed asset changes nothing"
        );
    }
}
