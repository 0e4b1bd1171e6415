//! Planning: how many users an arm needs to detect a relative lift in a retention rate.

use statrs::distribution::ContinuousCDF;

use super::standard_normal;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanInput {
    /// Control's expected rate (for example D7 retention).
    pub baseline: f64,
    /// The smallest relative lift worth detecting: 0.10 means rate x 1.10.
    pub relative_lift: f64,
    pub alpha: f64,
    pub power: f64,
}

/// Users per arm (equal arms) for a two-sided test of two proportions at Cohen's effect size
/// `h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))` (Cohen 1988; statsmodels
/// `NormalIndPower().solve_power(proportion_effectsize(p1, p0), ...)`). Power counts both tails:
/// `Phi(|h| sqrt(n/2) - z) + Phi(-|h| sqrt(n/2) - z)` with `z = z_{1-alpha/2}`; `n` is solved by
/// bisection to machine precision. `None` for rates outside (0, 1) or a zero lift.
pub fn sample_size_per_arm(input: PlanInput) -> Option<f64> {
    let PlanInput {
        baseline,
        relative_lift,
        alpha,
        power,
    } = input;
    let treated = baseline * (1.0 + relative_lift);
    let valid = |p: f64| p > 0.0 && p < 1.0;
    if !valid(baseline) || !valid(treated) || !valid(alpha) || !valid(power) || relative_lift == 0.0
    {
        return None;
    }
    let h = (2.0 * treated.sqrt().asin() - 2.0 * baseline.sqrt().asin()).abs();
    let normal = standard_normal();
    let critical = normal.inverse_cdf(1.0 - alpha / 2.0);
    let power_at = |n: f64| {
        let shift = h * (n / 2.0).sqrt();
        normal.sf(critical - shift) + normal.cdf(-critical - shift)
    };
    let (mut low, mut high) = (1e-9, 2.0);
    while power_at(high) < power {
        high *= 2.0;
    }
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if power_at(middle) < power {
            low = middle;
        } else {
            high = middle;
        }
    }
    Some(0.5 * (low + high))
}

/// Users per arm when CUPED removes `variance_reduction` of the difference's variance: the
/// variance of a mean falls as `1/n`, so the same power needs `n (1 - variance_reduction)` users
/// (Deng et al. 2013). `None` outside `[0, 1)`.
pub fn with_variance_reduction(users_per_arm: f64, variance_reduction: f64) -> Option<f64> {
    (0.0..1.0)
        .contains(&variance_reduction)
        .then_some(users_per_arm * (1.0 - variance_reduction))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::vectors::{f, load};

    #[test]
    fn sample_sizes_match_statsmodels() {
        for case in load()["plans"].as_array().unwrap() {
            let n = sample_size_per_arm(PlanInput {
                baseline: f(case, "baseline"),
                relative_lift: f(case, "relative_lift"),
                alpha: f(case, "alpha"),
                power: f(case, "power"),
            })
            .unwrap();
            let want = f(case, "n_per_arm");
            // statsmodels stops its root finder at brentq's tolerance, not at machine precision.
            assert!(
                (n - want).abs() / want < 1e-6,
                "n = {n}, statsmodels = {want}"
            );
        }
    }

    #[test]
    fn a_ten_percent_lift_on_fifteen_percent_needs_thousands() {
        let n = sample_size_per_arm(PlanInput {
            baseline: 0.15,
            relative_lift: 0.10,
            alpha: 0.05,
            power: 0.8,
        })
        .unwrap();
        assert!((8_000.0..12_000.0).contains(&n), "{n}");
    }
}
