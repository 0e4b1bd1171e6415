//! Two `blendlab serve` processes on one PostgreSQL database, as behind a load balancer: one
//! assignment, one exposure, one log, one experiment state.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use blendlab_tests::{
    assert_reports_match, blendlab_binary, example_definition, PostgresDatabase, ADMIN_TOKEN,
};
use chrono::Utc;
use serde_json::{json, Value};

/// A `blendlab serve` process, killed when dropped.
struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    fn start(database_url: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(blendlab_binary())
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--db",
                database_url,
            ])
            .env("BLENDLAB_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("blendlab serve starts");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn ready(&mut self) {
        let started = Instant::now();
        while reqwest::get(format!("{}/readyz", self.base))
            .await
            .map_or(true, |r| !r.status().is_success())
        {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "the replica at {} exited",
                self.base
            );
            assert!(started.elapsed() < Duration::from_secs(120), "never ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .timeout(Duration::from_secs(120));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the replica answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn chat(&self, user: &str) -> (u16, Value) {
        let body = json!({ "experiment": "chai-blend", "user_id": user, "message": "Hi!", "max_tokens": 2 });
        self.call(reqwest::Method::POST, "/api/v1/chat", Some(body))
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_database_behave_as_one_server() {
    let database = PostgresDatabase::create().await;
    // Both start at once: their migrations race, and one of them runs them.
    let (mut a, mut b) = (Replica::start(&database.url), Replica::start(&database.url));
    a.ready().await;
    b.ready().await;

    // Defined on one replica, started on the other.
    let (status, body) = a
        .call(
            reqwest::Method::POST,
            "/api/v1/experiments",
            Some(example_definition()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = b
        .call(
            reqwest::Method::POST,
            "/api/v1/experiments/chai-blend/start",
            None,
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("running")),
        "{body}"
    );

    // The same user gets the same arm on both.
    for i in 0..20 {
        let path = format!("/api/v1/experiments/chai-blend/assignment/user-{i}");
        let (_, on_a) = a.call(reqwest::Method::GET, &path, None).await;
        let (_, on_b) = b.call(reqwest::Method::GET, &path, None).await;
        assert_eq!(on_a, on_b, "user-{i}");
        assert!(on_a["arm"].is_string(), "{on_a}");
    }

    // Concurrent first requests for one user on both replicas: one exposure, one arm.
    let racers = ["racer-1", "racer-2", "racer-3", "racer-4"];
    for user in racers {
        let ((status_a, on_a), (status_b, on_b)) = tokio::join!(a.chat(user), b.chat(user));
        assert_eq!((status_a, status_b), (200, 200), "{on_a} {on_b}");
        assert_eq!(on_a["arm"], on_b["arm"], "{user}");
    }
    let store = blendlab_server::store::Store::connect(&database.url)
        .await
        .unwrap();
    let exposures: i64 = store
        .exposure_count("chai-blend")
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(exposures, racers.len() as i64);

    // Messages written through both replicas are in one report, whichever replica computes it.
    let today = Utc::now().date_naive();
    let path = format!("/api/v1/experiments/chai-blend/report?as_of={today}");
    let (status, report) = b.call(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{report}");
    let arms = report["arms"].as_array().unwrap();
    let users: u64 = arms.iter().map(|arm| arm["users"].as_u64().unwrap()).sum();
    assert_eq!(users, racers.len() as u64);
    let messages: u64 = arms
        .iter()
        .map(|arm| arm["guardrails"]["messages"].as_u64().unwrap())
        .sum();
    assert_eq!(messages, 2 * 2 * racers.len() as u64, "{report}");
    let (_, same_on_a) = a.call(reqwest::Method::GET, &path, None).await;
    assert_reports_match(&same_on_a, &report);

    // Stopped on one replica, the other stops serving it within 5 seconds.
    let (status, _) = a
        .call(
            reqwest::Method::POST,
            "/api/v1/experiments/chai-blend/stop",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let stopped = Instant::now();
    loop {
        let (status, body) = b
            .chat(&format!("after-stop-{}", stopped.elapsed().as_millis()))
            .await;
        if status == 409 {
            assert_eq!(body["error"]["code"], "experiment_not_running", "{body}");
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "still serving: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
