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
    pub conversations: DataFrame,
    pub returned_users: DataFrame,
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

/// The polars engine: `BLENDLAB_POLARS_ENGINE=streaming` (bounded memory, for logs larger than
/// memory) or `in-memory`; the default is streaming.
pub fn engine() -> Engine {
    match std::env::var("BLENDLAB_POLARS_ENGINE").as_deref() {
        Ok("in-memory") => Engine::InMemory,
        _ => Engine::Streaming,
    }
}

/// One stage of `profile`: its name, seconds and peak RSS in kB (Linux; `None` elsewhere).
pub type StageProfile = (&'static str, f64, Option<u64>);

/// Times each output of the pipeline on its own (for `blendlab bench analytics --profile`),
/// resetting the process's peak RSS before each (Linux `clear_refs`), so each peak is the stage's.
pub fn profile(
    frames: &LogFrames,
    experiment: &str,
    horizon: Horizon,
) -> Result<Vec<StageProfile>, AnalyticsError> {
    let cohorts = || pipeline::cohorts(frames.assignments.clone(), experiment, horizon);
    let messages = || {
        pipeline::cohort_messages(
            frames.messages.clone(),
            cohorts(),
            horizon,
            &frames.message_extras,
        )
    };
    let plans: Vec<(&'static str, LazyFrame)> = vec![
        ("scan messages", frames.messages.clone().select([len()])),
        ("cohort join", messages().select([len()])),
        (
            "retention and engagement",
            pipeline::arm_days(pipeline::user_days(messages(), cohorts())),
        ),
        (
            "guardrails",
            pipeline::guardrails(messages(), &frames.message_extras),
        ),
        ("conversations", pipeline::conversations(messages())),
        (
            "attribution",
            pipeline::attribution(
                messages(),
                &["blend".to_owned()],
                &frames.message_extras,
                None,
            ),
        ),
    ];
    let mut timings = Vec::new();
    for (name, plan) in plans {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = std::time::Instant::now();
        plan.collect_with_engine(engine())?;
        timings.push((name, started.elapsed().as_secs_f64(), peak_rss_kb()));
    }
    Ok(timings)
}

pub(crate) fn arm_models_frame(arms: &[crate::report::ArmSpec]) -> PolarsResult<DataFrame> {
    let pairs: Vec<(&str, &str)> = arms
        .iter()
        .flat_map(|arm| {
            arm.models
                .iter()
                .map(move |m| (arm.name.as_str(), m.as_str()))
        })
        .collect();
    DataFrame::new_infer_height(vec![
        Column::new(a::ARM.into(), pairs.iter().map(|p| p.0).collect::<Vec<_>>()),
        Column::new(
            crate::schema::messages::MODEL.into(),
            pairs.iter().map(|p| p.1).collect::<Vec<_>>(),
        ),
    ])
}

/// Arms with more than one model.
pub(crate) fn blended(arm_models: &DataFrame) -> PolarsResult<Vec<String>> {
    let arms = arm_models.column(a::ARM)?.str()?;
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for i in 0..arms.len() {
        *counts
            .entry(arms.get(i).unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(arm, _)| arm)
        .collect())
}

/// The process's peak resident set (VmHWM) in kB, Linux only.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The events attribution reads: those keyed by `message_id`, when the log has that column.
pub(crate) fn event_input(frames: &LogFrames) -> Option<EventInput> {
    let has = |c: &str| frames.event_extras.iter().any(|x| x == c);
    let events = frames.events.clone()?;
    has(crate::schema::events::MESSAGE_ID).then(|| EventInput {
        frame: events,
        has_value: has(crate::schema::events::VALUE),
    })
}

/// Builds every output over the same cohort join and collects them one by one; with
/// `BLENDLAB_REPORT_PARTITIONS` above 1, one group of users at a time (`partitioned`).
pub fn collect(
    frames: &LogFrames,
    experiment: &str,
    horizon: Horizon,
    configured: Option<&[crate::report::ArmSpec]>,
) -> Result<Collected, AnalyticsError> {
    let partitions = crate::partitioned::partitions();
    if partitions > 1 {
        return crate::partitioned::collect_in_groups(
            frames, experiment, horizon, configured, partitions,
        );
    }
    let cohorts = pipeline::cohorts(frames.assignments.clone(), experiment, horizon);
    let messages = pipeline::cohort_messages(
        frames.messages.clone(),
        cohorts.clone(),
        horizon,
        &frames.message_extras,
    );
    let events = event_input(frames);
    // The models of each arm: from the definition, or read off the log first.
    let arm_models = match configured {
        Some(arms) => arm_models_frame(arms)?,
        None => pipeline::arm_models(messages.clone()).collect()?,
    };
    let blended_arms = blended(&arm_models)?;
    let user_days = pipeline::user_days(messages.clone(), cohorts.clone());
    let plans = vec![
        pipeline::cohort_sizes(cohorts),
        pipeline::arm_days(user_days.clone()),
        pipeline::guardrails(messages.clone(), &frames.message_extras),
        pipeline::attribution(
            messages.clone(),
            &blended_arms,
            &frames.message_extras,
            events,
        ),
        pipeline::conversations(messages),
        pipeline::returned_users(user_days),
    ];
    // One plan after another: measured on 20M messages, this is both faster and about 40% lower
    // in peak memory than `collect_all` running them side by side (README, benchmark).
    let mut outputs = plans
        .into_iter()
        .map(|plan| {
            plan.collect_with_engine(engine())
                .map(|result| result.unwrap_single())
        })
        .collect::<PolarsResult<Vec<_>>>()?
        .into_iter();
    let mut next = || outputs.next().expect("one output per plan");
    Ok(Collected {
        cohort_sizes: next(),
        arm_days: next(),
        guardrails: next(),
        attribution: next(),
        arm_models,
        conversations: next(),
        returned_users: next(),
    })
}
