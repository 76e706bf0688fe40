//! Listing pages from SQLite: one statement per request shape, each answered from an index.
//!
//! | listing | index |
//! |---|---|
//! | one owner, newest/oldest | `assets_by_owner (owner, created_us DESC, id DESC)` |
//! | one owner, filename prefix | `assets_by_owner_name (owner, filename_lower, ...)` |
//! | one owner, largest | `assets_by_owner_size (owner, coalesce(size, -1) DESC, ...)` |
//! | every owner (admins) | the same without `owner`: `assets_newest`, `assets_by_name`, `assets_by_size` |
//!
//! The type and state filters are checked on the rows the index yields; they never widen the
//! read beyond the owner's (or the prefix's) rows. A cursor becomes a row-value comparison, so a
//! page starts where the last one ended without `OFFSET`.

use app::model::{AssetState, SortOrder, TypeFilter};
use rusqlite::types::Value;

use super::COLUMNS;
use crate::store::{PageRequest, StateFilter};

/// The statement and its parameters (positional) for one page plus one row.
pub(super) fn list_sql(page: &PageRequest) -> (String, Vec<Value>) {
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |value: Value| {
        values.push(value);
        format!("?{}", values.len())
    };
    let mut clauses: Vec<String> = Vec::new();
    if let Some(owner) = &page.owner {
        clauses.push(format!("owner = {}", bind(owner.clone().into())));
    }
    match page.filter {
        StateFilter::All => {}
        StateFilter::Live => clauses.push(format!(
            "state != {}",
            bind(AssetState::Deleted.as_str().to_string().into())
        )),
        StateFilter::Only(state) => clauses.push(format!(
            "state = {}",
            bind(state.as_str().to_string().into())
        )),
    }
    if let Some(prefix) = &page.search.name_prefix {
        // A range on the index, then the exact check: U+10FFFF bounds every continuation but
        // itself (UTF-8 orders as code points; SQLite compares text bytewise).
        let low = bind(prefix.clone().into());
        let high = bind(format!("{prefix}\u{10FFFF}").into());
        clauses.push(format!(
            "filename_lower >= {low} AND filename_lower < {high} \
             AND substr(filename_lower, 1, length({low})) = {low}"
        ));
    }
    match &page.search.kind {
        None => {}
        Some(TypeFilter::Exact(wanted)) => {
            clauses.push(format!("type_lower = {}", bind(wanted.clone().into())))
        }
        Some(TypeFilter::Family(family)) => {
            // "image/" <= t < "image0": every "image/..." ('0' follows '/').
            let low = bind(format!("{family}/").into());
            let high = bind(format!("{family}0").into());
            clauses.push(format!("type_lower >= {low} AND type_lower < {high}"));
        }
    }
    let size = "coalesce(size, -1)";
    if let Some(cursor) = &page.after {
        let created = bind(cursor.created_at.timestamp_micros().into());
        let id = bind(cursor.id.to_string().into());
        clauses.push(match page.search.sort {
            SortOrder::Newest => format!("(created_us, id) < ({created}, {id})"),
            SortOrder::Oldest => format!("(created_us, id) > ({created}, {id})"),
            SortOrder::Largest => {
                let key = bind(cursor.size.into());
                format!("({size}, created_us, id) < ({key}, {created}, {id})")
            }
        });
    }
    let order = match page.search.sort {
        SortOrder::Newest => "created_us DESC, id DESC".to_string(),
        SortOrder::Oldest => "created_us ASC, id ASC".to_string(),
        SortOrder::Largest => format!("{size} DESC, created_us DESC, id DESC"),
    };
    // One extra row tells whether a next page exists.
    let limit = bind((page.limit as i64 + 1).into());
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    // The index is named, not left to the planner: without statistics it may prefer walking
    // the owner's rows by date from a cursor over the prefix's range.
    let index = match (&page.owner, &page.search.name_prefix, page.search.sort) {
        (Some(_), Some(_), _) => "assets_by_owner_name",
        (None, Some(_), _) => "assets_by_name",
        (Some(_), None, SortOrder::Largest) => "assets_by_owner_size",
        (None, None, SortOrder::Largest) => "assets_by_size",
        (Some(_), None, _) => "assets_by_owner",
        (None, None, _) => "assets_newest",
    };
    (
        format!(
            "SELECT {COLUMNS} FROM assets INDEXED BY {index} {filter} ORDER BY {order} LIMIT {limit}"
        ),
        values,
    )
}

#[cfg(test)]
mod tests {
    use app::model::Search;

    use super::*;
    use crate::store::Cursor;

    fn plan(conn: &rusqlite::Connection, page: &PageRequest) -> String {
        let (sql, values) = list_sql(page);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |row| {
                row.get::<_, String>(3)
            })
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn every_listing_reads_an_index_never_the_whole_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::LocalStore::open(dir.path()).unwrap();
        let conn = store.inner.writer.lock().unwrap();
        let searches = [
            (None, None),
            (Some("rep"), None),
            (None, Some("image/*")),
            (Some("été"), Some("text/plain")),
        ];
        for owner in [Some("alice"), None] {
            for sort in SortOrder::ALL {
                for (q, kind) in searches {
                    for filter in [StateFilter::Live, StateFilter::All] {
                        let search = Search::parse(q, kind, Some(sort)).unwrap();
                        let first = PageRequest {
                            owner: owner.map(str::to_string),
                            limit: 10,
                            after: None,
                            filter,
                            search: search.clone(),
                        };
                        let cursor = Cursor {
                            sort,
                            size: 7,
                            created_at: chrono::Utc::now(),
                            id: "1a5ea69a-d30c-11e7-90d0-129b5a655d2d".parse().unwrap(),
                            fingerprint: search.narrows().then(|| search.fingerprint()),
                        };
                        let next = PageRequest {
                            after: Some(cursor),
                            ..first.clone()
                        };
                        for page in [first, next] {
                            let plan = plan(&conn, &page);
                            let case = format!("{page:?}:\n{plan}");
                            // No table scan: every read goes through an index.
                            assert!(
                                plan.lines().all(|l| !l.starts_with("SCAN assets")
                                    || l.contains("USING INDEX")
                                    || l.contains("USING COVERING INDEX")),
                                "{case}"
                            );
                            let index = match (q, sort) {
                                (Some(_), _) => "name",
                                (None, SortOrder::Largest) => "size",
                                (None, _) if owner.is_some() => "owner",
                                (None, _) => "newest",
                            };
                            let index = match (owner, index) {
                                (Some(_), "owner") => "assets_by_owner".to_string(),
                                (Some(_), index) => format!("assets_by_owner_{index}"),
                                (None, "newest") => "assets_newest".to_string(),
                                (None, index) => format!("assets_by_{index}"),
                            };
                            let words: Vec<&str> = plan.split_whitespace().collect();
                            assert!(
                                words
                                    .windows(3)
                                    .any(|w| w == ["USING", "INDEX", index.as_str()]),
                                "{case}"
                            );
                            if owner.is_some() {
                                assert!(plan.contains("(owner=?"), "{case}");
                            }
                        }
                    }
                }
            }
        }
    }
}
