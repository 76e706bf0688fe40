//! `GET /metrics`: who may read it, and that what it says moves with what happens, read with a
//! real Prometheus text-format parser (`prometheus-parse`). The recorder is one per process and
//! tests run in parallel, so counters are compared as "moved by at least"; the assets-by-state
//! gauge is each server's own, so it is compared exactly.

use std::time::{Duration, Instant};

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use server::events::EventSource;
use server::notifications::parse_delivery;

use crate::common::{TestApp, bearer_client};

const SCRAPE_TOKEN: &str = "scrape-secret";
const EVENTS_TOKEN: &str = "events-secret";

/// One scrape, parsed.
struct Metrics(MetricsExposition<PrometheusType, PrometheusValue>);

impl Metrics {
    /// The sum of the samples of `name` whose labels include `labels` (a histogram counts its
    /// observations); 0 when there is none.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let Some(family) = self.0.families.get(name) else {
            return 0.0;
        };
        family
            .iter_samples()
            .filter(|sample| {
                let set = sample.get_labelset().unwrap();
                labels
                    .iter()
                    .all(|(k, v)| set.get_label_value(k) == Some(*v))
            })
            .map(|sample| match &sample.value {
                PrometheusValue::Unknown(n) | PrometheusValue::Gauge(n) => n.as_f64(),
                PrometheusValue::Counter(c) => c.value.as_f64(),
                PrometheusValue::Histogram(h) => h.count.unwrap() as f64,
                PrometheusValue::Summary(_) => panic!("{name} is a summary"),
            })
            .sum()
    }
}

async fn scrape_with(client: &reqwest::Client, app: &TestApp) -> reqwest::Response {
    client.get(app.url("/metrics")).send().await.unwrap()
}

/// Scrapes as the admin and parses the text.
async fn scrape(app: &TestApp) -> Metrics {
    let resp = scrape_with(&app.api, app).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    Metrics(parse_prometheus(&text).unwrap_or_else(|e| panic!("{e:?} in\n{text}")))
}

/// Asserts `name{labels}` grew by at least `by` between two scrapes.
fn assert_moved(before: &Metrics, after: &Metrics, name: &str, labels: &[(&str, &str)], by: f64) {
    let (was, is) = (before.value(name, labels), after.value(name, labels));
    assert!(
        is - was >= by,
        "{name}{labels:?} moved from {was} to {is}, expected at least +{by}"
    );
}

/// Scrapes until `check` holds (events and sweeps happen in the background), or fails.
async fn eventually(app: &TestApp, what: &str, check: impl Fn(&Metrics) -> bool) -> Metrics {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = scrape(app).await;
        if check(&metrics) {
            return metrics;
        }
        assert!(Instant::now() < deadline, "{what} never showed in /metrics");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_for_admins_and_the_scrape_token() {
    let app = TestApp::spawn_with(&["--metrics-token", SCRAPE_TOKEN]).await;

    let nobody = scrape_with(&app.client, &app).await;
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(nobody.headers()["www-authenticate"], "Bearer");
    let body: Value = nobody.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized", "{body}");
    assert!(body["error_message"].is_string());

    let wrong = scrape_with(&bearer_client("not-the-token"), &app).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let (user, user_key) = app.user_with_key("reader", false).await;
    let user_reply = scrape_with(&bearer_client(&user_key), &app).await;
    assert_eq!(user_reply.status(), StatusCode::FORBIDDEN);
    let body: Value = user_reply.json().await.unwrap();
    assert_eq!(body["code"], "forbidden", "{body}");
    let user_cookie = app.session_cookie(&user, "a password for tests").await;
    let user_session = app
        .client
        .get(app.url("/metrics"))
        .header("cookie", &user_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(user_session.status(), StatusCode::FORBIDDEN);

    let token = scrape_with(&bearer_client(SCRAPE_TOKEN), &app).await;
    assert_eq!(token.status(), StatusCode::OK);
    assert!(
        token.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = token.text().await.unwrap();
    assert!(text.contains("assets_build_info{version=\""), "{text}");

    assert_eq!(scrape_with(&app.api, &app).await.status(), StatusCode::OK);
    let admin_cookie = app.admin_session().await;
    let admin_session = app
        .client
        .get(app.url("/metrics"))
        .header("cookie", &admin_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(admin_session.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_asset_lifecycle_moves_the_counters() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    for state in ["CREATED", "RECEIVED", "UPLOADED", "DELETED"] {
        assert_eq!(before.value("assets_assets", &[("state", state)]), 0.0);
    }
    assert_eq!(
        before.value(
            "assets_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap();
    let after_create = scrape(&app).await;
    assert_eq!(
        after_create.value("assets_assets", &[("state", "CREATED")]),
        1.0
    );

    assert_eq!(
        app.upload(&created, b"metered".to_vec()).await.status(),
        200
    );
    app.wait_for_state(id, "RECEIVED").await;
    let path = format!("/assets/{id}");
    assert_eq!(app.status(Method::PUT, &path).await, 202);
    assert_eq!(app.status(Method::GET, &path).await, 200);
    assert_eq!(app.status(Method::DELETE, &path).await, 204);
    assert_eq!(app.status(Method::GET, "/no/such/route").await, 404);
    let after = scrape(&app).await;

    let requests = "assets_http_requests_total";
    for (method, route, status) in [
        ("POST", "/assets", "201"),
        ("PUT", "/assets/{id}", "202"),
        ("GET", "/assets/{id}", "200"),
        ("DELETE", "/assets/{id}", "204"),
        ("GET", "/assets", "200"),
        ("GET", "unmatched", "404"),
    ] {
        let labels = [("method", method), ("route", route), ("status", status)];
        assert_moved(&before, &after, requests, &labels, 1.0);
        let latency = "assets_http_request_duration_seconds";
        assert_moved(&before, &after, latency, &labels, 1.0);
    }
    // A path with an id in it is counted under its template, never as itself.
    assert_eq!(after.value(requests, &[("route", path.as_str())]), 0.0);

    assert_moved(&before, &after, "assets_upload_urls_issued_total", &[], 1.0);
    assert_moved(
        &before,
        &after,
        "assets_download_urls_issued_total",
        &[],
        1.0,
    );
    for (state, count) in [
        ("CREATED", 0.0),
        ("RECEIVED", 0.0),
        ("UPLOADED", 0.0),
        ("DELETED", 1.0),
    ] {
        assert_eq!(
            after.value("assets_assets", &[("state", state)]),
            count,
            "{state}"
        );
    }

    let store = "assets_store_call_duration_seconds";
    for operation in ["insert_asset", "get_asset", "update_asset", "list_assets"] {
        assert_moved(&before, &after, store, &[("operation", operation)], 1.0);
    }
    let objects = "assets_object_storage_call_duration_seconds";
    for operation in ["presign_put_object", "presign_get_object", "head_object"] {
        assert_moved(&before, &after, objects, &[("operation", operation)], 1.0);
    }
    // The consumer counts an event just after its write, which the client may see first.
    eventually(&app, "the embedded endpoint's event", |now| {
        ["received", "applied"].iter().all(|outcome| {
            let labels = [("source", "embedded"), ("outcome", *outcome)];
            now.value("assets_events_total", &labels) > before.value("assets_events_total", &labels)
        })
    })
    .await;
}

/// An asset whose object is stored, with no event delivered (events off).
async fn uploaded_silently(app: &TestApp) -> String {
    let created = app.create(None).await;
    assert_eq!(
        app.upload(&created, b"eleven byte".to_vec()).await.status(),
        200
    );
    created["id"].as_str().unwrap().to_string()
}

async fn deliver(app: &TestApp, body: &str, token: Option<&str>) -> StatusCode {
    let mut request = app
        .client
        .post(app.url("/events/s3"))
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_deliveries_and_sign_ins_are_counted() {
    let app =
        TestApp::spawn_with(&["--embedded-events", "false", "--events-token", EVENTS_TOKEN]).await;
    let id = uploaded_silently(&app).await;
    let before = scrape(&app).await;
    let event =
        json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "assets"},
        "object": {"key": format!("assets/{id}"), "sequencer": "0A"}}}]})
        .to_string();
    assert_eq!(deliver(&app, &event, Some(EVENTS_TOKEN)).await, 200);
    assert_eq!(deliver(&app, &event, Some(EVENTS_TOKEN)).await, 200); // a duplicate
    assert_eq!(deliver(&app, &event, None).await, 401);

    let password = "a password for tests";
    app.auth()
        .add_user("counted", password, false)
        .await
        .unwrap();
    assert_eq!(
        app.sign_in("counted", "not the password").await.status(),
        401
    );
    app.session_cookie("counted", password).await;
    let after = scrape(&app).await;

    let events = "assets_events_total";
    for (source, outcome, by) in [
        ("s3", "received", 2.0),
        ("s3", "applied", 1.0),
        ("s3", "skipped", 1.0),
        ("unknown", "refused", 1.0),
    ] {
        let labels = [("source", source), ("outcome", outcome)];
        assert_moved(&before, &after, events, &labels, by);
    }
    let failures = "assets_sign_in_failures_total";
    assert_moved(&before, &after, failures, &[("reason", "credentials")], 1.0);
    assert_moved(&before, &after, "assets_sessions_created_total", &[], 1.0);
    assert_moved(
        &before,
        &after,
        "assets_store_call_duration_seconds",
        &[("operation", "insert_session")],
        1.0,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciler_sweeps_and_repairs_are_counted() {
    let app = TestApp::spawn_with(&[
        "--embedded-events",
        "false",
        "--reconcile-interval",
        "1",
        "--reconcile-stale-after",
        "0",
    ])
    .await;
    let before = scrape(&app).await;
    uploaded_silently(&app).await;
    eventually(&app, "a reconciler repair", |after| {
        let repairs = "assets_reconciler_repairs_total";
        let sweeps = "assets_reconciler_sweeps_total";
        after.value(repairs, &[("kind", "received")])
            > before.value(repairs, &[("kind", "received")])
            && after.value(sweeps, &[("outcome", "completed")])
                > before.value(sweeps, &[("outcome", "completed")])
    })
    .await;
}

#[test]
fn each_envelope_names_its_source() {
    let fixture = |name: &str| {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    for (name, source) in [
        ("s3_put.json", EventSource::S3),
        ("minio_put.json", EventSource::Minio),
        ("eventbridge_object_created.json", EventSource::EventBridge),
    ] {
        assert_eq!(
            parse_delivery(&fixture(name)).unwrap().source,
            source,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_assets_by_state_come_from_a_background_count() {
    let moto = crate::common::Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    app.create(None).await;
    // The first scrape starts the count (a Scan) and does not wait for it.
    eventually(&app, "the count of CREATED assets", |now| {
        now.value("assets_assets", &[("state", "CREATED")]) == 1.0
    })
    .await;
    let scan = [("operation", "count_by_state")];
    let after = scrape(&app).await;
    assert!(after.value("assets_store_call_duration_seconds", &scan) >= 1.0);
}
