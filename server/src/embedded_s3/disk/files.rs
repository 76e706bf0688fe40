//! Temp files, durable writes and ranged reads.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use s3s::S3Result;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _, BufWriter};

use super::internal;

/// Writes `bytes` to `path` and fsyncs it.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Removes a temp file unless it was committed.
pub(crate) struct TempFile(pub(crate) Option<PathBuf>);

impl TempFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self(Some(path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Fsynced bytes in a temp file, ready to commit.
pub(crate) struct StagedData(pub(crate) TempFile);

impl StagedData {
    pub(crate) fn path(&self) -> &Path {
        self.0.0.as_deref().unwrap_or(Path::new(""))
    }
}

pub(crate) struct ObjectWriter {
    pub(crate) writer: BufWriter<tokio::fs::File>,
    pub(crate) tmp: TempFile,
}

impl ObjectWriter {
    pub(crate) async fn write(&mut self, chunk: &[u8]) -> S3Result<()> {
        self.writer.write_all(chunk).await.map_err(internal)
    }

    /// Flushes and fsyncs the bytes written.
    pub(crate) async fn finish(mut self) -> S3Result<StagedData> {
        self.writer.flush().await.map_err(internal)?;
        self.writer.get_ref().sync_all().await.map_err(internal)?;
        Ok(StagedData(self.tmp))
    }
}

/// Reads `len` bytes from `offset` of an open object file.
pub(crate) async fn read_range(
    mut file: tokio::fs::File,
    offset: u64,
    len: u64,
) -> S3Result<tokio::io::Take<tokio::fs::File>> {
    file.seek(SeekFrom::Start(offset)).await.map_err(internal)?;
    Ok(file.take(len))
}
