//! One UTC day's share of a report: everything the report needs from that day's messages, small
//! enough to keep, and combinable with the other days' shares into the same numbers as one pass.

use polars::prelude::*;

use crate::collect::shared::collect_plan as collect;
use crate::load::LogFrames;
use crate::pipeline::{self, attribution_columns as at, out, Horizon, DAY_MICROS};
use crate::schema::{assignments as a, messages as m};

/// Columns of a day part beyond the pipeline's own.
pub mod cols {
    /// How many replies had this latency.
    pub const N: &str = "n";
    /// The variance of `next_chars` times its count (for Chan's combination of variances).
    pub const NEXT_CHARS_M2: &str = "next_chars_m2";
}

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
    /// `arm, model, replies, continued` and, with `content_chars`, `next_chars_n`,
    /// `next_chars_mean`, `next_chars_m2`: the day's replies, every arm.
    pub attribution: DataFrame,
    /// `arm, model, message_id`: the day's replies, for events that arrive later.
    pub replies: DataFrame,
    /// `arm, model`: who wrote the day's replies.
    pub arm_models: DataFrame,
}

impl DayPart {
    pub const NAMES: [&'static str; 7] = [
        "user_days",
        "sums",
        "latencies",
        "conversations",
        "attribution",
        "replies",
        "arm_models",
    ];

    pub fn frames_mut(&mut self) -> [&mut DataFrame; 7] {
        [
            &mut self.user_days,
            &mut self.sums,
            &mut self.latencies,
            &mut self.conversations,
            &mut self.attribution,
            &mut self.replies,
            &mut self.arm_models,
        ]
    }

    pub fn from_frames(frames: [DataFrame; 7]) -> Self {
        let [user_days, sums, latencies, conversations, attribution, replies, arm_models] = frames;
        Self {
            user_days,
            sums,
            latencies,
            conversations,
            attribution,
            replies,
            arm_models,
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
/// in the day are checked for a continuation after midnight, as a report with a later `as_of`
/// sees them; without it the part is what a report as of `day` sees, and is not kept.
pub fn compute(
    frames: &LogFrames,
    cohorts: &DataFrame,
    window_days: u32,
    day: i64,
    next_day_final: bool,
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
    let message_id = if has(m::MESSAGE_ID) {
        col(m::MESSAGE_ID)
    } else {
        lit(NULL).cast(DataType::String)
    };
    let replies = collect(messages.clone().filter(col(out::IS_REPLY)).select([
        col(a::ARM),
        col(m::MODEL),
        message_id.alias(m::MESSAGE_ID),
    ]))?;
    let arm_models = collect(pipeline::arm_models(messages.clone()))?;

    let attribution_input = if next_day_final {
        messages_from(day + 1)?
    } else {
        messages
    };
    let arms = cohorts.column(a::ARM)?.unique()?;
    let every_arm: Vec<String> = arms.str()?.iter().flatten().map(str::to_owned).collect();
    let rows = pipeline::attribution_rows(attribution_input, &every_arm, extras, None)
        .filter(col(out::TS).lt(lit((day + 1) * DAY_MICROS)));
    let mut aggregates = pipeline::reply_counts().to_vec();
    if has(m::CONTENT_CHARS) {
        let next = || col(pipeline::NEXT_CHARS);
        aggregates.extend([
            next()
                .count()
                .cast(DataType::UInt64)
                .alias(at::NEXT_CHARS_N),
            next().mean().alias(at::NEXT_CHARS_MEAN),
            (next().var(0) * next().count().cast(DataType::Float64))
                .fill_null(lit(0.0))
                .alias(cols::NEXT_CHARS_M2),
        ]);
    }
    let attribution = collect(rows.group_by([col(a::ARM), col(m::MODEL)]).agg(aggregates))?;

    Ok(DayPart {
        user_days,
        sums,
        latencies,
        conversations,
        attribution,
        replies,
        arm_models,
    })
}
