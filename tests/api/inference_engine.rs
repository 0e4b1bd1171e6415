//! The engine behind the API, observed through it: each (conversation, component) keeps its KV
//! sequence, blend components catch up in the background, evicted sequences are rebuilt exactly,
//! concurrent replies share decode steps, and long histories drop their oldest turns.

use std::time::{Duration, Instant};

use blendlab_server::config::ServerConfig;
use blendlab_tests::{example_definition, spawn_app, spawn_app_with, TestApp};
use futures::StreamExt;
use serde_json::{json, Value};

const LINES: [&str; 5] = [
    "Hi! How is your day going?",
    "What do you like to do on weekends?",
    "Have you ever been to the sea?",
    "What is your favourite food?",
    "Any advice for me?",
];

/// A user id the example experiment puts in `arm`.
async fn user_in(app: &TestApp, arm: &str) -> String {
    for i in 0.. {
        let user = format!("cache-user-{i}");
        let (_, body) = app
            .get_json(&format!("/api/v1/experiments/chai-blend/assignment/{user}"))
            .await;
        if body["arm"] == arm {
            return user;
        }
    }
    unreachable!()
}

/// (model, prompt tokens, prefill tokens) of each reply of a conversation, in order.
async fn replies(app: &TestApp, conversation: &str) -> Vec<(String, u64, u64)> {
    app.db_rows(&format!(
        "SELECT model, prompt_tokens, prefill_tokens FROM messages
         WHERE conversation_id = '{conversation}' AND role = 'assistant' ORDER BY position"
    ))
    .await
    .into_iter()
    .map(|row| {
        (
            row[0].as_str().unwrap().to_owned(),
            row[1].as_u64().unwrap(),
            row[2].as_u64().unwrap(),
        )
    })
    .collect()
}

async fn metrics_text(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    response.text().await.unwrap()
}

/// Background catch-ups still waiting or under way, summed over models, as `/metrics` shows them.
async fn catch_ups_pending(app: &TestApp) -> f64 {
    let text = metrics_text(app).await;
    let gauges: Vec<f64> = text
        .lines()
        .filter(|line| line.starts_with("blendlab_catch_ups_pending{"))
        .map(|line| line.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(gauges.len(), 4, "one gauge per model:\n{text}");
    gauges.iter().sum()
}

/// Waits until every component has read the conversation so far: the engine's own signal, with
/// a deadline instead of a guess at how long catching up takes.
async fn until_caught_up(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while catch_ups_pending(app).await > 0.0 {
        assert!(
            Instant::now() < deadline,
            "catch-ups still pending after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How long the simulated user reads and types before the next message.
#[derive(Clone, Copy)]
enum Pause {
    None,
    UntilCaughtUp,
}

async fn converse(app: &TestApp, user: &str, conversation: &str, pause: Pause) {
    for line in LINES {
        let (status, body) = app
            .post_json(
                "/api/v1/chat",
                &json!({ "experiment": "chai-blend", "user_id": user, "conversation_id": conversation,
                         "message": line, "max_tokens": 24 }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        if let Pause::UntilCaughtUp = pause {
            until_caught_up(app).await;
        }
    }
}

#[tokio::test]
async fn a_single_model_decodes_only_what_each_turn_adds() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let user = user_in(&app, "control").await;
    converse(&app, &user, "single-cache", Pause::None).await;
    let turns = replies(&app, "single-cache").await;
    assert_eq!(
        turns[0].1, turns[0].2,
        "the first turn computes its whole prompt"
    );
    for (model, prompt, prefill) in &turns[1..] {
        assert_eq!(model, "large");
        assert!(
            *prefill < 40 && *prompt > 60,
            "turn prefilled {prefill} of {prompt} tokens: {turns:?}"
        );
    }
}

#[tokio::test]
async fn blend_components_catch_up_while_the_user_types() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let user = user_in(&app, "blend").await;
    converse(&app, &user, "blend-cache", Pause::UntilCaughtUp).await;
    let turns = replies(&app, "blend-cache").await;
    let models: std::collections::BTreeSet<&str> = turns.iter().map(|t| t.0.as_str()).collect();
    assert!(
        models.len() > 1,
        "the draw should use several components: {turns:?}"
    );
    for (_, prompt, prefill) in &turns[1..] {
        assert!(
            *prefill < 40,
            "whichever component was picked had already read the history: prefilled {prefill} of {prompt}: {turns:?}"
        );
    }
}

/// One model's pending catch-ups, as `/metrics` shows them.
async fn catch_ups_pending_of(app: &TestApp, model: &str) -> f64 {
    let text = metrics_text(app).await;
    let prefix = format!("blendlab_catch_ups_pending{{model=\"{model}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no gauge for {model}:\n{text}"))
        .parse()
        .unwrap()
}

/// A blend conversation whose first turn is small-a's and whose second is drawn for small-c: the
/// arm's model order puts small-b, the component not drawn, before the next one, so catching up
/// in arrival order would read small-b first.
fn conversation_with_small_c_next() -> String {
    let definition = serde_json::from_value(example_definition()).unwrap();
    let experiment = blendlab_experiments::Experiment::parse(definition, |_| true).unwrap();
    let blend = experiment
        .arms()
        .iter()
        .find(|a| a.name.as_str() == "blend")
        .unwrap();
    let model_of = |conversation: &str, turn: u32| {
        let draw = blend.draw_component(experiment.salt(), conversation, turn);
        blend.models[draw.model_index].clone()
    };
    (0..)
        .map(|i| format!("next-first-{i}"))
        .find(|c| model_of(c, 0) == "small-a" && model_of(c, 1) == "small-c")
        .unwrap()
}

/// While another reply keeps the engine busy, the component drawn for the next turn reads the
/// new turn beside it and the component not drawn waits for an idle engine (issue 24, item 3).
#[tokio::test]
async fn the_next_turns_component_catches_up_first_and_the_others_when_idle() {
    let mut config = ServerConfig::default();
    let large = config.models.iter_mut().find(|m| m.id == "large").unwrap();
    // Greedy counting without a stop string: a reply that keeps the engine busy for seconds.
    (large.stop, large.max_tokens, large.temperature) = (Vec::new(), 1000, 0.0);
    let app = spawn_app_with(config).await;
    app.start_experiment(&example_definition()).await;
    let user = user_in(&app, "blend").await;
    let conversation = conversation_with_small_c_next();

    let client = reqwest::Client::new();
    let mut busy = blendlab_tests::CompletionStream::open(
        &client,
        &app.address,
        &json!({ "model": "large", "stream": true, "max_tokens": 1000, "temperature": 0,
                 "messages": [{ "role": "user", "content": "Count with me: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10," }] }),
    )
    .await;
    assert!(busy.read_until_text().await, "the busy reply started");
    let (status, body) = app
        .post_json(
            "/api/v1/chat",
            &json!({ "experiment": "chai-blend", "user_id": user, "conversation_id": conversation,
                     "message": LINES[0], "max_tokens": 8 }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "small-a", "{body}");

    let deadline = Instant::now() + Duration::from_secs(60);
    while catch_ups_pending_of(&app, "small-c").await > 0.0 {
        assert!(
            Instant::now() < deadline,
            "the next turn's component is still catching up after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        catch_ups_pending_of(&app, "small-b").await,
        1.0,
        "the component not drawn waits while the engine is busy"
    );
    busy.read_to_end().await;
    assert_eq!(
        busy.finish_reason(),
        "length",
        "the busy reply ran throughout"
    );
    until_caught_up(&app).await;
}

/// A greedy reply through the OpenAI endpoint, continuing `conversation`.
async fn greedy(app: &TestApp, conversation: &str, messages: &[Value]) -> Value {
    let (status, body) = app
        .post_json(
            "/v1/chat/completions",
            &json!({ "model": "small-a", "temperature": 0, "max_tokens": 16,
                     "metadata": { "conversation_id": conversation }, "messages": messages }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn an_evicted_or_reused_sequence_gives_the_reply_a_fresh_one_gives() {
    let mut config = ServerConfig::default();
    config.server.inference_sequences = 2;
    let app = spawn_app_with(config).await;
    let mut history = vec![json!({ "role": "user", "content": "Tell me about the sea." })];
    let first = greedy(&app, "kept", &history).await;
    history
        .push(json!({ "role": "assistant", "content": first["choices"][0]["message"]["content"] }));
    history.push(json!({ "role": "user", "content": "And the mountains?" }));
    let reused = greedy(&app, "kept", &history).await;
    assert!(
        reused["usage"]["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap()
            > 20,
        "{reused}"
    );

    // Two other conversations take both sequences; the first one's cache is gone.
    for other in ["other-1", "other-2"] {
        greedy(
            &app,
            other,
            &[json!({ "role": "user", "content": format!("Hello from {other}") })],
        )
        .await;
    }
    history.push(
        json!({ "role": "assistant", "content": reused["choices"][0]["message"]["content"] }),
    );
    history.push(json!({ "role": "user", "content": "Which do you prefer?" }));
    let rebuilt = greedy(&app, "kept", &history).await;

    let fresh_app = spawn_app().await;
    let fresh = greedy(&fresh_app, "fresh", &history).await;
    assert_eq!(
        fresh["usage"]["prompt_tokens_details"]["cached_tokens"], 0,
        "{fresh}"
    );
    assert_eq!(
        rebuilt["choices"][0]["message"]["content"], fresh["choices"][0]["message"]["content"],
        "the same history gives the same greedy reply from a rebuilt cache and from none"
    );
    assert_eq!(
        rebuilt["usage"]["prompt_tokens"],
        fresh["usage"]["prompt_tokens"]
    );
}

/// Four streams, all accepted by the server before any is read: if the engine served them one
/// after another, a stream would finish before the last one had its first token. The order of
/// events is taken from one counter, not from wall-clock times.
#[tokio::test]
async fn concurrent_replies_share_decode_steps() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let app = spawn_app().await;
    let responses = futures::future::join_all((0..4).map(|i| {
        app.admin(reqwest::Method::POST, "/v1/chat/completions")
            .json(&json!({ "model": "small-b", "temperature": 0, "max_tokens": 48, "stream": true,
                           "messages": [{ "role": "user", "content": format!("Count from {i} to 100: ") }] }))
            .send()
    }))
    .await;
    let events = AtomicUsize::new(0);
    let streams = futures::future::join_all(responses.into_iter().map(|response| {
        let events = &events;
        async move {
            let response = response.unwrap();
            assert_eq!(response.status(), 200);
            let mut body = response.bytes_stream();
            let mut first_content = None;
            while let Some(bytes) = body.next().await {
                if first_content.is_none()
                    && String::from_utf8_lossy(&bytes.unwrap()).contains("\"content\":\"")
                {
                    first_content = Some(events.fetch_add(1, Ordering::SeqCst));
                }
            }
            let finished = events.fetch_add(1, Ordering::SeqCst);
            (first_content.expect("some content"), finished)
        }
    }))
    .await;
    let last_first_token = streams.iter().map(|s| s.0).max().unwrap();
    let first_finish = streams.iter().map(|s| s.1).min().unwrap();
    assert!(
        last_first_token < first_finish,
        "every reply was under way before any finished: {streams:?}"
    );
}

#[tokio::test]
async fn a_history_longer_than_the_context_drops_its_oldest_turns() {
    let mut config = ServerConfig::default();
    for model in &mut config.models {
        model.context_size = 256;
        model.max_tokens = 16;
    }
    let app = spawn_app_with(config).await;
    let mut messages = vec![json!({ "role": "system", "content": "You are terse." })];
    for turn in 0..12 {
        messages.push(json!({ "role": "user", "content": format!("This is message number {turn}, and it talks about rivers and lakes.") }));
        messages.push(
            json!({ "role": "assistant", "content": "I see, tell me more about it please." }),
        );
    }
    messages.push(json!({ "role": "user", "content": "Summarise." }));
    let (status, body) = app
        .post_json(
            "/v1/chat/completions",
            &json!({ "model": "small-a", "messages": messages, "max_tokens": 16 }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let prompt = body["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(prompt + 16 <= 256 && prompt > 150, "{prompt}");

    let too_long = "word ".repeat(400);
    let (status, body) = app
        .post_json(
            "/v1/chat/completions",
            &json!({ "model": "small-a", "messages": [{ "role": "user", "content": too_long }] }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "context_length_exceeded");
}
