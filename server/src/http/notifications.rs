//! `POST /events/s3`: event deliveries. SNS messages prove themselves with their signature;
//! every other sender (webhook, EventBridge API destination, MinIO) presents the shared token.
//! Nothing changes before that check. The body is read raw: SNS posts JSON as `text/plain`.

use app::model::ErrorCode;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use tracing::warn;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;
use super::extract::ApiBody;
use super::openapi::{BadRequest, Forbidden, TooLarge, Unauthorized, Unavailable};
use crate::events::{Delivery, EventSource};
use crate::notifications::sns::{SnsDelivery, SnsError};
use crate::notifications::{BadDelivery, Envelope, EventDelivery, parse_delivery, parse_envelope};
use crate::service::{EventSummary, ServiceError};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(s3_events))
}

/// Deliver S3 event notifications: a raw S3 notification (also MinIO's webhook), an EventBridge
/// event, S3's test event, or an SNS message wrapping one.
///
/// Answers `200` only once every event is applied; a `5xx` means retry. SNS messages carry
/// `x-amz-sns-message-type` and are checked by signature (their topic must be allowed); every
/// other sender presents the events token. SNS posts JSON as `text/plain`: the body is read as
/// JSON whatever its content type.
#[utoipa::path(
    post, path = "/events/s3", tag = "events", operation_id = "deliver_s3_events",
    security(("events_token" = []), ()),
    request_body(content(
        (EventDelivery = "application/json"),
        (EventDelivery = "text/plain"),
    )),
    responses(
        (status = 200, description = "Applied (or skipped: duplicates, stale, not ours).", body = EventSummary),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = TooLarge),
        (status = 503, response = Unavailable),
    ),
)]
async fn s3_events(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Json<EventSummary>, ApiError> {
    let from_sns = headers.contains_key("x-amz-sns-message-type");
    let delivery = accept(&app, &headers, &body).await.inspect_err(|err| {
        // Refused before its events were read: the sender is who it claimed to be, at best.
        if err.status().is_client_error() {
            let source = if from_sns { "sns" } else { "unknown" };
            crate::meters::events(source, "refused", 1);
        }
    })?;
    Ok(Json(app.service.apply_events(&delivery).await?))
}

/// The delivery's events, once its sender proved itself and its envelope was read.
async fn accept(app: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, ApiError> {
    let from_sns = headers.contains_key("x-amz-sns-message-type");
    if !from_sns {
        check_token(app.events_token.as_deref(), headers)?;
    }
    let delivery = match parse_envelope(body).map_err(bad_delivery)? {
        Envelope::Sns(message) => match app.sns.accept(&message).await {
            Ok(SnsDelivery::Notification(inner)) => Delivery {
                source: EventSource::Sns,
                ..parse_delivery(inner.as_bytes()).map_err(bad_delivery)?
            },
            Ok(SnsDelivery::Subscribed | SnsDelivery::Ignored) => Delivery {
                source: EventSource::Sns,
                ..Delivery::default()
            },
            Err(SnsError::Rejected(why)) => {
                warn!(topic_arn = %message.topic_arn, %why, "SNS delivery refused");
                return Err(ApiError::new(ErrorCode::Forbidden, why.to_string()));
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
    Ok(delivery)
}

fn bad_delivery(err: BadDelivery) -> ApiError {
    match err {
        BadDelivery::Invalid(_) => ApiError::invalid(err.to_string()),
        BadDelivery::TooManyRecords(_) => ApiError::new(ErrorCode::TooLarge, err.to_string()),
    }
}

fn check_token(expected: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
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
            ErrorCode::Unauthorized,
            "missing or wrong event token",
        ));
    }
    Ok(())
}

/// Compares secrets without an early exit that would leak how much of a guess was right.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
