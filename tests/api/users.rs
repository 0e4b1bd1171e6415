//! `DELETE /api/v1/users/{user_id}`: erasure over real HTTP, with reports still computable.

use blendlab_tests::{example_definition, spawn_app};
use serde_json::json;

#[tokio::test]
async fn erasing_a_user_removes_their_words_and_keeps_reports_computable() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let (_, first) = app
        .chat("chai-blend", "erase-me", None, "My secret is 1234.", 4)
        .await;
    let conversation = first["conversation_id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .chat(
            "chai-blend",
            "erase-me",
            Some(&conversation),
            "And more.",
            4,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.chat("chai-blend", "keep-me", None, "Hello!", 4).await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post_json(
            "/api/v1/events",
            &json!({ "events": [{ "user_id": "erase-me", "kind": "feedback", "value": 1.0 }] }),
        )
        .await;
    assert_eq!(status, 200);
    let today = app.last_traffic_day().await;
    let report_path = format!("/api/v1/experiments/chai-blend/report?as_of={today}");
    let (_, before) = app.get_json(&report_path).await;

    let response = app
        .admin(reqwest::Method::DELETE, "/api/v1/users/erase-me")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let erased: serde_json::Value = response.json().await.unwrap();
    assert_eq!(erased["messages"], 4);
    assert_eq!(erased["conversations"], 1);
    assert_eq!(erased["events"], 1);
    assert_eq!(erased["exposures_anonymised"], 1);
    let anonymous_id = erased["anonymous_id"].as_str().unwrap();
    assert!(anonymous_id.starts_with("deleted-"), "{anonymous_id}");

    // Nothing of theirs is left but the anonymous exposure.
    for table in [
        "messages",
        "conversations",
        "events",
        "users",
        "assignments",
    ] {
        let rows = app
            .db_rows(&format!(
                "SELECT COUNT(*) FROM {table} WHERE user_id = 'erase-me'"
            ))
            .await;
        assert_eq!(rows[0][0], 0, "{table}");
    }
    let secret = app
        .db_rows("SELECT COUNT(*) FROM messages WHERE content LIKE '%1234%'")
        .await;
    assert_eq!(secret[0][0], 0);
    let (status, _) = app
        .get_json(&format!("/api/v1/conversations/{conversation}"))
        .await;
    assert_eq!(status, 404);
    let kept = app
        .db_rows(&format!(
            "SELECT COUNT(*) FROM assignments WHERE user_id = '{anonymous_id}'"
        ))
        .await;
    assert_eq!(kept[0][0], 1);
    let other = app
        .db_rows("SELECT COUNT(*) FROM messages WHERE user_id = 'keep-me'")
        .await;
    assert_eq!(other[0][0], 2, "another user's messages stay");

    // Reports stay computable: the same users per arm, less activity.
    let (status, after) = app.get_json(&report_path).await;
    assert_eq!(status, 200, "{after}");
    for (arm_before, arm_after) in before["arms"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["arms"].as_array().unwrap())
    {
        assert_eq!(arm_before["users"], arm_after["users"]);
    }
    let messages = |report: &serde_json::Value| -> u64 {
        report["arms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["guardrails"]["messages"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(messages(&after), messages(&before) - 4);

    // Erased already: nothing left to erase. Bad ids and missing credentials are refused.
    let again = app
        .admin(reqwest::Method::DELETE, "/api/v1/users/erase-me")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let body: serde_json::Value = again.json().await.unwrap();
    assert_eq!(body["error"]["code"], "user_not_found");
    let bad = app
        .admin(reqwest::Method::DELETE, "/api/v1/users/bad%01id")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let anonymous = app
        .client
        .delete(app.url("/api/v1/users/keep-me"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
