//! Calibration of the Bayesian reading (`vs_control.bayes`): with a flat prior its posterior is
//! the sampling distribution turned around, so its promises are frequentist ones.
//! - A/A: a ship call (chance to win above 95%, GrowthBook's default threshold) happens in
//!   3%..7% of experiments: under the null the chance to win is uniform, so 5%. The share below
//!   5% (a call for control) is shown beside it and should be about the same.
//! - Coverage: with a true +10% D7 lift, the 95% credible interval of the lift covers 0.10 in
//!   93%..97% of experiments of the size `blendlab plan` gives.
//!
//! The mean error of the posterior mean (the observed lift, a ratio estimator with an O(1/n)
//! bias) is shown beside coverage.

use super::{
    arm_counts, check, planned_lift, split, CalibrationCheck, CalibrationConfig, Target, DAY,
};
use crate::synthetic::{Behaviour, Rng};
use blendlab_analytics::stats::{bayes_relative, ALPHA};

/// The chance to win at which a team acts on a Bayesian reading (GrowthBook's default).
const DECISION_CHANCE: f64 = 0.95;

pub fn checks(config: CalibrationConfig, behaviour: &Behaviour) -> [CalibrationCheck; 2] {
    [aa(config, behaviour), coverage(config, behaviour)]
}

fn aa(config: CalibrationConfig, behaviour: &Behaviour) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0xE5);
    let p = behaviour.return_probability(DAY, 0.0);
    let (mut ship, mut stop) = (0u32, 0u32);
    for _ in 0..config.runs {
        let (a, b) = split(&mut rng, config.aa_users);
        let (arm, control) = (arm_counts(&mut rng, a, p), arm_counts(&mut rng, b, p));
        if let Some(bayes) = bayes_relative(arm, control, ALPHA) {
            ship += u32::from(bayes.chance_to_win > DECISION_CHANCE);
            stop += u32::from(bayes.chance_to_win < 1.0 - DECISION_CHANCE);
        }
    }
    check(
        "bayes_aa",
        format!(
            "A/A, {} users, D7 Bayesian chance to win above 95% (a ship call)",
            config.aa_users
        ),
        config.runs,
        ship,
        Target::Within {
            low: 0.03,
            high: 0.07,
        },
        vec![(
            "chance_to_win_below_5_percent".into(),
            f64::from(stop) / f64::from(config.runs.max(1)),
        )],
    )
}

fn coverage(config: CalibrationConfig, behaviour: &Behaviour) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0xF6);
    let (baseline, treated, per_arm) = planned_lift(behaviour);
    let true_lift = treated / baseline - 1.0;
    let (mut covered, mut error_sum, mut estimated) = (0u32, 0.0, 0u32);
    for _ in 0..config.runs {
        let arm = arm_counts(&mut rng, per_arm, treated);
        let control = arm_counts(&mut rng, per_arm, baseline);
        let Some(bayes) = bayes_relative(arm, control, ALPHA) else {
            continue;
        };
        covered += u32::from(bayes.ci_low <= true_lift && true_lift <= bayes.ci_high);
        let posterior_mean = (bayes.ci_low + bayes.ci_high) / 2.0;
        error_sum += posterior_mean - true_lift;
        estimated += 1;
    }
    check(
        "bayes_coverage",
        format!(
            "true +10% D7 lift, {per_arm} users per arm: the 95% credible interval of the lift covers it"
        ),
        config.runs,
        covered,
        Target::Within {
            low: 0.93,
            high: 0.97,
        },
        vec![
            ("users_per_arm".into(), per_arm as f64),
            (
                "mean_error_of_posterior_mean".into(),
                error_sum / f64::from(estimated.max(1)),
            ),
        ],
    )
}
