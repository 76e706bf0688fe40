//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts,
//! ListMultipartUploads, CompleteMultipartUpload, AbortMultipartUpload. Parts stream to disk
//! and are kept by `uploads`; completion checks the parts listed as S3 does, streams them into
//! one temp file and commits it together with the upload's removal, in one journaled step
//! (`disk`): a crash leaves the upload or the object, never a partial object.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use s3s::dto::*;
use s3s::{S3Response, S3Result, TrailingHeaders, s3_error};

use super::checksum::{Algorithm, BodyCheck, Declared, Verified, with_sums};
use super::disk::{Checksums, Disk, StagedData, now_ms};
use super::handlers::DiskObjects;
use super::request::{
    Unsupported, precondition_failed, unsupported_in, user_metadata, write_headers,
};
use super::uploads::{self, PartRecord, UploadInfo};

/// S3's limits: every part but the last at least 5 MiB, none over 5 GiB, numbers 1 to 10,000.
const MIN_PART_SIZE: u64 = 5 << 20;
const MAX_PART_SIZE: u64 = 5 << 30;
const MAX_PART_NUMBER: i32 = 10_000;
/// The most entries one ListParts or ListMultipartUploads page holds.
const MAX_LISTED: i32 = 1000;
const COPY_CHUNK: usize = 1 << 20;

type Reply<T> = S3Result<S3Response<T>>;

mod complete;
mod copy;
mod list;

pub(super) use complete::complete;
pub(super) use copy::upload_part_copy;
pub(super) use list::{list_parts, list_uploads};

fn sums(
    crc32: Option<String>,
    crc32c: Option<String>,
    crc64nvme: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
) -> Checksums {
    Checksums {
        crc32,
        crc32c,
        crc64nvme,
        sha1,
        sha256,
        kind: None,
    }
}

fn named(sums: &Checksums) -> impl Iterator<Item = Algorithm> + '_ {
    Algorithm::ALL.into_iter().filter(|a| a.get(sums).is_some())
}

fn timestamp(ms: u64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(ms))
}

fn invalid_request(message: String) -> s3s::S3Error {
    s3s::S3Error::with_message(s3s::S3ErrorCode::InvalidRequest, message)
}

fn check_part_number(number: i32) -> S3Result<()> {
    if (1..=MAX_PART_NUMBER).contains(&number) {
        return Ok(());
    }
    Err(s3_error!(
        InvalidArgument,
        "Part number must be an integer between 1 and 10000, inclusive"
    ))
}

/// A page size: S3's default and cap of 1000, negatives refused.
fn page_size(requested: Option<i32>, name: &str) -> S3Result<usize> {
    match requested {
        Some(n) if n < 0 => Err(s3s::S3Error::with_message(
            s3s::S3ErrorCode::InvalidArgument,
            format!("Argument {name} must be an integer between 0 and 2147483647"),
        )),
        Some(n) => Ok(n.min(MAX_LISTED) as usize),
        None => Ok(MAX_LISTED as usize),
    }
}

/// The checksum type of a new upload: S3's default is `COMPOSITE`, but `FULL_OBJECT` for
/// CRC64NVME (which has no composite form); SHA checksums have no full-object form.
fn checksum_type(
    algorithm: Option<Algorithm>,
    requested: Option<&ChecksumType>,
) -> S3Result<Option<&'static str>> {
    let requested = requested.map(|t| t.as_str().to_ascii_uppercase());
    let Some(algorithm) = algorithm else {
        return match requested {
            Some(_) => Err(s3_error!(
                InvalidRequest,
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
            )),
            None => Ok(None),
        };
    };
    let kind = match requested.as_deref() {
        None if algorithm == Algorithm::Crc64Nvme => ChecksumType::FULL_OBJECT,
        None => ChecksumType::COMPOSITE,
        Some(ChecksumType::FULL_OBJECT) => ChecksumType::FULL_OBJECT,
        Some(ChecksumType::COMPOSITE) => ChecksumType::COMPOSITE,
        Some(_) => {
            return Err(s3_error!(
                InvalidRequest,
                "Value for x-amz-checksum-type header is invalid."
            ));
        }
    };
    let supported = if kind == ChecksumType::FULL_OBJECT {
        algorithm.is_crc()
    } else {
        algorithm != Algorithm::Crc64Nvme
    };
    if !supported {
        return Err(invalid_request(format!(
            "The {kind} checksum type cannot be used with the {} checksum algorithm.",
            algorithm.name().to_ascii_lowercase()
        )));
    }
    Ok(Some(kind))
}

fn upload_algorithm(info: &UploadInfo) -> S3Result<Option<Algorithm>> {
    info.algorithm.as_deref().map(Algorithm::parse).transpose()
}

pub(super) async fn create(
    objects: &DiskObjects,
    input: CreateMultipartUploadInput,
) -> Reply<CreateMultipartUploadOutput> {
    let disk = &objects.disk;
    disk.check_key(&input.bucket, &input.key)?;
    unsupported_in!(input).refuse()?;
    let algorithm = input
        .checksum_algorithm
        .as_ref()
        .map(|a| Algorithm::parse(a.as_str()))
        .transpose()?;
    let kind = checksum_type(algorithm, input.checksum_type.as_ref())?;
    let headers = write_headers!(input).into_stored()?;
    let info = UploadInfo {
        bucket: input.bucket,
        key: input.key,
        initiated_ms: now_ms(),
        headers,
        user: user_metadata(input.metadata)?,
        algorithm: algorithm.map(|a| a.name().to_string()),
        checksum_type: kind.map(str::to_string),
    };
    let id = uploads::create(disk, &info).await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(info.bucket),
        key: Some(info.key),
        upload_id: Some(id),
        checksum_algorithm: info.algorithm.map(ChecksumAlgorithm::from),
        checksum_type: info.checksum_type.map(ChecksumType::from),
        ..Default::default()
    }))
}

/// What a part's request declares, checked against the upload: a part carries the upload's
/// algorithm (computed here when the request names none), never another one.
fn part_declared(info: &UploadInfo, mut declared: Declared) -> S3Result<Declared> {
    let Some(expected) = upload_algorithm(info)? else {
        return Ok(declared);
    };
    let mut sent: Vec<Algorithm> = named(&declared.sums).collect();
    if let Some(algorithm) = &declared.algorithm {
        sent.push(Algorithm::parse(algorithm.as_str())?);
    }
    if let Some(other) = sent.iter().find(|a| **a != expected) {
        return Err(invalid_request(format!(
            "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
            expected.name().to_ascii_lowercase(),
            other.name().to_ascii_lowercase()
        )));
    }
    if declared.algorithm.is_none() {
        declared.algorithm = Some(ChecksumAlgorithm::from(expected.name().to_string()));
    }
    Ok(declared)
}

/// Streams `body` into a temp file through `check`: the staged bytes and their digests.
async fn stage<E: std::fmt::Display>(
    disk: &Disk,
    mut body: impl Stream<Item = Result<Bytes, E>> + Unpin,
    mut check: BodyCheck,
    content_length: Option<i64>,
    trailers: Option<&TrailingHeaders>,
) -> S3Result<(StagedData, Verified)> {
    let mut writer = disk.writer().await?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
        check.update(&chunk);
        if check.size() > MAX_PART_SIZE {
            return Err(s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size."
            ));
        }
        writer.write(&chunk).await?;
    }
    if content_length.is_some_and(|expected| expected as u64 != check.size()) {
        return Err(s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
        ));
    }
    let staged = writer.finish().await?;
    let verified = check.finish(trailers)?;
    Ok((staged, verified))
}

/// Keeps staged bytes as part `number` of the upload in `dir`.
async fn keep_part(
    disk: &Disk,
    dir: &std::path::Path,
    number: i32,
    staged: StagedData,
    verified: Verified,
) -> S3Result<PartRecord> {
    let record = PartRecord {
        etag: verified.md5_hex,
        size: verified.size,
        checksums: Checksums {
            kind: None,
            ..verified.sums
        },
        last_modified_ms: now_ms(),
        file: String::new(),
    };
    let _lock = uploads::lock(dir).await;
    uploads::install_part(disk, dir, number, staged, record).await
}

pub(super) async fn upload_part(
    objects: &DiskObjects,
    input: UploadPartInput,
    trailers: Option<TrailingHeaders>,
) -> Reply<UploadPartOutput> {
    let disk = &objects.disk;
    check_part_number(input.part_number)?;
    let (dir, info) = uploads::load(disk, &input.bucket, &input.key, &input.upload_id).await?;
    Unsupported {
        encryption: input.sse_customer_algorithm.is_some(),
        ..Unsupported::default()
    }
    .refuse()?;
    if input
        .content_length
        .is_some_and(|n| n as u64 > MAX_PART_SIZE)
    {
        return Err(s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size."
        ));
    }
    let declared = part_declared(
        &info,
        Declared {
            content_md5: input.content_md5,
            sums: sums(
                input.checksum_crc32,
                input.checksum_crc32c,
                input.checksum_crc64nvme,
                input.checksum_sha1,
                input.checksum_sha256,
            ),
            algorithm: input.checksum_algorithm,
        },
    )?;
    let check = BodyCheck::new(declared, false)?;
    let body = input.body.unwrap_or_else(|| {
        StreamingBlob::wrap(futures::stream::empty::<Result<Bytes, std::io::Error>>())
    });
    let (staged, verified) =
        stage(disk, body, check, input.content_length, trailers.as_ref()).await?;
    let record = keep_part(disk, &dir, input.part_number, staged, verified).await?;
    Ok(S3Response::new(with_sums!(
        &record.checksums,
        UploadPartOutput {
            e_tag: Some(ETag::Strong(record.etag.clone())),
            ..Default::default()
        }
    )))
}

pub(super) async fn abort(
    objects: &DiskObjects,
    input: AbortMultipartUploadInput,
) -> Reply<AbortMultipartUploadOutput> {
    let disk = &objects.disk;
    let dir = uploads::upload_dir(disk, &input.upload_id)?;
    let _lock = uploads::lock(&dir).await;
    let (dir, info) = uploads::load(disk, &input.bucket, &input.key, &input.upload_id).await?;
    if let Some(initiated) = &input.if_match_initiated_time {
        let seconds = time::OffsetDateTime::from(initiated.clone()).unix_timestamp();
        if seconds != (info.initiated_ms / 1000) as i64 {
            return Err(precondition_failed());
        }
    }
    if !uploads::remove(disk, &dir).await? {
        return Err(uploads::no_such_upload());
    }
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub(super) async fn abort_stale(disk: &Disk, older_than: Duration) -> usize {
    uploads::sweep(disk, older_than).await
}

#[cfg(test)]
mod tests {
    // Multipart uploads against a store in a temp directory, through the same functions the `S3`
    // trait calls.

    use std::path::Path;
    use std::time::Duration;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use md5::{Digest as _, Md5};
    use s3s::dto::*;
    use tokio::io::AsyncReadExt as _;

    use super::super::object_ops::put_object;
    use super::*;
    use crate::events::{ObjectChange, event_channel};

    const MIB: usize = 1 << 20;
    const KEY: &str = "dir/video.bin";

    fn open(root: &Path) -> DiskObjects {
        DiskObjects::open(root, "bucket", None).unwrap()
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn blob(data: &[u8]) -> Option<StreamingBlob> {
        Some(StreamingBlob::from(s3s::Body::from(data.to_vec())))
    }

    fn code(result: S3Result<impl Sized>) -> String {
        match result {
            Ok(_) => "Ok".to_string(),
            Err(err) => err.code().as_str().to_string(),
        }
    }

    async fn start_with(
        objects: &DiskObjects,
        key: &str,
        algorithm: Option<&str>,
        kind: Option<&str>,
    ) -> S3Result<CreateMultipartUploadOutput> {
        let input = CreateMultipartUploadInput::builder()
            .bucket("bucket".into())
            .key(key.into())
            .content_type(Some("video/mp4".into()))
            .checksum_algorithm(algorithm.map(|a| ChecksumAlgorithm::from(a.to_string())))
            .checksum_type(kind.map(|k| ChecksumType::from(k.to_string())))
            .build()
            .unwrap();
        create(objects, input).await.map(|r| r.output)
    }

    async fn start(objects: &DiskObjects, key: &str) -> String {
        start_with(objects, key, None, None)
            .await
            .unwrap()
            .upload_id
            .unwrap()
    }

    fn part_input(key: &str, id: &str, number: i32, data: &[u8]) -> UploadPartInput {
        UploadPartInput::builder()
            .bucket("bucket".into())
            .key(key.into())
            .upload_id(id.into())
            .part_number(number)
            .content_length(Some(data.len() as i64))
            .body(blob(data))
            .build()
            .unwrap()
    }

    async fn put_part(
        objects: &DiskObjects,
        id: &str,
        number: i32,
        data: &[u8],
    ) -> S3Result<UploadPartOutput> {
        let input = part_input(KEY, id, number, data);
        upload_part(objects, input, None).await.map(|r| r.output)
    }

    fn listed(number: i32, etag: &str) -> CompletedPart {
        CompletedPart {
            part_number: Some(number),
            e_tag: Some(ETag::Strong(etag.to_string())),
            ..Default::default()
        }
    }

    fn complete_input(id: &str, parts: Vec<CompletedPart>) -> CompleteMultipartUploadInput {
        CompleteMultipartUploadInput::builder()
            .bucket("bucket".into())
            .key(KEY.into())
            .upload_id(id.into())
            .multipart_upload(Some(CompletedMultipartUpload { parts: Some(parts) }))
            .build()
            .unwrap()
    }

    async fn finish(
        objects: &DiskObjects,
        id: &str,
        parts: Vec<CompletedPart>,
    ) -> S3Result<CompleteMultipartUploadOutput> {
        complete(objects, complete_input(id, parts))
            .await
            .map(|r| r.output)
    }

    async fn read_object(objects: &DiskObjects, key: &str) -> Vec<u8> {
        let (_, mut file) = objects
            .disk
            .open_object("bucket", key)
            .await
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        file.read_to_end(&mut out).await.unwrap();
        out
    }

    async fn parts_of(
        objects: &DiskObjects,
        id: &str,
        marker: Option<i32>,
        max: i32,
    ) -> ListPartsOutput {
        let input = ListPartsInput::builder()
            .bucket("bucket".into())
            .key(KEY.into())
            .upload_id(id.into())
            .part_number_marker(marker)
            .max_parts(Some(max))
            .build()
            .unwrap();
        list_parts(objects, input).await.unwrap().output
    }

    async fn abort_upload(objects: &DiskObjects, id: &str) -> S3Result<()> {
        let input = AbortMultipartUploadInput::builder()
            .bucket("bucket".into())
            .key(KEY.into())
            .upload_id(id.into())
            .build()
            .unwrap();
        abort(objects, input).await.map(|_| ())
    }

    fn md5_of(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn parts_uploaded_out_of_order_complete_into_the_exact_bytes() {
        let root = tempfile::tempdir().unwrap();
        let (sender, mut receiver) = event_channel();
        let objects = DiskObjects::open(root.path(), "bucket", Some(sender)).unwrap();
        let id = start(&objects, KEY).await;
        let data = [bytes(5 * MIB, 1), bytes(5 * MIB + 3, 2), bytes(1000, 3)];
        let mut etags = Vec::new();
        for number in [3, 1, 2] {
            let out = put_part(&objects, &id, number, &data[number as usize - 1])
                .await
                .unwrap();
            etags.push((number, out.e_tag.unwrap().value().to_string()));
        }
        etags.sort();
        assert_eq!(etags[0].1, hex::encode(md5_of(&data[0])));
        // Clients quote ETags or not; both are the part's.
        let parts = vec![
            listed(1, &etags[0].1),
            listed(2, &format!("\"{}\"", etags[1].1)),
            listed(3, &etags[2].1),
        ];
        let out = finish(&objects, &id, parts).await.unwrap();

        let whole = data.concat();
        assert_eq!(read_object(&objects, KEY).await, whole);
        let joined: Vec<u8> = data.iter().flat_map(|d| md5_of(d)).collect();
        let etag = format!("{}-3", hex::encode(md5_of(&joined)));
        assert_eq!(out.e_tag.as_ref().map(ETag::value), Some(etag.as_str()));
        // No algorithm asked for: S3's default full-object CRC64NVME.
        assert_eq!(
            out.checksum_crc64nvme,
            Some(Algorithm::Crc64Nvme.digest(&whole))
        );
        let meta = objects.disk.meta(KEY).unwrap();
        assert_eq!(meta.etag, etag);
        assert_eq!(meta.parts, vec![5 * MIB as u64, 5 * MIB as u64 + 3, 1000]);
        assert_eq!(meta.headers.content_type.as_deref(), Some("video/mp4"));
        let event = receiver.recv().await.unwrap();
        assert_eq!(event.change, ObjectChange::Created);
        assert_eq!(
            (event.key.as_str(), event.size, event.etag.as_deref()),
            (KEY, Some(whole.len() as u64), Some(etag.as_str()))
        );
        // The upload is gone with the commit; nothing is left behind.
        assert!(files_in(&objects.disk.uploads_dir()).is_empty());
        assert!(files_in(&objects.disk.tmp_dir()).is_empty());
        assert_eq!(
            code(finish(&objects, &id, vec![listed(1, &etags[0].1)]).await),
            "NoSuchUpload"
        );
    }

    #[tokio::test]
    async fn listed_parts_are_checked_as_s3_checks_them() {
        let root = tempfile::tempdir().unwrap();
        let objects = open(root.path());
        let id = start(&objects, KEY).await;
        let small = [bytes(100, 1), bytes(200, 2)];
        let mut etags = Vec::new();
        for (i, data) in small.iter().enumerate() {
            let out = put_part(&objects, &id, i as i32 + 1, data).await.unwrap();
            etags.push(out.e_tag.unwrap().value().to_string());
        }
        let (one, two) = (&etags[0], &etags[1]);
        let cases = [
            (vec![], "MalformedXML"),
            (vec![listed(2, two), listed(1, one)], "InvalidPartOrder"),
            (vec![listed(1, one), listed(1, one)], "InvalidPartOrder"),
            (vec![listed(1, two)], "InvalidPart"),
            (vec![listed(1, one), listed(3, two)], "InvalidPart"),
            (vec![listed(0, one)], "InvalidPart"),
            (vec![listed(1, one), listed(2, two)], "EntityTooSmall"),
        ];
        for (parts, expected) in cases {
            assert_eq!(code(finish(&objects, &id, parts).await), expected);
        }
        // A failed completion leaves the upload whole; a small last (here: only) part is fine,
        // and a part uploaded but not listed is simply not in the object.
        assert_eq!(
            parts_of(&objects, &id, None, 10).await.parts.unwrap().len(),
            2
        );
        assert_eq!(
            code(put_part(&objects, &id, 0, b"x").await),
            "InvalidArgument"
        );
        assert_eq!(
            code(put_part(&objects, &id, 10_001, b"x").await),
            "InvalidArgument"
        );
        finish(&objects, &id, vec![listed(1, one)]).await.unwrap();
        assert_eq!(read_object(&objects, KEY).await, small[0]);
    }

    #[tokio::test]
    async fn aborted_and_unknown_uploads_are_no_such_upload() {
        let root = tempfile::tempdir().unwrap();
        let objects = open(root.path());
        let id = start(&objects, KEY).await;
        put_part(&objects, &id, 1, b"part").await.unwrap();
        abort_upload(&objects, &id).await.unwrap();
        assert!(files_in(&objects.disk.uploads_dir()).is_empty());
        assert_eq!(
            code(put_part(&objects, &id, 1, b"part").await),
            "NoSuchUpload"
        );
        assert_eq!(code(abort_upload(&objects, &id).await), "NoSuchUpload");
        assert_eq!(
            code(finish(&objects, &id, vec![listed(1, "x")]).await),
            "NoSuchUpload"
        );
        for bad in ["../../etc", "", "ABCDEF0123456789ABCDEF0123456789", ".."] {
            assert_eq!(code(put_part(&objects, bad, 1, b"x").await), "NoSuchUpload");
        }
        // An upload belongs to its key.
        let other = start(&objects, "other").await;
        assert_eq!(
            code(put_part(&objects, &other, 1, b"x").await),
            "NoSuchUpload"
        );
        assert!(objects.disk.meta(KEY).is_none());
    }

    #[tokio::test]
    async fn list_parts_pages_and_a_replaced_part_keeps_only_its_new_bytes() {
        let root = tempfile::tempdir().unwrap();
        let objects = open(root.path());
        let id = start(&objects, KEY).await;
        for number in [4, 2, 5, 1, 3] {
            put_part(&objects, &id, number, &bytes(10, number as u8))
                .await
                .unwrap();
        }
        let replaced = put_part(&objects, &id, 3, b"new bytes").await.unwrap();
        let mut seen = Vec::new();
        let mut marker = None;
        loop {
            let page = parts_of(&objects, &id, marker, 2).await;
            let parts = page.parts.unwrap();
            assert!(parts.len() <= 2);
            seen.extend(parts);
            if !page.is_truncated.unwrap() {
                break;
            }
            marker = page.next_part_number_marker;
        }
        let numbers: Vec<i32> = seen.iter().map(|p| p.part_number.unwrap()).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5]);
        assert_eq!(seen[2].e_tag, replaced.e_tag);
        assert_eq!(seen[2].size, Some(9));
        // One data file per part: the replaced part's old bytes are gone.
        let dir = objects.disk.uploads_dir().join(&id);
        let data_files = files_in(&dir)
            .into_iter()
            .filter(|n| n.starts_with("part-") && !n.ends_with(".json"))
            .count();
        assert_eq!(data_files, 5);
    }

    #[tokio::test]
    async fn composite_checksums_hash_the_parts_checksums() {
        let root = tempfile::tempdir().unwrap();
        let objects = open(root.path());
        let created = start_with(&objects, KEY, Some("SHA256"), None)
            .await
            .unwrap();
        assert_eq!(
            created.checksum_type.as_ref().map(ChecksumType::as_str),
            Some("COMPOSITE")
        );
        let id = created.upload_id.unwrap();
        let (first, second) = (bytes(5 * MIB, 7), bytes(10, 8));
        // Computed when the part does not carry it; checked when it does.
        let one = put_part(&objects, &id, 1, &first).await.unwrap();
        assert_eq!(one.checksum_sha256, Some(Algorithm::Sha256.digest(&first)));
        let mut input = part_input(KEY, &id, 2, &second);
        input.checksum_sha256 = Some(Algorithm::Sha256.digest(b"other"));
        assert_eq!(code(upload_part(&objects, input, None).await), "BadDigest");
        let mut input = part_input(KEY, &id, 2, &second);
        input.checksum_crc32 = Some(Algorithm::Crc32.digest(&second));
        assert_eq!(
            code(upload_part(&objects, input, None).await),
            "InvalidRequest"
        );
        let mut input = part_input(KEY, &id, 2, &second);
        input.checksum_sha256 = Some(Algorithm::Sha256.digest(&second));
        let two = upload_part(&objects, input, None).await.unwrap().output;

        let mut parts = vec![
            listed(1, one.e_tag.as_ref().unwrap().value()),
            listed(2, two.e_tag.as_ref().unwrap().value()),
        ];
        parts[1].checksum_sha256 = Some(Algorithm::Sha256.digest(b"not the part"));
        assert_eq!(
            code(finish(&objects, &id, parts.clone()).await),
            "InvalidPart"
        );
        parts[1].checksum_sha256 = two.checksum_sha256.clone();
        let out = finish(&objects, &id, parts).await.unwrap();
        let mut joined = BASE64.decode(one.checksum_sha256.unwrap()).unwrap();
        joined.extend(BASE64.decode(two.checksum_sha256.unwrap()).unwrap());
        let expected = format!("{}-2", Algorithm::Sha256.digest(&joined));
        assert_eq!(out.checksum_sha256, Some(expected));
        assert_eq!(
            out.checksum_type.as_ref().map(ChecksumType::as_str),
            Some("COMPOSITE")
        );
        assert_eq!(read_object(&objects, KEY).await, [first, second].concat());
    }

    #[tokio::test]
    async fn full_object_checksums_cover_the_whole_object() {
        let root = tempfile::tempdir().unwrap();
        let objects = open(root.path());
        for (algorithm, kind) in [("SHA1", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE")] {
            let refused = start_with(&objects, KEY, Some(algorithm), Some(kind)).await;
            assert_eq!(code(refused), "InvalidRequest");
        }
        assert_eq!(
            code(start_with(&objects, KEY, None, Some("FULL_OBJECT")).await),
            "InvalidRequest"
        );
        let created = start_with(&objects, KEY, Some("CRC32"), Some("FULL_OBJECT")).await;
        let id = created.unwrap().upload_id.unwrap();
        let data = [bytes(5 * MIB, 1), bytes(77, 2)];
        let mut parts = Vec::new();
        for (i, d) in data.iter().enumerate() {
            let out = put_part(&objects, &id, i as i32 + 1, d).await.unwrap();
            assert_eq!(out.checksum_crc32, Some(Algorithm::Crc32.digest(d)));
            parts.push(listed(i as i32 + 1, out.e_tag.unwrap().value()));
        }
        let whole = data.concat();
        let mut input = complete_input(&id, parts.clone());
        input.checksum_crc32 = Some(Algorithm::Crc32.digest(b"wrong"));
        assert_eq!(code(complete(&objects, input).await), "BadDigest");
        let mut input = complete_input(&id, parts.clone());
        input.checksum_sha256 = Some(Algorithm::Sha256.digest(&whole));
        assert_eq!(code(complete(&objects, input).await), "InvalidRequest");
        let mut input = complete_input(&id, parts);
        input.checksum_crc32 = Some(Algorithm::Crc32.digest(&whole));
        input.mpu_object_size = Some(whole.len() as i64);
        let out = complete(&objects, input).await.unwrap().output;
        assert_eq!(out.checksum_crc32, Some(Algorithm::Crc32.digest(&whole)));
        assert_eq!(
            out.checksum_type.as_ref().map(ChecksumType::as_str),
            Some("FULL_OBJECT")
        );
        assert_eq!(read_object(&objects, KEY).await, whole);
    }

    #[tokio::test]
    async fn completion_honours_write_conditions_and_keeps_the_upload_when_refused() {
        let root = tempfile::tempdir().unwrap();
        let objects = open(root.path());
        let id = start(&objects, KEY).await;
        let out = put_part(&objects, &id, 1, b"first").await.unwrap();
        let parts = vec![listed(1, out.e_tag.unwrap().value())];
        finish(&objects, &id, parts.clone()).await.unwrap();

        let id = start(&objects, KEY).await;
        let out = put_part(&objects, &id, 1, b"second").await.unwrap();
        let parts = vec![listed(1, out.e_tag.unwrap().value())];
        let mut input = complete_input(&id, parts.clone());
        input.if_none_match = Some(ETagCondition::Any);
        assert_eq!(code(complete(&objects, input).await), "PreconditionFailed");
        assert_eq!(read_object(&objects, KEY).await, b"first");
        let current = objects.disk.meta(KEY).unwrap().etag.clone();
        let mut input = complete_input(&id, parts);
        input.if_match = Some(ETagCondition::ETag(ETag::Strong(current)));
        complete(&objects, input).await.unwrap();
        assert_eq!(read_object(&objects, KEY).await, b"second");
    }

    #[tokio::test]
    async fn a_part_copies_a_range_of_a_stored_object() {
        let root = tempfile::tempdir().unwrap();
        let objects = open(root.path());
        let source = bytes(1000, 9);
        let put = PutObjectInput::builder()
            .bucket("bucket".into())
            .key("source".into())
            .body(blob(&source))
            .build()
            .unwrap();
        put_object(&objects, put, None).await.unwrap();
        let id = start(&objects, KEY).await;
        let copy = |range: Option<&str>| {
            UploadPartCopyInput::builder()
                .bucket("bucket".into())
                .key(KEY.into())
                .upload_id(id.clone())
                .part_number(1)
                .copy_source(CopySource::Bucket {
                    bucket: "bucket".into(),
                    key: "source".into(),
                    version_id: None,
                })
                .copy_source_range(range.map(str::to_string))
                .build()
                .unwrap()
        };
        assert_eq!(
            code(upload_part_copy(&objects, copy(Some("bytes=10-1000"))).await),
            "InvalidRange"
        );
        assert_eq!(
            code(upload_part_copy(&objects, copy(Some("bytes=9-"))).await),
            "InvalidArgument"
        );
        let out = upload_part_copy(&objects, copy(Some("bytes=100-199")))
            .await
            .unwrap()
            .output
            .copy_part_result
            .unwrap();
        let etag = out.e_tag.unwrap().value().to_string();
        assert_eq!(etag, hex::encode(md5_of(&source[100..200])));
        finish(&objects, &id, vec![listed(1, &etag)]).await.unwrap();
        assert_eq!(read_object(&objects, KEY).await, &source[100..200]);
    }

    #[tokio::test]
    async fn list_uploads_pages_by_key_with_common_prefixes() {
        let root = tempfile::tempdir().unwrap();
        let objects = open(root.path());
        let mut ids = Vec::new();
        for key in ["a/1", "a/2", "b", "c", "c"] {
            ids.push((key, start(&objects, key).await));
        }
        let list =
            |delimiter: Option<&str>, key_marker: Option<String>, id_marker: Option<String>| {
                ListMultipartUploadsInput::builder()
                    .bucket("bucket".into())
                    .delimiter(delimiter.map(str::to_string))
                    .key_marker(key_marker)
                    .upload_id_marker(id_marker)
                    .max_uploads(Some(2))
                    .build()
                    .unwrap()
            };
        let mut seen = Vec::new();
        let (mut key_marker, mut id_marker) = (None, None);
        loop {
            let page = list_uploads(&objects, list(None, key_marker, id_marker))
                .await
                .unwrap()
                .output;
            for upload in page.uploads.unwrap() {
                seen.push((upload.key.unwrap(), upload.upload_id.unwrap()));
            }
            if !page.is_truncated.unwrap() {
                break;
            }
            (key_marker, id_marker) = (page.next_key_marker, page.next_upload_id_marker);
        }
        let expected: Vec<(String, String)> = ids
            .iter()
            .map(|(k, id)| (k.to_string(), id.clone()))
            .collect();
        assert_eq!(seen, expected, "by key, then oldest first");

        let mut entries = Vec::new();
        let mut key_marker = None;
        loop {
            let page = list_uploads(&objects, list(Some("/"), key_marker, None))
                .await
                .unwrap()
                .output;
            entries.extend(
                page.common_prefixes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| p.prefix.unwrap()),
            );
            entries.extend(page.uploads.unwrap().into_iter().map(|u| u.key.unwrap()));
            if !page.is_truncated.unwrap() {
                break;
            }
            key_marker = page.next_key_marker;
        }
        assert_eq!(entries, vec!["a/", "b", "c", "c"]);
    }

    #[tokio::test]
    async fn a_crash_at_any_point_leaves_no_object_and_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let objects = open(root.path());
        let id = start(&objects, KEY).await;
        let part = put_part(&objects, &id, 1, b"kept part").await.unwrap();
        let (tmp, upload) = (objects.disk.tmp_dir(), objects.disk.uploads_dir().join(&id));
        drop(objects);
        // What crashes leave: a part or an assembled object still streaming into `.tmp`, an
        // upload being created or aborted (a directory in `.tmp`), and part bytes renamed into
        // the upload whose record was never written.
        std::fs::write(tmp.join("0123456789abcdef0123456789abcdef"), b"partial").unwrap();
        std::fs::create_dir(tmp.join("0123456789abcdef0123456789abcdef.upload")).unwrap();
        std::fs::write(
            tmp.join("0123456789abcdef0123456789abcdef.upload/upload.json"),
            b"{\"bucket\"",
        )
        .unwrap();
        std::fs::write(
            upload.join("part-2.00000000000000000000000000000000"),
            b"orphan",
        )
        .unwrap();

        let objects = open(root.path());
        assert!(objects.disk.meta(KEY).is_none());
        assert!(files_in(&tmp).is_empty());
        let listed_uploads = list_uploads(
            &objects,
            ListMultipartUploadsInput::builder()
                .bucket("bucket".into())
                .build()
                .unwrap(),
        )
        .await
        .unwrap()
        .output
        .uploads
        .unwrap();
        assert_eq!(listed_uploads.len(), 1);
        assert_eq!(
            parts_of(&objects, &id, None, 10).await.parts.unwrap().len(),
            1
        );
        // The sweep keeps recent uploads but drops the stray bytes.
        assert_eq!(
            objects.abort_stale_uploads(Duration::from_secs(3600)).await,
            0
        );
        assert_eq!(files_in(&upload).len(), 3, "{:?}", files_in(&upload));
        let parts = vec![listed(1, part.e_tag.unwrap().value())];
        finish(&objects, &id, parts).await.unwrap();
        assert_eq!(read_object(&objects, KEY).await, b"kept part");

        // Abandoned uploads are aborted by the sweep.
        let stale = start(&objects, KEY).await;
        put_part(&objects, &stale, 1, b"abandoned").await.unwrap();
        assert_eq!(objects.abort_stale_uploads(Duration::ZERO).await, 1);
        assert_eq!(
            code(put_part(&objects, &stale, 2, b"late").await),
            "NoSuchUpload"
        );
        assert!(files_in(&objects.disk.uploads_dir()).is_empty());
        assert!(files_in(&tmp).is_empty());
    }
}
