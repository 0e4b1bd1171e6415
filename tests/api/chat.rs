use std::collections::BTreeSet;

use blendlab_experiments::{Experiment, ExperimentDefinition};
use blendlab_tests::{example_definition, spawn_app};
use serde_json::json;

fn example() -> Experiment {
    Experiment::parse(
        serde_json::from_value::<ExperimentDefinition>(example_definition()).unwrap(),
        |_| true,
    )
    .unwrap()
}

fn user_in(experiment: &Experiment, arm: &str) -> String {
    (0..)
        .map(|i| format!("chatter-{i}"))
        .find(|u| experiment.assign(u).is_some_and(|a| a.name.as_str() == arm))
        .unwrap()
}

const MESSAGES: [&str; 8] = [
    "Hi there!",
    "What is your favourite colour?",
    "Why that one?",
    "Tell me about the sea.",
    "Do you like cats?",
    "What did you eat today?",
    "Any plans for the weekend?",
    "Goodbye!",
];

#[tokio::test]
async fn an_eight_turn_blended_conversation_is_written_by_several_components_and_fully_logged() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let experiment = example();
    let user = user_in(&experiment, "blend");
    let blend = experiment.arm("blend").unwrap();

    // A conversation id whose eight draws involve more than one component, found up front so the
    // test is deterministic; that the draws are uniform is the policy's own unit test.
    let chosen_id = (0..)
        .map(|i| format!("eight-turns-{i}"))
        .find(|id| {
            let picks: BTreeSet<usize> = (0..8)
                .map(|t| blend.draw_component(experiment.salt(), id, t).model_index)
                .collect();
            picks.len() >= 2
        })
        .unwrap();
    let mut conversation: Option<String> = Some(chosen_id);
    let mut writers = Vec::new();
    let mut prompt_tokens = Vec::new();
    for (turn, message) in MESSAGES.iter().enumerate() {
        let response = app
            .admin(reqwest::Method::POST, "/api/v1/chat")
            .json(&json!({ "experiment": "chai-blend", "user_id": user, "conversation_id": conversation,
                           "message": message, "max_tokens": 12 }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-blendlab-arm"], "blend");
        let body: serde_json::Value = response.json().await.unwrap();
        let id = body["conversation_id"].as_str().unwrap().to_owned();
        // The component is the policy's reproducible draw for (salt, conversation, turn).
        let draw = blend.draw_component(experiment.salt(), &id, turn as u32);
        assert_eq!(
            body["model"],
            json!(blend.models[draw.model_index]),
            "turn {turn}"
        );
        assert_eq!(body["arm"], "blend");
        assert!(body["usage"]["completion_tokens"].as_u64().unwrap() >= 1);
        writers.push(body["model"].as_str().unwrap().to_owned());
        prompt_tokens.push(body["usage"]["prompt_tokens"].as_u64().unwrap());
        conversation = Some(id);
    }
    let distinct: BTreeSet<_> = writers.iter().collect();
    assert!(
        distinct.len() >= 2,
        "one component wrote every turn: {writers:?}"
    );
    // Each component sees the whole history, the other components' replies included.
    assert!(
        prompt_tokens.windows(2).all(|w| w[1] > w[0]),
        "{prompt_tokens:?}"
    );

    let id = conversation.unwrap();
    let (status, stored) = app.get_json(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(stored["user_id"], json!(user));
    assert_eq!(stored["arm"], "blend");
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 16);
    for (i, message) in messages.iter().enumerate() {
        let expected_role = if i % 2 == 0 { "user" } else { "assistant" };
        assert_eq!(message["role"], expected_role);
        if expected_role == "user" {
            assert_eq!(message["content"], MESSAGES[i / 2]);
        } else {
            assert_eq!(message["model"], json!(writers[i / 2]));
        }
    }

    let rows = app
        .db_rows(&format!(
            "SELECT role, model, choice_prob, latency_ms > 0, prompt_tokens > 0, completion_tokens > 0, arm, experiment
             FROM messages WHERE conversation_id = '{id}' ORDER BY position"
        ))
        .await;
    assert_eq!(rows.len(), 16);
    for (turn, row) in rows.chunks(2).enumerate() {
        assert_eq!(row[0][0], "user");
        assert_eq!(row[1][0], "assistant");
        assert_eq!(row[1][1], json!(writers[turn]));
        assert!(
            (row[1][2].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12,
            "choice_prob {:?}",
            row[1][2]
        );
        assert_eq!(&row[1][3..6], &[json!(1), json!(1), json!(1)]);
        assert_eq!(&row[1][6..8], &[json!("blend"), json!("chai-blend")]);
    }
}

#[tokio::test]
async fn the_control_arm_is_served_by_its_single_model() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let user = user_in(&example(), "control");
    let mut conversation: Option<String> = None;
    for message in &MESSAGES[..3] {
        let (status, body) = app
            .chat("chai-blend", &user, conversation.as_deref(), message, 8)
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["arm"], "control");
        assert_eq!(body["model"], "large");
        assert_eq!(body["choice_prob"], 1.0);
        conversation = body["conversation_id"].as_str().map(str::to_owned);
    }
}

#[tokio::test]
async fn a_conversation_cannot_be_continued_by_another_user_or_invented() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let (_, first) = app.chat("chai-blend", "owner", None, "Hello", 2).await;
    let id = first["conversation_id"].as_str().unwrap();
    let (status, body) = app
        .chat("chai-blend", "intruder", Some(id), "Let me in", 2)
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "conversation_not_found");
    let (status, _) = app
        .get_json("/api/v1/conversations/no-such-conversation")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_client_may_start_a_conversation_under_its_own_id() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let (status, body) = app
        .chat("chai-blend", "owner", Some("client-chosen-1"), "Hello", 2)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["conversation_id"], "client-chosen-1");
    let (status, body) = app
        .chat("chai-blend", "owner", Some("client-chosen-1"), "Again", 2)
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, stored) = app.get_json("/api/v1/conversations/client-chosen-1").await;
    assert_eq!(stored["messages"].as_array().unwrap().len(), 4);
}
