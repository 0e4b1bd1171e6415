//! Per-turn choice of the blend component. The draw is a pure function of
//! (salt, conversation id, turn), so replaying a conversation reproduces which component wrote
//! each turn, and the recorded probability supports off-policy evaluation of other policies.

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq)]
pub enum BlendPolicy {
    /// Every component with probability 1/n: the paper's blend.
    Uniform,
    /// Component i with probability `weights[i]`.
    Weighted(Vec<f64>),
    /// Adaptive: the probabilities come from the arm's current policy snapshot, which the server
    /// computes from the store (see [`crate::thompson_probabilities`]).
    Thompson(ThompsonPolicy),
}

/// What an adaptive arm learns from and how far it may lean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThompsonPolicy {
    pub reward: Reward,
    /// No component's probability goes below this.
    pub min_probability: f64,
}

/// `min_probability` when a definition leaves it out.
pub const DEFAULT_MIN_PROBABILITY: f64 = 0.05;

/// The per-reply outcome an adaptive policy learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reward {
    /// 1 when the conversation's next message is the user's, within 1800 s of the reply (the
    /// report's continuation outcome); 0 when it is not.
    Continuation,
    /// 1 when the reply's `feedback` event is positive, 0 when it is not; replies without feedback
    /// do not count.
    Feedback,
}

impl Reward {
    pub const NAMES: [&'static str; 2] = ["continuation", "feedback"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "continuation" => Some(Self::Continuation),
            "feedback" => Some(Self::Feedback),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Continuation => "continuation",
            Self::Feedback => "feedback",
        }
    }
}

/// The outcome of one turn's draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnDraw {
    pub model_index: usize,
    /// The probability with which this component was chosen, logged with the message.
    pub probability: f64,
    /// Seed for the sampler, so the reply's tokens are reproducible too.
    pub sampling_seed: u32,
}

/// Reproducible randomness for one turn: a uniform `f64` in `[0, 1)` for the component draw and a
/// sampler seed, both from SHA-256 of (salt, conversation id, turn).
pub fn turn_entropy(salt: &str, conversation_id: &str, turn: u32) -> (f64, u32) {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update([0x1f])
        .chain_update(conversation_id.as_bytes())
        .chain_update([0x1f])
        .chain_update(turn.to_le_bytes())
        .finalize();
    let choice_bits = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    let sampling_seed = u32::from_le_bytes(digest[8..12].try_into().expect("4 bytes"));
    // 53 random bits give a uniform f64 in [0, 1).
    (
        (choice_bits >> 11) as f64 / (1u64 << 53) as f64,
        sampling_seed,
    )
}

impl BlendPolicy {
    /// The name a definition uses for it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Weighted(_) => "weighted",
            Self::Thompson(_) => "thompson",
        }
    }

    /// Maps a uniform `u` in `[0, 1)` to a component index and its probability. An adaptive
    /// policy without a snapshot draws from its prior, which is uniform.
    pub(crate) fn choose(&self, u: f64, n: usize) -> (usize, f64) {
        match self {
            Self::Uniform | Self::Thompson(_) => {
                (((u * n as f64) as usize).min(n - 1), 1.0 / n as f64)
            }
            Self::Weighted(weights) => choose_by(weights, u),
        }
    }
}

/// Component i with probability `probabilities[i]` (which sum to 1), for a uniform `u`.
pub(crate) fn choose_by(probabilities: &[f64], u: f64) -> (usize, f64) {
    let mut cumulative = 0.0;
    for (i, p) in probabilities.iter().enumerate() {
        cumulative += p;
        if u < cumulative {
            return (i, *p);
        }
    }
    // Rounding can leave the last bucket a hair short of 1; it takes the rest.
    let last = probabilities
        .iter()
        .rposition(|p| *p > 0.0)
        .unwrap_or(probabilities.len() - 1);
    (last, probabilities[last])
}

#[cfg(test)]
mod tests {
    use statrs::distribution::{ChiSquared, ContinuousCDF};

    use super::*;
    use crate::{Arm, ArmName, BlendPolicy};

    fn arm(policy: BlendPolicy) -> Arm {
        Arm {
            name: ArmName::parse("blend").unwrap(),
            weight: 0.5,
            models: vec!["a".into(), "b".into(), "c".into()],
            policy,
        }
    }

    /// Pearson's chi-square goodness of fit: sum (O - E)^2 / E, with k - 1 degrees of freedom.
    fn chi_square_p_value(observed: &[u64], expected_share: &[f64]) -> f64 {
        let total: u64 = observed.iter().sum();
        let statistic: f64 = observed
            .iter()
            .zip(expected_share)
            .map(|(&o, &p)| {
                let e = p * total as f64;
                (o as f64 - e).powi(2) / e
            })
            .sum();
        1.0 - ChiSquared::new((observed.len() - 1) as f64)
            .unwrap()
            .cdf(statistic)
    }

    /// Draws computed by `vectors/turn_draw_vectors.py` with Python's hashlib, not by this code.
    #[test]
    fn draws_match_the_ones_recorded_by_an_independent_implementation() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../vectors/turn_draws.json")).unwrap();
        let cases = vectors["draws"].as_array().unwrap();
        assert!(cases.len() >= 400);
        for case in cases {
            let components = case["components"].as_u64().unwrap() as usize;
            let policy = match case["weights"].as_array() {
                None => BlendPolicy::Uniform,
                Some(w) => BlendPolicy::Weighted(w.iter().map(|x| x.as_f64().unwrap()).collect()),
            };
            let mut arm = arm(policy);
            arm.models = (0..components).map(|i| format!("m{i}")).collect();
            let (salt, conversation) = (
                case["salt"].as_str().unwrap(),
                case["conversation_id"].as_str().unwrap(),
            );
            let turn = case["turn"].as_u64().unwrap() as u32;
            let (u, _) = turn_entropy(salt, conversation, turn);
            // u is k / 2^53 exactly, so the integer k carries it through JSON without rounding.
            assert_eq!(
                (u * (1u64 << 53) as f64) as u64,
                case["u_bits"].as_u64().unwrap(),
                "{case}"
            );
            let draw = arm.draw_component(salt, conversation, turn);
            assert_eq!(
                draw,
                TurnDraw {
                    model_index: case["model_index"].as_u64().unwrap() as usize,
                    probability: case["probability"].as_f64().unwrap(),
                    sampling_seed: case["sampling_seed"].as_u64().unwrap() as u32,
                },
                "{case}"
            );
        }
    }

    #[test]
    fn different_conversations_and_turns_draw_differently() {
        let arm = arm(BlendPolicy::Uniform);
        let picks: Vec<usize> = (0..30)
            .map(|t| arm.draw_component("s", "c", t).model_index)
            .collect();
        assert!(picks.iter().any(|&p| p != picks[0]), "{picks:?}");
        let seeds: std::collections::HashSet<u32> = (0..30)
            .map(|t| arm.draw_component("s", &format!("c{t}"), 0).sampling_seed)
            .collect();
        assert_eq!(seeds.len(), 30);
    }

    #[test]
    fn uniform_draws_are_uniform_over_many_turns() {
        let arm = arm(BlendPolicy::Uniform);
        let mut counts = [0u64; 3];
        for conversation in 0..3000 {
            for turn in 0..10 {
                let draw = arm.draw_component("chai-blend", &format!("conv-{conversation}"), turn);
                assert_eq!(draw.probability, 1.0 / 3.0);
                counts[draw.model_index] += 1;
            }
        }
        let p = chi_square_p_value(&counts, &[1.0 / 3.0; 3]);
        assert!(p > 0.001, "counts {counts:?} are not uniform (p = {p})");
    }

    #[test]
    fn weighted_draws_follow_the_weights() {
        let weights = vec![0.6, 0.3, 0.1];
        let arm = arm(BlendPolicy::Weighted(weights.clone()));
        let mut counts = [0u64; 3];
        for turn in 0..30_000 {
            let draw = arm.draw_component("salt", "conversation", turn);
            assert_eq!(draw.probability, weights[draw.model_index]);
            counts[draw.model_index] += 1;
        }
        let p = chi_square_p_value(&counts, &weights);
        assert!(
            p > 0.001,
            "counts {counts:?} do not follow {weights:?} (p = {p})"
        );
    }

    #[test]
    fn a_zero_weight_component_is_never_drawn() {
        let arm = arm(BlendPolicy::Weighted(vec![0.5, 0.0, 0.5]));
        assert!((0..5000).all(|t| arm.draw_component("s", "c", t).model_index != 1));
    }
}
