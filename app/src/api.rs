//! Server functions for the dashboard, and the port they call. Thin: each one takes the port
//! from context and forwards. The port is a trait so that `app` never depends on the AWS SDKs;
//! the server implements it with its one service layer.

use leptos::prelude::*;
use leptos::server_fn::codec::{Json, JsonEncoding};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

use crate::model::{
    ApiKeyInfo, Asset, AssetId, AssetPage, CompleteUpload, CreatedApiKey, CreatedAsset,
    DeleteFailure, DownloadLink, ErrorBody, ErrorCode, ListQuery, NewApiKey, NewAsset, PartUrls,
    PreviewLink, Principal, SignInForm, SignParts, UploadPolicy, UploadedParts, UrlLifetime,
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

/// What the dashboard needs from the service. Implemented by the server, which acts as the
/// request's signed-in user (it knows the request; these functions need not pass it on).
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
    async fn preview_link(&self, id: AssetId) -> Result<PreviewLink, ErrorBody>;
    async fn upload_policy(&self) -> Result<UploadPolicy, ErrorBody>;
    async fn mark_uploaded(&self, id: AssetId) -> Result<Asset, ErrorBody>;
    async fn delete(&self, id: AssetId) -> Result<(), ErrorBody>;
    async fn sign_parts(&self, id: AssetId, parts: SignParts) -> Result<PartUrls, ErrorBody>;
    async fn list_parts(&self, id: AssetId) -> Result<UploadedParts, ErrorBody>;
    async fn complete_upload(&self, id: AssetId, parts: CompleteUpload)
    -> Result<Asset, ErrorBody>;
    async fn abort_upload(&self, id: AssetId) -> Result<(), ErrorBody>;
}

/// Signing in and out, and the signed-in user's API keys. Implemented by the server (it sets
/// and clears the session cookie).
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait AuthPort: Send + Sync + 'static {
    async fn current_user(&self) -> Result<Option<Principal>, ErrorBody>;
    async fn sign_in(&self, form: SignInForm) -> Result<Principal, ErrorBody>;
    async fn sign_out(&self) -> Result<(), ErrorBody>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, ErrorBody>;
    async fn create_api_key(&self, new: NewApiKey) -> Result<CreatedApiKey, ErrorBody>;
    async fn revoke_api_key(&self, key_id: String) -> Result<(), ErrorBody>;
}

#[cfg(feature = "ssr")]
pub type SharedPort = std::sync::Arc<dyn AssetPort>;
#[cfg(feature = "ssr")]
pub type SharedAuthPort = std::sync::Arc<dyn AuthPort>;

#[cfg(feature = "ssr")]
fn port() -> Result<SharedPort, ErrorBody> {
    use_context::<SharedPort>()
        .ok_or_else(|| ErrorBody::new(ErrorCode::Unavailable, "asset service is not configured"))
}

#[cfg(feature = "ssr")]
fn auth_port() -> Result<SharedAuthPort, ErrorBody> {
    use_context::<SharedAuthPort>()
        .ok_or_else(|| ErrorBody::new(ErrorCode::Unavailable, "sign-in is not configured"))
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

/// A 5-minute inline URL for an image, video, audio or PDF asset (`not_previewable` else).
#[server(input = Json, endpoint = "get_preview_link")]
pub async fn get_preview_link(id: AssetId) -> Result<PreviewLink, ErrorBody> {
    port()?.preview_link(id).await
}

/// What the browser needs to plan an upload (when it goes in parts).
#[server(input = Json, endpoint = "get_upload_policy")]
pub async fn get_upload_policy() -> Result<UploadPolicy, ErrorBody> {
    port()?.upload_policy().await
}

#[server(input = Json, endpoint = "delete_asset")]
pub async fn delete_asset(id: AssetId) -> Result<(), ErrorBody> {
    port()?.delete(id).await
}

/// Deletes several assets (the dashboard's multi-select), each exactly as `delete_asset` does,
/// one after another; answers those that could not be deleted, with why. At most
/// `MAX_BULK_DELETE` ids: more is refused whole, nothing deleted.
#[server(input = Json, endpoint = "delete_assets")]
pub async fn delete_assets(ids: Vec<AssetId>) -> Result<Vec<DeleteFailure>, ErrorBody> {
    use crate::model::MAX_BULK_DELETE;
    if ids.len() > MAX_BULK_DELETE {
        return Err(ErrorBody::new(
            ErrorCode::InvalidInput,
            format!("at most {MAX_BULK_DELETE} assets can be deleted at once"),
        ));
    }
    let port = port()?;
    let mut failed = Vec::new();
    for id in ids {
        if let Err(error) = port.delete(id).await {
            failed.push(DeleteFailure { id, error });
        }
    }
    Ok(failed)
}

/// Presigned URLs for some parts of a multipart upload.
#[server(input = Json, endpoint = "sign_part_urls")]
pub async fn sign_part_urls(id: AssetId, parts: SignParts) -> Result<PartUrls, ErrorBody> {
    port()?.sign_parts(id, parts).await
}

/// The parts storage holds so far (to resume).
#[server(input = Json, endpoint = "list_uploaded_parts")]
pub async fn list_uploaded_parts(id: AssetId) -> Result<UploadedParts, ErrorBody> {
    port()?.list_parts(id).await
}

#[server(input = Json, endpoint = "complete_multipart")]
pub async fn complete_multipart(id: AssetId, parts: CompleteUpload) -> Result<Asset, ErrorBody> {
    port()?.complete_upload(id, parts).await
}

/// Cancels a multipart upload: its parts are dropped and the asset is deleted.
#[server(input = Json, endpoint = "abort_multipart")]
pub async fn abort_multipart(id: AssetId) -> Result<(), ErrorBody> {
    port()?.abort_upload(id).await
}

/// The signed-in user, if any.
#[server(input = Json, endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Principal>, ErrorBody> {
    auth_port()?.current_user().await
}

/// Starts a session (sets the session cookie). Wrong name or password: `unauthorized`;
/// too many failures: `rate_limited`.
#[server(input = Json, endpoint = "sign_in")]
pub async fn sign_in(form: SignInForm) -> Result<Principal, ErrorBody> {
    auth_port()?.sign_in(form).await
}

/// Ends the session on the server and clears the cookie.
#[server(input = Json, endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ErrorBody> {
    auth_port()?.sign_out().await
}

/// The signed-in user's API keys, newest first.
#[server(input = Json, endpoint = "list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyInfo>, ErrorBody> {
    auth_port()?.list_api_keys().await
}

/// A new API key for the signed-in user; the reply holds its secret, shown this once.
#[server(input = Json, endpoint = "create_api_key")]
pub async fn create_api_key(new: NewApiKey) -> Result<CreatedApiKey, ErrorBody> {
    auth_port()?.create_api_key(new).await
}

/// Revokes one of the signed-in user's keys (another user's key id answers `not_found`).
#[server(input = Json, endpoint = "revoke_api_key")]
pub async fn revoke_api_key(key_id: String) -> Result<(), ErrorBody> {
    auth_port()?.revoke_api_key(key_id).await
}
