//! CUPED on a hand-built log whose users were active before exposure: the report's adjusted
//! comparisons are the regression over cells a person can count (pre-exposure active days in
//! the 14 days before d0, and the platform of the first exposure), and the one pass, user
//! groups and kept day parts give the same.

use blendlab_analytics::collect::daily::PartsInMemory;
use blendlab_analytics::collect::{set_collection, Collection};
use blendlab_analytics::compare::assert_reports_match;
use blendlab_analytics::stats::{regression_adjusted, OutcomeCell};
use blendlab_analytics::{compute_report, compute_report_incremental, LogFrames, ReportRequest};
use polars::prelude::*;

mod common;

const DAY: i64 = 86_400_000_000;
/// 2026-10-01T00:00:00Z.
const START: i64 = 1_790_812_800_000_000;
const USERS: usize = 600;
const PLATFORMS: [&str; 3] = ["android", "ios", "web"];

/// User `i`'s pre-exposure active days (0..=9, some beyond 14 days too), platform, whether they
/// come back on day 1 (more likely the more active they were) and how many messages they send.
struct User {
    pre_days: i64,
    platform: &'static str,
    returns: bool,
    messages_on_day_1: i64,
}

fn user(arm: usize, i: usize) -> User {
    let pre_days = (i % 10) as i64;
    let noise = (i * 7919 + arm * 104_729) % 100;
    User {
        pre_days,
        platform: PLATFORMS[(i / 10) % 3],
        returns: noise < (15 + 6 * pre_days as usize + 5 * arm),
        messages_on_day_1: 1 + ((i * 31 + arm) % 4) as i64,
    }
}

fn log() -> (LogFrames, ReportRequest) {
    let (mut ids, mut arms, mut assigned, mut platforms) = (vec![], vec![], vec![], vec![]);
    let mut log = common::MessageLog::default();
    let mut message = |who: &str, at: i64, from_user: bool| log.push(who, at, from_user);
    for (arm, name) in ["control", "treatment"].into_iter().enumerate() {
        for i in 0..USERS {
            let u = user(arm, i);
            let who = format!("{name}-{i}");
            // Exposed on day 20 of the log, in the first minutes of the day.
            let exposed = START + 20 * DAY + (i as i64) * 60_000_000;
            ids.push(who.clone());
            arms.push(name);
            assigned.push(exposed);
            platforms.push(u.platform);
            // Active on days d0-1 .. d0-pre_days (twice on one of them), and on days 15 and
            // 18 before exposure, which lie outside the 14 days and must not count.
            for back in 1..=u.pre_days {
                message(&who, exposed - back * DAY, true);
            }
            if u.pre_days > 0 {
                message(&who, exposed - DAY + 1_000_000, true);
            }
            message(&who, exposed - 15 * DAY, true);
            message(&who, exposed - 18 * DAY, true);
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
    ])
    .unwrap();
    let messages = log.frame();
    let request = ReportRequest {
        experiment: "exp".into(),
        as_of: common::date("2026-10-25"),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        decision: blendlab_experiments::DecisionRules::default_for(30),
    };
    (common::frames(assignments, messages), request)
}

/// One arm's cells counted by hand: retention on day 1 (every user is eligible), or the user
/// messages of those who came back.
fn cells_by_hand(arm: usize, retention: bool) -> Vec<OutcomeCell> {
    let mut cells: Vec<OutcomeCell> = Vec::new();
    for i in 0..USERS {
        let u = user(arm, i);
        let y = if retention {
            f64::from(u8::from(u.returns))
        } else if u.returns {
            u.messages_on_day_1 as f64
        } else {
            continue;
        };
        let mut covariates = vec![u.pre_days as f64];
        covariates.extend(PLATFORMS.map(|p| f64::from(u8::from(p == u.platform))));
        match cells.iter_mut().find(|c| c.covariates == covariates) {
            Some(cell) => {
                cell.n += 1.0;
                cell.sum += y;
                cell.sum_sq += y * y;
            }
            None => cells.push(OutcomeCell {
                covariates,
                n: 1.0,
                sum: y,
                sum_sq: y * y,
            }),
        }
    }
    cells
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1e-12)
}

#[test]
fn the_adjusted_comparison_is_the_regression_over_pre_exposure_cells_in_every_collection() {
    let (frames, request) = log();
    let report = compute_report(&frames, &request).unwrap();
    let treatment = &report.arms[1];
    let retention = treatment.retention[1].vs_control.as_ref().unwrap();
    let engagement = treatment.engagement[1]
        .vs_control_user_messages
        .as_ref()
        .unwrap();
    for (got, retention_cells) in [(retention.cuped, true), (engagement.cuped, false)] {
        let got = got.expect("an adjusted comparison");
        let want = regression_adjusted(
            &cells_by_hand(1, retention_cells),
            &cells_by_hand(0, retention_cells),
            0.05,
        )
        .unwrap();
        for (name, g, w) in [
            ("diff", got.diff, want.diff),
            ("ci_low", got.ci_low, want.ci_low),
            ("ci_high", got.ci_high, want.ci_high),
            ("p_value", got.p_value, want.p_value),
            (
                "variance_reduction",
                got.variance_reduction,
                want.variance_reduction,
            ),
        ] {
            assert!(close(g, w), "{name}: got {g}, want {w}");
        }
    }
    // Pre-exposure activity predicts the return here, so the adjustment removes variance.
    let reduction = retention.cuped.unwrap().variance_reduction;
    assert!(reduction > 0.05, "variance reduction {reduction}");

    let one_pass = serde_json::to_value(&report).unwrap();
    set_collection(Collection {
        streaming: true,
        partitions: 3,
    });
    let grouped = compute_report(&frames, &request).unwrap();
    set_collection(Collection::default());
    assert_reports_match(&one_pass, &serde_json::to_value(&grouped).unwrap());
    let parts = PartsInMemory::new(Default::default());
    let final_through = common::date("2026-10-30");
    let (incremental, _) =
        compute_report_incremental(&frames, &request, &parts, final_through).unwrap();
    assert_reports_match(&one_pass, &serde_json::to_value(&incremental).unwrap());
    // A second run from the kept parts, as a daily report reads them.
    let kept = PartsInMemory::new(parts.added().into_iter().collect());
    let (again, run) = compute_report_incremental(&frames, &request, &kept, final_through).unwrap();
    assert!(run.days_reused > 0, "{run:?}");
    assert_reports_match(&one_pass, &serde_json::to_value(&again).unwrap());
}

#[test]
fn the_unadjusted_difference_stays_and_the_adjusted_one_sits_beside_it() {
    let (frames, request) = log();
    let report = compute_report(&frames, &request).unwrap();
    let vs = report.arms[1].retention[1].vs_control.as_ref().unwrap();
    let cuped = vs.cuped.unwrap();
    // The unadjusted difference stays what it was; the adjusted one sits beside it.
    assert!(close(vs.diff, {
        let rate = |arm| (0..USERS).filter(|&i| user(arm, i).returns).count() as f64 / USERS as f64;
        rate(1) - rate(0)
    }));
    assert!(cuped.ci_high - cuped.ci_low > 0.0);
    assert!(report.arms[0].retention[1].vs_control.is_none());
    // Shown in the Markdown and HTML reports, day 1's retention row in points.
    let row = format!(
        "| treatment | 1 | retention | {:+.2} pp | {:+.2} pp ({:+.2} to {:+.2})",
        100.0 * vs.diff,
        100.0 * cuped.diff,
        100.0 * cuped.ci_low,
        100.0 * cuped.ci_high
    );
    let markdown = blendlab_analytics::render::markdown(&report);
    assert!(markdown.contains("## CUPED"), "{markdown}");
    assert!(markdown.contains(&row), "{row} in {markdown}");
    let html = blendlab_analytics::render::html(&report);
    assert!(html.contains("CUPED (adjusted for pre-exposure activity and attributes)"));
}
