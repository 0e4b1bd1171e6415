//! Thompson sampling's selection probabilities for an adaptive blend, computed rather than
//! sampled.
//!
//! Thompson sampling draws each component's reward rate from its posterior and serves the
//! component with the highest draw. Its probability of serving component i is therefore
//! `P(i is best) = ∫ f_i(x) Π_{j≠i} F_j(x) dx` under independent Beta posteriors. Computing that
//! integral, instead of simulating draws, makes a policy snapshot a deterministic function of
//! the counts it was built from: the same counts give the same probabilities on every replica,
//! and the logged `choice_prob` is the exact propensity that off-policy evaluation needs.
//!
//! Each probability is then raised to a floor (`min_probability`), so every component stays
//! observed and evaluable, and the rest are scaled down to keep the sum at 1.

mod beta;
mod quadrature;

use beta::BetaPosterior;

/// A component's logged rewards: replies whose reward was 1 and replies whose reward was 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RewardCounts {
    pub successes: u64,
    pub failures: u64,
}

/// Gauss-Legendre points per panel; with panels at every scale of every posterior, 20 points
/// integrate each panel's smooth integrand to about machine precision.
const POINTS_PER_PANEL: usize = 20;

/// P(component i has the highest reward rate), each rate Beta(1 + successes, 1 + failures).
/// Sums to 1. An empty input gives an empty output.
pub fn probability_best(counts: &[RewardCounts]) -> Vec<f64> {
    let posteriors: Vec<BetaPosterior> = counts
        .iter()
        .map(|c| BetaPosterior::from_counts(c.successes, c.failures))
        .collect();
    if posteriors.len() < 2 {
        return vec![1.0; posteriors.len()];
    }
    let rule = quadrature::gauss_legendre(POINTS_PER_PANEL);
    let nodes = quadrature::panel_nodes(&cuts(&posteriors), &rule);
    let mut best = vec![0.0; posteriors.len()];
    let mut below = vec![0.0; posteriors.len()];
    for (x, weight) in nodes {
        for (f, posterior) in below.iter_mut().zip(&posteriors) {
            *f = posterior.cdf(x);
        }
        for (i, posterior) in posteriors.iter().enumerate() {
            let others: f64 = (0..below.len())
                .filter(|&j| j != i)
                .map(|j| below[j])
                .product();
            best[i] += weight * posterior.pdf(x) * others;
        }
    }
    // The integrals sum to 1 up to quadrature error; dividing by their sum removes that error.
    let total: f64 = best.iter().sum();
    if total > 0.0 && total.is_finite() {
        best.iter_mut().for_each(|p| *p /= total);
    } else {
        best.fill(1.0 / posteriors.len() as f64);
    }
    best
}

/// Panel edges over [0, 1]: each posterior's mean, then steps of its standard deviation growing
/// by half each time, out to both ends. Every panel then holds at most a fraction of any
/// posterior's change, however narrow one posterior is beside another.
fn cuts(posteriors: &[BetaPosterior]) -> Vec<f64> {
    let mut cuts = vec![0.0, 1.0];
    for posterior in posteriors {
        let (mean, sd) = (posterior.mean(), posterior.sd());
        cuts.push(mean);
        let mut reach = sd;
        while reach < 1.0 {
            cuts.extend(
                [mean - reach, mean + reach]
                    .into_iter()
                    .filter(|x| *x > 0.0 && *x < 1.0),
            );
            reach *= 1.5;
        }
    }
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|a, b| (*a - *b).abs() <= 1e-15);
    cuts
}

/// Raises every probability to at least `floor` and scales the others down so the sum stays 1
/// (water-filling: a component pushed under the floor by the scaling is floored too).
/// `floor * n` must be at most 1, which the definition's validation ensures.
pub fn with_floor(probabilities: &[f64], floor: f64) -> Vec<f64> {
    let n = probabilities.len();
    let mut floored = vec![false; n];
    loop {
        let free_mass = 1.0 - floor * floored.iter().filter(|f| **f).count() as f64;
        let free_sum: f64 = (0..n)
            .filter(|&i| !floored[i])
            .map(|i| probabilities[i])
            .sum();
        let free = (0..n).filter(|&i| !floored[i]).count();
        let scaled = |i: usize| {
            if free_sum > 0.0 {
                probabilities[i] * free_mass / free_sum
            } else {
                free_mass / free as f64
            }
        };
        let newly: Vec<usize> = (0..n)
            .filter(|&i| !floored[i] && scaled(i) < floor)
            .collect();
        if newly.is_empty() || free == newly.len() {
            return (0..n)
                .map(|i| {
                    if floored[i] {
                        floor
                    } else {
                        scaled(i).max(floor)
                    }
                })
                .collect();
        }
        for i in newly {
            floored[i] = true;
        }
    }
}

/// The probabilities a Thompson snapshot serves: `probability_best`, floored.
pub fn thompson_probabilities(counts: &[RewardCounts], floor: f64) -> Vec<f64> {
    with_floor(&probability_best(counts), floor)
}

#[cfg(test)]
mod tests;
