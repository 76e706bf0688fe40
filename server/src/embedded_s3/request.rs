//! Request rules shared by the operations: conditional headers, ranges, the metadata a write
//! stores, and refusing what this endpoint does not implement (never ignoring it).

use std::collections::BTreeMap;

use s3s::dto::{ETagCondition, Metadata, ObjectCannedACL, Range, Timestamp};
use s3s::{S3Result, s3_error};

use super::disk::{ContentHeaders, ObjectMeta};

/// S3's limit on the user metadata of one object (names and values, in bytes).
const MAX_USER_METADATA: usize = 2048;

pub(super) fn precondition_failed() -> s3s::S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}

fn etag_matches(condition: &ETagCondition, etag: &str) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(tag) => tag.value() == etag,
    }
}

/// A timestamp at the whole-second precision HTTP dates carry.
pub(super) fn seconds(ts: &Timestamp) -> i64 {
    time::OffsetDateTime::from(ts.clone()).unix_timestamp()
}

/// The conditional headers of a GET or HEAD, evaluated as S3 does: a true `If-Match`
/// overrides a false `If-Unmodified-Since`, and a false `If-None-Match` overrides a true
/// `If-Modified-Since`. Failing: 412, or 304 for the "not modified" pair.
pub(super) struct ReadConditions<'a> {
    pub(super) if_match: Option<&'a ETagCondition>,
    pub(super) if_none_match: Option<&'a ETagCondition>,
    pub(super) if_modified_since: Option<&'a Timestamp>,
    pub(super) if_unmodified_since: Option<&'a Timestamp>,
}

impl ReadConditions<'_> {
    pub(super) fn check(&self, meta: &ObjectMeta) -> S3Result<()> {
        let modified = seconds(&meta.last_modified());
        match self.if_match {
            Some(condition) if !etag_matches(condition, &meta.etag) => {
                return Err(precondition_failed());
            }
            Some(_) => {}
            None => {
                if self
                    .if_unmodified_since
                    .is_some_and(|t| modified > seconds(t))
                {
                    return Err(precondition_failed());
                }
            }
        }
        match self.if_none_match {
            Some(condition) if etag_matches(condition, &meta.etag) => Err(not_modified(meta)),
            Some(_) => Ok(()),
            None if self
                .if_modified_since
                .is_some_and(|t| modified <= seconds(t)) =>
            {
                Err(not_modified(meta))
            }
            None => Ok(()),
        }
    }

    /// The `x-amz-copy-source-if-*` headers: the same rules, but every failure is a 412.
    pub(super) fn check_copy_source(&self, meta: &ObjectMeta) -> S3Result<()> {
        self.check(meta).map_err(|err| {
            if *err.code() == s3s::S3ErrorCode::NotModified {
                precondition_failed()
            } else {
                err
            }
        })
    }
}

/// 304, with the validators a cache needs (as S3 sends them).
/// The `x-amz-copy-source-if-*` headers of CopyObject and UploadPartCopy.
macro_rules! copy_source_conditions {
    ($input:expr) => {
        $crate::embedded_s3::request::ReadConditions {
            if_match: $input.copy_source_if_match.as_ref(),
            if_none_match: $input.copy_source_if_none_match.as_ref(),
            if_modified_since: $input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: $input.copy_source_if_unmodified_since.as_ref(),
        }
    };
}
pub(super) use copy_source_conditions;

fn not_modified(meta: &ObjectMeta) -> s3s::S3Error {
    let mut err = s3_error!(NotModified, "Not Modified");
    let mut headers = http::HeaderMap::new();
    if let Ok(etag) = http::HeaderValue::from_str(&format!("\"{}\"", meta.etag)) {
        headers.insert(http::header::ETAG, etag);
    }
    let mut date = Vec::new();
    if meta
        .last_modified()
        .format(s3s::dto::TimestampFormat::HttpDate, &mut date)
        .is_ok()
        && let Ok(date) = http::HeaderValue::from_bytes(&date)
    {
        headers.insert(http::header::LAST_MODIFIED, date);
    }
    err.set_headers(headers);
    err
}

/// The byte range `[start, end)` a `Range` header selects, or `InvalidRange` (416).
pub(super) fn byte_range(range: Option<&Range>, size: u64) -> S3Result<Option<(u64, u64)>> {
    let Some(range) = range else {
        return Ok(None);
    };
    match range.check(size) {
        Ok(selected) => Ok(Some((selected.start, selected.end))),
        Err(_) => Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable"
        )),
    }
}

/// `bytes first-last/size`, as `Content-Range` carries it.
pub(super) fn content_range(start: u64, end: u64, size: u64) -> String {
    format!("bytes {start}-{}/{size}", end.saturating_sub(1))
}

/// User metadata as stored: names lower-case, within S3's size limit.
pub(super) fn user_metadata(metadata: Option<Metadata>) -> S3Result<BTreeMap<String, String>> {
    let stored: BTreeMap<String, String> = metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    let size: usize = stored.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size."
        ));
    }
    Ok(stored)
}

pub(super) fn metadata_out(user: &BTreeMap<String, String>) -> Option<Metadata> {
    (!user.is_empty()).then(|| user.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The content headers of a write input (PutObject, CopyObject, CreateMultipartUpload).
macro_rules! write_headers {
    ($input:expr) => {
        $crate::embedded_s3::request::WriteHeaders {
            content_type: $input.content_type,
            cache_control: $input.cache_control,
            content_disposition: $input.content_disposition,
            content_encoding: $input.content_encoding,
            content_language: $input.content_language,
            expires: $input.expires,
        }
    };
}
pub(super) use write_headers;

/// The standard content headers of a write.
pub(super) struct WriteHeaders {
    pub(super) content_type: Option<String>,
    pub(super) cache_control: Option<String>,
    pub(super) content_disposition: Option<String>,
    pub(super) content_encoding: Option<String>,
    pub(super) content_language: Option<String>,
    pub(super) expires: Option<Timestamp>,
}

impl WriteHeaders {
    pub(super) fn into_stored(self) -> S3Result<ContentHeaders> {
        Ok(ContentHeaders {
            expires: ContentHeaders::expires_from(self.expires.as_ref())?,
            // What S3 records when a write names no type.
            content_type: Some(
                self.content_type
                    .unwrap_or_else(|| "binary/octet-stream".to_string()),
            ),
            cache_control: self.cache_control,
            content_disposition: self.content_disposition,
            content_encoding: self.content_encoding,
            content_language: self.content_language,
        })
    }
}

/// The `Unsupported` fields every write input (PutObject, CopyObject, CreateMultipartUpload)
/// names alike; the caller adds what only its input has.
macro_rules! unsupported_in {
    ($input:expr) => {
        $crate::embedded_s3::request::Unsupported {
            acl: $input.acl.as_ref(),
            grants: $input.grant_full_control.is_some()
                || $input.grant_read.is_some()
                || $input.grant_read_acp.is_some()
                || $input.grant_write_acp.is_some(),
            tagging: $input.tagging.is_some(),
            encryption: $input.server_side_encryption.is_some()
                || $input.sse_customer_algorithm.is_some()
                || $input.ssekms_key_id.is_some(),
            object_lock: $input.object_lock_mode.is_some()
                || $input.object_lock_legal_hold_status.is_some()
                || $input.object_lock_retain_until_date.is_some(),
            website_redirect: $input.website_redirect_location.is_some(),
            storage_class: $input.storage_class.as_ref().map(StorageClass::as_str),
            write_offset: false,
        }
    };
}
pub(super) use unsupported_in;

/// The content headers a GET or HEAD answers with: the stored ones, each replaced by its
/// `response-*` override when the request has one.
macro_rules! served_headers {
    ($input:expr, $stored:expr) => {{
        let (input, stored) = (&$input, $stored);
        $crate::embedded_s3::request::ServedHeaders {
            content_type: input
                .response_content_type
                .clone()
                .or_else(|| stored.content_type.clone()),
            cache_control: input
                .response_cache_control
                .clone()
                .or_else(|| stored.cache_control.clone()),
            content_disposition: input
                .response_content_disposition
                .clone()
                .or_else(|| stored.content_disposition.clone()),
            content_encoding: input
                .response_content_encoding
                .clone()
                .or_else(|| stored.content_encoding.clone()),
            content_language: input
                .response_content_language
                .clone()
                .or_else(|| stored.content_language.clone()),
            expires: input.response_expires.clone().or_else(|| stored.expires()),
        }
    }};
}
pub(super) use served_headers;

/// Content headers as an output carries them.
pub(super) struct ServedHeaders {
    pub(super) content_type: Option<String>,
    pub(super) cache_control: Option<String>,
    pub(super) content_disposition: Option<String>,
    pub(super) content_encoding: Option<String>,
    pub(super) content_language: Option<String>,
    pub(super) expires: Option<Timestamp>,
}

/// Sets an output's content headers from a `ServedHeaders`.
macro_rules! with_headers {
    ($served:expr, $out:expr) => {{
        let (served, mut out) = ($served, $out);
        out.content_type = served.content_type;
        out.cache_control = served.cache_control;
        out.content_disposition = served.content_disposition;
        out.content_encoding = served.content_encoding;
        out.content_language = served.content_language;
        out.expires = served.expires;
        out
    }};
}
pub(super) use with_headers;

/// Features a write can ask for that this endpoint does not have. Each present one is refused
/// with S3's error for it, so nothing is silently dropped.
#[derive(Default)]
pub(super) struct Unsupported<'a> {
    pub(super) acl: Option<&'a ObjectCannedACL>,
    pub(super) grants: bool,
    pub(super) tagging: bool,
    pub(super) encryption: bool,
    pub(super) object_lock: bool,
    pub(super) website_redirect: bool,
    pub(super) storage_class: Option<&'a str>,
    pub(super) write_offset: bool,
}

impl Unsupported<'_> {
    pub(super) fn refuse(&self) -> S3Result<()> {
        // The bucket is "bucket owner enforced": ACLs other than the owner's are refused, as
        // S3 refuses them on such buckets.
        let acl_ok = self.acl.is_none_or(|acl| {
            matches!(
                acl.as_str(),
                ObjectCannedACL::PRIVATE | ObjectCannedACL::BUCKET_OWNER_FULL_CONTROL
            )
        });
        if !acl_ok || self.grants {
            return Err(s3_error!(
                AccessControlListNotSupported,
                "The bucket does not allow ACLs"
            ));
        }
        let unsupported = [
            (self.tagging, "Object tagging"),
            (self.encryption, "Server-side encryption"),
            (self.object_lock, "Object lock"),
            (self.website_redirect, "Website redirects"),
            (self.write_offset, "Appending with x-amz-write-offset-bytes"),
            (
                self.storage_class.is_some_and(|c| c != "STANDARD"),
                "Storage classes other than STANDARD",
            ),
        ];
        for (present, what) in unsupported {
            if present {
                return Err(s3_error!(
                    NotImplemented,
                    "{what} is not implemented by this endpoint"
                ));
            }
        }
        Ok(())
    }
}

/// S3's URL encoding of keys in list results (`encoding-type=url`).
pub(super) fn url_encode(text: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}
