//! Server functions for the dashboard, and the port they call. Thin: each one takes the port
//! from context and forwards. The port is a trait so that `app` never depends on the AWS SDKs;
//! the server implements it with its one service layer.

use leptos::prelude::*;
use leptos::server_fn::codec::{Json, JsonEncoding};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

use crate::model::{
    Asset, AssetId, AssetPage, CreatedAsset, DownloadLink, ErrorBody, ErrorCode, ListQuery,
    NewAsset, UrlLifetime,
};

/// Server functions fail with the REST API's own error body; the server sets the matching
/// HTTP status.
impl FromServerFnError for ErrorBody {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let code = match &value {
            // The arguments could not be read: the caller's mistake.
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => ErrorCode::InvalidInput,
            ServerFnErrorErr::UnsupportedRequestMethod(_) => ErrorCode::MethodNotAllowed,
            ServerFnErrorErr::Registration(_) => ErrorCode::NotFound,
            // Transport failures: the server could not be reached or understood.
            _ => ErrorCode::Unavailable,
        };
        ErrorBody::new(code, value.to_string())
    }
}

/// What the dashboard needs from the service. Implemented by the server.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait AssetPort: Send + Sync + 'static {
    async fn create(&self, new: NewAsset) -> Result<CreatedAsset, ErrorBody>;
    async fn list(&self, query: ListQuery) -> Result<AssetPage, ErrorBody>;
    async fn download_link(
        &self,
        id: AssetId,
        lifetime: Option<UrlLifetime>,
    ) -> Result<DownloadLink, ErrorBody>;
    async fn mark_uploaded(&self, id: AssetId) -> Result<Asset, ErrorBody>;
    async fn delete(&self, id: AssetId) -> Result<(), ErrorBody>;
}

#[cfg(feature = "ssr")]
pub type SharedPort = std::sync::Arc<dyn AssetPort>;

#[cfg(feature = "ssr")]
fn port() -> Result<SharedPort, ErrorBody> {
    use_context::<SharedPort>()
        .ok_or_else(|| ErrorBody::new(ErrorCode::Unavailable, "asset service is not configured"))
}

// Each server function answers at a stable path, `/api/<name>`, with JSON in and out.
#[server(input = Json, endpoint = "list_assets")]
pub async fn list_assets(query: ListQuery) -> Result<AssetPage, ErrorBody> {
    port()?.list(query).await
}

#[server(input = Json, endpoint = "create_upload")]
pub async fn create_upload(new: NewAsset) -> Result<CreatedAsset, ErrorBody> {
    port()?.create(new).await
}

#[server(input = Json, endpoint = "mark_uploaded")]
pub async fn mark_uploaded(id: AssetId) -> Result<Asset, ErrorBody> {
    port()?.mark_uploaded(id).await
}

#[server(input = Json, endpoint = "get_download_link")]
pub async fn get_download_link(
    id: AssetId,
    lifetime: Option<UrlLifetime>,
) -> Result<DownloadLink, ErrorBody> {
    port()?.download_link(id, lifetime).await
}

#[server(input = Json, endpoint = "delete_asset")]
pub async fn delete_asset(id: AssetId) -> Result<(), ErrorBody> {
    port()?.delete(id).await
}
