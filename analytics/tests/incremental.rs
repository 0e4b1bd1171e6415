//! Incremental daily runs (`--state DIR`): day after day, the report from kept day parts is the
//! one-pass report (counts exactly, floats to 1e-9), and each run computes only the days it has
//! not kept yet.

use blendlab_analytics::compare::assert_reports_match;
use blendlab_analytics::report::ReportRequest;
use blendlab_analytics::{compute_report, compute_report_incremental, DataDir, StateDir};
use blendlab_simulator::synthetic::{write_parquet, Population, RandomAllocation};
use chrono::NaiveDate;
use polars::prelude::*;

mod common;

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("blendlab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The generated log is complete: every day of it is final.
fn log_is_final() -> NaiveDate {
    "2030-01-01".parse().unwrap()
}

#[test]
fn daily_runs_from_kept_parts_equal_the_one_pass_report() {
    let data = scratch_dir("incremental-data");
    let state = StateDir::new(scratch_dir("incremental-state"));
    let spec = Population::chai(3_000, 11);
    let written = write_parquet(&spec, &RandomAllocation::new(&spec.arms), &data).unwrap();
    assert!(written.messages > 50_000, "{written:?}");
    let frames = DataDir::scan(&data).unwrap();
    let request = |as_of: NaiveDate| ReportRequest {
        experiment: spec.experiment.clone(),
        as_of,
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        // Guardrails on per-user cost sums, which the day parts must add up per user.
        decision: common::cost_guardrail_rules(),
    };
    let start: NaiveDate = "2026-10-01".parse().unwrap();
    let day = |n: i64| start + chrono::Duration::days(n);

    // (as_of, days computed and kept, days read back): consecutive days first, then a jump of
    // four weeks, then the next day again, and a day long after the last exposure's window.
    let runs = [
        (0, 0, 0),
        (1, 1, 0),
        (2, 1, 1),
        (3, 1, 2),
        (31, 28, 3),
        (32, 1, 31),
        (58, 26, 32),
    ];
    for (offset, kept, reused) in runs {
        let as_of = day(offset);
        let one_pass = compute_report(&frames, &request(as_of)).unwrap();
        let (incremental, run) =
            compute_report_incremental(&frames, &request(as_of), &state, log_is_final()).unwrap();
        assert_reports_match(
            &serde_json::to_value(&incremental).unwrap(),
            &serde_json::to_value(&one_pass).unwrap(),
        );
        assert_eq!(
            (run.days_kept, run.days_reused, run.days_provisional),
            (kept, reused, 1),
            "as of {as_of}"
        );
    }

    // The report has every part the days must combine.
    let (late, _) =
        compute_report_incremental(&frames, &request(day(40)), &state, log_is_final()).unwrap();
    let blend = late.arm("blend").unwrap();
    assert!(!blend.attribution.is_empty());
    assert!(
        blend.attribution.iter().any(|c| c.feedback.is_some()),
        "{blend:?}"
    );
    assert!(blend.guardrails.latency_p95_ms.is_some());
    assert!(blend.guardrails.conversations > 0);
    assert!(blend.guardrail_tests[0].p_value.is_some(), "{blend:?}");
    assert!(blend.guardrail_tests[1].p_value.is_some(), "{blend:?}");

    // The data directory is only read.
    let listing: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
    assert_eq!(listing.len(), 3, "{listing:?}");
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(state.root());
}

#[test]
fn a_window_or_experiment_keeps_its_own_parts() {
    let data = scratch_dir("incremental-keys");
    let state = StateDir::new(scratch_dir("incremental-keys-state"));
    let spec = Population::chai(500, 5);
    write_parquet(&spec, &RandomAllocation::new(&spec.arms), &data).unwrap();
    let frames = DataDir::scan(&data).unwrap();
    let as_of: NaiveDate = "2026-10-20".parse().unwrap();
    for window_days in [30, 7] {
        let request = ReportRequest {
            experiment: spec.experiment.clone(),
            as_of,
            control: "control".into(),
            window_days,
            arms: None,
            evaluate_policies: Vec::new(),
            decision: blendlab_experiments::DecisionRules::default_for(window_days),
        };
        let (report, run) =
            compute_report_incremental(&frames, &request, &state, log_is_final()).unwrap();
        // A shorter window does not reuse the 30-day window's parts: its days count differently.
        assert_eq!(run.days_reused, 0, "window {window_days}");
        assert_reports_match(
            &serde_json::to_value(&report).unwrap(),
            &serde_json::to_value(compute_report(&frames, &request).unwrap()).unwrap(),
        );
    }
    state.clear().unwrap();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_day_is_kept_only_once_the_next_day_is_over() {
    let data = scratch_dir("incremental-final");
    let state = StateDir::new(scratch_dir("incremental-final-state"));
    let spec = Population::chai(500, 9);
    write_parquet(&spec, &RandomAllocation::new(&spec.arms), &data).unwrap();
    let frames = DataDir::scan(&data).unwrap();
    let request = ReportRequest {
        experiment: spec.experiment.clone(),
        as_of: "2026-10-11".parse().unwrap(),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        decision: blendlab_experiments::DecisionRules::default_for(30),
    };
    // Only the messages through 2026-10-05 are final: days 10-01..10-04 are kept (their next
    // day is over); 10-05 waits for 10-06, and 10-06..10-11 are not over.
    let final_through: NaiveDate = "2026-10-05".parse().unwrap();
    let (report, run) =
        compute_report_incremental(&frames, &request, &state, final_through).unwrap();
    assert_eq!(
        (run.days_kept, run.days_reused, run.days_provisional),
        (4, 0, 7)
    );
    assert_reports_match(
        &serde_json::to_value(&report).unwrap(),
        &serde_json::to_value(compute_report(&frames, &request).unwrap()).unwrap(),
    );
    let (_, again) = compute_report_incremental(&frames, &request, &state, final_through).unwrap();
    assert_eq!(
        (again.days_kept, again.days_reused, again.days_provisional),
        (0, 4, 7)
    );
    state.clear().unwrap();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_reply_before_midnight_continued_after_it_counts_as_in_one_pass() {
    let assignments = common::assignments(
        "exp",
        &[
            ("u", "blend", "2026-11-01T08:00:00Z"),
            ("c", "control", "2026-11-01T08:00:00Z"),
        ],
    );
    let mut messages = common::messages(&[
        ("u", "k0", "user", "", "2026-11-01T09:00:00Z"),
        ("u", "k0", "assistant", "b", "2026-11-01T09:00:02Z"),
        ("u", "k1", "user", "", "2026-11-01T23:40:00Z"),
        ("u", "k1", "assistant", "a", "2026-11-01T23:50:00Z"),
        // 20 minutes later, on the next UTC day: a continuation of a's reply, and the first
        // gap of 2026-11-02's time spent.
        ("u", "k1", "user", "", "2026-11-02T00:10:00Z"),
        ("u", "k1", "assistant", "b", "2026-11-02T00:10:02Z"),
        ("u", "k1", "user", "", "2026-11-03T09:00:00Z"),
        ("u", "k1", "assistant", "a", "2026-11-03T09:00:02Z"),
        ("c", "k2", "user", "", "2026-11-01T09:00:00Z"),
        ("c", "k2", "assistant", "large", "2026-11-01T09:00:01Z"),
    ]);
    messages
        .with_column(Column::new(
            "content_chars".into(),
            [4i64, 40, 5, 50, 33, 60, 7, 70, 9, 90],
        ))
        .unwrap();
    let frames = common::frames(assignments, messages);
    let state = StateDir::new(scratch_dir("incremental-midnight-state"));
    for as_of in ["2026-11-01", "2026-11-02", "2026-11-03"] {
        let request = ReportRequest {
            experiment: "exp".into(),
            as_of: as_of.parse().unwrap(),
            control: "control".into(),
            window_days: 30,
            arms: None,
            evaluate_policies: Vec::new(),
            decision: blendlab_experiments::DecisionRules::default_for(30),
        };
        let (incremental, _) =
            compute_report_incremental(&frames, &request, &state, log_is_final()).unwrap();
        let one_pass = compute_report(&frames, &request).unwrap();
        assert_reports_match(
            &serde_json::to_value(&incremental).unwrap(),
            &serde_json::to_value(&one_pass).unwrap(),
        );
        let a = incremental.arm("blend").unwrap().attribution[0].clone();
        assert_eq!(a.model, "a");
        // Once 2026-11-02 is in, a's first reply is continued, by a 33-character message.
        let expected = if as_of == "2026-11-01" { 0.0 } else { 1.0 };
        let first_reply_continued = a.continuation.mean * a.continuation.n as f64;
        assert_eq!(first_reply_continued, expected, "as of {as_of}: {a:?}");
    }
    state.clear().unwrap();
}
