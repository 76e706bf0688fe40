//! The REST lifecycle in AWS mode: DynamoDB store and S3 objects, against moto's DynamoDB and S3
//! wire protocols. moto's S3 does not check presigned signatures or expiry, so those checks are
//! tested on the embedded endpoint (lifecycle.rs), which does. moto does not deliver S3 event
//! notifications either: the tests post them to `/events/s3` as S3 (through SNS or a webhook)
//! would.

use std::time::{Duration, Instant};

use crate::common::{Moto, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

async fn post_event(
    app: &TestApp,
    event_name: &str,
    bucket: &str,
    id: &str,
    sequencer: &str,
) -> Value {
    let event = json!({"Records": [{
        "eventName": event_name,
        "s3": {"bucket": {"name": bucket}, "object": {"key": format!("assets/{id}"), "sequencer": sequencer}}
    }]});
    let resp = app
        .client
        .post(app.url("/events/s3"))
        .bearer_auth("test-token")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_lifecycle_works_against_dynamodb_and_s3() {
    let moto = Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let bucket = app.created_bucket();
    assert_eq!(app.status(Method::GET, "/readyz").await, 200);

    let created = app
        .create(Some(
            json!({"filename": "hello.txt", "content_type": "text/plain"}),
        ))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(
        created["upload_url"]
            .as_str()
            .unwrap()
            .starts_with(&moto.url)
    );
    // No object yet: PUT is refused.
    assert_eq!(app.status(Method::PUT, &format!("/assets/{id}")).await, 409);
    // An event for an object that is not there changes nothing (storage is checked with HEAD).
    assert_eq!(
        post_event(&app, "ObjectCreated:Put", &bucket, &id, "0A").await["applied"],
        0
    );

    let bytes = b"hello from AWS mode".to_vec();
    assert_eq!(app.upload(&created, bytes.clone()).await.status(), 200);
    assert_eq!(
        post_event(&app, "ObjectCreated:Put", &bucket, &id, "0B").await["applied"],
        1
    );
    let received = app.wait_for_state(&id, "RECEIVED").await;
    assert_eq!(received["size"], bytes.len());
    // The same event again is a duplicate.
    assert_eq!(
        post_event(&app, "ObjectCreated:Put", &bucket, &id, "0B").await["applied"],
        0
    );

    let marked = app.call(Method::PUT, &format!("/assets/{id}")).await;
    assert_eq!(marked.status(), 202);
    let link: Value = app.get_json(&format!("/assets/{id}?timeout=300")).await;
    let download = app
        .client
        .get(link["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), bytes);

    let page: Value = app.get_json("/assets").await;
    assert_eq!(page["items"][0]["asset_id"], id.as_str());
    assert_eq!(page["items"][0]["state"], "UPLOADED");

    assert_eq!(
        app.status(Method::DELETE, &format!("/assets/{id}")).await,
        204
    );
    assert_eq!(
        app.status(Method::DELETE, &format!("/assets/{id}")).await,
        204
    );
    assert_eq!(app.asset(&id).await.unwrap()["state"], "DELETED");
    // A late create event never revives it.
    assert_eq!(
        post_event(&app, "ObjectCreated:Put", &bucket, &id, "0C").await["applied"],
        0
    );
    assert_eq!(app.asset(&id).await.unwrap()["state"], "DELETED");

    // The object is removed from the bucket; its event removes the record for good.
    moto.s3()
        .delete_object()
        .bucket(&bucket)
        .key(format!("assets/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        post_event(&app, "ObjectRemoved:Delete", &bucket, &id, "0D").await["applied"],
        1
    );
    assert_eq!(app.status(Method::GET, &format!("/assets/{id}")).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_through_the_dynamodb_index() {
    let moto = Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(app.create(None).await["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut path = "/assets?limit=5".to_string();
    loop {
        let page: Value = app.get_json(&path).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["asset_id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/assets?limit=5&cursor={cursor}"),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    let forged = app.call(Method::GET, "/assets?cursor=AAAA").await;
    assert_eq!(forged.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_is_down_is_a_prompt_503() {
    // Nothing listens on this port: every DynamoDB and S3 call fails to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{closed}");
    let app = TestApp::spawn_with(&[
        "--store",
        "dynamodb",
        "--dynamodb-endpoint",
        &url,
        "--objects",
        "s3",
        "--s3-endpoint",
        &url,
        "--s3-force-path-style",
        "true",
    ])
    .await;
    let started = Instant::now();
    let resp = app.api.post(app.url("/assets")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded retries, not a hang"
    );
    assert_eq!(app.status(Method::GET, "/assets").await, 503);
    assert_eq!(app.status(Method::GET, "/readyz").await, 503);
    assert_eq!(app.status(Method::GET, "/healthz").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_uploads_work_against_dynamodb_and_s3() {
    let moto = Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let bucket = app.created_bucket();
    let part = 5 << 20;
    let bytes: Vec<u8> = (0..2 * part + 77).map(|i| (i % 253) as u8).collect();
    let created = app
        .create(Some(
            json!({"filename": "big.bin", "size": bytes.len(), "multipart": true}),
        ))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let part_size = created["asset"]["multipart"]["part_size"].as_u64().unwrap() as usize;
    assert!(part_size >= part);
    // moto keeps no part checksums (see scripts/moto_server.py): parts without them here.
    let mut etags = Vec::new();
    for (index, chunk) in bytes.chunks(part).enumerate() {
        let signed: Value = app
            .api
            .post(app.url(&format!("/assets/{id}/multipart/part-urls")))
            .json(&json!({"parts": [{"part_number": index + 1}]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = &signed["parts"][0];
        assert!(url["url"].as_str().unwrap().starts_with(&moto.url));
        let mut request = app
            .client
            .put(url["url"].as_str().unwrap())
            .body(chunk.to_vec());
        for (name, value) in url["headers"].as_object().unwrap() {
            request = request.header(name, value.as_str().unwrap());
        }
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 200);
        etags.push(reply.headers()["etag"].to_str().unwrap().to_string());
    }
    let listed: Value = app.get_json(&format!("/assets/{id}/multipart/parts")).await;
    assert_eq!(
        listed["parts"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );
    let parts: Vec<Value> = etags
        .iter()
        .enumerate()
        .map(|(i, etag)| json!({"part_number": i + 1, "etag": etag}))
        .collect();
    let completed = app
        .api
        .post(app.url(&format!("/assets/{id}/multipart/complete")))
        .json(&json!({ "parts": parts }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        completed.status(),
        200,
        "{}",
        completed.text().await.unwrap()
    );
    assert_eq!(app.asset(&id).await.unwrap()["state"], "RECEIVED");
    // The completion's event, when it arrives, finds the asset received already.
    post_event(
        &app,
        "ObjectCreated:CompleteMultipartUpload",
        &bucket,
        &id,
        "1A",
    )
    .await;
    assert_eq!(app.asset(&id).await.unwrap()["state"], "RECEIVED");
    let marked = app.call(Method::PUT, &format!("/assets/{id}")).await;
    assert_eq!(marked.status(), 202, "{}", marked.text().await.unwrap());
    let link: Value = app.get_json(&format!("/assets/{id}")).await;
    let download = app
        .client
        .get(link["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(download.bytes().await.unwrap() == bytes);

    // Abort: moto drops the upload, the asset is deleted.
    let aborted = app
        .create(Some(json!({"size": 6 << 20, "multipart": true})))
        .await;
    let aborted = aborted["id"].as_str().unwrap();
    assert_eq!(
        app.status(Method::DELETE, &format!("/assets/{aborted}/multipart"))
            .await,
        204
    );
    assert_eq!(app.asset(aborted).await.unwrap()["state"], "DELETED");
    let uploads = moto
        .s3()
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_aws_makes_the_bucket_ready_for_browser_multipart_uploads() {
    let moto = Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let bucket = app.created_bucket();
    let s3 = moto.s3();
    // A browser must read each part's ETag to complete the upload.
    let cors = s3.get_bucket_cors().bucket(&bucket).send().await.unwrap();
    assert!(
        cors.cors_rules()[0]
            .expose_headers()
            .iter()
            .any(|h| h == "ETag")
    );
    let abort_days = |rules: &[aws_sdk_s3::types::LifecycleRule]| {
        rules
            .iter()
            .find(|r| r.id() == Some(server::provision::ABORT_RULE_ID))
            .and_then(|r| {
                r.abort_incomplete_multipart_upload()?
                    .days_after_initiation()
            })
    };
    let rules = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(abort_days(rules.rules()), Some(1));

    // The operator's own rules survive running init-aws again.
    let mut kept = rules.rules().to_vec();
    kept.push(
        aws_sdk_s3::types::LifecycleRule::builder()
            .id("operator-rule")
            .status(aws_sdk_s3::types::ExpirationStatus::Enabled)
            .filter(
                aws_sdk_s3::types::LifecycleRuleFilter::builder()
                    .prefix("logs/")
                    .build(),
            )
            .expiration(
                aws_sdk_s3::types::LifecycleExpiration::builder()
                    .days(30)
                    .build(),
            )
            .build()
            .unwrap(),
    );
    s3.put_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .lifecycle_configuration(
            aws_sdk_s3::types::BucketLifecycleConfiguration::builder()
                .set_rules(Some(kept))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .envs(Moto::ENV)
        .args(moto.flags(&bucket))
        .args(["--data-dir", app.data_dir.to_str().unwrap()])
        .args(["init-aws", "--abort-incomplete-after-days", "3"])
        .status()
        .unwrap();
    assert!(status.success());
    let rules = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(abort_days(rules.rules()), Some(3));
    assert!(
        rules
            .rules()
            .iter()
            .any(|r| r.id() == Some("operator-rule"))
    );
    assert_eq!(rules.rules().len(), 2);
}
