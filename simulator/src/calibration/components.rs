//! Calibration of the blend-component statistics on simulated micro-randomized trials whose
//! truth is known. Users differ in their propensity to continue (a logit spread shared by all
//! components), so replies cluster within users as in real traffic. Per user: 1..=4 sittings;
//! in a sitting, up to `CAP` replies, each from a component drawn uniformly, each continued with
//! `sigmoid(logit_a + spread z_user)`; a sitting ends at the first reply not continued.
//!
//! Bias is allowed up to three Monte Carlo standard errors ([`BIAS_STANDARD_ERRORS`], why there).
//!
//! The truths follow from the model: a sitting's turn t happens with probability `s^(t-1)`,
//! `s = mean_a p_a`, so every value is a ratio of expectations over users, integrated over the
//! normal z (see [`Truth`]).

use super::{check, CalibrationCheck, CalibrationConfig, Target};
use crate::synthetic::Rng;
use blendlab_analytics::stats::clustered::{
    clustered_difference, clustered_mean, user_pairs, UserPair, UserSum,
};
use blendlab_analytics::stats::off_policy::{
    depth_bucket, evaluate, outcome_model, CandidatePolicy, TurnCell,
};
use blendlab_analytics::stats::ALPHA;

/// Replies per sitting at most.
const CAP: u32 = 12;
const SITTINGS: u64 = 4;
/// The logit spread of users' propensity to continue (issue 17: 0.9 made per-reply Wilson
/// intervals 20-27% too narrow).
pub const SPREAD: f64 = 0.9;
/// Components that differ: continuation about 0.69, 0.75 and 0.62 for a typical user.
const DIFFERENT: [f64; 3] = [0.8, 1.1, 0.5];
const EQUAL: [f64; 3] = [0.8, 0.8, 0.8];
const WEIGHTED: &str = "weighted:2,1,1";

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// One simulated trial's cells, sorted by user.
fn trial(rng: &mut Rng, users: u64, logits: &[f64]) -> Vec<TurnCell> {
    let k = logits.len();
    let mut cells: Vec<TurnCell> = Vec::new();
    for user in 0..users {
        let z = rng.normal();
        let first = cells.len();
        for _ in 0..1 + rng.below(SITTINGS) {
            let mut previous = None;
            for depth in 0..CAP {
                let component = rng.below(k as u64) as usize;
                let continued = rng.chance(sigmoid(logits[component] + SPREAD * z));
                let bucket = depth_bucket(depth);
                let key = |c: &TurnCell| {
                    c.component == component && c.previous == previous && c.depth_bucket == bucket
                };
                let index = match cells[first..].iter().position(key) {
                    Some(i) => first + i,
                    None => {
                        cells.push(TurnCell {
                            user: user as u32,
                            component,
                            previous,
                            depth_bucket: bucket,
                            ..TurnCell::default()
                        });
                        cells.len() - 1
                    }
                };
                let inverse_p = k as f64;
                let cell = &mut cells[index];
                cell.replies += 1.0;
                cell.continued += f64::from(u8::from(continued));
                cell.inverse_p += inverse_p;
                cell.continued_inverse_p += if continued { inverse_p } else { 0.0 };
                cell.inverse_p_squared += inverse_p * inverse_p;
                previous = Some(component);
                if !continued {
                    break;
                }
            }
        }
    }
    cells
}

/// Each user's continuation sums: for component 0 and for the other replies.
fn component_zero(cells: &[TurnCell]) -> Vec<UserPair> {
    user_pairs(cells.iter().map(|cell| {
        let sums = UserSum {
            n: cell.replies,
            sum: cell.continued,
        };
        (cell.user, cell.component == 0, sums)
    }))
}

/// Expectations over users of the model, by the trapezoid rule on z in [-8, 8].
pub struct Truth {
    logits: Vec<f64>,
}

impl Truth {
    fn integrate(&self, f: impl Fn(&[f64]) -> f64) -> f64 {
        let steps = 3_200;
        let h = 16.0 / f64::from(steps);
        (0..=steps)
            .map(|i| {
                let z = -8.0 + f64::from(i) * h;
                let density = (-0.5 * z * z).exp() / (std::f64::consts::TAU).sqrt();
                let p: Vec<f64> = self
                    .logits
                    .iter()
                    .map(|a| sigmoid(a + SPREAD * z))
                    .collect();
                let edge = if i == 0 || i == steps { 0.5 } else { 1.0 };
                edge * h * density * f(&p)
            })
            .sum()
    }

    /// `sum_{t=1..n} s^(t-1)`.
    fn geometric(s: f64, n: u32) -> f64 {
        (0..n).map(|t| s.powi(t as i32)).sum()
    }

    /// Expected replies per sitting.
    fn replies(p: &[f64]) -> f64 {
        let s = p.iter().sum::<f64>() / p.len() as f64;
        Self::geometric(s, CAP)
    }

    /// The mean continuation of component `c` over its replies.
    pub fn component_mean(&self, c: usize) -> f64 {
        self.integrate(|p| p[c] * Self::replies(p)) / self.integrate(Self::replies)
    }

    /// The mean per-turn continuation of a policy that draws by `weights` on the logged turns.
    pub fn weighted(&self, weights: &[f64]) -> f64 {
        let total: f64 = weights.iter().sum();
        let value = |p: &[f64]| {
            p.iter()
                .zip(weights)
                .map(|(p, w)| p * w / total)
                .sum::<f64>()
        };
        self.integrate(|p| value(p) * Self::replies(p)) / self.integrate(Self::replies)
    }

    /// The same for `no_repeat`: uniform on a sitting's first turn, then uniform over the
    /// components other than the previous one, which is `a` with probability `s^(t-2) p_a / k`.
    pub fn no_repeat(&self) -> f64 {
        let per_sitting = |p: &[f64]| {
            let k = p.len() as f64;
            let s = p.iter().sum::<f64>() / k;
            let total: f64 = p.iter().sum();
            let later: f64 = p.iter().map(|pa| pa / k * (total - pa) / (k - 1.0)).sum();
            total / k + later * Self::geometric(s, CAP - 1)
        };
        self.integrate(per_sitting) / self.integrate(Self::replies)
    }
}

/// The five component checks: A/A false positives of `vs_rest`, coverage of a component's
/// mean, and the off-policy estimators' coverage and bias on two policies.
pub fn checks(config: CalibrationConfig) -> Vec<CalibrationCheck> {
    let users = config.trial_users;
    let mut rng = Rng::new(config.seed ^ 0xE5);
    let mut rejected = 0;
    for _ in 0..config.runs {
        let pairs = component_zero(&trial(&mut rng, users, &EQUAL));
        rejected +=
            u32::from(clustered_difference(&pairs, ALPHA).is_some_and(|d| d.p_value < ALPHA));
    }
    let mut out = vec![check(
        "components_aa",
        format!(
            "A/A over 3 components, {users} users (logit spread {SPREAD}): vs_rest rejects at 5%"
        ),
        config.runs,
        rejected,
        Target::Within {
            low: 0.03,
            high: 0.07,
        },
        vec![],
    )];
    out.extend(different_components(
        config,
        &mut Rng::new(config.seed ^ 0xF6),
    ));
    out
}

fn different_components(config: CalibrationConfig, rng: &mut Rng) -> Vec<CalibrationCheck> {
    let truth = Truth {
        logits: DIFFERENT.to_vec(),
    };
    let mean_truth = truth.component_mean(0);
    let policies = [
        (WEIGHTED, truth.weighted(&[2.0, 1.0, 1.0])),
        ("no_repeat", truth.no_repeat()),
    ];
    let estimators = ["ips", "snips", "dr"];
    let mut covered_mean = 0;
    let mut covered = [[0u32; 3]; 2];
    let mut errors = [
        [Vec::new(), Vec::new(), Vec::new()],
        [Vec::new(), Vec::new(), Vec::new()],
    ];
    for _ in 0..config.runs {
        let cells = trial(rng, config.trial_users, &DIFFERENT);
        let mine: Vec<UserSum> = component_zero(&cells).iter().map(|p| p.mine).collect();
        if let Some(m) = clustered_mean(&mine, ALPHA) {
            let (low, high) = (m.ci_low.unwrap_or(m.mean), m.ci_high.unwrap_or(m.mean));
            covered_mean += u32::from(low <= mean_truth && mean_truth <= high);
        }
        let q = outcome_model(&cells, 3);
        for (p, (spec, value)) in policies.iter().enumerate() {
            let policy = CandidatePolicy::parse(spec).expect("a valid spec");
            for estimate in evaluate(spec, &policy, &cells, &q, None, ALPHA) {
                let e = estimators
                    .iter()
                    .position(|x| *x == estimate.estimator)
                    .expect("known");
                covered[p][e] += u32::from(estimate.ci_low <= *value && *value <= estimate.ci_high);
                errors[p][e].push(estimate.value - value);
            }
        }
    }
    let within = Target::Within {
        low: 0.93,
        high: 0.97,
    };
    let mut out = vec![check(
        "components_coverage",
        format!(
            "component mean continuation ({mean_truth:.4}): the 95% user-clustered CI covers it"
        ),
        config.runs,
        covered_mean,
        within,
        vec![],
    )];
    for (p, (spec, value)) in policies.iter().enumerate() {
        for (e, estimator) in estimators.iter().enumerate() {
            let name = policy_check_name(p, e);
            out.push(check(
                name.0,
                format!("`{spec}` ({value:.4}) from a uniform log, {estimator}: the 95% CI covers the truth"),
                config.runs,
                covered[p][e],
                within,
                vec![],
            ));
            out.push(bias_check(name.1, spec, estimator, &errors[p][e], *value));
        }
    }
    out
}

/// Static check names, coverage then bias, per policy and estimator.
fn policy_check_name(policy: usize, estimator: usize) -> (&'static str, &'static str) {
    const NAMES: [[(&str, &str); 3]; 2] = [
        [
            ("ope_weighted_ips_coverage", "ope_weighted_ips_bias"),
            ("ope_weighted_snips_coverage", "ope_weighted_snips_bias"),
            ("ope_weighted_dr_coverage", "ope_weighted_dr_bias"),
        ],
        [
            ("ope_no_repeat_ips_coverage", "ope_no_repeat_ips_bias"),
            ("ope_no_repeat_snips_coverage", "ope_no_repeat_snips_bias"),
            ("ope_no_repeat_dr_coverage", "ope_no_repeat_dr_bias"),
        ],
    ];
    NAMES[policy][estimator]
}

/// Bias allowed, in Monte Carlo standard errors of the mean error. One (as first asked) fails an
/// exactly unbiased estimator in a third of seeds; and the estimators are ratios of per-user sums
/// (`sum Y_g / sum N_g`), whose bias of order 1/G is real: about -0.0006 at 300 users per trial,
/// -0.0003 at 3,000 and -0.00006 at 30,000 (0.1% of the value and less), 1 to 2 standard errors at
/// 1,000 runs of 300 users. Three standard errors still catch a wrong weight or normalisation,
/// which miss by percents.
const BIAS_STANDARD_ERRORS: f64 = 3.0;

/// The mean error of an estimator over the runs, near 0; the context says whether it is also
/// within one standard error, and the relative bias.
fn bias_check(
    name: &'static str,
    spec: &str,
    estimator: &str,
    errors: &[f64],
    truth: f64,
) -> CalibrationCheck {
    let n = errors.len().max(1) as f64;
    let mean = errors.iter().sum::<f64>() / n;
    let variance = errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let standard_error = (variance / n).sqrt();
    CalibrationCheck {
        name,
        what: format!("`{spec}`, {estimator}: mean error against the truth"),
        runs: errors.len() as u32,
        observed: mean,
        standard_error,
        target: Target::WithinStandardErrors {
            count: BIAS_STANDARD_ERRORS,
        },
        passed: mean.abs() <= BIAS_STANDARD_ERRORS * standard_error,
        context: vec![
            ("standard_errors".into(), mean / standard_error),
            ("relative_bias".into(), mean / truth),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quadrature truths against a large simulation of the same model.
    #[test]
    fn the_truths_match_a_large_simulation() {
        let truth = Truth {
            logits: DIFFERENT.to_vec(),
        };
        let cells = trial(&mut Rng::new(3), 40_000, &DIFFERENT);
        let (n, c) = cells
            .iter()
            .filter(|x| x.component == 0)
            .fold((0.0, 0.0), |t, x| (t.0 + x.replies, t.1 + x.continued));
        assert!(
            (c / n - truth.component_mean(0)).abs() < 0.005,
            "{} vs {}",
            c / n,
            truth.component_mean(0)
        );
        // The weighted and no_repeat values, by their own definitions on the logged turns, are
        // between the components' means; the simulation's SNIPS value lands on them.
        for (spec, value) in [
            (WEIGHTED, truth.weighted(&[2.0, 1.0, 1.0])),
            ("no_repeat", truth.no_repeat()),
        ] {
            let policy = CandidatePolicy::parse(spec).unwrap();
            let snips = evaluate(
                spec,
                &policy,
                &cells,
                &outcome_model(&cells, 3),
                None,
                ALPHA,
            )
            .into_iter()
            .find(|v| v.estimator == "snips")
            .unwrap();
            assert!(
                (snips.value - value).abs() < 0.005,
                "{spec}: {} vs {value}",
                snips.value
            );
        }
    }
}
