//! The report's relational work as pure `LazyFrame -> LazyFrame` functions (docs/architecture.md: metric
//! definitions). Nothing here collects; `report` collects every output in one query.

use polars::prelude::*;

use crate::schema::{assignments as a, messages as m, micros};

pub const DAY_MICROS: i64 = 86_400_000_000;
/// Consecutive messages at most this far apart belong to one sitting (docs/architecture.md: 1800 s).
pub const SESSION_GAP_MICROS: i64 = 1_800_000_000;

/// Columns the pipeline produces.
pub mod out {
    pub const D0: &str = "d0";
    pub const DAY: &str = "day";
    pub const K: &str = "k";
    pub const TS: &str = "ts";
    pub const UID: &str = "uid";
    pub const IS_USER: &str = "is_user";
    pub const IS_REPLY: &str = "is_reply";
    pub const USERS: &str = "users";
    pub const USER_MESSAGES: &str = "user_messages";
    pub const TIME_SPENT_S: &str = "time_spent_s";
    pub const RETAINED: &str = "retained";
    pub const TIME_MEAN: &str = "time_mean";
    pub const TIME_VAR: &str = "time_var";
    pub const MESSAGES_MEAN: &str = "messages_mean";
    pub const MESSAGES_VAR: &str = "messages_var";
}

/// The report's horizon: `as_of` as a day number since the epoch, and how many days after
/// exposure it follows.
#[derive(Debug, Clone, Copy)]
pub struct Horizon {
    pub as_of_day: i64,
    pub window_days: u32,
}

impl Horizon {
    /// The end of `as_of` (exclusive), in microseconds.
    pub fn end_micros(&self) -> i64 {
        (self.as_of_day + 1) * DAY_MICROS
    }
}

fn day_of(micros: Expr) -> Expr {
    micros.floor_div(lit(DAY_MICROS))
}

/// One row per enrolled user of `experiment` exposed on or before `as_of`:
/// `user_id, arm, d0, uid`. A user with several rows keeps the earliest (first exposure wins).
/// `uid` is a dense integer key, so that later sorts and group-bys avoid strings; it is
/// deterministic (users in `user_id` order), since several plans join on it.
pub fn cohorts(assignments: LazyFrame, experiment: &str, horizon: Horizon) -> LazyFrame {
    assignments
        .filter(col(a::EXPERIMENT).eq(lit(experiment)))
        .select([
            col(a::USER_ID),
            col(a::ARM).cast(DataType::String),
            micros(a::ASSIGNED_AT).alias(out::TS),
        ])
        .group_by([col(a::USER_ID)])
        .agg([
            col(a::ARM)
                .sort_by([col(out::TS)], SortMultipleOptions::default())
                .first(),
            col(out::TS).min(),
        ])
        .with_column(day_of(col(out::TS)).alias(out::D0))
        .filter(col(out::D0).lt_eq(lit(horizon.as_of_day)))
        .select([col(a::USER_ID), col(a::ARM), col(out::D0)])
        // Sorted, so that `uid` is the same in every plan that evaluates the cohorts.
        .sort([a::USER_ID], SortMultipleOptions::default())
        .with_row_index(out::UID, None)
}

/// Users per arm and exposure day: `arm, d0, users`. Eligibility for day k follows from it.
pub fn cohort_sizes(cohorts: LazyFrame) -> LazyFrame {
    cohorts
        .group_by([col(a::ARM), col(out::D0)])
        .agg([len().cast(DataType::UInt64).alias(out::USERS)])
        .sort([a::ARM, out::D0], SortMultipleOptions::default())
}

/// The experiment's messages up to the end of `as_of` within the window, tagged with their
/// user's cohort: `uid, arm, d0, k, day, ts, role, conversation_id, model` plus `extras`.
pub fn cohort_messages(
    messages: LazyFrame,
    cohorts: LazyFrame,
    horizon: Horizon,
    extras: &[String],
) -> LazyFrame {
    let mut columns = vec![
        col(m::USER_ID),
        col(m::CONVERSATION_ID),
        // Two booleans instead of the role string: every later sort and group-by carries less.
        col(m::ROLE)
            .cast(DataType::String)
            .eq(lit(m::ROLE_USER))
            .alias(out::IS_USER),
        col(m::ROLE)
            .cast(DataType::String)
            .eq(lit(m::ROLE_ASSISTANT))
            .alias(out::IS_REPLY),
        col(m::MODEL).cast(DataType::String),
        micros(m::CREATED_AT).alias(out::TS),
    ];
    columns.extend(extras.iter().map(|c| col(c.as_str())));
    messages
        .select(columns)
        .filter(col(out::TS).lt(lit(horizon.end_micros())))
        .join(
            cohorts,
            [col(m::USER_ID)],
            [col(a::USER_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .with_column(day_of(col(out::TS)).alias(out::DAY))
        .with_column((col(out::DAY) - col(out::D0)).alias(out::K))
        .filter(
            col(out::K)
                .gt_eq(lit(0))
                .and(col(out::K).lt_eq(lit(horizon.window_days as i64))),
        )
}

/// Per user and day k: `uid, arm, k, user_messages, time_spent_s`.
///
/// Time spent sums the gaps between consecutive messages (both roles) of one user on one UTC
/// date that are at most 1800 s, as f64 seconds at microsecond precision.
pub fn user_days(cohort_messages: LazyFrame, cohorts: LazyFrame) -> LazyFrame {
    // Within one user, equal k means equal date, so k stands in for the date. The sort carries
    // only numbers (uid, ts, k, is_user); the arm is joined back on the much smaller result.
    let previous = |c: &str| col(c).shift(lit(1));
    let same_sitting = previous(out::UID)
        .eq(col(out::UID))
        .and(previous(out::K).eq(col(out::K)))
        .and((col(out::TS) - previous(out::TS)).lt_eq(lit(SESSION_GAP_MICROS)));
    let gap_seconds = (col(out::TS) - previous(out::TS)).cast(DataType::Float64) / lit(1e6);
    cohort_messages
        .select([
            col(out::UID),
            col(out::K).cast(DataType::Int32),
            col(out::TS),
            col(out::IS_USER),
        ])
        .sort([out::UID, out::TS], SortMultipleOptions::default())
        .with_column(
            when(same_sitting)
                .then(gap_seconds)
                .otherwise(lit(0.0))
                .alias(out::TIME_SPENT_S),
        )
        .group_by([col(out::UID), col(out::K)])
        .agg([
            col(out::IS_USER)
                .sum()
                .cast(DataType::Float64)
                .alias(out::USER_MESSAGES),
            col(out::TIME_SPENT_S).sum(),
        ])
        .join(
            cohorts.select([col(out::UID), col(a::ARM)]),
            [col(out::UID)],
            [col(out::UID)],
            JoinArgs::new(JoinType::Inner),
        )
}

/// Per arm and day k, over users active that day (at least one user message):
/// `arm, k, retained, time_mean, time_var, messages_mean, messages_var` (variances with ddof 1).
pub fn arm_days(user_days: LazyFrame) -> LazyFrame {
    user_days
        .filter(col(out::USER_MESSAGES).gt(lit(0.0)))
        .group_by([col(a::ARM), col(out::K)])
        .agg([
            len().cast(DataType::UInt64).alias(out::RETAINED),
            col(out::TIME_SPENT_S).mean().alias(out::TIME_MEAN),
            col(out::TIME_SPENT_S).var(1).alias(out::TIME_VAR),
            col(out::USER_MESSAGES).mean().alias(out::MESSAGES_MEAN),
            col(out::USER_MESSAGES).var(1).alias(out::MESSAGES_VAR),
        ])
        .sort([a::ARM, out::K], SortMultipleOptions::default())
}

/// Guardrail columns.
pub mod guard {
    pub const MESSAGES: &str = "messages";
    pub const REPLIES: &str = "replies";
    pub const CONVERSATIONS: &str = "conversations";
    pub const RETURNED_USERS: &str = "returned_users";
    pub const LATENCY_P50: &str = "latency_p50_ms";
    pub const LATENCY_P95: &str = "latency_p95_ms";
    pub const LATENCY_TOTAL: &str = "latency_total_ms";
    pub const TOKENS: &str = "tokens";
    pub const ERRORS: &str = "errors";
}

/// Per arm: message and conversation counts, users who came back on some day k >= 1, and, from
/// the optional columns that exist, latency percentiles (linear interpolation), total compute
/// time, tokens and replies that ended in an error.
pub fn guardrails(cohort_messages: LazyFrame, extras: &[String]) -> LazyFrame {
    let mut aggregates = guardrail_sums(extras);
    if extras.iter().any(|x| x == m::LATENCY_MS) {
        aggregates.extend(latency_quantiles(
            col(m::LATENCY_MS)
                .cast(DataType::Float64)
                .filter(col(out::IS_REPLY)),
        ));
    }
    cohort_messages
        .group_by([col(a::ARM)])
        .agg(aggregates)
        .sort([a::ARM], SortMultipleOptions::default())
}

/// The latency percentiles of the guardrails (linear interpolation) over `latency`.
pub fn latency_quantiles(latency: Expr) -> [Expr; 2] {
    [
        latency
            .clone()
            .quantile(lit(0.5), QuantileMethod::Linear)
            .alias(guard::LATENCY_P50),
        latency
            .quantile(lit(0.95), QuantileMethod::Linear)
            .alias(guard::LATENCY_P95),
    ]
}

/// The guardrails that add up across any split of the users: counts and totals.
pub fn guardrail_sums(extras: &[String]) -> Vec<Expr> {
    let has = |c: &str| extras.iter().any(|x| x == c);
    let is_reply = col(out::IS_REPLY);
    let mut aggregates = vec![
        len().cast(DataType::UInt64).alias(guard::MESSAGES),
        is_reply
            .clone()
            .sum()
            .cast(DataType::UInt64)
            .alias(guard::REPLIES),
    ];
    if has(m::LATENCY_MS) {
        let latency = col(m::LATENCY_MS).cast(DataType::Float64).filter(is_reply);
        aggregates.push(latency.sum().alias(guard::LATENCY_TOTAL));
    }
    if has(m::PROMPT_TOKENS) || has(m::COMPLETION_TOKENS) {
        let part = |c: &str| {
            if has(c) {
                col(c).cast(DataType::Float64).fill_null(lit(0.0))
            } else {
                lit(0.0)
            }
        };
        aggregates.push(
            (part(m::PROMPT_TOKENS) + part(m::COMPLETION_TOKENS))
                .sum()
                .alias(guard::TOKENS),
        );
    }
    if has(m::FINISH_REASON) {
        aggregates.push(
            col(m::FINISH_REASON)
                .eq(lit("error"))
                .sum()
                .cast(DataType::UInt64)
                .alias(guard::ERRORS),
        );
    }
    aggregates
}

/// Conversations per arm: `arm, conversations`. A hash group-by on (arm, conversation), which
/// parallelises where a per-arm `n_unique` would not.
pub fn conversations(cohort_messages: LazyFrame) -> LazyFrame {
    cohort_messages
        .select([col(a::ARM), col(m::CONVERSATION_ID)])
        .group_by([col(a::ARM), col(m::CONVERSATION_ID)])
        .agg([len()])
        .group_by([col(a::ARM)])
        .agg([len().cast(DataType::UInt64).alias(guard::CONVERSATIONS)])
}

/// Users active on at least one day k >= 1, per arm: `arm, returned_users`.
pub fn returned_users(user_days: LazyFrame) -> LazyFrame {
    user_days
        .filter(
            col(out::K)
                .gt_eq(lit(1))
                .and(col(out::USER_MESSAGES).gt(lit(0.0))),
        )
        .group_by([col(a::ARM)])
        .agg([col(out::UID)
            .n_unique()
            .cast(DataType::UInt64)
            .alias(guard::RETURNED_USERS)])
}

pub mod components;
pub mod costs;
pub mod cuped;

pub use components::{attribution, EventInput};

/// The models that wrote each arm's replies: `arm, model` (one row per pair).
pub fn arm_models(cohort_messages: LazyFrame) -> LazyFrame {
    cohort_messages
        .filter(col(m::MODEL).is_not_null())
        .select([col(a::ARM), col(m::MODEL)])
        .unique(None, UniqueKeepStrategy::Any)
        .sort([a::ARM, m::MODEL], SortMultipleOptions::default())
}
