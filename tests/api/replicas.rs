//! Two `blendlab serve` processes on one PostgreSQL database, as behind a load balancer: one
//! assignment, one exposure, one log, one experiment state.

use std::time::{Duration, Instant};

use blendlab_tests::{
    assert_reports_match, example_definition, PostgresDatabase, ServerProcess as Replica,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_database_behave_as_one_server() {
    let database = PostgresDatabase::create().await;
    // Both start at once: their migrations race, and one of them runs them.
    let (mut a, mut b) = (Replica::start(&database.url), Replica::start(&database.url));
    a.ready().await;
    b.ready().await;

    // Defined on one replica, started on the other.
    let (status, body) = a
        .call(
            reqwest::Method::POST,
            "/api/v1/experiments",
            Some(example_definition()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = b
        .call(
            reqwest::Method::POST,
            "/api/v1/experiments/chai-blend/start",
            None,
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("running")),
        "{body}"
    );

    // The same user gets the same arm on both.
    for i in 0..20 {
        let path = format!("/api/v1/experiments/chai-blend/assignment/user-{i}");
        let (_, on_a) = a.call(reqwest::Method::GET, &path, None).await;
        let (_, on_b) = b.call(reqwest::Method::GET, &path, None).await;
        assert_eq!(on_a, on_b, "user-{i}");
        assert!(on_a["arm"].is_string(), "{on_a}");
    }

    // Concurrent first requests for one user on both replicas: one exposure, one arm.
    let racers = ["racer-1", "racer-2", "racer-3", "racer-4"];
    for user in racers {
        let ((status_a, on_a), (status_b, on_b)) = tokio::join!(a.chat(user), b.chat(user));
        assert_eq!((status_a, status_b), (200, 200), "{on_a} {on_b}");
        assert_eq!(on_a["arm"], on_b["arm"], "{user}");
    }
    let store = blendlab_store::Store::connect(&database.url).await.unwrap();
    let exposures: i64 = store
        .exposure_count("chai-blend")
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(exposures, racers.len() as i64);

    // Messages written through both replicas are in one report, whichever replica computes it.
    let today = blendlab_tests::last_message_day(&database.url).await;
    let path = format!("/api/v1/experiments/chai-blend/report?as_of={today}");
    let (status, report) = b.call(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{report}");
    let arms = report["arms"].as_array().unwrap();
    let users: u64 = arms.iter().map(|arm| arm["users"].as_u64().unwrap()).sum();
    assert_eq!(users, racers.len() as u64);
    let messages: u64 = arms
        .iter()
        .map(|arm| arm["guardrails"]["messages"].as_u64().unwrap())
        .sum();
    assert_eq!(messages, 2 * 2 * racers.len() as u64, "{report}");
    let (_, same_on_a) = a.call(reqwest::Method::GET, &path, None).await;
    assert_reports_match(&same_on_a, &report);

    // Stopped on one replica, the other stops serving it within 5 seconds.
    let (status, _) = a
        .call(
            reqwest::Method::POST,
            "/api/v1/experiments/chai-blend/stop",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let stopped = Instant::now();
    loop {
        let (status, body) = b
            .chat(&format!("after-stop-{}", stopped.elapsed().as_millis()))
            .await;
        if status == 409 {
            assert_eq!(body["error"]["code"], "experiment_not_running", "{body}");
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "still serving: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
