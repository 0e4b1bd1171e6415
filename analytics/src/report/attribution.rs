//! Per-component effects and off-policy values inside a blended arm, from the per-user turn
//! cells of `pipeline::components`. Each reply's component is drawn at random, so a component's
//! effect on its turn's outcomes is causal (a micro-randomized trial); replies cluster within
//! users, so every interval is user-clustered (`stats::clustered`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::columns::{counts, floats, optional_counts};
use crate::pipeline::components::cols;
use crate::pipeline::out;
use crate::schema::{assignments as a, messages as m};
use crate::stats::clustered::{
    clustered_difference, clustered_mean, user_pairs, UserPair, UserSum,
};
use crate::stats::off_policy::{evaluate, outcome_model, CandidatePolicy, PolicyValue, TurnCell};
use crate::stats::{holm, ALPHA};
use crate::AnalyticsError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ComponentAttribution {
    pub model: String,
    pub replies: u64,
    /// Users with at least one reply of this component.
    pub users: u64,
    /// This component's share of the arm's replies (1/3 each under the paper's uniform blend).
    pub share: f64,
    /// Replies followed by a user message in the same conversation within 30 minutes.
    pub continuation: OutcomeEstimate,
    /// Characters of that next user message, when the log has `content_chars`.
    pub next_user_message_chars: Option<OutcomeEstimate>,
    /// Replies with a `retry` event, when events carry `message_id`.
    pub retry: Option<OutcomeEstimate>,
    /// Mean `value` of `feedback` events on the reply, over replies with feedback.
    pub feedback: Option<OutcomeEstimate>,
}

/// The mean of one outcome over a component's replies, its 95% user-clustered interval (none
/// with a single user), and the comparison with the arm's other replies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutcomeEstimate {
    /// Replies with a value of this outcome.
    pub n: u64,
    pub users: u64,
    pub mean: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub vs_rest: Option<VsRest>,
}

/// This component's mean minus the mean of the arm's other replies, user-clustered; the p-value
/// Holm-adjusted across the arm's components and outcomes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VsRest {
    pub diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    pub p_value_adjusted: f64,
}

/// What a blended arm's replies say about its components and about other blend policies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArmComponents {
    pub attribution: Vec<ComponentAttribution>,
    /// `None` with the reason when the log cannot support off-policy evaluation.
    pub policy_values: Option<Vec<PolicyValue>>,
    pub policy_values_reason: Option<String>,
}

/// One cell row with the outcome sums the estimates need.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    turn: TurnCell,
    missing_p: u64,
    next_n: f64,
    next_sum: f64,
    retried: Option<f64>,
    feedback_n: f64,
    feedback_sum: f64,
}

const OUTCOMES: usize = 4;

impl Cell {
    /// `(n, sum)` of each outcome: continuation, next message chars, retry, feedback.
    fn outcomes(&self) -> [UserSum; OUTCOMES] {
        let n = self.turn.replies;
        [
            UserSum {
                n,
                sum: self.turn.continued,
            },
            UserSum {
                n: self.next_n,
                sum: self.next_sum,
            },
            UserSum {
                n: if self.retried.is_some() { n } else { 0.0 },
                sum: self.retried.unwrap_or(0.0),
            },
            UserSum {
                n: self.feedback_n,
                sum: self.feedback_sum,
            },
        ]
    }
}

/// Per arm, from the `pipeline::attribution` cells (each user's cells adjacent; a context may
/// have several cells of one user, which add up). `models` gives each
/// blended arm's model order; `policies` the candidate specs besides the default ones.
pub fn read(
    df: &polars::prelude::DataFrame,
    models: &BTreeMap<String, Vec<String>>,
    policies: &[String],
) -> Result<BTreeMap<String, ArmComponents>, AnalyticsError> {
    let mut by_arm: BTreeMap<String, Vec<Cell>> = BTreeMap::new();
    // One chunk per column, so that reading row i is direct (kept day parts stack many chunks),
    // and strings read in place: an owned string per cell would be most of the time.
    let mut df = df.clone();
    df.rechunk_mut();
    let df = &df;
    let text = |name: &str| df.column(name)?.cast(&polars::prelude::DataType::String);
    let (arms, cell_models, previous) =
        (text(a::ARM)?, text(m::MODEL)?, text(cols::PREVIOUS_MODEL)?);
    let (arms, cell_models, previous) = (arms.str()?, cell_models.str()?, previous.str()?);
    let users = counts(df, out::UID)?;
    let buckets = counts(df, cols::DEPTH_BUCKET)?;
    let replies = counts(df, cols::REPLIES)?;
    let continued = floats(df, cols::CONTINUED)?;
    let missing = counts(df, cols::MISSING_CHOICE_PROB)?;
    let inverse_p = floats(df, cols::INVERSE_P)?;
    let continued_inverse_p = floats(df, cols::CONTINUED_INVERSE_P)?;
    let inverse_p_squared = floats(df, cols::INVERSE_P_SQUARED)?;
    let next_n = counts(df, cols::NEXT_CHARS_N)?;
    let next_sum = floats(df, cols::NEXT_CHARS_SUM)?;
    let retried = optional_counts(df, cols::RETRIED)?;
    let feedback_n = counts(df, cols::FEEDBACK_N)?;
    let feedback_sum = floats(df, cols::FEEDBACK_SUM)?;
    for i in 0..df.height() {
        let arm = arms.get(i).unwrap_or_default();
        let Some(order) = models.get(arm) else {
            continue;
        };
        let index = |model: &str| order.iter().position(|m| m == model);
        let Some(component) = index(cell_models.get(i).unwrap_or_default()) else {
            continue;
        };
        let sum = |v: &[Option<f64>]| v[i].unwrap_or(0.0);
        if !by_arm.contains_key(arm) {
            by_arm.insert(arm.to_owned(), Vec::new());
        }
        let cells = by_arm.get_mut(arm).expect("inserted above");
        cells.push(Cell {
            turn: TurnCell {
                user: users[i] as u32,
                component,
                previous: previous.get(i).and_then(index),
                depth_bucket: buckets[i] as u8,
                replies: replies[i] as f64,
                continued: sum(&continued),
                inverse_p: sum(&inverse_p),
                continued_inverse_p: sum(&continued_inverse_p),
                inverse_p_squared: sum(&inverse_p_squared),
            },
            missing_p: missing[i],
            next_n: next_n[i] as f64,
            next_sum: sum(&next_sum),
            retried: retried.as_ref().map(|r| r[i] as f64),
            feedback_n: feedback_n[i] as f64,
            feedback_sum: sum(&feedback_sum),
        });
    }
    Ok(by_arm
        .into_iter()
        .map(|(arm, cells)| {
            let components = arm_components(&arm, &models[&arm], &cells, policies);
            (arm, components)
        })
        .collect())
}

fn arm_components(
    arm: &str,
    models: &[String],
    cells: &[Cell],
    policies: &[String],
) -> ArmComponents {
    let (policy_values, policy_values_reason) = match policy_values(arm, models, cells, policies) {
        Ok(values) => (Some(values), None),
        Err(reason) => (None, Some(reason)),
    };
    ArmComponents {
        attribution: component_effects(models, cells),
        policy_values,
        policy_values_reason,
    }
}

/// Each user's sums of one outcome: for `component` (mine) and the arm's other replies (rest).
fn component_pairs(cells: &[Cell], component: usize, outcome: usize) -> Vec<UserPair> {
    user_pairs(cells.iter().map(|cell| {
        let mine = cell.turn.component == component;
        (cell.turn.user, mine, cell.outcomes()[outcome])
    }))
}

fn component_effects(models: &[String], cells: &[Cell]) -> Vec<ComponentAttribution> {
    let total_replies: f64 = cells.iter().map(|c| c.turn.replies).sum();
    let mut estimates: Vec<[Option<OutcomeEstimate>; OUTCOMES]> = Vec::new();
    let mut family: Vec<(usize, usize, f64)> = Vec::new();
    for component in 0..models.len() {
        let mut row: [Option<OutcomeEstimate>; OUTCOMES] = Default::default();
        for (outcome, slot) in row.iter_mut().enumerate() {
            let pairs = component_pairs(cells, component, outcome);
            let mine: Vec<UserSum> = pairs.iter().map(|p| p.mine).collect();
            let Some(mean) = clustered_mean(&mine, ALPHA) else {
                continue;
            };
            let vs_rest = clustered_difference(&pairs, ALPHA).map(|d| {
                family.push((component, outcome, d.p_value));
                VsRest {
                    diff: d.diff,
                    ci_low: d.ci_low,
                    ci_high: d.ci_high,
                    p_value: d.p_value,
                    p_value_adjusted: d.p_value,
                }
            });
            *slot = Some(OutcomeEstimate {
                n: mine.iter().map(|u| u.n).sum::<f64>() as u64,
                users: mean.users,
                mean: mean.mean,
                ci_low: mean.ci_low,
                ci_high: mean.ci_high,
                vs_rest,
            });
        }
        estimates.push(row);
    }
    let adjusted = holm(&family.iter().map(|f| f.2).collect::<Vec<_>>());
    for ((component, outcome, _), p) in family.iter().zip(adjusted) {
        if let Some(Some(vs_rest)) = estimates[*component][*outcome]
            .as_mut()
            .map(|e| e.vs_rest.as_mut())
        {
            vs_rest.p_value_adjusted = p;
        }
    }
    models
        .iter()
        .zip(estimates)
        .filter_map(|(model, [continuation, next, retry, feedback])| {
            let continuation = continuation?;
            Some(ComponentAttribution {
                model: model.clone(),
                replies: continuation.n,
                users: continuation.users,
                share: continuation.n as f64 / total_replies.max(1.0),
                continuation,
                next_user_message_chars: next,
                retry,
                feedback,
            })
        })
        .collect()
}

/// The default candidates (`uniform`, `only:M` for each model, `no_repeat`) and the requested
/// ones, each by IPS, SNIPS and DR; or why the log cannot say.
fn policy_values(
    arm: &str,
    models: &[String],
    cells: &[Cell],
    requested: &[String],
) -> Result<Vec<PolicyValue>, String> {
    let missing: u64 = cells.iter().map(|c| c.missing_p).sum();
    let replies = cells.iter().map(|c| c.turn.replies).sum::<f64>() as u64;
    if missing == replies {
        return Err("no reply has a choice_prob: the draw probabilities are unknown".into());
    }
    if missing > 0 {
        return Err(format!(
            "{missing} of {replies} replies have no choice_prob: the draw probabilities are unknown"
        ));
    }
    let mut specs = vec!["uniform".to_owned()];
    specs.extend(models.iter().map(|m| format!("only:{m}")));
    specs.push("no_repeat".to_owned());
    specs.extend(
        requested
            .iter()
            .filter(|s| !specs.contains(s))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let turns: Vec<TurnCell> = cells.iter().map(|c| c.turn).collect();
    let q = outcome_model(&turns, models.len());
    let mut values = Vec::new();
    for spec in &specs {
        let Ok(policy) = CandidatePolicy::parse(spec) else {
            continue;
        };
        if policy.check(spec, arm, models).is_err() {
            continue;
        }
        let only = match &policy {
            CandidatePolicy::Only(model) => models.iter().position(|m| m == model),
            _ => None,
        };
        values.extend(evaluate(spec, &policy, &turns, &q, only, ALPHA));
    }
    Ok(values)
}
