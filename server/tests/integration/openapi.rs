//! `GET /openapi.json` and `GET /docs` against the real server: the document is OpenAPI 3.1,
//! names every error code, states the real bounds, and covers every REST route: each
//! documented path answers exactly the documented methods (the rest are 405), and the paths
//! a REST route would plausibly take (multipart, Companion, live updates, other event
//! senders) answer as paths that do not exist.

use app::model::{ErrorCode, MAX_PAGE_SIZE, UrlLifetime};
use reqwest::{Method, StatusCode, header};
use serde_json::Value;

use crate::common::TestApp;

/// Every `ErrorCode`; the match makes a new variant a compile error here until it is listed.
fn every_error_code() -> Vec<ErrorCode> {
    use ErrorCode::*;
    let all = vec![
        InvalidInput,
        TooLarge,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        NotPreviewable,
        RateLimited,
        MisdirectedRequest,
        Unavailable,
    ];
    for code in &all {
        match code {
            InvalidInput | TooLarge | Unauthorized | Forbidden | NotFound | MethodNotAllowed
            | Conflict | NotPreviewable | RateLimited | MisdirectedRequest | Unavailable => {}
        }
    }
    all
}

async fn document(app: &TestApp) -> Value {
    // Public: no API key.
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "{:?}",
        response.headers()
    );
    response.json().await.unwrap()
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

#[tokio::test]
async fn the_document_is_openapi_3_1_with_every_error_code_and_the_real_bounds() {
    let app = TestApp::spawn_with(&["--max-upload-bytes", "12345"]).await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );

    let codes: Vec<ErrorCode> =
        serde_json::from_value(doc["components"]["schemas"]["ErrorCode"]["enum"].clone()).unwrap();
    assert_eq!(codes, every_error_code());
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(
        error["required"],
        serde_json::json!(["error_message", "code"])
    );
    assert_eq!(
        error["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["type"], "http");
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    assert_eq!(schemes["events_token"]["scheme"], "bearer");
    let unauthorized = &doc["components"]["responses"]["Unauthorized"];
    assert!(
        unauthorized["headers"]["WWW-Authenticate"].is_object(),
        "{unauthorized}"
    );
    for reply in ["RateLimited", "Unavailable"] {
        let headers = &doc["components"]["responses"][reply]["headers"];
        assert!(headers["Retry-After"].is_object(), "{reply}");
    }

    // Every asset operation, under both paths: the API key, 401 and 503 and 421 documented.
    for path in ["/assets", "/assets/{id}", "/asset", "/asset/{id}"] {
        let item = &doc["paths"][path];
        assert!(item.is_object(), "{path} is missing");
        for method in METHODS.iter().filter(|m| item[**m].is_object()) {
            let operation = &item[*method];
            assert_eq!(
                operation["security"],
                serde_json::json!([{"api_key": []}]),
                "{method} {path}"
            );
            for status in ["401", "421", "429", "503"] {
                assert!(
                    operation["responses"][status].is_object(),
                    "{method} {path} {status}"
                );
            }
        }
    }

    // Bounds as the server enforces them.
    let params = doc["paths"]["/assets"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| params.iter().find(|p| p["name"] == name).unwrap()["schema"].clone();
    assert_eq!(param("limit")["minimum"], 1);
    assert_eq!(param("limit")["maximum"], MAX_PAGE_SIZE);
    for name in [
        "cursor",
        "state",
        "owner",
        "include_deleted",
        "q",
        "type",
        "sort",
    ] {
        assert!(param(name).is_object(), "{name}");
    }
    // Search: bounds and values as the server takes them.
    assert_eq!(param("q")["maxLength"], app::model::MAX_QUERY_CHARS);
    assert_eq!(param("type")["maxLength"], app::model::MAX_TYPE_BYTES);
    assert_eq!(
        param("cursor")["pattern"],
        server::store::CURSOR_PATTERN,
        "the cursor's documented shape is the one the store issues"
    );
    assert_eq!(param("sort")["$ref"], "#/components/schemas/SortOrder");
    assert_eq!(
        doc["components"]["schemas"]["SortOrder"]["enum"],
        serde_json::json!(["newest", "oldest", "largest"])
    );
    let params = doc["paths"]["/assets/{id}"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let timeout = params.iter().find(|p| p["name"] == "timeout").unwrap();
    assert_eq!(timeout["schema"]["minimum"], UrlLifetime::MIN.secs());
    assert_eq!(timeout["schema"]["maximum"], UrlLifetime::MAX.secs());
    let new_asset = &doc["components"]["schemas"]["NewAsset"];
    assert_eq!(
        new_asset["properties"]["size"]["maximum"], 12345,
        "the configured limit"
    );
    assert_eq!(new_asset["additionalProperties"], false);

    // The stateful chain: create -> get / put / delete by the id in the reply.
    let links = &doc["paths"]["/assets"]["post"]["responses"]["201"]["links"];
    for operation in ["download_asset", "mark_uploaded", "delete_asset"] {
        let link = links
            .as_object()
            .unwrap()
            .values()
            .find(|l| l["operationId"] == operation)
            .unwrap_or_else(|| panic!("no link to {operation}: {links}"));
        assert_eq!(link["parameters"]["id"], "$response.body#/id");
    }

    // The document's own example of an error is a real error body.
    let example: app::model::ErrorBody = serde_json::from_value(error["example"].clone()).unwrap();
    assert_eq!(example.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn every_rest_route_is_in_the_document() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let id = app.create(None).await["id"].as_str().unwrap().to_string();
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/assets",
        "/assets/{id}",
        "/asset",
        "/asset/{id}",
        "/assets/events",
        "/events/s3",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }

    // On a documented path, a documented method reaches its handler; any other is a 405.
    for (path, item) in paths {
        let url = path.replace("{id}", &id);
        for method in METHODS {
            let response = app
                .api
                .request(method.to_uppercase().parse().unwrap(), app.url(&url))
                .send()
                .await
                .unwrap();
            let status = response.status();
            if item[method].is_object() {
                // Its handler's answer, whatever it is: not the router's 405, not the
                // dashboard's page for unknown paths.
                let html = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
                assert!(
                    status != StatusCode::METHOD_NOT_ALLOWED && !html,
                    "{method} {path} is documented but answers {status}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} answers but is not documented"
                );
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["code"], "method_not_allowed");
            }
        }
    }

    // Where a REST route would go, nothing answers but the dashboard's "no such page": the
    // same status and content type as a path that cannot exist.
    let candidates = [
        "/assets/{id}/multipart/abort",
        "/assets/{id}/multipart/parts/{id}",
        "/assets/{id}/parts",
        "/assets/{id}/upload",
        "/assets/{id}/download",
        "/assets/{id}/complete",
        "/assets/{id}/abort",
        "/asset/{id}/multipart",
        "/multipart",
        "/uploads",
        "/s3/multipart",
        "/s3/multipart/{id}",
        "/s3/params",
        "/s3/sign",
        "/companion",
        "/events",
        "/events/sns",
        "/events/minio",
        "/events/eventbridge",
        "/events/s3/{id}",
        "/live",
        "/assets/{id}/live",
        "/events/live",
        "/sse",
        "/v1/assets",
        "/health",
        "/ready",
        "/livez",
    ];
    for method in METHODS {
        let method: Method = method.to_uppercase().parse().unwrap();
        let nothing = app
            .api
            .request(method.clone(), app.url("/no-such-route-7f3a9"))
            .send()
            .await
            .unwrap();
        let baseline = (
            nothing.status(),
            nothing.headers().get(header::CONTENT_TYPE).cloned(),
        );
        assert_eq!(baseline.0, StatusCode::NOT_FOUND);
        for candidate in candidates {
            let url = candidate.replace("{id}", &id);
            let response = app
                .api
                .request(method.clone(), app.url(&url))
                .send()
                .await
                .unwrap();
            let answer = (
                response.status(),
                response.headers().get(header::CONTENT_TYPE).cloned(),
            );
            assert_eq!(
                answer, baseline,
                "{method} {candidate} answers but is not documented"
            );
        }
    }
}

#[tokio::test]
async fn the_docs_page_is_bundled_and_runs_no_inline_script() {
    let app = TestApp::spawn().await;
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    let script_src = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap();
    assert_eq!(
        script_src.trim(),
        "script-src 'self' 'wasm-unsafe-eval'",
        "{csp}"
    );
    assert_eq!(page.headers()[header::X_FRAME_OPTIONS], "DENY");
    let html = page.text().await.unwrap();
    // Every script is a file from this server: none inline, none from elsewhere.
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "{html}");
    for script in scripts {
        let tag = script.split('>').next().unwrap();
        assert!(
            tag.contains("src=\"./"),
            "not a bundled file: <script{tag}>"
        );
        let src = tag
            .split("src=\"./")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let file = app
            .client
            .get(app.url(&format!("/docs/{src}")))
            .send()
            .await
            .unwrap();
        assert_eq!(file.status(), 200, "{src}");
        if src == "swagger-initializer.js" {
            let js = file.text().await.unwrap();
            assert!(js.contains("\"/openapi.json\""), "{js}");
        }
    }
    // `/docs` itself leads to the page.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let bare = no_redirects.get(app.url("/docs")).send().await.unwrap();
    assert!(bare.status().is_redirection());
    assert_eq!(bare.headers()[header::LOCATION], "/docs/");

    // Behind the host check like everything else.
    let foreign = app
        .client
        .get(app.url("/openapi.json"))
        .header(header::HOST, "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::MISDIRECTED_REQUEST);
}
