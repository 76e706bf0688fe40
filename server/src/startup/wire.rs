//! The wiring the long-lived server and AWS Lambda share: open the backends, make the service,
//! users and sessions, the web policy and the HTTP state. Binds nothing.

use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::EmbeddedUrls;
use super::backends::{Backends, first_run, open_backends};
use crate::config::{Config, StoreKind};
use crate::embedded_s3::EmbeddedCredentials;
use crate::http::{AppState, Draining, WebPolicy};
use crate::notifications::sns::{HttpsSns, SnsVerifier};
use crate::service::Service;
use crate::service::auth::Auth;

/// How often open dashboards refetch their list when other replicas may share the store.
const SHARED_STORE_REFRESH: Duration = Duration::from_secs(30);

/// Where the wired parts serve from.
pub(crate) enum Edge {
    /// The long-lived server; the sign-in URL is for the first run's message.
    Server { sign_in_url: String },
    /// AWS Lambda behind API Gateway or a function URL: always https, the host name is the one
    /// API Gateway vouches for, and no response streams (see `http::live`).
    Lambda,
}

/// What both edges serve with.
pub(crate) struct Wired {
    pub(crate) service: Service,
    pub(crate) auth: Auth,
    pub(crate) state: AppState,
    pub(crate) draining: Draining,
    /// The embedded endpoint's credentials (embedded objects only).
    pub(crate) credentials: Option<EmbeddedCredentials>,
}

pub(crate) async fn wire(
    config: &Config,
    s3_urls: &EmbeddedUrls,
    edge: &Edge,
) -> anyhow::Result<Wired> {
    let Backends {
        assets,
        auth,
        objects,
        credentials,
    } = open_backends(config, s3_urls).await?;
    let auth = super::auth_service(config, auth);
    // Lambda skips the first run: AWS mode creates no user, and adopting the assets from
    // before owners existed scans the table, on every cold start.
    if let Edge::Server { sign_in_url } = edge {
        // A DynamoDB that is down must not stop the start: requests answer 503 until it is
        // back, and the next start adopts what this one could not.
        match first_run(config, &auth, assets.as_ref(), sign_in_url).await {
            Err(err) if config.store == StoreKind::Dynamodb => {
                warn!(
                    error = format!("{err:#}"),
                    "could not check users and owners at start-up"
                )
            }
            other => other?,
        }
    }
    // Any presigned URL names object storage's origin, which pages may connect to.
    let storage_url = objects
        .presign_get(
            app::model::AssetId::from_uuid(uuid::Uuid::nil()),
            "attachment",
            "application/octet-stream",
            app::model::UrlLifetime::DEFAULT_DOWNLOAD,
        )
        .await
        .map(|p| p.url)
        .ok();
    let public_url = config.public_url.as_deref();
    let web = match edge {
        Edge::Server { .. } => WebPolicy::new(public_url, storage_url.as_deref())?,
        Edge::Lambda => WebPolicy::behind_api_gateway(public_url, storage_url.as_deref())?,
    };
    let service = Service::new(assets, objects, super::policy(config));

    let sns = SnsVerifier::new(config.sns_topic_arns.clone(), Arc::new(HttpsSns::new()?));
    let draining = Draining::default();
    let state = AppState::new(
        service.clone(),
        auth.clone(),
        web,
        config.events_token.clone(),
        sns,
        &config.limits,
        draining.clone(),
    )
    .with_metrics_token(config.metrics_token.clone());
    // Replicas sharing DynamoDB never hear of each other's writes: pages refetch now and then.
    let shared_store = (config.store == StoreKind::Dynamodb).then_some(SHARED_STORE_REFRESH);
    let state = match edge {
        Edge::Server { .. } => state.with_live_refresh(&config.limits, shared_store),
        // Every invocation may run in another instance: refetching is the only way to see changes.
        Edge::Lambda => state.with_buffered_live(&config.limits, SHARED_STORE_REFRESH),
    };
    crate::meters::recorder(); // installed before the first request is counted
    Ok(Wired {
        service,
        auth,
        state,
        draining,
        credentials,
    })
}
