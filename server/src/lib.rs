//! The asset service. Each module is one concern:
//! - `config`, `telemetry` (logs), `meters` (Prometheus metrics), `aws` (SDK settings and
//!   clients), `startup` (bind, wire, serve), `cli` (the `users` and `api-keys` subcommands);
//! - `service`: the lifecycle, the one place that decides (with `app::model`);
//! - `store`: asset records (SQLite or DynamoDB); `objects`: S3 calls; `provision`: `init-aws`;
//! - `events`: what storage says happened; `notifications`: envelopes that carry it;
//! - `embedded_s3`: the zero-setup object store; `http`: the edges (REST, events, dashboard);
//!   `lambda`: the same app as AWS Lambda functions (the `bootstrap` binary).

// The dashboard's server-rendered views are deeply nested types; a release build (which does
// not erase them, unlike cargo-leptos's debug build) needs more than the default 128.
#![recursion_limit = "256"]

pub mod aws;
pub mod cli;
pub mod config;
pub mod embedded_s3;
pub mod events;
pub mod http;
pub mod lambda;
pub mod meters;
pub mod notifications;
pub mod objects;
pub mod provision;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
