//! Writing and reading one object: PutObject, GetObject, HeadObject, with S3's conditions,
//! ranges, metadata and checksums.

use futures::StreamExt as _;
use s3s::dto::*;
use s3s::{S3Response, S3Result, TrailingHeaders, s3_error};

use super::checksum::{BodyCheck, Declared};
use super::disk::{Checksums, ObjectMeta, now_ms, read_range};
use super::handlers::DiskObjects;
use super::request::{
    ReadConditions, Unsupported, WriteHeaders, byte_range, content_range, metadata_out,
    precondition_failed, user_metadata,
};
use crate::events::ObjectChange;

pub(super) const READ_CHUNK: usize = 256 * 1024;

type Reply<T> = S3Result<S3Response<T>>;

/// `If-Match` / `If-None-Match: *` on a write, against the key's current object.
pub(super) fn write_conditions(
    current: Option<&ObjectMeta>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    match if_none_match {
        Some(ETagCondition::Any) if current.is_some() => return Err(precondition_failed()),
        Some(ETagCondition::ETag(_)) => {
            return Err(s3_error!(
                NotImplemented,
                "If-None-Match on writes only supports '*'"
            ));
        }
        _ => {}
    }
    match (if_match, current) {
        (Some(_), None) => Err(s3_error!(NoSuchKey, "The specified key does not exist.")),
        (Some(ETagCondition::ETag(tag)), Some(meta)) if tag.value() != meta.etag => {
            Err(precondition_failed())
        }
        _ => Ok(()),
    }
}

/// The checksum headers of a stored object, as every output carries them.
pub(super) struct SumsOut {
    pub(super) crc32: Option<String>,
    pub(super) crc32c: Option<String>,
    pub(super) crc64nvme: Option<String>,
    pub(super) sha1: Option<String>,
    pub(super) sha256: Option<String>,
    pub(super) kind: Option<ChecksumType>,
}

pub(super) fn sums_out(sums: &Checksums, enabled: bool) -> SumsOut {
    let pick = |v: &Option<String>| if enabled { v.clone() } else { None };
    SumsOut {
        crc32: pick(&sums.crc32),
        crc32c: pick(&sums.crc32c),
        crc64nvme: pick(&sums.crc64nvme),
        sha1: pick(&sums.sha1),
        sha256: pick(&sums.sha256),
        kind: if enabled {
            sums.kind.clone().map(ChecksumType::from)
        } else {
            None
        },
    }
}

fn checksum_mode_on(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str().eq_ignore_ascii_case(ChecksumMode::ENABLED))
}

pub(super) async fn put_object(
    objects: &DiskObjects,
    input: PutObjectInput,
    trailers: Option<TrailingHeaders>,
) -> Reply<PutObjectOutput> {
    let disk = &objects.disk;
    disk.check_key(&input.bucket, &input.key)?;
    Unsupported {
        acl: input.acl.as_ref(),
        grants: input.grant_full_control.is_some()
            || input.grant_read.is_some()
            || input.grant_read_acp.is_some()
            || input.grant_write_acp.is_some(),
        tagging: input.tagging.is_some(),
        encryption: input.server_side_encryption.is_some()
            || input.sse_customer_algorithm.is_some()
            || input.ssekms_key_id.is_some(),
        object_lock: input.object_lock_mode.is_some()
            || input.object_lock_legal_hold_status.is_some()
            || input.object_lock_retain_until_date.is_some(),
        website_redirect: input.website_redirect_location.is_some(),
        storage_class: input.storage_class.as_ref().map(StorageClass::as_str),
        write_offset: input.write_offset_bytes.is_some(),
    }
    .refuse()?;
    // Checked when the body is in (at commit): answering before reading it would close the
    // connection under a client still sending.
    let (if_match, if_none_match) = (input.if_match, input.if_none_match);
    let user = user_metadata(input.metadata)?;
    let headers = WriteHeaders {
        content_type: input.content_type,
        cache_control: input.cache_control,
        content_disposition: input.content_disposition,
        content_encoding: input.content_encoding,
        content_language: input.content_language,
        expires: input.expires,
    }
    .into_stored()?;
    let declared = Declared {
        content_md5: input.content_md5,
        sums: Checksums {
            crc32: input.checksum_crc32,
            crc32c: input.checksum_crc32c,
            crc64nvme: input.checksum_crc64nvme,
            sha1: input.checksum_sha1,
            sha256: input.checksum_sha256,
            kind: None,
        },
        algorithm: input.checksum_algorithm,
    };
    let mut check = BodyCheck::new(declared, true)?;
    let mut writer = disk.writer().await?;
    if let Some(mut body) = input.body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
            check.update(&chunk);
            writer.write(&chunk).await?;
        }
    }
    if input
        .content_length
        .is_some_and(|expected| expected as u64 != check.size())
    {
        return Err(s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
        ));
    }
    let staged = writer.finish().await?;
    let verified = check.finish(trailers.as_ref())?;
    let meta = ObjectMeta {
        key: input.key,
        size: verified.size,
        etag: verified.md5_hex,
        last_modified_ms: now_ms(),
        headers,
        user,
        checksums: verified.sums,
        parts: Vec::new(),
    };
    let meta = disk
        .commit(
            staged,
            meta,
            |current| write_conditions(current, if_match.as_ref(), if_none_match.as_ref()),
            None,
        )
        .await?;
    objects
        .emit(
            ObjectChange::Created,
            &meta.key,
            Some(meta.size),
            Some(meta.etag.clone()),
        )
        .await;
    let sums = sums_out(&meta.checksums, true);
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(ETag::Strong(meta.etag.clone())),
        size: Some(meta.size as i64),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        checksum_type: sums.kind,
        ..Default::default()
    }))
}

/// The bytes a GET/HEAD selects: a `Range`, a `partNumber`, or the whole object.
fn selection(
    meta: &ObjectMeta,
    range: Option<&Range>,
    part_number: Option<PartNumber>,
) -> S3Result<Option<(u64, u64)>> {
    let Some(part) = part_number else {
        return byte_range(range, meta.size);
    };
    if range.is_some() {
        return Err(s3_error!(
            InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter"
        ));
    }
    let sizes: &[u64] = if meta.parts.is_empty() {
        &[meta.size]
    } else {
        &meta.parts
    };
    let index = usize::try_from(part)
        .ok()
        .and_then(|p| p.checked_sub(1))
        .filter(|i| *i < sizes.len())
        .ok_or_else(invalid_part_number)?;
    let start: u64 = sizes[..index].iter().sum();
    Ok(Some((start, start + sizes[index])))
}

fn invalid_part_number() -> s3s::S3Error {
    let mut err = s3s::S3Error::with_message(
        s3s::S3ErrorCode::Custom("InvalidPartNumber".into()),
        "The requested partnumber is not satisfiable",
    );
    err.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
    err
}

pub(super) async fn get_object(
    objects: &DiskObjects,
    input: GetObjectInput,
) -> Reply<GetObjectOutput> {
    if input.version_id.as_deref().is_some_and(|v| v != "null") {
        return Err(s3_error!(InvalidArgument, "Invalid version id specified"));
    }
    let Some((meta, file)) = objects.disk.open_object(&input.bucket, &input.key).await? else {
        return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
    };
    ReadConditions {
        if_match: input.if_match.as_ref(),
        if_none_match: input.if_none_match.as_ref(),
        if_modified_since: input.if_modified_since.as_ref(),
        if_unmodified_since: input.if_unmodified_since.as_ref(),
    }
    .check(&meta)?;
    let selected = selection(&meta, input.range.as_ref(), input.part_number)?;
    let (start, end) = selected.unwrap_or((0, meta.size));
    let body = read_range(file, start, end - start).await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(body, READ_CHUNK);
    // Checksums describe the whole object: S3 returns them only when that is what is sent.
    let sums = sums_out(
        &meta.checksums,
        selected.is_none() && checksum_mode_on(input.checksum_mode.as_ref()),
    );
    Ok(S3Response::new(GetObjectOutput {
        body: Some(StreamingBlob::wrap(stream)),
        content_length: Some((end - start) as i64),
        content_range: selected.map(|(s, e)| content_range(s, e, meta.size)),
        accept_ranges: Some("bytes".to_string()),
        e_tag: Some(ETag::Strong(meta.etag.clone())),
        last_modified: Some(meta.last_modified()),
        // The `response-*` overrides win (s3s also sets them, after these).
        content_type: input
            .response_content_type
            .or_else(|| meta.headers.content_type.clone()),
        cache_control: input
            .response_cache_control
            .or_else(|| meta.headers.cache_control.clone()),
        content_disposition: input
            .response_content_disposition
            .or_else(|| meta.headers.content_disposition.clone()),
        content_encoding: input
            .response_content_encoding
            .or_else(|| meta.headers.content_encoding.clone()),
        content_language: input
            .response_content_language
            .or_else(|| meta.headers.content_language.clone()),
        expires: input.response_expires.or_else(|| meta.headers.expires()),
        metadata: metadata_out(&meta.user),
        parts_count: input.part_number.map(|_| meta.parts.len().max(1) as i32),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        checksum_type: sums.kind,
        ..Default::default()
    }))
}

pub(super) async fn head_object(
    objects: &DiskObjects,
    input: HeadObjectInput,
) -> Reply<HeadObjectOutput> {
    if input.version_id.as_deref().is_some_and(|v| v != "null") {
        return Err(s3_error!(InvalidArgument, "Invalid version id specified"));
    }
    objects.disk.check_key(&input.bucket, &input.key)?;
    let Some(meta) = objects.disk.meta(&input.key) else {
        return Err(s3_error!(NoSuchKey));
    };
    ReadConditions {
        if_match: input.if_match.as_ref(),
        if_none_match: input.if_none_match.as_ref(),
        if_modified_since: input.if_modified_since.as_ref(),
        if_unmodified_since: input.if_unmodified_since.as_ref(),
    }
    .check(&meta)?;
    let selected = selection(&meta, input.range.as_ref(), input.part_number)?;
    let (start, end) = selected.unwrap_or((0, meta.size));
    let sums = sums_out(
        &meta.checksums,
        selected.is_none() && checksum_mode_on(input.checksum_mode.as_ref()),
    );
    let headers = &meta.headers;
    Ok(S3Response::new(HeadObjectOutput {
        content_length: Some((end - start) as i64),
        content_range: selected.map(|(s, e)| content_range(s, e, meta.size)),
        accept_ranges: Some("bytes".to_string()),
        e_tag: Some(ETag::Strong(meta.etag.clone())),
        last_modified: Some(meta.last_modified()),
        content_type: input
            .response_content_type
            .or_else(|| headers.content_type.clone()),
        cache_control: input
            .response_cache_control
            .or_else(|| headers.cache_control.clone()),
        content_disposition: input
            .response_content_disposition
            .or_else(|| headers.content_disposition.clone()),
        content_encoding: input
            .response_content_encoding
            .or_else(|| headers.content_encoding.clone()),
        content_language: input
            .response_content_language
            .or_else(|| headers.content_language.clone()),
        expires: input.response_expires.or_else(|| headers.expires()),
        metadata: metadata_out(&meta.user),
        parts_count: (!meta.parts.is_empty()).then(|| meta.parts.len() as i32),
        checksum_crc32: sums.crc32,
        checksum_crc32c: sums.crc32c,
        checksum_crc64nvme: sums.crc64nvme,
        checksum_sha1: sums.sha1,
        checksum_sha256: sums.sha256,
        checksum_type: sums.kind,
        ..Default::default()
    }))
}
