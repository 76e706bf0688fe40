//! Multipart uploads: how a big upload is cut into parts (S3's rules), what the record keeps
//! about it, and the requests and replies of signing, listing and completing parts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::upload::{Checksum, ChecksumAlgorithm};
use super::{InvalidInput, shorten};

/// S3's rules: every part but the last at least 5 MiB, at most 5 GiB; part numbers 1..=10,000;
/// objects up to 5 TiB; a single `PUT` up to 5 GiB.
pub const MIN_PART_SIZE: u64 = 5 << 20;
pub const MAX_PART_SIZE: u64 = 5 << 30;
pub const MAX_PARTS: u32 = 10_000;
pub const MAX_OBJECT_SIZE: u64 = 5 << 40;
pub const MAX_SINGLE_PUT_SIZE: u64 = 5 << 30;
/// The most part URLs one request may ask for.
pub const MAX_PARTS_PER_REQUEST: usize = 100;
/// Longest ETag we accept back from a client (S3's are 32 hex digits, quoted, maybe `-N`).
const MAX_ETAG_CHARS: usize = 128;

/// What the record keeps about a multipart upload while it runs and after it completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(example = json!({"upload_id": "2~f3a9c1", "part_size": 16777216, "part_sha256": true})))]
pub struct MultipartUpload {
    /// Object storage's upload id (Uppy's `uploadId`).
    pub upload_id: String,
    /// The part size the server chose: every part but the last is this long.
    pub part_size: u64,
    /// Whether each part's SHA-256 must be given when its URL is signed (storage checks it).
    #[serde(default)]
    pub part_sha256: bool,
    /// How many parts the completed object has (set on completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<u32>,
}

impl MultipartUpload {
    /// How many parts an upload of `size` bytes takes at this part size.
    pub fn part_count(&self, size: u64) -> u32 {
        size.div_ceil(self.part_size).max(1) as u32
    }

    /// The SHA-256 storage reports for the completed object (`<base64>-<parts>`), when the
    /// parts carried checksums: the digest of the parts' digests, then the part count.
    pub fn composite_sha256(&self, checksum: Option<&Checksum>) -> Option<String> {
        match (checksum, self.parts) {
            (
                Some(Checksum {
                    algorithm: ChecksumAlgorithm::Sha256,
                    base64,
                }),
                Some(parts),
            ) if self.part_sha256 => Some(format!("{base64}-{parts}")),
            _ => None,
        }
    }
}

/// The part size for an upload of `size` bytes (unknown: `None`): `preferred`, raised so that
/// the object fits in 10,000 parts, in whole MiB, within S3's bounds.
pub fn part_size_for(size: Option<u64>, preferred: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    let needed = size.map_or(0, |size| size.div_ceil(MAX_PARTS as u64));
    let size = preferred.max(needed).max(MIN_PART_SIZE).div_ceil(MIB) * MIB;
    size.min(MAX_PART_SIZE)
}

/// `POST /assets/{id}/multipart/part-urls`: the parts to sign, 1..=100 of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(example = json!({"parts": [{"part_number": 1}, {"part_number": 2}]})))]
#[serde(deny_unknown_fields)]
pub struct SignParts {
    #[cfg_attr(feature = "ssr", schema(min_items = 1, max_items = 100))]
    pub parts: Vec<PartToSign>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PartToSign {
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10000))]
    pub part_number: u32,
    /// The part's SHA-256 (hex or base64): required when the upload has `part_sha256`, refused
    /// otherwise. Signed into the URL; storage refuses a part with other content.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)$")
    )]
    pub sha256: Option<String>,
}

impl SignParts {
    /// The part numbers in ascending order with their parsed checksums; duplicates, numbers
    /// out of 1..=10,000 and too many parts are refused.
    pub fn validate(&self) -> Result<BTreeMap<u32, Option<Checksum>>, InvalidInput> {
        if self.parts.is_empty() || self.parts.len() > MAX_PARTS_PER_REQUEST {
            return Err(InvalidInput::new(format!(
                "ask for 1..={MAX_PARTS_PER_REQUEST} parts at a time"
            )));
        }
        let mut parts = BTreeMap::new();
        for part in &self.parts {
            check_part_number(part.part_number)?;
            let checksum = part
                .sha256
                .as_deref()
                .map(|digest| Checksum::parse(ChecksumAlgorithm::Sha256, digest))
                .transpose()?;
            if parts.insert(part.part_number, checksum).is_some() {
                return Err(InvalidInput::new(format!(
                    "part {} is listed twice",
                    part.part_number
                )));
            }
        }
        Ok(parts)
    }
}

/// A presigned `UploadPart` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PartUrl {
    pub part_number: u32,
    pub url: String,
    /// Always `PUT`.
    pub method: String,
    /// Headers to send with the part, exactly as listed (lowercase names).
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// `200` reply to `POST /assets/{id}/multipart/part-urls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PartUrls {
    pub parts: Vec<PartUrl>,
}

/// A part object storage holds (S3 `ListParts`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadedPart {
    pub part_number: u32,
    pub size: u64,
    /// As storage reports it, without quotes.
    pub etag: String,
    /// Base64 SHA-256, when the part carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub last_modified: DateTime<Utc>,
}

/// `200` reply to `GET /assets/{id}/multipart/parts`: what is uploaded so far, to resume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadedParts {
    pub upload_id: String,
    pub part_size: u64,
    pub parts: Vec<UploadedPart>,
}

/// `POST /assets/{id}/multipart/complete`: every part of the object, in ascending order, with
/// the ETag its upload returned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(example = json!({"parts": [{"part_number": 1, "etag": "\"0f343b0931126a20f133d67c2b018a3b\""}]})))]
#[serde(deny_unknown_fields)]
pub struct CompleteUpload {
    #[cfg_attr(feature = "ssr", schema(min_items = 1, max_items = 10000))]
    pub parts: Vec<CompletedPart>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompletedPart {
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10000))]
    pub part_number: u32,
    /// The part upload's `ETag` reply header, quoted or not.
    #[cfg_attr(
        feature = "ssr",
        schema(min_length = 1, max_length = 128, pattern = r"^[\x21-\x7e]+$")
    )]
    pub etag: String,
}

impl CompleteUpload {
    /// The parts as (number, ETag without quotes), checked: 1..=10,000 parts in strictly
    /// ascending order, each ETag printable.
    pub fn validate(&self) -> Result<Vec<(u32, String)>, InvalidInput> {
        if self.parts.is_empty() || self.parts.len() > MAX_PARTS as usize {
            return Err(InvalidInput::new(format!(
                "list 1..={MAX_PARTS} parts to complete an upload"
            )));
        }
        let mut seen = BTreeSet::new();
        let mut last = 0;
        let mut parts = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            check_part_number(part.part_number)?;
            if part.part_number <= last || !seen.insert(part.part_number) {
                return Err(InvalidInput::new(
                    "parts must be listed in ascending order of part number, each once",
                ));
            }
            last = part.part_number;
            parts.push((part.part_number, bare_etag(&part.etag)?));
        }
        Ok(parts)
    }
}

/// An ETag without its quotes; empty, overlong or non-printable ones are refused.
pub fn bare_etag(etag: &str) -> Result<String, InvalidInput> {
    let bare = etag.trim().trim_matches('"');
    if bare.is_empty()
        || bare.chars().count() > MAX_ETAG_CHARS
        || !bare.bytes().all(|b| (0x21..=0x7e).contains(&b))
    {
        return Err(InvalidInput::new(format!(
            "'{}' is not a part's ETag",
            shorten(etag)
        )));
    }
    Ok(bare.to_string())
}

pub fn check_part_number(number: u32) -> Result<(), InvalidInput> {
    if (1..=MAX_PARTS).contains(&number) {
        Ok(())
    } else {
        Err(InvalidInput::new(format!(
            "part number {number} is out of range (1..={MAX_PARTS})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_follow_s3s_rules() {
        const MIB: u64 = 1 << 20;
        assert_eq!(part_size_for(None, 16 * MIB), 16 * MIB);
        assert_eq!(part_size_for(Some(1 << 30), 16 * MIB), 16 * MIB);
        // Never under 5 MiB, always whole MiB.
        assert_eq!(part_size_for(Some(100), MIB), 5 * MIB);
        assert_eq!(part_size_for(Some(100), 6 * MIB + 1), 7 * MIB);
        // 5 TiB fits in 10,000 parts.
        let big = part_size_for(Some(MAX_OBJECT_SIZE), 16 * MIB);
        assert!(MAX_OBJECT_SIZE.div_ceil(big) <= MAX_PARTS as u64);
        assert!(big <= MAX_PART_SIZE && big.is_multiple_of(MIB));
        let upload = MultipartUpload {
            upload_id: "u".into(),
            part_size: 16 * MIB,
            part_sha256: false,
            parts: None,
        };
        assert_eq!(upload.part_count(16 * MIB), 1);
        assert_eq!(upload.part_count(16 * MIB + 1), 2);
        assert_eq!(upload.part_count(0), 1);
    }

    #[test]
    fn part_requests_are_checked() {
        let sign = |numbers: &[u32]| SignParts {
            parts: numbers
                .iter()
                .map(|&part_number| PartToSign {
                    part_number,
                    sha256: None,
                })
                .collect(),
        };
        assert_eq!(sign(&[3, 1]).validate().unwrap().len(), 2);
        for bad in [&[][..], &[0], &[10_001], &[2, 2]] {
            assert!(sign(bad).validate().is_err(), "{bad:?}");
        }
        let too_many: Vec<u32> = (1..=101).collect();
        assert!(sign(&too_many).validate().is_err());
        let bad_digest = SignParts {
            parts: vec![PartToSign {
                part_number: 1,
                sha256: Some("abc".into()),
            }],
        };
        assert!(bad_digest.validate().is_err());

        let complete = |parts: &[(u32, &str)]| CompleteUpload {
            parts: parts
                .iter()
                .map(|&(part_number, etag)| CompletedPart {
                    part_number,
                    etag: etag.into(),
                })
                .collect(),
        };
        assert_eq!(
            complete(&[(1, "\"abc\""), (3, "def")]).validate().unwrap(),
            vec![(1, "abc".to_string()), (3, "def".to_string())]
        );
        for bad in [
            &[][..],
            &[(2, "a"), (1, "b")],
            &[(1, "a"), (1, "a")],
            &[(1, "")],
            &[(1, "\"\"")],
            &[(1, "a b")],
            &[(0, "a")],
        ] {
            assert!(complete(bad).validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn composite_checksums_name_the_part_count() {
        let mut upload = MultipartUpload {
            upload_id: "u".into(),
            part_size: MIN_PART_SIZE,
            part_sha256: true,
            parts: Some(3),
        };
        let sum = Checksum {
            algorithm: ChecksumAlgorithm::Sha256,
            base64: "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=".into(),
        };
        assert_eq!(
            upload.composite_sha256(Some(&sum)).as_deref(),
            Some("LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=-3")
        );
        upload.part_sha256 = false;
        assert_eq!(upload.composite_sha256(Some(&sum)), None);
    }
}
