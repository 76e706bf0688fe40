//! S3 invoking the function directly: its notification `{"Records": [...]}`, parsed by the
//! parser `POST /events/s3` uses and applied by the same service call. No token: only S3 (by
//! the function's resource policy) may invoke it.

use serde_json::Value;

use super::failure;
use crate::notifications::parse_delivery;
use crate::service::Service;

/// Applies the notification's events; the summary as `POST /events/s3` answers it. A failure
/// (the store or S3 down) is an error, so Lambda retries the event.
pub(super) async fn handle(service: &Service, event: Value) -> Result<Value, lambda_http::Error> {
    let body = serde_json::to_vec(&event).map_err(|err| failure("reading the event", err))?;
    let delivery =
        parse_delivery(&body).map_err(|err| failure("not an S3 event notification", err))?;
    let summary = service
        .apply_events(&delivery)
        .await
        .map_err(|err| failure("applying S3 events", err))?;
    serde_json::to_value(summary).map_err(|err| failure("writing the summary", err))
}
