//! Segments on a hand-built log whose treatment helps web users only: each segment's counts are
//! those a person counts among the users with that attribute value, its p-values are corrected
//! with Holm across the attribute's values, the heterogeneity test sees the web-only effect, and
//! the one pass, user groups and kept day parts give the same segments.

use blendlab_analytics::collect::daily::PartsInMemory;
use blendlab_analytics::collect::{set_collection, Collection};
use blendlab_analytics::compare::assert_reports_match;
use blendlab_analytics::report::{retention_vs_control, Segment};
use blendlab_analytics::stats::{
    holm, interaction_wald, welch_t_test, MeanSummary, ProportionCounts,
};
use blendlab_analytics::{compute_report, compute_report_incremental, LogFrames, ReportRequest};
use blendlab_experiments::{DecisionRules, PrimaryMetric};
use polars::prelude::*;

mod common;

const DAY: i64 = 86_400_000_000;
/// 2026-10-01T00:00:00Z.
const START: i64 = 1_790_812_800_000_000;
const USERS: usize = 900;
const PLATFORMS: [&str; 3] = ["android", "ios", "web"];
const ARMS: [&str; 2] = ["control", "treatment"];

/// User `i` of `arm`: platform, plan ("" for users whose exposure carried none), exposure day
/// (20 or 22 of the log), whether they return on day 1 (web users of the treatment far more
/// often) and their messages that day.
struct User {
    platform: &'static str,
    plan: &'static str,
    d0: i64,
    returns: bool,
    messages_on_day_1: i64,
}

fn user(arm: usize, i: usize) -> User {
    let platform = PLATFORMS[(i / 7) % 3];
    let base = match platform {
        "android" => 20,
        "ios" => 30,
        _ => 25,
    };
    let effect = if arm == 1 && platform == "web" { 25 } else { 0 };
    let noise = (i * 7919 + arm * 104_729) % 100;
    User {
        platform,
        plan: ["free", "pro", ""][i % 3],
        d0: if i.is_multiple_of(4) { 22 } else { 20 },
        returns: noise < base + effect,
        messages_on_day_1: 1 + (i % 3) as i64,
    }
}

fn log() -> (LogFrames, ReportRequest) {
    let (mut ids, mut arms, mut assigned) = (vec![], vec![], vec![]);
    let (mut platforms, mut plans, mut countries, mut locales) = (vec![], vec![], vec![], vec![]);
    let mut log = common::MessageLog::default();
    let mut message = |who: &str, at: i64, from_user: bool| log.push(who, at, from_user);
    for (arm, name) in ARMS.into_iter().enumerate() {
        for i in 0..USERS {
            let u = user(arm, i);
            let who = format!("{name}-{i}");
            let exposed = START + u.d0 * DAY + (i as i64) * 60_000_000;
            ids.push(who.clone());
            arms.push(name);
            assigned.push(exposed);
            platforms.push(u.platform);
            plans.push((!u.plan.is_empty()).then_some(u.plan));
            // An identifier-like attribute (25 values) and a constant one: neither is a segment.
            countries.push(format!("c{}", i % 25));
            locales.push("en");
            message(&who, exposed, true);
            message(&who, exposed + 1_000_000, false);
            if u.returns {
                for m in 0..u.messages_on_day_1 {
                    message(&who, exposed + DAY + m * 60_000_000, true);
                }
            }
        }
    }
    let n = ids.len();
    let assignments = DataFrame::new_infer_height(vec![
        Column::new("user_id".into(), ids),
        Column::new("experiment".into(), vec!["exp"; n]),
        Column::new("arm".into(), arms),
        common::timestamps("assigned_at", assigned),
        Column::new("attr_platform".into(), platforms),
        Column::new("attr_plan".into(), plans),
        Column::new("attr_country".into(), countries),
        Column::new("attr_locale".into(), locales),
    ])
    .unwrap();
    let messages = log.frame();
    let request = ReportRequest {
        experiment: "exp".into(),
        as_of: common::date("2026-10-23"),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        decision: DecisionRules {
            primary: PrimaryMetric::Retention(1),
            guardrails: Vec::new(),
        },
    };
    (common::frames(assignments, messages), request)
}

/// Day-1 counts of `arm`'s users matching `keep`, counted by hand: eligible once d0 + 1 is on or
/// before day 22 of the log (the report's as-of).
fn day_one(arm: usize, keep: impl Fn(&User) -> bool) -> (ProportionCounts, Vec<f64>) {
    let users: Vec<User> = (0..USERS)
        .map(|i| user(arm, i))
        .filter(|u| keep(u))
        .collect();
    let eligible: Vec<&User> = users.iter().filter(|u| u.d0 < 22).collect();
    let returned: Vec<f64> = eligible
        .iter()
        .filter(|u| u.returns)
        .map(|u| u.messages_on_day_1 as f64)
        .collect();
    (
        ProportionCounts::new(returned.len() as u64, eligible.len() as u64),
        returned,
    )
}

fn summary(values: &[f64]) -> MeanSummary {
    let n = values.len() as f64;
    MeanSummary::from_sums(n, values.iter().sum(), values.iter().map(|v| v * v).sum())
}

fn of<'r>(segments: &'r [Segment], attribute: &str, value: &str) -> &'r Segment {
    segments
        .iter()
        .find(|s| s.attribute == attribute && s.value == value)
        .unwrap_or_else(|| panic!("a segment {attribute}={value}"))
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1e-12)
}

#[test]
fn each_segment_is_the_report_over_its_users_corrected_across_values() {
    let (frames, request) = log();
    let report = compute_report(&frames, &request).unwrap();
    let listed: Vec<(&str, &str)> = report
        .segments
        .iter()
        .map(|s| (s.attribute.as_str(), s.value.as_str()))
        .collect();
    // Sorted; the 25-valued and the constant attribute are left out; no plan reads as "".
    assert_eq!(
        listed,
        [
            ("plan", ""),
            ("plan", "free"),
            ("plan", "pro"),
            ("platform", "android"),
            ("platform", "ios"),
            ("platform", "web")
        ]
    );
    let mut p_values = Vec::new();
    for platform in PLATFORMS {
        let segment = of(&report.segments, "platform", platform);
        let counts: Vec<_> = (0..2)
            .map(|arm| day_one(arm, |u| u.platform == platform))
            .collect();
        let all: usize = (0..2)
            .map(|arm| {
                (0..USERS)
                    .filter(|&i| user(arm, i).platform == platform)
                    .count()
            })
            .sum();
        assert_eq!(segment.users, all as u64);
        for (arm, (day_counts, _)) in segment.arms.iter().zip(&counts) {
            assert_eq!(arm.retention[1].eligible, day_counts.trials, "{platform}");
            assert_eq!(
                arm.retention[1].retained, day_counts.successes,
                "{platform}"
            );
            assert!(arm.attribution.is_empty() && arm.decision.is_none());
        }
        let vs = segment.arms[1].retention[1].vs_control.as_ref().unwrap();
        let want = retention_vs_control(counts[1].0, counts[0].0).unwrap();
        assert!(close(vs.p_value, want.p_value), "{platform}");
        assert!(close(vs.ratio, want.ratio), "{platform}");
        p_values.push(vs.p_value);
        // Engagement of the day-1 users: their messages, Welch as for the arms.
        let messages = segment.arms[1].engagement[1]
            .vs_control_user_messages
            .as_ref()
            .unwrap();
        let welch = welch_t_test(summary(&counts[1].1), summary(&counts[0].1), 0.05).unwrap();
        assert!(close(messages.diff, welch.diff) && close(messages.p_value, welch.p_value));
        assert!(segment.arms[0].retention[1].vs_control.is_none());
    }
    // Holm across the three platforms, not across days.
    for (platform, adjusted) in PLATFORMS.iter().zip(holm(&p_values)) {
        let vs = of(&report.segments, "platform", platform).arms[1].retention[1]
            .vs_control
            .clone()
            .unwrap();
        assert!(close(vs.p_value_adjusted, adjusted), "{platform}");
    }
    // Only web users gain: the effect is significant there and differs across platforms.
    let web = of(&report.segments, "platform", "web");
    assert!(
        web.arms[1].retention[1]
            .vs_control
            .as_ref()
            .unwrap()
            .p_value
            < 0.01
    );
    let by_hand: Vec<Vec<MeanSummary>> = PLATFORMS
        .iter()
        .map(|p| {
            (0..2)
                .map(|arm| MeanSummary::of_proportion(day_one(arm, |u| u.platform == *p).0))
                .collect()
        })
        .collect();
    let heterogeneity = interaction_wald(&by_hand).unwrap().p_value;
    for platform in PLATFORMS {
        let segment = of(&report.segments, "platform", platform);
        assert_eq!(segment.heterogeneity_metric, "retention_d1");
        assert!(close(segment.heterogeneity_p_value.unwrap(), heterogeneity));
    }
    assert!(heterogeneity < 0.01, "{heterogeneity}");
    // The segments of one attribute add up to the arms.
    for (index, arm) in report.arms.iter().enumerate() {
        let users: u64 = PLATFORMS
            .iter()
            .map(|p| of(&report.segments, "platform", p).arms[index].users)
            .sum();
        assert_eq!(users, arm.users);
    }
}

#[test]
fn segments_are_the_same_in_every_collection_and_shown_in_markdown_and_html() {
    let (frames, request) = log();
    let report = compute_report(&frames, &request).unwrap();
    let one_pass = serde_json::to_value(&report).unwrap();
    assert_eq!(one_pass["segments"].as_array().map(Vec::len), Some(6));
    set_collection(Collection {
        streaming: true,
        partitions: 3,
    });
    let grouped = compute_report(&frames, &request).unwrap();
    set_collection(Collection::default());
    assert_reports_match(&one_pass, &serde_json::to_value(&grouped).unwrap());
    let parts = PartsInMemory::new(Default::default());
    let (incremental, _) =
        compute_report_incremental(&frames, &request, &parts, common::date("2026-10-23")).unwrap();
    assert_reports_match(&one_pass, &serde_json::to_value(&incremental).unwrap());

    let web = of(&report.segments, "platform", "web");
    let markdown = blendlab_analytics::render::markdown(&report);
    assert!(
        markdown.contains("## Segments (retention_d1 per attribute value)"),
        "{markdown}"
    );
    let row = format!("| platform | web | treatment | {} |", web.arms[1].users);
    assert!(markdown.contains(&row), "{row} in {markdown}");
    assert!(
        markdown.contains("| plan | (none) | control |"),
        "{markdown}"
    );
    let html = blendlab_analytics::render::html(&report);
    assert!(html.contains("<h2>Segments (retention_d1 per attribute value)</h2>"));
}
