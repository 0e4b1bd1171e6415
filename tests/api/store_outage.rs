//! The store goes away and comes back, on the real binary (issue 20): PostgreSQL stopped and
//! restarted under load, a SQLite file locked by another process, a full disk. Every request
//! gets 200 or a fast 503 naming the outage (with `Retry-After`), never a 500 and never a hang;
//! `/readyz` turns unready and back; nothing acknowledged is lost, no turn is half-written; and
//! service resumes within 5 s, without a restart.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use blendlab_tests::{example_definition, PostgresCluster, ServerProcess, TempDir, ADMIN_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

/// An outage's answer must come this fast.
const FAST: Duration = Duration::from_secs(2);
/// Service must resume this soon after the store does.
const HEALS_WITHIN: Duration = Duration::from_secs(5);

/// One answer, as the caller saw it.
#[derive(Debug, Clone)]
struct Answer {
    what: &'static str,
    status: u16,
    code: Option<String>,
    retry_after: bool,
    sent_at: Instant,
    took: Duration,
    body: Value,
}

async fn ask(method: Method, url: String, body: Option<Value>, what: &'static str) -> Answer {
    let started = Instant::now();
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(ADMIN_TOKEN)
        .timeout(Duration::from_secs(30));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let Ok(response) = request.send().await else {
        return Answer {
            what,
            status: 0,
            code: None,
            retry_after: false,
            sent_at: started,
            took: started.elapsed(),
            body: Value::Null,
        };
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Answer {
        what,
        status,
        code: body["error"]["code"].as_str().map(str::to_owned),
        retry_after,
        sent_at: started,
        took: started.elapsed(),
        body,
    }
}

/// `POST {base}{path}` as the admin.
async fn post(base: &str, path: &str, body: Value, what: &'static str) -> Answer {
    ask(Method::POST, format!("{base}{path}"), Some(body), what).await
}

/// `GET {base}{path}` as the admin; `what` is the path.
async fn get(base: &str, path: &'static str) -> Answer {
    ask(Method::GET, format!("{base}{path}"), None, path).await
}

/// A 503 naming the outage, with `Retry-After`, within [`FAST`].
fn assert_outage_answer(answer: &Answer, code: &str) {
    assert_outage_named(answer, code);
    assert!(answer.took < FAST, "an outage is answered fast: {answer:?}");
}

/// A 503 naming the outage, with `Retry-After`. Requests already generating when the store went
/// away spent part of their time on the model, which says nothing about the outage; they must
/// only not hang.
fn assert_outage_named(answer: &Answer, code: &str) {
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.code.as_deref(), Some(code), "{answer:?}");
    assert!(answer.retry_after, "a 503 says when to retry: {answer:?}");
    assert!(answer.took < Duration::from_secs(10), "hung: {answer:?}");
}

#[derive(Default)]
struct Traffic {
    answers: Vec<Answer>,
    /// (conversation id, message id, reply) of every acknowledged turn.
    replies: Vec<(String, String, String)>,
    /// (user id, events) of every acknowledged batch.
    event_batches: Vec<(String, usize)>,
}

/// Chats and posts events until `stop`, noting every answer.
async fn traffic(base: String, worker: usize, stop: Arc<AtomicBool>, log: Arc<Mutex<Traffic>>) {
    let mut conversation: Option<String> = None;
    for turn in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let body = json!({ "experiment": "chai-blend", "user_id": format!("outage-{worker}"),
                           "conversation_id": conversation, "message": format!("Message {turn}"),
                           "max_tokens": 3 });
        let chat = post(&base, "/api/v1/chat", body, "chat").await;
        if chat.status == 200 {
            let id = chat.body["conversation_id"].as_str().unwrap().to_owned();
            log.lock().unwrap().replies.push((
                id.clone(),
                chat.body["message_id"].as_str().unwrap().to_owned(),
                chat.body["reply"].as_str().unwrap().to_owned(),
            ));
            conversation = Some(id);
        }
        let user = format!("outage-events-{worker}-{turn}");
        let events: Vec<Value> = (0..5)
            .map(|i| json!({ "user_id": user, "kind": "tick", "value": i }))
            .collect();
        let batch = post(
            &base,
            "/api/v1/events",
            json!({ "events": events }),
            "events",
        )
        .await;
        let mut log = log.lock().unwrap();
        if batch.status == 200 {
            log.event_batches.push((user, 5));
        }
        log.answers.extend([chat, batch]);
    }
}

/// Retries a write (an event batch: the store's path without the model's, whose speed depends on
/// the machine's load) until it is answered 200, and returns how long that took; then a chat must
/// be answered 200 too.
async fn time_to_heal(base: &str) -> Duration {
    let started = Instant::now();
    let healed_in = loop {
        let body = json!({ "events": [{ "user_id": "healer", "kind": "tick" }] });
        let answer = post(base, "/api/v1/events", body, "events").await;
        if answer.status == 200 {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never healed: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let body = json!({ "experiment": "chai-blend", "user_id": "healer", "message": "Back?", "max_tokens": 2 });
    let chat = post(base, "/api/v1/chat", body, "chat").await;
    assert_eq!(chat.status, 200, "chat after healing: {chat:?}");
    healed_in
}

/// While the store is out: a chat and an event batch get the outage's 503 fast, and `/readyz`
/// is unready.
async fn assert_refused_while_out(server: &ServerProcess, user: &str, code: &str) {
    let base = &server.base;
    let body =
        json!({ "experiment": "chai-blend", "user_id": user, "message": "Hi", "max_tokens": 2 });
    let chat = post(base, "/api/v1/chat", body, "chat").await;
    assert_outage_answer(&chat, code);
    let events = json!({ "events": [{ "user_id": user, "kind": "tick" }] });
    let batch = post(base, "/api/v1/events", events, "events").await;
    assert_outage_answer(&batch, code);
    let ready = get(base, "/readyz").await;
    assert_eq!(
        ready.status, 503,
        "unready while the store is out: {ready:?}"
    );
}

/// Once the store is back: service within [`HEALS_WITHIN`] (returned), and `/readyz` ready again.
async fn assert_heals(server: &ServerProcess) -> Duration {
    let healed_in = time_to_heal(&server.base).await;
    assert!(
        healed_in < HEALS_WITHIN,
        "service resumed {healed_in:?} after the store"
    );
    let ready = get(&server.base, "/readyz").await;
    assert_eq!(ready.status, 200, "ready again: {ready:?}");
    healed_in
}

/// The checks, once for each database's pool type.
macro_rules! check_stored {
    ($pool:expr, $traffic:expr) => {{
        for (conversation, message_id, reply) in &$traffic.replies {
            let stored: Option<(String,)> = sqlx::query_as(
                "SELECT content FROM messages WHERE message_id = $1 AND conversation_id = $2",
            )
            .bind(message_id)
            .bind(conversation)
            .fetch_optional($pool)
            .await
            .unwrap();
            assert_eq!(
                stored.map(|s| s.0).as_deref(),
                Some(reply.as_str()),
                "acknowledged reply {message_id} is lost"
            );
        }
        for (user, count) in &$traffic.event_batches {
            let (stored,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM events WHERE user_id = $1")
                    .bind(user)
                    .fetch_one($pool)
                    .await
                    .unwrap();
            assert_eq!(stored, *count as i64, "acknowledged events of {user}");
        }
        let half_written: Vec<(String,)> = sqlx::query_as(
            "SELECT conversation_id FROM messages GROUP BY conversation_id
             HAVING SUM(CASE WHEN role = 'user' THEN 1 ELSE 0 END)
                 <> SUM(CASE WHEN role = 'assistant' THEN 1 ELSE 0 END)",
        )
        .fetch_all($pool)
        .await
        .unwrap();
        assert!(
            half_written.is_empty(),
            "half-written turns: {half_written:?}"
        );
    }};
}

/// Every acknowledged reply and event batch is stored, and every conversation holds whole turns.
async fn assert_nothing_acknowledged_is_lost(database_url: &str, traffic: &Traffic) {
    if database_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        check_stored!(&pool, traffic);
    } else {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        check_stored!(&pool, traffic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_is_a_fast_503_and_heals_without_a_restart() {
    let cluster = Arc::new(PostgresCluster::start_new());
    let dir = TempDir::new("pg-outage");
    let mut server = ServerProcess::start_logging(&cluster.url(), Some(&dir.join("server.log")));
    server.ready().await;
    server.start_experiment(example_definition()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Traffic::default()));
    let workers: Vec<_> = (0..3)
        .map(|w| tokio::spawn(traffic(server.base.clone(), w, stop.clone(), log.clone())))
        .collect();
    let waiting = Instant::now();
    while log.lock().unwrap().replies.len() < 3 {
        assert!(waiting.elapsed() < Duration::from_secs(120), "no traffic");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap();
    let down = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ready = get(&server.base, "/readyz").await;
    assert_eq!(
        ready.status, 503,
        "unready while the store is down: {ready:?}"
    );
    assert!(ready.took < FAST, "{ready:?}");
    let admin = get(&server.base, "/api/v1/experiments").await;
    assert_outage_answer(&admin, "store_unavailable");
    // Down for at least 3 s, and until the load has met it: on a loaded machine one chat can
    // spend the whole outage generating, and then stores its turn after the restart.
    let met = |what: &str| {
        let log = log.lock().unwrap();
        log.answers
            .iter()
            .any(|a| a.what == what && a.sent_at >= down && a.status != 200)
    };
    while down.elapsed() < Duration::from_secs(3) || !(met("chat") && met("events")) {
        assert!(
            down.elapsed() < Duration::from_secs(60),
            "the load never met the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let starting = cluster.clone();
    tokio::task::spawn_blocking(move || starting.start())
        .await
        .unwrap();
    let healed_in = assert_heals(&server).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }

    let traffic = std::mem::take(&mut *log.lock().unwrap());
    let outages: Vec<&Answer> = traffic.answers.iter().filter(|a| a.status != 200).collect();
    assert!(
        outages.iter().any(|a| a.what == "chat") && outages.iter().any(|a| a.what == "events"),
        "the load met the outage: {outages:?}"
    );
    for answer in &outages {
        match answer.sent_at >= down {
            true => assert_outage_answer(answer, "store_unavailable"),
            false => assert_outage_named(answer, "store_unavailable"),
        }
    }
    let met_the_outage: Vec<&&Answer> = outages.iter().filter(|a| a.sent_at >= down).collect();
    assert!(
        !met_the_outage.is_empty(),
        "no request was sent during the outage"
    );
    let slowest = met_the_outage.iter().map(|a| a.took).max().unwrap();
    eprintln!(
        "PostgreSQL outage: {} answers 503, {} to requests sent while it was down (slowest \
         {slowest:?}); healed {healed_in:?} after the start",
        outages.len(),
        met_the_outage.len()
    );
    assert_nothing_acknowledged_is_lost(&cluster.url(), &traffic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_locked_by_another_process_is_a_fast_503_until_released() {
    use sqlx::Connection;
    let dir = TempDir::new("sqlite-locked");
    let url = format!("sqlite://{}", dir.join("blendlab.db").display());
    let mut server = ServerProcess::start(&url);
    server.ready().await;
    server.start_experiment(example_definition()).await;
    assert_eq!(server.chat("before-the-lock").await.0, 200);

    // Another program takes SQLite's write lock and keeps it.
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    assert_refused_while_out(&server, "locked-out", "store_unavailable").await;

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    assert_heals(&server).await;
    assert_nothing_acknowledged_is_lost(&url, &Traffic::default()).await;
}

/// A small tmpfs of the test's own (mounting needs root); unmounted when dropped.
struct SmallFilesystem {
    dir: TempDir,
}

impl SmallFilesystem {
    fn mount(size: &str) -> Option<Self> {
        let dir = TempDir::new("tmpfs");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir.0)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self { dir })
    }

    /// Writes a file until the file system is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write_all(&chunk).and_then(|()| file.sync_all()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => return path, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_503_that_damages_nothing_and_heals_when_space_returns() {
    let Some(disk) = SmallFilesystem::mount("16m") else {
        // Said, not hidden: docs/operations.md names this test and its need for root.
        eprintln!(
            "NOT RUN: cannot mount a tmpfs here (needs root); the full-disk case is untested"
        );
        return;
    };
    let url = format!("sqlite://{}", disk.dir.join("blendlab.db").display());
    let mut server = ServerProcess::start(&url);
    server.ready().await;
    server.start_experiment(example_definition()).await;
    let mut before = Traffic::default();
    for user in ["full-1", "full-2", "full-3"] {
        let (status, turn) = server.chat(user).await;
        assert_eq!(status, 200, "{turn}");
        before.replies.push((
            turn["conversation_id"].as_str().unwrap().to_owned(),
            turn["message_id"].as_str().unwrap().to_owned(),
            turn["reply"].as_str().unwrap().to_owned(),
        ));
    }

    let filler = disk.fill();
    assert_refused_while_out(&server, "full-4", "store_full").await;

    std::fs::remove_file(filler).unwrap();
    assert_heals(&server).await;

    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(integrity, "ok", "the database is undamaged");
    assert_nothing_acknowledged_is_lost(&url, &before).await;
}
