//! `GET /assets/events`: the caller's asset changes as Server-Sent Events, for the dashboard
//! (session cookie) and scripts (API key) alike. Thin over `service::live`: it admits the
//! stream (bounded per user and overall), subscribes from the client's `Last-Event-ID`, keeps
//! only what the caller may see, and ends the stream on shutdown or after its lifetime.
//!
//! Events (each `data:` is one JSON object):
//! - `asset` (id `<epoch>-<seq>`): `{"asset": {..as GET /assets items..}, "state": "...",
//!   "removed": bool}`; `removed` means the record is gone for good;
//! - `resync`: `{}`; refetch the list (the `Last-Event-ID` was older than what is kept, from
//!   another process start, or this stream fell behind);
//! - `hello` (id: the latest change when it was sent, so a reconnect resumes there):
//!   `{"refresh_secs": n | null}`; `n` when other replicas share the store and their changes
//!   reach this stream only by refetching every `n` seconds.
//!
//! Behind API Gateway (Lambda) a reply is sent only once complete, so a held-open stream would
//! never arrive: there the stream is `hello` alone, with `refresh_secs` set and a long `retry`,
//! then ends; pages refetch on that schedule, and the browser reopens the stream rarely.
//!
//! The stream is exempt from the request timeout and the in-flight cap (both end when the
//! response head is sent, see `limits::bounded`): it holds only one of its own slots.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use app::model::{AssetChange, ErrorCode, LiveHello, Principal};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::KeyOrSession;
use super::error::ApiError;
use super::openapi::{RateLimited, Unauthorized, Unavailable};
use super::{AppState, Draining};
use crate::config::Limits;
use crate::service::Service;
use crate::service::live::{Change, Start};

/// Keep-alive comments: proxies and browsers keep a quiet stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How soon the browser reconnects after the stream ends (`retry:`).
const RECONNECT: Duration = Duration::from_secs(2);
/// Behind API Gateway: how soon the browser asks again for the one-event stream (each ask is
/// an invocation; the page's refetches do not depend on it).
const BUFFERED_RECONNECT: Duration = Duration::from_secs(600);

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// How many live streams are open, by user; a stream holds a `Ticket` while open.
pub(super) struct Streams {
    max_total: usize,
    max_per_user: usize,
    lifetime: Duration,
    /// Set when other replicas share the store: pages refetch this often.
    fallback_refresh: Option<Duration>,
    /// Replies are buffered (API Gateway): send `hello` and end.
    buffered: bool,
    open: Mutex<HashMap<String, usize>>,
}

impl Streams {
    pub(super) fn new(limits: &Limits, fallback_refresh: Option<Duration>) -> Arc<Self> {
        let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Arc::new(Self {
            max_total: n(limits.max_event_streams),
            max_per_user: n(limits.max_event_streams_per_user),
            lifetime: Duration::from_secs(limits.event_stream_lifetime),
            fallback_refresh,
            buffered: false,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// For replies that are buffered whole (Lambda behind API Gateway): `hello` with `refresh`,
    /// then the end.
    pub(super) fn buffered(limits: &Limits, refresh: Duration) -> Arc<Self> {
        let mut streams = Self::new(limits, Some(refresh));
        if let Some(streams) = Arc::get_mut(&mut streams) {
            streams.buffered = true;
        }
        streams
    }

    /// A slot for `user`'s new stream, or why not.
    fn admit(self: &Arc<Self>, user: &str) -> Result<Ticket, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let total: usize = open.values().sum();
        if total >= self.max_total {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "the server holds as many live streams as it may; retry shortly",
            ));
        }
        let mine = open.entry(user.to_string()).or_default();
        if *mine >= self.max_per_user {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "{} live streams are open for this user already; close one",
                    self.max_per_user
                ),
            )
            .with_retry_after(RECONNECT));
        }
        *mine += 1;
        Ok(Ticket {
            streams: self.clone(),
            user: user.to_string(),
        })
    }
}

/// One open stream; its slot is given back when the stream ends (the response body is dropped).
struct Ticket {
    streams: Arc<Streams>,
    user: String,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self
            .streams
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// One event of the stream, as the OpenAPI document describes it (Schemathesis checks each
/// event it reads against this); documentation only.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct StreamEvent {
    event: StreamEventName,
    /// JSON: `asset` `{"asset": {...}, "state": "...", "removed": bool}`; `resync` `{}`;
    /// `hello` `{"refresh_secs": n | null}`.
    #[schema(content_media_type = "application/json")]
    data: String,
    /// `<epoch>-<seq>`, on `asset` and `hello`: send it back as `Last-Event-ID`.
    id: Option<String>,
    /// Milliseconds to wait before reconnecting, on `hello`.
    retry: Option<u64>,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum StreamEventName {
    Hello,
    Asset,
    Resync,
}

/// Live changes of the caller's assets (an admin's: everyone's), as Server-Sent Events.
///
/// Events, each `data:` one JSON object: `asset` (`{"asset": {...}, "state": "UPLOADED",
/// "removed": false}`, the asset as `GET /assets` lists it; `removed: true` when the record is
/// gone for good), `resync` (`{}`: refetch the list; the `Last-Event-ID` was too old or from
/// before a restart, or the stream fell behind) and `hello` (`{"refresh_secs": null}`, or a
/// number of seconds when other replicas share the store and the list should be refetched
/// that often). Keep-alive comments every 15 s. The stream ends after a bounded lifetime (5
/// min by default) or on shutdown; reconnect with `Last-Event-ID` (browsers do) to get what
/// was missed.
#[utoipa::path(
    get, path = "/assets/events", tag = "live", operation_id = "asset_events",
    security(("api_key" = []), ("session" = [])),
    params(
        ("Last-Event-ID" = Option<String>, Header,
            description = "The id of the last event received (`<epoch>-<seq>`): the changes after it are sent first, or `resync` when they are no longer known."),
    ),
    responses(
        (status = 200, description = "A stream of `hello`, `asset` and `resync` events (see above); the schema is one event's.",
            content_type = "text/event-stream", body = StreamEvent,
            example = "event: hello\ndata: {\"refresh_secs\":null}\nid: 5f0c2a4e7d5e7b3a-42\nretry: 2000\n\nevent: asset\ndata: {\"asset\":{\"asset_id\":\"0190c2a4-7d5e-7b3a-9f1e-2c4d6e8fa0b1\",\"state\":\"UPLOADED\",\"owner\":\"alice\",\"createdAt\":\"2026-01-01T00:00:00Z\",\"updatedAt\":\"2026-01-01T00:00:01Z\"},\"state\":\"UPLOADED\",\"removed\":false}\nid: 5f0c2a4e7d5e7b3a-43\n\n"),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
        (status = 503, response = Unavailable),
    ),
)]
async fn events(
    State(app): State<AppState>,
    KeyOrSession(who): KeyOrSession,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ticket = app.live.admit(&who.user)?;
    let last = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("malformed"));
    let feed = Feed::start(&app, who, last, ticket);
    let mut response = Sse::new(feed.into_stream())
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Reverse proxies (nginx) must not buffer the stream.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// One stream's state: what to send first, then the live changes.
struct Feed {
    service: Service,
    who: Principal,
    first: VecDeque<Event>,
    changes: tokio::sync::broadcast::Receiver<Arc<Change>>,
    ends_at: Instant,
    draining: Draining,
    /// Ends once `first` is sent (buffered replies).
    once: bool,
    _ticket: Ticket,
}

impl Feed {
    fn start(app: &AppState, who: Principal, last: Option<&str>, ticket: Ticket) -> Self {
        let service = app.service.clone();
        let hub = service.live();
        let subscription = hub.subscribe(last);
        let mut first = VecDeque::new();
        match subscription.start {
            Start::Resync => first.push_back(resync()),
            Start::Replay(changes) => first.extend(
                changes
                    .iter()
                    .filter(|change| who.may_access(&change.asset.owner))
                    .map(|change| asset_event(&service, change)),
            ),
        }
        let hello = LiveHello {
            refresh_secs: app.live.fallback_refresh.map(|d| d.as_secs()),
        };
        let once = app.live.buffered;
        first.push_back(
            json_event("hello", &hello)
                .id(hub.event_id(subscription.latest))
                .retry(if once { BUFFERED_RECONNECT } else { RECONNECT }),
        );
        Self {
            service: service.clone(),
            who,
            first,
            changes: subscription.changes,
            ends_at: Instant::now() + app.live.lifetime,
            draining: app.draining.clone(),
            once,
            _ticket: ticket,
        }
    }

    fn into_stream(self) -> impl Stream<Item = Result<Event, std::convert::Infallible>> {
        futures::stream::unfold(self, |mut feed| async move {
            let event = feed.next().await?;
            Some((Ok(event), feed))
        })
    }

    /// The next event, or none when the stream ends (shutdown, lifetime, hub gone).
    async fn next(&mut self) -> Option<Event> {
        if let Some(event) = self.first.pop_front() {
            return Some(event);
        }
        if self.once {
            return None;
        }
        loop {
            let change = tokio::select! {
                () = self.draining.stopping() => return None,
                () = tokio::time::sleep_until(self.ends_at) => return None,
                change = self.changes.recv() => change,
            };
            match change {
                Ok(change) if self.who.may_access(&change.asset.owner) => {
                    return Some(asset_event(&self.service, &change));
                }
                Ok(_) => {}
                // Fell behind the buffer: what was skipped is unknown, so refetch.
                Err(RecvError::Lagged(_)) => return Some(resync()),
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

fn asset_event(service: &Service, change: &Change) -> Event {
    let body = AssetChange {
        asset: change.asset.clone(),
        state: change.asset.state,
        removed: change.removed,
    };
    json_event("asset", &body).id(service.live().event_id(change.seq))
}

fn resync() -> Event {
    Event::default().event("resync").data("{}")
}

fn json_event(name: &str, body: &impl Serialize) -> Event {
    // Plain data serialises; "{}" would still be a well-formed event.
    let data = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    Event::default().event(name).data(data)
}
