//! The Companion-compatible routes Uppy's `@uppy/aws-s3` calls (`/companion/s3/multipart...`),
//! used as Uppy would: create, sign parts, PUT them to the embedded S3 endpoint, list,
//! complete, abort; the owner rules and the refusals.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, bearer_client};

const MIB: usize = 1 << 20;

/// Bytes that differ from part to part, so a misplaced part cannot pass.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 4099) as u8).collect()
}

struct Companion<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
}

impl<'a> Companion<'a> {
    fn with_key(app: &'a TestApp, key: &str) -> Self {
        Self {
            app,
            client: bearer_client(key),
        }
    }

    fn url(&self, path: &str) -> String {
        self.app.url(&format!("/companion/s3/multipart{path}"))
    }

    async fn create(&self, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(""))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Starts an upload; (key, uploadId).
    async fn start(&self, filename: &str) -> (String, String) {
        let reply = self
            .create(
                json!({"filename": filename, "type": "application/octet-stream",
                           "metadata": {"name": filename, "type": "application/octet-stream",
                                        "relativePath": null}}),
            )
            .await;
        assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());
        let body: Value = reply.json().await.unwrap();
        (
            body["key"].as_str().unwrap().to_string(),
            body["uploadId"].as_str().unwrap().to_string(),
        )
    }

    async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .query(&[("key", key)])
            .send()
            .await
            .unwrap()
    }

    /// Signs part `number` and PUTs `bytes` to it, as Uppy does; the ETag storage returned.
    async fn put_part(&self, key: &str, upload_id: &str, number: u32, bytes: Vec<u8>) -> String {
        let signed = self
            .get(&format!("/{}/{number}", urlencoding(upload_id)), key)
            .await;
        assert_eq!(signed.status(), 200);
        let signed: Value = signed.json().await.unwrap();
        assert!(signed["expires"].as_u64().unwrap() > 0);
        let put = self
            .app
            .client
            .put(signed["url"].as_str().unwrap())
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
        put.headers()["etag"].to_str().unwrap().to_string()
    }

    async fn complete(&self, key: &str, upload_id: &str, parts: Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/{}/complete", urlencoding(upload_id))))
            .query(&[("key", key)])
            .json(&json!({ "parts": parts }))
            .send()
            .await
            .unwrap()
    }

    async fn abort(&self, key: &str, upload_id: &str) -> reqwest::Response {
        self.client
            .delete(self.url(&format!("/{}", urlencoding(upload_id))))
            .query(&[("key", key)])
            .send()
            .await
            .unwrap()
    }
}

/// Uppy's `encodeURIComponent`, for upload ids in paths.
fn urlencoding(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn asset_id(key: &str) -> &str {
    key.strip_prefix("assets/").unwrap()
}

#[tokio::test]
async fn an_upload_through_the_companion_routes_downloads_as_the_same_bytes() {
    let app = TestApp::spawn().await;
    let (_, key) = app.user_with_key("alice", false).await;
    let uppy = Companion::with_key(&app, &key);
    let (object_key, upload_id) = uppy.start("movie.bin").await;
    let id = asset_id(&object_key).to_string();
    assert_eq!(
        app.wait_for_state(&id, "CREATED").await["filename"],
        "movie.bin"
    );

    // Two parts of 5 MiB and a short last one; part 2 is signed through the batch route.
    let bytes = content(10 * MIB + 12_345);
    let chunks: Vec<&[u8]> = bytes.chunks(5 * MIB).collect();
    assert_eq!(chunks.len(), 3);
    let etag1 = uppy
        .put_part(&object_key, &upload_id, 1, chunks[0].to_vec())
        .await;
    let batch = uppy
        .client
        .get(uppy.url(&format!("/{}/batch", urlencoding(&upload_id))))
        .query(&[("key", object_key.as_str()), ("partNumbers", "3,2,3")])
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 200);
    let batch: Value = batch.json().await.unwrap();
    let urls = batch["presignedUrls"].as_object().unwrap();
    // One URL per distinct part, as Companion answers a repeated number.
    assert_eq!(urls.len(), 2);
    let put = app
        .client
        .put(urls["2"].as_str().unwrap())
        .body(chunks[1].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let etag2 = put.headers()["etag"].to_str().unwrap().to_string();
    let etag3 = uppy
        .put_part(&object_key, &upload_id, 3, chunks[2].to_vec())
        .await;

    // Listing shows what storage holds, in S3's field names (as a resumed Uppy reads it).
    let listed = uppy
        .get(&format!("/{}", urlencoding(&upload_id)), &object_key)
        .await;
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(
        listed,
        json!([
            {"PartNumber": 1, "ETag": etag1, "Size": 5 * MIB},
            {"PartNumber": 2, "ETag": etag2, "Size": 5 * MIB},
            {"PartNumber": 3, "ETag": etag3, "Size": 12_345},
        ])
    );

    // Uppy sends the ETags without their quotes.
    let parts = json!([
        {"PartNumber": 1, "ETag": etag1.trim_matches('"')},
        {"PartNumber": 2, "ETag": etag2.trim_matches('"')},
        {"PartNumber": 3, "ETag": etag3.trim_matches('"')},
    ]);
    let done = uppy.complete(&object_key, &upload_id, parts.clone()).await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["location"], format!("/assets/{id}"));
    assert_eq!(done["key"], object_key);
    assert_eq!(done["bucket"], app.created_bucket());
    let asset = app.wait_for_state(&id, "RECEIVED").await;
    assert_eq!(asset["size"], bytes.len());
    assert_eq!(asset["filename"], "movie.bin");
    assert_eq!(asset["content_type"], "application/octet-stream");
    // Uppy's metadata is the object's user metadata, as Companion keeps it.
    let head = app
        .s3_client()
        .head_object()
        .bucket(app.created_bucket())
        .key(&object_key)
        .send()
        .await
        .unwrap();
    let metadata = head.metadata().unwrap();
    assert_eq!(metadata.get("name").map(String::as_str), Some("movie.bin"));
    assert_eq!(
        metadata.get("type").map(String::as_str),
        Some("application/octet-stream")
    );
    assert!(!metadata.contains_key("relativepath")); // null: no entry
    // Repeating the completion (a retry after a lost reply) answers the same.
    let again = uppy.complete(&object_key, &upload_id, parts).await;
    assert_eq!(again.status(), 200);

    let marked = uppy
        .client
        .put(app.url(&format!("/assets/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(marked.status(), 202);
    let link: Value = uppy
        .client
        .get(app.url(&format!("/assets/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let downloaded = app
        .client
        .get(link["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(downloaded == bytes, "the downloaded bytes differ");
}

#[tokio::test]
async fn aborting_drops_the_parts_and_deletes_the_asset() {
    let app = TestApp::spawn().await;
    let (_, key) = app.user_with_key("alice", false).await;
    let uppy = Companion::with_key(&app, &key);
    let (object_key, upload_id) = uppy.start("abandoned.bin").await;
    uppy.put_part(&object_key, &upload_id, 1, content(MIB))
        .await;

    let aborted = uppy.abort(&object_key, &upload_id).await;
    assert_eq!(aborted.status(), 200);
    assert_eq!(aborted.json::<Value>().await.unwrap(), json!({}));
    app.wait_for_state(asset_id(&object_key), "DELETED").await;
    // Storage has no upload left; the asset takes no more parts.
    let s3 = app.s3_client();
    let listed = s3
        .list_parts()
        .bucket(app.created_bucket())
        .key(&object_key)
        .upload_id(&upload_id)
        .send()
        .await;
    assert!(listed.is_err(), "the upload is still in storage");
    let signed = uppy
        .get(&format!("/{}/2", urlencoding(&upload_id)), &object_key)
        .await;
    assert_eq!(signed.status(), 409);
    let body: Value = signed.json().await.unwrap();
    assert_eq!(body["code"], "conflict");
}

#[tokio::test]
async fn only_the_owner_reaches_an_upload_and_only_by_its_own_pair() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user_with_key("alice", false).await;
    let (_, bob) = app.user_with_key("bob", false).await;
    let alice = Companion::with_key(&app, &alice);
    let bob = Companion::with_key(&app, &bob);
    let (key, upload_id) = alice.start("mine.bin").await;
    let (other_key, other_upload) = alice.start("also-mine.bin").await;
    let part = urlencoding(&upload_id);

    // Another user's upload is unknown, whatever the call.
    for response in [
        bob.get(&format!("/{part}"), &key).await,
        bob.get(&format!("/{part}/1"), &key).await,
        bob.complete(&key, &upload_id, json!([{"PartNumber": 1, "ETag": "abc"}]))
            .await,
        bob.abort(&key, &upload_id).await,
    ] {
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "not_found");
    }
    // A key with another upload's id, a made-up id, a key that is not ours: unknown too.
    for (key, upload) in [
        (key.as_str(), other_upload.as_str()),
        (other_key.as_str(), upload_id.as_str()),
        (key.as_str(), "not-an-upload"),
        ("assets/not-a-uuid", upload_id.as_str()),
        ("uploads/movie.bin", upload_id.as_str()),
    ] {
        let upload = urlencoding(upload);
        assert_eq!(alice.get(&format!("/{upload}"), key).await.status(), 404);
        assert_eq!(alice.get(&format!("/{upload}/1"), key).await.status(), 404);
        assert_eq!(alice.abort(key, &upload).await.status(), 404, "{key}");
    }
    // Nothing was aborted by the refused calls.
    assert_eq!(alice.get(&format!("/{part}"), &key).await.status(), 200);

    // Without credentials: 401, and so with a bad key.
    let anonymous = app
        .client
        .get(alice.url(&format!("/{part}")))
        .query(&[("key", &key)]);
    assert_eq!(anonymous.send().await.unwrap().status(), 401);
    let forged = Companion::with_key(&app, "assets_0000000000000000_AAAA");
    assert_eq!(forged.start_status().await, StatusCode::UNAUTHORIZED);
}

impl Companion<'_> {
    async fn start_status(&self) -> StatusCode {
        self.create(json!({"filename": "a", "type": "text/plain"}))
            .await
            .status()
    }
}

#[tokio::test]
async fn the_dashboard_session_works_from_our_own_pages_only() {
    let app = TestApp::spawn().await;
    app.auth()
        .add_user("carol", "a password for tests", false)
        .await
        .unwrap();
    let cookie = app.session_cookie("carol", "a password for tests").await;
    let create = |origin: &str| {
        app.client
            .post(app.url("/companion/s3/multipart"))
            .header("cookie", &cookie)
            .header("origin", origin)
            .json(&json!({"filename": "from-uppy.txt", "type": "text/plain"}))
    };
    let refused = create("http://evil.example").send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let started = create(&app.base).send().await.unwrap();
    assert_eq!(started.status(), 200);
    let started: Value = started.json().await.unwrap();
    let key = started["key"].as_str().unwrap();
    let asset = app.wait_for_state(asset_id(key), "CREATED").await;
    assert_eq!(asset["owner"], "carol");
    // A part URL for the session's own upload (a GET: no Origin needed).
    let signed = app
        .client
        .get(app.url(&format!(
            "/companion/s3/multipart/{}/1",
            urlencoding(started["uploadId"].as_str().unwrap())
        )))
        .query(&[("key", key)])
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    // A session that is not one: 401.
    let stale = app
        .client
        .post(app.url("/companion/s3/multipart"))
        .header("cookie", "assets_session=nope")
        .header("origin", &app.base)
        .json(&json!({"filename": "x", "type": "text/plain"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
}

#[tokio::test]
async fn malformed_requests_are_refused() {
    let app = TestApp::spawn().await;
    let (_, key) = app.user_with_key("alice", false).await;
    let uppy = Companion::with_key(&app, &key);
    let too_much: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    for body in [
        json!({}),
        json!({"filename": "a.txt"}),
        json!({"type": "text/plain"}),
        json!({"filename": "", "type": "text/plain"}),
        json!({"filename": "a\nb", "type": "text/plain"}),
        json!({"filename": "a.txt", "type": "not a type"}),
        json!({"filename": "a.txt", "type": 7}),
        json!({"filename": "a.txt", "type": "text/plain", "size": 3}),
        json!({"filename": "a.txt", "type": "text/plain", "metadata": {"n": 1}}),
        json!({"filename": "a.txt", "type": "text/plain", "metadata": {"n": {"x": "y"}}}),
        json!({"filename": "a.txt", "type": "text/plain", "metadata": {"a name": "x"}}),
        json!({"filename": "a.txt", "type": "text/plain", "metadata": {"n": "x".repeat(2048)}}),
        json!({"filename": "a.txt", "type": "text/plain", "metadata": too_much}),
        json!([]),
    ] {
        let response = uppy.create(body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "invalid_input", "{body}");
    }

    let (object_key, upload_id) = uppy.start("ok.bin").await;
    let upload = urlencoding(&upload_id);
    for part in ["0", "10001", "x", "-1"] {
        let response = uppy.get(&format!("/{upload}/{part}"), &object_key).await;
        assert_eq!(response.status(), 400, "part {part}");
    }
    // No key, or an unknown query parameter.
    let no_key = uppy
        .client
        .get(uppy.url(&format!("/{upload}/1")))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), 400);
    let extra = uppy
        .client
        .get(uppy.url(&format!("/{upload}/1")))
        .query(&[("key", object_key.as_str()), ("bucket", "other")])
        .send()
        .await
        .unwrap();
    assert_eq!(extra.status(), 400);
    for numbers in ["", "a", "1,,2", "0", "01", "1, 2", "10001", "1;2"] {
        let response = uppy
            .client
            .get(uppy.url(&format!("/{upload}/batch")))
            .query(&[("key", object_key.as_str()), ("partNumbers", numbers)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "partNumbers={numbers}");
    }
    for parts in [
        json!([]),
        json!("1"),
        json!([{"PartNumber": 1}]),
        json!([{"PartNumber": "1", "ETag": "abc"}]),
        json!([{"PartNumber": 1, "ETag": "abc", "Size": 3}]),
    ] {
        let response = uppy.complete(&object_key, &upload_id, parts.clone()).await;
        assert_eq!(response.status(), 400, "{parts}");
    }
    // Well formed (in any order), but no such part was uploaded: a conflict with storage.
    for parts in [
        json!([{"PartNumber": 2, "ETag": "abc"}, {"PartNumber": 1, "ETag": "def"}]),
        json!([{"PartNumber": 1, "ETag": "abc"}]),
    ] {
        let response = uppy.complete(&object_key, &upload_id, parts.clone()).await;
        assert_eq!(response.status(), 409, "{parts}");
    }
    // The upload is untouched by all that.
    let listed = uppy.get(&format!("/{upload}"), &object_key).await;
    assert_eq!(listed.json::<Value>().await.unwrap(), json!([]));
}
