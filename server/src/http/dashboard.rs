//! The dashboard's side of the server: Leptos rendering and server functions, backed by the
//! service through the ports `app` defines, acting as the request's signed-in user. Errors
//! use the REST mapping (`error.rs`).

use std::sync::Arc;

use app::api::{AssetPort, AuthPort, SharedAuthPort, SharedPort};
use app::model::{
    ApiKeyInfo, Asset, AssetId, AssetPage, CompleteUpload, CreatedApiKey, CreatedAsset,
    DownloadLink, ErrorBody, ListQuery, NewApiKey, NewAsset, PartUrls, PreviewLink, Principal,
    SignInForm, SignParts, UploadPolicy, UploadedParts, UrlLifetime,
};
use app::{App, shell};
use axum::Router;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, ResponseOptions, generate_route_list};

use super::AppState;
use super::auth::{SessionCaller, SessionCookie, client_address, unauthorized};
use super::error::{ApiError, server_fn_status};
use super::web::WebPolicy;
use crate::service::Service;
use crate::service::auth::Auth;

/// The service and sign-in as the dashboard sees them.
struct DashboardPort {
    service: Service,
    auth: Auth,
    cookie: SessionCookie,
}

fn body(err: impl Into<ApiError>) -> ErrorBody {
    err.into().into_body()
}

/// The request being answered (leptos_axum provides its parts to every server function).
fn request() -> Result<Parts, ErrorBody> {
    use_context::<Parts>().ok_or_else(|| body(unauthorized()))
}

fn caller() -> Result<SessionCaller, ErrorBody> {
    request()?
        .extensions
        .get::<SessionCaller>()
        .cloned()
        .ok_or_else(|| body(unauthorized()))
}

fn who() -> Result<Principal, ErrorBody> {
    Ok(caller()?.principal)
}

fn set_header(name: header::HeaderName, value: Option<HeaderValue>) {
    if let (Some(response), Some(value)) = (use_context::<ResponseOptions>(), value) {
        response.insert_header(name, value);
    }
}

#[async_trait::async_trait]
impl AssetPort for DashboardPort {
    async fn create(&self, new: NewAsset) -> Result<CreatedAsset, ErrorBody> {
        self.service.create(&who()?, new).await.map_err(body)
    }
    async fn list(&self, query: ListQuery) -> Result<AssetPage, ErrorBody> {
        self.service.list(&who()?, query).await.map_err(body)
    }
    async fn download_link(
        &self,
        id: AssetId,
        lifetime: Option<UrlLifetime>,
    ) -> Result<DownloadLink, ErrorBody> {
        let who = who()?;
        self.service
            .download_link(&who, id, lifetime)
            .await
            .map_err(body)
    }
    async fn preview_link(&self, id: AssetId) -> Result<PreviewLink, ErrorBody> {
        self.service.preview_link(&who()?, id).await.map_err(body)
    }
    async fn upload_policy(&self) -> Result<UploadPolicy, ErrorBody> {
        // Signed-in users only, like every other asset call.
        who()?;
        Ok(self.service.upload_policy())
    }
    async fn mark_uploaded(&self, id: AssetId) -> Result<Asset, ErrorBody> {
        self.service.mark_uploaded(&who()?, id).await.map_err(body)
    }
    async fn delete(&self, id: AssetId) -> Result<(), ErrorBody> {
        self.service.delete(&who()?, id).await.map_err(body)
    }
    async fn sign_parts(&self, id: AssetId, parts: SignParts) -> Result<PartUrls, ErrorBody> {
        let who = who()?;
        self.service.sign_parts(&who, id, parts).await.map_err(body)
    }
    async fn list_parts(&self, id: AssetId) -> Result<UploadedParts, ErrorBody> {
        self.service.list_parts(&who()?, id).await.map_err(body)
    }
    async fn complete_upload(
        &self,
        id: AssetId,
        parts: CompleteUpload,
    ) -> Result<Asset, ErrorBody> {
        let who = who()?;
        self.service.complete(&who, id, parts).await.map_err(body)
    }
    async fn abort_upload(&self, id: AssetId) -> Result<(), ErrorBody> {
        self.service.abort(&who()?, id).await.map_err(body)
    }
}

#[async_trait::async_trait]
impl AuthPort for DashboardPort {
    async fn current_user(&self) -> Result<Option<Principal>, ErrorBody> {
        Ok(caller().ok().map(|c| c.principal))
    }

    async fn sign_in(&self, form: SignInForm) -> Result<Principal, ErrorBody> {
        let client = client_address(&request()?.extensions);
        match self.auth.sign_in(&form.name, &form.password, client).await {
            Ok(signed_in) => {
                set_header(header::SET_COOKIE, self.cookie.set(&signed_in));
                Ok(signed_in.principal)
            }
            Err(err) => {
                let err = ApiError::from(err);
                set_header(
                    header::RETRY_AFTER,
                    err.retry_after().map(HeaderValue::from),
                );
                Err(err.into_body())
            }
        }
    }

    async fn sign_out(&self) -> Result<(), ErrorBody> {
        if let Ok(caller) = caller() {
            self.auth.sign_out(&caller.session_id).await.map_err(body)?;
        }
        set_header(header::SET_COOKIE, self.cookie.clear());
        Ok(())
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, ErrorBody> {
        let who = who()?;
        self.auth.list_keys(Some(&who.user)).await.map_err(body)
    }

    async fn create_api_key(&self, new: NewApiKey) -> Result<CreatedApiKey, ErrorBody> {
        let who = who()?;
        self.auth.create_key(&who.user, new).await.map_err(body)
    }

    async fn revoke_api_key(&self, key_id: String) -> Result<(), ErrorBody> {
        let who = who()?;
        self.auth
            .revoke_key(&key_id, Some(&who.user))
            .await
            .map_err(body)
    }
}

/// Pages, server functions and the site's static files (`/pkg`, `public/`). Pages carry a
/// CSP that admits the hydration script by its per-request nonce.
pub(super) fn routes(app: &AppState, options: LeptosOptions) -> Router {
    let port = Arc::new(DashboardPort {
        service: app.service.clone(),
        auth: app.auth.clone(),
        cookie: app.cookie.clone(),
    });
    let assets: SharedPort = port.clone();
    let auth: SharedAuthPort = port;
    let web: WebPolicy = app.web.clone();
    let context = move || {
        provide_context(assets.clone());
        provide_context(auth.clone());
        if let Some(nonce) = leptos::nonce::use_nonce() {
            set_header(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&web.content_security_policy(Some(&nonce))).ok(),
            );
        }
    };
    let routes = generate_route_list(App);
    Router::new()
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .layer(axum::middleware::from_fn(server_fn_status))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            super::auth::sessions,
        ))
        .with_state(options)
}
