//! The AWS Lambda entry point (a custom runtime's executable is named `bootstrap`): the same
//! configuration as `server` (`ASSETS_*`), AWS mode only; `ASSETS_LAMBDA_HANDLER` picks the
//! handler (see `server::lambda`).

use std::process::ExitCode;

use clap::Parser as _;
use server::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    server::telemetry::init(config.log_format);
    match server::lambda::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "bootstrap failed");
            eprintln!("bootstrap: {err:#}");
            ExitCode::FAILURE
        }
    }
}
