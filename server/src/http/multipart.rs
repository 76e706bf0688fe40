//! `/assets/{id}/multipart/...`: sign part URLs, list the parts uploaded, complete, abort. Thin
//! over the service, API key like the rest of `/assets`.

use app::model::{Asset, AssetId, CompleteUpload, PartUrls, SignParts, UploadedParts};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::{ApiPath, JsonBody};
use super::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, RateLimited, TooLarge, Unauthorized, Unavailable,
};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_parts))
        .routes(routes!(list_parts))
        .routes(routes!(complete))
        .routes(routes!(abort))
}

/// Presigned URLs for parts of a multipart upload, 1 to 100 per request.
///
/// `PUT` each part's bytes to its `url` with exactly its `headers`, and keep the `ETag` reply
/// header for completion. Ask again for a part whose URL expired. With `part_sha256`, give each
/// part's SHA-256: storage refuses a part whose bytes differ.
#[utoipa::path(
    post, path = "/assets/{id}/multipart/part-urls", tag = "multipart", operation_id = "sign_parts",
    security(("api_key" = [])),
    params(("id" = AssetId, Path, description = "The asset's id")),
    request_body(content = SignParts, content_type = "application/json"),
    responses(
        (status = 200, description = "One URL per part asked for, in part order.", body = PartUrls),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn sign_parts(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<AssetId>,
    JsonBody(request): JsonBody<SignParts>,
) -> Result<Json<PartUrls>, ApiError> {
    Ok(Json(app.service.sign_parts(&who, id, request).await?))
}

/// The parts object storage holds for the upload so far (S3 `ListParts`): to resume, send only
/// the others.
#[utoipa::path(
    get, path = "/assets/{id}/multipart/parts", tag = "multipart", operation_id = "list_parts",
    security(("api_key" = [])),
    params(("id" = AssetId, Path, description = "The asset's id")),
    responses(
        (status = 200, description = "The uploaded parts, in part order.", body = UploadedParts),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn list_parts(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<AssetId>,
) -> Result<Json<UploadedParts>, ApiError> {
    Ok(Json(app.service.list_parts(&who, id).await?))
}

/// Complete the upload: the parts listed (all of them, ascending, with their ETags) are checked
/// against storage's own list, then assembled. The asset is `RECEIVED` on success; confirm
/// with `PUT /assets/{id}` as usual. Repeating a completed call returns the asset.
#[utoipa::path(
    post, path = "/assets/{id}/multipart/complete", tag = "multipart", operation_id = "complete_multipart",
    security(("api_key" = [])),
    params(("id" = AssetId, Path, description = "The asset's id")),
    request_body(content = CompleteUpload, content_type = "application/json"),
    responses(
        (status = 200, description = "Completed; the asset as it is now.", body = Asset),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn complete(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<AssetId>,
    JsonBody(request): JsonBody<CompleteUpload>,
) -> Result<Json<Asset>, ApiError> {
    Ok(Json(app.service.complete(&who, id, request).await?))
}

/// Abort the upload: storage drops the parts and the asset is soft-deleted (`DELETED`).
#[utoipa::path(
    delete, path = "/assets/{id}/multipart", tag = "multipart", operation_id = "abort_multipart",
    security(("api_key" = [])),
    params(("id" = AssetId, Path, description = "The asset's id")),
    responses(
        (status = 204, description = "Aborted."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn abort(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<AssetId>,
) -> Result<StatusCode, ApiError> {
    app.service.abort(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
