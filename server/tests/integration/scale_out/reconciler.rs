//! The in-process reconciler on every replica at once.

use std::time::{Duration, Instant};

use super::cluster::{Replica, Shared, number, stored_item, upload};

/// Sums a counter over every replica; also each replica's share.
async fn counter_total(replicas: &[Replica], name: &str, labels: &str) -> (u64, Vec<u64>) {
    let mut each = Vec::new();
    for replica in replicas {
        each.push(replica.counter(name, labels).await);
    }
    (each.iter().sum(), each)
}

/// The reconciler runs on every replica at once: stale CREATED assets whose object is in the
/// bucket (uploaded, its event never delivered) are repaired exactly once in total, and so are
/// abandoned ones (no object, upload URL expired): the conditional write decides who counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_on_every_replica_repairs_each_stale_asset_exactly_once() {
    const STALE: usize = 12;
    const ABANDONED: usize = 4;
    let shared = Shared::provision().await;
    // The assets are made with the reconciler off, so that every replica's first sweep (one
    // interval after start-up) finds all of them at once.
    let maker = shared.start(1, &["--reconcile-interval", "0"]).await;
    let mut stale = Vec::new();
    for i in 0..STALE {
        let created = maker[0].create().await;
        let bytes = format!("stale object {i}").into_bytes();
        upload(&maker[0].client, &created, bytes.clone()).await;
        stale.push((created["id"].as_str().unwrap().to_string(), bytes.len()));
    }
    let mut abandoned = Vec::new();
    for _ in 0..ABANDONED {
        abandoned.push(maker[0].create().await["id"].as_str().unwrap().to_string());
    }
    drop(maker);

    let replicas = shared
        .start(
            3,
            &[
                "--reconcile-interval",
                "1",
                "--reconcile-stale-after",
                "0",
                "--upload-url-ttl",
                "1",
                "--abandoned-after",
                "0",
            ],
        )
        .await;
    let repairs = "assets_reconciler_repairs_total";
    let sweeps = "assets_reconciler_sweeps_total";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (received, _) = counter_total(&replicas, repairs, "kind=\"received\"").await;
        let (expired, _) = counter_total(&replicas, repairs, "kind=\"expired\"").await;
        if received as usize >= STALE && expired as usize >= ABANDONED {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reconcilers repaired {received} of {STALE} stale and {expired} of {ABANDONED} abandoned assets"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two more sweeps on every replica: a late double count would show now.
    let (_, swept) = counter_total(&replicas, sweeps, "outcome=\"completed\"").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, now) = counter_total(&replicas, sweeps, "outcome=\"completed\"").await;
        if now.iter().zip(&swept).all(|(now, then)| *now >= then + 2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sweeps stalled: {swept:?} -> {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (received, each_received) = counter_total(&replicas, repairs, "kind=\"received\"").await;
    let (expired, each_expired) = counter_total(&replicas, repairs, "kind=\"expired\"").await;
    let (_, failed) = counter_total(&replicas, sweeps, "outcome=\"failed\"").await;
    println!(
        "repairs per replica: received {each_received:?}, expired {each_expired:?}; failed sweeps {failed:?}"
    );
    assert_eq!(
        received as usize, STALE,
        "received repairs per replica {each_received:?}: each stale asset exactly once"
    );
    assert_eq!(
        expired as usize, ABANDONED,
        "expired per replica {each_expired:?}: each abandoned upload exactly once"
    );
    // Every record shows one transition: CREATED (version 1) -> RECEIVED (version 2).
    for (id, size) in &stale {
        let asset = replicas[2].asset(id).await.expect("the stale asset");
        assert_eq!(asset["state"], "RECEIVED", "{asset}");
        assert_eq!(asset["size"], *size, "{asset}");
        let item = stored_item(&shared, id).await.unwrap();
        assert_eq!(number(&item, "version"), 2, "{id}: {item:?}");
    }
    for id in &abandoned {
        assert!(
            stored_item(&shared, id).await.is_none(),
            "{id} still stored"
        );
    }
}
