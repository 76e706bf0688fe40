//! Live updates (`GET /assets/events`) seen from outside: every change reaches its owner's open
//! streams within a second, whoever made it (REST, the embedded endpoint's event, a webhook
//! delivery, the reconciler); nobody else's; reconnects replay what was missed; slow readers
//! and old ids are told to refetch; streams neither take request slots nor hold up a shutdown.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::events::{TOKEN, post, s3_event, uploaded_silently};

/// How soon a change must reach a stream.
const WITHIN: Duration = Duration::from_secs(1);

/// One Server-Sent Event.
#[derive(Debug, Clone, Default)]
struct Sse {
    event: String,
    data: Value,
    id: Option<String>,
}

/// An open stream, read event by event.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(request: reqwest::RequestBuilder) -> Self {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event within `wait` (keep-alive comments skipped), or none.
    async fn next_within(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                Ok(_) | Err(_) => return None, // ended, or nothing in time
            }
        }
    }

    async fn next(&mut self) -> Sse {
        self.next_within(WITHIN)
            .await
            .expect("an event within a second")
    }

    /// The next `asset` event, skipping others; its (id, state, removed).
    async fn next_asset(&mut self) -> (String, String, bool) {
        loop {
            let event = self.next().await;
            if event.event == "asset" {
                assert_eq!(event.data["state"], event.data["asset"]["state"]);
                return (
                    event.data["asset"]["asset_id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    event.data["state"].as_str().unwrap().to_string(),
                    event.data["removed"].as_bool().unwrap(),
                );
            }
        }
    }

    /// Whether the stream has ended (the server closed it) within `wait`.
    async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None) | Err(_)) => return true,
                Err(_) => return false,
            }
        }
    }
}

fn parse(block: &str) -> Option<Sse> {
    let mut sse = Sse::default();
    let mut data = String::new();
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => sse.event = value.to_string(),
            "data" => data.push_str(value),
            "id" => sse.id = Some(value.to_string()),
            _ => {} // comments (keep-alive), retry
        }
    }
    if data.is_empty() {
        return None;
    }
    sse.data = serde_json::from_str(&data).unwrap();
    Some(sse)
}

fn events_url(app: &TestApp) -> String {
    app.url("/assets/events")
}

fn bearer(app: &TestApp, key: &str) -> reqwest::RequestBuilder {
    app.client.get(events_url(app)).bearer_auth(key)
}

/// A stream past its `hello`, which it returns.
async fn opened(request: reqwest::RequestBuilder) -> (Stream, Sse) {
    let mut stream = Stream::open(request).await;
    let hello = stream.next().await;
    assert_eq!(hello.event, "hello", "{hello:?}");
    (stream, hello)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rest_and_storage_change_reaches_the_owners_stream_and_nobody_elses() {
    let app = TestApp::spawn().await;
    let (_, alice_key) = app.user_with_key("alice", false).await;
    let (_, bob_key) = app.user_with_key("bob", false).await;
    let (mut alice, hello) = opened(bearer(&app, &alice_key)).await;
    assert_eq!(
        hello.data,
        json!({"refresh_secs": null}),
        "one process: no refetching"
    );
    let (mut bob, _) = opened(bearer(&app, &bob_key)).await;
    let (mut admin, _) = opened(bearer(&app, &app.key)).await;

    let as_alice = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .bearer_auth(&alice_key)
    };
    let created: Value = as_alice(Method::POST, "/assets")
        .json(&json!({"filename": "a.txt"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    assert_eq!(
        alice.next_asset().await,
        (id.clone(), "CREATED".into(), false)
    );
    // The embedded endpoint's upload -> its S3 event -> RECEIVED.
    assert_eq!(app.upload(&created, b"hello".to_vec()).await.status(), 200);
    assert_eq!(
        alice.next_asset().await,
        (id.clone(), "RECEIVED".into(), false)
    );
    let put = as_alice(Method::PUT, &format!("/assets/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 202);
    assert_eq!(
        alice.next_asset().await,
        (id.clone(), "UPLOADED".into(), false)
    );
    let delete = as_alice(Method::DELETE, &format!("/assets/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    assert_eq!(
        alice.next_asset().await,
        (id.clone(), "DELETED".into(), false)
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // An admin sees every owner's changes, in the same order.
    for state in ["CREATED", "RECEIVED", "UPLOADED", "DELETED"] {
        assert_eq!(admin.next_asset().await, (id.clone(), state.into(), false));
    }
    // Bob sees nothing of it.
    let seen = bob.next_within(Duration::from_millis(500)).await;
    assert!(seen.is_none(), "bob saw {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_and_the_reconciler_reach_the_stream_too() {
    let app = TestApp::spawn_with(&[
        "--embedded-events",
        "false",
        "--events-token",
        TOKEN,
        "--reconcile-interval",
        "1",
        "--reconcile-stale-after",
        "0",
    ])
    .await;
    let (mut stream, _) = opened(bearer(&app, &app.key)).await;
    // The reconciler finds an object no event announced.
    let found = uploaded_silently(&app).await;
    assert_eq!(
        stream.next_asset().await,
        (found.clone(), "CREATED".into(), false)
    );
    let event = stream.next_within(Duration::from_secs(4)).await.unwrap();
    assert_eq!(event.data["asset"]["asset_id"], found.as_str());
    assert_eq!(event.data["state"], "RECEIVED");
    // A webhook's ObjectRemoved for an object that is not there removes the record.
    let never = app.create(None).await["id"].as_str().unwrap().to_string();
    assert_eq!(
        stream.next_asset().await,
        (never.clone(), "CREATED".into(), false)
    );
    let (status, _) = post(
        &app,
        s3_event("ObjectRemoved:Delete", &never, "0A"),
        Some(TOKEN),
        false,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(stream.next_asset().await, (never, "CREATED".into(), true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_session_opens_a_stream_and_no_credential_is_a_401() {
    let app = TestApp::spawn().await;
    let cookie = app.admin_session().await;
    let (mut stream, _) = opened(app.client.get(events_url(&app)).header("cookie", &cookie)).await;
    let id = app.create(None).await["id"].as_str().unwrap().to_string();
    assert_eq!(stream.next_asset().await, (id, "CREATED".into(), false));

    let refused = app.client.get(events_url(&app)).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
    assert!(body["error_message"].is_string());
    let wrong = bearer(&app, "assets_0000000000000000_AAAA")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_with_last_event_id_replays_what_was_missed_or_asks_for_a_resync() {
    let app = TestApp::spawn().await;
    let (_, alice_key) = app.user_with_key("alice", false).await;
    let (stream, hello) = opened(bearer(&app, &alice_key)).await;
    let last = hello.id.unwrap();
    drop(stream);
    // Missed while away: alice's two changes, and one of the admin's she must not see.
    let first = app.create(None).await; // the admin's
    let alice = |body: Value| {
        app.client
            .post(app.url("/assets"))
            .bearer_auth(&alice_key)
            .json(&body)
            .send()
    };
    let one: Value = alice(json!({})).await.unwrap().json().await.unwrap();
    let two: Value = alice(json!({})).await.unwrap().json().await.unwrap();
    let mut back = Stream::open(bearer(&app, &alice_key).header("last-event-id", &last)).await;
    let replayed: Vec<Sse> = vec![back.next().await, back.next().await, back.next().await];
    assert_eq!(replayed[0].data["asset"]["asset_id"], one["id"]);
    assert_eq!(replayed[1].data["asset"]["asset_id"], two["id"]);
    assert_eq!(replayed[2].event, "hello");
    assert!(
        replayed
            .iter()
            .all(|e| e.data["asset"]["asset_id"] != first["id"])
    );
    // Ids increase, and the hello's is the latest: reconnecting with it replays nothing.
    let seq = |e: &Sse| -> u64 {
        e.id.as_ref()
            .unwrap()
            .rsplit_once('-')
            .unwrap()
            .1
            .parse()
            .unwrap()
    };
    assert!(seq(&replayed[0]) < seq(&replayed[1]) && seq(&replayed[1]) <= seq(&replayed[2]));
    let latest = replayed[2].id.clone().unwrap();
    let mut up_to_date =
        Stream::open(bearer(&app, &alice_key).header("last-event-id", &latest)).await;
    assert_eq!(up_to_date.next().await.event, "hello");

    // An id from another process start, from the future, or not an id at all: refetch.
    let epoch = latest.split_once('-').unwrap().0;
    for id in [
        "0000000000000000-1".to_string(),
        format!("{epoch}-999999"),
        "garbage".into(),
    ] {
        let mut stream = Stream::open(bearer(&app, &alice_key).header("last-event-id", &id)).await;
        assert_eq!(stream.next().await.event, "resync", "{id}");
        assert_eq!(stream.next().await.event, "hello", "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_after_a_restart_asks_for_a_resync() {
    let app = TestApp::spawn_process(&[]).await;
    let (stream, hello) = opened(bearer(&app, &app.key)).await;
    drop(stream);
    let app = app.restart().await;
    let mut stream =
        Stream::open(bearer(&app, &app.key).header("last-event-id", hello.id.unwrap())).await;
    assert_eq!(stream.next().await.event, "resync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_falls_behind_is_told_to_resync_and_goes_on() {
    let app = TestApp::spawn_with(&["--live-buffer", "4"]).await;
    let (mut stream, _) = opened(bearer(&app, &app.key)).await;
    // Far more changes at once than the buffer holds (published directly: REST is too slow
    // to outrun the stream).
    let asset: app::model::Asset = serde_json::from_value(json!({
        "asset_id": uuid::Uuid::new_v4(), "state": "CREATED", "owner": "admin",
        "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z",
    }))
    .unwrap();
    for _ in 0..2000 {
        app.service().live().publish(asset.clone(), false);
    }
    let mut resynced = false;
    while let Some(event) = stream.next_within(Duration::from_millis(500)).await {
        resynced |= event.event == "resync";
    }
    assert!(resynced, "a lagging stream must be told to refetch");
    // It goes on with live changes.
    let id = app.create(None).await["id"].as_str().unwrap().to_string();
    assert_eq!(stream.next_asset().await, (id, "CREATED".into(), false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_take_no_request_slot_and_are_bounded_per_user() {
    let app = TestApp::spawn_with(&[
        "--max-concurrent-requests",
        "1",
        "--max-event-streams-per-user",
        "2",
    ])
    .await;
    let (_first, _) = opened(bearer(&app, &app.key)).await;
    let (_second, _) = opened(bearer(&app, &app.key)).await;
    // Two open streams, and the one request slot is still free.
    assert_eq!(app.status(Method::GET, "/assets").await, 200);
    let third = bearer(&app, &app.key).send().await.unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Another user has slots of their own; a closed stream gives its slot back.
    let (_, bob) = app.user_with_key("bob", false).await;
    let (_bobs, _) = opened(bearer(&app, &bob)).await;
    drop(_first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = bearer(&app, &app.key).send().await.unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_after_their_lifetime_and_at_once_on_shutdown() {
    let app = TestApp::spawn_with(&["--event-stream-lifetime", "1"]).await;
    let (mut short, hello) = opened(bearer(&app, &app.key)).await;
    assert!(short.ends_within(Duration::from_secs(3)).await);
    // The browser's reconnect misses nothing.
    let id = app.create(None).await["id"].as_str().unwrap().to_string();
    let mut back =
        Stream::open(bearer(&app, &app.key).header("last-event-id", hello.id.unwrap())).await;
    assert_eq!(back.next_asset().await, (id, "CREATED".into(), false));

    // A real process with the default 30 s grace and an open stream stops within seconds.
    let mut process = TestApp::spawn_process(&[]).await;
    let (mut open, _) = opened(bearer(&process, &process.key)).await;
    let started = Instant::now();
    process.stop(); // SIGTERM, waits for the exit (killing it after 10 s)
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    assert!(open.ends_within(Duration::from_secs(1)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_keys_stream_ends_with_its_lifetime_and_is_refused_on_reconnect() {
    let app = TestApp::spawn_with(&["--event-stream-lifetime", "1"]).await;
    let (_, key) = app.user_with_key("frank", false).await;
    let (mut stream, _) = opened(bearer(&app, &key)).await;
    let key_id = app.auth().list_keys(Some("frank")).await.unwrap()[0]
        .key_id
        .clone();
    app.auth().revoke_key(&key_id, None).await.unwrap();
    // Credentials are checked when a stream opens: the open one ends with its lifetime...
    assert!(stream.ends_within(Duration::from_secs(3)).await);
    // ...and the reconnect is refused once the revocation is seen (keys are cached up to 5 s).
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let status = bearer(&app, &key).send().await.unwrap().status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            Instant::now() < deadline,
            "a revoked key still opens streams"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_shared_store_pages_are_told_to_refetch_and_this_replicas_changes_still_stream() {
    let moto = crate::common::Moto::start().await;
    let app = TestApp::spawn_aws(&moto).await;
    let (mut stream, hello) = opened(bearer(&app, &app.key)).await;
    // Other replicas' changes never reach this process: refetch every 30 s.
    assert_eq!(hello.data, json!({"refresh_secs": 30}));
    let id = app.create(None).await["id"].as_str().unwrap().to_string();
    assert_eq!(
        stream.next_asset().await,
        (id.clone(), "CREATED".into(), false)
    );
    assert_eq!(
        app.status(Method::DELETE, &format!("/assets/{id}")).await,
        204
    );
    assert_eq!(stream.next_asset().await, (id, "DELETED".into(), false));
}
