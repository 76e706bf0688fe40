//! AWS Lambda mode: the same app, one invocation at a time. `ASSETS_LAMBDA_HANDLER` picks what
//! a function does:
//! - `http`: API Gateway HTTP API (payload 2.0) and function URL events, through the same axum
//!   router as the long-lived server (`http`);
//! - `s3-events`: S3's own notification `{"Records": [...]}`, applied as `POST /events/s3`
//!   applies it (`s3_events`);
//! - `reconcile`: an EventBridge schedule's event, one reconciler sweep (`reconcile`).
//!
//! `startup` wires it (the long-lived server's wiring, without ports) and runs the runtime loop.

mod http;
mod reconcile;
mod s3_events;
mod startup;

pub use startup::{Lambda, run};

/// The environment variable that picks the handler.
pub const HANDLER_ENV: &str = "ASSETS_LAMBDA_HANDLER";

/// What one function does with its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandlerKind {
    Http,
    S3Events,
    Reconcile,
}

impl HandlerKind {
    /// `http`, `s3-events` or `reconcile`.
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        match name {
            "http" => Ok(Self::Http),
            "s3-events" => Ok(Self::S3Events),
            "reconcile" => Ok(Self::Reconcile),
            other => anyhow::bail!(
                "{HANDLER_ENV}={other:?} is not a handler: use http, s3-events or reconcile"
            ),
        }
    }

    /// From `ASSETS_LAMBDA_HANDLER`.
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var(HANDLER_ENV) {
            Ok(name) => Self::parse(&name),
            Err(_) => anyhow::bail!(
                "set {HANDLER_ENV} to http, s3-events or reconcile (what this function does)"
            ),
        }
    }
}

/// A handler's failure: Lambda records it and, for S3's and EventBridge's asynchronous
/// invocations, retries the event.
fn failure(what: &str, err: impl std::fmt::Display) -> lambda_http::Error {
    format!("{what}: {err}").into()
}
