//! `GET /metrics` in the Prometheus text format, for admins (API key or dashboard session) or
//! a scraper presenting the metrics token; and the labels and recording with which `observe`
//! counts and times every request by method, route template and status.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{LazyLock, RwLock};
use std::time::Instant;

use app::model::{AssetState, ErrorCode};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::bearer_token;
use super::error::ApiError;
use super::notifications::constant_time_eq;
use super::openapi::{Forbidden, RateLimited, Unauthorized, Unavailable};
use crate::service::ServiceError;

/// Requests no route matched (static files, unknown paths) share one label value, so a
/// scanner cannot create a series per path it tries.
const UNMATCHED: &str = "unmatched";

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(render))
}

/// Metrics in the Prometheus text format (version 0.0.4): requests, assets by state, URLs
/// issued, events, reconciler, backend calls, sign-ins, build.
#[utoipa::path(
    get, path = "/metrics", tag = "operations", operation_id = "metrics",
    security(("api_key" = []), ("metrics_token" = [])),
    responses(
        (status = 200, description = "The metrics (an admin's key or session, or the scrape token).",
            body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn render(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&app, &headers).await?;
    let Some(recorder) = crate::meters::recorder() else {
        return Err(ServiceError::Unavailable(anyhow::anyhow!(
            "another metrics recorder is installed"
        ))
        .into());
    };
    let mut text = recorder.render();
    // This server's store, not the process's recorder: several servers in one process (tests)
    // each report their own.
    if let Some(counts) = app.service.assets_by_state().await {
        text.push_str(
            "# HELP assets_assets Assets by state (see the counting note in service::counts)\n",
        );
        text.push_str("# TYPE assets_assets gauge\n");
        for state in AssetState::ALL {
            let count = counts.get(&state).copied().unwrap_or(0);
            let _ = writeln!(text, "assets_assets{{state=\"{state}\"}} {count}");
        }
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

/// Admins (API key, or session cookie) and the scrape token may read metrics; another user is
/// a 403, nobody a 401.
async fn authorize(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(token) = bearer_token(headers) {
        if let Some(expected) = &app.metrics_token
            && constant_time_eq(token.as_bytes(), expected.as_bytes())
        {
            return Ok(());
        }
        let principal = app.auth.authenticate_key(token).await?;
        return admin_only(principal.admin);
    }
    if let Some(session) = app.cookie.read(headers)
        && let Some(principal) = app.auth.session(session).await?
    {
        return admin_only(principal.admin);
    }
    Err(ApiError::new(
        ErrorCode::Unauthorized,
        "send an admin's API key or the metrics token as 'Authorization: Bearer <secret>'",
    ))
}

fn admin_only(admin: bool) -> Result<(), ApiError> {
    match admin {
        true => Ok(()),
        false => Err(ApiError::new(
            ErrorCode::Forbidden,
            "only admins may read metrics",
        )),
    }
}

/// A request's method and route labels. Labels are `&'static str`s (interned templates,
/// known methods), so a request records without building label strings.
pub(super) fn labels(request: &Request) -> (&'static str, &'static str) {
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, |path| intern(path.as_str()));
    (method, route)
}

/// Counts and times a request once its response head is ready.
pub(super) fn record(
    (method, route): (&'static str, &'static str),
    response: &Response,
    started: Instant,
) {
    let status = intern(response.status().as_str());
    crate::meters::http_request(method, route, status, started.elapsed().as_secs_f64());
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Route templates and status codes as `'static` strings. Both sets are closed (the router's
/// templates; three-digit codes), so the few leaked strings are bounded.
static INTERNED: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(Default::default);

fn intern(value: &str) -> &'static str {
    if let Some(found) = INTERNED
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(value)
    {
        return found;
    }
    let mut set = INTERNED.write().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = set.get(value) {
        return found;
    }
    let leaked: &'static str = Box::leak(value.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_strings_are_shared() {
        let a = intern(&String::from("/assets/{id}"));
        let b = intern("/assets/{id}");
        assert!(std::ptr::eq(a, b));
        assert_eq!(a, "/assets/{id}");
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
