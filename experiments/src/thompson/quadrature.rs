//! Gauss-Legendre quadrature over panels cut where the integrands change.

/// Nodes and weights of the n-point Gauss-Legendre rule on [-1, 1] (Newton on P_n).
pub fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    let mut rule = Vec::with_capacity(n);
    for i in 1..=n {
        // Tricomi's first guess, then Newton steps to full precision.
        let mut x = (std::f64::consts::PI * (i as f64 - 0.25) / (n as f64 + 0.5)).cos();
        for _ in 0..100 {
            let (p, dp) = legendre(n, x);
            let step = p / dp;
            x -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
        let (_, derivative) = legendre(n, x);
        rule.push((x, 2.0 / ((1.0 - x * x) * derivative * derivative)));
    }
    rule
}

/// P_n(x) and its derivative, by the three-term recurrence.
fn legendre(n: usize, x: f64) -> (f64, f64) {
    let (mut previous, mut current) = (1.0, x);
    for k in 2..=n {
        let k = k as f64;
        let next = ((2.0 * k - 1.0) * x * current - (k - 1.0) * previous) / k;
        previous = current;
        current = next;
    }
    let derivative = n as f64 * (x * current - previous) / (x * x - 1.0);
    (current, derivative)
}

/// The rule's nodes mapped onto each panel between consecutive `cuts` (sorted, distinct):
/// (x, weight) pairs whose weighted sum of f integrates f over [cuts[0], cuts[last]].
pub fn panel_nodes(cuts: &[f64], rule: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut nodes = Vec::with_capacity(cuts.len().saturating_sub(1) * rule.len());
    for panel in cuts.windows(2) {
        let (half, middle) = ((panel[1] - panel[0]) / 2.0, (panel[1] + panel[0]) / 2.0);
        nodes.extend(rule.iter().map(|&(t, w)| (middle + half * t, half * w)));
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_integrates_polynomials_up_to_degree_2n_minus_1_exactly() {
        let rule = gauss_legendre(20);
        let weights: f64 = rule.iter().map(|(_, w)| w).sum();
        assert!((weights - 2.0).abs() < 1e-14, "{weights}");
        for degree in [2, 10, 38] {
            let integral: f64 = rule.iter().map(|(x, w)| w * x.powi(degree)).sum();
            let exact = 2.0 / (degree as f64 + 1.0);
            assert!((integral - exact).abs() < 1e-14, "x^{degree}: {integral}");
        }
    }

    #[test]
    fn panels_add_up_to_the_whole_interval() {
        let nodes = panel_nodes(&[0.0, 0.1, 0.5, 1.0], &gauss_legendre(8));
        let integral: f64 = nodes.iter().map(|(x, w)| w * x.exp()).sum();
        assert!((integral - (1f64.exp() - 1.0)).abs() < 1e-14, "{integral}");
    }
}
