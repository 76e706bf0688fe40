//! What the dashboard declares for an upload so storage checks every byte: the whole file's
//! SHA-256 for a single `PUT`, each part's SHA-256 for an upload in parts (never both: a file
//! is hashed once). Decided here, from the server's policy, before any byte is read.

use serde::{Deserialize, Serialize};

use super::multipart::MAX_SINGLE_PUT_SIZE;
use super::upload::NewAsset;

/// The server's upload settings the browser needs to plan an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadPolicy {
    /// Uploads of at least this many bytes go in parts.
    pub multipart_threshold: u64,
}

impl UploadPolicy {
    /// Whether a file of `size` bytes goes in parts: then it is hashed part by part while it
    /// uploads, not as a whole beforehand.
    pub fn in_parts(self, size: u64) -> bool {
        size >= self.multipart_threshold || size > MAX_SINGLE_PUT_SIZE
    }

    /// The request for a file: a single `PUT` declares the whole file's SHA-256 (`sha256`,
    /// base64, `None` only for a file in parts) and says so explicitly, so the server cannot
    /// decide otherwise; parts declare `part_sha256`.
    pub fn new_asset(
        self,
        filename: String,
        content_type: Option<String>,
        size: u64,
        sha256: Option<String>,
    ) -> NewAsset {
        let in_parts = self.in_parts(size);
        NewAsset {
            filename: Some(filename),
            content_type,
            size: Some(size),
            sha256: if in_parts { None } else { sha256 },
            multipart: Some(in_parts),
            part_sha256: in_parts,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: UploadPolicy = UploadPolicy {
        multipart_threshold: 64 << 20,
    };
    const HELLO: &str = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";

    #[test]
    fn a_single_put_declares_the_whole_files_sha256() {
        let new = POLICY.new_asset("a.png".into(), None, 5, Some(HELLO.into()));
        assert_eq!(new.sha256.as_deref(), Some(HELLO));
        assert!(!new.part_sha256);
        // The server accepts it, and it stays one PUT.
        assert_eq!(new.validate(u64::MAX), Ok(()));
        assert_eq!(new.is_multipart(POLICY.multipart_threshold), Ok(false));
    }

    #[test]
    fn parts_declare_part_checksums_only() {
        let size = 64 << 20;
        assert!(POLICY.in_parts(size) && !POLICY.in_parts(size - 1));
        let new = POLICY.new_asset("big.bin".into(), None, size, Some(HELLO.into()));
        assert_eq!(new.sha256, None);
        assert!(new.part_sha256);
        assert_eq!(new.is_multipart(POLICY.multipart_threshold), Ok(true));
        // Over what one PUT may carry, whatever the threshold.
        let lenient = UploadPolicy {
            multipart_threshold: u64::MAX,
        };
        assert!(lenient.in_parts(MAX_SINGLE_PUT_SIZE + 1));
    }
}
