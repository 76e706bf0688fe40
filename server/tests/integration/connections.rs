//! Both ports under hostile connections, and the drain on SIGTERM: idle and trickling
//! connections cannot stop the server, a half-sent request head cannot hold up shutdown, and
//! an upload in flight at SIGTERM either completes (and its event is applied) within the grace
//! or is cut, with the process gone within grace + 2 s.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::TestApp;

fn address(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

/// Opens `n` connections that send nothing.
async fn idle_connections(url: &str, n: usize) -> Vec<TcpStream> {
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        open.push(TcpStream::connect(address(url)).await.unwrap());
    }
    open
}

/// `GET /healthz` must answer within a second.
async fn healthy_within_a_second(app: &TestApp) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let reply = client.get(app.url("/healthz")).send().await;
    assert_eq!(reply.map(|r| r.status().as_u16()).ok(), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eleven_hundred_idle_connections_per_port_stop_neither() {
    // The test itself holds 2,200 sockets.
    server::startup::raise_descriptor_limit();
    // Started as a shell leaves it: a soft limit of 1,024 descriptors.
    let app = TestApp::spawn_process_with_descriptors(Some(1024), &[]).await;
    let _app_port = idle_connections(&app.base, 1100).await;
    let _s3_port = idle_connections(&app.s3_url, 1100).await;
    healthy_within_a_second(&app).await;
    assert_eq!(app.status(Method::GET, "/assets").await, 200);
    // The embedded endpoint answers too (an anonymous request is refused, as S3 does).
    let s3 = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap()
        .get(format!("{}/assets/x", app.s3_url))
        .send()
        .await
        .unwrap();
    assert_eq!(s3.status(), 403);
    assert!(!app.log().contains("Too many open files"), "{}", app.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_request_heads_are_cut_off_and_do_not_delay_others() {
    let app = TestApp::spawn_with(&["--header-read-timeout", "2"]).await;
    // Slowloris: 200 connections each sending a byte of a request head every 100 ms.
    let mut trickling = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(address(&app.base)).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        trickling.push(stream);
    }
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        let mut cut = vec![false; trickling.len()];
        for _ in 0..40 {
            for (i, stream) in trickling.iter_mut().enumerate() {
                if !cut[i] && stream.write_all(b"X").await.is_err() {
                    cut[i] = true;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Cut connections read as closed.
        let mut closed = 0;
        for stream in &mut trickling {
            let mut buf = [0u8; 256];
            let read = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf));
            if matches!(read.await, Ok(Ok(0)) | Ok(Err(_))) {
                closed += 1;
            }
        }
        closed
    });
    // Meanwhile a normal request is answered at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    healthy_within_a_second(&app).await;
    assert_eq!(app.status(Method::GET, "/assets").await, 200);
    let closed = trickle.await.unwrap();
    assert_eq!(
        closed, 200,
        "every trickling connection closed by the server"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
}

/// A presigned upload whose body arrives over `over`, in ten pieces.
fn slow_upload(
    created: &Value,
    body: Vec<u8>,
    over: Duration,
) -> tokio::task::JoinHandle<Result<reqwest::StatusCode, reqwest::Error>> {
    let url = created["upload_url"].as_str().unwrap().to_string();
    let headers = created["upload_headers"].clone();
    tokio::spawn(async move {
        let pause = over / 10;
        let pieces: Vec<Vec<u8>> = body
            .chunks(body.len().div_ceil(10))
            .map(<[u8]>::to_vec)
            .collect();
        let stream = futures::stream::iter(pieces).then(move |piece| async move {
            tokio::time::sleep(pause).await;
            Ok::<_, std::io::Error>(piece)
        });
        let mut request = reqwest::Client::new()
            .put(url)
            .body(reqwest::Body::wrap_stream(stream));
        for (name, value) in headers.as_object().into_iter().flatten() {
            request = request.header(name.as_str(), value.as_str().unwrap());
        }
        request.send().await.map(|r| r.status())
    })
}

/// Sends SIGTERM and returns how long the process took to exit.
fn terminate(app: &mut TestApp) -> Duration {
    let started = Instant::now();
    app.stop();
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_in_flight_at_sigterm_completes_within_the_grace_and_is_received() {
    let mut app = TestApp::spawn_process(&["--shutdown-grace", "5"]).await;
    let body = vec![7u8; 100_000];
    let created = app
        .create(Some(serde_json::json!({"size": body.len()})))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let upload = slow_upload(&created, body, Duration::from_millis(2500));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A half-sent request head must not hold the drain up either.
    let mut half = TcpStream::connect(address(&app.base)).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();

    let ports = (address(&app.base), address(&app.s3_url));
    let exited = tokio::task::spawn_blocking(move || {
        let took = terminate(&mut app);
        (app, took)
    });
    // New connections are refused at once, on both ports, while the upload goes on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(TcpStream::connect(&ports.0).await.is_err());
    assert!(TcpStream::connect(&ports.1).await.is_err());
    assert_eq!(upload.await.unwrap().unwrap(), 200, "the upload completed");
    let (app, took) = exited.await.unwrap();
    assert!(took < Duration::from_secs(5), "exited after {took:?}");
    assert!(app.log().contains("draining connections"), "{}", app.log());
    // Its event was applied before the process exited.
    let app = app.start_again().await;
    assert_eq!(app.asset(&id).await.unwrap()["state"], "RECEIVED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_longer_than_the_grace_is_cut_and_leaves_nothing() {
    let mut app = TestApp::spawn_process(&["--shutdown-grace", "1"]).await;
    let body = vec![9u8; 100_000];
    let created = app
        .create(Some(serde_json::json!({"size": body.len()})))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let upload = slow_upload(&created, body, Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let exited = tokio::task::spawn_blocking(move || {
        let took = terminate(&mut app);
        (app, took)
    });
    let (app, took) = exited.await.unwrap();
    assert!(took < Duration::from_secs(3), "exited after {took:?}");
    assert!(
        app.log().contains("cutting the connections"),
        "{}",
        app.log()
    );
    let cut = upload.await.unwrap();
    assert!(
        !matches!(&cut, Ok(status) if status.is_success()),
        "{cut:?}"
    );
    // Nothing half-written became visible.
    let app = app.start_again().await;
    assert_eq!(app.asset(&id).await.unwrap()["state"], "CREATED");
    let head = app
        .s3_client()
        .head_object()
        .bucket("assets")
        .key(server::objects::key_for(id.parse().unwrap()))
        .send()
        .await;
    assert!(head.is_err(), "{head:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_once_the_drain_starts() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // What SIGTERM sets first, before the listeners close.
    app.draining.as_ref().unwrap().start();
    let reply = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(reply.status(), 503);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["code"], "unavailable");
    // Liveness is another question: the process is alive and finishing its work.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_port_sheds_past_its_own_cap_with_slow_down_while_uploads_go_on() {
    let app = TestApp::spawn_with(&["--s3-max-concurrent-requests", "1"]).await;
    let body = vec![5u8; 50_000];
    let created = app
        .create(Some(serde_json::json!({"size": body.len()})))
        .await;
    // A long upload holds the one slot...
    let upload = slow_upload(&created, body, Duration::from_millis(1500));
    tokio::time::sleep(Duration::from_millis(400)).await;
    // ...so another request is refused as S3 refuses when it is overloaded.
    let refused = reqwest::get(format!("{}/assets/x", app.s3_url))
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("<Code>SlowDown</Code>")
    );
    assert_eq!(
        upload.await.unwrap().unwrap(),
        200,
        "the upload was not cut"
    );
    // With the slot free again, requests are served.
    let served = reqwest::get(format!("{}/assets/x", app.s3_url))
        .await
        .unwrap();
    assert_eq!(served.status(), 403);
}
