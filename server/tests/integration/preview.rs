//! Previews: an uploaded image, video, audio or PDF gets a short-lived presigned GET that the
//! embedded S3 endpoint serves inline with our exact type; scriptable and unknown types stay
//! download-only (409 `not_previewable`), as do assets not yet uploaded.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;

/// An uploaded asset with `content_type` and `filename`; its id.
async fn uploaded(app: &TestApp, filename: &str, content_type: &str, bytes: &[u8]) -> String {
    let created = app
        .create(Some(
            json!({"filename": filename, "content_type": content_type}),
        ))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(app.upload(&created, bytes.to_vec()).await.status(), 200);
    app.wait_for_state(&id, "RECEIVED").await;
    assert_eq!(app.status(Method::PUT, &format!("/assets/{id}")).await, 202);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_previews_inline_with_its_validated_type() {
    let app = TestApp::spawn().await;
    let png = b"\x89PNG\r\n\x1a\nnot really a picture";
    let id = uploaded(&app, "cat \"x\".png", "image/PNG; name=evil.html", png).await;

    let reply = app
        .call(Method::GET, &format!("/assets/{id}/preview"))
        .await;
    assert_eq!(reply.status(), 200);
    let link: Value = reply.json().await.unwrap();
    assert_eq!(link["kind"], "image");
    assert_eq!(link["content_type"], "image/png");
    let expires: chrono::DateTime<chrono::Utc> =
        link["expires_at"].as_str().unwrap().parse().unwrap();
    let lifetime = expires - chrono::Utc::now();
    assert!(
        lifetime <= chrono::TimeDelta::seconds(300) && lifetime > chrono::TimeDelta::seconds(250),
        "{lifetime}"
    );
    let url = link["preview_url"].as_str().unwrap();
    assert!(url.starts_with(&app.s3_url), "{url}");

    // The embedded endpoint honours the signed response overrides, as S3 does.
    let shown = app.client.get(url).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    assert_eq!(shown.headers()["content-type"], "image/png");
    assert_eq!(
        shown.headers()["content-disposition"],
        "inline; filename=\"cat _x_.png\"; filename*=UTF-8''cat%20%22x%22.png"
    );
    assert_eq!(shown.bytes().await.unwrap().as_ref(), png);

    // The overrides are signed: changing one breaks the signature.
    let tampered = url.replace(
        "response-content-type=image%2Fpng",
        "response-content-type=text%2Fhtml",
    );
    assert_ne!(tampered, url);
    assert_eq!(
        app.client.get(&tampered).send().await.unwrap().status(),
        403
    );

    // The dashboard's server function gives the same kind of link.
    let cookie = app.admin_session().await;
    let via_fn = app
        .server_fn("get_preview_link", Some(&cookie), json!({"id": id}))
        .await;
    assert_eq!(via_fn.status(), 200);
    let via_fn: Value = via_fn.json().await.unwrap();
    assert_eq!(via_fn["kind"], "image");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scriptable_unknown_and_unfinished_assets_are_not_previewed() {
    let app = TestApp::spawn().await;
    for (name, content_type) in [
        ("page.html", "text/html"),
        ("logo.svg", "image/svg+xml"),
        ("feed.xml", "application/xml"),
        ("app.js", "text/javascript"),
        ("blob.bin", "application/octet-stream"),
    ] {
        let id = uploaded(&app, name, content_type, b"<script>alert(1)</script>").await;
        let reply = app
            .call(Method::GET, &format!("/assets/{id}/preview"))
            .await;
        assert_eq!(reply.status(), 409, "{content_type}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["code"], "not_previewable", "{content_type}");
        // Still downloadable, as an attachment.
        let link: Value = app.get_json(&format!("/assets/{id}")).await;
        let download = app
            .client
            .get(link["download_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let disposition = download.headers()["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
    }
    // No type declared: unknown, download-only.
    let created = app.create(None).await;
    let bare = created["id"].as_str().unwrap().to_string();
    app.upload(&created, b"x".to_vec()).await;
    app.wait_for_state(&bare, "RECEIVED").await;
    app.call(Method::PUT, &format!("/assets/{bare}")).await;
    let reply = app
        .call(Method::GET, &format!("/assets/{bare}/preview"))
        .await;
    assert_eq!(reply.status(), 409);

    // A previewable type not yet uploaded: the state refuses it first.
    let created = app
        .create(Some(
            json!({"filename": "a.png", "content_type": "image/png"}),
        ))
        .await;
    let pending = created["id"].as_str().unwrap();
    let reply = app
        .call(Method::GET, &format!("/assets/{pending}/preview"))
        .await;
    assert_eq!(reply.status(), 409);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["code"], "conflict");

    // Unknown ids are 404; malformed ones 400.
    let unknown = "0190c2a4-7d5e-7b3a-9f1e-2c4d6e8fa0b1";
    assert_eq!(
        app.status(Method::GET, &format!("/assets/{unknown}/preview"))
            .await,
        404
    );
    assert_eq!(app.status(Method::GET, "/assets/nope/preview").await, 400);
}
