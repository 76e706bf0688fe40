//! `POST /events/s3`: event deliveries. SNS messages prove themselves with their signature;
//! every other sender (webhook, EventBridge API destination, MinIO) presents the shared token.
//! Nothing changes before that check. The body is read raw: SNS posts JSON as `text/plain`.

use app::model::ErrorCode;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::post;
use axum::{Json, Router};
use tracing::warn;

use super::AppState;
use super::error::ApiError;
use super::extract::ApiBody;
use crate::events::Delivery;
use crate::notifications::sns::{SnsDelivery, SnsError};
use crate::notifications::{BadDelivery, Envelope, parse_delivery, parse_envelope};
use crate::service::{EventSummary, ServiceError};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/events/s3", post(s3_events))
}

async fn s3_events(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Json<EventSummary>, ApiError> {
    let from_sns = headers.contains_key("x-amz-sns-message-type");
    if !from_sns {
        check_token(app.events_token.as_deref(), &headers)?;
    }
    let delivery = match parse_envelope(&body).map_err(bad_delivery)? {
        Envelope::Sns(message) => match app.sns.accept(&message).await {
            Ok(SnsDelivery::Notification(inner)) => {
                parse_delivery(inner.as_bytes()).map_err(bad_delivery)?
            }
            Ok(SnsDelivery::Subscribed | SnsDelivery::Ignored) => Delivery::default(),
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
    Ok(Json(app.service.apply_events(&delivery).await?))
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
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
