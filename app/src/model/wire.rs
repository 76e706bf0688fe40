//! The requests and replies of the REST API and the server functions. Field names follow the
//! original example where it had them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Asset, AssetId, AssetState, Search, SortOrder, UrlLifetime};

/// `201` reply to `POST /assets`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedAsset {
    pub id: AssetId,
    /// Where to `PUT` the bytes. Absent for a multipart upload (`asset.multipart` is set): sign
    /// its parts with `POST /assets/{id}/multipart/part-urls` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    /// `PUT` with `upload_url`; absent for a multipart upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Headers the client must send with the upload, exactly as listed: lowercase names to
    /// values, ready for `fetch(url, {method, headers})` or `requests.put(url, headers=...)`.
    /// Empty for a multipart upload (each part URL has its own).
    pub upload_headers: BTreeMap<String, String>,
    /// When `upload_url` expires (for a multipart upload: when an upload not touched since
    /// counts as abandoned and may be cleaned up).
    pub expires_at: DateTime<Utc>,
    pub asset: Asset,
}

/// `200` reply to `GET /assets/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DownloadLink {
    pub download_url: String,
    pub expires_at: DateTime<Utc>,
}

/// `202` reply to `PUT /assets/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatusReply {
    pub status: AssetState,
}

/// One page of `GET /assets`, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AssetPage {
    pub items: Vec<Asset>,
    /// Opaque; pass back as `?cursor=` for the next page. Absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// What to list: `GET /assets?limit=&cursor=&state=&include_deleted=&q=&type=&sort=`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Items per page (default 50).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 1000, example = 50))]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`, as given.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        param(
            pattern = r"^(o?[0-9]{1,16}|l([0-9]{1,19}|x)\.[0-9]{1,16})\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(~[0-9a-f]{8})?$",
            example = "1764000000123456.0190c2a4-7d5e-7b3a-9f1e-2c4d6e8fa0b1"
        )
    )]
    pub cursor: Option<String>,
    /// Only assets in this state (case-insensitive).
    #[serde(default)]
    pub state: Option<AssetState>,
    /// Include soft-deleted assets when no state is given.
    #[serde(default)]
    pub include_deleted: bool,
    /// Only this user's assets (admins; a user may name only themself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "ssr",
        param(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$", example = "admin")
    )]
    pub owner: Option<String>,
    /// Only assets whose filename starts with this, case-insensitively (Unicode lowercase);
    /// empty: no filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", param(max_length = 255, example = "report"))]
    pub q: Option<String>,
    /// Only assets of this content type (`image/png`, parameters ignored) or family (`image/*`
    /// or `image`), case-insensitive; empty: no filter.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "ssr",
        param(
            rename = "type",
            max_length = 255,
            pattern = r"^([A-Za-z0-9!#$&^_.+-]{1,127}(/(\*|[A-Za-z0-9!#$&^_.+-]{1,127}))?)?$",
            example = "image/*"
        )
    )]
    pub content_type: Option<String>,
    /// The order: `newest` (default), `oldest`, or `largest` (size unknown last). A cursor
    /// belongs to the sort and search it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortOrder>,
}

impl ListQuery {
    /// The validated search these parameters ask for.
    pub fn search(&self) -> Result<Search, super::InvalidInput> {
        Search::parse(self.q.as_deref(), self.content_type.as_deref(), self.sort)
    }
}

/// The most assets one bulk delete (the dashboard's multi-select) takes.
pub const MAX_BULK_DELETE: usize = 100;

/// An asset a bulk delete could not delete, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteFailure {
    pub id: AssetId,
    pub error: ErrorBody,
}

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1000;

/// `GET /assets/{id}?timeout=SECONDS` (the original's name for the download URL's lifetime).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DownloadParams {
    /// The download URL's lifetime in seconds (default 60).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", param(value_type = Option<u64>, minimum = 1, maximum = 604800, example = 3600))]
    pub timeout: Option<UrlLifetime>,
}

/// Machine-readable error codes, the `code` of every JSON error. Each names what went wrong;
/// the HTTP layer alone picks the status that goes with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    TooLarge,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    /// The asset's type is download-only: it is never shown inline (a 409).
    NotPreviewable,
    RateLimited,
    /// The request's `Host` is not one this server answers for (DNS rebinding).
    MisdirectedRequest,
    Unavailable,
}

/// The JSON body of every error reply, REST and server functions alike:
/// `{"error_message": "...", "code": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(example = json!({"error_message": "asset 0190c2a4-7d5e-7b3a-9f1e-2c4d6e8fa0b1 not found", "code": "not_found"})))]
#[error("{error_message}")]
pub struct ErrorBody {
    pub error_message: String,
    pub code: ErrorCode,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error_message: message.into(),
            code,
        }
    }
}
