//! Corrections for the many comparisons a daily report makes (days x metrics).

/// Holm's step-down adjusted p-values (Holm 1979; statsmodels `multipletests(method="holm")`):
/// with `p_(1) <= ... <= p_(m)`, `adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))`.
/// Controls the family-wise error rate under any dependence.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let order = ascending_order(p_values);
    let mut adjusted = vec![0.0; m];
    let mut running_max: f64 = 0.0;
    for (rank, &index) in order.iter().enumerate() {
        let candidate = ((m - rank) as f64 * p_values[index]).min(1.0);
        running_max = running_max.max(candidate);
        adjusted[index] = running_max;
    }
    adjusted
}

/// Benjamini-Hochberg step-up adjusted p-values (1995; statsmodels `multipletests(method="fdr_bh")`):
/// `adj_(i) = min_{j >= i} min(1, m p_(j) / j)`. Controls the false discovery rate.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let order = ascending_order(p_values);
    let mut adjusted = vec![0.0; m];
    let mut running_min: f64 = 1.0;
    for (rank, &index) in order.iter().enumerate().rev() {
        let candidate = (m as f64 * p_values[index] / (rank + 1) as f64).min(1.0);
        running_min = running_min.min(candidate);
        adjusted[index] = running_min;
    }
    adjusted
}

fn ascending_order(p_values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p_values.len()).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::vectors::{assert_all_close, assert_p_close, floats, load};

    #[test]
    fn corrections_match_statsmodels() {
        for case in load()["corrections"].as_array().unwrap() {
            let p = floats(&case["p"]);
            assert_all_close("holm", &holm(&p), &floats(&case["holm"]), assert_p_close);
            assert_all_close(
                "bh",
                &benjamini_hochberg(&p),
                &floats(&case["bh"]),
                assert_p_close,
            );
        }
    }

    #[test]
    fn no_p_values_give_no_adjustments() {
        assert!(holm(&[]).is_empty());
    }
}
