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

/// One bad body: where it goes, and the `param` and message fragments its error must carry.
struct BadBody {
    path: &'static str,
    body: serde_json::Value,
    param: &'static str,
    says: &'static [&'static str],
}

#[tokio::test]
async fn body_errors_name_the_field_by_its_json_path_on_both_route_families() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let cases = [
        BadBody {
            path: "/api/v1/chat",
            body: json!({ "experiment": "chai-blend", "user_id": 5, "message": "hi" }),
            param: "user_id",
            says: &["`user_id`: expected a string, got the number 5"],
        },
        BadBody {
            path: "/api/v1/chat",
            body: json!({ "experiment": "chai-blend", "user_id": "u", "message": "hi", "max_tokens": -3 }),
            param: "max_tokens",
            says: &[
                "`max_tokens`: expected an integer from 0",
                "got the number -3",
            ],
        },
        BadBody {
            path: "/api/v1/chat",
            body: json!({ "experiment": "chai-blend", "user_id": "u" }),
            param: "message",
            says: &["`message`: is required"],
        },
        BadBody {
            path: "/api/v1/chat",
            body: json!({ "experiment": "chai-blend", "user_id": "u", "message": "hi", "surprise": true }),
            param: "surprise",
            says: &["`surprise`: is not a field here", "`experiment`"],
        },
        BadBody {
            path: "/api/v1/events",
            body: json!({ "events": [{ "user_id": "u", "kind": "thumbs_up" }, { "user_id": "u", "kind": "x", "value": "high" }] }),
            param: "events[1].value",
            says: &["expected a number, got the string \"high\""],
        },
        BadBody {
            path: "/api/v1/experiments",
            body: json!({ "key": 7 }),
            param: "key",
            says: &["`key`: expected a string, got the number 7"],
        },
        BadBody {
            path: "/v1/chat/completions",
            body: json!({ "model": "large", "messages": [{ "role": "user", "content": 5 }] }),
            param: "messages[0].content",
            says: &["expected a string or an array of content parts, got the number 5"],
        },
        BadBody {
            path: "/v1/chat/completions",
            body: json!({ "model": "large", "messages": [{ "role": "user", "content": [{ "type": 3 }] }] }),
            param: "messages[0].content[0].type",
            says: &["expected a string, got the number 3"],
        },
        BadBody {
            path: "/v1/chat/completions",
            body: json!({ "model": "large", "messages": [{ "role": "system", "content": "Be brief." }, { "content": "Hi" }] }),
            param: "messages[1].role",
            says: &["is required"],
        },
        BadBody {
            path: "/v1/chat/completions",
            body: json!({ "model": "large", "messages": [{ "role": "user", "content": "Hi" }], "stop": [1] }),
            param: "stop[0]",
            says: &["expected a string, got the number 1"],
        },
        BadBody {
            path: "/v1/chat/completions",
            body: json!({ "model": "large", "messages": [{ "role": "user", "content": "Hi" }], "stop": { "a": 1 } }),
            param: "stop",
            says: &["expected a string or an array of strings, got an object"],
        },
    ];
    for case in cases {
        let (status, error) = app.post_json(case.path, &case.body).await;
        assert_eq!(status, 400, "{}: {error}", case.body);
        let error = &error["error"];
        assert_eq!(error["code"], "invalid_body", "{error}");
        assert_eq!(error["param"], case.param, "{}: {error}", case.body);
        let message = error["message"].as_str().unwrap();
        for fragment in case.says {
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
        for rust_words in [
            "untagged",
            "invalid type",
            "struct ",
            "u32",
            "line 1 column",
        ] {
            assert!(
                !message.contains(rust_words),
                "{message:?} has {rust_words:?}"
            );
        }
        if case.path.starts_with("/v1/") {
            assert_eq!(error["type"], "invalid_request_error", "{error}");
        }
    }
}

#[tokio::test]
async fn broken_json_says_where_it_broke_and_names_no_field() {
    let app = spawn_app().await;
    for path in ["/api/v1/chat", "/v1/chat/completions"] {
        let (status, error) = raw_post(
            &app,
            path,
            b"{\"experiment\": \"chai-blend\", \"us".to_vec(),
        )
        .await;
        assert_eq!(status, 400);
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("the body is not valid JSON"),
            "{message}"
        );
        assert!(message.contains("line 1 column"), "{message}");
        assert!(error["error"]["param"].is_null(), "{error}");
    }
    let complete = br#"{"experiment": "chai-blend", "user_id": "u", "message": "hi"} trailing"#;
    let (status, error) = raw_post(&app, "/api/v1/chat", complete.to_vec()).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{error}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_415_naming_its_type() {
    let app = spawn_app().await;
    let response = app
        .admin(reqwest::Method::POST, "/api/v1/chat")
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unsupported_media_type");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`text/plain`"),
        "{error}"
    );
}
