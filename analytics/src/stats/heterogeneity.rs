//! Does the effect differ across an attribute's values? The Wald test that every arm's difference
//! from control is the same in each value: in the saturated OLS `y ~ C(arm) * C(value)` with HC1
//! errors, the `(arms - 1) x (values - 1)` interaction coefficients are all zero, against a
//! chi-square with that many degrees of freedom. Equal to statsmodels
//! `OLS(...).fit(cov_type="HC1").wald_test(interactions, use_f=False)`.
//!
//! The saturated model's coefficients are the cell means, and its HC1 covariance is diagonal:
//! `Var(mean) = N / (N - K) x SS / n^2` per cell (`SS` the cell's sum of squared deviations, `N`
//! the users, `K` the cells). So a cell's count, mean and variance suffice, and the test is
//! invariant to how the interactions are coded: here as the contrasts
//! `(m[a][g] - m[0][g]) - (m[a][0] - m[0][0])`.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::linear::{invert, multiply};
use super::MeanSummary;

/// The interaction Wald test of one attribute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeterogeneityTest {
    pub chi2: f64,
    /// `(arms - 1) x (values - 1)` over the values tested.
    pub df: u32,
    pub p_value: f64,
}

/// `values[g][a]` is value g's arm a (control first, every value with the same arms). Values where
/// an arm has fewer than 2 users carry no variance and are left out. `None` with fewer than two
/// values or arms left, or a singular covariance (no variance anywhere).
pub fn interaction_wald(values: &[Vec<MeanSummary>]) -> Option<HeterogeneityTest> {
    let arms = values.first()?.len();
    let tested: Vec<&Vec<MeanSummary>> = values
        .iter()
        .filter(|cells| cells.len() == arms && cells.iter().all(|c| c.n >= 2))
        .collect();
    let groups = tested.len();
    if arms < 2 || groups < 2 {
        return None;
    }
    let users: f64 = tested
        .iter()
        .flat_map(|cells| cells.iter())
        .map(|c| c.n as f64)
        .sum();
    let parameters = (arms * groups) as f64;
    if users <= parameters {
        return None;
    }
    let hc1 = users / (users - parameters);
    let index = |a: usize, g: usize| a * groups + g;
    let mut means = vec![0.0; arms * groups];
    let mut variances = vec![0.0; arms * groups];
    for (g, cells) in tested.iter().enumerate() {
        for (a, cell) in cells.iter().enumerate() {
            let n = cell.n as f64;
            means[index(a, g)] = cell.mean;
            variances[index(a, g)] = hc1 * cell.variance * (n - 1.0) / (n * n);
        }
    }
    let contrasts: Vec<Vec<f64>> = (1..arms)
        .flat_map(|a| (1..groups).map(move |g| (a, g)))
        .map(|(a, g)| {
            let mut row = vec![0.0; arms * groups];
            row[index(a, g)] += 1.0;
            row[index(0, g)] -= 1.0;
            row[index(a, 0)] -= 1.0;
            row[index(0, 0)] += 1.0;
            row
        })
        .collect();
    let estimate = multiply(&contrasts, &means);
    let covariance: Vec<Vec<f64>> = contrasts
        .iter()
        .map(|r| {
            contrasts
                .iter()
                .map(|s| (0..r.len()).map(|p| r[p] * s[p] * variances[p]).sum())
                .collect()
        })
        .collect();
    let inverse = invert(covariance)?;
    let chi2: f64 = multiply(&inverse, &estimate)
        .iter()
        .zip(&estimate)
        .map(|(a, b)| a * b)
        .sum();
    let df = contrasts.len() as u32;
    if !chi2.is_finite() || chi2 < 0.0 {
        return None;
    }
    let p_value = ChiSquared::new(f64::from(df)).ok()?.sf(chi2);
    Some(HeterogeneityTest { chi2, df, p_value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::vectors::{assert_close, assert_p_close, f, load};

    fn summary(mean: f64, variance: f64, n: u64) -> MeanSummary {
        MeanSummary { mean, variance, n }
    }

    #[test]
    fn the_interaction_test_matches_statsmodels_wald_with_hc1_errors() {
        let vectors = load();
        let cases = vectors["heterogeneity"]
            .as_array()
            .expect("heterogeneity cases");
        assert!(cases.len() >= 30);
        let mut significant = 0;
        for (index, case) in cases.iter().enumerate() {
            let values: Vec<Vec<MeanSummary>> = case["cells"]
                .as_array()
                .expect("cells")
                .iter()
                .map(|row| {
                    row.as_array()
                        .expect("arms")
                        .iter()
                        .map(|c| summary(f(c, "mean"), f(c, "variance"), f(c, "n") as u64))
                        .collect()
                })
                .collect();
            let test = interaction_wald(&values)
                .unwrap_or_else(|| panic!("case {index} has a heterogeneity test"));
            assert_close(&format!("chi2 of case {index}"), test.chi2, f(case, "chi2"));
            assert_eq!(f64::from(test.df), f(case, "df"), "df of case {index}");
            assert_p_close(
                &format!("p of case {index}"),
                test.p_value,
                f(case, "p_value"),
            );
            significant += usize::from(test.p_value < 0.05);
        }
        // The vectors span the decision range: some values differ in effect, most do not.
        assert!((1..cases.len()).contains(&significant), "{significant}");
    }

    #[test]
    fn a_value_where_an_arm_has_one_user_is_left_out() {
        let full = vec![
            vec![summary(0.2, 0.16, 100), summary(0.25, 0.19, 100)],
            vec![summary(0.4, 0.24, 100), summary(0.3, 0.21, 100)],
        ];
        let mut with_a_lone_user = full.clone();
        with_a_lone_user.push(vec![summary(1.0, 0.0, 1), summary(0.0, 0.0, 50)]);
        let test = interaction_wald(&full).expect("a test");
        assert_eq!(test.df, 1);
        // The lone user's value is dropped: the same two values, the same statistic.
        let dropped = interaction_wald(&with_a_lone_user).expect("a test");
        assert_eq!(dropped.df, 1);
        assert!((dropped.chi2 - test.chi2).abs() < 1e-12);
        assert_eq!(interaction_wald(&full[..1]), None);
    }

    #[test]
    fn no_test_without_variance() {
        let flat = vec![
            vec![summary(0.0, 0.0, 10), summary(0.0, 0.0, 10)],
            vec![summary(0.0, 0.0, 10), summary(0.0, 0.0, 10)],
        ];
        assert_eq!(interaction_wald(&flat), None);
    }
}
