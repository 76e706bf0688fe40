//! What a client may declare when it asks for an upload, and how long a presigned URL lives.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::multipart::MAX_SINGLE_PUT_SIZE;
use super::{InvalidInput, shorten};

/// Longest filename we keep (bytes, as most filesystems allow).
pub const MAX_FILENAME_BYTES: usize = 255;

/// What a client may declare when it asks for an upload (all optional, as in the original's
/// bare `POST`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(example = json!({"filename": "report.pdf", "content_type": "application/pdf", "size": 48213})))]
#[serde(deny_unknown_fields)]
pub struct NewAsset {
    /// The original filename, given back on download (`Content-Disposition`): 1..=255 bytes
    /// of UTF-8, no control characters.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 255,
            pattern = r"^[^\x00-\x1f\x7f-\x9f]+$"
        )
    )]
    pub filename: Option<String>,
    /// `type/subtype`, optionally with parameters; the upload must send it as `Content-Type`.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(
            max_length = 255,
            pattern = r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(;[\x20-\x7e]*)?$",
            example = "image/png"
        )
    )]
    pub content_type: Option<String>,
    /// Bytes; signed into the upload URL. Over the server's maximum is a 413.
    #[serde(default, deserialize_with = "whole_number")]
    pub size: Option<u64>,
    /// SHA-256 of the content, hex or base64; signed into the upload URL, checked by storage.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)$")
    )]
    pub sha256: Option<String>,
    /// MD5 of the content, hex or base64; signed into the upload URL, checked by storage.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^([0-9a-fA-F]{32}|[A-Za-z0-9+/]{21}[AQgw]==)$")
    )]
    pub md5: Option<String>,
    /// Upload in parts (`true`), as one `PUT` (`false`), or let the server decide (absent):
    /// parts when the declared size is at or above its threshold and no whole-object checksum
    /// is declared. A single `PUT` carries at most 5 GiB.
    #[serde(default)]
    pub multipart: Option<bool>,
    /// If the upload goes in parts: each part's SHA-256 will be given when its URL is signed,
    /// and storage checks every part against it. Refused with `multipart: false`.
    #[serde(default)]
    pub part_sha256: bool,
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

    /// Whether this upload goes in parts: as asked, else when the declared size reaches
    /// `threshold`. A whole-object checksum cannot be checked by storage on a multipart upload
    /// (declare `part_sha256` instead), and a single `PUT` cannot carry more than 5 GiB.
    pub fn is_multipart(&self, threshold: u64) -> Result<bool, InvalidInput> {
        let whole_checksum = self.sha256.is_some() || self.md5.is_some();
        let size = self.size.unwrap_or(0);
        let multipart = self
            .multipart
            .unwrap_or(size >= threshold && !whole_checksum || size > MAX_SINGLE_PUT_SIZE);
        if multipart && whole_checksum {
            return Err(InvalidInput::new(
                "a multipart upload is checked part by part: declare part_sha256 instead of a \
                 whole-object sha256 or md5",
            ));
        }
        if !multipart && size > MAX_SINGLE_PUT_SIZE {
            return Err(InvalidInput::new(format!(
                "a single PUT carries at most {MAX_SINGLE_PUT_SIZE} bytes: upload in parts"
            )));
        }
        // Left to the server, `part_sha256` says what the client will do if it goes in parts.
        if self.multipart == Some(false) && self.part_sha256 {
            return Err(InvalidInput::new(
                "part_sha256 applies to multipart uploads only",
            ));
        }
        Ok(multipart)
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

    pub fn bytes(&self) -> Result<Vec<u8>, InvalidInput> {
        decode_base64(&self.base64)
            .filter(|b| b.len() == self.algorithm.digest_len())
            .ok_or_else(|| InvalidInput::new("checksum is not a valid digest"))
    }

    /// Storage form: `sha256:<base64>`.
    pub fn to_tagged(&self) -> String {
        let tag = match self.algorithm {
            ChecksumAlgorithm::Sha256 => "sha256",
            ChecksumAlgorithm::Md5 => "md5",
        };
        format!("{tag}:{}", self.base64)
    }

    /// Reads the storage form back; anything else is an error, never "no checksum" (that
    /// would silently skip verification).
    pub fn from_tagged(tagged: &str) -> Result<Self, InvalidInput> {
        let (tag, value) = tagged
            .split_once(':')
            .ok_or_else(|| InvalidInput::new("stored checksum has no algorithm tag"))?;
        let algorithm = match tag {
            "sha256" => ChecksumAlgorithm::Sha256,
            "md5" => ChecksumAlgorithm::Md5,
            other => {
                return Err(InvalidInput::new(format!(
                    "stored checksum has an unknown algorithm '{}'",
                    shorten(other)
                )));
            }
        };
        Self::parse(algorithm, value)
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

/// How long a presigned URL lives: whole seconds, 1 s ..= 7 days (SigV4's limit). Every
/// lifetime the service hands out or accepts is one of these, so the bounds live here only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UrlLifetime(u64);

impl UrlLifetime {
    pub const MIN: UrlLifetime = UrlLifetime(1);
    pub const MAX: UrlLifetime = UrlLifetime(604_800);
    /// The original example's download URL lifetime.
    pub const DEFAULT_DOWNLOAD: UrlLifetime = UrlLifetime(60);

    pub fn from_secs(secs: u64) -> Result<Self, InvalidInput> {
        if (Self::MIN.0..=Self::MAX.0).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(InvalidInput::new(format!(
                "timeout {secs} is out of range ({}..={} seconds)",
                Self::MIN.0,
                Self::MAX.0
            )))
        }
    }

    pub fn secs(self) -> u64 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(self.0)
    }
}

impl fmt::Display for UrlLifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} s", self.0)
    }
}

/// The original's `?timeout=SECONDS`.
impl FromStr for UrlLifetime {
    type Err = InvalidInput;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let secs: u64 = raw.trim().parse().map_err(|_| {
            InvalidInput::new(format!(
                "timeout '{}' is not a whole number of seconds",
                shorten(raw)
            ))
        })?;
        Self::from_secs(secs)
    }
}

impl Serialize for UrlLifetime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

/// A number in JSON, a string in a query string; bounded either way.
impl<'de> Deserialize<'de> for UrlLifetime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = UrlLifetime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URL lifetime in whole seconds (1..=604800)")
            }
            fn visit_u64<E: serde::de::Error>(self, secs: u64) -> Result<UrlLifetime, E> {
                UrlLifetime::from_secs(secs).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, secs: i64) -> Result<UrlLifetime, E> {
                match u64::try_from(secs) {
                    Ok(secs) => self.visit_u64(secs),
                    Err(_) => Err(E::custom(format!(
                        "timeout {secs} is out of range (1..=604800 seconds)"
                    ))),
                }
            }
            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<UrlLifetime, E> {
                raw.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A count (bytes) that JSON may carry as `5` or `5.0`: JSON has one number type, and some
/// encoders write every number with a fraction; a fraction other than zero is refused.
pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number of bytes")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Some(n))
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
            u64::try_from(n)
                .map(Some)
                .map_err(|_| E::custom(format!("{n} is negative")))
        }
        fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
            // 2^64 as f64: every whole f64 below it fits a u64.
            if n.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&n) {
                Ok(Some(n as u64))
            } else {
                Err(E::custom(format!("{n} is not a whole number of bytes")))
            }
        }
    }
    deserializer.deserialize_any(Visitor)
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

/// Accepts `type/subtype` made of RFC 7230 token characters, optionally with parameters
/// (printable ASCII: the upload sends it as a header). The API document states the same rule
/// as a pattern.
pub fn validate_content_type(value: &str) -> Result<(), InvalidInput> {
    let bad = || InvalidInput::new(format!("'{}' is not a valid content type", shorten(value)));
    if value.len() > 255 || !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(bad());
    }
    let essence = value.split(';').next().unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_whole_numbers_written_either_way() {
        let size = |json: &str| serde_json::from_str::<NewAsset>(json).map(|n| n.size);
        assert_eq!(size(r#"{"size": 5}"#).unwrap(), Some(5));
        assert_eq!(size(r#"{"size": 5.0}"#).unwrap(), Some(5));
        assert_eq!(size(r#"{"size": null}"#).unwrap(), None);
        assert_eq!(size("{}").unwrap(), None);
        for bad in [
            r#"{"size": 5.5}"#,
            r#"{"size": -1}"#,
            r#"{"size": -1.0}"#,
            r#"{"size": 1e20}"#,
            r#"{"size": "5"}"#,
        ] {
            assert!(size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn url_lifetimes_are_bounded_whole_seconds() {
        assert_eq!("60".parse::<UrlLifetime>().unwrap().secs(), 60);
        assert_eq!("1".parse::<UrlLifetime>(), Ok(UrlLifetime::MIN));
        assert_eq!("604800".parse::<UrlLifetime>(), Ok(UrlLifetime::MAX));
        for bad in ["abc", "0", "604801", "-1", "1.5", ""] {
            assert!(bad.parse::<UrlLifetime>().is_err(), "{bad}");
        }
        // JSON numbers (server functions) and strings (query strings) alike.
        assert_eq!(
            serde_json::from_str::<UrlLifetime>("3600").unwrap().secs(),
            3600
        );
        assert_eq!(
            serde_json::from_str::<UrlLifetime>("\"3600\"")
                .unwrap()
                .secs(),
            3600
        );
        for bad in ["0", "-5", "604801", "\"x\"", "1.5"] {
            assert!(serde_json::from_str::<UrlLifetime>(bad).is_err(), "{bad}");
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
        for bad_type in [
            "pdf",
            "text/",
            "/html",
            "text/ht ml",
            "text/html\r\nX: y",
            " text/html",
            "text/plain; charset=\u{e9}",
        ] {
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
            Ok(from_hex.clone())
        );
        for corrupt in ["sha256:", "sha256:abc", "crc32:AAAAAA==", "no-tag"] {
            assert!(Checksum::from_tagged(corrupt).is_err(), "{corrupt}");
        }
        assert_eq!(from_hex.bytes().unwrap().len(), 32);
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
    fn big_uploads_go_in_parts_unless_that_cannot_be_checked() {
        let threshold = 64 << 20;
        let new = |size: u64, multipart: Option<bool>, sha256: bool, part_sha256: bool| NewAsset {
            size: Some(size),
            multipart,
            sha256: sha256.then(|| "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=".into()),
            part_sha256,
            ..Default::default()
        };
        assert_eq!(
            new(10, None, false, false).is_multipart(threshold),
            Ok(false)
        );
        assert_eq!(
            new(threshold, None, false, false).is_multipart(threshold),
            Ok(true)
        );
        assert_eq!(
            new(10, Some(true), false, true).is_multipart(threshold),
            Ok(true)
        );
        assert_eq!(
            new(threshold, Some(false), false, false).is_multipart(threshold),
            Ok(false)
        );
        // A declared whole-object checksum keeps a mid-size upload a single PUT...
        assert_eq!(
            new(threshold, None, true, false).is_multipart(threshold),
            Ok(false)
        );
        // ...but cannot ride on parts, and a single PUT stops at 5 GiB.
        assert!(
            new(10, Some(true), true, false)
                .is_multipart(threshold)
                .is_err()
        );
        assert!(
            new(6 << 30, None, true, false)
                .is_multipart(threshold)
                .is_err()
        );
        assert!(
            new(6 << 30, Some(false), false, false)
                .is_multipart(threshold)
                .is_err()
        );
        assert!(
            new(10, Some(false), false, true)
                .is_multipart(threshold)
                .is_err()
        );
        assert_eq!(NewAsset::default().is_multipart(threshold), Ok(false));
    }
}
