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

pub use shared::{engine, experiment_start, partitions, set_collection, Collected, Collection};

use crate::load::LogFrames;
use crate::pipeline::Horizon;
use crate::request::ArmSpec;
use crate::AnalyticsError;

/// The outputs of a report in one pass, or with `partitions()` above 1, one group of users at a
/// time. `latency_quantiles`: also the per-user latency counts a latency guardrail needs (a
/// second look at every reply, so only when asked).
pub fn collect(
    frames: &LogFrames,
    experiment: &str,
    horizon: Horizon,
    configured: Option<&[ArmSpec]>,
    latency_quantiles: bool,
) -> Result<Collected, AnalyticsError> {
    let wants = latency_quantiles && frames.has_message_column(crate::schema::messages::LATENCY_MS);
    match partitions() {
        1 => one_pass::collect(frames, experiment, horizon, configured, wants),
        groups => groups::collect_in_groups(frames, experiment, horizon, configured, groups, wants),
    }
}
