//! Upload and download URLs that cannot be abused: what a URL allows is exactly what was
//! declared, once, and downloads are safe attachments. Checked against the embedded endpoint,
//! which verifies presigned URLs as S3 does.

use crate::common::{TestApp, s3_error};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_size_and_type_are_signed_into_the_upload_url() {
    let app = TestApp::spawn().await;
    let created = app
        .create(Some(
            json!({"filename": "pic.png", "content_type": "image/png", "size": 10}),
        ))
        .await;
    // An object of lowercase names to values, ready for fetch() or requests.put(headers=...).
    assert_eq!(
        created["upload_headers"],
        json!({"content-type": "image/png", "content-length": "10", "if-none-match": "*"})
    );
    let url = created["upload_url"].as_str().unwrap();

    // 11 bytes on a URL signed for 10: refused by storage.
    let resp = app
        .client
        .put(url)
        .header("content-type", "image/png")
        .body(vec![0u8; 11])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Another content type: refused.
    let resp = app
        .client
        .put(url)
        .header("content-type", "text/html")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // The declared size and type: accepted.
    assert_eq!(app.upload(&created, vec![7u8; 10]).await.status(), 200);
    app.wait_for_state(created["id"].as_str().unwrap(), "RECEIVED")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_attachments_with_a_safely_encoded_filename() {
    let app = TestApp::spawn().await;
    let hostile = "../../etc/r\u{e9}sum\u{e9} \"final\";.txt";
    let created = app.create(Some(json!({"filename": hostile}))).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.upload(&created, b"cv".to_vec()).await.status(), 200);
    assert_eq!(app.status(Method::PUT, &format!("/assets/{id}")).await, 202);
    let link: Value = app.get_json(&format!("/assets/{id}")).await;
    let url = link["download_url"].as_str().unwrap();
    let resp = app.client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    // No type was declared: S3 (and the embedded endpoint) records `binary/octet-stream`.
    assert_eq!(resp.headers()["content-type"], "binary/octet-stream");
    assert_eq!(
        disposition,
        "attachment; filename=\"r_sum_ _final__.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%3B.txt"
    );
    // The disposition is part of the signature: changing it breaks the URL.
    let changed = url.replace("attachment", "inline");
    assert_eq!(app.client.get(&changed).send().await.unwrap().status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_url_cannot_overwrite_the_object() {
    let app = TestApp::spawn().await;
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["upload_headers"], json!({"if-none-match": "*"}));
    assert_eq!(app.upload(&created, b"first".to_vec()).await.status(), 200);
    // The same URL again, while it is still valid: refused, the first bytes stay.
    let again = app.upload(&created, b"second!".to_vec()).await;
    assert_eq!(again.status(), 412);
    assert_eq!(
        s3_error(&again.text().await.unwrap()).0,
        "PreconditionFailed"
    );
    // Dropping the signed header breaks the signature instead.
    let bare = app
        .client
        .put(created["upload_url"].as_str().unwrap())
        .body("third")
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 403);
    assert_eq!(app.status(Method::PUT, &format!("/assets/{id}")).await, 202);
    let link: Value = app.get_json(&format!("/assets/{id}")).await;
    let body = app
        .client
        .get(link["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.as_ref(), b"first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_checksums_are_verified_by_storage() {
    use md5::Digest as _;
    let app = TestApp::spawn().await;
    let content = b"checked content".to_vec();
    let sha256 = hex::encode(sha2::Sha256::digest(&content));
    let md5 = hex::encode(md5::Md5::digest(&content));
    for declared in [json!({"sha256": sha256}), json!({"md5": md5})] {
        // The wrong bytes under a URL signed for a checksum: 400 BadDigest, nothing stored.
        let created = app.create(Some(declared.clone())).await;
        let id = created["id"].as_str().unwrap();
        let wrong = app.upload(&created, b"tampered content".to_vec()).await;
        assert_eq!(wrong.status(), 400, "{declared}");
        assert_eq!(s3_error(&wrong.text().await.unwrap()).0, "BadDigest");
        assert_eq!(app.status(Method::PUT, &format!("/assets/{id}")).await, 409);
        assert_eq!(app.asset(id).await.unwrap()["state"], "CREATED");
        // The declared content: accepted, and PUT verifies it again before UPLOADED.
        let created = app.create(Some(declared.clone())).await;
        let id = created["id"].as_str().unwrap();
        assert_eq!(
            app.upload(&created, content.clone()).await.status(),
            200,
            "{declared}"
        );
        assert_eq!(app.status(Method::PUT, &format!("/assets/{id}")).await, 202);
        assert!(app.asset(id).await.unwrap()["checksum"]["base64"].is_string());
    }
    // A digest of the wrong length or encoding is refused at create time.
    let bad = app
        .api
        .post(app.url("/assets"))
        .json(&json!({"sha256": "abc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
