use blendlab_tests::{example_definition, spawn_app};
use serde_json::json;

#[tokio::test]
async fn chat_completions_on_an_experiment_assigns_the_user_and_names_the_component() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let response = app
        .admin(reqwest::Method::POST, "/v1/chat/completions")
        .json(&json!({
            "model": "chai-blend",
            "user": "openai-user-1",
            "messages": [{ "role": "system", "content": "Be brief." }, { "role": "user", "content": "Hello!" }],
            "max_tokens": 8,
            "temperature": 0.5,
            "presence_penalty": 0.0
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let arm = response.headers()["x-blendlab-arm"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert!(body["choices"][0]["message"]["content"].is_string());
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    let (_, assignment) = app
        .get_json("/api/v1/experiments/chai-blend/assignment/openai-user-1")
        .await;
    assert_eq!(assignment["arm"], json!(arm));
    let expected_models = if arm == "blend" {
        vec!["small-a", "small-b", "small-c"]
    } else {
        vec!["large"]
    };
    assert!(
        expected_models.contains(&body["model"].as_str().unwrap()),
        "{body}"
    );
}

#[tokio::test]
async fn a_model_id_is_served_directly_without_an_experiment() {
    let app = spawn_app().await;
    let response = app
        .admin(reqwest::Method::POST, "/v1/chat/completions")
        .json(&json!({ "model": "small-b", "messages": [{ "role": "user", "content": "Hi" }], "max_completion_tokens": 4 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("x-blendlab-arm").is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["model"], "small-b");
    assert!(body["usage"]["completion_tokens"].as_u64().unwrap() <= 4);
    let rows = app
        .db_rows("SELECT experiment, arm, model FROM messages WHERE role = 'assistant'")
        .await;
    assert_eq!(
        rows,
        vec![vec![
            serde_json::Value::Null,
            serde_json::Value::Null,
            json!("small-b")
        ]]
    );
}

/// The component and the sampler seed are functions of (salt, conversation, turn), so a replay
/// draws the same component and, computed the same way, writes the same reply. (A replay that
/// reuses the cache may differ in low-order bits: llama.cpp's logits are not bit-identical across
/// batch shapes, so the same seed can then sample differently.)
#[tokio::test]
async fn replaying_a_turn_reproduces_the_component_and_the_reply() {
    let request = json!({
        "model": "chai-blend",
        "user": "replayer",
        "metadata": { "conversation_id": "replay-1" },
        "messages": [
            { "role": "user", "content": "Hi!" },
            { "role": "assistant", "content": "Hello! How can I help?" },
            { "role": "user", "content": "Tell me a fun fact." }
        ],
        "max_tokens": 16
    });
    let mut answers = Vec::new();
    let app = spawn_app().await;
    let replica = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    replica.start_experiment(&example_definition()).await;
    for app in [&app, &app, &replica] {
        let response = app
            .admin(reqwest::Method::POST, "/v1/chat/completions")
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-blendlab-conversation-id"], "replay-1");
        let body: serde_json::Value = response.json().await.unwrap();
        answers.push((
            body["model"].clone(),
            body["choices"][0]["message"]["content"].clone(),
        ));
    }
    assert_eq!(
        answers[0].0, answers[1].0,
        "the replay draws the same component"
    );
    assert_eq!(
        answers[0], answers[2],
        "another server computing it afresh writes the same reply"
    );
    let (_, stored) = app.get_json("/api/v1/conversations/replay-1").await;
    assert_eq!(
        stored["messages"].as_array().unwrap().len(),
        4,
        "both turns are logged"
    );
}

#[tokio::test]
async fn models_lists_models_and_running_experiments() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let (status, body) = app.get_json("/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["large", "small-a", "small-b", "small-c", "chai-blend"]
    );
}

#[tokio::test]
async fn openai_errors_use_openai_shape() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "model": "nope", "messages": [{ "role": "user", "content": "Hi" }] }),
            404,
            Some("model"),
        ),
        (
            json!({ "model": "large", "messages": [] }),
            400,
            Some("messages"),
        ),
        (
            json!({ "model": "large", "messages": [{ "role": "user", "content": "Hi" }], "max_tokens": 1000000 }),
            400,
            Some("max_tokens"),
        ),
        (
            json!({ "model": "large", "messages": [{ "role": "user", "content": "Hi" }], "temperature": -1 }),
            400,
            Some("temperature"),
        ),
        (
            json!({ "model": "large", "messages": [{ "role": "assistant", "content": "Hi" }] }),
            400,
            Some("messages[0].role"),
        ),
        (
            json!({ "model": "large", "messages": [{ "role": "user", "content": "Hi" }], "stream_options": { "include_usage": true } }),
            400,
            Some("stream_options"),
        ),
        // The first bad field in the body is named; json! writes keys sorted, so `messages`.
        (
            json!({ "model": 5, "messages": "x" }),
            400,
            Some("messages"),
        ),
    ];
    for (body, status, param) in cases {
        let response = app
            .admin(reqwest::Method::POST, "/v1/chat/completions")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(error["error"]["message"].is_string(), "{error}");
        assert!(error["error"]["type"].is_string(), "{error}");
        assert!(
            error["error"].get("code").is_some() && error["error"].get("param").is_some(),
            "{error}"
        );
        if let Some(param) = param {
            assert_eq!(error["error"]["param"], param, "{error}");
        }
    }
}
