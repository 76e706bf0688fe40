//! Micro-benchmark: one page of a search on the embedded store (SQLite) with many assets, per
//! request shape (newest, filename prefix, type family, largest, oldest, and the same for an
//! admin across owners). Prints the median of each in microseconds; asserts nothing.
//!
//!     cargo run --release -p server --example search_list [ASSETS]   (default 100000)

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::time::{Duration, Instant};

use app::model::{Asset, AssetId, AssetState, Search, SortOrder};
use chrono::Utc;
use futures::StreamExt as _;
use server::store::local::LocalStore;
use server::store::{AssetStore, PageRequest, StateFilter};

const ROUNDS: usize = 200;
const KINDS: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "text/plain",
    "application/pdf",
    "video/mp4",
];

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("a number of assets"))
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    let start = Instant::now();
    let now = Utc::now();
    // Concurrent inserts share commits (the store groups them).
    futures::stream::iter(0..count)
        .map(|i| {
            let store = store.clone();
            async move {
                let owner = if i % 10 == 0 { "bob" } else { "alice" };
                let kind = KINDS[i % KINDS.len()];
                let asset = Asset {
                    asset_id: AssetId::from_uuid(uuid::Uuid::new_v4()),
                    state: AssetState::Uploaded,
                    owner: owner.into(),
                    created_at: now + chrono::Duration::microseconds(i as i64),
                    updated_at: now,
                    filename: Some(format!("file-{:x}-{i}.{}", i % 4096, kind.len())),
                    content_type: Some(kind.into()),
                    size: Some((i as u64 * 7919) % 1_000_000),
                    etag: None,
                    version: 1,
                    sequencer: None,
                    checksum: None,
                    multipart: None,
                };
                store.insert(&asset).await.unwrap();
            }
        })
        .buffer_unordered(256)
        .collect::<Vec<()>>()
        .await;
    println!(
        "{count} assets inserted in {:.1} s (90% alice's)",
        start.elapsed().as_secs_f64()
    );
    println!("| listing (one page of 50) | alice | admin (every owner) |");
    println!("|---|---|---|");
    let shapes: [(&str, Option<&str>, Option<&str>, SortOrder); 6] = [
        ("newest", None, None, SortOrder::Newest),
        ("oldest", None, None, SortOrder::Oldest),
        ("largest", None, None, SortOrder::Largest),
        ("prefix `file-a1`", Some("FILE-A1"), None, SortOrder::Newest),
        (
            "prefix `file-a1`, largest",
            Some("file-a1"),
            None,
            SortOrder::Largest,
        ),
        ("type `video/*`", None, Some("video/*"), SortOrder::Newest),
    ];
    for (label, q, kind, sort) in shapes {
        let mut cells = Vec::new();
        for owner in [Some("alice"), None] {
            let page = PageRequest {
                owner: owner.map(str::to_string),
                limit: 50,
                after: None,
                filter: StateFilter::Live,
                search: Search::parse(q, kind, Some(sort)).unwrap(),
            };
            let (items, next) = store.list(&page).await.unwrap();
            assert_eq!(items.len(), 50, "{label}");
            // The second page, from the first one's cursor, as a client goes on.
            let second = PageRequest {
                after: next,
                ..page.clone()
            };
            let mut times: Vec<Duration> = Vec::with_capacity(ROUNDS);
            for round in 0..ROUNDS {
                let request = if round % 2 == 0 { &page } else { &second };
                let t = Instant::now();
                store.list(request).await.unwrap();
                times.push(t.elapsed());
            }
            times.sort();
            cells.push(format!("{} µs", times[ROUNDS / 2].as_micros()));
        }
        println!("| {label} | {} | {} |", cells[0], cells[1]);
    }
}
