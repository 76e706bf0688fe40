//! How the embedded endpoint keeps objects on disk: one directory per bucket, one file per
//! object: `[data][metadata JSON][u32 LE metadata length][MAGIC]`. A write streams into a temp
//! file, fsyncs, then renames (or hard-links, for create-if-absent) onto the key's file, so a
//! crash mid-upload never leaves a half object under the real key, and memory does not grow
//! with the size. Leftover temp files are cleared at start-up.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use s3s::dto::Timestamp;
use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _, BufWriter};

const MAGIC: &[u8; 8] = b"ASSETOB1";
const TRAILER_LEN: u64 = 12;
const WRITE_BUFFER: usize = 1 << 20;
/// Longest on-disk file name we create (most filesystems allow 255 bytes).
const MAX_FILE_NAME: usize = 240;

/// What is kept beside an object's bytes.
#[derive(Serialize, Deserialize)]
pub(super) struct ObjectMeta {
    pub(super) etag: String,
    pub(super) content_type: Option<String>,
    pub(super) last_modified_ms: u64,
    /// Base64 SHA-256, kept when the upload carried `x-amz-checksum-sha256` (as S3 does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) sha256: Option<String>,
}

impl ObjectMeta {
    pub(super) fn last_modified(&self) -> Timestamp {
        Timestamp::from(UNIX_EPOCH + Duration::from_millis(self.last_modified_ms))
    }
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// The directory tree of one bucket.
pub(super) struct Disk {
    root: PathBuf,
    bucket: String,
}

impl Disk {
    pub(super) fn open(root: &Path, bucket: &str) -> anyhow::Result<Self> {
        for dir in [root.join(bucket), root.join(".tmp")] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Leftovers of uploads interrupted by a crash are never visible; clear them.
        let tmp = root.join(".tmp");
        for entry in
            std::fs::read_dir(&tmp).with_context(|| format!("reading {}", tmp.display()))?
        {
            let path = entry?.path();
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            bucket: bucket.to_string(),
        })
    }

    pub(super) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The file of `key` in `bucket`; only our one bucket exists.
    pub(super) fn object_path(&self, bucket: &str, key: &str) -> S3Result<PathBuf> {
        if bucket != self.bucket {
            return Err(s3_error!(
                NoSuchBucket,
                "The specified bucket does not exist"
            ));
        }
        // A flat, reversible file name: no key can climb out of the bucket directory.
        let name = percent_encoding::utf8_percent_encode(key, FILE_NAME).to_string();
        if key.is_empty() || name.len() > MAX_FILE_NAME {
            return Err(s3_error!(KeyTooLongError, "Your key is too long"));
        }
        Ok(self.root.join(bucket).join(name))
    }

    /// A new object file being written; it vanishes unless committed.
    pub(super) async fn writer(&self) -> S3Result<ObjectWriter> {
        let path = self
            .root
            .join(".tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let tmp = TempFile(Some(path.clone()));
        let file = tokio::fs::File::create(&path).await.map_err(internal)?;
        Ok(ObjectWriter {
            writer: BufWriter::with_capacity(WRITE_BUFFER, file),
            tmp,
        })
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

pub(super) struct ObjectWriter {
    writer: BufWriter<tokio::fs::File>,
    tmp: TempFile,
}

/// Why a commit did not happen.
pub(super) enum CommitError {
    /// Create-if-absent, and the key exists.
    Exists,
    Failed(s3s::S3Error),
}

impl ObjectWriter {
    pub(super) async fn write(&mut self, chunk: &[u8]) -> S3Result<()> {
        self.writer.write_all(chunk).await.map_err(internal)
    }

    /// Appends the metadata, makes the file durable and puts it under `path`: replacing what
    /// is there, or only if nothing is (`only_if_absent`, race-free with a hard link).
    pub(super) async fn commit(
        mut self,
        meta: &ObjectMeta,
        path: &Path,
        only_if_absent: bool,
    ) -> Result<(), CommitError> {
        let failed = |err: std::io::Error| CommitError::Failed(internal(err));
        let meta_bytes = serde_json::to_vec(meta).map_err(|e| failed(e.into()))?;
        self.writer.write_all(&meta_bytes).await.map_err(failed)?;
        self.writer
            .write_all(&(meta_bytes.len() as u32).to_le_bytes())
            .await
            .map_err(failed)?;
        self.writer.write_all(MAGIC).await.map_err(failed)?;
        self.writer.flush().await.map_err(failed)?;
        self.writer.get_ref().sync_all().await.map_err(failed)?;
        let tmp_path = self.tmp.0.clone().unwrap_or_default();
        if only_if_absent {
            match tokio::fs::hard_link(&tmp_path, path).await {
                Ok(()) => {} // the temp name is removed on drop
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(CommitError::Exists);
                }
                Err(err) => return Err(failed(err)),
            }
        } else {
            tokio::fs::rename(&tmp_path, path).await.map_err(failed)?;
            self.tmp.0 = None;
        }
        drop(self.tmp);
        if let Some(dir) = path.parent() {
            // Make the rename itself durable.
            let dir = dir.to_path_buf();
            tokio::task::spawn_blocking(move || {
                std::fs::File::open(dir).and_then(|d| d.sync_all())
            })
            .await
            .map_err(|e| failed(std::io::Error::other(e)))?
            .map_err(failed)?;
        }
        Ok(())
    }
}

pub(super) fn internal(err: impl std::fmt::Display) -> s3s::S3Error {
    s3_error!(InternalError, "{err}")
}

/// The data length and metadata of the object at `path`; `None` when it does not exist.
pub(super) async fn read_meta(path: &Path) -> S3Result<Option<(u64, ObjectMeta)>> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(internal(err)),
    };
    let corrupt = || internal(format!("corrupt object file {}", path.display()));
    let len = file.metadata().await.map_err(internal)?.len();
    if len < TRAILER_LEN {
        return Err(corrupt());
    }
    let mut trailer = [0u8; TRAILER_LEN as usize];
    file.seek(SeekFrom::Start(len - TRAILER_LEN))
        .await
        .map_err(internal)?;
    file.read_exact(&mut trailer).await.map_err(internal)?;
    let (meta_len, magic) = trailer.split_at(4);
    if magic != MAGIC {
        return Err(corrupt());
    }
    let meta_len = u32::from_le_bytes(meta_len.try_into().map_err(|_| corrupt())?) as u64;
    let data_len = len
        .checked_sub(TRAILER_LEN + meta_len)
        .ok_or_else(corrupt)?;
    let mut meta = vec![0u8; meta_len as usize];
    file.seek(SeekFrom::Start(data_len))
        .await
        .map_err(internal)?;
    file.read_exact(&mut meta).await.map_err(internal)?;
    let meta = serde_json::from_slice(&meta).map_err(|_| corrupt())?;
    Ok(Some((data_len, meta)))
}
