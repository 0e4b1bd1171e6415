//! Blend attribution on a log small enough to check by hand.

mod common;

use blendlab_analytics::load::SourceNames;
use blendlab_analytics::report::ReportRequest;
use blendlab_analytics::{compute_report, LogFrames};
use polars::prelude::*;

fn with_ids(mut messages: DataFrame, ids: &[&str], chars: &[i64]) -> DataFrame {
    messages
        .with_column(Column::new("message_id".into(), ids))
        .unwrap();
    messages
        .with_column(Column::new("content_chars".into(), chars))
        .unwrap();
    messages
}

#[test]
fn continuation_next_length_retries_and_feedback_are_attributed_to_the_component() {
    let assignments = common::assignments(
        "exp",
        &[
            ("u", "blend", "2026-11-01T08:00:00Z"),
            ("c", "control", "2026-11-01T08:00:00Z"),
        ],
    );
    let messages = with_ids(
        common::messages(&[
            ("u", "k1", "user", "", "2026-11-01T09:00:00Z"),
            ("u", "k1", "assistant", "a", "2026-11-01T09:00:02Z"),
            // Continued 10 minutes later with a 40-character message.
            ("u", "k1", "user", "", "2026-11-01T09:10:02Z"),
            ("u", "k1", "assistant", "b", "2026-11-01T09:10:04Z"),
            // Another conversation in between does not break k1's continuation rule...
            ("u", "k2", "user", "", "2026-11-01T09:20:00Z"),
            ("u", "k2", "assistant", "a", "2026-11-01T09:20:02Z"),
            // ...but k1's next user message comes 50 minutes after b's reply: not a continuation.
            ("u", "k1", "user", "", "2026-11-01T10:00:04Z"),
            ("c", "k3", "user", "", "2026-11-01T09:00:00Z"),
            ("c", "k3", "assistant", "large", "2026-11-01T09:00:01Z"),
        ]),
        &["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"],
        &[10, 100, 40, 100, 20, 100, 7, 5, 50],
    );
    let events = DataFrame::new_infer_height(vec![
        Column::new("user_id".into(), ["u", "u", "u", "u"]),
        Column::new(
            "message_id".into(),
            [Some("m2"), Some("m2"), Some("m4"), None],
        ),
        Column::new("kind".into(), ["feedback", "retry", "feedback", "app_open"]),
        Column::new("value".into(), [1.0, 0.0, -1.0, 0.0]),
        Int64Chunked::from_vec(
            "created_at".into(),
            vec![common::micros("2026-11-01T09:05:00Z"); 4],
        )
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column(),
    ])
    .unwrap();
    let frames = LogFrames::new(
        assignments.lazy(),
        messages.lazy(),
        Some(events.lazy()),
        &SourceNames::default(),
    )
    .unwrap();
    let request = ReportRequest {
        experiment: "exp".into(),
        as_of: common::date("2026-11-02"),
        control: "control".into(),
        window_days: 30,
        arms: None,
    };
    let report = compute_report(&frames, &request).unwrap();
    let blend = report.arm("blend").unwrap();
    assert_eq!(blend.models, vec!["a", "b"]);
    let component = |model: &str| blend.attribution.iter().find(|c| c.model == model).unwrap();
    let (a, b) = (component("a"), component("b"));
    assert_eq!((a.replies, b.replies), (2, 1));
    assert!((a.share - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(a.continuation.rate, 0.5, "m2 was continued, m6 was not");
    assert_eq!(
        b.continuation.rate, 0.0,
        "m4's next k1 message came after 50 minutes"
    );
    assert_eq!(a.next_user_message_chars.as_ref().unwrap().mean, 40.0);
    assert_eq!(a.retry.as_ref().unwrap().rate, 0.5);
    assert_eq!(
        (
            a.feedback.as_ref().unwrap().mean,
            b.feedback.as_ref().unwrap().mean
        ),
        (1.0, -1.0)
    );
    assert!(
        report.arm("control").unwrap().attribution.is_empty(),
        "a single-model arm has nothing to attribute"
    );
    assert_eq!(blend.guardrails.conversations, 2);
    assert_eq!(blend.guardrails.replies, 3);
}
