//! What an asset is and which moves it may make. No I/O: this compiles to wasm and is tested
//! without a server.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Shortest and longest lifetime of a presigned URL (S3 allows at most 7 days for SigV4).
pub const MIN_URL_TTL_SECS: u64 = 1;
pub const MAX_URL_TTL_SECS: u64 = 604_800;
/// The original example's default download URL lifetime.
pub const DEFAULT_DOWNLOAD_TTL_SECS: u64 = 60;
/// Longest filename we keep (bytes, as most filesystems allow).
pub const MAX_FILENAME_BYTES: usize = 255;

/// An asset's id: a UUID, validated wherever it enters the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetId(Uuid);

impl AssetId {
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
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

/// Where an asset is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
        }
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
}

/// One asset record. Field names follow the original example (`asset_id`, `createdAt`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub asset_id: AssetId,
    pub state: AssetState,
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
    /// The checksum the client declared; storage verified it on upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    /// Bumped by every write; stores use it for conditional writes.
    #[serde(skip)]
    pub version: u64,
    /// The S3 event sequencer last applied for this asset's object.
    #[serde(skip)]
    pub sequencer: Option<String>,
}

/// What a client may declare when it asks for an upload (all optional, as in the original's
/// bare `POST`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAsset {
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    /// SHA-256 of the content, hex or base64; signed into the upload URL, checked by storage.
    #[serde(default)]
    pub sha256: Option<String>,
    /// MD5 of the content, hex or base64; signed into the upload URL, checked by storage.
    #[serde(default)]
    pub md5: Option<String>,
}

impl NewAsset {
    /// Checks the declared fields; `max_size` is the server's configured limit.
    pub fn validate(&self, max_size: u64) -> Result<(), InvalidInput> {
        if let Some(name) = &self.filename {
            validate_filename(name)?;
        }
        if let Some(content_type) = &self.content_type {
            validate_content_type(content_type)?;
        }
        self.checksum()?;
        if let Some(size) = self.size
            && size > max_size
        {
            return Err(InvalidInput::too_large(format!(
                "declared size {size} bytes is over the maximum of {max_size} bytes"
            )));
        }
        Ok(())
    }
}

impl NewAsset {
    /// The declared checksum, if any (at most one algorithm).
    pub fn checksum(&self) -> Result<Option<Checksum>, InvalidInput> {
        match (&self.sha256, &self.md5) {
            (Some(_), Some(_)) => Err(InvalidInput::new("declare either sha256 or md5, not both")),
            (Some(digest), None) => Checksum::parse(ChecksumAlgorithm::Sha256, digest).map(Some),
            (None, Some(digest)) => Checksum::parse(ChecksumAlgorithm::Md5, digest).map(Some),
            (None, None) => Ok(None),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgorithm {
    Sha256,
    Md5,
}

impl ChecksumAlgorithm {
    fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Md5 => 16,
        }
    }
}

/// A content digest, kept as the raw bytes' standard base64 (what S3's headers carry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    pub base64: String,
}

impl Checksum {
    /// Accepts the digest as hex (as `sha256sum` prints it) or standard base64.
    pub fn parse(algorithm: ChecksumAlgorithm, digest: &str) -> Result<Self, InvalidInput> {
        let bytes = decode_hex(digest)
            .or_else(|| decode_base64(digest))
            .filter(|b| b.len() == algorithm.digest_len());
        match bytes {
            Some(bytes) => Ok(Self {
                algorithm,
                base64: encode_base64(&bytes),
            }),
            None => Err(InvalidInput::new(format!(
                "{} must be a {}-byte digest in hex or base64",
                match algorithm {
                    ChecksumAlgorithm::Sha256 => "sha256",
                    ChecksumAlgorithm::Md5 => "md5",
                },
                algorithm.digest_len()
            ))),
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        decode_base64(&self.base64).unwrap_or_default()
    }

    /// Storage form: `sha256:<base64>`.
    pub fn to_tagged(&self) -> String {
        let tag = match self.algorithm {
            ChecksumAlgorithm::Sha256 => "sha256",
            ChecksumAlgorithm::Md5 => "md5",
        };
        format!("{tag}:{}", self.base64)
    }

    pub fn from_tagged(tagged: &str) -> Option<Self> {
        let (tag, value) = tagged.split_once(':')?;
        let algorithm = match tag {
            "sha256" => ChecksumAlgorithm::Sha256,
            "md5" => ChecksumAlgorithm::Md5,
            _ => return None,
        };
        Self::parse(algorithm, value).ok()
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// `201` reply to `POST /assets`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedAsset {
    pub id: AssetId,
    pub upload_url: String,
    /// Always `PUT`.
    pub method: String,
    /// Headers the client must send with the upload, exactly as listed.
    pub upload_headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
    pub asset: Asset,
}

/// `200` reply to `GET /assets/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadLink {
    pub download_url: String,
    pub expires_at: DateTime<Utc>,
}

/// `202` reply to `PUT /assets/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReply {
    pub status: AssetState,
}

/// One page of `GET /assets`, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetPage {
    pub items: Vec<Asset>,
    /// Opaque; pass back as `?cursor=` for the next page. Absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// What to list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub state: Option<AssetState>,
    /// Include soft-deleted assets when no state is given.
    #[serde(default)]
    pub include_deleted: bool,
}

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Machine-readable error codes, the `code` of every JSON error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    TooLarge,
    NotFound,
    Conflict,
    Unavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::TooLarge => "too_large",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The JSON body of every error reply: `{"error_message": "...", "code": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error_message: String,
    pub code: ErrorCode,
}

/// Input that does not pass validation; `too_large` marks a size over the limit (413).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidInput {
    pub message: String,
    pub too_large: bool,
}

impl InvalidInput {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            too_large: false,
        }
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            too_large: true,
        }
    }
}

/// Parses a URL lifetime in seconds (the original's `?timeout=`), bounded 1..=604800.
pub fn parse_ttl(raw: &str) -> Result<u64, InvalidInput> {
    let secs: u64 = raw.trim().parse().map_err(|_| {
        InvalidInput::new(format!(
            "timeout '{}' is not a whole number of seconds",
            shorten(raw)
        ))
    })?;
    if !(MIN_URL_TTL_SECS..=MAX_URL_TTL_SECS).contains(&secs) {
        return Err(InvalidInput::new(format!(
            "timeout {secs} is out of range ({MIN_URL_TTL_SECS}..={MAX_URL_TTL_SECS} seconds)"
        )));
    }
    Ok(secs)
}

pub fn validate_filename(name: &str) -> Result<(), InvalidInput> {
    if name.is_empty() || name.len() > MAX_FILENAME_BYTES {
        return Err(InvalidInput::new(format!(
            "filename must be 1..={MAX_FILENAME_BYTES} bytes long"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(InvalidInput::new(
            "filename must not contain control characters",
        ));
    }
    Ok(())
}

/// Accepts `type/subtype` made of RFC 7230 token characters, optionally with parameters.
pub fn validate_content_type(value: &str) -> Result<(), InvalidInput> {
    let bad = || InvalidInput::new(format!("'{}' is not a valid content type", shorten(value)));
    if value.len() > 255 {
        return Err(bad());
    }
    let essence = value.split(';').next().unwrap_or_default().trim();
    let (kind, subtype) = essence.split_once('/').ok_or_else(bad)?;
    let is_token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    if !is_token(kind) || !is_token(subtype) || value.chars().any(|c| c.is_control()) {
        return Err(bad());
    }
    Ok(())
}

/// Bytes in human units, for the dashboard (`1.5 MiB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Keeps echoed user input short in error messages.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use AssetState::*;

    #[test]
    fn every_state_and_action_pair_has_the_expected_outcome() {
        let expected: [(AssetState, Action, Result<AssetState, Refused>); 16] = [
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
    fn asset_json_uses_the_original_field_names() {
        let asset = Asset {
            asset_id: "1a5ea69a-d30c-11e7-90d0-129b5a655d2d".parse().unwrap(),
            state: Uploaded,
            created_at: "2026-11-26T10:00:00Z".parse().unwrap(),
            updated_at: "2026-11-26T10:01:00Z".parse().unwrap(),
            filename: Some("a.txt".into()),
            content_type: None,
            size: Some(5),
            etag: None,
            checksum: None,
            version: 3,
            sequencer: Some("00A".into()),
        };
        let json = serde_json::to_value(&asset).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "asset_id": "1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
                "state": "UPLOADED",
                "createdAt": "2026-11-26T10:00:00Z",
                "updatedAt": "2026-11-26T10:01:00Z",
                "filename": "a.txt",
                "size": 5
            })
        );
    }

    #[test]
    fn ttl_is_bounded_and_numeric() {
        assert_eq!(parse_ttl("60"), Ok(60));
        assert_eq!(parse_ttl("1"), Ok(1));
        assert_eq!(parse_ttl("604800"), Ok(604_800));
        for bad in ["abc", "0", "604801", "-1", "1.5", ""] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn declared_upload_fields_are_validated() {
        let ok = NewAsset {
            filename: Some("report 2026.pdf".into()),
            content_type: Some("application/pdf".into()),
            size: Some(10),
            ..Default::default()
        };
        assert!(ok.validate(100).is_ok());
        let too_big = NewAsset {
            size: Some(101),
            ..Default::default()
        };
        assert!(too_big.validate(100).unwrap_err().too_large);
        for bad_type in ["pdf", "text/", "/html", "text/ht ml", "text/html\r\nX: y"] {
            let asset = NewAsset {
                content_type: Some(bad_type.into()),
                ..Default::default()
            };
            assert!(asset.validate(100).is_err(), "{bad_type}");
        }
        assert!(validate_content_type("text/plain; charset=utf-8").is_ok());
        for bad_name in ["", "a\nb", "a\u{0}b"] {
            assert!(validate_filename(bad_name).is_err(), "{bad_name:?}");
        }
        assert!(validate_filename(&"x".repeat(256)).is_err());
        assert!(validate_filename("naïve résumé.txt").is_ok());
    }

    #[test]
    fn checksums_accept_hex_or_base64_of_the_right_length() {
        // SHA-256 of "hello", as sha256sum prints it and as S3's header carries it.
        let hex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let b64 = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";
        let from_hex = Checksum::parse(ChecksumAlgorithm::Sha256, hex).unwrap();
        assert_eq!(from_hex.base64, b64);
        assert_eq!(
            Checksum::parse(ChecksumAlgorithm::Sha256, b64).unwrap(),
            from_hex
        );
        assert_eq!(
            Checksum::from_tagged(&from_hex.to_tagged()),
            Some(from_hex.clone())
        );
        assert_eq!(from_hex.bytes().len(), 32);
        // MD5 of "hello".
        let md5 =
            Checksum::parse(ChecksumAlgorithm::Md5, "5d41402abc4b2a76b9719d911017c592").unwrap();
        assert_eq!(md5.base64, "XUFAKrxLKna5cZ2REBfFkg==");
        for bad in [
            "",
            "abc",
            "zz",
            &hex[2..],
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ",
            "5d41402abc4b2a76b9719d911017c592",
        ] {
            assert!(
                Checksum::parse(ChecksumAlgorithm::Sha256, bad).is_err(),
                "{bad}"
            );
        }
        let both = NewAsset {
            sha256: Some(hex.into()),
            md5: Some("x".into()),
            ..Default::default()
        };
        assert!(both.validate(100).is_err());
    }

    #[test]
    fn sizes_read_in_human_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }
}
