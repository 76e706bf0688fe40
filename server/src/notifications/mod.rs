//! Event notification envelopes -> `ObjectEvent`s: a raw S3 notification, SNS (signature checked
//! in `sns`), EventBridge, MinIO webhooks, S3's test event. What an event *does* is the
//! service's business (`Service::apply_object_event`); this module only reads envelopes.

pub mod sns;

use app::model::whole_number;
use serde::Deserialize;

use crate::events::{
    Delivery, EventSource, MAX_RECORDS_PER_DELIVERY, ObjectChange, ObjectEvent, RejectedRecord,
    check_sequencer,
};
use sns::SnsMessage;

/// What `POST /events/s3` accepts, for its OpenAPI schema (`parse_envelope` reads bodies).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "only its schema is used")]
pub(crate) enum EventDelivery {
    S3(S3Notification),
    EventBridge(EventBridgeEvent),
    Test(TestEvent),
    Sns(Box<SnsMessage>),
}

/// S3's `s3:TestEvent`, sent when notifications are configured.
#[derive(Deserialize, utoipa::ToSchema)]
#[expect(dead_code, reason = "only its schema is used")]
pub(crate) struct TestEvent {
    #[serde(rename = "Event")]
    #[schema(inline)]
    event: TestEventName,
}

#[derive(Deserialize, utoipa::ToSchema)]
enum TestEventName {
    #[serde(rename = "s3:TestEvent")]
    TestEvent,
}

/// One S3 event notification record, as S3 sends it (the fields we read).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct S3EventRecord {
    event_name: String,
    /// `aws:s3`, or `minio:s3` from MinIO.
    #[serde(default)]
    event_source: Option<String>,
    s3: S3Entity,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
struct S3Bucket {
    name: String,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
struct S3Object {
    /// URL-encoded as in S3's notifications (`+` for a space).
    key: String,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(maximum = 18_446_744_073_709_551_615_u64)]
    size: Option<u64>,
    #[serde(rename = "eTag", default)]
    e_tag: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

/// A raw S3 event notification (MinIO's webhook sends the same).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct S3Notification {
    #[serde(rename = "Records")]
    records: Vec<S3EventRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum BadDelivery {
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the delivery carries {0} records; at most {MAX_RECORDS_PER_DELIVERY} are accepted per delivery"
    )]
    TooManyRecords(usize),
}

/// A delivery to `POST /events/s3`, by envelope.
#[derive(Debug)]
pub enum Envelope {
    /// S3 events: a raw S3 notification, a MinIO webhook, an EventBridge event, a test event.
    Events(Delivery),
    /// An SNS message; its signature must be checked before its `Message` is read.
    Sns(Box<SnsMessage>),
}

/// Reads any envelope we accept.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, BadDelivery> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| BadDelivery::Invalid(format!("event body is not JSON: {e}")))?;
    if SnsMessage::looks_like(&value) {
        let message = serde_json::from_value(value)
            .map_err(|e| BadDelivery::Invalid(format!("not an SNS message: {e}")))?;
        return Ok(Envelope::Sns(Box::new(message)));
    }
    events_from_value(value).map(Envelope::Events)
}

/// Reads S3 events (the body of an SNS notification, or a webhook's): a raw S3 notification
/// (`{"Records":[...]}`, MinIO's too), an EventBridge event, or S3's `s3:TestEvent`.
pub fn parse_delivery(body: &[u8]) -> Result<Delivery, BadDelivery> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| BadDelivery::Invalid(format!("event body is not JSON: {e}")))?;
    events_from_value(value)
}

fn events_from_value(value: serde_json::Value) -> Result<Delivery, BadDelivery> {
    if value.get("Event").and_then(|v| v.as_str()) == Some("s3:TestEvent") {
        return Ok(Delivery {
            ignored: 1,
            source: EventSource::S3,
            ..Delivery::default()
        });
    }
    if value.get("detail-type").is_some() {
        let event: EventBridgeEvent = serde_json::from_value(value)
            .map_err(|e| BadDelivery::Invalid(format!("not an EventBridge S3 event: {e}")))?;
        return Ok(event.into_delivery());
    }
    // Counted before the records are read into their types.
    let count = value
        .get("Records")
        .and_then(|r| r.as_array())
        .map_or(0, Vec::len);
    if count > MAX_RECORDS_PER_DELIVERY {
        return Err(BadDelivery::TooManyRecords(count));
    }
    let notification: S3Notification = serde_json::from_value(value)
        .map_err(|e| BadDelivery::Invalid(format!("not an S3 event notification: {e}")))?;
    Ok(from_records(notification.records))
}

/// An S3 event as EventBridge delivers it (an API destination posting to us).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct EventBridgeEvent {
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    detail: EventBridgeDetail,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct EventBridgeDetail {
    bucket: S3Bucket,
    object: EventBridgeObject,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct EventBridgeObject {
    key: String,
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(maximum = 18_446_744_073_709_551_615_u64)]
    size: Option<u64>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

impl EventBridgeEvent {
    fn into_delivery(self) -> Delivery {
        let change = match (self.source.as_str(), self.detail_type.as_str()) {
            ("aws.s3", "Object Created") => Some(ObjectChange::Created),
            ("aws.s3", "Object Deleted") => Some(ObjectChange::Removed),
            _ => None, // restores, tags, ACLs, storage class changes: not content
        };
        let Some(change) = change else {
            return Delivery {
                ignored: 1,
                source: EventSource::EventBridge,
                ..Delivery::default()
            };
        };
        let object = self.detail.object;
        let key = decode_key(&object.key);
        if let Some(Err(why)) = object.sequencer.as_deref().map(check_sequencer) {
            return Delivery {
                rejected: vec![RejectedRecord::new(&key, why)],
                source: EventSource::EventBridge,
                ..Delivery::default()
            };
        }
        Delivery {
            events: vec![ObjectEvent {
                change,
                bucket: self.detail.bucket.name,
                key,
                size: object.size,
                etag: object.etag.map(|e| e.trim_matches('"').to_string()),
                sequencer: object.sequencer,
            }],
            source: EventSource::EventBridge,
            ..Delivery::default()
        }
    }
}

fn from_records(records: Vec<S3EventRecord>) -> Delivery {
    let mut delivery = Delivery::default();
    // MinIO names its records' source `minio:s3` and prefixes event names with `s3:`.
    if records
        .iter()
        .any(|r| r.event_source.as_deref() == Some("minio:s3") || r.event_name.starts_with("s3:"))
    {
        delivery.source = EventSource::Minio;
    }
    for record in records {
        match object_event(record) {
            Ok(Some(event)) => delivery.events.push(event),
            Ok(None) => delivery.ignored += 1,
            Err(rejected) => delivery.rejected.push(rejected),
        }
    }
    delivery
}

/// The event a record reports; `None` when it is not about content; refused when its
/// sequencer is malformed (never stored: it would misorder every later event of its key).
fn object_event(record: S3EventRecord) -> Result<Option<ObjectEvent>, RejectedRecord> {
    let key = decode_key(&record.s3.object.key);
    if let Some(Err(why)) = record.s3.object.sequencer.as_deref().map(check_sequencer) {
        return Err(RejectedRecord::new(&key, why));
    }
    let Some(change) = ObjectChange::from_event_name(&record.event_name) else {
        return Ok(None);
    };
    Ok(Some(ObjectEvent {
        change,
        bucket: record.s3.bucket.name,
        key,
        size: record.s3.object.size,
        etag: record
            .s3
            .object
            .e_tag
            .map(|e| e.trim_matches('"').to_string()),
        sequencer: record.s3.object.sequencer,
    }))
}

/// S3 event keys are form-URL-encoded: `+` is a space, `%XX` a byte (S3 event docs).
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_notification_yields_every_record() {
        let body = br#"{"Records":[
            {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"assets/a+b%2Fc","size":5,"eTag":"abc","sequencer":"0A"}}},
            {"eventName":"ObjectTagging:Put","s3":{"bucket":{"name":"b"},"object":{"key":"assets/x"}}},
            {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"assets/y","sequencer":"0B"}}}
        ]}"#;
        let delivery = parse_delivery(body).unwrap();
        assert_eq!(delivery.ignored, 1);
        assert_eq!(delivery.events.len(), 2);
        assert_eq!(delivery.events[0].change, ObjectChange::Created);
        assert_eq!(delivery.events[0].key, "assets/a b/c");
        assert_eq!(delivery.events[0].size, Some(5));
        assert_eq!(delivery.events[1].change, ObjectChange::Removed);
        assert_eq!(delivery.source, EventSource::S3);
    }

    #[test]
    fn minio_records_are_told_apart_from_s3() {
        let body = br#"{"EventName":"s3:ObjectCreated:Put","Key":"assets/x","Records":[
            {"eventName":"s3:ObjectCreated:Put","eventSource":"minio:s3","s3":{"bucket":{"name":"b"},"object":{"key":"assets/x"}}}
        ]}"#;
        let delivery = parse_delivery(body).unwrap();
        assert_eq!(delivery.events.len(), 1);
        assert_eq!(delivery.source, EventSource::Minio);
    }

    #[test]
    fn records_with_malformed_sequencers_are_refused_and_the_rest_kept() {
        let record = |key: &str, sequencer: &str| {
            format!(
                r#"{{"eventName":"ObjectCreated:Put","s3":{{"bucket":{{"name":"b"}},"object":{{"key":"{key}","sequencer":"{sequencer}"}}}}}}"#
            )
        };
        let body = format!(
            r#"{{"Records":[{},{},{},{}]}}"#,
            record("assets/huge", &"F".repeat(70_000)),
            record("assets/long", &"A".repeat(1_000)),
            record("assets/nothex", "0x12"),
            record("assets/good", "0055AED6DCD90281E5"),
        );
        let delivery = parse_delivery(body.as_bytes()).unwrap();
        assert_eq!(delivery.events.len(), 1);
        assert_eq!(delivery.events[0].key, "assets/good");
        let keys: Vec<_> = delivery.rejected.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["assets/huge", "assets/long", "assets/nothex"]);
        assert!(delivery.rejected[0].reason.contains("70000 characters"));
        assert!(delivery.rejected[2].reason.contains("hexadecimal"));
    }

    #[test]
    fn a_delivery_over_the_record_limit_is_refused_whole() {
        let record = r#"{"eventName":"ObjectTagging:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}"#;
        let body = |n: usize| format!(r#"{{"Records":[{}]}}"#, vec![record; n].join(","));
        let at_limit = parse_delivery(body(MAX_RECORDS_PER_DELIVERY).as_bytes()).unwrap();
        assert_eq!(at_limit.ignored, MAX_RECORDS_PER_DELIVERY);
        assert!(matches!(
            parse_delivery(body(MAX_RECORDS_PER_DELIVERY + 1).as_bytes()),
            Err(BadDelivery::TooManyRecords(n)) if n == MAX_RECORDS_PER_DELIVERY + 1
        ));
    }

    #[test]
    fn test_event_is_accepted_and_ignored() {
        let delivery =
            parse_delivery(br#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#)
                .unwrap();
        assert!(delivery.events.is_empty());
        assert!(parse_delivery(b"not json").is_err());
        assert!(parse_delivery(br#"{"Records":"nope"}"#).is_err());
    }

    mod properties {
        use super::*;

        /// The form-URL encoding S3 applies to keys in events (the inverse of `decode_key`).
        fn encode_key(key: &str) -> String {
            const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
                .remove(b'-')
                .remove(b'_')
                .remove(b'.')
                .remove(b'*')
                .remove(b'/')
                .remove(b' ');
            percent_encoding::utf8_percent_encode(key, KEEP)
                .to_string()
                .replace(' ', "+")
        }

        use proptest::prelude::*;

        proptest! {
            #[test]
            fn keys_round_trip(key in "\\PC{0,40}") {
                prop_assert_eq!(decode_key(&encode_key(&key)), key);
            }

        }
    }
}
