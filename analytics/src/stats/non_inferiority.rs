//! One-sided non-inferiority tests of a guardrail on the relative change `arm / control - 1`,
//! as GrowthBook's gbstats makes them: `OneSidedTreatmentLesserTTest` (a metric that must not
//! rise by more than the margin) or `OneSidedTreatmentGreaterTTest` (one that must not fall by
//! more), with `test_value` at the margin and `difference_type = "relative"`.
//!
//! - relative change `lift = m_b / m_a - 1`, delta-method variance
//!   `v_b / (m_a^2 n_b) + v_a m_b^2 / (m_a^4 n_a)`;
//! - Student's t with Welch-Satterthwaite degrees of freedom on the sides' own variances;
//! - H0 is "worse than the margin": a small p-value shows the arm within it.
//!
//! Ratio metrics (errors per reply, compute seconds per returned user) are ratios of per-user
//! sums, so users are the independent units: their variance is gbstats' `RatioStatistic` (delta
//! method with the per-user covariance of numerator and denominator).

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::means::{upper_quantile, MeanSummary};
use blendlab_experiments::Harm;

/// A one-sided test of `lift` against the margin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonInferiority {
    /// `arm / control - 1`.
    pub lift: f64,
    /// The one-sided `1 - alpha` bound of the lift on the harmful side: the upper bound for a
    /// metric that must not rise, the lower bound for one that must not fall.
    pub bound: f64,
    /// The p-value of "the arm is worse than the margin".
    pub p_value: f64,
    pub df: f64,
}

/// Per-user sums of a ratio metric over one arm's `n` users: numerator `m`, denominator `d`.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RatioMoments {
    pub n: u64,
    pub m_sum: f64,
    pub m_sum_squares: f64,
    pub d_sum: f64,
    pub d_sum_squares: f64,
    pub m_d_sum: f64,
}

impl RatioMoments {
    /// `sum m / sum d` with its per-user variance (gbstats `RatioStatistic`, ddof 1), as a
    /// summary the test takes; `None` without two users or any denominator.
    pub fn summary(&self) -> Option<MeanSummary> {
        if self.n < 2 || self.d_sum <= 0.0 {
            return None;
        }
        let n = self.n as f64;
        let (mean_m, mean_d) = (self.m_sum / n, self.d_sum / n);
        let variance_of = |sum: f64, squares: f64| (squares - sum * sum / n) / (n - 1.0);
        let var_m = variance_of(self.m_sum, self.m_sum_squares);
        let var_d = variance_of(self.d_sum, self.d_sum_squares);
        let covariance = (self.m_d_sum - self.m_sum * self.d_sum / n) / (n - 1.0);
        let variance = var_m / mean_d.powi(2) - 2.0 * covariance * mean_m / mean_d.powi(3)
            + mean_m.powi(2) * var_d / mean_d.powi(4);
        Some(MeanSummary {
            mean: self.m_sum / self.d_sum,
            variance,
            n: self.n,
        })
    }
}

/// A proportion `x / n` with gbstats' `ProportionStatistic` variance `p (1 - p)`.
pub fn proportion_summary(x: u64, n: u64) -> Option<MeanSummary> {
    (n > 0).then(|| {
        let p = x as f64 / n as f64;
        MeanSummary {
            mean: p,
            variance: p * (1.0 - p),
            n,
        }
    })
}

/// Tests whether `arm` stays within `margin` (relative, > 0) of `control` on the side `harm`.
/// `None` where gbstats returns its uninformative default: a control mean of zero, a side with
/// zero variance, or fewer than two units on a side.
pub fn non_inferiority(
    control: MeanSummary,
    arm: MeanSummary,
    harm: Harm,
    margin: f64,
    alpha: f64,
) -> Option<NonInferiority> {
    if control.n < 2 || arm.n < 2 || control.mean == 0.0 {
        return None;
    }
    if !(control.variance > 0.0 && arm.variance > 0.0) {
        return None;
    }
    let (n_a, n_b) = (control.n as f64, arm.n as f64);
    let lift = (arm.mean - control.mean) / control.mean;
    let variance = arm.variance / (control.mean.powi(2) * n_b)
        + control.variance * arm.mean.powi(2) / (control.mean.powi(4) * n_a);
    let se = variance.sqrt();
    let (va, vb) = (control.variance / n_a, arm.variance / n_b);
    let df = (va + vb).powi(2) / (va * va / (n_a - 1.0) + vb * vb / (n_b - 1.0));
    let distribution = StudentsT::new(0.0, 1.0, df).ok()?;
    let critical = upper_quantile(&distribution, alpha);
    let (p_value, bound) = match harm {
        // H0: lift >= margin; the p-value is the lower tail, taken as the upper tail of its mirror
        // so that small p-values keep their digits.
        Harm::Increase => (distribution.sf((margin - lift) / se), lift + critical * se),
        // H0: lift <= -margin.
        Harm::Decrease => (distribution.sf((lift + margin) / se), lift - critical * se),
    };
    Some(NonInferiority {
        lift,
        bound,
        p_value,
        df,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::vectors::{assert_close, assert_p_close, f, load};
    use serde_json::Value;

    fn summary_of(case: &Value, side: &str) -> Option<MeanSummary> {
        let field = |name: &str| f(case, &format!("{name}_{side}"));
        match case["kind"].as_str().unwrap() {
            "proportion" => proportion_summary(field("x") as u64, field("n") as u64),
            "latency_p95" => crate::stats::quantile::ClusteredQuantile {
                n: field("n") as u64,
                n_clusters: field("n_clusters") as u64,
                nu: field("nu"),
                quantile_hat: field("quantile_hat"),
                quantile_lower: field("quantile_lower"),
                quantile_upper: field("quantile_upper"),
                main_sum: field("main_sum"),
                main_sum_squares: field("main_sum_squares"),
                denominator_sum: field("denominator_sum"),
                denominator_sum_squares: field("denominator_sum_squares"),
                main_denominator_sum_product: field("main_denominator_sum_product"),
            }
            .summary(),
            _ => RatioMoments {
                n: field("n") as u64,
                m_sum: field("m_sum"),
                m_sum_squares: field("m_sum_squares"),
                d_sum: field("d_sum"),
                d_sum_squares: field("d_sum_squares"),
                m_d_sum: field("m_d_sum"),
            }
            .summary(),
        }
    }

    #[test]
    fn non_inferiority_matches_gbstats() {
        let vectors = load();
        let cases = vectors["non_inferiority"].as_array().unwrap();
        assert!(cases.len() >= 80);
        for (i, case) in cases.iter().enumerate() {
            let harm = match case["harm"].as_str().unwrap() {
                "increase" => Harm::Increase,
                _ => Harm::Decrease,
            };
            let got = summary_of(case, "ctl")
                .zip(summary_of(case, "arm"))
                .and_then(|(control, arm)| {
                    non_inferiority(control, arm, harm, f(case, "margin"), 0.05)
                });
            let label = format!("case {i} ({})", case["kind"]);
            if case["p_value"].is_null() {
                assert!(got.is_none(), "{label}: {got:?}");
                continue;
            }
            let got = got.unwrap_or_else(|| panic!("{label}: no test"));
            assert_close(&format!("{label} lift"), got.lift, f(case, "lift"));
            assert_close(&format!("{label} df"), got.df, f(case, "df"));
            assert_close(&format!("{label} bound"), got.bound, f(case, "bound"));
            assert_p_close(&format!("{label} p"), got.p_value, f(case, "p_value"));
        }
    }

    #[test]
    fn a_lift_at_the_margin_is_a_coin_flip_and_the_bound_meets_the_margin_at_alpha() {
        let control = MeanSummary {
            mean: 0.2,
            variance: 0.16,
            n: 10_000,
        };
        let arm = MeanSummary {
            mean: 0.22,
            ..control
        };
        let test = non_inferiority(control, arm, Harm::Increase, 0.1, 0.05).unwrap();
        assert!((test.lift - 0.1).abs() < 1e-12);
        assert!((test.p_value - 0.5).abs() < 1e-9, "{test:?}");
        assert!(test.bound > 0.1);
    }
}
