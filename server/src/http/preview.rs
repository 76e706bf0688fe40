//! `GET /assets/{id}/preview`: a short-lived inline URL for an image, video, audio or PDF
//! asset. Thin over the service, API key like the rest of `/assets`.

use app::model::{AssetId, PreviewLink};
use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::ApiPath;
use super::openapi::{
    BadRequest, NotFound, NotPreviewable, RateLimited, Unauthorized, Unavailable, with_alias,
};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(with_alias(routes!(preview)))
}

/// A presigned URL that shows an `UPLOADED` asset inline, for 5 minutes.
///
/// Only for png, jpeg, gif and webp images, mp4 and webm video, audio (mpeg, ogg, wav, webm,
/// aac, flac) and PDF: the URL serves the bytes with `Content-Disposition: inline` and exactly
/// that type. Every other type (HTML, SVG, XML, scripts, unknown) is download-only: 409
/// `not_previewable`; use `GET /assets/{id}` for an attachment.
#[utoipa::path(
    get, path = "/assets/{id}/preview", tag = "assets", operation_id = "preview_asset",
    security(("api_key" = [])),
    params(("id" = AssetId, Path, description = "The asset's id")),
    responses(
        (status = 200, description = "Show `preview_url` (an `img`, `video`, `audio` or PDF viewer) before `expires_at`.", body = PreviewLink),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = NotPreviewable),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn preview(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<AssetId>,
) -> Result<Json<PreviewLink>, ApiError> {
    Ok(Json(app.service.preview_link(&who, id).await?))
}
