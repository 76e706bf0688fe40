//! The embedded S3-compatible endpoint: the object storage of the zero-setup default. Served by
//! the same binary on its own port (SigV4 signatures cover the path, so it cannot sit under a
//! prefix of the main router).
//! - `disk`: the on-disk format (atomic, streamed, durable writes);
//! - `handlers`: the S3 operations, which emit `ObjectEvent`s and never call the service;
//! - `credentials`: the key pair it accepts, kept in the data directory.

mod credentials;
mod disk;
mod handlers;

pub use credentials::EmbeddedCredentials;
pub use handlers::DiskObjects;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use http::{HeaderName, Method, StatusCode};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{info, warn};

/// The endpoint as an axum router: CORS for browsers (PUT/GET from the dashboard, ETag
/// exposed), one log line per request without the query string (it holds the signature).
pub fn router(objects: DiskObjects, credentials: &EmbeddedCredentials) -> Router {
    let mut builder = s3s::service::S3ServiceBuilder::new(objects);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        credentials.access_key.clone(),
        credentials.secret_key.clone(),
    ));
    let s3 = builder.build();
    let service = tower::service_fn(move |req: axum::extract::Request| {
        let s3 = s3.clone();
        async move {
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            let started = std::time::Instant::now();
            let response = match s3.call(req.map(s3s::Body::http_body_unsync)).await {
                Ok(response) => response.map(axum::body::Body::new),
                Err(err) => {
                    warn!(%method, %path, error = ?err, "embedded s3 failed");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            };
            info!(
                %method, %path, status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64, "embedded s3"
            );
            Ok::<_, Infallible>(response)
        }
    });
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([Method::GET, Method::PUT, Method::HEAD])
        .allow_headers(tower_http::cors::Any)
        .expose_headers([
            http::header::ETAG,
            HeaderName::from_static("x-amz-request-id"),
        ])
        .max_age(Duration::from_secs(3600));
    Router::new().fallback_service(service).layer(cors)
}
