//! The store contract for search, run against every implementation: filename prefix
//! (case-insensitive, non-ASCII), type (exact and family), each sort across pages, combined with
//! the state filter, for one owner and for every owner (admins).

use std::collections::HashSet;

use app::model::{Asset, AssetId, AssetState, Search, SortOrder};
use chrono::{DateTime, Duration};
use server::provision::{Capacity, create_auth_table, create_table};
use server::store::dynamo::DynamoStore;
use server::store::local::LocalStore;
use server::store::{AssetStore, PageRequest, StateFilter};

/// An asset of `owner` created `n` seconds after a fixed instant.
fn asset(
    owner: &str,
    n: i64,
    filename: Option<&str>,
    kind: Option<&str>,
    size: Option<u64>,
) -> Asset {
    let at = DateTime::from_timestamp_micros(1_764_000_000_000_000).unwrap() + Duration::seconds(n);
    Asset {
        asset_id: AssetId::from_uuid(uuid::Uuid::new_v4()),
        state: AssetState::Uploaded,
        owner: owner.into(),
        created_at: at,
        updated_at: at,
        filename: filename.map(str::to_string),
        content_type: kind.map(str::to_string),
        size,
        etag: None,
        checksum: None,
        multipart: None,
        version: 1,
        sequencer: None,
    }
}

/// Every page of a listing, checking each is within the limit and no item comes twice.
async fn pages(
    store: &dyn AssetStore,
    owner: Option<&str>,
    limit: u32,
    filter: StateFilter,
    search: &Search,
) -> Vec<AssetId> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let request = PageRequest {
            owner: owner.map(str::to_string),
            limit,
            after,
            filter,
            search: search.clone(),
        };
        let (items, next) = store.list(&request).await.unwrap();
        assert!(items.len() <= limit as usize);
        seen.extend(items.iter().map(|a| a.asset_id));
        match next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
        assert!(seen.len() < 1000, "runaway paging");
    }
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        seen.len(),
        "no duplicates"
    );
    seen
}

fn search(q: Option<&str>, kind: Option<&str>, sort: SortOrder) -> Search {
    Search::parse(q, kind, Some(sort)).unwrap()
}

/// The expected order, computed here independently of the stores.
fn ordered<'a>(assets: impl IntoIterator<Item = &'a Asset>, sort: SortOrder) -> Vec<AssetId> {
    let mut assets: Vec<&Asset> = assets.into_iter().collect();
    let key = |a: &Asset| (a.created_at, a.asset_id);
    match sort {
        SortOrder::Newest => assets.sort_by_key(|a| std::cmp::Reverse(key(a))),
        SortOrder::Oldest => assets.sort_by_key(|a| key(a)),
        SortOrder::Largest => {
            assets.sort_by_key(|a| std::cmp::Reverse((a.size.map_or(-1, |s| s as i64), key(a))))
        }
    }
    assets.into_iter().map(|a| a.asset_id).collect()
}

macro_rules! search_contract {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn a_filename_prefix_matches_case_insensitively_in_any_script() {
                let (store, _guard) = $make;
                let mine = [
                    asset(
                        "alice",
                        1,
                        Some("Report-2025.pdf"),
                        Some("application/pdf"),
                        Some(10),
                    ),
                    asset("alice", 2, Some("report.txt"), Some("text/plain"), Some(20)),
                    asset(
                        "alice",
                        3,
                        Some("REPORTS/scan.png"),
                        Some("image/png"),
                        Some(30),
                    ),
                    asset("alice", 4, Some("Été.jpg"), Some("image/jpeg"), Some(40)),
                    asset("alice", 5, Some("été-2.png"), Some("image/png"), None),
                    asset(
                        "alice",
                        6,
                        Some("summary report.txt"),
                        Some("text/plain"),
                        Some(5),
                    ),
                    asset("alice", 7, None, None, None),
                ];
                let bobs = asset(
                    "bob",
                    8,
                    Some("report-bob.txt"),
                    Some("text/plain"),
                    Some(1),
                );
                for a in mine.iter().chain([&bobs]) {
                    store.insert(a).await.unwrap();
                }
                let live = StateFilter::Live;
                for sort in SortOrder::ALL {
                    let reports = search(Some("rEpOrT"), None, sort);
                    assert_eq!(
                        pages(&store, Some("alice"), 2, live, &reports).await,
                        ordered(&mine[0..3], sort),
                        "{sort}"
                    );
                    // Admins search every owner's.
                    assert_eq!(
                        pages(&store, None, 2, live, &reports).await,
                        ordered(mine[0..3].iter().chain([&bobs]), sort),
                        "{sort}"
                    );
                    let ete = search(Some("ÉT"), None, sort);
                    assert_eq!(
                        pages(&store, Some("alice"), 1, live, &ete).await,
                        ordered(&mine[3..5], sort),
                        "{sort}"
                    );
                    // Prefix and type together.
                    let images = search(Some("rep"), Some("image/*"), sort);
                    assert_eq!(
                        pages(&store, Some("alice"), 5, live, &images).await,
                        ordered(&mine[2..3], sort)
                    );
                    let nothing = search(Some("zzz"), None, sort);
                    assert!(
                        pages(&store, Some("alice"), 5, live, &nothing)
                            .await
                            .is_empty()
                    );
                }
            }

            #[tokio::test]
            async fn a_type_filter_takes_an_exact_type_or_a_family() {
                let (store, _guard) = $make;
                let mine = [
                    asset("alice", 1, Some("a.png"), Some("image/png"), Some(1)),
                    asset("alice", 2, Some("b.jpg"), Some("Image/JPEG"), Some(2)),
                    asset(
                        "alice",
                        3,
                        Some("c.txt"),
                        Some("text/plain; charset=utf-8"),
                        Some(3),
                    ),
                    asset("alice", 4, Some("d.pdf"), Some("application/pdf"), Some(4)),
                    asset("alice", 5, Some("e"), None, Some(5)),
                    asset("alice", 6, Some("f"), Some("imagex/odd"), Some(6)),
                ];
                for a in &mine {
                    store.insert(a).await.unwrap();
                }
                let live = StateFilter::Live;
                let cases: [(&str, &[usize]); 6] = [
                    ("image/*", &[0, 1]),
                    ("image", &[0, 1]),
                    ("image/jpeg", &[1]),
                    ("TEXT/PLAIN", &[2]),
                    ("text", &[2]),
                    ("application/pdf", &[3]),
                ];
                for (kind, wanted) in cases {
                    let wanted: Vec<&Asset> = wanted.iter().map(|&i| &mine[i]).collect();
                    assert_eq!(
                        pages(
                            &store,
                            Some("alice"),
                            1,
                            live,
                            &search(None, Some(kind), SortOrder::Newest)
                        )
                        .await,
                        ordered(wanted, SortOrder::Newest),
                        "{kind}"
                    );
                }
            }

            #[tokio::test]
            async fn every_sort_pages_through_all_items_once_with_the_state_filter() {
                let (store, _guard) = $make;
                // Equal sizes, equal creation times and unknown sizes: the ties the order's
                // later keys break.
                let sizes = [
                    Some(5),
                    None,
                    Some(500),
                    Some(5),
                    Some(0),
                    None,
                    Some(50),
                    Some(5),
                    Some(500),
                ];
                let mut mine = Vec::new();
                for (i, size) in sizes.into_iter().enumerate() {
                    let mut a = asset(
                        "alice",
                        (i as i64) / 2,
                        Some(&format!("f{i}")),
                        Some("text/plain"),
                        size,
                    );
                    if i % 3 == 0 {
                        a.state = AssetState::Deleted;
                    }
                    store.insert(&a).await.unwrap();
                    mine.push(a);
                }
                let bobs = asset("bob", 1, Some("g"), Some("text/plain"), Some(7));
                store.insert(&bobs).await.unwrap();
                for sort in SortOrder::ALL {
                    let plain = search(None, None, sort);
                    let live: Vec<&Asset> = mine
                        .iter()
                        .filter(|a| a.state != AssetState::Deleted)
                        .collect();
                    for limit in [1, 2, 4, 100] {
                        assert_eq!(
                            pages(&store, Some("alice"), limit, StateFilter::All, &plain).await,
                            ordered(&mine, sort),
                            "{sort} {limit}"
                        );
                        assert_eq!(
                            pages(&store, Some("alice"), limit, StateFilter::Live, &plain).await,
                            ordered(live.iter().copied(), sort),
                            "{sort} {limit} live"
                        );
                        assert_eq!(
                            pages(
                                &store,
                                None,
                                limit,
                                StateFilter::Only(AssetState::Deleted),
                                &plain
                            )
                            .await,
                            ordered(mine.iter().filter(|a| a.state == AssetState::Deleted), sort),
                            "{sort} {limit} deleted"
                        );
                        assert_eq!(
                            pages(&store, None, limit, StateFilter::All, &plain).await,
                            ordered(mine.iter().chain([&bobs]), sort),
                            "{sort} {limit} admin"
                        );
                    }
                }
                // A size learnt later moves the asset in the largest-first order.
                let unknown = mine
                    .iter()
                    .find(|a| a.size.is_none() && a.state != AssetState::Deleted)
                    .unwrap()
                    .clone();
                let mut sized = unknown.clone();
                sized.size = Some(10_000);
                sized.version += 1;
                store.update(&unknown, &sized).await.unwrap();
                let largest = search(None, None, SortOrder::Largest);
                assert_eq!(
                    pages(&store, Some("alice"), 3, StateFilter::Live, &largest).await[0],
                    sized.asset_id
                );
            }
        }
    };
}

search_contract!(local, {
    let dir = tempfile::tempdir().unwrap();
    (LocalStore::open(dir.path()).unwrap(), dir)
});

search_contract!(dynamo, {
    let moto = crate::common::Moto::start().await;
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
        DynamoStore::new(client, &table, &auth_table, Duration::hours(1)),
        moto,
    )
});

#[tokio::test]
async fn dynamo_sorts_by_size_up_to_its_bound_and_refuses_beyond() {
    let moto = crate::common::Moto::start().await;
    let table = format!("t{}", uuid::Uuid::new_v4().simple());
    let auth_table = format!("{table}-auth");
    let client = moto.dynamodb();
    create_table(&client, &table, Capacity::OnDemand)
        .await
        .unwrap();
    create_auth_table(&client, &auth_table, Capacity::OnDemand)
        .await
        .unwrap();
    let store =
        DynamoStore::new(client, &table, &auth_table, Duration::hours(1)).with_size_sort_bound(3);
    let mine: Vec<Asset> = (0..4)
        .map(|i| {
            asset(
                "alice",
                i,
                Some(&format!("{}{i}", if i < 2 { "a" } else { "b" })),
                None,
                Some(i as u64),
            )
        })
        .collect();
    for a in &mine {
        store.insert(a).await.unwrap();
    }
    let request = |q: Option<&str>| PageRequest {
        owner: Some("alice".into()),
        limit: 10,
        after: None,
        filter: StateFilter::Live,
        search: search(q, None, SortOrder::Largest),
    };
    assert!(matches!(
        store.list(&request(None)).await,
        Err(server::store::StoreError::TooBroad(_))
    ));
    // Newest first has no such bound; a narrower search sorts.
    let newest = PageRequest {
        search: Search::default(),
        ..request(None)
    };
    assert_eq!(store.list(&newest).await.unwrap().0.len(), 4);
    let (items, _) = store.list(&request(Some("b"))).await.unwrap();
    assert_eq!(
        items.iter().map(|a| a.asset_id).collect::<Vec<_>>(),
        ordered(&mine[2..4], SortOrder::Largest)
    );
}
