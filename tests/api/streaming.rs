//! Streaming over SSE on both chat endpoints: the pieces add up to the logged reply, the OpenAI
//! chunk format holds, and a client that leaves stops generation with what it saw logged.

use std::time::{Duration, Instant};

use blendlab_tests::{example_definition, spawn_app, TestApp};
use futures::StreamExt;
use serde_json::{json, Value};

/// The `data:` payloads of an SSE body, with their event names.
fn sse_events(body: &str) -> Vec<(Option<String>, String)> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut event = None;
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_owned());
                } else if let Some(payload) = line.strip_prefix("data: ") {
                    data.push_str(payload);
                }
            }
            (event, data)
        })
        .collect()
}

async fn completion(app: &TestApp, body: Value) -> reqwest::Response {
    app.admin(reqwest::Method::POST, "/v1/chat/completions")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_streamed_completion_adds_up_to_the_same_reply_as_a_plain_one() {
    let app = spawn_app().await;
    let request = json!({
        "model": "small-a", "temperature": 0, "max_tokens": 24,
        "messages": [{ "role": "user", "content": "Tell me about the sea." }],
    });
    let plain: Value = completion(&app, request.clone())
        .await
        .json()
        .await
        .unwrap();
    let plain_text = plain["choices"][0]["message"]["content"].as_str().unwrap();

    let mut streamed_request = request;
    streamed_request["stream"] = json!(true);
    streamed_request["stream_options"] = json!({ "include_usage": true });
    let response = completion(&app, streamed_request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let events = sse_events(&response.text().await.unwrap());
    let (last, chunks) = events.split_last().unwrap();
    assert_eq!(last.1, "[DONE]");
    let chunks: Vec<Value> = chunks
        .iter()
        .map(|(_, data)| serde_json::from_str(data).unwrap())
        .collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, plain_text, "greedy decoding streams the same reply");

    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"], plain["usage"]);
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(
        finish["choices"][0]["finish_reason"],
        plain["choices"][0]["finish_reason"]
    );
    let message_id = finish["blendlab"]["message_id"].as_str().unwrap();
    let stored = app
        .db_rows(&format!(
            "SELECT content, completion_tokens FROM messages WHERE message_id = '{message_id}'"
        ))
        .await;
    assert_eq!(stored[0][0], json!(text), "the log holds what was streamed");
    assert_eq!(stored[0][1], usage_chunk["usage"]["completion_tokens"]);
}

#[tokio::test]
async fn the_stateful_chat_streams_turn_delta_and_done_events() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let response = app
        .admin(reqwest::Method::POST, "/api/v1/chat")
        .json(&json!({ "experiment": "chai-blend", "user_id": "streamer", "message": "Hi, who are you?",
                       "max_tokens": 16, "stream": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let arm = response.headers()["x-blendlab-arm"]
        .to_str()
        .unwrap()
        .to_owned();
    let events = sse_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_deref().unwrap()).collect();
    assert_eq!(names.first(), Some(&"turn"));
    assert_eq!(names.last(), Some(&"done"));
    assert!(names[1..names.len() - 1].iter().all(|n| *n == "delta"));
    let opening: Value = serde_json::from_str(&events[0].1).unwrap();
    let done: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(opening["arm"], json!(arm));
    assert_eq!(opening["model"], done["model"]);
    assert_eq!(opening["message_id"], done["message_id"]);
    let text: String = events[1..events.len() - 1]
        .iter()
        .map(|(_, data)| {
            let delta: Value = serde_json::from_str(data).unwrap();
            delta["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(done["reply"], json!(text));

    let conversation = done["conversation_id"].as_str().unwrap();
    let (_, stored) = app
        .get_json(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(stored["messages"][1]["content"], json!(text));
}

#[tokio::test]
async fn a_client_that_disconnects_stops_generation_and_what_it_saw_is_logged() {
    let app = spawn_app().await;
    let max_tokens = 600;
    let response = completion(
        &app,
        json!({
            "model": "small-b", "temperature": 0, "max_tokens": max_tokens, "stream": true,
            "metadata": { "conversation_id": "leaves-early" },
            "messages": [{ "role": "user", "content": "Count from 1 to 500, separated by commas: 1, 2, 3, 4," }],
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\"content\":\"") || seen.matches("data: ").count() < 4 {
        let bytes = body.next().await.expect("a few chunks").unwrap();
        seen.push_str(&String::from_utf8_lossy(&bytes));
    }
    drop(body);

    let started = Instant::now();
    let row = loop {
        let rows = app
            .db_rows("SELECT finish_reason, completion_tokens, content FROM messages WHERE conversation_id = 'leaves-early' AND role = 'assistant'")
            .await;
        if let Some(row) = rows.into_iter().next() {
            break row;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the reply was never logged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(row[0], "cancelled", "{row:?}");
    let tokens = row[1].as_u64().unwrap();
    assert!(
        tokens < 120,
        "generation went on for {tokens} tokens after the client left"
    );
    assert!(!row[2].as_str().unwrap().is_empty(), "{row:?}");
}
