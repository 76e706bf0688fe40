//! ListParts (one upload's directory only) and ListMultipartUploads (every upload's
//! `upload.json`), paged as S3 pages them.

use s3s::S3Response;
use s3s::dto::*;

use super::super::checksum::with_sums;
use super::super::request::url_encode;
use super::super::uploads::{self, UploadInfo};
use super::{DiskObjects, Reply, page_size, timestamp};

pub(in super::super) async fn list_parts(
    objects: &DiskObjects,
    input: ListPartsInput,
) -> Reply<ListPartsOutput> {
    let (dir, info) =
        uploads::load(&objects.disk, &input.bucket, &input.key, &input.upload_id).await?;
    let max = page_size(input.max_parts, "max-parts")?;
    let marker = input.part_number_marker.unwrap_or(0);
    let after: Vec<i32> = uploads::part_numbers(&dir)
        .await?
        .into_iter()
        .filter(|n| *n > marker)
        .collect();
    let page = &after[..max.min(after.len())];
    let records = uploads::parts(&dir, page).await?;
    let mut parts = Vec::with_capacity(page.len());
    // A part is only ever replaced (by a rename); gone means the upload just ended.
    for (&number, record) in page.iter().zip(records) {
        let Some(record) = record else {
            continue;
        };
        parts.push(with_sums!(
            &record.checksums,
            Part {
                part_number: Some(number),
                e_tag: Some(ETag::Strong(record.etag.clone())),
                size: Some(record.size as i64),
                last_modified: Some(timestamp(record.last_modified_ms)),
                ..Default::default()
            }
        ));
    }
    let truncated = after.len() > page.len();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: truncated.then(|| page.last().copied()).flatten(),
        max_parts: Some(max as i32),
        is_truncated: Some(truncated),
        parts: Some(parts),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        checksum_algorithm: info.algorithm.map(ChecksumAlgorithm::from),
        checksum_type: info.checksum_type.map(ChecksumType::from),
        ..Default::default()
    }))
}

pub(in super::super) async fn list_uploads(
    objects: &DiskObjects,
    input: ListMultipartUploadsInput,
) -> Reply<ListMultipartUploadsOutput> {
    let disk = &objects.disk;
    disk.check_bucket(&input.bucket)?;
    let max = page_size(input.max_uploads, "max-uploads")?;
    let page = page(
        uploads::all(disk).await?,
        PageRequest {
            prefix: input.prefix.as_deref().unwrap_or_default(),
            delimiter: input.delimiter.as_deref().filter(|d| !d.is_empty()),
            key_marker: input.key_marker.as_deref().unwrap_or_default(),
            upload_id_marker: input.upload_id_marker.as_deref(),
            max,
        },
    );
    let url = input
        .encoding_type
        .as_ref()
        .is_some_and(|e| e.as_str() == EncodingType::URL);
    let encode = |text: String| if url { url_encode(&text) } else { text };
    let listed = page
        .uploads
        .into_iter()
        .map(|(id, info)| MultipartUpload {
            key: Some(encode(info.key)),
            upload_id: Some(id),
            initiated: Some(timestamp(info.initiated_ms)),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            checksum_algorithm: info.algorithm.map(ChecksumAlgorithm::from),
            checksum_type: info.checksum_type.map(ChecksumType::from),
            ..Default::default()
        })
        .collect();
    let prefixes = page
        .common_prefixes
        .into_iter()
        .map(|prefix| CommonPrefix {
            prefix: Some(encode(prefix)),
        })
        .collect::<Vec<_>>();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: input.prefix.map(&encode),
        delimiter: input.delimiter.map(&encode),
        key_marker: input.key_marker.map(&encode),
        upload_id_marker: input.upload_id_marker,
        max_uploads: Some(max as i32),
        is_truncated: Some(page.truncated),
        next_key_marker: page.next.as_ref().map(|(key, _)| encode(key.clone())),
        next_upload_id_marker: page.next.and_then(|(_, id)| id),
        uploads: Some(listed),
        common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

/// What one ListMultipartUploads page asks for.
struct PageRequest<'a> {
    prefix: &'a str,
    delimiter: Option<&'a str>,
    key_marker: &'a str,
    upload_id_marker: Option<&'a str>,
    max: usize,
}

/// One ListMultipartUploads page.
struct Page {
    uploads: Vec<(String, UploadInfo)>,
    common_prefixes: Vec<String>,
    truncated: bool,
    /// The markers of the next page (key, upload id) when there is one.
    next: Option<(String, Option<String>)>,
}

/// Pages `all` (id, upload) as S3 does: by key, then by upload id; after the markers; keys
/// sharing a prefix up to `delimiter` rolled into one common prefix; common prefixes and
/// uploads counted together against `max`.
fn page(mut all: Vec<(String, UploadInfo)>, request: PageRequest<'_>) -> Page {
    let PageRequest {
        prefix,
        delimiter,
        key_marker,
        upload_id_marker,
        max,
    } = request;
    all.retain(|(_, info)| info.key.starts_with(prefix));
    all.sort_by(|(a, x), (b, y)| (&x.key, a).cmp(&(&y.key, b)));
    // A marker that is a common prefix (a previous page ended on it) skips all under it.
    let rolled_up = delimiter.is_some_and(|d| {
        key_marker
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.ends_with(d))
    });
    let start = match upload_id_marker.filter(|_| !key_marker.is_empty()) {
        Some(marker) => all
            .partition_point(|(id, info)| (info.key.as_str(), id.as_str()) <= (key_marker, marker)),
        None => all.partition_point(|(_, info)| {
            info.key.as_str() <= key_marker || (rolled_up && info.key.starts_with(key_marker))
        }),
    };
    let mut page = Page {
        uploads: Vec::new(),
        common_prefixes: Vec::new(),
        truncated: false,
        next: None,
    };
    let mut last: Option<(String, Option<String>)> = None;
    for (id, info) in all.into_iter().skip(start) {
        let rolled = delimiter.and_then(|d| {
            let rest = &info.key[prefix.len()..];
            rest.find(d)
                .map(|at| info.key[..prefix.len() + at + d.len()].to_string())
        });
        if let Some(common) = &rolled
            && page.common_prefixes.last() == Some(common)
        {
            continue;
        }
        if page.uploads.len() + page.common_prefixes.len() >= max {
            page.truncated = true;
            page.next = last;
            break;
        }
        match rolled {
            Some(common) => {
                last = Some((common.clone(), None));
                page.common_prefixes.push(common);
            }
            None => {
                last = Some((info.key.clone(), Some(id.clone())));
                page.uploads.push((id, info));
            }
        }
    }
    page
}
