//! The report for logs larger than memory: the cohort's users are split into `partitions`
//! groups by their dense id, the messages of one group at a time go through the pipeline, and
//! the groups' outputs are combined. Every per-user computation (retention, time spent, the
//! conversation sort of attribution) then holds one group's rows at a time, and what is kept
//! between groups is small: per-(user, day) rows, per-arm sums, the replies' latencies and
//! per-user turn cells. The numbers are the report's own: `tests/partitioned.rs` checks them against
//! the single pass. Each group re-reads the Parquet files, so it is slower; it is for when the
//! single pass does not fit (`BLENDLAB_REPORT_PARTITIONS`).

use polars::prelude::*;

use super::shared::{
    arm_models_frame, blended, collect_plan as collect, concat_all, cuped_cells, event_input,
    summed_by_arm, Collected,
};
use crate::load::LogFrames;
use crate::pipeline::{self, costs, out, Horizon};
use crate::schema::{assignments as a, messages as m};
use crate::AnalyticsError;

/// [`super::one_pass::collect`] one user group at a time.
pub fn collect_in_groups(
    frames: &LogFrames,
    experiment: &str,
    horizon: Horizon,
    configured: Option<&[crate::request::ArmSpec]>,
    partitions: u32,
    inputs: super::GuardrailInputs,
) -> Result<Collected, AnalyticsError> {
    let extras = &frames.message_extras;
    let cohorts = collect(pipeline::cohorts(
        frames.assignments.clone(),
        experiment,
        horizon,
    ))?;
    let messages_of = |cohorts: LazyFrame| {
        pipeline::cohort_messages(frames.messages.clone(), cohorts, horizon, extras)
    };
    let arm_models = match configured {
        Some(arms) => arm_models_frame(arms)?,
        None => collect(pipeline::arm_models(messages_of(cohorts.clone().lazy())))?,
    };
    let blended_arms = blended(&arm_models)?;
    let has_latency = extras.iter().any(|c| c == m::LATENCY_MS);

    let (mut user_days, mut conversations, mut sums, mut latencies, mut cells) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut cost_moments, mut user_latencies) = (vec![], vec![]);
    for group in 0..partitions {
        let members = cohorts.clone().lazy().filter(
            (col(out::UID).cast(DataType::Int64) % lit(i64::from(partitions)))
                .eq(lit(i64::from(group))),
        );
        let messages = messages_of(members.clone());
        user_days.push(collect(pipeline::user_days(messages.clone(), members))?);
        conversations.push(collect(pipeline::conversations(messages.clone()))?);
        // A user's messages are all in their group, so per-user sums and their moments add up.
        if inputs.cost_moments {
            cost_moments.push(collect(costs::cost_moments(
                costs::user_costs(messages.clone(), extras, out::UID),
                extras,
            ))?);
        }
        if inputs.latency_quantiles {
            user_latencies.push(collect(costs::user_latencies(
                messages.clone(),
                extras,
                out::UID,
            ))?);
        }
        sums.push(collect(
            messages
                .clone()
                .group_by([col(a::ARM)])
                .agg(pipeline::guardrail_sums(extras)),
        )?);
        if has_latency {
            latencies.push(collect(
                messages
                    .clone()
                    .filter(col(out::IS_REPLY))
                    .select([col(a::ARM), col(m::LATENCY_MS).cast(DataType::Float64)]),
            )?);
        }
        cells.push(collect(pipeline::attribution(
            messages,
            &blended_arms,
            extras,
            event_input(frames, horizon.end_micros()),
        )?)?);
    }

    let user_days = collect(concat_all(user_days)?)?.lazy();
    let latency_quantiles = if inputs.latency_quantiles {
        let counts = concat_all(user_latencies)?;
        Some(super::latency::latency_quantiles(counts, out::UID)?)
    } else {
        None
    };
    let mut guardrails = summed_by_arm(sums)?;
    if has_latency {
        guardrails = guardrails.join(
            concat_all(latencies)?
                .group_by([col(a::ARM)])
                .agg(pipeline::latency_quantiles(col(m::LATENCY_MS))),
            [col(a::ARM)],
            [col(a::ARM)],
            JoinArgs::new(JoinType::Left),
        );
    }
    let cuped = cuped_cells(
        frames,
        experiment,
        cohorts.clone().lazy(),
        user_days.clone(),
    )?;
    Ok(Collected {
        cohort_sizes: collect(pipeline::cohort_sizes(cohorts.lazy()))?,
        arm_days: collect(pipeline::arm_days(user_days.clone()))?,
        guardrails: collect(guardrails.sort([a::ARM], SortMultipleOptions::default()))?,
        // A user's cells are all in their group; sorted again so that users come in the one
        // pass's order.
        attribution: collect(
            concat_all(cells)?.sort([a::ARM, out::UID], SortMultipleOptions::default()),
        )?,
        arm_models,
        conversations: collect(summed_by_arm(conversations)?)?,
        returned_users: collect(pipeline::returned_users(user_days))?,
        cost_moments: if inputs.cost_moments {
            Some(collect(
                summed_by_arm(cost_moments)?.sort([a::ARM], SortMultipleOptions::default()),
            )?)
        } else {
            None
        },
        latency_quantiles,
        cuped,
    })
}
