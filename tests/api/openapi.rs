//! `/openapi.json` documents every route the server has, and schemathesis, fuzzing the running
//! server from it (fixed seed, bounded cases), finds no server error and no route that ignores
//! its credentials.

use std::process::Command;

use blendlab_server::config::ServerConfig;
use blendlab_tests::{example_definition, spawn_app_with, ADMIN_TOKEN};

/// Every operation the router serves apart from the dashboard's files.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/api/v1/experiments"),
    ("post", "/api/v1/experiments"),
    ("get", "/api/v1/experiments/{key}"),
    ("put", "/api/v1/experiments/{key}"),
    ("post", "/api/v1/experiments/{key}/start"),
    ("post", "/api/v1/experiments/{key}/stop"),
    ("get", "/api/v1/experiments/{key}/exposures"),
    ("get", "/api/v1/experiments/{key}/report"),
    ("get", "/api/v1/experiments/{key}/reports"),
    ("get", "/api/v1/experiments/{key}/reports/{as_of}"),
    ("get", "/api/v1/experiments/{key}/assignment/{user_id}"),
    ("get", "/api/v1/experiments/{key}/policy"),
    ("get", "/api/v1/leaderboard"),
    ("post", "/api/v1/chat"),
    ("get", "/api/v1/conversations/{conversation_id}"),
    ("post", "/api/v1/events"),
    ("delete", "/api/v1/users/{user_id}"),
    ("post", "/api/v1/keys"),
    ("get", "/api/v1/keys"),
    ("delete", "/api/v1/keys/{key_id}"),
    ("post", "/v1/chat/completions"),
    ("get", "/v1/models"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

#[tokio::test]
async fn the_document_lists_every_operation_with_its_request_schema() {
    let app = blendlab_tests::spawn_app().await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "public, like /healthz");
    let document: serde_json::Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented: Vec<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(documented, expected);

    // Request bodies carry their schemas, as the code parses them.
    let schemas = &document["components"]["schemas"];
    for name in [
        "ChatRequest",
        "EventBatch",
        "NewKey",
        "CompletionRequest",
        "ExperimentDefinition",
    ] {
        assert!(schemas[name].is_object(), "no schema {name}");
    }
    let chat = &schemas["ChatRequest"];
    let mut required: Vec<_> = chat["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort();
    assert_eq!(required, ["experiment", "message", "user_id"]);
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error() {
    let mut config = ServerConfig::default();
    // Generated chats reach the real model; short replies keep the run bounded.
    config.server.max_tokens_limit = 8;
    let app = spawn_app_with(config).await;
    app.start_experiment(&example_definition()).await;
    let report = std::env::temp_dir().join(format!("schemathesis-{}.xml", uuid::Uuid::new_v4()));
    let schema_url = app.url("/openapi.json");
    let auth = format!("Authorization: Bearer {ADMIN_TOKEN}");
    let report_path = report.display().to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("st")
            .args([
                "run",
                &schema_url,
                "--header",
                &auth,
                "--checks",
                "not_a_server_error,ignored_auth",
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "30",
                "--seed",
                "20261126",
                "--workers",
                "2",
                "--request-timeout",
                "60",
                "--generation-database",
                "none",
                "--no-color",
                "--report",
                "junit",
                "--report-junit-path",
                &report_path,
            ])
            .env("SCHEMATHESIS_HOOKS", "")
            // It keeps a crash cache in its working directory; not in the repository.
            .current_dir(std::env::temp_dir())
            .output()
            .expect("schemathesis (`st`) runs: `make pydeps` installs it")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let _ = std::fs::remove_file(&report);
    assert!(
        output.status.success(),
        "schemathesis failed:\n{stdout}\n{stderr}"
    );
    // It ran the operations: a run that tested nothing must not pass.
    assert!(stdout.contains("passed"), "{stdout}");
    eprintln!("{stdout}");
}
