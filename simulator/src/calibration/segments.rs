//! Calibration of the segments (`segments[]`) on users of three platforms whose D7 return differs
//! (ios 45% of users returning at 12%, android 40% at 16%, web 15% at 22%), with the report's
//! own functions: `retention_vs_control` per segment, Holm across the segments, and the
//! interaction test of heterogeneity.
//! - `segment_aa`: A/A, each segment's D7 test rejects in 3%..7% of segment tests;
//! - `segment_holm_aa`: A/A, some segment is significant after Holm in 3%..7% of experiments
//!   (family-wise; Holm keeps it at most 5%, about 4.9% for three independent segments);
//! - `segment_heterogeneity_aa`: A/A, the heterogeneity test rejects in 3%..7%, with its power
//!   beside it when only web users gain (+8 points).

use super::{split, CalibrationCheck, CalibrationConfig, Target};
use crate::synthetic::Rng;
use blendlab_analytics::report::retention_vs_control;
use blendlab_analytics::stats::{holm, interaction_wald, MeanSummary, ProportionCounts, ALPHA};

/// (share of users, D7 return probability) per platform.
const PLATFORMS: [(f64, f64); 3] = [(0.45, 0.12), (0.40, 0.16), (0.15, 0.22)];
/// The absolute D7 gain of web users in the power comparison.
const WEB_EFFECT: f64 = 0.08;

pub fn checks(config: CalibrationConfig) -> [CalibrationCheck; 3] {
    let mut rng = Rng::new(config.seed ^ 0x5E);
    let (mut segment_hits, mut segment_tests, mut holm_hits, mut heterogeneity_hits) = (0, 0, 0, 0);
    for _ in 0..config.runs {
        let segments = experiment(&mut rng, config.aa_users, 0.0);
        let p_values: Vec<f64> = segments
            .iter()
            .filter_map(|(arm, control)| retention_vs_control(*arm, *control))
            .map(|vs| vs.p_value)
            .collect();
        segment_tests += p_values.len() as u32;
        segment_hits += p_values.iter().filter(|p| **p < ALPHA).count() as u32;
        holm_hits += u32::from(holm(&p_values).iter().any(|p| *p < ALPHA));
        heterogeneity_hits += u32::from(rejects_homogeneity(&segments));
    }
    let power_hits = (0..config.runs)
        .filter(|_| rejects_homogeneity(&experiment(&mut rng, config.aa_users, WEB_EFFECT)))
        .count() as f64;
    let within = Target::Within {
        low: 0.03,
        high: 0.07,
    };
    let users = config.aa_users;
    [
        super::check(
            "segment_aa",
            format!("A/A, {users} users in three platform segments: each segment's D7 test at alpha 5% (over segment tests)"),
            segment_tests,
            segment_hits,
            within,
            vec![],
        ),
        super::check(
            "segment_holm_aa",
            format!("A/A, {users} users: some platform segment significant after Holm across segments (family-wise)"),
            config.runs,
            holm_hits,
            within,
            vec![],
        ),
        super::check(
            "segment_heterogeneity_aa",
            format!("A/A, {users} users: the D7 heterogeneity test across platforms at alpha 5%"),
            config.runs,
            heterogeneity_hits,
            within,
            vec![(
                "power_when_only_web_gains_8_points".into(),
                power_hits / f64::from(config.runs.max(1)),
            )],
        ),
    ]
}

/// Each platform's D7 counts of (arm, control), the arm's web users gaining `web_effect`.
fn experiment(
    rng: &mut Rng,
    users: u64,
    web_effect: f64,
) -> Vec<(ProportionCounts, ProportionCounts)> {
    let (arm_users, control_users) = split(rng, users);
    let arm = platform_counts(rng, arm_users, web_effect);
    let control = platform_counts(rng, control_users, 0.0);
    arm.into_iter().zip(control).collect()
}

/// D7 counts per platform of `users` users.
fn platform_counts(rng: &mut Rng, users: u64, web_effect: f64) -> Vec<ProportionCounts> {
    let mut left = users;
    let mut share_left = 1.0;
    PLATFORMS
        .iter()
        .enumerate()
        .map(|(index, &(share, p))| {
            let n = if index + 1 == PLATFORMS.len() {
                left
            } else {
                rng.binomial(left, share / share_left)
            };
            (left, share_left) = (left - n, share_left - share);
            let gain = if index + 1 == PLATFORMS.len() {
                web_effect
            } else {
                0.0
            };
            ProportionCounts::new(rng.binomial(n, p + gain), n)
        })
        .collect()
}

fn rejects_homogeneity(segments: &[(ProportionCounts, ProportionCounts)]) -> bool {
    let values: Vec<Vec<MeanSummary>> = segments
        .iter()
        .map(|(arm, control)| {
            vec![
                MeanSummary::of_proportion(*control),
                MeanSummary::of_proportion(*arm),
            ]
        })
        .collect();
    interaction_wald(&values).is_some_and(|test| test.p_value < ALPHA)
}
