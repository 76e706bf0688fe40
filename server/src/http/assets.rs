//! `/assets` (and the original's `/asset`): authenticate (API key), parse, call the service as
//! that principal, shape the reply.

use app::model::{
    AssetId, AssetPage, CreatedAsset, DownloadLink, DownloadParams, ListQuery, NewAsset,
    StatusReply,
};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::AppState;
use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, JsonBody};

pub(super) fn routes() -> Router<AppState> {
    let mut router = Router::new();
    // `/asset` is the original example's path; both answer.
    for base in ["/assets", "/asset"] {
        router = router.route(base, post(create).get(list)).route(
            &format!("{base}/{{id}}"),
            get(download).put(mark_uploaded).delete(delete),
        );
    }
    router
}

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

async fn list(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<AssetPage>, ApiError> {
    Ok(Json(app.service.list(&who, query).await?))
}

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

async fn delete(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath(id): ApiPath<AssetId>,
) -> Result<StatusCode, ApiError> {
    app.service.delete(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
