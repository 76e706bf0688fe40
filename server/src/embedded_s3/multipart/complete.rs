//! CompleteMultipartUpload: the parts listed are checked as S3 checks them (ascending numbers,
//! each uploaded with the ETag given, every one but the last at least 5 MiB), then streamed
//! into one temp file, never into memory, and committed with the upload's removal in one
//! journaled step. The upload stays whole until that step: a failed or interrupted completion
//! can be retried.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest as _, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use s3s::dto::*;
use s3s::{S3Response, s3_error};
use tokio::io::AsyncReadExt as _;

use super::super::checksum::with_sums;
use super::super::disk::{Disk, ObjectMeta, StagedData, internal, now_ms};
use super::super::object_ops::write_conditions;
use super::super::request::url_encode;
use super::super::uploads::{self, PartRecord, UploadInfo};
use super::{
    Algorithm, COPY_CHUNK, Checksums, DiskObjects, MAX_PART_NUMBER, MIN_PART_SIZE, Reply,
    invalid_request, named, sums, upload_algorithm,
};

fn malformed() -> s3s::S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
}

fn invalid_part() -> s3s::S3Error {
    s3_error!(
        InvalidPart,
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag."
    )
}

/// How the object's checksum is made: over the whole object as it streams, or from the
/// parts' checksums.
#[derive(Clone, Copy)]
enum ObjectSum {
    Full(Algorithm),
    Composite(Algorithm),
}

impl ObjectSum {
    /// An upload without an algorithm gets S3's default: a full-object CRC64NVME.
    fn of(info: &UploadInfo) -> s3s::S3Result<Self> {
        let algorithm = upload_algorithm(info)?.unwrap_or(Algorithm::Crc64Nvme);
        Ok(match info.checksum_type.as_deref() {
            Some(ChecksumType::COMPOSITE) => Self::Composite(algorithm),
            _ => Self::Full(algorithm),
        })
    }

    fn algorithm(self) -> Algorithm {
        match self {
            Self::Full(a) | Self::Composite(a) => a,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Self::Full(_) => ChecksumType::FULL_OBJECT,
            Self::Composite(_) => ChecksumType::COMPOSITE,
        }
    }
}

/// The parts listed, checked against those uploaded: (number, record) in order.
async fn listed_parts(
    dir: &std::path::Path,
    listed: &[CompletedPart],
) -> s3s::S3Result<Vec<(i32, PartRecord)>> {
    if listed.is_empty() {
        return Err(malformed());
    }
    let mut numbers = Vec::with_capacity(listed.len());
    for part in listed {
        let number = part.part_number.ok_or_else(malformed)?;
        // A number no part can have was never uploaded.
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(invalid_part());
        }
        if numbers.last().is_some_and(|previous| number <= *previous) {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            ));
        }
        numbers.push(number);
    }
    let records = uploads::parts(dir, &numbers).await?;
    let mut found = Vec::with_capacity(listed.len());
    for ((part, number), record) in listed.iter().zip(numbers).zip(records) {
        let given = part.e_tag.as_ref().map(|t| t.value().trim_matches('"'));
        let Some(record) =
            record.filter(|r| given.is_some_and(|tag| tag.eq_ignore_ascii_case(&r.etag)))
        else {
            return Err(invalid_part());
        };
        // Checksums given for a part must be the part's.
        let given = sums(
            part.checksum_crc32.clone(),
            part.checksum_crc32c.clone(),
            part.checksum_crc64nvme.clone(),
            part.checksum_sha1.clone(),
            part.checksum_sha256.clone(),
        );
        for algorithm in named(&given) {
            if algorithm
                .get(&record.checksums)
                .is_some_and(|kept| Some(kept) != algorithm.get(&given))
            {
                return Err(invalid_part());
            }
        }
        found.push((number, record));
    }
    let last = found.len() - 1;
    if found[..last].iter().any(|(_, r)| r.size < MIN_PART_SIZE) {
        return Err(s3_error!(
            EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size."
        ));
    }
    Ok(found)
}

/// Streams the parts into one temp file, hashing it with `full` when given.
async fn assemble(
    disk: &Disk,
    files: Vec<(tokio::fs::File, u64)>,
    full: Option<Algorithm>,
) -> s3s::S3Result<(StagedData, Option<String>)> {
    let mut hasher = ChecksumHasher::default();
    match full {
        Some(Algorithm::Crc32) => hasher.crc32 = Some(Crc32::new()),
        Some(Algorithm::Crc32c) => hasher.crc32c = Some(Crc32c::new()),
        Some(Algorithm::Crc64Nvme) => hasher.crc64nvme = Some(Crc64Nvme::new()),
        Some(Algorithm::Sha1) => hasher.sha1 = Some(Sha1::new()),
        Some(Algorithm::Sha256) => hasher.sha256 = Some(Sha256::new()),
        None => {}
    }
    let mut writer = disk.writer().await?;
    let mut buffer = vec![0u8; COPY_CHUNK];
    for (mut file, size) in files {
        let mut copied = 0u64;
        loop {
            let read = file.read(&mut buffer).await.map_err(internal)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            writer.write(&buffer[..read]).await?;
            copied += read as u64;
        }
        if copied != size {
            return Err(internal(format!(
                "a part holds {copied} bytes, its record says {size}"
            )));
        }
    }
    let staged = writer.finish().await?;
    let computed = hasher.finalize();
    let value = match full {
        Some(Algorithm::Crc32) => computed.checksum_crc32,
        Some(Algorithm::Crc32c) => computed.checksum_crc32c,
        Some(Algorithm::Crc64Nvme) => computed.checksum_crc64nvme,
        Some(Algorithm::Sha1) => computed.checksum_sha1,
        Some(Algorithm::Sha256) => computed.checksum_sha256,
        None => None,
    };
    Ok((staged, value))
}

/// The composite checksum: the checksum of the parts' checksums, then `-<parts>`.
fn composite(algorithm: Algorithm, parts: &[(i32, PartRecord)]) -> s3s::S3Result<String> {
    let mut joined = Vec::new();
    for (number, record) in parts {
        let Some(value) = algorithm.get(&record.checksums) else {
            return Err(invalid_request(format!(
                "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {number} in the request.",
                algorithm.name().to_ascii_lowercase()
            )));
        };
        joined.extend(BASE64.decode(value).map_err(internal)?);
    }
    Ok(format!("{}-{}", algorithm.digest(&joined), parts.len()))
}

/// The object checksum the request declares, if any: it must be of the upload's algorithm
/// and type.
fn declared_sum(
    input: &CompleteMultipartUploadInput,
    sum: ObjectSum,
) -> s3s::S3Result<Option<String>> {
    if let Some(kind) = &input.checksum_type
        && !kind.as_str().eq_ignore_ascii_case(sum.kind())
    {
        return Err(invalid_request(format!(
            "The upload was created using the {} checksum mode. The complete request must use the same checksum mode.",
            sum.kind()
        )));
    }
    let declared = sums(
        input.checksum_crc32.clone(),
        input.checksum_crc32c.clone(),
        input.checksum_crc64nvme.clone(),
        input.checksum_sha1.clone(),
        input.checksum_sha256.clone(),
    );
    if let Some(other) = named(&declared).find(|a| *a != sum.algorithm()) {
        return Err(invalid_request(format!(
            "The upload was created using the {} checksum algorithm; the complete request carries a {} checksum.",
            sum.algorithm().name().to_ascii_lowercase(),
            other.name().to_ascii_lowercase()
        )));
    }
    Ok(sum.algorithm().get(&declared).cloned())
}

pub(in super::super) async fn complete(
    objects: &DiskObjects,
    input: CompleteMultipartUploadInput,
) -> Reply<CompleteMultipartUploadOutput> {
    let disk = &objects.disk;
    disk.check_key(&input.bucket, &input.key)?;
    // Held until committed: no part is put in, and no other completion or abort runs,
    // meanwhile.
    let lock = uploads::lock(&uploads::upload_dir(disk, &input.upload_id)?).await;
    let (dir, info) = uploads::load(disk, &input.bucket, &input.key, &input.upload_id).await?;
    let sum = ObjectSum::of(&info)?;
    let declared = declared_sum(&input, sum)?;
    let listed = input
        .multipart_upload
        .as_ref()
        .and_then(|m| m.parts.as_deref())
        .unwrap_or_default();
    let parts = listed_parts(&dir, listed).await?;
    let size: u64 = parts.iter().map(|(_, r)| r.size).sum();
    if input.mpu_object_size.is_some_and(|n| n as u64 != size) {
        return Err(s3_error!(
            InvalidRequest,
            "The provided 'x-amz-mp-object-size' header value does not match what was computed."
        ));
    }
    let (if_match, if_none_match) = (input.if_match, input.if_none_match);
    write_conditions(
        disk.meta(&input.key).as_deref(),
        if_match.as_ref(),
        if_none_match.as_ref(),
    )?;
    // Every part is opened before any is read: the bytes stay ours whatever happens to the
    // names meanwhile.
    let mut files = Vec::with_capacity(parts.len());
    for (_, record) in &parts {
        let file = tokio::fs::File::open(dir.join(&record.file))
            .await
            .map_err(internal)?;
        files.push((file, record.size));
    }
    let (full, composite) = match sum {
        ObjectSum::Full(algorithm) => (Some(algorithm), None),
        ObjectSum::Composite(algorithm) => (None, Some(composite(algorithm, &parts)?)),
    };
    let (staged, full_value) = assemble(disk, files, full).await?;
    let value = composite
        .or(full_value)
        .ok_or_else(|| internal("no object checksum"))?;
    if let Some(declared) = declared {
        // A composite checksum may be given with or without its `-<parts>` suffix.
        let bare = value.split('-').next().unwrap_or_default();
        if declared != value && declared != bare {
            return Err(s3s::S3Error::with_message(
                s3s::S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    sum.algorithm().name()
                ),
            ));
        }
    }
    let mut checksums = Checksums {
        kind: Some(sum.kind().to_string()),
        ..Checksums::default()
    };
    *sum.algorithm().slot(&mut checksums) = Some(value);
    let mut md5 = Md5::new();
    for (_, record) in &parts {
        md5.update(hex::decode(&record.etag).map_err(internal)?);
    }
    let meta = ObjectMeta {
        key: info.key,
        size,
        etag: format!("{}-{}", hex::encode(md5.finalize()), parts.len()),
        last_modified_ms: now_ms(),
        headers: info.headers,
        user: info.user,
        checksums,
        parts: parts.iter().map(|(_, r)| r.size).collect(),
    };
    let meta = disk
        .commit(
            staged,
            meta,
            |current| write_conditions(current, if_match.as_ref(), if_none_match.as_ref()),
            Some(dir),
        )
        .await?;
    drop(lock);
    objects.emit_created(&meta).await;
    Ok(S3Response::new(with_sums!(
        &meta.checksums,
        CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(meta.key.clone()),
            location: Some(format!("/{}/{}", input.bucket, url_encode(&meta.key))),
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            checksum_type: Some(ChecksumType::from(sum.kind().to_string())),
            ..Default::default()
        }
    )))
}
