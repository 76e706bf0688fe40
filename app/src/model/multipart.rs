//! Multipart uploads: how a big upload is cut into parts (S3's rules), what the record keeps
//! about it, and the requests and replies of signing, listing and completing parts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::upload::{Checksum, ChecksumAlgorithm, whole_number};
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
    #[serde(deserialize_with = "part_number")]
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
    /// The part numbers with their parsed checksums, in the order asked; numbers out of
    /// 1..=10,000 and more than 100 parts are refused. (A part asked for twice gets two URLs:
    /// signing changes nothing.)
    pub fn validate(&self) -> Result<Vec<(u32, Option<Checksum>)>, InvalidInput> {
        if self.parts.is_empty() || self.parts.len() > MAX_PARTS_PER_REQUEST {
            return Err(InvalidInput::new(format!(
                "ask for 1..={MAX_PARTS_PER_REQUEST} parts at a time"
            )));
        }
        self.parts
            .iter()
            .map(|part| {
                check_part_number(part.part_number)?;
                let checksum = part
                    .sha256
                    .as_deref()
                    .map(|digest| Checksum::parse(ChecksumAlgorithm::Sha256, digest))
                    .transpose()?;
                Ok((part.part_number, checksum))
            })
            .collect()
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
    #[serde(deserialize_with = "part_number")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10000))]
    pub part_number: u32,
    /// The part upload's `ETag` reply header, quoted or not.
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 130,
            pattern = r#"^"?[\x21\x23-\x7e]{1,128}"?$"#
        )
    )]
    pub etag: String,
}

impl CompleteUpload {
    /// The parts as (number, ETag without quotes) in ascending order, checked: 1..=10,000
    /// parts, each ETag printable.
    pub fn validate(&self) -> Result<Vec<(u32, String)>, InvalidInput> {
        if self.parts.is_empty() || self.parts.len() > MAX_PARTS as usize {
            return Err(InvalidInput::new(format!(
                "list 1..={MAX_PARTS} parts to complete an upload"
            )));
        }
        let mut parts = self
            .parts
            .iter()
            .map(|part| {
                check_part_number(part.part_number)?;
                Ok((part.part_number, bare_etag(&part.etag)?))
            })
            .collect::<Result<Vec<_>, InvalidInput>>()?;
        // A part listed twice alike is listed once; twice with two ETags, at most one of them
        // can be the stored part's, which the check against storage refuses.
        parts.sort();
        parts.dedup();
        Ok(parts)
    }
}

/// A part number as JSON may carry it (`3` or `3.0`).
fn part_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = whole_number(deserializer)?
        .ok_or_else(|| serde::de::Error::custom("part_number must be a number"))?;
    u32::try_from(number).map_err(|_| {
        serde::de::Error::custom(format!("part number {number} is out of range (1..=10000)"))
    })
}

/// An ETag without its surrounding quotes; empty, overlong, non-printable or inner-quoted ones
/// are refused (the schemas state the same pattern).
pub fn bare_etag(etag: &str) -> Result<String, InvalidInput> {
    let bare = etag.strip_prefix('"').unwrap_or(etag);
    let bare = bare.strip_suffix('"').unwrap_or(bare);
    if bare.is_empty()
        || bare.chars().count() > MAX_ETAG_CHARS
        || !bare
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
    {
        return Err(InvalidInput::new(format!(
            "'{}' is not a part's ETag",
            shorten(etag)
        )));
    }
    Ok(bare.to_string())
}

/// S3's limit on an object's user metadata: names and values together, in bytes.
pub const MAX_USER_METADATA_BYTES: usize = 2048;

/// User metadata for the object (`x-amz-meta-<name>`), as Companion writes Uppy's file
/// metadata: names lowercased and made of header-token characters; values that are not
/// printable ASCII RFC 2047-encoded (`=?UTF-8?B?...?=`, as Companion does); a null value is no
/// entry. Over S3's 2 KB in all is refused.
pub fn user_metadata(
    raw: impl IntoIterator<Item = (String, Option<String>)>,
) -> Result<BTreeMap<String, String>, InvalidInput> {
    use base64::Engine as _;
    let mut metadata = BTreeMap::new();
    let mut bytes = 0;
    for (name, value) in raw {
        let Some(value) = value else { continue };
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(InvalidInput::new(format!(
                "metadata name '{}' is not a header token",
                shorten(&name)
            )));
        }
        let value = if value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            value
        } else {
            let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
            format!("=?UTF-8?B?{encoded}?=")
        };
        bytes += name.len() + value.len();
        metadata.insert(name.to_ascii_lowercase(), value);
    }
    if bytes > MAX_USER_METADATA_BYTES {
        return Err(InvalidInput::new(format!(
            "metadata is {bytes} bytes: S3 keeps at most {MAX_USER_METADATA_BYTES}"
        )));
    }
    Ok(metadata)
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
        assert_eq!(sign(&[2, 2]).validate().unwrap().len(), 2);
        for bad in [&[][..], &[0], &[10_001]] {
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
            complete(&[(3, "def"), (1, "\"abc\""), (3, "def")])
                .validate()
                .unwrap(),
            vec![(1, "abc".to_string()), (3, "def".to_string())]
        );
        assert_eq!(complete(&[(1, "a"), (1, "b")]).validate().unwrap().len(), 2);
        for bad in [
            &[][..],
            &[(1, "")],
            &[(1, "\"\"")],
            &[(1, "\"")],
            &[(1, "a\"b")],
            &[(1, "a b")],
            &[(0, "a")],
        ] {
            assert!(complete(bad).validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn part_numbers_are_whole_numbers_written_either_way() {
        let number = |json: &str| serde_json::from_str::<PartToSign>(json).map(|p| p.part_number);
        assert_eq!(number(r#"{"part_number": 3}"#).unwrap(), 3);
        assert_eq!(number(r#"{"part_number": 3.0}"#).unwrap(), 3);
        for bad in [
            r#"{"part_number": 3.5}"#,
            r#"{"part_number": -1}"#,
            r#"{"part_number": null}"#,
            r#"{"part_number": 4294967296}"#,
            r#"{}"#,
        ] {
            assert!(number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_metadata_is_what_s3_can_keep() {
        let meta = |pairs: &[(&str, Option<&str>)]| {
            user_metadata(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.map(str::to_string))),
            )
        };
        let ok = meta(&[
            ("Name", Some("a.txt")),
            ("type", None),
            ("title", Some("Café")),
        ])
        .unwrap();
        assert_eq!(ok.get("name").map(String::as_str), Some("a.txt"));
        assert!(!ok.contains_key("type"));
        assert_eq!(
            ok.get("title").map(String::as_str),
            Some("=?UTF-8?B?Q2Fmw6k=?=")
        );
        for bad in [
            &[("", Some("x"))][..],
            &[("a b", Some("x"))],
            &[("a\n", Some("x"))],
        ] {
            assert!(meta(bad).is_err(), "{bad:?}");
        }
        let long = "x".repeat(2048);
        assert!(meta(&[("n", Some(long.as_str()))]).is_err());
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
