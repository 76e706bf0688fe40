//! Start-up: bind first (port 0 works), then derive what depends on the bound addresses (the
//! URLs presigned for clients), open the backends, wire the parts, serve until told to stop.
//! Also the one-shot subcommands (`reconcile`, `init-aws`, `users`, `api-keys`); `backends`
//! opens the stores and object storage.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

mod backends;

use backends::{Backends, first_run, init_aws, open_backends, open_stores};

use crate::config::{Command, Config, ObjectsKind, StoreKind};
use crate::embedded_s3::DiskObjects;
use crate::events::{EventReceiver, event_channel};
use crate::http::{AppState, WebPolicy};
use crate::notifications::sns::{HttpsSns, SnsVerifier};
use crate::provision::Capacity;
use crate::service::auth::Auth;
use crate::service::{Policy, Service, apply_object_events};
use crate::store::auth::AuthStore;

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
            let backends = open_backends(&config, &s3_urls).await?;
            let service = Service::new(backends.assets, backends.objects, policy(&config));
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
        Some(Command::Users(command)) => {
            let (assets, auth) = open_stores(&config).await?;
            crate::cli::users(command, assets, auth_service(&config, auth)).await
        }
        Some(Command::ApiKeys(command)) => {
            let (_, auth) = open_stores(&config).await?;
            crate::cli::api_keys(command, auth_service(&config, auth)).await
        }
    }
}

fn auth_service(config: &Config, store: Arc<dyn AuthStore>) -> Auth {
    Auth::new(store, config.session_policy())
}

/// The server, bound and wired, not yet serving.
pub struct Application {
    app_listener: TcpListener,
    embedded: Option<EmbeddedEndpoint>,
    router: axum::Router,
    service: Service,
    auth: Auth,
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
        let Backends {
            assets,
            auth,
            objects,
            credentials,
        } = open_backends(&config, &s3_urls).await?;
        let auth = auth_service(&config, auth);
        let sign_in_url = format!(
            "{}/sign-in",
            match &config.public_url {
                Some(url) => url.trim_end_matches('/').to_string(),
                None => format!("http://{}", app_listener.local_addr()?),
            }
        );
        // A DynamoDB that is down must not stop the start: requests answer 503 until it is
        // back, and the next start adopts what this one could not.
        match first_run(&config, &auth, assets.as_ref(), &sign_in_url).await {
            Err(err) if config.store == StoreKind::Dynamodb => {
                warn!(
                    error = format!("{err:#}"),
                    "could not check users and owners at start-up"
                )
            }
            other => other?,
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
        let web = WebPolicy::new(config.public_url.as_deref(), storage_url.as_deref())?;
        let service = Service::new(assets, objects, policy(&config));

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
        let state = AppState::new(
            service.clone(),
            auth.clone(),
            web,
            config.events_token.clone(),
            sns,
        );
        let state = state.with_metrics_token(config.metrics_token.clone());
        crate::meters::recorder(); // installed before the first request is counted
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
            auth,
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

    pub fn auth(&self) -> &Auth {
        &self.auth
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

        // The client's address feeds sign-in throttling.
        let serve_app = axum::serve(
            self.app_listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(until_stopped());
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
