//! S3 event notifications: parsing deliveries into domain events. What an event *does* is the
//! service's business (`Service::apply_object_event`); this module only reads envelopes.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::sns::SnsMessage;

/// One S3 event notification record, as S3 sends it (the fields we read or emit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3EventRecord {
    #[serde(default)]
    pub event_version: String,
    #[serde(default)]
    pub event_source: String,
    #[serde(default)]
    pub aws_region: String,
    #[serde(default)]
    pub event_time: String,
    pub event_name: String,
    pub s3: S3Entity,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Entity {
    #[serde(rename = "s3SchemaVersion", default)]
    pub schema_version: String,
    #[serde(rename = "configurationId", default)]
    pub configuration_id: String,
    pub bucket: S3Bucket,
    pub object: S3Object,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Bucket {
    pub name: String,
    #[serde(default)]
    pub arn: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Object {
    /// URL-encoded as in S3's notifications (`+` for a space).
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(rename = "eTag", default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct S3Notification {
    #[serde(rename = "Records")]
    records: Vec<S3EventRecord>,
}

/// What an event says happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectChange {
    /// New content: `ObjectCreated:Put`, `Post`, `Copy`, `CompleteMultipartUpload`.
    Created,
    /// `ObjectRemoved:Delete` or `ObjectRemoved:DeleteMarkerCreated`.
    Removed,
}

/// A decoded event about one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectEvent {
    pub change: ObjectChange,
    pub bucket: String,
    /// Decoded key.
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub sequencer: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadDelivery(pub String);

/// A delivery's events, plus how many records were skipped as not about content.
#[derive(Debug, Default)]
pub struct Delivery {
    pub events: Vec<ObjectEvent>,
    pub ignored: usize,
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
        .map_err(|e| BadDelivery(format!("event body is not JSON: {e}")))?;
    if SnsMessage::looks_like(&value) {
        let message = serde_json::from_value(value)
            .map_err(|e| BadDelivery(format!("not an SNS message: {e}")))?;
        return Ok(Envelope::Sns(Box::new(message)));
    }
    events_from_value(value).map(Envelope::Events)
}

/// Reads S3 events (the body of an SNS notification, or a webhook's): a raw S3 notification
/// (`{"Records":[...]}`, MinIO's too), an EventBridge event, or S3's `s3:TestEvent`.
pub fn parse_delivery(body: &[u8]) -> Result<Delivery, BadDelivery> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| BadDelivery(format!("event body is not JSON: {e}")))?;
    events_from_value(value)
}

fn events_from_value(value: serde_json::Value) -> Result<Delivery, BadDelivery> {
    if value.get("Event").and_then(|v| v.as_str()) == Some("s3:TestEvent") {
        return Ok(Delivery {
            events: vec![],
            ignored: 1,
        });
    }
    if value.get("detail-type").is_some() {
        let event: EventBridgeEvent = serde_json::from_value(value)
            .map_err(|e| BadDelivery(format!("not an EventBridge S3 event: {e}")))?;
        return Ok(event.into_delivery());
    }
    let notification: S3Notification = serde_json::from_value(value)
        .map_err(|e| BadDelivery(format!("not an S3 event notification: {e}")))?;
    Ok(from_records(notification.records))
}

/// An S3 event as EventBridge delivers it (an API destination posting to us).
#[derive(Debug, Deserialize)]
struct EventBridgeEvent {
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    detail: EventBridgeDetail,
}

#[derive(Debug, Deserialize)]
struct EventBridgeDetail {
    bucket: S3Bucket,
    object: EventBridgeObject,
}

#[derive(Debug, Deserialize)]
struct EventBridgeObject {
    key: String,
    #[serde(default)]
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
                events: vec![],
                ignored: 1,
            };
        };
        let object = self.detail.object;
        Delivery {
            events: vec![ObjectEvent {
                change,
                bucket: self.detail.bucket.name,
                key: decode_key(&object.key),
                size: object.size,
                etag: object.etag.map(|e| e.trim_matches('"').to_string()),
                sequencer: object.sequencer,
            }],
            ignored: 0,
        }
    }
}

pub fn from_records(records: Vec<S3EventRecord>) -> Delivery {
    let mut delivery = Delivery::default();
    for record in records {
        match object_event(&record) {
            Some(event) => delivery.events.push(event),
            None => delivery.ignored += 1,
        }
    }
    delivery
}

fn object_event(record: &S3EventRecord) -> Option<ObjectEvent> {
    let change = change_of(&record.event_name)?;
    Some(ObjectEvent {
        change,
        bucket: record.s3.bucket.name.clone(),
        key: decode_key(&record.s3.object.key),
        size: record.s3.object.size,
        etag: record
            .s3
            .object
            .e_tag
            .clone()
            .map(|e| e.trim_matches('"').to_string()),
        sequencer: record.s3.object.sequencer.clone(),
    })
}

/// Maps an S3 event name (with or without MinIO's `s3:` prefix) to a content change, or `None`
/// for events that do not change content (tagging, retention, restore, ...).
pub fn change_of(event_name: &str) -> Option<ObjectChange> {
    let name = event_name.strip_prefix("s3:").unwrap_or(event_name);
    match name {
        "ObjectCreated:Put"
        | "ObjectCreated:Post"
        | "ObjectCreated:Copy"
        | "ObjectCreated:CompleteMultipartUpload" => Some(ObjectChange::Created),
        "ObjectRemoved:Delete" | "ObjectRemoved:DeleteMarkerCreated" => Some(ObjectChange::Removed),
        _ => None,
    }
}

/// S3 event keys are form-URL-encoded: `+` is a space, `%XX` a byte (S3 event docs).
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The form-URL encoding S3 applies to keys in events (the inverse of `decode_key`).
pub fn encode_key(key: &str) -> String {
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

/// Orders two sequencers of the same key. S3's rule: sequencers may differ in length; pad the
/// shorter with zeros on the right, then compare as (hex) strings.
pub fn compare_sequencers(a: &str, b: &str) -> Ordering {
    let width = a.len().max(b.len());
    let pad = |s: &str| format!("{:0<width$}", s.to_ascii_uppercase());
    pad(a).cmp(&pad(b))
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

    #[test]
    fn event_names_map_to_changes() {
        for name in [
            "ObjectCreated:Put",
            "s3:ObjectCreated:Post",
            "ObjectCreated:Copy",
            "ObjectCreated:CompleteMultipartUpload",
        ] {
            assert_eq!(change_of(name), Some(ObjectChange::Created), "{name}");
        }
        for name in [
            "ObjectRemoved:Delete",
            "s3:ObjectRemoved:DeleteMarkerCreated",
        ] {
            assert_eq!(change_of(name), Some(ObjectChange::Removed), "{name}");
        }
        for name in [
            "ObjectTagging:Put",
            "ObjectRestore:Post",
            "s3:ObjectAccessed:Get",
            "LifecycleExpiration:Delete",
        ] {
            assert_eq!(change_of(name), None, "{name}");
        }
    }

    #[test]
    fn sequencers_compare_with_right_padding() {
        assert_eq!(
            compare_sequencers("0055AED6DCD90281E5", "0055AED6DCD90281E6"),
            Ordering::Less
        );
        assert_eq!(
            compare_sequencers("0055AED6DCD9028", "0055AED6DCD90281E5"),
            Ordering::Less
        );
        assert_eq!(
            compare_sequencers("0055AED6DCD90290", "0055AED6DCD90281E5"),
            Ordering::Greater
        );
        assert_eq!(compare_sequencers("0A", "0A000"), Ordering::Equal);
        assert_eq!(compare_sequencers("0a", "0A"), Ordering::Equal);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn keys_round_trip(key in "\\PC{0,40}") {
                prop_assert_eq!(decode_key(&encode_key(&key)), key);
            }

            #[test]
            fn sequencer_order_is_total_and_consistent(a in "[0-9A-F]{1,20}", b in "[0-9A-F]{1,20}", c in "[0-9A-F]{1,20}") {
                // antisymmetric
                prop_assert_eq!(compare_sequencers(&a, &b), compare_sequencers(&b, &a).reverse());
                // transitive
                if compare_sequencers(&a, &b) != Ordering::Greater && compare_sequencers(&b, &c) != Ordering::Greater {
                    prop_assert_ne!(compare_sequencers(&a, &c), Ordering::Greater);
                }
                // same-length sequencers compare as numbers
                if a.len() == b.len() {
                    let (x, y) = (u128::from_str_radix(&a, 16).unwrap(), u128::from_str_radix(&b, 16).unwrap());
                    prop_assert_eq!(compare_sequencers(&a, &b), x.cmp(&y));
                }
            }
        }
    }
}
