//! `/assets` (and the original's `/asset`): authenticate (API key), parse, call the service as
//! that principal, shape the reply.

use app::model::{
    AssetId, AssetPage, CreatedAsset, DownloadLink, DownloadParams, ListQuery, NewAsset,
    StatusReply,
};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, JsonBody};
use super::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, RateLimited, TooLarge, Unauthorized, Unavailable,
    with_alias,
};

/// The routes with their documentation; `/asset` (the original example's path) answers too.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(with_alias(routes!(create, list)))
        .routes(with_alias(routes!(download, mark_uploaded, delete)))
}

const ID_EXAMPLE: &str = "0190c2a4-7d5e-7b3a-9f1e-2c4d6e8fa0b1";

/// Ask for an upload: records the asset (`CREATED`) and returns a presigned `PUT` URL.
///
/// Upload the bytes with `upload_url`, `method` and exactly the `upload_headers` given; then
/// confirm with `PUT /assets/{id}`. The body is optional (an empty body declares nothing).
#[utoipa::path(
    post, path = "/assets", tag = "assets", operation_id = "create_asset",
    security(("api_key" = [])),
    request_body(content = Option<NewAsset>, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; upload to `upload_url` next.", body = CreatedAsset,
            headers(("Location" = String, description = "`/assets/{id}`")),
            links(
                ("GetAsset" = (operation_id = "download_asset", parameters(("id" = "$response.body#/id")))),
                ("MarkUploaded" = (operation_id = "mark_uploaded", parameters(("id" = "$response.body#/id")))),
                ("DeleteAsset" = (operation_id = "delete_asset", parameters(("id" = "$response.body#/id")))),
                ("PreviewAsset" = (operation_id = "preview_asset", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = TooLarge),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn create(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    JsonBody(new): JsonBody<NewAsset>,
) -> Result<Response, ApiError> {
    let created: CreatedAsset = app.service.create(&who, new).await?;
    let location = HeaderValue::from_str(&format!("/assets/{}", created.id))
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    )
        .into_response())
}

/// List the caller's assets (an admin's: everyone's), newest first (or `?sort=`), a page at a
/// time; `?q=` keeps filenames starting with it (case-insensitive), `?type=` one content type or
/// family.
#[utoipa::path(
    get, path = "/assets", tag = "assets", operation_id = "list_assets",
    security(("api_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page; pass `next_cursor` back as `?cursor=` for the next.", body = AssetPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn list(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<AssetPage>, ApiError> {
    Ok(Json(app.service.list(&who, query).await?))
}

/// A presigned download URL for an `UPLOADED` asset.
#[utoipa::path(
    get, path = "/assets/{id}", tag = "assets", operation_id = "download_asset",
    security(("api_key" = [])),
    params(("id" = AssetId, Path, description = "The asset's id", example = json!(ID_EXAMPLE)), DownloadParams),
    responses(
        (status = 200, description = "Download with a plain `GET` before `expires_at`.", body = DownloadLink),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn download(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<AssetId>,
    ApiQuery(params): ApiQuery<DownloadParams>,
) -> Result<Json<DownloadLink>, ApiError> {
    Ok(Json(
        app.service.download_link(&who, id, params.timeout).await?,
    ))
}

/// Confirm the upload: the asset becomes `UPLOADED` once object storage has the bytes.
///
/// Allowed from `RECEIVED` and `UPLOADED` (repeatable), or from `CREATED` when the object is
/// found in storage. The request has no body.
#[utoipa::path(
    put, path = "/assets/{id}", tag = "assets", operation_id = "mark_uploaded",
    security(("api_key" = [])),
    params(("id" = AssetId, Path, description = "The asset's id", example = json!(ID_EXAMPLE))),
    responses(
        (status = 202, description = "Uploaded.", body = StatusReply, example = json!({"status": "UPLOADED"})),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn mark_uploaded(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<AssetId>,
) -> Result<(StatusCode, Json<StatusReply>), ApiError> {
    let asset = app.service.mark_uploaded(&who, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(StatusReply {
            status: asset.state,
        }),
    ))
}

/// Soft-delete: the asset becomes `DELETED` (hidden from listings; the object is kept).
/// Repeatable.
#[utoipa::path(
    delete, path = "/assets/{id}", tag = "assets", operation_id = "delete_asset",
    security(("api_key" = [])),
    params(("id" = AssetId, Path, description = "The asset's id", example = json!(ID_EXAMPLE))),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn delete(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<AssetId>,
) -> Result<StatusCode, ApiError> {
    app.service.delete(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
