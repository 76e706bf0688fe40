//! The SHA-256 of a whole file, streamed: `Blob.slice` chunks read one at a time into a reused
//! buffer and fed to `sha2`, yielding to the page between chunks, so a large file is never
//! held in memory and the page stays responsive. (Parts of a multipart upload are hashed by
//! `parts`, each on its own; a file is hashed one way or the other, never both.)

use sha2::{Digest as _, Sha256};

/// Bytes read per step: big enough that reading dominates, small enough to stay responsive.
pub(crate) const HASH_CHUNK: u64 = 4 << 20;

/// The `[start, end)` ranges a file of `size` bytes is read in.
pub(crate) fn chunks(size: u64, chunk: u64) -> impl Iterator<Item = (u64, u64)> {
    let chunk = chunk.max(1);
    (0..size.div_ceil(chunk)).map(move |i| (i * chunk, ((i + 1) * chunk).min(size)))
}

/// Standard base64 of a finished digest (as `NewAsset.sha256` and S3's header carry it).
pub(crate) fn base64_digest(hasher: Sha256) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}

/// Hashes `blob` chunk by chunk, reporting bytes hashed to `on_progress`; `Ok(None)` when
/// `keep_going` turned false (the upload was cancelled meanwhile).
pub(crate) async fn sha256_streaming(
    blob: &web_sys::Blob,
    on_progress: impl Fn(f64),
    keep_going: impl Fn() -> bool,
) -> Result<Option<String>, String> {
    use wasm_bindgen_futures::JsFuture;
    let size = blob.size() as u64;
    let mut hasher = Sha256::new();
    let mut buffer = Vec::new();
    for (start, end) in chunks(size, HASH_CHUNK) {
        if !keep_going() {
            return Ok(None);
        }
        let slice = blob
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(|_| "could not read the file".to_string())?;
        let bytes = JsFuture::from(slice.array_buffer())
            .await
            .map_err(|_| "could not read the file (was it moved or changed?)".to_string())?;
        let bytes = js_sys::Uint8Array::new(&bytes);
        buffer.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut buffer);
        hasher.update(&buffer);
        on_progress(end as f64);
        // Let the page paint and handle input between chunks.
        crate::browser::sleep(0).await;
    }
    Ok(Some(base64_digest(hasher)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_file_exactly_once() {
        assert_eq!(chunks(0, 4).count(), 0);
        assert_eq!(chunks(4, 4).collect::<Vec<_>>(), [(0, 4)]);
        assert_eq!(chunks(10, 4).collect::<Vec<_>>(), [(0, 4), (4, 8), (8, 10)]);
    }

    #[test]
    fn chunked_hashing_equals_hashing_at_once() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut chunked = Sha256::new();
        for (start, end) in chunks(data.len() as u64, 999) {
            chunked.update(&data[start as usize..end as usize]);
        }
        let mut whole = Sha256::new();
        whole.update(&data);
        assert_eq!(base64_digest(chunked), base64_digest(whole));
        // And the digest the API documents for "hello".
        let mut hello = Sha256::new();
        hello.update(b"hello");
        assert_eq!(
            base64_digest(hello),
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
        );
    }
}
