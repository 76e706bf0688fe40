//! Test harness. `TestApp::spawn` builds the real application in this process on port 0 (as
//! zero-to-production does) with a temporary data directory and talks to it over HTTP as curl
//! would; `TestApp::spawn_process` runs the real binary, for what needs a process (restart,
//! SIGTERM, subcommands).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use clap::Parser as _;
use serde_json::Value;
use server::config::Config;
use server::startup::Application;

pub struct TestApp {
    pub base: String,
    pub s3_url: String,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    /// Plain HTTP: for presigned URLs, health checks, events, and requests without credentials.
    pub client: reqwest::Client,
    /// The REST API as the first admin (`Authorization: Bearer <its API key>`).
    pub api: reqwest::Client,
    /// The admin's API key.
    pub key: String,
    /// In-process servers: their users and keys, directly.
    auth: Option<server::service::auth::Auth>,
    /// In-process servers: the service, for its counters.
    service: Option<server::service::Service>,
    running: Running,
    _temp: Option<tempfile::TempDir>,
    args: Vec<String>,
    /// A process server's soft limit on open descriptors, when the test sets one.
    descriptors: Option<u64>,
    /// In-process servers: what `/readyz` reads while draining.
    pub draining: Option<server::http::Draining>,
}

enum Running {
    InProcess {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
    },
    Process {
        child: Option<Child>,
    },
    Stopped,
}

static TEST_ENV: Once = Once::new();

/// Process-wide settings, once, before any server starts: moto's credentials for the AWS SDK's
/// default chain, the Leptos output name, and one log file for every in-process server
/// (scripts/test.sh checks that no log leaks a signature).
fn init_test_env() -> PathBuf {
    let log_path = log_dir().join(format!("in-process-{}.log", std::process::id()));
    TEST_ENV.call_once(|| {
        // SAFETY: called once, before this process starts any server or SDK client thread.
        unsafe {
            for (name, value) in Moto::ENV {
                std::env::set_var(name, value);
            }
            std::env::set_var("LEPTOS_OUTPUT_NAME", "assets");
        }
        let file = std::fs::File::create(&log_path).unwrap();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_file(true)
            .with_line_number(true)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    });
    log_path
}

/// Where test servers write their logs (CI checks them for leaked signatures).
pub fn log_dir() -> PathBuf {
    match std::env::var_os("ASSETS_TEST_LOG_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir(),
    }
}

impl TestApp {
    /// The application on the embedded default with a fresh data directory, in this process.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Same, with extra command-line flags.
    pub async fn spawn_with(extra: &[&str]) -> Self {
        let log_path = init_test_env();
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().join("data");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let config = Config::try_parse_from(
            ["server"]
                .into_iter()
                .map(String::from)
                .chain(bind_args(&data_dir, "127.0.0.1:0", "127.0.0.1:0"))
                .chain(extra.iter().cloned()),
        )
        .unwrap();
        let app = Application::build(config).await.unwrap();
        let auth = app.auth().clone();
        let service = app.service().clone();
        // The embedded default's first run created `admin`; AWS mode starts with no user. A
        // store that is down (a test of exactly that) gets a well-formed key nobody has.
        let key = match auth.list_users().await {
            Ok(users) => {
                if users.is_empty() {
                    auth.add_user("admin", "admin password for tests", true)
                        .await
                        .unwrap();
                }
                create_key(&auth, "admin", "tests").await.secret
            }
            Err(_) => format!("assets_{}_{}", "0".repeat(16), "A".repeat(43)),
        };
        let base = format!("http://{}", app.address().unwrap());
        let s3_url = app
            .s3_address()
            .unwrap()
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        let draining = app.draining();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        let app = Self {
            base,
            s3_url,
            data_dir,
            log_path,
            client: reqwest::Client::new(),
            api: bearer_client(&key),
            key,
            auth: Some(auth),
            service: Some(service),
            running: Running::InProcess { stop: Some(stop) },
            _temp: Some(temp),
            args: extra,
            descriptors: None,
            draining: Some(draining),
        };
        app.wait_until_healthy().await;
        app
    }

    /// A server in AWS mode against a DynamoDB- and S3-protocol server (moto): a fresh table
    /// and bucket, created by the `init-aws` command.
    pub async fn spawn_aws(moto: &Moto) -> Self {
        let name = format!("t{}", uuid::Uuid::new_v4().simple());
        let mut flags = moto.flags(&name);
        flags.extend(["--events-token".to_string(), "test-token".to_string()]);
        let temp = tempfile::tempdir().unwrap();
        let status = Command::new(env!("CARGO_BIN_EXE_server"))
            .envs(Moto::ENV)
            .args(&flags)
            .args(["--data-dir", temp.path().to_str().unwrap()])
            .args(["init-aws", "--read-capacity", "5", "--write-capacity", "5"])
            .status()
            .unwrap();
        assert!(status.success(), "init-aws failed");
        Self::spawn_with(&flags.iter().map(String::as_str).collect::<Vec<_>>()).await
    }

    /// The real binary, on free ports (port 0: it logs the addresses it bound).
    pub async fn spawn_process(extra: &[&str]) -> Self {
        Self::spawn_process_with_descriptors(None, extra).await
    }

    /// The real binary started with this soft limit on open descriptors (as a shell's
    /// `ulimit -Sn` would leave it; the hard limit stays).
    pub async fn spawn_process_with_descriptors(soft_limit: Option<u64>, extra: &[&str]) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().join("data");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut app =
            Self::start_process(&data_dir, ("127.0.0.1:0", "127.0.0.1:0"), extra, soft_limit).await;
        app._temp = Some(temp);
        app
    }

    async fn start_process(
        data_dir: &Path,
        (listen, s3_listen): (&str, &str),
        extra: Vec<String>,
        descriptors: Option<u64>,
    ) -> Self {
        let log_path = log_dir().join(format!("server-{}.log", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(data_dir.parent().unwrap()).unwrap();
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = match descriptors {
            None => Command::new(env!("CARGO_BIN_EXE_server")),
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.args(["-c", &format!("ulimit -Sn {limit} && exec \"$@\""), "sh"])
                    .arg(env!("CARGO_BIN_EXE_server"));
                sh
            }
        };
        let child = command
            .args(bind_args(data_dir, listen, s3_listen))
            .args(&extra)
            .env("RUST_LOG", "info")
            .envs(Moto::ENV)
            .env("LEPTOS_OUTPUT_NAME", "assets")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start the server binary");
        let mut app = Self {
            base: String::new(),
            s3_url: String::new(),
            data_dir: data_dir.to_path_buf(),
            log_path,
            client: reqwest::Client::new(),
            api: reqwest::Client::new(),
            key: String::new(),
            auth: None,
            service: None,
            running: Running::Process { child: Some(child) },
            _temp: None,
            args: extra,
            descriptors,
            draining: None,
        };
        // The addresses come from the log: what the server really bound.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = app.log();
            if let (Some(base), Some(s3)) = (
                logged_url(&log, "dashboard and REST API listening"),
                logged_url(&log, "embedded S3 endpoint listening"),
            ) {
                app.base = base;
                app.s3_url = s3;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "server did not start; log:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.wait_until_healthy().await;
        // The first run created `admin`; its key comes from the CLI, as an operator's would.
        app.key = app.cli_key("admin");
        app.api = bearer_client(&app.key);
        app
    }

    /// `server api-keys create` on this server's data directory: the secret, from the last
    /// line of its output.
    pub fn cli_key(&self, user: &str) -> String {
        let out = self.cli(
            &["api-keys", "create", "--user", user, "--label", "test"],
            "",
        );
        out.lines().last().unwrap().to_string()
    }

    /// Runs a subcommand of the binary against this server's data directory and flags;
    /// `stdin` is fed to it. Panics unless it succeeds; returns its standard output.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        let mut flags = vec![
            "--data-dir".to_string(),
            self.data_dir.display().to_string(),
        ];
        flags.extend(self.store_flags());
        run_cli(&flags, args, stdin)
    }

    /// The flags that pick the metadata store (for subcommands on the same store).
    fn store_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        let mut args = self.args.iter();
        while let Some(arg) = args.next() {
            if arg.starts_with("--store")
                || arg.starts_with("--dynamodb")
                || arg.starts_with("--aws-region")
            {
                flags.push(arg.clone());
                if !arg.contains('=')
                    && let Some(value) = args.next()
                {
                    flags.push(value.clone());
                }
            }
        }
        flags
    }

    /// A new user and an API key for them: (name, key). In-process servers only.
    pub async fn user_with_key(&self, name: &str, admin: bool) -> (String, String) {
        self.auth()
            .add_user(name, "a password for tests", admin)
            .await
            .unwrap();
        (name.to_string(), self.new_key(name, "test").await.secret)
    }

    /// A new API key for `user`, made in process.
    pub async fn new_key(&self, user: &str, label: &str) -> app::model::CreatedApiKey {
        create_key(self.auth(), user, label).await
    }

    /// A session cookie (`name=value`) for the first admin, signed in through the server
    /// function as the dashboard does (its password is set to a known one first).
    pub async fn admin_session(&self) -> String {
        self.auth()
            .set_password("admin", "admin password for tests")
            .await
            .unwrap();
        self.session_cookie("admin", "admin password for tests")
            .await
    }

    /// Signs in through the server function; the reply.
    pub async fn sign_in(&self, name: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/sign_in"))
            .header("origin", &self.base)
            .json(&serde_json::json!({"form": {"name": name, "password": password}}))
            .send()
            .await
            .unwrap()
    }

    /// The session cookie (`name=value`) of a successful sign-in.
    pub async fn session_cookie(&self, name: &str, password: &str) -> String {
        let resp = self.sign_in(name, password).await;
        assert_eq!(resp.status(), 200, "sign-in of {name} failed");
        let set = resp.headers()["set-cookie"].to_str().unwrap();
        set.split(';').next().unwrap().to_string()
    }

    /// Calls a server function with a session cookie, from the dashboard's own origin.
    pub async fn server_fn(
        &self,
        name: &str,
        cookie: Option<&str>,
        args: Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(&format!("/api/{name}")))
            .header("origin", &self.base)
            .json(&args);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    /// Users and keys directly (in-process servers).
    pub fn auth(&self) -> &server::service::auth::Auth {
        self.auth.as_ref().expect("needs an in-process server")
    }

    async fn wait_until_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(resp) = self
                .client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                && resp.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server did not start; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops a process server (SIGTERM, like a deploy) and starts it again on the same ports
    /// and data directory.
    pub async fn restart(mut self) -> Self {
        assert!(
            matches!(self.running, Running::Process { .. }),
            "restart needs spawn_process"
        );
        self.stop();
        self.restart_stopped().await
    }

    /// Starts a stopped process server again on the same ports and data directory.
    pub async fn start_again(self) -> Self {
        self.restart_stopped().await
    }

    async fn restart_stopped(mut self) -> Self {
        let temp = self._temp.take();
        let ports = (
            self.base.trim_start_matches("http://").to_string(),
            self.s3_url.trim_start_matches("http://").to_string(),
        );
        let mut app = Self::start_process(
            &self.data_dir,
            (&ports.0, &ports.1),
            self.args.clone(),
            self.descriptors,
        )
        .await;
        app._temp = temp;
        app
    }

    /// Kills a process server (SIGKILL: a crash, nothing runs on the way out) and starts it
    /// again on the same ports and data directory.
    pub async fn crash_and_restart(mut self) -> Self {
        let Running::Process { child: Some(child) } = &mut self.running else {
            panic!("crash_and_restart needs spawn_process");
        };
        child.kill().unwrap();
        child.wait().unwrap();
        self.running = Running::Stopped;
        self.restart_stopped().await
    }

    /// Stops the server: SIGTERM to a process (waiting up to 10 s for it to exit), the
    /// shutdown signal to an in-process one.
    pub fn stop(&mut self) {
        match std::mem::replace(&mut self.running, Running::Stopped) {
            Running::InProcess { stop } => {
                if let Some(stop) = stop {
                    let _ = stop.send(());
                }
            }
            Running::Process {
                child: Some(mut child),
            } => terminate(&mut child),
            Running::Process { child: None } | Running::Stopped => {}
        }
    }

    /// The bucket name passed with `--bucket`, or the default.
    pub fn created_bucket(&self) -> String {
        self.args
            .iter()
            .skip_while(|a| *a != "--bucket")
            .nth(1)
            .cloned()
            .unwrap_or_else(|| "assets".into())
    }

    /// `server reconcile` on this server's data directory and embedded endpoint, with the
    /// sweep's own `--upload-url-ttl 1 --reconcile-stale-after 0` and `extra` flags; its report.
    pub fn reconcile(&self, extra: &[&str]) -> Value {
        let output = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--data-dir", self.data_dir.to_str().unwrap()])
            .args(["--s3-listen", self.s3_url.trim_start_matches("http://")])
            .args(["--upload-url-ttl", "1", "--reconcile-stale-after", "0"])
            .args(extra)
            .arg("reconcile")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The service itself (in-process servers only).
    pub fn service(&self) -> &server::service::Service {
        self.service.as_ref().expect("needs an in-process server")
    }

    /// Event records refused as malformed so far (in-process servers only).
    pub fn service_events_rejected(&self) -> Option<u64> {
        self.service.as_ref().map(|s| s.events_rejected())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request to the REST API, as curl would send it.
    pub async fn call(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.api
            .request(method, self.url(path))
            .send()
            .await
            .unwrap()
    }

    pub async fn status(&self, method: reqwest::Method, path: &str) -> reqwest::StatusCode {
        self.call(method, path).await.status()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path)
            .await
            .json()
            .await
            .unwrap()
    }

    /// `POST /assets` with an optional JSON body; returns the 201 reply.
    pub async fn create(&self, body: Option<Value>) -> Value {
        let mut request = self.api.post(self.url("/assets"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let resp = request.send().await.unwrap();
        assert_eq!(
            resp.status(),
            201,
            "create failed: {}",
            resp.text().await.unwrap()
        );
        resp.json().await.unwrap()
    }

    /// PUTs bytes to a presigned upload URL with the headers the create reply listed.
    pub async fn upload(&self, created: &Value, bytes: Vec<u8>) -> reqwest::Response {
        let mut request = self
            .client
            .put(created["upload_url"].as_str().unwrap())
            .body(bytes);
        for (name, value) in created["upload_headers"].as_object().unwrap() {
            request = request.header(name, value.as_str().unwrap());
        }
        request.send().await.unwrap()
    }

    pub async fn asset(&self, id: &str) -> Option<Value> {
        let page: Value = self
            .api
            .get(self.url("/assets?include_deleted=true&limit=1000"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["asset_id"] == id)
            .cloned()
    }

    /// Polls the list until the asset reaches `state` (events are delivered asynchronously).
    pub async fn wait_for_state(&self, id: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let asset = self.asset(id).await;
            if let Some(asset) = &asset
                && asset["state"] == state
            {
                return asset.clone();
            }
            assert!(
                Instant::now() < deadline,
                "asset {id} never reached {state}; last seen {asset:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The embedded endpoint's credentials, to act as an operator with full S3 access.
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let creds: Value = serde_json::from_str(
            &std::fs::read_to_string(self.data_dir.join("embedded-s3-credentials.json")).unwrap(),
        )
        .unwrap();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&self.s3_url)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                creds["access_key"].as_str().unwrap(),
                creds["secret_key"].as_str().unwrap(),
                None,
                None,
                "test",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bind_args(data_dir: &Path, listen: &str, s3_listen: &str) -> Vec<String> {
    vec![
        "--listen".to_string(),
        listen.to_string(),
        "--s3-listen".to_string(),
        s3_listen.to_string(),
        "--data-dir".to_string(),
        data_dir.display().to_string(),
    ]
}

/// The `url=` field of the first log line with `message`.
pub fn logged_url(log: &str, message: &str) -> Option<String> {
    let line = log.lines().find(|line| line.contains(message))?;
    // `--log-format json`: a field of the line's object.
    if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(line) {
        return fields.get("url")?.as_str().map(str::to_string);
    }
    let url = line.split("url=").nth(1)?.split_whitespace().next()?;
    Some(url.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A moto server (PyPI `moto[server]`) speaking DynamoDB's and S3's wire protocols. Uses the
/// one at `ASSETS_TEST_MOTO_URL` when set (scripts/test.sh starts one), else starts its own.
/// Missing moto is a failure, never a skip.
pub struct Moto {
    pub url: String,
    child: Option<Child>,
}

impl Moto {
    /// Credentials and region moto accepts; the SDK's default chain reads them.
    pub const ENV: [(&str, &str); 3] = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];

    pub async fn start() -> Self {
        if let Ok(url) = std::env::var("ASSETS_TEST_MOTO_URL") {
            return Self { url, child: None };
        }
        let port = free_port();
        // scripts/moto_server.py: moto, one request at a time (see there why), from the venv
        // scripts/setup.sh makes.
        let venv = std::env::var_os("ASSETS_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/assets-service/venv")
            });
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/moto_server.py");
        let child = Command::new(venv.join("bin/python"))
            .arg(script)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "the DynamoDB tests need moto in {} (scripts/setup.sh test installs it): {e}",
                    venv.display()
                )
            });
        let moto = Self {
            url: format!("http://127.0.0.1:{port}"),
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{}/moto-api/", moto.url))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        moto
    }

    /// Server flags for AWS mode against this moto, with table and bucket `name`.
    pub fn flags(&self, name: &str) -> Vec<String> {
        [
            "--store",
            "dynamodb",
            "--dynamodb-endpoint",
            &self.url,
            "--dynamodb-table",
            name,
            "--objects",
            "s3",
            "--s3-endpoint",
            &self.url,
            "--s3-force-path-style",
            "true",
            "--bucket",
            name,
        ]
        .map(str::to_string)
        .to_vec()
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.url, "testing", "testing")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn s3_client(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            access_key, secret_key, None, None, "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The `<Code>` and `<Message>` of an S3 XML error body.
pub fn s3_error(body: &str) -> (String, String) {
    let field = |tag: &str| {
        body.split(&format!("<{tag}>"))
            .nth(1)
            .and_then(|rest| rest.split(&format!("</{tag}>")).next())
            .unwrap_or_default()
            .to_string()
    };
    (field("Code"), field("Message"))
}

/// A client that sends `Authorization: Bearer <key>` with every request.
pub fn bearer_client(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn create_key(
    auth: &server::service::auth::Auth,
    user: &str,
    label: &str,
) -> app::model::CreatedApiKey {
    auth.create_key(
        user,
        app::model::NewApiKey {
            label: label.into(),
            expires_in_days: None,
        },
    )
    .await
    .unwrap()
}

/// Runs a subcommand of the `server` binary with `flags` then `args`, `stdin` fed to it.
/// Panics unless it succeeds; returns its standard output.
pub fn run_cli(flags: &[String], args: &[&str], stdin: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(flags)
        .args(args)
        .envs(Moto::ENV)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "server {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Stops a server process as a deploy does: SIGTERM, then SIGKILL if it lingers past 10 s.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
