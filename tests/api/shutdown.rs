//! Graceful shutdown of the real binary (issue 20): on SIGTERM a reply that ends within the drain
//! time finishes as usual, one that does not is cancelled when the drain time is over and logged
//! as far as it was written (its stream ends with `finish_reason: "cancelled"`), no new request
//! is taken, and the process exits by itself with status 0. SIGINT does the same.

use std::time::{Duration, Instant};

use blendlab_tests::{CompletionStream, ServerProcess, TempDir, ADMIN_TOKEN};
use serde_json::json;

/// Seconds replies may run on after the signal (`server.shutdown_drain_s`): long enough for an
/// 8-token reply on a machine busy with the other tests' models, far too short for 1,000 tokens.
const DRAIN_S: u64 = 6;

/// One model, greedy, with no stop string of its own. Greedy decoding of the bundled model counts
/// on ("11, 12, …") without ending its turn, so a long reply runs to `max_tokens`.
fn config(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.join("server.toml");
    let text = format!(
        "[server]\nshutdown_drain_s = {DRAIN_S}\n\n\
         [[models]]\nid = \"narrator\"\n\
         system_prompt = \"The following is a conversation with a patient counting tutor.\"\n\
         temperature = 0.0\nmax_tokens = 1000\nstop = []\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A streamed completion of `max_tokens` that counts on.
async fn open_stream(client: &reqwest::Client, base: &str, max_tokens: u32) -> CompletionStream {
    let body = json!({ "model": "narrator", "stream": true, "max_tokens": max_tokens, "temperature": 0,
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
    let mut server = ServerProcess::start_configured(&database_url, Some(&config(&dir)), None);
    server.ready().await;
    // No idle keep-alive connection for the server to wait out.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    let mut long = open_stream(&client, &server.base, 1000).await;
    assert!(
        long.read_until_text().await,
        "the long reply ended before its first text"
    );
    let mut short = open_stream(&client, &server.base, 8).await;
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

    short.read_to_end().await;
    assert!(short.error.is_none(), "{:?}", short.error);
    assert_eq!(
        short.finish_reason(),
        "length",
        "the short reply runs to its end"
    );
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
    let mut server = ServerProcess::start_configured(&database_url, Some(&config(&dir)), None);
    server.ready().await;
    server.signal("INT");
    let status = server
        .exited_within(Duration::from_secs(DRAIN_S))
        .await
        .expect("an idle server does not wait out the drain");
    assert!(status.success(), "exit status {status}");
}
