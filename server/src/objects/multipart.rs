//! Multipart uploads in object storage: start, presign `UploadPart`, list parts, complete and
//! abort. The service decides when; these calls only speak S3.

use std::time::Duration;

use anyhow::Context as _;
use app::model::{AssetId, Checksum, UploadedPart, UrlLifetime};
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use chrono::{DateTime, Utc};

use super::{Objects, Presigned, UploadTerms, finish, key_for, timed};

/// A part to complete with: number, ETag (bare) and the SHA-256 storage holds for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartToComplete {
    pub part_number: u32,
    pub etag: String,
    pub sha256: Option<String>,
}

/// What completing an upload found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    Completed,
    /// Storage has no such upload: completed before, or aborted.
    NoSuchUpload,
    /// Storage refused the part list (a part missing, an ETag or checksum that does not match,
    /// a part under 5 MiB that is not the last): S3's message.
    Refused(String),
}

/// How long completion may take: storage assembles the object before it answers (S3 documents
/// minutes for big objects), far past the 3 s other calls get.
pub const COMPLETION_TIMEOUT: Duration = Duration::from_secs(900);

fn completion_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(COMPLETION_TIMEOUT)
        .operation_timeout(COMPLETION_TIMEOUT)
        .build()
}

/// S3 error codes that mean "that upload id is not (or no longer) there".
fn is_no_such_upload<E: aws_sdk_s3::error::ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    matches!(err, SdkError::ServiceError(e) if e.err().code() == Some("NoSuchUpload"))
}

impl Objects {
    /// Starts a multipart upload for the asset's key (with the terms' content type and
    /// metadata; size and checksum are the parts' business); its upload id. With
    /// `part_sha256`, every part must carry its SHA-256, and storage keeps the composite
    /// checksum.
    pub async fn create_multipart(
        &self,
        id: AssetId,
        terms: &UploadTerms,
        part_sha256: bool,
    ) -> anyhow::Result<String> {
        let mut request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key_for(id));
        if let Some(content_type) = &terms.content_type {
            request = request.content_type(content_type);
        }
        if !terms.metadata.is_empty() {
            request = request.set_metadata(Some(terms.metadata.clone().into_iter().collect()));
        }
        if part_sha256 {
            request = request.checksum_algorithm(ChecksumAlgorithm::Sha256);
        }
        let out = timed("create_multipart_upload", request.send())
            .await
            .context("starting a multipart upload")?;
        out.upload_id
            .filter(|id| !id.is_empty())
            .context("storage returned no upload id")
    }

    /// A presigned `UploadPart`; a declared SHA-256 is signed in (storage refuses other bytes).
    pub async fn presign_part(
        &self,
        id: AssetId,
        upload_id: &str,
        part_number: u32,
        sha256: Option<&Checksum>,
        lifetime: UrlLifetime,
    ) -> anyhow::Result<Presigned> {
        let mut request = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(key_for(id))
            .upload_id(upload_id)
            .part_number(part_number as i32);
        if let Some(checksum) = sha256 {
            request = request.checksum_sha256(&checksum.base64);
        }
        let (config, expires_at) = self.presigning(lifetime).await?;
        let presigned = timed("presign_upload_part", request.presigned(config))
            .await
            .context("presigning a part URL")?;
        Ok(finish(presigned, expires_at))
    }

    /// Every part storage holds for the upload, in part order; `None` when the upload does not
    /// exist (completed or aborted).
    pub async fn list_parts(
        &self,
        id: AssetId,
        upload_id: &str,
    ) -> anyhow::Result<Option<Vec<UploadedPart>>> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let call = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key_for(id))
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send();
            let page = match timed("list_parts", call).await {
                Ok(page) => page,
                Err(err) if is_no_such_upload(&err) => return Ok(None),
                Err(err) => return Err(anyhow::Error::new(err).context("listing parts")),
            };
            for part in page.parts() {
                parts.push(UploadedPart {
                    part_number: part.part_number().unwrap_or_default().max(0) as u32,
                    size: part.size().unwrap_or_default().max(0) as u64,
                    etag: part
                        .e_tag()
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_string(),
                    sha256: part.checksum_sha256().map(str::to_string),
                    last_modified: part
                        .last_modified()
                        .and_then(|t| DateTime::<Utc>::from_timestamp_millis(t.to_millis().ok()?))
                        .unwrap_or_default(),
                });
            }
            match page.next_part_number_marker() {
                Some(next) if page.is_truncated() == Some(true) && !next.is_empty() => {
                    marker = Some(next.to_string());
                }
                _ => break,
            }
        }
        parts.sort_by_key(|part| part.part_number);
        Ok(Some(parts))
    }

    /// Assembles the object from `parts`. `If-None-Match: *`: it never replaces an object.
    pub async fn complete_multipart(
        &self,
        id: AssetId,
        upload_id: &str,
        parts: &[PartToComplete],
    ) -> anyhow::Result<Completion> {
        let parts = parts
            .iter()
            .map(|part| {
                CompletedPart::builder()
                    .part_number(part.part_number as i32)
                    .e_tag(format!("\"{}\"", part.etag))
                    .set_checksum_sha256(part.sha256.clone())
                    .build()
            })
            .collect();
        let call = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key_for(id))
            .upload_id(upload_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::default().timeout_config(completion_timeouts()),
            )
            .send();
        match timed("complete_multipart_upload", call).await {
            Ok(_) => Ok(Completion::Completed),
            Err(err) if is_no_such_upload(&err) => Ok(Completion::NoSuchUpload),
            Err(SdkError::ServiceError(err)) if err.raw().status().as_u16() == 400 => {
                let message = err.err().meta().message().unwrap_or("invalid part list");
                Ok(Completion::Refused(message.to_string()))
            }
            Err(err) => Err(anyhow::Error::new(err).context("completing a multipart upload")),
        }
    }

    /// Drops the upload and its parts; an upload already gone is fine.
    pub async fn abort_multipart(&self, id: AssetId, upload_id: &str) -> anyhow::Result<()> {
        let call = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key_for(id))
            .upload_id(upload_id)
            .send();
        match timed("abort_multipart_upload", call).await {
            Ok(_) => Ok(()),
            Err(err) if is_no_such_upload(&err) => Ok(()),
            Err(err) => Err(anyhow::Error::new(err).context("aborting a multipart upload")),
        }
    }
}
