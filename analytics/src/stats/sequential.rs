//! Always-valid inference for a report that is read every day.
//!
//! A fixed-horizon p-value checked daily for 30 days rejects a true null far more often than
//! alpha. Asymptotic confidence sequences (Waudby-Smith, Arnold, Wu, Lindon, Ramdas 2023,
//! arXiv:2103.06476, eq. 9 and 155) stay valid at every peek. This follows GrowthBook's gbstats
//! `SequentialTwoSidedTTest` with its default tuning (`n* = 5000`).

use super::{MeanSummary, ProportionCounts};

/// The sample size at which the confidence sequence is tightest (gbstats' default).
pub const SEQUENTIAL_TUNING: f64 = 5000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequentialResult {
    /// The point estimate: relative lift `arm / control - 1`, or the absolute difference.
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
}

/// Relative lift of a proportion, `rate_arm / rate_control - 1`, and its delta-method variance
/// `v_arm / (m_c^2 n_arm) + v_c m_arm^2 / (m_c^4 n_c)`, where `v = p (1 - p)`, as gbstats
/// computes them. `None` when control's rate is 0 or a side is empty.
pub(super) fn relative_lift(
    arm: ProportionCounts,
    control: ProportionCounts,
) -> Option<(f64, f64)> {
    let (m_arm, m_control) = (arm.rate()?, control.rate()?);
    if m_control == 0.0 {
        return None;
    }
    let (n_arm, n_control) = (arm.trials as f64, control.trials as f64);
    let variance = m_arm * (1.0 - m_arm) / (m_control.powi(2) * n_arm)
        + m_control * (1.0 - m_control) * m_arm.powi(2) / (m_control.powi(4) * n_control);
    Some(((m_arm - m_control) / m_control, variance))
}

/// The always-valid interval and p-value of the [`relative_lift`].
pub fn sequential_relative(
    arm: ProportionCounts,
    control: ProportionCounts,
    alpha: f64,
) -> Option<SequentialResult> {
    let (estimate, variance) = relative_lift(arm, control)?;
    let total_n = (arm.trials + control.trials) as f64;
    confidence_sequence(estimate, variance, total_n, alpha)
}

/// Absolute difference of means `mean_a - mean_b`, variance `va/na + vb/nb`.
pub fn sequential_absolute(a: MeanSummary, b: MeanSummary, alpha: f64) -> Option<SequentialResult> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let variance = a.variance / a.n as f64 + b.variance / b.n as f64;
    confidence_sequence(a.mean - b.mean, variance, (a.n + b.n) as f64, alpha)
}

/// `rho = sqrt((-2 ln alpha + ln(1 - 2 ln alpha)) / n*)`; half-width
/// `sqrt(N v) sqrt(2 (N rho^2 + 1) ln(sqrt(N rho^2 + 1) / alpha) / (N rho)^2)`;
/// e-value `exp(rho^2 N est^2 / v / (2 (N rho^2 + 1))) / sqrt(N rho^2 + 1)`, p = min(1, 1/e),
/// computed in log space so that a huge e-value does not overflow.
fn confidence_sequence(
    estimate: f64,
    variance: f64,
    total_n: f64,
    alpha: f64,
) -> Option<SequentialResult> {
    if !variance.is_finite() || variance <= 0.0 {
        return None;
    }
    let rho2 = (-2.0 * alpha.ln() + (1.0 - 2.0 * alpha.ln()).ln()) / SEQUENTIAL_TUNING;
    let spread = total_n * rho2 + 1.0;
    let half_width = (variance * total_n).sqrt()
        * (2.0 * spread * (spread.sqrt() / alpha).ln() / (total_n * total_n * rho2)).sqrt();
    let standardized2 = estimate * estimate * total_n / variance;
    let log_e_value = rho2 * standardized2 / (2.0 * spread) - 0.5 * spread.ln();
    let p_value = (-log_e_value).exp().min(1.0);
    Some(SequentialResult {
        estimate,
        ci_low: estimate - half_width,
        ci_high: estimate + half_width,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::vectors::{assert_close, assert_p_close, f, load, optional};

    #[test]
    fn relative_lift_matches_gbstats() {
        for case in load()["proportions"].as_array().unwrap() {
            let counts = |x: &str, n: &str| {
                ProportionCounts::new(case[x].as_u64().unwrap(), case[n].as_u64().unwrap())
            };
            let result =
                sequential_relative(counts("x_arm", "n_arm"), counts("x_ctl", "n_ctl"), 0.05);
            let Some(want_p) = optional(case, "seq_p_value") else {
                // gbstats is not asked where a side has no trials or no successes.
                assert!(
                    case["x_arm"] == 0 || case["n_ctl"] == 0,
                    "a sequential result exists for {case}"
                );
                continue;
            };
            let result = result.unwrap_or_else(|| panic!("a sequential result exists for {case}"));
            assert_close("lift", result.estimate, f(case, "seq_lift"));
            assert_close("seq_ci_low", result.ci_low, f(case, "seq_ci_low"));
            assert_close("seq_ci_high", result.ci_high, f(case, "seq_ci_high"));
            assert_p_close("seq_p", result.p_value, want_p);
        }
    }

    #[test]
    fn absolute_difference_matches_gbstats() {
        for case in load()["welch"].as_array().unwrap() {
            let side = |s: &str| MeanSummary {
                mean: f(case, &format!("mean_{s}")),
                variance: f(case, &format!("var_{s}")),
                n: case[format!("n_{s}")].as_u64().unwrap(),
            };
            let result = sequential_absolute(side("a"), side("b"), 0.05).unwrap();
            assert_close("seq_ci_low", result.ci_low, f(case, "seq_ci_low"));
            assert_close("seq_ci_high", result.ci_high, f(case, "seq_ci_high"));
            assert_p_close("seq_p", result.p_value, f(case, "seq_p_value"));
        }
    }

    #[test]
    fn an_empty_side_or_a_zero_control_rate_has_no_sequential_result() {
        let some = ProportionCounts::new(5, 50);
        assert!(sequential_relative(ProportionCounts::new(0, 0), some, 0.05).is_none());
        assert!(sequential_relative(some, ProportionCounts::new(0, 0), 0.05).is_none());
        assert!(sequential_relative(some, ProportionCounts::new(0, 40), 0.05).is_none());
    }

    #[test]
    fn the_sequential_interval_is_wider_than_the_fixed_one() {
        let arm = ProportionCounts::new(120, 1000);
        let control = ProportionCounts::new(100, 1000);
        let sequential = sequential_relative(arm, control, 0.05).unwrap();
        let (low, high) = crate::stats::ratio_ci(arm, control, 0.05).unwrap();
        assert!(sequential.ci_high - sequential.ci_low > high - low);
    }
}
