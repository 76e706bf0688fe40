//! What is kept beside an object's bytes (its metadata file, JSON).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use s3s::dto::{Timestamp, TimestampFormat};
use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};

use super::internal;

/// An object's checksums, base64 as S3 sends them; kept when the upload carried them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Checksums {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) crc32: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) crc32c: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) crc64nvme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sha256: Option<String>,
    /// `FULL_OBJECT` or `COMPOSITE` (multipart), when any checksum is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
}

/// The standard content headers stored with an object and returned on GET/HEAD.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ContentHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) content_language: Option<String>,
    /// An HTTP date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires: Option<String>,
}

impl ContentHeaders {
    pub(crate) fn expires_from(value: Option<&Timestamp>) -> S3Result<Option<String>> {
        value
            .map(|ts| {
                let mut out = Vec::new();
                ts.format(TimestampFormat::HttpDate, &mut out)
                    .map_err(|_| s3_error!(InvalidArgument, "Invalid Expires header"))?;
                String::from_utf8(out).map_err(internal)
            })
            .transpose()
    }

    pub(crate) fn expires(&self) -> Option<Timestamp> {
        let text = self.expires.as_deref()?;
        Timestamp::parse(TimestampFormat::HttpDate, text).ok()
    }
}

/// What is kept beside an object's bytes.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub(crate) struct ObjectMeta {
    pub(crate) key: String,
    pub(crate) size: u64,
    /// Without quotes: hex MD5, or `<hex>-<parts>` for a multipart object.
    pub(crate) etag: String,
    pub(crate) last_modified_ms: u64,
    #[serde(default)]
    pub(crate) headers: ContentHeaders,
    /// `x-amz-meta-*`, names lower-case without the prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) user: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) checksums: Checksums,
    /// Part sizes of a multipart object, in order (empty for a single PUT).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) parts: Vec<u64>,
}

impl ObjectMeta {
    pub(crate) fn last_modified(&self) -> Timestamp {
        // Listings carry milliseconds (so `aws s3 sync` sees an upload as newer than the file
        // it came from); HTTP dates and conditional requests use whole seconds.
        Timestamp::from(UNIX_EPOCH + Duration::from_millis(self.last_modified_ms))
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
