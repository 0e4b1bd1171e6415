//! Two independent proportions: the retention comparison of an arm with control on one day.

use super::{two_sided_normal_p, two_sided_z};

/// `retained` successes out of `eligible` trials.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProportionCounts {
    pub successes: u64,
    pub trials: u64,
}

impl ProportionCounts {
    pub fn new(successes: u64, trials: u64) -> Self {
        Self { successes, trials }
    }

    /// `None` when there are no trials.
    pub fn rate(&self) -> Option<f64> {
        (self.trials > 0).then(|| self.successes as f64 / self.trials as f64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZTest {
    pub z: f64,
    pub p_value: f64,
}

/// Pooled two-proportion z-test, two-sided (statsmodels `proportions_ztest`):
/// `p = (x1 + x2) / (n1 + n2)`, `z = (x1/n1 - x2/n2) / sqrt(p (1 - p) (1/n1 + 1/n2))`,
/// `p_value = 2 (1 - Phi(|z|))`.
///
/// When the pooled rate is 0 or 1 both rates are equal and nothing distinguishes the arms, so the
/// test reports `z = 0, p = 1` (statsmodels returns NaN, which JSON cannot carry).
/// `None` when a side has no trials.
pub fn two_proportion_z_test(arm: ProportionCounts, control: ProportionCounts) -> Option<ZTest> {
    let (rate_arm, rate_control) = (arm.rate()?, control.rate()?);
    let (n1, n2) = (arm.trials as f64, control.trials as f64);
    let pooled = (arm.successes + control.successes) as f64 / (n1 + n2);
    let standard_error = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if standard_error == 0.0 {
        return Some(ZTest {
            z: 0.0,
            p_value: 1.0,
        });
    }
    let z = (rate_arm - rate_control) / standard_error;
    Some(ZTest {
        z,
        p_value: two_sided_normal_p(z),
    })
}

/// Confidence interval of `rate_arm / rate_control` by the delta method on the log ratio
/// (Katz et al. 1978; statsmodels `confint_proportions_2indep(method="log", compare="ratio")`):
/// `exp(log(r) +- z_{1-alpha/2} sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2))`.
///
/// `None` when either side has no successes: the log ratio is then undefined.
pub fn ratio_ci(
    arm: ProportionCounts,
    control: ProportionCounts,
    alpha: f64,
) -> Option<(f64, f64)> {
    if arm.successes == 0 || control.successes == 0 {
        return None;
    }
    let (x1, n1) = (arm.successes as f64, arm.trials as f64);
    let (x2, n2) = (control.successes as f64, control.trials as f64);
    let log_ratio = ((x1 / n1) / (x2 / n2)).ln();
    let standard_error = (1.0 / x1 - 1.0 / n1 + 1.0 / x2 - 1.0 / n2).sqrt();
    let half_width = two_sided_z(alpha) * standard_error;
    Some((
        (log_ratio - half_width).exp(),
        (log_ratio + half_width).exp(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::vectors::{assert_close, assert_p_close, f, load, optional};

    fn counts(v: &serde_json::Value, x: &str, n: &str) -> ProportionCounts {
        ProportionCounts::new(v[x].as_u64().unwrap(), v[n].as_u64().unwrap())
    }

    #[test]
    fn z_test_and_ratio_ci_match_statsmodels() {
        let vectors = load();
        let cases = vectors["proportions"].as_array().unwrap();
        assert!(cases.len() >= 90);
        for case in cases {
            let arm = counts(case, "x_arm", "n_arm");
            let control = counts(case, "x_ctl", "n_ctl");
            let test = two_proportion_z_test(arm, control);
            match optional(case, "p_value") {
                Some(want_p) => {
                    let test = test.unwrap_or_else(|| panic!("a test exists for {case}"));
                    assert_close("z", test.z, f(case, "z"));
                    assert_p_close("p", test.p_value, want_p);
                }
                None => assert!(test.is_none(), "no test exists for {case}"),
            }
            let interval = ratio_ci(arm, control, 0.05);
            match (
                optional(case, "ratio_ci_low"),
                optional(case, "ratio_ci_high"),
            ) {
                (Some(want_low), Some(want_high)) => {
                    let (low, high) = interval.unwrap_or_else(|| panic!("a CI exists for {case}"));
                    assert_close("ci_low", low, want_low);
                    assert_close("ci_high", high, want_high);
                }
                _ => assert!(interval.is_none(), "no ratio CI exists for {case}"),
            }
        }
    }

    #[test]
    fn identical_degenerate_rates_are_not_significant() {
        let none = ProportionCounts::new(0, 50);
        let test = two_proportion_z_test(none, ProportionCounts::new(0, 70)).unwrap();
        assert_eq!(test.p_value, 1.0);
        assert!(ratio_ci(none, ProportionCounts::new(3, 70), 0.05).is_none());
    }

    #[test]
    fn an_empty_side_has_no_test() {
        let empty = ProportionCounts::new(0, 0);
        assert!(two_proportion_z_test(empty, ProportionCounts::new(3, 10)).is_none());
    }
}
