//! One UTC day's share of a report: everything the report needs from that day's messages, small
//! enough to keep, and combinable with the other days' shares into the same numbers as one pass.

use polars::prelude::*;

use crate::collect::shared::{collect_plan as collect, event_input};
use crate::load::LogFrames;
use crate::pipeline::{self, components, costs, out, Horizon, DAY_MICROS};
use crate::schema::{assignments as a, messages as m};

/// Columns of a day part beyond the pipeline's own.
pub mod cols {
    /// How many replies had this latency.
    pub const N: &str = "n";
}

/// How many frames a day part has.
pub const PART_FRAMES: usize = 9;

/// The frames of one day, each named as its file in the state directory.
pub struct DayPart {
    /// `user_id, arm, k, user_messages, time_spent_s`: the day's active and replying users.
    pub user_days: DataFrame,
    /// `arm` and the guardrail sums ([`pipeline::guardrail_sums`]).
    pub sums: DataFrame,
    /// `arm, latency_ms, n`: how many replies had each latency (exact percentiles later).
    pub latencies: DataFrame,
    /// `arm, conversation_id`: the conversations with a message that day.
    pub conversations: DataFrame,
    /// The day's [`components::turn_cells`], every arm, keyed by `user_id`: continuation seen
    /// through the next day, events until the end of the next day, and each reply's context
    /// continued from its conversation's tail before the day. They add up over days.
    pub turn_cells: DataFrame,
    /// The [`components::conversation_tails`] of the day's conversations with a reply, counted
    /// from each conversation's start: what the next day's replies continue from.
    pub conversation_tails: DataFrame,
    /// `arm, model`: who wrote the day's replies.
    pub arm_models: DataFrame,
    /// `user_id, arm` and the day's [`costs::user_costs`]: summed per user over the window later.
    pub user_costs: DataFrame,
    /// `user_id, arm, latency_ms, n`: the day's [`costs::user_latencies`], for a latency guardrail.
    pub user_latencies: DataFrame,
}

impl DayPart {
    pub const NAMES: [&'static str; PART_FRAMES] = [
        "user_days",
        "sums",
        "latencies",
        "conversations",
        "turn_cells",
        "conversation_tails",
        "arm_models",
        "user_costs",
        "user_latencies",
    ];

    pub fn frames_mut(&mut self) -> [&mut DataFrame; PART_FRAMES] {
        [
            &mut self.user_days,
            &mut self.sums,
            &mut self.latencies,
            &mut self.conversations,
            &mut self.turn_cells,
            &mut self.conversation_tails,
            &mut self.arm_models,
            &mut self.user_costs,
            &mut self.user_latencies,
        ]
    }

    pub fn from_frames(frames: [DataFrame; PART_FRAMES]) -> Self {
        let [user_days, sums, latencies, conversations, turn_cells, conversation_tails, arm_models, user_costs, user_latencies] =
            frames;
        Self {
            user_days,
            sums,
            latencies,
            conversations,
            turn_cells,
            conversation_tails,
            arm_models,
            user_costs,
            user_latencies,
        }
    }
}

/// The messages created from the start of `first_day` to the end of `last_day`, compared in the
/// column's own type so that the Parquet reader skips the other days' row groups and files by
/// their statistics.
fn created_between(frames: &LogFrames, first_day: i64, last_day: i64) -> PolarsResult<LazyFrame> {
    let dtype = frames
        .messages
        .clone()
        .collect_schema()?
        .get(m::CREATED_AT)
        .cloned()
        .unwrap_or(DataType::Datetime(TimeUnit::Microseconds, None));
    let bound = |day: i64| {
        lit(day * DAY_MICROS)
            .cast(DataType::Datetime(TimeUnit::Microseconds, None))
            .cast(dtype.clone())
    };
    Ok(frames.messages.clone().filter(
        col(m::CREATED_AT)
            .gt_eq(bound(first_day))
            .and(col(m::CREATED_AT).lt(bound(last_day + 1))),
    ))
}

/// Computes `day`'s part. `cohorts` is the collected [`pipeline::cohorts`] of a horizon at or
/// after `day` (a user's arm and exposure day never change). With `next_day_final`, replies late
/// in the day are checked for a continuation after midnight, and their events read through the
/// next day, as a report with a later `as_of` sees them; without it the part is what a report
/// as of `day` sees, and is not kept. `earlier` are the parts of the days before, oldest first:
/// the day's conversations continue from their tails.
pub fn compute(
    frames: &LogFrames,
    cohorts: &DataFrame,
    window_days: u32,
    day: i64,
    next_day_final: bool,
    earlier: &[DayPart],
) -> PolarsResult<DayPart> {
    let extras = &frames.message_extras;
    let has = |c: &str| extras.iter().any(|x| x == c);
    let messages_from = |last_day: i64| -> PolarsResult<LazyFrame> {
        let horizon = Horizon {
            as_of_day: last_day,
            window_days,
        };
        Ok(pipeline::cohort_messages(
            created_between(frames, day, last_day)?,
            cohorts.clone().lazy(),
            horizon,
            extras,
        ))
    };
    let messages = collect(messages_from(day)?)?.lazy();

    let user_days = collect(
        pipeline::user_days(messages.clone(), cohorts.clone().lazy())
            .join(
                cohorts
                    .clone()
                    .lazy()
                    .select([col(out::UID), col(a::USER_ID)]),
                [col(out::UID)],
                [col(out::UID)],
                JoinArgs::new(JoinType::Inner),
            )
            .select([
                col(a::USER_ID),
                col(a::ARM),
                col(out::K),
                col(out::USER_MESSAGES),
                col(out::TIME_SPENT_S),
            ]),
    )?;
    let sums = collect(
        messages
            .clone()
            .group_by([col(a::ARM)])
            .agg(pipeline::guardrail_sums(extras)),
    )?;
    let latency = if has(m::LATENCY_MS) {
        col(m::LATENCY_MS).cast(DataType::Float64)
    } else {
        lit(NULL).cast(DataType::Float64)
    };
    let latencies = collect(
        messages
            .clone()
            .filter(col(out::IS_REPLY))
            .select([col(a::ARM), latency.alias(m::LATENCY_MS)])
            .filter(col(m::LATENCY_MS).is_not_null())
            .group_by([col(a::ARM), col(m::LATENCY_MS)])
            .agg([len().cast(DataType::UInt64).alias(cols::N)]),
    )?;
    let conversations = collect(
        messages
            .clone()
            .select([col(a::ARM), col(m::CONVERSATION_ID)])
            .unique(None, UniqueKeepStrategy::Any),
    )?;
    let arm_models = collect(pipeline::arm_models(messages.clone()))?;
    let user_costs = collect(costs::user_costs(messages.clone(), extras, m::USER_ID))?;
    let user_latencies = collect(costs::user_latencies(messages.clone(), extras, m::USER_ID))?;

    let last_day = if next_day_final { day + 1 } else { day };
    let replies_input = if next_day_final {
        messages_from(last_day)?
    } else {
        messages
    };
    let arms = cohorts.column(a::ARM)?.unique()?;
    let every_arm: Vec<String> = arms.str()?.iter().flatten().map(str::to_owned).collect();
    let day_replies = collect(
        components::reply_rows(replies_input, &every_arm, extras, a::USER_ID)
            .filter(col(out::TS).lt(lit((day + 1) * DAY_MICROS))),
    )?;
    let tails = tails_of_conversations(earlier, &day_replies)?;
    let context = collect(components::turn_context(
        day_replies.lazy(),
        tails.map(IntoLazy::lazy),
    )?)?;
    let conversation_tails = collect(components::conversation_tails(context.clone().lazy()))?;
    let turn_cells = collect(components::turn_cells(
        components::with_depth_bucket(context.lazy()),
        a::USER_ID,
        extras,
        event_input(frames, (last_day + 1) * DAY_MICROS),
    ))?;

    Ok(DayPart {
        user_days,
        sums,
        latencies,
        conversations,
        turn_cells,
        conversation_tails,
        arm_models,
        user_costs,
        user_latencies,
    })
}

/// The latest tail, on the days of `earlier`, of each conversation that `replies` continue: only
/// those conversations are looked up, not every conversation of the window.
fn tails_of_conversations(
    earlier: &[DayPart],
    replies: &DataFrame,
) -> PolarsResult<Option<DataFrame>> {
    let conversations = collect(
        replies
            .clone()
            .lazy()
            .select([col(m::CONVERSATION_ID)])
            .unique(None, UniqueKeepStrategy::Any),
    )?;
    components::latest_tails(earlier.iter().map(|part| {
        part.conversation_tails.clone().lazy().semi_join(
            conversations.clone().lazy(),
            col(m::CONVERSATION_ID),
            col(m::CONVERSATION_ID),
        )
    }))
}
