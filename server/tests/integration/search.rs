//! Search in `GET /assets` as a script uses it: `?q=` (filename prefix, case-insensitive),
//! `?type=` (exact or family), `?sort=`, their cursors, and refusals of bad values.

use reqwest::{Method, Url};
use serde_json::{Value, json};

use crate::common::{TestApp, bearer_client};

/// `/assets?...` with the parameters percent-encoded.
fn path(params: &[(&str, &str)]) -> String {
    let url = Url::parse_with_params("http://x/assets", params).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

async fn get(app: &TestApp, key: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let resp = bearer_client(key)
        .get(app.url(&path(params)))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of a listing, following `next_cursor`.
async fn all_pages(app: &TestApp, key: &str, params: &[(&str, &str)]) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let mut with: Vec<(&str, &str)> = params.to_vec();
        if let Some(c) = &cursor {
            with.push(("cursor", c));
        }
        let (status, page) = get(app, key, &with).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return seen,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_search_by_prefix_and_type_and_sort_across_pages() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user_with_key("alice", false).await;
    let (_, bob) = app.user_with_key("bob", false).await;
    let files = [
        ("Report-A.pdf", "application/pdf", 300),
        ("report-b.png", "image/png", 100),
        ("Ünïcode notes.txt", "text/plain", 200),
        ("photo.JPG", "image/jpeg", 50),
    ];
    for (filename, content_type, size) in files {
        let resp = bearer_client(&alice)
            .post(app.url("/assets"))
            .json(&json!({"filename": filename, "content_type": content_type, "size": size}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let resp = bearer_client(&bob)
        .post(app.url("/assets"))
        .json(&json!({"filename": "report-bob.txt", "content_type": "text/plain"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let (_, page) = get(&app, &alice, &[("q", "REPORT")]).await;
    assert_eq!(
        names(&page),
        ["report-b.png", "Report-A.pdf"],
        "bob's stays his"
    );
    let (_, page) = get(&app, &alice, &[("q", "üNÏ")]).await;
    assert_eq!(names(&page), ["Ünïcode notes.txt"]);
    let (_, page) = get(&app, &alice, &[("type", "image/*")]).await;
    assert_eq!(names(&page), ["photo.JPG", "report-b.png"]);
    let (_, page) = get(&app, &alice, &[("type", "IMAGE/PNG"), ("q", "rep")]).await;
    assert_eq!(names(&page), ["report-b.png"]);
    let (_, page) = get(&app, &alice, &[("q", ""), ("type", "")]).await;
    assert_eq!(names(&page).len(), 4, "empty values filter nothing");

    let largest = all_pages(&app, &alice, &[("sort", "largest"), ("limit", "1")]).await;
    assert_eq!(
        largest,
        [
            "Report-A.pdf",
            "Ünïcode notes.txt",
            "report-b.png",
            "photo.JPG"
        ]
    );
    let oldest = all_pages(&app, &alice, &[("sort", "oldest"), ("limit", "3")]).await;
    assert_eq!(
        oldest,
        [
            "Report-A.pdf",
            "report-b.png",
            "Ünïcode notes.txt",
            "photo.JPG"
        ]
    );
    let images = all_pages(
        &app,
        &alice,
        &[("type", "image"), ("sort", "largest"), ("limit", "1")],
    )
    .await;
    assert_eq!(images, ["report-b.png", "photo.JPG"]);

    // A cursor belongs to its sort and search.
    let (_, first) = get(&app, &alice, &[("sort", "largest"), ("limit", "1")]).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    for other in [
        vec![("sort", "oldest"), ("cursor", cursor)],
        vec![("cursor", cursor)],
        vec![("sort", "largest"), ("q", "r"), ("cursor", cursor)],
    ] {
        let (status, body) = get(&app, &alice, &other).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_input")),
            "{other:?}"
        );
    }
    let (_, first) = get(&app, &alice, &[("q", "rep"), ("limit", "1")]).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (status, _) = get(
        &app,
        &alice,
        &[("q", "re"), ("limit", "1"), ("cursor", cursor)],
    )
    .await;
    assert_eq!(status, 400);
    let (status, page) = get(
        &app,
        &alice,
        &[("q", "rep"), ("limit", "1"), ("cursor", cursor)],
    )
    .await;
    assert_eq!(
        (status, names(&page)),
        (200, vec!["Report-A.pdf".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_search_values_are_refused_with_json_errors() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(256);
    let fits = "é".repeat(255);
    for params in [
        vec![("type", "image/")],
        vec![("type", "*/*")],
        vec![("type", "image/png; charset=x")],
        vec![("type", "a/b/c")],
        vec![("sort", "biggest")],
        vec![("sort", "Largest")],
        vec![("q", long.as_str())],
    ] {
        let resp = app.call(Method::GET, &path(&params)).await;
        assert_eq!(resp.status(), 400, "{params:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "invalid_input", "{params:?}");
        assert!(body["error_message"].is_string());
    }
    let resp = app.call(Method::GET, &path(&[("q", fits.as_str())])).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_deletes_several_assets_at_once_and_reports_each_failure() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user_with_key("alice", false).await;
    let (_, bob) = app.user_with_key("bob", false).await;
    let create = |key: String, name: &'static str| {
        let url = app.url("/assets");
        async move {
            let resp = bearer_client(&key)
                .post(url)
                .json(&json!({"filename": name}))
                .send()
                .await
                .unwrap();
            let created: Value = resp.json().await.unwrap();
            created["id"].as_str().unwrap().to_string()
        }
    };
    let a = create(alice.clone(), "a.txt").await;
    let b = create(alice.clone(), "b.txt").await;
    let kept = create(alice.clone(), "kept.txt").await;
    let bobs = create(bob.clone(), "bob.txt").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let cookie = app.session_cookie("alice", "a password for tests").await;

    let resp = app
        .server_fn(
            "delete_assets",
            Some(&cookie),
            json!({"ids": [a, b, bobs, unknown]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let failed: Value = resp.json().await.unwrap();
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    for (failure, id) in failed.iter().zip([&bobs, &unknown]) {
        assert_eq!(failure["id"], id.as_str());
        assert_eq!(
            failure["error"]["code"], "not_found",
            "another's is a 404 too"
        );
    }
    let (_, page) = get(&app, &alice, &[("include_deleted", "true")]).await;
    let states: Vec<(String, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["filename"].as_str().unwrap().to_string(),
                i["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("kept.txt".to_string(), "CREATED".to_string()),
            ("b.txt".to_string(), "DELETED".to_string()),
            ("a.txt".to_string(), "DELETED".to_string()),
        ]
    );
    let (_, page) = get(&app, &bob, &[]).await;
    assert_eq!(names(&page), ["bob.txt"], "bob's asset is untouched");

    // Over the bound: refused whole, nothing deleted.
    let many: Vec<String> = (0..=app::model::MAX_BULK_DELETE)
        .map(|_| kept.clone())
        .collect();
    let resp = app
        .server_fn("delete_assets", Some(&cookie), json!({"ids": many}))
        .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "invalid_input");
    let (_, page) = get(&app, &alice, &[]).await;
    assert_eq!(names(&page), ["kept.txt"]);
    // Without a session: refused.
    let resp = app
        .server_fn("delete_assets", None, json!({"ids": [kept]}))
        .await;
    assert_eq!(resp.status(), 401);
}
