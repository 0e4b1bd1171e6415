//! Calibration of the guardrails' non-inferiority tests (`arms[].guardrail_tests`): an arm whose
//! true change sits exactly at the margin must pass (be declared within it) in at most about 5%
//! of experiments, the test's level, and so within 3%..7%:
//! - `guardrail_retention_at_margin`: D7 retention 5% below control (margin 5%), the one-sided
//!   test of a proportion;
//! - `guardrail_ratio_at_margin`: compute seconds per returned user 10% above control (margin
//!   10%), a ratio of per-user sums whose users differ in how much they use, so the delta-method
//!   variance over users (not over replies) is what is checked;
//! - `guardrail_latency_at_margin`: reply latency p95 10% above control (margin 10%), a quantile
//!   of replies that cluster within users (each user has their own typical latency).
//!
//! Beside each, the pass rate of an arm with no change at all: the test's power at that size.

use super::{arm_counts, check, split, CalibrationCheck, CalibrationConfig, Target, DAY};
use crate::synthetic::{Behaviour, Rng};
use blendlab_analytics::stats::{
    interval_levels, non_inferiority, proportion_summary, weighted_quantile, ClusteredQuantile,
    MeanSummary, RatioMoments, ALPHA,
};
use blendlab_experiments::Harm;

const RETENTION_MARGIN: f64 = 0.05;
const COMPUTE_MARGIN: f64 = 0.10;
/// Users per arm of the ratio check: enough for the delta method's normal approximation.
const RATIO_USERS: u64 = 2_000;
const LATENCY_MARGIN: f64 = 0.10;
/// Users per arm of the latency check (about 5 replies each).
const LATENCY_USERS: u64 = 1_000;
const LATENCY_LEVEL: f64 = 0.95;

pub fn checks(config: CalibrationConfig, behaviour: &Behaviour) -> [CalibrationCheck; 3] {
    [retention(config, behaviour), ratio(config), latency(config)]
}

fn passes(control: Option<MeanSummary>, arm: Option<MeanSummary>, harm: Harm, margin: f64) -> bool {
    control
        .zip(arm)
        .and_then(|(control, arm)| non_inferiority(control, arm, harm, margin, ALPHA))
        .is_some_and(|test| test.p_value < ALPHA)
}

fn rate(hits: u32, runs: u32) -> f64 {
    f64::from(hits) / f64::from(runs.max(1))
}

/// One experiment's three summaries: control, an arm truly at the margin, an arm unchanged.
type Sides = (
    Option<MeanSummary>,
    Option<MeanSummary>,
    Option<MeanSummary>,
);

/// Runs `config.runs` experiments drawn by `draw` and checks that the arm at the margin passes
/// in 3%..7% of them, with the unchanged arm's pass rate (the power) beside it.
fn at_margin_check(
    name: &'static str,
    what: String,
    config: CalibrationConfig,
    (harm, margin): (Harm, f64),
    mut draw: impl FnMut() -> Sides,
) -> CalibrationCheck {
    let (mut false_passes, mut passes_unchanged) = (0u32, 0u32);
    for _ in 0..config.runs {
        let (control, at_margin, unchanged) = draw();
        false_passes += u32::from(passes(control, at_margin, harm, margin));
        passes_unchanged += u32::from(passes(control, unchanged, harm, margin));
    }
    check(
        name,
        what,
        config.runs,
        false_passes,
        Target::Within {
            low: 0.03,
            high: 0.07,
        },
        vec![(
            "pass_rate_with_no_change".into(),
            rate(passes_unchanged, config.runs),
        )],
    )
}

fn retention(config: CalibrationConfig, behaviour: &Behaviour) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0x6A);
    let p = behaviour.return_probability(DAY, 0.0);
    let summary = |rng: &mut Rng, users: u64, p: f64| {
        let counts = arm_counts(rng, users, p);
        proportion_summary(counts.successes, counts.trials)
    };
    at_margin_check(
        "guardrail_retention_at_margin",
        format!(
            "{} users, D7 retention truly 5% below control: the retention guardrail (margin 5%) passes",
            config.aa_users
        ),
        config,
        (Harm::Decrease, RETENTION_MARGIN),
        || {
            let (a, b) = split(&mut rng, config.aa_users);
            let control = summary(&mut rng, b, p);
            let at_margin = summary(&mut rng, a, p * (1.0 - RETENTION_MARGIN));
            (control, at_margin, summary(&mut rng, a, p))
        },
    )
}

/// One arm's per-user compute seconds over returned users: a user returns with probability 0.3
/// and then uses several times the compute of one who does not; each user's own intensity is
/// drawn, so users cluster their replies' costs.
fn compute_moments(rng: &mut Rng, users: u64, scale: f64) -> RatioMoments {
    let mut moments = RatioMoments {
        n: users,
        ..RatioMoments::default()
    };
    for _ in 0..users {
        let returned = if rng.chance(0.3) { 1.0 } else { 0.0 };
        let intensity = (0.5 * rng.normal()).exp();
        let replies = 1.0 + returned * (1 + rng.below(20)) as f64;
        let seconds = scale * intensity * replies * (0.5 + rng.uniform());
        moments.m_sum += seconds;
        moments.m_sum_squares += seconds * seconds;
        moments.d_sum += returned;
        moments.d_sum_squares += returned;
        moments.m_d_sum += seconds * returned;
    }
    moments
}

fn ratio(config: CalibrationConfig) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0x7B);
    at_margin_check(
        "guardrail_ratio_at_margin",
        format!(
            "{RATIO_USERS} users per arm, compute per returned user truly 10% above control: the \
             guardrail (margin 10%) passes"
        ),
        config,
        (Harm::Increase, COMPUTE_MARGIN),
        || {
            let control = compute_moments(&mut rng, RATIO_USERS, 1.0).summary();
            let at_margin = compute_moments(&mut rng, RATIO_USERS, 1.0 + COMPUTE_MARGIN).summary();
            (
                control,
                at_margin,
                compute_moments(&mut rng, RATIO_USERS, 1.0).summary(),
            )
        },
    )
}

/// One arm's latency p95 summary: each user has 1 to 9 replies around their own typical latency
/// (log-normal user and reply effects), scaled by `scale`.
fn latency_summary(rng: &mut Rng, scale: f64) -> Option<MeanSummary> {
    let users: Vec<Vec<f64>> = (0..LATENCY_USERS)
        .map(|_| {
            let typical = 6.5 + 0.4 * rng.normal();
            (0..=rng.below(9))
                .map(|_| scale * (typical + 0.5 * rng.normal()).exp())
                .collect()
        })
        .collect();
    let mut values: Vec<(f64, u64)> = users.iter().flatten().map(|v| (*v, 1)).collect();
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = values.len() as u64;
    let (low, high) = interval_levels(LATENCY_LEVEL, n);
    let quantile_hat = weighted_quantile(&values, LATENCY_LEVEL);
    let mut quantile = ClusteredQuantile {
        n,
        n_clusters: LATENCY_USERS,
        nu: LATENCY_LEVEL,
        quantile_hat,
        quantile_lower: weighted_quantile(&values, low),
        quantile_upper: weighted_quantile(&values, high),
        ..ClusteredQuantile::default()
    };
    for replies in &users {
        let main = replies.iter().filter(|v| **v <= quantile_hat).count() as f64;
        let den = replies.len() as f64;
        quantile.main_sum += main;
        quantile.main_sum_squares += main * main;
        quantile.denominator_sum += den;
        quantile.denominator_sum_squares += den * den;
        quantile.main_denominator_sum_product += main * den;
    }
    quantile.summary()
}

fn latency(config: CalibrationConfig) -> CalibrationCheck {
    let mut rng = Rng::new(config.seed ^ 0x8C);
    at_margin_check(
        "guardrail_latency_at_margin",
        format!(
            "{LATENCY_USERS} users per arm with 1 to 9 replies each, latency p95 truly 10% above \
             control: the guardrail (margin 10%) passes"
        ),
        config,
        (Harm::Increase, LATENCY_MARGIN),
        || {
            let control = latency_summary(&mut rng, 1.0);
            let at_margin = latency_summary(&mut rng, 1.0 + LATENCY_MARGIN);
            (control, at_margin, latency_summary(&mut rng, 1.0))
        },
    )
}
