//! Group commit under a database that refuses some writes. Its own test binary: it reads the
//! process-wide `blendlab_database_errors_total` counter, which no other test may move meanwhile.

/// Group commit writes many requests in one transaction. Whatever the grouping, a write that was
/// acknowledged is stored whole, a write that failed left nothing behind, and a bad batch fails
/// alone, not the good ones that happened to share its transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_commit_fails_its_writes_and_stores_none_of_them() {
    use blendlab_server::group_commit::EventWriter;
    use blendlab_store::{NewEvent, Store};

    let dir = blendlab_tests::TempDir::new("group-commit");
    let url = blendlab_tests::database_url(&dir);
    let store = Store::connect(&url).await.unwrap();
    // A database-level refusal: any batch holding a `poison` event fails at commit time.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.kind = 'poison'
         BEGIN SELECT RAISE(ABORT, 'poisoned batch'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    let writer = EventWriter::start(store.clone());
    let errors_before = blendlab_store::database_errors();
    let writes = (0..24).map(|w| {
        let writer = writer.clone();
        let events: Vec<NewEvent> = (0..50)
            .map(|i| NewEvent {
                user_id: format!("w{w}"),
                conversation_id: None,
                message_id: None,
                kind: if w % 5 == 3 && i == 49 {
                    "poison"
                } else {
                    "feedback"
                }
                .into(),
                value: Some(f64::from(i)),
                created_at: chrono::Utc::now(),
            })
            .collect();
        async move { (w, writer.write(events).await) }
    });
    let outcomes = futures::future::join_all(writes).await;
    let mut acknowledged = 0;
    for (w, outcome) in &outcomes {
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE user_id = $1")
            .bind(format!("w{w}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        match outcome {
            Ok(()) => {
                assert_eq!(stored, 50, "write {w} was acknowledged");
                acknowledged += 1;
            }
            Err(_) => assert_eq!(stored, 0, "write {w} failed"),
        }
        assert_eq!(outcome.is_err(), w % 5 == 3, "write {w}: {outcome:?}");
    }
    assert_eq!(store.event_count().await.unwrap(), 50 * acknowledged);
    // `/metrics` counts each refused write: the five poisoned writes, each once alone, plus each
    // group that held one. This binary runs this test alone, so nothing else moves the
    // process-wide counter.
    let refused = blendlab_store::database_errors() - errors_before;
    assert!(
        (5..=10).contains(&refused),
        "{refused} database errors counted"
    );
}
