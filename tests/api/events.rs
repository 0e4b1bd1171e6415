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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_are_all_stored_once_acknowledged() {
    let app = spawn_app().await;
    let requests = (0..12).map(|r| {
        let events: Vec<_> = (0..100)
            .map(|i| json!({ "user_id": format!("r{r}-u{i}"), "kind": "feedback", "value": 1.0 }))
            .collect();
        let app = &app;
        async move {
            app.post_json("/api/v1/events", &json!({ "events": events }))
                .await
        }
    });
    for (status, body) in futures::future::join_all(requests).await {
        assert_eq!(
            (status, body["accepted"].as_u64()),
            (200, Some(100)),
            "{body}"
        );
    }
    let rows = app
        .db_rows("SELECT COUNT(*), COUNT(DISTINCT user_id) FROM events")
        .await;
    assert_eq!(rows[0], [json!(1200), json!(1200)]);
}

/// `blendlab bench ingest` runs end to end and finds every acknowledged event stored (its figures
/// are in docs/benchmarks.md; this only checks that it works and that its loss check holds).
#[tokio::test]
async fn the_ingest_benchmark_runs_and_loses_nothing() {
    let output = tokio::process::Command::new(blendlab_tests::blendlab_binary())
        .args([
            "bench",
            "ingest",
            "--duration",
            "1s",
            "--clients",
            "4",
            "--batch",
            "50",
            "--json",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let acknowledged = outcome["acknowledged_events"].as_i64().unwrap();
    assert!(acknowledged > 0, "{outcome}");
    assert_eq!(
        outcome["stored_events"].as_i64(),
        Some(acknowledged),
        "{outcome}"
    );
    assert_eq!(outcome["failed_requests"], 0);
}

/// Chat turns are group-committed too: many concurrent turns share commits, and a turn that lost
/// its race for a position fails alone with a conflict, on both stores.
#[tokio::test]
async fn concurrent_turns_commit_together_and_a_lost_race_fails_alone() {
    let dir = blendlab_tests::TempDir::new("turn-commit");
    let postgres = blendlab_tests::PostgresDatabase::create().await;
    for url in [blendlab_tests::database_url(&dir), postgres.url.clone()] {
        turns_commit_together(&url).await;
    }
}

async fn turns_commit_together(url: &str) {
    use blendlab_server::group_commit::TurnWriter;
    use blendlab_store::{ConversationRow, NewMessage, Store, StoreError, TurnWrite};
    let store = Store::connect(url).await.unwrap();
    let writer = TurnWriter::start(store.clone());
    let now = chrono::Utc::now();
    let message = |id: String, role| NewMessage {
        message_id: id,
        role,
        content: "text".into(),
        model: None,
        choice_prob: None,
        latency_ms: None,
        prompt_tokens: None,
        prefill_tokens: None,
        completion_tokens: None,
        finish_reason: None,
        policy_version: None,
        created_at: now,
    };
    let turn = |conversation: usize, id: &str| TurnWrite {
        conversation: ConversationRow {
            conversation_id: format!("c{conversation}"),
            user_id: format!("u{conversation}"),
            experiment: None,
            arm: None,
            created_at: now,
            client_key: None,
        },
        create_conversation: true,
        first_position: 0,
        messages: vec![
            message(format!("{id}-user"), "user"),
            message(format!("{id}-reply"), "assistant"),
        ],
    };
    // 40 new conversations, and a rival first turn for conversation 7 sent with them.
    let writes = (0..40)
        .map(|c| turn(c, &format!("m{c}")))
        .chain([turn(7, "rival")])
        .map(|t| {
            let writer = writer.clone();
            async move { writer.write(t).await }
        });
    let outcomes = futures::future::join_all(writes).await;
    let conflicts = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!(conflicts, 1, "{url}: {outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 40, "{url}");
    for c in 0..40 {
        assert_eq!(
            store.message_count(&format!("c{c}")).await.unwrap(),
            2,
            "{url} c{c}"
        );
    }
}
