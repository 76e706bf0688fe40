//! AWS Lambda mode's edges, in process against moto: whose host and address count behind API
//! Gateway, the scheduled reconciler, events a handler cannot take, configurations it refuses.

use clap::Parser as _;
use lambda_http::Context;
use serde_json::json;
use server::config::Config;
use server::lambda::{HandlerKind, Lambda};

use crate::common::{Moto, TestApp};
use crate::lambda::{DOMAIN, PASSWORD, fixture, handler, invoke};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_host_api_gateway_vouches_for_is_accepted_and_not_by_the_server() {
    let moto = Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let site = tempfile::tempdir().unwrap();
    let lambda = handler(&moto, &app, HandlerKind::Http, site.path(), &[]).await;
    // The long-lived server without --public-url answers for loopback names only.
    let s = app
        .api
        .get(app.url("/assets"))
        .header("host", DOMAIN)
        .send()
        .await
        .unwrap();
    assert_eq!(s.status(), 421);
    // A forged Host header does not matter: API Gateway's own name is what counts.
    let mut event = fixture("list.json", &[("KEY", &app.key)]);
    event["headers"]["host"] = json!("evil.example");
    assert_eq!(invoke(&lambda, event).await.status, 200);
    // A cookie-borne state change from another origin is refused (CSRF), over https too.
    let mut event = fixture("sign_in.json", &[("PASSWORD", PASSWORD)]);
    event["headers"]["origin"] = json!("https://evil.example");
    event["cookies"] = json!(["__Host-assets_session=x"]);
    let refused = invoke(&lambda, event).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.json()["code"], "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_event_repairs_a_stale_asset_once() {
    let moto = Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let site = tempfile::tempdir().unwrap();
    let reconcile = handler(
        &moto,
        &app,
        HandlerKind::Reconcile,
        site.path(),
        &["--reconcile-stale-after", "0"],
    )
    .await;
    // Uploaded, but its notification was lost: stale in CREATED.
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.upload(&created, b"lost event".to_vec()).await.status(),
        200
    );
    assert_eq!(app.asset(id).await.unwrap()["state"], "CREATED");

    let report = reconcile
        .handle(fixture("scheduled.json", &[]), Context::default())
        .await
        .unwrap();
    assert_eq!(report, json!({"checked": 1, "received": 1, "expired": 0}));
    let repaired = app.asset(id).await.unwrap();
    assert_eq!(repaired["state"], "RECEIVED");
    assert_eq!(repaired["size"], 10);
    let report = reconcile
        .handle(fixture("scheduled.json", &[]), Context::default())
        .await
        .unwrap();
    assert_eq!(report, json!({"checked": 0, "received": 0, "expired": 0}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_event_fails_the_invocation_so_lambda_retries_it() {
    let moto = Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let site = tempfile::tempdir().unwrap();
    let s3_events = handler(&moto, &app, HandlerKind::S3Events, site.path(), &[]).await;
    let err = s3_events
        .handle(json!({"not": "records"}), Context::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not an S3 event notification"),
        "{err}"
    );
    let http = handler(&moto, &app, HandlerKind::Http, site.path(), &[]).await;
    let err = http
        .handle(fixture("scheduled.json", &[]), Context::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not an HTTP API event"), "{err}");
}

#[tokio::test]
async fn lambda_refuses_anything_but_aws_mode_and_unknown_handlers() {
    let options = leptos::config::get_configuration(None)
        .unwrap()
        .leptos_options;
    let config = Config::try_parse_from(["bootstrap"]).unwrap();
    let err = Lambda::build(config, options, HandlerKind::Http)
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("ASSETS_STORE=dynamodb and ASSETS_OBJECTS=s3"),
        "{err}"
    );
    let err = HandlerKind::parse("web").unwrap_err();
    assert!(
        err.to_string().contains("http, s3-events or reconcile"),
        "{err}"
    );
    assert_eq!(
        HandlerKind::parse("s3-events").unwrap(),
        HandlerKind::S3Events
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_rate_limit_counts_api_gateways_source_ip() {
    let moto = Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let site = tempfile::tempdir().unwrap();
    let extra = ["--rate-limit-per-address", "1"];
    let lambda = handler(&moto, &app, HandlerKind::Http, site.path(), &extra).await;
    let from = |ip: &str| {
        let mut event = fixture("list.json", &[("KEY", &app.key)]);
        event["requestContext"]["http"]["sourceIp"] = json!(ip);
        event
    };
    // A burst of ten seconds' worth, then 429 for that address only.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(invoke(&lambda, from("203.0.113.7")).await.status);
    }
    assert_eq!(statuses[..10], [200; 10], "{statuses:?}");
    assert_eq!(statuses[11], 429, "{statuses:?}");
    let limited = invoke(&lambda, from("203.0.113.7")).await;
    assert_eq!(limited.json()["code"], "rate_limited");
    assert_eq!(invoke(&lambda, from("198.51.100.9")).await.status, 200);
}
