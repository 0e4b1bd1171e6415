use blendlab_tests::{example_definition, spawn_app};
use serde_json::json;

#[tokio::test]
async fn admin_calls_without_the_token_get_401() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let routes = [
        (reqwest::Method::GET, "/api/v1/experiments"),
        (reqwest::Method::POST, "/api/v1/experiments"),
        (reqwest::Method::GET, "/api/v1/experiments/chai-blend"),
        (reqwest::Method::PUT, "/api/v1/experiments/chai-blend"),
        (
            reqwest::Method::POST,
            "/api/v1/experiments/chai-blend/start",
        ),
        (reqwest::Method::POST, "/api/v1/experiments/chai-blend/stop"),
        (
            reqwest::Method::GET,
            "/api/v1/experiments/chai-blend/assignment/u1",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/experiments/chai-blend/exposures",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/experiments/chai-blend/report",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/experiments/chai-blend/reports",
        ),
        (reqwest::Method::GET, "/api/v1/leaderboard"),
        (reqwest::Method::DELETE, "/api/v1/users/u1"),
        (reqwest::Method::POST, "/api/v1/chat"),
        (reqwest::Method::GET, "/api/v1/conversations/abc"),
        (reqwest::Method::POST, "/api/v1/events"),
        (reqwest::Method::POST, "/v1/chat/completions"),
        (reqwest::Method::GET, "/v1/models"),
    ];
    for (method, path) in routes {
        for token in [None, Some("wrong-token-wrong-token")] {
            let mut request = app
                .client
                .request(method.clone(), app.url(path))
                .json(&json!({}));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path} with {token:?}");
            let body: serde_json::Value = response.json().await.unwrap();
            if path.starts_with("/v1/") {
                assert_eq!(body["error"]["type"], "authentication_error", "{body}");
            } else {
                assert_eq!(body["error"]["code"], "unauthorized", "{body}");
            }
        }
    }
    // Nothing changed: the experiment is still running.
    let (_, experiment) = app.get_json("/api/v1/experiments/chai-blend").await;
    assert_eq!(experiment["status"], "running");
}

#[tokio::test]
async fn health_endpoints_need_no_credentials() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}
