//! Converting a data directory of the first layout, `[data][metadata JSON][u32 LE metadata
//! length][MAGIC]` in one file, to exact bytes + a metadata file. Each step is idempotent, so
//! a crash mid-way is finished by the next start.

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

use super::Disk;
use super::files::{sync_dir, write_durably};
use super::meta::{Checksums, ContentHeaders, ObjectMeta};

const MAGIC: &[u8; 8] = b"ASSETOB1";
const TRAILER_LEN: u64 = 12;

#[derive(Deserialize)]
struct OldMeta {
    etag: String,
    content_type: Option<String>,
    last_modified_ms: u64,
    #[serde(default)]
    sha256: Option<String>,
}

/// The data length and metadata of an object still in the old layout; `None` when the
/// file does not end with the old trailer (it is exact bytes already).
fn read_trailer(path: &Path) -> anyhow::Result<Option<(u64, OldMeta)>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len < TRAILER_LEN {
        return Ok(None);
    }
    let mut trailer = [0u8; TRAILER_LEN as usize];
    file.seek(SeekFrom::Start(len - TRAILER_LEN))?;
    file.read_exact(&mut trailer)?;
    let (meta_len, magic) = trailer.split_at(4);
    if magic != MAGIC {
        return Ok(None);
    }
    let meta_len = u64::from(u32::from_le_bytes(meta_len.try_into()?));
    let Some(data_len) = len.checked_sub(TRAILER_LEN + meta_len) else {
        return Ok(None);
    };
    let mut meta = vec![0u8; meta_len as usize];
    file.seek(SeekFrom::Start(data_len))?;
    file.read_exact(&mut meta)?;
    match serde_json::from_slice(&meta) {
        Ok(meta) => Ok(Some((data_len, meta))),
        Err(_) => Ok(None),
    }
}
impl Disk {
    /// Converts objects of the first layout (metadata appended to the bytes, behind a
    /// trailer) to bytes + metadata file. Each step is idempotent, so a crash mid-way is
    /// finished by the next start.
    pub(super) fn convert_trailer_format(&self) -> anyhow::Result<usize> {
        let mut converted = 0;
        for entry in std::fs::read_dir(self.bucket_dir())? {
            let path = entry?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let meta_path = self.meta_dir().join(&name);
            let Some((data_len, old)) = read_trailer(&path)? else {
                continue; // already exact bytes
            };
            if !meta_path.exists() {
                let key = percent_encoding::percent_decode_str(&name)
                    .decode_utf8()
                    .with_context(|| format!("decoding {}", path.display()))?
                    .into_owned();
                let meta = ObjectMeta {
                    key,
                    size: data_len,
                    etag: old.etag,
                    last_modified_ms: old.last_modified_ms,
                    headers: ContentHeaders {
                        content_type: old.content_type,
                        ..ContentHeaders::default()
                    },
                    user: BTreeMap::new(),
                    checksums: Checksums {
                        kind: old.sha256.as_ref().map(|_| "FULL_OBJECT".to_string()),
                        sha256: old.sha256,
                        ..Checksums::default()
                    },
                    parts: Vec::new(),
                };
                let tmp = self.tmp_dir().join(format!("{name}.meta"));
                write_durably(&tmp, &serde_json::to_vec(&meta)?)?;
                std::fs::rename(&tmp, &meta_path)?;
                sync_dir(&self.meta_dir())?;
            }
            let file = std::fs::OpenOptions::new().write(true).open(&path)?;
            file.set_len(data_len)?;
            file.sync_all()?;
            converted += 1;
        }
        Ok(converted)
    }
}
