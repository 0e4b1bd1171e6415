//! The three ways to collect a report's outputs, side by side:
//! - `one_pass`: every output over one cohort join (the default);
//! - `groups`: the same over N groups of users, one at a time, for logs larger than memory;
//! - `daily`: one part per finished UTC day, kept and read back, for incremental daily runs.
//!
//! All three give the same [`Collected`] outputs, which the statistics work from.

pub mod daily;
mod groups;
pub(crate) mod latency;
mod one_pass;
pub(crate) mod shared;

pub use shared::{
    engine, experiment_start, partitions, set_collection, Collected, Collection, CupedCells,
};

use crate::load::LogFrames;
use crate::pipeline::Horizon;
use crate::request::ArmSpec;
use crate::AnalyticsError;

/// The per-user inputs of the guardrail tests a report collects: each is another pass over the
/// messages, so only what the definition's guardrails test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardrailInputs {
    /// Per-user cost sums and their moments (error rate, compute per returned user).
    pub cost_moments: bool,
    /// Per-user latency counts around each arm's p95 (latency_p95_ms), when the log has latency.
    pub latency_quantiles: bool,
}

impl GuardrailInputs {
    pub fn of(rules: &blendlab_experiments::DecisionRules, frames: &LogFrames) -> Self {
        Self {
            cost_moments: rules.tests_cost_ratio(),
            latency_quantiles: rules.tests_latency_quantile()
                && frames.has_message_column(crate::schema::messages::LATENCY_MS),
        }
    }
}

/// The outputs of a report in one pass, or with `partitions()` above 1, one group of users at a
/// time, with the guardrail `inputs` asked for.
pub fn collect(
    frames: &LogFrames,
    experiment: &str,
    horizon: Horizon,
    configured: Option<&[ArmSpec]>,
    inputs: GuardrailInputs,
) -> Result<Collected, AnalyticsError> {
    match partitions() {
        1 => one_pass::collect(frames, experiment, horizon, configured, inputs),
        groups => {
            groups::collect_in_groups(frames, experiment, horizon, configured, groups, inputs)
        }
    }
}
