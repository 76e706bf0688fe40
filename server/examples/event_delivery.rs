//! Benchmark: how long `POST /events/s3` takes to apply one big delivery (N `ObjectCreated`
//! records for N stored objects, embedded default: SQLite + the embedded endpoint's HEADs),
//! then the same delivery again (all duplicates). Prints numbers; asserts nothing.
//!
//!     cargo run -p server --example event_delivery [-- RECORDS]
//!     cargo run --release -p server --example event_delivery [-- RECORDS]

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::time::Instant;

use clap::Parser as _;
use futures::StreamExt as _;
use serde_json::{Value, json};
use server::config::Config;
use server::startup::Application;

const TOKEN: &str = "bench-events-token";

#[tokio::main]
async fn main() {
    let records: usize = std::env::args()
        .nth(1)
        .map_or(5_000, |n| n.parse().expect("RECORDS is a number"));
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let config = Config::try_parse_from([
        "server",
        "--listen",
        "127.0.0.1:0",
        "--s3-listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--embedded-events",
        "false",
        "--events-token",
        TOKEN,
    ])
    .unwrap();
    let app = Application::build(config).await.unwrap();
    let key = app
        .auth()
        .create_key(
            "admin",
            app::model::NewApiKey {
                label: "bench".into(),
                expires_in_days: None,
            },
        )
        .await
        .unwrap()
        .secret;
    let base = format!("http://{}", app.address().unwrap());
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::new();

    // N assets with their objects stored and no event delivered.
    let started = Instant::now();
    let ids: Vec<String> = futures::stream::iter(0..records)
        .map(|_| {
            let (client, base, key) = (client.clone(), base.clone(), key.clone());
            async move {
                let created: Value = client
                    .post(format!("{base}/assets"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let mut put = client
                    .put(created["upload_url"].as_str().unwrap())
                    .body("eleven byte");
                for (name, value) in created["upload_headers"].as_object().unwrap() {
                    put = put.header(name, value.as_str().unwrap());
                }
                assert!(put.send().await.unwrap().status().is_success());
                created["id"].as_str().unwrap().to_string()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    println!(
        "setup: {records} uploaded assets in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let body = json!({"Records": ids.iter().enumerate().map(|(i, id)| json!({
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "assets"},
               "object": {"key": format!("assets/{id}"), "size": 11, "sequencer": format!("{:016X}", i + 1)}}
    })).collect::<Vec<_>>()})
    .to_string();
    println!("delivery body: {} bytes", body.len());
    for round in ["first (all applied)", "again (all duplicates)"] {
        let started = Instant::now();
        let resp = client
            .post(format!("{base}/events/s3"))
            .bearer_auth(TOKEN)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let summary = resp.text().await.unwrap();
        let elapsed = started.elapsed();
        println!(
            "{round}: {records} records in {:.2} s ({:.0} records/s), {status} {}",
            elapsed.as_secs_f64(),
            records as f64 / elapsed.as_secs_f64(),
            summary.chars().take(200).collect::<String>()
        );
    }
}
