//! CopyObject: a new key with another object's bytes (a hard link: objects are never changed
//! in place), its metadata copied or replaced.

use s3s::dto::*;
use s3s::{S3Response, S3Result, s3_error};

use super::checksum::{Algorithm, BodyCheck, Declared, with_sums};
use super::disk::{Checksums, ObjectMeta, now_ms};
use super::handlers::DiskObjects;
use super::object_ops::{READ_CHUNK, checksum_type, copy_source};
use super::request::{
    Unsupported, copy_source_conditions, unsupported_in, user_metadata, write_headers,
};

type Reply<T> = S3Result<S3Response<T>>;

pub(super) async fn copy_object(
    objects: &DiskObjects,
    input: CopyObjectInput,
) -> Reply<CopyObjectOutput> {
    let disk = &objects.disk;
    disk.check_key(&input.bucket, &input.key)?;
    let (source_bucket, source_key) = copy_source(&input.copy_source)?;
    disk.check_key(source_bucket, source_key)?;
    Unsupported {
        tagging: input.tagging.is_some()
            || input
                .tagging_directive
                .as_ref()
                .is_some_and(|d| d.as_str() == TaggingDirective::REPLACE),
        encryption: input.server_side_encryption.is_some()
            || input.sse_customer_algorithm.is_some()
            || input.ssekms_key_id.is_some()
            || input.copy_source_sse_customer_algorithm.is_some(),
        ..unsupported_in!(input)
    }
    .refuse()?;
    let replace = match input
        .metadata_directive
        .as_ref()
        .map(MetadataDirective::as_str)
    {
        None | Some(MetadataDirective::COPY) => false,
        Some(MetadataDirective::REPLACE) => true,
        Some(other) => {
            return Err(s3_error!(
                InvalidArgument,
                "Unknown metadata directive: {other}"
            ));
        }
    };
    let new_algorithm = input
        .checksum_algorithm
        .as_ref()
        .map(|a| Algorithm::parse(a.as_str()))
        .transpose()?;
    if source_key == input.key && !replace && new_algorithm.is_none() {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    let Some((source, staged)) = disk.link_object(source_key).await? else {
        return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
    };
    copy_source_conditions!(input).check_copy_source(&source)?;
    let (headers, user) = if replace {
        let headers = write_headers!(input).into_stored()?;
        (headers, user_metadata(input.metadata)?)
    } else {
        (source.headers.clone(), source.user.clone())
    };
    let checksums = match new_algorithm {
        Some(algorithm) if algorithm.get(&source.checksums).is_none() => {
            checksum_of_file(staged.path(), algorithm).await?
        }
        _ => source.checksums.clone(),
    };
    let meta = ObjectMeta {
        key: input.key,
        size: source.size,
        etag: source.etag.clone(),
        last_modified_ms: now_ms(),
        headers,
        user,
        checksums,
        parts: Vec::new(),
    };
    let meta = disk.commit(staged, meta, |_| Ok(()), None).await?;
    objects.emit_created(&meta).await;
    let result = CopyObjectResult {
        e_tag: Some(ETag::Strong(meta.etag.clone())),
        last_modified: Some(meta.last_modified()),
        checksum_type: checksum_type(&meta.checksums),
        ..Default::default()
    };
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(with_sums!(&meta.checksums, result)),
        ..Default::default()
    }))
}

/// The `algorithm` checksum of a file, streamed.
async fn checksum_of_file(path: &std::path::Path, algorithm: Algorithm) -> S3Result<Checksums> {
    use tokio::io::AsyncReadExt as _;
    let declared = Declared {
        algorithm: Some(ChecksumAlgorithm::from(algorithm.name().to_string())),
        ..Declared::default()
    };
    let mut check = BodyCheck::new(declared, false)?;
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(super::disk::internal)?;
    let mut buffer = vec![0u8; READ_CHUNK];
    loop {
        let read = file
            .read(&mut buffer)
            .await
            .map_err(super::disk::internal)?;
        if read == 0 {
            break;
        }
        check.update(&buffer[..read]);
    }
    Ok(check.finish(None)?.sums)
}
