//! Bucket-level operations: ListBuckets, HeadBucket, GetBucketLocation, CreateBucket (of the
//! one bucket), ListObjects and ListObjectsV2 (prefix, delimiter, markers, continuation,
//! `max-keys`, `encoding-type=url`), served from the in-memory index.

use std::ops::Bound;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use s3s::dto::*;
use s3s::{S3Response, S3Result, s3_error};

use super::disk::{ObjectMeta, Walk};
use super::handlers::DiskObjects;
use super::request::url_encode;
use crate::aws::EMBEDDED_REGION;

type Reply<T> = S3Result<S3Response<T>>;

/// S3's cap on `max-keys`.
const MAX_KEYS: usize = 1000;

fn owner() -> Owner {
    Owner {
        display_name: Some("embedded".to_string()),
        id: Some("embedded".to_string()),
    }
}

fn bucket_created(objects: &DiskObjects) -> Option<Timestamp> {
    let dir = objects.disk.root().join(objects.disk.bucket());
    let meta = std::fs::metadata(dir).ok()?;
    Some(Timestamp::from(
        meta.created().or_else(|_| meta.modified()).ok()?,
    ))
}

pub(super) async fn list_buckets(
    objects: &DiskObjects,
    input: ListBucketsInput,
) -> Reply<ListBucketsOutput> {
    let name = objects.disk.bucket().to_string();
    let shown = input.prefix.as_deref().is_none_or(|p| name.starts_with(p))
        && input
            .bucket_region
            .as_deref()
            .is_none_or(|r| r == EMBEDDED_REGION);
    let buckets = shown.then(|| Bucket {
        name: Some(name),
        creation_date: bucket_created(objects),
        bucket_region: Some(EMBEDDED_REGION.to_string()),
    });
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets.into_iter().collect()),
        owner: Some(owner()),
        prefix: input.prefix,
        ..Default::default()
    }))
}

pub(super) async fn head_bucket(
    objects: &DiskObjects,
    input: HeadBucketInput,
) -> Reply<HeadBucketOutput> {
    objects.disk.check_bucket(&input.bucket)?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(EMBEDDED_REGION.to_string()),
        ..Default::default()
    }))
}

pub(super) async fn get_bucket_location(
    objects: &DiskObjects,
    input: GetBucketLocationInput,
) -> Reply<GetBucketLocationOutput> {
    objects.disk.check_bucket(&input.bucket)?;
    // us-east-1 is reported as an empty constraint, as S3 does.
    Ok(S3Response::new(GetBucketLocationOutput::default()))
}

pub(super) async fn create_bucket(
    objects: &DiskObjects,
    input: CreateBucketInput,
) -> Reply<CreateBucketOutput> {
    if input.bucket == objects.disk.bucket() {
        return Err(s3_error!(
            BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
        ));
    }
    Err(s3_error!(
        NotImplemented,
        "This endpoint serves only the bucket '{}'; creating others is not implemented",
        objects.disk.bucket()
    ))
}

/// One entry of a listing page.
enum Entry {
    Object(String, Arc<ObjectMeta>),
    Prefix(String),
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Self::Object(key, _) | Self::Prefix(key) => key,
        }
    }
}

/// The smallest string after every string that starts with `prefix`.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A page of keys under `prefix` after `after` (exclusive), keys sharing a part up to the
/// delimiter rolled into one common prefix, as S3 does; whether more follow.
fn page(
    objects: &DiskObjects,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max_keys: usize,
) -> (Vec<Entry>, bool) {
    let mut entries = Vec::new();
    let mut truncated = false;
    let from = match after {
        Some(after) if !after.is_empty() => Bound::Excluded(after),
        _ => Bound::Unbounded,
    };
    objects.disk.walk(prefix, from, |key, meta| {
        let rolled = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
            key[prefix.len()..]
                .find(d)
                .map(|at| key[..prefix.len() + at + d.len()].to_string())
        });
        let (entry, then) = match rolled {
            Some(common) => {
                // Every key under a common prefix rolls into it: go straight past them.
                let then = successor(&common).map_or(Walk::Stop, Walk::SeekTo);
                // A common prefix at or before the marker was listed on an earlier page.
                if after.is_some_and(|a| common.as_str() <= a) {
                    return then;
                }
                (Entry::Prefix(common), then)
            }
            None => (Entry::Object(key.to_string(), meta.clone()), Walk::Next),
        };
        if entries.len() == max_keys {
            truncated = true;
            return Walk::Stop;
        }
        entries.push(entry);
        then
    });
    (entries, truncated)
}

fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys cannot be negative")),
        Some(n) => Ok((n as usize).min(MAX_KEYS)),
    }
}

/// Whether keys are URL-encoded in the reply (`encoding-type=url`; nothing else exists).
fn url_encoding(encoding: Option<&EncodingType>) -> S3Result<bool> {
    match encoding.map(EncodingType::as_str) {
        None => Ok(false),
        Some(e) if e.eq_ignore_ascii_case(EncodingType::URL) => Ok(true),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request"
        )),
    }
}

struct Listed {
    contents: Vec<Object>,
    common_prefixes: Vec<CommonPrefix>,
    last: Option<String>,
}

fn render(entries: Vec<Entry>, encode: bool, with_owner: bool) -> Listed {
    let text = |s: &str| if encode { url_encode(s) } else { s.to_string() };
    let last = entries.last().map(|e| e.name().to_string());
    let (mut contents, mut common_prefixes) = (Vec::new(), Vec::new());
    for entry in entries {
        match entry {
            Entry::Object(key, meta) => contents.push(Object {
                key: Some(text(&key)),
                size: Some(meta.size as i64),
                e_tag: Some(ETag::Strong(meta.etag.clone())),
                last_modified: Some(meta.last_modified()),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                owner: with_owner.then(owner),
                checksum_algorithm: super::checksum::Algorithm::ALL
                    .into_iter()
                    .find(|a| a.get(&meta.checksums).is_some())
                    .map(|a| vec![ChecksumAlgorithm::from(a.name().to_string())]),
                checksum_type: meta.checksums.kind.clone().map(ChecksumType::from),
                ..Default::default()
            }),
            Entry::Prefix(prefix) => common_prefixes.push(CommonPrefix {
                prefix: Some(text(&prefix)),
            }),
        }
    }
    Listed {
        contents,
        common_prefixes,
        last,
    }
}

pub(super) async fn list_objects_v2(
    objects: &DiskObjects,
    input: ListObjectsV2Input,
) -> Reply<ListObjectsV2Output> {
    objects.disk.check_bucket(&input.bucket)?;
    let encode = url_encoding(input.encoding_type.as_ref())?;
    let limit = max_keys(input.max_keys)?;
    let after = match input.continuation_token.as_deref() {
        Some(token) => Some(
            TOKEN
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    s3_error!(
                        InvalidArgument,
                        "The continuation token provided is incorrect"
                    )
                })?,
        ),
        None => input.start_after.clone(),
    };
    let prefix = input.prefix.clone().unwrap_or_default();
    let (entries, truncated) = page(
        objects,
        &prefix,
        input.delimiter.as_deref(),
        after.as_deref(),
        limit,
    );
    let listed = render(entries, encode, input.fetch_owner.unwrap_or(false));
    let text = |s: Option<String>| s.map(|s| if encode { url_encode(&s) } else { s });
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        key_count: Some((listed.contents.len() + listed.common_prefixes.len()) as i32),
        max_keys: Some(limit as i32),
        is_truncated: Some(truncated),
        next_continuation_token: listed
            .last
            .filter(|_| truncated)
            .map(|last| TOKEN.encode(last)),
        continuation_token: input.continuation_token,
        start_after: text(input.start_after),
        prefix: Some(text(Some(prefix)).unwrap_or_default()),
        delimiter: text(input.delimiter),
        encoding_type: input.encoding_type,
        contents: Some(listed.contents),
        common_prefixes: Some(listed.common_prefixes),
        ..Default::default()
    }))
}

pub(super) async fn list_objects(
    objects: &DiskObjects,
    input: ListObjectsInput,
) -> Reply<ListObjectsOutput> {
    objects.disk.check_bucket(&input.bucket)?;
    let encode = url_encoding(input.encoding_type.as_ref())?;
    let limit = max_keys(input.max_keys)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let (entries, truncated) = page(
        objects,
        &prefix,
        input.delimiter.as_deref(),
        input.marker.as_deref(),
        limit,
    );
    let listed = render(entries, encode, true);
    let text = |s: Option<String>| s.map(|s| if encode { url_encode(&s) } else { s });
    // S3 gives NextMarker only with a delimiter; without one, clients use the last key.
    let next_marker = listed
        .last
        .filter(|_| truncated && input.delimiter.is_some());
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        max_keys: Some(limit as i32),
        is_truncated: Some(truncated),
        next_marker: text(next_marker),
        marker: Some(text(input.marker).unwrap_or_default()),
        prefix: Some(text(Some(prefix)).unwrap_or_default()),
        delimiter: text(input.delimiter),
        encoding_type: input.encoding_type,
        contents: Some(listed.contents),
        common_prefixes: Some(listed.common_prefixes),
        ..Default::default()
    }))
}
