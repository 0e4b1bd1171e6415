//! One arm's per-day counts, and its comparisons against control: the functions the arms and
//! the segments share.

use std::collections::BTreeMap;

use super::{
    cuped, ArmReport, BayesVsControl, EngagementDay, MeanVsControl, PowerLaws, RetentionDay,
    RetentionVsControl,
};
use crate::pipeline::Horizon;
use crate::stats::{self, MeanSummary, ProportionCounts, ALPHA};

/// One arm's per-day counts before any comparison.
pub(super) struct ArmCounts {
    pub(super) name: String,
    pub(super) weight: f64,
    pub(super) models: Vec<String>,
    pub(super) users: u64,
    pub(super) retention: Vec<RetentionDay>,
    pub(super) engagement: Vec<EngagementDay>,
    pub(super) time: Vec<Option<MeanSummary>>,
    pub(super) user_messages: Vec<Option<MeanSummary>>,
}

impl ArmCounts {
    /// The arm's report before any comparison, with nothing but its counts.
    pub(super) fn bare_report(&self) -> ArmReport {
        ArmReport {
            arm: self.name.clone(),
            users: self.users,
            models: self.models.clone(),
            retention: self.retention.clone(),
            engagement: self.engagement.clone(),
            power_law: PowerLaws::default(),
            guardrails: Default::default(),
            attribution: Vec::new(),
            policy_values: None,
            policy_values_reason: None,
            guardrail_tests: Vec::new(),
            decision: None,
        }
    }
}

pub(super) struct DayRow {
    pub(super) retained: u64,
    pub(super) time: MeanSummary,
    pub(super) user_messages: MeanSummary,
}

pub(super) fn arm_counts(
    name: String,
    weight: f64,
    models: Vec<String>,
    horizon: Horizon,
    sizes: &[(String, i64, u64)],
    per_day: &BTreeMap<(String, u32), DayRow>,
) -> ArmCounts {
    let cohort: Vec<(i64, u64)> = sizes
        .iter()
        .filter(|(arm, _, _)| *arm == name)
        .map(|(_, d0, n)| (*d0, *n))
        .collect();
    let users = cohort.iter().map(|(_, n)| n).sum();
    let (mut retention, mut engagement, mut time, mut user_messages) =
        (vec![], vec![], vec![], vec![]);
    for day in 0..=horizon.window_days {
        let eligible: u64 = cohort
            .iter()
            .filter(|(d0, _)| d0 + day as i64 <= horizon.as_of_day)
            .map(|(_, n)| n)
            .sum();
        let row = per_day.get(&(name.clone(), day));
        let retained = row.map_or(0, |r| r.retained);
        retention.push(RetentionDay {
            day,
            eligible,
            retained,
            rate: (eligible > 0).then(|| retained as f64 / eligible as f64),
            vs_control: None,
        });
        engagement.push(EngagementDay {
            day,
            active: retained,
            mean_time_spent_s: row.map(|r| r.time.mean),
            mean_user_messages: row.map(|r| r.user_messages.mean),
            vs_control: None,
            vs_control_user_messages: None,
        });
        time.push(row.map(|r| r.time));
        user_messages.push(row.map(|r| r.user_messages));
    }
    ArmCounts {
        name,
        weight,
        models,
        users,
        retention,
        engagement,
        time,
        user_messages,
    }
}

/// Fills `vs_control` for every day and metric, then corrects the arm's whole family of p-values
/// (days x {retention, time spent, user messages}) with Holm and Benjamini-Hochberg.
pub(super) fn compare(
    report: &mut ArmReport,
    arm: &ArmCounts,
    control_report: &ArmReport,
    control: &ArmCounts,
) {
    for (day, control_day) in report.retention.iter_mut().zip(&control_report.retention) {
        day.vs_control = retention_vs_control(
            ProportionCounts::new(day.retained, day.eligible),
            ProportionCounts::new(control_day.retained, control_day.eligible),
        );
    }
    for (i, day) in report.engagement.iter_mut().enumerate() {
        day.vs_control = mean_vs_control(arm.time[i], control.time[i]);
        day.vs_control_user_messages =
            mean_vs_control(arm.user_messages[i], control.user_messages[i]);
    }
    let mut family: Vec<f64> = Vec::new();
    family.extend(
        report
            .retention
            .iter()
            .filter_map(|d| d.vs_control.as_ref().map(|v| v.p_value)),
    );
    for day in &report.engagement {
        family.extend(day.vs_control.as_ref().map(|v| v.p_value));
        family.extend(day.vs_control_user_messages.as_ref().map(|v| v.p_value));
    }
    let (holm, bh) = (stats::holm(&family), stats::benjamini_hochberg(&family));
    let mut adjusted = holm.into_iter().zip(bh);
    for vs in report
        .retention
        .iter_mut()
        .filter_map(|d| d.vs_control.as_mut())
    {
        (vs.p_value_adjusted, vs.q_value) = adjusted.next().expect("one adjustment per p-value");
    }
    for day in &mut report.engagement {
        for vs in [
            day.vs_control.as_mut(),
            day.vs_control_user_messages.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            (vs.p_value_adjusted, vs.q_value) =
                adjusted.next().expect("one adjustment per p-value");
        }
    }
}

/// Fills `cuped` beside every unadjusted comparison.
pub(super) fn adjust(report: &mut ArmReport, control: &str, adjusted: &cuped::CupedReader) {
    use cuped::Outcome;
    let arm = report.arm.clone();
    for day in &mut report.retention {
        if let Some(vs) = day.vs_control.as_mut() {
            vs.cuped = adjusted.compare(&arm, control, day.day, Outcome::Retention);
        }
    }
    for day in &mut report.engagement {
        if let Some(vs) = day.vs_control.as_mut() {
            vs.cuped = adjusted.compare(&arm, control, day.day, Outcome::TimeSpent);
        }
        if let Some(vs) = day.vs_control_user_messages.as_mut() {
            vs.cuped = adjusted.compare(&arm, control, day.day, Outcome::UserMessages);
        }
    }
}

/// One day's retention against control, exactly as the report computes it (the calibration suite
/// runs it on simulated experiments). `None` when a side has no eligible users or no retained user
/// (the log ratio is undefined).
pub fn retention_vs_control(
    arm: ProportionCounts,
    control: ProportionCounts,
) -> Option<RetentionVsControl> {
    let test = stats::two_proportion_z_test(arm, control)?;
    let (ci_low, ci_high) = stats::ratio_ci(arm, control, ALPHA)?;
    let sequential = stats::sequential_relative(arm, control, ALPHA)?;
    let (rate_arm, rate_control) = (arm.rate()?, control.rate()?);
    Some(RetentionVsControl {
        diff: rate_arm - rate_control,
        ratio: rate_arm / rate_control,
        ci_low,
        ci_high,
        p_value: test.p_value,
        p_value_adjusted: test.p_value,
        q_value: test.p_value,
        seq_ci_low: 1.0 + sequential.ci_low,
        seq_ci_high: 1.0 + sequential.ci_high,
        seq_p_value: sequential.p_value,
        bayes: stats::bayes_relative(arm, control, ALPHA).map(|b| BayesVsControl {
            chance_to_win: b.chance_to_win,
            expected_loss: b.expected_loss,
            expected_loss_control: b.expected_loss_control,
            ci_low: b.ci_low,
            ci_high: b.ci_high,
        }),
        cuped: None,
    })
}

/// `None` when a side has fewer than two active users or no variance.
fn mean_vs_control(
    arm: Option<MeanSummary>,
    control: Option<MeanSummary>,
) -> Option<MeanVsControl> {
    let (arm, control) = (arm?, control?);
    let test = stats::welch_t_test(arm, control, ALPHA)?;
    let sequential = stats::sequential_absolute(arm, control, ALPHA)?;
    Some(MeanVsControl {
        diff: test.diff,
        ci_low: test.ci_low,
        ci_high: test.ci_high,
        p_value: test.p_value,
        p_value_adjusted: test.p_value,
        q_value: test.p_value,
        seq_ci_low: sequential.ci_low,
        seq_ci_high: sequential.ci_high,
        seq_p_value: sequential.p_value,
        cuped: None,
    })
}
