//! A remote model server that fails (issue 20): killed mid-reply, hung, or answering garbage. The
//! caller gets a clear 502 or a stream that ends with an `error` chunk, soon; what arrived of the
//! reply is logged with `finish_reason = "error"`; and the connection to the remote is let go.
//! The remote is the real `blendlab serve` binary, or, for hangs and garbage, a socket of this
//! test's that misbehaves on purpose.

use std::time::{Duration, Instant};

use blendlab_inference::ModelConfig;
use blendlab_server::config::ServerConfig;
use blendlab_tests::{
    spawn_app_with, CompletionStream, ServerProcess, TempDir, TestApp, ADMIN_TOKEN,
};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// How long the misbehaving endpoints' fronts wait for a silent endpoint.
const IDLE_TIMEOUT_S: f64 = 1.0;

/// The front: the real app in-process, whose model `far` is served at `base_url`.
async fn start_front(base_url: &str, remote_model: &str, idle_timeout_s: f64) -> TestApp {
    // The remote `blendlab serve` takes the same admin token; a variable per front, so that
    // tests running at once cannot see each other's.
    let key_variable = format!("BLENDLAB_TEST_FAR_KEY_{}", uuid::Uuid::new_v4().simple());
    std::env::set_var(&key_variable, ADMIN_TOKEN);
    let far = ModelConfig {
        remote_model: Some(remote_model.into()),
        api_key_env: Some(key_variable),
        idle_timeout_s,
        retries: 0,
        ..ModelConfig::remote("far", base_url)
    };
    spawn_app_with(ServerConfig {
        models: vec![far],
        ..ServerConfig::default()
    })
    .await
}

fn counting(stream: bool) -> Value {
    json!({ "model": "far", "stream": stream, "max_tokens": 800, "temperature": 0,
            "messages": [{ "role": "user", "content": "Count with me: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10," }] })
}

/// A streamed counting completion through the front.
async fn open_stream(front: &TestApp) -> CompletionStream {
    CompletionStream::open(&reqwest::Client::new(), &front.address, &counting(true)).await
}

/// The front's assistant messages: (content, finish_reason).
async fn logged_replies(front: &TestApp) -> Vec<(String, String)> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", front.db_path.display()))
        .await
        .unwrap();
    sqlx::query_as("SELECT content, finish_reason FROM messages WHERE role = 'assistant'")
        .fetch_all(&pool)
        .await
        .unwrap()
}

fn assert_upstream_error(error: &Value) {
    assert_eq!(error["error"]["code"], "upstream_failed", "{error}");
    assert_eq!(error["error"]["type"], "server_error", "{error}");
}

#[tokio::test]
async fn a_remote_killed_mid_reply_ends_the_stream_with_an_error_and_logs_what_arrived() {
    let dir = TempDir::new("dying-remote");
    let config = dir.join("remote.toml");
    std::fs::write(
        &config,
        "[[models]]\nid = \"counter\"\ntemperature = 0.0\nmax_tokens = 1000\nstop = []\n",
    )
    .unwrap();
    let database_url = format!("sqlite://{}", dir.join("remote.db").display());
    let mut remote = ServerProcess::start_configured(&database_url, Some(&config), None);
    remote.ready().await;
    // A real model on a loaded machine may take seconds to its first token: no tight idle timeout.
    let front = start_front(&format!("{}/v1", remote.base), "counter", 60.0).await;

    let mut stream = open_stream(&front).await;
    assert!(
        stream.read_until_text().await,
        "the stream ended before any text"
    );
    remote.kill();
    let killed = Instant::now();
    stream.read_to_end().await;
    let took = killed.elapsed();

    let error = stream
        .error
        .as_ref()
        .expect("the stream ends with an error chunk");
    assert_upstream_error(error);
    assert!(
        took < Duration::from_secs(3),
        "the error came {took:?} after the kill"
    );
    let replies = logged_replies(&front).await;
    assert_eq!(
        replies,
        vec![(stream.text.clone(), "error".to_owned())],
        "what was streamed is logged, as a reply that ended in an error"
    );
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("broke off after"), "{message}");
}

/// What the misbehaving endpoint does once it has read a request.
#[derive(Clone, Copy)]
enum Misbehaviour {
    /// Answers 200, streams one chunk of text, then goes silent with the connection open.
    HangsMidReply,
    /// Reads the request and never answers.
    NeverAnswers,
    /// Answers 200 with a stream whose chunk is not JSON.
    UnreadableChunk,
    /// Answers with bytes that are not HTTP at all.
    NotHttp,
}

/// Serves `misbehaviour` on every connection; sends how long each connection stayed open after
/// the endpoint's last write, once the front closes it.
async fn misbehaving_endpoint(
    misbehaviour: Misbehaviour,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<Duration>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (closed, closes) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let closed = closed.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut request).await;
                let answer: &[u8] = match misbehaviour {
                    Misbehaviour::HangsMidReply => b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n43\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello there\"}}]}\n\n\r\n",
                    Misbehaviour::NeverAnswers => b"",
                    Misbehaviour::UnreadableChunk => b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 19\r\n\r\ndata: {not json!!\n\n",
                    Misbehaviour::NotHttp => b"SSH-2.0-OpenSSH_9.2\r\n",
                };
                let _ = socket.write_all(answer).await;
                let last_write = Instant::now();
                if matches!(misbehaviour, Misbehaviour::NotHttp) {
                    return;
                }
                // Then silence, until the front lets the connection go.
                let mut rest = [0u8; 1024];
                while matches!(socket.read(&mut rest).await, Ok(n) if n > 0) {}
                let _ = closed.send(last_write.elapsed());
            });
        }
    });
    (base_url, closes)
}

#[tokio::test]
async fn a_remote_that_hangs_mid_reply_is_given_up_after_its_idle_timeout() {
    let (base_url, mut closes) = misbehaving_endpoint(Misbehaviour::HangsMidReply).await;
    let front = start_front(&base_url, "hung", IDLE_TIMEOUT_S).await;
    let started = Instant::now();
    let mut stream = open_stream(&front).await;
    stream.read_to_end().await;
    let took = started.elapsed();
    assert_eq!(stream.text, "Hello there");
    assert_upstream_error(
        stream
            .error
            .as_ref()
            .expect("an error chunk ends the stream"),
    );
    let message = stream.error.as_ref().unwrap()["error"]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("went silent") && message.contains("idle_timeout_s = 1"),
        "{message}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "given up after the 1 s idle timeout, not before or long after: {took:?}"
    );
    let held = tokio::time::timeout(Duration::from_secs(5), closes.recv())
        .await
        .expect("the front closes its connection to the hung endpoint")
        .unwrap();
    assert!(
        held < Duration::from_secs(3),
        "the connection was held {held:?}"
    );
    assert_eq!(
        logged_replies(&front).await,
        vec![("Hello there".to_owned(), "error".to_owned())]
    );
}

/// A plain completion against `misbehaviour`: a 502 `upstream_failed` within `limit`, nothing
/// logged (no reply arrived), and the message says what went wrong.
async fn assert_clear_502(misbehaviour: Misbehaviour, limit: Duration, says: &str) {
    let (base_url, _closes) = misbehaving_endpoint(misbehaviour).await;
    let front = start_front(&base_url, "broken", IDLE_TIMEOUT_S).await;
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(front.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&counting(false))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the front answers");
    let took = started.elapsed();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_upstream_error(&body);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(says), "{message}");
    assert!(took < limit, "answered after {took:?}");
    assert!(logged_replies(&front).await.is_empty(), "no reply arrived");
}

#[tokio::test]
async fn a_remote_that_never_answers_is_a_502_after_its_idle_timeout() {
    assert_clear_502(
        Misbehaviour::NeverAnswers,
        Duration::from_secs(4),
        "did not answer in time",
    )
    .await;
}

#[tokio::test]
async fn garbage_from_a_remote_is_a_clear_502() {
    assert_clear_502(
        Misbehaviour::UnreadableChunk,
        Duration::from_secs(3),
        "an unreadable chunk",
    )
    .await;
    assert_clear_502(
        Misbehaviour::NotHttp,
        Duration::from_secs(3),
        "did not answer",
    )
    .await;
}
