//! Replicas of the real `server` binary in AWS mode, side by side against one moto (DynamoDB
//! and S3): one table and bucket per test, each replica on its own port, nothing in front.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Moto, bearer_client, log_dir, logged_url, run_cli, terminate};

/// The token `POST /events/s3` and `GET /metrics` take on every replica.
pub const EVENTS_TOKEN: &str = "scale-events-token";
pub const METRICS_TOKEN: &str = "scale-metrics-token";
pub const ADMIN_PASSWORD: &str = "admin password for scale tests";

/// One table and bucket (made by `server init-aws`), an admin made with the CLI, and its key.
pub struct Shared {
    pub moto: Moto,
    pub name: String,
    pub key: String,
    temp: tempfile::TempDir,
}

impl Shared {
    pub async fn provision() -> Self {
        let moto = Moto::start().await;
        let shared = Self {
            moto,
            name: format!("s{}", uuid::Uuid::new_v4().simple()),
            key: String::new(),
            temp: tempfile::tempdir().unwrap(),
        };
        shared.cli(
            &["init-aws", "--read-capacity", "5", "--write-capacity", "5"],
            "",
        );
        shared.cli(
            &["users", "add", "admin", "--admin"],
            &format!("{ADMIN_PASSWORD}\n"),
        );
        let out = shared.cli(
            &["api-keys", "create", "--user", "admin", "--label", "scale"],
            "",
        );
        let key = out.lines().last().unwrap().to_string();
        Self { key, ..shared }
    }

    /// The flags every replica and subcommand shares: the same table, bucket and endpoints.
    fn flags(&self) -> Vec<String> {
        let mut flags = self.moto.flags(&self.name);
        flags.extend(
            [
                "--events-token",
                EVENTS_TOKEN,
                "--metrics-token",
                METRICS_TOKEN,
            ]
            .map(String::from),
        );
        flags
    }

    /// Runs a subcommand against the shared table and bucket; its standard output.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        let mut flags = self.flags();
        flags.extend([
            "--data-dir".to_string(),
            self.temp.path().display().to_string(),
        ]);
        run_cli(&flags, args, stdin)
    }

    /// `n` replicas with `extra` flags, started at once; returns when every one is ready.
    pub async fn start(&self, n: usize, extra: &[&str]) -> Vec<Replica> {
        let mut starting = Vec::new();
        for index in 0..n {
            let data_dir = self.temp.path().join(format!("replica-{index}"));
            std::fs::create_dir_all(&data_dir).unwrap();
            let log_path = log_dir().join(format!(
                "scale-replica-{index}-{}.log",
                uuid::Uuid::new_v4().simple()
            ));
            let log = std::fs::File::create(&log_path).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_server"))
                .args(self.flags())
                .args(["--listen", "127.0.0.1:0"])
                .args(["--data-dir", data_dir.to_str().unwrap()])
                .args(extra)
                .envs(Moto::ENV)
                .env("RUST_LOG", "info")
                .env("LEPTOS_OUTPUT_NAME", "assets")
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null())
                .spawn()
                .expect("start the server binary");
            starting.push(Replica {
                index,
                base: String::new(),
                client: reqwest::Client::new(),
                api: bearer_client(&self.key),
                log_path,
                child: Some(child),
            });
        }
        for replica in &mut starting {
            replica.wait_until_ready().await;
        }
        starting
    }
}

/// One `server` process.
pub struct Replica {
    pub index: usize,
    pub base: String,
    /// Plain HTTP: events, sign-in, presigned URLs.
    pub client: reqwest::Client,
    /// The REST API as the admin.
    pub api: reqwest::Client,
    log_path: PathBuf,
    child: Option<Child>,
}

impl Replica {
    async fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if self.base.is_empty()
                && let Some(base) = logged_url(&log, "dashboard and REST API listening")
            {
                self.base = base;
            }
            if !self.base.is_empty()
                && let Ok(resp) = self.client.get(self.url("/readyz")).send().await
                && resp.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} did not become ready; log:\n{log}",
                self.index
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `POST /assets` as the admin; the 201 reply.
    pub async fn create(&self) -> Value {
        let resp = self
            .api
            .post(self.url("/assets"))
            .json(&serde_json::json!({"filename": "race.txt", "content_type": "text/plain"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "create on replica {}", self.index);
        resp.json().await.unwrap()
    }

    /// The asset as this replica lists it (deleted ones included), if it has it.
    pub async fn asset(&self, id: &str) -> Option<Value> {
        let resp = self
            .api
            .get(self.url("/assets?include_deleted=true&limit=1000"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "list on replica {}", self.index);
        let page: Value = resp.json().await.unwrap();
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["asset_id"] == id)
            .cloned()
    }

    /// A counter's value from this replica's `/metrics` (0 when it has none yet).
    pub async fn counter(&self, name: &str, labels: &str) -> u64 {
        let text = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let series = format!("{name}{{{labels}}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .map_or(0, |value| value.trim().parse::<f64>().unwrap() as u64)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
        }
    }
}

/// Uploads bytes to a create reply's presigned URL (moto's S3); no event is delivered.
pub async fn upload(client: &reqwest::Client, created: &Value, bytes: Vec<u8>) {
    let mut request = client
        .put(created["upload_url"].as_str().unwrap())
        .body(bytes);
    for (name, value) in created["upload_headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    let resp = request.send().await.unwrap();
    assert_eq!(resp.status(), 200, "upload to moto");
}

/// The asset's item as DynamoDB holds it: `version`, `sequencer` and all.
pub async fn stored_item(
    shared: &Shared,
    id: &str,
) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    shared
        .moto
        .dynamodb()
        .get_item()
        .table_name(&shared.name)
        .key(
            "asset_id",
            aws_sdk_dynamodb::types::AttributeValue::S(id.to_string()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .clone()
}

/// A number attribute of a stored item.
pub fn number(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}
