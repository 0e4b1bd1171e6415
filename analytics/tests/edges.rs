//! The edges of the metric definitions, on logs small enough to check by hand.

mod common;

use blendlab_analytics::report::{ArmSpec, ReportRequest};
use blendlab_analytics::{compute_report, AnalyticsError};
use common::{assignments, date, frames, messages};

fn request(as_of: &str) -> ReportRequest {
    ReportRequest {
        experiment: "exp".into(),
        as_of: date(as_of),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        decision: blendlab_experiments::DecisionRules::default_for(30),
    }
}

#[test]
fn a_user_active_only_after_midnight_utc_counts_on_day_one_not_day_zero() {
    let log = frames(
        assignments(
            "exp",
            &[
                ("late", "control", "2026-11-01T23:00:00Z"),
                ("b", "blend", "2026-11-01T10:00:00Z"),
            ],
        ),
        messages(&[
            ("late", "c1", "user", "", "2026-11-02T00:30:00Z"),
            ("late", "c1", "assistant", "large", "2026-11-02T00:30:05Z"),
            ("b", "c2", "user", "", "2026-11-01T10:00:00Z"),
        ]),
    );
    let report = compute_report(&log, &request("2026-11-05")).unwrap();
    let control = report.arm("control").unwrap();
    assert_eq!(
        (control.retention[0].eligible, control.retention[0].retained),
        (1, 0)
    );
    assert_eq!(
        (control.retention[1].eligible, control.retention[1].retained),
        (1, 1)
    );
    assert_eq!(control.engagement[1].mean_time_spent_s, Some(5.0));
}

#[test]
fn a_day_not_yet_eligible_has_no_rate_and_no_comparison() {
    let log = frames(
        assignments(
            "exp",
            &[
                ("a", "control", "2026-11-01T08:00:00Z"),
                ("b", "blend", "2026-11-02T08:00:00Z"),
            ],
        ),
        messages(&[
            ("a", "c", "user", "", "2026-11-01T08:00:00Z"),
            ("b", "d", "user", "", "2026-11-02T08:00:00Z"),
        ]),
    );
    let report = compute_report(&log, &request("2026-11-03")).unwrap();
    let blend = report.arm("blend").unwrap();
    assert_eq!(
        blend.retention[1].eligible, 1,
        "exposed on the 2nd, day 1 is the 3rd"
    );
    assert_eq!(blend.retention[2].eligible, 0);
    assert_eq!(blend.retention[2].rate, None);
    assert!(blend.retention[2].vs_control.is_none());
    assert_eq!(report.arm("control").unwrap().retention[2].eligible, 1);
    assert_eq!(blend.retention.len(), 31, "days 0..=30 are always listed");
}

#[test]
fn an_arm_with_no_users_is_reported_empty() {
    let log = frames(
        assignments("exp", &[("a", "control", "2026-11-01T08:00:00Z")]),
        messages(&[("a", "c", "user", "", "2026-11-01T08:00:00Z")]),
    );
    let arm = |name: &str, models: &[&str]| ArmSpec {
        name: name.into(),
        weight: 0.5,
        models: models.iter().map(|m| m.to_string()).collect(),
    };
    let mut req = request("2026-11-03");
    req.arms = Some(vec![
        arm("control", &["large"]),
        arm("blend", &["a", "b", "c"]),
    ]);
    let report = compute_report(&log, &req).unwrap();
    let blend = report.arm("blend").unwrap();
    assert_eq!(blend.users, 0);
    assert!(blend
        .retention
        .iter()
        .all(|d| d.eligible == 0 && d.rate.is_none() && d.vs_control.is_none()));
    assert!(blend
        .engagement
        .iter()
        .all(|d| d.active == 0 && d.mean_time_spent_s.is_none()));
    assert_eq!(blend.models, vec!["a", "b", "c"]);
}

#[test]
fn a_gap_of_exactly_1800_seconds_counts_and_one_microsecond_more_does_not() {
    let log = frames(
        assignments(
            "exp",
            &[
                ("a", "control", "2026-11-01T08:00:00Z"),
                ("b", "control", "2026-11-01T08:00:00Z"),
            ],
        ),
        messages(&[
            ("a", "c", "user", "", "2026-11-01T09:00:00Z"),
            ("a", "c", "assistant", "large", "2026-11-01T09:30:00Z"),
            ("b", "d", "user", "", "2026-11-01T09:00:00Z"),
            (
                "b",
                "d",
                "assistant",
                "large",
                "2026-11-01T09:30:00.000001Z",
            ),
            ("b", "d", "user", "", "2026-11-01T09:30:00.250001Z"),
        ]),
    );
    let report = compute_report(&log, &request("2026-11-01")).unwrap();
    let day0 = &report.arm("control").unwrap().engagement[0];
    // a: 1800 s; b: the 1800.000001 s gap is dropped and 0.25 s remains.
    assert_eq!(day0.active, 2);
    assert_eq!(day0.mean_time_spent_s, Some((1800.0 + 0.25) / 2.0));
    assert_eq!(day0.mean_user_messages, Some(1.5));
}

#[test]
fn messages_after_as_of_are_ignored() {
    let log = frames(
        assignments("exp", &[("a", "control", "2026-11-01T08:00:00Z")]),
        messages(&[
            ("a", "c", "user", "", "2026-11-01T08:00:00Z"),
            ("a", "c", "user", "", "2026-11-02T23:59:59.999999Z"),
            ("a", "c", "user", "", "2026-11-03T00:00:00Z"),
        ]),
    );
    let report = compute_report(&log, &request("2026-11-02")).unwrap();
    let control = report.arm("control").unwrap();
    assert_eq!(
        control.retention[1].retained, 1,
        "the last microsecond of as_of counts"
    );
    assert_eq!(control.retention[2].eligible, 0);
    assert_eq!(
        control.retention[2].retained, 0,
        "the day after as_of is not read"
    );
}

#[test]
fn messages_of_other_experiments_and_unexposed_users_are_ignored() {
    let mut both = assignments("exp", &[("a", "control", "2026-11-01T08:00:00Z")]);
    both.vstack_mut(&assignments(
        "other",
        &[("z", "control", "2026-11-01T08:00:00Z")],
    ))
    .unwrap();
    let log = frames(
        both,
        messages(&[
            ("a", "c", "user", "", "2026-11-01T08:00:00Z"),
            ("z", "y", "user", "", "2026-11-01T08:00:00Z"),
        ]),
    );
    let report = compute_report(&log, &request("2026-11-01")).unwrap();
    assert_eq!(report.arm("control").unwrap().users, 1);
}

#[test]
fn bad_requests_name_the_problem() {
    let log = frames(
        assignments("exp", &[("a", "control", "2026-11-05T08:00:00Z")]),
        messages(&[("a", "c", "user", "", "2026-11-05T08:00:00Z")]),
    );
    let mut unknown = request("2026-11-06");
    unknown.experiment = "nope".into();
    assert!(
        matches!(compute_report(&log, &unknown), Err(AnalyticsError::UnknownExperiment(e)) if e == "nope")
    );
    let early = compute_report(&log, &request("2026-11-04")).unwrap_err();
    assert_eq!(
        early.to_string(),
        "as_of 2026-11-04 is before the experiment's first exposure on 2026-11-05"
    );
    let mut control = request("2026-11-06");
    control.control = "ctrl".into();
    assert_eq!(
        compute_report(&log, &control).unwrap_err().to_string(),
        "control arm `ctrl` not found; the arms are: control"
    );
}
