//! Calibration of CUPED (`vs_control.cuped`) on users whose pre-exposure activity predicts their
//! return: each user has a latent activity `a ~ U(0, 1)`, was active on `Binomial(14, a)` of the
//! 14 days before exposure, and returns on D7 with probability `0.02 + 0.8 a` (0.42 on average).
//! - `cuped_aa`: A/A, the adjusted test's false-positive rate stays in 3%..7%;
//! - `cuped_variance_reduction`: the measured variance reduction, averaged over experiments,
//!   is within 0.01 of the theory's `rho^2` (the squared correlation of the covariate and the
//!   outcome: 0.1916 here), with the power of the unadjusted and the adjusted test at a +3 point
//!   effect beside it;
//! - `cuped_planned_power`: `blendlab plan --variance-reduction rho^2` plans the same 80% power
//!   with fewer users: at the users it gives, the adjusted test detects the +3 point effect in
//!   75%..86% of experiments.

use super::{split, CalibrationCheck, CalibrationConfig, Target};
use crate::synthetic::Rng;
use blendlab_analytics::stats::{
    regression_adjusted, sample_size_per_arm, with_variance_reduction, OutcomeCell, PlanInput,
    ProportionCounts, ALPHA,
};

const PRE_DAYS: u64 = 14;
const BASE_RETURN: f64 = 0.02;
const ACTIVITY_SLOPE: f64 = 0.8;
/// The absolute D7 effect of the power comparison.
const EFFECT: f64 = 0.03;
/// How far the mean measured variance reduction may sit from `rho^2`: the slope is estimated,
/// which costs a little of the reduction at a few thousand users.
const TOLERANCE: f64 = 0.01;

/// `rho^2` of the model: `Cov(pre, y) = 14 c Var(a)`, `Var(pre) = 14 E[a(1-a)] + 196 Var(a)`,
/// `Var(y) = p(1-p)` with `Var(a) = 1/12`, `E[a(1-a)] = 1/6`, `p = E[y]`.
pub fn theoretical_variance_reduction() -> f64 {
    let days = PRE_DAYS as f64;
    let covariance = days * ACTIVITY_SLOPE / 12.0;
    let pre_variance = days / 6.0 + days * days / 12.0;
    let p = BASE_RETURN + ACTIVITY_SLOPE / 2.0;
    covariance * covariance / (pre_variance * p * (1.0 - p))
}

pub fn checks(config: CalibrationConfig) -> [CalibrationCheck; 3] {
    [
        aa(config),
        variance_reduction(config),
        planned_power(config),
    ]
}

/// One arm's cells of `users` users, with `effect` added to their return probability.
fn arm_cells(rng: &mut Rng, users: u64, effect: f64) -> Vec<OutcomeCell> {
    let mut cells: Vec<OutcomeCell> = (0..=PRE_DAYS)
        .map(|days| OutcomeCell {
            covariates: vec![days as f64],
            n: 0.0,
            sum: 0.0,
            sum_sq: 0.0,
        })
        .collect();
    for _ in 0..users {
        let activity = rng.uniform();
        let cell = &mut cells[rng.binomial(PRE_DAYS, activity) as usize];
        let returned = f64::from(u8::from(
            rng.chance(BASE_RETURN + ACTIVITY_SLOPE * activity + effect),
        ));
        cell.n += 1.0;
        cell.sum += returned;
        cell.sum_sq += returned;
    }
    cells
}

fn counts(cells: &[OutcomeCell]) -> ProportionCounts {
    let (n, sum) = cells
        .iter()
        .fold((0.0, 0.0), |(n, s), c| (n + c.n, s + c.sum));
    ProportionCounts::new(sum as u64, n as u64)
}

fn aa(config: CalibrationConfig) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0xC7);
    let mut rejected = 0;
    for _ in 0..config.runs {
        let (a, b) = split(&mut rng, config.aa_users);
        let (arm, control) = (arm_cells(&mut rng, a, 0.0), arm_cells(&mut rng, b, 0.0));
        rejected += u32::from(
            regression_adjusted(&arm, &control, ALPHA).is_some_and(|r| r.p_value < ALPHA),
        );
    }
    super::check(
        "cuped_aa",
        format!(
            "A/A, {} users, D7 CUPED-adjusted test (pre-exposure active days) at alpha 5%: false-positive rate",
            config.aa_users
        ),
        config.runs,
        rejected,
        Target::Within {
            low: 0.03,
            high: 0.07,
        },
        vec![],
    )
}

fn variance_reduction(config: CalibrationConfig) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0xD8);
    let theory = theoretical_variance_reduction();
    let (mut reductions, mut plain_hits, mut adjusted_hits) = (Vec::new(), 0u32, 0u32);
    for _ in 0..config.runs {
        let (a, b) = split(&mut rng, config.aa_users);
        let (arm, control) = (arm_cells(&mut rng, a, EFFECT), arm_cells(&mut rng, b, 0.0));
        let Some(adjusted) = regression_adjusted(&arm, &control, ALPHA) else {
            continue;
        };
        reductions.push(adjusted.variance_reduction);
        adjusted_hits += u32::from(adjusted.p_value < ALPHA);
        plain_hits += u32::from(
            blendlab_analytics::report::retention_vs_control(counts(&arm), counts(&control))
                .is_some_and(|vs| vs.p_value < ALPHA),
        );
    }
    let runs = reductions.len().max(1) as f64;
    let mean = reductions.iter().sum::<f64>() / runs;
    let spread = reductions.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (runs - 1.0).max(1.0);
    let rate = |hits: u32| f64::from(hits) / runs;
    let target = Target::Within {
        low: theory - TOLERANCE,
        high: theory + TOLERANCE,
    };
    let standard_error = (spread / runs).sqrt();
    CalibrationCheck {
        name: "cuped_variance_reduction",
        what: format!(
            "{} users, D7: CUPED's mean measured variance reduction against the theory's rho^2 = {theory:.4}",
            config.aa_users
        ),
        runs: config.runs,
        observed: mean,
        standard_error,
        passed: target.holds(mean, standard_error, config.runs),
        target,
        context: vec![
            ("theoretical_variance_reduction".into(), theory),
            ("power_unadjusted_at_3_points".into(), rate(plain_hits)),
            ("power_cuped_at_3_points".into(), rate(adjusted_hits)),
        ],
    }
}

fn planned_power(config: CalibrationConfig) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0xE9);
    let baseline = BASE_RETURN + ACTIVITY_SLOPE / 2.0;
    let theory = theoretical_variance_reduction();
    let unadjusted = sample_size_per_arm(PlanInput {
        baseline,
        relative_lift: EFFECT / baseline,
        alpha: ALPHA,
        power: 0.8,
    })
    .expect("a valid plan");
    let per_arm = with_variance_reduction(unadjusted, theory)
        .expect("rho^2 lies in [0, 1)")
        .ceil() as u64;
    let detected = (0..config.runs)
        .filter(|_| {
            let (arm, control) = (
                arm_cells(&mut rng, per_arm, EFFECT),
                arm_cells(&mut rng, per_arm, 0.0),
            );
            regression_adjusted(&arm, &control, ALPHA).is_some_and(|r| r.p_value < ALPHA)
        })
        .count() as u32;
    super::check(
        "cuped_planned_power",
        format!(
            "+3 points on D7 {baseline:.2}, {per_arm} users per arm (plan's {} x (1 - {theory:.4})): CUPED detects it",
            unadjusted.ceil()
        ),
        config.runs,
        detected,
        Target::Within {
            low: 0.75,
            high: 0.86,
        },
        vec![("users_per_arm_unadjusted".into(), unadjusted.ceil())],
    )
}
