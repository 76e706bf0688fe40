//! `/companion/s3/...`: the routes Uppy's `@uppy/aws-s3` calls in its Companion mode
//! (`companionEndpoint: '<server>/companion'`), with Companion's request and reply shapes
//! (`@uppy/companion`'s `controllers/s3.js`), mapped onto the service calls
//! `/assets/{id}/multipart` uses and the same owner rules. Companion names an upload by
//! `uploadId` and `key`: here the key is the asset's object key (`assets/<id>`) and the
//! `uploadId` must be the one the asset's record holds, or the pair is unknown (404).
//!
//! Not answered: `/s3/params` (Uppy uploads small files with an S3 POST policy there, which
//! the AWS SDK for Rust cannot presign; set `shouldUseMultipart: true`) and `/s3/sts`
//! (storage credentials never leave the server).

mod shapes;

use app::model::{
    AssetId, CompleteUpload, CompletedPart, ErrorCode, NewAsset, PartToSign, PartUrl, Principal,
    SignParts, user_metadata,
};
use axum::Json;
use axum::extract::State;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::KeyOrSession;
use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, JsonBody};
use super::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, RateLimited, TooLarge, Unauthorized, Unavailable,
};
use crate::objects::{id_from_key, key_for};
use shapes::{
    AbortReply, BatchQuery, BatchReply, CompleteReply, CompleteRequest, CreateReply, CreateRequest,
    KeyQuery, MAX_METADATA_ENTRIES, PartUrlReply, StoredPart, part_numbers,
};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(list_parts, abort))
        .routes(routes!(sign_part))
        .routes(routes!(sign_batch))
        .routes(routes!(complete))
}

/// Start a multipart upload (Companion's create): a new asset in `CREATED`, uploaded in parts.
///
/// Authenticate with an API key or, from the dashboard's own pages, the session cookie.
#[utoipa::path(
    post, path = "/companion/s3/multipart", tag = "uppy", operation_id = "companion_create",
    security(("api_key" = []), ("session" = [])),
    request_body(content = CreateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Started.", body = CreateReply),
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
    KeyOrSession(who): KeyOrSession,
    JsonBody(request): JsonBody<CreateRequest>,
) -> Result<Json<CreateReply>, ApiError> {
    if request
        .metadata
        .as_ref()
        .is_some_and(|m| m.len() > MAX_METADATA_ENTRIES)
    {
        return Err(ApiError::invalid(format!(
            "metadata: at most {MAX_METADATA_ENTRIES} entries"
        )));
    }
    // Kept as the object's user metadata, as Companion does.
    let metadata = user_metadata(request.metadata.unwrap_or_default())?;
    let new = NewAsset {
        filename: Some(request.filename),
        content_type: Some(request.content_type),
        multipart: Some(true),
        ..NewAsset::default()
    };
    let created = app
        .service
        .create_with_metadata(&who, new, metadata)
        .await?;
    let upload = created.asset.multipart.ok_or_else(|| {
        ApiError::new(ErrorCode::Unavailable, "the upload did not start in parts")
    })?;
    Ok(Json(CreateReply {
        key: key_for(created.id),
        upload_id: upload.upload_id,
        bucket: app.service.bucket().to_string(),
    }))
}

/// The parts uploaded so far (Companion's list): what a resumed upload need not send again.
#[utoipa::path(
    get, path = "/companion/s3/multipart/{uploadId}", tag = "uppy", operation_id = "companion_list_parts",
    security(("api_key" = []), ("session" = [])),
    params(("uploadId" = String, Path, description = "The upload's id"), KeyQuery),
    responses(
        (status = 200, description = "The parts storage holds, in part order.", body = Vec<StoredPart>),
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
    KeyOrSession(who): KeyOrSession,
    ApiPath(upload_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KeyQuery>,
) -> Result<Json<Vec<StoredPart>>, ApiError> {
    let id = upload_of(&app, &who, &query.key, &upload_id).await?;
    let listed = app.service.list_parts(&who, id).await?;
    let parts = listed
        .parts
        .into_iter()
        .map(|part| StoredPart {
            part_number: part.part_number,
            etag: format!("\"{}\"", part.etag),
            size: part.size,
        })
        .collect();
    Ok(Json(parts))
}

/// Abort the upload (Companion's abort): storage drops the parts, the asset is `DELETED`.
#[utoipa::path(
    delete, path = "/companion/s3/multipart/{uploadId}", tag = "uppy", operation_id = "companion_abort",
    security(("api_key" = []), ("session" = [])),
    params(("uploadId" = String, Path, description = "The upload's id"), KeyQuery),
    responses(
        (status = 200, description = "Aborted.", body = AbortReply),
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
    KeyOrSession(who): KeyOrSession,
    ApiPath(upload_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KeyQuery>,
) -> Result<Json<AbortReply>, ApiError> {
    let id = upload_of(&app, &who, &query.key, &upload_id).await?;
    app.service.abort(&who, id).await?;
    Ok(Json(AbortReply {}))
}

/// A presigned URL for one part (Companion's sign part).
#[utoipa::path(
    get, path = "/companion/s3/multipart/{uploadId}/{partNumber}", tag = "uppy", operation_id = "companion_sign_part",
    security(("api_key" = []), ("session" = [])),
    params(
        ("uploadId" = String, Path, description = "The upload's id"),
        ("partNumber" = u32, Path, minimum = 1, maximum = 10000, description = "The part's number"),
        KeyQuery,
    ),
    responses(
        (status = 200, description = "The part's URL.", body = PartUrlReply),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn sign_part(
    State(app): State<AppState>,
    KeyOrSession(who): KeyOrSession,
    ApiPath((upload_id, part_number)): ApiPath<(String, u32)>,
    ApiQuery(query): ApiQuery<KeyQuery>,
) -> Result<Json<PartUrlReply>, ApiError> {
    let id = upload_of(&app, &who, &query.key, &upload_id).await?;
    let signed = sign(&app, &who, id, [part_number].into_iter()).await?;
    let part = signed
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "no URL was signed"))?;
    let expires = (part.expires_at - Utc::now()).num_seconds().max(0) as u64;
    Ok(Json(PartUrlReply {
        url: part.url,
        expires,
        headers: part.headers,
    }))
}

/// Presigned URLs for several parts at once (Companion's batch sign, which Uppy 3 calls).
#[utoipa::path(
    get, path = "/companion/s3/multipart/{uploadId}/batch", tag = "uppy", operation_id = "companion_sign_batch",
    security(("api_key" = []), ("session" = [])),
    params(("uploadId" = String, Path, description = "The upload's id"), BatchQuery),
    responses(
        (status = 200, description = "One URL per part asked for.", body = BatchReply),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn sign_batch(
    State(app): State<AppState>,
    KeyOrSession(who): KeyOrSession,
    ApiPath(upload_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<BatchQuery>,
) -> Result<Json<BatchReply>, ApiError> {
    let numbers = part_numbers(&query.part_numbers)?;
    let id = upload_of(&app, &who, &query.key, &upload_id).await?;
    let signed = sign(&app, &who, id, numbers.into_iter()).await?;
    let presigned_urls = signed
        .into_iter()
        .map(|part| (part.part_number, part.url))
        .collect();
    Ok(Json(BatchReply { presigned_urls }))
}

/// Complete the upload (Companion's complete): the parts are checked against storage's own
/// list, then assembled; the asset is `RECEIVED`. Confirm with `PUT /assets/{id}` as usual.
#[utoipa::path(
    post, path = "/companion/s3/multipart/{uploadId}/complete", tag = "uppy", operation_id = "companion_complete",
    security(("api_key" = []), ("session" = [])),
    params(("uploadId" = String, Path, description = "The upload's id"), KeyQuery),
    request_body(content = CompleteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Completed.", body = CompleteReply),
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
    KeyOrSession(who): KeyOrSession,
    ApiPath(upload_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KeyQuery>,
    JsonBody(request): JsonBody<CompleteRequest>,
) -> Result<Json<CompleteReply>, ApiError> {
    let id = upload_of(&app, &who, &query.key, &upload_id).await?;
    let parts = request
        .parts
        .into_iter()
        .map(|part| CompletedPart {
            part_number: part.part_number,
            etag: part.etag,
        })
        .collect();
    let asset = app
        .service
        .complete(&who, id, CompleteUpload { parts })
        .await?;
    Ok(Json(CompleteReply {
        location: format!("/assets/{}", asset.asset_id),
        key: query.key,
        bucket: app.service.bucket().to_string(),
    }))
}

/// The asset a (`key`, `uploadId`) pair names, if `who` may see it and the upload id is the
/// one its record holds; anything else is unknown, as another user's asset is.
async fn upload_of(
    app: &AppState,
    who: &Principal,
    key: &str,
    upload_id: &str,
) -> Result<AssetId, ApiError> {
    let unknown = || ApiError::new(ErrorCode::NotFound, "no such upload for that key");
    let id = id_from_key(key).ok_or_else(unknown)?;
    let asset = app.service.get_for(who, id).await?;
    match asset.multipart {
        Some(upload) if upload.upload_id == upload_id => Ok(id),
        _ => Err(unknown()),
    }
}

async fn sign(
    app: &AppState,
    who: &Principal,
    id: AssetId,
    numbers: impl Iterator<Item = u32>,
) -> Result<Vec<PartUrl>, ApiError> {
    let parts = numbers
        .map(|part_number| PartToSign {
            part_number,
            sha256: None,
        })
        .collect();
    Ok(app
        .service
        .sign_parts(who, id, SignParts { parts })
        .await?
        .parts)
}
