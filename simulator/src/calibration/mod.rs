//! Calibration: does the report's statistics keep its promises on experiments whose truth is
//! known? Each check simulates many experiments with the simulator's behavioural model (D7
//! return probability `0.45 * 7^-0.55`, about 15.4%) and runs the report's own
//! `retention_vs_control` and `srm_p_value` on them.
//!
//! The five properties (issue: simulator and calibration):
//! 1. A/A, fixed horizon: the D7 z-test rejects at alpha = 5% in 3%..7% of experiments.
//! 2. A/A, peeking daily for 30 days: the always-valid p-value rejects at some peek in at most 5%.
//! 3. Power: a true +10% D7 lift is detected (p < 0.05, right direction) in at least 80% of
//!    experiments of the size `blendlab plan` gives. At that size the power is 80% by design, so
//!    the check allows the Monte Carlo error of the estimate (one-sided 99%: 2.33 standard errors).
//! 4. Coverage: the 95% CI of the D7 ratio covers the injected 1.10 in 93%..97% of experiments.
//! 5. SRM: a 52/48 split against configured 50/50 weights, 50,000 users, is flagged (p < 0.001)
//!    in at least 95% of experiments.
//!
//! And of the Bayesian reading (`bayes`): A/A decisions at a 95% chance to win in 3%..7%, and
//! the credible interval's coverage of a true +10% lift in 93%..97%.
//!
//! And of the guardrails' non-inferiority tests (`guardrails`): an arm truly at the margin passes
//! in 3%..7% of experiments, for a retention guardrail, a ratio of per-user sums and a latency
//! quantile of replies clustered by user.
//!
//! And of the blend components as a micro-randomized trial (`components`): A/A `vs_rest` false
//! positives in 3%..7%, coverage of a component's clustered CI in 93%..97%, and the off-policy
//! estimators' coverage (93%..97%) and bias (within three Monte Carlo standard errors) on a
//! `weighted` and the `no_repeat` policy.
//!
//! And of the segments (`segments`): A/A false positives of each segment's test, of the Holm
//! family across segments and of the heterogeneity test, each in 3%..7%.
//!
//! And of adaptive blends (`adaptive`): the arm-level A/A of a uniform against a thompson blend
//! of equal components keeps the D7 test's false positives in 3%..7%; and with one clearly
//! better component the thompson arm serves it in over 70% of replies a week in, every snapshot
//! at or above its floor, with both arms' regret shown.

use serde::Serialize;

pub mod adaptive;
mod bayes;
mod components;
mod cuped;
mod guardrails;
mod segments;

use crate::synthetic::{Behaviour, Rng};
use blendlab_analytics::report::{retention_vs_control, SRM_WARNING_P};
use blendlab_analytics::stats::{
    sample_size_per_arm, srm_p_value, PlanInput, ProportionCounts, ALPHA,
};

const DAY: u32 = 7;
const PEEKS: u32 = 30;
const EXPOSURE_DAYS: u32 = 30;
const LIFT: f64 = 0.10;
const SRM_USERS: u64 = 50_000;
/// One-sided 99% normal quantile: the Monte Carlo tolerance of the power check.
const MONTE_CARLO_Z: f64 = 2.326;

#[derive(Debug, Clone, Copy)]
pub struct CalibrationConfig {
    /// Simulated experiments per check.
    pub runs: u32,
    /// Users over both arms of an A/A experiment.
    pub aa_users: u64,
    /// Users of one simulated micro-randomized trial (the blend-component checks).
    pub trial_users: u64,
    /// Users over both arms of a uniform-vs-thompson A/A (whole simulated histories).
    pub adaptive_aa_users: u64,
    /// Seconds between the adaptive learning check's snapshots (the server's default is 60);
    /// `None` leaves that check out.
    pub learning_refresh_s: Option<u64>,
    pub seed: u64,
}

impl CalibrationConfig {
    /// What `blendlab bench calibration` runs by default.
    pub fn full() -> Self {
        CalibrationConfig {
            runs: 10_000,
            aa_users: 20_000,
            // Ten times the seeded suite's 300: at 10,000 runs the ratio estimators' small-sample
            // bias (order 1/G) would otherwise exceed the Monte Carlo error it is judged by.
            trial_users: 3_000,
            adaptive_aa_users: 2_000,
            learning_refresh_s: Some(60),
            seed: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    Within {
        low: f64,
        high: f64,
    },
    AtMost {
        bound: f64,
    },
    AtLeast {
        bound: f64,
    },
    /// At least `bound`, allowing `MONTE_CARLO_Z` standard errors of the estimate.
    AtLeastUpToMonteCarloError {
        bound: f64,
    },
    /// A mean error within `count` of its Monte Carlo standard errors of zero (bias).
    WithinStandardErrors {
        count: f64,
    },
}

impl Target {
    /// Whether `observed` (with its Monte Carlo `standard_error`, over `runs`) meets the target.
    pub fn holds(&self, observed: f64, standard_error: f64, runs: u32) -> bool {
        match *self {
            Target::Within { low, high } => (low..=high).contains(&observed),
            Target::AtMost { bound } => observed <= bound,
            Target::AtLeast { bound } => observed >= bound,
            Target::AtLeastUpToMonteCarloError { bound } => {
                let bound_error = (bound * (1.0 - bound) / f64::from(runs.max(1))).sqrt();
                observed >= bound - MONTE_CARLO_Z * bound_error
            }
            Target::WithinStandardErrors { count } => observed.abs() <= count * standard_error,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CalibrationCheck {
    pub name: &'static str,
    pub what: String,
    pub runs: u32,
    /// The share of runs with the property (rejected, detected, covered, flagged).
    pub observed: f64,
    /// Its Monte Carlo standard error.
    pub standard_error: f64,
    pub target: Target,
    pub passed: bool,
    /// Other figures worth showing next to it (e.g. the naive peeking rate).
    pub context: Vec<(String, f64)>,
}

fn check(
    name: &'static str,
    what: String,
    runs: u32,
    hits: u32,
    target: Target,
    context: Vec<(String, f64)>,
) -> CalibrationCheck {
    let observed = f64::from(hits) / f64::from(runs.max(1));
    let standard_error = (observed * (1.0 - observed) / f64::from(runs.max(1))).sqrt();
    let passed = target.holds(observed, standard_error, runs);
    CalibrationCheck {
        name,
        what,
        runs,
        observed,
        standard_error,
        target,
        passed,
        context,
    }
}

/// Every check, each with its own seeded stream.
pub fn run(config: CalibrationConfig) -> Vec<CalibrationCheck> {
    let behaviour = Behaviour::default();
    let (power, coverage) = power_and_coverage(config, &behaviour);
    let mut checks = vec![
        aa_fixed_horizon(config, &behaviour),
        aa_daily_peeks(config, &behaviour),
        power,
        coverage,
        sample_ratio_mismatch(config),
    ];
    checks.extend(bayes::checks(config, &behaviour));
    checks.extend(guardrails::checks(config, &behaviour));
    checks.extend(cuped::checks(config));
    checks.extend(segments::checks(config));
    checks.extend(components::checks(config));
    checks.push(adaptive::aa_uniform_vs_thompson(config));
    if let Some(refresh_s) = config.learning_refresh_s {
        checks.push(adaptive::learning_check(refresh_s, config.seed));
    }
    checks
}

/// One arm's D7 counts for `users` users whose return probability is `p`.
fn arm_counts(rng: &mut Rng, users: u64, p: f64) -> ProportionCounts {
    ProportionCounts::new(rng.binomial(users, p), users)
}

/// Users of an experiment split by a fair coin, as hashing does.
fn split(rng: &mut Rng, users: u64) -> (u64, u64) {
    let first = rng.binomial(users, 0.5);
    (first, users - first)
}

fn aa_fixed_horizon(config: CalibrationConfig, behaviour: &Behaviour) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0xA1);
    let p = behaviour.return_probability(DAY, 0.0);
    let rejected = (0..config.runs)
        .filter(|_| {
            let (a, b) = split(&mut rng, config.aa_users);
            let (arm, control) = (arm_counts(&mut rng, a, p), arm_counts(&mut rng, b, p));
            retention_vs_control(arm, control).is_some_and(|vs| vs.p_value < ALPHA)
        })
        .count() as u32;
    check(
        "aa_fixed_horizon",
        format!(
            "A/A, {} users, D7 pooled z-test at alpha 5%: false-positive rate",
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

/// Users arrive uniformly over 30 days; the report is read every day from the first day that
/// has D7 data (as_of = start + 7) for 30 days. At each read, the users eligible for D7 are those
/// exposed at least 7 days earlier.
fn aa_daily_peeks(config: CalibrationConfig, behaviour: &Behaviour) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0xB2);
    let p = behaviour.return_probability(DAY, 0.0);
    let (mut sequential_rejections, mut naive_rejections) = (0u32, 0u32);
    for _ in 0..config.runs {
        // Per exposure day: (users, retained) of each arm.
        let mut by_day = [[(0u64, 0u64); EXPOSURE_DAYS as usize]; 2];
        for _ in 0..config.aa_users {
            let arm = usize::from(rng.chance(0.5));
            let d0 = rng.below(u64::from(EXPOSURE_DAYS)) as usize;
            by_day[arm][d0].0 += 1;
            by_day[arm][d0].1 += u64::from(rng.chance(p));
        }
        let (mut sequential, mut naive) = (false, false);
        let mut totals = [(0u64, 0u64); 2];
        for peek in 0..PEEKS.min(EXPOSURE_DAYS) as usize {
            for (total, days) in totals.iter_mut().zip(&by_day) {
                total.0 += days[peek].0;
                total.1 += days[peek].1;
            }
            let counts = totals.map(|(users, retained)| ProportionCounts::new(retained, users));
            if let Some(vs) = retention_vs_control(counts[0], counts[1]) {
                sequential |= vs.seq_p_value < ALPHA;
                naive |= vs.p_value < ALPHA;
            }
        }
        sequential_rejections += u32::from(sequential);
        naive_rejections += u32::from(naive);
    }
    let naive_rate = f64::from(naive_rejections) / f64::from(config.runs.max(1));
    check(
        "aa_daily_peeks",
        format!(
            "A/A, {} users over {EXPOSURE_DAYS} days, D7 read daily for {PEEKS} days: always-valid false-positive rate",
            config.aa_users
        ),
        config.runs,
        sequential_rejections,
        Target::AtMost { bound: ALPHA },
        vec![("fixed_horizon_p_with_daily_peeks".into(), naive_rate)],
    )
}

/// The D7 baseline, the rate under a true +10% lift, and the users per arm `blendlab plan` gives
/// for detecting it (alpha 5%, power 80%).
fn planned_lift(behaviour: &Behaviour) -> (f64, f64, u64) {
    let baseline = behaviour.return_probability(DAY, 0.0);
    let treated = behaviour.return_probability(DAY, LIFT);
    let per_arm = sample_size_per_arm(PlanInput {
        baseline,
        relative_lift: LIFT,
        alpha: ALPHA,
        power: 0.8,
    })
    .expect("the baseline is a valid rate")
    .ceil() as u64;
    (baseline, treated, per_arm)
}

/// Experiments of the size `blendlab plan` gives for +10% on the D7 baseline, with a true +10%.
fn power_and_coverage(
    config: CalibrationConfig,
    behaviour: &Behaviour,
) -> (CalibrationCheck, CalibrationCheck) {
    let mut rng = Rng::new(config.seed ^ 0xC3);
    let (baseline, treated, per_arm) = planned_lift(behaviour);
    let (mut detected, mut covered, mut sequential_covered) = (0u32, 0u32, 0u32);
    for _ in 0..config.runs {
        let arm = arm_counts(&mut rng, per_arm, treated);
        let control = arm_counts(&mut rng, per_arm, baseline);
        let Some(vs) = retention_vs_control(arm, control) else {
            continue;
        };
        detected += u32::from(vs.p_value < ALPHA && vs.ratio > 1.0);
        covered += u32::from(vs.ci_low <= 1.0 + LIFT && 1.0 + LIFT <= vs.ci_high);
        sequential_covered +=
            u32::from(vs.seq_ci_low <= 1.0 + LIFT && 1.0 + LIFT <= vs.seq_ci_high);
    }
    let sizes = vec![
        ("users_per_arm".to_string(), per_arm as f64),
        ("baseline_d7".to_string(), baseline),
    ];
    let power = check(
        "power",
        format!("true +10% D7 lift, {per_arm} users per arm (blendlab plan): detected at p < 0.05"),
        config.runs,
        detected,
        Target::AtLeastUpToMonteCarloError { bound: 0.8 },
        sizes.clone(),
    );
    let sequential_rate = f64::from(sequential_covered) / f64::from(config.runs.max(1));
    let mut context = sizes;
    context.push(("sequential_ci_coverage".into(), sequential_rate));
    let coverage = check(
        "coverage",
        format!("true +10% D7 lift, {per_arm} users per arm: the 95% ratio CI covers 1.10"),
        config.runs,
        covered,
        Target::Within {
            low: 0.93,
            high: 0.97,
        },
        context,
    );
    (power, coverage)
}

fn sample_ratio_mismatch(config: CalibrationConfig) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0xD4);
    let flagged = (0..config.runs)
        .filter(|_| {
            let first = rng.binomial(SRM_USERS, 0.52);
            srm_p_value(&[first, SRM_USERS - first], &[0.5, 0.5])
                .is_some_and(|(_, p)| p < SRM_WARNING_P)
        })
        .count() as u32;
    check(
        "srm",
        format!(
            "a 52/48 split of {SRM_USERS} users against configured 50/50: flagged at p < 0.001"
        ),
        config.runs,
        flagged,
        Target::AtLeast { bound: 0.95 },
        vec![],
    )
}
