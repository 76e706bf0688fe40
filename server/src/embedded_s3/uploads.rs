//! The on-disk bookkeeping of multipart uploads in progress, one directory each under
//! `.uploads/<upload id>/`:
//! - `upload.json`: what CreateMultipartUpload asked for. The directory is made in `.tmp` and
//!   renamed into place, so an upload exists whole or not at all;
//! - `part-<N>.<uuid>`: the bytes of part N (fsynced before they are renamed in);
//! - `part-<N>.json`: the record of part N, naming its current bytes; replaced by a rename, so
//!   a part is the old one or the new one, never a mix.
//!
//! A crash between renaming a part's bytes in and renaming its record in leaves bytes nobody
//! names: the sweep (`sweep`) removes them, as does completing or aborting the upload. Removing
//! an upload renames its directory into `.tmp` first (cleared on start), so it vanishes at
//! once. Every change to an upload's directory is made under that upload's lock (`lock`):
//! completing or aborting never races a part being put in.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};
use tokio::sync::OwnedMutexGuard;
use tracing::{info, warn};

use super::disk::{
    Checksums, ContentHeaders, Disk, StagedData, TempFile, internal, now_ms, sync_dir,
    write_durably,
};

const UPLOAD_FILE: &str = "upload.json";

/// What CreateMultipartUpload asked for, kept until the upload completes or is aborted.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub(super) struct UploadInfo {
    pub(super) bucket: String,
    pub(super) key: String,
    pub(super) initiated_ms: u64,
    #[serde(default)]
    pub(super) headers: ContentHeaders,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) user: BTreeMap<String, String>,
    /// The checksum algorithm every part carries, by S3's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) algorithm: Option<String>,
    /// `FULL_OBJECT` or `COMPOSITE`, with `algorithm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) checksum_type: Option<String>,
}

/// One uploaded part.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub(super) struct PartRecord {
    /// Hex MD5 of the part, without quotes.
    pub(super) etag: String,
    pub(super) size: u64,
    #[serde(default)]
    pub(super) checksums: Checksums,
    pub(super) last_modified_ms: u64,
    /// The name of its bytes in the upload's directory.
    pub(super) file: String,
}

pub(super) fn no_such_upload() -> s3s::S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

/// Upload ids are ours (a UUID's 32 lower-case hex digits): nothing else names a directory.
/// Version 7 UUIDs sort by creation time, so one key's uploads list in the order S3 lists
/// them (oldest first) and `upload-id-marker` compares them as S3 does (lexicographically).
fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The directory of upload `id`; `NoSuchUpload` for an id we never make.
pub(super) fn upload_dir(disk: &Disk, id: &str) -> S3Result<PathBuf> {
    if valid_id(id) {
        Ok(disk.uploads_dir().join(id))
    } else {
        Err(no_such_upload())
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> S3Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(internal)?
        .map_err(internal)
}

/// Serialises the changes to one upload's directory (held across an await, hence tokio's).
pub(super) struct UploadLock {
    _guard: OwnedMutexGuard<()>,
}

type Locks = Mutex<HashMap<PathBuf, Weak<tokio::sync::Mutex<()>>>>;
static LOCKS: LazyLock<Locks> = LazyLock::new(Locks::default);

/// Takes the lock of the upload in `dir` (waiting for its holder).
pub(super) async fn lock(dir: &Path) -> UploadLock {
    let mutex = {
        let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
        locks.retain(|_, held| held.strong_count() > 0);
        match locks.get(dir).and_then(Weak::upgrade) {
            Some(mutex) => mutex,
            None => {
                let mutex = Arc::new(tokio::sync::Mutex::new(()));
                locks.insert(dir.to_path_buf(), Arc::downgrade(&mutex));
                mutex
            }
        }
    };
    UploadLock {
        _guard: mutex.lock_owned().await,
    }
}

/// Makes a new upload; its id.
pub(super) async fn create(disk: &Disk, info: &UploadInfo) -> S3Result<String> {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let staging = disk.tmp_dir().join(format!("{id}.upload"));
    let target = disk.uploads_dir().join(&id);
    let encoded = serde_json::to_vec(info).map_err(internal)?;
    blocking(move || {
        std::fs::create_dir(&staging)?;
        write_durably(&staging.join(UPLOAD_FILE), &encoded)?;
        sync_dir(&staging)?;
        std::fs::rename(&staging, &target)?;
        sync_dir(target.parent().unwrap_or(Path::new(".")))
    })
    .await?;
    Ok(id)
}

fn read_info(dir: &Path) -> std::io::Result<Option<UploadInfo>> {
    match std::fs::read(dir.join(UPLOAD_FILE)) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// The upload `id` of `key`: its directory and what it was created with. `NoSuchUpload` when
/// it does not exist or belongs to another key (as S3 answers).
pub(super) async fn load(
    disk: &Disk,
    bucket: &str,
    key: &str,
    id: &str,
) -> S3Result<(PathBuf, UploadInfo)> {
    disk.check_bucket(bucket)?;
    let dir = upload_dir(disk, id)?;
    let info = blocking({
        let dir = dir.clone();
        move || read_info(&dir)
    })
    .await?;
    match info {
        Some(info) if info.bucket == bucket && info.key == key => Ok((dir, info)),
        _ => Err(no_such_upload()),
    }
}

fn record_name(number: i32) -> String {
    format!("part-{number}.json")
}

/// Puts `staged` in as part `number` of the upload in `dir`, replacing any earlier one; the
/// record as kept. The caller holds the upload's lock. `NoSuchUpload` when it is gone.
pub(super) async fn install_part(
    disk: &Disk,
    dir: &Path,
    number: i32,
    staged: StagedData,
    mut record: PartRecord,
) -> S3Result<PartRecord> {
    record.file = format!("part-{number}.{}", uuid::Uuid::new_v4().simple());
    let (dir, data) = (dir.to_path_buf(), staged.path().to_path_buf());
    let record_tmp = disk
        .tmp_dir()
        .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
    let installed = blocking(move || -> std::io::Result<Option<PartRecord>> {
        if !dir.join(UPLOAD_FILE).exists() {
            return Ok(None);
        }
        let previous = read_record(&dir, number)?;
        // Bytes first, durably: a record never names bytes a crash could lose.
        std::fs::rename(&data, dir.join(&record.file))?;
        sync_dir(&dir)?;
        let _unless_renamed = TempFile::new(record_tmp.clone());
        write_durably(&record_tmp, &serde_json::to_vec(&record)?)?;
        std::fs::rename(&record_tmp, dir.join(record_name(number)))?;
        sync_dir(&dir)?;
        if let Some(previous) = previous {
            remove_if_present(&dir.join(previous.file))?;
        }
        Ok(Some(record))
    })
    .await?;
    // `staged` named a temp path that is now gone (renamed) or is removed with it.
    drop(staged);
    installed.ok_or_else(no_such_upload)
}

fn read_record(dir: &Path, number: i32) -> std::io::Result<Option<PartRecord>> {
    match std::fs::read(dir.join(record_name(number))) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Parts `numbers` of the upload in `dir`, each if uploaded.
pub(super) async fn parts(dir: &Path, numbers: &[i32]) -> S3Result<Vec<Option<PartRecord>>> {
    let (dir, numbers) = (dir.to_path_buf(), numbers.to_vec());
    blocking(move || numbers.iter().map(|n| read_record(&dir, *n)).collect()).await
}

/// The numbers of the parts uploaded so far, in order.
pub(super) async fn part_numbers(dir: &Path) -> S3Result<Vec<i32>> {
    let dir = dir.to_path_buf();
    blocking(move || {
        let mut numbers = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            entries => entries?,
        };
        for entry in entries {
            let name = entry?.file_name();
            let number = name
                .to_str()
                .and_then(|n| n.strip_prefix("part-"))
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<i32>().ok());
            numbers.extend(number);
        }
        numbers.sort_unstable();
        Ok(Some(numbers))
    })
    .await?
    // Gone since it was loaded: completed or aborted meanwhile.
    .ok_or_else(no_such_upload)
}

/// Every upload in progress with its id, in no order.
pub(super) async fn all(disk: &Disk) -> S3Result<Vec<(String, UploadInfo)>> {
    let root = disk.uploads_dir();
    blocking(move || {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&root)? {
            let entry = entry?;
            let Some(id) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if valid_id(&id)
                && let Some(info) = read_info(&entry.path())?
            {
                found.push((id, info));
            }
        }
        Ok(found)
    })
    .await
}

/// Removes the upload in `dir` at once (renamed away, then deleted); whether it existed. The
/// caller holds the upload's lock.
pub(super) async fn remove(disk: &Disk, dir: &Path) -> S3Result<bool> {
    let (dir, trash) = (
        dir.to_path_buf(),
        disk.tmp_dir()
            .join(format!("{}.aborted", uuid::Uuid::new_v4().simple())),
    );
    blocking(move || {
        match std::fs::rename(&dir, &trash) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            other => other?,
        }
        sync_dir(dir.parent().unwrap_or(Path::new(".")))?;
        std::fs::remove_dir_all(&trash)?;
        Ok(true)
    })
    .await
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// Removes the part bytes in `dir` that no record names (left by a crash while a part was
/// put in); how many. The caller holds the upload's lock.
fn remove_orphans(dir: &Path) -> std::io::Result<usize> {
    let mut named = std::collections::HashSet::new();
    let mut data = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with("part-") {
            continue;
        }
        if name.ends_with(".json") {
            if let Ok(record) =
                serde_json::from_slice::<PartRecord>(&std::fs::read(dir.join(&name))?)
            {
                named.insert(record.file);
            }
        } else {
            data.push(name);
        }
    }
    let mut removed = 0;
    for name in data.into_iter().filter(|n| !named.contains(n)) {
        remove_if_present(&dir.join(name))?;
        removed += 1;
    }
    Ok(removed)
}

/// Aborts the uploads started more than `older_than` ago and drops the stray part bytes of
/// the others; how many uploads were aborted.
pub(super) async fn sweep(disk: &Disk, older_than: Duration) -> usize {
    let root = disk.uploads_dir();
    let entries = match blocking(move || {
        std::fs::read_dir(&root)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()
    })
    .await
    {
        Ok(entries) => entries,
        Err(err) => {
            warn!(error = %err, "listing multipart uploads failed");
            return 0;
        }
    };
    let cutoff = now_ms().saturating_sub(older_than.as_millis() as u64);
    let mut aborted = 0;
    for dir in entries {
        let _lock = lock(&dir).await;
        let result = async {
            let info = blocking({
                let dir = dir.clone();
                move || read_info(&dir)
            })
            .await?;
            // A directory without a readable upload.json is no upload (never made by us).
            if info.as_ref().is_none_or(|info| info.initiated_ms <= cutoff) {
                let removed = remove(disk, &dir).await?;
                return Ok::<_, s3s::S3Error>(removed && info.is_some());
            }
            let stray = blocking({
                let dir = dir.clone();
                move || remove_orphans(&dir)
            })
            .await?;
            if stray > 0 {
                info!(upload = %dir.display(), stray, "removed part bytes a crash left behind");
            }
            Ok(false)
        }
        .await;
        match result {
            Ok(true) => aborted += 1,
            Ok(false) => {}
            Err(err) => warn!(upload = %dir.display(), error = %err, "sweeping an upload failed"),
        }
    }
    aborted
}
