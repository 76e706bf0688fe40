//! Sessions and API keys across replicas: the shared auth table, the per-replica key cache.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::cluster::{ADMIN_PASSWORD, Replica, Shared};

/// A server function on `replica`, called from its own origin with a session cookie.
async fn server_fn(replica: &Replica, name: &str, cookie: &str, args: Value) -> reqwest::Response {
    replica
        .client
        .post(replica.url(&format!("/api/{name}")))
        .header("origin", &replica.base)
        .header("cookie", cookie)
        .json(&args)
        .send()
        .await
        .unwrap()
}

/// The longest a replica may keep accepting a revoked API key: its per-process key cache
/// (`KEY_CACHE_TTL` in `service/auth/mod.rs`, documented in the README's "Running replicas").
const KEY_CACHE_BOUND: Duration = Duration::from_secs(2);

/// Sessions and API keys live in the shared auth table: a session made on A works on B, its
/// sign-out on B ends it on A at once; a key made on A works on B, and its revocation on A
/// reaches B within the key cache's bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_api_keys_work_across_replicas_and_revocation_reaches_every_one() {
    let shared = Shared::provision().await;
    let replicas = shared.start(2, &[]).await;
    let (a, b) = (&replicas[0], &replicas[1]);

    // Signed in on A as the dashboard does; the cookie works on B.
    let signed_in = a
        .client
        .post(a.url("/api/sign_in"))
        .header("origin", &a.base)
        .json(&json!({"form": {"name": "admin", "password": ADMIN_PASSWORD}}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let who: Value = server_fn(b, "current_user", &cookie, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(who["user"], "admin", "B knows A's session: {who}");
    // A server function that needs the session, on B.
    let keys = server_fn(b, "list_api_keys", &cookie, json!({})).await;
    assert_eq!(keys.status(), 200, "the session lists keys on B");

    // A key made on A (the dashboard's Keys page) works on B.
    let created: Value = server_fn(a, "create_api_key", &cookie, json!({"new": {"label": "k"}}))
        .await
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let key_id = created["key"]["key_id"].as_str().unwrap().to_string();
    let with_key = |replica: &Replica| {
        replica
            .client
            .get(replica.url("/assets"))
            .bearer_auth(&secret)
            .send()
    };
    assert_eq!(with_key(b).await.unwrap().status(), 200);

    // Revoked on A, with B's cache just filled: B refuses it within the bound. B looked the
    // key up before the revocation started, so no request sent to B more than the bound after
    // that start may be accepted.
    assert_eq!(with_key(b).await.unwrap().status(), 200);
    let revoking = Instant::now();
    let revoked = server_fn(a, "revoke_api_key", &cookie, json!({"key_id": key_id})).await;
    assert_eq!(revoked.status(), 200);
    let mut last_accepted = revoking;
    let refused = loop {
        let sent = Instant::now();
        let resp = with_key(b).await.unwrap();
        if resp.status() == 401 {
            break resp;
        }
        assert_eq!(resp.status(), 200);
        last_accepted = sent;
        assert!(
            revoking.elapsed() < KEY_CACHE_BOUND + Duration::from_secs(3),
            "B still takes the revoked key after {:?}",
            revoking.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = revoking.elapsed();
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized", "{body}");
    let accepted_for = last_accepted - revoking;
    println!(
        "a key revoked on A: B last accepted it {accepted_for:?} after, refused it {took:?} after"
    );
    assert!(
        accepted_for < KEY_CACHE_BOUND + Duration::from_millis(100),
        "B accepted the revoked key {accepted_for:?} after (bound {KEY_CACHE_BOUND:?})"
    );
    assert_eq!(with_key(a).await.unwrap().status(), 401);

    // Signed out on B: A refuses the session at once (sessions are not cached).
    let out = server_fn(b, "sign_out", &cookie, json!({})).await;
    assert_eq!(out.status(), 200);
    let after = server_fn(a, "list_api_keys", &cookie, json!({})).await;
    assert_eq!(after.status(), 401, "A still takes the signed-out session");
    let who: Value = server_fn(a, "current_user", &cookie, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(who, Value::Null, "A still knows the signed-out session");
}
