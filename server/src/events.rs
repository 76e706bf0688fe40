//! What object storage says happened to an object, as the service reads it, whoever reported
//! it: a notification envelope (`notifications`) or the embedded endpoint (`embedded_s3`).
//! Lower layers only emit these; the service applies them.

use std::cmp::Ordering;

use tokio::sync::mpsc;

/// What an event says happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectChange {
    /// New content: `ObjectCreated:Put`, `Post`, `Copy`, `CompleteMultipartUpload`.
    Created,
    /// `ObjectRemoved:Delete` or `ObjectRemoved:DeleteMarkerCreated`.
    Removed,
}

impl ObjectChange {
    /// Maps an S3 event name (with or without MinIO's `s3:` prefix) to a content change, or
    /// `None` for events that do not change content (tagging, retention, restore, ...).
    pub fn from_event_name(event_name: &str) -> Option<Self> {
        let name = event_name.strip_prefix("s3:").unwrap_or(event_name);
        match name {
            "ObjectCreated:Put"
            | "ObjectCreated:Post"
            | "ObjectCreated:Copy"
            | "ObjectCreated:CompleteMultipartUpload" => Some(Self::Created),
            "ObjectRemoved:Delete" | "ObjectRemoved:DeleteMarkerCreated" => Some(Self::Removed),
            _ => None,
        }
    }
}

/// An event about one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectEvent {
    pub change: ObjectChange,
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub sequencer: Option<String>,
}

/// A delivery's events, plus how many records were skipped as not about content and which
/// were refused as malformed.
#[derive(Debug, Default)]
pub struct Delivery {
    pub events: Vec<ObjectEvent>,
    pub ignored: usize,
    pub source: EventSource,
    pub rejected: Vec<RejectedRecord>,
}

/// Who reported events (a metrics label).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EventSource {
    /// A raw S3 event notification (a webhook relaying S3's JSON).
    #[default]
    S3,
    Sns,
    EventBridge,
    Minio,
    /// The embedded endpoint's channel.
    Embedded,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Sns => "sns",
            Self::EventBridge => "eventbridge",
            Self::Minio => "minio",
            Self::Embedded => "embedded",
        }
    }
}

/// A record refused when read (a malformed sequencer): reported, never applied or stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RejectedRecord {
    /// The record's decoded key, cut to its first 256 characters.
    pub key: String,
    pub reason: String,
}

impl RejectedRecord {
    pub fn new(key: &str, reason: impl std::fmt::Display) -> Self {
        Self {
            key: key.chars().take(256).collect(),
            reason: reason.to_string(),
        }
    }
}

/// Most records one delivery may carry (S3 sends one per notification; SNS and webhooks a
/// few). A larger delivery is refused whole (413) rather than half applied.
pub const MAX_RECORDS_PER_DELIVERY: usize = 10_000;

/// Where the embedded endpoint sends its events. Bounded: when the consumer falls behind,
/// senders wait (back-pressure) instead of events being dropped.
pub type EventSender = mpsc::Sender<ObjectEvent>;
pub type EventReceiver = mpsc::Receiver<ObjectEvent>;

/// Events waiting for the consumer before senders wait.
pub const EVENT_QUEUE: usize = 1024;

pub fn event_channel() -> (EventSender, EventReceiver) {
    mpsc::channel(EVENT_QUEUE)
}

/// Longest sequencer accepted. S3's are 16-ish hex characters; anything much longer is not
/// from S3 and would cost every later comparison of its key.
pub const MAX_SEQUENCER_LEN: usize = 64;

/// Why a sequencer is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadSequencer {
    #[error("the sequencer is empty")]
    Empty,
    #[error("the sequencer is {0} characters long; at most {MAX_SEQUENCER_LEN} are accepted")]
    TooLong(usize),
    #[error("the sequencer is not a hexadecimal string")]
    NotHex,
}

/// Checks that `sequencer` looks like S3's: a short hex string.
pub fn check_sequencer(sequencer: &str) -> Result<(), BadSequencer> {
    if sequencer.is_empty() {
        Err(BadSequencer::Empty)
    } else if sequencer.len() > MAX_SEQUENCER_LEN {
        Err(BadSequencer::TooLong(sequencer.len()))
    } else if !sequencer.bytes().all(|b| b.is_ascii_hexdigit()) {
        Err(BadSequencer::NotHex)
    } else {
        Ok(())
    }
}

/// Orders two sequencers of the same key. S3's rule: sequencers may differ in length; pad the
/// shorter with zeros on the right, then compare as (hex) strings. Byte by byte, without
/// allocating, so no input can make it panic or grow memory.
pub fn compare_sequencers(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let digit = |s: &[u8], i: usize| s.get(i).map_or(b'0', u8::to_ascii_uppercase);
    (0..a.len().max(b.len()))
        .map(|i| digit(a, i).cmp(&digit(b, i)))
        .find(|order| order.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Whether an event with sequencer `event` is newer than the last one applied. An event with
/// no sequencer is always applied (the state rules keep it idempotent), and so is any event
/// after a malformed stored sequencer (one stored before sequencers were checked must not
/// block its key for good).
pub fn is_newer(event: Option<&str>, last_applied: Option<&str>) -> bool {
    match (event, last_applied) {
        (Some(event), Some(last)) if check_sequencer(last).is_ok() => {
            compare_sequencers(event, last) == Ordering::Greater
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_map_to_changes() {
        for name in [
            "ObjectCreated:Put",
            "s3:ObjectCreated:Post",
            "ObjectCreated:Copy",
            "ObjectCreated:CompleteMultipartUpload",
        ] {
            assert_eq!(
                ObjectChange::from_event_name(name),
                Some(ObjectChange::Created),
                "{name}"
            );
        }
        for name in [
            "ObjectRemoved:Delete",
            "s3:ObjectRemoved:DeleteMarkerCreated",
        ] {
            assert_eq!(
                ObjectChange::from_event_name(name),
                Some(ObjectChange::Removed),
                "{name}"
            );
        }
        for name in [
            "ObjectTagging:Put",
            "ObjectRestore:Post",
            "s3:ObjectAccessed:Get",
            "LifecycleExpiration:Delete",
        ] {
            assert_eq!(ObjectChange::from_event_name(name), None, "{name}");
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

    #[test]
    fn only_newer_sequencers_apply() {
        assert!(is_newer(Some("0B"), Some("0A")));
        assert!(!is_newer(Some("0A"), Some("0A")));
        assert!(!is_newer(Some("0A"), Some("0B")));
        assert!(is_newer(Some("0A"), None));
        assert!(is_newer(None, Some("0A")));
        // A malformed sequencer stored by an older version does not block its key.
        assert!(is_newer(Some("0A"), Some(&"F".repeat(1000))));
        assert!(is_newer(Some("0A"), Some("zz")));
    }

    #[test]
    fn sequencers_are_short_hex_strings() {
        assert_eq!(check_sequencer("0055AED6DCD90281E5"), Ok(()));
        assert_eq!(check_sequencer("0a"), Ok(()));
        assert_eq!(check_sequencer(&"F".repeat(MAX_SEQUENCER_LEN)), Ok(()));
        assert_eq!(check_sequencer(""), Err(BadSequencer::Empty));
        assert_eq!(
            check_sequencer(&"F".repeat(MAX_SEQUENCER_LEN + 1)),
            Err(BadSequencer::TooLong(MAX_SEQUENCER_LEN + 1))
        );
        assert_eq!(check_sequencer("0x1F"), Err(BadSequencer::NotHex));
        assert_eq!(check_sequencer("12 4"), Err(BadSequencer::NotHex));
        assert_eq!(check_sequencer("0é"), Err(BadSequencer::NotHex));
    }

    #[test]
    fn comparing_huge_sequencers_does_not_panic() {
        // A width of 65,536+ overflowed the old `format!` padding.
        let huge = "F".repeat(70_000);
        assert_eq!(compare_sequencers(&huge, "0A"), Ordering::Greater);
        assert_eq!(compare_sequencers("0A", &huge), Ordering::Less);
        assert_eq!(compare_sequencers(&huge, &huge), Ordering::Equal);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn sequencer_order_is_total_and_consistent(a in "[0-9A-F]{1,20}", b in "[0-9A-F]{1,20}", c in "[0-9A-F]{1,20}") {
                prop_assert_eq!(compare_sequencers(&a, &b), compare_sequencers(&b, &a).reverse());
                if compare_sequencers(&a, &b) != Ordering::Greater && compare_sequencers(&b, &c) != Ordering::Greater {
                    prop_assert_ne!(compare_sequencers(&a, &c), Ordering::Greater);
                }
                prop_assert!(check_sequencer(&a).is_ok());
                if a.len() == b.len() {
                    let (x, y) = (u128::from_str_radix(&a, 16).unwrap(), u128::from_str_radix(&b, 16).unwrap());
                    prop_assert_eq!(compare_sequencers(&a, &b), x.cmp(&y));
                }
            }

            #[test]
            fn any_text_is_either_a_valid_sequencer_or_refused(s in "\\PC{0,80}", t in "\\PC{0,80}") {
                let valid = !s.is_empty() && s.len() <= MAX_SEQUENCER_LEN && s.chars().all(|c| c.is_ascii_hexdigit());
                prop_assert_eq!(check_sequencer(&s).is_ok(), valid);
                // Comparison never panics, and stays antisymmetric on any input.
                prop_assert_eq!(compare_sequencers(&s, &t), compare_sequencers(&t, &s).reverse());
            }
        }
    }
}
