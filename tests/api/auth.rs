//! Every route with no token, a wrong token, a revoked or malformed key, and a client key where
//! only the admin may go (docs/architecture.md: 401 means missing or invalid credentials, 403 valid ones
//! without the right).

use blendlab_tests::{example_definition, spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Endpoints only the admin token opens.
const ADMIN_ROUTES: &[(Method, &str)] = &[
    (Method::GET, "/api/v1/experiments"),
    (Method::POST, "/api/v1/experiments"),
    (Method::GET, "/api/v1/experiments/chai-blend"),
    (Method::PUT, "/api/v1/experiments/chai-blend"),
    (Method::POST, "/api/v1/experiments/chai-blend/start"),
    (Method::POST, "/api/v1/experiments/chai-blend/stop"),
    (Method::GET, "/api/v1/experiments/chai-blend/assignment/u1"),
    (Method::GET, "/api/v1/experiments/chai-blend/exposures"),
    (Method::GET, "/api/v1/experiments/chai-blend/report"),
    (Method::GET, "/api/v1/experiments/chai-blend/reports"),
    (Method::GET, "/api/v1/leaderboard"),
    (Method::DELETE, "/api/v1/users/u1"),
    (Method::POST, "/api/v1/keys"),
    (Method::GET, "/api/v1/keys"),
    (Method::DELETE, "/api/v1/keys/0123456789abcdef"),
];

/// Endpoints a client key opens too.
const CLIENT_ROUTES: &[(Method, &str)] = &[
    (Method::POST, "/api/v1/chat"),
    (Method::GET, "/api/v1/conversations/abc"),
    (Method::POST, "/api/v1/events"),
    (Method::POST, "/v1/chat/completions"),
    (Method::GET, "/v1/models"),
];

async fn call(app: &TestApp, method: &Method, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = app
        .client
        .request(method.clone(), app.url(path))
        .json(&json!({}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn error_code(path: &str, body: &Value) -> String {
    let field = if path.starts_with("/v1/") {
        "type"
    } else {
        "code"
    };
    body["error"][field].as_str().unwrap_or_default().to_owned()
}

/// A live client key, and one created and then revoked.
async fn live_and_revoked_keys(app: &TestApp) -> (String, String) {
    let mut keys = Vec::new();
    for name in ["live", "revoked"] {
        let (status, body) = app
            .post_json("/api/v1/keys", &json!({ "name": name }))
            .await;
        assert_eq!(status, 201, "{body}");
        keys.push(body);
    }
    let revoked = &keys[1];
    let response = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/keys/{}", revoked["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let key = |body: &Value| body["key"].as_str().unwrap().to_owned();
    (key(&keys[0]), key(revoked))
}

#[tokio::test]
async fn every_route_refuses_missing_and_invalid_credentials_with_401() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let (live, revoked) = live_and_revoked_keys(&app).await;
    // The live key's id with another secret: a real id must not be enough.
    let (id_part, _) = live.rsplit_once('_').unwrap();
    let forged = format!("{id_part}_{}", "0".repeat(48));
    let invalid = [
        None,
        Some("wrong-token-wrong-token"),
        Some(revoked.as_str()),
        Some(forged.as_str()),
        Some("blk_malformed"),
    ];
    for (method, path) in ADMIN_ROUTES.iter().chain(CLIENT_ROUTES) {
        for token in invalid {
            let (status, body) = call(&app, method, path, token).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}: {body}");
            let expected = if path.starts_with("/v1/") {
                "authentication_error"
            } else {
                "unauthorized"
            };
            assert_eq!(error_code(path, &body), expected, "{method} {path}: {body}");
        }
    }
    // Nothing changed: the experiment is still running.
    let (_, experiment) = app.get_json("/api/v1/experiments/chai-blend").await;
    assert_eq!(experiment["status"], "running");
}

#[tokio::test]
async fn a_client_key_gets_403_on_admin_routes_and_passes_on_its_own() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let (live, _) = live_and_revoked_keys(&app).await;
    for (method, path) in ADMIN_ROUTES {
        let (status, body) = call(&app, method, path, Some(&live)).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert_eq!(
            error_code(path, &body),
            "forbidden",
            "{method} {path}: {body}"
        );
    }
    for (method, path) in CLIENT_ROUTES {
        // Past the credentials: what is left to say is about the (empty) request itself.
        let (status, body) = call(&app, method, path, Some(&live)).await;
        assert!(
            ![401, 403, 429].contains(&status) && status < 500,
            "{method} {path}: {status} {body}"
        );
    }
    // Still running, and no key was made by the client.
    let (_, experiment) = app.get_json("/api/v1/experiments/chai-blend").await;
    assert_eq!(experiment["status"], "running");
    let (_, keys) = app.get_json("/api/v1/keys").await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn health_endpoints_need_no_credentials() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}
