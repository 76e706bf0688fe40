//! The asset service. `run` wires the parts together; each module is one concern:
//! `config`, `telemetry`, `service` (the lifecycle), `store` (metadata), `objects` (S3 calls),
//! `embedded_s3` (the zero-setup object store), `events` (S3 notifications), `rest` (REST API),
//! `dashboard` (Leptos pages and server functions).

pub mod config;
pub mod dashboard;
pub mod embedded_s3;
pub mod events;
pub mod objects;
pub mod rest;
pub mod service;
pub mod store;
pub mod telemetry;

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tracing::info;

use crate::config::Config;
use crate::embedded_s3::{DiskObjects, EmbeddedCredentials};
use crate::objects::Objects;
use crate::service::{Policy, Service};
use crate::store::local::LocalStore;

/// Serves the dashboard, the REST API and the embedded S3 endpoint until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let leptos =
        leptos::config::get_configuration(None).context("reading the Leptos configuration")?;
    let options = leptos.leptos_options;
    let listen = config.listen.unwrap_or(options.site_addr);

    let credentials = EmbeddedCredentials::load_or_create(&config.data_dir)?;
    let store = Arc::new(LocalStore::open(&config.data_dir)?);
    let objects = Objects::embedded(
        &config.s3_public_url(),
        &format!("http://{}", config.s3_listen),
        &config.bucket,
        &credentials.access_key,
        &credentials.secret_key,
    );
    let policy = Policy {
        max_upload_bytes: config.max_upload_bytes,
        upload_url_ttl: config.upload_url_ttl(),
    };
    let service = Service::new(store, objects, policy);
    let disk = DiskObjects::open(
        &config.data_dir.join("objects"),
        &config.bucket,
        config.embedded_events.then(|| service.clone()),
    )?;

    let s3_listener = TcpListener::bind(config.s3_listen)
        .await
        .with_context(|| format!("binding the embedded S3 endpoint to {}", config.s3_listen))?;
    let app_listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let app = rest::router(service.clone(), config.events_token.clone())
        .merge(dashboard::router(service, options))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let s3 = embedded_s3::router(disk, &credentials);

    info!(url = %format!("http://{}", app_listener.local_addr()?), data_dir = %config.data_dir.display(), "dashboard and REST API listening");
    info!(url = %format!("http://{}", s3_listener.local_addr()?), public_url = %config.s3_public_url(), bucket = %config.bucket, "embedded S3 endpoint listening");

    let (app_result, s3_result) = tokio::join!(
        axum::serve(app_listener, app).with_graceful_shutdown(shutdown_signal()),
        axum::serve(s3_listener, s3).with_graceful_shutdown(shutdown_signal()),
    );
    app_result.context("serving the app")?;
    s3_result.context("serving the embedded S3 endpoint")?;
    info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
