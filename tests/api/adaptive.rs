//! Adaptive blends, live (issue 18): a `thompson` arm serves the probabilities of its policy
//! snapshot, computed from the store's reward counts, and logs with every reply the snapshot's
//! version and the exact probability its component was drawn with. Two replicas on one
//! PostgreSQL serve the same snapshot for the same version.

use blendlab_store::{ConversationRow, NewMessage, Store};
use blendlab_tests::{PostgresDatabase, ServerProcess as Replica};
use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

fn adaptive_definition() -> Value {
    json!({ "key": "adaptive-blend", "name": "Adaptive blend", "control": "control", "arms": [
        { "name": "control", "weight": 0.5, "models": ["large"] },
        { "name": "blend", "weight": 0.5, "models": ["small-a", "small-b", "small-c"],
          "policy": "thompson", "min_probability": 0.05 } ] })
}

/// Two hours of history in the blend arm: users always answer small-a, never the others.
async fn seed_history(store: &Store) {
    let start = Utc::now() - Duration::hours(2);
    for (n, model) in ["small-a", "small-b", "small-c"]
        .iter()
        .cycle()
        .take(60)
        .enumerate()
    {
        let at = start + Duration::seconds(n as i64 * 10);
        let conversation = ConversationRow {
            conversation_id: format!("seeded-{n}"),
            user_id: format!("seeded-user-{n}"),
            experiment: Some("adaptive-blend".into()),
            arm: Some("blend".into()),
            created_at: at,
            client_key: None,
        };
        let message = |id: String, role, model: Option<&str>, at| NewMessage {
            message_id: id,
            role,
            content: "seeded".into(),
            model: model.map(str::to_owned),
            choice_prob: model.map(|_| 1.0 / 3.0),
            latency_ms: None,
            prompt_tokens: None,
            prefill_tokens: None,
            completion_tokens: None,
            finish_reason: model.map(|_| "stop"),
            policy_version: None,
            created_at: at,
        };
        let mut turns = vec![
            message(format!("seeded-{n}-0"), "user", None, at),
            message(
                format!("seeded-{n}-1"),
                "assistant",
                Some(model),
                at + Duration::seconds(1),
            ),
        ];
        if *model == "small-a" {
            turns.push(message(
                format!("seeded-{n}-2"),
                "user",
                None,
                at + Duration::seconds(30),
            ));
        }
        store
            .append_messages(&conversation, true, 0, &turns)
            .await
            .unwrap();
    }
}

/// The blend arm's entry of `GET .../policy`.
async fn blend_policy(replica: &Replica, history: bool) -> Value {
    let path = format!("/api/v1/experiments/adaptive-blend/policy?history={history}");
    let (status, body) = replica.call(Method::GET, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["experiment"], "adaptive-blend");
    let arms = body["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 1, "only the blended arm: {body}");
    arms[0].clone()
}

/// (arm, model, choice_prob, policy_version) of a logged reply.
type LoggedReply = (String, Option<String>, Option<f64>, Option<i64>);

fn probability_of(snapshot: &Value, model: &str) -> f64 {
    snapshot["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == model)
        .unwrap_or_else(|| panic!("{model} is not in {snapshot}"))["probability"]
        .as_f64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adaptive_arm_serves_and_logs_its_snapshot_the_same_on_two_replicas() {
    let database = PostgresDatabase::create().await;
    let (mut a, mut b) = (Replica::start(&database.url), Replica::start(&database.url));
    a.ready().await;
    b.ready().await;

    // A bad adaptive arm is refused with every problem named.
    let mut bad = adaptive_definition();
    bad["arms"][1]["models"] = json!(["small-a"]);
    bad["arms"][1]["reward"] = json!("clicks");
    bad["arms"][1]["weight"] = json!(0.25);
    bad["arms"].as_array_mut().unwrap().push(json!({ "name": "wide", "weight": 0.25,
        "models": ["small-a", "small-b", "small-c"], "policy": "thompson", "min_probability": 0.5 }));
    let (status, body) = a.call(Method::POST, "/api/v1/experiments", Some(bad)).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for problem in [
        "with 1 model(s)",
        "unknown reward \"clicks\"",
        "min_probability of arm \"wide\" is 0.5, above 1/3",
    ] {
        assert!(
            message.contains(problem),
            "{problem:?} is not named: {message}"
        );
    }

    let (status, body) = a
        .call(
            Method::POST,
            "/api/v1/experiments",
            Some(adaptive_definition()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let store = Store::connect(&database.url).await.unwrap();
    seed_history(&store).await;
    let (status, body) = b
        .call(
            Method::POST,
            "/api/v1/experiments/adaptive-blend/start",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Both replicas, at once: one version, one snapshot (whichever computed it first).
    let (on_a, on_b) = loop {
        let (on_a, on_b) = tokio::join!(blend_policy(&a, false), blend_policy(&b, false));
        if on_a["version"] == on_b["version"] {
            break (on_a, on_b);
        }
        // An interval ended between the two calls; ask again.
    };
    assert_eq!(on_a, on_b, "two replicas serve the same snapshot");
    assert_eq!(on_a["policy"], "thompson");
    assert_eq!(on_a["reward"], "continuation");
    assert!(probability_of(&on_a, "small-a") > 0.89, "{on_a}");
    for floored in ["small-b", "small-c"] {
        assert!(
            (probability_of(&on_a, floored) - 0.05).abs() < 1e-9,
            "{on_a}"
        );
    }
    let counts = &on_a["models"][0];
    assert_eq!(
        (counts["successes"].as_u64(), counts["failures"].as_u64()),
        (Some(20), Some(0))
    );

    // Live chat on both replicas: each reply's choice_prob is its snapshot's probability.
    let mut blended = 0;
    for i in 0..16 {
        let replica = if i % 2 == 0 { &a } else { &b };
        let body = json!({ "experiment": "adaptive-blend", "user_id": format!("live-{i}"),
                           "message": "Hello!", "max_tokens": 2 });
        let (status, reply) = replica.call(Method::POST, "/api/v1/chat", Some(body)).await;
        assert_eq!(status, 200, "{reply}");
        blended += usize::from(reply["arm"] == "blend");
    }
    assert!(
        blended >= 3,
        "too few users in the blend arm to check: {blended}"
    );

    let history = blend_policy(&a, true).await["history"].clone();
    let snapshots = history.as_array().unwrap();
    let logged: Vec<LoggedReply> = sqlx::query_as(
        "SELECT arm, model, choice_prob, policy_version FROM messages
         WHERE role = 'assistant' AND user_id LIKE 'live-%'",
    )
    .fetch_all(&sqlx::PgPool::connect(&database.url).await.unwrap())
    .await
    .unwrap();
    assert_eq!(logged.len(), 16);
    for (arm, model, choice_prob, version) in logged {
        if arm != "blend" {
            assert_eq!(version, None, "the control arm is not adaptive");
            continue;
        }
        let version = version.expect("a blended reply logs its policy version");
        let snapshot = snapshots
            .iter()
            .find(|s| s["version"] == version)
            .unwrap_or_else(|| panic!("version {version} is not stored: {history}"));
        let model = model.unwrap();
        assert_eq!(
            choice_prob,
            Some(probability_of(snapshot, &model)),
            "{model}'s reply was drawn with its snapshot's probability"
        );
    }
}
