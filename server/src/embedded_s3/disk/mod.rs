//! How the embedded endpoint keeps objects on disk, under its root directory:
//! - `<bucket>/<key>`: the object's exact bytes (the key percent-encoded into one flat file
//!   name), so an operator can copy a file straight out; a key whose encoding is longer than a
//!   file name may be is named `~<sha256 of the key>` instead (`~` is always encoded, so the
//!   two never meet); the key itself is always in the metadata;
//! - `.meta/<bucket>/<key>`: its metadata (JSON), beside it;
//! - `.tmp/`: files being written, and the commit journal;
//! - `.uploads/<upload id>/`: multipart uploads in progress (see `multipart`);
//! - `FORMAT`: the layout version (an older data directory converts itself on start).
//!
//! A write streams into a temp file and fsyncs it. Committing it writes a journal entry naming
//! the temp file, the key and the new metadata, then renames the data into place, writes the
//! metadata file and drops the entry; a crash at any point is either before the entry (nothing
//! visible changed, the temp file is cleared on start) or after it (start-up redoes the rest).
//! All objects' metadata is also held in memory: reads and listings never scan the disk.

mod files;
mod legacy;
mod meta;
mod recovery;

pub(super) use files::{ObjectWriter, StagedData, TempFile, read_range, sync_dir, write_durably};
pub(super) use meta::{Checksums, ContentHeaders, ObjectMeta, now_ms};

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};
use tokio::io::BufWriter;
use tracing::info;

const FORMAT_VERSION: &str = "2";
const WRITE_BUFFER: usize = 1 << 20;
/// Longest on-disk file name we create (most filesystems allow 255 bytes).
const MAX_FILE_NAME: usize = 240;
/// S3's longest key, in UTF-8 bytes.
pub(super) const MAX_KEY_BYTES: usize = 1024;
/// What S3 answers for an error it does not explain; the detail goes to the log only.
pub(super) const INTERNAL_ERROR_MESSAGE: &str =
    "We encountered an internal error. Please try again.";
/// Writers to one key are serialised by one of these locks (readers share it).
const LOCK_STRIPES: usize = 64;

/// An internal failure (disk full, permissions, ...): logged with its detail, answered with
/// S3's generic `InternalError` (OS error text is for the operator, not the client).
pub(super) fn internal(err: impl std::fmt::Display) -> s3s::S3Error {
    tracing::error!(error = %err, "embedded s3 internal error");
    s3_error!(InternalError, "{INTERNAL_ERROR_MESSAGE}")
}

/// A journal entry: enough to finish a commit after a crash.
#[derive(Serialize, Deserialize)]
struct CommitEntry {
    /// The fsynced temp file with the new bytes.
    data: PathBuf,
    object: PathBuf,
    meta_path: PathBuf,
    meta: ObjectMeta,
    /// A directory removed with the commit (a completed multipart upload's parts).
    #[serde(default)]
    remove_dir: Option<PathBuf>,
}

/// Where a walk over the index goes after a key.
pub(super) enum Walk {
    Next,
    /// On from this key (inclusive).
    SeekTo(String),
    Stop,
}

/// The objects of the one bucket, on disk and indexed in memory.
pub(super) struct Disk {
    root: PathBuf,
    bucket: String,
    index: RwLock<BTreeMap<String, Arc<ObjectMeta>>>,
    stripes: Vec<tokio::sync::RwLock<()>>,
}

impl Disk {
    /// Opens (creating, converting or recovering as needed) the tree under `root`.
    pub(super) fn open(root: &Path, bucket: &str) -> anyhow::Result<Self> {
        let disk = Self {
            root: root.to_path_buf(),
            bucket: bucket.to_string(),
            index: RwLock::new(BTreeMap::new()),
            stripes: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::RwLock::new(()))
                .collect(),
        };
        for dir in [
            disk.bucket_dir(),
            disk.meta_dir(),
            disk.tmp_dir(),
            disk.uploads_dir(),
        ] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let format = root.join("FORMAT");
        if std::fs::read_to_string(&format).ok().as_deref() != Some(FORMAT_VERSION) {
            let converted = disk.convert_trailer_format()?;
            if converted > 0 {
                info!(converted, "converted objects to the exact-bytes layout");
            }
            write_durably(&format, FORMAT_VERSION.as_bytes())?;
        }
        disk.recover()?;
        let objects = disk.load_index()?;
        info!(objects, bucket, "embedded object store opened");
        Ok(disk)
    }

    pub(super) fn bucket(&self) -> &str {
        &self.bucket
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    fn bucket_dir(&self) -> PathBuf {
        self.root.join(&self.bucket)
    }

    fn meta_dir(&self) -> PathBuf {
        self.root.join(".meta").join(&self.bucket)
    }

    pub(super) fn tmp_dir(&self) -> PathBuf {
        self.root.join(".tmp")
    }

    pub(super) fn uploads_dir(&self) -> PathBuf {
        self.root.join(".uploads")
    }

    /// `NoSuchBucket` unless `bucket` is ours.
    pub(super) fn check_bucket(&self, bucket: &str) -> S3Result<()> {
        if bucket == self.bucket {
            Ok(())
        } else {
            Err(s3_error!(
                NoSuchBucket,
                "The specified bucket does not exist"
            ))
        }
    }

    /// The on-disk file name of `key`: flat, so no key climbs out of its directory; the
    /// percent-encoded key, or its hash when that is too long for a file name. S3 takes keys
    /// of up to 1,024 bytes; `.` and `..` would name the directory itself or its parent, so
    /// they are refused (as MinIO does) rather than stored under another name.
    fn file_name(key: &str) -> S3Result<String> {
        if key.len() > MAX_KEY_BYTES {
            return Err(s3_error!(KeyTooLongError, "Your key is too long"));
        }
        if key.is_empty() || key == "." || key == ".." {
            return Err(s3_error!(
                InvalidArgument,
                "Object key cannot be empty, \".\" or \"..\""
            ));
        }
        let name = percent_encoding::utf8_percent_encode(key, FILE_NAME).to_string();
        if name.len() <= MAX_FILE_NAME {
            return Ok(name);
        }
        use sha2::Digest as _;
        Ok(format!(
            "~{}",
            hex::encode(sha2::Sha256::digest(key.as_bytes()))
        ))
    }

    /// Checks the bucket and that `key` can be stored.
    pub(super) fn check_key(&self, bucket: &str, key: &str) -> S3Result<()> {
        self.check_bucket(bucket)?;
        Self::file_name(key).map(|_| ())
    }

    fn stripe(&self, key: &str) -> &tokio::sync::RwLock<()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        &self.stripes[(hasher.finish() as usize) % LOCK_STRIPES]
    }

    /// The current metadata of `key`.
    pub(super) fn meta(&self, key: &str) -> Option<Arc<ObjectMeta>> {
        self.index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// The metadata and an open handle on the bytes of `key`, taken together (a concurrent
    /// replace cannot pair one version's metadata with another's bytes).
    pub(super) async fn open_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> S3Result<Option<(Arc<ObjectMeta>, tokio::fs::File)>> {
        self.check_bucket(bucket)?;
        let path = self.bucket_dir().join(Self::file_name(key)?);
        let _shared = self.stripe(key).read().await;
        let Some(meta) = self.meta(key) else {
            return Ok(None);
        };
        match tokio::fs::File::open(&path).await {
            Ok(file) => Ok(Some((meta, file))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(internal(err)),
        }
    }

    /// Visits the objects whose keys start with `prefix`, in key order, from `from`, under
    /// one read of the index; `visit` says where to go next (so a listing can skip a whole
    /// common prefix without copying what it skips).
    pub(super) fn walk(
        &self,
        prefix: &str,
        from: std::ops::Bound<&str>,
        mut visit: impl FnMut(&str, &Arc<ObjectMeta>) -> Walk,
    ) {
        use std::ops::Bound;
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let mut lower = match from {
            Bound::Included(key) | Bound::Excluded(key) if key < prefix => {
                Bound::Included(prefix.to_string())
            }
            Bound::Included(key) => Bound::Included(key.to_string()),
            Bound::Excluded(key) => Bound::Excluded(key.to_string()),
            Bound::Unbounded => Bound::Included(prefix.to_string()),
        };
        'seek: loop {
            for (key, meta) in index.range::<String, _>((lower.clone(), Bound::Unbounded)) {
                if !key.starts_with(prefix) {
                    return;
                }
                match visit(key, meta) {
                    Walk::Next => {}
                    Walk::Stop => return,
                    Walk::SeekTo(next) => {
                        lower = Bound::Included(next);
                        continue 'seek;
                    }
                }
            }
            return;
        }
    }

    /// A new temp file in `.tmp`; it vanishes unless committed.
    pub(super) async fn writer(&self) -> S3Result<ObjectWriter> {
        let path = self
            .tmp_dir()
            .join(uuid::Uuid::new_v4().simple().to_string());
        let file = tokio::fs::File::create(&path).await.map_err(internal)?;
        Ok(ObjectWriter {
            writer: BufWriter::with_capacity(WRITE_BUFFER, file),
            tmp: TempFile(Some(path)),
        })
    }

    /// A temp file holding the same bytes as `key`'s current object (a hard link: objects are
    /// never modified in place), with its metadata.
    pub(super) async fn link_object(
        &self,
        key: &str,
    ) -> S3Result<Option<(Arc<ObjectMeta>, StagedData)>> {
        let path = self.bucket_dir().join(Self::file_name(key)?);
        let _shared = self.stripe(key).read().await;
        let Some(meta) = self.meta(key) else {
            return Ok(None);
        };
        let tmp = self
            .tmp_dir()
            .join(uuid::Uuid::new_v4().simple().to_string());
        match tokio::fs::hard_link(&path, &tmp).await {
            Ok(()) => Ok(Some((meta, StagedData(TempFile(Some(tmp)))))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(internal(err)),
        }
    }

    /// Puts `data` under `meta.key`, after `condition` accepted the key's current metadata
    /// (checked under the key's lock, so check and write are one step). `remove_dir` goes
    /// with the commit.
    pub(super) async fn commit(
        &self,
        mut data: StagedData,
        meta: ObjectMeta,
        condition: impl FnOnce(Option<&ObjectMeta>) -> S3Result<()>,
        remove_dir: Option<PathBuf>,
    ) -> S3Result<Arc<ObjectMeta>> {
        let name = Self::file_name(&meta.key)?;
        let _exclusive = self.stripe(&meta.key).write().await;
        condition(self.meta(&meta.key).as_deref())?;
        let entry = CommitEntry {
            data: data.0.0.clone().unwrap_or_default(),
            object: self.bucket_dir().join(&name),
            meta_path: self.meta_dir().join(&name),
            meta,
            remove_dir,
        };
        let journal = self
            .tmp_dir()
            .join(format!("{}.commit", uuid::Uuid::new_v4().simple()));
        let encoded = serde_json::to_vec(&entry).map_err(internal)?;
        let entry = tokio::task::spawn_blocking(move || -> std::io::Result<CommitEntry> {
            write_durably(&journal, &encoded)?;
            // From here on the commit happens, now or at the next start.
            recovery::finish_commit(&entry)?;
            std::fs::remove_file(&journal)?;
            sync_dir(journal.parent().unwrap_or(Path::new(".")))?;
            Ok(entry)
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        // The temp name is gone (renamed); nothing to clean up.
        data.0.0 = None;
        let meta = Arc::new(entry.meta);
        self.index
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(meta.key.clone(), meta.clone());
        Ok(meta)
    }

    /// Removes `key` if `condition` accepts its current metadata; whether it existed.
    pub(super) async fn remove(
        &self,
        bucket: &str,
        key: &str,
        condition: impl FnOnce(&ObjectMeta) -> S3Result<()>,
    ) -> S3Result<bool> {
        self.check_bucket(bucket)?;
        let name = Self::file_name(key)?;
        let _exclusive = self.stripe(key).write().await;
        let Some(current) = self.meta(key) else {
            return Ok(false);
        };
        condition(&current)?;
        let (object, meta_path) = (self.bucket_dir().join(&name), self.meta_dir().join(&name));
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            // Bytes first: metadata without bytes is dropped at start-up.
            remove_if_present(&object)?;
            remove_if_present(&meta_path)?;
            sync_dir(object.parent().unwrap_or(Path::new(".")))?;
            sync_dir(meta_path.parent().unwrap_or(Path::new(".")))
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        self.index
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        Ok(true)
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// Percent-encode everything but unreserved characters in on-disk file names.
const FILE_NAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, size: u64) -> ObjectMeta {
        ObjectMeta {
            key: key.to_string(),
            size,
            etag: "e".repeat(32),
            last_modified_ms: 1_700_000_000_000,
            headers: ContentHeaders::default(),
            user: BTreeMap::new(),
            checksums: Checksums::default(),
            parts: Vec::new(),
        }
    }

    async fn put(disk: &Disk, key: &str, bytes: &[u8]) {
        let mut writer = disk.writer().await.unwrap();
        writer.write(bytes).await.unwrap();
        let staged = writer.finish().await.unwrap();
        disk.commit(staged, meta(key, bytes.len() as u64), |_| Ok(()), None)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn objects_are_exact_bytes_with_metadata_beside_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open(dir.path(), "b").unwrap();
        put(&disk, "a/b c.txt", b"hello").await;
        let file = dir.path().join("b").join("a%2Fb%20c.txt");
        assert_eq!(std::fs::read(&file).unwrap(), b"hello");
        assert!(dir.path().join(".meta/b/a%2Fb%20c.txt").exists());
        drop(disk);
        let disk = Disk::open(dir.path(), "b").unwrap();
        assert_eq!(disk.meta("a/b c.txt").unwrap().size, 5);
        let mut listed = Vec::new();
        disk.walk("a/", std::ops::Bound::Unbounded, |key, _| {
            listed.push(key.to_string());
            Walk::Next
        });
        assert_eq!(listed, ["a/b c.txt"]);
    }

    #[test]
    fn file_names_are_flat_bounded_and_never_alias() {
        assert_eq!(Disk::file_name("a/../b").unwrap(), "a%2F..%2Fb");
        assert_eq!(Disk::file_name("./x").unwrap(), ".%2Fx");
        assert_eq!(Disk::file_name("a//b/").unwrap(), "a%2F%2Fb%2F");
        assert_eq!(Disk::file_name("...").unwrap(), "...");
        for bad in ["", ".", ".."] {
            assert_eq!(
                *Disk::file_name(bad).unwrap_err().code(),
                s3s::S3ErrorCode::InvalidArgument,
                "{bad:?}"
            );
        }
        let longest = "é".repeat(MAX_KEY_BYTES / 2);
        let hashed = Disk::file_name(&longest).unwrap();
        assert!(hashed.starts_with('~') && hashed.len() == 65, "{hashed}");
        assert_ne!(
            hashed,
            Disk::file_name(&"é".repeat(MAX_KEY_BYTES / 2 - 1)).unwrap()
        );
        // A key that encodes to `~...` cannot exist: `~` is always encoded.
        assert!(Disk::file_name("~abc").unwrap().starts_with("%7E"));
        assert_eq!(
            *Disk::file_name(&format!("{longest}x")).unwrap_err().code(),
            s3s::S3ErrorCode::KeyTooLongError
        );
    }

    #[test]
    fn internal_errors_answer_a_generic_message() {
        let disk_full = std::io::Error::from_raw_os_error(28);
        assert!(disk_full.to_string().contains("No space left on device"));
        let err = internal(disk_full);
        assert_eq!(*err.code(), s3s::S3ErrorCode::InternalError);
        assert_eq!(err.message(), Some(INTERNAL_ERROR_MESSAGE));
    }

    #[tokio::test]
    async fn long_keys_are_stored_under_a_hashed_name_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open(dir.path(), "b").unwrap();
        let long = format!("assets/{}", "ü".repeat(500));
        put(&disk, &long, b"long").await;
        put(&disk, "short", b"s").await;
        drop(disk);
        let disk = Disk::open(dir.path(), "b").unwrap();
        assert_eq!(disk.meta(&long).unwrap().size, 4);
        let (_, mut file) = disk.open_object("b", &long).await.unwrap().unwrap();
        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut file, &mut bytes)
            .await
            .unwrap();
        assert_eq!(bytes, b"long");
        assert!(disk.remove("b", &long, |_| Ok(())).await.unwrap());
        drop(disk);
        let disk = Disk::open(dir.path(), "b").unwrap();
        assert!(disk.meta(&long).is_none());
        assert_eq!(std::fs::read_dir(dir.path().join("b")).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn a_commit_cut_short_after_its_journal_entry_is_finished_on_start() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open(dir.path(), "b").unwrap();
        put(&disk, "k", b"old").await;
        // The state a crash right after the journal write leaves: a fsynced temp file and an
        // entry naming it; neither the rename nor the metadata happened.
        let data = disk.tmp_dir().join("staged");
        std::fs::write(&data, b"new bytes").unwrap();
        let entry = CommitEntry {
            data,
            object: dir.path().join("b/k"),
            meta_path: dir.path().join(".meta/b/k"),
            meta: meta("k", 9),
            remove_dir: None,
        };
        let journal = disk.tmp_dir().join("x.commit");
        std::fs::write(&journal, serde_json::to_vec(&entry).unwrap()).unwrap();
        // A torn entry of another commit that never happened, and a stray temp file.
        std::fs::write(disk.tmp_dir().join("y.commit"), b"{\"data\":").unwrap();
        std::fs::write(disk.tmp_dir().join("z"), b"partial upload").unwrap();
        drop(disk);

        let disk = Disk::open(dir.path(), "b").unwrap();
        assert_eq!(std::fs::read(dir.path().join("b/k")).unwrap(), b"new bytes");
        assert_eq!(disk.meta("k").unwrap().size, 9);
        assert_eq!(std::fs::read_dir(disk.tmp_dir()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_delete_cut_between_bytes_and_metadata_leaves_no_object() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open(dir.path(), "b").unwrap();
        put(&disk, "gone", b"x").await;
        std::fs::remove_file(dir.path().join("b/gone")).unwrap();
        drop(disk);
        let disk = Disk::open(dir.path(), "b").unwrap();
        assert!(disk.meta("gone").is_none());
        assert!(!dir.path().join(".meta/b/gone").exists());
    }

    #[tokio::test]
    async fn a_first_layout_directory_converts_itself_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        let old_meta = br#"{"etag":"5d41402abc4b2a76b9719d911017c592","content_type":"text/plain","last_modified_ms":1700000000000}"#;
        let mut file = b"hello".to_vec();
        file.extend_from_slice(old_meta);
        file.extend_from_slice(&(old_meta.len() as u32).to_le_bytes());
        file.extend_from_slice(b"ASSETOB1");
        std::fs::write(dir.path().join("b/assets%2Fone"), &file).unwrap();

        let disk = Disk::open(dir.path(), "b").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("b/assets%2Fone")).unwrap(),
            b"hello"
        );
        let meta = disk.meta("assets/one").unwrap();
        assert_eq!(meta.size, 5);
        assert_eq!(meta.etag, "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(meta.headers.content_type.as_deref(), Some("text/plain"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("FORMAT")).unwrap(),
            "2"
        );
        drop(disk);
        // Opening again changes nothing.
        let disk = Disk::open(dir.path(), "b").unwrap();
        assert_eq!(disk.meta("assets/one").unwrap().size, 5);
        assert_eq!(
            std::fs::read(dir.path().join("b/assets%2Fone")).unwrap(),
            b"hello"
        );
    }

    #[tokio::test]
    async fn a_condition_is_checked_under_the_key_lock() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Arc::new(Disk::open(dir.path(), "b").unwrap());
        // 16 racing create-if-absent writers: exactly one wins.
        let mut tasks = Vec::new();
        for i in 0..16u8 {
            let disk = disk.clone();
            tasks.push(tokio::spawn(async move {
                let mut writer = disk.writer().await.unwrap();
                writer.write(&[i]).await.unwrap();
                let staged = writer.finish().await.unwrap();
                disk.commit(
                    staged,
                    meta("once", 1),
                    |current| match current {
                        Some(_) => Err(s3_error!(PreconditionFailed)),
                        None => Ok(()),
                    },
                    None,
                )
                .await
                .is_ok()
            }));
        }
        let mut won = 0;
        for task in tasks {
            won += usize::from(task.await.unwrap());
        }
        assert_eq!(won, 1);
        assert_eq!(std::fs::read_dir(disk.tmp_dir()).unwrap().count(), 0);
    }
}
