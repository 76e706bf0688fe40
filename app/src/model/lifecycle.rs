//! What an asset is and which moves it may make.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::multipart::MultipartUpload;
use super::upload::Checksum;
use super::{InvalidInput, shorten};

/// An asset's id: a UUID, validated wherever it enters the system (paths, JSON, stores).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid, example = "0190c2a4-7d5e-7b3a-9f1e-2c4d6e8fa0b1"))]
#[serde(transparent)]
pub struct AssetId(Uuid);

impl AssetId {
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

/// Through `FromStr`, so JSON and URL paths accept exactly what the REST API documents.
impl<'de> Deserialize<'de> for AssetId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Always the lowercase hyphenated form, so ids compare equal as strings too.
        write!(f, "{}", self.0.as_hyphenated())
    }
}

impl FromStr for AssetId {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the 36-character hyphenated form: braces, URNs and bare hex are not our ids.
        if s.len() != 36 {
            return Err(InvalidInput::new(format!(
                "'{}' is not an asset id (a UUID)",
                shorten(s)
            )));
        }
        Uuid::try_parse(s)
            .map(AssetId)
            .map_err(|_| InvalidInput::new(format!("'{}' is not an asset id (a UUID)", shorten(s))))
    }
}

/// Where an asset is in its lifecycle. Read case-insensitively (`?state=uploaded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssetState {
    /// A record and an upload URL exist; no bytes seen yet.
    Created,
    /// Object storage reported (or a HEAD showed) the object.
    Received,
    /// The client confirmed the upload (`PUT /assets/{id}`).
    Uploaded,
    /// Soft-deleted: hidden, object kept.
    Deleted,
}

impl AssetState {
    pub const ALL: [AssetState; 4] = [Self::Created, Self::Received, Self::Uploaded, Self::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Received => "RECEIVED",
            Self::Uploaded => "UPLOADED",
            Self::Deleted => "DELETED",
        }
    }

    /// The state after `action`, or why the action is refused. `Ok(self)` means "already there":
    /// the caller writes nothing.
    pub fn apply(self, action: Action) -> Result<AssetState, Refused> {
        use {Action::*, AssetState::*};
        match (self, action) {
            (_, SoftDelete) => Ok(Deleted), // repeatable: DELETED stays DELETED
            (Deleted, _) => Err(Refused::Deleted), // a late event never revives it
            (Created, ObjectArrived) => Ok(Received),
            (Received | Uploaded, ObjectArrived) => Ok(self), // duplicate or late event
            (Received | Uploaded, MarkUploaded) => Ok(Uploaded),
            (Created, MarkUploaded) => Err(Refused::NotReceived),
            (Uploaded, Download) => Ok(Uploaded),
            (Created | Received, Download) => Err(Refused::NotUploaded),
            (Created, SendParts) => Ok(Created),
            (Received | Uploaded, SendParts) => Err(Refused::UploadComplete),
        }
    }

    /// Whether `action` is allowed in this state (it may leave the state as it is).
    pub fn allows(self, action: Action) -> bool {
        self.apply(action).is_ok()
    }

    /// Whether `action` is allowed and moves the asset to another state.
    pub fn changes_with(self, action: Action) -> bool {
        matches!(self.apply(action), Ok(next) if next != self)
    }
}

impl<'de> Deserialize<'de> for AssetState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for AssetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AssetState {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AssetState::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                InvalidInput::new(format!(
                    "'{}' is not a state (CREATED, RECEIVED, UPLOADED, DELETED)",
                    shorten(s)
                ))
            })
    }
}

/// Something that may move an asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Object storage has the bytes (an event, or a HEAD that found the object).
    ObjectArrived,
    /// The client says the upload is complete.
    MarkUploaded,
    /// Soft delete.
    SoftDelete,
    /// Work on a multipart upload's parts: sign, list, complete or abort them.
    SendParts,
    /// Hand out a download URL (no state change, but only for uploaded assets).
    Download,
}

/// Why an action is refused in the current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the asset is deleted")]
    Deleted,
    #[error("no object has been received for this asset yet")]
    NotReceived,
    #[error("the asset is not uploaded yet")]
    NotUploaded,
    #[error("the stored object does not match the declared size or checksum")]
    ContentMismatch,
    #[error("the upload is complete; its parts can no longer change")]
    UploadComplete,
    #[error("the asset is uploaded with a single PUT, not in parts")]
    NotMultipart,
    #[error("object storage no longer has this upload (aborted or expired)")]
    UploadGone,
    #[error("this upload checks every part: give each part's sha256")]
    PartChecksumRequired,
    #[error("this upload was started without part_sha256: parts carry no checksum")]
    PartChecksumUnexpected,
    #[error("part {0} was not uploaded")]
    PartMissing(u32),
    #[error("part {0}: the ETag given is not the stored part's (uploaded again since?)")]
    PartChanged(u32),
    #[error("part {0} is under 5 MiB and not the last: S3 refuses such parts")]
    PartTooSmall(u32),
    #[error("part {0} was stored without its sha256")]
    PartUnchecked(u32),
}

/// One asset record. Field names follow the original example (`asset_id`, `createdAt`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Asset {
    pub asset_id: AssetId,
    pub state: AssetState,
    /// The user it belongs to; only they (and admins) see it.
    #[serde(default)]
    pub owner: String,
    #[serde(rename = "createdAt")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "updatedAt")]
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The checksum the client declared; storage verified it on upload. For a multipart upload
    /// with part checksums: the SHA-256 of the parts' SHA-256s (storage reports it with `-N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    /// Present when the upload goes in parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartUpload>,
    /// Bumped by every write; stores use it for conditional writes.
    #[serde(skip)]
    pub version: u64,
    /// The S3 event sequencer last applied for this asset's object.
    #[serde(skip)]
    pub sequencer: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use AssetState::*;

    #[test]
    fn every_state_and_action_pair_has_the_expected_outcome() {
        let expected: [(AssetState, Action, Result<AssetState, Refused>); 20] = [
            (Created, SendParts, Ok(Created)),
            (Received, SendParts, Err(Refused::UploadComplete)),
            (Uploaded, SendParts, Err(Refused::UploadComplete)),
            (Deleted, SendParts, Err(Refused::Deleted)),
            (Created, ObjectArrived, Ok(Received)),
            (Created, MarkUploaded, Err(Refused::NotReceived)),
            (Created, SoftDelete, Ok(Deleted)),
            (Created, Download, Err(Refused::NotUploaded)),
            (Received, ObjectArrived, Ok(Received)),
            (Received, MarkUploaded, Ok(Uploaded)),
            (Received, SoftDelete, Ok(Deleted)),
            (Received, Download, Err(Refused::NotUploaded)),
            (Uploaded, ObjectArrived, Ok(Uploaded)),
            (Uploaded, MarkUploaded, Ok(Uploaded)),
            (Uploaded, SoftDelete, Ok(Deleted)),
            (Uploaded, Download, Ok(Uploaded)),
            (Deleted, ObjectArrived, Err(Refused::Deleted)),
            (Deleted, MarkUploaded, Err(Refused::Deleted)),
            (Deleted, SoftDelete, Ok(Deleted)),
            (Deleted, Download, Err(Refused::Deleted)),
        ];
        for (state, action, outcome) in expected {
            assert_eq!(state.apply(action), outcome, "{state:?} + {action:?}");
        }
    }

    #[test]
    fn allows_and_changes_with_follow_apply() {
        assert!(Uploaded.allows(Download) && !Received.allows(Download));
        assert!(Created.changes_with(SoftDelete));
        // Deleting again is allowed (repeatable) but changes nothing: the UI offers no button.
        assert!(Deleted.allows(SoftDelete) && !Deleted.changes_with(SoftDelete));
        assert!(!Deleted.allows(ObjectArrived));
    }

    #[test]
    fn states_serialize_as_the_original_names() {
        for state in AssetState::ALL {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            assert_eq!(state.as_str().parse::<AssetState>().unwrap(), state);
        }
        assert_eq!("uploaded".parse::<AssetState>().unwrap(), Uploaded);
        assert!("GONE".parse::<AssetState>().is_err());
    }

    #[test]
    fn asset_ids_accept_only_hyphenated_uuids() {
        let id: AssetId = "1a5ea69a-d30c-11e7-90d0-129b5a655d2d".parse().unwrap();
        assert_eq!(id.to_string(), "1a5ea69a-d30c-11e7-90d0-129b5a655d2d");
        let upper: AssetId = "1A5EA69A-D30C-11E7-90D0-129B5A655D2D".parse().unwrap();
        assert_eq!(upper, id);
        for bad in [
            "",
            "abc",
            "1a5ea69ad30c11e790d0129b5a655d2d",
            "{1a5ea69a-d30c-11e7-90d0-129b5a655d2d}",
            "312abad30f-11e7-b0129b5a655d2d",
            "1a5ea69a-d30c-11e7-90d0-129b5a655d2g",
        ] {
            assert!(bad.parse::<AssetId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn json_ids_are_checked_like_path_ids() {
        let ok: AssetId = serde_json::from_str("\"1a5ea69a-d30c-11e7-90d0-129b5a655d2d\"").unwrap();
        assert_eq!(ok.to_string(), "1a5ea69a-d30c-11e7-90d0-129b5a655d2d");
        for bad in [
            "\"not-a-uuid\"",
            "\"1a5ea69ad30c11e790d0129b5a655d2d\"",
            "42",
            "null",
        ] {
            assert!(serde_json::from_str::<AssetId>(bad).is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::from_str::<AssetState>("\"uploaded\"").unwrap(),
            Uploaded
        );
    }

    #[test]
    fn asset_json_uses_the_original_field_names() {
        let asset = Asset {
            asset_id: "1a5ea69a-d30c-11e7-90d0-129b5a655d2d".parse().unwrap(),
            state: Uploaded,
            owner: "alice".into(),
            created_at: "2026-11-26T10:00:00Z".parse().unwrap(),
            updated_at: "2026-11-26T10:01:00Z".parse().unwrap(),
            filename: Some("a.txt".into()),
            content_type: None,
            size: Some(5),
            etag: None,
            checksum: None,
            multipart: None,
            version: 3,
            sequencer: Some("00A".into()),
        };
        let json = serde_json::to_value(&asset).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "asset_id": "1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
                "state": "UPLOADED",
                "owner": "alice",
                "createdAt": "2026-11-26T10:00:00Z",
                "updatedAt": "2026-11-26T10:01:00Z",
                "filename": "a.txt",
                "size": 5
            })
        );
    }
}
