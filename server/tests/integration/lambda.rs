//! AWS Lambda mode in process: recorded API Gateway HTTP API events (payload 2.0), S3's own
//! notification and an EventBridge schedule's event (`tests/fixtures/lambda/`, ids and keys
//! filled in here) given to the handler `bootstrap` hands the runtime (`Lambda::handle`,
//! without the runtime loop), against moto. Each reply is compared with what the long-lived
//! server (in process, AWS mode, the same table and bucket) answers to the same request.

use std::path::Path;

use base64::Engine as _;
use clap::Parser as _;
use lambda_http::Context;
use md5::Digest as _;
use reqwest::Method;
use serde_json::{Value, json};
use server::config::Config;
use server::lambda::{HandlerKind, Lambda};

use crate::common::{Moto, TestApp};

/// The API's host name in the recorded events (`requestContext.domainName`).
pub const DOMAIN: &str = "r8kq2x7d1m.execute-api.eu-west-1.amazonaws.com";
pub const PASSWORD: &str = "admin password for tests";
/// Stands in for the wasm `cargo leptos build` writes (a valid empty module).
const WASM: &[u8] = b"\0asm\x01\0\0\0";

/// A recorded event with its `{{NAME}}`s filled in (and `content-length` set to the body's).
pub fn fixture(name: &str, fill: &[(&str, &str)]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lambda")
        .join(name);
    let mut text = std::fs::read_to_string(path).unwrap();
    for (key, value) in fill {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    let mut event: Value = serde_json::from_str(&text).unwrap();
    if let Some(body) = event["body"].as_str() {
        event["headers"]["content-length"] = json!(body.len().to_string());
    }
    assert!(
        !event.to_string().contains("{{"),
        "{name}: a field is not filled in"
    );
    event
}

/// A handler on `app`'s table and bucket, as `bootstrap` builds it; `/pkg` from `site`.
pub async fn handler(
    moto: &Moto,
    app: &TestApp,
    kind: HandlerKind,
    site: &Path,
    extra: &[&str],
) -> Lambda {
    let args = ["bootstrap".to_string()]
        .into_iter()
        .chain(moto.flags(&app.created_bucket()))
        .chain(extra.iter().map(|s| s.to_string()));
    let config = Config::try_parse_from(args).unwrap();
    let mut options = leptos::config::get_configuration(None)
        .unwrap()
        .leptos_options;
    options.site_root = site.display().to_string().into();
    Lambda::build(config, options, kind).await.unwrap()
}

/// An HTTP reply as API Gateway gets it from the function.
pub struct Reply {
    pub status: u16,
    pub headers: Value,
    pub cookies: Vec<String>,
    pub body: Vec<u8>,
    pub base64: bool,
}

impl Reply {
    fn content_type(&self) -> &str {
        self.headers["content-type"].as_str().unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

pub async fn invoke(lambda: &Lambda, event: Value) -> Reply {
    let reply = lambda.handle(event, Context::default()).await.unwrap();
    let base64 = reply["isBase64Encoded"].as_bool().unwrap();
    let body = reply["body"].as_str().unwrap_or_default();
    let body = match base64 {
        true => base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap(),
        false => body.as_bytes().to_vec(),
    };
    Reply {
        status: reply["statusCode"].as_u64().unwrap() as u16,
        headers: reply["headers"].clone(),
        cookies: reply["cookies"]
            .as_array()
            .map(|c| c.iter().map(|c| c.as_str().unwrap().to_string()).collect())
            .unwrap_or_default(),
        body,
        base64,
    }
}

/// The JSON with what differs between two equal requests replaced: ids, times, presigned URLs.
fn normalized(value: &Value) -> Value {
    match value {
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => json!("<time>"),
        Value::String(s) if s.contains("X-Amz-Signature=") => json!("<presigned>"),
        // Ids, alone or in a message.
        Value::String(s) => {
            let id = regex_lite::Regex::new(
                "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            );
            json!(id.unwrap().replace_all(s, "<id>"))
        }
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Same status, content type and JSON (modulo ids and times); both bodies.
async fn assert_same(what: &str, lambda: &Reply, server: reqwest::Response) -> (Value, Value) {
    let status = server.status().as_u16();
    let content_type = server.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let server_json: Value = server.json().await.unwrap();
    let lambda_json = lambda.json();
    assert_eq!(
        lambda.status, status,
        "{what}: {lambda_json} vs {server_json}"
    );
    assert_eq!(lambda.content_type(), content_type, "{what}");
    assert_eq!(normalized(&lambda_json), normalized(&server_json), "{what}");
    assert!(!lambda.base64, "{what}: JSON comes back as text");
    (lambda_json, server_json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_events_are_answered_as_the_long_lived_server_answers() {
    let moto = Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/assets.wasm"), WASM).unwrap();
    let lambda = handler(&moto, &app, HandlerKind::Http, site.path(), &[]).await;
    let s3_events = handler(&moto, &app, HandlerKind::S3Events, site.path(), &[]).await;
    let key = app.key.clone();
    let bucket = app.created_bucket();

    // Create: one asset each way.
    let new = json!({"filename": "report.pdf", "content_type": "application/pdf"});
    let l = invoke(&lambda, fixture("create.json", &[("KEY", &key)])).await;
    let s = app
        .api
        .post(app.url("/assets"))
        .json(&new)
        .send()
        .await
        .unwrap();
    let (l_created, s_created) = assert_same("create", &l, s).await;
    assert_eq!(l.status, 201);
    assert!(
        l_created["upload_url"]
            .as_str()
            .unwrap()
            .starts_with(&moto.url)
    );
    let (lid, sid) = (
        l_created["id"].as_str().unwrap().to_string(),
        s_created["id"].as_str().unwrap().to_string(),
    );

    // Upload both; S3's notification of each: to the s3-events function, and to
    // `POST /events/s3` as a webhook would relay it.
    let bytes = b"%PDF-1.7 a report".to_vec();
    for created in [&l_created, &s_created] {
        let uploaded = app.upload(created, bytes.clone()).await;
        assert_eq!(uploaded.status(), 200);
    }
    let notification = |id: &str| {
        let size = bytes.len().to_string();
        let etag = format!("{:x}", md5::Md5::digest(&bytes));
        fixture(
            "s3_object_created.json",
            &[
                ("BUCKET", &bucket),
                ("ID", id),
                ("SIZE", &size),
                ("ETAG", &etag),
            ],
        )
    };
    let l_summary = s3_events
        .handle(notification(&lid), Context::default())
        .await
        .unwrap();
    let s_summary: Value = app
        .client
        .post(app.url("/events/s3"))
        .bearer_auth("test-token")
        .body(notification(&sid).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(l_summary, s_summary);
    assert_eq!(l_summary["applied"], 1, "{l_summary}");
    let (l_asset, s_asset) = (
        app.asset(&lid).await.unwrap(),
        app.asset(&sid).await.unwrap(),
    );
    assert_eq!(l_asset["state"], s_asset["state"]);
    assert_ne!(l_asset["state"], "CREATED");
    assert_eq!(l_asset["size"], bytes.len());
    // S3 delivers at least once: the same notification again changes nothing.
    let again = s3_events
        .handle(notification(&lid), Context::default())
        .await
        .unwrap();
    assert_eq!(again["applied"], 0, "{again}");

    // Mark uploaded, then get (a download link), list.
    let l = invoke(&lambda, fixture("put.json", &[("KEY", &key), ("ID", &lid)])).await;
    let s = app.call(Method::PUT, &format!("/assets/{sid}")).await;
    assert_same("put", &l, s).await;
    assert_eq!(l.status, 202);
    let l = invoke(&lambda, fixture("get.json", &[("KEY", &key), ("ID", &lid)])).await;
    let s = app
        .call(Method::GET, &format!("/assets/{sid}?timeout=300"))
        .await;
    let (l_link, _) = assert_same("get", &l, s).await;
    assert_eq!(l.status, 200);
    assert!(
        l_link["download_url"]
            .as_str()
            .unwrap()
            .starts_with(&moto.url),
        "{l_link}"
    );
    let l = invoke(&lambda, fixture("list.json", &[("KEY", &key)])).await;
    let s = app.call(Method::GET, "/assets?limit=100").await;
    let (l_list, s_list) = assert_same("list", &l, s).await;
    assert_eq!(l_list, s_list, "one table: the very same listing");
    assert_eq!(l_list["items"].as_array().unwrap().len(), 2);

    // The dashboard: sign in through the server function, over https (Secure, __Host-).
    app.auth().set_password("admin", PASSWORD).await.unwrap();
    let l = invoke(&lambda, fixture("sign_in.json", &[("PASSWORD", PASSWORD)])).await;
    let s = app.sign_in("admin", PASSWORD).await;
    assert_eq!(l.status, s.status().as_u16());
    assert_eq!(l.status, 200, "{}", l.text());
    assert_eq!(
        l.content_type(),
        s.headers()["content-type"].to_str().unwrap()
    );
    assert_eq!(
        l.cookies.len(),
        1,
        "Set-Cookie goes into `cookies`: {:?}",
        l.cookies
    );
    let set_cookie = &l.cookies[0];
    assert!(set_cookie.starts_with("__Host-"), "{set_cookie}");
    assert!(set_cookie.contains("Secure"), "{set_cookie}");
    let l_cookie = set_cookie.split(';').next().unwrap().to_string();
    let s_cookie = app.session_cookie("admin", PASSWORD).await;

    let l = invoke(
        &lambda,
        fixture("list_assets.json", &[("COOKIE", &l_cookie)]),
    )
    .await;
    let s = app
        .server_fn("list_assets", Some(&s_cookie), json!({"query": {}}))
        .await;
    let (l_page, s_page) = assert_same("list_assets server function", &l, s).await;
    assert_eq!(l_page, s_page);

    let l = invoke(&lambda, fixture("dashboard.json", &[("COOKIE", &l_cookie)])).await;
    let s = app
        .client
        .get(app.url("/"))
        .header("cookie", &s_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(l.status, s.status().as_u16());
    assert_eq!(l.status, 200);
    assert_eq!(
        l.content_type(),
        s.headers()["content-type"].to_str().unwrap()
    );
    let (page, s_page) = (l.text(), s.text().await.unwrap());
    for html in [&page, &s_page] {
        // The hydration script (nonce'd, CSP) loads the app's JS and wasm from /pkg.
        assert!(html.contains("/pkg/assets.js"), "{html}");
        assert!(
            html.contains(r#"("", "pkg", "assets", "assets", false)"#),
            "{html}"
        );
        assert!(html.contains("mod.hydrate()"), "{html}");
        assert!(html.contains("nonce="), "{html}");
        assert!(
            html.contains("report.pdf"),
            "the list is rendered on the server"
        );
    }
    assert!(
        l.headers["content-security-policy"]
            .as_str()
            .unwrap()
            .contains("'nonce-")
    );

    // Static files: binary ones come back base64 (API Gateway decodes them).
    let l = invoke(&lambda, fixture("wasm.json", &[])).await;
    assert_eq!(l.status, 200);
    assert_eq!(l.content_type(), "application/wasm");
    assert!(l.base64);
    assert_eq!(l.body, WASM);

    // Live updates: `hello` (refetch every 30 s, reconnect in 10 min), then the end.
    let l = invoke(&lambda, fixture("live.json", &[("KEY", &key)])).await;
    assert_eq!(l.status, 200);
    assert_eq!(l.content_type(), "text/event-stream");
    let stream = l.text();
    assert_eq!(stream.matches("event: ").count(), 1, "{stream}");
    assert!(
        stream.contains("event: hello\ndata: {\"refresh_secs\":30}\n"),
        "{stream}"
    );
    assert!(stream.contains("retry: 600000\n"), "{stream}");

    // Delete both.
    let l = invoke(
        &lambda,
        fixture("delete.json", &[("KEY", &key), ("ID", &lid)]),
    )
    .await;
    let s = app.call(Method::DELETE, &format!("/assets/{sid}")).await;
    assert_eq!(l.status, s.status().as_u16());
    assert_eq!(l.body.is_empty(), s.bytes().await.unwrap().is_empty());
    let l = invoke(&lambda, fixture("get.json", &[("KEY", &key), ("ID", &lid)])).await;
    let s = app.call(Method::GET, &format!("/assets/{sid}")).await;
    let (gone, _) = assert_same("get after delete", &l, s).await;
    assert_eq!(l.status, 409, "{gone}");
    assert_eq!(gone["code"], "conflict");
}
