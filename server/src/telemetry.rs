//! Logging with `tracing`. Like the original example's log format, every line shows the time,
//! level, target and source file:line. `RUST_LOG` filters (default `info`); JSON for pipelines.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // s3s logs every S3 error answer (a 404, a 412) as an ERROR line with its body; the
    // embedded endpoint logs each answer itself, so s3s speaks only when asked for by name.
    let asked = std::env::var("RUST_LOG").is_ok_and(|v| v.contains("s3s"));
    if !asked && let Ok(quiet) = "s3s=off".parse() {
        filter = filter.add_directive(quiet);
    }
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
