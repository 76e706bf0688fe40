//! The asset service. `run` wires the parts together; each module is one concern:
//! `config`, `telemetry`, `aws` (SDK settings), `service` (the lifecycle), `store` (metadata),
//! `objects` (S3 calls),
//! `embedded_s3` (the zero-setup object store), `events` (S3 notifications), `rest` (REST API),
//! `dashboard` (Leptos pages and server functions).

pub mod aws;
pub mod config;
pub mod dashboard;
pub mod embedded_s3;
pub mod events;
pub mod objects;
pub mod rest;
pub mod service;
pub mod sns;
pub mod store;
pub mod telemetry;

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tracing::info;

use crate::config::{Command, Config, ObjectsKind, StoreKind};
use crate::embedded_s3::{DiskObjects, EmbeddedCredentials};
use crate::objects::Objects;
use crate::service::{Policy, Service};
use crate::sns::{HttpsSns, SnsVerifier};
use crate::store::AssetStore;
use crate::store::dynamo::{Capacity, DynamoStore};
use crate::store::local::LocalStore;

/// Runs the command: by default, serves the dashboard, the REST API and (on the embedded
/// default) the embedded S3 endpoint until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    if let Some(Command::InitAws {
        read_capacity,
        write_capacity,
    }) = config.command
    {
        let capacity = match (read_capacity, write_capacity) {
            (Some(read), Some(write)) => Capacity::Provisioned { read, write },
            _ => Capacity::OnDemand,
        };
        return init_aws(&config, capacity).await;
    }
    let (store, objects, embedded) = open_backends(&config).await?;
    let service = Service::new(store, objects, policy(&config));
    if let Some(Command::Reconcile) = config.command {
        let report = service.reconcile().await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if let Some(interval) = config.reconcile_interval() {
        tokio::spawn(reconcile_every(service.clone(), interval));
    }
    let sns = SnsVerifier::new(config.sns_topic_arns.clone(), Arc::new(HttpsSns::new()?));

    let leptos =
        leptos::config::get_configuration(None).context("reading the Leptos configuration")?;
    let options = leptos.leptos_options;
    let listen = config.listen.unwrap_or(options.site_addr);

    let app_listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let app = rest::router(service.clone(), config.events_token.clone(), sns)
        .merge(dashboard::router(service.clone(), options))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    info!(
        url = %format!("http://{}", app_listener.local_addr()?), store = ?config.store, objects = ?config.objects,
        "dashboard and REST API listening"
    );
    let serve_app = async {
        axum::serve(app_listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving the app")
    };

    match embedded {
        None => serve_app.await?,
        Some(credentials) => {
            let disk = DiskObjects::open(
                &config.data_dir.join("objects"),
                &config.bucket,
                config.embedded_events.then(|| service.clone()),
            )?;
            let s3_listener = TcpListener::bind(config.s3_listen).await.with_context(|| {
                format!("binding the embedded S3 endpoint to {}", config.s3_listen)
            })?;
            info!(
                url = %format!("http://{}", s3_listener.local_addr()?), public_url = %config.s3_public_url(),
                bucket = %config.bucket, data_dir = %config.data_dir.display(), "embedded S3 endpoint listening"
            );
            let s3 = embedded_s3::router(disk, &credentials);
            let serve_s3 = async {
                axum::serve(s3_listener, s3)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
                    .context("serving the embedded S3 endpoint")
            };
            tokio::try_join!(serve_app, serve_s3)?;
        }
    }
    info!("stopped");
    Ok(())
}

fn policy(config: &Config) -> Policy {
    Policy {
        max_upload_bytes: config.max_upload_bytes,
        upload_url_ttl: config.upload_url_ttl(),
        stale_after: std::time::Duration::from_secs(config.reconcile_stale_after),
        abandoned_after: std::time::Duration::from_secs(config.abandoned_after),
    }
}

/// The background reconciler: a sweep every `interval`; a failed sweep waits for the next.
async fn reconcile_every(service: Service, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate: let start-up finish first
    loop {
        ticks.tick().await;
        match service.reconcile().await {
            Ok(report) if report != Default::default() => info!(?report, "reconciler sweep"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "reconciler sweep failed; next one retries"),
        }
    }
}

/// The metadata store and object storage the configuration asks for, plus the embedded
/// endpoint's credentials when objects are embedded.
async fn open_backends(
    config: &Config,
) -> anyhow::Result<(Arc<dyn AssetStore>, Objects, Option<EmbeddedCredentials>)> {
    let needs_aws = config.store == StoreKind::Dynamodb || config.objects == ObjectsKind::S3;
    let sdk = match needs_aws {
        true => Some(aws::sdk_config(config.aws_region.as_deref()).await),
        false => None,
    };
    let store: Arc<dyn AssetStore> = match (config.store, &sdk) {
        (StoreKind::Dynamodb, Some(sdk)) => Arc::new(dynamo_store(config, sdk)),
        _ => Arc::new(LocalStore::open(&config.data_dir)?),
    };
    Ok(match (config.objects, &sdk) {
        (ObjectsKind::S3, Some(sdk)) => {
            let objects = Objects::aws(
                sdk,
                &config.bucket,
                config.s3_endpoint.as_deref(),
                config.s3_force_path_style,
            );
            (store, objects, None)
        }
        _ => {
            let credentials = EmbeddedCredentials::load_or_create(&config.data_dir)?;
            let objects = Objects::embedded(
                &config.s3_public_url(),
                &format!("http://{}", config.s3_listen),
                &config.bucket,
                &credentials.access_key,
                &credentials.secret_key,
            );
            (store, objects, Some(credentials))
        }
    })
}

fn dynamo_store(config: &Config, sdk: &aws_config::SdkConfig) -> DynamoStore {
    let mut dynamo = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = &config.dynamodb_endpoint {
        dynamo = dynamo.endpoint_url(endpoint);
    }
    DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(dynamo.build()),
        &config.dynamodb_table,
        config.created_ttl(),
    )
}

/// `server init-aws`: creates the table and the bucket (with CORS) the AWS mode needs.
async fn init_aws(config: &Config, capacity: Capacity) -> anyhow::Result<()> {
    let sdk = aws::sdk_config(config.aws_region.as_deref()).await;
    dynamo_store(config, &sdk).create_table(capacity).await?;
    Objects::aws(
        &sdk,
        &config.bucket,
        config.s3_endpoint.as_deref(),
        config.s3_force_path_style,
    )
    .create_bucket_with_cors(&config.cors_origins)
    .await?;
    info!(table = %config.dynamodb_table, bucket = %config.bucket, "AWS resources ready");
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
