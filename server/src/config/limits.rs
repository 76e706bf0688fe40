//! The operational bounds: connections, timeouts, body sizes, concurrency, rate limits, drain.
//! Every input the server reads has a bound here (DESIGN.md, "Every input has a bound").

use std::time::Duration;

use clap::Args;

#[derive(Clone, Debug, Args)]
pub struct Limits {
    /// A connection that has not sent a complete request head this many seconds after it
    /// opened (or after its previous reply) is closed: idle and trickling (slowloris) clients
    /// cannot hold connections.
    #[arg(long, env = "ASSETS_HEADER_READ_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout: u64,

    /// Open connections per port at most; further clients wait in the listen backlog. Also
    /// bounded by the descriptor limit (raised to its hard limit at start).
    #[arg(long, env = "ASSETS_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(16..=1_000_000))]
    pub max_connections: u64,

    /// A REST or dashboard request not answered within this many seconds gets 503. (The
    /// embedded S3 endpoint has none: uploads may take long.)
    #[arg(long, env = "ASSETS_REQUEST_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,

    /// REST and dashboard requests handled at once; more are answered 503 with Retry-After.
    #[arg(long, env = "ASSETS_MAX_CONCURRENT_REQUESTS", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_concurrent_requests: u64,

    /// Requests the embedded S3 endpoint handles at once (uploads included); more are
    /// answered 503 SlowDown, as S3 does.
    #[arg(long, env = "ASSETS_S3_MAX_CONCURRENT_REQUESTS", default_value_t = 512,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub s3_max_concurrent_requests: u64,

    /// Largest REST or server-function request body, in bytes (413 beyond).
    #[arg(long, env = "ASSETS_MAX_REQUEST_BODY_BYTES", default_value_t = 64 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=16 * 1024 * 1024))]
    pub max_request_body_bytes: u64,

    /// Largest event delivery (`POST /events/s3`) body, in bytes (413 beyond).
    #[arg(long, env = "ASSETS_MAX_EVENT_BODY_BYTES", default_value_t = 10 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=256 * 1024 * 1024))]
    pub max_event_body_bytes: u64,

    /// Requests per second each API key or signed-in user may make (with a burst of ten
    /// seconds' worth); 0 turns it off.
    #[arg(long, env = "ASSETS_RATE_LIMIT", default_value_t = 50)]
    pub rate_limit: u32,

    /// Requests per second each client address may make to the REST API and the dashboard
    /// (with a burst of ten seconds' worth); 0 turns it off.
    #[arg(long, env = "ASSETS_RATE_LIMIT_PER_ADDRESS", default_value_t = 100)]
    pub rate_limit_per_address: u32,

    /// Apply the rate limits to loopback clients too (off by default: tests and local scripts
    /// on the same machine run unthrottled).
    #[arg(long, env = "ASSETS_RATE_LIMIT_LOOPBACK")]
    pub rate_limit_loopback: bool,

    /// On SIGTERM, how many seconds requests and uploads in flight get to finish before the
    /// process exits anyway.
    #[arg(long, env = "ASSETS_SHUTDOWN_GRACE", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace: u64,

    /// Live-update streams (`GET /assets/events`) open at once, over all users; more are
    /// answered 503. They do not count against `--max-concurrent-requests`.
    #[arg(long, env = "ASSETS_MAX_EVENT_STREAMS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_event_streams: u64,

    /// Live-update streams one user (or one user's API keys) may hold open; more are
    /// answered 429.
    #[arg(long, env = "ASSETS_MAX_EVENT_STREAMS_PER_USER", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_event_streams_per_user: u64,

    /// A live-update stream ends after this many seconds (the browser reconnects at once,
    /// with `Last-Event-ID`, and misses nothing): no request lives for ever, and a revoked key
    /// or an ended session stops receiving within this bound (credentials are checked when a
    /// stream opens).
    #[arg(long, env = "ASSETS_EVENT_STREAM_LIFETIME", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub event_stream_lifetime: u64,

    /// Tests only: changes a live-update subscriber may fall behind by before it is told to
    /// refetch.
    #[arg(long, hide = true, default_value_t = crate::service::live::SUBSCRIBER_BUFFER)]
    pub live_buffer: usize,

    /// Benchmarks only (`bench/run.sh`): serve without request metrics, request ids and rate
    /// limits, to measure what they cost in the same build.
    #[arg(long, hide = true)]
    pub bench_without_observability: bool,
}

impl Limits {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace)
    }
}
