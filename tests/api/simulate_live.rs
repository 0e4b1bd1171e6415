//! `blendlab simulate --live`: real HTTP chat traffic with the real model against a running app.

use blendlab_simulator::simulate::{drive, LiveArgs};
use blendlab_tests::{example_definition, spawn_app, ADMIN_TOKEN};

#[tokio::test]
async fn live_traffic_is_answered_measured_and_logged() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let args = LiveArgs {
        url: Some(app.address.clone()),
        rate: 2.0,
        duration: "3s".into(),
        max_tokens: 8,
        live_users: 4,
        token: Some(ADMIN_TOKEN.into()),
        json: true,
    };
    let summary = drive("chai-blend", &args, &app.address, 3).await.unwrap();
    // About 6 arrivals in 3 s at 2 a second; one whose every user is still waiting for a reply is
    // skipped and counted (a loaded machine can take seconds a reply), never lost.
    let skipped = summary
        .statuses
        .get("skipped_all_users_busy")
        .copied()
        .unwrap_or(0);
    assert!(
        summary.sent >= 1 && summary.sent + skipped >= 5,
        "{summary:?}"
    );
    assert_eq!(summary.ok, summary.sent, "{summary:?}");
    assert_eq!(summary.statuses.get("200"), Some(&summary.ok));
    let (p50, p99) = (
        summary.latency_ms_p50.unwrap(),
        summary.latency_ms_p99.unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= summary.latency_ms_max.unwrap());
    assert_eq!(summary.arms.values().sum::<u64>(), summary.ok);
    assert!(summary.completion_tokens > 0);

    // Every answered turn is in the store: the user message and the reply.
    let rows = app
        .db_rows("SELECT COUNT(*) FROM messages WHERE user_id LIKE 'live3-%'")
        .await;
    assert_eq!(rows[0][0].as_i64().unwrap() as u64, 2 * summary.ok);

    // Without credentials every turn is refused, and counted as such rather than lost.
    let refused = drive(
        "chai-blend",
        &LiveArgs {
            token: None,
            duration: "1s".into(),
            ..args
        },
        &app.address,
        4,
    )
    .await
    .unwrap();
    assert_eq!(refused.ok, 0);
    assert_eq!(
        refused.statuses.get("401"),
        Some(&refused.sent),
        "{refused:?}"
    );
}
