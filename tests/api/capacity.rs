use blendlab_server::config::ServerConfig;
use blendlab_tests::{example_definition, spawn_app, spawn_app_with};

#[tokio::test]
async fn sixteen_concurrent_chats_are_all_admitted() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let app = &app;
    let results = futures::future::join_all((0..16).map(|i| async move {
        app.chat("chai-blend", &format!("crowd-{i}"), None, "Hello", 2)
            .await
    }))
    .await;
    let statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

#[tokio::test]
async fn beyond_capacity_the_server_answers_429_with_retry_after() {
    let mut config = ServerConfig::default();
    config.server.max_concurrent_chats = 2;
    let app = spawn_app_with(config).await;
    app.start_experiment(&example_definition()).await;
    let responses =
        futures::future::join_all((0..8).map(|i| {
            app.admin(reqwest::Method::POST, "/api/v1/chat")
            .json(&serde_json::json!({ "experiment": "chai-blend", "user_id": format!("burst-{i}"),
                                       "message": "Tell me a long story.", "max_tokens": 48 }))
            .send()
        }))
        .await;
    let mut admitted = 0;
    let mut refused = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            200 => admitted += 1,
            429 => {
                refused += 1;
                assert_eq!(response.headers()["retry-after"], "1");
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "at_capacity");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        admitted >= 2 && refused >= 1,
        "admitted {admitted}, refused {refused}"
    );
    // Refused requests left no trace; admitted ones are logged.
    let rows = app
        .db_rows("SELECT COUNT(*) FROM messages WHERE role = 'assistant'")
        .await;
    assert_eq!(rows[0][0], admitted);
}
