//! Graceful shutdown of the real binary (issue 20): on SIGTERM a reply that ends within the drain
//! time finishes as usual, one that does not is cancelled when the drain time is over and logged
//! as far as it was written (its stream ends with `finish_reason: "cancelled"`), no new request
//! is taken, and the process exits by itself with status 0. SIGINT does the same.
//!
//! The long reply is the real model's. The short one comes from a remote endpoint of this test's
//! that ends its reply when the test says so, after the signal: how soon a reply ends must not
//! hang on how busy the machine is (a real 8-token reply once took over the drain time while the
//! other tests' models held both cores).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use blendlab_tests::{CompletionStream, ServerProcess, TempDir, ADMIN_TOKEN};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::Notify,
};

/// Seconds replies may run on after the signal (`server.shutdown_drain_s`): far too short for
/// 1,000 tokens of the bundled model on this machine (about 12 s at full speed).
const DRAIN_S: u64 = 6;

/// `narrator`: the bundled model, greedy, with no stop string of its own. Greedy decoding counts
/// on ("11, 12, …") without ending its turn, so its reply runs to `max_tokens`. `paced`: the
/// remote endpoint at `paced_url`.
fn config(dir: &TempDir, paced_url: &str) -> std::path::PathBuf {
    let path = dir.join("server.toml");
    let text = format!(
        "[server]\nshutdown_drain_s = {DRAIN_S}\n\n\
         [[models]]\nid = \"narrator\"\n\
         system_prompt = \"The following is a conversation with a patient counting tutor.\"\n\
         temperature = 0.0\nmax_tokens = 1000\nstop = []\n\n\
         [[models]]\nid = \"paced\"\nbackend = \"openai\"\nbase_url = \"{paced_url}\"\nretries = 0\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// One HTTP/1.1 chunk holding the server-sent event `data`.
fn event_chunk(data: &str) -> Vec<u8> {
    let event = format!("data: {data}\n\n");
    format!("{:x}\r\n{event}\r\n", event.len()).into_bytes()
}

/// An OpenAI-compatible endpoint that streams "One, two," at once and the rest of its reply
/// ("three", `finish_reason: "length"`) only once `release` is notified.
async fn paced_endpoint(release: Arc<Notify>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let release = release.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut request).await;
                let mut head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                head.extend(event_chunk(
                    r#"{"choices":[{"index":0,"delta":{"content":"One, two,"}}]}"#,
                ));
                let _ = socket.write_all(&head).await;
                release.notified().await;
                let mut rest = event_chunk(
                    r#"{"choices":[{"index":0,"delta":{"content":" three"},"finish_reason":"length"}]}"#,
                );
                rest.extend(event_chunk("[DONE]"));
                rest.extend(b"0\r\n\r\n");
                let _ = socket.write_all(&rest).await;
            });
        }
    });
    base_url
}

/// A streamed completion of `model` that counts on.
async fn open_stream(client: &reqwest::Client, base: &str, model: &str) -> CompletionStream {
    let body = json!({ "model": model, "stream": true, "max_tokens": 1000, "temperature": 0,
                       "messages": [{ "role": "user", "content": "Count with me: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10," }] });
    CompletionStream::open(client, base, &body).await
}

/// (content, finish_reason) of a logged message.
async fn logged(database_url: &str, message_id: &str) -> (String, String) {
    let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
    sqlx::query_as("SELECT content, finish_reason FROM messages WHERE message_id = $1")
        .bind(message_id)
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("message {message_id} is not in the store: {e}"))
}

#[tokio::test]
async fn sigterm_finishes_short_replies_cancels_long_ones_and_exits_cleanly() {
    let dir = TempDir::new("shutdown");
    let database_url = format!("sqlite://{}", dir.join("blendlab.db").display());
    let release_short = Arc::new(Notify::new());
    let paced_url = paced_endpoint(release_short.clone()).await;
    let mut server =
        ServerProcess::start_configured(&database_url, Some(&config(&dir, &paced_url)), None);
    server.ready().await;
    // No idle keep-alive connection for the server to wait out.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    let mut long = open_stream(&client, &server.base, "narrator").await;
    assert!(
        long.read_until_text().await,
        "the long reply ended before its first text"
    );
    let mut short = open_stream(&client, &server.base, "paced").await;
    assert!(
        short.read_until_text().await,
        "the short reply ended before its first text"
    );

    server.signal("TERM");
    let signalled = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = client
        .post(format!("{}/v1/chat/completions", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "model": "narrator", "max_tokens": 4,
                       "messages": [{ "role": "user", "content": "Too late?" }] }))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match late {
        Ok(response) => assert_eq!(response.status(), 503, "a request after SIGTERM"),
        Err(error) => assert!(error.is_connect(), "refused, not hung: {error}"),
    }

    // The short reply ends now, well within the drain.
    release_short.notify_one();
    short.read_to_end().await;
    assert!(short.error.is_none(), "{:?}", short.error);
    assert_eq!(
        short.finish_reason(),
        "length",
        "the short reply runs to its end"
    );
    assert_eq!(short.text, "One, two, three");
    long.read_to_end().await;
    assert!(long.error.is_none(), "{:?}", long.error);
    let cancelled_after = signalled.elapsed();
    assert_eq!(
        long.finish_reason(),
        "cancelled",
        "the long reply is cut at the drain's end"
    );
    assert!(
        cancelled_after >= Duration::from_secs(DRAIN_S) - Duration::from_millis(200),
        "cancelled before the drain time was over: {cancelled_after:?}"
    );
    assert!(
        cancelled_after < Duration::from_secs(DRAIN_S + 5),
        "the drain overran: {cancelled_after:?}"
    );

    let status = server
        .exited_within(Duration::from_secs(DRAIN_S + 10))
        .await
        .expect("the server exits by itself after the drain");
    assert!(status.success(), "exit status {status}");

    let (content, finish_reason) = logged(&database_url, &long.message_id()).await;
    assert_eq!(finish_reason, "cancelled");
    assert!(
        content == long.text && !long.text.is_empty(),
        "the log holds the cancelled reply exactly as it was streamed:\n{content:?}\nvs\n{:?}",
        long.text
    );
    let (content, finish_reason) = logged(&database_url, &short.message_id()).await;
    assert_eq!(
        (content.as_str(), finish_reason.as_str()),
        (short.text.as_str(), "length")
    );
}

#[tokio::test]
async fn sigint_stops_an_idle_server_at_once() {
    let dir = TempDir::new("sigint");
    let database_url = format!("sqlite://{}", dir.join("blendlab.db").display());
    let mut server = ServerProcess::start_configured(
        &database_url,
        Some(&config(
            &dir,
            &paced_endpoint(Arc::new(Notify::new())).await,
        )),
        None,
    );
    server.ready().await;
    server.signal("INT");
    let status = server
        .exited_within(Duration::from_secs(DRAIN_S))
        .await
        .expect("an idle server does not wait out the drain");
    assert!(status.success(), "exit status {status}");
}
