//! The embedded S3-compatible endpoint: the object storage of the zero-setup default. Served by
//! the same binary on its own port (SigV4 signatures cover the path, so it cannot sit under a
//! prefix of the main router). `s3s` speaks the protocol and verifies SigV4, presigned URLs
//! included; this module keeps objects on local disk and emits S3 event records.
//!
//! On disk, one file per object: `[data][metadata JSON][u32 LE metadata length][MAGIC]`. A PUT
//! streams into a temp file, fsyncs, then renames over the key's file, so a crash mid-upload
//! never leaves a half object under the real key, and memory does not grow with the size.

use std::convert::Infallible;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::Router;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt as _;
use http::{HeaderName, Method, StatusCode};
use md5::{Digest as _, Md5};
use s3s::dto::{
    DeleteObjectInput, DeleteObjectOutput, ETag, ETagCondition, GetObjectInput, GetObjectOutput,
    HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, PutObjectInput,
    PutObjectOutput, StreamingBlob, Timestamp,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _, BufWriter};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{info, warn};

use crate::events::{S3Bucket, S3Entity, S3EventRecord, S3Object, encode_key, from_records};
use crate::service::Service;

pub const REGION: &str = "us-east-1";
const MAGIC: &[u8; 8] = b"ASSETOB1";
const TRAILER_LEN: u64 = 12;
const WRITE_BUFFER: usize = 1 << 20;
const READ_CHUNK: usize = 256 * 1024;
/// Deliveries of one event are retried this many times, as S3 retries its notifications.
const EVENT_ATTEMPTS: u32 = 5;

/// Access key and secret the embedded endpoint accepts; kept in the data directory so URLs
/// signed before a restart stay valid after it.
#[derive(Clone, Serialize, Deserialize)]
pub struct EmbeddedCredentials {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for EmbeddedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl EmbeddedCredentials {
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join("embedded-s3-credentials.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return serde_json::from_str(&text)
                .with_context(|| format!("reading {}", path.display()));
        }
        let creds = Self {
            access_key: format!("AK{}", uuid::Uuid::new_v4().simple()).to_uppercase()[..20]
                .to_string(),
            secret_key: format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
        };
        std::fs::create_dir_all(data_dir)?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(&creds)?)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(creds)
    }
}

#[derive(Serialize, Deserialize)]
struct ObjectMeta {
    etag: String,
    content_type: Option<String>,
    last_modified_ms: u64,
    /// Base64 SHA-256, kept when the upload carried `x-amz-checksum-sha256` (as S3 does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

/// Objects on local disk, one directory per bucket.
pub struct DiskObjects {
    root: PathBuf,
    bucket: String,
    events: Option<Service>,
    next_sequencer: AtomicU64,
}

impl DiskObjects {
    pub fn open(root: &Path, bucket: &str, events: Option<Service>) -> anyhow::Result<Self> {
        for dir in [root.join(bucket), root.join(".tmp")] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Leftovers of uploads interrupted by a crash are never visible; clear them.
        if let Ok(entries) = std::fs::read_dir(root.join(".tmp")) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        // Sequencers grow across restarts: start from the clock, count up from there.
        let start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Ok(Self {
            root: root.to_path_buf(),
            bucket: bucket.to_string(),
            events,
            next_sequencer: AtomicU64::new(start),
        })
    }

    fn object_path(&self, bucket: &str, key: &str) -> S3Result<PathBuf> {
        if bucket != self.bucket {
            return Err(s3_error!(
                NoSuchBucket,
                "The specified bucket does not exist"
            ));
        }
        // A flat, reversible file name: no key can climb out of the bucket directory.
        let name = percent_encoding::utf8_percent_encode(key, FILE_NAME).to_string();
        if key.is_empty() || name.len() > 240 {
            return Err(s3_error!(KeyTooLongError, "Your key is too long"));
        }
        Ok(self.root.join(bucket).join(name))
    }

    fn emit(&self, event_name: &str, key: &str, size: Option<u64>, etag: Option<String>) {
        let Some(service) = self.events.clone() else {
            return;
        };
        let sequencer = format!(
            "{:016X}",
            self.next_sequencer.fetch_add(1, Ordering::Relaxed)
        );
        let record = S3EventRecord {
            event_version: "2.1".into(),
            event_source: "aws:s3".into(),
            aws_region: REGION.into(),
            event_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            event_name: event_name.into(),
            s3: S3Entity {
                schema_version: "1.0".into(),
                configuration_id: "embedded".into(),
                bucket: S3Bucket {
                    name: self.bucket.clone(),
                    arn: format!("arn:aws:s3:::{}", self.bucket),
                },
                object: S3Object {
                    key: encode_key(key),
                    size,
                    e_tag: etag,
                    sequencer: Some(sequencer),
                },
            },
        };
        // Delivered after the response, like S3's notifications, with retries on failure.
        tokio::spawn(async move {
            let delivery = from_records(vec![record]);
            for attempt in 1..=EVENT_ATTEMPTS {
                match service.apply_events(&delivery).await {
                    Ok(_) => return,
                    Err(err) => {
                        warn!(attempt, error = %err, "event delivery failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
                    }
                }
            }
        });
    }
}

/// Percent-encode everything but unreserved characters in on-disk file names.
const FILE_NAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

/// Removes a temp file unless the upload completed.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn internal(err: impl std::fmt::Display) -> s3s::S3Error {
    s3_error!(InternalError, "{err}")
}

async fn read_meta(path: &Path) -> S3Result<Option<(u64, ObjectMeta)>> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(internal(err)),
    };
    let len = file.metadata().await.map_err(internal)?.len();
    if len < TRAILER_LEN {
        return Err(internal("corrupt object file"));
    }
    let mut trailer = [0u8; TRAILER_LEN as usize];
    file.seek(SeekFrom::Start(len - TRAILER_LEN))
        .await
        .map_err(internal)?;
    file.read_exact(&mut trailer).await.map_err(internal)?;
    if &trailer[4..] != MAGIC {
        return Err(internal("corrupt object file"));
    }
    let meta_len = u32::from_le_bytes(trailer[..4].try_into().unwrap_or_default()) as u64;
    let data_len = len
        .checked_sub(TRAILER_LEN + meta_len)
        .ok_or_else(|| internal("corrupt object file"))?;
    let mut meta = vec![0u8; meta_len as usize];
    file.seek(SeekFrom::Start(data_len))
        .await
        .map_err(internal)?;
    file.read_exact(&mut meta).await.map_err(internal)?;
    let meta = serde_json::from_slice(&meta).map_err(internal)?;
    Ok(Some((data_len, meta)))
}

fn timestamp(ms: u64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(ms))
}

#[async_trait::async_trait]
impl S3 for DiskObjects {
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        if req.input.bucket != self.bucket {
            return Err(s3_error!(NoSuchBucket));
        }
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let path = self.object_path(&input.bucket, &input.key)?;
        let only_if_absent = matches!(input.if_none_match, Some(ETagCondition::Any));
        if only_if_absent && tokio::fs::try_exists(&path).await.map_err(internal)? {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }

        let tmp_path = self
            .root
            .join(".tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let mut tmp = TempFile(Some(tmp_path.clone()));
        let file = tokio::fs::File::create(&tmp_path).await.map_err(internal)?;
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
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
                writer.write_all(&chunk).await.map_err(internal)?;
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
            last_modified_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64,
        };
        let meta_bytes = serde_json::to_vec(&meta).map_err(internal)?;
        writer.write_all(&meta_bytes).await.map_err(internal)?;
        writer
            .write_all(&(meta_bytes.len() as u32).to_le_bytes())
            .await
            .map_err(internal)?;
        writer.write_all(MAGIC).await.map_err(internal)?;
        writer.flush().await.map_err(internal)?;
        writer.into_inner().sync_all().await.map_err(internal)?;

        if only_if_absent {
            // A hard link fails if the key exists: create-if-absent without a race.
            match tokio::fs::hard_link(&tmp_path, &path).await {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(s3_error!(
                        PreconditionFailed,
                        "At least one of the pre-conditions you specified did not hold"
                    ));
                }
                Err(err) => return Err(internal(err)),
            }
        } else {
            tokio::fs::rename(&tmp_path, &path)
                .await
                .map_err(internal)?;
            tmp.0 = None;
        }
        drop(tmp);
        if let Some(dir) = path.parent() {
            // Make the rename itself durable.
            let dir = dir.to_path_buf();
            let _ = tokio::task::spawn_blocking(move || {
                std::fs::File::open(dir).and_then(|d| d.sync_all())
            })
            .await;
        }

        self.emit(
            "ObjectCreated:Put",
            &input.key,
            Some(size),
            Some(etag.clone()),
        );
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
        let path = self.object_path(&input.bucket, &input.key)?;
        let Some((data_len, meta)) = read_meta(&path).await? else {
            return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
        };
        let file = tokio::fs::File::open(&path).await.map_err(internal)?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file.take(data_len), READ_CHUNK);
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            content_length: Some(data_len as i64),
            content_type: input.response_content_type.or(meta.content_type),
            content_disposition: input.response_content_disposition,
            e_tag: Some(ETag::Strong(meta.etag)),
            last_modified: Some(timestamp(meta.last_modified_ms)),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let path = self.object_path(&input.bucket, &input.key)?;
        let Some((data_len, meta)) = read_meta(&path).await? else {
            return Err(s3_error!(NoSuchKey));
        };
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(data_len as i64),
            checksum_sha256: meta.sha256,
            content_type: meta.content_type,
            e_tag: Some(ETag::Strong(meta.etag)),
            last_modified: Some(timestamp(meta.last_modified_ms)),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        let path = self.object_path(&input.bucket, &input.key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => self.emit("ObjectRemoved:Delete", &input.key, None, None),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {} // S3 answers 204 either way
            Err(err) => return Err(internal(err)),
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }
}

/// The endpoint as an axum router: CORS for browsers (PUT/GET from the dashboard, ETag
/// exposed), one log line per request without the query string (it holds the signature).
pub fn router(objects: DiskObjects, credentials: &EmbeddedCredentials) -> Router {
    let mut builder = s3s::service::S3ServiceBuilder::new(objects);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        credentials.access_key.clone(),
        credentials.secret_key.clone(),
    ));
    let s3 = builder.build();
    let service = tower::service_fn(move |req: axum::extract::Request| {
        let s3 = s3.clone();
        async move {
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            let started = std::time::Instant::now();
            let response = match s3.call(req.map(s3s::Body::http_body_unsync)).await {
                Ok(response) => response.map(axum::body::Body::new),
                Err(err) => {
                    warn!(%method, %path, error = ?err, "embedded s3 failed");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            };
            info!(
                %method, %path, status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64, "embedded s3"
            );
            Ok::<_, Infallible>(response)
        }
    });
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([Method::GET, Method::PUT, Method::HEAD])
        .allow_headers(tower_http::cors::Any)
        .expose_headers([
            http::header::ETAG,
            HeaderName::from_static("x-amz-request-id"),
        ])
        .max_age(Duration::from_secs(3600));
    Router::new().fallback_service(service).layer(cors)
}
