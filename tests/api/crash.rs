//! `kill -9` under concurrent chat and event traffic, at several moments, on both stores: every
//! reply and event batch the server acknowledged is in the store after the restart, the database
//! opens cleanly, and no credential ever reached the log.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use blendlab_tests::{
    database_url, example_definition, PostgresDatabase, ServerProcess, TempDir, ADMIN_TOKEN,
};
use reqwest::Method;
use serde_json::{json, Value};

/// What the server acknowledged before it died.
#[derive(Default)]
struct Acknowledged {
    /// (conversation id, message id, reply text)
    replies: Vec<(String, String, String)>,
    /// (user id, events in the batch)
    event_batches: Vec<(String, usize)>,
}

/// The body of a 200 answer; `None` for anything else, a dead server included.
async fn acknowledged(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: &Value,
) -> Option<Value> {
    let response = client
        .post(url)
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    response.json().await.ok()
}

/// Chats and posts events as fast as the server answers, noting each acknowledgement, until the
/// server is gone.
async fn traffic(
    base: String,
    key: String,
    worker: usize,
    round: usize,
    acked: Arc<Mutex<Acknowledged>>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut conversation: Option<String> = None;
    for turn in 0.. {
        let body = json!({ "experiment": "chai-blend", "user_id": format!("crash-{round}-{worker}"),
                           "conversation_id": conversation, "message": format!("Message {turn}"),
                           "max_tokens": 3 });
        let Some(reply) = acknowledged(&client, &format!("{base}/api/v1/chat"), &key, &body).await
        else {
            return;
        };
        let id = reply["conversation_id"].as_str().unwrap().to_owned();
        acked.lock().unwrap().replies.push((
            id.clone(),
            reply["message_id"].as_str().unwrap().to_owned(),
            reply["reply"].as_str().unwrap().to_owned(),
        ));
        conversation = Some(id);

        let user = format!("events-{round}-{worker}-{turn}");
        let events: Vec<Value> = (0..20)
            .map(|i| json!({ "user_id": user, "kind": "tick", "value": i }))
            .collect();
        let batch = json!({ "events": events });
        if acknowledged(&client, &format!("{base}/api/v1/events"), &key, &batch)
            .await
            .is_none()
        {
            return;
        }
        acked.lock().unwrap().event_batches.push((user, 20));
    }
}

async fn crash_and_recover(database_url: &str, log: &std::path::Path) -> usize {
    let mut server = ServerProcess::start_logging(database_url, Some(log));
    server.ready().await;
    server.start_experiment(example_definition()).await;
    let (status, key) = server
        .call(
            Method::POST,
            "/api/v1/keys",
            Some(json!({ "name": "crash" })),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let key = key["key"].as_str().unwrap().to_owned();

    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    // Kill points spread over a turn's life: early in the first turns, mid-stream, later.
    for (round, kill_after_ms) in [0u64, 1400, 3200].into_iter().enumerate() {
        let workers: Vec<_> = (0..6)
            .map(|w| {
                tokio::spawn(traffic(
                    server.base.clone(),
                    key.clone(),
                    w,
                    round,
                    acked.clone(),
                ))
            })
            .collect();
        // Kill points count from the round's first acknowledged reply, not from its start: on a
        // loaded machine (a cold CI run) the first turns may take longer than the kill delay.
        let before = acked.lock().unwrap().replies.len();
        let waiting = std::time::Instant::now();
        while acked.lock().unwrap().replies.len() == before
            && waiting.elapsed() < Duration::from_secs(120)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        server.kill();
        for worker in workers {
            worker.await.unwrap();
        }
        // The store opens after the crash, migrations and all.
        server = ServerProcess::start_logging(database_url, Some(log));
        server.ready().await;
    }

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.replies.len() >= 3,
        "too little traffic to test: {}",
        acked.replies.len()
    );
    for (conversation, message_id, reply) in &acked.replies {
        let (status, stored) = server
            .call(
                Method::GET,
                &format!("/api/v1/conversations/{conversation}"),
                None,
            )
            .await;
        assert_eq!(
            status, 200,
            "acknowledged conversation {conversation} is lost: {stored}"
        );
        let found = stored["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["message_id"] == message_id.as_str() && m["content"] == reply.as_str());
        assert!(found, "acknowledged reply {message_id} is lost: {stored}");
    }
    let stored = events_per_user(database_url).await;
    for (user, count) in &acked.event_batches {
        assert_eq!(
            stored.get(user),
            Some(&(*count as i64)),
            "acknowledged events of {user}"
        );
    }
    // Still serving after all that.
    let (status, turn) = server.chat("after-the-crashes").await;
    assert_eq!(status, 200, "{turn}");

    let text = std::fs::read_to_string(log).unwrap();
    assert!(!text.contains(ADMIN_TOKEN), "the admin token is in the log");
    let (_, secret) = key.rsplit_once('_').unwrap();
    assert!(!text.contains(secret), "the client key is in the log");
    acked.replies.len()
}

async fn events_per_user(database_url: &str) -> HashMap<String, i64> {
    let sql = "SELECT user_id, COUNT(*) FROM events GROUP BY user_id";
    let rows: Vec<(String, i64)> = if database_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
    };
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_on_sqlite() {
    let dir = TempDir::new("crash");
    let url = database_url(&dir);
    let replies = crash_and_recover(&url, &dir.0.join("server.log")).await;
    // The file is whole: SQLite's own check, on a connection of its own.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    eprintln!("sqlite: {replies} acknowledged replies checked after 3 kills");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_on_postgres() {
    let database = PostgresDatabase::create().await;
    let dir = TempDir::new("crash-pg");
    let replies = crash_and_recover(&database.url, &dir.0.join("server.log")).await;
    eprintln!("postgres: {replies} acknowledged replies checked after 3 kills");
}
