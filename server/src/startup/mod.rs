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
mod embedded;
mod serve;
mod wire;

pub use serve::raise_descriptor_limit;

pub(crate) use embedded::EmbeddedUrls;
pub(crate) use wire::{Edge, Wired, wire};

use backends::{init_aws, open_backends, open_stores};
use embedded::{EmbeddedEndpoint, EmbeddedPorts};

use crate::config::Limits;
use crate::config::{Command, Config, ObjectsKind};
use crate::http::Draining;
use crate::provision::Capacity;
use crate::service::auth::Auth;
use crate::service::{Policy, Service};
use crate::store::auth::AuthStore;

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
            abort_incomplete_after_days,
        }) => {
            let capacity = match (read_capacity, write_capacity) {
                (Some(read), Some(write)) => Capacity::Provisioned {
                    read: *read,
                    write: *write,
                },
                _ => Capacity::OnDemand,
            };
            init_aws(&config, capacity, *abort_incomplete_after_days).await
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
    limits: Limits,
    draining: Draining,
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
        let (s3_ports, s3_urls) = match embedded {
            true => {
                let (ports, urls) = EmbeddedPorts::bind(&config).await?;
                (Some(ports), urls)
            }
            false => (None, EmbeddedUrls::configured(&config)),
        };
        let sign_in_url = format!(
            "{}/sign-in",
            match &config.public_url {
                Some(url) => url.trim_end_matches('/').to_string(),
                None => format!("http://{}", app_listener.local_addr()?),
            }
        );
        let Wired {
            service,
            auth,
            state,
            draining,
            credentials,
        } = wire(&config, &s3_urls, &Edge::Server { sign_in_url }).await?;
        let embedded = match (s3_ports, credentials) {
            (Some(ports), Some(credentials)) => Some(EmbeddedEndpoint::new(
                &config,
                ports,
                &credentials,
                &s3_urls,
            )?),
            _ => None,
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
            auth,
            reconcile_interval: config.reconcile_interval(),
            limits: config.limits,
            draining,
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
            .map(EmbeddedEndpoint::address)
            .transpose()
            .map_err(Into::into)
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// What `/readyz` reads: set when the drain starts (tests set it directly).
    pub fn draining(&self) -> Draining {
        self.draining.clone()
    }

    /// Serves until `shutdown` completes; then `/readyz` answers 503, both listeners close,
    /// requests and uploads in flight get the shutdown grace to finish, and the event consumer
    /// applies what they queued. Returns within the grace plus about 2 s.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let draining = self.draining.clone();
        tokio::spawn(async move {
            shutdown.await;
            info!("stopping: draining requests in flight");
            draining.start();
            let _ = stop.send(true);
        });
        let reconciler = self
            .reconcile_interval
            .map(|interval| tokio::spawn(reconcile_every(self.service.clone(), interval)));

        let grace = self.limits.shutdown_grace();
        let ports = 1 + u64::from(self.embedded.is_some());
        let connections = serve::ConnectionLimits::new(
            self.limits.header_read_timeout(),
            self.limits.max_connections,
            raise_descriptor_limit(),
            ports,
        );
        let serve_app = serve::serve(
            self.app_listener,
            self.router,
            connections,
            stopped.clone(),
            grace,
        );
        match self.embedded {
            None => serve_app.await,
            Some(embedded) => {
                let serve_s3 = embedded.serve(self.service.clone(), connections, stopped, grace);
                tokio::join!(serve_app, serve_s3);
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
        multipart_threshold: config.multipart_threshold,
        part_size: config.part_size,
        live_buffer: config.limits.live_buffer,
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
