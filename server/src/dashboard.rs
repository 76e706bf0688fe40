//! The dashboard's side of the server: Leptos rendering and server functions, backed by the
//! service through the port `app` defines.

use std::sync::Arc;

use app::api::{ApiError, AssetPort, SharedPort};
use app::model::{Asset, AssetId, AssetPage, CreatedAsset, DownloadLink, ListQuery, NewAsset};
use app::{App, shell};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::service::{Service, ServiceError};

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        if let ServiceError::Unavailable(source) = &err {
            tracing::error!(error = ?source, "backend unavailable");
        }
        ApiError::new(err.code(), err.public_message())
    }
}

#[async_trait::async_trait]
impl AssetPort for Service {
    async fn create(&self, new: NewAsset) -> Result<CreatedAsset, ApiError> {
        Ok(Service::create(self, new).await?)
    }
    async fn list(&self, query: ListQuery) -> Result<AssetPage, ApiError> {
        Ok(Service::list(self, query).await?)
    }
    async fn download_link(
        &self,
        id: AssetId,
        ttl_secs: Option<u64>,
    ) -> Result<DownloadLink, ApiError> {
        Ok(Service::download_link(self, id, ttl_secs).await?)
    }
    async fn mark_uploaded(&self, id: AssetId) -> Result<Asset, ApiError> {
        Ok(Service::mark_uploaded(self, id).await?)
    }
    async fn delete(&self, id: AssetId) -> Result<(), ApiError> {
        Ok(Service::delete(self, id).await?)
    }
}

/// Pages, server functions and the site's static files (`/pkg`, `public/`).
pub fn router(service: Service, options: LeptosOptions) -> Router {
    let port: SharedPort = Arc::new(service);
    let routes = generate_route_list(App);
    Router::new()
        .leptos_routes_with_context(&options, routes, move || provide_context(port.clone()), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
}
