//! Writing and reading one object: PutObject, GetObject, HeadObject, with S3's conditions,
//! ranges, metadata and checksums.

use futures::StreamExt as _;
use s3s::dto::*;
use s3s::{S3Response, S3Result, TrailingHeaders, s3_error};

use super::checksum::with_sums;
use super::checksum::{BodyCheck, Declared};
use super::disk::{Checksums, ObjectMeta, now_ms, read_range};
use super::handlers::DiskObjects;
use super::request::{
    ReadConditions, Unsupported, byte_range, content_range, metadata_out, precondition_failed,
    served_headers, unsupported_in, user_metadata, with_headers, write_headers,
};

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

/// The checksums an answer shows: all of them, or none (S3 sends them with checksum mode on,
/// and only for the whole object).
pub(super) fn shown(sums: &Checksums, enabled: bool) -> Checksums {
    if enabled {
        sums.clone()
    } else {
        Checksums::default()
    }
}

pub(super) fn checksum_type(sums: &Checksums) -> Option<ChecksumType> {
    sums.kind.clone().map(ChecksumType::from)
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
        write_offset: input.write_offset_bytes.is_some(),
        ..unsupported_in!(input)
    }
    .refuse()?;
    // Checked when the body is in (at commit): answering before reading it would close the
    // connection under a client still sending.
    let (if_match, if_none_match) = (input.if_match, input.if_none_match);
    let user = user_metadata(input.metadata)?;
    let headers = write_headers!(input).into_stored()?;
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
    objects.emit_created(&meta).await;
    let out = PutObjectOutput {
        e_tag: Some(ETag::Strong(meta.etag.clone())),
        size: Some(meta.size as i64),
        checksum_type: checksum_type(&meta.checksums),
        ..Default::default()
    };
    Ok(S3Response::new(with_sums!(&meta.checksums, out)))
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

/// The `If-*` headers of a GET or HEAD.
macro_rules! read_conditions {
    ($input:expr) => {
        ReadConditions {
            if_match: $input.if_match.as_ref(),
            if_none_match: $input.if_none_match.as_ref(),
            if_modified_since: $input.if_modified_since.as_ref(),
            if_unmodified_since: $input.if_unmodified_since.as_ref(),
        }
    };
}

pub(super) async fn get_object(
    objects: &DiskObjects,
    input: GetObjectInput,
) -> Reply<GetObjectOutput> {
    refuse_versions(input.version_id.as_deref())?;
    let Some((meta, file)) = objects.disk.open_object(&input.bucket, &input.key).await? else {
        return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
    };
    read_conditions!(input).check(&meta)?;
    let selected = selection(&meta, input.range.as_ref(), input.part_number)?;
    let (start, end) = selected.unwrap_or((0, meta.size));
    let body = read_range(file, start, end - start).await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(body, READ_CHUNK);
    // Checksums describe the whole object: S3 returns them only when that is what is sent.
    let sums = shown(
        &meta.checksums,
        selected.is_none() && checksum_mode_on(input.checksum_mode.as_ref()),
    );
    // The `response-*` overrides win (s3s also sets them, after these).
    let served = served_headers!(input, &meta.headers);
    let out = GetObjectOutput {
        body: Some(StreamingBlob::wrap(stream)),
        content_length: Some((end - start) as i64),
        content_range: selected.map(|(s, e)| content_range(s, e, meta.size)),
        accept_ranges: Some("bytes".to_string()),
        e_tag: Some(ETag::Strong(meta.etag.clone())),
        last_modified: Some(meta.last_modified()),
        metadata: metadata_out(&meta.user),
        parts_count: input.part_number.map(|_| meta.parts.len().max(1) as i32),
        checksum_type: checksum_type(&sums),
        ..Default::default()
    };
    Ok(S3Response::new(with_sums!(
        &sums,
        with_headers!(served, out)
    )))
}

pub(super) async fn head_object(
    objects: &DiskObjects,
    input: HeadObjectInput,
) -> Reply<HeadObjectOutput> {
    refuse_versions(input.version_id.as_deref())?;
    objects.disk.check_key(&input.bucket, &input.key)?;
    let Some(meta) = objects.disk.meta(&input.key) else {
        return Err(s3_error!(NoSuchKey));
    };
    read_conditions!(input).check(&meta)?;
    let selected = selection(&meta, input.range.as_ref(), input.part_number)?;
    let (start, end) = selected.unwrap_or((0, meta.size));
    let sums = shown(
        &meta.checksums,
        selected.is_none() && checksum_mode_on(input.checksum_mode.as_ref()),
    );
    let served = served_headers!(input, &meta.headers);
    let out = HeadObjectOutput {
        content_length: Some((end - start) as i64),
        content_range: selected.map(|(s, e)| content_range(s, e, meta.size)),
        accept_ranges: Some("bytes".to_string()),
        e_tag: Some(ETag::Strong(meta.etag.clone())),
        last_modified: Some(meta.last_modified()),
        metadata: metadata_out(&meta.user),
        parts_count: (!meta.parts.is_empty()).then(|| meta.parts.len() as i32),
        checksum_type: checksum_type(&sums),
        ..Default::default()
    };
    Ok(S3Response::new(with_sums!(
        &sums,
        with_headers!(served, out)
    )))
}

/// The bucket is unversioned: the only version id is `null`, as S3 answers for such buckets.
pub(super) fn refuse_versions(version_id: Option<&str>) -> S3Result<()> {
    match version_id {
        Some(v) if v != "null" => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
        _ => Ok(()),
    }
}

/// The bucket and key of an `x-amz-copy-source` (a bucket path; access points are refused).
pub(super) fn copy_source(source: &CopySource) -> S3Result<(&str, &str)> {
    let CopySource::Bucket {
        bucket,
        key,
        version_id,
    } = source
    else {
        return Err(s3_error!(
            NotImplemented,
            "Copying from an access point is not implemented by this endpoint"
        ));
    };
    refuse_versions(version_id.as_deref())?;
    Ok((bucket, key))
}
