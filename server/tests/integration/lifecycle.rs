//! The original example's curl session, and its failure cases, against the real server on the
//! embedded default (real presigned URLs verified by the embedded S3 endpoint).

use std::time::Duration;

use crate::common::{TestApp, s3_error};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_curl_session_works_on_the_embedded_default() {
    let app = TestApp::spawn().await;

    // curl -sX POST $URL
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["asset"]["state"], "CREATED");
    assert!(
        created["upload_url"]
            .as_str()
            .unwrap()
            .starts_with(&app.s3_url)
    );

    // curl -sX PUT --upload-file file.txt "<SIGNED_URL>"
    let bytes = b"hello, asset service\n".to_vec();
    let upload = app.upload(&created, bytes.clone()).await;
    assert_eq!(upload.status(), 200);

    // The embedded endpoint's ObjectCreated:Put event moves it to RECEIVED.
    let received = app.wait_for_state(&id, "RECEIVED").await;
    assert_eq!(received["size"], bytes.len());

    // curl -sX PUT "$URL/<id>"
    let marked = app.call(Method::PUT, &format!("/assets/{id}")).await;
    assert_eq!(marked.status(), 202);
    assert_eq!(
        marked.json::<Value>().await.unwrap(),
        json!({"status": "UPLOADED"})
    );

    // curl -sX GET "$URL/<id>" and then the download URL
    let link: Value = app.get_json(&format!("/assets/{id}")).await;
    let download = app
        .client
        .get(link["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    let disposition = download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(download.bytes().await.unwrap().to_vec(), bytes);

    // curl -sX GET "$URL" lists it, newest first, with the original's field names
    let page: Value = app.get_json("/assets").await;
    let listed = &page["items"][0];
    assert_eq!(listed["asset_id"], id.as_str());
    assert_eq!(listed["state"], "UPLOADED");
    assert!(listed["createdAt"].is_string() && listed["updatedAt"].is_string());

    // curl -sX DELETE "$URL/<id>": soft delete, repeatable
    for _ in 0..2 {
        let deleted = app.call(Method::DELETE, &format!("/assets/{id}")).await;
        assert_eq!(deleted.status(), 204);
    }
    assert_eq!(app.asset(&id).await.unwrap()["state"], "DELETED");
    let page: Value = app.get_json("/assets").await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["asset_id"] != id.as_str()),
        "deleted assets are hidden"
    );
    // A deleted asset hands out no download URL and cannot be marked uploaded again.
    assert_eq!(app.status(Method::GET, &format!("/assets/{id}")).await, 409);
    assert_eq!(app.status(Method::PUT, &format!("/assets/{id}")).await, 409);

    // The singular path of the original answers too.
    assert_eq!(app.status(Method::GET, "/asset").await, 200);

    // Logs never carry a signature.
    let log = app.log();
    for url in [
        created["upload_url"].as_str().unwrap(),
        link["download_url"].as_str().unwrap(),
    ] {
        let signature = url.split("X-Amz-Signature=").nth(1).unwrap();
        assert!(!log.contains(signature), "a signature leaked into the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_urls_are_refused_like_s3() {
    let app = TestApp::spawn_with(&["--upload-url-ttl", "1"]).await;
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = app.upload(&created, b"too late".to_vec()).await;
    assert_eq!(late.status(), 403);
    assert_eq!(
        s3_error(&late.text().await.unwrap()),
        ("AccessDenied".into(), "Request has expired".into())
    );
    assert_eq!(app.asset(&id).await.unwrap()["state"], "CREATED");

    // A download URL with ?timeout=1 expires the same way.
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(app.upload(&created, b"x".to_vec()).await.status(), 200);
    assert_eq!(app.status(Method::PUT, &format!("/assets/{id}")).await, 202);
    let link: Value = app.get_json(&format!("/assets/{id}?timeout=1")).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = app
        .client
        .get(link["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 403);
    assert_eq!(
        s3_error(&late.text().await.unwrap()),
        ("AccessDenied".into(), "Request has expired".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_urls_are_refused() {
    let app = TestApp::spawn().await;
    let first = app.create(None).await;
    let second = app.create(None).await;
    let url = first["upload_url"].as_str().unwrap();
    let (first_id, second_id) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    let signature = url.split("X-Amz-Signature=").nth(1).unwrap();
    let flipped = format!(
        "{}{}",
        if signature.starts_with('0') { "1" } else { "0" },
        &signature[1..]
    );
    let tampered = [
        url.replace(first_id, second_id), // another key
        url.replace("X-Amz-Expires=3600", "X-Amz-Expires=604800"), // a longer life
        url.replace(signature, &flipped), // a forged signature
    ];
    for bad in tampered {
        assert_ne!(bad, url);
        let resp = app.client.put(&bad).body("x").send().await.unwrap();
        assert_eq!(resp.status(), 403, "{bad}");
        assert_eq!(
            s3_error(&resp.text().await.unwrap()).0,
            "SignatureDoesNotMatch"
        );
    }
    // Another method with the same URL: a GET is not the signed PUT.
    let resp = app.client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(app.asset(second_id).await.unwrap()["state"], "CREATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_json_errors_and_change_nothing() {
    let app = TestApp::spawn().await;
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap();

    let expect = |status: u16, code: &'static str| {
        move |resp: (u16, Value)| {
            assert_eq!(resp.0, status, "{:?}", resp.1);
            assert_eq!(resp.1["code"], code, "{:?}", resp.1);
            assert!(
                resp.1["error_message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    };
    let call = |method: reqwest::Method, path: String, body: Option<&'static str>| {
        let mut request = app.api.request(method, app.url(&path));
        if let Some(body) = body {
            request = request.body(body);
        }
        async move {
            let resp = request.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let unknown = "1a5ea69a-d30c-11e7-90d0-129b5a655d2d";
    expect(404, "not_found")(call(Method::GET, format!("/assets/{unknown}"), None).await);
    expect(404, "not_found")(call(Method::PUT, format!("/assets/{unknown}"), None).await);
    expect(404, "not_found")(call(Method::DELETE, format!("/assets/{unknown}"), None).await);
    for bad_id in [
        "abc",
        "312abad30f-11e7-b0129b5a655d2d",
        "1a5ea69a-d30c-11e7-90d0-129b5a655d2dX",
    ] {
        expect(400, "invalid_input")(call(Method::GET, format!("/assets/{bad_id}"), None).await);
        expect(400, "invalid_input")(call(Method::PUT, format!("/assets/{bad_id}"), None).await);
        expect(400, "invalid_input")(call(Method::DELETE, format!("/assets/{bad_id}"), None).await);
    }
    for bad_timeout in ["abc", "0", "604801", "-5"] {
        expect(400, "invalid_input")(
            call(
                Method::GET,
                format!("/assets/{id}?timeout={bad_timeout}"),
                None,
            )
            .await,
        );
    }
    // Not uploaded yet: no object behind it, so neither PUT nor a download URL.
    expect(409, "conflict")(call(Method::PUT, format!("/assets/{id}"), None).await);
    expect(409, "conflict")(call(Method::GET, format!("/assets/{id}?timeout=60"), None).await);
    // Bad create bodies.
    expect(400, "invalid_input")(call(Method::POST, "/assets".into(), Some("{not json")).await);
    expect(400, "invalid_input")(
        call(Method::POST, "/assets".into(), Some(r#"{"surprise": 1}"#)).await,
    );
    expect(400, "invalid_input")(
        call(
            Method::POST,
            "/assets".into(),
            Some(r#"{"content_type": "nonsense"}"#),
        )
        .await,
    );
    expect(400, "invalid_input")(
        call(
            Method::POST,
            "/assets".into(),
            Some(r#"{"filename": "a\nb"}"#),
        )
        .await,
    );
    expect(413, "too_large")(
        call(
            Method::POST,
            "/assets".into(),
            Some(r#"{"size": 99999999999999}"#),
        )
        .await,
    );
    // Bad listing parameters.
    expect(400, "invalid_input")(call(Method::GET, "/assets?limit=0".into(), None).await);
    expect(400, "invalid_input")(call(Method::GET, "/assets?limit=many".into(), None).await);
    expect(400, "invalid_input")(call(Method::GET, "/assets?state=GONE".into(), None).await);
    expect(400, "invalid_input")(call(Method::GET, "/assets?cursor=forged".into(), None).await);
    expect(405, "method_not_allowed")(call(Method::PATCH, format!("/assets/{id}"), None).await);

    // None of it changed anything: the one asset is still CREATED, nothing else exists.
    let page: Value = app.get_json("/assets?include_deleted=true").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["state"], "CREATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_event_does_not_strand_an_upload() {
    // Events switched off: storage never tells the server about the object.
    let app = TestApp::spawn_with(&["--embedded-events", "false"]).await;
    let created = app
        .create(Some(
            json!({"filename": "notes.txt", "content_type": "text/plain"}),
        ))
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.upload(&created, b"some notes".to_vec()).await.status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.asset(id).await.unwrap()["state"], "CREATED");
    // PUT checks storage with HEAD, so it still reaches UPLOADED and records what it found.
    let marked = app.call(Method::PUT, &format!("/assets/{id}")).await;
    assert_eq!(marked.status(), 202);
    let asset = app.asset(id).await.unwrap();
    assert_eq!(asset["state"], "UPLOADED");
    assert_eq!(asset["size"], 10);
    use md5::Digest as _;
    assert_eq!(asset["etag"], hex::encode(md5::Md5::digest(b"some notes")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_cover_every_asset_once_newest_first() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for _ in 0..23 {
        ids.push(app.create(None).await["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/assets?limit=10".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Value = app.get_json(&path).await;
        pages += 1;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["asset_id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    ids.reverse(); // newest first
    assert_eq!(seen, ids);

    // Filter by state.
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.upload(&created, b"x".to_vec()).await.status(), 200);
    app.wait_for_state(id, "RECEIVED").await;
    let page: Value = app.get_json("/assets?state=RECEIVED").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["asset_id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_urls_survive_a_restart() {
    let app = TestApp::spawn_process(&[]).await;
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.upload(&created, b"durable".to_vec()).await.status(),
        200
    );
    assert_eq!(app.status(Method::PUT, &format!("/assets/{id}")).await, 202);
    let link: Value = app.get_json(&format!("/assets/{id}?timeout=600")).await;

    let app = app.restart().await;
    assert_eq!(app.asset(&id).await.unwrap()["state"], "UPLOADED");
    // Same ports, same persisted signing key: a URL handed out before the restart still works.
    let resp = app
        .client
        .get(link["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"durable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_object_removes_the_record() {
    let app = TestApp::spawn().await;
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.upload(&created, b"short-lived".to_vec()).await.status(),
        200
    );
    app.wait_for_state(id, "RECEIVED").await;
    assert_eq!(
        app.status(Method::DELETE, &format!("/assets/{id}")).await,
        204
    );
    // An operator deletes the object in storage; its ObjectRemoved:Delete event removes the record.
    app.s3_client()
        .delete_object()
        .bucket("assets")
        .key(format!("assets/{id}"))
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.asset(id).await.is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "record was not removed"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(app.status(Method::GET, &format!("/assets/{id}")).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_endpoint_checks_storage_and_its_token() {
    let app = TestApp::spawn_with(&["--events-token", "s3cret-token"]).await;
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap();
    let event = json!({"Records": [{
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "assets"}, "object": {"key": format!("assets/{id}"), "size": 5, "sequencer": "00FF"}}
    }]});
    let post = |token: Option<&str>, body: String| {
        let mut request = app
            .client
            .post(app.url("/events/s3"))
            .header("content-type", "text/plain")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    // No token, wrong token: refused, nothing changes.
    assert_eq!(post(None, event.to_string()).await.unwrap().status(), 401);
    assert_eq!(
        post(Some("s3cret-tokeN"), event.to_string())
            .await
            .unwrap()
            .status(),
        401
    );
    // Right token but no object in storage: a forged or stale event changes nothing.
    let resp = post(Some("s3cret-token"), event.to_string()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"applied": 0, "skipped": 1})
    );
    assert_eq!(app.asset(id).await.unwrap()["state"], "CREATED");
    // Malformed bodies are 400; S3's test event is accepted and ignored.
    assert_eq!(
        post(Some("s3cret-token"), "nope".into())
            .await
            .unwrap()
            .status(),
        400
    );
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "assets"});
    assert_eq!(
        post(Some("s3cret-token"), test_event.to_string())
            .await
            .unwrap()
            .status(),
        200
    );
}
