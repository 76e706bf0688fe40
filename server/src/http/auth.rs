//! Who is calling. REST: `Authorization: Bearer <API key>` (the `ApiCaller` extractor). The
//! dashboard: the session cookie, read once per request by `sessions` into the request's
//! extensions, where pages and server functions find it.

use std::net::SocketAddr;

use app::model::{ErrorCode, Principal};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::AppState;
use super::error::ApiError;
use crate::service::auth::{AuthError, SignedIn, api_key_id};

/// The principal of a request that presented a valid API key.
pub(super) struct ApiCaller(pub(super) Principal);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(AuthError::Unauthenticated(
                "send an API key as 'Authorization: Bearer <key>'",
            )
            .into());
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(AuthError::Unauthenticated(
                "the Authorization header must be 'Bearer <key>'",
            ))?;
        let principal = app.auth.authenticate_key(token).await?;
        // Limited per key: the key authenticated, so its id is well formed.
        let caller = format!("key:{}", api_key_id(token).unwrap_or_default());
        app.limits
            .rates
            .check_caller(&caller, client_address(&parts.extensions))?;
        Ok(Self(principal))
    }
}

/// The principal of a request with an API key or, when it has no `Authorization` header, the
/// dashboard's session cookie: for routes that both scripts and our own pages call (Uppy on
/// the dashboard's origin). A cookie-borne state change has already passed the same-origin
/// check (`web::guard`).
pub(super) struct KeyOrSession(pub(super) Principal);

impl FromRequestParts<AppState> for KeyOrSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            let ApiCaller(principal) = ApiCaller::from_request_parts(parts, app).await?;
            return Ok(Self(principal));
        }
        let signed_out =
            AuthError::Unauthenticated("send 'Authorization: Bearer <API key>' or sign in first");
        let caller = session_caller(app, &parts.headers)
            .await?
            .ok_or(signed_out)?;
        check_user_rate(app, &caller.principal, &parts.extensions)?;
        Ok(Self(caller.principal))
    }
}

/// The secret of an `Authorization: Bearer <secret>` header, if the request has one.
pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// The signed-in user of a dashboard request, with the session id that proved it.
#[derive(Clone, Debug)]
pub(super) struct SessionCaller {
    pub(super) principal: Principal,
    pub(super) session_id: String,
}

/// The session cookie's name and attributes.
#[derive(Clone, Debug)]
pub(super) struct SessionCookie {
    secure: bool,
}

impl SessionCookie {
    pub(super) fn new(secure: bool) -> Self {
        Self { secure }
    }

    /// `__Host-` (host-only, path `/`, `Secure`) when served over https.
    fn name(&self) -> &'static str {
        if self.secure {
            "__Host-assets_session"
        } else {
            "assets_session"
        }
    }

    /// The session id the request's cookie carries.
    pub(super) fn read<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == self.name())
            .map(|(_, value)| value)
            .filter(|value| !value.is_empty())
    }

    pub(super) fn set(&self, signed_in: &SignedIn) -> Option<HeaderValue> {
        self.header(&signed_in.session_id, signed_in.max_age.num_seconds())
    }

    pub(super) fn clear(&self) -> Option<HeaderValue> {
        self.header("", 0)
    }

    fn header(&self, value: &str, max_age: i64) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.name()
        ))
        .ok()
    }
}

/// Server functions anyone may call: signing in and out, asking who is signed in.
const PUBLIC_SERVER_FNS: [&str; 3] = ["/api/sign_in", "/api/sign_out", "/api/current_user"];
const SIGN_IN_PAGE: &str = "/sign-in";

/// Reads the session cookie into the request's extensions (`SessionCaller`). A page asked for
/// without a session goes to the sign-in page; a server function without one is a 401.
pub(super) async fn sessions(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    // Static files (`/pkg`, `public/`) need no session: no store reads for them.
    if !request.uri().path().starts_with("/api/") && !wants_page(&request) {
        return next.run(request).await;
    }
    let caller = match session_caller(&app, request.headers()).await {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    let path = request.uri().path();
    let signed_in = caller.is_some();
    if path.starts_with("/api/") {
        if !signed_in && !PUBLIC_SERVER_FNS.contains(&path) {
            return ApiError::new(ErrorCode::Unauthorized, "sign in first").into_response();
        }
    } else {
        match (signed_in, path == SIGN_IN_PAGE) {
            (false, false) => return Redirect::to(SIGN_IN_PAGE).into_response(),
            (true, true) => return Redirect::to("/").into_response(),
            _ => {}
        }
    }
    if let Some(caller) = caller {
        if let Err(limited) = check_user_rate(&app, &caller.principal, request.extensions()) {
            return limited.into_response();
        }
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

/// The signed-in user the request's session cookie names, if any.
async fn session_caller(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionCaller>, ApiError> {
    let Some(id) = app.cookie.read(headers) else {
        return Ok(None);
    };
    let principal = app.auth.session(id).await?;
    Ok(principal.map(|principal| SessionCaller {
        principal,
        session_id: id.to_string(),
    }))
}

/// A signed-in user's requests count against their own rate limit.
fn check_user_rate(
    app: &AppState,
    principal: &Principal,
    extensions: &http::Extensions,
) -> Result<(), ApiError> {
    let user = format!("user:{}", principal.user);
    app.limits
        .rates
        .check_caller(&user, client_address(extensions))
}

/// The dashboard's pages (the `App` routes): asked for without a session, they redirect to
/// the sign-in page. Every other path is a static file, `/pkg`, or a 404.
const PAGES: [&str; 2] = ["/", "/keys"];

/// A request for one of the dashboard's pages.
fn wants_page(request: &Request) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD)
        && (PAGES.contains(&request.uri().path()) || request.uri().path() == SIGN_IN_PAGE)
}

/// The client's address (set by the accept loop), for throttling and rate limits.
pub(super) fn client_address(extensions: &http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

pub(super) fn unauthorized() -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, "sign in first")
}
