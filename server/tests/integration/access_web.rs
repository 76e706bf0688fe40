//! Access control seen from outside: sign-in and its throttle, session cookies and their end,
//! the `Host` check, the same-origin check for cookie-borne changes, the headers of HTML
//! replies, API key revocation, and the first run's admin with the `users`/`api-keys` CLI.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::common::{TestApp, bearer_client};

const PASSWORD: &str = "a password for tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_wrong_password_in_a_minute_is_throttled() {
    let app = TestApp::spawn().await;
    app.user_with_key("carol", false).await;
    for attempt in 1..=5 {
        let resp = app.sign_in("carol", "not the password at all").await;
        assert_eq!(resp.status(), 401, "attempt {attempt}");
    }
    let sixth = app.sign_in("carol", "not the password at all").await;
    assert_eq!(sixth.status(), 429);
    let wait: u64 = sixth.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: serde_json::Value = sixth.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // While throttled, the right password is refused too (it is not even checked).
    assert_eq!(app.sign_in("carol", PASSWORD).await.status(), 429);
    assert!(!app.log().contains(PASSWORD), "no password reaches the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_name_answers_as_a_wrong_password_does() {
    let app = TestApp::spawn().await;
    app.user_with_key("carl", false).await;
    let time = |name: &'static str| {
        let app = &app;
        async move {
            let started = Instant::now();
            let resp = app.sign_in(name, "not the password at all").await;
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.unwrap();
            (status, body, started.elapsed())
        }
    };
    let (wrong_status, wrong_body, wrong_time) = time("carl").await;
    let (unknown_status, unknown_body, unknown_time) = time("nobody").await;
    assert_eq!((wrong_status, &wrong_body), (unknown_status, &unknown_body));
    assert_eq!(wrong_status, 401);
    // Both verify an Argon2 hash: an unknown name is not answered much faster (a lookup
    // alone would be some twenty times faster; the bound is loose against a busy machine).
    assert!(
        unknown_time * 4 > wrong_time,
        "unknown name {unknown_time:?} vs wrong password {wrong_time:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_new_at_sign_in_and_end_on_the_server_at_sign_out_and_password_change() {
    let app = TestApp::spawn().await;
    app.user_with_key("dave", false).await;
    let resp = app.sign_in("dave", PASSWORD).await;
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    let first = set_cookie.split(';').next().unwrap().to_string();
    let second = app.session_cookie("dave", PASSWORD).await;
    assert_ne!(first, second, "a new session id at every sign-in");

    let whoami = |cookie: String| {
        let app = &app;
        async move {
            let resp = app
                .server_fn("current_user", Some(&cookie), json!({}))
                .await;
            resp.json::<serde_json::Value>().await.unwrap()
        }
    };
    assert_eq!(whoami(first.clone()).await["user"], "dave");
    // Sign-out ends that session on the server: the same cookie no longer works.
    let out = app.server_fn("sign_out", Some(&first), json!({})).await;
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(whoami(first.clone()).await, serde_json::Value::Null);
    let list = app
        .server_fn("list_assets", Some(&first), json!({"query": {}}))
        .await;
    assert_eq!(list.status(), 401);
    // A password change ends every other session.
    assert_eq!(whoami(second.clone()).await["user"], "dave");
    app.auth()
        .set_password("dave", "a brand new password")
        .await
        .unwrap();
    assert_eq!(whoami(second).await, serde_json::Value::Null);
    assert_eq!(app.sign_in("dave", PASSWORD).await.status(), 401);
    assert_eq!(
        app.sign_in("dave", "a brand new password").await.status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_cookie_is_secure_and_host_only() {
    let app = TestApp::spawn_with(&["--public-url", "https://assets.example.com"]).await;
    app.user_with_key("erin", false).await;
    let resp = app
        .client
        .post(app.url("/api/sign_in"))
        .header("host", "assets.example.com")
        .header("origin", "https://assets.example.com")
        .json(&json!({"form": {"name": "erin", "password": PASSWORD}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set_cookie.starts_with("__Host-assets_session="),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    // The public host is ours; an http origin for it is not.
    let cross = app
        .client
        .post(app.url("/api/sign_in"))
        .header("host", "assets.example.com")
        .header("origin", "http://assets.example.com")
        .json(&json!({"form": {"name": "erin", "password": PASSWORD}}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_is_refused_before_routing() {
    let app = TestApp::spawn().await;
    let before = app.get_json("/assets?include_deleted=true").await;
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/assets"),
        (Method::POST, "/assets"),
        (Method::POST, "/api/sign_in"),
        (Method::GET, "/pkg/assets.js"),
    ] {
        let resp = app
            .api
            .request(method.clone(), app.url(path))
            .header("host", "evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 421, "{method} {path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "misdirected_request");
    }
    assert_eq!(
        app.get_json("/assets?include_deleted=true").await,
        before,
        "nothing was created"
    );
    // Load balancers probe health by address.
    let health = app
        .client
        .get(app.url("/healthz"))
        .header("host", "10.0.0.7:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_borne_change_must_come_from_our_own_origin() {
    let app = TestApp::spawn().await;
    let cookie = app.admin_session().await;
    let id = app.create(None).await["id"].as_str().unwrap().to_string();
    let delete = |origin: Option<&'static str>, fetch_site: Option<&'static str>| {
        let (app, cookie, id) = (&app, cookie.clone(), id.clone());
        async move {
            let mut request = app
                .client
                .post(app.url("/api/delete_asset"))
                .header("cookie", cookie)
                .header("content-type", "text/plain")
                .body(json!({"id": id}).to_string());
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            if let Some(site) = fetch_site {
                request = request.header("sec-fetch-site", site);
            }
            request.send().await.unwrap().status()
        }
    };
    for (origin, site) in [
        (Some("http://127.0.0.1:1"), None),
        (Some("http://evil.example"), Some("cross-site")),
        (Some("null"), None),
        (None, Some("cross-site")),
        (None, Some("same-site")),
        (None, None),
    ] {
        assert_eq!(delete(origin, site).await, 403, "{origin:?} {site:?}");
        assert_eq!(app.asset(&id).await.unwrap()["state"], "CREATED");
    }
    // From our own pages: allowed.
    let own: &'static str = Box::leak(app.base.clone().into_boxed_str());
    assert_eq!(delete(Some(own), None).await, 200);
    assert_eq!(app.asset(&id).await.unwrap()["state"], "DELETED");
    // With an API key there is no ambient credential: a foreign Origin does not matter.
    let resp = app
        .api
        .post(app.url("/assets"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(delete(None, Some("same-origin")).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_redirect_to_sign_in_and_carry_a_csp_with_the_hydration_nonce() {
    let app = TestApp::spawn().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/", "/keys"] {
        let resp = no_redirects.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 303, "{path}");
        assert_eq!(resp.headers()["location"], "/sign-in");
    }
    let resp = no_redirects.get(app.url("/sign-in")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let html = resp.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp}"));
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the scripts carry the nonce"
    );
    for directive in [
        "'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        &format!("connect-src 'self' {}", app.s3_url),
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"));
    // A signed-in user asking for the sign-in page goes to the dashboard.
    let cookie = app.admin_session().await;
    let resp = no_redirects
        .get(app.url("/sign-in"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_stops_working_within_five_seconds() {
    let app = TestApp::spawn().await;
    let (_, key) = app.user_with_key("frank", false).await;
    let frank = bearer_client(&key);
    assert_eq!(
        frank.get(app.url("/assets")).send().await.unwrap().status(),
        200
    );
    let key_id = app.auth().list_keys(Some("frank")).await.unwrap()[0]
        .key_id
        .clone();
    app.auth().revoke_key(&key_id, None).await.unwrap();
    let revoked_at = Instant::now();
    loop {
        let status = frank.get(app.url("/assets")).send().await.unwrap().status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "still accepted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_run_prints_an_admin_password_once_and_the_cli_manages_users_and_keys() {
    let app = TestApp::spawn_process(&[]).await;
    let log = app.log();
    let password = log
        .lines()
        .skip_while(|l| !l.contains("First run: created the user \"admin\""))
        .map(str::trim)
        .find(|l| l.len() == 24)
        .unwrap_or_else(|| panic!("no first-run password in:\n{log}"))
        .to_string();
    assert!(log.contains("/sign-in"));
    assert_eq!(app.sign_in("admin", &password).await.status(), 200);
    // Not written anywhere in the data directory.
    for entry in walk(&app.data_dir) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "{} holds the password",
            entry.display()
        );
    }

    // users: add (password on stdin), list, passwd, remove; a short password is refused.
    assert!(
        app.cli(&["users", "add", "gina"], "twelve chars!\n")
            .contains("added user gina")
    );
    let list = app.cli(&["users", "list"], "");
    assert!(list.contains("gina") && list.contains("admin"), "{list}");
    let short = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args([
            "--data-dir",
            app.data_dir.to_str().unwrap(),
            "users",
            "add",
            "hank",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(b"too short\n")?;
            child.wait()
        })
        .unwrap();
    assert!(!short.success());
    assert!(!app.cli(&["users", "list"], "").contains("hank"));

    // api-keys: the secret alone on the last line; it works; list shows no secret; revoke.
    let out = app.cli(
        &[
            "api-keys",
            "create",
            "--user",
            "gina",
            "--label",
            "ci",
            "--expires-in-days",
            "30",
        ],
        "",
    );
    let secret = out.lines().last().unwrap();
    assert!(secret.starts_with("assets_"), "{out}");
    let gina = bearer_client(secret);
    let created = gina.post(app.url("/assets")).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let listed = app.cli(&["api-keys", "list", "--user", "gina"], "");
    assert!(
        listed.contains("ci") && !listed.contains(secret),
        "{listed}"
    );
    let key_id = secret.split('_').nth(1).unwrap();
    app.cli(&["api-keys", "revoke", key_id], "");
    let deadline = Instant::now() + Duration::from_secs(5);
    while gina.get(app.url("/assets")).send().await.unwrap().status() != 401 {
        assert!(Instant::now() < deadline, "revoked key still works");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.cli(&["users", "passwd", "gina"], "another twelve\n");
    app.cli(&["users", "remove", "gina"], "");
    assert!(!app.cli(&["users", "list"], "").contains("gina"));

    // A restart shows no new password: the admin exists.
    let app = app.restart().await;
    assert_eq!(app.log().matches("First run").count(), 0);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_dashboard_says_whose_each_asset_is_a_users_shows_only_theirs() {
    let app = TestApp::spawn().await;
    let (_, ivy) = app.user_with_key("ivy", false).await;
    let ivys: serde_json::Value = bearer_client(&ivy)
        .post(app.url("/assets"))
        .json(&json!({"filename": "ivys-file.txt"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.create(Some(json!({"filename": "admins-file.txt"})))
        .await;
    let page = |cookie: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    // Rendered on the server: the list is in the HTML.
    let admin = page(app.admin_session().await).await;
    assert!(admin.contains("ivys-file.txt") && admin.contains("admins-file.txt"));
    let table = &admin[admin.find("<table").unwrap_or(0)..];
    assert!(
        table.contains("scope=\"col\">Owner<"),
        "an owner column for the admin: {}",
        &table[..table.len().min(1500)]
    );
    assert!(admin.contains("class=\"owner\">ivy<"));
    let own = page(app.session_cookie("ivy", PASSWORD).await).await;
    assert!(own.contains("ivys-file.txt") && !own.contains("admins-file.txt"));
    assert!(
        !own.contains("scope=\"col\">Owner<"),
        "one owner: no column"
    );
    assert_eq!(ivys["asset"]["owner"], "ivy");
}
