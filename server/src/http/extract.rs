//! Extractors whose rejection is the API's own JSON error, so handlers take typed input and a
//! malformed request never reaches them.

use axum::extract::{FromRequest, FromRequestParts, Request};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `Path<T>` with the API's error.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(super) struct ApiPath<T>(pub(super) T);

/// `Query<T>` with the API's error (use `deny_unknown_fields` on `T`: a misspelt parameter is an
/// error, not silently ignored).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(super) struct ApiQuery<T>(pub(super) T);

/// The raw body (already read and bounded by `limits::bounded`, which answers 413).
pub(super) struct ApiBody(pub(super) Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let body = request.into_body().collect().await;
        body.map(|body| Self(body.to_bytes()))
            .map_err(|e| ApiError::invalid(format!("reading the body: {e}")))
    }
}

/// A JSON object body; an empty body (or `null`) reads as `T::default()`, as the original
/// example's bare `POST` has none. Like the original, any content type is read as JSON.
pub(super) struct JsonBody<T>(pub(super) T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let ApiBody(body) = ApiBody::from_request(request, state).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        let bad = |err: serde_json::Error| {
            ApiError::invalid(format!("request body is not a valid request: {err}"))
        };
        // An object, nothing else: serde would read `[]` as a struct with every field absent.
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(bad)?;
        if value.is_null() {
            return Ok(Self(T::default()));
        }
        if !value.is_object() {
            return Err(ApiError::invalid("request body must be a JSON object"));
        }
        serde_json::from_value(value).map(Self).map_err(bad)
    }
}
