//! Client API keys end to end: issued once and stored hashed, revoked at once, each reading and
//! continuing only its own conversations, each under its own rate limit; the admin is exempt.

use blendlab_tests::{example_definition, spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

async fn create_key(app: &TestApp, body: Value) -> Value {
    let (status, key) = app.post_json("/api/v1/keys", &body).await;
    assert_eq!(status, 201, "{key}");
    key
}

fn secret(key: &Value) -> &str {
    key["key"].as_str().unwrap()
}

async fn send(app: &TestApp, method: Method, path: &str, key: &str, body: Value) -> (u16, Value) {
    let response = app
        .client
        .request(method, app.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn revoke(app: &TestApp, path: &str) -> Value {
    let response = app.admin(Method::DELETE, path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn chat_as(app: &TestApp, key: &str, conversation: Option<&str>) -> (u16, Value) {
    let body = json!({ "experiment": "chai-blend", "user_id": "u-keys", "message": "Hello there",
                       "conversation_id": conversation, "max_tokens": 3 });
    send(app, Method::POST, "/api/v1/chat", key, body).await
}

#[tokio::test]
async fn keys_are_shown_once_stored_hashed_listed_and_revoked() {
    let app = spawn_app().await;
    let key = create_key(
        &app,
        json!({ "name": "Team A", "requests_per_minute": 120 }),
    )
    .await;
    let plain = secret(&key);
    assert!(plain.starts_with("blk_"), "{key}");
    assert_eq!(key["name"], "Team A");
    assert_eq!(key["requests_per_minute"], 120);
    assert!(key["revoked_at"].is_null());

    // The store holds the SHA-256 of the key and nothing from which to rebuild it.
    let rows = app
        .db_rows("SELECT key_id, secret_sha256 FROM client_keys")
        .await;
    let digest: String = Sha256::digest(plain.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(rows, vec![vec![key["id"].clone(), json!(digest)]]);
    let (_, secret_part) = plain.rsplit_once('_').unwrap();
    let dump = app.db_rows("SELECT * FROM client_keys").await;
    assert!(!format!("{dump:?}").contains(secret_part));

    // Listed without the key; the default limit comes from the server settings.
    create_key(&app, json!({ "name": "Team B" })).await;
    let (_, listed) = app.get_json("/api/v1/keys").await;
    let listed = listed["keys"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|k| k.get("key").is_none()), "{listed:?}");
    assert_eq!(listed[1]["requests_per_minute"], 600);

    // Works, then revoked: refused at once, and revoking again keeps the first time.
    let (status, _) = send(&app, Method::GET, "/v1/models", plain, json!(null)).await;
    assert_eq!(status, 200);
    let path = format!("/api/v1/keys/{}", key["id"].as_str().unwrap());
    let first = revoke(&app, &path).await;
    assert!(first["revoked_at"].is_string(), "{first}");
    let (status, body) = send(&app, Method::GET, "/v1/models", plain, json!(null)).await;
    assert_eq!(status, 401, "{body}");
    let again = revoke(&app, &path).await;
    assert_eq!(again["revoked_at"], first["revoked_at"]);
    let missing = app
        .admin(Method::DELETE, "/api/v1/keys/nope")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "key_not_found");
}

#[tokio::test]
async fn bad_key_requests_get_400_naming_the_problem() {
    let app = spawn_app().await;
    for (body, code, needle) in [
        (json!({ "name": "" }), "invalid_key", "name"),
        (json!({ "name": "x\u{7}" }), "invalid_key", "name"),
        (json!({ "name": "x".repeat(101) }), "invalid_key", "name"),
        (
            json!({ "name": "t", "requests_per_minute": 0 }),
            "invalid_key",
            "requests_per_minute",
        ),
        (
            json!({ "name": "t", "requests_per_minute": -5 }),
            "invalid_key",
            "requests_per_minute",
        ),
        (
            json!({ "name": "t", "requests_per_minute": 1.5 }),
            "invalid_body",
            "`requests_per_minute`: expected",
        ),
        (
            json!({ "name": "t", "scope": "all" }),
            "invalid_body",
            "scope",
        ),
        (json!({}), "invalid_body", "name"),
    ] {
        let (status, error) = app.post_json("/api/v1/keys", &body).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let (_, listed) = app.get_json("/api/v1/keys").await;
    assert_eq!(listed["keys"], json!([]));
}

#[tokio::test]
async fn a_client_key_reads_and_continues_only_its_own_conversations() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let team_a = create_key(&app, json!({ "name": "A" })).await;
    let team_b = create_key(&app, json!({ "name": "B" })).await;
    let (a, b) = (secret(&team_a), secret(&team_b));

    let (status, turn) = chat_as(&app, a, None).await;
    assert_eq!(status, 200, "{turn}");
    let conversation = turn["conversation_id"].as_str().unwrap();
    let path = format!("/api/v1/conversations/{conversation}");
    let (status, read) = send(&app, Method::GET, &path, a, json!(null)).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["messages"].as_array().unwrap().len(), 2);
    let (status, _) = chat_as(&app, a, Some(conversation)).await;
    assert_eq!(status, 200, "A continues its own conversation");

    // B may neither read nor continue it, on either chat API, and nothing is written.
    let (status, error) = send(&app, Method::GET, &path, b, json!(null)).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{error}"
    );
    let (status, error) = chat_as(&app, b, Some(conversation)).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{error}"
    );
    let openai = json!({ "model": "chai-blend", "user": "u-keys", "max_tokens": 3,
                         "messages": [{ "role": "user", "content": "hi" }],
                         "metadata": { "conversation_id": conversation } });
    let (status, error) = send(&app, Method::POST, "/v1/chat/completions", b, openai).await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"]["type"], "permission_error", "{error}");

    // The admin reads everything; a conversation the admin started is not the client's.
    let (status, read) = app.get_json(&path).await;
    assert_eq!(status, 200);
    assert_eq!(read["messages"].as_array().unwrap().len(), 4);
    let (status, admin_turn) = app.chat("chai-blend", "u-keys", None, "Hi", 3).await;
    assert_eq!(status, 200, "{admin_turn}");
    let admin_conversation = admin_turn["conversation_id"].as_str().unwrap();
    let (status, _) = chat_as(&app, a, Some(admin_conversation)).await;
    assert_eq!(status, 403);
    let rows = app
        .db_rows("SELECT client_key, COUNT(*) FROM conversations GROUP BY client_key ORDER BY 1")
        .await;
    assert_eq!(
        rows,
        vec![
            vec![Value::Null, json!(1)],
            vec![team_a["id"].clone(), json!(1)]
        ]
    );

    // Events are a client route.
    let events = json!({ "events": [{ "user_id": "u-keys", "kind": "thumbs_up" }] });
    let (status, body) = send(&app, Method::POST, "/api/v1/events", a, events).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn each_client_key_has_its_own_rate_limit_and_the_admin_has_none() {
    let app = spawn_app().await;
    let limited = create_key(&app, json!({ "name": "small", "requests_per_minute": 3 })).await;
    let other = create_key(&app, json!({ "name": "other", "requests_per_minute": 3 })).await;
    let events = json!({ "events": [{ "user_id": "u1", "kind": "app_open" }] });
    for _ in 0..3 {
        let (status, body) = send(
            &app,
            Method::POST,
            "/api/v1/events",
            secret(&limited),
            events.clone(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let response = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(secret(&limited))
        .json(&events)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    // Three a minute: the next one is due in 20 s.
    let retry_after: u32 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((19..=20).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");

    // The OpenAI routes say so in OpenAI's shape.
    let (status, body) = send(
        &app,
        Method::GET,
        "/v1/models",
        secret(&limited),
        json!(null),
    )
    .await;
    assert_eq!(
        (status, body["error"]["type"].as_str()),
        (429, Some("rate_limit_error"))
    );

    let (status, _) = send(
        &app,
        Method::POST,
        "/api/v1/events",
        secret(&other),
        events.clone(),
    )
    .await;
    assert_eq!(status, 200, "another key has its own bucket");
    for _ in 0..30 {
        let (status, _) = app.post_json("/api/v1/events", &events).await;
        assert_eq!(status, 200, "the admin is never rate-limited");
    }
    let stored = app.db_rows("SELECT COUNT(*) FROM events").await;
    assert_eq!(stored, vec![vec![json!(34)]]);
}
