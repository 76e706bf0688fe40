//! The embedded endpoint's own cap on requests at once (uploads included, however long they
//! take): past it, S3's `503 SlowDown`, which every S3 client retries with back-off.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use tokio::sync::Semaphore;

const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
<Message>Please reduce your request rate.</Message></Error>";

/// Admits a request while fewer than the cap are in flight; its slot is held until the
/// response body has been sent.
pub async fn admit(State(slots): State<Arc<Semaphore>>, request: Request, next: Next) -> Response {
    let Ok(slot) = slots.try_acquire_owned() else {
        let mut response = Response::new(Body::from(SLOW_DOWN));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let response = next.run(request).await;
    // Downloads stream after the handler returns: the slot rides along with the body.
    response.map(|body| {
        Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
            let _slot = &slot;
            frame
        }))
    })
}
