//! Start-up: bind first (port 0 works), then derive what depends on the bound addresses (the
//! URLs presigned for clients), open the backends, wire the parts, serve until told to stop.
//! Also the one-shot subcommands (`reconcile`, `init-aws`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::{Command, Config, ObjectsKind, StoreKind};
use crate::embedded_s3::{DiskObjects, EmbeddedCredentials};
use crate::events::{EventReceiver, event_channel};
use crate::http::AppState;
use crate::notifications::sns::{HttpsSns, SnsVerifier};
use crate::objects::Objects;
use crate::provision::{Capacity, create_bucket_with_cors, create_table};
use crate::service::{Policy, Service, apply_object_events};
use crate::store::AssetStore;
use crate::store::dynamo::DynamoStore;
use crate::store::local::LocalStore;

/// How long the event consumer may take, after the servers stopped, to apply what is queued.
const EVENT_DRAIN: Duration = Duration::from_secs(5);

/// Runs the command: by default, serves until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    match &config.command {
        None | Some(Command::Serve) => {
            let app = Application::build(config).await?;
            app.run_until(shutdown_signal()).await
        }
        Some(Command::Reconcile) => {
            // On the embedded default, the running server's endpoint is at the configured address.
            let s3_urls = EmbeddedUrls::configured(&config);
            let (store, objects, _) = open_backends(&config, &s3_urls).await?;
            let service = Service::new(store, objects, policy(&config));
            let report = service.reconcile().await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Some(Command::InitAws {
            read_capacity,
            write_capacity,
        }) => {
            let capacity = match (read_capacity, write_capacity) {
                (Some(read), Some(write)) => Capacity::Provisioned {
                    read: *read,
                    write: *write,
                },
                _ => Capacity::OnDemand,
            };
            init_aws(&config, capacity).await
        }
    }
}

/// The server, bound and wired, not yet serving.
pub struct Application {
    app_listener: TcpListener,
    embedded: Option<EmbeddedEndpoint>,
    router: axum::Router,
    service: Service,
    reconcile_interval: Option<Duration>,
}

/// The embedded S3 endpoint: its listener, its objects, and the events they emit.
struct EmbeddedEndpoint {
    listener: TcpListener,
    router: axum::Router,
    events: Option<EventReceiver>,
    uploads: crate::embedded_s3::UploadSweeper,
}

/// How often abandoned multipart uploads are looked for, and how old they must be.
const UPLOAD_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
const UPLOADS_ABANDONED_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where clients reach the embedded endpoint (signed into URLs) and where the server does.
struct EmbeddedUrls {
    public: String,
    internal: String,
}

impl EmbeddedUrls {
    fn for_address(config: &Config, bound: SocketAddr) -> Self {
        let internal = format!("http://{bound}");
        let public = match &config.s3_public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => internal.clone(),
        };
        Self { public, internal }
    }

    fn configured(config: &Config) -> Self {
        Self::for_address(config, config.s3_listen)
    }
}

impl Application {
    /// Binds both ports, opens the backends and wires everything.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let leptos =
            leptos::config::get_configuration(None).context("reading the Leptos configuration")?;
        let options = leptos.leptos_options;
        let listen = config.listen.unwrap_or(options.site_addr);
        let app_listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;

        let embedded = config.objects == ObjectsKind::Embedded;
        let s3_listener = match embedded {
            true => Some(TcpListener::bind(config.s3_listen).await.with_context(|| {
                format!("binding the embedded S3 endpoint to {}", config.s3_listen)
            })?),
            false => None,
        };
        let s3_urls = match &s3_listener {
            Some(listener) => EmbeddedUrls::for_address(&config, listener.local_addr()?),
            None => EmbeddedUrls::configured(&config),
        };
        let (store, objects, credentials) = open_backends(&config, &s3_urls).await?;
        let service = Service::new(store, objects, policy(&config));

        let embedded = match (s3_listener, credentials) {
            (Some(listener), Some(credentials)) => {
                let (sender, events) = match config.embedded_events {
                    true => {
                        let (sender, receiver) = event_channel();
                        (Some(sender), Some(receiver))
                    }
                    false => (None, None),
                };
                let disk =
                    DiskObjects::open(&config.data_dir.join("objects"), &config.bucket, sender)?;
                info!(
                    url = %format!("http://{}", listener.local_addr()?), public_url = %s3_urls.public,
                    bucket = %config.bucket, data_dir = %config.data_dir.display(),
                    "embedded S3 endpoint listening"
                );
                Some(EmbeddedEndpoint {
                    listener,
                    uploads: disk.upload_sweeper(),
                    router: crate::embedded_s3::router(disk, &credentials),
                    events,
                })
            }
            _ => None,
        };

        let sns = SnsVerifier::new(config.sns_topic_arns.clone(), Arc::new(HttpsSns::new()?));
        let state = AppState {
            service: service.clone(),
            events_token: config.events_token.clone(),
            sns,
        };
        let router = crate::http::router(state, options);
        info!(
            url = %format!("http://{}", app_listener.local_addr()?), store = ?config.store,
            objects = ?config.objects, "dashboard and REST API listening"
        );
        Ok(Self {
            app_listener,
            embedded,
            router,
            service,
            reconcile_interval: config.reconcile_interval(),
        })
    }

    /// Where the dashboard and REST API listen.
    pub fn address(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.app_listener.local_addr()?)
    }

    /// Where the embedded S3 endpoint listens (none in S3 mode).
    pub fn s3_address(&self) -> anyhow::Result<Option<SocketAddr>> {
        self.embedded
            .as_ref()
            .map(|e| e.listener.local_addr())
            .transpose()
            .map_err(Into::into)
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish and the event
    /// consumer apply what is queued.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let reconciler = self
            .reconcile_interval
            .map(|interval| tokio::spawn(reconcile_every(self.service.clone(), interval)));

        let serve_app =
            axum::serve(self.app_listener, self.router).with_graceful_shutdown(until_stopped());
        match self.embedded {
            None => serve_app.await.context("serving the app")?,
            Some(embedded) => {
                let consumer = embedded
                    .events
                    .map(|events| tokio::spawn(apply_object_events(events, self.service.clone())));
                let sweeper = tokio::spawn(
                    embedded
                        .uploads
                        .run_every(UPLOAD_SWEEP_INTERVAL, UPLOADS_ABANDONED_AFTER),
                );
                let serve_s3 = axum::serve(embedded.listener, embedded.router)
                    .with_graceful_shutdown(until_stopped());
                let (app, s3) = tokio::join!(serve_app, serve_s3);
                sweeper.abort();
                app.context("serving the app")?;
                s3.context("serving the embedded S3 endpoint")?;
                // The endpoint (the only sender) is gone: the consumer ends once the queue is empty.
                if let Some(consumer) = consumer
                    && tokio::time::timeout(EVENT_DRAIN, consumer).await.is_err()
                {
                    warn!(
                        "stopped before every queued object event was applied; the reconciler repairs them"
                    );
                }
            }
        }
        if let Some(reconciler) = reconciler {
            reconciler.abort();
        }
        info!("stopped");
        Ok(())
    }
}

fn policy(config: &Config) -> Policy {
    Policy {
        max_upload_bytes: config.max_upload_bytes,
        upload_url_ttl: config.upload_url_ttl(),
        stale_after: config.reconcile_stale_after(),
        abandoned_after: config.abandoned_after(),
    }
}

/// The background reconciler: a sweep every `interval`; a failed sweep waits for the next.
async fn reconcile_every(service: Service, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate: let start-up finish first
    loop {
        ticks.tick().await;
        match service.reconcile().await {
            Ok(report) if report != Default::default() => info!(?report, "reconciler sweep"),
            Ok(_) => {}
            Err(err) => warn!(error = ?err, "reconciler sweep failed; the next one retries"),
        }
    }
}

/// The metadata store and object storage the configuration asks for, plus the embedded
/// endpoint's credentials when objects are embedded (read once, used by both sides).
async fn open_backends(
    config: &Config,
    s3_urls: &EmbeddedUrls,
) -> anyhow::Result<(Arc<dyn AssetStore>, Objects, Option<EmbeddedCredentials>)> {
    let needs_aws = config.store == StoreKind::Dynamodb || config.objects == ObjectsKind::S3;
    let sdk = match needs_aws {
        true => Some(crate::aws::sdk_config(config.aws_region.as_deref()).await),
        false => None,
    };
    let store: Arc<dyn AssetStore> = match (config.store, &sdk) {
        (StoreKind::Dynamodb, Some(sdk)) => Arc::new(DynamoStore::new(
            crate::aws::dynamodb_client(sdk, config.dynamodb_endpoint.as_deref()),
            &config.dynamodb_table,
            config.created_ttl(),
        )),
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
                &s3_urls.public,
                &s3_urls.internal,
                &config.bucket,
                &credentials.access_key,
                &credentials.secret_key,
            );
            (store, objects, Some(credentials))
        }
    })
}

/// `server init-aws`: creates the table and the bucket (with CORS) the AWS mode needs.
async fn init_aws(config: &Config, capacity: Capacity) -> anyhow::Result<()> {
    let sdk = crate::aws::sdk_config(config.aws_region.as_deref()).await;
    let dynamodb = crate::aws::dynamodb_client(&sdk, config.dynamodb_endpoint.as_deref());
    create_table(&dynamodb, &config.dynamodb_table, capacity).await?;
    let s3 = crate::aws::s3_client(
        &sdk,
        config.s3_endpoint.as_deref(),
        config.s3_force_path_style,
    );
    create_bucket_with_cors(&s3, &config.bucket, &config.cors_origins).await?;
    info!(table = %config.dynamodb_table, bucket = %config.bucket, "AWS resources ready");
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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
