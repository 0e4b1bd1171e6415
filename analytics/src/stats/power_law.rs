//! The paper's summary of a ratio-to-control curve: `ratio(k) = c * k^(-beta)`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// `c` is the ratio extrapolated to day 1 (the initial advantage); `beta` is its decay
/// (0: the advantage persists; > 0: it fades; < 0: it grows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerLawFit {
    pub c: f64,
    pub c_ci_low: f64,
    pub c_ci_high: f64,
    pub beta: f64,
    pub beta_ci_low: f64,
    pub beta_ci_high: f64,
    /// Days used in the fit: k >= 1 with a positive ratio.
    pub points: usize,
}

/// Least squares on `ln ratio = ln c - beta ln k` (statsmodels OLS); 95% CIs from the t
/// distribution with `n - 2` degrees of freedom, mapped back through `exp` for `c`.
/// Day 0 is left out: `k^(-beta)` is undefined there. `None` with fewer than three usable points,
/// or when days and ratios do not pair up.
pub fn fit_power_law(days: &[u32], ratios: &[f64], alpha: f64) -> Option<PowerLawFit> {
    if days.len() != ratios.len() {
        return None;
    }
    let points: Vec<(f64, f64)> = days
        .iter()
        .zip(ratios)
        .filter(|(k, r)| **k >= 1 && **r > 0.0 && r.is_finite())
        .map(|(k, r)| ((*k as f64).ln(), r.ln()))
        .collect();
    let n = points.len();
    if n < 3 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n as f64;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n as f64;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let residual_ss: f64 = points
        .iter()
        .map(|p| (p.1 - intercept - slope * p.0).powi(2))
        .sum();
    let sigma2 = residual_ss / (n - 2) as f64;
    let slope_se = (sigma2 / sxx).sqrt();
    let intercept_se = (sigma2 * (1.0 / n as f64 + mean_x * mean_x / sxx)).sqrt();
    let t = StudentsT::new(0.0, 1.0, (n - 2) as f64)
        .ok()?
        .inverse_cdf(1.0 - alpha / 2.0);
    Some(PowerLawFit {
        c: intercept.exp(),
        c_ci_low: (intercept - t * intercept_se).exp(),
        c_ci_high: (intercept + t * intercept_se).exp(),
        beta: -slope,
        beta_ci_low: -slope - t * slope_se,
        beta_ci_high: -slope + t * slope_se,
        points: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::vectors::{assert_close, f, load};

    #[test]
    fn fit_matches_statsmodels_ols() {
        for case in load()["power_law"].as_array().unwrap() {
            let days: Vec<u32> = case["days"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as u32)
                .collect();
            let ratios: Vec<f64> = case["ratios"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_f64().unwrap())
                .collect();
            let fit = fit_power_law(&days, &ratios, 0.05).unwrap();
            for key in [
                "c",
                "beta",
                "c_ci_low",
                "c_ci_high",
                "beta_ci_low",
                "beta_ci_high",
            ] {
                let got = match key {
                    "c" => fit.c,
                    "beta" => fit.beta,
                    "c_ci_low" => fit.c_ci_low,
                    "c_ci_high" => fit.c_ci_high,
                    "beta_ci_low" => fit.beta_ci_low,
                    _ => fit.beta_ci_high,
                };
                assert_close(key, got, f(case, key));
            }
        }
    }

    #[test]
    fn days_and_ratios_of_different_lengths_have_no_fit() {
        assert!(fit_power_law(&[1, 2, 3, 4], &[1.0, 0.9, 0.8], 0.05).is_none());
    }

    #[test]
    fn an_exact_power_law_is_recovered() {
        let days: Vec<u32> = (0..=30).collect();
        let ratios: Vec<f64> = days
            .iter()
            .map(|&k| 1.2 * (k.max(1) as f64).powf(-0.1))
            .collect();
        let fit = fit_power_law(&days, &ratios, 0.05).unwrap();
        assert!((fit.c - 1.2).abs() < 1e-12 && (fit.beta - 0.1).abs() < 1e-12);
        assert_eq!(fit.points, 30);
    }
}
