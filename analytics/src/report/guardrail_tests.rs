//! The definition's guardrails tested one-sided against their non-inferiority margins
//! (`arms[].guardrail_tests`), from the report's counts and the per-user cost moments.

use std::collections::BTreeMap;

use blendlab_experiments::{Guardrail, GuardrailMetric, Harm};
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use super::columns::{floats, strings};
use super::ArmReport;
use crate::pipeline::costs::{latency as l, moments as moment};
use crate::schema::assignments as a;
use crate::stats::{self, ClusteredQuantile, MeanSummary, RatioMoments, ALPHA};
use crate::AnalyticsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailStatus {
    /// Shown to stay within the margin: the one-sided test rejects "worse than the margin".
    Pass,
    /// Shown to be worse than the margin: the whole one-sided interval on the other side lies
    /// beyond it.
    Fail,
    /// Neither yet.
    Inconclusive,
    /// The log cannot measure it (a missing column, no eligible users yet).
    NotMeasured,
}

/// One guardrail of one arm against control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardrailTest {
    pub metric: String,
    /// The direction in which the metric gets worse: `increase` or `decrease`.
    pub harm: Harm,
    /// The largest relative change allowed in that direction.
    pub margin: f64,
    pub arm_value: Option<f64>,
    pub control_value: Option<f64>,
    /// `arm / control - 1`.
    pub lift: Option<f64>,
    /// The one-sided 95% bound of the lift on the harmful side (upper for `increase`).
    pub bound: Option<f64>,
    /// p-value of "worse than the margin" (gbstats' one-sided test with `test_value`).
    pub p_value: Option<f64>,
    pub status: GuardrailStatus,
    /// Why a test is not measured or does not exist.
    pub note: Option<String>,
}

/// Per-arm sums of the per-user costs ([`crate::pipeline::costs::cost_moments`]).
#[derive(Debug, Clone, Default)]
pub struct CostMoments {
    replies: f64,
    replies_sq: f64,
    returned: f64,
    /// Errors: sum, sum of squares, sum of products with replies; `None` without `finish_reason`.
    errors: Option<[f64; 3]>,
    /// Compute seconds: the same with `returned`; `None` without `latency_ms`.
    compute: Option<[f64; 3]>,
}

/// The cost moments by arm; none when no guardrail asked for them.
pub fn read_cost_moments(
    df: Option<&DataFrame>,
) -> Result<BTreeMap<String, CostMoments>, AnalyticsError> {
    let Some(df) = df else {
        return Ok(BTreeMap::new());
    };
    let column = |name: &str| floats(df, name);
    let (replies, replies_sq, returned) = (
        column(moment::REPLIES)?,
        column(moment::REPLIES_SQ)?,
        column(moment::RETURNED)?,
    );
    let triple = |names: [&str; 3]| -> Result<Option<[Vec<Option<f64>>; 3]>, AnalyticsError> {
        if df.column(names[0]).is_err() {
            return Ok(None);
        }
        Ok(Some([
            column(names[0])?,
            column(names[1])?,
            column(names[2])?,
        ]))
    };
    let errors = triple([moment::ERRORS, moment::ERRORS_SQ, moment::ERRORS_X_REPLIES])?;
    let compute = triple([
        moment::COMPUTE,
        moment::COMPUTE_SQ,
        moment::COMPUTE_X_RETURNED,
    ])?;
    let at =
        |values: &[Vec<Option<f64>>; 3], i: usize| values.each_ref().map(|v| v[i].unwrap_or(0.0));
    Ok(strings(df, a::ARM)?
        .into_iter()
        .enumerate()
        .map(|(i, arm)| {
            let moments = CostMoments {
                replies: replies[i].unwrap_or(0.0),
                replies_sq: replies_sq[i].unwrap_or(0.0),
                returned: returned[i].unwrap_or(0.0),
                errors: errors.as_ref().map(|e| at(e, i)),
                compute: compute.as_ref().map(|c| at(c, i)),
            };
            (arm, moments)
        })
        .collect())
}

impl CostMoments {
    /// Errors over replies, as a ratio of per-user sums over `users`.
    fn error_rate(&self, users: u64) -> Option<RatioMoments> {
        let [m_sum, m_sum_squares, m_d_sum] = self.errors?;
        Some(RatioMoments {
            n: users,
            m_sum,
            m_sum_squares,
            d_sum: self.replies,
            d_sum_squares: self.replies_sq,
            m_d_sum,
        })
    }

    /// Compute seconds over returned users (a 0/1 value per user: its own square).
    fn compute_per_returned_user(&self, users: u64) -> Option<RatioMoments> {
        let [m_sum, m_sum_squares, m_d_sum] = self.compute?;
        Some(RatioMoments {
            n: users,
            m_sum,
            m_sum_squares,
            d_sum: self.returned,
            d_sum_squares: self.returned,
            m_d_sum,
        })
    }
}

/// The per-arm inputs of the latency quantile test ([`crate::collect::latency`]).
pub fn read_latency_quantiles(
    df: Option<&DataFrame>,
) -> Result<BTreeMap<String, ClusteredQuantile>, AnalyticsError> {
    let Some(df) = df else {
        return Ok(BTreeMap::new());
    };
    let column = |name: &str| floats(df, name);
    let [events, clusters, q_hat, q_lower, q_upper] =
        [l::EVENTS, l::CLUSTERS, l::Q_HAT, l::Q_LOWER, l::Q_UPPER].map(column);
    let [main, main_sq, den, den_sq, main_den] =
        [l::MAIN, l::MAIN_SQ, l::DEN, l::DEN_SQ, l::MAIN_X_DEN].map(column);
    let (events, clusters, q_hat, q_lower, q_upper) =
        (events?, clusters?, q_hat?, q_lower?, q_upper?);
    let (main, main_sq, den, den_sq, main_den) = (main?, main_sq?, den?, den_sq?, main_den?);
    let at = |values: &[Option<f64>], i: usize| values[i].unwrap_or(0.0);
    Ok(strings(df, a::ARM)?
        .into_iter()
        .enumerate()
        .map(|(i, arm)| {
            let quantile = ClusteredQuantile {
                n: at(&events, i) as u64,
                n_clusters: at(&clusters, i) as u64,
                nu: l::LEVEL,
                quantile_hat: at(&q_hat, i),
                quantile_lower: at(&q_lower, i),
                quantile_upper: at(&q_upper, i),
                main_sum: at(&main, i),
                main_sum_squares: at(&main_sq, i),
                denominator_sum: at(&den, i),
                denominator_sum_squares: at(&den_sq, i),
                main_denominator_sum_product: at(&main_den, i),
            };
            (arm, quantile)
        })
        .collect())
}

/// What the guardrail tests read besides the arms' reports.
pub struct TestInputs {
    pub costs: BTreeMap<String, CostMoments>,
    pub latency: BTreeMap<String, ClusteredQuantile>,
    /// The log has `latency_ms`.
    pub has_latency: bool,
}

/// The summaries a guardrail compares, or why it cannot be measured.
fn summaries(
    metric: GuardrailMetric,
    report: &ArmReport,
    inputs: &TestInputs,
) -> Result<Option<MeanSummary>, String> {
    let moments = inputs.costs.get(&report.arm);
    let ratio = |ratio_moments: Option<RatioMoments>, missing: &str| match ratio_moments {
        Some(m) => Ok(m.summary()),
        // An arm without a message has no per-user sums at all, whatever the log's columns.
        None if moments.is_none() => Err("the arm has no message yet".to_owned()),
        None => Err(format!("the log has no {missing} column")),
    };
    let costs = moments.cloned().unwrap_or_default();
    match metric {
        GuardrailMetric::ErrorRate => ratio(costs.error_rate(report.users), "finish_reason"),
        GuardrailMetric::ComputeSPerReturnedUser => {
            ratio(costs.compute_per_returned_user(report.users), "latency_ms")
        }
        GuardrailMetric::LatencyP95Ms if !inputs.has_latency => {
            Err("the log has no latency_ms column".to_owned())
        }
        GuardrailMetric::LatencyP95Ms => match inputs.latency.get(&report.arm) {
            Some(quantile) => Ok(quantile.summary()),
            None => Err("the arm has no reply with a latency yet".to_owned()),
        },
        GuardrailMetric::Retention(k) => {
            let day = report.retention.iter().find(|d| d.day == k);
            match day {
                Some(day) if day.eligible > 0 => {
                    Ok(stats::proportion_summary(day.retained, day.eligible))
                }
                _ => Err(format!("no user is eligible for day {k} yet")),
            }
        }
    }
}

/// The arm's value of a guardrail metric as the report shows it, for where no summary exists.
fn observed(metric: GuardrailMetric, report: &ArmReport) -> Option<f64> {
    match metric {
        GuardrailMetric::LatencyP95Ms => report.guardrails.latency_p95_ms,
        GuardrailMetric::ErrorRate => report.guardrails.error_rate,
        GuardrailMetric::ComputeSPerReturnedUser => report.guardrails.compute_s_per_returned_user,
        GuardrailMetric::Retention(k) => report
            .retention
            .iter()
            .find(|d| d.day == k)
            .and_then(|d| d.rate),
    }
}

/// Tests `guardrail` on `arm` against `control`.
pub fn test(
    guardrail: &Guardrail,
    arm: &ArmReport,
    control: &ArmReport,
    inputs: &TestInputs,
) -> GuardrailTest {
    let harm = guardrail.metric.harm();
    let mut test = GuardrailTest {
        metric: guardrail.metric.to_string(),
        harm,
        margin: guardrail.margin,
        arm_value: None,
        control_value: None,
        lift: None,
        bound: None,
        p_value: None,
        status: GuardrailStatus::NotMeasured,
        note: None,
    };
    let sides = summaries(guardrail.metric, arm, inputs)
        .and_then(|a| summaries(guardrail.metric, control, inputs).map(|c| (a, c)));
    let (arm_summary, control_summary) = match sides {
        Ok(sides) => sides,
        Err(why) => {
            test.note = Some(why);
            return test;
        }
    };
    // Where no test statistic exists yet (too few replies for a quantile's variance), the
    // values are still the report's own.
    test.arm_value = arm_summary
        .map(|s| s.mean)
        .or_else(|| observed(guardrail.metric, arm));
    test.control_value = control_summary
        .map(|s| s.mean)
        .or_else(|| observed(guardrail.metric, control));
    test.status = GuardrailStatus::Inconclusive;
    let result = arm_summary.zip(control_summary).and_then(|(arm, control)| {
        stats::non_inferiority(control, arm, harm, guardrail.margin, ALPHA)
    });
    let Some(result) = result else {
        test.note = Some(
            "no test exists yet: a side has fewer than two users, no variance, or a control \
             value of 0 (a relative margin has no scale)"
                .to_owned(),
        );
        return test;
    };
    // The bound on the other side, mirrored: lift -/+ the same one-sided width.
    let other_bound = 2.0 * result.lift - result.bound;
    let beyond_margin = match harm {
        Harm::Increase => other_bound > guardrail.margin,
        Harm::Decrease => other_bound < -guardrail.margin,
    };
    test.status = if result.p_value < ALPHA {
        GuardrailStatus::Pass
    } else if beyond_margin {
        GuardrailStatus::Fail
    } else {
        GuardrailStatus::Inconclusive
    };
    (test.lift, test.bound, test.p_value) =
        (Some(result.lift), Some(result.bound), Some(result.p_value));
    test
}
