//! Per-user cost sums and their per-arm moments: what the ratio guardrails (errors per reply,
//! compute seconds per returned user) are tested on. Replies cluster within users, so users are
//! the independent units: each ratio is a ratio of per-user sums, and its variance comes from
//! the sums, squares and cross-products of those per-user values (gbstats' `RatioStatistic`).

use polars::prelude::*;

use super::out;
use crate::schema::{assignments as a, messages as m};

/// Columns of [`user_costs`].
pub mod user {
    pub const REPLIES: &str = "user_replies";
    /// Present when the log has `finish_reason`.
    pub const ERRORS: &str = "user_errors";
    /// Reply latency in seconds; present when the log has `latency_ms`.
    pub const COMPUTE_S: &str = "user_compute_s";
    /// 1.0 when the user sent a message on some day k >= 1, else 0.0.
    pub const RETURNED: &str = "user_returned";
}

/// Columns of [`cost_moments`]: the per-arm sums of the per-user values, their squares and the
/// products each ratio needs. The number of users is the arm's cohort size: users without a
/// message in the window add zeros.
pub mod moments {
    pub const REPLIES: &str = "replies_sum";
    pub const REPLIES_SQ: &str = "replies_sum_squares";
    pub const ERRORS: &str = "errors_sum";
    pub const ERRORS_SQ: &str = "errors_sum_squares";
    pub const ERRORS_X_REPLIES: &str = "errors_replies_sum";
    pub const COMPUTE: &str = "compute_s_sum";
    pub const COMPUTE_SQ: &str = "compute_s_sum_squares";
    /// A 0/1 value is its own square, so this is also the sum of squares of `user_returned`.
    pub const RETURNED: &str = "returned_sum";
    pub const COMPUTE_X_RETURNED: &str = "compute_s_returned_sum";
}

/// Columns of [`user_latencies`] and of the latency quantile frame built from it.
pub mod latency {
    /// The level of the latency guardrail's quantile (`latency_p95_ms`).
    pub const LEVEL: f64 = 0.95;
    /// How many of the user's replies had this latency.
    pub const N: &str = "n";
    pub const EVENTS: &str = "latency_events";
    pub const CLUSTERS: &str = "latency_users";
    pub const Q_HAT: &str = "latency_q_hat";
    pub const Q_LOWER: &str = "latency_q_lower";
    pub const Q_UPPER: &str = "latency_q_upper";
    /// Per user: replies at or below the arm's quantile (`main`) and replies (`den`).
    pub const MAIN: &str = "latency_main";
    pub const MAIN_SQ: &str = "latency_main_sum_squares";
    pub const DEN: &str = "latency_den";
    pub const DEN_SQ: &str = "latency_den_sum_squares";
    pub const MAIN_X_DEN: &str = "latency_main_den_sum";
}

/// Per user (`key`), arm and reply latency: how many replies had it (`n`). The quantile
/// guardrail needs each user's replies around the arm's quantile, which per-arm counts lose.
/// Empty when the log has no `latency_ms`.
pub fn user_latencies(cohort_messages: LazyFrame, extras: &[String], key: &str) -> LazyFrame {
    let latency = if extras.iter().any(|x| x == m::LATENCY_MS) {
        col(m::LATENCY_MS).cast(DataType::Float64)
    } else {
        lit(NULL).cast(DataType::Float64)
    };
    cohort_messages
        .filter(col(out::IS_REPLY))
        .select([col(key), col(a::ARM), latency.alias(m::LATENCY_MS)])
        .filter(col(m::LATENCY_MS).is_not_null())
        .group_by([col(key), col(a::ARM), col(m::LATENCY_MS)])
        .agg([len().cast(DataType::UInt64).alias(latency::N)])
}

/// Per user (`key`, `arm`) over `cohort_messages`: replies, and from the optional columns the
/// log has, errors and compute seconds; and whether the user came back on a day k >= 1.
pub fn user_costs(cohort_messages: LazyFrame, extras: &[String], key: &str) -> LazyFrame {
    cohort_messages
        .group_by([col(key), col(a::ARM)])
        .agg(cost_sums(extras))
}

fn cost_sums(extras: &[String]) -> Vec<Expr> {
    let has = |c: &str| extras.iter().any(|x| x == c);
    let is_reply = col(out::IS_REPLY);
    let mut sums = vec![
        is_reply
            .clone()
            .cast(DataType::Float64)
            .sum()
            .alias(user::REPLIES),
        col(out::IS_USER)
            .and(col(out::K).gt_eq(lit(1)))
            .any(false)
            .cast(DataType::Float64)
            .alias(user::RETURNED),
    ];
    if has(m::FINISH_REASON) {
        sums.push(
            col(m::FINISH_REASON)
                .eq(lit("error"))
                .and(is_reply.clone())
                .fill_null(lit(false))
                .cast(DataType::Float64)
                .sum()
                .alias(user::ERRORS),
        );
    }
    if has(m::LATENCY_MS) {
        sums.push(
            (col(m::LATENCY_MS).cast(DataType::Float64) / lit(1000.0))
                .filter(is_reply)
                .sum()
                .alias(user::COMPUTE_S),
        );
    }
    sums
}

/// Per-user costs of several parts of the log (days) added up per user: counts sum, and a user
/// has returned if they returned in any part.
pub fn summed_user_costs(parts: LazyFrame, key: &str) -> PolarsResult<LazyFrame> {
    let names = parts.clone().collect_schema()?;
    let aggregates: Vec<Expr> = names
        .iter_names()
        .filter(|c| c.as_str() != key && c.as_str() != a::ARM)
        .map(|c| match c.as_str() {
            user::RETURNED => col(user::RETURNED).max(),
            other => col(other).sum(),
        })
        .collect();
    Ok(parts.group_by([col(key), col(a::ARM)]).agg(aggregates))
}

/// Per arm, from [`user_costs`]: the moments in [`moments`] of the ratios whose columns the log
/// has (`extras`, as [`user_costs`] was given them).
pub fn cost_moments(user_costs: LazyFrame, extras: &[String]) -> LazyFrame {
    let has = |c: &str| extras.iter().any(|x| x == c);
    let sum = |c: &str| col(c).sum();
    let squares = |c: &str| (col(c) * col(c)).sum();
    let products = |x: &str, y: &str| (col(x) * col(y)).sum();
    let mut aggregates = vec![
        sum(user::REPLIES).alias(moments::REPLIES),
        squares(user::REPLIES).alias(moments::REPLIES_SQ),
        sum(user::RETURNED).alias(moments::RETURNED),
    ];
    if has(m::FINISH_REASON) {
        aggregates.extend([
            sum(user::ERRORS).alias(moments::ERRORS),
            squares(user::ERRORS).alias(moments::ERRORS_SQ),
            products(user::ERRORS, user::REPLIES).alias(moments::ERRORS_X_REPLIES),
        ]);
    }
    if has(m::LATENCY_MS) {
        aggregates.extend([
            sum(user::COMPUTE_S).alias(moments::COMPUTE),
            squares(user::COMPUTE_S).alias(moments::COMPUTE_SQ),
            products(user::COMPUTE_S, user::RETURNED).alias(moments::COMPUTE_X_RETURNED),
        ]);
    }
    user_costs
        .group_by([col(a::ARM)])
        .agg(aggregates)
        .sort([a::ARM], SortMultipleOptions::default())
}
