//! The dashboard's side of the server: Leptos rendering and server functions, backed by the
//! service through the port `app` defines. Errors use the REST mapping (`error.rs`).

use std::sync::Arc;

use app::api::{AssetPort, SharedPort};
use app::model::{
    Asset, AssetId, AssetPage, CreatedAsset, DownloadLink, ErrorBody, ListQuery, NewAsset,
    UrlLifetime,
};
use app::{App, shell};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};

use super::error::{ApiError, server_fn_status};
use crate::service::{Service, ServiceError};

fn body(err: ServiceError) -> ErrorBody {
    ApiError::from(err).into_body()
}

#[async_trait::async_trait]
impl AssetPort for Service {
    async fn create(&self, new: NewAsset) -> Result<CreatedAsset, ErrorBody> {
        Service::create(self, new).await.map_err(body)
    }
    async fn list(&self, query: ListQuery) -> Result<AssetPage, ErrorBody> {
        Service::list(self, query).await.map_err(body)
    }
    async fn download_link(
        &self,
        id: AssetId,
        lifetime: Option<UrlLifetime>,
    ) -> Result<DownloadLink, ErrorBody> {
        Service::download_link(self, id, lifetime)
            .await
            .map_err(body)
    }
    async fn mark_uploaded(&self, id: AssetId) -> Result<Asset, ErrorBody> {
        Service::mark_uploaded(self, id).await.map_err(body)
    }
    async fn delete(&self, id: AssetId) -> Result<(), ErrorBody> {
        Service::delete(self, id).await.map_err(body)
    }
}

/// Pages, server functions and the site's static files (`/pkg`, `public/`).
pub(super) fn routes(service: Service, options: LeptosOptions) -> Router {
    let port: SharedPort = Arc::new(service);
    let routes = generate_route_list(App);
    Router::new()
        .leptos_routes_with_context(&options, routes, move || provide_context(port.clone()), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .layer(axum::middleware::from_fn(server_fn_status))
        .with_state(options)
}
