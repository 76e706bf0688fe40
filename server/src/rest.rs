//! The REST API: parse, call the service, shape the reply. Nothing else lives here.

use std::collections::HashMap;

use app::model::{
    AssetId, DownloadLink, ErrorBody, ErrorCode, InvalidInput, ListQuery, NewAsset, StatusReply,
    parse_ttl,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use tracing::{error, warn};

use crate::events::{Delivery, Envelope, parse_delivery, parse_envelope};
use crate::service::{Service, ServiceError};
use crate::sns::{SnsDelivery, SnsError, SnsVerifier};

#[derive(Clone)]
struct AppState {
    service: Service,
    /// Webhook senders present it as `Authorization: Bearer <token>`; unset, only SNS may post.
    events_token: Option<String>,
    sns: SnsVerifier,
}

pub fn router(service: Service, events_token: Option<String>, sns: SnsVerifier) -> Router {
    let state = AppState {
        service,
        events_token,
        sns,
    };
    let mut router = Router::new();
    // `/asset` is the original example's path; both answer.
    for base in ["/assets", "/asset"] {
        router = router.route(base, post(create).get(list)).route(
            &format!("{base}/{{id}}"),
            get(download).put(mark_uploaded).delete(delete),
        );
    }
    router
        .route("/events/s3", post(s3_events))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::InvalidInput,
                "method not allowed",
            )
        })
        .with_state(state)
}

/// Every error reply: `{"error_message","code"}` with the right status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error_message: message.into(),
                code,
            },
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        let code = err.code();
        let status = match code {
            ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        if let ServiceError::Unavailable(source) = &err {
            error!(error = ?source, "backend unavailable");
        }
        Self::new(status, code, err.public_message())
    }
}

impl From<InvalidInput> for ApiError {
    fn from(err: InvalidInput) -> Self {
        ServiceError::Invalid(err).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let mut response = (self.status, Json(self.body)).into_response();
        if retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(raw: Params) -> Result<HashMap<String, String>, ApiError> {
    raw.map(|Query(map)| map)
        .map_err(|e| ApiError::invalid(format!("bad query string: {e}")))
}

fn asset_id(raw: &str) -> Result<AssetId, ApiError> {
    Ok(raw.parse::<AssetId>()?)
}

async fn create(State(app): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    // The original's bare `POST` has no body; anything else must be a JSON object.
    let new: NewAsset = if body.iter().all(u8::is_ascii_whitespace) {
        NewAsset::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::invalid(format!("request body is not a valid upload request: {e}"))
        })?
    };
    let created = app.service.create(new).await?;
    let location = format!("/assets/{}", created.id);
    let mut response = (StatusCode::CREATED, Json(created)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn list(State(app): State<AppState>, query: Params) -> Result<Response, ApiError> {
    let params = params(query)?;
    let mut query = ListQuery::default();
    for (name, value) in &params {
        match name.as_str() {
            "limit" => {
                query.limit =
                    Some(value.parse().map_err(|_| {
                        ApiError::invalid(format!("limit '{value}' is not a number"))
                    })?)
            }
            "cursor" => query.cursor = Some(value.clone()),
            "state" => query.state = Some(value.parse()?),
            "include_deleted" => {
                query.include_deleted = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(ApiError::invalid("include_deleted must be true or false")),
                }
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown query parameter '{other}'"
                )));
            }
        }
    }
    Ok(Json(app.service.list(query).await?).into_response())
}

async fn download(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: Params,
) -> Result<Json<DownloadLink>, ApiError> {
    let id = asset_id(&id)?;
    let ttl = params(query)?
        .get("timeout")
        .map(|raw| parse_ttl(raw))
        .transpose()?;
    Ok(Json(app.service.download_link(id, ttl).await?))
}

async fn mark_uploaded(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<StatusReply>), ApiError> {
    let asset = app.service.mark_uploaded(asset_id(&id)?).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(StatusReply {
            status: asset.state,
        }),
    ))
}

async fn delete(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.service.delete(asset_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// S3 event deliveries. SNS messages prove themselves with their signature; every other sender
/// (webhook, EventBridge API destination, MinIO) presents the shared token. Nothing changes
/// before that check. The body is read raw: SNS posts JSON as `text/plain`.
async fn s3_events(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let from_sns = headers.contains_key("x-amz-sns-message-type");
    if !from_sns {
        check_token(app.events_token.as_deref(), &headers)?;
    }
    let delivery = match parse_envelope(&body).map_err(|e| ApiError::invalid(e.to_string()))? {
        Envelope::Sns(message) => match app.sns.accept(&message).await {
            Ok(SnsDelivery::Notification(inner)) => {
                parse_delivery(inner.as_bytes()).map_err(|e| ApiError::invalid(e.to_string()))?
            }
            Ok(SnsDelivery::Subscribed | SnsDelivery::Ignored) => Delivery::default(),
            Err(SnsError::Rejected(why)) => {
                warn!(topic_arn = %message.topic_arn, %why, "SNS delivery refused");
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    ErrorCode::InvalidInput,
                    why.to_string(),
                ));
            }
            Err(SnsError::Unavailable(err)) => return Err(ServiceError::Unavailable(err).into()),
        },
        Envelope::Events(_) if from_sns => {
            return Err(ApiError::invalid(
                "x-amz-sns-message-type is set but the body is not an SNS message",
            ));
        }
        Envelope::Events(delivery) => delivery,
    };
    let summary = app.service.apply_events(&delivery).await?;
    Ok(Json(summary).into_response())
}

fn check_token(expected: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidInput,
            "webhook deliveries are off: set ASSETS_EVENTS_TOKEN (SNS deliveries need ASSETS_SNS_TOPIC_ARNS)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        warn!("event delivery with a missing or wrong token refused");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidInput,
            "missing or wrong event token",
        ));
    }
    Ok(())
}

async fn ready(State(app): State<AppState>) -> Result<&'static str, ApiError> {
    app.service.ready().await?;
    Ok("ready")
}

/// Compares secrets without an early exit that would leak how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
