//! UploadPartCopy: a part copied from a stored object (or a byte range of it), streamed from
//! an open handle on its bytes like an uploaded part.

use s3s::dto::*;
use s3s::{S3Response, S3Result, s3_error};

use super::super::checksum::with_sums;
use super::super::disk::read_range;
use super::super::object_ops::copy_source;
use super::super::request::{Unsupported, copy_source_conditions};
use super::super::uploads;
use super::{
    BodyCheck, COPY_CHUNK, Declared, DiskObjects, MAX_PART_SIZE, Reply, check_part_number,
    keep_part, part_declared, stage, timestamp,
};

/// `bytes=first-last` of `x-amz-copy-source-range`, as `[start, end)` within `size`.
fn copy_range(range: Option<&str>, size: u64) -> S3Result<(u64, u64)> {
    let Some(range) = range else {
        return Ok((0, size));
    };
    let parsed = range
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .and_then(|(first, last)| Some((first.parse::<u64>().ok()?, last.parse::<u64>().ok()?)))
        .filter(|(first, last)| first <= last);
    let Some((first, last)) = parsed else {
        return Err(s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        ));
    };
    if last >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable"
        ));
    }
    Ok((first, last + 1))
}

pub(in super::super) async fn upload_part_copy(
    objects: &DiskObjects,
    input: UploadPartCopyInput,
) -> Reply<UploadPartCopyOutput> {
    let disk = &objects.disk;
    check_part_number(input.part_number)?;
    let (dir, info) = uploads::load(disk, &input.bucket, &input.key, &input.upload_id).await?;
    let (source_bucket, source_key) = copy_source(&input.copy_source)?;
    Unsupported {
        encryption: input.sse_customer_algorithm.is_some()
            || input.copy_source_sse_customer_algorithm.is_some(),
        ..Unsupported::default()
    }
    .refuse()?;
    disk.check_key(source_bucket, source_key)?;
    let Some((source, file)) = disk.open_object(source_bucket, source_key).await? else {
        return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
    };
    copy_source_conditions!(input).check_copy_source(&source)?;
    let (start, end) = copy_range(input.copy_source_range.as_deref(), source.size)?;
    if end - start > MAX_PART_SIZE {
        return Err(s3_error!(
            InvalidRequest,
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
        ));
    }
    let declared = part_declared(&info, Declared::default())?;
    let check = BodyCheck::new(declared, false)?;
    let reader = read_range(file, start, end - start).await?;
    let body = tokio_util::io::ReaderStream::with_capacity(reader, COPY_CHUNK);
    let (staged, verified) = stage(disk, body, check, Some((end - start) as i64), None).await?;
    let record = keep_part(disk, &dir, input.part_number, staged, verified).await?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(with_sums!(
            &record.checksums,
            CopyPartResult {
                e_tag: Some(ETag::Strong(record.etag.clone())),
                last_modified: Some(timestamp(record.last_modified_ms)),
                ..Default::default()
            }
        )),
        ..Default::default()
    }))
}
