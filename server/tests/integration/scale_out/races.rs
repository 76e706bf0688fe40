//! Writers racing on one asset across replicas: PUT, DELETE and S3 event deliveries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::cluster::{EVENTS_TOKEN, Replica, Shared, number, stored_item, upload};

/// What one racer does to the asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Put,
    Delete,
    /// An `ObjectCreated:Put` event with this sequencer.
    Created(u32),
    /// An `ObjectRemoved:Delete` event with this sequencer (the object stays: it is skipped).
    Removed(u32),
}

/// One racer's request and reply, with when it was sent and answered.
#[derive(Debug)]
struct Reply {
    op: Op,
    replica: usize,
    sent: Instant,
    done: Instant,
    status: StatusCode,
    body: Value,
}

fn sequencer(n: u32) -> String {
    format!("{n:08X}")
}

fn event(name: &str, bucket: &str, id: &str, seq: u32) -> String {
    json!({"Records": [{
        "eventName": name,
        "s3": {"bucket": {"name": bucket},
               "object": {"key": format!("assets/{id}"), "sequencer": sequencer(seq)}}
    }]})
    .to_string()
}

/// Every op released together by a barrier, then each after its delay; op `i` on replica
/// `i % replicas`.
async fn race(replicas: &[Replica], bucket: &str, id: &str, ops: &[(Op, Duration)]) -> Vec<Reply> {
    let barrier = Arc::new(tokio::sync::Barrier::new(ops.len()));
    let mut tasks = Vec::new();
    for (i, &(op, delay)) in ops.iter().enumerate() {
        let replica = &replicas[i % replicas.len()];
        let path = format!("/assets/{id}");
        let request = match op {
            Op::Put => replica.api.put(replica.url(&path)),
            Op::Delete => replica.api.delete(replica.url(&path)),
            Op::Created(seq) | Op::Removed(seq) => {
                let name = match op {
                    Op::Created(_) => "ObjectCreated:Put",
                    _ => "ObjectRemoved:Delete",
                };
                replica
                    .client
                    .post(replica.url("/events/s3"))
                    .bearer_auth(EVENTS_TOKEN)
                    .body(event(name, bucket, id, seq))
            }
        };
        let barrier = barrier.clone();
        let index = replica.index;
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            tokio::time::sleep(delay).await;
            let sent = Instant::now();
            let resp = request.send().await.unwrap();
            let status = resp.status();
            let text = resp.text().await.unwrap();
            let done = Instant::now();
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            Reply {
                op,
                replica: index,
                sent,
                done,
                status,
                body,
            }
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

/// The replies, one a line, times relative to the first send: for failure messages.
fn dump(replies: &[Reply]) -> String {
    let start = replies.iter().map(|r| r.sent).min().unwrap();
    replies
        .iter()
        .map(|r| {
            format!(
                "  {:?} on replica {}: sent +{}ms done +{}ms -> {} {}",
                r.op,
                r.replica,
                (r.sent - start).as_millis(),
                (r.done - start).as_millis(),
                r.status,
                r.body
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether an event reply applied its record.
fn applied(reply: &Reply) -> bool {
    reply.body["applied"] == 1
}

/// The documented status of every reply, and the same record read back from every replica.
async fn check_replies_and_agreement(replicas: &[Replica], id: &str, replies: &[Reply]) -> Value {
    let log = dump(replies);
    for reply in replies {
        let ok = match reply.op {
            Op::Put => {
                (reply.status == 202 && reply.body["status"] == "UPLOADED")
                    || (reply.status == 409 && reply.body["code"] == "conflict")
            }
            Op::Delete => reply.status == 204,
            Op::Created(_) | Op::Removed(_) => {
                reply.status == 200 && reply.body["applied"].as_u64().is_some_and(|n| n <= 1)
            }
        };
        assert!(ok, "an undocumented reply: {reply:?}\nall replies:\n{log}");
        if !reply.status.is_success() {
            assert!(
                reply.body["error_message"].is_string(),
                "not a JSON error: {reply:?}"
            );
        }
    }
    let first = replicas[0].asset(id).await.expect("the record is there");
    let time =
        |field: &str| chrono::DateTime::parse_from_rfc3339(first[field].as_str().unwrap()).unwrap();
    assert!(time("updatedAt") > time("createdAt"), "{first}");
    for replica in &replicas[1..] {
        let seen = replica.asset(id).await;
        assert_eq!(
            seen.as_ref(),
            Some(&first),
            "replica {} disagrees with replica 0\nreplies:\n{log}",
            replica.index
        );
    }
    first
}

/// The stored record's version counts exactly the writes the replies report: one per applied
/// event, one for the PUT that moved it to UPLOADED (if any did), one for the first DELETE.
async fn check_version(shared: &Shared, id: &str, replies: &[Reply], deleted: bool) {
    let item = stored_item(shared, id).await.expect("the stored item");
    let events: Vec<u32> = replies
        .iter()
        .filter(|r| applied(r))
        .filter_map(|r| match r.op {
            Op::Created(seq) => Some(seq),
            _ => None,
        })
        .collect();
    let put_wrote = replies.iter().any(|r| r.op == Op::Put && r.status == 202);
    let expected = 1 + events.len() as u64 + u64::from(put_wrote) + u64::from(deleted);
    assert_eq!(
        number(&item, "version"),
        expected,
        "version vs the writes replies reported; item {item:?}\nreplies:\n{}",
        dump(replies)
    );
    // Applied events only ever move the sequencer forward: the last is the largest.
    let stored = item.get("sequencer").and_then(|v| v.as_s().ok()).cloned();
    assert_eq!(stored, events.iter().max().map(|&n| sequencer(n)));
}

/// PUT, events and DELETE on three replicas at once, over several assets: every reply is a
/// documented one, every replica reads back the same record, and once a DELETE answered 204 no
/// reply shows the asset alive again (DELETED is final).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writers_on_three_replicas_agree_and_never_revive_a_deleted_asset() {
    let shared = Shared::provision().await;
    let replicas = shared.start(3, &[]).await;
    let bucket = shared.name.clone();
    let mut outcomes = std::collections::BTreeSet::new();
    let wanted = ["PUT 202", "PUT 409", "event applied"].map(String::from);
    // Four rounds always; more (up to ten) until the race has gone both ways: on a loaded
    // machine the early rounds' DELETEs may answer only after every other request was sent.
    for round in 0..10u32 {
        if round >= 4 && wanted.iter().all(|w| outcomes.contains(w)) {
            break;
        }
        let created = replicas[round as usize % 3].create().await;
        let id = created["id"].as_str().unwrap().to_string();
        upload(&replicas[0].client, &created, b"raced bytes".to_vec()).await;
        // Per eight: 3 PUT, 3 ObjectCreated, 1 ObjectRemoved, 1 DELETE. The others are spread
        // over ~160 ms; the DELETEs come later each round, 0 to ~450 ms (a DELETE is cheaper
        // than a PUT or an event, which HEAD the object first: released together, it would
        // always win). Extra rounds send the DELETEs first and spread the others wider, so some
        // are sent after a DELETE answered.
        let ops: Vec<(Op, Duration)> = (0..32u32)
            .map(|i| {
                let op = match i % 8 {
                    0 | 4 | 6 => Op::Put,
                    2 => Op::Removed(0x100 * round + i),
                    7 => Op::Delete,
                    _ => Op::Created(0x100 * round + i),
                };
                let delay = match (op, round) {
                    (Op::Delete, 0..4) => 150 * round + 10 * (i / 8),
                    (Op::Delete, _) => 10 * (i / 8),
                    (_, 0..4) => 5 * i,
                    _ => 5 * (round - 2) * i,
                };
                (op, Duration::from_millis(delay.into()))
            })
            .collect();
        let replies = race(&replicas, &bucket, &id, &ops).await;
        let log = dump(&replies);
        let last = check_replies_and_agreement(&replicas, &id, &replies).await;
        assert_eq!(last["state"], "DELETED", "final state\nreplies:\n{log}");
        let deleted_at = replies
            .iter()
            .filter(|r| r.op == Op::Delete)
            .map(|r| r.done)
            .min()
            .unwrap();
        for reply in replies.iter().filter(|r| r.sent > deleted_at) {
            let revived = match reply.op {
                Op::Put => reply.status != 409,
                Op::Created(_) | Op::Removed(_) => applied(reply),
                Op::Delete => false,
            };
            assert!(
                !revived,
                "sent after a DELETE answered 204, yet {reply:?}\nreplies:\n{log}"
            );
        }
        check_version(&shared, &id, &replies, true).await;
        for reply in &replies {
            let outcome = match reply.op {
                Op::Put => format!("PUT {}", reply.status.as_u16()),
                Op::Created(_) if applied(reply) => "event applied".into(),
                _ => continue,
            };
            outcomes.insert(outcome);
        }
    }
    // The race really raced: PUTs and events won before a DELETE, and others lost after it.
    assert!(
        wanted.iter().all(|w| outcomes.contains(w)),
        "the rounds never raced both ways: {outcomes:?}"
    );
}

/// PUT against ObjectCreated events on three replicas, no DELETE: UPLOADED exactly, with the
/// object's size and ETag, the same on every replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_confirmations_and_events_on_three_replicas_end_uploaded_once() {
    let shared = Shared::provision().await;
    let replicas = shared.start(3, &[]).await;
    let bucket = shared.name.clone();
    for round in 0..3u32 {
        let created = replicas[round as usize % 3].create().await;
        let id = created["id"].as_str().unwrap().to_string();
        let bytes = format!("bytes of round {round}").into_bytes();
        upload(&replicas[1].client, &created, bytes.clone()).await;
        let head = shared
            .moto
            .s3()
            .head_object()
            .bucket(&bucket)
            .key(format!("assets/{id}"))
            .send()
            .await
            .unwrap();
        let ops: Vec<(Op, Duration)> = (0..32u32)
            .map(|i| match i % 2 {
                0 => (Op::Put, Duration::ZERO),
                _ => (Op::Created(0x100 * round + i), Duration::ZERO),
            })
            .collect();
        let replies = race(&replicas, &bucket, &id, &ops).await;
        let log = dump(&replies);
        let last = check_replies_and_agreement(&replicas, &id, &replies).await;
        assert_eq!(last["state"], "UPLOADED", "final state\nreplies:\n{log}");
        assert_eq!(last["size"], bytes.len(), "{last}");
        let etag = head.e_tag().unwrap().trim_matches('"');
        assert_eq!(
            last["etag"].as_str().map(|e| e.trim_matches('"')),
            Some(etag)
        );
        assert!(
            replies.iter().all(|r| r.op != Op::Put || r.status == 202),
            "the object is there: every PUT confirms\nreplies:\n{log}"
        );
        check_version(&shared, &id, &replies, false).await;
    }
}

/// The object removed from the bucket, then PUT, DELETE and its ObjectRemoved events (and a
/// stale ObjectCreated) on three replicas at once: exactly one removal applies, the record is
/// gone from every replica, and once the removal answered nothing shows the asset again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removed_object_is_forgotten_once_by_racing_replicas() {
    let shared = Shared::provision().await;
    let replicas = shared.start(3, &[]).await;
    let bucket = shared.name.clone();
    for round in 0..3u32 {
        let created = replicas[round as usize % 3].create().await;
        let id = created["id"].as_str().unwrap().to_string();
        upload(&replicas[0].client, &created, b"soon removed".to_vec()).await;
        let marked = replicas[1]
            .api
            .put(replicas[1].url(&format!("/assets/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(marked.status(), 202);
        shared
            .moto
            .s3()
            .delete_object()
            .bucket(&bucket)
            .key(format!("assets/{id}"))
            .send()
            .await
            .unwrap();
        let ops: Vec<(Op, Duration)> = (0..24u32)
            .map(|i| {
                let op = match i % 4 {
                    0 => Op::Put,
                    1 => Op::Removed(0x100 * round + i),
                    2 => Op::Delete,
                    _ => Op::Created(0x100 * round + i),
                };
                (op, Duration::from_millis((7 * i % 60).into()))
            })
            .collect();
        let replies = race(&replicas, &bucket, &id, &ops).await;
        let log = dump(&replies);
        for reply in &replies {
            let ok = match reply.op {
                Op::Put => [202, 404, 409].contains(&reply.status.as_u16()),
                Op::Delete => reply.status == 204 || reply.status == 404,
                Op::Created(_) => reply.status == 200 && !applied(reply),
                Op::Removed(_) => reply.status == 200,
            };
            assert!(ok, "an unexpected reply: {reply:?}\nall replies:\n{log}");
            assert!(
                reply.status.is_success()
                    || (reply.body["code"].is_string() && reply.body["error_message"].is_string()),
                "not a JSON error: {reply:?}"
            );
        }
        let removals: Vec<&Reply> = replies
            .iter()
            .filter(|r| matches!(r.op, Op::Removed(_)) && applied(r))
            .collect();
        assert_eq!(removals.len(), 1, "one removal applies\nreplies:\n{log}");
        let removed_at = removals[0].done;
        for reply in replies.iter().filter(|r| r.sent > removed_at) {
            assert!(
                !reply.status.is_success() || !matches!(reply.op, Op::Put | Op::Delete),
                "sent after the removal answered, yet {reply:?}\nreplies:\n{log}"
            );
        }
        for replica in &replicas {
            assert_eq!(
                replica.asset(&id).await,
                None,
                "replica {} lists it",
                replica.index
            );
            let got = replica
                .api
                .get(replica.url(&format!("/assets/{id}")))
                .send()
                .await
                .unwrap();
            assert_eq!(got.status(), 404, "replica {}", replica.index);
        }
        assert!(stored_item(&shared, &id).await.is_none());
    }
}
