//! The accept loop both ports share (instead of `axum::serve`, which has no header-read
//! timeout, no connection cap and no drain deadline): HTTP/1.1 connections that must send a
//! complete request head within a deadline, at most so many open at once, accept errors
//! survived, and on stop a drain that lets requests in flight finish within a grace period.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{AbortHandle, JoinSet};
use tower::ServiceExt as _;
use tracing::{debug, info, warn};

/// What bounds one port's connections.
#[derive(Clone, Copy, Debug)]
pub(super) struct ConnectionLimits {
    /// From the connection's start (or its previous reply) to a complete request head.
    pub(super) header_read_timeout: Duration,
    pub(super) max_connections: usize,
}

/// Descriptors kept for what is not a client connection (files, store, outgoing calls).
const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft limit on open descriptors to the hard limit (the default soft limit of
/// 1,024 is reached by a thousand idle clients) and returns the soft limit now in force.
pub fn raise_descriptor_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return limit.maximum.unwrap_or(u64::MAX),
            Err(err) => warn!(%err, soft, "could not raise the open-descriptor limit"),
        }
    }
    soft
}

impl ConnectionLimits {
    /// Caps each of `ports` ports' connections below the descriptor limit.
    pub(super) fn new(
        header_read_timeout: Duration,
        max_connections: u64,
        descriptors: u64,
        ports: u64,
    ) -> Self {
        let fits = descriptors.saturating_sub(RESERVED_DESCRIPTORS) / ports.max(1);
        let cap = max_connections.min(fits).max(16);
        if cap < max_connections {
            warn!(
                cap,
                descriptors, "the descriptor limit caps connections per port below the setting"
            );
        }
        Self {
            header_read_timeout,
            max_connections: usize::try_from(cap).unwrap_or(usize::MAX),
        }
    }
}

/// Serves `router` on `listener` until `stop` turns true; then closes the listener (new
/// connections are refused), lets requests in flight finish for up to `grace`, and cuts what
/// is left.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut open: Vec<(AbortHandle, Busy)> = Vec::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            () = stopped(&mut stop) => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors or memory: wait for connections to end instead
                    // of spinning; per-connection errors (reset before accept) are routine.
                    if is_connection_error(&err) {
                        debug!(%err, "accept");
                    } else {
                        warn!(%err, "accept failed; retrying shortly");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let busy = Busy::default();
        let service = serving(router.clone(), peer, busy.clone());
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        let task = connections.spawn(async move {
            if let Err(err) = connection.await {
                debug!(%err, %peer, "connection ended with an error");
            }
            drop(slot);
        });
        if open.len() > 2 * connections.len() + 64 {
            open.retain(|(task, _)| !task.is_finished());
        }
        open.push((task, busy));
    }
    drop(listener);
    // Connections between requests (idle, or part-way through a request head) have nothing
    // in flight: they close now. The others finish their request within the grace.
    for (task, busy) in &open {
        if !busy.any() {
            task.abort();
        }
    }
    let in_flight = open
        .iter()
        .filter(|(task, busy)| busy.any() && !task.is_finished())
        .count();
    if in_flight > 0 {
        info!(in_flight, ?grace, "draining connections");
    }
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(
            cut = connections.len(),
            "the shutdown grace ran out; cutting the connections still open"
        );
        connections.abort_all();
    }
    while connections.join_next().await.is_some() {}
}

/// Requests of one connection in flight: from its head to the end of its reply's body.
#[derive(Clone, Default)]
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn any(&self) -> bool {
        self.0.load(Ordering::Acquire) > 0
    }

    fn enter(&self) -> BusyGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        BusyGuard(self.0.clone())
    }
}

struct BusyGuard(Arc<AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router for one connection: each request carries the client's address (for
/// `ConnectInfo`) and counts as in flight until its reply's body has been sent.
fn serving(
    router: Router,
    peer: SocketAddr,
    busy: Busy,
) -> impl tower::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone
+ Send {
    tower::service_fn(move |mut request: Request<Incoming>| {
        request
            .extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(peer));
        let guard = busy.enter();
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await?;
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _in_flight = &guard;
                    frame
                }))
            }))
        }
    })
}

/// Completes once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        err.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_per_port_stay_under_the_descriptor_limit() {
        let timeout = Duration::from_secs(10);
        // Plenty of descriptors: the setting decides.
        let roomy = ConnectionLimits::new(timeout, 10_000, 1_048_576, 2);
        assert_eq!(roomy.max_connections, 10_000);
        // 1,024 descriptors shared by two ports, some kept for files and backends.
        let tight = ConnectionLimits::new(timeout, 10_000, 1024, 2);
        assert_eq!(
            tight.max_connections,
            (1024 - RESERVED_DESCRIPTORS as usize) / 2
        );
        // Never below a floor that keeps the server usable.
        let starved = ConnectionLimits::new(timeout, 10_000, 100, 2);
        assert_eq!(starved.max_connections, 16);
    }
}
