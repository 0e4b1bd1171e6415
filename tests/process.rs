//! `blendlab serve` as a child process: the real binary, stopped by a signal or killed.

use serde_json::{json, Value};

use crate::{blendlab_binary, ADMIN_TOKEN};

/// A real `blendlab serve` process on its own port, killed (SIGKILL) when dropped. Its log goes
/// to `log`, when given.
pub struct ServerProcess {
    child: std::process::Child,
    pub base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl ServerProcess {
    pub fn start(database_url: &str) -> Self {
        Self::start_logging(database_url, None)
    }

    pub fn start_logging(database_url: &str, log: Option<&std::path::Path>) -> Self {
        Self::start_configured(database_url, None, log)
    }

    /// With `--config config` when given.
    pub fn start_configured(
        database_url: &str,
        config: Option<&std::path::Path>,
        log: Option<&std::path::Path>,
    ) -> Self {
        use std::process::{Command, Stdio};
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("the log file opens"),
            ),
            None => Stdio::inherit(),
        };
        let child = Command::new(blendlab_binary())
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--db",
                database_url,
            ])
            .args(config.map(|path| format!("--config={}", path.display())))
            .env("BLENDLAB_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", if log.is_some() { "debug" } else { "warn" })
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("blendlab serve starts");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Sends `signal` (`TERM`, `INT`) to the server, as an orchestrator or Ctrl-C would.
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Waits for the server to exit by itself, at most `limit`; `None` if it is still running.
    pub async fn exited_within(
        &mut self,
        limit: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                return Some(status);
            }
            if started.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: no shutdown hook, no flush, no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn ready(&mut self) {
        use std::time::{Duration, Instant};
        let started = Instant::now();
        while reqwest::get(format!("{}/readyz", self.base))
            .await
            .map_or(true, |r| !r.status().is_success())
        {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "the server at {} exited",
                self.base
            );
            assert!(started.elapsed() < Duration::from_secs(120), "never ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .timeout(std::time::Duration::from_secs(120));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates the experiment `definition` and starts it.
    pub async fn start_experiment(&self, definition: Value) {
        let key = definition["key"].as_str().expect("a key").to_owned();
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/experiments",
                Some(definition),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let path = format!("/api/v1/experiments/{key}/start");
        let (status, body) = self.call(reqwest::Method::POST, &path, None).await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn chat(&self, user: &str) -> (u16, Value) {
        let body = json!({ "experiment": "chai-blend", "user_id": user, "message": "Hi!", "max_tokens": 2 });
        self.call(reqwest::Method::POST, "/api/v1/chat", Some(body))
            .await
    }
}
