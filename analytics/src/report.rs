//! The report of docs/architecture.md ("Report JSON"): types, and `compute_report`, which runs the pipeline
//! once and attaches the statistics.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::collect::{self, experiment_start, Collected};
use crate::pipeline::{Horizon, DAY_MICROS};
use crate::stats::{self, fit_power_law, PowerLawFit};
use crate::{AnalyticsError, LogFrames};

mod attribution;
pub(crate) mod build;
mod columns;
mod comparisons;
mod cuped;
mod decision;
mod guardrail_tests;
mod guardrails;
mod segments;

pub use crate::request::{ArmSpec, ReportRequest};

pub use crate::stats::off_policy::PolicyValue;
pub use attribution::{ComponentAttribution, OutcomeEstimate, VsRest};
pub use comparisons::retention_vs_control;
pub use cuped::MAX_ATTRIBUTE_VALUES;
pub use decision::{ArmDecision, Verdict};
pub use guardrail_tests::{GuardrailStatus, GuardrailTest};
pub use guardrails::Guardrails;

/// SRM is flagged below this p-value (docs/architecture.md).
pub const SRM_WARNING_P: f64 = 0.001;
pub const DEFAULT_WINDOW_DAYS: u32 = 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub experiment: String,
    pub as_of: NaiveDate,
    pub control: String,
    pub window_days: u32,
    /// The first exposure in the data (UTC date).
    pub start: NaiveDate,
    pub srm: Srm,
    pub arms: Vec<ArmReport>,
    /// The report per value of each user attribute (docs/report.md, "Segments").
    #[serde(default)]
    pub segments: Vec<Segment>,
}

/// The arms' retention and engagement among the users with one value of one attribute at their
/// first exposure. `p_value_adjusted` and `q_value` correct across the attribute's values (the
/// same arm, metric and day), not across days; `guardrails`, `attribution` and `policy_values`
/// are the whole arm's business and stay empty here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Segment {
    /// The attribute's name, without the `attr_` prefix.
    pub attribute: String,
    /// Empty text for users whose first exposure did not carry the attribute.
    pub value: String,
    pub users: u64,
    /// The metric the heterogeneity test is on: the definition's primary metric.
    pub heterogeneity_metric: String,
    /// The Wald test that every arm's effect on that metric is the same in each of the
    /// attribute's values (`stats::interaction_wald`); the same for every value of the attribute,
    /// null where it does not exist.
    pub heterogeneity_p_value: Option<f64>,
    pub arms: Vec<ArmReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Srm {
    pub chi2: Option<f64>,
    /// 1.0 when there is nothing to test (one arm, or no users).
    pub p_value: f64,
    /// p < 0.001: the split differs from the configured weights; the comparison is suspect.
    pub warning: bool,
    pub arms: Vec<SrmArm>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SrmArm {
    pub arm: String,
    pub users: u64,
    pub expected_share: f64,
    pub observed_share: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArmReport {
    pub arm: String,
    pub users: u64,
    pub models: Vec<String>,
    pub retention: Vec<RetentionDay>,
    pub engagement: Vec<EngagementDay>,
    /// The paper's summary of the ratio-to-control curves over days 1..window.
    pub power_law: PowerLaws,
    pub guardrails: Guardrails,
    /// Per component, for arms with more than one model.
    pub attribution: Vec<ComponentAttribution>,
    /// Off-policy values of candidate blend policies on this arm's logged turns; null, with
    /// `policy_values_reason`, when the log cannot support them.
    pub policy_values: Option<Vec<PolicyValue>>,
    pub policy_values_reason: Option<String>,
    /// The definition's guardrails tested against their margins; empty on control.
    #[serde(default)]
    pub guardrail_tests: Vec<GuardrailTest>,
    /// The verdict: null on control.
    #[serde(default)]
    pub decision: Option<ArmDecision>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetentionDay {
    pub day: u32,
    pub eligible: u64,
    pub retained: u64,
    /// `retained / eligible`; null while no user is eligible yet.
    pub rate: Option<f64>,
    pub vs_control: Option<RetentionVsControl>,
}

/// Arm against control on one day's retention. Ratios and their intervals share one scale:
/// `seq_ci_*` is the always-valid interval of `rate_arm / rate_control` (1 + relative lift).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetentionVsControl {
    pub diff: f64,
    pub ratio: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    /// Holm across this arm's days and metrics (family-wise error).
    pub p_value_adjusted: f64,
    /// Benjamini-Hochberg across the same family (false discovery rate).
    pub q_value: f64,
    pub seq_ci_low: f64,
    pub seq_ci_high: f64,
    pub seq_p_value: f64,
    /// The Bayesian reading of the same day; null where the posterior does not exist.
    pub bayes: Option<BayesVsControl>,
    /// The difference adjusted for pre-exposure covariates; null where the regression does not
    /// exist (a side without users, or no variance).
    #[serde(default)]
    pub cuped: Option<CupedVsControl>,
}

/// CUPED: `diff` adjusted by regression on pre-exposure active days and user attributes (OLS with
/// HC1 errors), beside the unadjusted result. `variance_reduction` is `1 - var_adjusted /
/// var_unadjusted` of the difference.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct CupedVsControl {
    pub diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    pub variance_reduction: f64,
}

/// GrowthBook's effect Bayesian test (gbstats `EffectBayesianABTest`, default configuration) on
/// the relative lift `rate_arm / rate_control - 1`. Unlike `ci_*` and `seq_ci_*` above, the
/// interval is of the lift, as GrowthBook shows it, not of the ratio.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BayesVsControl {
    /// Posterior probability that the arm retains better than control.
    pub chance_to_win: f64,
    /// Lift expected to be lost by shipping the arm, `E[max(0, -lift)]` (GrowthBook's risk).
    pub expected_loss: f64,
    /// Lift expected to be lost by keeping control, `E[max(0, lift)]`.
    pub expected_loss_control: f64,
    /// The 95% credible interval of the lift.
    pub ci_low: f64,
    pub ci_high: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EngagementDay {
    pub day: u32,
    pub active: u64,
    /// Null when no user was active that day.
    pub mean_time_spent_s: Option<f64>,
    pub mean_user_messages: Option<f64>,
    /// Time spent per active user against control (Welch).
    pub vs_control: Option<MeanVsControl>,
    /// User messages per active user against control (Welch).
    pub vs_control_user_messages: Option<MeanVsControl>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MeanVsControl {
    pub diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    pub p_value_adjusted: f64,
    pub q_value: f64,
    pub seq_ci_low: f64,
    pub seq_ci_high: f64,
    pub seq_p_value: f64,
    /// The difference adjusted for pre-exposure covariates, as for retention.
    #[serde(default)]
    pub cuped: Option<CupedVsControl>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PowerLaws {
    pub retention: Option<PowerLawFit>,
    pub time_spent: Option<PowerLawFit>,
}

impl Report {
    pub fn arm(&self, name: &str) -> Option<&ArmReport> {
        self.arms.iter().find(|a| a.arm == name)
    }
}

/// Runs the pipeline (one collect of every output) and computes the statistics.
/// Blocking and CPU-bound: call it off the async runtime.
pub fn compute_report(
    frames: &LogFrames,
    request: &ReportRequest,
) -> Result<Report, AnalyticsError> {
    let (start_date, horizon) = prepare(frames, request)?;
    let collected: Collected = collect::collect(
        frames,
        &request.experiment,
        horizon,
        request.arms.as_deref(),
        collect::GuardrailInputs::of(&request.decision, frames),
    )?;
    build::assemble(request, start_date, horizon, collected)
}

/// Checks the request against the log: the experiment's first exposure (UTC date) and the
/// report's horizon.
pub(crate) fn prepare(
    frames: &LogFrames,
    request: &ReportRequest,
) -> Result<(NaiveDate, Horizon), AnalyticsError> {
    if request.window_days == 0 || request.window_days > 365 {
        return Err(AnalyticsError::InvalidArgument(format!(
            "window_days must be between 1 and 365, got {}",
            request.window_days
        )));
    }
    let start = experiment_start(frames, &request.experiment)?
        .ok_or_else(|| AnalyticsError::UnknownExperiment(request.experiment.clone()))?;
    let start_date = date_of_day(start.div_euclid(DAY_MICROS));
    if request.as_of < start_date {
        return Err(AnalyticsError::AsOfBeforeStart {
            as_of: request.as_of.to_string(),
            start: start_date.to_string(),
        });
    }
    let horizon = Horizon {
        as_of_day: day_number(request.as_of),
        window_days: request.window_days,
    };
    Ok((start_date, horizon))
}

pub fn day_number(date: NaiveDate) -> i64 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch is a date")).num_days()
}

pub fn date_of_day(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch is a date") + chrono::Duration::days(day)
}

/// Ratio of two curves day by day, for the power-law fit.
fn ratio_curve(days: &[(u32, Option<f64>, Option<f64>)]) -> (Vec<u32>, Vec<f64>) {
    days.iter()
        .filter_map(|(k, arm, control)| match (arm, control) {
            (Some(a), Some(c)) if *c > 0.0 => Some((*k, a / c)),
            _ => None,
        })
        .unzip()
}

fn power_laws(
    retention: &[RetentionDay],
    engagement: &[EngagementDay],
    control: &ArmReport,
) -> PowerLaws {
    let rates: Vec<_> = retention
        .iter()
        .zip(&control.retention)
        .map(|(a, c)| (a.day, a.rate, c.rate))
        .collect();
    let (days, ratios) = ratio_curve(&rates);
    let times: Vec<_> = engagement
        .iter()
        .zip(&control.engagement)
        .map(|(a, c)| (a.day, a.mean_time_spent_s, c.mean_time_spent_s))
        .collect();
    let (time_days, time_ratios) = ratio_curve(&times);
    PowerLaws {
        retention: fit_power_law(&days, &ratios, stats::ALPHA),
        time_spent: fit_power_law(&time_days, &time_ratios, stats::ALPHA),
    }
}
