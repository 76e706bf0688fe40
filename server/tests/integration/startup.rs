//! Start-up binds first: port 0 works, and the URLs handed to clients carry the real address.

use reqwest::Method;

use crate::common::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_binds_port_zero_and_logs_the_real_addresses() {
    // spawn_process passes `--listen 127.0.0.1:0 --s3-listen 127.0.0.1:0` and reads the
    // addresses back from the log.
    let app = TestApp::spawn_process(&[]).await;
    for url in [&app.base, &app.s3_url] {
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        assert_ne!(port, 0, "{url}");
    }
    assert_ne!(app.base, app.s3_url);
    // Upload URLs point at the endpoint's real address, and work.
    let created = app.create(None).await;
    let upload_url = created["upload_url"].as_str().unwrap();
    assert!(
        upload_url.starts_with(&format!("{}/", app.s3_url)),
        "{upload_url} is not on {}",
        app.s3_url
    );
    assert_eq!(app.upload(&created, b"bytes".to_vec()).await.status(), 200);
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.status(Method::PUT, &format!("/assets/{id}")).await, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_servers_on_port_zero_run_side_by_side() {
    let (a, b) = tokio::join!(TestApp::spawn(), TestApp::spawn());
    assert_ne!(a.base, b.base);
    assert_ne!(a.s3_url, b.s3_url);
    let created = b.create(None).await;
    assert_eq!(b.upload(&created, b"b".to_vec()).await.status(), 200);
    // Each has its own data: b's asset is unknown to a.
    let id = created["id"].as_str().unwrap();
    assert_eq!(a.status(Method::GET, &format!("/assets/{id}")).await, 404);
}
