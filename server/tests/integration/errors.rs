//! One error shape everywhere: `{"error_message","code"}` with the status that goes with the
//! code, from REST handlers, server functions and the framework's own rejections alike.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;

/// Sends `body` (raw) with `method` to `path` with the admin's API key; the status and the
/// JSON reply.
async fn send(app: &TestApp, method: Method, path: &str, body: &str) -> (u16, Value) {
    send_with(app, method, path, body, None).await
}

/// Same; with a session cookie (for server functions), from the dashboard's own origin.
async fn send_with(
    app: &TestApp,
    method: Method,
    path: &str,
    body: &str,
    cookie: Option<&str>,
) -> (u16, Value) {
    let mut request = app
        .api
        .request(method, app.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(cookie) = cookie {
        request = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .header("origin", &app.base)
            .header("cookie", cookie)
            .body(body.to_string());
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{path}: not a JSON error ({status}): {text:?}"));
    (status, json)
}

fn assert_error(reply: &(u16, Value), status: u16, code: &str) {
    assert_eq!(reply.0, status, "{:?}", reply.1);
    assert_eq!(reply.1["code"], code, "{:?}", reply.1);
    let message = reply.1["error_message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{:?}", reply.1);
    assert_eq!(
        reply.1.as_object().map(|o| o.len()),
        Some(2),
        "exactly error_message and code: {:?}",
        reply.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_functions_answer_with_the_rest_error_shape_and_status() {
    let app = TestApp::spawn_with(&["--max-upload-bytes", "100"]).await;
    let created = app.create(None).await;
    let id = created["id"].as_str().unwrap();
    let unknown = "1a5ea69a-d30c-11e7-90d0-129b5a655d2d";
    let cookie = app.admin_session().await;
    let post = |path: &'static str, body: String| {
        let (app, cookie) = (&app, &cookie);
        async move { send_with(app, Method::POST, path, &body, Some(cookie)).await }
    };

    // What the service refuses: the same code and status as the REST route.
    let rest = send(&app, Method::DELETE, &format!("/assets/{unknown}"), "").await;
    assert_error(&rest, 404, "not_found");
    let server_fn = post("/api/delete_asset", json!({"id": unknown}).to_string()).await;
    assert_error(&server_fn, 404, "not_found");
    assert_eq!(server_fn.1, rest.1, "the same body from both edges");
    assert_error(
        &post(
            "/api/get_download_link",
            json!({"id": id, "lifetime": 60}).to_string(),
        )
        .await,
        409,
        "conflict",
    );
    assert_error(
        &post("/api/mark_uploaded", json!({"id": id}).to_string()).await,
        409,
        "conflict",
    );
    assert_error(
        &post(
            "/api/create_upload",
            json!({"new": {"size": 101}}).to_string(),
        )
        .await,
        413,
        "too_large",
    );
    assert_error(
        &post(
            "/api/list_assets",
            json!({"query": {"limit": 0}}).to_string(),
        )
        .await,
        400,
        "invalid_input",
    );

    // Arguments that do not parse: the caller's mistake, 400, never a 500.
    for bad in [
        "{".to_string(),
        String::new(),
        "[]".to_string(),
        json!({"id": "not-a-uuid"}).to_string(),
        json!({"id": unknown, "lifetime": 0}).to_string(),
        json!({"id": unknown, "lifetime": 604_801}).to_string(),
    ] {
        let path = if bad.contains("lifetime") {
            "/api/get_download_link"
        } else {
            "/api/delete_asset"
        };
        assert_error(&post(path, bad.clone()).await, 400, "invalid_input");
    }
    // Nothing changed.
    assert_eq!(app.asset(id).await.unwrap()["state"], "CREATED");

    // A working call still answers 200 with its value.
    let (status, page) = post(
        "/api/list_assets",
        json!({"query": {"limit": 5}}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{page:?}");
    assert_eq!(page["items"][0]["asset_id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frameworks_own_rejections_are_json_errors() {
    let app = TestApp::spawn().await;
    // A body over axum's 2 MB default.
    let huge = format!("{{\"filename\":\"{}\"}}", "x".repeat(3 << 20));
    assert_error(
        &send(&app, Method::POST, "/assets", &huge).await,
        413,
        "too_large",
    );
    // A JSON array where an object is expected, and broken JSON.
    assert_error(
        &send(&app, Method::POST, "/assets", "[]").await,
        400,
        "invalid_input",
    );
    assert_error(
        &send(&app, Method::POST, "/assets", "{").await,
        400,
        "invalid_input",
    );
    // Unknown and malformed query parameters, bad ids.
    assert_error(
        &send(&app, Method::GET, "/assets?colour=red", "").await,
        400,
        "invalid_input",
    );
    assert_error(
        &send(&app, Method::GET, "/assets?limit=ten", "").await,
        400,
        "invalid_input",
    );
    assert_error(
        &send(&app, Method::GET, "/assets/not-a-uuid", "").await,
        400,
        "invalid_input",
    );
    assert_error(
        &send(
            &app,
            Method::GET,
            "/assets/1a5ea69ad30c11e790d0129b5a655d2d",
            "",
        )
        .await,
        400,
        "invalid_input",
    );
    // A method the route does not have.
    let patch = send(&app, Method::PATCH, "/assets", "").await;
    assert_error(&patch, 405, "method_not_allowed");
    // An oversized request target and oversized headers.
    let long = format!("/assets?cursor={}", "a".repeat(9000));
    assert_error(&send(&app, Method::GET, &long, "").await, 414, "too_large");
    let resp = app
        .api
        .get(app.url("/assets"))
        .header("x-padding", "p".repeat(40_000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 431);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "too_large");
    // Nothing was created by any of it.
    assert_eq!(app.get_json("/assets").await["items"], json!([]));
}
