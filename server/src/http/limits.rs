//! Per-request bounds on the app port: body size (413), requests at once (503, load shed
//! rather than queued), time to answer (503), and the rate limits (`rate_limit`).

use std::sync::Arc;
use std::time::Duration;

use app::model::ErrorCode;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt as _;
use tokio::sync::Semaphore;

use super::error::ApiError;
use super::rate_limit::RateLimits;
use super::{AppState, is_probe};
use crate::config::Limits;

/// What bounds each request, shared by every request.
pub(super) struct RequestLimits {
    body_bytes: usize,
    event_body_bytes: usize,
    timeout: Duration,
    in_flight: Semaphore,
    pub(super) rates: RateLimits,
    /// Benchmarks only: no request metrics, request ids or rate limits.
    pub(super) bench_bare: bool,
}

impl RequestLimits {
    pub(super) fn new(config: &Limits) -> Arc<Self> {
        let bytes = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Arc::new(Self {
            body_bytes: bytes(config.max_request_body_bytes),
            event_body_bytes: bytes(config.max_event_body_bytes),
            timeout: config.request_timeout(),
            in_flight: Semaphore::new(bytes(config.max_concurrent_requests)),
            rates: match config.bench_without_observability {
                true => RateLimits::new(0, 0, false),
                false => RateLimits::new(
                    config.rate_limit,
                    config.rate_limit_per_address,
                    config.rate_limit_loopback,
                ),
            },
            bench_bare: config.bench_without_observability,
        })
    }
}

/// The event endpoint takes large deliveries; everything else takes small JSON bodies.
const EVENTS_PATH: &str = "/events/s3";

/// Completing a multipart upload lists every part (up to 10,000, about 80 bytes each), over
/// the small-body limit, and waits while storage assembles the object, over the request
/// timeout: the REST route, the dashboard's server function and the Uppy route.
const COMPLETE_BODY_BYTES: usize = 2 << 20;

fn is_completion(path: &str) -> bool {
    path == "/api/complete_multipart"
        || (path.ends_with("/complete")
            && (path.starts_with("/assets/") || path.starts_with("/companion/")))
}

/// Sheds load past the concurrency cap, answers 503 past the timeout, and reads the body
/// (up to its limit, else 413) before the handler runs, so no handler or server function
/// reads an unbounded body.
pub(super) async fn bounded(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let limits = &app.limits;
    // Probes are not shed: a busy server is alive, and says itself whether it is ready.
    let probe = is_probe(request.uri().path());
    let permit = limits.in_flight.try_acquire();
    if permit.is_err() && !probe {
        return ApiError::new(
            ErrorCode::Unavailable,
            "the server is handling as many requests as it may; retry shortly",
        )
        .into_response();
    }
    let limit = match request.uri().path() {
        EVENTS_PATH => limits.event_body_bytes,
        path if is_completion(path) => limits.body_bytes.max(COMPLETE_BODY_BYTES),
        _ => limits.body_bytes,
    };
    let timeout = match is_completion(request.uri().path()) {
        // Storage assembles the object while the client waits.
        true => limits.timeout.max(crate::objects::COMPLETION_TIMEOUT),
        false => limits.timeout,
    };
    let answer = async move {
        let request = match read_body(request, limit).await {
            Ok(request) => request,
            Err(rejection) => return rejection,
        };
        next.run(request).await
    };
    match tokio::time::timeout(timeout, answer).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "the request was not answered within {} s; retry later",
                timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

/// After a body turns out too large, how much more is read and dropped, and for how long,
/// before answering: closing with unread bytes makes the kernel reset the connection, and the
/// client may lose the 413 to that reset. Nothing of it is kept.
const DRAIN_BYTES: u64 = 16 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// The request with its body read into memory, or the 413 (or 400) to answer.
async fn read_body(request: Request, limit: usize) -> Result<Request, Response> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        let mut response = ApiError::rejected(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over {limit} bytes"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    };
    if declared == Some(0) || (declared.is_none() && !has_body(&request)) {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    if declared.is_some_and(|n| n > limit as u64) {
        // A client waiting for `100 Continue` never sends the body; a small excess is drained
        // so the client reads the answer; a large one is not read at all.
        let expects = parts.headers.contains_key(header::EXPECT);
        if !expects && declared.is_some_and(|n| n <= DRAIN_BYTES) {
            drain(body, DRAIN_BYTES).await;
        }
        return Err(too_large());
    }
    let mut body = body;
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|err| ApiError::invalid(format!("reading the body: {err}")).into_response())?;
        if let Ok(data) = frame.into_data() {
            if read.len() + data.len() > limit {
                drain(body, DRAIN_BYTES).await;
                return Err(too_large());
            }
            read.extend_from_slice(&data);
        }
    }
    Ok(Request::from_parts(parts, Body::from(Bytes::from(read))))
}

/// Whether a request without `Content-Length` may carry a body (chunked).
fn has_body(request: &Request) -> bool {
    request.headers().contains_key(header::TRANSFER_ENCODING)
}

/// Reads and drops up to `bytes` more of a body, for at most `DRAIN_TIME`.
async fn drain(mut body: Body, bytes: u64) {
    let mut seen = 0u64;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while seen < bytes
            && let Some(Ok(frame)) = body.frame().await
        {
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
        }
    })
    .await;
}
