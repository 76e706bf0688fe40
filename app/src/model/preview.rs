//! Which stored content types the dashboard may show inline (preview), and how. The one place
//! that decides it: the server refuses a preview link for anything else, the dashboard offers
//! the button only for these.
//!
//! Only media a browser renders without running the file's own code: raster images, audio,
//! video, PDF (in the browser's sandboxed viewer). HTML, SVG, XML, JavaScript and every type not
//! listed here stay download-only (`attachment`), since rendering them from the storage origin
//! could run script.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a previewable asset is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PreviewKind {
    Image,
    Video,
    Audio,
    Pdf,
}

/// Every previewable type (the essence, lowercase) and how it shows.
const PREVIEWABLE: [(&str, PreviewKind); 15] = [
    ("image/png", PreviewKind::Image),
    ("image/jpeg", PreviewKind::Image),
    ("image/gif", PreviewKind::Image),
    ("image/webp", PreviewKind::Image),
    ("video/mp4", PreviewKind::Video),
    ("video/webm", PreviewKind::Video),
    ("audio/mpeg", PreviewKind::Audio),
    ("audio/ogg", PreviewKind::Audio),
    ("audio/wav", PreviewKind::Audio),
    ("audio/wave", PreviewKind::Audio),
    ("audio/x-wav", PreviewKind::Audio),
    ("audio/webm", PreviewKind::Audio),
    ("audio/aac", PreviewKind::Audio),
    ("audio/flac", PreviewKind::Audio),
    ("application/pdf", PreviewKind::Pdf),
];

/// A previewable type: how it shows, and the exact type the preview is served as (ours, from
/// the list above: never the stored string with its parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Previewable {
    pub kind: PreviewKind,
    pub content_type: &'static str,
}

/// `Some` when a stored `content_type` may be shown inline. Parameters (`; charset=...`) are
/// ignored, the type compares case-insensitively; anything unknown is `None`.
pub fn previewable(content_type: &str) -> Option<Previewable> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    PREVIEWABLE
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(essence))
        .map(|&(content_type, kind)| Previewable { kind, content_type })
}

/// How long a preview link lives: long enough to open and watch a short clip, short enough
/// that a leaked link soon stops working.
pub const PREVIEW_LINK_SECS: u64 = 300;

/// `GET /assets/{id}/preview`: a short-lived URL that shows the asset inline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(example = json!({"preview_url": "http://127.0.0.1:9000/assets/assets/0190c2a4-7d5e-7b3a-9f1e-2c4d6e8fa0b1?response-content-disposition=inline...", "kind": "image", "content_type": "image/png", "expires_at": "2026-01-01T00:05:00Z"})))]
pub struct PreviewLink {
    /// Served with `Content-Disposition: inline` and `content_type`.
    pub preview_url: String,
    pub kind: PreviewKind,
    pub content_type: String,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_and_pdf_preview_with_our_own_type() {
        let kind = |t: &str| previewable(t).map(|p| p.kind);
        assert_eq!(kind("image/png"), Some(PreviewKind::Image));
        assert_eq!(kind("IMAGE/JPEG"), Some(PreviewKind::Image));
        assert_eq!(kind("video/webm"), Some(PreviewKind::Video));
        assert_eq!(kind("audio/flac"), Some(PreviewKind::Audio));
        assert_eq!(kind("application/pdf"), Some(PreviewKind::Pdf));
        // Parameters are dropped: the preview is served as the bare type from our list.
        let with_params = previewable("Image/PNG ; name=\"x.html\"").unwrap();
        assert_eq!(with_params.content_type, "image/png");
    }

    #[test]
    fn scriptable_and_unknown_types_are_download_only() {
        for t in [
            "text/html",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/xml",
            "application/xml",
            "text/javascript",
            "application/javascript",
            "application/octet-stream",
            "text/plain",
            "image/png+xml",
            "image/pngx",
            "image",
            "",
            "video/quicktime",
            "application/x-shockwave-flash",
        ] {
            assert_eq!(previewable(t), None, "{t}");
        }
    }
}
