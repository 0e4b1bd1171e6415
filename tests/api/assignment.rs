use blendlab_experiments::{Experiment, ExperimentDefinition};
use blendlab_tests::{example_definition, spawn_app};
use futures::{stream, StreamExt};
use serde_json::json;

/// Two-sided bounds at 4 standard deviations of Binomial(n, p): a correct split falls outside
/// them about once in 16,000 runs.
fn binomial_bounds(n: f64, p: f64) -> (f64, f64) {
    let sd = (n * p * (1.0 - p)).sqrt();
    (n * p - 4.0 * sd, n * p + 4.0 * sd)
}

#[tokio::test]
async fn two_hundred_users_split_by_weight_and_keep_their_arm() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let users: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();

    // Real traffic: each user's first chat stores the exposure.
    let arms: Vec<String> = stream::iter(users.iter())
        .map(|user| async {
            let (status, body) = app.chat("chai-blend", user, None, "Hi", 1).await;
            assert_eq!(status, 200, "{body}");
            body["arm"].as_str().unwrap().to_owned()
        })
        .buffered(8)
        .collect()
        .await;
    let blend = arms.iter().filter(|a| *a == "blend").count() as f64;
    let (low, high) = binomial_bounds(200.0, 0.5);
    assert!(
        (low..=high).contains(&blend),
        "{blend} of 200 in the blend arm"
    );

    let stored = app
        .db_rows("SELECT COUNT(*), COUNT(DISTINCT user_id) FROM assignments")
        .await;
    assert_eq!(stored[0], vec![json!(200), json!(200)]);

    // The same arm on repeat: through the assignment endpoint and through chat.
    for (user, arm) in users.iter().zip(&arms) {
        let (_, assignment) = app
            .get_json(&format!("/api/v1/experiments/chai-blend/assignment/{user}"))
            .await;
        assert_eq!(assignment["arm"], json!(arm), "{user}");
        assert_eq!(assignment["exposed"], json!(true));
    }
    for (user, arm) in users.iter().zip(&arms).take(10) {
        let (_, body) = app.chat("chai-blend", user, None, "Hi again", 1).await;
        assert_eq!(body["arm"], json!(arm));
    }
    let stored = app.db_rows("SELECT COUNT(*) FROM assignments").await;
    assert_eq!(
        stored[0],
        vec![json!(200)],
        "repeat traffic stores no new exposure"
    );
}

#[tokio::test]
async fn unequal_weights_split_in_proportion_and_match_the_hash() {
    let app = spawn_app().await;
    let mut definition = example_definition();
    definition["key"] = json!("skewed");
    definition["salt"] = json!("skewed-salt");
    definition["arms"][0]["weight"] = json!(0.2);
    definition["arms"][1]["weight"] = json!(0.8);
    app.start_experiment(&definition).await;
    let experiment = Experiment::parse(
        serde_json::from_value::<ExperimentDefinition>(definition).unwrap(),
        |_| true,
    )
    .unwrap();

    let mut in_control = 0.0;
    for i in 0..1000 {
        let user = format!("visitor-{i}");
        let (_, body) = app
            .get_json(&format!("/api/v1/experiments/skewed/assignment/{user}"))
            .await;
        let expected = experiment.assign(&user).map(|a| a.name.to_string());
        assert_eq!(body["arm"], json!(expected));
        assert_eq!(
            body["exposed"],
            json!(false),
            "reading an assignment stores nothing"
        );
        if body["arm"] == "control" {
            in_control += 1.0;
        }
    }
    let (low, high) = binomial_bounds(1000.0, 0.2);
    assert!(
        (low..=high).contains(&in_control),
        "{in_control} of 1000 in control"
    );
    assert_eq!(
        app.db_rows("SELECT COUNT(*) FROM assignments").await[0],
        vec![json!(0)]
    );
}

#[tokio::test]
async fn concurrent_first_requests_store_exactly_one_exposure() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let replies: Vec<serde_json::Value> = futures::future::join_all(
        (0..6).map(|_| app.chat("chai-blend", "eager-user", None, "Hello?", 1)),
    )
    .await
    .into_iter()
    .map(|(status, body)| {
        assert_eq!(status, 200, "{body}");
        body
    })
    .collect();
    assert!(replies.iter().all(|r| r["arm"] == replies[0]["arm"]));
    let rows = app
        .db_rows("SELECT COUNT(*), MIN(arm) FROM assignments WHERE user_id = 'eager-user'")
        .await;
    assert_eq!(rows[0], vec![json!(1), replies[0]["arm"].clone()]);
}

#[tokio::test]
async fn users_outside_coverage_are_served_by_control_without_exposure() {
    let app = spawn_app().await;
    let mut definition = example_definition();
    definition["coverage"] = json!(0.0);
    app.start_experiment(&definition).await;
    let response = app
        .admin(reqwest::Method::POST, "/api/v1/chat")
        .json(&json!({ "experiment": "chai-blend", "user_id": "outsider", "message": "Hi", "max_tokens": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("x-blendlab-arm").is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["arm"], json!(null));
    assert_eq!(
        body["model"], "large",
        "the control's model serves users who are not enrolled"
    );
    let (_, assignment) = app
        .get_json("/api/v1/experiments/chai-blend/assignment/outsider")
        .await;
    assert_eq!(assignment, json!({ "arm": null, "exposed": false }));
    assert_eq!(
        app.db_rows("SELECT COUNT(*) FROM assignments").await[0],
        vec![json!(0)]
    );
}

#[tokio::test]
async fn new_users_audience_enrolls_only_users_first_seen_after_the_start() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    // Pick users that the hash would put in the blend arm of the second experiment.
    let mut later = example_definition();
    later["key"] = json!("newcomers");
    later["salt"] = json!("newcomers");
    later["audience"] = json!("new_users");
    let parsed = Experiment::parse(
        serde_json::from_value::<ExperimentDefinition>(later.clone()).unwrap(),
        |_| true,
    )
    .unwrap();
    let mut blend_users = (0..)
        .map(|i| format!("person-{i}"))
        .filter(|u| parsed.assign(u).is_some_and(|a| a.name.as_str() == "blend"));
    let (veteran, newcomer) = (blend_users.next().unwrap(), blend_users.next().unwrap());

    let (status, _) = app
        .chat("chai-blend", &veteran, None, "I was here first", 1)
        .await;
    assert_eq!(status, 200);
    app.start_experiment(&later).await;

    let (_, body) = app.chat("newcomers", &veteran, None, "Hello", 1).await;
    assert_eq!(
        body["arm"],
        json!(null),
        "a user seen before the start is not enrolled"
    );
    assert_eq!(body["model"], "large");
    let (_, body) = app.chat("newcomers", &newcomer, None, "Hello", 1).await;
    assert_eq!(body["arm"], "blend");
    let rows = app
        .db_rows("SELECT user_id FROM assignments WHERE experiment = 'newcomers'")
        .await;
    assert_eq!(rows, vec![vec![json!(newcomer)]]);
}
