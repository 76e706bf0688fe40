//! The S3 operations the embedded endpoint serves, on the disk format of `disk`. `s3s` speaks
//! the protocol and verifies SigV4 (presigned URLs included) before these run. Each change is
//! reported as an `ObjectEvent` on the event channel, as S3 reports it to its notifications.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt as _;
use md5::{Digest as _, Md5};
use s3s::dto::{
    DeleteObjectInput, DeleteObjectOutput, ETag, ETagCondition, GetObjectInput, GetObjectOutput,
    HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, PutObjectInput,
    PutObjectOutput, StreamingBlob,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use sha2::Sha256;
use tokio::io::AsyncReadExt as _;
use tracing::warn;

use super::disk::{CommitError, Disk, ObjectMeta, internal, now_ms, read_meta};
use crate::events::{EventSender, ObjectChange, ObjectEvent};

const READ_CHUNK: usize = 256 * 1024;

/// Objects on local disk, served through the `S3` trait.
pub struct DiskObjects {
    disk: Disk,
    /// `None` when events are off (`--embedded-events false`, which simulates lost events).
    events: Option<EventSender>,
    next_sequencer: AtomicU64,
}

impl DiskObjects {
    pub fn open(
        root: &std::path::Path,
        bucket: &str,
        events: Option<EventSender>,
    ) -> anyhow::Result<Self> {
        // Sequencers grow across restarts: start from the clock, count up from there.
        let start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Ok(Self {
            disk: Disk::open(root, bucket)?,
            events,
            next_sequencer: AtomicU64::new(start),
        })
    }

    /// Reports a change to the event consumer. Waits while its queue is full (back-pressure);
    /// never drops an event while the consumer runs.
    async fn emit(&self, change: ObjectChange, key: &str, size: Option<u64>, etag: Option<String>) {
        let Some(events) = &self.events else {
            return;
        };
        let sequencer = format!(
            "{:016X}",
            self.next_sequencer.fetch_add(1, Ordering::Relaxed)
        );
        let event = ObjectEvent {
            change,
            bucket: self.disk.bucket().to_string(),
            key: key.to_string(),
            size,
            etag,
            sequencer: Some(sequencer),
        };
        if events.send(event).await.is_err() {
            warn!(key, "the event consumer has stopped; event not delivered");
        }
    }
}

fn precondition_failed() -> s3s::S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}

#[async_trait::async_trait]
impl S3 for DiskObjects {
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        if req.input.bucket != self.disk.bucket() {
            return Err(s3_error!(NoSuchBucket));
        }
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let path = self.disk.object_path(&input.bucket, &input.key)?;
        let only_if_absent = matches!(input.if_none_match, Some(ETagCondition::Any));
        if only_if_absent && tokio::fs::try_exists(&path).await.map_err(internal)? {
            return Err(precondition_failed());
        }

        let mut writer = self.disk.writer().await?;
        let mut md5 = Md5::new();
        // Hash SHA-256 only when the client sent one to check against.
        let mut sha256 = input.checksum_sha256.as_ref().map(|_| Sha256::new());
        let mut size: u64 = 0;
        if let Some(mut body) = input.body {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
                md5.update(&chunk);
                if let Some(hasher) = sha256.as_mut() {
                    hasher.update(&chunk);
                }
                size += chunk.len() as u64;
                writer.write(&chunk).await?;
            }
        }
        if let Some(expected) = input.content_length
            && expected as u64 != size
        {
            return Err(s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header"
            ));
        }
        let md5 = md5.finalize();
        // Declared digests are checked as S3 checks them: a mismatch stores nothing.
        if input
            .content_md5
            .as_ref()
            .is_some_and(|declared| *declared != BASE64.encode(md5))
        {
            return Err(s3_error!(
                BadDigest,
                "The Content-MD5 you specified did not match what we received."
            ));
        }
        let sha256 = sha256.map(|hasher| BASE64.encode(hasher.finalize()));
        if input.checksum_sha256.is_some() && input.checksum_sha256 != sha256 {
            return Err(s3_error!(
                BadDigest,
                "The SHA256 you specified did not match the calculated checksum."
            ));
        }
        let etag = hex::encode(md5);
        let meta = ObjectMeta {
            etag: etag.clone(),
            sha256,
            content_type: input.content_type.clone(),
            last_modified_ms: now_ms(),
        };
        match writer.commit(&meta, &path, only_if_absent).await {
            Ok(()) => {}
            Err(CommitError::Exists) => return Err(precondition_failed()),
            Err(CommitError::Failed(err)) => return Err(err),
        }
        self.emit(
            ObjectChange::Created,
            &input.key,
            Some(size),
            Some(etag.clone()),
        )
        .await;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let path = self.disk.object_path(&input.bucket, &input.key)?;
        let Some((data_len, meta)) = read_meta(&path).await? else {
            return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
        };
        let file = tokio::fs::File::open(&path).await.map_err(internal)?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file.take(data_len), READ_CHUNK);
        let last_modified = Some(meta.last_modified());
        Ok(S3Response::new(GetObjectOutput {
            last_modified,
            body: Some(StreamingBlob::wrap(stream)),
            content_length: Some(data_len as i64),
            content_type: input.response_content_type.or(meta.content_type),
            content_disposition: input.response_content_disposition,
            e_tag: Some(ETag::Strong(meta.etag)),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let path = self.disk.object_path(&input.bucket, &input.key)?;
        let Some((data_len, meta)) = read_meta(&path).await? else {
            return Err(s3_error!(NoSuchKey));
        };
        let last_modified = Some(meta.last_modified());
        Ok(S3Response::new(HeadObjectOutput {
            last_modified,
            content_length: Some(data_len as i64),
            checksum_sha256: meta.sha256,
            content_type: meta.content_type,
            e_tag: Some(ETag::Strong(meta.etag)),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        let path = self.disk.object_path(&input.bucket, &input.key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {
                self.emit(ObjectChange::Removed, &input.key, None, None)
                    .await
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {} // S3 answers 204 either way
            Err(err) => return Err(internal(err)),
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }
}
