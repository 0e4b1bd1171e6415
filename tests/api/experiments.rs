use blendlab_tests::{example_definition, spawn_app};
use serde_json::json;

#[tokio::test]
async fn an_experiment_is_created_as_a_draft_and_started() {
    let app = spawn_app().await;
    let (status, created) = app
        .post_json("/api/v1/experiments", &example_definition())
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "draft");
    assert_eq!(created["salt"], "chai-blend");
    assert_eq!(
        created["arms"][1]["models"],
        json!(["small-a", "small-b", "small-c"])
    );

    let (status, started) = app
        .post_json("/api/v1/experiments/chai-blend/start", &json!(null))
        .await;
    assert_eq!(status, 200);
    assert_eq!(started["status"], "running");
    assert!(started["started_at"].is_string());

    let (status, listed) = app.get_json("/api/v1/experiments").await;
    assert_eq!(status, 200);
    assert_eq!(listed["experiments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn starting_a_running_experiment_is_a_no_op() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let (_, first) = app.get_json("/api/v1/experiments/chai-blend").await;
    let (status, again) = app
        .post_json("/api/v1/experiments/chai-blend/start", &json!(null))
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["status"], "running");
    assert_eq!(again["started_at"], first["started_at"]);
}

#[tokio::test]
async fn an_invalid_definition_is_refused_naming_every_problem() {
    let app = spawn_app().await;
    let mut definition = example_definition();
    definition["arms"][1]["weight"] = json!(0.7);
    definition["arms"][1]["models"] = json!(["small-a", "gpt-9"]);
    definition["control"] = json!("baseline");
    let (status, body) = app.post_json("/api/v1/experiments", &definition).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_experiment");
    let message = body["error"]["message"].as_str().unwrap();
    for fragment in [
        "sum to 1.2",
        "unknown model \"gpt-9\"",
        "control \"baseline\"",
    ] {
        assert!(message.contains(fragment), "{message} lacks {fragment}");
    }
}

#[tokio::test]
async fn a_definition_with_a_status_field_is_refused() {
    let app = spawn_app().await;
    let mut definition = example_definition();
    definition["status"] = json!("running");
    let (status, body) = app.post_json("/api/v1/experiments", &definition).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("status"),
        "{body}"
    );
}

#[tokio::test]
async fn creating_the_same_key_twice_conflicts() {
    let app = spawn_app().await;
    app.post_json("/api/v1/experiments", &example_definition())
        .await;
    let (status, body) = app
        .post_json("/api/v1/experiments", &example_definition())
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "experiment_exists");
}

#[tokio::test]
async fn a_draft_can_change_its_arms_but_a_running_experiment_cannot() {
    let app = spawn_app().await;
    app.post_json("/api/v1/experiments", &example_definition())
        .await;
    let mut changed = example_definition();
    changed["arms"][0]["weight"] = json!(0.4);
    changed["arms"][1]["weight"] = json!(0.6);
    let put = |body: serde_json::Value| {
        app.admin(reqwest::Method::PUT, "/api/v1/experiments/chai-blend")
            .json(&body)
            .send()
    };
    let response = put(changed.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    app.post_json("/api/v1/experiments/chai-blend/start", &json!(null))
        .await;

    changed["arms"][0]["weight"] = json!(0.5);
    changed["arms"][1]["weight"] = json!(0.5);
    let response = put(changed.clone()).await.unwrap();
    assert_eq!(response.status(), 409);

    let mut renamed = example_definition();
    renamed["arms"][0]["weight"] = json!(0.4);
    renamed["arms"][1]["weight"] = json!(0.6);
    renamed["name"] = json!("A clearer name");
    let response = put(renamed).await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "a running experiment may be renamed"
    );
}

#[tokio::test]
async fn a_stopped_experiment_refuses_traffic_and_cannot_restart() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let (status, _) = app.chat("chai-blend", "user-1", None, "Hello!", 4).await;
    assert_eq!(status, 200);

    let (status, stopped) = app
        .post_json("/api/v1/experiments/chai-blend/stop", &json!(null))
        .await;
    assert_eq!(status, 200);
    assert_eq!(stopped["status"], "stopped");

    let (status, body) = app
        .chat("chai-blend", "user-1", None, "Hello again!", 4)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "experiment_not_running");
    let (status, _) = app
        .post_json("/api/v1/experiments/chai-blend/start", &json!(null))
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_draft_refuses_traffic() {
    let app = spawn_app().await;
    app.post_json("/api/v1/experiments", &example_definition())
        .await;
    let (status, body) = app.chat("chai-blend", "user-1", None, "Hello!", 4).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("draft"));
}
