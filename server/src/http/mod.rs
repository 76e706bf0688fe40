//! The HTTP edge: everything that speaks HTTP to clients, thin over the service.
//! - `error`: the one error mapping; `extract`: typed input with the API's errors;
//! - `assets`: the REST API; `multipart`: its uploads in parts; `companion`: the same for Uppy,
//!   in Companion's shapes; `notifications`: `POST /events/s3`; `dashboard`: Leptos pages and
//!   server functions; `live`: `GET /assets/events`, the caller's changes as they happen;
//! - `auth`: who is calling (API key or session cookie); `web`: host check, CSRF check and
//!   security headers, in front of everything;
//! - `observe`: one layer giving every request its id (`request_id`, with its log span), its
//!   per-address rate limit (`rate_limit`) and its metrics (`metrics`: also `/metrics`);
//!   `limits`: body size, concurrency and time bounds;
//! - `openapi`: the API's OpenAPI document (`/openapi.json`) and its reference page (`/docs`).

mod assets;
mod auth;
mod companion;
mod dashboard;
mod error;
mod extract;
mod limits;
mod live;
mod metrics;
mod multipart;
mod notifications;
mod observe;
mod openapi;
mod preview;
mod rate_limit;
mod request_id;
mod web;

pub use error::ApiError;
pub use web::{VouchedHost, WebPolicy};

use std::sync::Arc;
use std::time::Duration;

use app::model::ErrorCode;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leptos::config::LeptosOptions;
use tokio::sync::watch;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Limits;
use crate::notifications::sns::SnsVerifier;
use crate::service::Service;
use crate::service::auth::Auth;

/// Longest request target and total header size we read; longer ones get 414 / 431 as JSON.
const MAX_URI_BYTES: usize = 8 * 1024;
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// What the REST and event handlers share.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    /// Webhook senders present it as `Authorization: Bearer <token>`; unset, only SNS may post.
    pub events_token: Option<String>,
    pub sns: SnsVerifier,
    pub auth: Auth,
    pub web: WebPolicy,
    /// Scrapers present it as `Authorization: Bearer <token>` on `GET /metrics`.
    pub metrics_token: Option<String>,
    cookie: auth::SessionCookie,
    limits: Arc<limits::RequestLimits>,
    live: Arc<live::Streams>,
    draining: Draining,
}

/// Set once the process is stopping: `/readyz` answers 503 at once, so load balancers stop
/// sending new requests while those in flight finish; live streams end at once.
#[derive(Clone, Debug)]
pub struct Draining(Arc<watch::Sender<bool>>);

impl Default for Draining {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }
}

impl Draining {
    pub fn start(&self) {
        self.0.send_replace(true);
    }

    fn started(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the drain has started.
    async fn stopping(&self) {
        let mut started = self.0.subscribe();
        let _ = started.wait_for(|started| *started).await;
    }
}

impl AppState {
    pub fn new(
        service: Service,
        auth: Auth,
        web: WebPolicy,
        events_token: Option<String>,
        sns: SnsVerifier,
        limits: &Limits,
        draining: Draining,
    ) -> Self {
        let cookie = auth::SessionCookie::new(web.secure());
        Self {
            service,
            events_token,
            sns,
            auth,
            web,
            metrics_token: None,
            cookie,
            limits: limits::RequestLimits::new(limits),
            live: live::Streams::new(limits, None),
            draining,
        }
    }

    pub fn with_metrics_token(mut self, token: Option<String>) -> Self {
        self.metrics_token = token;
        self
    }

    /// Live streams tell pages to refetch this often: set when other replicas share the store
    /// (their changes never reach this process's streams).
    pub fn with_live_refresh(mut self, limits: &Limits, every: Option<Duration>) -> Self {
        self.live = live::Streams::new(limits, every);
        self
    }

    /// Replies are buffered whole (Lambda behind API Gateway): live streams send `hello`
    /// (refetch every `refresh`) and end.
    pub fn with_buffered_live(mut self, limits: &Limits, refresh: Duration) -> Self {
        self.live = live::Streams::buffered(limits, refresh);
        self
    }
}

/// The whole app: REST API, event endpoint, health checks, dashboard; behind (outermost
/// first) the request id, metrics and per-address rate limit (`observe`), the request's log
/// span, the request-head limits, the host and same-origin checks with the security headers,
/// and the body, concurrency and time bounds.
pub fn router(state: AppState, options: LeptosOptions) -> Router {
    // Every REST route is added here, with its documentation (`openapi`).
    let (api, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(assets::routes())
        .merge(preview::routes())
        .merge(multipart::routes())
        .merge(companion::routes())
        .merge(notifications::routes())
        .merge(metrics::routes())
        .merge(live::routes())
        .routes(routes!(healthz))
        .routes(routes!(ready))
        .split_for_parts();
    openapi::add_common_responses(&mut doc);
    let doc = openapi::published(&doc, state.service.max_upload_bytes());
    let json = [(http::header::CONTENT_TYPE, "application/json")];
    let api = api
        .route("/openapi.json", get(move || async move { (json, doc) }))
        .merge(openapi::docs_page())
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "method not allowed")
        });
    let dashboard = dashboard::routes(&state, options);
    let web = state.web.clone();
    let observed = !state.limits.bench_bare;
    let app = api
        .with_state(state.clone())
        .merge(dashboard)
        .layer(from_fn_with_state(state.clone(), limits::bounded));
    if !observed {
        // For `bench/run.sh` only: what the layers below cost, measured in one build.
        return app
            .layer(from_fn_with_state(web, web::guard))
            .layer(axum::middleware::from_fn(request_head_limits))
            .layer(tower_http::trace::TraceLayer::new_for_http());
    }
    app.layer(from_fn_with_state(web, web::guard))
        .layer(axum::middleware::from_fn(request_head_limits))
        .layer(request_id::trace_layer())
        .layer(observe::ObserveLayer::new(state.limits.clone()))
}

/// The health probes' paths: load balancers call them by address, however busy the server.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "healthz",
    responses((status = 200, description = "Alive.", body = String, content_type = "text/plain", example = "ok")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the metadata store and object storage answer.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready.", body = String, content_type = "text/plain", example = "ready"),
        (status = 503, response = openapi::Unavailable),
    ))]
async fn ready(State(app): State<AppState>) -> Result<&'static str, ApiError> {
    if app.draining.started() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "shutting down: requests in flight are finishing",
        ));
    }
    app.service.ready().await?;
    Ok("ready")
}

/// Refuses oversized request heads with the API's JSON error (hyper's own, larger limits
/// answer with an empty body).
async fn request_head_limits(request: Request, next: Next) -> Response {
    // Measured from its parts: no allocation on every request.
    let uri = request.uri();
    let uri_len = uri.path().len()
        + uri.query().map_or(0, |q| q.len() + 1)
        + uri.authority().map_or(0, |a| a.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::rejected(
            http::StatusCode::URI_TOO_LONG,
            format!("the request target is {uri_len} bytes; at most {MAX_URI_BYTES} are read"),
        )
        .into_response();
    }
    let header_len: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_len > MAX_HEADER_BYTES {
        return ApiError::rejected(
            http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "the request headers are {header_len} bytes; at most {MAX_HEADER_BYTES} are read"
            ),
        )
        .into_response();
    }
    next.run(request).await
}
