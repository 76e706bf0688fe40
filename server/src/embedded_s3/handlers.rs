//! The S3 operations the embedded endpoint serves. `s3s` speaks the protocol and verifies
//! SigV4 (presigned URLs included) before these run; each method here hands its request to the
//! module that implements it (`object_ops`, `listing`, `multipart`). Every change is reported
//! as an `ObjectEvent` on the event channel, as S3 reports it to its notifications. Operations
//! not listed here answer S3's `NotImplemented` (the default of the `S3` trait).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};
use tracing::{info, warn};

use super::disk::{Disk, ObjectMeta};
use super::{copy, delete, listing, multipart, object_ops};
use crate::events::{EventSender, ObjectChange, ObjectEvent};

/// Objects on local disk, served through the `S3` trait.
pub struct DiskObjects {
    pub(super) disk: Arc<Disk>,
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
            disk: Arc::new(Disk::open(root, bucket)?),
            events,
            next_sequencer: AtomicU64::new(start),
        })
    }

    /// The same objects for the server's own reads (HEAD), emitting no events: the event
    /// consumer ends once the endpoint clients use is gone, while these reads go on.
    pub fn reader(&self) -> Self {
        Self {
            disk: self.disk.clone(),
            events: None,
            next_sequencer: AtomicU64::new(0),
        }
    }

    /// Reports a change to the event consumer. Waits while its queue is full (back-pressure);
    /// never drops an event while the consumer runs.
    pub(super) async fn emit(
        &self,
        change: ObjectChange,
        key: &str,
        size: Option<u64>,
        etag: Option<String>,
    ) {
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

    /// Reports a new object (`ObjectCreated:Put`, `Copy`, `CompleteMultipartUpload`).
    pub(super) async fn emit_created(&self, meta: &ObjectMeta) {
        self.emit(
            ObjectChange::Created,
            &meta.key,
            Some(meta.size),
            Some(meta.etag.clone()),
        )
        .await;
    }

    /// Removes incomplete multipart uploads started more than `older_than` ago (S3's
    /// `AbortIncompleteMultipartUpload` lifecycle rule); how many were removed.
    pub async fn abort_stale_uploads(&self, older_than: Duration) -> usize {
        multipart::abort_stale(&self.disk, older_than).await
    }

    /// What sweeps abandoned multipart uploads in the background (it holds no event sender,
    /// so it never keeps the event consumer waiting at shutdown).
    pub fn upload_sweeper(&self) -> UploadSweeper {
        UploadSweeper(self.disk.clone())
    }
}

/// Sweeps abandoned multipart uploads.
pub struct UploadSweeper(Arc<Disk>);

impl UploadSweeper {
    /// A sweep now (uploads left before a restart) and then every `interval`.
    pub async fn run_every(self, interval: Duration, older_than: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let removed = multipart::abort_stale(&self.0, older_than).await;
            if removed > 0 {
                info!(removed, "removed abandoned multipart uploads");
            }
        }
    }
}

type Reply<T> = S3Result<S3Response<T>>;

#[async_trait::async_trait]
impl S3 for DiskObjects {
    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> Reply<ListBucketsOutput> {
        listing::list_buckets(self, req.input).await
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> Reply<HeadBucketOutput> {
        listing::head_bucket(self, req.input).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> Reply<GetBucketLocationOutput> {
        listing::get_bucket_location(self, req.input).await
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> Reply<CreateBucketOutput> {
        listing::create_bucket(self, req.input).await
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> Reply<ListObjectsOutput> {
        listing::list_objects(self, req.input).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> Reply<ListObjectsV2Output> {
        listing::list_objects_v2(self, req.input).await
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> Reply<PutObjectOutput> {
        object_ops::put_object(self, req.input, req.trailing_headers).await
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> Reply<GetObjectOutput> {
        object_ops::get_object(self, req.input).await
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> Reply<HeadObjectOutput> {
        object_ops::head_object(self, req.input).await
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> Reply<DeleteObjectOutput> {
        delete::delete_object(self, req.input).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> Reply<DeleteObjectsOutput> {
        delete::delete_objects(self, req.input).await
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> Reply<CopyObjectOutput> {
        copy::copy_object(self, req.input).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> Reply<CreateMultipartUploadOutput> {
        multipart::create(self, req.input).await
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> Reply<UploadPartOutput> {
        multipart::upload_part(self, req.input, req.trailing_headers).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> Reply<UploadPartCopyOutput> {
        multipart::upload_part_copy(self, req.input).await
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> Reply<ListPartsOutput> {
        multipart::list_parts(self, req.input).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> Reply<ListMultipartUploadsOutput> {
        multipart::list_uploads(self, req.input).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> Reply<CompleteMultipartUploadOutput> {
        multipart::complete(self, req.input).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> Reply<AbortMultipartUploadOutput> {
        multipart::abort(self, req.input).await
    }
}
