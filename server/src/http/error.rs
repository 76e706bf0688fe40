//! Every error reply, REST and server functions alike: `{"error_message","code"}` with the
//! status that goes with the code. This file is the one mapping from what went wrong to HTTP.

use app::model::{ErrorBody, ErrorCode, InvalidInput};
use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::error;

use crate::service::ServiceError;
use crate::service::auth::AuthError;

/// An error reply: a status and the JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    /// Seconds to wait, for `Retry-After` (a 503 says 1).
    retry_after: Option<u64>,
}

/// The status of each code. Codes name what went wrong; this picks how HTTP says it.
pub(super) fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Conflict | ErrorCode::NotPreviewable => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::MisdirectedRequest => StatusCode::MISDIRECTED_REQUEST,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The code for a status the framework chose (a rejection before our code ran).
fn code_of(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::URI_TOO_LONG
        | StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ErrorCode::TooLarge,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::MISDIRECTED_REQUEST => ErrorCode::MisdirectedRequest,
        s if s.is_server_error() => ErrorCode::Unavailable,
        _ => ErrorCode::InvalidInput,
    }
}

impl ApiError {
    /// An error with the status that goes with `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: status_of(code),
            body: ErrorBody::new(code, message),
            retry_after: None,
        }
    }

    /// A rejection the framework produced: its status (a few statuses narrowed to the
    /// contract's), and its text as the message.
    pub fn rejected(status: StatusCode, message: impl Into<String>) -> Self {
        let status = match status {
            // Data that parsed but does not fit is bad input too (axum says 422).
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            other => other,
        };
        Self {
            status,
            body: ErrorBody::new(code_of(status), message),
            retry_after: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn into_body(self) -> ErrorBody {
        self.body
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// With `Retry-After`: the wait in whole seconds, rounded up.
    pub fn with_retry_after(self, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self {
            retry_after: Some(secs.max(1)),
            ..self
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match &err {
            ServiceError::NotFound(_) => Self::new(ErrorCode::NotFound, err.to_string()),
            ServiceError::Conflict { .. } | ServiceError::TooBroad(_) => {
                Self::new(ErrorCode::Conflict, err.to_string())
            }
            ServiceError::NotPreviewable(_) => {
                Self::new(ErrorCode::NotPreviewable, err.to_string())
            }
            ServiceError::Invalid(invalid) if invalid.too_large => {
                Self::new(ErrorCode::TooLarge, err.to_string())
            }
            ServiceError::Invalid(_) => Self::new(ErrorCode::InvalidInput, err.to_string()),
            ServiceError::Forbidden(_) => Self::new(ErrorCode::Forbidden, err.to_string()),
            ServiceError::Unavailable(source) => {
                // The details stay in the logs.
                error!(error = ?source, "backend unavailable");
                Self::new(
                    ErrorCode::Unavailable,
                    "storage is unavailable; retry later",
                )
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unauthenticated(_) => Self::new(ErrorCode::Unauthorized, err.to_string()),
            AuthError::Throttled(wait) => Self {
                retry_after: Some(wait.as_secs().max(1)),
                ..Self::new(ErrorCode::RateLimited, err.to_string())
            },
            AuthError::Invalid(invalid) => invalid.into(),
            AuthError::NotFound(_) => Self::new(ErrorCode::NotFound, err.to_string()),
            AuthError::AlreadyExists(_) => Self::new(ErrorCode::Conflict, err.to_string()),
            AuthError::Unavailable(source) => ServiceError::Unavailable(source).into(),
        }
    }
}

impl From<InvalidInput> for ApiError {
    fn from(err: InvalidInput) -> Self {
        ServiceError::Invalid(err).into()
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::rejected(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::rejected(rejection.status(), rejection.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        Self::rejected(rejection.status(), rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = match self.status {
            StatusCode::SERVICE_UNAVAILABLE => Some(self.retry_after.unwrap_or(1)),
            _ => self.retry_after,
        };
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let mut response = (self.status, Json(self.body)).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if unauthorized {
            // Scripts authenticate with an API key as a bearer token (RFC 6750).
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Server functions answer errors with status 500 whatever they were; their body is our
/// `ErrorBody`, so give them the status that goes with its code, as REST does.
pub(super) async fn server_fn_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return ApiError::new(ErrorCode::Unavailable, "the reply could not be read")
            .into_response();
    };
    if let Ok(error) = serde_json::from_slice::<ErrorBody>(&bytes) {
        parts.status = status_of(error.code);
        if parts.status == StatusCode::SERVICE_UNAVAILABLE {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
