//! Logging with `tracing`. Like the original example's log format, every line shows the time,
//! level, target and source file:line. `RUST_LOG` filters (default `info`); JSON for pipelines.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_file(true)
        .with_line_number(true)
        .with_thread_ids(true)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr); // stdout stays free for commands' output (`reconcile`)
    // `try_init`: a second call (tests in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
