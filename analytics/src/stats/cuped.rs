//! CUPED as regression adjustment (Deng et al. 2013; Lin 2013): the arm's difference from control
//! estimated by OLS of the outcome on an intercept, the arm indicator and pre-exposure covariates
//! with common slopes, with heteroskedasticity-robust HC1 errors. Equal to statsmodels
//! `OLS(y, X).fit(cov_type="HC1")` (normal inference, as statsmodels uses for robust covariances).
//!
//! The covariates are discrete (active days before exposure, attribute indicators), so users with
//! the same covariates form a cell, and a cell's count, sum and sum of squares of the outcome are
//! sufficient: `X'X`, `X'y` and the HC1 meat `sum_i e_i^2 x_i x_i'` are all sums over cells of
//! `x_c x_c'` times `n`, `sum y` or `sum y^2`. Cells add up across user groups and days, so every
//! way of collecting a report gives the same numbers.

use super::linear::{invert, multiply};
use super::{two_sided_normal_p, two_sided_z};

/// The users of one arm who share the same covariates: how many, and the sum and sum of squares of
/// their outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeCell {
    pub covariates: Vec<f64>,
    pub n: f64,
    pub sum: f64,
    pub sum_sq: f64,
}

/// The adjusted difference `arm - control`, its 95% interval and two-sided p-value, and how much
/// smaller its variance is than that of the unadjusted difference (the same regression without
/// covariates, also HC1): `1 - var_adjusted / var_unadjusted`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionAdjusted {
    pub diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    pub variance_reduction: f64,
}

/// Below this share of its own sum of squares, a covariate is taken as a combination of the
/// columns before it and left out (statsmodels' pseudo-inverse gives the same arm coefficient).
const COLLINEAR: f64 = 1e-10;

/// Regression-adjusted difference of `arm` against `control`. `None` when a side has no users,
/// the arm indicator is collinear with the covariates, or the adjusted variance is zero.
pub fn regression_adjusted(
    arm: &[OutcomeCell],
    control: &[OutcomeCell],
    alpha: f64,
) -> Option<RegressionAdjusted> {
    let width = arm
        .iter()
        .chain(control)
        .map(|c| c.covariates.len())
        .max()?;
    let adjusted = fit(arm, control, width)?;
    let unadjusted = fit(arm, control, 0)?;
    let se = adjusted.variance.sqrt();
    let z = two_sided_z(alpha);
    Some(RegressionAdjusted {
        diff: adjusted.arm_coefficient,
        ci_low: adjusted.arm_coefficient - z * se,
        ci_high: adjusted.arm_coefficient + z * se,
        p_value: two_sided_normal_p(adjusted.arm_coefficient / se),
        variance_reduction: 1.0 - adjusted.variance / unadjusted.variance,
    })
}

struct Fit {
    arm_coefficient: f64,
    variance: f64,
}

/// OLS with HC1 of `y ~ 1 + arm + the first `width` covariates` over both sides' cells.
fn fit(arm: &[OutcomeCell], control: &[OutcomeCell], width: usize) -> Option<Fit> {
    let rows: Vec<(Vec<f64>, &OutcomeCell)> = arm
        .iter()
        .map(|c| (1.0, c))
        .chain(control.iter().map(|c| (0.0, c)))
        .filter(|(_, c)| c.n > 0.0)
        .map(|(indicator, c)| {
            let mut x = vec![1.0, indicator];
            x.extend((0..width).map(|j| c.covariates.get(j).copied().unwrap_or(0.0)));
            (x, c)
        })
        .collect();
    let columns = 2 + width;
    let mut gram = vec![vec![0.0; columns]; columns];
    let mut moment = vec![0.0; columns];
    for (x, cell) in &rows {
        for i in 0..columns {
            moment[i] += x[i] * cell.sum;
            for j in 0..columns {
                gram[i][j] += x[i] * x[j] * cell.n;
            }
        }
    }
    let kept = independent_columns(&gram);
    if !kept.contains(&1) || !kept.contains(&0) {
        return None;
    }
    let sub = |m: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
        kept.iter()
            .map(|&i| kept.iter().map(|&j| m[i][j]).collect())
            .collect()
    };
    let inverse = invert(sub(&gram))?;
    let moment: Vec<f64> = kept.iter().map(|&i| moment[i]).collect();
    let beta = multiply(&inverse, &moment);
    let mut meat = vec![vec![0.0; kept.len()]; kept.len()];
    let mut n = 0.0;
    for (x, cell) in &rows {
        let x: Vec<f64> = kept.iter().map(|&i| x[i]).collect();
        let fitted: f64 = x.iter().zip(&beta).map(|(a, b)| a * b).sum();
        let squared_residuals = cell.sum_sq - 2.0 * fitted * cell.sum + cell.n * fitted * fitted;
        for i in 0..x.len() {
            for j in 0..x.len() {
                meat[i][j] += x[i] * x[j] * squared_residuals;
            }
        }
        n += cell.n;
    }
    let parameters = kept.len() as f64;
    if n <= parameters {
        return None;
    }
    // The sandwich's arm entry: row `arm` of the inverse, times the meat, times its column.
    let arm_row = &inverse[1];
    let variance = multiply(&meat, arm_row)
        .iter()
        .zip(arm_row)
        .map(|(a, b)| a * b)
        .sum::<f64>()
        * n
        / (n - parameters);
    (variance > 0.0 && variance.is_finite()).then_some(Fit {
        arm_coefficient: beta[1],
        variance,
    })
}

/// The columns of a Gram matrix that are not linear combinations of earlier ones: a Cholesky pass
/// that skips a column whose pivot vanishes.
fn independent_columns(gram: &[Vec<f64>]) -> Vec<usize> {
    let mut kept: Vec<usize> = Vec::new();
    // Row r of the Cholesky factor of the kept columns, entries 0..=r.
    let mut factor: Vec<Vec<f64>> = Vec::new();
    for (j, column) in gram.iter().enumerate() {
        let mut row: Vec<f64> = Vec::with_capacity(kept.len() + 1);
        for (r, &i) in kept.iter().enumerate() {
            let earlier: f64 = (0..r).map(|c| factor[r][c] * row[c]).sum();
            row.push((column[i] - earlier) / factor[r][r]);
        }
        let own = column[j];
        let pivot = own - row.iter().map(|v| v * v).sum::<f64>();
        if own > 0.0 && pivot > COLLINEAR * own {
            row.push(pivot.sqrt());
            factor.push(row);
            kept.push(j);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::vectors::{assert_close, assert_p_close, f, load};
    use serde_json::Value;

    fn cells(side: &Value) -> Vec<OutcomeCell> {
        side.as_array()
            .expect("cells")
            .iter()
            .map(|cell| OutcomeCell {
                covariates: cell["covariates"]
                    .as_array()
                    .expect("covariates")
                    .iter()
                    .map(|v| v.as_f64().expect("a number"))
                    .collect(),
                n: f(cell, "n"),
                sum: f(cell, "sum"),
                sum_sq: f(cell, "sum_sq"),
            })
            .collect()
    }

    #[test]
    fn the_adjusted_difference_matches_statsmodels_ols_with_hc1_errors() {
        let vectors = load();
        let cases = vectors["cuped"].as_array().expect("cuped cases");
        assert!(cases.len() >= 30);
        for (index, case) in cases.iter().enumerate() {
            let result = regression_adjusted(&cells(&case["arm"]), &cells(&case["control"]), 0.05)
                .unwrap_or_else(|| panic!("case {index} has an adjusted difference"));
            let label = |name: &str| format!("{name} of case {index}");
            assert_close(&label("diff"), result.diff, f(case, "diff"));
            assert_close(&label("ci_low"), result.ci_low, f(case, "ci_low"));
            assert_close(&label("ci_high"), result.ci_high, f(case, "ci_high"));
            assert_p_close(&label("p_value"), result.p_value, f(case, "p_value"));
            let reduction = f(case, "variance_reduction");
            // Zero where the covariate is constant: compared absolutely there.
            if reduction.abs() < 1e-12 {
                assert!(
                    result.variance_reduction.abs() < 1e-9,
                    "{}",
                    label("reduction")
                );
            } else {
                assert_close(
                    &label("variance_reduction"),
                    result.variance_reduction,
                    reduction,
                );
            }
        }
    }

    #[test]
    fn with_one_covariate_it_agrees_with_gbstats_regression_adjusted_statistic() {
        // gbstats' slope is pooled over both arms (total covariance over total variance), OLS's
        // within arms; they differ by O(1/n), a small share of a standard error.
        let vectors = load();
        let cases: Vec<&Value> = vectors["cuped"]
            .as_array()
            .expect("cuped cases")
            .iter()
            .filter(|case| !case["gbstats_diff"].is_null())
            .collect();
        assert!(cases.len() >= 15);
        for case in cases {
            let result = regression_adjusted(&cells(&case["arm"]), &cells(&case["control"]), 0.05)
                .expect("an adjusted difference");
            let width = result.ci_high - result.ci_low;
            let gbstats_width = f(case, "gbstats_ci_high") - f(case, "gbstats_ci_low");
            let se = width / (2.0 * 1.959963984540054);
            assert!(
                (result.diff - f(case, "gbstats_diff")).abs() < 0.01 * se,
                "{case}"
            );
            assert!((width / gbstats_width - 1.0).abs() < 0.005, "{case}");
        }
    }

    #[test]
    fn no_adjusted_difference_without_users_on_both_sides() {
        let cell = OutcomeCell {
            covariates: vec![1.0],
            n: 10.0,
            sum: 4.0,
            sum_sq: 4.0,
        };
        assert_eq!(
            regression_adjusted(std::slice::from_ref(&cell), &[], 0.05),
            None
        );
        assert_eq!(regression_adjusted(&[], &[cell], 0.05), None);
    }
}
