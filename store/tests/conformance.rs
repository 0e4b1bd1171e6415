//! The store's behaviour, case by case, on both databases: every case runs on a fresh SQLite file
//! and on a fresh PostgreSQL database. Replicas and reports rely on exactly these guarantees.

use blendlab_experiments::{ExperimentDefinition, UserAttributes};
use blendlab_store::{
    ClientKeyRow, ConversationRow, ExperimentStatus, NewEvent, NewMessage, SimulatedAssignment,
    SimulatedBatch, SimulatedConversation, SimulatedMessage, Store, StoreError,
};
use blendlab_tests::{
    assert_reports_match, database_url, example_definition, PostgresDatabase, TempDir,
};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

/// A store of one kind, kept alive (with its file or database) for one case.
struct Fresh {
    store: Store,
    url: String,
    _sqlite: Option<TempDir>,
    _postgres: Option<PostgresDatabase>,
}

impl Fresh {
    async fn sqlite() -> Self {
        let dir = TempDir::new("conformance");
        let url = database_url(&dir);
        let store = Store::connect(&url).await.unwrap();
        assert_eq!(store.kind(), "sqlite");
        Self {
            store,
            url,
            _sqlite: Some(dir),
            _postgres: None,
        }
    }

    async fn postgres() -> Self {
        let database = PostgresDatabase::create().await;
        let store = Store::connect(&database.url).await.unwrap();
        assert_eq!(store.kind(), "postgres");
        Self {
            store,
            url: database.url.clone(),
            _sqlite: None,
            _postgres: Some(database),
        }
    }
}

/// Each case as a test on SQLite and a test on PostgreSQL.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                super::$case(&super::Fresh::sqlite().await.store).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                super::$case(&super::Fresh::postgres().await.store).await;
            })*
        }
    };
}

conformance!(
    experiments_move_from_draft_to_running_to_stopped,
    the_first_exposure_is_stored_once_under_concurrent_first_requests,
    a_user_keeps_the_time_they_were_first_seen,
    turns_append_in_order_and_a_taken_position_is_a_conflict,
    the_log_reads_back_exactly_as_the_analytics_columns,
    daily_reports_are_stored_replaced_and_listed,
    simulated_history_is_written_in_bulk_and_recognised,
    erasing_a_user_deletes_their_log_and_anonymises_their_exposure,
    client_keys_are_stored_listed_and_revoked_once,
    reward_counts_know_only_the_cutoff_and_a_snapshot_version_is_settled_once,
);

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap()
}

/// 2026-11-01T10:00:00.123456Z: microseconds must survive the round trip.
const T0: i64 = 1_793_527_200_123_456;

fn definition() -> ExperimentDefinition {
    serde_json::from_value(example_definition()).unwrap()
}

async fn experiments_move_from_draft_to_running_to_stopped(store: &Store) {
    let mut definition = definition();
    store.insert_experiment(&definition, at(T0)).await.unwrap();
    let again = store.insert_experiment(&definition, at(T0 + 1)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    definition.name = "renamed while a draft".into();
    let updated = store
        .update_definition(&definition, ExperimentStatus::Draft, at(T0 + 2))
        .await
        .unwrap();
    assert!(updated);
    store
        .start_experiment("chai-blend", at(T0 + 3))
        .await
        .unwrap();
    // A running experiment's definition is not replaced by an update expecting a draft.
    definition.name = "renamed while running".into();
    let updated = store
        .update_definition(&definition, ExperimentStatus::Draft, at(T0 + 4))
        .await
        .unwrap();
    assert!(!updated);
    // Starting again changes nothing.
    store
        .start_experiment("chai-blend", at(T0 + 5))
        .await
        .unwrap();

    let row = store.experiment("chai-blend").await.unwrap().unwrap();
    assert_eq!(row.status, ExperimentStatus::Running);
    assert_eq!(row.definition.name, "renamed while a draft");
    assert_eq!(row.created_at, at(T0));
    assert_eq!(row.updated_at, at(T0 + 3));
    assert_eq!(row.started_at, Some(at(T0 + 3)));
    assert_eq!(row.stopped_at, None);

    store
        .stop_experiment("chai-blend", at(T0 + 6))
        .await
        .unwrap();
    store
        .stop_experiment("chai-blend", at(T0 + 7))
        .await
        .unwrap();
    let row = store.experiment("chai-blend").await.unwrap().unwrap();
    assert_eq!(row.status, ExperimentStatus::Stopped);
    assert_eq!(row.stopped_at, Some(at(T0 + 6)));

    let mut second = definition.clone();
    second.key = "another".into();
    store.insert_experiment(&second, at(T0 + 8)).await.unwrap();
    let keys: Vec<_> = store
        .experiments()
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.definition.key)
        .collect();
    assert_eq!(keys, ["chai-blend", "another"]);
    assert!(store.experiment("absent").await.unwrap().is_none());
}

async fn the_first_exposure_is_stored_once_under_concurrent_first_requests(store: &Store) {
    store
        .insert_experiment(&definition(), at(T0))
        .await
        .unwrap();
    let attributes_of = |i: i64| {
        UserAttributes::parse(BTreeMap::from([
            ("platform".to_owned(), format!("p{i}")),
            ("locale".to_owned(), "en-GB".to_owned()),
        ]))
        .unwrap()
    };
    let attempts = (0..16).map(|i| {
        let arm = if i % 2 == 0 { "control" } else { "blend" };
        let attributes = attributes_of(i);
        async move {
            let stored = store
                .record_exposure("chai-blend", "racer", arm, &attributes, at(T0 + i))
                .await
                .unwrap();
            (stored, arm, i)
        }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let winners: Vec<_> = outcomes.iter().filter(|(stored, _, _)| *stored).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let (_, arm, i) = winners[0];
    let stored = store
        .assignment("chai-blend", "racer")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.arm, *arm);
    assert_eq!(stored.assigned_at, at(T0 + i));
    // The first exposure's attributes, whichever request carried them; a later request's
    // attributes change nothing.
    assert_eq!(stored.attributes, attributes_of(*i));
    assert!(!store
        .record_exposure(
            "chai-blend",
            "racer",
            "blend",
            &attributes_of(99),
            at(T0 + 99)
        )
        .await
        .unwrap());
    let columns = store.assignment_columns("chai-blend").await.unwrap();
    assert_eq!(columns.attributes, [attributes_of(*i)]);

    store
        .record_exposure(
            "chai-blend",
            "later",
            "blend",
            &UserAttributes::default(),
            at(T0 + 86_400_000_000),
        )
        .await
        .unwrap();
    let later = store
        .assignment("chai-blend", "later")
        .await
        .unwrap()
        .unwrap();
    assert!(later.attributes.is_empty());
    let counts = store.exposure_count("chai-blend").await.unwrap();
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 2);
    let days = store.exposures_per_day("chai-blend").await.unwrap();
    let first_day = at(T0).date_naive();
    assert_eq!(days.first().unwrap().0, first_day);
    assert_eq!(
        days.last().unwrap(),
        &(first_day.succ_opt().unwrap(), "blend".into(), 1)
    );
    assert!(store
        .assignment("chai-blend", "nobody")
        .await
        .unwrap()
        .is_none());
}

async fn a_user_keeps_the_time_they_were_first_seen(store: &Store) {
    assert_eq!(store.touch_user("u1", at(T0)).await.unwrap(), at(T0));
    assert_eq!(store.touch_user("u1", at(T0 + 10)).await.unwrap(), at(T0));
    assert_eq!(store.user_first_seen("u1").await.unwrap(), Some(at(T0)));
    assert_eq!(store.user_first_seen("u2").await.unwrap(), None);
}

fn message(id: &str, role: &'static str, micros: i64) -> NewMessage {
    let assistant = role == "assistant";
    NewMessage {
        message_id: id.into(),
        role,
        content: format!("text of {id} — ünïcödé"),
        model: assistant.then(|| "small-b".to_owned()),
        choice_prob: assistant.then_some(1.0 / 3.0),
        latency_ms: assistant.then_some(412.5),
        prompt_tokens: assistant.then_some(37),
        prefill_tokens: assistant.then_some(5),
        completion_tokens: assistant.then_some(12),
        finish_reason: assistant.then_some("stop"),
        policy_version: None,
        created_at: at(micros),
    }
}

fn conversation(id: &str, user: &str) -> ConversationRow {
    ConversationRow {
        conversation_id: id.into(),
        user_id: user.into(),
        experiment: Some("chai-blend".into()),
        arm: Some("blend".into()),
        created_at: at(T0),
        client_key: Some("key-of-the-client".into()),
    }
}

async fn turns_append_in_order_and_a_taken_position_is_a_conflict(store: &Store) {
    let conv = conversation("c1", "u1");
    let turn = [
        message("m0", "user", T0),
        message("m1", "assistant", T0 + 1),
    ];
    store.append_messages(&conv, true, 0, &turn).await.unwrap();
    assert_eq!(store.conversation("c1").await.unwrap(), Some(conv.clone()));

    // Another replica's turn took positions 2 and 3 first: this one writes nothing.
    let winner = [
        message("m2", "user", T0 + 2),
        message("m3", "assistant", T0 + 3),
    ];
    store
        .append_messages(&conv, false, 2, &winner)
        .await
        .unwrap();
    let loser = [
        message("x2", "user", T0 + 2),
        message("x3", "assistant", T0 + 3),
    ];
    let conflict = store.append_messages(&conv, false, 2, &loser).await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict(_))),
        "{conflict:?}"
    );
    assert_eq!(store.message_count("c1").await.unwrap(), 4);

    let stored = store.messages("c1").await.unwrap();
    let ids: Vec<_> = stored.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["m0", "m1", "m2", "m3"]);
    let reply = &stored[1];
    assert_eq!(reply.position, 1);
    assert_eq!(reply.role, "assistant");
    assert_eq!(reply.content, "text of m1 — ünïcödé");
    assert_eq!(reply.model.as_deref(), Some("small-b"));
    assert_eq!(reply.choice_prob, Some(1.0 / 3.0));
    assert_eq!(reply.latency_ms, Some(412.5));
    assert_eq!(
        (reply.prompt_tokens, reply.completion_tokens),
        (Some(37), Some(12))
    );
    assert_eq!(reply.created_at, at(T0 + 1));
    assert_eq!(stored[0].model, None);
    assert!(store.conversation("absent").await.unwrap().is_none());
}

async fn the_log_reads_back_exactly_as_the_analytics_columns(store: &Store) {
    store
        .insert_experiment(&definition(), at(T0))
        .await
        .unwrap();
    store
        .record_exposure(
            "chai-blend",
            "u1",
            "blend",
            &UserAttributes::default(),
            at(T0),
        )
        .await
        .unwrap();
    let turn = [
        message("m0", "user", T0 + 5),
        message("m1", "assistant", T0 + 6),
    ];
    store
        .append_messages(&conversation("c1", "u1"), true, 0, &turn)
        .await
        .unwrap();
    // A user who was never exposed: not in the experiment's log, but in the export.
    let outsider = [message("o0", "user", T0 + 7)];
    store
        .append_messages(&conversation("c2", "outsider"), true, 0, &outsider)
        .await
        .unwrap();
    let event = |user: &str, kind: &str, value: Option<f64>, micros: i64| NewEvent {
        user_id: user.into(),
        conversation_id: Some("c1".into()),
        message_id: Some("m1".into()),
        kind: kind.into(),
        value,
        created_at: at(micros),
    };
    let events = [
        event("u1", "feedback", Some(1.0), T0 + 8),
        event("outsider", "retry", None, T0 + 9),
    ];
    store
        .insert_events(&events.iter().collect::<Vec<_>>())
        .await
        .unwrap();

    let assignments = store.assignment_columns("chai-blend").await.unwrap();
    assert_eq!(
        (
            assignments.user_id,
            assignments.arm,
            assignments.assigned_at
        ),
        (vec!["u1".to_owned()], vec!["blend".to_owned()], vec![T0])
    );

    let messages = store.message_columns("chai-blend", T0 + 100).await.unwrap();
    let mut ids = messages.message_id.clone();
    ids.sort();
    assert_eq!(ids, ["m0", "m1"]);
    let reply = messages
        .message_id
        .iter()
        .position(|id| id == "m1")
        .unwrap();
    assert_eq!(messages.role[reply], "assistant");
    assert_eq!(messages.model[reply].as_deref(), Some("small-b"));
    assert_eq!(messages.created_at[reply], T0 + 6);
    assert_eq!(messages.latency_ms[reply], Some(412.5));
    assert_eq!(messages.prompt_tokens[reply], Some(37));
    assert_eq!(messages.completion_tokens[reply], Some(12));
    assert_eq!(messages.choice_prob[reply], Some(1.0 / 3.0));
    assert_eq!(
        messages.content_chars[reply],
        "text of m1 — ünïcödé".chars().count() as i64
    );
    assert_eq!(messages.finish_reason[reply].as_deref(), Some("stop"));
    // `until` is exclusive.
    assert_eq!(
        store
            .message_columns("chai-blend", T0 + 6)
            .await
            .unwrap()
            .message_id,
        ["m0"]
    );

    let events = store.event_columns("chai-blend", T0 + 100).await.unwrap();
    assert_eq!(
        (events.user_id, events.kind, events.value),
        (
            vec!["u1".to_owned()],
            vec!["feedback".to_owned()],
            vec![Some(1.0)]
        )
    );

    let export = store.messages_between(T0, T0 + 100).await.unwrap();
    assert_eq!(export.message_id, ["m0", "m1", "o0"]);
    let export_events = store.events_between(T0 + 9, T0 + 10).await.unwrap();
    assert_eq!(
        (export_events.kind, export_events.value),
        (vec!["retry".to_owned()], vec![None])
    );
    assert_eq!(store.first_activity_micros().await.unwrap(), Some(T0 + 5));
    assert_eq!(
        store.first_exposure_micros("chai-blend").await.unwrap(),
        Some(T0)
    );
    assert_eq!(store.first_exposure_micros("absent").await.unwrap(), None);
    let (experiments, all) = store.all_assignment_columns().await.unwrap();
    assert_eq!(
        (experiments, all.user_id),
        (vec!["chai-blend".to_owned()], vec!["u1".to_owned()])
    );
}

async fn daily_reports_are_stored_replaced_and_listed(store: &Store) {
    store
        .insert_experiment(&definition(), at(T0))
        .await
        .unwrap();
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    assert!(store.latest_report("chai-blend").await.unwrap().is_none());
    for d in [3, 1, 2] {
        let report = serde_json::json!({ "as_of": day(d), "version": 1 });
        store
            .save_report("chai-blend", day(d), &report, at(T0))
            .await
            .unwrap();
    }
    let replaced = serde_json::json!({ "as_of": day(2), "version": 2 });
    store
        .save_report("chai-blend", day(2), &replaced, at(T0 + 1))
        .await
        .unwrap();

    assert_eq!(
        store.report_days("chai-blend").await.unwrap(),
        [day(1), day(2), day(3)]
    );
    let all = store.reports("chai-blend").await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.as_of).collect::<Vec<_>>(),
        [day(1), day(2), day(3)]
    );
    let second = store
        .stored_report("chai-blend", day(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.report, replaced);
    assert_eq!(second.computed_at, at(T0 + 1));
    assert!(store
        .stored_report("chai-blend", day(4))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .latest_report("chai-blend")
            .await
            .unwrap()
            .unwrap()
            .as_of,
        day(3)
    );
}

async fn simulated_history_is_written_in_bulk_and_recognised(store: &Store) {
    store
        .insert_experiment(&definition(), at(T0))
        .await
        .unwrap();
    let users = 1_000;
    let mut batch = SimulatedBatch::default();
    for u in 0..users {
        let user_id = format!("sim7-{u}");
        let conversation_id = format!("sim7-c{u}");
        batch.assignments.push(SimulatedAssignment {
            user_id: user_id.clone(),
            arm: if u % 2 == 0 {
                "control".into()
            } else {
                "blend".into()
            },
            assigned_at: T0 + u,
            attributes: UserAttributes::default(),
        });
        batch.conversations.push(SimulatedConversation {
            conversation_id: conversation_id.clone(),
            user_id: user_id.clone(),
            arm: "blend".into(),
            created_at: T0 + u,
        });
        for position in 0..2u32 {
            batch.messages.push(SimulatedMessage {
                message_id: format!("sim7-m{u}-{position}"),
                conversation_id: conversation_id.clone(),
                position,
                user_id: user_id.clone(),
                arm: "blend".into(),
                model: (position == 1).then(|| "small-a".to_owned()),
                content: "simulated",
                choice_prob: (position == 1).then_some(0.5),
                policy_version: (position == 1).then_some(u),
                latency_ms: None,
                prompt_tokens: None,
                completion_tokens: None,
                created_at: T0 + u + i64::from(position),
            });
        }
    }
    // The same user twice in one load (another experiment's seed, say) is not an error.
    store.touch_user("sim7-0", at(T0)).await.unwrap();
    let mut writer = store.simulated_writer("chai-blend").await.unwrap();
    writer.insert(&batch).await.unwrap();
    writer.finish().await.unwrap();

    assert!(store
        .has_users_with_prefix("chai-blend", "sim7-")
        .await
        .unwrap());
    assert!(!store
        .has_users_with_prefix("chai-blend", "sim8-")
        .await
        .unwrap());
    assert!(!store
        .has_users_with_prefix("another", "sim7-")
        .await
        .unwrap());
    let counts = store.exposure_count("chai-blend").await.unwrap();
    assert_eq!(
        counts,
        [
            ("blend".to_owned(), users / 2),
            ("control".to_owned(), users / 2)
        ]
    );
    let messages = store
        .message_columns("chai-blend", T0 + 10_000)
        .await
        .unwrap();
    assert_eq!(messages.message_id.len() as i64, 2 * users);
    let versions: Vec<i64> = messages.policy_version.iter().flatten().copied().collect();
    assert_eq!(versions.len() as i64, users, "one version per reply");
    assert_eq!(versions.iter().sum::<i64>(), users * (users - 1) / 2);
    assert_eq!(store.message_count("sim7-c999").await.unwrap(), 2);
}

/// The same simulated history seeded into each store gives the same report (every count exactly,
/// every mean and statistic to 1e-9), and so does the Parquet export of the PostgreSQL store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_over_postgres_equals_the_report_over_sqlite() {
    use blendlab_analytics::report::day_number;
    use blendlab_analytics::{compute_report, DataDir};
    use blendlab_experiments::Experiment;
    use blendlab_server::reporting::{
        export, report_from_store_on,
        source::{part_series, request_for},
    };
    use blendlab_simulator::simulate;

    let (sqlite, postgres) = (Fresh::sqlite().await, Fresh::postgres().await);
    let experiment = Experiment::parse(definition(), |_| true).unwrap();
    // The clock is pinned: which days are final (kept) depends on the day the report runs.
    let today = Utc::now().date_naive();
    let mut reports = Vec::new();
    for fresh in [&sqlite, &postgres] {
        let population = simulate::demo_population(&experiment, 600, today);
        simulate::seed_store(experiment.clone(), population, &fresh.url)
            .await
            .unwrap()
            .expect("a fresh store takes the seed");
        let report = report_from_store_on(&fresh.store, "chai-blend", today, today)
            .await
            .unwrap();
        reports.push(serde_json::to_value(report).unwrap());
    }
    assert_eq!(
        reports[0]["arms"][0]["users"].as_u64().unwrap()
            + reports[0]["arms"][1]["users"].as_u64().unwrap(),
        600
    );
    assert_reports_match(&reports[0], &reports[1]);

    // Each report kept the parts of the finished days (all but yesterday and today), and the
    // next report reads them back instead of the log.
    let series = part_series(&request_for(&definition(), today).unwrap()).unwrap();
    for (fresh, first) in [&sqlite, &postgres].into_iter().zip(&reports) {
        let kept = fresh
            .store
            .report_parts("chai-blend", &series)
            .await
            .unwrap();
        assert!(kept.len() > 30, "{} days kept", kept.len());
        let last_kept = *kept.keys().last().unwrap();
        assert_eq!(last_kept, day_number(today) - 2);
        let again = report_from_store_on(&fresh.store, "chai-blend", today, today)
            .await
            .unwrap();
        assert_reports_match(&serde_json::to_value(again).unwrap(), first);
    }

    // The warehouse export of the PostgreSQL store reports the same again.
    let out = TempDir::new("postgres-export");
    let summary = export::export(&postgres.store, &out.0, today, today)
        .await
        .unwrap();
    assert!(
        summary.messages > 0 && summary.days_written.len() > 30,
        "{summary:?}"
    );
    let frames = DataDir::scan(&out.0).unwrap();
    let from_parquet =
        compute_report(&frames, &request_for(&definition(), today).unwrap()).unwrap();
    assert_reports_match(&serde_json::to_value(from_parquet).unwrap(), &reports[1]);
}

async fn erasing_a_user_deletes_their_log_and_anonymises_their_exposure(store: &Store) {
    store
        .insert_experiment(&definition(), at(T0))
        .await
        .unwrap();
    for user in ["gone", "stays"] {
        store.touch_user(user, at(T0)).await.unwrap();
        store
            .record_exposure(
                "chai-blend",
                user,
                "blend",
                &UserAttributes::default(),
                at(T0),
            )
            .await
            .unwrap();
        let turn = [
            message(&format!("{user}-m0"), "user", T0 + 1),
            message(&format!("{user}-m1"), "assistant", T0 + 2),
        ];
        store
            .append_messages(&conversation(&format!("{user}-c"), user), true, 0, &turn)
            .await
            .unwrap();
    }
    let event = NewEvent {
        user_id: "gone".into(),
        conversation_id: None,
        message_id: None,
        kind: "retry".into(),
        value: None,
        created_at: at(T0 + 3),
    };
    store.insert_events(&[&event]).await.unwrap();
    // A kept day part of the incremental report counted the user's messages.
    store
        .keep_report_parts("chai-blend", "series", vec![(20_000, vec![1, 2, 3])])
        .await
        .unwrap();

    let erased = store.delete_user("gone").await.unwrap();
    assert!(erased.found);
    assert_eq!(
        (
            erased.messages,
            erased.conversations,
            erased.events,
            erased.exposures_anonymised
        ),
        (2, 1, 1, 1)
    );
    let anonymous_id = erased.anonymous_id.unwrap();
    assert!(store
        .report_parts("chai-blend", "series")
        .await
        .unwrap()
        .is_empty());
    assert!(store.conversation("gone-c").await.unwrap().is_none());
    assert_eq!(store.user_first_seen("gone").await.unwrap(), None);
    assert!(store
        .assignment("chai-blend", "gone")
        .await
        .unwrap()
        .is_none());
    let kept = store
        .assignment("chai-blend", &anonymous_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((kept.arm.as_str(), kept.assigned_at), ("blend", at(T0)));
    assert_eq!(store.event_count().await.unwrap(), 0);
    assert_eq!(store.message_count("stays-c").await.unwrap(), 2);
    assert_eq!(
        store
            .assignment_columns("chai-blend")
            .await
            .unwrap()
            .user_id
            .len(),
        2
    );

    let again = store.delete_user("gone").await.unwrap();
    assert!(!again.found);
    assert_eq!(again.anonymous_id, None);
}

async fn client_keys_are_stored_listed_and_revoked_once(store: &Store) {
    let key = |id: &str, micros| ClientKeyRow {
        key_id: id.into(),
        name: format!("team {id}"),
        secret_sha256: "ab".repeat(32),
        requests_per_minute: 600,
        created_at: at(micros),
        revoked_at: None,
    };
    store.insert_client_key(&key("k2", T0 + 1)).await.unwrap();
    store.insert_client_key(&key("k1", T0)).await.unwrap();
    assert_eq!(store.client_key("k1").await.unwrap(), Some(key("k1", T0)));
    assert_eq!(store.client_key("nope").await.unwrap(), None);
    let listed: Vec<_> = store.client_keys().await.unwrap();
    assert_eq!(listed, [key("k1", T0), key("k2", T0 + 1)]);

    let revoked = store.revoke_client_key("k1", at(T0 + 5)).await.unwrap();
    assert_eq!(revoked.unwrap().revoked_at, Some(at(T0 + 5)));
    // Revoking again keeps the first revocation time.
    let again = store.revoke_client_key("k1", at(T0 + 9)).await.unwrap();
    assert_eq!(again.unwrap().revoked_at, Some(at(T0 + 5)));
    assert_eq!(store.revoke_client_key("nope", at(T0)).await.unwrap(), None);
    assert_eq!(
        store.client_key("k2").await.unwrap().unwrap().revoked_at,
        None
    );
}

/// A bulk load into an empty SQLite log builds the time and user indexes once, at the end; a
/// load that never finishes (a crash) gets them back at the next start.
#[tokio::test]
async fn a_bulk_load_into_an_empty_sqlite_log_indexes_at_the_end() {
    let fresh = Fresh::sqlite().await;
    let deferred = "SELECT count(*) FROM sqlite_master WHERE type = 'index'
                    AND name IN ('messages_by_time', 'messages_by_user', 'events_by_time')";
    let indexes = || async {
        let pool = sqlx::SqlitePool::connect(&fresh.url).await.unwrap();
        let n: i64 = sqlx::query_scalar(deferred).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    };
    assert_eq!(indexes().await, 3);

    let writer = fresh.store.simulated_writer("chai-blend").await.unwrap();
    assert_eq!(indexes().await, 0, "deferred while the log is empty");
    writer.finish().await.unwrap();
    assert_eq!(indexes().await, 3);

    let interrupted = fresh.store.simulated_writer("chai-blend").await.unwrap();
    drop(interrupted);
    assert_eq!(indexes().await, 0);
    let restarted = Store::connect(&fresh.url).await.unwrap();
    assert_eq!(indexes().await, 3, "restored at start");
    drop(restarted);
}

/// The reward counts of adaptive arms, and policy snapshots settled once per version.
async fn reward_counts_know_only_the_cutoff_and_a_snapshot_version_is_settled_once(store: &Store) {
    use blendlab_experiments::{Reward, RewardCounts};
    use blendlab_store::{PolicySnapshotRow, SnapshotModel};
    const S: i64 = 1_000_000;
    let window = blendlab_store::CONTINUATION_WINDOW_S * S;
    let counts = |successes, failures| RewardCounts {
        successes,
        failures,
    };
    let reply_by = |id: &str, model: &str, micros: i64| NewMessage {
        model: Some(model.to_owned()),
        ..message(id, "assistant", micros)
    };
    // c1: small-b replies at +1 s (the user answers at +61 s) and at +62 s (no answer).
    let turns = [
        message("m0", "user", T0),
        reply_by("m1", "small-b", T0 + S),
        message("m2", "user", T0 + 61 * S),
        reply_by("m3", "small-b", T0 + 62 * S),
    ];
    store
        .append_messages(&conversation("c1", "u1"), true, 0, &turns)
        .await
        .unwrap();
    // c2: small-a replies at +1 s and the user answers only after the window.
    let late = T0 + S + window + 200 * S;
    let turns = [
        message("n0", "user", T0),
        reply_by("n1", "small-a", T0 + S),
        message("n2", "user", late),
    ];
    store
        .append_messages(&conversation("c2", "u2"), true, 0, &turns)
        .await
        .unwrap();
    let models = ["small-a", "small-b", "small-c"].map(String::from);
    let continuation = |cutoff| {
        store.reward_counts(
            "chai-blend",
            "blend",
            &models,
            Reward::Continuation,
            at(cutoff),
        )
    };
    assert_eq!(
        continuation(T0 + 30 * S).await.unwrap(),
        [counts(0, 0), counts(0, 0), counts(0, 0)],
        "at +30 s every reply is still open"
    );
    assert_eq!(
        continuation(T0 + 100 * S).await.unwrap(),
        [counts(0, 0), counts(1, 0), counts(0, 0)],
        "m1 continued; m3 is open"
    );
    assert_eq!(
        continuation(T0 + 62 * S + window + S).await.unwrap(),
        [counts(0, 1), counts(1, 1), counts(0, 0)],
        "past the window, the replies nobody answered in time count 0"
    );
    assert_eq!(
        continuation(late + S).await.unwrap(),
        [counts(0, 1), counts(1, 1), counts(0, 0)],
        "an answer after the window does not make a continuation"
    );
    assert_eq!(
        store
            .reward_counts(
                "chai-blend",
                "control",
                &models,
                Reward::Continuation,
                at(late)
            )
            .await
            .unwrap(),
        [counts(0, 0), counts(0, 0), counts(0, 0)],
        "another arm's replies are not this arm's"
    );

    let feedback = |message: &str, value: f64, micros: i64| NewEvent {
        user_id: "u1".into(),
        conversation_id: Some("c1".into()),
        message_id: Some(message.into()),
        kind: "feedback".into(),
        value: Some(value),
        created_at: at(micros),
    };
    let events = [
        feedback("m1", 1.0, T0 + 5 * S),
        feedback("m1", -1.0, T0 + 6 * S),
        feedback("m3", -1.0, T0 + 70 * S),
    ];
    store
        .insert_events(&events.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    let feedback_counts =
        |cutoff| store.reward_counts("chai-blend", "blend", &models, Reward::Feedback, at(cutoff));
    assert_eq!(
        feedback_counts(T0 + 10 * S).await.unwrap(),
        [counts(0, 0), counts(1, 0), counts(0, 0)],
        "m1's best feedback is positive; m3 has none yet"
    );
    assert_eq!(
        feedback_counts(T0 + 100 * S).await.unwrap(),
        [counts(0, 0), counts(1, 1), counts(0, 0)]
    );

    let snapshot = |version: i64, first: f64| PolicySnapshotRow {
        experiment: "chai-blend".into(),
        arm: "blend".into(),
        version,
        cutoff: at(T0 + version * 60 * S),
        computed_at: at(T0 + version * 60 * S + 7),
        models: vec![
            SnapshotModel {
                model: "small-a".into(),
                probability: first,
                successes: 3,
                failures: 1,
            },
            SnapshotModel {
                model: "small-b".into(),
                probability: 1.0 - first,
                successes: 0,
                failures: 4,
            },
        ],
    };
    let settled = store
        .settle_policy_snapshot(&snapshot(7, 0.75))
        .await
        .unwrap();
    assert_eq!(settled, snapshot(7, 0.75));
    let again = store
        .settle_policy_snapshot(&snapshot(7, 0.5))
        .await
        .unwrap();
    assert_eq!(again, snapshot(7, 0.75), "the first stored version wins");
    store
        .settle_policy_snapshot(&snapshot(8, 0.9))
        .await
        .unwrap();
    let history = store.policy_snapshots("chai-blend", "blend").await.unwrap();
    assert_eq!(history, vec![snapshot(7, 0.75), snapshot(8, 0.9)]);
    assert!(store
        .policy_snapshots("chai-blend", "control")
        .await
        .unwrap()
        .is_empty());
}

/// A user enrolled after the incremental report kept the days of their earlier activity still
/// has that activity counted as pre-exposure (CUPED's covariate): the store sends the user
/// messages of each enrolled user's 14 days before exposure beside the days not yet kept, and the
/// report equals the one pass over the export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_exposure_activity_counts_for_users_enrolled_after_their_days_were_kept() {
    use blendlab_analytics::pipeline::DAY_MICROS;
    use blendlab_analytics::report::day_number;
    use blendlab_analytics::{compute_report, DataDir};
    use blendlab_experiments::Experiment;
    use blendlab_server::reporting::{export, report_from_store_on, source::request_for};
    use blendlab_simulator::simulate;

    let fresh = Fresh::sqlite().await;
    let experiment = Experiment::parse(definition(), |_| true).unwrap();
    let today = Utc::now().date_naive();
    let population = simulate::demo_population(&experiment, 300, today);
    simulate::seed_store(experiment, population, &fresh.url)
        .await
        .unwrap()
        .expect("a fresh store takes the seed");
    report_from_store_on(&fresh.store, "chai-blend", today, today)
        .await
        .unwrap();

    // Direct traffic on days already kept, by users who enrol only yesterday (after the parts).
    let midnight = day_number(today) * DAY_MICROS;
    for (i, arm) in ["control", "blend"]
        .into_iter()
        .cycle()
        .take(40)
        .enumerate()
    {
        let user = format!("late-{i}");
        let direct = ConversationRow {
            experiment: None,
            arm: None,
            client_key: None,
            created_at: at(midnight - 12 * DAY_MICROS),
            ..conversation(&format!("{user}-direct"), &user)
        };
        let days_before = (i % 5) as i64 + 1;
        let turns: Vec<NewMessage> = (0..days_before)
            .map(|d| {
                message(
                    &format!("{user}-d{d}"),
                    "user",
                    midnight - (2 + 3 * d) * DAY_MICROS,
                )
            })
            .collect();
        fresh
            .store
            .append_messages(&direct, true, 0, &turns)
            .await
            .unwrap();
        let exposed = midnight - DAY_MICROS + 3_600_000_000;
        fresh
            .store
            .record_exposure(
                "chai-blend",
                &user,
                arm,
                &UserAttributes::default(),
                at(exposed),
            )
            .await
            .unwrap();
        let enrolled = ConversationRow {
            arm: Some(arm.into()),
            created_at: at(exposed),
            ..conversation(&format!("{user}-exp"), &user)
        };
        let returns = i % 3 == 0;
        let turn: Vec<NewMessage> = [0, DAY_MICROS]
            .into_iter()
            .take(if returns { 2 } else { 1 })
            .map(|offset| message(&format!("{user}-e{offset}"), "user", exposed + offset))
            .collect();
        fresh
            .store
            .append_messages(&enrolled, true, 0, &turn)
            .await
            .unwrap();
    }
    let tomorrow = today.succ_opt().unwrap();
    let incremental = report_from_store_on(&fresh.store, "chai-blend", today, tomorrow)
        .await
        .unwrap();
    let out = TempDir::new("late-export");
    export::export(&fresh.store, &out.0, today, today)
        .await
        .unwrap();
    let one_pass = compute_report(
        &DataDir::scan(&out.0).unwrap(),
        &request_for(&definition(), today).unwrap(),
    )
    .unwrap();
    let incremental = serde_json::to_value(incremental).unwrap();
    assert_reports_match(&incremental, &serde_json::to_value(one_pass).unwrap());
    let day_1 = &incremental["arms"][1]["retention"][1]["vs_control"]["cuped"];
    assert!(day_1["diff"].is_number(), "{day_1}");
}
