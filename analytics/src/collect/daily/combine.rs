//! The day parts of a window put together into the pipeline's collected outputs.

use polars::prelude::*;

use super::part::{cols, DayPart};
use crate::collect::latency::latency_counts_by_arm;
use crate::collect::shared::{arm_models_frame, blended, cuped_cells, Collected};
use crate::collect::shared::{collect_plan as collect, concat_all, summed_by_arm};
use crate::load::LogFrames;
use crate::pipeline::{self, components, costs, guard, out};
use crate::request::ArmSpec;
use crate::schema::{assignments as a, messages as m};
use crate::stats::weighted_quantile;
use crate::timing::timed;

/// Parts keep `user_id` (a user's `uid` depends on the horizon's cohorts); this puts the current
/// cohorts' `uid` beside it.
fn with_uid(frame: LazyFrame, cohorts: &DataFrame) -> LazyFrame {
    frame.join(
        cohorts
            .clone()
            .lazy()
            .select([col(a::USER_ID), col(out::UID)]),
        [col(a::USER_ID)],
        [col(a::USER_ID)],
        JoinArgs::new(JoinType::Inner),
    )
}

/// One frame of every day part, stacked.
fn stacked(parts: &[DayPart], frame: impl Fn(&DayPart) -> &DataFrame) -> PolarsResult<LazyFrame> {
    concat_all(parts.iter().map(|p| frame(p).clone()).collect())
}

/// The collected outputs of the window from its day parts (oldest first) and the cohorts.
pub fn collected(
    frames: &LogFrames,
    experiment: &str,
    cohorts: DataFrame,
    parts: &[DayPart],
    configured: Option<&[ArmSpec]>,
    inputs: crate::collect::GuardrailInputs,
) -> PolarsResult<Collected> {
    let user_days = timed("user_days", || {
        collect(with_uid(stacked(parts, |p| &p.user_days)?, &cohorts))
    })?
    .lazy();
    let arm_models = match configured {
        Some(arms) => arm_models_frame(arms)?,
        None => collect(
            stacked(parts, |p| &p.arm_models)?
                .unique(None, UniqueKeepStrategy::Any)
                .sort([a::ARM, m::MODEL], SortMultipleOptions::default()),
        )?,
    };
    let blended_arms = blended(&arm_models)?;
    let cuped = timed("cuped_cells", || {
        cuped_cells(
            frames,
            experiment,
            cohorts.clone().lazy(),
            user_days.clone(),
        )
    })?;
    Ok(Collected {
        cohort_sizes: collect(pipeline::cohort_sizes(cohorts.clone().lazy()))?,
        arm_days: timed("arm_days", || {
            collect(pipeline::arm_days(user_days.clone()))
        })?,
        guardrails: timed("guardrails", || guardrails(frames, parts))?,
        attribution: timed("attribution", || {
            attribution(&cohorts, parts, &blended_arms)
        })?,
        arm_models,
        conversations: timed("conversations", || {
            collect(
                stacked(parts, |p| &p.conversations)?
                    .unique(None, UniqueKeepStrategy::Any)
                    .group_by([col(a::ARM)])
                    .agg([len().cast(DataType::UInt64).alias(guard::CONVERSATIONS)]),
            )
        })?,
        returned_users: collect(pipeline::returned_users(user_days))?,
        cost_moments: if inputs.cost_moments {
            Some(timed("cost_moments", || {
                collect(costs::cost_moments(
                    costs::summed_user_costs(stacked(parts, |p| &p.user_costs)?, m::USER_ID)?,
                    &frames.message_extras,
                ))
            })?)
        } else {
            None
        },
        latency_quantiles: if inputs.latency_quantiles {
            Some(timed("latency_quantiles", || {
                let counts = stacked(parts, |p| &p.user_latencies)?;
                crate::collect::latency::latency_quantiles(counts, m::USER_ID)
            })?)
        } else {
            None
        },
        cuped,
    })
}

fn guardrails(frames: &LogFrames, parts: &[DayPart]) -> PolarsResult<DataFrame> {
    let mut guardrails = summed_by_arm(parts.iter().map(|p| p.sums.clone()).collect())?;
    if frames.has_message_column(m::LATENCY_MS) {
        let counts = collect(
            stacked(parts, |p| &p.latencies)?
                .group_by([col(a::ARM), col(m::LATENCY_MS)])
                .agg([col(cols::N).sum()])
                .sort([a::ARM, m::LATENCY_MS], SortMultipleOptions::default()),
        )?;
        guardrails = guardrails.join(
            latency_percentiles(&counts)?.lazy(),
            [col(a::ARM)],
            [col(a::ARM)],
            JoinArgs::new(JoinType::Left),
        );
    }
    collect(guardrails.sort([a::ARM], SortMultipleOptions::default()))
}

/// `arm, latency_p50_ms, latency_p95_ms` from counts of each latency, sorted by arm and latency:
/// polars' linear-interpolation quantile of the values the counts stand for.
fn latency_percentiles(counts: &DataFrame) -> PolarsResult<DataFrame> {
    let by_arm = latency_counts_by_arm(counts, cols::N)?;
    let quantile = weighted_quantile;
    DataFrame::new_infer_height(vec![
        Column::new(
            a::ARM.into(),
            by_arm
                .iter()
                .map(|(arm, _)| arm.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            guard::LATENCY_P50.into(),
            by_arm
                .iter()
                .map(|(_, rows)| quantile(rows, 0.5))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            guard::LATENCY_P95.into(),
            by_arm
                .iter()
                .map(|(_, rows)| quantile(rows, 0.95))
                .collect::<Vec<_>>(),
        ),
    ])
}

/// The turn cells of the blended arms as [`pipeline::attribution`] gives them, keyed by `uid`,
/// one user's cells adjacent: each day's cells as they were kept. A user may have one cell per
/// day for a context, where the one pass has one; the statistics only add cells up per user. A
/// reply's context was continued from its conversation's earlier days when its day's part was
/// computed, so only these small cells are read back, not the window's replies.
fn attribution(
    cohorts: &DataFrame,
    parts: &[DayPart],
    blended_arms: &[String],
) -> PolarsResult<DataFrame> {
    collect(
        with_uid(
            stacked(parts, |p| &p.turn_cells)?.filter(components::in_arms(blended_arms)),
            cohorts,
        )
        .drop(by_name([a::USER_ID], true, false))
        // A user's arm never changes, so one key keeps each user's cells together.
        .sort([out::UID], SortMultipleOptions::default()),
    )
}
