//! The built `bootstrap` binary speaks the Lambda Runtime API: given a small Runtime API here
//! (`GET .../invocation/next`, `POST .../invocation/{id}/response`), it takes one API Gateway
//! event, answers it through the router against moto, and posts the reply.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::Path as UrlPath;
use axum::routing::{get, post};
use serde_json::Value;

use crate::common::{Moto, TestApp};
use crate::lambda::fixture;

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:assets-http";
const TRACE_ID: &str = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700";

/// Kills the process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bootstrap(site: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    command
        .envs(Moto::ENV)
        .env("LEPTOS_SITE_ROOT", site)
        .env("AWS_LAMBDA_FUNCTION_NAME", "assets-http")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdout(Stdio::null());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_serves_an_invocation_from_the_runtime_api() {
    let moto = Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let created = app.create(None).await;
    let event = fixture("list.json", &[("KEY", &app.key)]);

    // The Runtime API: one invocation, then none (a real one holds `next` open until the
    // next event; so does this).
    let (replies, mut replied) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let first = Arc::new(AtomicBool::new(true));
    let deadline_ms = (chrono::Utc::now().timestamp_millis() + 30_000).to_string();
    let runtime = axum::Router::new()
        .route(
            "/2018-06-01/runtime/invocation/next",
            get(move || {
                let headers = [
                    ("lambda-runtime-aws-request-id", REQUEST_ID.to_string()),
                    ("lambda-runtime-deadline-ms", deadline_ms.clone()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        FUNCTION_ARN.to_string(),
                    ),
                    ("lambda-runtime-trace-id", TRACE_ID.to_string()),
                ];
                let (first, event) = (first.clone(), event.to_string());
                async move {
                    if !first.swap(false, Ordering::SeqCst) {
                        std::future::pending::<()>().await;
                    }
                    (headers, event)
                }
            }),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/{outcome}",
            post(
                move |UrlPath((id, outcome)): UrlPath<(String, String)>, body: String| {
                    let _ = replies.send((format!("{id}/{outcome}"), body));
                    async { http::StatusCode::ACCEPTED }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, runtime).await });

    let site = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let _function = Running(
        bootstrap(site.path())
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("ASSETS_LAMBDA_HANDLER", "http")
            .args(moto.flags(&app.created_bucket()))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (path, body) = tokio::time::timeout(Duration::from_secs(60), replied.recv())
        .await
        .expect("bootstrap posted no reply within 60 s")
        .unwrap();
    eprintln!("bootstrap: start to first reply {:?}", started.elapsed());
    assert_eq!(
        path, "8476a536-e9f4-11e8-9739-2dfe598c3fcd/response",
        "{body}"
    );
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["statusCode"], 200, "{reply}");
    let page: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(page["items"][0]["asset_id"], created["id"], "{page}");
}

#[test]
fn bootstrap_refuses_to_start_outside_aws_mode() {
    let site = tempfile::tempdir().unwrap();
    let output = bootstrap(site.path())
        .env("ASSETS_LAMBDA_HANDLER", "http")
        .env("ASSETS_DATA_DIR", site.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ASSETS_STORE=dynamodb and ASSETS_OBJECTS=s3"),
        "{stderr}"
    );
    let output = bootstrap(site.path()).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("set ASSETS_LAMBDA_HANDLER"), "{stderr}");
}
