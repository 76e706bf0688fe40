//! The authorization matrix, generated as a table: every REST route and every server function
//! against every kind of credential, with the status each must get, and a check that nothing
//! changed where the request was refused. On failure it prints the whole table.

use app::model::ApiKeyInfo;
use chrono::{TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use server::store::auth::{ApiKeyRecord, AuthStore as _, SessionRecord};
use server::store::local::LocalStore;

use crate::common::TestApp;

/// The credential a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Credential {
    None,
    Malformed,
    Unknown,
    Revoked,
    Expired,
    OtherUser,
    Owner,
    Admin,
}

const CREDENTIALS: [Credential; 8] = [
    Credential::None,
    Credential::Malformed,
    Credential::Unknown,
    Credential::Revoked,
    Credential::Expired,
    Credential::OtherUser,
    Credential::Owner,
    Credential::Admin,
];

/// What each credential is, for API keys (REST) and for session cookies (server functions).
struct Credentials {
    keys: Vec<(Credential, Option<String>)>,
    cookies: Vec<(Credential, Option<String>)>,
}

impl Credentials {
    fn key(&self, c: Credential) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| *k == c)
            .and_then(|(_, v)| v.as_deref())
    }
    fn cookie(&self, c: Credential) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| *k == c)
            .and_then(|(_, v)| v.as_deref())
    }
}

const PASSWORD: &str = "a password for tests";

/// A server function's arguments, from the asset id and the key id it acts on.
type ArgsOf = fn(&str, &str) -> Value;

async fn credentials(app: &TestApp) -> Credentials {
    let (_, alice) = app.user_with_key("alice", false).await;
    let (_, bob) = app.user_with_key("bob", false).await;
    let auth = app.auth();
    let revoked = app.new_key("alice", "gone").await;
    auth.revoke_key(&revoked.key.key_id, None).await.unwrap();
    // An expired key and an expired session, written straight into the store (time cannot
    // be moved forward for the server).
    let store = LocalStore::open(&app.data_dir).unwrap();
    let expired_key = "assets_00000000000000ee_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let past = Utc::now() - TimeDelta::days(2);
    store
        .insert_key(&ApiKeyRecord {
            info: ApiKeyInfo {
                key_id: "00000000000000ee".into(),
                user: "alice".into(),
                label: "expired".into(),
                created_at: past,
                last_used_at: None,
                expires_at: Some(past + TimeDelta::days(1)),
            },
            secret_hash: server::service::auth::hash_secret(expired_key),
        })
        .await
        .unwrap();
    let expired_session = "expired-session-id-expired-session-id-expired";
    store
        .insert_session(&SessionRecord {
            id_hash: server::service::auth::hash_secret(expired_session),
            user: "alice".into(),
            generation: 1,
            created_at: past,
            last_seen_at: past,
            expires_at: past + TimeDelta::hours(1),
        })
        .await
        .unwrap();
    let alice_cookie = app.session_cookie("alice", PASSWORD).await;
    let bob_cookie = app.session_cookie("bob", PASSWORD).await;
    let admin_cookie = {
        app.auth().set_password("admin", PASSWORD).await.unwrap();
        app.session_cookie("admin", PASSWORD).await
    };
    let signed_out = app.session_cookie("alice", PASSWORD).await;
    assert_eq!(
        app.server_fn("sign_out", Some(&signed_out), json!({}))
            .await
            .status(),
        200
    );
    let cookie_name = alice_cookie.split('=').next().unwrap().to_string();
    Credentials {
        keys: vec![
            (Credential::None, None),
            (
                Credential::Malformed,
                Some("Basic YWxpY2U6cGFzc3dvcmQ=".into()),
            ),
            (
                Credential::Unknown,
                Some(
                    "Bearer assets_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                        .into(),
                ),
            ),
            (
                Credential::Revoked,
                Some(format!("Bearer {}", revoked.secret)),
            ),
            (Credential::Expired, Some(format!("Bearer {expired_key}"))),
            (Credential::OtherUser, Some(format!("Bearer {bob}"))),
            (Credential::Owner, Some(format!("Bearer {alice}"))),
            (Credential::Admin, Some(format!("Bearer {}", app.key))),
        ],
        cookies: vec![
            (Credential::None, None),
            (
                Credential::Malformed,
                Some(format!("{cookie_name}=%%%not-a-session")),
            ),
            (
                Credential::Unknown,
                Some(format!(
                    "{cookie_name}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                )),
            ),
            (Credential::Revoked, Some(signed_out)),
            (
                Credential::Expired,
                Some(format!("{cookie_name}={expired_session}")),
            ),
            (Credential::OtherUser, Some(bob_cookie)),
            (Credential::Owner, Some(alice_cookie)),
            (Credential::Admin, Some(admin_cookie)),
        ],
    }
}

/// An asset of alice's, uploaded and marked UPLOADED (so every route may act on it); an image,
/// so it may be previewed.
async fn alices_asset(app: &TestApp, alice_key: &str) -> String {
    let alice = crate::common::bearer_client(alice_key.trim_start_matches("Bearer "));
    let created: Value = alice
        .post(app.url("/assets"))
        .json(&json!({"content_type": "image/png"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.upload(&created, b"alice's bytes".to_vec()).await;
    let id = created["id"].as_str().unwrap().to_string();
    let resp = alice
        .put(app.url(&format!("/assets/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    id
}

/// Everything a refused request must leave as it was: every asset (as the admin sees them,
/// deleted included) and every API key.
/// (Timestamps are left out: a storage event of an earlier upload may still land.)
async fn snapshot(app: &TestApp) -> (Vec<Value>, Vec<String>) {
    let page = app
        .get_json("/assets?include_deleted=true&limit=1000")
        .await;
    let assets = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| json!([a["asset_id"], a["owner"], a["state"]]))
        .collect();
    let keys = app
        .auth()
        .list_keys(None)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.key_id)
        .collect();
    (assets, keys)
}

fn refused(status: u16) -> bool {
    !(200..300).contains(&status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_server_function_against_every_credential() {
    use Credential::{Admin, OtherUser, Owner};
    let app = TestApp::spawn().await;
    let creds = credentials(&app).await;
    let alice_key = creds.key(Owner).unwrap().to_string();
    let alice_key_id = app.auth().list_keys(Some("alice")).await.unwrap()[0]
        .key_id
        .clone();

    // (route, method, path template, expected status per credential: other user, owner, admin)
    let rest: [(&str, Method, &str, [u16; 3]); 8] = [
        ("POST /assets", Method::POST, "/assets", [201, 201, 201]),
        ("GET /assets", Method::GET, "/assets", [200, 200, 200]),
        ("GET /asset (alias)", Method::GET, "/asset", [200, 200, 200]),
        (
            "GET /assets/{id}",
            Method::GET,
            "/assets/{id}",
            [404, 200, 200],
        ),
        (
            "GET /assets/{id}/preview",
            Method::GET,
            "/assets/{id}/preview",
            [404, 200, 200],
        ),
        (
            "PUT /assets/{id}",
            Method::PUT,
            "/assets/{id}",
            [404, 202, 202],
        ),
        (
            "DELETE /assets/{id}",
            Method::DELETE,
            "/assets/{id}",
            [404, 204, 204],
        ),
        ("GET /metrics", Method::GET, "/metrics", [403, 403, 200]),
    ];
    let fns: [(&str, ArgsOf, [u16; 3]); 12] = [
        ("list_assets", |_, _| json!({"query": {}}), [200, 200, 200]),
        ("create_upload", |_, _| json!({"new": {}}), [200, 200, 200]),
        ("mark_uploaded", |id, _| json!({"id": id}), [404, 200, 200]),
        (
            "get_download_link",
            |id, _| json!({"id": id, "lifetime": null}),
            [404, 200, 200],
        ),
        (
            "get_preview_link",
            |id, _| json!({"id": id}),
            [404, 200, 200],
        ),
        ("get_upload_policy", |_, _| json!({}), [200, 200, 200]),
        ("delete_asset", |id, _| json!({"id": id}), [404, 200, 200]),
        ("list_api_keys", |_, _| json!({}), [200, 200, 200]),
        (
            "create_api_key",
            |_, _| json!({"new": {"label": "matrix"}}),
            [200, 200, 200],
        ),
        // A user revokes only their own keys, admins included (the CLI manages others').
        (
            "revoke_api_key",
            |_, key| json!({"key_id": key}),
            [404, 200, 404],
        ),
        ("current_user", |_, _| json!({}), [200, 200, 200]),
        ("sign_out", |_, _| json!({}), [200, 200, 200]),
    ];

    let mut table = vec![format!(
        "{:<24} {:<10} {:>8} {:>4}",
        "call", "credential", "expected", "got"
    )];
    let mut wrong = 0;
    let mut check = |call: &str, cred: Credential, expected: u16, got: u16, unchanged: bool| {
        let ok = expected == got && unchanged;
        wrong += usize::from(!ok);
        table.push(format!(
            "{call:<24} {:<10} {expected:>8} {got:>4}{}{}",
            format!("{cred:?}"),
            if unchanged { "" } else { "  CHANGED" },
            if ok { "" } else { "  <-- wrong" }
        ));
    };

    for (call, method, template, allowed) in &rest {
        for cred in CREDENTIALS {
            let id = alices_asset(&app, &alice_key).await;
            let before = snapshot(&app).await;
            let mut request = app
                .client
                .request(method.clone(), app.url(&template.replace("{id}", &id)));
            if let Some(value) = creds.key(cred) {
                request = request.header("authorization", value);
            }
            let resp = request.send().await.unwrap();
            let status = resp.status().as_u16();
            let expected = match cred {
                OtherUser => allowed[0],
                Owner => allowed[1],
                Admin => allowed[2],
                _ => 401,
            };
            if status == 401 {
                assert_eq!(
                    resp.headers()["www-authenticate"],
                    "Bearer",
                    "{call} {cred:?}"
                );
            }
            let unchanged = !refused(status) || snapshot(&app).await == before;
            check(call, cred, expected, status, unchanged);
            // Another user's key sees a list without alice's asset.
            if cred == OtherUser
                && *method == Method::GET
                && template.starts_with("/asset")
                && !template.contains("{id}")
            {
                let body: Value = resp.json().await.unwrap();
                assert!(
                    body["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|a| a["owner"] == "bob")
                );
            }
        }
    }

    for (name, args, allowed) in &fns {
        for cred in CREDENTIALS {
            let id = alices_asset(&app, &alice_key).await;
            let key_id = match *name {
                "revoke_api_key" => app.new_key("alice", "to revoke").await.key.key_id,
                _ => alice_key_id.clone(),
            };
            // Each signed-in row gets a fresh session: `sign_out` ends the one it is called with.
            let fresh = match cred {
                OtherUser => Some(app.session_cookie("bob", PASSWORD).await),
                Owner => Some(app.session_cookie("alice", PASSWORD).await),
                Admin => Some(app.session_cookie("admin", PASSWORD).await),
                _ => creds.cookie(cred).map(str::to_string),
            };
            let before = snapshot(&app).await;
            let resp = app
                .server_fn(name, fresh.as_deref(), args(&id, &key_id))
                .await;
            let status = resp.status().as_u16();
            let public = matches!(*name, "current_user" | "sign_out");
            let expected = match cred {
                OtherUser => allowed[0],
                Owner => allowed[1],
                Admin => allowed[2],
                _ if public => 200,
                _ => 401,
            };
            let unchanged = !refused(status) || snapshot(&app).await == before;
            check(name, cred, expected, status, unchanged);
        }
    }
    // Server functions take the session cookie only: a bearer key is not a session.
    let resp = app
        .client
        .post(app.url("/api/list_assets"))
        .header("authorization", creds.key(Owner).unwrap())
        .json(&json!({"query": {}}))
        .send()
        .await
        .unwrap();
    check("list_assets", Owner, 401, resp.status().as_u16(), true);

    let table = table.join("\n");
    println!("{table}");
    assert_eq!(wrong, 0, "authorization matrix:\n{table}");
}
