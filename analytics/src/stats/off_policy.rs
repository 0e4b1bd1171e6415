//! Off-policy evaluation of blend policies from a micro-randomized log: what the mean per-turn
//! reward (continuation) would have been, on the logged turns, had another policy drawn the
//! components. Every logged turn carries the probability its component was drawn with, so
//! (Horvitz and Thompson 1952; Dudik, Langford and Li 2011; Swaminathan and Joachims 2015):
//! - `ips`: `mean(w r)`, `w = pi(a | x) / p(a)`: unbiased;
//! - `snips`: `sum(w r) / sum(w)`: self-normalized, a little biased, often much less variable;
//! - `dr`: `mean(sum_a pi(a | x) q(a, x) + w (r - q(a, x)))` with `q` the mean reward per component
//!   and turn-depth bucket (the component's mean where a bucket has fewer than [`MIN_CELL`]
//!   replies): unbiased when either the weights or the outcome model are right.
//!
//! The context `x` of a turn is its conversation's previous component (for `no_repeat`) and its
//! depth. Intervals are user-clustered like the component effects ([`super::clustered`]), and
//! the effective sample size is `(sum w)^2 / sum w^2`.

use serde::{Deserialize, Serialize};

use super::clustered::{clustered_ratio, ClusteredMean};

/// Cells of the outcome model with fewer replies use the component's mean.
pub const MIN_CELL: f64 = 30.0;
/// Depth buckets: 0, 1, 2-3, 4-7, 8+ earlier replies in the conversation.
pub const DEPTH_BUCKETS: usize = 5;

pub fn depth_bucket(depth: u32) -> u8 {
    match depth {
        0 => 0,
        d => (d.ilog2() + 1).min(DEPTH_BUCKETS as u32 - 1) as u8,
    }
}

/// A candidate blend policy, as its spec string names it (docs/architecture.md).
#[derive(Debug, Clone, PartialEq)]
pub enum CandidatePolicy {
    Uniform,
    /// Weights in the arm's model order.
    Weighted(Vec<f64>),
    Only(String),
    /// Never the previous turn's component; uniform over the others (and on a first turn).
    NoRepeat,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicySpecError {
    #[error("unknown policy `{0}`: expected uniform, weighted:W1,W2,..., only:MODEL or no_repeat")]
    Unknown(String),
    #[error("policy `{spec}`: weights must be non-negative numbers with a positive sum")]
    BadWeights { spec: String },
    #[error("policy `{spec}` has {given} weights but arm `{arm}` has {models} models")]
    WeightCount {
        spec: String,
        arm: String,
        given: usize,
        models: usize,
    },
    #[error("policy `{spec}`: arm `{arm}` has no model `{model}`")]
    UnknownModel {
        spec: String,
        arm: String,
        model: String,
    },
}

impl CandidatePolicy {
    pub fn parse(spec: &str) -> Result<Self, PolicySpecError> {
        let spec = spec.trim();
        if spec == "uniform" {
            return Ok(Self::Uniform);
        }
        if spec == "no_repeat" {
            return Ok(Self::NoRepeat);
        }
        if let Some(model) = spec.strip_prefix("only:") {
            if !model.is_empty() {
                return Ok(Self::Only(model.to_owned()));
            }
        }
        if let Some(list) = spec.strip_prefix("weighted:") {
            let weights: Option<Vec<f64>> = list
                .split(',')
                .map(|w| {
                    w.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|w| w.is_finite() && *w >= 0.0)
                })
                .collect();
            return match weights {
                Some(w) if w.iter().sum::<f64>() > 0.0 => Ok(Self::Weighted(w)),
                _ => Err(PolicySpecError::BadWeights { spec: spec.into() }),
            };
        }
        Err(PolicySpecError::Unknown(spec.into()))
    }

    /// Whether the policy applies to an arm of these models (weights fit, the model exists).
    pub fn check(&self, spec: &str, arm: &str, models: &[String]) -> Result<(), PolicySpecError> {
        match self {
            Self::Weighted(w) if w.len() != models.len() => Err(PolicySpecError::WeightCount {
                spec: spec.into(),
                arm: arm.into(),
                given: w.len(),
                models: models.len(),
            }),
            Self::Only(model) if !models.contains(model) => Err(PolicySpecError::UnknownModel {
                spec: spec.into(),
                arm: arm.into(),
                model: model.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// `pi(a | previous)` for each of `k` components; `only` needs its model's index.
    fn probabilities(&self, k: usize, only: Option<usize>, previous: Option<usize>) -> Vec<f64> {
        let uniform = vec![1.0 / k as f64; k];
        match self {
            Self::Uniform => uniform,
            Self::Weighted(w) => {
                let total: f64 = w.iter().sum();
                w.iter().map(|x| x / total).collect()
            }
            Self::Only(_) => (0..k).map(|a| f64::from(Some(a) == only)).collect(),
            Self::NoRepeat => match previous {
                Some(prev) if k > 1 => (0..k)
                    .map(|a| if a == prev { 0.0 } else { 1.0 / (k - 1) as f64 })
                    .collect(),
                _ => uniform,
            },
        }
    }
}

/// The logged replies of one user that share a component, previous component and depth bucket:
/// sums over them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TurnCell {
    /// A dense index of the user within the arm; cells of one user are adjacent.
    pub user: u32,
    pub component: usize,
    pub previous: Option<usize>,
    pub depth_bucket: u8,
    pub replies: f64,
    pub continued: f64,
    /// `sum 1/p`, `sum r/p` and `sum 1/p^2` over the replies' logged choice probabilities.
    pub inverse_p: f64,
    pub continued_inverse_p: f64,
    pub inverse_p_squared: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyValue {
    pub policy: String,
    pub estimator: String,
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub ess: f64,
}

/// DR's outcome model: the mean reward per component and depth bucket.
pub type OutcomeModel = Vec<[f64; DEPTH_BUCKETS]>;

/// The mean reward per (component, depth bucket), falling back to the component's mean. It
/// depends on the log only, so one fit serves every candidate policy of an arm.
pub fn outcome_model(cells: &[TurnCell], k: usize) -> OutcomeModel {
    let mut sums = vec![[(0.0, 0.0); DEPTH_BUCKETS]; k];
    for cell in cells {
        let s = &mut sums[cell.component][usize::from(cell.depth_bucket)];
        s.0 += cell.continued;
        s.1 += cell.replies;
    }
    sums.iter()
        .map(|buckets| {
            let (c, n) = buckets
                .iter()
                .fold((0.0, 0.0), |t, b| (t.0 + b.0, t.1 + b.1));
            let overall = if n > 0.0 { c / n } else { 0.0 };
            let mut q = [overall; DEPTH_BUCKETS];
            for (b, (c, n)) in buckets.iter().enumerate() {
                if *n >= MIN_CELL {
                    q[b] = c / n;
                }
            }
            q
        })
        .collect()
}

/// Per-user sums of `(ips, dr, w r, w, n)` terms, and `sum w^2`.
struct PolicySums {
    users: Vec<[f64; 5]>,
    weight_squares: f64,
}

fn policy_sums(
    cells: &[TurnCell],
    q: &OutcomeModel,
    policy: &CandidatePolicy,
    only: Option<usize>,
) -> PolicySums {
    let k = q.len();
    // pi depends on a cell only through its previous component, and the direct term also on its
    // depth bucket: both tabulated once rather than computed for every cell.
    let row = |previous: Option<usize>| previous.map_or(0, |p| p + 1);
    let pis: Vec<Vec<f64>> = std::iter::once(None)
        .chain((0..k).map(Some))
        .map(|previous| policy.probabilities(k, only, previous))
        .collect();
    let directs: Vec<[f64; DEPTH_BUCKETS]> = pis
        .iter()
        .map(|pi| std::array::from_fn(|bucket| (0..k).map(|a| pi[a] * q[a][bucket]).sum()))
        .collect();
    let mut users: Vec<[f64; 5]> = Vec::new();
    let mut last_user = None;
    let mut weight_squares = 0.0;
    for cell in cells {
        if last_user != Some(cell.user) {
            users.push([0.0; 5]);
            last_user = Some(cell.user);
        }
        let bucket = usize::from(cell.depth_bucket);
        let pi_taken = pis[row(cell.previous)][cell.component];
        let direct = directs[row(cell.previous)][bucket];
        let weighted_reward = pi_taken * cell.continued_inverse_p;
        let weight = pi_taken * cell.inverse_p;
        let dr = cell.replies * direct + weighted_reward - q[cell.component][bucket] * weight;
        let user = users.last_mut().expect("pushed above");
        for (total, term) in
            user.iter_mut()
                .zip([weighted_reward, dr, weighted_reward, weight, cell.replies])
        {
            *total += term;
        }
        weight_squares += pi_taken * pi_taken * cell.inverse_p_squared;
    }
    PolicySums {
        users,
        weight_squares,
    }
}

/// IPS, SNIPS and DR of one candidate policy on an arm's cells (sorted so that each user's
/// cells are adjacent), with DR's outcome model `q` ([`outcome_model`] of the same cells).
/// `only` is the index of an `only:` policy's model.
pub fn evaluate(
    spec: &str,
    policy: &CandidatePolicy,
    cells: &[TurnCell],
    q: &OutcomeModel,
    only: Option<usize>,
    alpha: f64,
) -> Vec<PolicyValue> {
    let sums = policy_sums(cells, q, policy, only);
    let total_weight: f64 = sums.users.iter().map(|u| u[3]).sum();
    let ess = if sums.weight_squares > 0.0 {
        total_weight * total_weight / sums.weight_squares
    } else {
        0.0
    };
    let estimate = |estimator: &str, fit: Option<ClusteredMean>| {
        let fit = fit?;
        Some(PolicyValue {
            policy: spec.to_owned(),
            estimator: estimator.to_owned(),
            value: fit.mean,
            ci_low: fit.ci_low?,
            ci_high: fit.ci_high?,
            ess,
        })
    };
    let pairs = |y: usize, w: usize| -> Vec<(f64, f64)> {
        sums.users.iter().map(|u| (u[y], u[w])).collect()
    };
    [
        estimate("ips", clustered_ratio(&pairs(0, 4), alpha)),
        estimate("snips", clustered_ratio(&pairs(2, 3), alpha)),
        estimate("dr", clustered_ratio(&pairs(1, 4), alpha)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_specs_parse_and_name_their_problem() {
        assert_eq!(
            CandidatePolicy::parse("uniform"),
            Ok(CandidatePolicy::Uniform)
        );
        assert_eq!(
            CandidatePolicy::parse("weighted:2,1,1"),
            Ok(CandidatePolicy::Weighted(vec![2.0, 1.0, 1.0]))
        );
        assert_eq!(
            CandidatePolicy::parse("only:small-a"),
            Ok(CandidatePolicy::Only("small-a".into()))
        );
        assert!(matches!(
            CandidatePolicy::parse("weighted:1,-1"),
            Err(PolicySpecError::BadWeights { .. })
        ));
        assert!(matches!(
            CandidatePolicy::parse("greedy"),
            Err(PolicySpecError::Unknown(_))
        ));
        let models = vec!["a".to_owned(), "b".to_owned()];
        let three = CandidatePolicy::parse("weighted:1,1,1").unwrap();
        assert!(three.check("weighted:1,1,1", "blend", &models).is_err());
        let only = CandidatePolicy::Only("c".into());
        assert!(only.check("only:c", "blend", &models).is_err());
    }

    #[test]
    fn depth_buckets_double() {
        let buckets: Vec<u8> = [0, 1, 2, 3, 4, 7, 8, 100].map(depth_bucket).to_vec();
        assert_eq!(buckets, vec![0, 1, 2, 2, 3, 3, 4, 4]);
    }

    #[test]
    fn no_repeat_never_draws_the_previous_component() {
        let p = CandidatePolicy::NoRepeat.probabilities(3, None, Some(1));
        assert_eq!(p, vec![0.5, 0.0, 0.5]);
        assert_eq!(
            CandidatePolicy::NoRepeat.probabilities(2, None, None),
            vec![0.5, 0.5]
        );
    }
}
