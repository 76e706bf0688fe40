//! The integration tests, in one test binary (one link instead of one per file): the real
//! application in process on port 0, the binary where a process is needed, moto for AWS mode.

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod access_matrix;
mod access_web;
mod aws_mode;
mod common;
mod companion;
mod connections;
mod embedded_crash;
mod errors;
mod event_limits;
mod events;
mod lambda;
mod lambda_edges;
mod lambda_runtime;
mod layout;
mod lifecycle;
mod live;
mod metrics;
mod multipart;
mod openapi;
mod preview;
mod request_limits;
mod s3_keys;
mod scale_out;
mod search;
mod startup;
mod store_contract;
mod store_contract_search;
mod upload_urls;
