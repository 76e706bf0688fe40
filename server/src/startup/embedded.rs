//! The embedded S3 endpoint's wiring: the port clients use, a second loopback-only port the
//! server's own reads (HEAD) use, the event consumer and the upload sweeper; and the order in
//! which they stop, so that an upload finishing during the drain still has its event applied
//! (applying it HEADs the object through the second port, after the first has closed).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use super::serve::{ConnectionLimits, serve};
use crate::config::Config;
use crate::embedded_s3::{DiskObjects, EmbeddedCredentials, UploadSweeper};
use crate::events::{EventReceiver, event_channel};
use crate::service::{Service, apply_object_events};

/// How long the event consumer may take, after the endpoint stopped, to apply what is queued
/// (what it cannot, the reconciler repairs).
const EVENT_DRAIN: Duration = Duration::from_millis(1500);

/// How often abandoned multipart uploads are looked for, and how old they must be.
const UPLOAD_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
const UPLOADS_ABANDONED_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where clients reach the embedded endpoint (signed into URLs) and where the server does.
pub(crate) struct EmbeddedUrls {
    pub(super) public: String,
    pub(super) internal: String,
}

impl EmbeddedUrls {
    fn for_addresses(config: &Config, public: SocketAddr, internal: SocketAddr) -> Self {
        let public = match &config.s3_public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{public}"),
        };
        Self {
            public,
            internal: format!("http://{internal}"),
        }
    }

    /// A running server's endpoint, for one-shot commands (`reconcile`).
    pub(crate) fn configured(config: &Config) -> Self {
        Self::for_addresses(config, config.s3_listen, config.s3_listen)
    }
}

/// Both ports, bound before anything else starts.
pub(super) struct EmbeddedPorts {
    public: TcpListener,
    internal: TcpListener,
}

impl EmbeddedPorts {
    pub(super) async fn bind(config: &Config) -> anyhow::Result<(Self, EmbeddedUrls)> {
        let public = TcpListener::bind(config.s3_listen)
            .await
            .with_context(|| format!("binding the embedded S3 endpoint to {}", config.s3_listen))?;
        let internal = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("binding the embedded S3 endpoint's internal port")?;
        let urls =
            EmbeddedUrls::for_addresses(config, public.local_addr()?, internal.local_addr()?);
        Ok((Self { public, internal }, urls))
    }

    pub(super) fn address(&self) -> std::io::Result<SocketAddr> {
        self.public.local_addr()
    }
}

/// The endpoint, wired, not yet serving.
pub(super) struct EmbeddedEndpoint {
    ports: EmbeddedPorts,
    router: axum::Router,
    reader: axum::Router,
    events: Option<EventReceiver>,
    uploads: UploadSweeper,
}

impl EmbeddedEndpoint {
    pub(super) fn new(
        config: &Config,
        ports: EmbeddedPorts,
        credentials: &EmbeddedCredentials,
        urls: &EmbeddedUrls,
    ) -> anyhow::Result<Self> {
        let (sender, events) = match config.embedded_events {
            true => {
                let (sender, receiver) = event_channel();
                (Some(sender), Some(receiver))
            }
            false => (None, None),
        };
        let disk = DiskObjects::open(&config.data_dir.join("objects"), &config.bucket, sender)?;
        info!(
            url = %format!("http://{}", ports.address()?), public_url = %urls.public,
            bucket = %config.bucket, data_dir = %config.data_dir.display(),
            "embedded S3 endpoint listening"
        );
        let slots = Arc::new(tokio::sync::Semaphore::new(
            usize::try_from(config.limits.s3_max_concurrent_requests).unwrap_or(usize::MAX),
        ));
        let reader = crate::embedded_s3::router(disk.reader(), credentials);
        Ok(Self {
            ports,
            uploads: disk.upload_sweeper(),
            router: crate::embedded_s3::router(disk, credentials).layer(
                axum::middleware::from_fn_with_state(slots, crate::embedded_s3::concurrency::admit),
            ),
            reader,
            events,
        })
    }

    pub(super) fn address(&self) -> std::io::Result<SocketAddr> {
        self.ports.address()
    }

    /// Serves until `stopped`; then drains the clients' port within `grace`, lets the
    /// consumer apply the queued events (reading through the internal port), and stops.
    pub(super) async fn serve(
        self,
        service: Service,
        connections: ConnectionLimits,
        stopped: watch::Receiver<bool>,
        grace: Duration,
    ) {
        let consumer = self
            .events
            .map(|events| tokio::spawn(apply_object_events(events, service)));
        let sweeper = tokio::spawn(
            self.uploads
                .run_every(UPLOAD_SWEEP_INTERVAL, UPLOADS_ABANDONED_AFTER),
        );
        let (stop_reads, reads_stopped) = watch::channel(false);
        let reads = tokio::spawn(serve(
            self.ports.internal,
            self.reader,
            connections,
            reads_stopped,
            grace,
        ));
        serve(self.ports.public, self.router, connections, stopped, grace).await;
        // The sweeper holds the last sender: without it the consumer ends once the queue is
        // empty.
        sweeper.abort();
        let _ = sweeper.await;
        if let Some(consumer) = consumer
            && tokio::time::timeout(EVENT_DRAIN, consumer).await.is_err()
        {
            warn!(
                "stopped before every queued object event was applied; the reconciler repairs them"
            );
        }
        let _ = stop_reads.send(true);
        let _ = reads.await;
    }
}
