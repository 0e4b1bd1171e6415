use blendlab_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn a_batch_of_events_is_stored() {
    let app = spawn_app().await;
    let events: Vec<_> = (0..250)
        .map(|i| json!({ "user_id": format!("u{}", i % 7), "kind": if i % 2 == 0 { "feedback" } else { "app_open" },
                         "value": i as f64 / 10.0, "conversation_id": "c1", "created_at": "2026-11-01T12:00:00.123456Z" }))
        .collect();
    let (status, body) = app
        .post_json("/api/v1/events", &json!({ "events": events }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 250);
    let rows = app
        .db_rows("SELECT COUNT(*), COUNT(DISTINCT user_id), MIN(created_at) FROM events")
        .await;
    assert_eq!(
        rows[0],
        vec![json!(250), json!(7), json!(1_793_534_400_123_456_i64)]
    );
}

#[tokio::test]
async fn invalid_batches_are_refused_whole() {
    let app = spawn_app().await;
    let too_many: Vec<_> = (0..1001)
        .map(|_| json!({ "user_id": "u", "kind": "app_open" }))
        .collect();
    let one_bad = vec![
        json!({ "user_id": "u", "kind": "app_open" }),
        json!({ "user_id": "u", "kind": "bad kind!" }),
    ];
    for (batch, fragment) in [
        (json!(too_many), "1001"),
        (json!([]), "0"),
        (json!(one_bad), "events[1]"),
    ] {
        let (status, body) = app
            .post_json("/api/v1/events", &json!({ "events": batch }))
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(fragment),
            "{body}"
        );
    }
    let (status, _) = app
        .post_json(
            "/api/v1/events",
            &json!({ "events": [{ "user_id": "u", "kind": "x", "value": "high" }] }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        app.db_rows("SELECT COUNT(*) FROM events").await[0],
        vec![json!(0)]
    );
}
