//! Every request gets an id: the client's `x-request-id` when it is a sane one, else a new
//! UUID. It is returned in the reply and is a field of the request's log span, so every log
//! line of that request carries it (text and JSON formats alike).

use axum::extract::Request;
use http::{HeaderName, HeaderValue};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

pub(super) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-chosen id kept; longer or odd ones are replaced.
const MAX_ID_LEN: usize = 128;

/// The request's id: the client's when acceptable, else a new one set on the request (for
/// the span). The caller puts it on the reply.
pub(super) fn ensure(request: &mut Request) -> Option<HeaderValue> {
    match request.headers().get(&REQUEST_ID) {
        Some(id) if acceptable(id) => Some(id.clone()),
        _ => {
            let made = HeaderValue::try_from(uuid::Uuid::new_v4().to_string()).ok()?;
            request.headers_mut().insert(REQUEST_ID, made.clone());
            Some(made)
        }
    }
}

/// Visible ASCII only (no spaces, no control characters that could forge log lines), bounded.
fn acceptable(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_ID_LEN && bytes.iter().all(u8::is_ascii_graphic)
}

/// The request span: at INFO, so the lines logged within it show the id at the default level.
#[derive(Clone, Copy)]
pub(super) struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &http::Request<B>) -> Span {
        let id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        // The path only: queries may carry cursors, and nothing secret belongs in logs.
        tracing::info_span!(
            "request",
            request_id = %id,
            method = %request.method(),
            path = %request.uri().path(),
        )
    }
}

/// Request tracing with the span above; the outcome of each request at DEBUG.
pub(super) fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_response(DefaultOnResponse::new().level(Level::DEBUG))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_ids_are_replaced() {
        assert!(acceptable(&HeaderValue::from_static("abc-123_X.y:z")));
        assert!(!acceptable(&HeaderValue::from_static("")));
        assert!(!acceptable(&HeaderValue::from_static("two words")));
        let long = "a".repeat(MAX_ID_LEN + 1);
        assert!(!acceptable(&HeaderValue::from_str(&long).unwrap()));
        assert!(acceptable(&HeaderValue::from_str(&long[1..]).unwrap()));
    }
}
