use blendlab_analytics::{compute_report, DataDir};
use blendlab_server::reporting::source::request_for;
use blendlab_server::reporting::{daily, export, report_from_store};
use blendlab_store::Store;
use blendlab_tests::{example_definition, spawn_app, TestApp};
use chrono::{Duration, NaiveDate, Utc};
use serde_json::json;

/// Writes a past day's traffic straight into the store, as if the server had served it then.
async fn past_traffic(app: &TestApp, rows: &[(&str, &str, NaiveDate, u32)]) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .unwrap();
    for (i, (user, arm, day, hour)) in rows.iter().enumerate() {
        let at = day
            .and_hms_opt(*hour, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros();
        sqlx::query("INSERT OR IGNORE INTO assignments (experiment, user_id, arm, assigned_at) VALUES ('chai-blend', ?, ?, ?)")
            .bind(user)
            .bind(arm)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
        let conversation = format!("past-{i}");
        sqlx::query("INSERT INTO conversations (conversation_id, user_id, experiment, arm, created_at) VALUES (?, ?, 'chai-blend', ?, ?)")
            .bind(&conversation)
            .bind(user)
            .bind(arm)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
        for (position, role) in ["user", "assistant"].iter().enumerate() {
            sqlx::query(
                "INSERT INTO messages (message_id, conversation_id, position, user_id, experiment, arm, role, content, model, created_at)
                 VALUES (?, ?, ?, ?, 'chai-blend', ?, ?, 'hi', ?, ?)",
            )
            .bind(format!("{conversation}-{position}"))
            .bind(&conversation)
            .bind(position as i64)
            .bind(user)
            .bind(arm)
            .bind(role)
            .bind((position == 1).then_some("large"))
            .bind(at + position as i64 * 3_000_000)
            .execute(&pool)
            .await
            .unwrap();
        }
    }
}

#[tokio::test]
async fn the_daily_job_stores_each_missing_day_once_and_the_history_lists_them() {
    let app = spawn_app().await;
    app.start_experiment(&example_definition()).await;
    let today = Utc::now().date_naive();
    let start = today - Duration::days(3);
    past_traffic(
        &app,
        &[
            ("old-1", "control", start, 9),
            ("old-2", "blend", start, 10),
            ("old-1", "control", start + Duration::days(1), 11),
        ],
    )
    .await;
    let store = Store::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .unwrap();

    let done = daily::catch_up(&store, today).await.unwrap();
    let days = vec![start, start + Duration::days(1), start + Duration::days(2)];
    assert_eq!(
        done,
        vec![("chai-blend".to_owned(), days.clone())],
        "through yesterday, not today"
    );
    let again = daily::catch_up(&store, today).await.unwrap();
    assert_eq!(
        again,
        vec![("chai-blend".to_owned(), vec![])],
        "a stored day is not recomputed"
    );

    let (status, history) = app.get_json("/api/v1/experiments/chai-blend/reports").await;
    assert_eq!(status, 200, "{history}");
    let listed: Vec<_> = history["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["as_of"].clone())
        .collect();
    assert_eq!(
        listed,
        days.iter()
            .map(|d| json!(d.to_string()))
            .collect::<Vec<_>>()
    );

    let day_one = start + Duration::days(1);
    let (status, report) = app
        .get_json(&format!("/api/v1/experiments/chai-blend/reports/{day_one}"))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["as_of"], day_one.to_string());
    let control = &report["arms"][0];
    assert_eq!(
        (
            control["arm"].as_str(),
            control["retention"][1]["retained"].as_u64()
        ),
        (Some("control"), Some(1))
    );

    let (status, body) = app
        .get_json(&format!("/api/v1/experiments/chai-blend/reports/{today}"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("report_not_found"))
    );
}

// Polars' Parquet reader needs a multi-threaded runtime when it runs inside one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_is_incremental_and_reports_the_same_as_the_store() {
    // The live turn must be stored on the day the expectations are made for. A run that crosses
    // UTC midnight meanwhile (read from the store, after the turn) starts again on a fresh app:
    // it cannot cross twice.
    let (app, today) = loop {
        let app = spawn_app().await;
        app.start_experiment(&example_definition()).await;
        let today = Utc::now().date_naive();
        let yesterday = today - Duration::days(1);
        past_traffic(
            &app,
            &[
                ("ex-1", "control", yesterday - Duration::days(1), 8),
                ("ex-2", "blend", yesterday, 9),
            ],
        )
        .await;
        let (status, body) = app.chat("chai-blend", "ex-1", None, "Back again", 4).await;
        assert_eq!(status, 200, "{body}");
        if app.last_traffic_day().await == today {
            break (app, today);
        }
    };
    let yesterday = today - Duration::days(1);
    let store = Store::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .unwrap();
    let out = app.db_path.with_file_name("warehouse");

    let first = export::export(&store, &out, today, today).await.unwrap();
    assert_eq!(
        first.days_written,
        vec![yesterday - Duration::days(1), yesterday, today]
    );
    assert_eq!((first.messages, first.assignments), (6, 2));
    let second = export::export(&store, &out, today, today).await.unwrap();
    assert_eq!(
        second.days_written,
        vec![today],
        "final days are written once; today is refreshed"
    );
    assert_eq!(second.days_skipped, 2);
    assert!(out
        .join(format!("messages/date={yesterday}/part-0.parquet"))
        .is_file());

    let from_store = report_from_store(&store, "chai-blend", today)
        .await
        .unwrap();
    let frames = DataDir::scan(&out).unwrap();
    let definition = serde_json::from_value(example_definition()).unwrap();
    let from_parquet = compute_report(&frames, &request_for(&definition, today).unwrap()).unwrap();
    assert_eq!(from_parquet, from_store);
    assert_eq!(
        from_store.arm("control").unwrap().retention[2].retained,
        1,
        "ex-1 came back on day 2"
    );
}

/// Replicas on one PostgreSQL database: the daily pass runs on one of them at a time, and a
/// replica that dies holding the lock does not block the others.
#[tokio::test]
async fn one_replica_at_a_time_runs_the_daily_job_on_postgres() {
    use sqlx::Connection;
    let database = blendlab_tests::PostgresDatabase::create().await;
    let store = Store::connect(&database.url).await.unwrap();
    let today = Utc::now().date_naive();

    // Another replica is mid-pass: it holds the lock on its own session.
    let mut other = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(daily::DAILY_JOB_LOCK)
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert!(locked);
    let skipped = daily::catch_up_once_across_replicas(&store, today)
        .await
        .unwrap();
    assert_eq!(
        skipped, None,
        "this replica must leave the pass to the other"
    );

    // The other replica dies: its session ends, and with it the lock.
    other.close().await.unwrap();
    let ran = daily::catch_up_once_across_replicas(&store, today)
        .await
        .unwrap();
    assert_eq!(
        ran,
        Some(Vec::new()),
        "nothing is running, so nothing to report, but it ran"
    );
    // And the pass gave the lock back.
    let mut next = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(daily::DAILY_JOB_LOCK)
        .fetch_one(&mut next)
        .await
        .unwrap();
    assert!(free);
}
