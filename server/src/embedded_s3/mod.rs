//! The embedded S3-compatible endpoint: the object storage of the zero-setup default. Served by
//! the same binary on its own port (SigV4 signatures cover the path, so it cannot sit under a
//! prefix of the main router). Whatever it does, it does as S3 does; whatever it does not do,
//! it refuses with S3's error.
//! - `disk`: the on-disk layout (exact bytes, metadata beside, journaled commits, an index);
//! - `handlers`: the `S3` trait, handing each operation to `object_ops`, `copy`, `delete`,
//!   `listing` or `multipart`, with `request` (conditions, ranges, metadata) and `checksum` shared;
//! - `signature`: the checks S3 makes on a signature that `s3s` leaves out;
//! - `credentials`: the key pair it accepts, kept in the data directory.

mod checksum;
pub mod concurrency;
mod copy;
mod credentials;
mod delete;
mod disk;
mod handlers;
mod listing;
mod multipart;
mod object_ops;
mod request;
mod signature;
mod uploads;

pub use credentials::EmbeddedCredentials;
pub use handlers::{DiskObjects, UploadSweeper};

use std::cell::RefCell;
use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use http::{HeaderName, Method, StatusCode};
use http_body_util::BodyExt as _;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{info, warn};

/// Error bodies are small XML documents; anything longer is not read for the log.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// The endpoint as an axum router: CORS for browsers (PUT/GET from the dashboard, ETag
/// exposed), one log line per request without the query string (it holds the signature).
pub fn router(objects: DiskObjects, credentials: &EmbeddedCredentials) -> Router {
    let mut builder = s3s::service::S3ServiceBuilder::new(objects);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        credentials.access_key.clone(),
        credentials.secret_key.clone(),
    ));
    builder.set_access(NameOperation);
    let s3 = builder.build();
    let unimplemented_seen = Arc::new(Mutex::new(HashSet::<String>::new()));
    let service = tower::service_fn(move |req: axum::extract::Request| {
        let s3 = s3.clone();
        let unimplemented_seen = unimplemented_seen.clone();
        async move {
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            let close_after = expects_continue_unread(&req);
            let started = std::time::Instant::now();
            let (response, op) = match signature::refusal(&req) {
                Some(refused) => (refused, String::new()),
                None => {
                    let call = async {
                        let response = s3.call(req.map(s3s::Body::http_body_unsync)).await;
                        (response, OPERATION.with(|op| op.borrow().clone()))
                    };
                    let (response, op) = OPERATION.scope(RefCell::new(String::new()), call).await;
                    match response {
                        Ok(response) => (response.map(axum::body::Body::new), op),
                        Err(err) => {
                            warn!(%method, %path, op, error = ?err, "embedded s3 failed");
                            (generic_internal_error(), op)
                        }
                    }
                }
            };
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let status = response.status();
            let mut response = response;
            if close_after(status) {
                response.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            if status.is_client_error() || status.is_server_error() {
                let (mut response, code, message) = read_error(response).await;
                if status == StatusCode::INTERNAL_SERVER_ERROR
                    && message != disk::INTERNAL_ERROR_MESSAGE
                {
                    // Whatever failed (s3s's own errors included), the client gets S3's
                    // generic answer; the detail stays in this log line.
                    warn!(%method, %path, op, status = status.as_u16(), code, %message, "embedded s3 error detail withheld from the client");
                    response = generic_internal_error();
                }
                let first_time = code == "NotImplemented"
                    && unimplemented_seen
                        .lock()
                        .map(|mut seen| seen.insert(format!("{op} {message}")))
                        .unwrap_or(false);
                if first_time {
                    warn!(%method, %path, op, %message, "embedded s3: not implemented (logged once per operation)");
                } else if status.is_server_error() && code != "NotImplemented" {
                    warn!(%method, %path, op, status = status.as_u16(), code, %message, elapsed_ms, "embedded s3");
                } else {
                    info!(%method, %path, op, status = status.as_u16(), code, elapsed_ms, "embedded s3");
                }
                return Ok::<_, Infallible>(response);
            }
            info!(%method, %path, op, status = status.as_u16(), elapsed_ms, "embedded s3");
            Ok::<_, Infallible>(response)
        }
    });
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([
            Method::GET,
            Method::PUT,
            Method::HEAD,
            Method::POST,
            Method::DELETE,
        ])
        .allow_headers(tower_http::cors::Any)
        .expose_headers([
            http::header::ETAG,
            HeaderName::from_static("x-amz-request-id"),
        ])
        .max_age(Duration::from_secs(3600));
    Router::new().fallback_service(service).layer(cors)
}

/// For a request sent with `Expect: 100-continue`: whether to close the connection after
/// answering with `status`. An answer given without reading the body (an empty body, or an
/// error before it) sends no `100 Continue`; botocore then misreads the next response on that
/// connection and waits out its read timeout. Closing it keeps the client in step.
fn expects_continue_unread<B>(req: &http::Request<B>) -> impl Fn(StatusCode) -> bool + use<B> {
    let expects = req
        .headers()
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let empty = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0");
    move |status: StatusCode| expects && (empty || !status.is_success())
}

tokio::task_local! {
    /// The S3 operation of the request being served, named by `s3s` once it has routed it.
    static OPERATION: RefCell<String>;
}

/// Access control as `s3s` does it by default (a valid signature is required), noting the
/// operation's name for the request's log line.
struct NameOperation;

#[async_trait::async_trait]
impl s3s::access::S3Access for NameOperation {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
        let name = cx.s3_op().name().to_string();
        let _ = OPERATION.try_with(|op| *op.borrow_mut() = name);
        match cx.credentials() {
            Some(_) => Ok(()),
            None => Err(s3s::s3_error!(AccessDenied, "Signature is required")),
        }
    }
}

/// S3's answer to a failure it does not explain.
fn generic_internal_error() -> axum::response::Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>{}</Message></Error>",
        disk::INTERNAL_ERROR_MESSAGE
    );
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(http::header::CONTENT_TYPE, "application/xml")],
        body,
    )
        .into_response()
}

/// The S3 error code and message of an error response, and the response rebuilt.
async fn read_error(
    response: axum::response::Response,
) -> (axum::response::Response, String, String) {
    let (parts, body) = response.into_parts();
    let limited = http_body_util::Limited::new(body, ERROR_BODY_LIMIT);
    let Ok(collected) = limited.collect().await else {
        return (
            axum::response::Response::from_parts(parts, axum::body::Body::empty()),
            String::new(),
            String::new(),
        );
    };
    let bytes = collected.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    let field = |name: &str| {
        let open = format!("<{name}>");
        text.find(&open)
            .and_then(|at| {
                let rest = &text[at + open.len()..];
                rest.find(&format!("</{name}>"))
                    .map(|end| rest[..end].to_string())
            })
            .unwrap_or_default()
    };
    let (code, message) = (field("Code"), field("Message"));
    let response = axum::response::Response::from_parts(parts, axum::body::Body::from(bytes));
    (response, code, message)
}
