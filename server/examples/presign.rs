//! Micro-benchmark: what one presigned URL costs (the work behind `POST /assets` and
//! `GET /assets/{id}`), in microseconds. Prints numbers; asserts nothing.
//!
//!     cargo run --release -p server --example presign

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::time::{Duration, Instant};

use app::model::{AssetId, UrlLifetime};
use server::objects::{Objects, UploadTerms, attachment_disposition};

const ROUNDS: u32 = 20_000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let objects = Objects::embedded(
        "http://127.0.0.1:9000",
        "http://127.0.0.1:9000",
        "assets",
        "AKIDEXAMPLE0000000000",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    let ids: Vec<AssetId> = (0..ROUNDS)
        .map(|_| AssetId::from_uuid(uuid::Uuid::new_v4()))
        .collect();
    let ttl = UrlLifetime::from_secs(3600).unwrap();
    let terms = UploadTerms {
        content_type: Some("image/png".into()),
        size: Some(1024),
        checksum: None,
        metadata: Default::default(),
    };
    let disposition = attachment_disposition("holiday photo.png");

    // Warm-up: endpoint resolution and signing key caches.
    for id in ids.iter().take(1000) {
        objects.presign_put(*id, &terms, ttl).await.unwrap();
    }
    let started = Instant::now();
    for id in &ids {
        std::hint::black_box(objects.presign_put(*id, &terms, ttl).await.unwrap());
    }
    let put = started.elapsed();
    let started = Instant::now();
    for id in &ids {
        std::hint::black_box(
            objects
                .presign_get(*id, &disposition, "image/png", ttl)
                .await
                .unwrap(),
        );
    }
    let get = started.elapsed();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / ROUNDS as f64;
    println!(
        "presign PUT (upload URL):   {:7.1} µs/op  ({ROUNDS} rounds)",
        per(put)
    );
    println!(
        "presign GET (download URL): {:7.1} µs/op  ({ROUNDS} rounds)",
        per(get)
    );
}
