//! Multipart uploads through the REST API on the embedded default: part URLs verified by the
//! real embedded S3 endpoint, completion checked against its ListParts, abort, the owner rule,
//! the size threshold, and the reconciler ending abandoned uploads.

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::common::{TestApp, bearer_client};

const MIB: usize = 1 << 20;

/// Small parts keep the tests fast: S3's minimum for every part but the last.
async fn spawn() -> TestApp {
    TestApp::spawn_with(&["--part-size", "5242880"]).await
}

/// Bytes that differ in every MiB.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i / MIB * 31 + i % 251) as u8).collect()
}

fn sha256_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.api
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Signs one part (with its checksum if given) and PUTs `bytes` to it; the reply.
async fn put_part(
    app: &TestApp,
    id: &str,
    number: u32,
    bytes: &[u8],
    sha256: Option<String>,
) -> reqwest::Response {
    let mut part = json!({"part_number": number});
    if let Some(sha256) = sha256 {
        part["sha256"] = sha256.into();
    }
    let signed = post(
        app,
        &format!("/assets/{id}/multipart/part-urls"),
        json!({ "parts": [part] }),
    )
    .await;
    assert_eq!(signed.status(), 200, "{}", signed.text().await.unwrap());
    let signed: Value = signed.json().await.unwrap();
    let url = &signed["parts"][0];
    assert_eq!(url["part_number"], number);
    assert_eq!(url["method"], "PUT");
    let mut request = app
        .client
        .put(url["url"].as_str().unwrap())
        .body(bytes.to_vec());
    for (name, value) in url["headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    request.send().await.unwrap()
}

/// Uploads `bytes` in parts of `part_size`; the parts' ETags, in order.
async fn upload_parts(
    app: &TestApp,
    id: &str,
    bytes: &[u8],
    part_size: usize,
    with_sha256: bool,
) -> Vec<String> {
    let mut etags = Vec::new();
    for (index, chunk) in bytes.chunks(part_size).enumerate() {
        let sha256 = with_sha256.then(|| sha256_b64(chunk));
        let reply = put_part(app, id, index as u32 + 1, chunk, sha256).await;
        assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());
        etags.push(reply.headers()["etag"].to_str().unwrap().to_string());
    }
    etags
}

fn part_list(etags: &[String]) -> Value {
    let parts: Vec<Value> = etags
        .iter()
        .enumerate()
        .map(|(i, etag)| json!({"part_number": i + 1, "etag": etag}))
        .collect();
    json!({ "parts": parts })
}

async fn create_multipart(app: &TestApp, size: usize, part_sha256: bool) -> (String, Value) {
    let created = app
        .create(Some(json!({
            "filename": "big.bin",
            "content_type": "application/octet-stream",
            "size": size,
            "multipart": true,
            "part_sha256": part_sha256,
        })))
        .await;
    (created["id"].as_str().unwrap().to_string(), created)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_goes_from_parts_to_a_download() {
    let app = spawn().await;
    let bytes = content(11 * MIB + 123);
    let (id, created) = create_multipart(&app, bytes.len(), true).await;
    assert!(created.get("upload_url").is_none(), "{created}");
    assert!(created.get("method").is_none(), "{created}");
    let multipart = &created["asset"]["multipart"];
    assert_eq!(multipart["part_size"], 5 * MIB);
    assert_eq!(multipart["part_sha256"], true);
    assert!(!multipart["upload_id"].as_str().unwrap().is_empty());

    let etags = upload_parts(&app, &id, &bytes, 5 * MIB, true).await;
    assert_eq!(etags.len(), 3);

    // What storage holds, to resume: every part, its size and checksum.
    let listed = app.get_json(&format!("/assets/{id}/multipart/parts")).await;
    assert_eq!(listed["upload_id"], multipart["upload_id"]);
    let parts = listed["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2]["size"], MIB + 123);
    assert_eq!(
        parts[0]["sha256"].as_str().unwrap(),
        sha256_b64(&bytes[..5 * MIB])
    );
    assert_eq!(
        parts[1]["etag"].as_str().unwrap(),
        etags[1].trim_matches('"')
    );

    let completed = post(
        &app,
        &format!("/assets/{id}/multipart/complete"),
        part_list(&etags),
    )
    .await;
    assert_eq!(
        completed.status(),
        200,
        "{}",
        completed.text().await.unwrap()
    );
    let asset: Value = completed.json().await.unwrap();
    assert_eq!(asset["state"], "RECEIVED");
    assert_eq!(asset["size"], bytes.len());
    assert_eq!(asset["multipart"]["parts"], 3);
    // The composite checksum: the SHA-256 of the parts' SHA-256s.
    let digests: Vec<u8> = bytes
        .chunks(5 * MIB)
        .flat_map(|chunk| Sha256::digest(chunk).to_vec())
        .collect();
    assert_eq!(asset["checksum"]["base64"], sha256_b64(&digests));
    // Completing again returns the asset as it is.
    let again = post(
        &app,
        &format!("/assets/{id}/multipart/complete"),
        part_list(&etags),
    )
    .await;
    assert_eq!(again.status(), 200);

    // Then as any upload: confirm (storage's composite checksum matches), download.
    let marked = app.call(Method::PUT, &format!("/assets/{id}")).await;
    assert_eq!(marked.status(), 202, "{}", marked.text().await.unwrap());
    let link = app.get_json(&format!("/assets/{id}")).await;
    let download = app
        .client
        .get(link["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert!(download.bytes().await.unwrap() == bytes);

    // A complete upload's parts no longer change.
    for (method, path) in [
        (Method::GET, format!("/assets/{id}/multipart/parts")),
        (Method::DELETE, format!("/assets/{id}/multipart")),
    ] {
        assert_eq!(app.status(method, &path).await, 409, "{path}");
    }
    let sign = post(
        &app,
        &format!("/assets/{id}/multipart/part-urls"),
        json!({"parts": [{"part_number": 1, "sha256": sha256_b64(b"x")}]}),
    )
    .await;
    assert_eq!(sign.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_checks_the_part_list_against_storage() {
    let app = spawn().await;
    let bytes = content(10 * MIB + 5);
    let (id, _) = create_multipart(&app, bytes.len(), false).await;
    let etags = upload_parts(&app, &id, &bytes, 5 * MIB, false).await;
    assert_eq!(etags.len(), 3);
    let complete = |body: Value| {
        let app = &app;
        let id = &id;
        async move {
            let reply = post(app, &format!("/assets/{id}/multipart/complete"), body).await;
            let status = reply.status().as_u16();
            (status, reply.json::<Value>().await.unwrap())
        }
    };
    // What storage holds decides: a mismatch is a conflict with it, not a malformed request.
    let wrong_etag = json!({"parts": [
        {"part_number": 1, "etag": etags[0]},
        {"part_number": 2, "etag": "\"0123456789abcdef0123456789abcdef\""},
        {"part_number": 3, "etag": etags[2]},
    ]});
    let (status, body) = complete(wrong_etag).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let missing = json!({"parts": [
        {"part_number": 1, "etag": etags[0]},
        {"part_number": 2, "etag": etags[1]},
        {"part_number": 3, "etag": etags[2]},
        {"part_number": 4, "etag": etags[2]},
    ]});
    assert_eq!(complete(missing).await.0, 409);
    let twice = json!({"parts": [
        {"part_number": 1, "etag": etags[0]},
        {"part_number": 2, "etag": etags[1]},
        {"part_number": 2, "etag": etags[0]},
        {"part_number": 3, "etag": etags[2]},
    ]});
    assert_eq!(complete(twice).await.0, 409);
    // Two parts stored do not add up to the declared size.
    let short = json!({"parts": [
        {"part_number": 1, "etag": etags[0]},
        {"part_number": 2, "etag": etags[1]},
    ]});
    let (status, body) = complete(short).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    for malformed in [
        json!({"parts": []}),
        json!({"parts": [{"part_number": 1.5, "etag": "a"}]}),
        json!({"parts": [{"part_number": 0, "etag": "a"}]}),
        json!({"parts": [{"part_number": 1, "etag": ""}]}),
        json!({"parts": [{"part_number": 1}]}),
        json!({"parts": [{"part_number": 1, "etag": "a", "other": 1}]}),
    ] {
        assert_eq!(complete(malformed.clone()).await.0, 400, "{malformed}");
    }
    // Nothing above changed the asset.
    assert_eq!(app.asset(&id).await.unwrap()["state"], "CREATED");

    // A part sent again with other bytes has another ETag: the old one no longer completes.
    let mut changed = bytes[5 * MIB..10 * MIB].to_vec();
    changed[0] ^= 1;
    let replaced = put_part(&app, &id, 2, &changed, None).await;
    assert_eq!(replaced.status(), 200);
    assert_eq!(complete(part_list(&etags)).await.0, 409);
    let mut etags = etags;
    etags[1] = replaced.headers()["etag"].to_str().unwrap().to_string();
    let (status, body) = complete(part_list(&etags)).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("RECEIVED")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_urls_carry_the_declared_checksums() {
    let app = spawn().await;
    let bytes = content(6 * MIB);
    let (id, _) = create_multipart(&app, bytes.len(), true).await;
    let sign_path = format!("/assets/{id}/multipart/part-urls");
    let sign = |parts: Value| post(&app, &sign_path, json!({ "parts": parts }));
    // This upload checks every part: a part without its checksum is refused.
    assert_eq!(sign(json!([{"part_number": 1}])).await.status(), 409);
    for bad in [
        json!([]),
        json!([{"part_number": 0, "sha256": sha256_b64(b"x")}]),
        json!([{"part_number": 10001, "sha256": sha256_b64(b"x")}]),
        json!([{"part_number": 1, "sha256": "not a digest"}]),
        json!(
            (1..=101)
                .map(|n| json!({"part_number": n, "sha256": sha256_b64(b"x")}))
                .collect::<Vec<_>>()
        ),
    ] {
        assert_eq!(sign(bad.clone()).await.status(), 400, "{bad}");
    }
    let batch: Vec<Value> = (1..=100)
        .map(|n| json!({"part_number": n, "sha256": sha256_b64(b"x")}))
        .collect();
    let signed: Value = sign(json!(batch)).await.json().await.unwrap();
    assert_eq!(signed["parts"].as_array().unwrap().len(), 100);
    // Numbers as JSON may write them; a part asked for twice gets two URLs.
    let twice = json!([{"part_number": 2.0, "sha256": sha256_b64(b"x")}, {"part_number": 2, "sha256": sha256_b64(b"y")}]);
    let signed: Value = sign(twice).await.json().await.unwrap();
    assert_eq!(signed["parts"][1]["part_number"], 2);

    // Bytes other than those declared: storage refuses the part.
    let declared = sha256_b64(&bytes[..5 * MIB]);
    let mut tampered = bytes[..5 * MIB].to_vec();
    tampered[7] ^= 0xff;
    let refused = put_part(&app, &id, 1, &tampered, Some(declared.clone())).await;
    assert_eq!(refused.status(), 400, "{}", refused.text().await.unwrap());
    let listed = app.get_json(&format!("/assets/{id}/multipart/parts")).await;
    assert_eq!(listed["parts"], json!([]));
    let accepted = put_part(&app, &id, 1, &bytes[..5 * MIB], Some(declared)).await;
    assert_eq!(accepted.status(), 200);

    // An upload started without part checksums refuses them.
    let (plain, _) = create_multipart(&app, bytes.len(), false).await;
    let with_sum = post(
        &app,
        &format!("/assets/{plain}/multipart/part-urls"),
        json!({"parts": [{"part_number": 1, "sha256": sha256_b64(b"x")}]}),
    )
    .await;
    assert_eq!(with_sum.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_drops_the_parts_and_deletes_the_asset() {
    let app = spawn().await;
    let bytes = content(5 * MIB + 1);
    let (id, _) = create_multipart(&app, bytes.len(), false).await;
    upload_parts(&app, &id, &bytes[..5 * MIB], 5 * MIB, false).await;
    let s3 = app.s3_client();
    let bucket = app.created_bucket();
    let uploads = || async {
        s3.list_multipart_uploads()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .uploads()
            .len()
    };
    assert_eq!(uploads().await, 1);
    assert_eq!(
        app.status(Method::DELETE, &format!("/assets/{id}/multipart"))
            .await,
        204
    );
    assert_eq!(uploads().await, 0);
    assert_eq!(app.asset(&id).await.unwrap()["state"], "DELETED");
    assert_eq!(
        app.status(Method::GET, &format!("/assets/{id}/multipart/parts"))
            .await,
        409
    );
    assert_eq!(
        app.status(Method::DELETE, &format!("/assets/{id}/multipart"))
            .await,
        409
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_works_on_the_parts() {
    let app = spawn().await;
    let (_, alice_key) = app.user_with_key("alice", false).await;
    let (_, bob_key) = app.user_with_key("bob", false).await;
    let alice = bearer_client(&alice_key);
    let bob = bearer_client(&bob_key);
    let created: Value = alice
        .post(app.url("/assets"))
        .json(&json!({"size": 6 * MIB, "multipart": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let calls = [
        (
            Method::POST,
            "part-urls",
            json!({"parts": [{"part_number": 1}]}),
        ),
        (Method::GET, "parts", Value::Null),
        (
            Method::POST,
            "complete",
            json!({"parts": [{"part_number": 1, "etag": "a"}]}),
        ),
        (Method::DELETE, "", Value::Null),
    ];
    for (method, tail, body) in calls {
        let path = format!("/assets/{id}/multipart/{tail}");
        let path = path.trim_end_matches('/');
        let mut request = bob.request(method.clone(), app.url(path));
        if !body.is_null() {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 404, "{method} {path}");
        let unauthenticated = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthenticated.status(), 401, "{method} {path}");
    }
    // Alice can; the admin can too.
    let own = alice
        .get(app.url(&format!("/assets/{id}/multipart/parts")))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(
        app.status(Method::GET, &format!("/assets/{id}/multipart/parts"))
            .await,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_declared_sizes_go_in_parts_unless_that_cannot_be_checked() {
    let app = TestApp::spawn().await; // the defaults: 64 MiB threshold, 16 MiB parts
    let big = app.create(Some(json!({"size": 64 * MIB}))).await;
    assert!(big.get("upload_url").is_none());
    assert_eq!(big["asset"]["multipart"]["part_size"], 16 * MIB);
    let small = app.create(Some(json!({"size": 64 * MIB - 1}))).await;
    assert!(small["upload_url"].is_string());
    assert!(small["asset"].get("multipart").is_none());
    // A whole-object checksum keeps it one PUT (storage checks it there)...
    let checked = app
        .create(Some(json!({"size": 100 * MIB, "sha256": sha256_b64(b"x")})))
        .await;
    assert!(checked["upload_url"].is_string());
    // ...up to S3's 5 GiB for a PUT; a 50 GB upload gets parts big enough for 10,000 of them.
    let huge = app.create(Some(json!({"size": 50_000_000_000u64}))).await;
    assert_eq!(huge["asset"]["multipart"]["part_size"], 16 * MIB);
    let five_tib = app.create(Some(json!({"size": 5u64 << 40}))).await;
    let part_size = five_tib["asset"]["multipart"]["part_size"]
        .as_u64()
        .unwrap();
    assert!((5u64 << 40).div_ceil(part_size) <= 10_000, "{part_size}");
    for refused in [
        json!({"size": 6u64 << 30, "sha256": sha256_b64(b"x")}),
        json!({"size": 6u64 << 30, "multipart": false}),
        json!({"multipart": true, "md5": "XUFAKrxLKna5cZ2REBfFkg=="}),
        json!({"multipart": false, "part_sha256": true}),
        json!({"multipart": "yes"}),
    ] {
        let reply = post(&app, "/assets", refused.clone()).await;
        assert_eq!(reply.status(), 400, "{refused}");
    }
    let too_big = post(&app, "/assets", json!({"size": (5u64 << 40) + 1})).await;
    assert_eq!(too_big.status(), 413);
    // A single-PUT asset has no parts.
    let id = small["id"].as_str().unwrap();
    assert_eq!(
        app.status(Method::GET, &format!("/assets/{id}/multipart/parts"))
            .await,
        409
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_aborts_multipart_uploads_nobody_finished() {
    // Part URLs live long enough to upload under load; the sweeps below count with 1 s.
    let app = TestApp::spawn_with(&["--part-size", "5242880", "--reconcile-interval", "0"]).await;
    let (idle, _) = create_multipart(&app, 6 * MIB, false).await;
    upload_parts(&app, &idle, &content(5 * MIB), 5 * MIB, false).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    // Still sending parts: its last part is recent.
    let (busy, _) = create_multipart(&app, 6 * MIB, false).await;
    let run = |extra: &[&str]| app.reconcile(extra);
    // A day's grace by default: nothing ends.
    assert_eq!(run(&[])["expired"], 0);
    upload_parts(&app, &busy, &content(5 * MIB), 5 * MIB, false).await;
    assert_eq!(run(&["--abandoned-after", "1"])["expired"], 1);
    assert!(app.asset(&idle).await.is_none());
    assert_eq!(app.asset(&busy).await.unwrap()["state"], "CREATED");
    let s3 = app.s3_client();
    let uploads = s3
        .list_multipart_uploads()
        .bucket(app.created_bucket())
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = uploads.uploads().iter().filter_map(|u| u.key()).collect();
    assert_eq!(keys, [format!("assets/{busy}")]);
}
