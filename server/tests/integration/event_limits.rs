//! `POST /events/s3` against hostile deliveries: malformed sequencers are refused record by
//! record (the rest still applies), and a delivery over the record limit is refused whole.

use serde_json::{Value, json};
use server::events::MAX_RECORDS_PER_DELIVERY;

use crate::common::TestApp;
use crate::events::{TOKEN, post, s3_event, uploaded_silently};

fn created_record(id: &str, sequencer: &str) -> Value {
    json!({"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "assets"},
        "object": {"key": format!("assets/{id}"), "sequencer": sequencer}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sequencers_are_refused_and_never_stored() {
    let app = TestApp::spawn_with(&["--embedded-events", "false", "--events-token", TOKEN]).await;
    let (victim, good) = (uploaded_silently(&app).await, uploaded_silently(&app).await);
    // 70,000 characters overflowed the comparison's padding (a panic); 1,000 were stored and
    // then outranked every later event of the key.
    let body = json!({"Records": [
        created_record(&victim, &"F".repeat(70_000)),
        created_record(&victim, &"F".repeat(1_000)),
        created_record(&victim, "not-hex"),
        created_record(&good, "0055AED6DCD90281E5"),
    ]});
    let (status, summary) = post(&app, body.to_string(), Some(TOKEN), false).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["applied"], 1, "{summary}");
    let rejected = summary["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 3, "{summary}");
    assert!(
        rejected
            .iter()
            .all(|r| r["key"] == format!("assets/{victim}"))
    );
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("70000 characters")
    );
    assert!(
        rejected[1]["reason"]
            .as_str()
            .unwrap()
            .contains("1000 characters")
    );
    assert!(
        rejected[2]["reason"]
            .as_str()
            .unwrap()
            .contains("hexadecimal")
    );
    assert_eq!(app.asset(&victim).await.unwrap()["state"], "CREATED");
    assert_eq!(app.asset(&good).await.unwrap()["state"], "RECEIVED");
    assert_eq!(app.service_events_rejected(), Some(3));

    // Nothing of the refused records was kept: an ordinary (small) sequencer still applies.
    let (status, summary) = post(
        &app,
        s3_event("ObjectCreated:Put", &victim, "01"),
        Some(TOKEN),
        false,
    )
    .await;
    assert_eq!((status, summary["applied"].as_u64()), (200, Some(1)));
    assert_eq!(app.asset(&victim).await.unwrap()["state"], "RECEIVED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_over_the_record_limit_is_refused_whole() {
    let app = TestApp::spawn_with(&["--embedded-events", "false", "--events-token", TOKEN]).await;
    let id = uploaded_silently(&app).await;
    let filler = json!({"eventName": "ObjectTagging:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}});
    let mut records = vec![filler; MAX_RECORDS_PER_DELIVERY];
    records.push(created_record(&id, "0A"));
    let (status, body) = post(
        &app,
        json!({ "Records": records }).to_string(),
        Some(TOKEN),
        false,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "too_large", "{body}");
    assert!(
        body["error_message"]
            .as_str()
            .unwrap()
            .contains(&format!("at most {MAX_RECORDS_PER_DELIVERY} are accepted")),
        "{body}"
    );
    assert_eq!(app.asset(&id).await.unwrap()["state"], "CREATED");
}
