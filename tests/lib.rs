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
    format!("sqlite://{}", dir.0.join("blendlab.db").display())
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
