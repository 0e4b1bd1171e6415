//! The verdict and the guardrail tests on logs built so that each verdict is known, and on a
//! simulated experiment: the tested values are the report's own guardrails, whichever way the
//! report is collected.

use blendlab_analytics::compare::assert_reports_match;
use blendlab_analytics::report::{GuardrailStatus, ReportRequest, Verdict};
use blendlab_analytics::{compute_report, compute_report_incremental, LogFrames, Report};
use blendlab_experiments::{DecisionRules, GuardrailDefinition};
use chrono::NaiveDate;
use polars::prelude::*;

mod common;

const DAY: i64 = 86_400_000_000;
/// 2026-10-01T00:00:00Z.
const START: i64 = 1_790_812_800_000_000;

fn guardrail(metric: &str, increase: Option<f64>, decrease: Option<f64>) -> GuardrailDefinition {
    GuardrailDefinition {
        metric: metric.into(),
        max_relative_increase: increase,
        max_relative_decrease: decrease,
    }
}

fn rules() -> DecisionRules {
    DecisionRules::parse(
        Some("retention_d7"),
        &[
            guardrail("compute_s_per_returned_user", Some(0.10), None),
            guardrail("error_rate", Some(0.50), None),
            guardrail("retention_d1", None, Some(0.05)),
            guardrail("latency_p95_ms", Some(0.10), None),
        ],
        30,
    )
    .unwrap()
}

/// One arm's users: each opens a conversation at exposure (one reply); `returns(i)` says on
/// which later days user `i` comes back (one message and reply each).
struct ArmShape {
    name: &'static str,
    users: usize,
    returns: fn(usize) -> Vec<i64>,
    latency_ms: fn(usize) -> f64,
    errs: fn(usize) -> bool,
}

#[derive(Default)]
struct Rows {
    assignments: (Vec<String>, Vec<String>, Vec<i64>),
    user_id: Vec<String>,
    conversation_id: Vec<String>,
    role: Vec<&'static str>,
    model: Vec<Option<&'static str>>,
    created_at: Vec<i64>,
    latency_ms: Vec<Option<f64>>,
    finish_reason: Vec<Option<&'static str>>,
}

impl Rows {
    fn exchange(&mut self, user: &str, at: i64, latency_ms: f64, error: bool) {
        for (role, offset) in [("user", 0), ("assistant", 1_000_000)] {
            let reply = role == "assistant";
            self.user_id.push(user.to_owned());
            self.conversation_id.push(format!("{user}-{}", at / DAY));
            self.role.push(role);
            self.model.push(reply.then_some("m"));
            self.created_at.push(at + offset);
            self.latency_ms.push(reply.then_some(latency_ms));
            self.finish_reason
                .push(reply.then_some(if error { "error" } else { "stop" }));
        }
    }

    fn frames(self) -> LogFrames {
        let timestamps = |name: &str, values: Vec<i64>| {
            Int64Chunked::from_vec(name.into(), values)
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column()
        };
        let (users, arms, assigned) = self.assignments;
        let n = users.len();
        let assignments = DataFrame::new_infer_height(vec![
            Column::new("user_id".into(), users),
            Column::new("experiment".into(), vec!["exp"; n]),
            Column::new("arm".into(), arms),
            timestamps("assigned_at", assigned),
        ])
        .unwrap();
        let messages = DataFrame::new_infer_height(vec![
            Column::new("user_id".into(), self.user_id),
            Column::new("conversation_id".into(), self.conversation_id),
            Column::new("role".into(), self.role),
            Column::new("model".into(), self.model),
            timestamps("created_at", self.created_at),
            Column::new("latency_ms".into(), self.latency_ms),
            Column::new("finish_reason".into(), self.finish_reason),
        ])
        .unwrap();
        common::frames(assignments, messages)
    }
}

fn report(shapes: &[ArmShape]) -> Report {
    let (frames, request) = log_of(shapes);
    compute_report(&frames, &request).unwrap()
}

fn log_of(shapes: &[ArmShape]) -> (LogFrames, ReportRequest) {
    let mut rows = Rows::default();
    for shape in shapes {
        for i in 0..shape.users {
            let user = format!("{}-{i}", shape.name);
            // Exposures spread over the first day, so every user is eligible for day 7 by day 8.
            let exposed = START + (i as i64 % 1440) * 60_000_000;
            rows.assignments.0.push(user.clone());
            rows.assignments.1.push(shape.name.to_owned());
            rows.assignments.2.push(exposed);
            let (latency, error) = ((shape.latency_ms)(i), (shape.errs)(i));
            rows.exchange(&user, exposed, latency, error);
            for day in (shape.returns)(i) {
                rows.exchange(&user, exposed + day * DAY, latency, error);
            }
        }
    }
    let request = ReportRequest {
        experiment: "exp".into(),
        as_of: "2026-10-10".parse::<NaiveDate>().unwrap(),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        decision: rules(),
    };
    (rows.frames(), request)
}

/// Control: 30% back on day 1, 20% on day 7; latency 500..1500 ms; 2% of users' replies err.
fn control() -> ArmShape {
    ArmShape {
        name: "control",
        users: 3_000,
        returns: |i| match i % 10 {
            0 | 1 => vec![1, 7],
            2 => vec![1],
            _ => vec![],
        },
        latency_ms: |i| 500.0 + (i * 37 % 1000) as f64,
        errs: |i| i % 50 == 0,
    }
}

/// Better retention (40% on day 7, 50% on day 1), 30% cheaper, the same errors.
fn better_and_cheaper() -> ArmShape {
    ArmShape {
        name: "blend",
        users: 3_000,
        returns: |i| match i % 10 {
            0..=3 => vec![1, 7],
            4 => vec![1],
            _ => vec![],
        },
        latency_ms: |i| 350.0 + (i * 37 % 700) as f64,
        errs: |i| i % 50 == 0,
    }
}

#[test]
fn a_better_arm_within_every_margin_ships() {
    let report = report(&[control(), better_and_cheaper()]);
    let blend = report.arm("blend").unwrap();
    let decision = blend.decision.as_ref().unwrap();
    assert_eq!(decision.verdict, Verdict::Ship, "{decision:?}");
    assert_eq!(decision.primary_metric, "retention_d7");
    let statuses: Vec<_> = blend.guardrail_tests.iter().map(|t| t.status).collect();
    // Compute 47% lower, errors 21% lower, day-1 retention 67% higher, latency p95 30% lower: all
    // shown within.
    assert!(
        statuses.iter().all(|s| *s == GuardrailStatus::Pass),
        "{statuses:?}"
    );
    assert!(report.arm("control").unwrap().decision.is_none());
    assert!(report.arm("control").unwrap().guardrail_tests.is_empty());
    // One reason for the primary metric and one per guardrail.
    assert_eq!(decision.reasons.len(), 5, "{decision:?}");
}

#[test]
fn kept_day_parts_give_the_same_tests_and_verdict() {
    let (frames, request) = log_of(&[control(), better_and_cheaper()]);
    let one_pass = compute_report(&frames, &request).unwrap();
    let parts = blendlab_analytics::collect::daily::PartsInMemory::default();
    let final_through = "2030-01-01".parse().unwrap();
    for _ in 0..2 {
        // The first run keeps the days' parts, the second reads them back.
        let (incremental, _) =
            compute_report_incremental(&frames, &request, &parts, final_through).unwrap();
        assert_reports_match(
            &serde_json::to_value(&incremental).unwrap(),
            &serde_json::to_value(&one_pass).unwrap(),
        );
    }
    assert_eq!(one_pass.arm("blend").unwrap().guardrail_tests.len(), 4);
}

#[test]
fn the_tested_values_are_the_reports_own() {
    let report = report(&[control(), better_and_cheaper()]);
    let blend = report.arm("blend").unwrap();
    let control = report.arm("control").unwrap();
    let value = |metric: &str| {
        let test = blend
            .guardrail_tests
            .iter()
            .find(|t| t.metric == metric)
            .unwrap();
        (test.arm_value.unwrap(), test.control_value.unwrap())
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
    let (arm, ctl) = value("compute_s_per_returned_user");
    assert!(close(
        arm,
        blend.guardrails.compute_s_per_returned_user.unwrap()
    ));
    assert!(close(
        ctl,
        control.guardrails.compute_s_per_returned_user.unwrap()
    ));
    let (arm, ctl) = value("error_rate");
    assert!(close(arm, blend.guardrails.error_rate.unwrap()), "{arm}");
    assert!(close(ctl, control.guardrails.error_rate.unwrap()), "{ctl}");
    let (arm, ctl) = value("latency_p95_ms");
    assert!(
        close(arm, blend.guardrails.latency_p95_ms.unwrap()),
        "{arm}"
    );
    assert!(
        close(ctl, control.guardrails.latency_p95_ms.unwrap()),
        "{ctl}"
    );
    let (arm, ctl) = value("retention_d1");
    assert!(close(arm, blend.retention[1].rate.unwrap()));
    assert!(close(ctl, control.retention[1].rate.unwrap()));
    assert!(close(ctl, 0.3), "{ctl}");
}

#[test]
fn a_failed_guardrail_blocks_a_better_arm() {
    let costly = ArmShape {
        latency_ms: |i| 1500.0 + (i * 37 % 1000) as f64,
        ..better_and_cheaper()
    };
    let report = report(&[control(), costly]);
    let blend = report.arm("blend").unwrap();
    let compute = &blend.guardrail_tests[0];
    assert_eq!(compute.metric, "compute_s_per_returned_user");
    assert_eq!(compute.status, GuardrailStatus::Fail, "{compute:?}");
    assert!(compute.lift.unwrap() > 0.1 && compute.p_value.unwrap() > 0.5);
    let latency = &blend.guardrail_tests[3];
    assert_eq!(latency.metric, "latency_p95_ms");
    assert_eq!(latency.status, GuardrailStatus::Fail, "{latency:?}");
    let decision = blend.decision.as_ref().unwrap();
    assert_eq!(decision.verdict, Verdict::NoShip, "{decision:?}");
    assert!(decision
        .reasons
        .iter()
        .any(|r| r.starts_with("guardrail compute_s_per_returned_user failed")));
}

#[test]
fn an_arm_like_control_keeps_running_and_a_worse_one_does_not_ship() {
    let same = ArmShape {
        name: "blend",
        ..control()
    };
    let report_same = report(&[control(), same]);
    let decision = report_same.arm("blend").unwrap().decision.clone().unwrap();
    assert_eq!(decision.verdict, Verdict::KeepRunning, "{decision:?}");
    assert!(
        decision.reasons[0].contains("not yet distinguishable"),
        "{decision:?}"
    );

    let worse = ArmShape {
        name: "blend",
        returns: |i| match i % 20 {
            0 => vec![1, 7],
            1..=5 => vec![1],
            _ => vec![],
        },
        ..control()
    };
    let decision = report(&[control(), worse])
        .arm("blend")
        .unwrap()
        .decision
        .clone()
        .unwrap();
    assert_eq!(decision.verdict, Verdict::NoShip, "{decision:?}");
    assert!(
        decision.reasons[0].starts_with("retention_d7 is worse"),
        "{decision:?}"
    );
}

#[test]
fn a_sample_ratio_mismatch_keeps_a_winner_running() {
    let fewer = ArmShape {
        users: 2_000,
        ..better_and_cheaper()
    };
    let report = report(&[control(), fewer]);
    assert!(report.srm.warning);
    let decision = report.arm("blend").unwrap().decision.clone().unwrap();
    assert_eq!(decision.verdict, Verdict::KeepRunning, "{decision:?}");
    assert!(
        decision.reasons[0].starts_with("sample ratio mismatch"),
        "{decision:?}"
    );
}

#[test]
fn a_log_without_the_column_leaves_its_guardrail_not_measured() {
    let data = std::env::temp_dir().join(format!("blendlab-decision-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let spec = blendlab_simulator::synthetic::Population::chai(800, 3);
    blendlab_simulator::synthetic::write_parquet(
        &spec,
        &blendlab_simulator::synthetic::RandomAllocation::new(&spec.arms),
        &data,
    )
    .unwrap();
    let frames = blendlab_analytics::DataDir::scan(&data).unwrap();
    let request = ReportRequest {
        experiment: spec.experiment.clone(),
        as_of: "2026-11-20".parse().unwrap(),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        decision: rules(),
    };
    let report = compute_report(&frames, &request).unwrap();
    let blend = report.arm("blend").unwrap();
    let errors = blend
        .guardrail_tests
        .iter()
        .find(|t| t.metric == "error_rate")
        .unwrap();
    assert_eq!(errors.status, GuardrailStatus::NotMeasured);
    assert!(errors.note.as_deref().unwrap().contains("finish_reason"));
    let decision = blend.decision.as_ref().unwrap();
    assert_ne!(decision.verdict, Verdict::Ship, "{decision:?}");
    let compute = &blend.guardrail_tests[0];
    assert!(compute.p_value.is_some(), "{compute:?}");
    let latency = blend.guardrail_tests.last().unwrap();
    assert_eq!(
        latency.arm_value, blend.guardrails.latency_p95_ms,
        "{latency:?}"
    );
    assert!(latency.p_value.is_some(), "{latency:?}");
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn where_no_test_exists_the_values_and_notes_still_say_what_is_known() {
    // Two users: too few replies for a test of the p95, whose value is still the report's.
    let tiny = ArmShape {
        name: "tiny",
        users: 2,
        returns: |_| vec![1],
        latency_ms: |i| 800.0 + i as f64,
        errs: |_| false,
    };
    let report = report(&[control(), tiny]);
    let arm = report.arm("tiny").unwrap();
    let latency = arm
        .guardrail_tests
        .iter()
        .find(|t| t.metric == "latency_p95_ms")
        .unwrap();
    assert!(latency.p_value.is_none(), "{latency:?}");
    assert!(latency.arm_value.is_some(), "{latency:?}");
    assert_eq!(latency.arm_value, arm.guardrails.latency_p95_ms);

    // An arm whose users have sent nothing yet: its ratio guardrails say so, not that the log
    // lacks a column. "blend-…" ids sort before "control-…": only control's messages are kept.
    let (mut frames, request) = log_of(&[control(), better_and_cheaper()]);
    frames.messages = frames.messages.filter(col("user_id").gt_eq(lit("control")));
    let report = compute_report(&frames, &request).unwrap();
    let blend = report.arm("blend").unwrap();
    for metric in ["error_rate", "compute_s_per_returned_user"] {
        let test = blend
            .guardrail_tests
            .iter()
            .find(|t| t.metric == metric)
            .unwrap();
        assert_eq!(test.status, GuardrailStatus::NotMeasured, "{test:?}");
        assert_eq!(
            test.note.as_deref(),
            Some("the arm has no message yet"),
            "{test:?}"
        );
    }
}
