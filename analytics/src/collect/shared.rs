//! What every way of collecting a report shares: the collected outputs, the polars engine, and
//! the small frames and plans each of them builds the same way.

use polars::prelude::*;

use crate::load::LogFrames;
use crate::pipeline::{cuped, EventInput};
use crate::request::ArmSpec;
use crate::schema::{assignments as a, micros};
use crate::AnalyticsError;

/// The collected outputs that the statistics work from.
pub struct Collected {
    pub cohort_sizes: DataFrame,
    pub arm_days: DataFrame,
    pub guardrails: DataFrame,
    /// Blend turn cells keyed by `uid`, each user's cells adjacent ([`crate::pipeline::attribution`]).
    pub attribution: DataFrame,
    pub arm_models: DataFrame,
    pub conversations: DataFrame,
    pub returned_users: DataFrame,
    /// Per arm, the moments of the per-user cost sums (`pipeline::costs::cost_moments`); only
    /// when a guardrail asks for them.
    pub cost_moments: Option<DataFrame>,
    /// Per arm, the latency p95 and what its clustered test needs (`collect::latency`); only
    /// when a guardrail asks for it and the log has `latency_ms`.
    pub latency_quantiles: Option<DataFrame>,
    /// CUPED's cells of users with equal covariates (`pipeline::cuped`).
    pub cuped: CupedCells,
}

/// CUPED's inputs: users per arm, exposure day and cell ([`cuped::cohort_cells`]), and the
/// outcomes of active users per arm, day k and cell ([`cuped::active_cells`]).
pub struct CupedCells {
    pub cohort: DataFrame,
    pub active: DataFrame,
}

/// The CUPED cells of `cohorts` (with `uid`) and their `user_days` (with `uid`). Each user's
/// covariates come from the whole log: pre-exposure days lie before the window, and the
/// attributes of their first exposure.
pub(crate) fn cuped_cells(
    frames: &LogFrames,
    experiment: &str,
    cohorts: LazyFrame,
    user_days: LazyFrame,
) -> PolarsResult<CupedCells> {
    let covariates = collect_plan(cuped::user_covariates(
        cohorts,
        cuped::active_user_days(frames.messages.clone()),
        frames.assignments.clone(),
        experiment,
        &frames.attributes,
    ))?
    .lazy();
    Ok(CupedCells {
        cohort: collect_plan(cuped::cohort_cells(covariates.clone(), &frames.attributes))?,
        active: collect_plan(cuped::active_cells(
            covariates,
            user_days,
            &frames.attributes,
        ))?,
    })
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

/// How reports are collected in this process: polars' engine and the number of user groups.
/// The program sets it once (the CLI from `BLENDLAB_POLARS_ENGINE` and
/// `BLENDLAB_REPORT_PARTITIONS`); the library reads no environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    /// Polars' streaming engine (bounded memory, the default) or the in-memory one.
    pub streaming: bool,
    /// Groups of users collected one at a time; 1 is the single pass.
    pub partitions: u32,
}

impl Default for Collection {
    fn default() -> Self {
        Self {
            streaming: true,
            partitions: 1,
        }
    }
}

static STREAMING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
static PARTITIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// Sets how every later report in this process is collected.
pub fn set_collection(collection: Collection) {
    use std::sync::atomic::Ordering::SeqCst;
    STREAMING.store(collection.streaming, SeqCst);
    PARTITIONS.store(collection.partitions.max(1), SeqCst);
}

/// The polars engine of [`Collection`].
pub fn engine() -> Engine {
    if STREAMING.load(std::sync::atomic::Ordering::SeqCst) {
        Engine::Streaming
    } else {
        Engine::InMemory
    }
}

pub(crate) fn arm_models_frame(arms: &[ArmSpec]) -> PolarsResult<DataFrame> {
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

/// The events attribution reads: those keyed by `message_id`, when the log has that column,
/// until `until_micros` (the end of the report's `as_of`, or of the last day a part reads).
pub(crate) fn event_input(frames: &LogFrames, until_micros: i64) -> Option<EventInput> {
    let has = |c: &str| frames.event_extras.iter().any(|x| x == c);
    let events = frames.events.clone()?;
    has(crate::schema::events::MESSAGE_ID).then(|| EventInput {
        frame: events,
        has_value: has(crate::schema::events::VALUE),
        until_micros,
    })
}

/// The number of user groups of [`Collection`]; 1 is the single pass.
pub fn partitions() -> u32 {
    PARTITIONS.load(std::sync::atomic::Ordering::SeqCst)
}

pub(crate) fn collect_plan(plan: LazyFrame) -> PolarsResult<DataFrame> {
    Ok(plan.collect_with_engine(engine())?.unwrap_single())
}

pub(crate) fn concat_all(frames: Vec<DataFrame>) -> PolarsResult<LazyFrame> {
    concat(
        frames.into_iter().map(IntoLazy::lazy).collect::<Vec<_>>(),
        UnionArgs::default(),
    )
}

/// Per-arm rows of several groups added up, column by column.
pub(crate) fn summed_by_arm(parts: Vec<DataFrame>) -> PolarsResult<LazyFrame> {
    let columns: Vec<Expr> = parts
        .first()
        .map(|df| {
            df.get_column_names()
                .into_iter()
                .filter(|c| c.as_str() != a::ARM)
                .map(|c| col(c.as_str()).sum())
                .collect()
        })
        .unwrap_or_default();
    Ok(concat_all(parts)?.group_by([col(a::ARM)]).agg(columns))
}
