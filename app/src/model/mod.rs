//! The domain, in pure code: no I/O, compiles to wasm, tested without a server.
//! - `lifecycle`: what an asset is, its states, and which moves it may make;
//! - `upload`: what a client may declare for an upload (validation, checksums, URL lifetimes);
//! - `multipart`: uploads in parts (S3's part rules, part URLs, listing and completing parts);
//! - `search`: finding assets (filename prefix, type filter, sort order);
//! - `preview`: which stored types may show inline (preview), never scriptable ones;
//! - `integrity`: which checksums the dashboard declares (whole file or per part);
//! - `auth`: users, API keys and who a request acts as;
//! - `live`: the events of the live-update stream;
//! - `wire`: the requests and replies of the REST API and the server functions, errors included.

mod auth;
mod integrity;
mod lifecycle;
mod live;
mod multipart;
mod preview;
mod search;
mod upload;
mod wire;

pub use auth::{
    API_KEY_PREFIX, ApiKeyInfo, CreatedApiKey, MAX_KEY_DAYS, MAX_LABEL_CHARS, MAX_PASSWORD_BYTES,
    MIN_PASSWORD_CHARS, NewApiKey, Principal, SignInForm, UserInfo, validate_password,
    validate_user_name,
};
pub use integrity::UploadPolicy;
pub use lifecycle::{Action, Asset, AssetId, AssetState, Refused};
pub use live::{AssetChange, LiveHello};
pub use multipart::{
    CompleteUpload, CompletedPart, MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS,
    MAX_PARTS_PER_REQUEST, MAX_SINGLE_PUT_SIZE, MAX_USER_METADATA_BYTES, MIN_PART_SIZE,
    MultipartUpload, PartToSign, PartUrl, PartUrls, SignParts, UploadedPart, UploadedParts,
    bare_etag, check_part_number, part_size_for, user_metadata,
};
pub use preview::{PREVIEW_LINK_SECS, PreviewKind, PreviewLink, Previewable, previewable};
pub use search::{
    ListPosition, MAX_QUERY_CHARS, MAX_TYPE_BYTES, Search, SortOrder, TypeFilter, filename_key,
    size_key, type_key,
};
pub use upload::{
    Checksum, ChecksumAlgorithm, MAX_FILENAME_BYTES, NewAsset, UrlLifetime, validate_content_type,
    validate_filename, whole_number,
};
pub use wire::{
    AssetPage, CreatedAsset, DEFAULT_PAGE_SIZE, DeleteFailure, DownloadLink, DownloadParams,
    ErrorBody, ErrorCode, ListQuery, MAX_BULK_DELETE, MAX_PAGE_SIZE, StatusReply,
};

/// Input that does not pass validation; `too_large` marks a size over the limit (413).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidInput {
    pub message: String,
    pub too_large: bool,
}

impl InvalidInput {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            too_large: false,
        }
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            too_large: true,
        }
    }
}

/// Bytes in human units, for the dashboard (`1.5 MiB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Keeps echoed user input short in error messages.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_in_human_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }
}
