//! Sample-ratio mismatch: did assignment split users as configured?

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Pearson chi-square goodness of fit of observed arm sizes against `weights` (Fabijan et al.
/// 2019, "Diagnosing Sample Ratio Mismatch"; scipy `chisquare`): expected `E_i = N w_i / sum(w)`,
/// `chi2 = sum (O_i - E_i)^2 / E_i`, `k - 1` degrees of freedom over arms with positive weight.
///
/// `None` with fewer than two weighted arms or no users (nothing to test), or when the arm
/// counts and weights do not pair up.
pub fn srm_p_value(observed: &[u64], weights: &[f64]) -> Option<(f64, f64)> {
    if observed.len() != weights.len() {
        return None;
    }
    let weight_sum: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    let total: u64 = observed.iter().sum();
    let cells: Vec<(f64, f64)> = observed
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(o, w)| (*o as f64, total as f64 * w / weight_sum))
        .collect();
    if cells.len() < 2 || total == 0 {
        return None;
    }
    let chi2: f64 = cells.iter().map(|(o, e)| (o - e).powi(2) / e).sum();
    let distribution = ChiSquared::new((cells.len() - 1) as f64).ok()?;
    Some((chi2, distribution.sf(chi2)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::vectors::{assert_close, assert_p_close, f, load};

    #[test]
    fn srm_matches_scipy() {
        for case in load()["srm"].as_array().unwrap() {
            let observed: Vec<u64> = case["observed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect();
            let weights: Vec<f64> = case["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let (chi2, p) = srm_p_value(&observed, &weights).unwrap();
            assert_close("chi2", chi2, f(case, "chi2"));
            assert_p_close("p", p, f(case, "p_value"));
        }
    }

    #[test]
    fn counts_and_weights_of_different_lengths_have_no_test() {
        assert!(srm_p_value(&[10, 12, 9], &[0.5, 0.5]).is_none());
    }

    #[test]
    fn a_52_48_split_of_50000_is_flagged() {
        let (_, p) = srm_p_value(&[26_000, 24_000], &[0.5, 0.5]).unwrap();
        assert!(p < 0.001);
    }
}
