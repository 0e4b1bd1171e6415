//! Runs the pipeline: every output of a report in one polars query.

use polars::prelude::*;

use crate::load::LogFrames;
use crate::pipeline::{self, EventInput, Horizon};
use crate::schema::{assignments as a, micros};
use crate::AnalyticsError;

/// The collected outputs that the statistics work from.
pub struct Collected {
    pub cohort_sizes: DataFrame,
    pub arm_days: DataFrame,
    pub guardrails: DataFrame,
    pub attribution: DataFrame,
    pub arm_models: DataFrame,
}

/// The first exposure of `experiment` in microseconds, or `None` when it has no assignments.
pub fn experiment_start(
    frames: &LogFrames,
    experiment: &str,
) -> Result<Option<i64>, AnalyticsError> {
    let first = frames
        .assignments
        .clone()
        .filter(col(a::EXPERIMENT).eq(lit(experiment)))
        .select([micros(a::ASSIGNED_AT).min().alias("start")])
        .collect()?;
    Ok(first.column("start")?.i64()?.get(0))
}

/// Builds every output over one shared cohort join and collects them together, so that polars
/// scans each file once and shares the common subplans.
pub fn collect(
    frames: &LogFrames,
    experiment: &str,
    horizon: Horizon,
    _configured: Option<&[crate::report::ArmSpec]>,
) -> Result<Collected, AnalyticsError> {
    let cohorts = pipeline::cohorts(frames.assignments.clone(), experiment, horizon).cache();
    let messages = pipeline::cohort_messages(
        frames.messages.clone(),
        cohorts.clone(),
        horizon,
        &frames.message_extras,
    )
    .cache();
    let events = frames
        .events
        .clone()
        .filter(|_| {
            frames
                .event_extras
                .iter()
                .any(|c| c == crate::schema::events::MESSAGE_ID)
        })
        .map(|frame| EventInput {
            frame,
            has_value: frames
                .event_extras
                .iter()
                .any(|c| c == crate::schema::events::VALUE),
        });
    let plans = vec![
        pipeline::cohort_sizes(cohorts),
        pipeline::arm_days(pipeline::user_days(messages.clone())),
        pipeline::guardrails(messages.clone(), &frames.message_extras),
        pipeline::attribution(messages.clone(), &frames.message_extras, events),
        pipeline::arm_models(messages),
    ];
    let mut outputs = LazyFrame::collect_all_with_engine(
        plans.into_iter().map(|plan| plan.logical_plan).collect(),
        Engine::Auto,
        OptFlags::default(),
    )?
    .into_iter();
    let mut next = || outputs.next().expect("one output per plan");
    Ok(Collected {
        cohort_sizes: next(),
        arm_days: next(),
        guardrails: next(),
        attribution: next(),
        arm_models: next(),
    })
}
