use blendlab_tests::{example_definition, spawn_app};
use serde_json::json;

async fn raw_post(
    app: &blendlab_tests::TestApp,
    path: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let response = app
        .admin(reqwest::Method::POST, path)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.expect("every error has a JSON body"),
    )
}

#[tokio::test]
async fn malformed_and_mistyped_bodies_get_400_with_a_json_error() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let bodies: [&[u8]; 5] = [
        b"{not json",
        br#"{"experiment": "chai-blend", "user_id": 5, "message": "hi"}"#,
        br#"{"experiment": "chai-blend", "user_id": "u", "message": "hi", "max_tokens": -3}"#,
        br#"{"experiment": "chai-blend", "user_id": "u", "message": "hi", "surprise": true}"#,
        b"{\"experiment\": \"chai-blend\", \"user_id\": \"u\", \"message\": \"\xff\xfe\"}",
    ];
    for body in bodies {
        let (status, error) = raw_post(&app, "/api/v1/chat", body.to_vec()).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(body));
        assert!(
            error["error"]["code"].is_string() && error["error"]["message"].is_string(),
            "{error}"
        );
    }
}

#[tokio::test]
async fn bad_chat_requests_get_a_4xx_naming_the_problem() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let cases = [
        (
            json!({ "experiment": "chai-blend", "user_id": "u", "message": "   " }),
            400,
            "empty",
        ),
        (
            json!({ "experiment": "chai-blend", "user_id": "u", "message": "hi", "max_tokens": 100000 }),
            400,
            "max_tokens",
        ),
        (
            json!({ "experiment": "chai-blend", "user_id": "u", "message": "hi", "max_tokens": 0 }),
            400,
            "max_tokens",
        ),
        (
            json!({ "experiment": "chai-blend", "user_id": "", "message": "hi" }),
            400,
            "user_id",
        ),
        (
            json!({ "experiment": "Not A Key", "user_id": "u", "message": "hi" }),
            400,
            "[a-z0-9-]",
        ),
        (
            json!({ "experiment": "missing", "user_id": "u", "message": "hi" }),
            404,
            "missing",
        ),
        (
            json!({ "experiment": "chai-blend", "user_id": "u", "message": "x".repeat(20_000) }),
            400,
            "limit",
        ),
    ];
    for (body, status, fragment) in cases {
        let (got, error) = app.post_json("/api/v1/chat", &body).await;
        assert_eq!(got, status, "{body}: {error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(fragment),
            "{error} lacks {fragment}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_bad_paths_get_json_errors() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/nowhere").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = app.get_json("/api/v1/experiments/NOT%20VALID").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_key");
    let (status, body) = app.get_json("/api/v1/experiments/absent").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "experiment_not_found");
}

#[tokio::test]
async fn an_oversize_body_gets_413() {
    let app = spawn_app().await;
    let huge = format!(
        r#"{{"experiment":"chai-blend","user_id":"u","message":"{}"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let (status, body) = raw_post(&app, "/api/v1/chat", huge.into_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "body_too_large");
}
