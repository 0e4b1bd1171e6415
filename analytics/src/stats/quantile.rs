//! A quantile of events that cluster within users (reply latency p95), as GrowthBook's gbstats
//! `QuantileClusteredStatistic` summarises it for its tests:
//! - the i.i.d. variance of the sample quantile from the width of its order-statistic interval,
//!   `(n - 1) ((q_upper - q_lower) / (2 z))^2` with `q_lower`, `q_upper` the sample quantiles at
//!   levels `nu -+ z sqrt(nu (1 - nu) / n)`;
//! - scaled by the clustered variance of the share of events at or below the quantile (a ratio of
//!   per-user sums, delta method) over its i.i.d. value `nu (1 - nu) / n`.

use super::{two_sided_z, MeanSummary, ALPHA};

/// The inputs of gbstats' `QuantileClusteredStatistic` for one arm (`n_star = n`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClusteredQuantile {
    /// Events (replies with a latency).
    pub n: u64,
    /// Users with at least one event.
    pub n_clusters: u64,
    /// The quantile level, e.g. 0.95.
    pub nu: f64,
    pub quantile_hat: f64,
    pub quantile_lower: f64,
    pub quantile_upper: f64,
    /// Per-user sums of events at or below `quantile_hat`: sum, sum of squares.
    pub main_sum: f64,
    pub main_sum_squares: f64,
    /// Per-user event counts: sum, sum of squares, and the sum of products with the above.
    pub denominator_sum: f64,
    pub denominator_sum_squares: f64,
    pub main_denominator_sum_product: f64,
}

/// The levels of the order-statistic interval of the `nu` quantile of `n` events, clamped to
/// [0, 1].
pub fn interval_levels(nu: f64, n: u64) -> (f64, f64) {
    let half = two_sided_z(ALPHA) * (nu * (1.0 - nu) / n.max(1) as f64).sqrt();
    ((nu - half).max(0.0), (nu + half).min(1.0))
}

impl ClusteredQuantile {
    fn cluster_variance(&self) -> f64 {
        let k = self.n_clusters as f64;
        let mu_s = self.main_sum / k;
        let mu_n = self.denominator_sum / k;
        let spread = |squares: f64, mean: f64| (squares / k - mean * mean) * k / (k - 1.0);
        let sigma_s = spread(self.main_sum_squares, mu_s);
        let sigma_n = spread(self.denominator_sum_squares, mu_n);
        let sigma_sn = (self.main_denominator_sum_product / k - mu_s * mu_n) * k / (k - 1.0);
        (sigma_s - 2.0 * mu_s * sigma_sn / mu_n + mu_s * mu_s * sigma_n / (mu_n * mu_n))
            / (k * mu_n * mu_n)
    }

    fn variance_init(&self) -> f64 {
        if self.n <= 1 || self.nu == 0.0 || self.n_clusters <= 1 || self.denominator_sum <= 0.0 {
            return 0.0;
        }
        let n = self.n as f64;
        let width = (self.quantile_upper - self.quantile_lower) / (2.0 * two_sided_z(ALPHA));
        let iid = (n - 1.0) * width * width;
        iid * self.cluster_variance() / (self.nu * (1.0 - self.nu) / n)
    }

    /// The quantile with its variance as the tests take it; `None` where gbstats finds no
    /// variance: too few events for the interval's levels to lie inside (0, 1), or a zero
    /// variance below 1,000 events.
    pub fn summary(&self) -> Option<MeanSummary> {
        let z = two_sided_z(ALPHA);
        let n = self.n as f64;
        let above_one = n <= z * z * self.nu / (1.0 - self.nu);
        let below_zero = n <= z * z * (1.0 - self.nu) / self.nu;
        let variance_init = self.variance_init();
        if above_one || below_zero || (variance_init <= 0.0 && self.n < 1000) {
            return None;
        }
        let variance = if self.n < 100 {
            variance_init
        } else {
            variance_init.max(1e-5)
        };
        Some(MeanSummary {
            mean: self.quantile_hat,
            variance,
            n: self.n,
        })
    }
}

/// The `q` quantile by linear interpolation (polars' `QuantileMethod::Linear`, numpy's default)
/// of the values that `(value, count)` rows, sorted by value, stand for.
pub fn weighted_quantile(rows: &[(f64, u64)], q: f64) -> f64 {
    let total: u64 = rows.iter().map(|r| r.1).sum();
    if total == 0 {
        return f64::NAN;
    }
    let position = (total - 1) as f64 * q;
    let below = position.floor() as u64;
    let fraction = position - below as f64;
    // The value at 0-based rank `rank` of the expanded, sorted values.
    let at = |rank: u64| {
        let mut seen = 0;
        for (value, n) in rows {
            seen += n;
            if rank < seen {
                return *value;
            }
        }
        rows.last().map_or(f64::NAN, |r| r.0)
    };
    let low = at(below);
    if fraction == 0.0 {
        low
    } else {
        low + (at(below + 1) - low) * fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::vectors::{assert_close, f, load};

    #[test]
    fn the_quantile_summary_matches_gbstats() {
        let vectors = load();
        let cases = vectors["quantiles"].as_array().unwrap();
        assert!(cases.len() >= 20);
        for (i, case) in cases.iter().enumerate() {
            let quantile = ClusteredQuantile {
                n: f(case, "n") as u64,
                n_clusters: f(case, "n_clusters") as u64,
                nu: f(case, "nu"),
                quantile_hat: f(case, "quantile_hat"),
                quantile_lower: f(case, "quantile_lower"),
                quantile_upper: f(case, "quantile_upper"),
                main_sum: f(case, "main_sum"),
                main_sum_squares: f(case, "main_sum_squares"),
                denominator_sum: f(case, "denominator_sum"),
                denominator_sum_squares: f(case, "denominator_sum_squares"),
                main_denominator_sum_product: f(case, "main_denominator_sum_product"),
            };
            let got = quantile.summary();
            if case["variance"].is_null() {
                assert!(got.is_none(), "case {i}: {got:?}");
                continue;
            }
            let got = got.unwrap_or_else(|| panic!("case {i}: no summary"));
            assert_close(
                &format!("case {i} variance"),
                got.variance,
                f(case, "variance"),
            );
        }
    }

    #[test]
    fn interval_levels_and_quantiles_of_raw_latencies_match_numpy() {
        let vectors = load();
        for (i, case) in vectors["quantile_raw"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let mut values: Vec<f64> = case["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            values.sort_by(f64::total_cmp);
            let rows: Vec<(f64, u64)> = values.iter().map(|v| (*v, 1)).collect();
            let (low, high) = interval_levels(f(case, "nu"), values.len() as u64);
            assert_close(&format!("raw {i} low level"), low, f(case, "level_lower"));
            assert_close(&format!("raw {i} high level"), high, f(case, "level_upper"));
            for (level, field) in [
                (f(case, "nu"), "quantile_hat"),
                (low, "quantile_lower"),
                (high, "quantile_upper"),
            ] {
                let got = weighted_quantile(&rows, level);
                assert_close(&format!("raw {i} {field}"), got, f(case, field));
            }
        }
    }
}
