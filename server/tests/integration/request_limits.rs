//! Per-request bounds and hygiene on the app port: request ids, body limits (413, nothing
//! changed), rate limits (429 with Retry-After), time limits and load shedding (503),
//! `Cache-Control: no-store` on every reply that carries a URL or a key.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;

use crate::common::TestApp;

async fn error_of(response: reqwest::Response) -> (StatusCode, Option<String>, Value) {
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_has_an_id_in_its_reply_and_its_log_lines() {
    let app = TestApp::spawn_process(&[]).await;
    // Made by the server when the client sends none.
    let made = app.call(Method::GET, "/assets").await;
    let id = made.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let other = app.call(Method::GET, "/assets").await;
    assert_ne!(other.headers()["x-request-id"], id.as_str());

    // The client's own is kept, and names the request's log lines.
    let chosen = format!("trace-{}", uuid::Uuid::new_v4().simple());
    let created = app
        .api
        .post(app.url("/assets"))
        .header("x-request-id", &chosen)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["x-request-id"], chosen.as_str());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = app.log();
        let line = log.lines().find(|l| l.contains("asset created"));
        if let Some(line) = line.filter(|l| l.contains(&chosen)) {
            assert!(line.contains(&format!("request_id={chosen}")), "{line}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {chosen}:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One that could forge log lines or is too long is replaced.
    for odd in ["two words".to_string(), "x".repeat(129)] {
        let reply = app
            .api
            .get(app.url("/assets"))
            .header("x-request-id", &odd)
            .send()
            .await
            .unwrap();
        let id = reply.headers()["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{odd} kept as {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_the_request_id_in_their_span() {
    let app = TestApp::spawn_process(&["--log-format", "json"]).await;
    let chosen = format!("json-{}", uuid::Uuid::new_v4().simple());
    let created = app
        .api
        .post(app.url("/assets"))
        .header("x-request-id", &chosen)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let deadline = Instant::now() + Duration::from_secs(5);
    let line = loop {
        let log = app.log();
        let found = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["message"] == "asset created");
        if let Some(line) = found {
            break line;
        }
        assert!(Instant::now() < deadline, "no JSON line:\n{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(line["span"]["request_id"], chosen.as_str(), "{line}");
    assert_eq!(line["span"]["path"], "/assets", "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_413_and_change_nothing() {
    let app = TestApp::spawn_with(&["--max-event-body-bytes", "4096"]).await;
    let big_name = "x".repeat(70 * 1024);
    let body = json!({ "filename": big_name }).to_string();
    // Declared length over the limit.
    let (status, _, error) = error_of(
        app.api
            .post(app.url("/assets"))
            .body(body.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(error["code"], "too_large");
    assert!(
        error["error_message"].as_str().unwrap().contains("65536"),
        "{error}"
    );
    // Chunked, no length declared: cut at the limit all the same.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
        .into_bytes()
        .chunks(8192)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let (status, _, error) = error_of(
        app.api
            .post(app.url("/assets"))
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status.as_u16(), error["code"].as_str()),
        (413, Some("too_large"))
    );
    // Server functions too.
    let cookie = app.admin_session().await;
    let args = json!({"query": {"limit": 5, "cursor": "c".repeat(70 * 1024)}});
    let (status, _, error) =
        error_of(app.server_fn("list_assets", Some(&cookie), args).await).await;
    assert_eq!(
        (status.as_u16(), error["code"].as_str()),
        (413, Some("too_large"))
    );
    // Nothing was created.
    let listed = app.get_json("/assets").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "{listed}");

    // Event deliveries have their own, configurable limit.
    let delivery =
        |padding: usize| json!({"Records": [], "padding": "p".repeat(padding)}).to_string();
    let post_events = |body: String| {
        app.client
            .post(app.url("/events/s3"))
            .bearer_auth("no-token-configured")
            .body(body)
            .send()
    };
    let over = post_events(delivery(5000)).await.unwrap();
    assert_eq!(over.status(), 413);
    let under = post_events(delivery(100)).await.unwrap();
    assert_ne!(under.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_and_addresses_over_their_rate_get_429_with_retry_after() {
    // 2 per second with a 20-request burst, per key; loopback included for the test.
    let app = TestApp::spawn_with(&["--rate-limit", "2", "--rate-limit-loopback"]).await;
    for i in 0..20 {
        let status = app.status(Method::GET, "/assets").await;
        assert_eq!(status, 200, "request {i} of the burst");
    }
    let (status, retry, error) = error_of(app.call(Method::GET, "/assets").await).await;
    assert_eq!(status, 429);
    assert_eq!(error["code"], "rate_limited");
    assert_eq!(retry.as_deref(), Some("1"));
    // Another key has its own budget; health checks are never limited.
    let (_, other) = app.user_with_key("other", false).await;
    let other_status = app
        .client
        .get(app.url("/assets"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(other_status, 200);
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // After the wait it says, the key may call again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.status(Method::GET, "/assets").await, 200);

    // Per address, before authentication: a flood of bad keys is limited too.
    let app =
        TestApp::spawn_with(&["--rate-limit-per-address", "1", "--rate-limit-loopback"]).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let reply = app
            .client
            .get(app.url("/assets"))
            .bearer_auth("assets_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .send()
            .await
            .unwrap();
        statuses.push(reply.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);

    // Off for loopback by default: a burst far over the default rate passes.
    let app = TestApp::spawn().await;
    for _ in 0..600 {
        assert_eq!(app.status(Method::GET, "/healthz").await, 200);
    }
    for _ in 0..600 {
        assert_eq!(app.status(Method::GET, "/assets?limit=1").await, 200);
    }
}

/// A DynamoDB endpoint that accepts connections and never answers: every store call hangs
/// until the SDK's own timeout.
async fn silent_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            held.push(tokio::spawn(async move {
                let mut sink = [0u8; 4096];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            }));
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_and_excess_ones_are_shed_with_503() {
    let silent = silent_endpoint().await;
    let flags = [
        "--store",
        "dynamodb",
        "--dynamodb-endpoint",
        &silent,
        "--dynamodb-table",
        "t",
        "--request-timeout",
        "1",
        "--max-concurrent-requests",
        "1",
    ];
    let app = TestApp::spawn_with(&flags).await;
    let started = Instant::now();
    let slow = app.call(Method::GET, "/assets");
    let shed = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let reply = app.call(Method::GET, "/assets").await;
        (started.elapsed(), error_of(reply).await)
    };
    let (slow, (shed_after, (shed_status, shed_retry, shed_error))) = tokio::join!(slow, shed);
    let took = started.elapsed();
    // The one in flight: answered 503 at the timeout, not when the backend gives up (3 s+).
    let (status, retry, error) = error_of(slow).await;
    assert_eq!(
        (status.as_u16(), error["code"].as_str()),
        (503, Some("unavailable"))
    );
    assert!(
        error["error_message"].as_str().unwrap().contains("1 s"),
        "{error}"
    );
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(took < Duration::from_millis(2500), "{took:?}");
    // The one over the cap: 503 at once.
    assert_eq!(
        (shed_status.as_u16(), shed_error["code"].as_str()),
        (503, Some("unavailable"))
    );
    assert_eq!(shed_retry.as_deref(), Some("1"));
    assert!(shed_after < Duration::from_millis(500), "{shed_after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_with_urls_or_keys_are_never_cached() {
    let app = TestApp::spawn().await;
    let no_store = |reply: &reqwest::Response| {
        reply
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let created = app.api.post(app.url("/assets")).send().await.unwrap();
    assert_eq!(no_store(&created).as_deref(), Some("no-store"));
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.upload(&created, b"hello".to_vec()).await.status(), 200);
    app.wait_for_state(id, "RECEIVED").await;
    for (method, path) in [
        (Method::PUT, format!("/assets/{id}")),
        (Method::GET, format!("/assets/{id}")),
        (Method::GET, "/assets".to_string()),
    ] {
        let reply = app.call(method.clone(), &path).await;
        assert!(reply.status().is_success(), "{method} {path}");
        assert_eq!(
            no_store(&reply).as_deref(),
            Some("no-store"),
            "{method} {path}"
        );
    }
    // A key made on the dashboard.
    let cookie = app.admin_session().await;
    let reply = app
        .server_fn(
            "create_api_key",
            Some(&cookie),
            json!({"new": {"label": "ci"}}),
        )
        .await;
    assert_eq!(reply.status(), 200);
    assert_eq!(no_store(&reply).as_deref(), Some("no-store"));
}
