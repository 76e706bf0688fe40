//! Start-up: finishing commits a crash interrupted, clearing temp files, and loading the
//! metadata of every object into the in-memory index.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use tracing::{info, warn};

use super::files::{sync_dir, write_durably};
use super::{CommitEntry, Disk, ObjectMeta};

impl Disk {
    /// Finishes journaled commits a crash interrupted and clears every other temp file.
    pub(super) fn recover(&self) -> anyhow::Result<()> {
        let tmp = self.tmp_dir();
        let mut entries = Vec::new();
        for entry in
            std::fs::read_dir(&tmp).with_context(|| format!("reading {}", tmp.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "commit") {
                entries.push(path);
            }
        }
        for journal in entries {
            // A torn entry was never complete, so its commit never happened.
            let parsed = std::fs::read(&journal)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<CommitEntry>(&bytes).ok());
            if let Some(entry) = parsed {
                finish_commit(&entry)
                    .with_context(|| format!("finishing the commit of {}", entry.meta.key))?;
                info!(
                    key = entry.meta.key,
                    "finished a commit interrupted by a crash"
                );
            }
            std::fs::remove_file(&journal)?;
        }
        for entry in std::fs::read_dir(&tmp)? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
        sync_dir(&tmp)?;
        Ok(())
    }

    /// Reads every metadata file into memory; drops metadata whose bytes are gone (a delete
    /// interrupted between its two steps).
    pub(super) fn load_index(&self) -> anyhow::Result<usize> {
        let mut index = BTreeMap::new();
        let meta_dir = self.meta_dir();
        for entry in std::fs::read_dir(&meta_dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name() else {
                continue;
            };
            if !self.bucket_dir().join(name).exists() {
                warn!(path = %path.display(), "metadata without an object (interrupted delete); removing it");
                std::fs::remove_file(&path)?;
                continue;
            }
            let bytes = std::fs::read(&path)?;
            let meta: ObjectMeta = serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            index.insert(meta.key.clone(), Arc::new(meta));
        }
        let count = index.len();
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = index;
        Ok(count)
    }
}

/// Redoes what a journal entry says; safe to repeat.
pub(super) fn finish_commit(entry: &CommitEntry) -> std::io::Result<()> {
    if entry.data.exists() {
        std::fs::rename(&entry.data, &entry.object)?;
    }
    let meta_tmp = entry.data.with_extension("meta");
    let meta = serde_json::to_vec(&entry.meta).map_err(std::io::Error::other)?;
    write_durably(&meta_tmp, &meta)?;
    std::fs::rename(&meta_tmp, &entry.meta_path)?;
    for path in [&entry.object, &entry.meta_path] {
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    }
    if let Some(dir) = &entry.remove_dir
        && dir.exists()
    {
        std::fs::remove_dir_all(dir)?;
    }
    Ok(())
}
