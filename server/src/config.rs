//! Configuration: command-line flags, each with an environment variable, all with defaults so
//! the server starts with no configuration at all on the embedded default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use app::model::UrlLifetime;
use chrono::TimeDelta;
use clap::{Parser, Subcommand, ValueEnum};

mod limits;

pub use limits::Limits;

/// The longest age setting accepted (ten years): every age converts to a time span without
/// overflow, so none can silently turn into "now" or "never".
const MAX_AGE_SECS: u64 = 10 * 365 * 86_400;

#[derive(Clone, Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "Asset service: presigned uploads and downloads with a lifecycle"
)]
pub struct Config {
    /// Address the dashboard and REST API listen on (default: LEPTOS_SITE_ADDR, else
    /// 127.0.0.1:3000); port 0 picks a free port (the log says which).
    #[arg(long, env = "ASSETS_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Directory for the embedded database and the embedded object store.
    #[arg(long, env = "ASSETS_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Address the embedded S3-compatible endpoint listens on; port 0 picks a free port.
    #[arg(long, env = "ASSETS_S3_LISTEN", default_value = "127.0.0.1:9000")]
    pub s3_listen: SocketAddr,

    /// URL clients reach the embedded S3 endpoint at (set it when behind a proxy);
    /// default: http://<the address the endpoint is bound to>.
    #[arg(long, env = "ASSETS_S3_PUBLIC_URL")]
    pub s3_public_url: Option<String>,

    /// Bucket that holds the assets' objects.
    #[arg(long, env = "ASSETS_BUCKET", default_value = "assets")]
    pub bucket: String,

    /// Largest upload a client may declare, in bytes (S3's object limit, 5 TiB; a single PUT
    /// carries at most 5 GiB, bigger uploads go in parts).
    #[arg(long, env = "ASSETS_MAX_UPLOAD_BYTES", default_value_t = app::model::MAX_OBJECT_SIZE,
          value_parser = clap::value_parser!(u64).range(1..=app::model::MAX_OBJECT_SIZE))]
    pub max_upload_bytes: u64,

    /// Uploads declared at least this big (bytes) go in parts unless the client asks otherwise.
    #[arg(long, env = "ASSETS_MULTIPART_THRESHOLD", default_value_t = 64 << 20,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub multipart_threshold: u64,

    /// Part size of multipart uploads in bytes (5 MiB..=5 GiB, rounded up to whole MiB; raised
    /// for objects that would need more than 10,000 parts).
    #[arg(long, env = "ASSETS_PART_SIZE", default_value_t = 16 << 20,
          value_parser = clap::value_parser!(u64).range(app::model::MIN_PART_SIZE..=app::model::MAX_PART_SIZE))]
    pub part_size: u64,

    /// Lifetime of upload URLs in seconds (1..=604800).
    #[arg(long, env = "ASSETS_UPLOAD_URL_TTL", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub upload_url_ttl: u64,

    /// Log format: `text` for people, `json` for log pipelines. Filter with RUST_LOG.
    #[arg(long, env = "ASSETS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Deliver the embedded endpoint's S3 events to the service (off simulates lost events).
    #[arg(long, env = "ASSETS_EMBEDDED_EVENTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub embedded_events: bool,

    /// Shared secret webhook senders must present as `Authorization: Bearer <token>` on
    /// `POST /events/s3`. Unset: the endpoint is open (events are checked against storage anyway).
    #[arg(long, env = "ASSETS_EVENTS_TOKEN", hide_env_values = true)]
    pub events_token: Option<String>,

    /// Secret a Prometheus scraper presents as `Authorization: Bearer <token>` on `GET /metrics`
    /// (admins may read metrics with their API key or session anyway). Unset: admins only.
    #[arg(long, env = "ASSETS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// SNS topics whose signed HTTP(S) deliveries `POST /events/s3` accepts (comma-separated ARNs).
    #[arg(long, env = "ASSETS_SNS_TOPIC_ARNS", value_delimiter = ',')]
    pub sns_topic_arns: Vec<String>,

    /// Seconds between reconciler sweeps (stale CREATED assets whose object exists become
    /// RECEIVED; abandoned ones expire); 0 turns the background sweep off.
    #[arg(long, env = "ASSETS_RECONCILE_INTERVAL", default_value_t = 300)]
    pub reconcile_interval: u64,

    /// A CREATED asset is stale (worth a HEAD) once it is this many seconds old.
    #[arg(long, env = "ASSETS_RECONCILE_STALE_AFTER", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=MAX_AGE_SECS))]
    pub reconcile_stale_after: u64,

    /// A CREATED asset with no object expires this many seconds after its upload URL did.
    #[arg(long, env = "ASSETS_ABANDONED_AFTER", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(0..=MAX_AGE_SECS))]
    pub abandoned_after: u64,

    /// Where asset records live: the embedded SQLite file, or DynamoDB.
    #[arg(long, env = "ASSETS_STORE", value_enum, default_value_t = StoreKind::Local)]
    pub store: StoreKind,

    /// DynamoDB table name.
    #[arg(long, env = "ASSETS_DYNAMODB_TABLE", default_value = "assets")]
    pub dynamodb_table: String,

    /// DynamoDB endpoint URL override (a local DynamoDB-protocol server); default: AWS.
    #[arg(long, env = "ASSETS_DYNAMODB_ENDPOINT")]
    pub dynamodb_endpoint: Option<String>,

    /// Where objects live: the embedded S3 endpoint, or an S3 API (Amazon S3, MinIO, R2, ...).
    #[arg(long, env = "ASSETS_OBJECTS", value_enum, default_value_t = ObjectsKind::Embedded)]
    pub objects: ObjectsKind,

    /// S3 endpoint URL override for `--objects s3`; default: Amazon S3.
    #[arg(long, env = "ASSETS_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Path-style S3 addressing (`endpoint/bucket/key`), as MinIO and most local servers need.
    #[arg(long, env = "ASSETS_S3_FORCE_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set)]
    pub s3_force_path_style: bool,

    /// AWS region override; default: the AWS SDK's chain (AWS_REGION, profile, IMDS).
    #[arg(long, env = "ASSETS_AWS_REGION")]
    pub aws_region: Option<String>,

    /// Seconds a `CREATED` record without an upload lives before DynamoDB's TTL may expire it;
    /// default: the upload URL lifetime plus one day.
    #[arg(long, env = "ASSETS_CREATED_TTL",
          value_parser = clap::value_parser!(u64).range(1..=MAX_AGE_SECS))]
    pub created_ttl: Option<u64>,

    /// The URL browsers reach the dashboard at (e.g. https://assets.example.com). Requests for
    /// any other host name than this one or a loopback name are refused (DNS rebinding); with
    /// https, the session cookie is `Secure` with the `__Host-` prefix.
    #[arg(long, env = "ASSETS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// A dashboard session unused this many seconds ends (default 12 hours).
    #[arg(long, env = "ASSETS_SESSION_IDLE_TIMEOUT", default_value_t = 12 * 3600,
          value_parser = clap::value_parser!(u64).range(60..=MAX_AGE_SECS))]
    pub session_idle_timeout: u64,

    /// A dashboard session ends this many seconds after sign-in, however active (default 7 days).
    #[arg(long, env = "ASSETS_SESSION_LIFETIME", default_value_t = 7 * 86_400,
          value_parser = clap::value_parser!(u64).range(60..=MAX_AGE_SECS))]
    pub session_lifetime: u64,

    /// DynamoDB table for users, API keys and sessions; default: `<--dynamodb-table>-auth`.
    #[arg(long, env = "ASSETS_DYNAMODB_AUTH_TABLE")]
    pub dynamodb_auth_table: Option<String>,

    /// Origins allowed to PUT/GET objects from a browser (bucket CORS set by `init-aws`).
    #[arg(
        long,
        env = "ASSETS_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "*"
    )]
    pub cors_origins: Vec<String>,

    #[command(flatten)]
    pub limits: Limits,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    Local,
    Dynamodb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ObjectsKind {
    Embedded,
    S3,
}

#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard, the REST API and the embedded S3 endpoint (the default).
    Serve,
    /// Run one reconciler sweep and exit: HEAD stale CREATED assets, mark those whose object
    /// exists RECEIVED, expire abandoned ones. On the embedded default the server must be
    /// running (the sweep HEADs its S3 endpoint).
    Reconcile,
    /// Manage users (who may sign in to the dashboard and own API keys).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage API keys (what scripts send as `Authorization: Bearer`).
    #[command(subcommand)]
    ApiKeys(ApiKeysCommand),
    /// Create the DynamoDB tables (assets; users, keys and sessions) and the S3 bucket with
    /// browser CORS rules, then exit. Existing ones are left as they are.
    InitAws {
        /// Provisioned read capacity units (with --write-capacity); default: on-demand.
        #[arg(long, requires = "write_capacity")]
        read_capacity: Option<i64>,
        /// Provisioned write capacity units (with --read-capacity).
        #[arg(long, requires = "read_capacity")]
        write_capacity: Option<i64>,
        /// The bucket aborts multipart uploads still incomplete this many days after they
        /// started (a lifecycle rule; S3 counts from the start, not the last part).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=3650))]
        abort_incomplete_after_days: i32,
    },
}

#[derive(Clone, Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; the password (one line, at least 12 characters) is read from standard input.
    Add {
        name: String,
        /// Admins see and manage every user's assets.
        #[arg(long)]
        admin: bool,
    },
    /// Set a user's password (read from standard input); ends their sessions.
    Passwd { name: String },
    /// List users.
    List,
    /// Remove a user and their API keys (their assets stay, visible to admins).
    Remove { name: String },
}

#[derive(Clone, Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Create a key; its secret is printed once, alone on the last line.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        label: String,
        /// Days until the key stops working (default: until revoked).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a key: it stops working within seconds on every replica.
    Revoke { key_id: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    pub fn upload_url_ttl(&self) -> UrlLifetime {
        // clap already checked the range; the fallback is unreachable.
        UrlLifetime::from_secs(self.upload_url_ttl).unwrap_or(UrlLifetime::MAX)
    }

    pub fn reconcile_interval(&self) -> Option<Duration> {
        (self.reconcile_interval > 0).then(|| Duration::from_secs(self.reconcile_interval))
    }

    pub fn reconcile_stale_after(&self) -> TimeDelta {
        age(self.reconcile_stale_after)
    }

    pub fn abandoned_after(&self) -> TimeDelta {
        age(self.abandoned_after)
    }

    pub fn session_policy(&self) -> crate::service::auth::SessionPolicy {
        crate::service::auth::SessionPolicy {
            idle: age(self.session_idle_timeout),
            absolute: age(self.session_lifetime),
        }
    }

    pub fn dynamodb_auth_table(&self) -> String {
        self.dynamodb_auth_table
            .clone()
            .unwrap_or_else(|| format!("{}-auth", self.dynamodb_table))
    }

    /// How long a `CREATED` record may live in DynamoDB before its TTL expires it.
    pub fn created_ttl(&self) -> TimeDelta {
        age(self.created_ttl.unwrap_or(self.upload_url_ttl + 86_400))
    }
}

/// Seconds as a time span; clap bounds every age to `MAX_AGE_SECS`, far inside `TimeDelta`.
fn age(secs: u64) -> TimeDelta {
    TimeDelta::seconds(secs.min(MAX_AGE_SECS) as i64)
}
