//! Server functions for the dashboard, and the port they call. Thin: each one takes the port
//! from context and forwards. The port is a trait so that `app` never depends on the AWS SDKs;
//! the server implements it with its one service layer.

use leptos::prelude::*;
use leptos::server_fn::codec::{Json, JsonEncoding};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::model::{
    Asset, AssetId, AssetPage, CreatedAsset, DownloadLink, ErrorCode, ListQuery, NewAsset,
};

/// An error the dashboard can show: what went wrong, in words, and its code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // Transport or (de)serialization failures: the server could not be reached or understood.
        ApiError::new(ErrorCode::Unavailable, value.to_string())
    }
}

/// What the dashboard needs from the service. Implemented by the server.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait AssetPort: Send + Sync + 'static {
    async fn create(&self, new: NewAsset) -> Result<CreatedAsset, ApiError>;
    async fn list(&self, query: ListQuery) -> Result<AssetPage, ApiError>;
    async fn download_link(
        &self,
        id: AssetId,
        ttl_secs: Option<u64>,
    ) -> Result<DownloadLink, ApiError>;
    async fn mark_uploaded(&self, id: AssetId) -> Result<Asset, ApiError>;
    async fn delete(&self, id: AssetId) -> Result<(), ApiError>;
}

#[cfg(feature = "ssr")]
pub type SharedPort = std::sync::Arc<dyn AssetPort>;

#[cfg(feature = "ssr")]
fn port() -> Result<SharedPort, ApiError> {
    use_context::<SharedPort>()
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "asset service is not configured"))
}

#[server(input = Json)]
pub async fn list_assets(query: ListQuery) -> Result<AssetPage, ApiError> {
    port()?.list(query).await
}

#[server(input = Json)]
pub async fn create_upload(new: NewAsset) -> Result<CreatedAsset, ApiError> {
    port()?.create(new).await
}

#[server(input = Json)]
pub async fn mark_uploaded(id: AssetId) -> Result<Asset, ApiError> {
    port()?.mark_uploaded(id).await
}

#[server(input = Json)]
pub async fn get_download_link(
    id: AssetId,
    ttl_secs: Option<u64>,
) -> Result<DownloadLink, ApiError> {
    port()?.download_link(id, ttl_secs).await
}

#[server(input = Json)]
pub async fn delete_asset(id: AssetId) -> Result<(), ApiError> {
    port()?.delete(id).await
}
