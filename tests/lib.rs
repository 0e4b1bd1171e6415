//! Shared helpers for the end-to-end tests: each test gets the real app, with the real model, on
//! its own port and its own fresh SQLite file.

use std::path::PathBuf;

use blendlab_server::{
    config::ServerConfig,
    startup::{Application, Settings},
};
use serde_json::{json, Value};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub struct TestApp {
    pub address: String,
    pub db_path: PathBuf,
    pub client: reqwest::Client,
    _dir: TempDir,
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("blendlab-{prefix}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

/// The directory's path, so a guard reads like the path it keeps.
impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServerConfig::default()).await
}

pub async fn spawn_app_with(config: ServerConfig) -> TestApp {
    spawn_app_in(TempDir::new("test"), config).await
}

/// The app on `dir/blendlab.db`, which a test may have filled before.
pub async fn spawn_app_in(dir: TempDir, config: ServerConfig) -> TestApp {
    let db_path = dir.0.join("blendlab.db");
    let app = Application::build(Settings {
        bind: "127.0.0.1:0".into(),
        database_url: database_url(&dir),
        admin_token: ADMIN_TOKEN.into(),
        default_model: blendlab_cli::environment::default_model_path(),
        config,
    })
    .await
    .expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        db_path,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

pub fn database_url(dir: &TempDir) -> String {
    database_url_of(&dir.0.join("blendlab.db"))
}

pub fn example_definition() -> Value {
    let text = include_str!("../experiments/definitions/chai-blend.toml");
    let definition: blendlab_experiments::ExperimentDefinition =
        blendlab_experiments::ExperimentDefinition::from_toml(text).unwrap();
    serde_json::to_value(definition).unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request with the admin token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .admin(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self
            .admin(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates and starts `definition`.
    pub async fn start_experiment(&self, definition: &Value) {
        let (status, body) = self.post_json("/api/v1/experiments", definition).await;
        assert_eq!(status, 201, "{body}");
        let key = definition["key"].as_str().unwrap();
        let (status, body) = self
            .post_json(&format!("/api/v1/experiments/{key}/start"), &json!(null))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "running");
    }

    pub async fn chat(
        &self,
        experiment: &str,
        user: &str,
        conversation: Option<&str>,
        message: &str,
        max_tokens: u32,
    ) -> (u16, Value) {
        self.post_json(
            "/api/v1/chat",
            &json!({ "experiment": experiment, "user_id": user, "conversation_id": conversation,
                     "message": message, "max_tokens": max_tokens }),
        )
        .await
    }

    /// Rows of one query on the store's SQLite file, read through the sqlite3 CLI-free path:
    /// a separate sqlx connection, as an outside reader would.
    pub async fn db_rows(&self, sql: &str) -> Vec<Vec<Value>> {
        use sqlx::{Row, ValueRef};
        let url = format!("sqlite://{}?mode=ro", self.db_path.display());
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .expect("open the store read-only");
        let rows = sqlx::query(sql).fetch_all(&pool).await.expect("query");
        rows.iter()
            .map(|row| {
                (0..row.columns().len())
                    .map(|i| {
                        if row.try_get_raw(i).map_or(true, |v| v.is_null()) {
                            Value::Null
                        } else if let Ok(v) = row.try_get::<i64, _>(i) {
                            json!(v)
                        } else if let Ok(v) = row.try_get::<f64, _>(i) {
                            json!(v)
                        } else if let Ok(v) = row.try_get::<String, _>(i) {
                            json!(v)
                        } else {
                            Value::Null
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

impl TestApp {
    /// The UTC day of the latest stored message, read after a test's live traffic: a run that
    /// crosses midnight then expects what the server really did, not the day the test began.
    pub async fn last_traffic_day(&self) -> chrono::NaiveDate {
        last_message_day(&database_url_of(&self.db_path)).await
    }

    /// Users first exposed before `day` (UTC): those whose day 1 is eligible as of `day`.
    pub async fn exposed_before(&self, day: chrono::NaiveDate) -> u64 {
        let start = day
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros();
        let rows = self
            .db_rows(&format!(
                "SELECT COUNT(DISTINCT user_id) FROM assignments WHERE assigned_at < {start}"
            ))
            .await;
        rows[0][0].as_u64().unwrap()
    }
}

fn database_url_of(db_path: &std::path::Path) -> String {
    format!("sqlite://{}", db_path.display())
}

/// The UTC day of the latest message in the store at `database_url` (SQLite or PostgreSQL).
pub async fn last_message_day(database_url: &str) -> chrono::NaiveDate {
    let sql = "SELECT MAX(created_at) FROM messages";
    let micros: Option<i64> = if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    };
    let micros = micros.expect("the store holds messages");
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap()
        .date_naive()
}

/// A fresh, empty PostgreSQL database for one test, dropped afterwards. The server is
/// `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`); `make test` starts
/// one when none answers. A test that needs it fails without it: it never skips.
pub struct PostgresDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PostgresDatabase {
    pub async fn create() -> Self {
        use sqlx::Connection;
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at {admin_url} is needed (`make test` starts one): {e}")
            });
        let name = format!("blendlab_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("CREATE DATABASE");
        let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            admin_url,
            name,
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // Drop runs outside async code: a short-lived runtime on its own thread does the DROP.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                use sqlx::Connection;
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, anyhow::Error>(())
            })
        })
        .join();
    }
}

/// The `blendlab` binary that `cargo test` built next to this test binary
/// (`target/<profile>/blendlab`; test binaries live in `target/<profile>/deps/`).
pub fn blendlab_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let binary = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join(format!("blendlab{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: `cargo test --workspace` builds it",
        binary.display()
    );
    binary
}

pub use blendlab_analytics::compare::assert_reports_match;

mod cluster;
mod process;
mod sse;

pub use cluster::PostgresCluster;
pub use process::ServerProcess;
pub use sse::CompletionStream;
